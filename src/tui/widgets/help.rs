//! The help overlay (`?`): every key with one line, and what the fault words mean.

use crate::tui::keymap;
use crate::tui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Widget};

pub struct Help<'a> {
    pub theme: &'a Theme,
    /// First line shown; clamped so the last page stays full.
    pub scroll: u16,
    /// Observing another program: the workload keys are marked unavailable.
    pub observing: bool,
}

/// Marks a workload key while observing (the first line of the overlay explains it).
const UNAVAILABLE: &str = "✗ ";

fn facts(t: &Theme) -> [String; 5] {
    [
        "minor fault: page already in RAM (page cache); the kernel only maps it".into(),
        "major fault: the page was not in RAM: read from disk (a hole: zero-filled)".into(),
        "faults ≠ pages: one fault maps up to 16 cached pages (fault-around)".into(),
        format!(
            "or a 2 MiB folio; readahead brings many pages per major fault ({})",
            t.glyph(crate::tui::theme::CellState::Ghost)
        ),
        "totals and ratios: since the last reset (named on screen); rates: last second".into(),
    ]
}

impl Help<'_> {
    fn lines(&self) -> Vec<Line<'static>> {
        let t = self.theme;
        let mut l: Vec<Line> = keymap::overlay()
            .map(|r| {
                if self.observing && r.workload {
                    Line::from(vec![
                        Span::styled(format!(" {:<10}", r.keys), t.dim),
                        Span::styled(UNAVAILABLE, t.warn),
                        Span::styled(r.help.to_string(), t.dim),
                    ])
                } else {
                    Line::from(vec![
                        Span::styled(format!(" {:<10}", r.keys), t.key),
                        Span::styled(r.help.to_string(), t.label),
                    ])
                }
            })
            .collect();
        if self.observing {
            l.insert(
                0,
                Line::styled(
                    " observing a program (reads /proc only): ✗ keys are unavailable, no worker",
                    t.warn,
                ),
            );
        }
        l.push(Line::raw(""));
        l.extend(
            facts(t)
                .iter()
                .map(|f| Line::styled(format!(" {f}"), t.dim)),
        );
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
                observing: false,
                theme: &COLOR,
                scroll: 0,
            },
            100,
            50,
        ));
        for (k, what) in keymap::overlay().map(|r| (r.keys, r.help)) {
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
                    observing: true,
                },
                w,
                h,
            );
        }
    }

    #[test]
    fn observing_marks_every_workload_key_unavailable() {
        let out = text(&render(
            Help {
                observing: true,
                theme: &COLOR,
                scroll: 0,
            },
            100,
            60,
        ));
        assert!(out.contains("✗ keys are unavailable"), "{out}");
        for r in keymap::overlay() {
            let row = out
                .lines()
                .find(|l| l.contains(r.help))
                .unwrap_or_else(|| panic!("{} missing\n{out}", r.help));
            assert_eq!(row.contains(&format!("✗ {}", r.help)), r.workload, "{row}");
        }
        // e and w (they act on the file) stay available; the pattern keys do not.
        let workload: Vec<&str> = keymap::overlay()
            .filter(|r| r.workload)
            .map(|r| r.keys)
            .collect();
        for k in ["1 2 3 4", "space", "[  ]", "a", "c", "s  S"] {
            assert!(workload.contains(&k), "{k}");
        }
        for k in ["e", "w", "W", "f", "i", "q  Esc"] {
            assert!(!workload.contains(&k), "{k}");
        }
    }
}
