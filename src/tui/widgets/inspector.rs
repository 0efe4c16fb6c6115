//! The page inspector panel (cursor mode, `i`): at one page per cell, what the session
//! measured about the page under the cursor (states, bytes when it was cached, what the read
//! changed); at coarser zoom, the cell's page range and counts.

use crate::inspect::{dump_rows, PageReport, ReadOutcome};
use crate::session::snapshot::CellCounts;
use crate::tui::format::{count, wrap};
use crate::tui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Widget};

pub struct Inspector<'a> {
    /// The page under the cursor.
    pub page: u64,
    /// The session's latest inspection (may be of an earlier cursor page until it answers).
    pub report: Option<&'a PageReport>,
    /// The grid cell holding `page`: its first page and counts.
    pub cell: Option<(u64, &'a CellCounts)>,
    pub pages_per_cell: u64,
    /// False when the kernel hides page-cache state (cache counts are then not shown).
    pub cache_visible: bool,
    /// When the workload first touched the page in this interval, if it was recorded.
    pub first_touch: Option<&'a crate::session::snapshot::FirstTouch>,
    /// The worker's pid (the one process whose page table is read).
    pub worker_pid: Option<u32>,
    /// The offset being typed (`o`), and why the last one was refused.
    pub prompt: Option<(&'a str, Option<&'a str>)>,
    pub theme: &'a Theme,
}

fn yn(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "?",
    }
}

/// Bytes per dump row that fit `width` columns (`offset hex ascii`).
fn per_row(width: usize, off_w: usize) -> usize {
    [16, 8, 4, 2, 1]
        .into_iter()
        .find(|&n| off_w + 1 + 3 * n + n <= width)
        .unwrap_or(1)
}

