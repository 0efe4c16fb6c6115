//! Every derived figure over one explicit interval: totals and ratios since the last reset
//! (all reset together), rates over the last second.

use crate::kernel::counters::Faults;
use crate::session::snapshot::{FaultStats, Interval};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Samples of fault history kept for sparklines.
const HISTORY: usize = 120;
/// Window of the rates.
const RATE_WINDOW: Duration = Duration::from_secs(1);

/// What the interval began with, and the samples since.
pub struct IntervalStats {
    reason: String,
    started: Instant,
    faults_at_start: Faults,
    pub accesses_at_start: u64,
    read_bytes_at_start: Option<u64>,
    cached_at_start: Option<u64>,
    /// (when, absolute faults) of recent samples, for the rates over the last second.
    window: VecDeque<(Instant, Faults)>,
    last: Faults,
    minor_hist: Vec<u64>,
    major_hist: Vec<u64>,
}

impl IntervalStats {
    pub fn new() -> IntervalStats {
        IntervalStats {
            reason: "start".into(),
            started: Instant::now(),
            faults_at_start: Faults::default(),
            accesses_at_start: 0,
            read_bytes_at_start: None,
            cached_at_start: None,
            window: VecDeque::new(),
            last: Faults::default(),
            minor_hist: Vec::new(),
            major_hist: Vec::new(),
        }
    }

    /// Begins a new interval: every total, ratio, rate and history restarts here.
    pub fn reset(
        &mut self,
        reason: &str,
        faults: Faults,
        accesses: u64,
        read_bytes: Option<u64>,
        cached: Option<u64>,
    ) {
        *self = IntervalStats {
            reason: reason.to_string(),
            faults_at_start: faults,
            accesses_at_start: accesses,
            read_bytes_at_start: read_bytes,
            cached_at_start: cached,
            last: faults,
            ..IntervalStats::new()
        };
        self.window.push_back((self.started, faults));
    }

    /// Adds a sample of the worker's absolute counters and derives every figure from it.
    pub fn sample(
        &mut self,
        faults: Faults,
        read_bytes: Option<u64>,
        cached: Option<u64>,
        mapped: Option<u64>,
        sparse: bool,
    ) -> FaultStats {
        let now = Instant::now();
        let d = faults.since(self.last);
        self.last = faults;
        push_hist(&mut self.minor_hist, d.minor);
        push_hist(&mut self.major_hist, d.major);
        self.window.push_back((now, faults));
        while self.window.len() > 2 && now.duration_since(self.window[1].0) >= RATE_WINDOW {
            self.window.pop_front();
        }
        let (t0, f0) = self.window[0];
        let secs = now.duration_since(t0).as_secs_f64();
        let w = faults.since(f0);
        let (minor_rate, major_rate) = if secs > 0.05 {
            (w.minor as f64 / secs, w.major as f64 / secs)
        } else {
            (0.0, 0.0)
        };
        let total = faults.since(self.faults_at_start);
        let newly_cached = match (cached, self.cached_at_start) {
            (Some(c), Some(c0)) => Some(c.saturating_sub(c0)),
            _ => None,
        };
        let read = match (read_bytes, self.read_bytes_at_start) {
            (Some(r), Some(r0)) => Some(r.saturating_sub(r0)),
            (Some(r), None) => Some(r),
            _ => None,
        };
        let major_note = (total.major > 0 && read == Some(0)).then(|| {
            let faults = match total.major {
                1 => "1 major fault".to_string(),
                n => format!("{} major faults", crate::text::thousands(n)),
            };
            if sparse {
                format!(
                    "{faults} read 0 B from disk: they hit holes of this sparse file, \
                     which the kernel fills with zeros without any I/O"
                )
            } else {
                format!(
                    "{faults} read 0 B from disk: the pages were already on their way \
                     (another reader's I/O), or the filesystem had no data to read"
                )
            }
        });
        FaultStats {
            interval: Interval {
                reason: self.reason.clone(),
                since_ms: self.started.elapsed().as_millis() as u64,
                minor_at_start: self.faults_at_start.minor,
                major_at_start: self.faults_at_start.major,
                cached_at_start: self.cached_at_start,
            },
            minor_total: total.minor,
            major_total: total.major,
            minor_rate,
            major_rate,
            minor_history: self.minor_hist.clone(),
            major_history: self.major_hist.clone(),
            newly_cached,
            pages_cached_per_major: newly_cached
                .filter(|_| total.major > 0)
                .map(|n| n as f64 / total.major as f64),
            // The interval starts with nothing mapped (the mapping is dropped or new), so every
            // mapped page was mapped by one of the interval's faults.
            pages_mapped_per_fault: mapped
                .filter(|&m| m > 0 && total.total() > 0)
                .map(|m| m as f64 / total.total() as f64),
            read_bytes: read,
            major_note,
        }
    }
}

fn push_hist(h: &mut Vec<u64>, v: u64) {
    if h.len() == HISTORY {
        h.remove(0);
    }
    h.push(v);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(minor: u64, major: u64) -> Faults {
        Faults { minor, major }
    }

    #[test]
    fn totals_and_ratios_are_since_the_reset_together() {
        let mut s = IntervalStats::new();
        s.reset("evict", f(100, 5), 0, Some(4096), Some(0));
        let st = s.sample(f(110, 7), Some(4096 + 8192), Some(4096), Some(20), false);
        assert_eq!((st.minor_total, st.major_total), (10, 2));
        assert_eq!(st.newly_cached, Some(4096));
        assert_eq!(st.pages_cached_per_major, Some(2048.0));
        assert_eq!(st.pages_mapped_per_fault, Some(20.0 / 12.0));
        assert_eq!(st.read_bytes, Some(8192));
        assert_eq!(st.interval.reason, "evict");
        assert_eq!(st.interval.minor_at_start, 100);
        // A reset zeroes every derived figure at once.
        s.reset("pattern", f(110, 7), 50, Some(12288), Some(4096));
        let st = s.sample(f(110, 7), Some(12288), Some(4096), Some(0), false);
        assert_eq!((st.minor_total, st.major_total), (0, 0));
        assert_eq!(st.newly_cached, Some(0));
        assert_eq!(st.pages_cached_per_major, None);
        assert_eq!(st.pages_mapped_per_fault, None, "0 mapped: no ratio");
        assert_eq!(st.minor_history, vec![0]);
    }

    #[test]
    fn major_faults_without_io_on_a_sparse_file_say_so() {
        let mut s = IntervalStats::new();
        s.reset("start", f(0, 0), 0, Some(0), Some(0));
        let st = s.sample(f(3, 1227), Some(0), Some(5000), Some(5000), true);
        assert!(st.major_note.unwrap().contains("holes of this sparse file"));
        let st = s.sample(f(3, 1227), Some(4096), Some(5000), Some(5000), true);
        assert!(st.major_note.is_none(), "I/O happened: no note");
    }
}
