//! Access latency: a log2 histogram of the worker's timed accesses in one interval, each
//! bucket labelled by matching the slowest samples to the interval's fault counters.
//!
//! Why the labels are honest: every access that faulted took at least the fault's cost, and
//! faults are far slower than cache or RAM hits. So the `major` slowest samples are the major
//! faults and the next `minor` slowest the minor ones, when every access is timed. When only
//! 1 in N is timed, the faulted samples are expected to be faults / N: the panel says
//! "estimated" then.

use crate::latency::LatencyHist;
use crate::tui::format::{count, nanos};
use crate::tui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

pub struct Latency<'a> {
    /// The interval's samples (`LatencyHist::since`).
    pub hist: &'a LatencyHist,
    /// Fault deltas of the worker over the same interval (/proc/<pid>/stat).
    pub minor: u64,
    pub major: u64,
    /// The interval's length (about a second): in the title, so its fault counts are not
    /// read as the faults panel's totals.
    pub interval_ms: u64,
    pub theme: &'a Theme,
    /// Short of room: drop the closing note (how the labels were matched).
    pub compact: bool,
}

/// What the slowest samples of a bucket were matched to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    Hit,
    Minor,
    Major,
}

/// Per non-empty bucket (lowest first): (lo_ns, hi_ns, count, cause of most of its samples).
pub fn labelled(hist: &LatencyHist, minor: u64, major: u64) -> Vec<(u64, u64, u64, Cause)> {
    let every = hist.sampled_every().max(1);
    // Faulted samples expected among the timed ones.
    let (mut maj, mut min) = (major.div_ceil(every), minor / every);
    let buckets = hist.buckets();
    let mut out: Vec<(u64, u64, u64, Cause)> = Vec::new();
    for b in buckets.iter().rev() {
        let mut left = b.count;
        let take_maj = left.min(maj);
        maj -= take_maj;
        left -= take_maj;
        let take_min = left.min(min);
        min -= take_min;
        left -= take_min;
        let cause = if take_maj >= take_min.max(left) && take_maj > 0 {
            Cause::Major
        } else if take_min >= left && take_min > 0 {
            Cause::Minor
        } else {
            Cause::Hit
        };
        out.push((b.lo_ns, b.hi_ns, b.count, cause));
    }
    out.reverse();
    out
}

impl Latency<'_> {
    fn lines(&self, width: u16) -> Vec<Line<'static>> {
        let t = self.theme;
        let h = self.hist;
        let mut lines = Vec::new();
        if h.count() == 0 {
            lines.push(Line::styled("no access timed in this interval", t.dim));
            return lines;
        }
        let every = h.sampled_every();
        let timed = format!("{} timed", count(h.count()));
        let how = if every == 1 {
            " (every access)".to_string()
        } else {
            format!(" (1 in {})", count(every))
        };
        let faults = format!(
            "faults {} minor, {} major",
            count(self.minor),
            count(self.major)
        );
        let head = vec![
            Span::styled(timed.clone(), t.value),
            Span::styled(how.clone(), t.label),
        ];
        // One line when it fits, else the fault counts on their own line (never cut off).
        if timed.chars().count() + how.chars().count() + 2 + faults.chars().count()
            <= width as usize
        {
            let mut head = head;
            head.push(Span::styled(format!("  {faults}"), t.label));
            lines.push(Line::from(head));
        } else {
            lines.push(Line::from(head));
            lines.push(Line::styled(faults, t.label));
        }
        let rows = labelled(h, self.minor, self.major);
        let maxc = rows.iter().map(|r| r.2).max().unwrap_or(1).max(1);
        // "  512 ns–1.0 µs " + bar + " 12,345 minor"
        let label_w = 18usize;
        let tail_w = 15usize;
        let bar_w = (width as usize).saturating_sub(label_w + tail_w).max(1);
        for (lo, hi, c, cause) in rows {
            let n = ((c as f64 / maxc as f64) * bar_w as f64).ceil() as usize;
            let (tag, style) = match cause {
                Cause::Hit => ("", t.label),
                Cause::Minor => (" minor", t.spark_minor),
                Cause::Major => (" major", t.spark_major),
            };
            lines.push(Line::from(vec![
                Span::styled(
                    format!("{:>8}–{:<8} ", nanos(lo as f64), nanos(hi as f64)),
                    t.label,
                ),
                Span::styled("█".repeat(n.min(bar_w)), style),
                Span::styled(format!(" {}{tag}", count(c)), t.value),
            ]));
        }
        if self.compact {
            return lines;
        }
        let note = if every == 1 {
            "minor/major: the slowest samples matched to the interval's fault counts"
        } else {
            "minor/major estimated: faults / N matched to the slowest samples"
        };
        lines.extend(
            crate::tui::format::wrap(note, width as usize)
                .into_iter()
                .map(|l| Line::styled(l, t.dim)),
        );
        lines
    }

    pub fn height(&self, width: u16) -> u16 {
        self.lines(width.saturating_sub(2)).len() as u16 + 2
    }
}