impl Inspector<'_> {
    fn lines(&self, width: u16) -> Vec<Line<'static>> {
        let t = self.theme;
        let w = width as usize;
        let mut l: Vec<Line<'static>> = Vec::new();
        let text = |l: &mut Vec<Line<'static>>, s: &str, st| {
            l.extend(wrap(s, w).into_iter().map(|x| Line::styled(x, st)));
        };
        if let Some((typed, err)) = self.prompt {
            l.push(Line::from(vec![
                Span::styled("offset: ", t.label),
                Span::styled(format!("{typed}▏"), t.value),
            ]));
            text(&mut l, "e.g. 1000, 0x3e8, 4KiB · Enter · Esc", t.dim);
            if let Some(e) = err {
                text(&mut l, e, t.warn);
            }
        }
        if self.pages_per_cell > 1 {
            let Some((lo, c)) = self.cell else {
                text(&mut l, "no cell under the cursor", t.dim);
                return l;
            };
            let opt = |v: Option<u64>| v.map_or("?".to_string(), count);
            let cached = if self.cache_visible { c.cached } else { None };
            text(
                &mut l,
                &format!(
                    "pages {}–{} (1 cell = {} pages)",
                    count(lo),
                    count(lo + c.pages.saturating_sub(1)),
                    count(self.pages_per_cell)
                ),
                t.value,
            );
            text(
                &mut l,
                &format!(
                    "cached {} · mapped {} · touched {}",
                    opt(cached),
                    opt(c.mapped),
                    count(c.touched)
                ),
                t.label,
            );
            text(
                &mut l,
                "zoom in (+) to 1 page per cell to inspect one page",
                t.dim,
            );
            return l;
        }
        let r = self.report.filter(|r| r.page_index == self.page);
        let Some(r) = r else {
            text(
                &mut l,
                &format!("page {}: asking the kernel…", count(self.page)),
                t.dim,
            );
            return l;
        };
        text(
            &mut l,
            &format!(
                "page {} · bytes {}–{}",
                count(r.page_index),
                count(r.page_first_byte),
                count(r.page_last_byte)
            ),
            t.value,
        );
        let cell = self.cell.map(|(_, c)| c);
        let mapped = match cell.and_then(|c| Some((c.mapped?, c.private.unwrap_or(0)))) {
            Some((_, p)) if p > 0 => "private copy",
            Some((m, _)) if m > 0 => "yes",
            Some(_) => "no",
            None => "?",
        };
        if r.cache_state_visible {
            let mut parts = vec![Span::styled("cached ", t.label)];
            parts.push(Span::styled(yn(r.cached), t.value));
            parts.push(Span::styled(" · dirty ", t.label));
            parts.push(Span::styled(yn(r.dirty), t.value));
            if r.writeback == Some(true) {
                parts.push(Span::styled(" · writeback", t.warn));
            }
            l.push(Line::from(parts));
        } else {
            text(&mut l, "cache state hidden by the kernel", t.hidden);
        }
        let touched = cell.map_or("?", |c| if c.touched > 0 { "yes" } else { "no" });
        // Mapped by whom: the one worker whose page table is read.
        let mapped = match (mapped, self.worker_pid) {
            ("yes", Some(pid)) => format!("by {pid}"),
            ("private copy", Some(pid)) => format!("privately by {pid}"),
            (m, _) => m.to_string(),
        };
        l.push(Line::from(vec![
            Span::styled("mapped ", t.label),
            Span::styled(mapped, t.value),
            Span::styled(" · touched ", t.label),
            Span::styled(touched, t.value),
        ]));
        // PMD-mapped (one TLB entry for 2 MiB) vs 4 KiB entries, where the page table says.
        match cell.map(|c| (c.mapped.unwrap_or(0), c.huge)) {
            Some((m, Some(h))) if m > 0 || h > 0 => text(
                &mut l,
                if h > 0 {
                    "huge-mapped: part of a 2 MiB PMD mapping"
                } else {
                    "mapped with a 4 KiB page-table entry"
                },
                t.label,
            ),
            _ => {}
        }
        // Not recorded (touched in a batch of more than 10 accesses): nothing to say.
        if let Some(f) = self.first_touch.filter(|f| f.page == r.page_index) {
            {
                let faults = match (f.minor_faults, f.major_faults) {
                    (0, 0) => "no fault".to_string(),
                    (mi, 0) => format!("{mi} minor fault{}", if mi == 1 { "" } else { "s" }),
                    (0, ma) => format!("{ma} major fault{}", if ma == 1 { "" } else { "s" }),
                    (mi, ma) => format!("{mi} minor + {ma} major faults"),
                };
                let whose = if f.batch_accesses == 1 {
                    "that access took".to_string()
                } else {
                    format!("its batch of {} accesses took", f.batch_accesses)
                };
                let s = f.t_ms / 1000;
                text(
                    &mut l,
                    &format!(
                        "first touched at {}:{:02}.{} (access {}): {whose} {faults}",
                        s / 60,
                        s % 60,
                        (f.t_ms % 1000) / 100,
                        count(f.access)
                    ),
                    t.label,
                );
            }
        }
        match &r.bytes {
            Some(b) => {
                let off_w = format!("{:x}", r.offset + r.length).len().max(4);
                let n = per_row(w, off_w);
                for (off, hex, ascii) in dump_rows(r.offset, b, n) {
                    l.push(Line::from(vec![
                        Span::styled(format!("{off:0off_w$x} "), t.dim),
                        Span::styled(format!("{hex} "), t.value),
                        Span::styled(ascii, t.label),
                    ]));
                }
                if r.read == ReadOutcome::ReadRequested {
                    text(&mut l, "read on request (Enter)", t.dim);
                }
            }
            None => {
                let why = match r.read {
                    ReadOutcome::NotCached => "not cached: reading it would fault it in",
                    ReadOutcome::Hidden => {
                        "not read: the kernel hides whether it is cached, a read might fault it in"
                    }
                    _ => "not read: it left the cache between the check and the read",
                };
                text(&mut l, why, t.warn);
                text(
                    &mut l,
                    "Enter reads it and shows what that brought in",
                    t.dim,
                );
            }
        }
        let change = match (r.pages_newly_cached, r.cache_changed) {
            (Some(0), Some(false)) => "inspection left the cache unchanged".to_string(),
            (Some(d), _) if d > 0 => format!(
                "{} page{} newly cached around it while reading (the read, readahead or the \
                 worker)",
                count(d as u64),
                if d == 1 { "" } else { "s" }
            ),
            (Some(d), _) => format!(
                "{} pages left the cache around it while reading",
                count(d.unsigned_abs())
            ),
            (None, _) => "what the read changed is hidden by the kernel".to_string(),
        };
        text(&mut l, &change, t.label);
        l
    }

    /// Hint line at the bottom of the panel.
    fn keys(&self) -> Line<'static> {
        Line::styled("arrows · Enter read · Esc leave", self.theme.dim)
    }
}

