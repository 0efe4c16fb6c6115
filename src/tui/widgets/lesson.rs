//! The lesson's narrative panel (beside the grid, in place of the side column) and the `L`
//! picker overlay. Pure functions of a [`LessonView`] the controller built and the session's
//! events: each check shows green with its measured value, or what was seen instead and why.

use crate::lesson::controller::{CheckState, LessonView};
use crate::session::snapshot::LogEntry;
use crate::tui::format::wrap;
use crate::tui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Widget};

pub struct LessonPanel<'a> {
    pub view: &'a LessonView,
    pub events: &'a [LogEntry],
    pub theme: &'a Theme,
}

fn mark(st: &CheckState) -> &'static str {
    match st {
        CheckState::Pending => "…",
        CheckState::Pass { .. } => "✓",
        CheckState::Fail { .. } => "✗",
        CheckState::NotMeasured { .. } | CheckState::NotApplicable { .. } => "–",
        CheckState::Skipped { .. } => "»",
    }
}

fn stamp(t_ms: u64) -> String {
    let s = t_ms / 1000;
    format!("{}:{:02}", s / 60, s % 60)
}

impl LessonPanel<'_> {
    /// The rows, by importance: step title, checks (each with its detail), status, the
    /// narrative, what to watch, the newest events, the keys. Rows that do not fit are cut
    /// from the narrative and the log first, never from the checks.
    fn rows(&self, w: usize, h: usize) -> Vec<Line<'static>> {
        let t = self.theme;
        let v = self.view;
        // The step's title wraps (it names what the step shows): never cut mid-word.
        let mut head: Vec<Line> = wrap(&format!("{}/{} {}", v.step + 1, v.steps, v.step_title), w)
            .into_iter()
            .map(|l| Line::styled(l, t.title))
            .collect();
        let mut narrative: Vec<Line> = wrap(&v.narrative.replace('\n', " "), w)
            .into_iter()
            .map(|l| Line::styled(l, t.label))
            .collect();
        if let Some(watch) = &v.watch {
            for (i, l) in wrap(&format!("watch: {watch}"), w).into_iter().enumerate() {
                narrative.push(Line::styled(l, if i == 0 { t.key } else { t.dim }));
            }
        }
        let mut checks: Vec<Line> = Vec::new();
        for c in &v.checks {
            let style = match c.state {
                CheckState::Pass { .. } => t.good,
                CheckState::Fail { .. } => t.error,
                CheckState::Pending => t.dim,
                _ => t.warn,
            };
            for (i, l) in wrap(&c.expect, w.saturating_sub(2)).into_iter().enumerate() {
                let m = if i == 0 { mark(&c.state) } else { " " };
                checks.push(Line::from(vec![
                    Span::styled(format!("{m} "), style),
                    Span::styled(l, style),
                ]));
            }
            if c.state != CheckState::Pending {
                for l in wrap(&c.detail, w.saturating_sub(2)).into_iter().take(3) {
                    checks.push(Line::styled(format!("  {l}"), t.dim));
                }
            }
        }
        if v.checks.is_empty() {
            checks.push(Line::styled("(no checks: watch and explain)", t.dim));
        }
        let status = Line::styled(
            wrap(&v.status, w).into_iter().next().unwrap_or_default(),
            t.message,
        );
        let keys = Line::from(vec![
            Span::styled("n", t.key),
            Span::styled(" next ", t.dim),
            Span::styled("p", t.key),
            Span::styled(" prev ", t.dim),
            Span::styled(".", t.key),
            Span::styled(" access ", t.dim),
            Span::styled("L", t.key),
            Span::styled(" list", t.dim),
        ]);
        // Fixed rows: head, status, keys; checks get what they need, up to all but those.
        let fixed = head.len() + 2;
        let checks_room = h.saturating_sub(fixed);
        checks.truncate(checks_room);
        let mut left = h.saturating_sub(fixed + checks.len());
        // Events: the newest few (at least 2 when there is room after 2 narrative lines).
        let want_log = if left >= 6 { (left / 3).clamp(2, 4) } else { 0 };
        let narr_room = left.saturating_sub(want_log);
        if narrative.len() > narr_room {
            narrative.truncate(narr_room);
            if let Some(last) = narrative.last_mut() {
                let mut s: String = last.spans.iter().map(|s| s.content.as_ref()).collect();
                while s.chars().count() + 1 > w && !s.is_empty() {
                    s.pop();
                }
                s.push('…');
                *last = Line::styled(s, t.label);
            }
        }
        left = left.saturating_sub(narrative.len());
        let mut log: Vec<Line> = Vec::new();
        if left >= 2 {
            log.push(Line::styled("─ events ─", t.dim));
            let n = left - 1;
            let evs = &self.events[self.events.len().saturating_sub(n)..];
            for e in evs {
                let text = format!(
                    "{} {}",
                    stamp(e.t_ms),
                    crate::text::escape_controls(&e.text)
                );
                let l: String = text.chars().take(w).collect();
                log.push(Line::styled(l, t.dim));
            }
        }
        head.extend(narrative);
        head.extend(checks);
        head.push(status);
        head.extend(log);
        head.push(keys);
        head
    }
}

impl Widget for LessonPanel<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let title = crate::tui::format::truncate_right(
            &format!("Lesson: {}", self.view.lesson_title),
            area.width.saturating_sub(4) as usize,
        );
        let inner_h = area.height.saturating_sub(2) as usize;
        super::render_lines_panel(&title, self.theme, area, buf, |w| {
            self.rows(w as usize, inner_h)
        });
    }
}

