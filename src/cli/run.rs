//! `mmviz run`: one pattern in a worker process, measured, reported as text or JSON.

use crate::cli::{RunArgs, WorkloadArgs};
use crate::error::{io_reason, AppError, Result};
use crate::kernel::advice::Advice;
use crate::kernel::cache;
use crate::kernel::counters::mono_ns;
use crate::kernel::pagemap::PagemapReader;
use crate::kernel::residency::CacheProbe;
use crate::kernel::target::Target;
use crate::units::{human_bytes, page_size};
use crate::workload::patterns::PatternKind;
use crate::workload::worker::{
    Control, Event, Limit, PatternSpec, Progress, Report, WorkerHandle, WorkerOptions, WorkerState,
    WriteMode,
};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// `mmviz run --json` (schema_version 1).
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct RunReport {
    pub schema_version: u32,
    pub path: String,
    pub pattern: PatternKind,
    pub seed: u64,
    pub access_size: u64,
    pub advice: Advice,
    pub rate: Option<u64>,
    pub cold: bool,
    pub accesses: u64,
    /// CLOCK_MONOTONIC ns in the worker, first access to last, summed over its batches
    /// (excludes spawn, mmap, advice, eviction, sampling and the worker's bookkeeping).
    pub elapsed_ns: u64,
    /// Wall-clock ns from the worker's start of the pattern to its last report: with a rate
    /// limit it includes the pauses between batches, which `elapsed_ns` leaves out.
    pub wall_ns: u64,
    pub ns_per_access: Option<f64>,
    /// Worker fault deltas over the same window.
    pub minor_faults: u64,
    pub major_faults: u64,
    pub page_size: u64,
    pub pages: u64,
    /// Page-cache pages of the whole file (readahead included); null when hidden.
    pub cached_before: Option<u64>,
    pub cached_after: Option<u64>,
    /// Pages present in the worker's page table, sampled before it unmaps.
    pub mapped_after: Option<u64>,
    /// How the page table was read: scan (PAGEMAP_SCAN) or pread; null when unreadable.
    pub mapped_source: Option<crate::session::snapshot::PagemapSource>,
    pub private_after: Option<u64>,
    pub touched_pages: u64,
    /// (cached_after - cached_before) / major_faults: readahead per major fault.
    pub pages_cached_per_major_fault: Option<f64>,
    /// mapped_after / (minor + major): fault-around and large folios per fault.
    pub pages_mapped_per_fault: Option<f64>,
    /// Bytes the worker caused to be read from storage (/proc/<pid>/io).
    pub read_bytes: Option<u64>,
    pub cache_state_visible: bool,
    pub filesystem: String,
    pub checksum: u64,
    /// Spawn to the worker's first access (ms), and spawn to its ready report.
    pub startup_ms: Option<f64>,
    pub spawn_to_ready_ms: f64,
    /// Grep only: matches found (all of them, or up to --max-matches).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matches: Option<u64>,
    /// Grep only: the first matches, `[{offset, line_number, line}]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_matches: Option<Vec<crate::workload::patterns::grep::GrepMatch>>,
    /// Kernel, page size, THP, readahead and virtualization of the machine.
    pub machine: crate::kernel::machine::Machine,
    /// Log2 histogram of the timed accesses (1 in `latency_sampled_every`), ns, with the
    /// clock-pair cost (`latency_timer_overhead_ns`) subtracted.
    pub latency_histogram: Vec<crate::latency::Bucket>,
    pub latency_sampled_every: u64,
    pub latency_samples: u64,
    pub latency_timer_overhead_ns: u64,
    /// Percentiles from the histogram (upper edge of a 1/8-power-of-two bucket: ≤12.5% high).
    pub latency_ns_p50: Option<u64>,
    pub latency_ns_p99: Option<u64>,
    pub latency_ns_max: Option<u64>,
    /// The worker's address space and descriptor, sampled before it stopped.
    #[serde(flatten)]
    pub process: ProcessView,
    /// With `--write`: the scratch copy and what writing and msync did to its pages.
    #[serde(flatten)]
    pub write: Option<WriteOutcome>,
}

pub use crate::kernel::addrspace::ProcessView;

