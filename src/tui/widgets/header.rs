//! The header: what file, on what filesystem and kernel settings, what the workload does, and
//! what this machine can and cannot show.

use crate::session::snapshot::{ObservedEnd, ObservedInfo, PagemapSource, RunState, Snapshot};
use crate::tui::format::{count, truncate_left};
use crate::tui::theme::Theme;
use crate::units::human_bytes;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

pub struct Header<'a> {
    pub snapshot: &'a Snapshot,
    pub theme: &'a Theme,
}

impl Header<'_> {
    /// Rows it needs: file, run, capabilities, the write mode, and one per warning (at most
    /// three).
    pub fn height(snapshot: &Snapshot) -> u16 {
        let ended = snapshot
            .observed
            .as_ref()
            .is_some_and(|o| o.ended.is_some());
        3 + snapshot.file.write.is_some() as u16
            + ended as u16
            + warnings(snapshot).len().min(MAX_WARNINGS) as u16
    }

    /// Observing a program: who, which file and how it was chosen, or how it ended.
    fn observe_line(&self, o: &ObservedInfo) -> Line<'static> {
        let t = self.theme;
        let who = format!("PID {} ({})", o.pid, o.comm);
        let mut spans = match &o.ended {
            None => vec![
                Span::styled(" ◉ observing ", t.good),
                Span::styled(who, t.value),
            ],
            Some(e) => {
                let how = match (e.exit_code, e.signal) {
                    (Some(c), _) => format!(" exited with status {c}"),
                    (_, Some(s)) => format!(" was killed by signal {s}"),
                    _ => " exited".to_string(),
                };
                vec![
                    Span::styled(" ■ ", t.warn),
                    Span::styled(who, t.value),
                    Span::styled(how, t.warn),
                    Span::styled(
                        format!(" after {:.1} s: last screen kept", e.at_ms as f64 / 1000.0),
                        t.label,
                    ),
                ]
            }
        };
        spans.push(Span::styled(format!("  {}", o.command), t.dim));
        match &o.chosen {
            Some(c) => {
                let pos = o
                    .files
                    .iter()
                    .position(|(p, _)| *p == self.snapshot.file.path)
                    .map(|i| format!(", {} of {}", i + 1, o.files.len()))
                    .unwrap_or_default();
                spans.push(Span::styled("  file: ", t.label));
                spans.push(Span::styled(format!("{c}{pos}"), t.value));
                let ranges = if o.maps_note.is_some() {
                    "  ranges unknown".to_string()
                } else {
                    format!(
                        "  {} range{}",
                        o.ranges,
                        if o.ranges == 1 { "" } else { "s" }
                    )
                };
                spans.push(Span::styled(ranges, t.label));
            }
            None => spans.push(Span::styled("  no file watched", t.warn)),
        }
        if o.ended.is_none() {
            spans.push(Span::styled(
                format!(
                    "  {} thread{}",
                    o.threads,
                    if o.threads == 1 { "" } else { "s" }
                ),
                t.label,
            ));
        }
        Line::from(spans)
    }

    /// After the process ended: its totals (a shorter form where the full one does not fit).
    fn totals_line(&self, e: &ObservedEnd, width: usize) -> Line<'static> {
        let t = self.theme;
        let opt = |v: Option<u64>| v.map_or("?".to_string(), count);
        let fin = if e.faults_final {
            "final"
        } else {
            "last sample"
        };
        let cached = format!("{} → {}", opt(e.cached_before), opt(e.cached_after));
        let (minor, major) = e.faults.map_or(("?".to_string(), "?".to_string()), |f| {
            (count(f.minor), count(f.major))
        });
        let full = Line::from(vec![
            Span::styled(" totals: ", t.label),
            Span::styled(
                format!("{minor} minor / {major} major faults ({fin})"),
                t.value,
            ),
            Span::styled("  mapped ", t.label),
            Span::styled(opt(e.mapped_last), t.value),
            Span::styled(" (max ", t.label),
            Span::styled(opt(e.mapped_max), t.value),
            Span::styled(")  cached ", t.label),
            Span::styled(cached.clone(), t.value),
        ]);
        if full.width() <= width {
            return full;
        }
        Line::from(vec![
            Span::styled(" totals: ", t.label),
            Span::styled(format!("{minor} minor {major} major ({fin})"), t.value),
            Span::styled(" · mapped ", t.label),
            Span::styled(opt(e.mapped_last), t.value),
            Span::styled(" · cached ", t.label),
            Span::styled(cached, t.value),
        ])
    }

    /// Write mode: which file is written (a scratch copy) and that the user's file is not.
    fn write_line(&self, width: usize) -> Option<Line<'static>> {
        let (w, t) = (self.snapshot.file.write.as_ref()?, self.theme);
        let name = |p: &str| p.rsplit('/').next().unwrap_or(p).to_string();
        let how = match w.mode {
            crate::workload::worker::WriteMode::Shared => "MAP_SHARED",
            crate::workload::worker::WriteMode::Private => "MAP_PRIVATE, copy-on-write",
        };
        let scratch = crate::text::escape_controls(&name(&w.scratch)).to_string();
        let source = crate::text::escape_controls(&w.source).to_string();
        let tail = format!("  {how}, {:.0}% stores", w.share * 100.0);
        const NEVER: &str = " (your file is never written)";
        // The promise stays whole on narrow screens: the source path gives way first (it
        // keeps its file name), and the mapping details go when they do not fit.
        let fixed = 3 + "writing to scratch copy ".len() + " of ".len() + NEVER.len();
        let room = width.saturating_sub(fixed);
        let (ns, nf) = (scratch.chars().count(), source.chars().count());
        let with_tail = ns + nf + tail.chars().count() <= room;
        // Both names share the room (each keeps its end: the file name), at least 8 each.
        let (ws, wf) = if ns + nf <= room {
            (ns, nf)
        } else {
            let half = (room / 2).max(8);
            let ws = ns.min(half).max(room.saturating_sub(nf)).max(8);
            (ws, room.saturating_sub(ws).max(8))
        };
        let mut spans = vec![
            Span::styled(" ✎ ", t.warn),
            Span::styled("writing to scratch copy ", t.label),
            Span::styled(truncate_left(&scratch, ws), t.value),
            Span::styled(" of ", t.label),
            Span::styled(truncate_left(&source, wf), t.value),
            Span::styled(NEVER, t.good),
        ];
        if with_tail {
            spans.push(Span::styled(tail, t.dim));
        }
        Some(Line::from(spans))
    }

    fn file_line(&self, width: usize) -> Line<'static> {
        let (s, t) = (self.snapshot, self.theme);
        let f = &s.file;
        if let Some(o) = s.observed.as_ref().filter(|o| o.chosen.is_none()) {
            return Line::from(vec![
                Span::styled(" mmviz ", t.title),
                Span::styled("no file watched: ", t.warn),
                Span::styled(
                    if o.maps_note.is_some() {
                        // The warning row below says why in full.
                        "its memory map is unreadable, so none can be chosen: give FILE".into()
                    } else {
                        o.file_note
                            .clone()
                            .unwrap_or_else(|| "the process maps no regular file".into())
                    },
                    t.label,
                ),
            ]);
        }
        let mut facts = vec![
            Span::styled(human_bytes(f.size_bytes), t.value),
            Span::styled(
                format!(
                    " ({} page{})",
                    count(f.pages),
                    if f.pages == 1 { "" } else { "s" }
                ),
                t.label,
            ),
            Span::styled(" on ", t.label),
            Span::styled(f.filesystem.name.clone(), t.value),
            Span::styled("  page ", t.label),
            Span::styled(human_bytes(f.page_size), t.value),
            Span::styled("  readahead ", t.label),
            Span::styled(
                f.read_ahead_kb
                    .map_or("n/a".to_string(), |kb| human_bytes(kb * 1024)),
                t.value,
            ),
            Span::styled("  THP ", t.label),
            Span::styled(f.thp_mode.clone().unwrap_or_else(|| "?".into()), t.value),
        ];
        let tag = if f.is_demo { " [demo file]" } else { "" };
        let fixed = |facts: &[Span]| facts.iter().map(|s| s.width()).sum::<usize>() + 9 + tag.len();
        // Narrow screens: the page count goes first, so the kernel settings stay visible;
        // then the page size (4 KiB almost everywhere, and the grid's caption says it), so
        // the line is never cut off (readahead and THP mode are what the demos turn on).
        if fixed(&facts) + 20 > width {
            facts.remove(1);
        }
        if fixed(&facts) + 12 > width {
            // "  page " and its value, now at 3 and 4.
            facts.drain(3..5);
        }
        let fixed = fixed(&facts);
        let budget = width.saturating_sub(fixed).max(12);
        let mut spans = vec![
            Span::styled(" mmviz ", t.title),
            Span::styled(
                truncate_left(&crate::text::escape_controls(&f.path), budget),
                t.value,
            ),
        ];
        if f.is_demo {
            spans.push(Span::styled(tag, t.warn));
        }
        spans.push(Span::raw("  "));
        spans.append(&mut facts);
        Line::from(spans)
    }

    fn run_line(&self, width: usize) -> Line<'static> {
        let (s, t) = (self.snapshot, self.theme);
        let w = &s.worker;
        let (badge, style) = match &w.state {
            RunState::Starting => ("◌ starting".to_string(), t.label),
            RunState::Running => ("▶ running".to_string(), t.good),
            RunState::Paused => ("‖ paused (space resumes, n steps)".to_string(), t.warn),
            RunState::Finished => ("■ pass finished".to_string(), t.label),
            RunState::Dead { reason } => (
                format!(
                    "✖ worker died: {} (r restarts)",
                    crate::text::escape_controls(reason)
                ),
                t.error,
            ),
            RunState::Stopped { .. } => (
                "■ worker stopped by a signal (r restarts)".to_string(),
                t.error,
            ),
        };
        let rate = w
            .rate
            .map_or("max".to_string(), |r| format!("{}/s", count(r)));
        let mut spans = vec![
            Span::raw(" "),
            Span::styled(badge, style),
            Span::styled("  pattern ", t.label),
            Span::styled(w.pattern.name(), t.value),
            Span::styled("  rate ", t.label),
            Span::styled(rate, t.value),
            Span::styled("  advice ", t.label),
            Span::styled(w.advice.name(), t.value),
            Span::styled("  accesses ", t.label),
            Span::styled(count(w.accesses), t.value),
        ];
        // Paused on a narrow screen: the keys go rather than the figures after them (the
        // footer and the help list the keys).
        if matches!(w.state, RunState::Paused)
            && spans.iter().map(Span::width).sum::<usize>() > width
        {
            spans[1] = Span::styled("‖ paused", t.warn);
        }
        Line::from(spans)
    }

    fn caps_line(&self) -> Line<'static> {
        let (s, t) = (self.snapshot, self.theme);
        let c = &s.caps;
        let mut spans = vec![Span::styled(" page cache: ", t.label)];
        if c.cache_state_visible {
            let src = match c.cache_source {
                crate::session::snapshot::CacheSource::Cachestat => "cachestat",
                crate::session::snapshot::CacheSource::Mincore => "mincore",
            };
            spans.push(Span::styled(src, t.value));
            if let Some(n) = &c.cache_note {
                spans.push(Span::styled(format!(" ({n})"), t.dim));
            }
        } else {
            spans.push(Span::styled("hidden", t.warn));
        }
        spans.push(Span::styled("  mapped: ", t.label));
        let pm = match c.pagemap {
            PagemapSource::Scan => ("pagemap scan", t.value),
            PagemapSource::Pread => ("pagemap pread", t.value),
            PagemapSource::Unavailable => ("unavailable", t.warn),
        };
        spans.push(Span::styled(pm.0, pm.1));
        if let Some(n) = &c.pagemap_note {
            spans.push(Span::styled(format!(" ({n})"), t.dim));
        }
        if let Some(pid) = s.worker.pid {
            spans.push(Span::styled(format!("  worker pid {pid}"), t.dim));
        }
        Line::from(spans)
    }
}

