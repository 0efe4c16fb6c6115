//! /proc/meminfo: what memory the machine has available for new work.

/// Test-only: pretend `MemAvailable` is this many bytes (so tests can exercise the bounds on
/// small files). Never set it outside tests.
pub const TEST_MEM_AVAILABLE_ENV: &str = "MMVIZ_TEST_MEM_AVAILABLE";

/// `MemAvailable` of /proc/meminfo in bytes: the kernel's estimate of memory available for
/// new work without swapping (free + reclaimable cache). None when unreadable.
pub fn mem_available() -> Option<u64> {
    if let Some(v) = std::env::var(TEST_MEM_AVAILABLE_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return Some(v);
    }
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    meminfo_field(&s, "MemAvailable")
}

/// A `Name:   123 kB` field of /proc/meminfo, in bytes.
pub fn meminfo_field(meminfo: &str, name: &str) -> Option<u64> {
    meminfo.lines().find_map(|l| {
        let rest = l.strip_prefix(name)?.strip_prefix(':')?;
        let kb: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
        kb.checked_mul(1024)
    })
}

/// The most one method may bring into memory: half of `MemAvailable`, so the machine keeps
/// the other half for everything else.
pub fn limit_of(available: u64) -> u64 {
    available / 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_parses() {
        let s = "MemTotal:       24000000 kB\nMemAvailable:   1000 kB\n";
        assert_eq!(meminfo_field(s, "MemAvailable"), Some(1_024_000));
        assert_eq!(meminfo_field(s, "MemFree"), None);
    }
}
