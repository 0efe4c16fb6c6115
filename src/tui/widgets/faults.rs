//! Fault counters, what they brought in, and why faults are not pages.

use crate::session::snapshot::Snapshot;
use crate::tui::format::{count, rate, ratio, wrap};
use crate::tui::theme::Theme;
use crate::units::human_bytes;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Sparkline, Widget};

pub struct Faults<'a> {
    pub snapshot: &'a Snapshot,
    pub theme: &'a Theme,
}

const NOTE: &str = "faults ≠ pages: one minor fault can map up to 16 pages (fault-around) or a 2 MiB folio; waiting for readahead I/O counts as a minor fault";
const SHORT_NOTE: &str = "faults ≠ pages (? explains)";

/// `label ........ value` in `width` columns.
fn kv(label: &str, value: String, width: usize, t: &Theme, vs: Style) -> Line<'static> {
    let pad = width.saturating_sub(label.chars().count() + value.chars().count());
    Line::from(vec![
        Span::styled(label.to_string(), t.label),
        Span::raw(" ".repeat(pad)),
        Span::styled(value, vs),
    ])
}

impl Faults<'_> {
    /// A counter row: label, total, rate; the sparkline goes after `PREFIX` columns.
    fn counter(&self, label: &str, total: u64, per_s: f64) -> Line<'static> {
        let t = self.theme;
        Line::from(vec![
            Span::styled(format!("{label:<6}"), t.label),
            Span::styled(format!("{:>8}", count(total)), t.value),
            Span::styled(format!(" {:>6}/s ", rate(per_s)), t.label),
        ])
    }
}

/// Columns before a sparkline on a counter row.
fn line_text(l: &Line) -> String {
    l.spans.iter().map(|x| x.content.as_ref()).collect()
}

/// "PID 4242 (mmviz) maps the file too: pages it reads count as read ahead".
fn other_mappers_note(who: &[crate::session::snapshot::OtherMapper]) -> String {
    let name = |m: &crate::session::snapshot::OtherMapper| {
        format!("PID {} ({})", m.pid, crate::text::escape_controls(&m.comm))
    };
    match who {
        [one] => format!(
            "{} maps the file too: pages it reads count as read ahead",
            name(one)
        ),
        [a, b] => format!(
            "{} and {} map the file too: pages they read count as read ahead",
            name(a),
            name(b)
        ),
        [a, rest @ ..] => format!(
            "{} and {} other processes map the file too: pages they read count as read \
             ahead",
            name(a),
            rest.len()
        ),
        [] => String::new(),
    }
}

const PREFIX: u16 = 6 + 8 + 1 + 6 + 3;

