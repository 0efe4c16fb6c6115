//! `mmviz attach PID [FILE]` and `mmviz exec [--file FILE] -- CMD [ARGS...]`: observe a real
//! program through /proc (see [`crate::observe`]). In a terminal (stdin and stdout) without
//! `--json` or `--duration`: the live view ([`crate::cli::live_observe`]). Otherwise headless: one
//! report when it exits, on Ctrl-C or after `--duration`.

use crate::cli::{AttachArgs, ExecArgs};
use crate::error::{io_reason, AppError, Result};
use crate::kernel::counters::Faults;
use crate::observe::{Chosen, FileRange, Liveness, ObsEvent, Observer, ThreadFaults};
use crate::session::snapshot::PagemapSource;
use crate::units::{human_bytes, page_size};
use serde::Serialize;
use std::os::fd::AsFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Time between samples. The page table of a process is gone once it exits, so the mapped
/// figure at exit is the last sample's: at most this much older than the exit.
pub const SAMPLE_INTERVAL: Duration = Duration::from_millis(20);

/// After Ctrl-C, how long `exec` keeps watching for the program to exit by itself (the
/// terminal sends SIGINT to the whole foreground group; mmviz sends it nothing).
const INTERRUPT_GRACE: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ended {
    /// The observed process exited.
    Exited,
    /// `--duration` elapsed (the process keeps running).
    Duration,
    /// SIGINT or SIGTERM reached mmviz.
    Interrupted,
}

/// How an `exec`'d program ended (wait4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExitInfo {
    /// Exit code, when it exited normally.
    pub code: Option<i32>,
    /// The signal that killed it, when one did.
    pub signal: Option<i32>,
    pub core_dumped: bool,
}

/// The final report (`--json`, schema_version 1).
#[derive(Clone, Debug, Serialize)]
pub struct ObserveReport {
    pub schema_version: u32,
    /// Kernel, page size, THP, readahead (of the watched file's device) and virtualization.
    pub machine: crate::kernel::machine::Machine,
    /// "attach" or "exec".
    pub command: &'static str,
    pub pid: u32,
    pub comm: String,
    /// Stat field 22: with the PID, identifies the process (a reused PID starts later).
    pub start_time_ticks: u64,
    /// exec only.
    pub argv: Option<Vec<String>>,
    pub page_size: u64,
    pub file: Option<String>,
    pub file_chosen: Option<Chosen>,
    pub file_size_bytes: Option<u64>,
    pub file_pages: Option<u64>,
    /// Why no file is watched.
    pub file_note: Option<String>,
    /// The file's mappings at the last sample that read the memory map.
    pub ranges: Vec<FileRange>,
    /// File pages present in the process's page table (all ranges, combined by file offset)
    /// at the last sample that could read it; null when the page table is unreadable.
    pub mapped_pages: Option<u64>,
    /// Positions held by private (copy-on-write) copies instead of the file's page.
    pub private_pages: Option<u64>,
    pub mapped_pages_max: Option<u64>,
    /// How long before the end of observation that page-table reading was taken (a process's
    /// page table is gone once it exits).
    pub mapped_sample_age_ms: Option<u64>,
    pub pagemap_source: PagemapSource,
    pub maps_note: Option<String>,
    pub pagemap_note: Option<String>,
    /// Since the process started (all its threads, including exited ones): /proc/PID/stat.
    pub faults: Option<Faults>,
    /// When observation began, and the difference (what happened while we watched).
    pub faults_at_start: Option<Faults>,
    pub faults_during: Option<Faults>,
    /// True: read from the exited process's stat (zombie), so exact at exit; false: from the
    /// last sample while it ran.
    pub faults_final: bool,
    /// Live threads at the last sample (/proc/PID/task/TID/stat).
    pub threads: Vec<ThreadFaults>,
    pub cached_before: Option<u64>,
    /// When (ms after the start) `cached_before` was taken: 0, or when the file was chosen.
    pub cached_before_at_ms: Option<u64>,
    pub cached_after: Option<u64>,
    pub cache_state_visible: Option<bool>,
    pub cache_note: Option<String>,
    pub ended: Ended,
    pub process_at_end: Liveness,
    pub exit_status: Option<ExitInfo>,
    pub exit_status_note: Option<String>,
    pub duration_s: f64,
    pub samples: u64,
    pub sample_interval_ms: u64,
    pub events: Vec<ObsEvent>,
}