/// `run --write`: writes went to `scratch_file`, never to the user's file.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct WriteOutcome {
    pub scratch_file: String,
    /// Size of the user's file, and of the scratch copy (its first 1 GiB at most).
    pub source_size: Option<u64>,
    pub scratch_size: u64,
    /// Bytes of data copied (holes stay holes and are not counted).
    pub scratch_data_bytes: Option<u64>,
    pub write_mode: WriteMode,
    pub write_share: f64,
    /// "none", "async", "sync" or "every N".
    pub msync: String,
    /// cachestat of the whole scratch file when the pattern finished, before any msync.
    pub dirty_before_msync: Option<u64>,
    pub writeback_before_msync: Option<u64>,
    /// cachestat after the msync (= before it with --msync none).
    pub dirty_after: Option<u64>,
    pub writeback_after: Option<u64>,
    /// Time inside msync in the worker (sum over the calls), ns; null: no msync.
    pub msync_ns: Option<u64>,
    pub msync_calls: u64,
    /// Dirty pages before minus after the final msync (cachestat); null for "every N",
    /// where the calls happen mid-run and the parent cannot bracket each one.
    pub msync_pages: Option<u64>,
    pub msync_ns_per_page: Option<f64>,
    pub msync_error: Option<String>,
    /// The kernel's own clock for dirty pages without msync (/proc/sys/vm, centiseconds): a
    /// page dirty for longer than `dirty_expire` is written back by the flusher, which wakes
    /// every `dirty_writeback`.
    pub dirty_expire_centisecs: Option<u64>,
    pub dirty_writeback_centisecs: Option<u64>,
}

/// What `run --write` does with msync.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MsyncPlan {
    #[default]
    None,
    /// MS_ASYNC once after the run.
    Async,
    /// MS_SYNC once after the run.
    Sync,
    /// MS_SYNC after every N accesses, in the worker.
    Every(u64),
}

impl std::fmt::Display for MsyncPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MsyncPlan::None => f.write_str("none"),
            MsyncPlan::Async => f.write_str("async"),
            MsyncPlan::Sync => f.write_str("sync"),
            MsyncPlan::Every(n) => write!(f, "every {n}"),
        }
    }
}

/// Parses `--msync none|async|sync|every N` (also "every=N").
pub fn parse_msync(v: &[String]) -> Result<MsyncPlan> {
    let words: Vec<&str> = v
        .iter()
        .flat_map(|s| s.split(['=', ' ']))
        .filter(|s| !s.is_empty())
        .collect();
    match words.as_slice() {
        [] | ["none"] => Ok(MsyncPlan::None),
        ["async"] => Ok(MsyncPlan::Async),
        ["sync"] => Ok(MsyncPlan::Sync),
        ["every", n] => match n.parse::<u64>() {
            Ok(n) if n > 0 => Ok(MsyncPlan::Every(n)),
            _ => Err(AppError::usage(format!(
                "--msync every '{n}': N must be a positive number of accesses"
            ))),
        },
        _ => Err(AppError::usage(format!(
            "--msync '{}' is not one of: none, async, sync, every N",
            v.join(" ")
        ))),
    }
}

/// Options of `execute_with` beyond the pattern: how the worker maps the file and msync.
#[derive(Clone, Debug, Default)]
pub struct RunExtras {
    pub worker: WorkerOptions,
    pub msync: MsyncPlan,
    /// The scratch file written (named in the report).
    pub scratch_file: Option<std::path::PathBuf>,
    /// When the scratch file is a copy: (size of the source, bytes of data copied).
    pub copy_of: Option<(u64, u64)>,
}

/// Parses `--rate`: a whole number of accesses per second, at least 1, or "max"/"unlimited"
/// (None). The worker paces whole accesses per second, so a fraction would be a promise it
/// cannot keep; 0 would never access anything.
pub fn parse_rate(s: Option<&str>) -> Result<Option<u64>> {
    let v = match s {
        None => return Ok(None),
        Some(v) if v.eq_ignore_ascii_case("max") || v.eq_ignore_ascii_case("unlimited") => {
            return Ok(None)
        }
        Some(v) => v.trim(),
    };
    let bad = |why: &str| {
        Err(AppError::usage(format!(
            "--rate '{v}' {why}: give a whole number of accesses per second, 1 or more, or 'max'"
        )))
    };
    match v.parse::<u64>() {
        Ok(0) => bad("is zero"),
        Ok(n) => Ok(Some(n)),
        Err(_) => match v.parse::<f64>() {
            Ok(f) if f.is_finite() && f > 0.0 && f < 1.0 => bad("is below 1 access per second"),
            Ok(f) if f.is_finite() && f >= u64::MAX as f64 => bad("is too large"),
            Ok(f) if f.is_finite() && f > 0.0 => bad("is not a whole number"),
            Ok(f) if f.is_finite() => bad("is not positive"),
            _ if v.starts_with('-') => bad("is not positive"),
            _ if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => bad("is too large"),
            _ => bad("is not a number"),
        },
    }
}