/// Warning rows at most (the message log keeps every event in full).
const MAX_WARNINGS: usize = 3;

/// What the viewer must know before trusting the picture, most urgent first.
fn warnings(s: &Snapshot) -> Vec<String> {
    let mut w = Vec::new();
    if let Some(x) = &s.warning {
        w.push(x.clone());
    }
    if let Some(o) = &s.observed {
        // Another user's process: say what cannot be read and what is still shown.
        if let Some(n) = o.maps_note.as_ref().or(o.pagemap_note.as_ref()) {
            w.push(format!(
                "{n}; shown: its faults (stat is world-readable){}",
                if o.chosen.is_some() {
                    " and the file's page cache"
                } else {
                    ""
                }
            ));
        }
    }
    if let Some(n) = &s.file.notice {
        w.push(n.clone());
    }
    const HIDDEN: &str = "page-cache state hidden by the kernel";
    if !s.caps.cache_state_visible {
        // The sampler's note may already say it in full; don't say it twice.
        w.push(match s.caps.cache_note.as_deref() {
            Some(n) if n.starts_with(HIDDEN) => n.to_string(),
            Some(n) => format!("{HIDDEN} ({n})"),
            None => HIDDEN.to_string(),
        });
    }
    if s.caps.pagemap == PagemapSource::Unavailable && s.worker.pid.is_some() {
        w.push(
            "the worker's /proc is unreadable (hidepid, or another user?): mapped pages are \
             unknown and fault counts come from the worker's own reports; the grid shows \
             page-cache state only"
                .to_string(),
        );
    }
    if let Some(n) = &s.file.filesystem.note {
        let name = &s.file.filesystem.name;
        w.push(if n.starts_with(name.as_str()) {
            n.clone()
        } else {
            format!("{name}: {n}")
        });
    }
    w
}