fn parse_pid(s: &str) -> Result<u32> {
    match s.trim().parse::<u32>() {
        Ok(p) if p > 0 => Ok(p),
        Ok(_) => Err(AppError::usage("PID 0 is not a process")),
        Err(_) => Err(AppError::usage(format!(
            "PID '{s}' is not a process id (a positive number, e.g. from pgrep)"
        ))),
    }
}

fn parse_duration(d: Option<f64>) -> Result<Option<Duration>> {
    match d {
        None => Ok(None),
        Some(d) if d > 0.0 && d.is_finite() && d < 1e9 => Ok(Some(Duration::from_secs_f64(d))),
        Some(d) => Err(AppError::usage(format!(
            "--duration {d} is not a positive number of seconds"
        ))),
    }
}

fn signal_flag() -> Result<Arc<AtomicBool>> {
    let f = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&f)).map_err(AppError::runtime)?;
    }
    Ok(f)
}

/// Samples until the process exits, the deadline passes or a signal arrives.
pub fn watch(obs: &mut Observer, limit: Option<Duration>, stop: &AtomicBool) -> Ended {
    let t0 = Instant::now();
    loop {
        obs.sample();
        if obs.liveness() != Liveness::Running {
            return Ended::Exited;
        }
        if stop.load(Ordering::Relaxed) {
            return Ended::Interrupted;
        }
        if limit.is_some_and(|l| t0.elapsed() >= l) {
            return Ended::Duration;
        }
        std::thread::sleep(SAMPLE_INTERVAL);
    }
}

fn build_report(
    obs: &mut Observer,
    command: &'static str,
    argv: Option<Vec<String>>,
    faults_at_start: Option<Faults>,
    ended: Ended,
) -> ObserveReport {
    let now = obs.elapsed_ms();
    let cached_after = obs.cached_now();
    let last = obs.last.clone();
    let w = obs.watched();
    let faults = last.faults;
    ObserveReport {
        schema_version: 1,
        machine: crate::kernel::machine::Machine::detect(w.map(|w| &w.target.file)),
        command,
        pid: obs.pid(),
        comm: obs.comm().to_string(),
        start_time_ticks: obs.starttime(),
        argv,
        page_size: page_size(),
        file: w.map(|w| w.target.path.display().to_string()),
        file_chosen: w.map(|w| w.chosen),
        file_size_bytes: w.map(|w| w.target.size),
        file_pages: w.map(|w| w.pages()),
        file_note: obs.file_note.clone(),
        ranges: w.map(|w| w.ranges.clone()).unwrap_or_default(),
        mapped_pages: last.mapped,
        private_pages: last.private,
        mapped_pages_max: obs.mapped_max,
        mapped_sample_age_ms: obs.last_mapped_ms.map(|t| now.saturating_sub(t)),
        pagemap_source: obs.pagemap_source(),
        maps_note: obs.maps_note().map(str::to_string),
        pagemap_note: obs.pagemap_note().map(str::to_string),
        faults,
        faults_at_start,
        faults_during: faults.zip(faults_at_start).map(|(a, b)| a.since(b)),
        faults_final: obs.liveness() == Liveness::Zombie,
        threads: last.threads,
        cached_before: w.and_then(|w| w.cached_before),
        cached_before_at_ms: w.map(|w| w.since_ms),
        cached_after,
        cache_state_visible: w.map(|w| w.probe.visible()),
        cache_note: w.and_then(|w| w.probe.note().map(str::to_string)),
        ended,
        process_at_end: obs.liveness(),
        exit_status: None,
        exit_status_note: None,
        duration_s: now as f64 / 1000.0,
        samples: obs.samples,
        sample_interval_ms: SAMPLE_INTERVAL.as_millis() as u64,
        events: obs.events().to_vec(),
    }
}