/// Parses the pattern options into a spec, validated against the file size.
pub fn pattern_spec(
    w: &WorkloadArgs,
    size: u64,
    path: &std::path::Path,
) -> Result<(PatternSpec, Advice)> {
    let kind: PatternKind = w.pattern.parse().map_err(AppError::usage)?;
    let advice: Advice = w.advice.parse().map_err(AppError::usage)?;
    let spec = PatternSpec {
        kind,
        seed: w.seed,
        // A bsearch probe reads the record's 8-byte key, whatever --access-size says.
        access_size: if kind == PatternKind::Bsearch {
            crate::workload::patterns::bsearch::KEY_SIZE
        } else {
            w.access_size
        },
        stride_pages: w.stride,
        hot_fraction: w.hot_fraction,
        hot_share: w.hot_share,
        regex: w.regex.clone(),
        max_matches: w.max_matches,
    };
    match (kind, &w.regex) {
        (PatternKind::Grep, None) => {
            return Err(AppError::usage(
                "--pattern grep needs --regex RE (the regex to search for)",
            ))
        }
        (PatternKind::Grep, Some(re)) => {
            crate::workload::patterns::grep::compile(re).map_err(AppError::usage)?;
        }
        (_, Some(_)) => {
            return Err(AppError::usage("--regex applies only to --pattern grep"));
        }
        _ => {}
    }
    if w.max_matches.is_some() && kind != PatternKind::Grep {
        return Err(AppError::usage(
            "--max-matches applies only to --pattern grep",
        ));
    }
    // bsearch on a file that is not sorted records would "find" nothing and mislead: refuse
    // it here for run, bench and watch alike (the check reads one page with O_DIRECT, so
    // the page cache is left as it was).
    if kind == PatternKind::Bsearch {
        crate::workload::patterns::bsearch::check_records_file(path)
            .map_err(|e| AppError::bad_input(path, e))?;
    }
    // One rule for every command that accesses pages (run, bench, the live view): an empty
    // file has nothing to access and is bad input (residency and evict accept it).
    spec.params(size, page_size())
        .validate()
        .map_err(|e| AppError::bad_input(path, e))?;
    Ok((spec, advice))
}

