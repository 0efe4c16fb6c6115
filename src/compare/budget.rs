//! Memory bounds of a comparison: what each method can bring into memory, checked against
//! `MemAvailable` before anything fills the cache.
//!
//! Why: `MAP_POPULATE` of a 1 TiB sparse file populates all of it (measured here: 8 GB of RSS
//! after 1 s, 23 of 24 GB after 7 s), and plain mmap with default advice reads up to
//! `read_ahead_kb` around every fault (100,000 random faults on a 1 TiB sparse file did not
//! finish in 60 s). Page-cache pages are reclaimable, but pages mapped by a running child
//! are not freed until it unmaps them, so a method that may bring in more than half of
//! `MemAvailable` is skipped (whole-file methods) or the default access count is capped, and
//! the output says which and why. `RLIMIT_AS` in each child is the last line of defence.

use super::methods::{is_streaming, Method};
use crate::kernel::advice::Advice;
use crate::units::human_bytes;
use crate::workload::worker::PatternSpec;

/// What a method can bring into memory (page cache and, for the mmap methods, mapped pages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cost {
    /// Reads the whole file whatever the access count (MAP_POPULATE, MADV_WILLNEED).
    WholeFile,
    /// At most `per` bytes per access plus `fixed`, never more than the file.
    PerAccess { per: u64, fixed: u64 },
}

/// An upper bound of what `m` brings into memory per access. `ra` is the device's readahead
/// window in bytes (`read_ahead_kb`).
pub fn cost(m: Method, spec: &PatternSpec, page: u64, ra: u64) -> Cost {
    let streaming = is_streaming(spec.kind);
    // An access of n bytes spans at most ceil(n / page) + 1 pages (unaligned).
    let unit = if streaming {
        page
    } else {
        (spec.access_size.div_ceil(page) + 1) * page
    };
    let pa = |per: u64, fixed: u64| Cost::PerAccess { per, fixed };
    match m {
        Method::MmapPopulate | Method::MmapAdvised(Advice::Willneed) => Cost::WholeFile,
        // A fault without MADV_RANDOM reads up to read_ahead_kb around it (mm/filemap.c
        // do_sync_mmap_readahead); sequential access reads ahead by up to twice that.
        Method::Mmap | Method::MmapAdvised(Advice::Normal | Advice::Sequential) => {
            if streaming {
                pa(page, 2 * ra)
            } else {
                pa(unit.max(ra), 0)
            }
        }
        Method::MmapAdvised(Advice::Random) => pa(unit, 0),
        // MADV_HUGEPAGE: a cold fault reads a whole 2 MiB folio (measured on ext4, see
        // docs/concepts.md), or the readahead window if larger.
        Method::MmapAdvised(Advice::Hugepage) => {
            let huge = 2 << 20;
            if streaming {
                pa(page, 2 * ra.max(huge))
            } else {
                pa(unit.max(ra).max(huge), 0)
            }
        }
        // read(): a random small read reads what it asks for; the first read (index 0) and
        // sequential reads start a readahead window.
        Method::Pread | Method::SeekRead => pa(unit, 2 * ra),
        Method::Buffered => pa(unit + (8 << 10), 2 * ra),
        Method::Read64k | Method::Read1m => pa(page, 2 * ra + (1 << 20)),
    }
}

/// Bytes `cost` brings in over `accesses` accesses of a `file_size`-byte file.
pub fn bytes(cost: Cost, accesses: u64, file_size: u64) -> u64 {
    match cost {
        Cost::WholeFile => file_size,
        Cost::PerAccess { per, fixed } => accesses
            .saturating_mul(per)
            .saturating_add(fixed)
            .min(file_size),
    }
}

/// Which methods run, with how many accesses, and what was left out and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub methods: Vec<Method>,
    pub accesses: u64,
    /// One sentence per skipped method or capped count, for the output.
    pub notes: Vec<String>,
    /// Per kept method, the bytes it may bring into memory (re-checked before each child).
    pub need: Vec<u64>,
}

