//! Building the snapshot: one grid sample over the view (cachestat per cell, one page-table
//! scan), whole-file totals, the interval's derived figures, and the file's changes.

use super::Session;
use crate::session::grid::{self, MappedSource};
use crate::session::snapshot::*;
use crate::units::{human_bytes, page_size};
use crate::workload::worker::WorkerState;
use std::time::{Duration, Instant};

/// How often the whole-file mapped total is re-walked while the grid shows part of the file.
const WHOLE_MAPPED_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

impl Session {
    /// The latest sample with the current settings, state and message: the immediate answer
    /// to a key, without the cost of sampling.
    pub(super) fn quick_snapshot(&mut self) -> Snapshot {
        let Some(mut s) = self.last_sent.clone() else {
            return self.snapshot();
        };
        self.seq += 1;
        s.seq = self.seq;
        s.t_ms = self.started.elapsed().as_millis() as u64;
        s.worker = self.worker_info();
        s.workloads = self.workload_views();
        s.caps = self.caps.clone();
        s.file = self.file.clone();
        s.comparison = self.comparison.clone();
        s.compare_cache = self.compare_cache;
        s.warning = self.warning.clone();
        s.events = self.events();
        if let Some(m) = self.message.take() {
            s.message = Some(m);
        }
        s.inspector = self.inspector.current();
        s.inspected_first_touch = self.inspected_first_touch();
        s.search = self.search_view();
        s
    }

    /// The grep or bsearch pattern's search, for the search panel.
    fn search_view(&self) -> Option<crate::session::snapshot::SearchView> {
        use crate::session::snapshot::SearchView;
        use crate::workload::patterns::{bsearch, PatternKind};
        match self.w.spec.kind {
            PatternKind::Grep => Some(SearchView::Grep {
                regex: self.w.spec.regex.clone().unwrap_or_default(),
                default_regex: self.opts.spec.regex.is_none(),
                max_matches: self.w.spec.max_matches,
                matches: self.w.progress.matches.unwrap_or(0),
                first_matches: self.w.progress.first_matches.clone(),
            }),
            PatternKind::Bsearch => {
                let records = bsearch::records(self.file.size_bytes);
                Some(SearchView::Bsearch {
                    records,
                    record_size: bsearch::RECORD_SIZE,
                    max_probes: bsearch::max_probes(records),
                })
            }
            _ => None,
        }
    }

    fn events(&self) -> Vec<LogEntry> {
        let skip = self.log.len().saturating_sub(EVENTS_KEPT);
        self.log.iter().skip(skip).cloned().collect()
    }

    pub(super) fn worker_info(&self) -> WorkerInfo {
        let state = if let Some(r) = &self.w.dead {
            RunState::Dead { reason: r.clone() }
        } else if let Some(r) = &self.w.stopped {
            RunState::Stopped { reason: r.clone() }
        } else {
            match self.w.progress.state {
                WorkerState::Idle => RunState::Starting,
                WorkerState::Running => RunState::Running,
                WorkerState::Paused => RunState::Paused,
                WorkerState::Finished => RunState::Finished,
            }
        };
        WorkerInfo {
            pid: self.w.worker.as_ref().map(|w| w.handle.pid()),
            state,
            pattern: self.w.spec.kind,
            rate: self.w.rate,
            advice: self.w.advice,
            access_size: self.w.spec.access_size,
            accesses: self
                .w
                .progress
                .accesses
                .saturating_sub(self.w.interval.accesses_at_start),
            batches: self.w.progress.batches,
        }
    }

