//! Access-latency histogram: the worker times a sample of its own accesses.
//!
//! Buckets are log2 (`[2^i, 2^(i+1))` ns) for display, each split into 8 linear sub-buckets
//! so percentiles are within 12.5% (an HDR-histogram in miniature). A timed access costs two
//! clock reads (`CLOCK_MONOTONIC` through the vDSO); the smallest back-to-back pair measured
//! at start is subtracted, so a RAM hit reads as a few ns rather than the clock's own cost.

use serde::{Deserialize, Serialize};

/// Powers of two covered: 1 ns .. 2^36 ns (~69 s); anything longer lands in the last one.
const POWERS: usize = 36;
const SUB: usize = 8;

/// At or below this rate (accesses/s) every access is timed: the worker sleeps between
/// accesses, so two clock reads per access cost nothing the workload would notice.
pub const TIME_ALL_UP_TO_RATE: u64 = 10_000;
/// Above it (and at unlimited rate) 1 access in this many is timed: ~50 ns of clock reads
/// per 1,024 accesses of >= 1 ns each stays under 5% of the loop (see docs/PERFORMANCE.md).
pub const SAMPLE_EVERY: u64 = 1024;

/// One log2 bucket: `count` timed accesses took `lo_ns <= t < hi_ns`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    pub lo_ns: u64,
    pub hi_ns: u64,
    pub count: u64,
}

/// The histogram, cumulative since the worker's last `Configure`. Boxed: it travels inside
/// every progress report and should not bloat the report enum.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Wire", into = "Wire")]
pub struct LatencyHist(Box<Inner>);

#[derive(Clone, Debug, PartialEq, Eq)]
struct Inner {
    /// Counts per (power, sub-bucket); index 0 also holds 0 ns.
    fine: Vec<u64>,
    count: u64,
    max_ns: u64,
    /// 1 in N accesses is timed (the latest N used).
    sampled_every: u64,
    /// The clock-pair cost subtracted from every sample, ns.
    timer_overhead_ns: u64,
    /// Accesses since the last timed one (not sent: the worker's own state).
    pending: u64,
    /// True once `timer_overhead_ns` was measured (not sent).
    calibrated: bool,
}

impl Default for Inner {
    fn default() -> Self {
        Inner {
            fine: vec![0; POWERS * SUB],
            count: 0,
            max_ns: 0,
            sampled_every: 1,
            timer_overhead_ns: 0,
            pending: 0,
            calibrated: false,
        }
    }
}

fn index(ns: u64) -> usize {
    if ns < 2 {
        return 0;
    }
    let p = (63 - ns.leading_zeros()) as usize; // 2^p <= ns < 2^(p+1)
    if p >= POWERS {
        return POWERS * SUB - 1;
    }
    let lo = 1u64 << p;
    let sub = ((ns - lo) * SUB as u64 / lo) as usize;
    p * SUB + sub.min(SUB - 1)
}

/// Upper edge (exclusive) of fine bucket `i`, ns.
fn fine_hi(i: usize) -> u64 {
    let (p, s) = (i / SUB, i % SUB);
    let lo = 1u64 << p;
    lo + lo * (s as u64 + 1) / SUB as u64
}

impl LatencyHist {
    /// How many of the next `n` accesses to time, 1 in `every` (carrying the remainder over
    /// batches so the ratio holds exactly in the long run).
    pub fn take_samples(&mut self, n: u64, every: u64) -> u64 {
        let every = every.max(1);
        self.0.sampled_every = every;
        let total = self.0.pending + n;
        self.0.pending = total % every;
        (total / every).min(n)
    }

    /// Records one timed access of `raw_ns` (overhead not yet subtracted).
    pub fn record(&mut self, raw_ns: u64) {
        let ns = raw_ns.saturating_sub(self.0.timer_overhead_ns);
        self.0.fine[index(ns)] += 1;
        self.0.count += 1;
        self.0.max_ns = self.0.max_ns.max(ns);
    }

    /// Non-empty log2 buckets, lowest first.
    pub fn buckets(&self) -> Vec<Bucket> {
        let mut out = Vec::new();
        for p in 0..POWERS {
            let c: u64 = self.0.fine[p * SUB..(p + 1) * SUB].iter().sum();
            if c > 0 {
                out.push(Bucket {
                    lo_ns: if p == 0 { 0 } else { 1 << p },
                    hi_ns: 1 << (p + 1),
                    count: c,
                });
            }
        }
        out
    }

    /// The `q` quantile (0..=1) as the upper edge of its fine bucket (at most 12.5% high),
    /// capped by the exact maximum; `None` with no samples.
    pub fn quantile_ns(&self, q: f64) -> Option<u64> {
        if self.0.count == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.0.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in self.0.fine.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(fine_hi(i).min(self.0.max_ns.max(1)));
            }
        }
        Some(self.0.max_ns)
    }

    /// The samples recorded after `prev` (an earlier copy of the same cumulative histogram):
    /// what one interval timed. `max_ns` is that of the later histogram (not per interval).
    pub fn since(&self, prev: &LatencyHist) -> LatencyHist {
        let mut d = (*self.0).clone();
        for (a, b) in d.fine.iter_mut().zip(prev.0.fine.iter()) {
            *a = a.saturating_sub(*b);
        }
        d.count = d.fine.iter().sum();
        LatencyHist(Box::new(d))
    }

    /// Measures the clock-pair cost once: the minimum of many back-to-back reads.
    pub fn calibrate(&mut self) {
        let mut best = u64::MAX;
        for _ in 0..1000 {
            let t = std::time::Instant::now();
            let d = t.elapsed().as_nanos() as u64;
            best = best.min(d);
        }
        self.0.timer_overhead_ns = best;
        self.0.calibrated = true;
    }

    pub fn calibrated(&self) -> bool {
        self.0.calibrated
    }

    /// Timed accesses so far.
    pub fn count(&self) -> u64 {
        self.0.count
    }

    /// The slowest timed access, ns (0 with none).
    pub fn max_ns(&self) -> u64 {
        self.0.max_ns
    }

    pub fn sampled_every(&self) -> u64 {
        self.0.sampled_every
    }

    pub fn timer_overhead_ns(&self) -> u64 {
        self.0.timer_overhead_ns
    }

    /// Sets the clock cost to subtract (tests; the worker calls `calibrate`).
    pub fn set_timer_overhead_ns(&mut self, ns: u64) {
        self.0.timer_overhead_ns = ns;
        self.0.calibrated = true;
    }
}

