//! Shown instead of everything else when the terminal is too small to be useful.

use crate::tui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget, Wrap};

pub struct TooSmall<'a> {
    pub min_width: u16,
    pub min_height: u16,
    pub theme: &'a Theme,
}

impl Widget for TooSmall<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.is_empty() {
            return;
        }
        let msg = format!(
            "enlarge to at least {}×{} (now {}×{})",
            self.min_width, self.min_height, area.width, area.height
        );
        let y = area.y + area.height.saturating_sub(2) / 2;
        let rect = Rect {
            y,
            height: area.bottom() - y,
            ..area
        };
        Paragraph::new(Line::styled(msg, self.theme.warn).centered())
            .wrap(Wrap { trim: true })
            .render(rect, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::theme::COLOR;
    use crate::tui::widgets::testing::{render, text};

    #[test]
    fn asks_for_a_bigger_terminal_without_panicking() {
        let w = |_| TooSmall {
            min_width: 60,
            min_height: 16,
            theme: &COLOR,
        };
        let out = text(&render(w(()), 50, 6));
        assert!(out.contains("enlarge to at least 60×16"), "{out}");
        for (x, y) in [(0, 0), (1, 1), (20, 6), (3, 40)] {
            render(w(()), x, y);
        }
    }
}
