//! The worker's grep mode: the regex walks the mapping block by block (whole lines, see
//! `patterns::grep`), one batch = at least `n` pages' worth of blocks, reported like the
//! offset patterns' batches. One "access" is one page the search read, so rates, limits and
//! progress keep their meaning (pages per second, one pass = the file's pages).

use super::{Run, Worker};
use crate::workload::patterns::grep::{compile, Grep};
use crate::workload::patterns::PatternKind;
use crate::workload::worker::protocol::{PatternSpec, Progress, WorkerState};
use std::io;
use std::time::Instant;

/// The search state for a grep spec (None for other patterns); a one-line error for a
/// missing or invalid regex, sent back as the Configure ack.
pub(super) fn prepare(spec: &PatternSpec) -> Result<Option<Grep>, String> {
    if spec.kind != PatternKind::Grep {
        return Ok(None);
    }
    let re = spec
        .regex
        .as_deref()
        .ok_or("the grep pattern needs a regex (--regex RE)")?;
    Ok(Some(Grep::new(compile(re)?, spec.max_matches)))
}

/// Copies the search results into a progress report.
pub(super) fn fill(run: &Run, p: &mut Progress) {
    if let Some(g) = &run.grep {
        p.matches = Some(g.matches);
        p.first_matches = g.first.clone();
    }
}

impl Worker {
    pub(super) fn grep_batch(&mut self, n: usize) -> io::Result<()> {
        let ps = self.page_size;
        let (Some(map), Some(g)) = (self.map.as_ref(), self.run.grep.as_mut()) else {
            // Empty file: nothing to search.
            self.run.state = WorkerState::Finished;
            return Ok(());
        };
        let data: &[u8] = match map {
            super::Mapping::Read(m) => m,
            // Grep mode never stores, so this shared view aliases no store through `base`.
            super::Mapping::Write { map, .. } => map,
        };
        let start = g.stopped_at;
        let f0 = self.counters.faults()?;
        let t0 = Instant::now();
        g.run_over(data, n as u64 * ps);
        let dt = t0.elapsed();
        let f1 = self.counters.faults()?;
        // The pages the regex read: from where the last batch stopped to where this one did.
        let end = g.stopped_at.max(start);
        let pages = end.div_ceil(ps) - start.div_ceil(ps);
        let first_page = start / ps;
        let last_page = end.saturating_sub(1) / ps;
        let done = g.done;
        let checksum = g.checksum();

        let r = &mut self.run;
        if r.first_access.is_none() {
            r.first_access = Some(t0);
            r.progress.first_access_mono_ns =
                crate::kernel::counters::mono_ns().saturating_sub(t0.elapsed().as_nanos() as u64);
        }
        r.rate_done += pages.max(1);
        let p = &mut r.progress;
        p.checksum = checksum;
        p.accesses += pages;
        p.batches += 1;
        p.elapsed_ns += dt.as_nanos() as u64;
        let d = f1.since(f0);
        p.faults.minor += d.minor;
        p.faults.major += d.major;
        p.last_batch_faults = d;
        p.last_batch_accesses = pages;
        if done {
            r.state = WorkerState::Finished;
        }
        self.recent.clear();
        if end > start {
            for page in first_page..=last_page {
                if self.touched.insert(page) {
                    self.new_touched.push(page);
                }
            }
            self.recent.push(last_page);
        }
        Ok(())
    }
}
