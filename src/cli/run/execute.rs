//! One measured pattern in a fresh worker: spawn, configure, follow its reports, sample the
//! page table and cache before it unmaps, msync if asked, and build the [`RunReport`].

use super::{MsyncPlan, ProcessView, RunExtras, RunReport, WriteOutcome};
use crate::error::{io_reason, AppError, Result};
use crate::kernel::advice::Advice;
use crate::kernel::cache;
use crate::kernel::counters::mono_ns;
use crate::kernel::pagemap::PagemapReader;
use crate::kernel::residency::CacheProbe;
use crate::kernel::target::Target;
use crate::units::page_size;
use crate::workload::patterns::PatternKind;
use crate::workload::worker::{
    Control, Event, Limit, PatternSpec, Progress, Report, WorkerHandle, WorkerState,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

fn rt(t: &Target, e: impl std::fmt::Display) -> AppError {
    AppError::runtime(format!("{}: {e}", t.path.display()))
}

/// Runs one measured pattern in a fresh worker. Used by `run`, the tests and benchmarks.
#[allow(clippy::too_many_arguments)]
pub fn execute(
    t: &Target,
    spec: PatternSpec,
    advice: Advice,
    rate: Option<u64>,
    limit: Limit,
    cold: bool,
    progress_lines: bool,
    interrupted: &AtomicBool,
) -> Result<RunReport> {
    execute_with(
        t,
        spec,
        advice,
        rate,
        limit,
        cold,
        progress_lines,
        interrupted,
        &RunExtras::default(),
    )
}

/// `execute` with a write mode, msync plan and address-space limit for the worker.
#[allow(clippy::too_many_arguments)]
pub fn execute_with(
    t: &Target,
    spec: PatternSpec,
    advice: Advice,
    rate: Option<u64>,
    limit: Limit,
    cold: bool,
    progress_lines: bool,
    interrupted: &AtomicBool,
    extras: &RunExtras,
) -> Result<RunReport> {
    let mut probe = CacheProbe::new(&t.file, t.size, &t.fs).map_err(|e| rt(t, io_reason(&e)))?;
    let pages = probe.pages();
    if cold {
        cache::evict(
            &t.file,
            &mut probe,
            0,
            pages,
            &[],
            t.fs.can_evict,
            t.fs.note.as_deref(),
        )
        .map_err(|e| rt(t, io_reason(&e)))?;
    }
    let spawn_mono = mono_ns();
    let mut w = WorkerHandle::spawn_with(&t.path, &extras.worker, Duration::from_secs(10))
        .map_err(|e| rt(t, e))?;
    let mut msync_ns = 0u64;
    let mut msync_calls = 0u64;
    let mut msync_error: Option<String> = None;
    if let MsyncPlan::Every(n) = extras.msync {
        w.send(&Control::MsyncEvery { every: Some(n) })
            .map_err(|e| rt(t, e))?;
    }
    if advice != Advice::Normal {
        w.send(&Control::Advise { advice }).map_err(|e| rt(t, e))?;
    }
    let cached_before = probe.range(0, pages).map_err(|e| rt(t, io_reason(&e)))?;
    w.send(&Control::Configure {
        pattern: spec.clone(),
        limit,
        rate,
        paused: false,
        report_ms: 100,
    })
    .map_err(|e| rt(t, e))?;
    let last: Progress = loop {
        if interrupted.load(Ordering::Relaxed) {
            w.kill_and_explain();
            return Err(AppError::interrupted("interrupted"));
        }
        let ev = match w.recv(Duration::from_millis(100)) {
            None => continue,
            Some(Event::Report(r)) => *r,
            Some(Event::Closed) => {
                let d = w.death();
                return Err(rt(t, d.reason));
            }
        };
        match ev {
            Report::Ack {
                what,
                error: Some(e),
            } => {
                w.kill_and_explain();
                return Err(rt(t, format!("worker refused {what}: {e}")));
            }
            Report::Msynced { ns, error, .. } => {
                msync_ns += ns;
                msync_calls += 1;
                if error.is_some() {
                    msync_error = error;
                }
            }
            Report::Progress(p) => {
                if progress_lines {
                    eprintln!(
                        "progress: {} accesses, {} minor, {} major faults, {} pages touched",
                        p.accesses, p.faults.minor, p.faults.major, p.touched_pages
                    );
                }
                if p.state == WorkerState::Finished {
                    break p;
                }
            }
            _ => {}
        }
    };
    // Sample before the worker unmaps: its page table, then the cache.
    let mut mapped_source = None;
    let (mapped_after, private_after) = match PagemapReader::open(w.pid()) {
        Ok(mut r) => {
            mapped_source = Some(r.source());
            let mut runs = Vec::new();
            let ps = page_size();
            let mp = w.map.len.div_ceil(ps);
            match r.present_runs(w.map.addr, mp, ps, &mut runs) {
                Ok(()) if w.map.addr != 0 || mp == 0 => {
                    let (f, p) = crate::kernel::pagemap::count_in(&runs, 0, u64::MAX, &mut 0);
                    (Some(f), Some(p))
                }
                _ => (None, None),
            }
        }
        Err(_) => (None, None),
    };
    let process = process_view(w.pid(), &t.path, extras.worker.address_space);
    let cached_after = probe.range(0, pages).map_err(|e| rt(t, io_reason(&e)))?;
    let write = match (extras.worker.write, &extras.scratch_file) {
        (Some(mode), Some(scratch)) => {
            let before = cached_after;
            let mut pages_synced = None;
            let after = match extras.msync {
                MsyncPlan::Sync | MsyncPlan::Async => {
                    let sync = extras.msync == MsyncPlan::Sync;
                    let (ns, err) = msync_now(&mut w, sync, interrupted).map_err(|e| rt(t, e))?;
                    msync_ns += ns;
                    msync_calls += 1;
                    msync_error = err.or(msync_error);
                    let after = probe.range(0, pages).map_err(|e| rt(t, io_reason(&e)))?;
                    pages_synced = match (before.and_then(|b| b.dirty), after.and_then(|a| a.dirty))
                    {
                        (Some(b), Some(a)) => Some(b.saturating_sub(a)),
                        _ => None,
                    };
                    after
                }
                MsyncPlan::None | MsyncPlan::Every(_) => before,
            };
            Some(WriteOutcome {
                scratch_file: scratch.display().to_string(),
                source_size: extras.copy_of.map(|c| c.0),
                scratch_size: t.size,
                scratch_data_bytes: extras.copy_of.map(|c| c.1),
                write_mode: mode,
                write_share: extras.worker.write_share,
                msync: extras.msync.to_string(),
                dirty_before_msync: before.and_then(|c| c.dirty),
                writeback_before_msync: before.and_then(|c| c.writeback),
                dirty_after: after.and_then(|c| c.dirty),
                writeback_after: after.and_then(|c| c.writeback),
                msync_ns: (msync_calls > 0).then_some(msync_ns),
                msync_calls,
                msync_pages: pages_synced,
                msync_ns_per_page: pages_synced
                    .filter(|&p| p > 0)
                    .map(|p| msync_ns as f64 / p as f64),
                msync_error,
                dirty_expire_centisecs: crate::kernel::machine::vm_sysctl("dirty_expire_centisecs"),
                dirty_writeback_centisecs: crate::kernel::machine::vm_sysctl(
                    "dirty_writeback_centisecs",
                ),
            })
        }
        _ => None,
    };
    w.stop(Duration::from_secs(5));

    let (cb, ca) = (
        cached_before.map(|c| c.cached),
        cached_after.map(|c| c.cached),
    );
    let faults = last.faults;
    Ok(RunReport {
        machine: crate::kernel::machine::Machine::detect(Some(&t.file)),
        schema_version: 1,
        path: t.path.display().to_string(),
        pattern: spec.kind,
        seed: spec.seed,
        access_size: if matches!(spec.kind, PatternKind::Scan | PatternKind::Grep) {
            page_size()
        } else {
            spec.access_size
        },
        advice,
        rate,
        cold,
        accesses: last.accesses,
        elapsed_ns: last.elapsed_ns,
        wall_ns: last.wall_ns,
        ns_per_access: (last.accesses > 0).then(|| last.elapsed_ns as f64 / last.accesses as f64),
        latency_histogram: last.latency.buckets(),
        latency_sampled_every: last.latency.sampled_every(),
        latency_samples: last.latency.count(),
        latency_timer_overhead_ns: last.latency.timer_overhead_ns(),
        latency_ns_p50: last.latency.quantile_ns(0.5),
        latency_ns_p99: last.latency.quantile_ns(0.99),
        latency_ns_max: (last.latency.count() > 0).then_some(last.latency.max_ns()),
        minor_faults: faults.minor,
        major_faults: faults.major,
        page_size: page_size(),
        pages,
        cached_before: cb,
        cached_after: ca,
        mapped_after,
        mapped_source,
        private_after,
        touched_pages: last.touched_pages,
        pages_cached_per_major_fault: match (cb, ca) {
            (Some(b), Some(a)) if faults.major > 0 => {
                Some(a.saturating_sub(b) as f64 / faults.major as f64)
            }
            _ => None,
        },
        pages_mapped_per_fault: mapped_after
            .filter(|_| faults.total() > 0)
            .map(|m| m as f64 / faults.total() as f64),
        read_bytes: last.read_bytes,
        cache_state_visible: probe.visible(),
        filesystem: t.fs.name.clone(),
        checksum: last.checksum,
        startup_ms: (last.first_access_mono_ns > spawn_mono)
            .then(|| (last.first_access_mono_ns - spawn_mono) as f64 / 1e6),
        spawn_to_ready_ms: w.spawn_to_ready.as_secs_f64() * 1e3,
        matches: last.matches,
        first_matches: (spec.kind == PatternKind::Grep).then(|| last.first_matches.clone()),
        process,
        write,
    })
}

/// Asks the worker for one msync and waits for its answer: (ns in msync, error).
fn msync_now(
    w: &mut WorkerHandle,
    sync: bool,
    interrupted: &AtomicBool,
) -> std::result::Result<(u64, Option<String>), String> {
    w.send(&Control::Msync { sync })
        .map_err(|e| e.to_string())?;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        if interrupted.load(Ordering::Relaxed) {
            return Err("interrupted during msync".into());
        }
        if std::time::Instant::now() >= deadline {
            return Err("the worker did not answer msync within 120 s".into());
        }
        match w.recv(Duration::from_millis(100)) {
            Some(Event::Report(r)) => {
                if let Report::Msynced {
                    ns,
                    error,
                    periodic: false,
                    ..
                } = *r
                {
                    return Ok((ns, error));
                }
            }
            Some(Event::Closed) => return Err(w.death().reason),
            None => {}
        }
    }
}

fn process_view(pid: u32, path: &std::path::Path, limit: Option<u64>) -> ProcessView {
    let id = crate::kernel::addrspace::file_id(path).ok();
    crate::kernel::addrspace::process_view(pid, id, limit)
}
