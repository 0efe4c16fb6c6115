//! `mmviz lesson NAME --check`: the pre-flight a teacher runs before class. Every step runs
//! headless against the live session on this machine (the same [`Controller`] the TUI drives),
//! and every check's verdict is printed with what was measured. Exit 0 when every check
//! passed or is explained as not applicable here, 1 otherwise.

use super::controller::{CheckState, Controller};
use super::file::Lesson;
use crate::error::{AppError, Result};
use crate::kernel::target::Target;
use crate::session::snapshot::{Command, LogEntry, Snapshot};
use crate::session::{self, SessionOptions, SessionWrite};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

/// One check in the report.
#[derive(Clone, Debug, Serialize)]
pub struct CheckReport {
    pub expect: String,
    /// pass, fail, not_measured, not_applicable, skipped, pending (never judged: a fail).
    pub verdict: &'static str,
    pub measured: Option<serde_json::Value>,
    pub detail: String,
    pub ok: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct StepReport {
    pub index: usize,
    pub title: String,
    pub skipped: Option<String>,
    pub problem: Option<String>,
    pub seconds: f64,
    pub checks: Vec<CheckReport>,
    /// The session's event log during the step (set-up results, worker starts and deaths,
    /// evictions, probe results), oldest first: what a failed check's cause is read from.
    pub events: Vec<LogEntry>,
}

/// `lesson NAME --check --json` (schema_version 1).
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub lesson: String,
    pub title: String,
    /// The file the lesson ran on (a write lesson wrote only a scratch copy of it).
    pub file: String,
    pub write: Option<String>,
    pub steps: Vec<StepReport>,
    pub pass: usize,
    pub fail: usize,
    /// not measured, not applicable or skipped: each with its reason.
    pub explained: usize,
    pub ok: bool,
    pub machine: crate::kernel::machine::Machine,
}

/// Where and how a pre-flight runs (the command line's choices, as plain values).
pub struct CheckOptions {
    /// The file the lesson runs on (a write lesson writes only a scratch copy of it).
    pub path: PathBuf,
    pub is_demo: bool,
    /// Also the steps marked slow (the flusher's 30 s).
    pub slow: bool,
    /// The session's starting rate, as in the live view.
    pub rate: Option<u64>,
    /// The comparison engine for steps that compare mmap with read().
    pub compare: Option<session::CompareFn>,
}

/// Runs every step of `lesson` headless as `o` says.
pub fn check(lesson: &Lesson, o: &CheckOptions) -> Result<Report> {
    let (path, is_demo, slow) = (o.path.clone(), o.is_demo, o.slow);
    let t = Target::open(&path)?;
    let machine = crate::kernel::machine::Machine::detect(Some(&t.file));
    let size = match lesson.write {
        Some(_) => t.size.min(crate::workload::scratch::COPY_LIMIT),
        None => t.size,
    };
    let pages = size.div_ceil(machine.page_size.max(1));
    drop(t);
    let exe = std::env::current_exe().map_err(AppError::runtime)?;
    let (tx, rx, handle) = session::spawn(SessionOptions {
        path: path.clone(),
        is_demo,
        spec: Default::default(),
        advice: crate::kernel::advice::Advice::Normal,
        rate: o.rate,
        cold: false,
        hz: 20,
        compare: o.compare,
        write: lesson
            .write
            .map(|(mode, share)| SessionWrite { mode, share }),
    })?;
    let _ = tx.send(Command::SetView {
        start_page: 0,
        end_page: pages,
        cells: 1,
    });
    let mut ctl = Controller::new(lesson.clone(), path.clone(), exe);
    let mut last = wait_first(&rx)?;
    let mut steps = Vec::new();
    for i in 0..lesson.steps.len() {
        ctl.go(i);
        let step = &lesson.steps[i];
        let skipped = match (&step.slow, slow) {
            (Some(why), false) => {
                let why = format!("{why} (run with --slow to include it)");
                ctl.skip(&why);
                Some(why)
            }
            _ => None,
        };
        let t0 = Instant::now();
        // The newest event before the step: everything after it happened during the step.
        let mark = last.events.last().cloned();
        loop {
            let now = Instant::now();
            for c in ctl.tick(&last, now) {
                let _ = tx.send(c);
            }
            if ctl.step_done(now) {
                break;
            }
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(s) => last = s,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(AppError::runtime("the live session ended early"))
                }
            }
            // Keep only the newest.
            while let Ok(s) = rx.try_recv() {
                last = s;
            }
        }
        let view = ctl.view(Instant::now());
        steps.push(StepReport {
            index: i + 1,
            title: step.title.clone(),
            skipped,
            problem: ctl.problem().map(str::to_string),
            seconds: t0.elapsed().as_secs_f64(),
            events: events_since(&last.events, mark.as_ref()),
            checks: view
                .checks
                .into_iter()
                .map(|c| CheckReport {
                    expect: c.expect,
                    verdict: c.state.word(),
                    measured: match &c.state {
                        CheckState::Pass { measured } | CheckState::Fail { measured } => {
                            Some(measured.clone())
                        }
                        _ => None,
                    },
                    ok: c.state.ok(),
                    detail: c.detail,
                })
                .collect(),
        });
    }
    let _ = tx.send(Command::Quit);
    let _ = handle.join();
    let all: Vec<&CheckReport> = steps.iter().flat_map(|s| &s.checks).collect();
    let pass = all.iter().filter(|c| c.verdict == "pass").count();
    let fail = all.iter().filter(|c| !c.ok).count();
    let explained = all.len() - pass - fail;
    let problems = steps.iter().any(|s| s.problem.is_some());
    Ok(Report {
        schema_version: 1,
        lesson: lesson.name.clone(),
        title: lesson.title.clone(),
        file: crate::inspect::escape_path(&path.display().to_string()),
        write: lesson.write.map(|(m, _)| m.to_string()),
        steps,
        pass,
        fail,
        explained,
        ok: fail == 0 && !problems,
        machine,
    })
}

