//! Units as types: a page index, a page count and a byte offset are not interchangeable.
//!
//! The page size comes from `sysconf(_SC_PAGESIZE)`: it is 4 KiB on x86-64 but 16 KiB or
//! 64 KiB on some arm64 kernels, so it is never a literal.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::OnceLock;

/// The system page size in bytes (from `sysconf`, cached after the first call).
pub fn page_size() -> u64 {
    static PS: OnceLock<u64> = OnceLock::new();
    *PS.get_or_init(|| {
        // SAFETY: sysconf has no memory-safety preconditions.
        let v = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if v > 0 {
            v as u64
        } else {
            4096
        }
    })
}

/// Index of a page within a file (page 0 covers bytes `0..page_size`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct PageIdx(pub u64);

/// A number of pages.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct PageCount(pub u64);

/// A byte offset within a file.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct ByteOffset(pub u64);

impl ByteOffset {
    /// The page that holds this byte.
    pub fn page(self, page_size: u64) -> PageIdx {
        PageIdx(self.0 / page_size)
    }
}

impl PageIdx {
    /// The first byte of this page.
    pub fn byte(self, page_size: u64) -> ByteOffset {
        ByteOffset(self.0 * page_size)
    }
}

/// Pages needed to hold `bytes` bytes (the partial last page counts, as in the page cache).
pub fn pages_for(bytes: u64, page_size: u64) -> PageCount {
    PageCount(bytes.div_ceil(page_size))
}

/// A half-open range of pages `start..end`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRange {
    pub start: PageIdx,
    pub end: PageIdx,
}

impl PageRange {
    pub fn new(start: u64, end: u64) -> Self {
        PageRange {
            start: PageIdx(start),
            end: PageIdx(end.max(start)),
        }
    }
    pub fn len(&self) -> PageCount {
        PageCount(self.end.0 - self.start.0)
    }
    pub fn is_empty(&self) -> bool {
        self.end.0 <= self.start.0
    }
}

/// Human-readable binary size: `1.5 GiB`, `64 KiB`, `17 B`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else if (v - v.round()).abs() < 0.05 {
        format!("{:.0} {}", v, UNITS[u])
    } else {
        format!("{:.1} {}", v, UNITS[u])
    }
}

/// Error from [`parse_size`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeError(pub String);

impl fmt::Display for SizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SizeError {}

/// Parses a size like `truncate(1)` does: `4096`, `64KiB`, `64K` (both 1024-based),
/// `64KB` (1000-based), `256MiB`, `1GiB`, `1TiB`, `1PiB`; case-insensitive, spaces allowed
/// between number and unit.
pub fn parse_size(s: &str) -> Result<u64, SizeError> {
    let t = s.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    if num.is_empty() {
        return Err(SizeError(format!(
            "size '{s}' does not parse (expected e.g. 4096, 64KiB, 256MiB, 1GiB, 1TiB)"
        )));
    }
    let mult: u64 = match unit.as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "p" | "pib" => 1 << 50,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "pb" => 1_000_000_000_000_000,
        _ => {
            return Err(SizeError(format!(
                "size '{s}' has an unknown unit '{unit}' (use B, KiB, MiB, GiB, TiB, PiB or KB, MB, GB, TB)"
            )))
        }
    };
    let value = if num.contains('.') {
        let f: f64 = num
            .parse()
            .map_err(|_| SizeError(format!("size '{s}' does not parse")))?;
        let bytes = f * mult as f64;
        if !bytes.is_finite() || bytes >= u64::MAX as f64 {
            return Err(SizeError(format!("size '{s}' is too large")));
        }
        bytes.round() as u64
    } else {
        let n: u64 = num
            .parse()
            .map_err(|_| SizeError(format!("size '{s}' is too large")))?;
        n.checked_mul(mult)
            .ok_or_else(|| SizeError(format!("size '{s}' is too large")))?
    };
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_is_a_power_of_two_from_sysconf() {
        let ps = page_size();
        assert!(ps >= 4096 && ps.is_power_of_two(), "{ps}");
    }

    #[test]
    fn sizes_parse() {
        let table: &[(&str, u64)] = &[
            ("0", 0),
            ("4096", 4096),
            ("64KiB", 64 << 10),
            ("64k", 64 << 10),
            ("64KB", 64_000),
            ("256MiB", 256 << 20),
            ("1GiB", 1 << 30),
            ("1 GiB", 1 << 30),
            ("1TiB", 1 << 40),
            ("1.5MiB", 3 << 19),
            ("2PiB", 2 << 50),
        ];
        for (s, want) in table {
            assert_eq!(parse_size(s), Ok(*want), "{s}");
        }
    }

    #[test]
    fn bad_sizes_are_errors() {
        for s in [
            "",
            "abc",
            "12XB",
            "-5",
            "99999999999999999999",
            "100000PiB",
            "1..2G",
        ] {
            assert!(parse_size(s).is_err(), "{s} should not parse");
        }
    }

    #[test]
    fn human_bytes_reads_well() {
        assert_eq!(human_bytes(17), "17 B");
        assert_eq!(human_bytes(64 << 10), "64 KiB");
        assert_eq!(human_bytes(3 << 29), "1.5 GiB");
        assert_eq!(human_bytes(1 << 40), "1 TiB");
    }

    #[test]
    fn page_math() {
        assert_eq!(pages_for(0, 4096), PageCount(0));
        assert_eq!(pages_for(1, 4096), PageCount(1));
        assert_eq!(pages_for(8192, 4096), PageCount(2));
        assert_eq!(ByteOffset(8191).page(4096), PageIdx(1));
        assert_eq!(PageIdx(3).byte(4096), ByteOffset(12288));
        assert_eq!(PageRange::new(5, 3).len(), PageCount(0));
    }
}
