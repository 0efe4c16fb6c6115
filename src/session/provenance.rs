//! Which cached pages the current interval found already cached ("cached only"), so that only
//! pages the kernel brought in around the workload's accesses are called read ahead.
//!
//! At each interval start (worker start, evict, pattern switch, warm, reset) the session
//! records the set of pages cached at that instant; pages the workload touches leave the set.
//! Readahead ghosts of a cell are then `cached - touched - earlier`. Memory is bounded by the
//! page cache, not by the file: the set is a compressed bitmap of at most the cached pages
//! (24 GiB of RAM = 6.3 M pages, under 1 MiB as dense runs), found by halving partly cached
//! ranges with cachestat and looking at single pages (mincore) only in small ones.

use crate::kernel::residency::CacheProbe;
use roaring::RoaringTreemap;
use std::io;
use std::time::Instant;

/// Ranges up to this many pages are looked at page by page (mincore, 4 KiB of vector).
const LEAF: u64 = 4096;
/// More cached pages than this (64 GiB of 4 KiB pages) are not recorded page by page.
const MAX_TRACKED: u64 = 16 << 20;
/// Time one capture may take before it records what is left coarsely.
const BUDGET: std::time::Duration = std::time::Duration::from_millis(150);

#[derive(Default)]
pub struct Provenance {
    /// Cached when the interval began and not touched since.
    earlier: RoaringTreemap,
    /// Partly cached ranges the capture had no time to resolve (sorted, disjoint): every page
    /// in them counts as earlier, so no page there is called read ahead.
    coarse: Vec<(u64, u64)>,
    /// False when the set could not be recorded (hidden state, too many cached pages).
    pub exact: bool,
}

impl Provenance {
    /// Records the pages of `0..pages` cached now. Hidden state: an empty set, not exact.
    ///
    /// Cost follows the cached runs, not the file: a range is asked with one cachestat and
    /// split in halves only while it is partly cached, down to 16 MiB, where mincore looks at
    /// single pages. Past a time budget the remaining partly cached ranges are recorded whole:
    /// pages are then never called read ahead wrongly, only possibly missed (ghosts become a
    /// lower bound, `exact == false`).
    pub fn capture(&mut self, probe: &mut CacheProbe, pages: u64) -> io::Result<()> {
        self.earlier.clear();
        self.coarse.clear();
        self.exact = false;
        if !probe.visible() {
            return Ok(());
        }
        let deadline = Instant::now() + BUDGET;
        let mut exact = true;
        let mut stack = vec![(0u64, pages)];
        while let Some((s, e)) = stack.pop() {
            if e <= s {
                continue;
            }
            let n = probe.range(s, e)?.map_or(0, |r| r.cached);
            if n == 0 {
                continue;
            }
            if n == e - s {
                self.earlier.insert_range(s..e);
            } else if Instant::now() > deadline || self.earlier.len() > MAX_TRACKED {
                // Recorded as a range, not page by page: a few TiB of range must not become
                // a few hundred MiB of bitmap.
                self.coarse.push((s, e));
                exact = false;
            } else if e - s <= LEAF {
                let set = &mut self.earlier;
                probe.for_each_page(s, e, |p, res| {
                    if res {
                        set.insert(p);
                    }
                })?;
            } else {
                let m = s + (e - s) / 2;
                stack.push((m, e));
                stack.push((s, m));
            }
        }
        self.coarse.sort_unstable();
        self.exact = exact;
        Ok(())
    }

    /// The workload touched these pages: from now on they count as touched, not earlier.
    pub fn touched(&mut self, runs: &[(u64, u64)]) {
        for &(s, l) in runs {
            self.earlier.remove_range(s..s + l);
        }
    }

    /// Earlier-cached, untouched pages per cell of `ppc` pages from `start`, added to `out`
    /// (one entry per cell). One pass over the set's members in range: rank() per cell costs
    /// a walk over the bitmap's containers each time (200 ms for 2,000 cells of a 16 TiB file).
    pub fn count_cells(&self, start: u64, ppc: u64, out: &mut [u64]) {
        let end = start.saturating_add(ppc.saturating_mul(out.len() as u64));
        for &(s, e) in &self.coarse {
            let (s, e) = (s.max(start), e.min(end));
            let mut p = s;
            while p < e {
                let i = ((p - start) / ppc) as usize;
                let cell_end = start + (i as u64 + 1) * ppc;
                let upto = cell_end.min(e);
                out[i] += upto - p;
                p = upto;
            }
        }
        for p in self.earlier.iter() {
            if p >= end {
                break;
            }
            if p >= start {
                out[((p - start) / ppc) as usize] += 1;
            }
        }
    }

    pub fn len(&self) -> u64 {
        self.earlier.len() + self.coarse.iter().map(|(s, e)| e - s).sum::<u64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsFd;

    #[test]
    fn capture_records_exactly_the_cached_pages_of_a_sparse_file() {
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR").to_string() + "/target")
            .expect("tempdir in target/");
        let p = dir.path().join("f");
        let ps = crate::units::page_size();
        let pages: u64 = 1 << 20; // 4 GiB, sparse
        {
            let f = std::fs::File::create(&p).unwrap();
            f.set_len(pages * ps).unwrap();
        }
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&p)
            .unwrap();
        // Three cached islands: written pages (then only those are cached).
        let want: Vec<u64> = vec![5, 6, 7, 70_000, 999_999];
        for &pg in &want {
            use std::os::unix::fs::FileExt;
            f.write_all_at(&[1u8], pg * ps).unwrap();
        }
        (&f).flush().unwrap();
        let fs = crate::kernel::fsinfo::fs_of(&f).unwrap();
        if !fs.can_evict {
            return;
        }
        crate::kernel::sys::fdatasync(f.as_fd()).unwrap();
        let mut probe = CacheProbe::new(&f, pages * ps, &fs).unwrap();
        let mut pv = Provenance::default();
        pv.capture(&mut probe, pages).unwrap();
        assert!(pv.exact);
        let cached = probe.range(0, pages).unwrap().unwrap().cached;
        assert_eq!(pv.len(), cached);
        let mut cells = vec![0u64; 1000];
        pv.count_cells(0, 1000, &mut cells);
        assert_eq!(cells[0], 3);
        assert_eq!(cells[70], 1);
        assert_eq!(cells[999], 1);
        assert_eq!(cells.iter().sum::<u64>(), cached);
        pv.touched(&[(5, 3)]);
        let mut cells = vec![0u64; 1];
        pv.count_cells(0, 10, &mut cells);
        assert_eq!(cells[0], 0);
        assert_eq!(pv.len(), cached - 3);
    }

    #[test]
    fn coarse_ranges_count_their_overlap_per_cell() {
        let mut pv = Provenance {
            coarse: vec![(5, 25), (1 << 40, (1 << 40) + 3)],
            ..Default::default()
        };
        pv.earlier.insert(30);
        let mut cells = vec![0u64; 4];
        pv.count_cells(0, 10, &mut cells);
        assert_eq!(cells, vec![5, 10, 5, 1]);
        assert_eq!(pv.len(), 24);
    }
}