/// The events after `mark` (all that are kept when `mark` has scrolled out of them), but
/// the controller's own "lesson check" notes: the report carries the checks, and a step's notes
/// reach the log only after the runner has moved on to the next step.
fn events_since(events: &[LogEntry], mark: Option<&LogEntry>) -> Vec<LogEntry> {
    let from = mark
        .and_then(|m| events.iter().rposition(|e| e == m))
        .map_or(0, |i| i + 1);
    events[from..]
        .iter()
        .filter(|e| !e.text.starts_with("lesson check "))
        .cloned()
        .collect()
}

fn wait_first(rx: &std::sync::mpsc::Receiver<Snapshot>) -> Result<Snapshot> {
    rx.recv_timeout(Duration::from_secs(10))
        .map_err(|_| AppError::runtime("the live session sent no snapshot in 10 s"))
}

/// The text report.
pub fn text(r: &Report) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "lesson {}: {}", r.lesson, r.title);
    let _ = writeln!(
        s,
        "on {}{}",
        r.file,
        match &r.write {
            Some(m) => format!(" (write {m}: a scratch copy; the file itself is never written)"),
            None => String::new(),
        }
    );
    for st in &r.steps {
        let _ = writeln!(s, "step {} {} ({:.1} s)", st.index, st.title, st.seconds);
        if let Some(p) = &st.problem {
            let _ = writeln!(s, "  set-up failed: {p}");
        }
        for c in &st.checks {
            let word = match c.verdict {
                "pass" => "pass",
                "fail" | "pending" => "FAIL",
                "skipped" => "skip",
                _ => "n/a",
            };
            let _ = writeln!(s, "  {word:<4}  {}  {}", c.expect, c.detail);
        }
        // Where the step went wrong, what the session said meanwhile.
        if (st.problem.is_some() || st.checks.iter().any(|c| !c.ok)) && !st.events.is_empty() {
            let _ = writeln!(s, "  the session's log during the step:");
            for e in &st.events {
                let _ = writeln!(
                    s,
                    "    {:>3}.{} s  {}",
                    e.t_ms / 1000,
                    e.t_ms % 1000 / 100,
                    crate::text::escape_controls(&e.text)
                );
            }
        }
    }
    let _ = writeln!(
        s,
        "{} passed, {} explained (skipped, not applicable or not measured here), {} failed: {}",
        r.pass,
        r.explained,
        r.fail,
        if r.ok { "ready for class" } else { "NOT ready" }
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(t_ms: u64, text: &str) -> LogEntry {
        LogEntry {
            t_ms,
            text: text.into(),
        }
    }

    #[test]
    fn events_since_takes_what_came_after_the_mark() {
        let log = [
            e(1, "a"),
            e(5, "b"),
            e(5, "c"),
            e(7, "lesson check 1: x -> y"),
            e(9, "d"),
        ];
        assert_eq!(events_since(&log, Some(&e(5, "b"))), [e(5, "c"), e(9, "d")]);
        assert_eq!(events_since(&log, Some(&e(9, "d"))), []);
        // No mark (an empty log at the start) or one that scrolled out: all that is kept.
        assert_eq!(events_since(&log, None).len(), 4);
        assert_eq!(events_since(&log, Some(&e(0, "gone"))).len(), 4);
    }

    #[test]
    fn a_failed_step_prints_the_sessions_log_and_a_passed_one_does_not() {
        let check = |ok: bool| CheckReport {
            expect: "faults.minor_total >= 1".into(),
            verdict: if ok { "pass" } else { "fail" },
            measured: Some(serde_json::json!(0)),
            detail: "measured 0".into(),
            ok,
        };
        let step = |index, ok| StepReport {
            index,
            title: format!("step {index}"),
            skipped: None,
            problem: None,
            seconds: 1.0,
            checks: vec![check(ok)],
            events: vec![e(3_250, &format!("worker of step {index} started"))],
        };
        let r = Report {
            schema_version: 1,
            lesson: "l".into(),
            title: "t".into(),
            file: "f".into(),
            write: None,
            steps: vec![step(1, true), step(2, false)],
            pass: 1,
            fail: 1,
            explained: 0,
            ok: false,
            machine: crate::kernel::machine::Machine::detect(None),
        };
        let out = text(&r);
        assert!(out.contains("    3.2 s  worker of step 2 started"), "{out}");
        assert!(!out.contains("worker of step 1"), "{out}");
        assert!(out.ends_with("NOT ready\n"), "{out}");
    }
}
