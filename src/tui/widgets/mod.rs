//! One widget per file. Each is a pure function of borrowed snapshot data and the theme:
//! no clock, no /proc, no I/O, so each renders the same into a test buffer.

pub mod comparison;
pub mod faults;
pub mod footer;
pub mod grid;
pub mod header;
pub mod help;
pub mod inspector;
pub mod latency;
pub mod lesson;
pub mod log;
pub mod search;
pub mod tlb;
pub mod too_small;
pub mod workers;

use super::theme::Theme;
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType};

/// A side panel's frame: rounded border, title in the title style.
pub fn panel<'a>(title: &'a str, theme: &Theme) -> Block<'a> {
    Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(theme.border)
        .title(Line::styled(format!(" {title} "), theme.title))
}

/// Draws a titled panel whose body is one `Line` per row, built for the inner width; rows
/// that do not fit are dropped (the caller orders lines by importance).
pub fn render_lines_panel<'a>(
    title: &str,
    theme: &Theme,
    area: ratatui::layout::Rect,
    buf: &mut ratatui::buffer::Buffer,
    lines: impl FnOnce(u16) -> Vec<Line<'a>>,
) {
    use ratatui::widgets::Widget;
    let area = area.intersection(buf.area);
    if area.is_empty() {
        return;
    }
    let block = panel(title, theme);
    let inner = block.inner(area);
    block.render(area, buf);
    for (i, line) in lines(inner.width)
        .into_iter()
        .take(inner.height as usize)
        .enumerate()
    {
        line.render(
            ratatui::layout::Rect {
                y: inner.y + i as u16,
                height: 1,
                ..inner
            },
            buf,
        );
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use ratatui::buffer::Buffer;
    use ratatui::layout::Rect;
    use ratatui::widgets::Widget;

    /// Renders a widget into a fresh buffer.
    pub fn render(w: impl Widget, width: u16, height: u16) -> Buffer {
        let mut buf = Buffer::empty(Rect::new(0, 0, width, height));
        w.render(buf.area, &mut buf);
        buf
    }

    /// The buffer's text, one line per row, trailing spaces kept (exact layout).
    pub fn text(buf: &Buffer) -> String {
        let mut out = String::new();
        for y in buf.area.top()..buf.area.bottom() {
            for x in buf.area.left()..buf.area.right() {
                out.push_str(buf[(x, y)].symbol());
            }
            out.push('\n');
        }
        out
    }
}
