//! Aggregation: N cells over any page range (the grid and its zoom). Per cell the number of
//! pages cached, dirty, mapped (file pages present in a process's page table), private copies,
//! touched by the workload and accessed in its latest batches.

use crate::kernel::pagemap::{count_in, PagemapReader, PresentRun};
use crate::kernel::residency::CacheProbe;
use crate::session::snapshot::{CellCounts, GridData};
use roaring::RoaringTreemap;
use std::io;

/// The cell geometry for `cells` cells over `start..end`: pages per cell (at least 1) and the
/// number of cells actually used (the last one may be partial).
pub fn geometry(start: u64, end: u64, cells: u64) -> (u64, u64) {
    let len = end.saturating_sub(start);
    if len == 0 || cells == 0 {
        return (1, 0);
    }
    let ppc = len.div_ceil(cells).max(1);
    (ppc, len.div_ceil(ppc))
}

/// A process's mapping of the file: where file offset 0 is mapped, and how many pages.
pub struct MappedSource<'a> {
    pub reader: &'a mut PagemapReader,
    /// Virtual address of file offset 0 in that process.
    pub addr: u64,
    /// Pages covered by the mapping (pages past it are never mapped).
    pub pages: u64,
}

/// Where the grid's mapped state comes from: a page table that can say which of the file's
/// pages are present. mmviz's own worker ([`MappedSource`]: one mapping of the whole file)
/// and an observed process (its ranges combined by file offset, see
/// [`crate::observe::live`]) feed the grid the same way.
pub trait PresenceSource {
    /// Present runs of the file's pages `start..end`, as indexes relative to `start`
    /// (sorted, disjoint), into `out` (cleared first).
    fn present_runs(&mut self, start: u64, end: u64, out: &mut Vec<PresentRun>) -> io::Result<()>;
    /// The PMD-mapped runs of the last [`Self::present_runs`] (relative), when known.
    fn huge_runs(&self) -> Option<&[(u64, u64)]> {
        None
    }
}

impl PresenceSource for MappedSource<'_> {
    fn present_runs(&mut self, start: u64, end: u64, out: &mut Vec<PresentRun>) -> io::Result<()> {
        out.clear();
        let mend = end.min(self.pages);
        if mend > start {
            let ps = crate::units::page_size();
            self.reader
                .present_runs(self.addr + start * ps, mend - start, ps, out)?;
        }
        Ok(())
    }
    fn huge_runs(&self) -> Option<&[(u64, u64)]> {
        self.reader.huge_runs()
    }
}

/// Reusable buffers, so sampling at 10 Hz allocates nothing after the first tick.
#[derive(Default)]
pub struct GridScratch {
    cache: Vec<crate::kernel::residency::CellCache>,
    runs: Vec<PresentRun>,
    /// When set, page-cache counts are refreshed progressively: each sample spends at most
    /// this long on cachestat and continues where the previous one stopped (cachestat walks
    /// every cached folio of its range: 16 TiB with 4.7 GiB cached took 193 ms for one pass
    /// here, so a full pass per frame would stall the screen).
    pub budget: Option<std::time::Duration>,
    prog: Progressive,
}

impl GridScratch {
    /// Scratch whose cache counts are refreshed progressively within `budget` per sample.
    pub fn with_budget(budget: std::time::Duration) -> GridScratch {
        GridScratch {
            budget: Some(budget),
            ..GridScratch::default()
        }
    }
}

/// Per-cell cache counts carried between samples of the same view.
#[derive(Default)]
struct Progressive {
    key: (u64, u64, u64),
    counts: Vec<crate::kernel::residency::CellCache>,
    next: usize,
    /// Cells sampled at least once since the view changed.
    filled: usize,
}

#[allow(clippy::too_many_arguments)]
/// Refreshes cells of `start..end` (ppc pages each) from `prog.next` on until `budget` is
/// spent or every cell was refreshed once; returns how many cells are still unsampled.
fn progressive_cells(
    probe: &mut CacheProbe,
    start: u64,
    end: u64,
    ppc: u64,
    n: u64,
    budget: std::time::Duration,
    prog: &mut Progressive,
    out: &mut Vec<crate::kernel::residency::CellCache>,
) -> io::Result<u64> {
    let key = (start, end, ppc);
    if prog.key != key || prog.counts.len() != n as usize {
        prog.key = key;
        prog.counts.clear();
        prog.counts.resize(n as usize, (None, None, None));
        prog.next = 0;
        prog.filled = 0;
    }
    if !probe.visible() {
        out.clear();
        out.resize(n as usize, (None, None, None));
        return Ok(0);
    }
    let t0 = std::time::Instant::now();
    for _ in 0..n {
        let i = prog.next;
        let s = start + i as u64 * ppc;
        let e = (s + ppc).min(end);
        let r = probe.range(s, e)?.unwrap_or_default();
        prog.counts[i] = (Some(r.cached), r.dirty, r.writeback);
        prog.next = (i + 1) % n as usize;
        prog.filled = (prog.filled + 1).min(n as usize);
        if t0.elapsed() >= budget {
            break;
        }
    }
    out.clear();
    out.extend_from_slice(&prog.counts);
    Ok(n - prog.filled as u64)
}