/// Plans the comparison within `limit` bytes per method. `accesses` is the user's count
/// (kept as given; methods that would exceed the limit with it are skipped) or None for the
/// default count `default`, which is capped so every per-access method fits.
#[allow(clippy::too_many_arguments)]
pub fn plan(
    methods: &[Method],
    spec: &PatternSpec,
    accesses: Option<u64>,
    default: u64,
    file_size: u64,
    page: u64,
    ra: u64,
    limit: u64,
    available: u64,
) -> Plan {
    let mut notes = Vec::new();
    let avail = format!(
        "half of the {} available (MemAvailable)",
        human_bytes(available)
    );
    let n = match accesses {
        Some(n) => n,
        None => {
            let mut n = default;
            for &m in methods {
                if let Cost::PerAccess { per, fixed } = cost(m, spec, page, ra) {
                    if bytes(cost(m, spec, page, ra), n, file_size) > limit {
                        n = n.min(limit.saturating_sub(fixed) / per.max(1));
                    }
                }
            }
            if n < default {
                notes.push(format!(
                    "accesses capped at {} (default {}) so each method reads at most {avail}",
                    super::verdict::thousands(n.max(1)),
                    super::verdict::thousands(default)
                ));
            }
            n.max(1)
        }
    };
    let mut kept = Vec::new();
    let mut need = Vec::new();
    for &m in methods {
        let c = cost(m, spec, page, ra);
        let b = bytes(c, n, file_size);
        if b > limit {
            let what = match c {
                Cost::WholeFile if m == Method::MmapPopulate => format!(
                    "MAP_POPULATE reads and maps the whole file ({})",
                    human_bytes(b)
                ),
                Cost::WholeFile => {
                    format!("MADV_WILLNEED reads the whole file ({})", human_bytes(b))
                }
                Cost::PerAccess { .. } => format!(
                    "{} accesses with readahead may bring in up to {}",
                    super::verdict::thousands(n),
                    human_bytes(b)
                ),
            };
            notes.push(format!("skipped {m}: {what}, more than {avail}"));
        } else {
            kept.push(m);
            need.push(b);
        }
    }
    Plan {
        methods: kept,
        accesses: n,
        notes,
        need,
    }
}

/// The `RLIMIT_AS` of a comparison child: what it has mapped at start (binary, libraries,
/// stack) plus room for its buffer and allocator, plus the whole file for the mmap methods
/// (the mapping's length counts even where no page is present).
pub fn child_address_space(vm_size_now: u64, m: Method, access_size: u64, file_size: u64) -> u64 {
    let slack = 256 << 20;
    let map = if m.is_mmap() { file_size } else { 0 };
    vm_size_now
        .saturating_add(slack)
        .saturating_add(access_size.max(1 << 20))
        .saturating_add(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::patterns::PatternKind;

    fn spec(kind: PatternKind) -> PatternSpec {
        PatternSpec {
            kind,
            seed: 1,
            access_size: 1,
            stride_pages: 16,
            hot_fraction: 0.1,
            hot_share: 0.9,
            ..PatternSpec::default()
        }
    }

    #[test]
    fn populate_of_a_huge_file_is_skipped_and_said_so() {
        let ms = Method::for_pattern(PatternKind::Random, Advice::Normal);
        let tib = 1u64 << 40;
        let p = plan(
            &ms,
            &spec(PatternKind::Random),
            Some(200),
            100_000,
            tib,
            4096,
            8 << 20,
            8 << 30,
            16 << 30,
        );
        assert!(!p.methods.contains(&Method::MmapPopulate), "{p:?}");
        assert!(p.methods.contains(&Method::Mmap) && p.methods.contains(&Method::Pread));
        assert_eq!(p.accesses, 200);
        assert!(
            p.notes[0].starts_with("skipped mmap-populate: MAP_POPULATE"),
            "{:?}",
            p.notes
        );
        assert!(p.need.iter().all(|&b| b <= 8 << 30));
    }

    #[test]
    fn default_count_is_capped_so_every_per_access_method_fits() {
        let ms = Method::for_pattern(PatternKind::Random, Advice::Normal);
        let limit = 1u64 << 30;
        let p = plan(
            &ms,
            &spec(PatternKind::Random),
            None,
            100_000,
            1 << 40,
            4096,
            8 << 20,
            limit,
            2 << 30,
        );
        // mmap reads up to 8 MiB per fault: 1 GiB / 8 MiB = 128 accesses.
        assert_eq!(p.accesses, 128, "{p:?}");
        assert!(p.notes.iter().any(|n| n.contains("accesses capped at 128")));
        assert!(p.methods.contains(&Method::Mmap));
        assert!(p.need.iter().all(|&b| b <= limit));
    }

    #[test]
    fn small_files_keep_every_method() {
        let ms = Method::for_pattern(PatternKind::Sequential, Advice::Willneed);
        let p = plan(
            &ms,
            &spec(PatternKind::Sequential),
            None,
            4096,
            16 << 20,
            4096,
            8 << 20,
            8 << 30,
            16 << 30,
        );
        assert_eq!(p.methods, ms);
        assert!(p.notes.is_empty());
    }

    #[test]
    fn address_space_covers_the_mapping_only_for_mmap() {
        let a = child_address_space(10 << 20, Method::Mmap, 1, 1 << 40);
        let b = child_address_space(10 << 20, Method::Pread, 1, 1 << 40);
        assert!(a > 1 << 40 && b < 1 << 30, "{a} {b}");
    }
}