impl Widget for Faults<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.is_empty() {
            return;
        }
        let (s, t) = (self.snapshot, self.theme);
        let selected = s.workloads.iter().find(|w| w.selected);
        let title = match (&s.observed, selected) {
            (Some(o), _) => format!("Faults: PID {}, all threads", o.pid),
            (None, Some(w)) if s.workloads.len() > 1 => format!("Page faults of worker {}", w.id),
            _ => "Page faults of the worker".to_string(),
        };
        let block = super::panel(&title, t);
        let inner = block.inner(area);
        block.render(area, buf);
        let w = inner.width as usize;
        let f = &s.faults;
        let visible = s.caps.cache_state_visible;
        let hidden = || "hidden".to_string();
        let cache_val = |v: Option<u64>| {
            if visible {
                v.map_or("?".into(), count)
            } else {
                hidden()
            }
        };
        // The totals are the union over every worker (the panel's faults are the selected
        // one's): say so when there are several.
        let tot = &s.totals;
        let several = s.workloads.len() > 1;

        // (priority, line): on short panels the least important lines give way first
        // (lower = more important); the order on screen stays as listed.
        let secs = f.interval.since_ms / 1000;
        let since = if secs >= 120 {
            format!("{} min", secs / 60)
        } else {
            format!("{secs} s")
        };
        let mut lines = vec![
            (0, self.counter("minor", f.minor_total, f.minor_rate)),
            (0, self.counter("major", f.major_total, f.major_rate)),
            (
                1,
                Line::styled(
                    if w >= 44 {
                        format!(
                            "totals since {} {since} ago · rates: last 1 s",
                            f.interval.reason
                        )
                    } else {
                        format!("since {} {since} ago", f.interval.reason)
                    },
                    t.dim,
                ),
            ),
            // The shorter words on narrow panels (80x24: 32 columns), never cut off.
            (
                5,
                Line::styled(
                    if w >= 35 {
                        "minor: page was in RAM, just map it"
                    } else {
                        "minor: in RAM, just map it"
                    },
                    t.dim,
                ),
            ),
            (
                5,
                Line::styled(
                    if w >= 33 {
                        "major: not in RAM: read from disk"
                    } else {
                        "major: read from disk"
                    },
                    t.dim,
                ),
            ),
            (
                3,
                kv("newly cached", cache_val(f.newly_cached), w, t, t.value),
            ),
            (
                2,
                kv(
                    "newly cached / major",
                    if visible {
                        ratio(f.pages_cached_per_major)
                    } else {
                        hidden()
                    },
                    w,
                    t,
                    t.value,
                ),
            ),
            (
                2,
                kv(
                    "pages mapped / fault",
                    ratio(f.pages_mapped_per_fault),
                    w,
                    t,
                    t.value,
                ),
            ),
            (3, kv("cached", cache_val(tot.cached), w, t, t.value)),
            (
                3,
                kv(
                    if several {
                        "mapped, all workers"
                    } else {
                        "mapped"
                    },
                    tot.mapped.map_or("?".into(), count),
                    w,
                    t,
                    t.value,
                ),
            ),
            (
                4,
                kv(
                    if several {
                        "touched, all workers"
                    } else {
                        "touched"
                    },
                    count(tot.touched),
                    w,
                    t,
                    t.value,
                ),
            ),
            (
                3,
                kv(
                    "read ahead, untouched",
                    cache_val(tot.ghosts),
                    w,
                    t,
                    t.value,
                ),
            ),
            (
                4,
                kv(
                    "read from disk",
                    f.read_bytes.map_or("?".into(), human_bytes),
                    w,
                    t,
                    t.value,
                ),
            ),
        ];
        // Another process maps the file: what it reads counts as read ahead here.
        if s.observed.is_none() && !s.other_mappers.is_empty() {
            let at = lines
                .iter()
                .position(|(_, l)| line_text(l).starts_with("read ahead, untouched"))
                .map_or(lines.len(), |i| i + 1);
            for (k, l) in wrap(&other_mappers_note(&s.other_mappers), w)
                .into_iter()
                .enumerate()
            {
                lines.insert(at + k, (2, Line::styled(l, t.warn)));
            }
        }
        if let Some(o) = &s.observed {
            // No workload of ours: nothing is "touched" and "read ahead, untouched" cannot be
            // told apart from what the program read; instead, its whole-life figures.
            lines.retain(|(_, l)| {
                let text = line_text(l);
                !text.starts_with("touched") && !text.starts_with("read ahead, untouched")
            });
            lines.insert(
                10,
                (
                    3,
                    kv(
                        "mapped at most",
                        o.mapped_max.map_or("?".into(), count),
                        w,
                        t,
                        t.value,
                    ),
                ),
            );
            if let Some(f) = o.faults_process {
                lines.insert(
                    3,
                    (
                        2,
                        Line::styled(
                            {
                                let long = format!(
                                    "since it started: {} minor, {} major",
                                    count(f.minor),
                                    count(f.major)
                                );
                                if long.chars().count() <= w {
                                    long
                                } else {
                                    format!(
                                        "started: {} minor {} major",
                                        count(f.minor),
                                        count(f.major)
                                    )
                                }
                            },
                            t.dim,
                        ),
                    ),
                );
            }
        }
        // Writes: dirty and writeback pages (cachestat), private copies (pagemap), and while
        // pages are dirty the kernel's own clock for writing them back without msync.
        let wr = s.file.write.as_ref();
        if wr.is_some() || tot.dirty.unwrap_or(0) + tot.writeback.unwrap_or(0) > 0 {
            let dirty_val = |v: Option<u64>| match (visible, v) {
                (false, _) => hidden(),
                (true, Some(n)) => count(n),
                (true, None) => "n/a (mincore)".to_string(),
            };
            lines.push((1, kv("dirty", dirty_val(tot.dirty), w, t, t.value)));
            lines.push((2, kv("writeback", dirty_val(tot.writeback), w, t, t.value)));
            if wr.is_some_and(|x| x.mode == crate::workload::worker::WriteMode::Private) {
                lines.push((
                    1,
                    kv(
                        "private copies",
                        tot.private.map_or("?".into(), count),
                        w,
                        t,
                        t.value,
                    ),
                ));
            }
            if tot.dirty.unwrap_or(0) > 0 {
                let secs = |c: Option<u64>| {
                    c.map_or("?".to_string(), |c| format!("{:.1} s", c as f64 / 100.0))
                };
                let (exp, every) = (
                    wr.and_then(|x| x.dirty_expire_centisecs),
                    wr.and_then(|x| x.dirty_writeback_centisecs),
                );
                let clock = if wr.is_some() {
                    format!(
                        "flusher (vm.dirty_*_centisecs): writes back pages once dirty for {}, \
                         wakes every {}",
                        secs(exp),
                        secs(every)
                    )
                } else {
                    "dirty pages: the kernel's flusher writes them back on its own clock"
                        .to_string()
                };
                for l in wrap(&clock, w) {
                    lines.push((2, Line::styled(l, t.dim)));
                }
                if wr.is_some() {
                    lines.push((3, Line::styled("s: msync MS_SYNC  S: MS_ASYNC", t.dim)));
                }
            }
        }
        if let Some(n) = &f.major_note {
            for l in wrap(n, w).into_iter().rev() {
                lines.insert(4, (1, Line::styled(l, t.warn)));
            }
        }
        let height = inner.height as usize;
        let note = wrap(NOTE, w);
        let note: Vec<String> = if lines.len() + note.len() <= height {
            note
        } else {
            vec![SHORT_NOTE.to_string()]
        };
        let room = height.saturating_sub(note.len().min(height.saturating_sub(2)));
        if lines.len() > room {
            let mut prios: Vec<u8> = lines.iter().map(|(p, _)| *p).collect();
            prios.sort_unstable();
            let cutoff = prios.get(room.saturating_sub(1)).copied().unwrap_or(0);
            // Keep everything more important than the cutoff, then cutoff lines in order.
            let mut budget = room - lines.iter().filter(|(p, _)| *p < cutoff).count().min(room);
            lines.retain(|(p, _)| {
                if *p < cutoff {
                    true
                } else if *p == cutoff && budget > 0 {
                    budget -= 1;
                    true
                } else {
                    false
                }
            });
        }
        let mut lines: Vec<Line> = lines.into_iter().map(|(_, l)| l).collect();
        lines.extend(note.into_iter().map(|l| Line::styled(l, t.warn)));

        for (i, line) in lines.into_iter().take(height).enumerate() {
            line.render(
                Rect {
                    y: inner.y + i as u16,
                    height: 1,
                    ..inner
                },
                buf,
            );
        }
        for (row, hist, style) in [
            (0u16, &f.minor_history, t.spark_minor),
            (1, &f.major_history, t.spark_major),
        ] {
            if row >= inner.height || inner.width <= PREFIX {
                continue;
            }
            let sw = (inner.width - PREFIX) as usize;
            let tail = &hist[hist.len().saturating_sub(sw)..];
            let r = Rect::new(inner.x + PREFIX, inner.y + row, sw as u16, 1);
            Sparkline::default().data(tail).style(style).render(r, buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::fixture::fixture_snapshot;
    use crate::tui::theme::COLOR;
    use crate::tui::widgets::testing::{render, text};

    fn show(s: &Snapshot, w: u16, h: u16) -> String {
        text(&render(
            Faults {
                snapshot: s,
                theme: &COLOR,
            },
            w,
            h,
        ))
    }

    #[test]
    fn another_process_mapping_the_file_is_named_under_read_ahead() {
        use crate::session::snapshot::OtherMapper;
        let mut s = fixture_snapshot();
        let out = show(&s, 40, 30);
        assert!(!out.contains("maps the file too"), "{out}");
        s.other_mappers = vec![OtherMapper {
            pid: 4242,
            comm: "mmviz".into(),
        }];
        let out = show(&s, 40, 30);
        let rows: Vec<&str> = out.lines().collect();
        let ahead = rows
            .iter()
            .position(|l| l.contains("read ahead, untouched"))
            .expect("the read-ahead row");
        assert!(
            rows[ahead + 1].contains("PID 4242 (mmviz) maps the"),
            "{out}"
        );
        let flat: String = out
            .split(|c: char| c.is_whitespace() || c == '│')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            flat.contains("maps the file too: pages it reads count as read ahead"),
            "the note says what the count includes:\n{out}"
        );
        // Several: the first named, the rest counted.
        s.other_mappers.push(OtherMapper {
            pid: 7,
            comm: "python3".into(),
        });
        s.other_mappers.push(OtherMapper {
            pid: 8,
            comm: "cat".into(),
        });
        assert_eq!(
            other_mappers_note(&s.other_mappers),
            "PID 4242 (mmviz) and 2 other processes map the file too: pages they read count \
             as read ahead"
        );
        // Observing a program: no read-ahead row, no note.
        let mut o = crate::session::fixture::fixture_observed(false);
        o.other_mappers = s.other_mappers.clone();
        assert!(!show(&o, 40, 30).contains("map the file too"));
    }

    #[test]
    fn shows_counts_rates_ratios_and_the_note() {
        let s = fixture_snapshot();
        let out = show(&s, 44, 24);
        for want in [
            "minor",
            "1,813",
            "44/s",
            "major",
            "14",
            "0.5/s",
            "in RAM",
            "newly cached / major",
            "2,048",
            "since evict 14 s ago",
            "15.9",
            "33,096",
            "29,000",
            "read from disk",
            "faults ≠ pages",
            "fault-around",
            "waiting for readahead",
        ] {
            assert!(out.contains(want), "{want:?} missing\n{out}");
        }
        // Sparklines draw bars.
        assert!(
            out.lines()
                .nth(1)
                .unwrap()
                .contains(['▄', '▅', '▆', '▇', '█']),
            "{out}"
        );
    }

    #[test]
    fn with_several_workers_the_union_totals_say_so() {
        use crate::session::snapshot::WorkloadView;
        let mut s = fixture_snapshot();
        let out = show(&s, 44, 24);
        assert!(!out.contains("all workers"), "one worker: {out}");
        s.workloads = (1..=2)
            .map(|id| WorkloadView {
                id,
                selected: id == 2,
                ..WorkloadView::default()
            })
            .collect();
        // 32 columns: the panel at 80x24.
        for w in [44, 32] {
            let out = show(&s, w, 24);
            assert!(out.contains("Page faults of worker 2"), "{out}");
            for want in ["mapped, all workers", "touched, all workers"] {
                let l = out.lines().find(|l| l.contains(want)).expect(want);
                assert!(l.contains("29,000"), "{want} is the union: {out}");
            }
        }
    }

    #[test]
    fn narrow_panels_keep_whole_sentences() {
        let s = fixture_snapshot();
        // 34 wide: the 32 inner columns of the 80x24 side panel.
        let out = show(&s, 34, 24);
        assert!(out.contains("minor: in RAM, just map it"), "{out}");
        assert!(out.contains("major: read from disk"), "{out}");
        let out = show(&s, 44, 24);
        assert!(out.contains("minor: page was in RAM, just map it"), "{out}");
        assert!(out.contains("major: not in RAM: read from disk"), "{out}");
    }

    #[test]
    fn hidden_cache_state_draws_no_cache_numbers() {
        let mut s = fixture_snapshot();
        s.caps.cache_state_visible = false;
        s.totals.cached = None;
        s.totals.ghosts = None;
        s.faults.pages_cached_per_major = Some(2048.0);
        let out = show(&s, 44, 24);
        assert!(!out.contains("33,096") && !out.contains("2,048"), "{out}");
        assert!(out.matches("hidden").count() >= 3, "{out}");
    }

    #[test]
    fn short_panels_keep_a_short_note() {
        let s = fixture_snapshot();
        let out = show(&s, 34, 11);
        assert!(out.contains("faults ≠ pages"), "{out}");
        assert!(out.contains("pages mapped / fault"), "{out}");
        assert!(
            !out.contains("had to wait"),
            "teaching lines give way first\n{out}"
        );
        for (w, h) in [(0, 0), (1, 1), (5, 3), (30, 2)] {
            show(&s, w, h);
        }
    }
}