/// Counts per cell over pages `start..end` in at most `cells` cells.
///
/// `cached` excludes positions held by a private copy (those count as `private`), so that
/// private + cached + not cached = pages. `recent` must be sorted.
#[allow(clippy::too_many_arguments)]
pub fn sample(
    probe: &mut CacheProbe,
    mapped: Option<MappedSource<'_>>,
    touched: Option<&RoaringTreemap>,
    recent: &[u64],
    start: u64,
    end: u64,
    cells: u64,
    scratch: &mut GridScratch,
) -> io::Result<GridData> {
    let mut mapped = mapped;
    sample_with(
        probe,
        mapped.as_mut().map(|m| m as &mut dyn PresenceSource),
        touched,
        recent,
        start,
        end,
        cells,
        scratch,
    )
}

/// [`sample`] with any [`PresenceSource`] for the mapped state.
#[allow(clippy::too_many_arguments)]
pub fn sample_with(
    probe: &mut CacheProbe,
    mapped: Option<&mut dyn PresenceSource>,
    touched: Option<&RoaringTreemap>,
    recent: &[u64],
    start: u64,
    end: u64,
    cells: u64,
    scratch: &mut GridScratch,
) -> io::Result<GridData> {
    let mut sources: Vec<&mut dyn PresenceSource> = mapped.into_iter().collect();
    sample_many(
        probe,
        &mut sources,
        touched,
        recent,
        start,
        end,
        cells,
        scratch,
    )
    .map(|(g, _)| g)
}

/// [`sample`] over the page tables of several processes mapping the file: `mapped` and
/// `private` are the union over `sources` (a page any of them maps), huge mappings are those of
/// `sources[0]` (the selected one). With more than one source, also returns per cell the pages
/// `sources[0]` maps itself (file pages or private copies).
#[allow(clippy::too_many_arguments)]
pub fn sample_many(
    probe: &mut CacheProbe,
    sources: &mut [&mut dyn PresenceSource],
    touched: Option<&RoaringTreemap>,
    recent: &[u64],
    start: u64,
    end: u64,
    cells: u64,
    scratch: &mut GridScratch,
) -> io::Result<(GridData, Option<Vec<u64>>)> {
    let end = end.min(probe.pages()).max(start);
    let (ppc, n) = geometry(start, end, cells);
    let unsampled = match scratch.budget {
        Some(b) => progressive_cells(
            probe,
            start,
            end,
            ppc,
            n,
            b,
            &mut scratch.prog,
            &mut scratch.cache,
        )?,
        None => {
            probe.cells(start, end, ppc, &mut scratch.cache)?;
            0
        }
    };
    let mut out: Vec<CellCounts> = (0..n)
        .map(|i| {
            let s = start + i * ppc;
            let e = (s + ppc).min(end);
            let (cached, dirty, writeback) = scratch.cache[i as usize];
            CellCounts {
                pages: e - s,
                cached,
                dirty,
                writeback,
                ..Default::default()
            }
        })
        .collect();

    let mut mine = None;
    if !sources.is_empty() {
        // Runs are relative to `start`; the selected source's last, so its huge runs stay.
        let mut lists: Vec<Vec<PresentRun>> = Vec::with_capacity(sources.len());
        for m in sources.iter_mut().rev() {
            let mut runs = Vec::new();
            m.present_runs(start, end, &mut runs)?;
            lists.push(runs);
        }
        if lists.len() > 1 {
            let own = lists.last().expect("non-empty");
            let mut hint = 0;
            mine = Some(
                out.iter()
                    .enumerate()
                    .map(|(i, c)| {
                        let s = i as u64 * ppc;
                        let (f, p) = count_in(own, s, s + c.pages, &mut hint);
                        f + p
                    })
                    .collect(),
            );
        }
        scratch.runs = union_runs(lists);
        let m = &sources[0];
        let mut hint = 0;
        for (i, c) in out.iter_mut().enumerate() {
            let s = i as u64 * ppc;
            let (file, private) = count_in(&scratch.runs, s, s + c.pages, &mut hint);
            c.mapped = Some(file);
            c.private = Some(private);
        }
        if let Some(h) = m.huge_runs() {
            let mut hint = 0;
            for (i, c) in out.iter_mut().enumerate() {
                let s = i as u64 * ppc;
                c.huge = Some(crate::kernel::pagemap::count_ranges_in(
                    h,
                    s,
                    s + c.pages,
                    &mut hint,
                ));
            }
        }
        // A private copy's position may also have its file page cached: count it once, as
        // private, by asking mincore about exactly those pages.
        if probe.visible() && scratch.runs.iter().any(|r| !r.file) {
            let privates: Vec<PresentRun> =
                scratch.runs.iter().filter(|r| !r.file).copied().collect();
            for r in privates {
                let mut per_cell: Vec<(usize, u64)> = Vec::new();
                probe.for_each_page(start + r.start, start + r.end, |p, res| {
                    if res {
                        let ci = ((p - start) / ppc) as usize;
                        match per_cell.last_mut() {
                            Some((c, k)) if *c == ci => *k += 1,
                            _ => per_cell.push((ci, 1)),
                        }
                    }
                })?;
                for (ci, k) in per_cell {
                    if let Some(c) = out[ci].cached.as_mut() {
                        *c = c.saturating_sub(k);
                    }
                }
            }
        }
    }

    if let Some(t) = touched {
        for (i, c) in out.iter_mut().enumerate() {
            let s = start + i as u64 * ppc;
            c.touched = count_range(t, s, s + c.pages);
        }
    }
    if !recent.is_empty() {
        for (i, c) in out.iter_mut().enumerate() {
            let s = start + i as u64 * ppc;
            let lo = recent.partition_point(|&p| p < s);
            let hi = recent.partition_point(|&p| p < s + c.pages);
            c.recent = (hi - lo) as u64;
        }
    }
    Ok((
        GridData {
            start_page: start,
            end_page: end,
            pages_per_cell: ppc,
            cells: out,
            eof_page: None,
            unsampled,
        },
        mine,
    ))
}