impl Widget for Inspector<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.is_empty() {
            return;
        }
        Clear.render(area, buf);
        let theme = self.theme;
        let keys = self.keys();
        super::render_lines_panel("Page inspector", theme, area, buf, |w| {
            let mut l = self.lines(w);
            // The key hint goes last, but never pushes the page's facts out.
            l.push(keys);
            l
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::theme::COLOR;
    use crate::tui::widgets::testing::{render, text};

    fn report() -> PageReport {
        PageReport {
            offset: 4096 * 1234,
            length: 16,
            page_size: 4096,
            page_index: 1234,
            page_first_byte: 4096 * 1234,
            page_last_byte: 4096 * 1235 - 1,
            file_size: 4096 * 65536,
            cache_state_visible: true,
            cached: Some(true),
            dirty: Some(false),
            writeback: Some(false),
            read: ReadOutcome::ReadCached,
            bytes: Some(b"First byte\x00\x01mmap".to_vec()),
            window_start_page: 0,
            window_end_page: 5331,
            window_cached_before: Some(4000),
            window_cached_after: Some(4000),
            cache_changed: Some(false),
            pages_newly_cached: Some(0),
            page_cached_after: Some(true),
            ..PageReport::default()
        }
    }

    fn cell(cached: u64, mapped: u64, touched: u64) -> CellCounts {
        CellCounts {
            pages: 1,
            cached: Some(cached),
            dirty: Some(0),
            writeback: Some(0),
            mapped: Some(mapped),
            private: Some(0),
            touched,
            recent: 0,
            earlier: 0,
            huge: None,
        }
    }

    #[test]
    fn first_touch_says_when_and_what_that_access_cost() {
        let r = report();
        let c = cell(1, 1, 1);
        let f = crate::session::snapshot::FirstTouch {
            page: 1234,
            t_ms: 61_250,
            access: 12,
            batch_accesses: 1,
            minor_faults: 0,
            major_faults: 1,
        };
        let out = text(&render(
            Inspector {
                page: 1234,
                report: Some(&r),
                cell: Some((1234, &c)),
                pages_per_cell: 1,
                cache_visible: true,
                first_touch: Some(&f),
                worker_pid: Some(4242),
                prompt: None,
                theme: &COLOR,
            },
            44,
            24,
        ));
        assert!(out.contains("first touched at 1:01.2"), "{out}");
        assert!(out.contains("(access 12): that"), "{out}");
        assert!(out.contains("access took 1 major fault"), "{out}");
        assert!(out.contains("mapped by 4242"), "{out}");
    }

    #[test]
    fn says_whether_the_page_is_huge_mapped() {
        let r = report();
        let render_with = |huge| {
            let c = CellCounts {
                huge,
                ..cell(1, 1, 1)
            };
            text(&render(
                Inspector {
                    page: 1234,
                    report: Some(&r),
                    cell: Some((1234, &c)),
                    pages_per_cell: 1,
                    cache_visible: true,
                    first_touch: None,
                    worker_pid: Some(4242),
                    prompt: None,
                    theme: &COLOR,
                },
                50,
                24,
            ))
        };
        assert!(render_with(Some(1)).contains("huge-mapped: part of a 2 MiB PMD mapping"));
        assert!(render_with(Some(0)).contains("mapped with a 4 KiB page-table entry"));
        let unknown = render_with(None);
        assert!(!unknown.contains("huge-mapped") && !unknown.contains("4 KiB page-table"));
    }

    fn show(r: &PageReport, c: &CellCounts, visible: bool) -> String {
        text(&render(
            Inspector {
                page: 1234,
                report: Some(r),
                cell: Some((1234, c)),
                pages_per_cell: 1,
                cache_visible: visible,
                first_touch: None,
                worker_pid: Some(4242),
                prompt: None,
                theme: &COLOR,
            },
            34,
            14,
        ))
    }

    #[test]
    fn cached_page_shows_states_and_bytes() {
        let out = show(&report(), &cell(1, 1, 1), true);
        assert!(
            out.contains("page 1,234 · bytes") && out.contains("5,054,464–5,058,559"),
            "{out}"
        );
        assert!(out.contains("cached yes · dirty no"), "{out}");
        assert!(out.contains("mapped by 4242 · touched yes"), "{out}");
        // 32 columns inside the border: 4 bytes per row after a 6-digit offset.
        assert!(out.contains("4d2000 46 69 72 73 Firs"), "{out}");
        assert!(out.contains("4d200c 6d 6d 61 70 mmap"), "{out}");
        assert!(out.contains("4d2008 74 65 00 01 te.."), "{out}");
        assert!(out.contains("inspection left the cache"), "{out}");
        assert!(out.contains("Esc leave"), "{out}");
    }

    #[test]
    fn uncached_page_says_reading_would_fault_it_in() {
        let mut r = report();
        r.cached = Some(false);
        r.bytes = None;
        r.read = ReadOutcome::NotCached;
        let out = show(&r, &cell(0, 0, 0), true);
        assert!(out.contains("cached no"), "{out}");
        assert!(out.contains("not cached: reading it would"), "{out}");
        assert!(out.contains("Enter reads it"), "{out}");
        assert!(!out.contains("4d2000"), "no bytes: {out}");

        // After Enter: the bytes and what the read brought in.
        r.read = ReadOutcome::ReadRequested;
        r.bytes = Some(vec![0xab; 4]);
        r.pages_newly_cached = Some(1);
        r.cache_changed = Some(true);
        let out = show(&r, &cell(1, 0, 0), true);
        assert!(out.contains("ab ab ab ab"), "{out}");
        assert!(out.contains("1 page newly cached"), "{out}");
    }

    #[test]
    fn hidden_state_is_not_guessed() {
        let mut r = report();
        r.cache_state_visible = false;
        r.cached = None;
        r.dirty = None;
        r.bytes = None;
        r.read = ReadOutcome::Hidden;
        r.pages_newly_cached = None;
        r.cache_changed = None;
        let out = show(&r, &cell(1, 0, 0), false);
        assert!(out.contains("hidden by the kernel"), "{out}");
        assert!(
            !out.contains("cached yes") && !out.contains("cached no"),
            "{out}"
        );
        assert!(out.contains("not read: the kernel hides"), "{out}");
    }

    #[test]
    fn coarse_zoom_shows_the_cells_range_and_a_pending_page_waits() {
        let c = CellCounts {
            pages: 31,
            cached: Some(20),
            mapped: Some(10),
            touched: 12,
            ..CellCounts::default()
        };
        let w = Inspector {
            page: 62,
            report: None,
            cell: Some((62, &c)),
            pages_per_cell: 31,
            cache_visible: true,
            first_touch: None,
            worker_pid: Some(4242),
            prompt: None,
            theme: &COLOR,
        };
        let out = text(&render(w, 40, 8));
        assert!(out.contains("pages 62–92 (1 cell = 31 pages)"), "{out}");
        assert!(out.contains("cached 20 · mapped 10 · touched 12"), "{out}");
        assert!(out.contains("zoom in (+)"), "{out}");

        let r = report();
        let pending = Inspector {
            page: 7,
            report: Some(&r),
            cell: None,
            pages_per_cell: 1,
            cache_visible: true,
            first_touch: None,
            worker_pid: Some(4242),
            prompt: None,
            theme: &COLOR,
        };
        let out = text(&render(pending, 40, 6));
        assert!(out.contains("page 7: asking the kernel"), "{out}");
        assert!(
            !out.contains("1,234"),
            "a report of another page is not shown: {out}"
        );
        // Tiny areas do not panic.
        text(&render(pending_clone(&r), 3, 2));
    }

    fn pending_clone(r: &PageReport) -> Inspector<'_> {
        Inspector {
            page: 1234,
            report: Some(r),
            cell: None,
            pages_per_cell: 1,
            cache_visible: true,
            first_touch: None,
            worker_pid: Some(4242),
            prompt: None,
            theme: &COLOR,
        }
    }
}
