//! The worker panel: each workload's faults, address space and descriptor side by side, one
//! column per worker (the selected one marked), from the snapshot's `workloads`:
//! VmSize (virtual) against VmRSS and RssFile (resident) from /proc/<worker>/status, and
//! whether /proc/<worker>/fd still holds the file while /proc/<worker>/maps holds the mapping.

use crate::kernel::addrspace::ProcessView;
use crate::session::snapshot::{RunState, Snapshot, WorkloadView};
use crate::tui::format::{count, wrap};
use crate::tui::theme::Theme;
use crate::units::human_bytes;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

pub struct Workers<'a> {
    pub snapshot: &'a Snapshot,
    pub theme: &'a Theme,
}

/// Columns of the row labels.
const LABEL: usize = 7;

/// `n` in at most `w` columns: 1,234,567 -> 1.2M when the full count does not fit.
fn short_count(n: u64, w: usize) -> String {
    let full = count(n);
    if full.chars().count() <= w {
        return full;
    }
    let (v, unit) = match n {
        0..=999_999 => (n as f64 / 1e3, "k"),
        1_000_000..=999_999_999 => (n as f64 / 1e6, "M"),
        _ => (n as f64 / 1e9, "G"),
    };
    if v < 10.0 {
        format!("{v:.1}{unit}")
    } else {
        format!("{v:.0}{unit}")
    }
}

/// Bytes in at most `w` columns: "1.0 TiB", else "1.0T".
fn short_bytes(b: u64, w: usize) -> String {
    let full = human_bytes(b);
    if full.chars().count() <= w {
        return full;
    }
    full.replace(' ', "").replace("iB", "").replace('B', "")
}

/// The descriptor and mapping facts in words.
fn fd_words(p: &ProcessView) -> &'static str {
    match (p.fd_open, p.mapping_in_maps) {
        (Some(false), Some(true)) => "closed",
        (Some(true), _) => "open",
        (Some(false), Some(false)) => "none",
        _ => "?",
    }
}

/// One worker's state in a word.
fn state_word(w: &WorkloadView) -> &'static str {
    match w.worker.state {
        RunState::Starting => "start",
        RunState::Running => "run",
        RunState::Paused => "paused",
        RunState::Finished => "done",
        RunState::Dead { .. } => "dead",
        RunState::Stopped { .. } => "stopped",
    }
}

