//! The message log overlay (`m`): every event the session said, in full and wrapped, with
//! the time since the start; the newest at the bottom.

use crate::session::snapshot::LogEntry;
use crate::tui::format::wrap;
use crate::tui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Widget};

pub struct Log<'a> {
    pub events: &'a [LogEntry],
    pub theme: &'a Theme,
    /// Rows scrolled up from the newest.
    pub scroll: u16,
}

fn stamp(t_ms: u64) -> String {
    let s = t_ms / 1000;
    format!("{:>2}:{:02}.{}", s / 60, s % 60, (t_ms % 1000) / 100)
}

impl Widget for Log<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.width < 20 || area.height < 4 {
            return;
        }
        let t = self.theme;
        let popup = Rect {
            x: area.x + 1,
            y: area.y + 1,
            width: area.width - 2,
            height: area.height - 2,
        };
        Clear.render(popup, buf);
        buf.set_style(popup, t.overlay);
        let inner_w = popup.width.saturating_sub(2) as usize;
        let text_w = inner_w.saturating_sub(9);
        let mut rows: Vec<Line> = Vec::new();
        for e in self.events {
            for (i, l) in wrap(&crate::text::escape_controls(&e.text), text_w)
                .into_iter()
                .enumerate()
            {
                let head = if i == 0 { stamp(e.t_ms) } else { String::new() };
                rows.push(Line::from(vec![
                    Span::styled(format!("{head:>8} "), t.dim),
                    Span::styled(l, t.label),
                ]));
            }
        }
        let body = popup.height.saturating_sub(2) as usize;
        let max_scroll = rows.len().saturating_sub(body);
        let scroll = (self.scroll as usize).min(max_scroll);
        let first = rows.len().saturating_sub(body + scroll);
        let title = if rows.is_empty() {
            "Message log (m or Esc closes)".to_string()
        } else {
            format!(
                "Message log: {} events (↑↓ scroll, m or Esc closes)",
                self.events.len()
            )
        };
        let block = super::panel(&title, t);
        let inner = block.inner(popup);
        block.render(popup, buf);
        if rows.is_empty() {
            Line::styled("nothing has happened yet", t.dim).render(inner, buf);
            return;
        }
        for (i, line) in rows.into_iter().skip(first).take(body).enumerate() {
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

    fn ev(t_ms: u64, text: &str) -> LogEntry {
        LogEntry {
            t_ms,
            text: text.into(),
        }
    }

    #[test]
    fn shows_every_event_in_full_newest_last_and_scrolls() {
        let long = "killed by SIGBUS: the file shrank from 256 MiB to 1 MiB while mapped; the \
                    worker touched offset 16777216, beyond the new end; press r to restart";
        let events: Vec<LogEntry> = (0..30)
            .map(|i| ev(i * 1500, &format!("event {i}")))
            .chain([ev(61_234, long)])
            .collect();
        let show = |scroll| {
            text(&render(
                Log {
                    events: &events,
                    theme: &COLOR,
                    scroll,
                },
                60,
                14,
            ))
        };
        let out = show(0);
        // The long message is wrapped, not cut: its last words are on screen.
        assert!(
            out.contains("killed by SIGBUS")
                && out.contains("offset 16777216")
                && out.contains("restart"),
            "{out}"
        );
        assert!(out.contains(" 1:01.2"), "{out}");
        assert!(!out.contains("event 0 "), "{out}");
        let out = show(100);
        assert!(out.contains("event 0"), "scrolled to the oldest:\n{out}");
        for (w, h) in [(0, 0), (10, 3), (30, 5)] {
            render(
                Log {
                    events: &events,
                    theme: &COLOR,
                    scroll: 0,
                },
                w,
                h,
            );
        }
    }
}
