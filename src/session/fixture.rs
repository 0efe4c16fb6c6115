//! A fixed, realistic [`Snapshot`] for tests and screenshots: a 256 MiB file on ext4, a
//! sequential pass 44% done with its front and readahead window visible, a finished
//! comparison, no TLB counters (as in a VM).

use crate::kernel::advice::Advice;
use crate::session::snapshot::{
    CacheSource, Capabilities, CellCounts, ComparisonResult, ComparisonState, FaultStats, FileInfo,
    FsInfo, GridData, MethodResult, PagemapSource, RunState, Snapshot, TlbInfo, Totals, WorkerInfo,
};
use crate::workload::patterns::PatternKind;

const PAGES: u64 = 65_536;
/// Where the sequential pass is (next page to touch).
const POS: u64 = 29_000;
/// Pages behind `POS` accessed in the latest batches.
const FRONT: u64 = 256;
/// The readahead window ahead of the front: 8 MiB = 2048 pages (`read_ahead_kb` 8192).
const AHEAD: u64 = 2_048;
/// A range some other reader left in the cache (never touched by the workload).
const OTHER: std::ops::Range<u64> = 45_056..47_104;

/// The state of one page in the fixture: (cached, mapped, touched, recent).
fn page(p: u64) -> (bool, bool, bool, bool) {
    let touched = p < POS;
    let cached = touched || p < POS + AHEAD || OTHER.contains(&p);
    (cached, touched, touched, touched && p + FRONT >= POS)
}

/// The grid for `cells` equal runs of pages over `start..end` of the fixture file.
pub fn fixture_grid(start: u64, end: u64, cells: u64) -> GridData {
    let end = end.min(PAGES).max(start);
    let ppc = (end - start).div_ceil(cells.max(1)).max(1);
    let cells = (0..cells)
        .map(|i| {
            let lo = (start + i * ppc).min(end);
            let hi = (lo + ppc).min(end);
            let mut c = CellCounts {
                pages: hi - lo,
                cached: Some(0),
                dirty: Some(0),
                mapped: Some(0),
                private: Some(0),
                ..CellCounts::default()
            };
            for p in lo..hi {
                let (cached, mapped, touched, recent) = page(p);
                *c.cached.as_mut().unwrap() += u64::from(cached);
                *c.mapped.as_mut().unwrap() += u64::from(mapped);
                c.touched += u64::from(touched);
                c.recent += u64::from(recent);
                // The other reader's pages were cached before the interval began.
                c.earlier += u64::from(OTHER.contains(&p));
            }
            c
        })
        .collect();
    GridData {
        start_page: start,
        end_page: end,
        pages_per_cell: ppc,
        cells,
        eof_page: None,
        unsampled: 0,
    }
}

fn history(peak: u64, n: usize) -> Vec<u64> {
    // A deterministic, lively shape for the sparklines.
    (0..n as u64)
        .map(|i| peak / 2 + (i * 7919 % 13) * peak / 26)
        .collect()
}

/// The fixed snapshot the screen tests render.
pub fn fixture_snapshot() -> Snapshot {
    let cached = POS + AHEAD + (OTHER.end - OTHER.start);
    Snapshot {
        schema_version: 1,
        seq: 412,
        t_ms: 41_200,
        file: FileInfo {
            path: "/home/teacher/mmviz/data.bin".into(),
            size_bytes: PAGES * 4096,
            page_size: 4096,
            pages: PAGES,
            filesystem: FsInfo {
                name: "ext4".into(),
                magic: 0xEF53,
                can_evict: true,
                note: None,
            },
            read_ahead_kb: Some(8192),
            thp_mode: Some("madvise".into()),
            is_demo: false,
            allocated_bytes: Some(PAGES * 4096),
            notice: None,
            write: None,
        },
        caps: Capabilities {
            cache_source: CacheSource::Cachestat,
            cache_state_visible: true,
            cache_note: None,
            pagemap: PagemapSource::Scan,
            pagemap_note: None,
        },
        worker: WorkerInfo {
            pid: Some(4242),
            state: RunState::Running,
            pattern: PatternKind::Sequential,
            rate: None,
            advice: Advice::Normal,
            access_size: 8,
            accesses: 14_848_000,
            batches: 412,
        },
        grid: fixture_grid(0, PAGES, 1024),
        totals: Totals {
            cached: Some(cached),
            dirty: Some(0),
            writeback: Some(0),
            mapped: Some(POS),
            private: Some(0),
            touched: POS,
            ghosts: Some(AHEAD),
        },
        faults: FaultStats {
            interval: crate::session::snapshot::Interval {
                reason: "evict".into(),
                since_ms: 14_500,
                minor_at_start: 310,
                major_at_start: 2,
                cached_at_start: Some(0),
            },
            newly_cached: Some(POS + AHEAD),
            major_note: None,
            minor_total: 1_813,
            major_total: 14,
            minor_rate: 44.0,
            major_rate: 0.5,
            minor_history: history(5, 60),
            major_history: (0..60).map(|i| u64::from(i % 20 == 7)).collect(),
            pages_cached_per_major: Some(2_048.0),
            pages_mapped_per_fault: Some(15.9),
            read_bytes: Some((POS + AHEAD) * 4096),
        },
        tlb: TlbInfo {
            supported: false,
            reason: Some("no hardware PMU in this VM".into()),
            status: "unsupported: no hardware PMU in this VM (ENOENT)".into(),
            notes: vec![
                "a 4 KiB page needs one TLB entry per 4 KiB; a 2 MiB huge page covers 512× more"
                    .into(),
            ],
            latency: Some(fixture_latency()),
            ..TlbInfo::default()
        },
        comparison: ComparisonState::Done(ComparisonResult {
            pattern: PatternKind::Sequential,
            cache: "warm".into(),
            accesses: 65_536,
            access_size: 8,
            results: vec![
                MethodResult {
                    method: "mmap".into(),
                    ns_per_access: 4.1,
                    ns_per_access_min: 3.9,
                    ns_per_access_max: 4.6,
                    mb_per_s: 1_950.0,
                    minor_faults: 761,
                    major_faults: 0,
                    syscalls: 0,
                    cached_before: Some(PAGES),
                    cached_after: Some(PAGES),
                },
                MethodResult {
                    method: "pread".into(),
                    ns_per_access: 9.8,
                    ns_per_access_min: 9.5,
                    ns_per_access_max: 10.4,
                    mb_per_s: 816.0,
                    minor_faults: 0,
                    major_faults: 0,
                    syscalls: 65_536,
                    cached_before: Some(PAGES),
                    cached_after: Some(PAGES),
                },
            ],
            verdict: "mmap 2.4× faster than pread: sequential, warm".into(),
            why: "65,536 pread syscalls vs 761 minor faults taken".into(),
            notes: vec![],
            outcome: Some("mmap_faster".into()),
        }),
        message: Some("advice normal: readahead up to 8 MiB per fault".into()),
        inspector: None,
        events: vec![
            crate::session::snapshot::LogEntry {
                t_ms: 26_700,
                text: "evicted: 65536 -> 0 pages cached".into(),
            },
            crate::session::snapshot::LogEntry {
                t_ms: 27_100,
                text: "advice normal: MADV_NORMAL: the default readahead on faults (read_ahead_kb 8192)".into(),
            },
        ],
        warning: None,
        compare_cache: crate::session::snapshot::CompareCache::Cold,
        inspected_first_touch: None,
        search: None,
        workloads: Vec::new(),
        grid_mine: None,
        other_mappers: Vec::new(),
        observed: None,
    }
}

