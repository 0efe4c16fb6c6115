//! The truth check: the live session, run headless (no terminal: commands in, snapshots out),
//! asserted against an independent witness at the same instant. Cached pages against
//! `fincore` (util-linux), mapped pages against `Rss` of the worker's mapping in
//! /proc/<worker>/smaps, faults against /proc/<worker>/stat, touched pages against the
//! pattern's own replay, readahead "ghosts" only where the kernel read ahead. The worker is
//! paused before each comparison, so both sides describe one instant.

mod common;

use common::live::Live;

use mmviz::kernel::advice::Advice;
use mmviz::session::snapshot::{Command, RunState, Snapshot};
use mmviz::session::SessionOptions;
use mmviz::workload::patterns::{PatternIter, PatternKind};
use mmviz::workload::worker::PatternSpec;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const PS: u64 = 4096;

fn gen(dir: &Path, name: &str, mib: u64) -> PathBuf {
    let p = dir.join(name);
    let st = std::process::Command::new(common::BIN)
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

/// A session on `path` running `kind` at `rate` accesses/s, evicted first when `cold`.
fn start(path: &Path, kind: PatternKind, rate: u64, cold: bool) -> Live {
    Live::spawn(SessionOptions {
        path: path.to_path_buf(),
        is_demo: false,
        spec: PatternSpec {
            kind,
            seed: 7,
            ..Default::default()
        },
        advice: Advice::Normal,
        rate: Some(rate),
        cold,
        hz: 20,
        compare: None,
        write: None,
    })
}

/// Cached pages of the whole file according to fincore (None: fincore missing).
fn fincore_pages(path: &Path) -> Option<u64> {
    let o = std::process::Command::new("fincore")
        .args(["--raw", "--noheadings", "--output", "PAGES"])
        .arg(path)
        .output()
        .ok()?;
    assert!(
        o.status.success(),
        "fincore: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().parse().ok()
}

/// `Rss` (pages) of `pid`'s mapping(s) of `path` in /proc/<pid>/smaps.
fn smaps_rss(pid: u32, path: &Path) -> u64 {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap();
    let name = path.canonicalize().unwrap().display().to_string();
    let mut inside = false;
    let mut kb = 0;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if first.contains('-') && !first.ends_with(':') {
            inside = line.ends_with(&name);
        } else if inside && line.starts_with("Rss:") {
            kb += line
                .split_whitespace()
                .nth(1)
                .unwrap()
                .parse::<u64>()
                .unwrap();
        }
    }
    kb * 1024 / PS
}

/// (minflt, majflt) of `pid` from /proc/<pid>/stat (fields 10 and 12).
fn proc_faults(pid: u32) -> (u64, u64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let f: Vec<&str> = s[s.rfind(')').unwrap() + 2..].split_whitespace().collect();
    (f[7].parse().unwrap(), f[9].parse().unwrap())
}

/// Distinct pages the pattern touches in its first `n` accesses (1-byte accesses).
fn replay_pages(kind: PatternKind, size: u64, n: u64) -> u64 {
    let spec = PatternSpec {
        kind,
        seed: 7,
        ..Default::default()
    };
    let mut it = PatternIter::new(&spec.params(size, PS));
    let mut pages = BTreeSet::new();
    for _ in 0..n {
        pages.insert(it.next_offset(0) / PS);
    }
    pages.len() as u64
}

fn ghost_cells(s: &Snapshot) -> u64 {
    s.grid.cells.iter().map(|c| c.ghosts().unwrap_or(0)).sum()
}

#[test]
fn every_number_matches_an_independent_witness_on_a_warm_file() {
    if mmviz::units::page_size() != PS {
        eprintln!("skipped: the witnesses here assume 4 KiB pages");
        return;
    }
    let dir = common::scratch_dir();
    // Just written: every page is in the page cache before the session starts.
    let path = gen(dir.path(), "warm.bin", 64);
    let size = 64 << 20;
    let mut live = start(&path, PatternKind::Random, 20_000, false);
    live.wait("random accesses", |s| s.worker.accesses > 3_000);
    let s = live.paused();
    let pid = s.worker.pid.expect("a worker");

    // Cached: the session's whole-file total is fincore's.
    if let Some(fc) = fincore_pages(&path) {
        assert_eq!(s.totals.cached, Some(fc), "cached vs fincore");
    }
    // Mapped: the worker's page table (pagemap) equals the kernel's Rss of that mapping.
    let rss = smaps_rss(pid, &path);
    assert_eq!(s.totals.mapped, Some(rss), "mapped vs smaps Rss");
    assert!(
        s.totals.mapped <= s.totals.cached,
        "mapped > cached: {:?}",
        s.totals
    );
    // Faults: the interval's totals plus its start are the worker's own counters.
    let (minflt, majflt) = proc_faults(pid);
    assert_eq!(
        (
            s.faults.minor_total + s.faults.interval.minor_at_start,
            s.faults.major_total + s.faults.interval.major_at_start
        ),
        (minflt, majflt),
        "faults vs /proc/{pid}/stat"
    );
    // Touched: the pattern's own replay of exactly the accesses the worker ran.
    assert_eq!(
        s.totals.touched,
        replay_pages(PatternKind::Random, size, s.worker.accesses),
        "touched vs replay of {} accesses",
        s.worker.accesses
    );
    // The file was fully cached before the session began: nothing was read ahead, every
    // untouched cached page is "cached only" (the defect called all of them ghosts).
    assert_eq!(s.totals.ghosts, Some(0), "{:?}", s.totals);
    assert_eq!(ghost_cells(&s), 0);
    assert_eq!(s.faults.newly_cached, Some(0));
    assert_eq!(s.faults.major_total, 0, "a warm file takes no major fault");
    // Pages mapped per fault: mapped pages over the interval's faults.
    let faults = s.faults.minor_total + s.faults.major_total;
    assert!(faults > 0);
    let want = rss as f64 / faults as f64;
    let got = s.faults.pages_mapped_per_fault.expect("ratio");
    assert!((got - want).abs() < 1e-9, "{got} vs {want}");
}

#[test]
fn ghosts_appear_only_where_the_kernel_read_ahead_and_warm_pages_are_cached_only() {
    let dir = common::scratch_dir();
    let path = gen(dir.path(), "cold.bin", 64);
    let mut live = start(&path, PatternKind::Sequential, 5_000, true);
    live.wait("a sequential front", |s| {
        s.worker.accesses > 1_000 && s.faults.interval.cached_at_start == Some(0)
    });
    let s = live.paused();
    let (cached, touched) = (s.totals.cached.unwrap(), s.totals.touched);
    if let Some(fc) = fincore_pages(&path) {
        assert_eq!(cached, fc, "cached vs fincore");
    }
    // Started cold: every cached page came in during the interval; those not touched were
    // read ahead around the workload's faults.
    assert_eq!(s.totals.ghosts, Some(cached - touched), "{:?}", s.totals);
    assert!(
        cached > touched,
        "readahead ran ahead of a sequential scan: {:?}",
        s.totals
    );
    assert_eq!(s.faults.newly_cached, Some(cached));
    let majors = s.faults.major_total;
    if majors > 0 {
        assert_eq!(
            s.faults.pages_cached_per_major,
            Some(cached as f64 / majors as f64)
        );
    }
    // mmviz's own warm pass fills the rest: a new interval, and none of it is "read ahead".
    live.send(Command::Warm);
    let s = live.wait("warmed", |s| s.faults.interval.reason == "warm");
    // (Under memory pressure from other work a few pages may already be reclaimed again.)
    assert!(
        s.totals.cached.unwrap() * 100 >= s.file.pages * 99,
        "{:?}",
        s.totals
    );
    assert_eq!(s.totals.ghosts, Some(0), "{:?}", s.totals);
    assert_eq!(s.faults.minor_total + s.faults.major_total, 0);
}

#[test]
fn evict_resets_every_derived_figure_together_and_blames_no_one_falsely() {
    let dir = common::scratch_dir();
    let path = gen(dir.path(), "evict.bin", 32);
    let mut live = start(&path, PatternKind::Random, 20_000, false);
    live.send(Command::CycleAdvice); // random: one page per fault, the worker keeps faulting
    live.wait("faulting", |s| {
        s.worker.accesses > 2_000 && s.totals.mapped > Some(0)
    });
    // Evict while the worker runs: the session pauses it around the eviction, so nothing is
    // re-faulted in between and nothing stays cached (the defect blamed "another process").
    live.send(Command::Evict);
    let s = live.wait("evicted", |s| s.faults.interval.reason == "evict");
    let m = s.message.clone().unwrap_or_default();
    assert!(
        m.starts_with("evicted:") && m.ends_with("-> 0 pages cached"),
        "{m}"
    );
    assert!(!m.contains("another process"), "{m}");
    // Paused, an evict shows the new interval's start: everything restarted at once, no stale
    // ratio over 0 mapped pages (the defect showed 233 pages mapped per fault here).
    live.paused();
    live.send(Command::Evict);
    let s = live.wait("evicted while paused", |s| {
        s.faults.interval.reason == "evict" && s.worker.state == RunState::Paused && s.seq > 0
    });
    assert_eq!(s.worker.accesses, 0, "{:?}", s.worker);
    assert_eq!((s.faults.minor_total, s.faults.major_total), (0, 0));
    assert_eq!(s.totals.touched, 0);
    assert_eq!(s.faults.pages_mapped_per_fault, None);
    assert_eq!(s.faults.pages_cached_per_major, None);

    // Now a real second mapper: evict must name it, and only it.
    std::env::set_var("MMVIZ_EXE", common::BIN);
    let mut other = mmviz::workload::worker::WorkerHandle::spawn(&path, Duration::from_secs(10))
        .expect("second worker");
    other
        .send(&mmviz::workload::worker::Control::Configure {
            pattern: PatternSpec::default(),
            limit: mmviz::workload::worker::Limit::OnePass,
            rate: None,
            paused: false,
            report_ms: 20,
        })
        .unwrap();
    let t0 = Instant::now();
    while smaps_rss(other.pid(), &path) < 1000 && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    live.send(Command::Evict);
    let pid = other.pid();
    let s = live.wait("evict with a second mapper", move |s| {
        s.message
            .as_deref()
            .is_some_and(|m| m.starts_with("evict:"))
    });
    let m = s.message.unwrap();
    // Named with the pages its page table holds (its smaps Rss of the file).
    let named = m
        .split(&format!("(pid {pid}, "))
        .nth(1)
        .and_then(|r| r.split(" pages)").next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("pid {pid} and its pages in: {m}"));
    assert!(named >= 1000, "{m}");
    other.stop(Duration::from_secs(2));
}

#[test]
fn pattern_switch_is_clean_restart_keeps_pause_and_step_runs_one_access() {
    let dir = common::scratch_dir();
    let path = gen(dir.path(), "switch.bin", 8);
    let mut live = start(&path, PatternKind::Stride, 100_000, false);
    live.wait("stride mapped much", |s| {
        s.totals.mapped.unwrap_or(0) > 1000
    });
    // Paused, so the new pattern does not run yet: the switch alone dropped the mapping and the
    // touched set (the defect kept stride's mapping: every pattern then looked fully mapped).
    live.paused();
    live.send(Command::SetPattern {
        pattern: PatternKind::Hotset,
    });
    let s = live.wait("switched", |s| {
        s.faults.interval.reason == "pattern" && s.worker.pattern == PatternKind::Hotset
    });
    assert_eq!(
        (s.totals.mapped, s.totals.touched),
        (Some(0), 0),
        "{:?}",
        s.totals
    );
    assert_eq!(s.worker.state, RunState::Paused);
    // r while paused: restarted, still paused.
    live.send(Command::Reset);
    let s = live.wait("restarted", |s| s.faults.interval.reason == "restart");
    assert_eq!(s.worker.state, RunState::Paused, "{:?}", s.worker.state);
    // At <= 10/s a step is exactly one access, and the screen says what it did.
    for _ in 0..3 {
        live.send(Command::Slower);
    }
    while live.wait("rate", |_| true).worker.rate > Some(10) {
        live.send(Command::Slower);
    }
    live.send(Command::Step);
    let s = live.wait("stepped", |s| {
        s.message.as_deref().is_some_and(|m| m.starts_with("step:"))
    });
    assert_eq!(s.worker.accesses, 1, "{:?}", s.message);
    let m = s.message.unwrap();
    assert!(m.starts_with("step: access 1 on page "), "{m}");
}

/// A switch while the worker runs: the new interval counts accesses from 0, and never
/// fewer accesses than distinct pages touched (the defect showed "accesses 0" for seconds
/// while thousands of pages were touched: the interval started from the old run's count,
/// which the worker's new configuration had reset).
#[test]
fn a_running_pattern_switch_counts_accesses_from_zero_never_fewer_than_touched() {
    let dir = common::scratch_dir();
    let path = gen(dir.path(), "switch-count.bin", 32);
    let mut live = start(&path, PatternKind::Random, 5_000, false);
    live.wait("random ran a while", |s| s.worker.accesses > 3_000);
    live.send(Command::SetPattern {
        pattern: PatternKind::Sequential,
    });
    let first = live.wait("switched", |s| {
        s.faults.interval.reason == "pattern" && s.worker.pattern == PatternKind::Sequential
    });
    assert!(first.worker.accesses < 3_000, "{:?}", first.worker);
    let mut last = first.worker.accesses;
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(1500) {
        let s = live.wait("a snapshot", |_| true);
        if s.faults.interval.reason != "pattern" {
            continue;
        }
        assert!(
            s.worker.accesses >= s.totals.touched,
            "{} accesses, {} pages touched",
            s.worker.accesses,
            s.totals.touched
        );
        assert!(
            s.worker.accesses >= last,
            "{} after {last}",
            s.worker.accesses
        );
        last = s.worker.accesses;
    }
    assert!(last > 0, "the sequential pass ran");
}

/// A switch's configure answered while a following evict waits for the worker: the reports
/// after it count again (the defect dropped every report from then on, and a pause never
/// showed).
#[test]
fn a_switch_then_an_evict_at_once_still_shows_the_pause() {
    let dir = common::scratch_dir();
    let path = gen(dir.path(), "switch-evict.bin", 16);
    let mut live = start(&path, PatternKind::Random, 2_000, false);
    live.wait("running", |s| s.worker.accesses > 100);
    live.send(Command::SetPattern {
        pattern: PatternKind::Sequential,
    });
    live.send(Command::Evict);
    live.wait("evicted", |s| s.faults.interval.reason == "evict");
    live.wait("running again", |s| {
        s.worker.state == RunState::Running && s.worker.accesses > 0
    });
    live.send(Command::TogglePause);
    live.wait("paused", |s| s.worker.state == RunState::Paused);
}

/// An advice's effect is the cache's growth over the settle time; when something else
/// evicted meanwhile (here the test, as a comparison or another program would), the growth
/// cannot be told and the screen says so instead of "grew by 0 pages".
#[test]
fn an_advice_measured_while_the_cache_shrank_says_it_was_not_measured() {
    let dir = common::scratch_dir();
    let path = gen(dir.path(), "advice-shrink.bin", 16);
    if let Err(why) = common::can_evict(&path) {
        return common::skip("advice_shrink", &why);
    }
    let mut live = start(&path, PatternKind::Random, 50, false);
    live.paused();
    live.send(Command::Warm);
    live.wait("warmed", |s| {
        s.message
            .as_deref()
            .is_some_and(|m| m.starts_with("warmed"))
    });
    live.send(Command::CycleAdvice);
    let r = common::mmviz(&["evict", path.to_str().unwrap()]);
    assert_eq!(r.code(), 0, "{r:?}");
    let s = live.wait("the advice's result", |s| {
        s.message
            .as_deref()
            .is_some_and(|m| m.starts_with("advice ") && !m.contains("measuring what"))
    });
    let m = s.message.unwrap();
    assert!(
        m.contains("not measured: the cache shrank meanwhile (4,096 -> "),
        "{m}"
    );
    assert!(!m.contains("grew by"), "{m}");
}

#[test]
fn a_file_shrinking_under_the_mapping_is_shown_at_its_new_size_with_the_lost_tail() {
    let dir = common::scratch_dir();
    let path = gen(dir.path(), "shrink.bin", 8);
    let mut live = start(&path, PatternKind::Random, 5, false);
    live.wait("running", |s| s.worker.state == RunState::Running);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(1 << 20)
        .unwrap();
    let s = live.wait("noticed", |s| s.file.notice.is_some());
    assert_eq!(s.file.size_bytes, 1 << 20);
    assert!(
        s.file.notice.as_deref().unwrap().contains("shrank"),
        "{:?}",
        s.file.notice
    );
    // Still drawn over the worker's mapping, the lost tail marked.
    assert_eq!(s.grid.eof_page, Some(256));
    assert_eq!(s.grid.end_page, 2048);
    // Deleted: said, and r names the missing path instead of claiming a restart.
    std::fs::remove_file(&path).unwrap();
    let s = live.wait("deletion noticed", |s| {
        s.file
            .notice
            .as_deref()
            .is_some_and(|n| n.contains("was deleted"))
    });
    drop(s);
    live.send(Command::Reset);
    let s = live.wait("restart refused", |s| {
        s.message
            .as_deref()
            .is_some_and(|m| m.starts_with("cannot restart"))
    });
    let m = s.message.unwrap();
    assert!(m.contains("shrink.bin"), "{m}");
    assert!(
        !s.events.iter().any(|e| e.text.contains("worker restarted")),
        "{:?}",
        s.events
    );
}

#[test]
fn a_replaced_file_is_said_and_r_reopens_everything_together() {
    let dir = common::scratch_dir();
    let path = gen(dir.path(), "replaced.bin", 8);
    let other = gen(dir.path(), "other.bin", 2);
    let mut live = start(&path, PatternKind::Sequential, 500, false);
    live.wait("running", |s| s.worker.state == RunState::Running);
    std::fs::rename(&other, &path).unwrap();
    let s = live.wait("replacement noticed", |s| {
        s.file
            .notice
            .as_deref()
            .is_some_and(|n| n.contains("was replaced"))
    });
    // Until r, the screen is about the file as it was opened: one file, not two.
    assert_eq!(s.file.size_bytes, 8 << 20);
    live.send(Command::Reset);
    let s = live.wait("reopened", |s| {
        s.faults.interval.reason == "restart" && s.file.size_bytes == 2 << 20
    });
    assert_eq!(s.file.pages, 512);
    assert_eq!(s.file.notice, None);
    assert!(
        s.grid.end_page <= 512,
        "{:?}",
        (s.grid.start_page, s.grid.end_page)
    );
    assert!(
        s.events.iter().any(|e| e.text.contains("reopened")),
        "{:?}",
        s.events
    );
}

#[test]
fn a_growing_file_is_noticed_and_r_remaps_it() {
    let dir = common::scratch_dir();
    let path = gen(dir.path(), "grow.bin", 2);
    let mut live = start(&path, PatternKind::Random, 50, false);
    live.wait("running", |s| s.worker.state == RunState::Running);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(4 << 20)
        .unwrap();
    let s = live.wait("growth noticed", |s| s.file.size_bytes == 4 << 20);
    let n = s.file.notice.clone().unwrap_or_default();
    assert!(n.contains("grew") && n.contains("r remaps"), "{n}");
    assert_eq!(s.grid.end_page, 1024, "the new extent is drawn");
    live.send(Command::Reset);
    live.wait("remapped", |s| {
        s.faults.interval.reason == "restart" && s.file.notice.is_none()
    });
}

#[test]
fn a_stopped_worker_is_said_and_quitting_stays_fast() {
    let dir = common::scratch_dir();
    let path = gen(dir.path(), "stopped.bin", 2);
    let mut live = start(&path, PatternKind::Random, 2_000, false);
    let s = live.wait("running", |s| {
        s.worker.state == RunState::Running && s.worker.accesses > 0
    });
    let pid = s.worker.pid.unwrap() as i32;
    // SAFETY: kill(2) on the session's worker, a child of this process; no memory arguments.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
    let s = live.wait("stopped state", |s| {
        matches!(s.worker.state, RunState::Stopped { .. })
    });
    let RunState::Stopped { reason } = s.worker.state else {
        unreachable!()
    };
    assert!(
        reason.contains("stopped") && reason.contains(&pid.to_string()),
        "{reason}"
    );
    let t0 = Instant::now();
    live.send(Command::Quit);
    live.handle.take().unwrap().join().unwrap();
    assert!(
        t0.elapsed() < Duration::from_millis(1500),
        "quit took {:?}",
        t0.elapsed()
    );
    // The stopped worker was killed, not left behind.
    std::thread::sleep(Duration::from_millis(100));
    let gone =
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z "));
    assert!(gone, "the stopped worker is still alive");
}

#[test]
fn the_inspector_says_when_a_page_was_first_touched_and_what_that_access_cost() {
    let dir = common::scratch_dir();
    let path = gen(dir.path(), "first.bin", 2);
    let mut live = start(&path, PatternKind::Sequential, 5, true);
    live.send(Command::Inspect {
        page: Some(0),
        read: false,
    });
    let s = live.wait("page 0's first touch", |s| {
        s.inspected_first_touch.is_some()
    });
    let f = s.inspected_first_touch.unwrap();
    assert_eq!((f.page, f.access, f.batch_accesses), (0, 1, 1), "{f:?}");
    // The first access to a cold page of a fresh mapping must fault; on an evicted file it
    // had to be read in: a major fault.
    assert!(f.major_faults >= 1, "{f:?}");
}

#[test]
fn a_typed_offset_shows_the_files_own_bytes_there() {
    let dir = common::scratch_dir();
    let path = gen(dir.path(), "offset.bin", 4);
    let bytes = std::fs::read(&path).unwrap();
    let mut live = start(&path, PatternKind::Sequential, 1, false);
    live.paused();
    // Cached (just written): the bytes at the offset itself, not at its page's start.
    let off = 4096 * 3 + 1000;
    live.send(Command::InspectOffset { offset: off });
    let s = live.wait("the bytes at the offset", |s| {
        s.inspector
            .as_ref()
            .is_some_and(|r| r.offset == off && r.bytes.is_some())
    });
    let r = s.inspector.unwrap();
    let b = r.bytes.unwrap();
    assert_eq!(&b[..], &bytes[off as usize..off as usize + b.len()]);
    // Past the end: said, nothing inspected.
    live.send(Command::InspectOffset { offset: 4 << 20 });
    let s = live.wait("refused", |s| {
        s.message
            .as_deref()
            .is_some_and(|m| m.contains("past the end"))
    });
    assert!(s.message.unwrap().contains("4194304"));
}