pub fn run(a: &RunArgs) -> Result<()> {
    let user = Target::open(&a.file)?;
    let write: Option<WriteMode> = a
        .write
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(AppError::usage)?;
    let msync = parse_msync(&a.msync)?;
    if !(0.0..=1.0).contains(&a.write_share) {
        return Err(AppError::usage(format!(
            "--write-share {} is not between 0 and 1",
            a.write_share
        )));
    }
    let address_space = a
        .address_space
        .as_deref()
        .map(|s| {
            crate::units::parse_size(s)
                .map_err(|e| AppError::usage(format!("--address-space: {e}")))
                .and_then(|n| {
                    (n > 0)
                        .then_some(n)
                        .ok_or_else(|| AppError::usage("--address-space must be positive"))
                })
        })
        .transpose()?;
    // With --write the worker maps a scratch copy; `user` stays the read-only source.
    let copy_size = if write.is_some() {
        user.size.min(crate::workload::scratch::COPY_LIMIT)
    } else {
        user.size
    };
    let (spec, advice) = pattern_spec(&a.workload, copy_size, &user.path)?;
    let rate = parse_rate(a.rate.as_deref())?;
    let limit = match (a.accesses, a.duration) {
        (Some(0), _) => return Err(AppError::usage("--accesses must be at least 1")),
        (Some(n), _) => Limit::Accesses(n),
        (None, Some(d)) if d > 0.0 && d.is_finite() => Limit::DurationMs((d * 1000.0) as u64),
        (None, Some(d)) => {
            return Err(AppError::usage(format!(
                "--duration {d} is not a positive number of seconds"
            )))
        }
        (None, None) => Limit::OnePass,
    };
    // SIGINT, SIGTERM and SIGHUP only set a flag: the scratch copy is removed as we return.
    let signals = crate::error::StopSignals::register()?;
    let extras = RunExtras {
        worker: WorkerOptions {
            write,
            write_share: a.write_share,
            keep_fd: a.keep_fd,
            address_space,
        },
        msync,
        scratch_file: None,
        copy_of: None,
    };
    // The scratch copy lives until the end of this function: dropped (removed) on success,
    // errors and signals alike.
    let mut scratch = None;
    let a_size = user.size;
    let t = match write {
        None => user,
        Some(_) => {
            let dir = crate::workload::scratch::pick_dir()?;
            let _ = crate::workload::scratch::sweep(&dir.path);
            let s = crate::workload::scratch::ScratchFile::copy_of(&dir, &user.file, user.size)
                .map_err(|e| {
                    AppError::runtime(format!(
                        "cannot make a scratch copy of {} in {}: {}",
                        user.path.display(),
                        dir.path.display(),
                        io_reason(&e)
                    ))
                })?;
            let t = Target::open(&s.path)?;
            scratch = Some(s);
            t
        }
    };
    let extras = RunExtras {
        scratch_file: scratch.as_ref().map(|s| s.path.clone()),
        copy_of: scratch.as_ref().map(|s| (a_size, s.data_bytes)),
        ..extras
    };
    if signals.stop.load(Ordering::Relaxed) {
        return Err(signals.explain(AppError::interrupted("interrupted")));
    }
    let mut report = execute_with(
        &t,
        spec,
        advice,
        rate,
        limit,
        a.cold,
        a.progress,
        &signals.stop,
        &extras,
    )
    .map_err(|e| signals.explain(e))?;
    if scratch.is_some() {
        report.path = a.file.display().to_string();
    }
    if a.json {
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(AppError::runtime)?
        );
    } else {
        print_text(&report);
    }
    Ok(())
}

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

fn opt(v: Option<u64>) -> String {
    v.map_or("hidden".into(), |v| v.to_string())
}