/// One second of timed accesses: RAM hits, 44 minor faults and one major, every access
/// timed (a slow rate), so the humps are labelled exactly.
pub fn fixture_latency() -> crate::session::snapshot::LatencyView {
    let mut hist = crate::latency::LatencyHist::default();
    hist.set_timer_overhead_ns(0);
    for (ns, n) in [(12, 900), (40, 60), (1_400, 30), (2_600, 14), (90_000, 1)] {
        for _ in 0..n {
            hist.record(ns);
        }
    }
    crate::session::snapshot::LatencyView {
        hist,
        minor: 44,
        major: 1,
        interval_ms: 1_000,
    }
}

/// The fixture as `mmviz attach` shows it: PID 4242 (python3) observed, no worker, nothing
/// touched by mmviz; `ended` makes it the last screen of an `exec` that exited with 3.
pub fn fixture_observed(ended: bool) -> Snapshot {
    let mut s = fixture_snapshot();
    s.worker = crate::session::snapshot::WorkerInfo::default();
    s.tlb = Default::default();
    s.totals.touched = 0;
    s.totals.ghosts = None;
    s.message = Some("mapped: 1 range(s) of the file mapped".into());
    s.observed = Some(crate::session::snapshot::ObservedInfo {
        command: if ended { "exec" } else { "attach" }.into(),
        pid: 4242,
        comm: "python3".into(),
        argv: None,
        chosen: Some("largest mapped".into()),
        file_note: None,
        files: vec![
            (s.file.path.clone(), 256 << 20),
            ("/usr/lib/libpython3.11.so.1.0".into(), 20 << 20),
        ],
        ranges: 1,
        faults_process: Some(crate::kernel::counters::Faults {
            minor: 4_610,
            major: 14,
        }),
        threads: 1,
        mapped_max: s.totals.mapped,
        cached_before: Some(0),
        maps_note: None,
        pagemap_note: None,
        output: None,
        ended: ended.then_some(crate::session::snapshot::ObservedEnd {
            at_ms: 4_200,
            exit_code: Some(3),
            signal: None,
            status_note: None,
            faults: Some(crate::kernel::counters::Faults {
                minor: 4_610,
                major: 14,
            }),
            faults_final: true,
            mapped_last: s.totals.mapped,
            mapped_max: s.totals.mapped,
            cached_before: Some(0),
            cached_after: s.totals.cached,
        }),
    });
    for c in &mut s.grid.cells {
        c.touched = 0;
        c.recent = 0;
        c.earlier = 0;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_is_consistent() {
        let s = fixture_snapshot();
        let g = &s.grid;
        assert_eq!(g.cells.iter().map(|c| c.pages).sum::<u64>(), PAGES);
        let cached: u64 = g.cells.iter().map(|c| c.cached.unwrap()).sum();
        assert_eq!(Some(cached), s.totals.cached);
        let ghosts: u64 = g.cells.iter().map(|c| c.ghosts().unwrap()).sum();
        assert_eq!(Some(ghosts), s.totals.ghosts);
        assert!(g.cells.iter().any(|c| c.recent > 0));
        // Re-gridding for another area covers the same pages.
        let g2 = fixture_grid(100, 200, 7);
        assert_eq!(g2.cells.iter().map(|c| c.pages).sum::<u64>(), 100);
    }
}
