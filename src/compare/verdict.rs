//! Summaries of the repeats and the one-line verdict with its "why".

use super::methods::is_streaming;
use crate::session::snapshot::MethodResult;
use crate::workload::patterns::PatternKind;

/// Median, min and max. The median of an even count is the mean of the two middle values.
/// None for an empty slice; NaNs sort last (they never come from a finished run).
pub fn median_min_max(xs: &[f64]) -> Option<(f64, f64, f64)> {
    if xs.is_empty() {
        return None;
    }
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    let med = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some((med, v[0], v[n - 1]))
}

/// Index of the repeat whose value is the (lower) median: its counters represent the method.
pub fn median_index(xs: &[f64]) -> Option<usize> {
    let mut idx: Vec<usize> = (0..xs.len()).collect();
    idx.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
    idx.get(xs.len().saturating_sub(1) / 2).copied()
}

pub use crate::text::thousands;

/// A variant of mmap is worth naming in the verdict when it beats plain mmap by this factor.
const VARIANT_MATTERS: f64 = 1.3;

/// Ratios within this factor of 1 are called equal (repeats here vary by a few percent).
const EQUAL_WITHIN: f64 = 1.05;

/// The measured answer between an mmap method and another one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    MmapFaster,
    AboutEqual,
    ReadFaster,
}

impl Outcome {
    /// The name lessons and JSON use: "mmap_faster", "about_equal", "read_faster".
    pub fn name(self) -> &'static str {
        match self {
            Outcome::MmapFaster => "mmap_faster",
            Outcome::AboutEqual => "about_equal",
            Outcome::ReadFaster => "read_faster",
        }
    }
}

/// Decides from the repeats, not from one ratio: "about equal" when the two methods' min-max
/// ranges overlap, or when the ratio of medians is within the noise the repeats showed (the
/// larger max/min spread of the two) or within 5%. `speedup` > 1 means `a` is faster.
pub fn outcome(a: &MethodResult, b: &MethodResult, streaming: bool) -> Outcome {
    let sp = speedup(a, b, streaming);
    if !sp.is_finite() || sp <= 0.0 {
        return Outcome::AboutEqual;
    }
    // ns per access orders both kinds (MB/s is bytes / ns for the same bytes per access).
    let overlap =
        a.ns_per_access_min <= b.ns_per_access_max && b.ns_per_access_min <= a.ns_per_access_max;
    let spread = |m: &MethodResult| {
        if m.ns_per_access_min > 0.0 {
            m.ns_per_access_max / m.ns_per_access_min
        } else {
            1.0
        }
    };
    let noise = spread(a).max(spread(b)).max(EQUAL_WITHIN);
    if overlap || (sp < noise && sp > 1.0 / noise) {
        Outcome::AboutEqual
    } else if sp > 1.0 {
        Outcome::MmapFaster
    } else {
        Outcome::ReadFaster
    }
}

/// "3.1× faster than pread", "2.2× slower than pread" or "about equal to pread (1.1×, within
/// the repeats' spread)".
fn phrase(a: &MethodResult, b: &MethodResult, streaming: bool) -> String {
    let other = &b.method;
    let sp = speedup(a, b, streaming);
    if !sp.is_finite() || sp <= 0.0 {
        return format!("not comparable with {other}");
    }
    match outcome(a, b, streaming) {
        Outcome::MmapFaster => format!("{sp:.1}× faster than {other}"),
        Outcome::ReadFaster => format!("{:.1}× slower than {other}", 1.0 / sp),
        Outcome::AboutEqual => {
            let (r, dir) = if sp >= 1.0 {
                (sp, "faster")
            } else {
                (1.0 / sp, "slower")
            };
            if r < EQUAL_WITHIN {
                format!("about equal to {other} (within 5%)")
            } else {
                format!("about equal to {other} ({r:.1}× {dir} by the medians, within the repeats' spread)")
            }
        }
    }
}

fn is_mmap(m: &MethodResult) -> bool {
    m.method.starts_with("mmap")
}

/// How much faster `a` is than `b` (> 1: faster): on MB/s for streaming, on ns otherwise.
fn speedup(a: &MethodResult, b: &MethodResult, streaming: bool) -> f64 {
    if streaming {
        a.mb_per_s / b.mb_per_s
    } else {
        b.ns_per_access / a.ns_per_access
    }
}

