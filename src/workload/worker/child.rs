//! The worker process: the only process that dereferences the mapping.
//!
//! If the file is truncated under it, touching a page wholly beyond the new end raises SIGBUS,
//! which kills this process and not the viewer. A tiny handler first writes the faulting
//! offset to stderr so the parent can explain what happened (see `sigbus`).
//!
//! This file holds the run's state and the batch (the timed loop); the submodules hold the
//! other concerns: `mapping` (open and map the file), `control` (the main loop and the control
//! messages), `report` (messages to the parent), `write_state` (stores and msync), `loops`
//! (the inner access loops), `grep_mode` and `sigbus`.

use super::protocol::*;
use crate::kernel::advice::Advice;
use crate::kernel::counters::ProcCounters;
use crate::workload::patterns::{PatternIter, PatternKind};
use roaring::RoaringTreemap;
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

mod control;
/// The grep access mode (a regex search is not an offset iterator).
mod grep_mode;
mod loops;
mod mapping;
mod report;
mod sigbus;
mod write_state;

use loops::{access, drive_sampled, share_q16};
pub use loops::{write_access, WriteLoop};
use mapping::{map_file, Mapping};
pub use report::to_runs;
use sigbus::{install_sigbus_handler, MAP_BASE, MAP_LEN};
use write_state::WriteState;

/// Most pages kept for the "recent" front per report.
const RECENT_MAX: usize = 256;
/// Upper bound of a batch at the unlimited rate (bounds the offsets buffer: 512 KiB).
const MAX_BATCH: usize = 64 * 1024;
/// Target duration of one unlimited-rate batch: long enough that per-batch bookkeeping
/// (two /proc reads, ~2.5 µs) is noise, short enough that controls are served promptly.
const BATCH_TARGET: Duration = Duration::from_millis(2);
/// A rate-limited worker that fell behind (stopped by SIGSTOP, a slow disk, a long pause in the
/// scheduler) does not burst to catch up: backlog beyond this much time is dropped.
const MAX_BACKLOG: Duration = Duration::from_millis(100);

/// Entry point of `mmviz __worker FILE` (read-only, default options).
pub fn main(path: &Path) -> i32 {
    main_with(path, &WorkerOptions::default())
}

/// Entry point of `mmviz __worker FILE [--write ...]`. Returns the process exit code.
pub fn main_with(path: &Path, opts: &WorkerOptions) -> i32 {
    let start = Instant::now();
    crate::kernel::sys::die_with_parent();
    match run(path, opts, start) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("worker: {}: {e}", path.display());
            1
        }
    }
}

struct Run {
    iter: PatternIter,
    spec: PatternSpec,
    limit: Limit,
    rate: Option<u64>,
    state: WorkerState,
    advice: Advice,
    report_ms: u64,
    progress: Progress,
    last: u64,
    first_access: Option<Instant>,
    finished_at: Option<Instant>,
    batch: usize,
    /// Rate limiting: accesses allowed so far = rate * running time since `rate_epoch`.
    rate_epoch: Instant,
    rate_done: u64,
    step_pending: bool,
    /// Grep's search state; Some only for the grep pattern (see `grep_mode`).
    grep: Option<crate::workload::patterns::grep::Grep>,
}

struct Worker {
    map: Option<Mapping>,
    write: Option<WriteState>,
    /// The descriptor, when kept open after mmap (`--keep-fd`).
    _fd: Option<File>,
    size: u64,
    page_size: u64,
    counters: ProcCounters,
    touched: RoaringTreemap,
    new_touched: Vec<u64>,
    touched_reset: bool,
    /// Offsets of the current batch, filled by index (MAX_BATCH long, allocated once).
    offs: Vec<u64>,
    recent: Vec<u64>,
    /// Distinct pages/regions accessed since the last report (TLB reach estimate).
    interval: crate::kernel::tlb::IntervalSets,
    out: BufWriter<io::Stdout>,
    run: Run,
    seq: u64,
    last_report: Instant,
}

fn run(path: &Path, opts: &WorkerOptions, start: Instant) -> io::Result<()> {
    let page_size = crate::units::page_size();
    install_sigbus_handler();
    let (map, size, fd) = map_file(path, opts)?;
    if let Some(m) = &map {
        MAP_BASE.store(m.addr(), Ordering::Relaxed);
        MAP_LEN.store(m.len(), Ordering::Relaxed);
    }
    let write = opts.write.map(|_| WriteState {
        share_q16: share_q16(opts.write_share),
        ..WriteState::default()
    });
    let mut w = Worker {
        write,
        _fd: fd,
        counters: ProcCounters::open(None)?,
        touched: RoaringTreemap::new(),
        new_touched: Vec::new(),
        touched_reset: false,
        offs: vec![0; MAX_BATCH],
        recent: Vec::new(),
        interval: crate::kernel::tlb::IntervalSets::for_len(size),
        out: BufWriter::new(io::stdout()),
        run: Run::new(PatternSpec::default(), size, page_size),
        seq: 0,
        last_report: Instant::now(),
        size,
        page_size,
        map,
    };
    w.send(&Report::Hello {
        version: PROTOCOL_VERSION,
        pid: std::process::id(),
        addr: w.map.as_ref().map_or(0, |m| m.addr() as u64),
        len: size,
        page_size,
        startup_ns: start.elapsed().as_nanos() as u64,
    })?;
    w.main_loop()
}

