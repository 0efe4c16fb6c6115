//! `mmviz watch`: the live session without a terminal, one line (or one JSON object) per
//! interval, like `vmstat 1`. The same engine as the live view ([`crate::session::spawn`]);
//! this is only another face of it (trippy's report modes).

use crate::cli::demo;
use crate::cli::live::DEFAULT_TUI_RATE;
use crate::cli::run::{parse_rate, pattern_spec};
use crate::cli::WatchArgs;
use crate::error::{AppError, Result};
use crate::kernel::machine::Machine;
use crate::kernel::target::Target;
use crate::session::snapshot::{Command, RunState, Snapshot};
use crate::session::{self, SessionOptions};
use crate::units::human_bytes;
use serde::Serialize;
use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

/// Version of the `watch --json` line (the snapshot's fields plus `interval` and `machine`).
pub const WATCH_SCHEMA_VERSION: u32 = 1;

/// Samples per second of the session behind `watch`: the live view's default, or enough for
/// a fresh sample in every line of a short `--interval` (at most the session's 60).
fn hz_for(interval_s: f64) -> u32 {
    ((1.0 / interval_s).ceil() as u32).clamp(10, 60)
}

/// Counts over one printed interval, from two snapshots (kernel counters, session clock).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Interval {
    /// Milliseconds between the two snapshots (session clock).
    pub dt_ms: u64,
    pub accesses: u64,
    pub minor_faults: u64,
    pub major_faults: u64,
    pub accesses_per_s: f64,
    pub minor_per_s: f64,
    pub major_per_s: f64,
}

impl Interval {
    /// The interval from `prev` (None: the session start) to `now`.
    pub fn between(prev: Option<&Snapshot>, now: &Snapshot) -> Interval {
        let (t0, a0, mi0, ma0) = prev.map_or((0, 0, 0, 0), |p| {
            (
                p.t_ms,
                p.worker.accesses,
                p.faults.minor_total,
                p.faults.major_total,
            )
        });
        let dt_ms = now.t_ms.saturating_sub(t0);
        // Counters restart on `r` (reset): a smaller total means a restart, count from 0.
        let d = |now: u64, before: u64| if now >= before { now - before } else { now };
        let accesses = d(now.worker.accesses, a0);
        let minor_faults = d(now.faults.minor_total, mi0);
        let major_faults = d(now.faults.major_total, ma0);
        let per_s = |n: u64| {
            if dt_ms == 0 {
                0.0
            } else {
                n as f64 * 1000.0 / dt_ms as f64
            }
        };
        Interval {
            dt_ms,
            accesses,
            minor_faults,
            major_faults,
            accesses_per_s: per_s(accesses),
            minor_per_s: per_s(minor_faults),
            major_per_s: per_s(major_faults),
        }
    }
}

/// One `--json` line: the snapshot's fields (without `grid`, which depends on a screen),
/// this interval's counts, the machine.
pub fn json_line(s: &Snapshot, iv: &Interval, machine: &Machine) -> serde_json::Value {
    let mut v = serde_json::to_value(s).expect("snapshots serialize");
    if let Some(o) = v.as_object_mut() {
        o.remove("grid");
        o.remove("grid_mine");
        o.insert("schema_version".into(), WATCH_SCHEMA_VERSION.into());
        o.insert(
            "interval".into(),
            serde_json::to_value(iv).expect("serializes"),
        );
        o.insert(
            "machine".into(),
            serde_json::to_value(machine).expect("serializes"),
        );
    }
    v
}

/// The text header, aligned with [`text_line`].
pub const HEADER: &str = "     t pattern    state     accesses    acc/s   minflt   min/s majflt  maj/s   cached   mapped  dirty pg/flt     read";

fn opt(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_string(), |n| n.to_string())
}

fn state(s: &RunState) -> &'static str {
    match s {
        RunState::Starting => "starting",
        RunState::Running => "running",
        RunState::Paused => "paused",
        RunState::Finished => "finished",
        RunState::Dead { .. } => "dead",
        RunState::Stopped { .. } => "stopped",
    }
}

/// One text line: time, workload, this interval's faults, whole-file pages. `-` where the
/// kernel hides a count.
pub fn text_line(s: &Snapshot, iv: &Interval) -> String {
    let f = &s.faults;
    format!(
        "{:>5.1}s {:<10} {:<8} {:>9} {:>8.0} {:>8} {:>7.0} {:>6} {:>6.0} {:>8} {:>8} {:>6} {:>6} {:>8}",
        s.t_ms as f64 / 1000.0,
        s.worker.pattern.to_string(),
        state(&s.worker.state),
        s.worker.accesses,
        iv.accesses_per_s,
        iv.minor_faults,
        iv.minor_per_s,
        iv.major_faults,
        iv.major_per_s,
        opt(s.totals.cached),
        opt(s.totals.mapped),
        opt(s.totals.dirty),
        f.pages_mapped_per_fault
            .map_or_else(|| "-".to_string(), |p| format!("{p:.1}")),
        f.read_bytes.map_or_else(|| "-".to_string(), human_bytes),
    )
}