fn finish(r: &ObserveReport, json: bool) -> Result<()> {
    if json {
        let s = serde_json::to_string_pretty(r).map_err(AppError::runtime)?;
        crate::outln!("{s}");
    } else {
        for l in text(r) {
            crate::outln!("{l}");
        }
    }
    if r.ended == Ended::Interrupted {
        return Err(AppError::interrupted("interrupted"));
    }
    Ok(())
}

/// The live view's recorder (`--record`), created before anything is observed or started,
/// so an existing file is a plain exit-2 error; refused without the live view, which is what
/// it records.
fn recorder(
    record: Option<&std::path::Path>,
    force: bool,
    keep_paths: bool,
    live: bool,
    recorded: &std::path::Path,
) -> Result<Option<crate::record::Recorder>> {
    match record {
        None => Ok(None),
        Some(_) if !live => Err(AppError::usage(
            "--record records the live view: it needs a terminal on stdin and stdout, and \
             neither --json nor --duration",
        )),
        Some(out) => crate::record::Recorder::create(out, force, recorded, keep_paths).map(Some),
    }
}

pub fn attach(a: &AttachArgs) -> Result<()> {
    let pid = parse_pid(&a.pid)?;
    let limit = parse_duration(a.duration)?;
    let live = crate::cli::live_observe::wanted(a.json, a.duration);
    if a.rec.record.is_some() && !live {
        recorder(
            a.rec.record.as_deref(),
            a.rec.force,
            a.rec.record_paths,
            false,
            "".as_ref(),
        )?;
    }
    if live {
        let mut obs = Observer::attach(pid, a.file.as_deref())?;
        obs.sample();
        let recorded = obs
            .watched()
            .map(|w| w.target.path.clone())
            .unwrap_or_else(|| format!("pid-{pid}").into());
        let rec = recorder(
            a.rec.record.as_deref(),
            a.rec.force,
            a.rec.record_paths,
            true,
            &recorded,
        )?;
        let opts = crate::observe::live::ObservedOptions {
            command: "attach",
            hz: 10,
            exec: None,
            cached_before_spawn: None,
        };
        return crate::cli::live_observe::run(obs, opts, None, rec);
    }
    let stop = signal_flag()?;
    let mut obs = Observer::attach(pid, a.file.as_deref())?;
    let faults_at_start = obs.sample().faults;
    let ended = if obs.liveness() == Liveness::Running {
        watch(&mut obs, limit, &stop)
    } else {
        Ended::Exited
    };
    let mut r = build_report(&mut obs, "attach", None, faults_at_start, ended);
    if ended == Ended::Exited {
        r.exit_status_note = Some(
            "not mmviz's child: its exit status goes to its parent, mmviz cannot read it".into(),
        );
    }
    finish(&r, a.json)
}

