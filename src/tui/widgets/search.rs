//! The search strip under the grid while a search pattern runs: grep's regex (saying when it
//! is the default), the match count and the first matches (offset, line number, line); or
//! bsearch's record count and probes per lookup. Rows that do not fit are left out, the
//! summary row first to stay.

use crate::session::snapshot::SearchView;
use crate::text::escape_controls;
use crate::tui::format::count;
use crate::tui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

pub struct Search<'a> {
    pub view: &'a SearchView,
    /// The worker finished its pass: the count is final.
    pub finished: bool,
    pub theme: &'a Theme,
}

/// First matches shown on tall screens (short ones show one).
const MATCH_ROWS_TALL: usize = 3;

impl Search<'_> {
    /// Rows it takes on a screen `screen_height` rows tall.
    pub fn height(view: &SearchView, screen_height: u16) -> u16 {
        match view {
            SearchView::Grep { first_matches, .. } => {
                let rows = if screen_height >= 36 {
                    MATCH_ROWS_TALL
                } else {
                    1
                };
                1 + first_matches.len().min(rows) as u16
            }
            SearchView::Bsearch { .. } => 1,
        }
    }

    fn lines(&self, rows: usize) -> Vec<Line<'static>> {
        let t = self.theme;
        match self.view {
            SearchView::Grep {
                regex,
                default_regex,
                max_matches,
                matches,
                first_matches,
            } => {
                let mut head = vec![
                    Span::styled(" grep ", t.title),
                    Span::styled(format!("/{}/", escape_controls(regex)), t.key),
                ];
                let so_far = if self.finished { "" } else { " so far" };
                let n = *matches;
                head.push(Span::raw(format!(
                    "  {} match{}{so_far}",
                    count(n),
                    if n == 1 { "" } else { "es" }
                )));
                if let Some(m) = max_matches {
                    head.push(Span::styled(format!(" (stops after {})", count(*m)), t.dim));
                }
                if *default_regex {
                    head.push(Span::styled(
                        "  the default regex (--regex RE searches for another)",
                        t.dim,
                    ));
                }
                if !first_matches.is_empty() && rows > 1 {
                    head.push(Span::styled("; first at offset, line:", t.dim));
                }
                let mut out = vec![Line::from(head)];
                for m in first_matches.iter().take(rows.saturating_sub(1)) {
                    out.push(Line::from(vec![
                        Span::styled(
                            format!(
                                "   offset {:>13}  line {:>9}  ",
                                count(m.offset),
                                count(m.line_number)
                            ),
                            t.dim,
                        ),
                        Span::raw(escape_controls(&m.line).into_owned()),
                    ]));
                }
                out
            }
            SearchView::Bsearch {
                records,
                record_size,
                max_probes,
            } => vec![Line::from(vec![
                Span::styled(" bsearch ", t.title),
                Span::raw(format!(
                    "{} sorted records of {record_size} B: a lookup probes at most {max_probes} \
                     (log2); every lookup starts at the same middle records, the hot pages",
                    count(*records)
                )),
            ])],
        }
    }
}

impl Widget for Search<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        for (i, l) in self.lines(area.height as usize).into_iter().enumerate() {
            let y = area.y + i as u16;
            if y >= area.bottom() {
                break;
            }
            l.render(Rect::new(area.x, y, area.width, 1), buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::theme::MONO;
    use crate::workload::patterns::grep::GrepMatch;

    fn rows(v: &SearchView, finished: bool, w: u16, h: u16) -> Vec<String> {
        let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
        Search {
            view: v,
            finished,
            theme: &MONO,
        }
        .render(buf.area, &mut buf);
        (0..h)
            .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>())
            .collect()
    }

    #[test]
    fn grep_shows_the_regex_the_count_and_the_first_matches() {
        let m = |offset, line_number, line: &str| GrepMatch {
            offset,
            line_number,
            line: line.into(),
        };
        let v = SearchView::Grep {
            regex: "[[:alpha:]]{6,}".into(),
            default_regex: true,
            max_matches: Some(10),
            matches: 1234,
            first_matches: vec![
                m(7, 1, "a first\tline"),
                m(70_000, 812, "another one"),
                m(90_000, 900, "x"),
                m(99_000, 901, "y"),
            ],
        };
        assert_eq!(Search::height(&v, 40), 4);
        assert_eq!(Search::height(&v, 24), 2);
        let r = rows(&v, false, 200, 4);
        assert!(r[0].starts_with(" grep /[[:alpha:]]{6,}/  1,234 matches so far (stops after 10)  the default regex (--regex RE searches for another); first at offset, line:"), "{}", r[0]);
        assert!(
            r[1].contains("offset             7  line         1  a first\\x09line"),
            "{}",
            r[1]
        );
        assert!(
            r[2].contains("offset        70,000  line       812  another one"),
            "{}",
            r[2]
        );
        let done = SearchView::Grep {
            regex: "mmap".into(),
            default_regex: false,
            max_matches: None,
            matches: 1,
            first_matches: vec![],
        };
        assert_eq!(Search::height(&done, 40), 1);
        assert_eq!(
            rows(&done, true, 80, 1)[0].trim_end(),
            " grep /mmap/  1 match"
        );
    }

    #[test]
    fn bsearch_says_how_many_records_and_probes() {
        let v = SearchView::Bsearch {
            records: 4_194_304,
            record_size: 64,
            max_probes: 23,
        };
        assert_eq!(Search::height(&v, 24), 1);
        let r = rows(&v, false, 200, 1);
        assert!(
            r[0].starts_with(
                " bsearch 4,194,304 sorted records of 64 B: a lookup probes at most 23 (log2)"
            ),
            "{}",
            r[0]
        );
    }
}
