//! Which cached pages the current interval found already cached ("cached only"), so that only
//! pages the kernel brought in around the workload's accesses are called read ahead.
//!
//! At each interval start (worker start, evict, pattern switch, warm, reset) the session
//! records the set of pages cached at that instant; pages the workload touches leave the set.
//! Readahead ghosts of a cell are then `cached - touched - earlier`. Memory is bounded by the
//! page cache, not by the file: the set is a compressed bitmap of at most the cached pages
//! (24 GiB of RAM = 6.3 M pages, under 1 MiB as dense runs), found by asking cachestat per
//! 256 MiB chunk first and mincore only inside chunks that are partly cached.

use crate::residency::CacheProbe;
use roaring::RoaringTreemap;
use std::io;

/// Pages per chunk asked with one cachestat before looking at single pages.
const CHUNK: u64 = 64 * 1024;
/// More cached pages than this (64 GiB of 4 KiB pages) are not recorded page by page; the
/// ghosts count is then labelled as a lower bound.
const MAX_TRACKED: u64 = 16 << 20;

#[derive(Default)]
pub struct Provenance {
    /// Cached when the interval began and not touched since.
    earlier: RoaringTreemap,
    /// False when the set could not be recorded (hidden state, too many cached pages).
    pub exact: bool,
}

impl Provenance {
    /// Records the pages of `0..pages` cached now. Hidden state: an empty set, not exact.
    pub fn capture(&mut self, probe: &mut CacheProbe, pages: u64) -> io::Result<()> {
        self.earlier.clear();
        self.exact = false;
        if !probe.visible() {
            return Ok(());
        }
        let mut total = 0u64;
        let mut c = 0;
        while c < pages {
            let e = (c + CHUNK).min(pages);
            let n = probe.range(c, e)?.map_or(0, |r| r.cached);
            total += n;
            if total > MAX_TRACKED {
                self.earlier.clear();
                return Ok(());
            }
            if n == e - c {
                self.earlier.insert_range(c..e);
            } else if n > 0 {
                let set = &mut self.earlier;
                probe.for_each_page(c, e, |p, res| {
                    if res {
                        set.insert(p);
                    }
                })?;
            }
            c = e;
        }
        self.exact = true;
        Ok(())
    }

    /// The workload touched these pages: from now on they count as touched, not earlier.
    pub fn touched(&mut self, runs: &[(u64, u64)]) {
        for &(s, l) in runs {
            self.earlier.remove_range(s..s + l);
        }
    }

    /// Earlier-cached, untouched pages in `start..end`.
    pub fn count(&self, start: u64, end: u64) -> u64 {
        crate::grid::count_range(&self.earlier, start, end)
    }

    pub fn len(&self) -> u64 {
        self.earlier.len()
    }
}