/// The verdict ("mmap 3.1× faster than pread: random, warm") and why ("100,000 syscalls
/// avoided vs 512 minor faults taken").
///
/// Plain `mmap` (what a program writes) is compared with the best syscall method; for the
/// streaming patterns with `read-1m` on MB/s, the classic "read() with readahead" claim. When
/// an mmap variant (populate, advice) beats plain mmap by more than 30% (beyond the run-to-run
/// noise of a shared machine), it is named too.
/// `context` is the situation, e.g. "random, warm".
/// The syscall method plain mmap is compared with: `read-1m` for the streaming patterns,
/// else the fastest syscall method by median.
fn counterpart(pattern: PatternKind, results: &[MethodResult]) -> Option<&MethodResult> {
    let syscall_methods = results.iter().filter(|m| !is_mmap(m));
    if is_streaming(pattern) {
        results
            .iter()
            .find(|m| m.method == "read-1m")
            .or_else(|| syscall_methods.min_by(|a, b| a.ns_per_access.total_cmp(&b.ns_per_access)))
    } else {
        syscall_methods.min_by(|a, b| a.ns_per_access.total_cmp(&b.ns_per_access))
    }
}

/// The verdict as a word for lesson checks and JSON (`mmap_faster`, `about_equal`,
/// `read_faster`): plain mmap against the same counterpart as [`verdict`], decided by
/// [`outcome`] from the medians and the repeats' spread. None without both results.
pub fn outcome_of(pattern: PatternKind, results: &[MethodResult]) -> Option<&'static str> {
    let mmap = results.iter().find(|m| m.method == "mmap")?;
    let other = counterpart(pattern, results)?;
    Some(outcome(mmap, other, is_streaming(pattern)).name())
}