/// The union of several processes' present runs: file pages merged with file pages, private
/// copies with private copies, sorted by start (a file run and a private run may overlap: one
/// process maps the page, another holds its own copy of it).
pub fn union_runs(mut lists: Vec<Vec<PresentRun>>) -> Vec<PresentRun> {
    if lists.len() == 1 {
        return lists.pop().unwrap_or_default();
    }
    let mut all: Vec<PresentRun> = lists.into_iter().flatten().collect();
    all.sort_unstable_by_key(|r| (r.file, r.start));
    let mut merged: Vec<PresentRun> = Vec::with_capacity(all.len());
    for r in all {
        match merged.last_mut() {
            Some(l) if l.file == r.file && r.start <= l.end => l.end = l.end.max(r.end),
            _ => merged.push(r),
        }
    }
    merged.sort_by_key(|r| r.start);
    merged
}

/// Number of members of `set` in `start..end`.
pub fn count_range(set: &RoaringTreemap, start: u64, end: u64) -> u64 {
    if end <= start || set.is_empty() {
        return 0;
    }
    let upto = |x: u64| if x == 0 { 0 } else { set.rank(x - 1) };
    upto(end) - upto(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_table() {
        // (start, end, cells) -> (pages per cell, cells used)
        let table = [
            ((0, 0, 10), (1, 0)),
            ((0, 10, 0), (1, 0)),
            ((0, 10, 10), (1, 10)),
            ((0, 10, 100), (1, 10)),
            ((0, 100, 10), (10, 10)),
            ((0, 101, 10), (11, 10)),
            ((5, 105, 3), (34, 3)),
            ((0, 65536, 4000), (17, 3856)),
            ((0, 1 << 28, 10_000), (26844, 10_000)),
        ];
        for ((s, e, c), want) in table {
            let got = geometry(s, e, c);
            assert_eq!(got, want, "{s}..{e} in {c}");
            if got.1 > 0 {
                // The cells cover the range exactly.
                assert!(got.0 * got.1 >= e - s && got.0 * (got.1 - 1) < e - s);
                assert!(got.1 <= c);
            }
        }
    }

    #[test]
    fn count_range_table() {
        let mut t = RoaringTreemap::new();
        for p in [0u64, 1, 2, 10, 99, 1 << 40] {
            t.insert(p);
        }
        let table = [
            (0, 0, 0),
            (0, 1, 1),
            (0, 3, 3),
            (1, 11, 3),
            (11, 99, 0),
            (11, 100, 1),
            (0, u64::MAX, 6),
            (1 << 40, (1 << 40) + 1, 1),
        ];
        for (s, e, want) in table {
            assert_eq!(count_range(&t, s, e), want, "{s}..{e}");
        }
    }
}
