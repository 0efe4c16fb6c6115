//! Kernel features turned off on purpose, to show that the fallbacks tell the same story.
//!
//! `MMVIZ_DISABLE=cachestat,pagemap_scan,perf` (any subset, comma-separated) makes the
//! residency probe use mincore, the page-table reader use pread of /proc/<pid>/pagemap, and
//! the TLB panel skip perf_event_open, as on a kernel without them (cachestat before 6.5,
//! PAGEMAP_SCAN before 6.7, no PMU). Read once per process, where each source is chosen.
//!
//! `MMVIZ_TEST_HIDE_WORKER_PROC=1` is test-only: the viewer's opens of the worker's
//! /proc files fail with EACCES, as they do under `hidepid` or for another user's process.

use std::sync::OnceLock;

pub const DISABLE_ENV: &str = "MMVIZ_DISABLE";
pub const TEST_HIDE_WORKER_PROC_ENV: &str = "MMVIZ_TEST_HIDE_WORKER_PROC";

/// A kernel feature that has a fallback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feature {
    Cachestat,
    PagemapScan,
    Perf,
}

impl Feature {
    pub fn name(self) -> &'static str {
        match self {
            Feature::Cachestat => "cachestat",
            Feature::PagemapScan => "pagemap_scan",
            Feature::Perf => "perf",
        }
    }
}

/// The features a `MMVIZ_DISABLE` value turns off; unknown names are ignored (and listed
/// in the second value, so a typo can be reported).
pub fn parse(v: &str) -> (Vec<Feature>, Vec<String>) {
    let mut on = Vec::new();
    let mut unknown = Vec::new();
    for w in v.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        match w.to_ascii_lowercase().replace('-', "_").as_str() {
            "cachestat" => on.push(Feature::Cachestat),
            "pagemap_scan" | "pagemapscan" => on.push(Feature::PagemapScan),
            "perf" => on.push(Feature::Perf),
            _ => unknown.push(w.to_string()),
        }
    }
    (on, unknown)
}

/// Whether `f` is turned off by `MMVIZ_DISABLE` (read once).
pub fn disabled(f: Feature) -> bool {
    static OFF: OnceLock<Vec<Feature>> = OnceLock::new();
    OFF.get_or_init(|| {
        let v = std::env::var(DISABLE_ENV).unwrap_or_default();
        let (off, unknown) = parse(&v);
        if !unknown.is_empty() {
            eprintln!(
                "mmviz: {DISABLE_ENV}: ignoring unknown feature(s) {} (known: cachestat, pagemap_scan, perf)",
                unknown.join(", ")
            );
        }
        off
    })
    .contains(&f)
}

/// Opens something under the worker's /proc with `open`, or fails with EACCES when the test
/// variable simulates a hidden /proc.
pub fn worker_proc<T>(open: impl FnOnce() -> std::io::Result<T>) -> std::io::Result<T> {
    if std::env::var_os(TEST_HIDE_WORKER_PROC_ENV).is_some() {
        return Err(std::io::Error::from_raw_os_error(libc::EACCES));
    }
    open()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_feature_lists() {
        let table: &[(&str, &[Feature], usize)] = &[
            ("", &[], 0),
            ("cachestat", &[Feature::Cachestat], 0),
            (
                "cachestat,pagemap_scan,perf",
                &[Feature::Cachestat, Feature::PagemapScan, Feature::Perf],
                0,
            ),
            (
                " PERF , pagemap-scan ",
                &[Feature::Perf, Feature::PagemapScan],
                0,
            ),
            ("cachestat,bogus", &[Feature::Cachestat], 1),
        ];
        for (v, want, unknown) in table {
            let (got, u) = parse(v);
            assert_eq!(&got[..], *want, "{v:?}");
            assert_eq!(u.len(), *unknown, "{v:?}");
        }
    }
}
