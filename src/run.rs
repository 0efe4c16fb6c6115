//! `mmviz run`: one pattern in a worker process, measured, reported as text or JSON.

use crate::advice::Advice;
use crate::cache;
use crate::cli::{RunArgs, WorkloadArgs};
use crate::counters::mono_ns;
use crate::error::{io_reason, AppError, Result};
use crate::pagemap::PagemapReader;
use crate::patterns::PatternKind;
use crate::residency::CacheProbe;
use crate::target::Target;
use crate::units::{human_bytes, page_size};
use crate::worker::{
    Control, Event, Limit, PatternSpec, Progress, Report, WorkerHandle, WorkerState,
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
    pub mapped_source: Option<crate::snapshot::PagemapSource>,
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
    pub first_matches: Option<Vec<crate::patterns::grep::GrepMatch>>,
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
            crate::patterns::bsearch::KEY_SIZE
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
            crate::patterns::grep::compile(re).map_err(AppError::usage)?;
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
    // One rule for every command that accesses pages (run, bench, the live view): an empty
    // file has nothing to access and is bad input (residency and evict accept it).
    spec.params(size, page_size())
        .validate()
        .map_err(|e| AppError::bad_input(path, e))?;
    Ok((spec, advice))
}

pub fn run(a: &RunArgs) -> Result<()> {
    let t = Target::open(&a.file)?;
    let (spec, advice) = pattern_spec(&a.workload, t.size, &t.path)?;
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
    let signals = crate::error::StopSignals::register()?;
    let report = execute(
        &t,
        spec,
        advice,
        rate,
        limit,
        a.cold,
        a.progress,
        &signals.stop,
    )
    .map_err(|e| signals.explain(e))?;
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
    let mut w = WorkerHandle::spawn(&t.path, Duration::from_secs(10)).map_err(|e| rt(t, e))?;
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
                    let (f, p) = crate::pagemap::count_in(&runs, 0, u64::MAX, &mut 0);
                    (Some(f), Some(p))
                }
                _ => (None, None),
            }
        }
        Err(_) => (None, None),
    };
    let cached_after = probe.range(0, pages).map_err(|e| rt(t, io_reason(&e)))?;
    w.stop(Duration::from_secs(5));

    let (cb, ca) = (
        cached_before.map(|c| c.cached),
        cached_after.map(|c| c.cached),
    );
    let faults = last.faults;
    Ok(RunReport {
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
    })
}

fn opt(v: Option<u64>) -> String {
    v.map_or("hidden".into(), |v| v.to_string())
}

fn print_text(r: &RunReport) {
    crate::outln!(
        "{} {} over {} ({} pages), advice {}{}",
        r.pattern,
        if r.cold { "cold" } else { "as-is" },
        crate::output::escape_controls(&r.path),
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
}