/// Runs `mmviz watch`; returns the exit code (0, or 128+signal: 130 on Ctrl-C).
pub fn main(a: &WatchArgs) -> Result<u8> {
    if !(a.interval.is_finite() && a.interval >= 0.05 && a.interval <= 3600.0) {
        return Err(AppError::usage(format!(
            "--interval {} is not in 0.05..=3600 seconds",
            a.interval
        )));
    }
    if a.count == Some(0) {
        return Err(AppError::usage("--count 0 would print nothing"));
    }
    let (path, is_demo) = match &a.file {
        Some(p) => (p.clone(), false),
        None => (
            demo::ensure_demo_file(std::io::stderr().is_terminal())?,
            true,
        ),
    };
    let t = Target::open(&path)?;
    let (spec, advice) = pattern_spec(&a.workload, t.size, &t.path)?;
    let machine = Machine::detect(Some(&t.file));
    let pages = t.size.div_ceil(machine.page_size);
    drop(t);
    let rate = match a.rate.as_deref() {
        None => Some(DEFAULT_TUI_RATE),
        r => parse_rate(r)?,
    };
    // SIGINT, SIGTERM, SIGHUP: stop the session (and its worker) and exit 128+signal.
    let signals = crate::error::StopSignals::register()?;

    let (tx, rx, handle) = session::spawn(SessionOptions {
        path,
        is_demo,
        spec,
        advice,
        rate,
        cold: a.cold,
        hz: hz_for(a.interval),
        compare: None,
        write: None,
    })?;
    // One cell over the whole file: totals only (there is no screen to fill).
    let _ = tx.send(Command::SetView {
        start_page: 0,
        end_page: pages,
        cells: 1,
    });
    // The live view's key actions that make sense headless, in the order a user would press
    // them: warm (w / W), then pause (space).
    match a.warm.as_deref() {
        Some("random") => {
            let _ = tx.send(Command::WarmRandom);
        }
        Some(_) => {
            let _ = tx.send(Command::Warm);
        }
        None => {}
    }
    if a.paused {
        let _ = tx.send(Command::TogglePause);
    }
    let stop = |code: u8, handle: std::thread::JoinHandle<()>| {
        let _ = tx.send(Command::Quit);
        let _ = handle.join();
        Ok(code)
    };

    let period = Duration::from_secs_f64(a.interval);
    let mut next = Instant::now() + period;
    let mut latest: Option<Snapshot> = None;
    let mut printed: Option<Snapshot> = None;
    let mut lines = 0u64;
    if !a.json {
        crate::outln!("{HEADER}");
    }
    loop {
        if signals.stop.load(Ordering::Relaxed) {
            let code = signals.caught().map_or(AppError::INTERRUPTED, |sig| {
                AppError::signalled(sig, "").code
            });
            return stop(code, handle);
        }
        let now = Instant::now();
        if now >= next {
            next += period;
            // Nothing new since the last line (an idle session sends nothing): the last
            // snapshot still holds.
            if let Some(s) = latest.as_ref().or(printed.as_ref()) {
                let iv = Interval::between(printed.as_ref(), s);
                if a.json {
                    crate::outln!("{}", json_line(s, &iv, &machine));
                } else {
                    crate::outln!("{}", text_line(s, &iv));
                }
                printed = latest.take().or(printed);
                lines += 1;
                if a.count.is_some_and(|c| lines >= c) {
                    return stop(0, handle);
                }
            }
            continue;
        }
        // Wake at least every 100 ms to notice Ctrl-C.
        let wait = (next - now).min(Duration::from_millis(100));
        match rx.recv_timeout(wait) {
            Ok(s) => {
                if let RunState::Dead { reason } = &s.worker.state {
                    if printed.as_ref().map(|p| &p.worker.state) != Some(&s.worker.state) {
                        eprintln!("mmviz: worker died: {reason}");
                    }
                }
                latest = Some(s);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                let _ = handle.join();
                return Err(AppError::runtime("the session ended unexpectedly"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::fixture::fixture_snapshot;

    #[test]
    fn short_intervals_sample_faster() {
        assert_eq!(hz_for(1.0), 10);
        assert_eq!(hz_for(0.05), 20);
        assert_eq!(hz_for(3600.0), 10);
    }

    #[test]
    fn intervals_count_deltas_and_restarts() {
        let mut a = fixture_snapshot();
        a.t_ms = 1000;
        a.worker.accesses = 100;
        a.faults.minor_total = 10;
        a.faults.major_total = 1;
        let mut b = a.clone();
        b.t_ms = 1500;
        b.worker.accesses = 300;
        b.faults.minor_total = 30;
        b.faults.major_total = 1;
        let iv = Interval::between(Some(&a), &b);
        assert_eq!(
            (iv.dt_ms, iv.accesses, iv.minor_faults, iv.major_faults),
            (500, 200, 20, 0)
        );
        assert_eq!((iv.accesses_per_s, iv.minor_per_s), (400.0, 40.0));
        // After a reset the totals restart: count from zero, not a huge wrapped number.
        b.faults.minor_total = 5;
        assert_eq!(Interval::between(Some(&a), &b).minor_faults, 5);
        assert_eq!(Interval::between(None, &a).accesses, 100);
    }

    #[test]
    fn json_line_is_the_snapshot_without_grid() {
        let s = fixture_snapshot();
        let v = json_line(&s, &Interval::default(), &Machine::default());
        let o = v.as_object().unwrap();
        assert!(!o.contains_key("grid"));
        for k in [
            "seq", "t_ms", "file", "worker", "totals", "faults", "interval", "machine",
        ] {
            assert!(o.contains_key(k), "{k}");
        }
        assert_eq!(o["schema_version"], WATCH_SCHEMA_VERSION);
        let hidden = Snapshot {
            totals: Default::default(),
            ..s
        };
        assert!(text_line(&hidden, &Interval::default()).contains(" - "));
    }
}