pub fn exec(a: &ExecArgs) -> Result<()> {
    let limit = parse_duration(a.duration)?;
    let live = crate::cli::live_observe::wanted(a.json, a.duration);
    // Before the program starts: a refused or existing --record file starts nothing.
    let rec = recorder(
        a.rec.record.as_deref(),
        a.rec.force,
        a.rec.record_paths,
        live,
        a.file.as_deref().unwrap_or(a.cmd[0].as_ref()),
    )?;
    // The live view's signals are the TUI's own (raw mode: Ctrl-C is a key).
    let stop = if live {
        Arc::new(AtomicBool::new(false))
    } else {
        signal_flag()?
    };
    let prog = &a.cmd[0];
    let mut cmd = Command::new(prog);
    cmd.args(&a.cmd[1..]);
    // The live view owns the terminal: the program reads nothing from it (stdin /dev/null)
    // and writes to a file the log shows (a pipe would SIGPIPE it once mmviz quits).
    let output = if live {
        let o = crate::cli::live_observe::output_file()?;
        let dup = |f: &std::fs::File| f.try_clone().map(Stdio::from).map_err(AppError::runtime);
        cmd.stdin(Stdio::null())
            .stdout(dup(&o.file)?)
            .stderr(dup(&o.file)?);
        Some(o)
    } else {
        None
    };
    if a.json {
        // stdout holds only the report; the program's output goes to stderr.
        let err = std::io::stderr()
            .as_fd()
            .try_clone_to_owned()
            .map_err(AppError::runtime)?;
        cmd.stdout(Stdio::from(err));
    }
    let argv: Vec<String> = a
        .cmd
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    // A given file is opened (bad input: exit 2 before anything runs) and its cache measured
    // before the spawn, so "before" means before the program's first instruction.
    let before = match &a.file {
        Some(f) => {
            let t = crate::kernel::target::Target::open(f)?;
            let mut p = crate::kernel::residency::CacheProbe::new(&t.file, t.size, &t.fs)
                .map_err(|e| AppError::runtime(format!("{}: {}", f.display(), io_reason(&e))))?;
            let n = p.pages();
            p.range(0, n).ok().flatten().map(|r| r.cached)
        }
        None => None,
    };
    let mut child: Child = cmd.spawn().map_err(|e| {
        let what = prog.to_string_lossy();
        match e.kind() {
            std::io::ErrorKind::NotFound => AppError::usage(format!("{what}: command not found")),
            std::io::ErrorKind::PermissionDenied => {
                AppError::usage(format!("{what}: permission denied"))
            }
            _ => AppError::runtime(format!("{what}: {}", io_reason(&e))),
        }
    })?;
    let pid = child.id();
    let mut obs = match Observer::attach_child(pid, a.file.as_deref()) {
        Ok(o) => o,
        Err(e) => {
            let st = child.wait().ok();
            return Err(AppError::runtime(format!(
                "{}: {e}{}",
                argv[0],
                st.map(|s| format!(" (it ended with {s})"))
                    .unwrap_or_default()
            )));
        }
    };
    if a.file.is_some() {
        if let Some(w) = obs.watched_mut() {
            w.cached_before = before;
        }
    }
    obs.sample();
    if let Some(o) = output {
        let file = o.file.try_clone().map_err(AppError::runtime)?;
        let opts = crate::observe::live::ObservedOptions {
            command: "exec",
            hz: 10,
            exec: Some(crate::observe::live::ExecChild {
                child,
                argv,
                output: Some((o.path.display().to_string(), file)),
            }),
            cached_before_spawn: before,
        };
        return crate::cli::live_observe::run(obs, opts, Some(o), rec);
    }
    let mut ended = if obs.liveness() == Liveness::Running {
        watch(&mut obs, limit, &stop)
    } else {
        Ended::Exited
    };
    if ended == Ended::Interrupted {
        // The terminal's SIGINT reached the program too; give it time to exit by itself.
        let grace = Instant::now();
        while obs.liveness() == Liveness::Running && grace.elapsed() < INTERRUPT_GRACE {
            std::thread::sleep(SAMPLE_INTERVAL);
            obs.sample();
        }
    }
    let exited = obs.liveness() != Liveness::Running;
    if ended == Ended::Duration && exited {
        ended = Ended::Exited;
    }
    let mut r = build_report(&mut obs, "exec", Some(argv), None, ended);
    if exited {
        match child.wait() {
            Ok(s) => {
                r.exit_status = Some(ExitInfo {
                    code: s.code(),
                    signal: s.signal(),
                    core_dumped: s.core_dumped(),
                })
            }
            Err(e) => r.exit_status_note = Some(format!("wait4 failed: {}", io_reason(&e))),
        }
    } else {
        r.exit_status_note =
            Some("still running when observation ended: mmviz does not signal or stop it".into());
    }
    finish(&r, a.json)
}

fn opt(v: Option<u64>) -> String {
    v.map_or_else(|| "unknown".into(), |v| v.to_string())
}

