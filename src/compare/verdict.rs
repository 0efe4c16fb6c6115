//! Summaries of the repeats and the one-line verdict with its "why".

use super::methods::is_streaming;
use crate::patterns::PatternKind;
use crate::snapshot::MethodResult;

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

/// 1234567 -> "1,234,567".
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A variant of mmap is worth naming in the verdict when it beats plain mmap by this factor.
const VARIANT_MATTERS: f64 = 1.3;

/// Ratios within this factor of 1 are called equal (repeats here vary by a few percent).
const EQUAL_WITHIN: f64 = 1.05;

/// "3.1× faster than pread", "2.2× slower than pread" or "as fast as pread (within 5%)".
/// `speedup` > 1 means the mmap method is faster.
fn phrase(speedup: f64, other: &str) -> String {
    if !speedup.is_finite() || speedup <= 0.0 {
        format!("not comparable with {other}")
    } else if speedup >= EQUAL_WITHIN {
        format!("{speedup:.1}× faster than {other}")
    } else if speedup <= 1.0 / EQUAL_WITHIN {
        format!("{:.1}× slower than {other}", 1.0 / speedup)
    } else {
        format!("as fast as {other} (within 5%)")
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
pub fn verdict(pattern: PatternKind, context: &str, results: &[MethodResult]) -> (String, String) {
    let streaming = is_streaming(pattern);
    let Some(mmap) = results.iter().find(|m| m.method == "mmap") else {
        return (format!("no mmap result: {context}"), String::new());
    };
    let syscall_methods = results.iter().filter(|m| !is_mmap(m));
    let other = if streaming {
        results
            .iter()
            .find(|m| m.method == "read-1m")
            .or_else(|| syscall_methods.min_by(|a, b| a.ns_per_access.total_cmp(&b.ns_per_access)))
    } else {
        syscall_methods.min_by(|a, b| a.ns_per_access.total_cmp(&b.ns_per_access))
    };
    let Some(other) = other else {
        return (
            format!("no syscall method to compare with: {context}"),
            String::new(),
        );
    };
    let mut verdict = format!(
        "mmap {}: {context}",
        phrase(speedup(mmap, other, streaming), &other.method)
    );
    let best_variant = results
        .iter()
        .filter(|m| is_mmap(m) && m.method != "mmap")
        .max_by(|a, b| speedup(a, mmap, streaming).total_cmp(&speedup(b, mmap, streaming)));
    if let Some(v) = best_variant {
        if speedup(v, mmap, streaming) > VARIANT_MATTERS {
            verdict.push_str(&format!(
                "; {} {}",
                v.method,
                phrase(speedup(v, other, streaming), &other.method)
            ));
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
                "mmap 2.2× slower than pread: random, cold; mmap-random as fast as pread (within 5%)",
                "99,998 syscalls avoided vs 90,000 minor + 10,000 major faults taken; \
                 pages read into the cache: mmap 262,144, pread 100,000",
            ),
            (
                PatternKind::Sequential,
                "sequential, warm",
                vec![
                    r("mmap", 0.5, 8000.0, 761, 0, 2),
                    r("pread", 0.9, 4000.0, 0, 0, 262_144),
                    r("read-1m", 0.6, 10_000.0, 0, 0, 1024),
                ],
                "mmap 1.2× slower than read-1m: sequential, warm",
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