/// One lesson in the picker.
#[derive(Clone, Debug, PartialEq)]
pub struct PickerEntry {
    pub name: String,
    pub title: String,
    pub duration_min: u32,
    pub steps: usize,
}

/// The `L` overlay: every lesson, the selected one highlighted.
pub struct Picker<'a> {
    pub entries: &'a [PickerEntry],
    pub selected: usize,
    /// Why the last choice could not start here (e.g. it needs write mode).
    pub note: Option<&'a str>,
    pub theme: &'a Theme,
}

impl Widget for Picker<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.width < 30 || area.height < 6 {
            return;
        }
        let t = self.theme;
        let h = (self.entries.len() as u16 + 4 + u16::from(self.note.is_some()) * 2)
            .min(area.height - 2);
        let popup = Rect {
            x: area.x + 2,
            y: area.y + 1,
            width: area.width - 4,
            height: h,
        };
        Clear.render(popup, buf);
        buf.set_style(popup, t.overlay);
        let block = super::panel("Lessons (↑↓, Enter starts, Esc closes)", t);
        let inner = block.inner(popup);
        block.render(popup, buf);
        let w = inner.width as usize;
        let mut rows: Vec<Line> = Vec::new();
        let body = (inner.height as usize).saturating_sub(if self.note.is_some() { 2 } else { 0 });
        // Keep the selection visible on a short screen.
        let first = self.selected.saturating_sub(body.saturating_sub(1));
        for (i, e) in self.entries.iter().enumerate().skip(first).take(body) {
            let text = format!(
                "{} {:<16} {:>2} min {:>2} steps  {}",
                if i == self.selected { "▶" } else { " " },
                e.name,
                e.duration_min,
                e.steps,
                e.title
            );
            let text = crate::tui::format::truncate_right(&text, w);
            rows.push(Line::styled(
                text,
                if i == self.selected {
                    t.selected
                } else {
                    t.label
                },
            ));
        }
        if let Some(n) = self.note {
            for l in wrap(n, w).into_iter().take(2) {
                rows.push(Line::styled(l, t.warn));
            }
        }
        for (i, line) in rows.into_iter().take(inner.height as usize).enumerate() {
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
pub(crate) mod tests {
    use super::*;
    use crate::lesson::controller::CheckView;
    use crate::tui::widgets::testing::{render, text};
    use serde_json::json;

    /// A lesson step as the controller builds it: one check passed, one failed.
    pub(crate) fn view() -> LessonView {
        LessonView {
            lesson_title: "Demand paging".into(),
            step: 1,
            steps: 3,
            step_title: "First touch: a major fault".into(),
            narrative: "Touching the first page makes the worker wait for the disk: a major fault.\nThe kernel reads ahead around it, so one fault caches many pages.".into(),
            watch: Some("faults panel: major 1".into()),
            status: "checks judged live".into(),
            checks: vec![
                CheckView {
                    expect: "faults.major_total >= 1".into(),
                    state: CheckState::Pass {
                        measured: json!(1),
                    },
                    detail: "measured 1".into(),
                },
                CheckView {
                    expect: "faults.pages_cached_per_major >= 100".into(),
                    state: CheckState::Fail {
                        measured: json!(4.0),
                    },
                    detail: "measured 4.00; readahead is small or off here".into(),
                },
            ],
        }
    }

    #[test]
    fn panel_at_80x24_keeps_title_checks_and_keys() {
        let events = vec![LogEntry {
            t_ms: 61_000,
            text: "lesson check 2: faults.major_total >= 1 -> measured 1".into(),
        }];
        let v = view();
        // The side column at 80x24 is 34 wide and about 18 high.
        for h in [12u16, 18, 30] {
            let buf = render(
                LessonPanel {
                    view: &v,
                    events: &events,
                    theme: &crate::tui::theme::MONO,
                },
                34,
                h,
            );
            let s = text(&buf);
            assert!(s.contains("2/3 First touch"), "{s}");
            assert!(s.contains("✓ faults.major_total >= 1"), "{s}");
            assert!(s.contains("measured 1"), "{s}");
            assert!(s.contains("✗ faults.pages_cached_per_major"), "{s}");
            assert!(s.contains("measured 4.00"), "{s}");
            assert!(s.contains("n next"), "{s}");
            if h >= 18 {
                assert!(s.contains("Touching the first"), "{s}");
                assert!(s.contains("1:01 lesson check"), "{s}");
            }
        }
    }

    #[test]
    fn picker_marks_the_selection_and_says_why_not() {
        let e = vec![
            PickerEntry {
                name: "demand-paging".into(),
                title: "Demand paging".into(),
                duration_min: 8,
                steps: 3,
            },
            PickerEntry {
                name: "durability".into(),
                title: "Durability".into(),
                duration_min: 8,
                steps: 4,
            },
        ];
        let buf = render(
            Picker {
                entries: &e,
                selected: 1,
                note: Some("durability needs write mode: mmviz lesson durability FILE"),
                theme: &crate::tui::theme::MONO,
            },
            80,
            24,
        );
        let s = text(&buf);
        assert!(s.contains("▶ durability"), "{s}");
        assert!(s.contains("  demand-paging"), "{s}");
        assert!(s.contains("needs write mode"), "{s}");
    }
}
