//! The live session against the real kernel, without a terminal: commands in, snapshots out.

use mmviz::kernel::advice::Advice;
use mmviz::session::snapshot::{Command, RunState, Snapshot};
use mmviz::session::{self, SessionOptions};
use mmviz::workload::patterns::PatternKind;
use mmviz::workload::worker::PatternSpec;
use std::path::PathBuf;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

fn scratch(name: &str, mib: u64) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("session");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    let st = std::process::Command::new(env!("CARGO_BIN_EXE_mmviz"))
        .args([
            "gen",
            p.to_str().unwrap(),
            "--size",
            &format!("{mib}MiB"),
            "--force",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    p
}

/// Waits for a snapshot that satisfies `f`, failing after `secs`.
fn wait_for(
    rx: &Receiver<Snapshot>,
    secs: u64,
    what: &str,
    f: impl Fn(&Snapshot) -> bool,
) -> Snapshot {
    let t0 = Instant::now();
    let mut last = None;
    while t0.elapsed() < Duration::from_secs(secs) {
        if let Ok(s) = rx.recv_timeout(Duration::from_millis(200)) {
            if f(&s) {
                return s;
            }
            last = Some(s);
        }
    }
    panic!("timed out waiting for {what}; last snapshot: {last:#?}");
}

#[test]
fn session_runs_evicts_switches_and_pauses() {
    std::env::set_var("MMVIZ_EXE", env!("CARGO_BIN_EXE_mmviz"));
    let path = scratch("s1.bin", 16);
    let (tx, rx, handle) = session::spawn(SessionOptions {
        path: path.clone(),
        is_demo: false,
        spec: PatternSpec::default(),
        advice: Advice::Normal,
        rate: Some(20_000),
        cold: true,
        hz: 20,
        compare: None,
        write: None,
    })
    .expect("session starts");
    tx.send(Command::SetView {
        start_page: 0,
        end_page: u64::MAX,
        cells: 256,
    })
    .unwrap();
    let s = wait_for(&rx, 20, "a running worker that touched pages", |s| {
        s.worker.state == RunState::Running && s.totals.touched > 100 && s.grid.cells.len() == 256
    });
    assert!(s.file.pages == 4096 || s.file.page_size != 4096);
    assert!(s.totals.cached.unwrap() >= s.totals.touched.min(s.totals.cached.unwrap()));
    assert!(s.worker.pid.is_some());
    // Sequential from page 0: the front is somewhere with recent accesses.
    assert!(s.grid.cells.iter().any(|c| c.recent > 0));

    tx.send(Command::TogglePause).unwrap();
    wait_for(&rx, 10, "paused", |s| s.worker.state == RunState::Paused);
    tx.send(Command::Evict).unwrap();
    let s = wait_for(&rx, 10, "evicted", |s| {
        s.message
            .as_deref()
            .is_some_and(|m| m.starts_with("evicted"))
    });
    assert_eq!(s.totals.cached, Some(0), "{:?}", s.message);
    assert_eq!(s.totals.mapped, Some(0));
    assert_eq!(s.totals.touched, 0);

    tx.send(Command::SetPattern {
        pattern: PatternKind::Random,
    })
    .unwrap();
    tx.send(Command::TogglePause).unwrap();
    let s = wait_for(&rx, 20, "random pattern running and faulting", |s| {
        s.worker.pattern == PatternKind::Random
            && s.worker.state == RunState::Running
            && s.worker.accesses > 50
            && s.totals.touched > 0
    });
    // After the evict every touched page had to be faulted in again.
    assert!(s.faults.major_total + s.faults.minor_total > 0);

    tx.send(Command::Quit).unwrap();
    handle.join().unwrap();
}

#[test]
fn session_reports_a_dead_worker_and_restarts() {
    std::env::set_var("MMVIZ_EXE", env!("CARGO_BIN_EXE_mmviz"));
    let path = scratch("s2.bin", 8);
    let (tx, rx, handle) = session::spawn(SessionOptions {
        path: path.clone(),
        is_demo: false,
        spec: PatternSpec {
            kind: PatternKind::Sequential,
            ..Default::default()
        },
        advice: Advice::Normal,
        rate: Some(200),
        cold: false,
        hz: 20,
        compare: None,
        write: None,
    })
    .unwrap();
    wait_for(&rx, 20, "running", |s| {
        s.worker.state == RunState::Running && s.worker.accesses > 0
    });
    // Shrink our own scratch file under the worker: its next touch beyond the end is SIGBUS.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(4096)
        .unwrap();
    let s = wait_for(&rx, 20, "dead worker", |s| {
        matches!(s.worker.state, RunState::Dead { .. })
    });
    let RunState::Dead { reason } = &s.worker.state else {
        unreachable!()
    };
    assert!(
        reason.contains("SIGBUS") && reason.contains("shrank"),
        "{reason}"
    );
    tx.send(Command::Reset).unwrap();
    let s = wait_for(&rx, 20, "restarted on the new size", |s| {
        !matches!(s.worker.state, RunState::Dead { .. }) && s.file.size_bytes == 4096
    });
    assert_eq!(s.file.pages, 1);
    tx.send(Command::Quit).unwrap();
    handle.join().unwrap();
}
