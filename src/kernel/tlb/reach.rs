//! Estimates of pages touched vs TLB reach, and the worker-side sets of distinct pages and
//! 2 MiB regions touched in one report interval.

use super::geometry::{TlbGeometry, ASSUMED_ENTRIES};
use super::{K4, M2};
use serde::{Deserialize, Serialize};

/// Distinct 4 KiB pages and 2 MiB regions a workload touched in an interval, compared with
/// what the TLB can hold. An estimate: a touched page needs an entry only while it is hot,
/// and the hardware may prefetch or share page-walk caches.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReachEstimate {
    pub pages_4k: u64,
    pub regions_2m: u64,
    /// Entries of the largest load-serving TLB for 4 KiB pages.
    pub entries_4k: u32,
    /// Entries for 2 MiB pages (`None` when the CPU reports no 2 MiB TLB).
    pub entries_2m: Option<u32>,
    /// "CPUID" or "assumed (not reported by this CPU/VM)".
    pub entries_source: String,
}

/// Builds the estimate for `pages_4k` pages and `regions_2m` regions from `geom`.
pub fn reach_estimate(geom: &TlbGeometry, pages_4k: u64, regions_2m: u64) -> ReachEstimate {
    match geom.entries_for(K4) {
        Some(e) => ReachEstimate {
            pages_4k,
            regions_2m,
            entries_4k: e,
            entries_2m: geom.entries_for(M2),
            entries_source: "CPUID".into(),
        },
        None => ReachEstimate {
            pages_4k,
            regions_2m,
            entries_4k: ASSUMED_ENTRIES,
            entries_2m: Some(ASSUMED_ENTRIES),
            entries_source: "assumed: not reported by this CPU/VM".into(),
        },
    }
}

/// A set of small integers as a bitmap that remembers which words it dirtied, so clearing
/// costs what was inserted, not the whole range. An insert is one load, test and store: cheaper
/// per access than a roaring insert, and no copy travels with the reports.
#[derive(Clone, Debug, Default)]
struct DirtyBitmap {
    words: Vec<u64>,
    dirty: Vec<usize>,
    len: u64,
}

impl DirtyBitmap {
    fn with_bits(n: u64) -> DirtyBitmap {
        DirtyBitmap {
            words: vec![0; n.div_ceil(64) as usize],
            ..DirtyBitmap::default()
        }
    }
    /// Inserts `i`; true when its 64-bit word was empty before (first member of the word).
    #[inline]
    fn insert(&mut self, i: u64) -> bool {
        let w = (i / 64) as usize;
        if w >= self.words.len() {
            self.words.resize(w + 1, 0);
        }
        let bit = 1u64 << (i % 64);
        let word = &mut self.words[w];
        let mut fresh = false;
        if *word & bit == 0 {
            if *word == 0 {
                self.dirty.push(w);
                fresh = true;
            }
            *word |= bit;
            self.len += 1;
        }
        fresh
    }
    fn clear(&mut self) {
        for &w in &self.dirty {
            self.words[w] = 0;
        }
        self.dirty.clear();
        self.len = 0;
    }
}

/// Distinct 4 KiB pages and 2 MiB regions accessed in one report interval (worker side).
#[derive(Clone, Debug, Default)]
pub struct IntervalSets {
    /// The report sequence number the sets started after.
    seq: u64,
    pages: DirtyBitmap,
    regions: DirtyBitmap,
}

impl IntervalSets {
    /// Sets sized for a mapping of `len` bytes (they grow if offsets go beyond).
    pub fn for_len(len: u64) -> IntervalSets {
        IntervalSets {
            seq: 0,
            pages: DirtyBitmap::with_bits(len.div_ceil(K4)),
            regions: DirtyBitmap::with_bits(len.div_ceil(M2)),
        }
    }

    /// Starts a new interval when a report was sent since the last call (`seq` changed).
    pub fn start(&mut self, seq: u64) {
        if self.seq != seq {
            self.seq = seq;
            self.pages.clear();
            self.regions.clear();
        }
    }

    #[inline]
    pub fn insert(&mut self, offset: u64) {
        // A region (512 pages = 8 words) is new only if the page's word is: the region set
        // is touched once per 64 pages, not per access.
        if self.pages.insert(offset / K4) {
            self.regions.insert(offset / M2);
        }
    }

    /// (distinct 4 KiB pages, distinct 2 MiB regions) since `start`.
    pub fn counts(&self) -> (u64, u64) {
        (self.pages.len, self.regions.len)
    }
}

/// Distinct 4 KiB pages and 2 MiB regions among byte offsets (sorts `offsets` in place).
pub fn distinct_pages_regions(offsets: &mut [u64]) -> (u64, u64) {
    offsets.sort_unstable();
    let (mut pages, mut regions) = (0u64, 0u64);
    let (mut lp, mut lr) = (u64::MAX, u64::MAX);
    for o in offsets.iter() {
        let (p, r) = (o / K4, o / M2);
        if p != lp {
            pages += 1;
            lp = p;
        }
        if r != lr {
            regions += 1;
            lr = r;
        }
    }
    (pages, regions)
}
