//! The footer: the latest event worth a line, then the most useful keys.

use crate::snapshot::Snapshot;
use crate::tui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

pub struct Footer<'a> {
    pub snapshot: &'a Snapshot,
    pub theme: &'a Theme,
}

/// Most useful first: what is cut at narrow widths is at the end.
const KEYS: [(&str, &str); 11] = [
    ("?", "help"),
    ("q", "quit"),
    ("space", "pause"),
    ("1-7", "pattern"),
    ("e", "evict"),
    ("w", "warm"),
    ("c", "compare"),
    ("a", "advice"),
    ("[ ]", "speed"),
    ("+ -", "zoom"),
    ("r", "reset"),
];

impl Widget for Footer<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = self.theme;
        let mut spans = Vec::new();
        if let Some(m) = &self.snapshot.message {
            spans.push(Span::styled(
                format!(" {} ", crate::output::escape_controls(m)),
                t.message,
            ));
            spans.push(Span::raw(" "));
        }
        for (i, (k, what)) in KEYS.into_iter().enumerate() {
            let gap = if i == 0 { " " } else { "  " };
            spans.push(Span::styled(format!("{gap}{k}"), t.key));
            spans.push(Span::styled(format!(" {what}"), t.label));
        }
        Line::from(spans).render(area, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::fixture::fixture_snapshot;
    use crate::tui::theme::COLOR;
    use crate::tui::widgets::testing::{render, text};

    #[test]
    fn shows_message_then_keys() {
        let mut s = fixture_snapshot();
        s.message = Some("evicted: 33,096 -> 0 pages cached".into());
        let out = text(&render(
            Footer {
                snapshot: &s,
                theme: &COLOR,
            },
            120,
            1,
        ));
        assert!(
            out.starts_with(" evicted: 33,096 -> 0 pages cached"),
            "{out}"
        );
        assert!(out.contains("? help") && out.contains("q quit"), "{out}");
        s.message = None;
        let out = text(&render(
            Footer {
                snapshot: &s,
                theme: &COLOR,
            },
            120,
            1,
        ));
        assert!(
            out.starts_with(" ? help  q quit  space pause  1-7 pattern"),
            "{out}"
        );
        text(&render(
            Footer {
                snapshot: &s,
                theme: &COLOR,
            },
            0,
            0,
        ));
    }
}