    pub(super) fn snapshot(&mut self) -> Snapshot {
        self.check_file();
        let now = Instant::now();
        let dt = now.duration_since(self.last_tick).as_secs_f64().max(1e-3);
        let extent = self.extent_pages();
        let (vs, ve, vc) = self.view;
        let cells = if vc == 0 { 2000 } else { vc };
        let recent = self.union_recent();
        let union_touched = (!self.others.is_empty()).then(|| self.union_touched().into_owned());
        let selected_maps = self.w.worker.as_ref().is_some_and(|w| w.pagemap.is_some());
        let grid_res = {
            // The selected workload's page table first (its huge mappings, its own share).
            let mut sources: Vec<MappedSource> = std::iter::once(&mut self.w.worker)
                .chain(self.others.iter_mut().map(|o| &mut o.worker))
                .filter_map(|w| w.as_mut())
                .filter_map(|w| {
                    let addr = w.handle.map.addr;
                    let mp = w.handle.map.len.div_ceil(page_size());
                    w.pagemap.as_mut().map(|r| MappedSource {
                        reader: r,
                        addr,
                        pages: mp,
                    })
                })
                .collect();
            let mut dyns: Vec<&mut dyn grid::PresenceSource> = sources
                .iter_mut()
                .map(|m| m as &mut dyn grid::PresenceSource)
                .collect();
            grid::sample_many(
                &mut self.probe,
                &mut dyns,
                Some(union_touched.as_ref().unwrap_or(&self.w.touched)),
                &recent,
                vs,
                ve.min(extent),
                cells,
                &mut self.scratch,
            )
        };
        let (grid_res, mut grid_mine) = match grid_res {
            Ok((g, m)) => (Ok(g), m),
            Err(e) => (Err(e), None),
        };
        if !self.others.is_empty() && !selected_maps {
            // The selected worker is gone or its page table unreadable: it maps nothing we
            // can show as its own.
            grid_mine = None;
        }
        let mut grid = grid_res.unwrap_or_else(|e| {
            self.say(format!("sampling failed: {e}"));
            GridData::default()
        });
        // Pages that were cached before the interval began and are still untouched.
        let ppc = grid.pages_per_cell.max(1);
        let mut earlier = vec![0u64; grid.cells.len()];
        self.provenance
            .count_cells(grid.start_page, ppc, &mut earlier);
        for (c, e) in grid.cells.iter_mut().zip(earlier) {
            c.earlier = e;
        }
        if self.file.pages < extent && self.file.pages < grid.end_page {
            grid.eof_page = Some(self.file.pages);
        }
        // Whole-file totals: from the grid when it shows the whole extent, else separately.
        let whole = grid.start_page == 0 && grid.end_page == extent;
        let totals = self.totals(&grid, whole);
        // The selected workload's own mapped pages (the totals are the union).
        let own_mapped = match (&grid_mine, whole) {
            _ if self.others.is_empty() => totals.mapped,
            (Some(m), true) => Some(m.iter().sum()),
            _ => self.w.mapped,
        };

        let has_worker = self.w.worker.is_some();
        let (faults, read) = match self.w.worker.as_mut().and_then(|w| w.counters.as_mut()) {
            Some(c) => (c.faults().ok(), c.read_bytes()),
            // The worker's /proc is unreadable to us (hidepid): its own reports carry the
            // counts it reads from /proc/self (start-up faults included).
            None if has_worker => (
                Some(self.w.progress.faults_total),
                self.w.progress.read_bytes,
            ),
            None => (None, None),
        };
        let faults_now = faults.unwrap_or_default();
        let sparse = self
            .file
            .allocated_bytes
            .is_some_and(|a| a < self.file.size_bytes);
        let fault_stats =
            self.w
                .interval
                .sample(faults_now, read, totals.cached, own_mapped, sparse);
        self.w.faults = fault_stats.clone();
        self.refresh_process();
        self.sample_others(totals.cached, sparse);

        if let Some(c) = self.w.worker.as_ref().and_then(|w| w.dtlb.as_ref()) {
            let v = c.read();
            if let Some((pv, pa)) = self.w.last_dtlb {
                let da = self.w.progress.accesses.saturating_sub(pa);
                self.tlb.hardware = Some(crate::kernel::tlb::rates(&pv, &v, dt, da));
            }
            self.w.last_dtlb = Some((v, self.w.progress.accesses));
        }
        // Labelled estimate (pages of the latest report interval vs TLB entries) and the
        // worker's huge (PMD) mappings of the file from its smaps.
        // Latency: a new view about once a second, from two cumulative reports (the faults
        // are the same reports' timed-window deltas, so both cover the same batches).
        let (hist, faults) = (&self.w.progress.latency, self.w.progress.faults);
        match &self.w.last_latency {
            Some((_, prev, _)) if hist.count() < prev.count() => {
                // The worker was reconfigured: its counts restarted.
                self.w.last_latency = Some((now, hist.clone(), faults));
                self.tlb.latency = None;
            }
            Some((t, prev, pf)) if now.duration_since(*t) >= Duration::from_secs(1) => {
                let d = faults.since(*pf);
                self.tlb.latency = Some(LatencyView {
                    hist: hist.since(prev),
                    minor: d.minor,
                    major: d.major,
                    interval_ms: now.duration_since(*t).as_millis() as u64,
                });
                self.w.last_latency = Some((now, hist.clone(), faults));
            }
            Some(_) => {}
            None => self.w.last_latency = Some((now, hist.clone(), faults)),
        }
        // Only while running: a paused or finished worker touched nothing "last interval".
        let running = self.w.progress.state == WorkerState::Running;
        self.tlb.estimate = (running && self.w.progress.interval_pages > 0).then(|| {
            crate::kernel::tlb::reach_estimate(
                &self.tlb.geometry,
                self.w.progress.interval_pages,
                self.w.progress.interval_regions,
            )
        });
        self.tlb.huge = self.w.worker.as_ref().and_then(|w| {
            crate::kernel::tlb::huge_mapped(w.handle.pid(), w.handle.map.addr, w.handle.map.len)
                .ok()
        });
        self.check_memory(totals.cached);
        self.finish_pending(totals.cached);
        self.last_tick = now;
        self.seq += 1;

        Snapshot {
            schema_version: 3,
            seq: self.seq,
            t_ms: self.started.elapsed().as_millis() as u64,
            file: self.file.clone(),
            caps: self.caps.clone(),
            worker: self.worker_info(),
            grid,
            totals,
            faults: fault_stats,
            tlb: self.tlb.clone(),
            comparison: self.comparison.clone(),
            message: self
                .message
                .take()
                .or_else(|| self.last_sent.as_ref().and_then(|s| s.message.clone())),
            inspector: self.inspector.tick(&self.target),
            events: self.events(),
            warning: self.warning.clone(),
            compare_cache: self.compare_cache,
            inspected_first_touch: self.inspected_first_touch(),
            search: self.search_view(),
            workloads: self.workload_views(),
            grid_mine,
            observed: None,
            other_mappers: self.other_mappers(now),
        }
    }

