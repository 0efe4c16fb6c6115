//! mmap vs read(): one bar per method (ns per access: shorter is faster), verdict and why.

use crate::session::snapshot::ComparisonState;
use crate::tui::format::{count, nanos, wrap};
use crate::tui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Gauge, Widget};

pub struct Comparison<'a> {
    pub state: &'a ComparisonState,
    pub theme: &'a Theme,
    /// Short screens: drop the explanation lines.
    pub compact: bool,
    /// The cache state the next comparison starts from (`C` changes it).
    pub cache: crate::session::snapshot::CompareCache,
}

/// A bar of `frac` (0..=1) of `width` columns, in eighths for smooth lengths.
fn bar(frac: f64, width: usize) -> String {
    const EIGHTHS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    let frac = if frac.is_finite() {
        frac.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let eighths = (frac * width as f64 * 8.0).round() as usize;
    let mut s = "█".repeat(eighths / 8);
    if eighths % 8 > 0 {
        s.push(EIGHTHS[eighths % 8]);
    }
    s
}

impl Comparison<'_> {
    fn lines(&self, width: u16) -> Vec<Line<'static>> {
        let t = self.theme;
        let w = width as usize;
        let styled = |text: &str, style| -> Vec<Line<'static>> {
            wrap(text, w)
                .into_iter()
                .map(|l| Line::styled(l, style))
                .collect()
        };
        match self.state {
            ComparisonState::Idle => styled(
                &format!(
                    "press c to compare mmap vs read() for this pattern, {} cache (C changes)",
                    self.cache.name()
                ),
                t.label,
            ),
            // The gauge is drawn over the first row in `render`.
            ComparisonState::Running { method, .. } => {
                let mut l = vec![Line::raw("")];
                l.extend(styled(
                    &format!("measuring {method}… (Esc cancels)"),
                    t.label,
                ));
                l
            }
            ComparisonState::Failed { error } => {
                styled(&format!("comparison failed: {error}"), t.error)
            }
            ComparisonState::Done(r) => {
                let mut l = Vec::new();
                if !self.compact {
                    l.extend(styled(
                        &format!(
                            "{} · {} cache · {} × {} B (ns/access, shorter is faster)",
                            r.pattern.name(),
                            r.cache,
                            count(r.accesses),
                            r.access_size
                        ),
                        t.dim,
                    ));
                }
                let name_w = r
                    .results
                    .iter()
                    .map(|m| m.method.chars().count())
                    .max()
                    .unwrap_or(0);
                let vals: Vec<String> = r.results.iter().map(|m| nanos(m.ns_per_access)).collect();
                let val_w = vals.iter().map(|v| v.chars().count()).max().unwrap_or(0);
                let bar_w = w.saturating_sub(name_w + val_w + 2);
                let max = r
                    .results
                    .iter()
                    .map(|m| m.ns_per_access)
                    .filter(|v| v.is_finite())
                    .fold(0.0, f64::max);
                for (m, v) in r.results.iter().zip(vals) {
                    let frac = if max > 0.0 {
                        m.ns_per_access / max
                    } else {
                        0.0
                    };
                    let b = bar(frac, bar_w);
                    let pad = bar_w.saturating_sub(b.chars().count());
                    l.push(Line::from(vec![
                        Span::styled(format!("{:<name_w$} ", m.method), t.label),
                        Span::styled(b, t.bar),
                        Span::raw(" ".repeat(pad + 1)),
                        Span::styled(format!("{v:>val_w$}"), t.value),
                    ]));
                }
                l.extend(styled(&r.verdict, t.good));
                if !self.compact {
                    l.extend(styled(&r.why, t.label));
                }
                // Skipped methods are said even on short screens: a missing bar is a claim.
                for n in &r.notes {
                    l.extend(styled(n, t.warn));
                }
                l
            }
        }
    }

    /// Rows this panel needs at `width` (borders included).
    pub fn height(&self, width: u16) -> u16 {
        self.lines(width.saturating_sub(2)).len() as u16 + 2
    }
}

impl Widget for Comparison<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let theme = self.theme;
        super::render_lines_panel("mmap vs read()", theme, area, buf, |w| self.lines(w));
        // While running, the first body row is a progress gauge.
        let inner = super::panel("", theme).inner(area.intersection(buf.area));
        if let ComparisonState::Running { progress, method } = self.state {
            if inner.height > 0 && inner.width > 0 {
                let p = if progress.is_finite() {
                    progress.clamp(0.0, 1.0)
                } else {
                    0.0
                };
                Gauge::default()
                    .gauge_style(theme.gauge)
                    .ratio(p)
                    .label(format!("{method} {:.0}%", p * 100.0))
                    .render(Rect { height: 1, ..inner }, buf);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::fixture::fixture_snapshot;
    use crate::tui::theme::COLOR;
    use crate::tui::widgets::testing::{render, text};

    fn show(state: &ComparisonState, w: u16) -> String {
        let c = Comparison {
            state,
            theme: &COLOR,
            compact: false,
            cache: crate::session::snapshot::CompareCache::Cold,
        };
        let h = c.height(w);
        text(&render(c, w, h))
    }

    #[test]
    fn idle_running_failed() {
        let out = show(&ComparisonState::Idle, 60);
        assert!(
            out.contains("press c to compare mmap vs read() for this pattern"),
            "{out}"
        );
        let running = ComparisonState::Running {
            progress: 0.42,
            method: "pread".into(),
        };
        let out = show(&running, 40);
        assert!(out.contains("pread 42%"), "{out}");
        let weird = ComparisonState::Running {
            progress: f64::NAN,
            method: "mmap".into(),
        };
        assert!(show(&weird, 40).contains("mmap 0%"));
        let failed = ComparisonState::Failed {
            error: "file shrank".into(),
        };
        assert!(show(&failed, 40).contains("comparison failed: file shrank"));
    }

    #[test]
    fn done_draws_one_bar_per_method_longer_is_slower() {
        let s = fixture_snapshot();
        let out = show(&s.comparison, 50);
        let mmap = out
            .lines()
            .find(|l| l.contains("mmap ") && l.trim_end_matches([' ', '│']).ends_with("ns"))
            .unwrap();
        let pread = out
            .lines()
            .find(|l| l.contains("pread ") && l.trim_end_matches([' ', '│']).ends_with("ns"))
            .unwrap();
        assert!(
            mmap.contains("4.10 ns") && pread.contains("9.80 ns"),
            "{out}"
        );
        assert!(
            mmap.matches('█').count() < pread.matches('█').count(),
            "{out}"
        );
        assert!(out.contains("mmap 2.4× faster than pread"), "{out}");
        assert!(out.contains("65,536 pread syscalls"), "{out}");
        for w in [0, 1, 5, 12] {
            show(&s.comparison, w);
        }
    }

    #[test]
    fn bars_scale_in_eighths() {
        assert_eq!(bar(1.0, 4), "████");
        assert_eq!(bar(0.5, 3), "█▌");
        assert_eq!(bar(0.0, 3), "");
        assert_eq!(bar(f64::NAN, 3), "");
    }
}
