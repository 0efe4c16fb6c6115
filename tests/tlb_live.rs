//! The `t` key's path through the live session, headless (commands in, snapshots out): the
//! 4 KiB vs huge page measurement runs on the session's thread, the worker is paused while
//! it runs (its access count stands still, and /proc/<worker>/stat shows no user time
//! spent), the result reaches the snapshot, and the worker resumes; `t` again cancels.

mod common;

use mmviz::kernel::advice::Advice;
use mmviz::session::snapshot::{Command, RunState, Snapshot, TlbMeasureState};
use mmviz::session::{self, SessionOptions};
use mmviz::workload::patterns::PatternKind;
use mmviz::workload::worker::PatternSpec;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

const MIB: u64 = 1 << 20;

fn gen(dir: &Path) -> PathBuf {
    let p = dir.join("tlb.bin");
    let st = std::process::Command::new(common::BIN)
        .args(["gen", p.to_str().unwrap(), "--size", "8MiB", "--force"])
        .status()
        .unwrap();
    assert!(st.success());
    p
}

fn start(
    path: &Path,
) -> (
    Sender<Command>,
    Receiver<Snapshot>,
    std::thread::JoinHandle<()>,
) {
    std::env::set_var("MMVIZ_EXE", common::BIN);
    session::spawn(SessionOptions {
        path: path.to_path_buf(),
        is_demo: false,
        spec: PatternSpec {
            kind: PatternKind::Random,
            seed: 7,
            ..Default::default()
        },
        advice: Advice::Normal,
        rate: Some(2_000),
        cold: false,
        hz: 20,
        compare: None,
        write: None,
    })
    .expect("session starts")
}

fn wait(rx: &Receiver<Snapshot>, what: &str, f: impl Fn(&Snapshot) -> bool) -> Snapshot {
    let t0 = Instant::now();
    let mut last = None;
    while t0.elapsed() < Duration::from_secs(60) {
        if let Ok(s) = rx.recv_timeout(Duration::from_millis(200)) {
            if f(&s) {
                return s;
            }
            last = Some(s);
        }
    }
    panic!("timed out waiting for {what}; last: {last:#?}");
}