    /// The other workloads' faults over their own intervals and their /proc views.
    fn sample_others(&mut self, cached: Option<u64>, sparse: bool) {
        for i in 0..self.others.len() {
            std::mem::swap(&mut self.w, &mut self.others[i]);
            self.foreign = true;
            let has_worker = self.w.worker.is_some();
            let (faults, read) = match self.w.worker.as_mut().and_then(|w| w.counters.as_mut()) {
                Some(c) => (c.faults().ok(), c.read_bytes()),
                None if has_worker => (
                    Some(self.w.progress.faults_total),
                    self.w.progress.read_bytes,
                ),
                None => (None, None),
            };
            let mapped = self.w.mapped;
            self.w.faults =
                self.w
                    .interval
                    .sample(faults.unwrap_or_default(), read, cached, mapped, sparse);
            self.refresh_process();
            self.foreign = false;
            std::mem::swap(&mut self.w, &mut self.others[i]);
        }
    }

    fn inspected_first_touch(&self) -> Option<FirstTouch> {
        let page = self.inspector.current()?.page_index;
        self.w.first_touch.get(&page).copied()
    }

    /// Warns (once per interval) when this file's cached pages pass half of the memory that
    /// was available when the session started: a workload over a huge sparse file can fill
    /// the machine's memory with zero pages in seconds.
    fn check_memory(&mut self, cached: Option<u64>) {
        let (Some(c), Some(avail)) = (cached, self.mem_available_at_start) else {
            return;
        };
        let bytes = c * page_size();
        if self.warning.is_none() && bytes > avail / 2 {
            let w = format!(
                "this file's page cache holds {}, over half of the {} that was available at the start: space pauses, e evicts",
                human_bytes(bytes),
                human_bytes(avail)
            );
            self.warning = Some(w.clone());
            self.say(w);
        }
    }