impl Widget for Latency<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let theme = self.theme;
        let title = format!(
            "Access latency, last {:.1} s",
            self.interval_ms as f64 / 1000.0
        );
        super::render_lines_panel(&title, theme, area, buf, |w| self.lines(w));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::theme::COLOR;
    use crate::tui::widgets::testing::{render, text};

    fn hist(samples: &[(u64, u64)]) -> LatencyHist {
        let mut h = LatencyHist::default();
        h.set_timer_overhead_ns(0);
        for &(ns, n) in samples {
            for _ in 0..n {
                h.record(ns);
            }
        }
        h
    }

    #[test]
    fn humps_are_labelled_from_the_fault_counts() {
        // 1,000 RAM hits at ~10 ns, 40 minor faults at ~1.5 µs, 2 major at ~80 µs.
        let h = hist(&[(10, 1000), (1_500, 40), (80_000, 2)]);
        let rows = labelled(&h, 40, 2);
        assert_eq!(
            rows,
            vec![
                (8, 16, 1000, Cause::Hit),
                (1024, 2048, 40, Cause::Minor),
                (65536, 131072, 2, Cause::Major),
            ]
        );
        let w = Latency {
            hist: &h,
            minor: 40,
            major: 2,
            interval_ms: 1000,
            theme: &COLOR,
            compact: false,
        };
        let height = w.height(64);
        assert_eq!(height, 2 + 1 + 3 + 2);
        let out = text(&render(w, 64, height));
        assert!(
            out.contains("1,042 timed (every access)  faults 40 minor, 2 major"),
            "{out}"
        );
        assert!(out.contains("Access latency, last 1.0 s"), "{out}");
        assert!(out.contains(" 40 minor"), "{out}");
        assert!(out.contains(" 2 major"), "{out}");
        assert!(out.contains(" 1,000"), "{out}");
        assert!(out.contains("1.0 µs"), "{out}");
        assert!(
            out.contains("slowest samples matched to the interval's"),
            "{out}"
        );
        insta::assert_snapshot!("latency_panel_64x8", out);
        let c = Latency {
            hist: &h,
            minor: 40,
            major: 2,
            interval_ms: 1000,
            theme: &COLOR,
            compact: true,
        };
        assert_eq!(c.height(64), 2 + 1 + 3, "compact drops only the note");
        // Narrow: the fault counts move to their own line instead of being cut off.
        let narrow = Latency { compact: true, ..c };
        assert_eq!(narrow.height(40), 2 + 2 + 3);
        let out = text(&render(narrow, 40, 7));
        assert!(out.contains("faults 40 minor, 2 major"), "{out}");
    }

    #[test]
    fn sampled_and_empty_cases() {
        let mut h = hist(&[(20, 500), (3_000, 3)]);
        h.take_samples(1024, 1024); // 1 in 1,024 timed
        let rows = labelled(&h, 3072, 0); // 3,072 faults / 1,024 = 3 faulted samples
        assert_eq!(rows[1], (2048, 4096, 3, Cause::Minor));
        let out = text(&render(
            Latency {
                hist: &h,
                minor: 3072,
                major: 0,
                interval_ms: 1000,
                theme: &COLOR,
                compact: false,
            },
            64,
            6,
        ));
        assert!(out.contains("(1 in 1,024)"), "{out}");
        assert!(out.contains("estimated"), "{out}");
        let empty = LatencyHist::default();
        let w = Latency {
            hist: &empty,
            minor: 0,
            major: 0,
            interval_ms: 1000,
            theme: &COLOR,
            compact: false,
        };
        assert_eq!(w.height(40), 3);
        let out = text(&render(w, 40, 3));
        assert!(out.contains("no access timed"), "{out}");
        text(&render(
            Latency {
                hist: &h,
                minor: 0,
                major: 0,
                interval_ms: 1000,
                theme: &COLOR,
                compact: false,
            },
            0,
            0,
        ));
    }
}