fn print_text(r: &RunReport) {
    crate::outln!(
        "{} {} over {} ({} pages), advice {}{}",
        r.pattern,
        if r.cold { "cold" } else { "as-is" },
        crate::text::escape_controls(&r.path),
        r.pages,
        r.advice,
        r.rate.map(|x| format!(", {x}/s")).unwrap_or_default()
    );
    crate::outln!(
        "accesses:      {} of {} B in {:.3} ms timed ({}), {:.3} s wall clock",
        r.accesses,
        r.access_size,
        r.elapsed_ns as f64 / 1e6,
        r.ns_per_access
            .map_or("-".into(), |n| format!("{n:.1} ns per access")),
        r.wall_ns as f64 / 1e9
    );
    if r.rate.is_some() {
        crate::outln!(
            "               (timed = the access batches only; the wall clock adds the pauses of the rate limit)"
        );
    }
    crate::outln!(
        "faults:        {} minor, {} major  (faults are not pages: see below)",
        r.minor_faults,
        r.major_faults
    );
    crate::outln!(
        "page cache:    {} -> {} pages cached (file has {})",
        opt(r.cached_before),
        opt(r.cached_after),
        r.pages
    );
    crate::outln!(
        "mapped:        {} pages present in the worker's page table; {} distinct pages touched",
        opt(r.mapped_after),
        r.touched_pages
    );
    if let (Some(p50), Some(p99), Some(max)) =
        (r.latency_ns_p50, r.latency_ns_p99, r.latency_ns_max)
    {
        crate::outln!(
            "latency:       p50 ≤{p50} ns, p99 ≤{p99} ns, max {max} ns over {} timed accesses (1 in {})",
            r.latency_samples,
            r.latency_sampled_every
        );
    }
    if let Some(x) = r.pages_cached_per_major_fault {
        crate::outln!("readahead:     {x:.1} pages newly cached per major fault");
    }
    if let Some(x) = r.pages_mapped_per_fault {
        crate::outln!("fault-around:  {x:.1} pages mapped per fault");
    }
    if let Some(b) = r.read_bytes {
        crate::outln!("read from disk: {}", human_bytes(b));
    }
    if let Some(n) = r.matches {
        crate::outln!(
            "matches:       {n} (the search read {} pages of {})",
            r.accesses,
            r.pages
        );
        for m in r.first_matches.iter().flatten() {
            crate::outln!("  {}:{}: {}", m.line_number, m.offset, m.line);
        }
    }
    if let Some(s) = r.startup_ms {
        crate::outln!("start-up:      {s:.2} ms from spawn to first access");
    }
    let p = &r.process;
    let b = |v: Option<u64>| v.map_or("?".into(), human_bytes);
    crate::outln!(
        "address space: VmSize {} (virtual) vs VmRSS {} resident ({} file, {} anon){}",
        b(p.vm_size),
        b(p.vm_rss),
        b(p.rss_file),
        b(p.rss_anon),
        p.address_space_limit
            .map(|l| format!(", RLIMIT_AS {}", human_bytes(l)))
            .unwrap_or_default()
    );
    let yn = |v: Option<bool>| match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    };
    crate::outln!(
        "descriptor:    fd open on the file: {}; mapping in /proc/<worker>/maps: {}",
        yn(p.fd_open),
        yn(p.mapping_in_maps)
    );
    if let Some(w) = &r.write {
        crate::outln!(
            "writes:        {} mapping of scratch copy {} (your file is never written), write share {}",
            w.write_mode,
            w.scratch_file,
            w.write_share
        );
        if w.msync == "none" {
            crate::outln!(
                "dirty pages:   {} dirty, {} under writeback (no msync)",
                opt(w.dirty_after),
                opt(w.writeback_after)
            );
        } else {
            crate::outln!(
                "dirty pages:   {} dirty, {} under writeback before msync; after msync {}: {} dirty, {} writeback",
                opt(w.dirty_before_msync),
                opt(w.writeback_before_msync),
                w.msync,
                opt(w.dirty_after),
                opt(w.writeback_after)
            );
        }
        if let Some(src) = w.source_size.filter(|&s| s > w.scratch_size) {
            crate::outln!(
                "copy:          the first {} of the file's {} (copies stop at 1 GiB)",
                human_bytes(w.scratch_size),
                human_bytes(src)
            );
        }
        if let Some(ns) = w.msync_ns {
            crate::outln!(
                "msync:         {} call(s), {:.3} ms in msync; {} pages written back{}",
                w.msync_calls,
                ns as f64 / 1e6,
                opt(w.msync_pages),
                w.msync_ns_per_page
                    .map(|x| format!(" ({:.2} us per page)", x / 1e3))
                    .unwrap_or_default()
            );
        }
        if let (Some(e), Some(wb)) = (w.dirty_expire_centisecs, w.dirty_writeback_centisecs) {
            if w.dirty_after.is_some_and(|d| d > 0) {
                crate::outln!(
                    "flusher:       left alone, dirty pages are written back once older than {:.0} s (vm.dirty_expire_centisecs {e}), checked every {:.0} s (vm.dirty_writeback_centisecs {wb})",
                    e as f64 / 100.0,
                    wb as f64 / 100.0
                );
            }
        }
        if let Some(e) = &w.msync_error {
            crate::outln!("msync error:   {e}");
        }
    }
}

#[cfg(test)]
mod write_tests {
    use super::*;

    #[test]
    fn msync_plans_parse() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let table: &[(&[&str], Option<MsyncPlan>)] = &[
            (&[], Some(MsyncPlan::None)),
            (&["none"], Some(MsyncPlan::None)),
            (&["async"], Some(MsyncPlan::Async)),
            (&["sync"], Some(MsyncPlan::Sync)),
            (&["every", "100"], Some(MsyncPlan::Every(100))),
            (&["every=7"], Some(MsyncPlan::Every(7))),
            (&["every", "0"], None),
            (&["every"], None),
            (&["sometimes"], None),
            (&["sync", "3"], None),
        ];
        for (args, want) in table {
            let got = parse_msync(&v(args));
            match want {
                Some(w) => assert_eq!(got.as_ref().ok(), Some(w), "{args:?}"),
                None => assert_eq!(got.map_err(|e| e.code), Err(2), "{args:?}"),
            }
        }
        assert_eq!(MsyncPlan::Every(5).to_string(), "every 5");
    }
}