/// The JSON form: sparse fine buckets, so a report stays small.
#[derive(Serialize, Deserialize)]
struct Wire {
    count: u64,
    max_ns: u64,
    sampled_every: u64,
    timer_overhead_ns: u64,
    /// (fine bucket index, count) for the non-empty ones.
    fine: Vec<(u16, u64)>,
}

impl From<LatencyHist> for Wire {
    fn from(h: LatencyHist) -> Wire {
        let h = *h.0;
        Wire {
            count: h.count,
            max_ns: h.max_ns,
            sampled_every: h.sampled_every,
            timer_overhead_ns: h.timer_overhead_ns,
            fine: h
                .fine
                .iter()
                .enumerate()
                .filter(|(_, c)| **c > 0)
                .map(|(i, c)| (i as u16, *c))
                .collect(),
        }
    }
}

impl From<Wire> for LatencyHist {
    fn from(w: Wire) -> LatencyHist {
        let mut h = Inner {
            count: w.count,
            max_ns: w.max_ns,
            sampled_every: w.sampled_every,
            timer_overhead_ns: w.timer_overhead_ns,
            ..Inner::default()
        };
        for (i, c) in w.fine {
            if let Some(slot) = h.fine.get_mut(i as usize) {
                *slot = c;
            }
        }
        LatencyHist(Box::new(h))
    }
}

/// 1 in N for a rate (`None` = unlimited).
pub fn sample_every_for(rate: Option<u64>) -> u64 {
    match rate {
        Some(r) if r <= TIME_ALL_UP_TO_RATE => 1,
        _ => SAMPLE_EVERY,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_log2_and_count_everything() {
        let mut h = LatencyHist::default();
        for ns in [0, 1, 3, 5, 7, 100, 1_500, 40_000, 40_001] {
            h.record(ns);
        }
        let b = h.buckets();
        let want = [
            (0, 2, 2),
            (2, 4, 1),
            (4, 8, 2),
            (64, 128, 1),
            (1024, 2048, 1),
            (32768, 65536, 2),
        ];
        assert_eq!(
            b.iter()
                .map(|b| (b.lo_ns, b.hi_ns, b.count))
                .collect::<Vec<_>>(),
            want
        );
        assert_eq!(h.count(), 9);
        assert_eq!(h.max_ns(), 40_001);
        assert_eq!(b.iter().map(|b| b.count).sum::<u64>(), h.count());
    }

    #[test]
    fn quantiles_within_an_eighth() {
        let mut h = LatencyHist::default();
        for i in 1..=1000u64 {
            h.record(i * 10); // 10 ns .. 10 µs, uniform
        }
        let p50 = h.quantile_ns(0.5).unwrap() as f64;
        let p99 = h.quantile_ns(0.99).unwrap() as f64;
        assert!((5_000.0..=5_000.0 * 1.125).contains(&p50), "{p50}");
        assert!((9_900.0..=9_900.0 * 1.125).contains(&p99), "{p99}");
        assert_eq!(h.quantile_ns(1.0), Some(10_000));
        assert_eq!(LatencyHist::default().quantile_ns(0.5), None);
    }

    #[test]
    fn overhead_is_subtracted_and_sampling_carries_over() {
        let mut h = LatencyHist::default();
        h.set_timer_overhead_ns(20);
        h.record(25);
        h.record(10);
        assert_eq!(h.max_ns(), 5);
        let taken: u64 = (0..10).map(|_| h.take_samples(300, 1024)).sum();
        assert_eq!(taken, 3000 / 1024);
        assert_eq!(h.take_samples(5, 1), 5);
        assert_eq!(sample_every_for(Some(2000)), 1);
        assert_eq!(sample_every_for(None), SAMPLE_EVERY);
    }

    #[test]
    fn since_gives_the_interval() {
        let mut a = LatencyHist::default();
        a.record(5);
        let prev = a.clone();
        a.record(5_000);
        a.record(6_000);
        let d = a.since(&prev);
        assert_eq!(d.count(), 2);
        assert_eq!(d.buckets()[0].lo_ns, 4096);
    }

    #[test]
    fn json_round_trip_is_sparse() {
        let mut h = LatencyHist::default();
        h.record(3);
        h.record(3_000_000);
        let s = serde_json::to_string(&h).unwrap();
        assert!(s.len() < 200, "{s}");
        let back: LatencyHist = serde_json::from_str(&s).unwrap();
        assert_eq!(back.buckets(), h.buckets());
        assert_eq!(back.max_ns(), h.max_ns());
    }
}