impl Workers<'_> {
    /// Rows the panel wants at `width` (border included); 0 when there is no workload.
    pub fn height(s: &Snapshot, width: u16) -> u16 {
        let n = s.workloads.len();
        if n == 0 {
            return 0;
        }
        let inner = width.saturating_sub(2) as usize;
        let rows = if n == 1 {
            Self::single_lines(s, inner).len()
        } else {
            7 + Self::notes(s, inner).len()
        };
        rows as u16 + 2
    }

    fn notes(s: &Snapshot, w: usize) -> Vec<String> {
        s.workloads
            .iter()
            .filter_map(|x| x.cache_note.as_deref())
            .flat_map(|n| wrap(n, w))
            .collect()
    }

    /// One worker: its address space and descriptor in sentences.
    fn single_lines(s: &Snapshot, w: usize) -> Vec<String> {
        let Some(x) = s.workloads.first() else {
            return Vec::new();
        };
        let pid = x.worker.pid.map_or("?".to_string(), |p| p.to_string());
        let Some(p) = x.process.as_ref().filter(|p| p.vm_size.is_some()) else {
            return wrap(
                &format!("/proc/{pid}/status is hidden: address space unknown"),
                w,
            );
        };
        let b = |v: Option<u64>| v.map_or("?".to_string(), human_bytes);
        let mut out = Vec::new();
        if w >= 60 {
            out.extend(wrap(
                &format!(
                    "VmSize {} (address space) · VmRSS {} resident, RssFile {}",
                    b(p.vm_size),
                    b(p.vm_rss),
                    b(p.rss_file)
                ),
                w,
            ));
        } else {
            out.extend(wrap(&format!("VmSize {} (address space)", b(p.vm_size)), w));
            out.extend(wrap(
                &format!("VmRSS {}, RssFile {}", b(p.vm_rss), b(p.rss_file)),
                w,
            ));
        }
        let fd = match (p.fd_open, p.mapping_in_maps) {
            (Some(false), Some(true)) if w >= 40 => {
                format!("fd closed after mmap: /proc/{pid}/fd has none, /proc/{pid}/maps holds the mapping")
            }
            (Some(false), Some(true)) => "fd closed after mmap; in maps".to_string(),
            (Some(true), Some(true)) => {
                format!("/proc/{pid}/fd holds the file, /proc/{pid}/maps the mapping")
            }
            (Some(true), _) => format!("/proc/{pid}/fd holds the file; no mapping in maps"),
            (Some(false), Some(false)) => "neither an fd nor a mapping of the file".to_string(),
            _ => format!("/proc/{pid}/fd or maps is hidden"),
        };
        out.extend(wrap(&fd, w));
        out
    }

    /// One line per noted workload, for panels too short for the full sentences; the same
    /// counts, fewer words.
    fn short_notes(s: &Snapshot, w: usize) -> Vec<String> {
        s.workloads
            .iter()
            .filter(|x| x.cache_note.is_some())
            .map(|x| {
                let f = &x.faults;
                let l = if f.major_total == 0 {
                    format!("w{} 0 major, {} minor: shared", x.id, count(f.minor_total))
                } else {
                    format!(
                        "w{} {} major, {} minor",
                        x.id,
                        count(f.major_total),
                        count(f.minor_total)
                    )
                };
                l.chars().take(w).collect()
            })
            .collect()
    }

    /// Several workers: one column each.
    fn table(&self, width: usize) -> Vec<Line<'static>> {
        let (s, t) = (self.snapshot, self.theme);
        let n = s.workloads.len().max(1);
        let cw = (width.saturating_sub(LABEL) / n).max(1);
        let cell = |v: String| format!("{:<cw$}", v.chars().take(cw - 1).collect::<String>());
        let row = |label: &str, f: &dyn Fn(&WorkloadView) -> String, vs: Style| {
            let mut spans = vec![Span::styled(format!("{label:<LABEL$}"), t.label)];
            for x in &s.workloads {
                spans.push(Span::styled(cell(f(x)), vs));
            }
            Line::from(spans)
        };
        let mut head = vec![Span::styled(format!("{:<LABEL$}", "worker"), t.label)];
        for x in &s.workloads {
            let label = if x.selected {
                format!("{}*", x.id)
            } else {
                x.id.to_string()
            };
            let style = if x.selected { t.selected } else { t.value };
            head.push(Span::styled(cell(label), style));
        }
        let v = cw.saturating_sub(1);
        let proc_b = |f: fn(&ProcessView) -> Option<u64>| {
            move |x: &WorkloadView| {
                x.process
                    .as_ref()
                    .and_then(f)
                    .map_or("?".into(), |b| short_bytes(b, v))
            }
        };
        // "run sequential" where every worker's fits its column, else one word (never cut).
        let both = |x: &WorkloadView| format!("{} {}", state_word(x), x.worker.pattern);
        let fits = s.workloads.iter().all(|x| both(x).chars().count() < cw);
        vec![
            Line::from(head),
            row(
                if fits { "state" } else { "doing" },
                &|x| {
                    if fits {
                        both(x)
                    } else if x.worker.state == RunState::Running {
                        x.worker.pattern.to_string()
                    } else {
                        state_word(x).to_string()
                    }
                },
                t.value,
            ),
            row("minor", &|x| short_count(x.faults.minor_total, v), t.value),
            row("major", &|x| short_count(x.faults.major_total, v), t.value),
            row("VmSize", &proc_b(|p| p.vm_size), t.value),
            row("RSS", &proc_b(|p| p.vm_rss), t.value),
            row(
                "fd",
                &|x| {
                    let w = x.process.as_ref().map_or("?", fd_words);
                    if w.len() <= v {
                        w.to_string()
                    } else if w == "closed" {
                        "no".to_string()
                    } else {
                        w.chars().take(v).collect()
                    }
                },
                t.value,
            ),
        ]
    }
}