impl Run {
    fn new(spec: PatternSpec, size: u64, page_size: u64) -> Run {
        Run {
            iter: PatternIter::new(&spec.params(size, page_size)),
            spec,
            limit: Limit::OnePass,
            rate: None,
            state: WorkerState::Idle,
            advice: Advice::Normal,
            report_ms: 50,
            progress: Progress::default(),
            last: 0,
            first_access: None,
            finished_at: None,
            // Start small: the first accesses may be slow (cold disk, sparse holes) and the
            // worker answers controls only between batches; it doubles quickly when fast.
            batch: 16,
            rate_epoch: Instant::now(),
            rate_done: 0,
            step_pending: false,
            grep: None,
        }
    }

    fn target(&self) -> Option<u64> {
        match self.limit {
            Limit::OnePass => Some(self.iter.one_pass()),
            Limit::Accesses(n) => Some(n),
            Limit::DurationMs(_) | Limit::Unbounded => None,
        }
    }
}

impl Worker {
    /// Runs a batch if one is due, then reports if a report is due.
    fn tick(&mut self) -> io::Result<()> {
        let step = std::mem::take(&mut self.run.step_pending);
        if self.run.state == WorkerState::Running || step {
            let n = self.batch_size(step);
            if n > 0 {
                self.batch(n)?;
                self.after_batch_msync(n)?;
            }
            if n == 0 && self.map.is_none() {
                // Empty file: batch() marks the run finished.
                self.batch(0)?;
            }
            // batch() finishes by itself on an empty file, where an access count or a
            // duration can never be met: report that too, or the parent waits forever.
            if self.run.state == WorkerState::Finished || self.limit_reached() {
                self.run.state = WorkerState::Finished;
                self.run.finished_at = Some(Instant::now());
                return self.report();
            }
            // At slow rates every batch is reported (each access is visible); otherwise at
            // most every report_ms. A turn that ran nothing reports nothing.
            let slow = n > 0 && self.run.rate.is_some_and(|r| r <= 50);
            if step
                || slow
                || self.last_report.elapsed() >= Duration::from_millis(self.run.report_ms)
            {
                self.report()?;
            }
        }
        Ok(())
    }

    fn limit_reached(&self) -> bool {
        let r = &self.run;
        match r.limit {
            Limit::DurationMs(ms) => r
                .first_access
                .is_some_and(|t| t.elapsed() >= Duration::from_millis(ms)),
            _ => r.target().is_some_and(|t| r.progress.accesses >= t),
        }
    }

    fn batch_size(&mut self, step: bool) -> usize {
        let r = &mut self.run;
        let remaining = r
            .target()
            .map_or(u64::MAX, |t| t.saturating_sub(r.progress.accesses));
        let want = if step {
            // One visible batch: at a slow rate one access, otherwise 1/10 s worth.
            r.rate.map_or(r.batch as u64, |rate| (rate / 10).max(1))
        } else if let Some(rate) = r.rate {
            let elapsed = r.rate_epoch.elapsed();
            let allowed = (elapsed.as_secs_f64() * rate as f64) as u64;
            let backlog = allowed.saturating_sub(r.rate_done);
            let cap = ((rate as f64 * MAX_BACKLOG.as_secs_f64()) as u64).max(1);
            if backlog > cap {
                // Fell behind: restart the rate clock instead of bursting (the accesses owed
                // for the stall are dropped, as a frame-limited renderer drops frames).
                r.rate_epoch = Instant::now();
                r.rate_done = 0;
                1
            } else {
                backlog.min(MAX_BATCH as u64)
            }
        } else {
            r.batch as u64
        };
        let cap = self.msync_cap();
        want.min(remaining).min(MAX_BATCH as u64).min(cap) as usize
    }