pub fn verdict(pattern: PatternKind, context: &str, results: &[MethodResult]) -> (String, String) {
    let streaming = is_streaming(pattern);
    let Some(mmap) = results.iter().find(|m| m.method == "mmap") else {
        return (format!("no mmap result: {context}"), String::new());
    };
    let other = counterpart(pattern, results);
    let Some(other) = other else {
        return (
            format!("no syscall method to compare with: {context}"),
            String::new(),
        );
    };
    let mut verdict = format!("mmap {}: {context}", phrase(mmap, other, streaming));
    let best_variant = results
        .iter()
        .filter(|m| is_mmap(m) && m.method != "mmap")
        .max_by(|a, b| speedup(a, mmap, streaming).total_cmp(&speedup(b, mmap, streaming)));
    if let Some(v) = best_variant {
        if speedup(v, mmap, streaming) > VARIANT_MATTERS {
            verdict.push_str(&format!("; {} {}", v.method, phrase(v, other, streaming)));
        }
    }

    let avoided = other.syscalls.saturating_sub(mmap.syscalls);
    let faults = if mmap.major_faults > 0 {
        format!(
            "{} minor + {} major faults",
            thousands(mmap.minor_faults),
            thousands(mmap.major_faults)
        )
    } else {
        format!("{} minor faults", thousands(mmap.minor_faults))
    };
    let mut why = if avoided > 0 {
        format!("{} syscalls avoided vs {faults} taken", thousands(avoided))
    } else {
        // Tiny files: mmap + munmap are themselves more syscalls than one read.
        format!(
            "no syscalls avoided ({} for mmap/munmap vs {} for {}); {faults} taken",
            thousands(mmap.syscalls),
            thousands(other.syscalls),
            other.method
        )
    };
    // Cold, what each side pulled into the cache explains most of the gap (readahead).
    if let (Some(a), Some(b), Some(ab), Some(bb)) = (
        mmap.cached_after,
        other.cached_after,
        mmap.cached_before,
        other.cached_before,
    ) {
        let (da, db) = (a.saturating_sub(ab), b.saturating_sub(bb));
        if da.max(db) > 2 * da.min(db).max(1) {
            why.push_str(&format!(
                "; pages read into the cache: mmap {}, {} {}",
                thousands(da),
                other.method,
                thousands(db)
            ));
        }
    }
    (verdict, why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_min_max_table() {
        type Mmm = Option<(f64, f64, f64)>;
        let table: [(&[f64], Mmm); 5] = [
            (&[], None),
            (&[3.0], Some((3.0, 3.0, 3.0))),
            (&[5.0, 1.0, 3.0], Some((3.0, 1.0, 5.0))),
            (&[4.0, 1.0, 3.0, 2.0], Some((2.5, 1.0, 4.0))),
            (&[2.0, 2.0, 9.0, 1.0, 2.0], Some((2.0, 1.0, 9.0))),
        ];
        for (xs, want) in table {
            assert_eq!(median_min_max(xs), want, "{xs:?}");
        }
        assert_eq!(median_index(&[5.0, 1.0, 3.0]), Some(2));
        assert_eq!(median_index(&[4.0, 1.0, 3.0, 2.0]), Some(3));
        assert_eq!(median_index(&[]), None);
    }

    #[test]
    fn thousands_table() {
        for (n, s) in [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (100_000, "100,000"),
            (1_234_567, "1,234,567"),
        ] {
            assert_eq!(thousands(n), s);
        }
    }

    fn r(method: &str, ns: f64, mbps: f64, minor: u64, major: u64, sys: u64) -> MethodResult {
        MethodResult {
            method: method.into(),
            ns_per_access: ns,
            ns_per_access_min: ns,
            ns_per_access_max: ns,
            mb_per_s: mbps,
            minor_faults: minor,
            major_faults: major,
            syscalls: sys,
            cached_before: Some(262_144),
            cached_after: Some(262_144),
        }
    }

    fn spread(mut m: MethodResult, lo: f64, hi: f64) -> MethodResult {
        m.ns_per_access_min = lo;
        m.ns_per_access_max = hi;
        m
    }

    #[test]
    fn outcome_uses_the_repeats_spread() {
        // (mmap median, min, max, other median, min, max) -> outcome, for ns per access.
        let table = [
            (
                (100.0, 95.0, 105.0),
                (310.0, 300.0, 320.0),
                Outcome::MmapFaster,
            ),
            (
                (310.0, 300.0, 320.0),
                (100.0, 95.0, 105.0),
                Outcome::ReadFaster,
            ),
            // Ranges overlap: about equal even at 1.3x by the medians.
            (
                (100.0, 80.0, 140.0),
                (130.0, 120.0, 150.0),
                Outcome::AboutEqual,
            ),
            // No overlap, but the ratio (1.15) is under the noise one method showed (1.3).
            (
                (100.0, 100.0, 101.0),
                (115.0, 102.0, 133.0),
                Outcome::AboutEqual,
            ),
            // No overlap, tight repeats, 1.1x apart: a real difference.
            (
                (100.0, 99.0, 101.0),
                (110.0, 109.0, 111.0),
                Outcome::MmapFaster,
            ),
        ];
        for ((am, alo, ahi), (bm, blo, bhi), want) in table {
            let a = spread(r("mmap", am, 0.0, 0, 0, 0), alo, ahi);
            let b = spread(r("pread", bm, 0.0, 0, 0, 0), blo, bhi);
            assert_eq!(outcome(&a, &b, false), want, "{am} vs {bm}");
        }
    }

    #[test]
    fn verdict_table() {
        let cold = |mut m: MethodResult, after: u64| {
            m.cached_before = Some(0);
            m.cached_after = Some(after);
            m
        };
        let cases: Vec<(PatternKind, &str, Vec<MethodResult>, &str, &str)> = vec![
            (
                PatternKind::Random,
                "random, warm",
                vec![
                    r("mmap", 100.0, 0.0, 512, 0, 2),
                    r("pread", 310.0, 0.0, 0, 0, 100_002),
                    r("buffered", 900.0, 0.0, 0, 0, 200_000),
                ],
                "mmap 3.1× faster than pread: random, warm",
                "100,000 syscalls avoided vs 512 minor faults taken",
            ),
            (
                PatternKind::Random,
                "random, cold",
                vec![
                    cold(r("mmap", 22_000.0, 0.0, 90_000, 10_000, 2), 262_144),
                    cold(r("mmap-random", 10_100.0, 0.0, 0, 100_000, 3), 100_000),
                    cold(r("pread", 10_000.0, 0.0, 0, 0, 100_000), 100_000),
                ],
                "mmap 2.2× slower than pread: random, cold; mmap-random about equal to pread (within 5%)",
                "99,998 syscalls avoided vs 90,000 minor + 10,000 major faults taken; \
                 pages read into the cache: mmap 262,144, pread 100,000",
            ),
            (
                PatternKind::Sequential,
                "sequential, warm",
                vec![
                    spread(r("mmap", 0.5, 8000.0, 761, 0, 2), 0.45, 0.7),
                    r("pread", 0.9, 4000.0, 0, 0, 262_144),
                    spread(r("read-1m", 0.4, 10_000.0, 0, 0, 1024), 0.38, 0.55),
                ],
                "mmap about equal to read-1m (1.2× slower by the medians, within the repeats' spread): sequential, warm",
                "1,022 syscalls avoided vs 761 minor faults taken",
            ),
            (
                PatternKind::Scan,
                "scan, warm",
                vec![
                    r("mmap", 9100.0, 450.0, 2, 0, 2),
                    r("read-1m", 3700.0, 1110.0, 0, 0, 1),
                ],
                "mmap 2.5× slower than read-1m: scan, warm",
                "no syscalls avoided (2 for mmap/munmap vs 1 for read-1m); 2 minor faults taken",
            ),
            (
                PatternKind::Chase,
                "chase, as-is",
                vec![r("pread", 300.0, 0.0, 0, 0, 10)],
                "no mmap result: chase, as-is",
                "",
            ),
        ];
        for (kind, ctx, results, v, w) in cases {
            let (gv, gw) = verdict(kind, ctx, &results);
            assert_eq!(gv, v);
            assert_eq!(gw, w);
        }
    }
}
