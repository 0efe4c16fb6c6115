//! Huge mappings, from /proc/<pid>/smaps: how much of a range is mapped with PMD entries.

use serde::{Deserialize, Serialize};
use std::io;

/// smaps totals over the VMAs of one address range: how much is mapped with huge (PMD)
/// page-table entries, i.e. one TLB entry per 2 MiB. A 2 MiB folio mapped by 512 PTEs counts
/// in `rss_bytes` but not here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HugeMapped {
    pub rss_bytes: u64,
    /// `FilePmdMapped`: file pages mapped by PMD entries.
    pub file_pmd_mapped_bytes: u64,
    /// `AnonHugePages`: anonymous memory backed by transparent huge pages.
    pub anon_huge_bytes: u64,
}

/// Sums `Rss`, `FilePmdMapped` and `AnonHugePages` over the VMAs of smaps text that overlap
/// `[start, start + len)` (a pure function of the text).
pub fn parse_smaps_range(text: &str, start: u64, len: u64) -> HugeMapped {
    let end = start.saturating_add(len);
    let mut h = HugeMapped::default();
    let mut inside = false;
    for line in text.lines() {
        // A VMA header: "7f..-7f.. r--s 00000000 08:01 1234  /path".
        if let Some((range, _)) = line.split_once(' ') {
            if let Some((a, b)) = range.split_once('-') {
                if let (Ok(a), Ok(b)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) {
                    inside = a < end && b > start;
                    continue;
                }
            }
        }
        if !inside {
            continue;
        }
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let kb = || -> u64 {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .unwrap_or(0)
                * 1024
        };
        match key {
            "Rss" => h.rss_bytes += kb(),
            "FilePmdMapped" => h.file_pmd_mapped_bytes += kb(),
            "AnonHugePages" => h.anon_huge_bytes += kb(),
            _ => {}
        }
    }
    h
}

/// [`parse_smaps_range`] of `/proc/<pid>/smaps` (`pid` 0 = this process). The session can
/// call this for the worker's mapping (addr and len come in the worker's `hello`).
pub fn huge_mapped(pid: u32, start: u64, len: u64) -> io::Result<HugeMapped> {
    let path = if pid == 0 {
        "/proc/self/smaps".to_string()
    } else {
        format!("/proc/{pid}/smaps")
    };
    Ok(parse_smaps_range(
        &std::fs::read_to_string(path)?,
        start,
        len,
    ))
}