impl Widget for Workers<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (s, t) = (self.snapshot, self.theme);
        let title = if s.workloads.len() > 1 {
            format!("Workers ({}; Tab selects)", s.workloads.len())
        } else {
            "Worker".to_string()
        };
        super::render_lines_panel(&title, t, area, buf, |w| {
            let w = w as usize;
            if s.workloads.len() > 1 {
                let mut lines = self.table(w);
                let room = (area.height.saturating_sub(2) as usize).saturating_sub(lines.len());
                let full = Self::notes(s, w);
                let notes = if full.len() <= room {
                    full
                } else {
                    Self::short_notes(s, w)
                };
                lines.extend(notes.into_iter().map(|l| Line::styled(l, t.good)));
                lines
            } else {
                Self::single_lines(s, w)
                    .into_iter()
                    .map(|l| Line::styled(l, t.value))
                    .collect()
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::fixture::fixture_snapshot;
    use crate::session::snapshot::{FaultStats, WorkerInfo};
    use crate::tui::theme::COLOR;
    use crate::tui::widgets::testing::{render, text};

    fn view(id: u32, selected: bool, minor: u64, major: u64) -> WorkloadView {
        WorkloadView {
            id,
            selected,
            worker: WorkerInfo {
                pid: Some(100 + id),
                state: RunState::Running,
                ..Default::default()
            },
            faults: FaultStats {
                minor_total: minor,
                major_total: major,
                ..Default::default()
            },
            touched: 0,
            process: Some(ProcessView {
                vm_size: Some(1 << 40),
                vm_rss: Some(3 << 20),
                rss_file: Some(2 << 20),
                rss_anon: Some(1 << 20),
                fd_open: Some(false),
                mapping_in_maps: Some(true),
                address_space_limit: None,
            }),
            cache_note: None,
        }
    }

    fn show(s: &Snapshot, w: u16) -> String {
        let h = Workers::height(s, w);
        text(&render(
            Workers {
                snapshot: s,
                theme: &COLOR,
            },
            w,
            h,
        ))
    }

    #[test]
    fn one_worker_shows_address_space_against_resident_and_the_closed_fd() {
        let mut s = fixture_snapshot();
        s.workloads = vec![view(1, true, 10, 0)];
        let out = show(&s, 44);
        for want in [
            "VmSize 1 TiB",
            "VmRSS 3 MiB, RssFile 2 MiB",
            "fd closed after mmap",
            "/proc/101/maps holds the mapping",
        ] {
            assert!(out.contains(want), "{want:?} missing\n{out}");
        }
        s.workloads[0].process = None;
        assert!(show(&s, 44).contains("hidden"));
    }

    #[test]
    fn several_workers_side_by_side_with_the_selected_marked_and_the_note() {
        let mut s = fixture_snapshot();
        s.workloads = vec![
            view(1, false, 1_813, 14),
            view(2, true, 1_024, 0),
            view(3, false, 12_345_678, 2),
        ];
        s.workloads[1].cache_note =
            Some("worker 2: 0 major faults, 1,024 minor: the page cache is shared".into());
        for w in [34, 44, 48] {
            let out = show(&s, w);
            let minor = out.lines().find(|l| l.contains("minor")).unwrap();
            assert!(minor.contains("1,813") && minor.contains("1,024"), "{out}");
            assert!(
                minor.contains("12M") || minor.contains("12,345,678"),
                "{out}"
            );
            assert!(out.contains("2*"), "{out}");
            assert!(out.contains("closed"), "{out}");
            assert!(out.contains("1T") || out.contains("1 TiB"), "{out}");
            assert!(out.contains("page cache is shared"), "{out}");
        }
        // A short panel keeps the counts of the sentence, in one line.
        let out = text(&render(
            Workers {
                snapshot: &s,
                theme: &COLOR,
            },
            34,
            10,
        ));
        assert!(out.contains("w2 0 major, 1,024 minor: shared"), "{out}");
        // Four workers still fit an 80x24 side panel's width.
        s.workloads.push(view(4, false, 0, 0));
        let out = show(&s, 34);
        assert!(out.contains('4'), "{out}");
        for (w, h) in [(0, 0), (1, 1), (5, 3), (30, 2)] {
            render(
                Workers {
                    snapshot: &s,
                    theme: &COLOR,
                },
                w,
                h,
            );
        }
    }

    #[test]
    fn the_state_row_is_never_cut_off() {
        use crate::workload::patterns::PatternKind;
        let mut s = fixture_snapshot();
        s.workloads = vec![view(1, false, 1, 0), view(2, true, 1, 0)];
        for x in &mut s.workloads {
            x.worker.pattern = PatternKind::Sequential;
        }
        // 34: the side panel at 80x24 (columns of 12: "run sequential" does not fit).
        let out = show(&s, 34);
        let row = out.lines().nth(2).unwrap();
        assert!(
            row.contains("doing") && row.matches("sequential").count() == 2,
            "{out}"
        );
        assert!(!out.contains("sequent "), "{out}");
        let out = show(&s, 48);
        let row = out.lines().nth(2).unwrap();
        assert!(
            row.contains("state") && row.matches("run sequential").count() == 2,
            "{out}"
        );
        s.workloads[0].worker.state = RunState::Paused;
        let out = show(&s, 34);
        let row = out.lines().nth(2).unwrap();
        assert!(
            row.contains("paused") && row.contains("sequential"),
            "{out}"
        );
    }

    #[test]
    fn compact_counts_fit_their_column() {
        assert_eq!(short_count(1_024, 6), "1,024");
        assert_eq!(short_count(123_456, 6), "123k");
        assert_eq!(short_count(1_234_567, 6), "1.2M");
        assert_eq!(short_bytes(1 << 40, 4), "1T");
        assert_eq!(short_bytes(1536 << 20, 6), "1.5G");
        assert_eq!(short_bytes(3 << 20, 9), "3 MiB");
    }
}
