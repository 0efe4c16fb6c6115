//! The help overlay (`?`): every key with one line, and what the fault words mean.

use crate::tui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Widget};

pub struct Help<'a> {
    pub theme: &'a Theme,
    /// First line shown; clamped so the last page stays full.
    pub scroll: u16,
}

pub const KEYS: [(&str, &str); 21] = [
    ("1 2 3 4", "pattern: sequential, reverse, stride, random"),
    ("5 6 7", "pattern: hotset, chase (pointer chase), scan"),
    ("space", "pause / resume the workload"),
    (
        "n",
        "one step while paused (one access at <= 10/s; says what it did)",
    ),
    ("[  ]", "slower / faster (accesses per second)"),
    ("e", "evict: drop the file's pages from the page cache"),
    (
        "w",
        "warm, sequential reads (large folios: a fault maps <= 2 MiB)",
    ),
    (
        "W",
        "warm, random 4 KiB reads (small folios: fault maps <= 16 pages)",
    ),
    (
        "a",
        "next madvise advice: normal, random, sequential, willneed",
    ),
    (
        "r",
        "restart the worker, reset counters (paused stays paused)",
    ),
    (
        "c",
        "compare mmap with read() for this pattern (Esc cancels it)",
    ),
    ("C", "comparison cache: cold, warm or as-is (each repeat)"),
    ("m", "message log: every event in full (arrows scroll)"),
    (
        "+ =  -",
        "zoom in / out (each level halves the pages shown)",
    ),
    ("↑ ↓  ← →", "pan one row / one cell"),
    (
        "PgUp PgDn",
        "pan one screen; Home / End: start / end of file",
    ),
    ("mouse", "click a cell to see its pages; the wheel zooms"),
    (
        "i",
        "inspect a page: arrows move, Enter reads it, Esc leaves",
    ),
    ("?", "this help (Esc closes it)"),
    ("q  Esc", "quit"),
    ("Ctrl-C", "quit (exit status 130)"),
];

const FACTS: [&str; 5] = [
    "minor fault: page already in RAM (page cache); the kernel only maps it",
    "major fault: the page was not in RAM: read from disk (a hole: zero-filled)",
    "faults ≠ pages: one fault maps up to 16 cached pages (fault-around)",
    "or a 2 MiB folio; readahead brings many pages per major fault (░)",
    "totals and ratios: since the last reset (named on screen); rates: last second",
];

impl Help<'_> {
    fn lines(&self) -> Vec<Line<'static>> {
        let t = self.theme;
        let mut l: Vec<Line> = KEYS
            .iter()
            .map(|(k, what)| {
                Line::from(vec![
                    Span::styled(format!(" {k:<10}"), t.key),
                    Span::styled(what.to_string(), t.label),
                ])
            })
            .collect();
        l.push(Line::raw(""));
        l.extend(FACTS.iter().map(|f| Line::styled(format!(" {f}"), t.dim)));
        l
    }
}

impl Widget for Help<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        let lines = self.lines();
        let want_w = lines.iter().map(|l| l.width()).max().unwrap_or(0) as u16 + 3;
        let w = want_w.min(area.width);
        let h = (lines.len() as u16 + 2).min(area.height);
        let body = h.saturating_sub(2) as usize;
        let scrolls = lines.len() > body;
        let first = (self.scroll as usize).min(lines.len().saturating_sub(body));
        if w < 3 || h < 3 {
            return;
        }
        let popup = Rect::new(
            area.x + (area.width - w) / 2,
            area.y + (area.height - h) / 2,
            w,
            h,
        );
        Clear.render(popup, buf);
        buf.set_style(popup, self.theme.overlay);
        let title = if scrolls {
            format!(
                "Keys {}-{} of {} (↑↓ scroll, ? or Esc closes)",
                first + 1,
                (first + body).min(lines.len()),
                lines.len()
            )
        } else {
            "Keys (? or Esc closes)".to_string()
        };
        let block = super::panel(&title, self.theme);
        let inner = block.inner(popup);
        block.render(popup, buf);
        for (i, line) in lines
            .into_iter()
            .skip(first)
            .take(inner.height as usize)
            .enumerate()
        {
            line.render(
                Rect {
                    y: inner.y + i as u16,
                    height: 1,
                    ..inner
                },
                buf,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::theme::COLOR;
    use crate::tui::widgets::testing::{render, text};

    #[test]
    fn lists_every_key_centered() {
        let out = text(&render(
            Help {
                theme: &COLOR,
                scroll: 0,
            },
            100,
            30,
        ));
        for (k, what) in KEYS {
            assert!(out.contains(k) && out.contains(what), "{k} missing\n{out}");
        }
        assert!(out.contains("minor fault: page already in RAM"), "{out}");
        // Centered: blank margin on the left of the box.
        let row = out.lines().find(|l| l.contains("Keys")).unwrap();
        assert!(row.starts_with("  "), "{out}");
        for (w, h) in [(0, 0), (1, 1), (20, 6)] {
            render(
                Help {
                    theme: &COLOR,
                    scroll: 0,
                },
                w,
                h,
            );
        }
    }
}
