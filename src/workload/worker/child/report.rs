//! Reports to the parent: one JSON line per message, and the progress report built from the
//! run's counters and the pages touched since the last one.

use super::{grep_mode, Worker};
use crate::workload::worker::protocol::Report;
use std::io::{self, Write};
use std::time::Instant;

impl Worker {
    pub(super) fn send(&mut self, r: &Report) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, r)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }

    pub(super) fn clear_touched(&mut self) {
        self.touched.clear();
        self.new_touched.clear();
        self.recent.clear();
        self.touched_reset = true;
    }

    pub(super) fn report(&mut self) -> io::Result<()> {
        self.seq += 1;
        self.last_report = Instant::now();
        let r = &mut self.run;
        let mut p = r.progress.clone();
        p.seq = self.seq;
        p.state = r.state;
        p.pattern = r.spec.kind;
        p.rate = r.rate;
        p.advice = r.advice;
        p.wall_ns = match (r.first_access, r.finished_at) {
            (Some(a), Some(b)) => b.duration_since(a).as_nanos() as u64,
            (Some(a), None) => a.elapsed().as_nanos() as u64,
            _ => 0,
        };
        p.faults_total = self.counters.faults().unwrap_or_default();
        p.read_bytes = self.counters.read_bytes();
        p.touched_pages = self.touched.len();
        p.touched_reset = std::mem::take(&mut self.touched_reset);
        self.new_touched.sort_unstable();
        p.new_touched = to_runs(&self.new_touched);
        self.new_touched.clear();
        let mut recent = self.recent.clone();
        recent.sort_unstable();
        recent.dedup();
        p.recent = recent;
        grep_mode::fill(&self.run, &mut p);
        self.send(&Report::Progress(p))
    }
}

/// Sorted page indexes to (start, len) runs.
pub fn to_runs(pages: &[u64]) -> Vec<(u64, u64)> {
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for &p in pages {
        match runs.last_mut() {
            Some((s, l)) if *s + *l == p => *l += 1,
            Some((s, l)) if p < *s + *l => {}
            _ => runs.push((p, 1)),
        }
    }
    runs
}
