//! Building the observed session's [`Snapshot`]: the file, the observed process, the grid
//! over the view (cachestat per cell, the last sample's page-table runs), totals and faults.

use super::{ObservedRuns, ObservedSession};
use crate::observe::{Chosen, Observer};
use crate::session::grid::{self, PresenceSource};
use crate::session::snapshot::*;
use crate::units::page_size;

impl ObservedSession {
    fn file_info(&self) -> FileInfo {
        use std::os::unix::fs::MetadataExt;
        let Some(w) = self.obs.watched() else {
            return FileInfo {
                page_size: page_size(),
                thp_mode: crate::kernel::fsinfo::thp_mode(),
                ..Default::default()
            };
        };
        let t = &w.target;
        FileInfo {
            path: crate::inspect::escape_path(&t.path.display().to_string()),
            size_bytes: t.size,
            page_size: page_size(),
            pages: w.pages(),
            filesystem: t.fs.clone(),
            read_ahead_kb: crate::kernel::fsinfo::read_ahead_kb(&t.file),
            thp_mode: crate::kernel::fsinfo::thp_mode(),
            is_demo: false,
            allocated_bytes: t.file.metadata().ok().map(|m| m.blocks() * 512),
            notice: None,
            write: None,
        }
    }

    pub(super) fn observed_info(&self) -> ObservedInfo {
        let o = &self.obs;
        let w = o.watched();
        ObservedInfo {
            command: self.opts.command.to_string(),
            pid: o.pid(),
            comm: crate::text::escape_controls(o.comm()).to_string(),
            argv: self.opts.exec.as_ref().map(|e| e.argv.clone()),
            chosen: w.map(|w| {
                match w.chosen {
                    Chosen::Given => "given",
                    Chosen::LargestMapped => "largest mapped",
                    Chosen::Picked => "picked with f",
                }
                .to_string()
            }),
            file_note: o.file_note.clone(),
            files: o
                .candidates
                .iter()
                .map(|(p, _, m)| (crate::inspect::escape_path(p), *m))
                .collect(),
            ranges: w.map_or(0, |w| w.ranges.len()),
            faults_process: o.last.faults,
            threads: o.last.threads.len(),
            mapped_max: o.mapped_max,
            cached_before: self.cached_before(),
            maps_note: o.maps_note().map(str::to_string),
            pagemap_note: o.pagemap_note().map(str::to_string),
            output: self.opts.exec.as_ref().map(|e| match &e.output {
                Some((p, _)) => format!("stdin /dev/null; stdout and stderr to {p} (m shows them)"),
                None => "stdin /dev/null; stdout and stderr discarded".to_string(),
            }),
            ended: self.ended.clone(),
        }
    }

    pub(super) fn snapshot(&mut self) -> Snapshot {
        let file = self.file_info();
        let pages = file.pages;
        let (vs, ve, vc) = self.view;
        let cells = if vc == 0 { 2000 } else { vc };
        let readable = self.obs.pagemap_note().is_none() && self.obs.maps_note().is_none();
        let Observer {
            watched, last_runs, ..
        } = &mut self.obs;
        let (grid, totals_cache, caps) = match watched.as_mut() {
            Some(w) => {
                let mut src = ObservedRuns { runs: last_runs };
                let g = grid::sample_with(
                    &mut w.probe,
                    readable.then_some(&mut src as &mut dyn PresenceSource),
                    None,
                    &[],
                    vs.min(pages),
                    ve.min(pages),
                    cells,
                    &mut self.scratch,
                )
                .unwrap_or_default();
                let whole = w.probe.range(0, pages).ok().flatten();
                let caps = Capabilities {
                    cache_source: w.probe.source(),
                    cache_state_visible: w.probe.visible(),
                    cache_note: w.probe.note().map(str::to_string),
                    pagemap: PagemapSource::Unavailable,
                    pagemap_note: None,
                };
                (g, whole, caps)
            }
            None => (
                GridData::default(),
                None,
                Capabilities {
                    cache_state_visible: true,
                    ..Default::default()
                },
            ),
        };
        let mut caps = caps;
        caps.pagemap = self.obs.pagemap_source();
        caps.pagemap_note = self
            .obs
            .pagemap_note()
            .or(self.obs.maps_note())
            .map(|_| format!("/proc/{} is not readable to us", self.obs.pid()));
        let (mapped, private) = if readable {
            let (m, p) = crate::kernel::pagemap::count_in(&self.obs.last_runs, 0, u64::MAX, &mut 0);
            (Some(m), Some(p))
        } else {
            (None, None)
        };
        let mapped = mapped.filter(|_| self.obs.watched().is_some());
        let totals = Totals {
            cached: totals_cache.map(|r| r.cached),
            dirty: totals_cache.and_then(|r| r.dirty),
            writeback: totals_cache.and_then(|r| r.writeback),
            mapped,
            private: private.filter(|_| mapped.is_some()),
            touched: 0,
            ghosts: None,
        };
        let faults_now = self.obs.last.faults.unwrap_or_default();
        // /proc/PID/io is gone once the process is reaped: keep its last reading.
        if self.ended.is_none() {
            if let Some(r) = self.counters.as_mut().and_then(|c| c.read_bytes()) {
                self.last_read = Some(r);
            }
        }
        let read = self.last_read;
        let sparse = file.allocated_bytes.is_some_and(|a| a < file.size_bytes);
        let mut faults = self.interval.sample(
            faults_now,
            read,
            totals.cached,
            totals
                .mapped
                .map(|m| m.saturating_sub(self.mapped_at_start)),
            sparse,
        );
        if self.ended.is_some() {
            faults.minor_rate = 0.0;
            faults.major_rate = 0.0;
        }
        self.seq += 1;
        let inspector = match self.obs.watched() {
            Some(w) => self.inspector.tick(&w.target),
            None => None,
        };
        let skip = self.log.len().saturating_sub(EVENTS_KEPT);
        Snapshot {
            schema_version: 3,
            seq: self.seq,
            t_ms: self.started.elapsed().as_millis() as u64,
            tlb: TlbInfo {
                status: "not measured: observing another program".into(),
                ..Default::default()
            },
            worker: WorkerInfo {
                pid: None,
                state: if self.ended.is_some() {
                    RunState::Finished
                } else {
                    RunState::Running
                },
                ..Default::default()
            },
            file,
            caps,
            grid,
            totals,
            faults,
            comparison: ComparisonState::Idle,
            message: self.message.clone(),
            inspector,
            events: self.log.iter().skip(skip).cloned().collect(),
            warning: None,
            compare_cache: CompareCache::Cold,
            inspected_first_touch: None,
            search: None,
            workloads: Vec::new(),
            grid_mine: None,
            other_mappers: Vec::new(),
            observed: Some(self.observed_info()),
        }
    }
}
