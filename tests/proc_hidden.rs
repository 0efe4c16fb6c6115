//! The worker's /proc unreadable (as under hidepid or for another user's process), simulated
//! with a test-only variable in its own test binary (the variable is process-wide): the
//! session says so, and the grid still shows page-cache state.

use mmviz::kernel::advice::Advice;
use mmviz::session::snapshot::{Command, PagemapSource, RunState};
use mmviz::session::{self, SessionOptions};
use mmviz::workload::worker::PatternSpec;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[test]
fn hidden_worker_proc_keeps_the_cache_grid_and_says_why() {
    std::env::set_var("MMVIZ_EXE", env!("CARGO_BIN_EXE_mmviz"));
    std::env::set_var(mmviz::kernel::features::TEST_HIDE_WORKER_PROC_ENV, "1");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("proc-hidden");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("h.bin");
    let st = std::process::Command::new(env!("CARGO_BIN_EXE_mmviz"))
        .args(["gen", path.to_str().unwrap(), "--size", "8MiB", "--force"])
        .status()
        .unwrap();
    assert!(st.success());
    let (tx, rx, handle) = session::spawn(SessionOptions {
        path: path.clone(),
        is_demo: false,
        spec: PatternSpec::default(),
        advice: Advice::Normal,
        rate: Some(20_000),
        cold: false,
        hz: 20,
        compare: None,
        write: None,
    })
    .expect("session starts");
    tx.send(Command::SetView {
        start_page: 0,
        end_page: u64::MAX,
        cells: 64,
    })
    .unwrap();
    let t0 = Instant::now();
    let s = loop {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "no snapshot with progress"
        );
        if let Ok(s) = rx.recv_timeout(Duration::from_millis(200)) {
            if s.worker.state == RunState::Running && s.totals.touched > 100 {
                break s;
            }
        }
    };
    // Said, not hidden: the page-table source is unavailable, with the errno.
    assert_eq!(s.caps.pagemap, PagemapSource::Unavailable, "{:?}", s.caps);
    let note = s.caps.pagemap_note.clone().unwrap_or_default();
    assert!(note.contains("Permission denied"), "{note}");
    // Mapped is unknown, never a made-up 0.
    assert_eq!(s.totals.mapped, None, "{:?}", s.totals);
    // The page cache is still visible cell by cell (gen left the file cached).
    assert!(s.totals.cached.is_some_and(|c| c > 0), "{:?}", s.totals);
    assert!(
        s.grid.cells.iter().all(|c| c.cached.is_some()),
        "every cell has a cached count"
    );
    // Faults come from the worker's own reports, so they are not stuck at 0.
    assert!(s.faults.minor_total > 0, "{:?}", s.faults);
    tx.send(Command::Quit).unwrap();
    handle.join().unwrap();
}
