//! TLB facts: hardware counters where the machine has them, an honest "unsupported" otherwise.

use crate::snapshot::TlbInfo;
use crate::tui::format::{rate, wrap};
use crate::tui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

pub struct Tlb<'a> {
    pub tlb: &'a TlbInfo,
    pub theme: &'a Theme,
    /// One line only (short screens): the headline fact, no notes.
    pub compact: bool,
}

impl Tlb<'_> {
    fn lines(&self, width: u16) -> Vec<Line<'static>> {
        let (tlb, t) = (self.tlb, self.theme);
        let w = width as usize;
        let mut lines = Vec::new();
        if tlb.supported {
            let per_s = tlb.dtlb_misses_per_s.map_or("?".into(), rate);
            let per_acc = tlb
                .dtlb_misses_per_access
                .map_or("?".into(), |v| format!("{v:.3}"));
            lines.push(Line::from(vec![
                Span::styled("dTLB misses ", t.label),
                Span::styled(format!("{per_s}/s"), t.value),
                Span::styled("  per access ", t.label),
                Span::styled(per_acc, t.value),
            ]));
        } else {
            let head = if self.compact {
                "TLB counters: unsupported here"
            } else {
                "hardware TLB counters: unsupported here"
            };
            lines.extend(wrap(head, w).into_iter().map(|l| Line::styled(l, t.warn)));
            if let Some(r) = &tlb.reason {
                lines.extend(
                    wrap(&format!("({r})"), w)
                        .into_iter()
                        .map(|l| Line::styled(l, t.dim)),
                );
            }
        }
        if self.compact {
            lines.truncate(1);
            return lines;
        }
        for n in &tlb.notes {
            lines.extend(wrap(n, w).into_iter().map(|l| Line::styled(l, t.label)));
        }
        lines
    }

    /// Rows this panel needs at `width` (borders included).
    pub fn height(&self, width: u16) -> u16 {
        self.lines(width.saturating_sub(2)).len() as u16 + 2
    }
}

impl Widget for Tlb<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let theme = self.theme;
        super::render_lines_panel("TLB", theme, area, buf, |w| self.lines(w));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::fixture::fixture_snapshot;
    use crate::tui::theme::COLOR;
    use crate::tui::widgets::testing::{render, text};

    #[test]
    fn unsupported_says_so_with_reason_and_notes() {
        let s = fixture_snapshot();
        let w = Tlb {
            tlb: &s.tlb,
            theme: &COLOR,
            compact: false,
        };
        let h = w.height(60);
        let out = text(&render(w, 60, h));
        assert!(
            out.contains("hardware TLB counters: unsupported here"),
            "{out}"
        );
        assert!(out.contains("no hardware PMU in this VM"), "{out}");
        assert!(out.contains("page covers 512× more"), "{out}");
        let compact = Tlb {
            tlb: &s.tlb,
            theme: &COLOR,
            compact: true,
        };
        assert_eq!(compact.height(60), 3);
    }

    #[test]
    fn supported_shows_numbers() {
        let tlb = TlbInfo {
            supported: true,
            dtlb_misses_per_s: Some(12_345.0),
            dtlb_misses_per_access: Some(0.0123),
            ..TlbInfo::default()
        };
        let out = text(&render(
            Tlb {
                tlb: &tlb,
                theme: &COLOR,
                compact: false,
            },
            50,
            3,
        ));
        assert!(out.contains("dTLB misses 12,345/s"), "{out}");
        assert!(out.contains("per access 0.012"), "{out}");
        assert!(!out.contains("unsupported"), "{out}");
        text(&render(
            Tlb {
                tlb: &tlb,
                theme: &COLOR,
                compact: false,
            },
            0,
            0,
        ));
    }
}