impl Widget for Header<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let observed = self.snapshot.observed.as_ref();
        let mut lines = vec![
            self.file_line(area.width as usize),
            match observed {
                Some(o) => self.observe_line(o),
                None => self.run_line(area.width as usize),
            },
            self.caps_line(),
        ];
        if let Some(e) = observed.and_then(|o| o.ended.as_ref()) {
            lines.push(self.totals_line(e, area.width as usize));
        }
        lines.extend(self.write_line(area.width as usize));
        for w in warnings(self.snapshot).into_iter().take(MAX_WARNINGS) {
            lines.push(Line::from(vec![
                Span::styled(" ⚠ ", self.theme.warn),
                Span::styled(w, self.theme.warn),
            ]));
        }
        for (i, line) in lines.into_iter().enumerate() {
            let y = area.y + i as u16;
            if y >= area.bottom() {
                break;
            }
            line.render(Rect::new(area.x, y, area.width, 1), buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::fixture::fixture_snapshot;
    use crate::tui::theme::COLOR;
    use crate::tui::widgets::testing::{render, text};

    fn show(s: &Snapshot, w: u16) -> String {
        let h = Header::height(s);
        text(&render(
            Header {
                snapshot: s,
                theme: &COLOR,
            },
            w,
            h,
        ))
    }

    #[test]
    fn shows_file_settings_and_capabilities() {
        let s = fixture_snapshot();
        let out = show(&s, 160);
        for want in [
            "data.bin",
            "256 MiB",
            "65,536 pages",
            "ext4",
            "page 4 KiB",
            "readahead 8 MiB",
            "THP madvise",
            "running",
            "pattern sequential",
            "rate max",
            "advice normal",
            "cachestat",
            "pagemap scan",
        ] {
            assert!(out.contains(want), "{want:?} missing in\n{out}");
        }
        assert_eq!(Header::height(&s), 3);
    }

    #[test]
    fn says_what_is_hidden_and_why() {
        let mut s = fixture_snapshot();
        s.caps.cache_state_visible = false;
        s.caps.cache_note = Some("cachestat EPERM: file not ours".into());
        s.file.filesystem.name = "tmpfs".into();
        s.file.filesystem.note = Some("pages never leave memory: no cold cache".into());
        s.file.is_demo = true;
        s.worker.rate = Some(5000);
        let out = show(&s, 200);
        assert_eq!(Header::height(&s), 5, "one row per warning");
        for want in [
            "page-cache state hidden by the kernel (cachestat EPERM",
            "tmpfs: pages never leave memory",
            "[demo file]",
            "rate 5,000/s",
            "page cache: hidden",
        ] {
            assert!(out.contains(want), "{want:?} missing in\n{out}");
        }
    }

    #[test]
    fn write_mode_names_the_scratch_copy_and_the_untouched_file() {
        let mut s = fixture_snapshot();
        s.file.path = "/c/scratch/mmviz-scratch-1-00ab.bin".into();
        s.file.write = Some(crate::session::snapshot::WriteInfo {
            mode: crate::workload::worker::WriteMode::Shared,
            share: 1.0,
            scratch: s.file.path.clone(),
            source: "/home/t/data.bin".into(),
            dirty_expire_centisecs: Some(3000),
            dirty_writeback_centisecs: Some(500),
        });
        assert_eq!(Header::height(&s), 4);
        let out = show(&s, 160);
        assert!(
            out.contains(
                "writing to scratch copy mmviz-scratch-1-00ab.bin of /home/t/data.bin \
                 (your file is never written)  MAP_SHARED, 100% stores"
            ),
            "{out}"
        );
        // Narrow: the source path gives way (its file name stays), the promise does not.
        s.file.write.as_mut().unwrap().source = format!("/{}/data.bin", "deep/".repeat(20));
        let out = show(&s, 100);
        let row = out.lines().nth(3).unwrap();
        assert!(
            row.contains("data.bin (your file is never written)"),
            "{out}"
        );
        // 80 columns: both names shortened from the left, the sentence whole.
        let out = show(&s, 80);
        let row = out.lines().nth(3).unwrap();
        assert!(
            row.contains("writing to scratch copy …")
                && row.contains("(your file is never written)"),
            "{out}"
        );
    }

    #[test]
    fn dead_worker_shows_reason() {
        let mut s = fixture_snapshot();
        s.worker.state = RunState::Dead {
            reason: "killed by SIGBUS: the file shrank".into(),
        };
        let out = show(&s, 120);
        assert!(
            out.contains("worker died: killed by SIGBUS: the file shrank"),
            "{out}"
        );
    }

    #[test]
    fn hostile_file_names_reach_the_screen_escaped() {
        let mut s = fixture_snapshot();
        s.file.path = "/d/esc\x1b]0;PWNED\x07\x1b[2J\nx.bin".into();
        s.worker.state = RunState::Dead {
            reason: "worker: /d/esc\x1b[2J: gone".into(),
        };
        let buf = render(
            Header {
                snapshot: &s,
                theme: &COLOR,
            },
            160,
            Header::height(&s),
        );
        for cell in buf.content() {
            assert!(
                !cell.symbol().contains(char::is_control),
                "a control character reached the screen: {:?}",
                cell.symbol()
            );
        }
        let out = show(&s, 160);
        assert!(
            out.contains("esc\\x1b]0;PWNED\\x07\\x1b[2J\\x0ax.bin"),
            "{out}"
        );
    }

    #[test]
    fn unreadable_worker_proc_is_said() {
        let mut s = fixture_snapshot();
        s.caps.pagemap = PagemapSource::Unavailable;
        s.caps.pagemap_note = Some("/proc/42/pagemap: Permission denied (os error 13)".into());
        let out = show(&s, 200);
        assert!(out.contains("the worker's /proc is unreadable"), "{out}");
        assert!(out.contains("mapped: unavailable"), "{out}");
    }

    #[test]
    fn at_80_columns_the_kernel_settings_and_the_figures_are_not_cut_off() {
        let mut s = fixture_snapshot();
        s.file.is_demo = true;
        s.file.path = "/root/.cache/mmviz/demo-256MiB.bin".into();
        s.worker.state = RunState::Paused;
        let out = show(&s, 80);
        let l: Vec<&str> = out.lines().collect();
        assert!(
            l[0].trim_end().ends_with("readahead 8 MiB  THP madvise") && l[0].contains("[demo"),
            "{out}"
        );
        assert!(l[1].contains("‖ paused  pattern"), "{out}");
        let acc = format!("accesses {}", count(s.worker.accesses));
        assert!(l[1].trim_end().ends_with(&acc), "{out}");
        // Wide enough: everything, keys included.
        let out = show(&s, 140);
        assert!(out.contains("page 4 KiB") && out.contains("(space resumes, n steps)"));
    }

    #[test]
    fn long_paths_keep_the_file_name() {
        let mut s = fixture_snapshot();
        s.file.path = format!("/{}/data.bin", "deep/".repeat(40));
        let out = show(&s, 100);
        assert!(out.lines().next().unwrap().contains("…"), "{out}");
        assert!(out.contains("/data.bin"), "{out}");
        // Tiny widths do not panic.
        show(&s, 1);
        show(&s, 0);
    }
}