/// The text report, one line each.
pub fn text(r: &ObserveReport) -> Vec<String> {
    let mut out = Vec::new();
    out.push(format!(
        "process:   {} ({}){}",
        r.pid,
        r.comm,
        r.argv
            .as_ref()
            .map(|a| format!(", started as: {}", a.join(" ")))
            .unwrap_or_default()
    ));
    match &r.file {
        Some(f) => out.push(format!(
            "file:      {f} ({}, {} pages; {})",
            human_bytes(r.file_size_bytes.unwrap_or(0)),
            opt(r.file_pages),
            match r.file_chosen {
                Some(Chosen::Given) => "given",
                _ => "the largest regular file it maps",
            }
        )),
        None => out.push(format!(
            "file:      none ({})",
            r.file_note.as_deref().unwrap_or("no file chosen")
        )),
    }
    if r.file.is_some() {
        out.push(format!(
            "ranges:    {} mapping(s) of the file at the last sample",
            r.ranges.len()
        ));
        match (r.mapped_pages, r.mapped_sample_age_ms) {
            (Some(m), Some(age)) => out.push(format!(
                "mapped:    {m} pages present in its page table ({} private copies), \
                 read {age} ms before the end; at most {} at any sample",
                opt(r.private_pages),
                opt(r.mapped_pages_max)
            )),
            _ => out.push(format!(
                "mapped:    unknown ({})",
                r.pagemap_note
                    .as_deref()
                    .or(r.maps_note.as_deref())
                    .unwrap_or("the page table was not read")
            )),
        }
        match (r.cached_before, r.cached_after) {
            (Some(b), Some(a)) => out.push(format!(
                "cache:     {b} -> {a} pages of the file cached (before{} / after)",
                match r.cached_before_at_ms {
                    Some(0) | None => String::new(),
                    Some(ms) => format!(" = when chosen, {ms} ms in"),
                }
            )),
            _ => out.push(format!(
                "cache:     {}",
                r.cache_note.as_deref().unwrap_or("hidden by the kernel")
            )),
        }
    }
    match r.faults {
        Some(f) => out.push(format!(
            "faults:    {} minor, {} major since it started{}{} (faults are not pages)",
            f.minor,
            f.major,
            if r.faults_final {
                ", final (read at exit)"
            } else {
                ""
            },
            r.faults_during
                .map(|d| format!("; {} minor, {} major while observed", d.minor, d.major))
                .unwrap_or_default()
        )),
        None => out.push("faults:    unknown".into()),
    }
    for t in &r.threads {
        out.push(format!(
            "  thread {} ({}): {} minor, {} major{}",
            t.tid,
            t.comm,
            t.minor,
            t.major,
            // The process's counts were read from its zombie; a thread's, at the last sample.
            if r.faults_final { " (last sample)" } else { "" }
        ));
    }
    for n in [&r.maps_note, &r.pagemap_note].into_iter().flatten() {
        out.push(format!("note:      {n}"));
    }
    for e in &r.events {
        out.push(format!(
            "event:     +{} ms {}: {}",
            e.at_ms, e.kind, e.detail
        ));
    }
    out.push(format!(
        "ended:     {} after {:.2} s, {} samples every {} ms{}",
        match r.ended {
            Ended::Exited => "the process exited",
            Ended::Duration => "--duration elapsed",
            Ended::Interrupted => "interrupted",
        },
        r.duration_s,
        r.samples,
        r.sample_interval_ms,
        match (&r.exit_status, &r.exit_status_note) {
            (Some(ExitInfo { code: Some(c), .. }), _) => format!("; exit status {c}"),
            (
                Some(ExitInfo {
                    signal: Some(s), ..
                }),
                _,
            ) => format!("; killed by signal {s}"),
            (_, Some(n)) => format!("; {n}"),
            _ => String::new(),
        }
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_and_durations_parse() {
        assert_eq!(parse_pid("42"), Ok(42));
        assert_eq!(parse_pid(" 7 "), Ok(7));
        for bad in ["", "abc", "-5", "0", "1.5", "99999999999"] {
            let e = parse_pid(bad).unwrap_err();
            assert_eq!(e.code, AppError::USAGE, "{bad}");
        }
        assert_eq!(parse_duration(None), Ok(None));
        assert_eq!(
            parse_duration(Some(0.5)),
            Ok(Some(Duration::from_millis(500)))
        );
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(parse_duration(Some(bad)).is_err(), "{bad}");
        }
    }
}