    fn batch(&mut self, n: usize) -> io::Result<()> {
        if self.run.grep.is_some() {
            return self.grep_batch(n);
        }
        let Some(mapping) = self.map.as_ref() else {
            // Empty file: nothing to access; count nothing.
            self.run.state = WorkerState::Finished;
            return Ok(());
        };
        // Write mode touches the mapping through its raw base only (see Mapping::Write).
        let (map, wbase): (&[u8], Option<*mut u8>) = match mapping {
            Mapping::Read(m) => (&m[..], None),
            Mapping::Write { base, .. } => (&[], Some(*base)),
        };
        let mut wacc = self.write.as_ref().map_or(0, |w| w.acc);
        let share_q16 = self.write.as_ref().map_or(0, |w| w.share_q16);
        let scan = self.run.spec.kind == PatternKind::Scan;
        let size = if scan {
            self.page_size
        } else {
            self.run.spec.access_size
        };
        let f0 = self.counters.faults()?;
        let mut last = self.run.last;
        let mut sum = self.run.progress.checksum;
        // A local copy, so its state can live in registers for the whole loop.
        let mut it = self.run.iter.clone();
        let iter = &mut it;
        // A slice of exactly n slots written in order: unlike Vec::push, no capacity check
        // and no length store per access, so the timed loop stays as small as a plain one.
        let offs = &mut self.offs[..n];
        // Chase's next offset depends on the bytes read, so its offsets are recorded as they
        // are drawn (a dependent load hides the store). Every other pattern ignores `last`:
        // the timed loop then stores nothing, and the offsets are recovered after the clock
        // stops by replaying a clone of the iterator.
        let record = self.run.spec.kind == PatternKind::Chase;
        let replay = (!record).then(|| iter.clone());
        // The last `k` accesses of the batch are timed one by one (1 in N; N from the rate).
        let lat = &mut self.run.progress.latency;
        if !lat.calibrated() {
            lat.calibrate();
        }
        let k =
            lat.take_samples(n as u64, crate::latency::sample_every_for(self.run.rate)) as usize;
        let t0 = Instant::now();
        if let Some(base) = wbase {
            let w = WriteLoop {
                base,
                fsize: self.size,
                size,
                scan,
                share_q16,
            };
            // SAFETY: base..base+size is this worker's writable mapping (live for the
            // worker's life); the pattern keeps off + len <= size.
            last = unsafe { w.run(iter, offs, record, last, k, lat, &mut wacc, &mut sum) };
        } else if scan {
            let fsize = self.size;
            let f = |off: u64| {
                let len = (fsize - off).min(size) as usize;
                let v = access(map, off, len);
                sum = sum.wrapping_add(v);
                v
            };
            last = drive_sampled(iter, offs, record, last, k, lat, f);
        } else if size == 1 {
            // The classic case, kept free of any size logic: one volatile load per access.
            let f = |off: u64| {
                let v = access(map, off, 1);
                sum = sum.wrapping_add(v);
                v
            };
            last = drive_sampled(iter, offs, record, last, k, lat, f);
        } else {
            let size = size as usize;
            let f = |off: u64| {
                let v = access(map, off, size);
                sum = sum.wrapping_add(v);
                v
            };
            last = drive_sampled(iter, offs, record, last, k, lat, f);
        }
        let t1 = Instant::now();
        if let Some(mut r) = replay {
            for slot in offs.iter_mut() {
                *slot = r.next_offset(0);
            }
        }
        self.run.iter = it;
        if let Some(w) = self.write.as_mut() {
            w.acc = wacc;
        }
        let f1 = self.counters.faults()?;
        let dt = t1.duration_since(t0);

        let r = &mut self.run;
        r.last = last;
        if r.first_access.is_none() {
            r.first_access = Some(t0);
            r.progress.first_access_mono_ns =
                crate::kernel::counters::mono_ns().saturating_sub(t0.elapsed().as_nanos() as u64);
        }
        r.rate_done += n as u64;
        let p = &mut r.progress;
        p.checksum = sum;
        p.accesses += n as u64;
        p.batches += 1;
        p.elapsed_ns += dt.as_nanos() as u64;
        let d = f1.since(f0);
        p.faults.minor += d.minor;
        p.faults.major += d.major;
        p.last_batch_faults = d;
        p.last_batch_accesses = n as u64;
        // Adapt the unlimited-rate batch so one batch takes about BATCH_TARGET.
        if r.rate.is_none() {
            if dt < BATCH_TARGET / 2 && r.batch < MAX_BATCH {
                r.batch *= 2;
            } else if dt > BATCH_TARGET * 4 && r.batch > 16 {
                r.batch /= 2;
            }
        }

        // Bookkeeping, outside the timed window: touched pages and the recent front.
        let ps = self.page_size;
        let access_pages = if scan { 1 } else { size.div_ceil(ps).max(1) };
        self.recent.clear();
        let offs = &self.offs[..n];
        let stride = (n / RECENT_MAX).max(1);
        let sets = &mut self.interval;
        sets.start(self.seq);
        for (i, &off) in offs.iter().enumerate() {
            sets.insert(off);
            let first = off / ps;
            let last_page = (off + size.max(1) - 1).min(self.size - 1) / ps;
            for p in first..=last_page.min(first + access_pages) {
                if self.touched.insert(p) {
                    self.new_touched.push(p);
                }
            }
            if i % stride == 0 || i + 1 == n {
                self.recent.push(first);
            }
        }
        let p = &mut self.run.progress;
        (p.interval_pages, p.interval_regions) = self.interval.counts();
        Ok(())
    }
}

#[cfg(test)]
mod tests;