    fn totals(&mut self, grid: &GridData, whole: bool) -> Totals {
        let sum = |f: fn(&CellCounts) -> Option<u64>| -> Option<u64> {
            grid.cells.iter().map(f).sum::<Option<u64>>()
        };
        let (cached, dirty, writeback) = if whole {
            (sum(|c| c.cached), sum(|c| c.dirty), sum(|c| c.writeback))
        } else {
            // Coarse cells over the whole file, refreshed within a budget; the totals show the
            // latest complete pass (every pass on files whose cache is small).
            let pages = self.probe.pages();
            if let Ok(g) = grid::sample(
                &mut self.probe,
                None,
                None,
                &[],
                0,
                pages,
                1024,
                &mut self.whole_scratch,
            ) {
                if g.unsampled == 0 {
                    let s = |f: fn(&CellCounts) -> Option<u64>| -> Option<u64> {
                        g.cells.iter().map(f).sum::<Option<u64>>()
                    };
                    self.whole_cached = Some((s(|c| c.cached), s(|c| c.dirty), s(|c| c.writeback)));
                }
            }
            self.whole_cached.unwrap_or((None, None, None))
        };
        let (mapped, private) = if whole {
            (sum(|c| c.mapped), sum(|c| c.private))
        } else if let Some((at, v)) = self
            .whole_mapped
            .filter(|(at, _)| at.elapsed() < WHOLE_MAPPED_EVERY)
        {
            // Walking the page table of a whole 16 TiB mapping took 30-130 ms here: while the
            // grid shows part of the file, the whole-file mapped total is refreshed once a
            // second.
            let _ = at;
            v
        } else {
            self.walk_whole_mapped()
        };
        let touched = if self.others.is_empty() {
            self.w.touched.len()
        } else {
            self.union_touched().len()
        };
        let earlier = self.provenance.len();
        Totals {
            cached,
            dirty,
            writeback,
            mapped,
            private,
            touched,
            ghosts: cached.map(|c| c.saturating_sub(touched).saturating_sub(earlier)),
        }
    }
}

impl Session {
    /// Walks every workload's page table over its whole mapping: each one's own file pages
    /// (`Slot::mapped`) and the union (file pages, private copies) any of them maps.
    fn walk_whole_mapped(&mut self) -> super::MappedPrivate {
        let ps = page_size();
        let mut lists = Vec::new();
        let mut any = false;
        self.each(|s| {
            s.w.mapped = None;
            let Some(w) = s.w.worker.as_mut() else { return };
            let mp = w.handle.map.len.div_ceil(ps);
            let addr = w.handle.map.addr;
            let Some(r) = w.pagemap.as_mut() else { return };
            let mut runs = Vec::new();
            if r.present_runs(addr, mp, ps, &mut runs).is_ok() {
                let (f, _) = crate::kernel::pagemap::count_in(&runs, 0, u64::MAX, &mut 0);
                s.w.mapped = Some(f);
                lists.push(runs);
                any = true;
            }
        });
        if !any {
            return (None, None);
        }
        let runs = grid::union_runs(lists);
        let (f, p) = crate::kernel::pagemap::count_in(&runs, 0, u64::MAX, &mut 0);
        self.whole_mapped = Some((Instant::now(), (Some(f), Some(p))));
        (Some(f), Some(p))
    }
}