/// utime + stime of a process in clock ticks (/proc/<pid>/stat fields 14 and 15).
fn cpu_ticks(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &s[s.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the comm: field 3 is index 0, so utime (14) is index 11, stime (15) index 12.
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

#[test]
fn t_measures_with_the_worker_paused_then_resumes() {
    let dir = common::scratch_dir();
    let path = gen(dir.path());
    let (tx, rx, handle) = start(&path);
    let s = wait(&rx, "the worker running", |s| {
        s.worker.state == RunState::Running && s.worker.accesses > 0
    });
    let pid = s.worker.pid.expect("worker pid");
    tx.send(Command::MeasureTlb {
        max_working_set: Some(8 * MIB),
    })
    .unwrap();
    let during = wait(&rx, "the measurement running, worker paused", |s| {
        matches!(s.tlb.measurement, TlbMeasureState::Running { .. })
            && s.worker.state == RunState::Paused
    });
    let ticks0 = cpu_ticks(pid);
    let done = wait(&rx, "the measurement done", |s| {
        !matches!(s.tlb.measurement, TlbMeasureState::Running { .. })
    });
    let ticks1 = cpu_ticks(pid);
    let TlbMeasureState::Done(r) = &done.tlb.measurement else {
        panic!("measurement did not finish: {:?}", done.tlb.measurement);
    };
    // Paused: the worker made no access and (independently, from the kernel) spent at most
    // a tick or two of CPU while the measurement ran.
    assert_eq!(done.worker.accesses, during.worker.accesses);
    assert!(
        ticks1 - ticks0 <= 2,
        "worker used {} ticks",
        ticks1 - ticks0
    );
    // 1 MiB..8 MiB unless free memory capped it (then it says so).
    let sets: Vec<u64> = r.rows.iter().map(|w| w.working_set_bytes).collect();
    if r.capped.is_none() {
        assert_eq!(sets, vec![MIB, 2 * MIB, 4 * MIB, 8 * MIB]);
    }
    for w in &r.rows {
        assert!(w.ns_4k > 0.0 && w.ns_huge > 0.0, "{w:?}");
        if let Some(x) = w.ratio {
            assert!((x - w.ns_4k / w.ns_huge).abs() < 1e-9, "{w:?}");
        }
    }
    assert_eq!(r.thp_mode, mmviz::kernel::fsinfo::thp_mode());
    assert!(!r.hardware_counters.is_empty());
    // The worker resumes and accesses again.
    let after = wait(&rx, "the worker running again", |s| {
        s.worker.state == RunState::Running && s.worker.accesses > done.worker.accesses
    });
    assert!(after
        .events
        .iter()
        .any(|e| e.text.starts_with("TLB measurement: ")));
    tx.send(Command::Quit).unwrap();
    handle.join().unwrap();
}

#[test]
fn t_again_cancels_and_the_worker_resumes() {
    let dir = common::scratch_dir();
    let path = gen(dir.path());
    let (tx, rx, handle) = start(&path);
    wait(&rx, "the worker running", |s| {
        s.worker.state == RunState::Running && s.worker.accesses > 0
    });
    tx.send(Command::MeasureTlb {
        max_working_set: Some(64 * MIB),
    })
    .unwrap();
    wait(&rx, "the measurement running", |s| {
        matches!(s.tlb.measurement, TlbMeasureState::Running { .. })
    });
    tx.send(Command::MeasureTlb {
        max_working_set: None,
    })
    .unwrap();
    let s = wait(&rx, "the measurement over", |s| {
        !matches!(s.tlb.measurement, TlbMeasureState::Running { .. })
    });
    // Cancelled before its end: no result is shown as if it were complete.
    assert_eq!(
        s.tlb.measurement,
        TlbMeasureState::Idle,
        "{:?}",
        s.tlb.measurement
    );
    let s = wait(&rx, "the worker running again", |s| {
        s.worker.state == RunState::Running
    });
    assert!(
        s.events
            .iter()
            .any(|e| e.text == "TLB measurement cancelled"),
        "{:?}",
        s.events
    );
    tx.send(Command::Quit).unwrap();
    handle.join().unwrap();
}

/// FilePmdMapped (bytes) of the worker's mapping of `path`, read from /proc/<pid>/smaps.
fn smaps_file_pmd_mapped(pid: u32, path: &Path) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/smaps")).ok()?;
    let name = path.canonicalize().ok()?;
    let name = name.to_str()?;
    let mut inside = false;
    let mut total = None;
    for l in s.lines() {
        let first = l.split_whitespace().next().unwrap_or("");
        if first.contains('-') && !first.ends_with(':') {
            inside = l.trim_end().ends_with(name);
        } else if inside && l.starts_with("FilePmdMapped:") {
            let kb: u64 = l.split_whitespace().nth(1)?.parse().ok()?;
            *total.get_or_insert(0) += kb * 1024;
        }
    }
    total
}

#[test]
fn huge_cells_are_where_smaps_says_the_file_is_pmd_mapped() {
    // The measured case on this machine: a cold sweep under MADV_HUGEPAGE is PMD-mapped.
    if let Some(pmd) = huge_case(Advice::Hugepage) {
        assert!(pmd >= 8 * MIB, "FilePmdMapped {pmd}");
    }
    // Without the advice (THP madvise) the same cold sweep maps 4 KiB PTEs only: no H cell.
    if let Some(pmd) = huge_case(Advice::Normal) {
        if mmviz::kernel::fsinfo::thp_mode().as_deref() == Some("madvise") {
            assert_eq!(pmd, 0);
        }
    }
}

/// Runs a cold sequential sweep with `advice`, pauses, and checks the grid's huge counts
/// against smaps; returns FilePmdMapped (None: skipped here).
fn huge_case(advice: Advice) -> Option<u64> {
    let dir = common::scratch_dir();
    let p = dir.path().join("huge.bin");
    let st = std::process::Command::new(common::BIN)
        .args(["gen", p.to_str().unwrap(), "--size", "16MiB", "--force"])
        .status()
        .unwrap();
    assert!(st.success());
    let fs = mmviz::kernel::fsinfo::fs_of(&std::fs::File::open(&p).unwrap()).unwrap();
    let thp = mmviz::kernel::fsinfo::thp_mode();
    if let Err(why) = common::can_evict(&p) {
        common::skip("huge_cells_are_where_smaps_says", &why);
        return None;
    }
    if fs.name != "ext4" || thp.as_deref() == Some("never") {
        common::skip(
            "huge_cells_are_where_smaps_says",
            &format!(
                "needs ext4 with large folios and THP (fs {}, THP {thp:?})",
                fs.name
            ),
        );
        return None;
    }
    std::env::set_var("MMVIZ_EXE", common::BIN);
    // Cold file, MADV_HUGEPAGE, one sequential sweep: faults read 2 MiB folios and map each
    // with one PMD entry (measured on Linux 6.18 ext4, THP madvise; see tests/tlb.rs).
    let (tx, rx, handle) = session::spawn(SessionOptions {
        path: p.clone(),
        is_demo: false,
        spec: PatternSpec {
            kind: PatternKind::Sequential,
            seed: 7,
            ..Default::default()
        },
        advice,
        rate: None,
        cold: true,
        hz: 20,
        compare: None,
        write: None,
    })
    .expect("session starts");
    // 256 cells of 16 pages: 32 cells per 2 MiB, so a PMD covers whole cells.
    let view = |cells| Command::SetView {
        start_page: 0,
        end_page: u64::MAX,
        cells,
    };
    tx.send(view(256)).unwrap();
    let pages = 16 * MIB / 4096;
    let s = wait(&rx, "the whole file mapped", |s| {
        s.totals.mapped == Some(pages) && s.worker.pid.is_some()
    });
    let pid = s.worker.pid.unwrap();
    tx.send(Command::TogglePause).unwrap();
    wait(&rx, "paused", |s| s.worker.state == RunState::Paused);
    std::thread::sleep(Duration::from_millis(150));
    let before = smaps_file_pmd_mapped(pid, &p).expect("smaps FilePmdMapped");
    // A fresh sample of the paused worker (a new view asks for one), same 16 pages per cell.
    tx.send(view(257)).unwrap();
    tx.send(view(256)).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let s = wait(&rx, "a fresh paused sample", |s| {
        s.worker.state == RunState::Paused && s.grid.cells.len() == 256
    });
    let after = smaps_file_pmd_mapped(pid, &p).expect("smaps FilePmdMapped");
    tx.send(Command::Quit).unwrap();
    handle.join().unwrap();
    assert_eq!(
        before, after,
        "PMD mappings changed while paused (khugepaged?)"
    );
    assert_eq!(
        s.caps.pagemap,
        mmviz::session::snapshot::PagemapSource::Scan
    );
    assert_eq!(s.grid.pages_per_cell, 16);
    let huge: Vec<u64> = s
        .grid
        .cells
        .iter()
        .map(|c| c.huge.expect("scan tells"))
        .collect();
    let total: u64 = huge.iter().sum();
    // Exactly what smaps says, in pages.
    assert_eq!(total * 4096, after, "cells {huge:?}");
    // Where: every PMD is 2 MiB aligned in the file, so huge cells come in aligned groups of
    // 32 whole cells.
    for (g, chunk) in huge.chunks(32).enumerate() {
        let all = chunk.iter().all(|&h| h == 16);
        let none = chunk.iter().all(|&h| h == 0);
        assert!(all || none, "2 MiB region {g}: {chunk:?}");
    }
    // The grid draws them as their own state (the moving front still wins).
    for (c, &h) in s.grid.cells.iter().zip(&huge) {
        let st = mmviz::tui::theme::CellState::of(c);
        if c.recent == 0 {
            assert_eq!(
                st == mmviz::tui::theme::CellState::HugeMapped,
                h > 0,
                "{c:?}"
            );
        }
    }
    Some(after)
}
