//! The footer: the latest event worth a line (wrapped, never cut: a longer one ends with a
//! pointer to the message log), then the most useful keys that fit whole.

use crate::session::snapshot::Snapshot;
use crate::tui::format::wrap;
use crate::tui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

pub struct Footer<'a> {
    pub snapshot: &'a Snapshot,
    pub theme: &'a Theme,
    /// Shown instead of the snapshot's message: a question waiting for y/n, or the answer
    /// to a declined one.
    pub line: Option<&'a str>,
}

/// Observing another program: the keys that work, then the note that the workload keys
/// do not (the help overlay marks each of them).
const OBSERVED_KEYS: [(&str, &str); 8] = [
    ("?", "help"),
    ("q", "quit"),
    ("f", "next file"),
    ("e", "evict (asks)"),
    ("w", "warm (asks)"),
    ("m", "log"),
    ("i", "inspect"),
    ("+ -", "zoom"),
];
const WORKLOAD_OFF: &str = "workload keys off: no worker";

/// Most useful first: what does not fit at narrow widths is left out whole, from the end.
const KEYS: [(&str, &str); 12] = [
    ("?", "help"),
    ("q", "quit"),
    ("space", "pause"),
    ("1-9", "pattern"),
    ("e", "evict"),
    ("w", "warm"),
    ("c", "compare"),
    ("m", "log"),
    ("a", "advice"),
    ("[ ]", "speed"),
    ("+ -", "zoom"),
    ("r", "reset"),
];

/// Rows of the message at most; the rest is in the message log (`m`).
const MESSAGE_ROWS: usize = 2;
const MORE: &str = " … (m: full log)";

impl Footer<'_> {
    /// The message rows at `width`: wrapped, at most MESSAGE_ROWS, the last marked when cut.
    fn message_lines(&self, width: u16) -> Vec<String> {
        let Some(m) = self.line.or(self.snapshot.message.as_deref()) else {
            return Vec::new();
        };
        let w = (width as usize).saturating_sub(2);
        let mut lines = wrap(&crate::text::escape_controls(m), w);
        if lines.len() > MESSAGE_ROWS {
            lines.truncate(MESSAGE_ROWS);
            let last = lines.last_mut().expect("non-empty");
            let keep = w.saturating_sub(MORE.chars().count());
            *last = last.chars().take(keep).collect::<String>() + MORE;
        }
        lines
    }

    /// Rows it needs at `width`: the message rows and the key row.
    pub fn height(snapshot: &Snapshot, width: u16) -> u16 {
        Self::height_with(snapshot, None, width)
    }

    /// [`Self::height`] with a line shown instead of the message.
    pub fn height_with(snapshot: &Snapshot, line: Option<&str>, width: u16) -> u16 {
        let f = Footer {
            snapshot,
            theme: &crate::tui::theme::MONO,
            line,
        };
        f.message_lines(width).len() as u16 + 1
    }
}

impl Widget for Footer<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.is_empty() {
            return;
        }
        let t = self.theme;
        let msg = self.message_lines(area.width);
        let key_row = area.bottom() - 1;
        for (i, l) in msg.iter().enumerate() {
            let y = area.y + i as u16;
            if y >= key_row {
                break;
            }
            let style = if self.line.is_some() {
                t.warn
            } else {
                t.message
            };
            Line::from(Span::styled(format!(" {l} "), style))
                .render(Rect::new(area.x, y, area.width, 1), buf);
        }
        let mut spans = Vec::new();
        let mut used = 0usize;
        let observing = self.snapshot.observed.is_some();
        let keys: &[(&str, &str)] = if observing { &OBSERVED_KEYS } else { &KEYS };
        for (i, &(k, what)) in keys.iter().enumerate() {
            let gap = if i == 0 { " " } else { "  " };
            let w = gap.len() + k.chars().count() + 1 + what.len();
            if used + w > area.width as usize {
                break;
            }
            used += w;
            spans.push(Span::styled(format!("{gap}{k}"), t.key));
            spans.push(Span::styled(format!(" {what}"), t.label));
        }
        if observing && used + 2 + WORKLOAD_OFF.len() <= area.width as usize {
            spans.push(Span::styled(format!("  {WORKLOAD_OFF}"), t.dim));
        }
        Line::from(spans).render(Rect::new(area.x, key_row, area.width, 1), buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::fixture::fixture_snapshot;
    use crate::tui::theme::COLOR;
    use crate::tui::widgets::testing::{render, text};

    fn show(s: &Snapshot, w: u16) -> String {
        let h = Footer::height(s, w);
        text(&render(
            Footer {
                snapshot: s,
                theme: &COLOR,
                line: None,
            },
            w,
            h,
        ))
    }

    #[test]
    fn shows_message_then_keys() {
        let mut s = fixture_snapshot();
        s.message = Some("evicted: 33,096 -> 0 pages cached".into());
        let out = show(&s, 120);
        assert!(
            out.starts_with(" evicted: 33,096 -> 0 pages cached"),
            "{out}"
        );
        assert!(out.contains("? help") && out.contains("q quit"), "{out}");
        s.message = None;
        let out = show(&s, 120);
        assert!(
            out.starts_with(" ? help  q quit  space pause  1-9 pattern"),
            "{out}"
        );
        show(&s, 0);
    }

    #[test]
    fn long_messages_wrap_and_point_to_the_log_never_cut_silently() {
        let mut s = fixture_snapshot();
        let long = "killed by SIGBUS: the file shrank from 256 MiB to 1 MiB while mapped; \
                    the worker touched offset 0x1000000, which is beyond the new end; \
                    press r to restart on the file's current size";
        s.message = Some(long.into());
        let out = show(&s, 80);
        let rows: Vec<&str> = out.lines().collect();
        assert_eq!(rows.len(), 3, "{out}");
        assert!(rows[0].contains("killed by SIGBUS"), "{out}");
        assert!(rows[1].contains("(m: full log)"), "{out}");
        // Every key shown is whole: no "pat" of "pattern".
        let keys = rows[2];
        for (k, what) in KEYS {
            if keys.contains(&format!(" {what}")) {
                assert!(keys.contains(k), "{out}");
            }
        }
        assert!(keys.trim_end().len() <= 80);
        // A short message fits one row.
        s.message = Some("rate: 10 accesses/s".into());
        assert_eq!(show(&s, 80).lines().count(), 2);
    }
}
