//! `bench` under hostile sizes: a 1 TiB sparse file must not take the machine's memory, a
//! skipped method is named with its reason, every child runs under RLIMIT_AS, and a cancelled
//! comparison kills its running child at once.

mod common;

use common::{mmviz, run_cmd, scratch_dir, BIN, TIMEOUT};
use mmviz::compare::{compare_detailed, CompareOptions, Method};
use mmviz::workload::patterns::PatternKind;
use mmviz::workload::worker::PatternSpec;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Direct children of `pid` (from /proc/<pid>/task/*/children).
fn children(pid: u32) -> Vec<u32> {
    let mut v = Vec::new();
    if let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in rd.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
                v.extend(s.split_whitespace().filter_map(|x| x.parse::<u32>().ok()));
            }
        }
    }
    v
}

/// VmRSS of `pid` in bytes, from /proc/<pid>/status.
fn rss(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    mmviz::kernel::meminfo::meminfo_field(&s, "VmRSS")
}

fn sparse(dir: &Path, name: &str, size: u64) -> std::path::PathBuf {
    let p = dir.join(name);
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(size).unwrap();
    p
}

#[test]
fn bench_on_a_1tib_sparse_file_is_bounded_and_says_what_it_skipped() {
    let dir = scratch_dir();
    let f = sparse(dir.path(), "s.bin", 1 << 40);
    let mut cmd = Command::new(BIN);
    cmd.arg("bench")
        .arg(&f)
        .args(["--pattern", "random", "--accesses", "200", "--repeat", "1"]);
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Sample the RSS of every comparison child while it runs (an independent witness: the
    // kernel's /proc, not mmviz's own numbers).
    let peak = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let (pk, dn) = (Arc::clone(&peak), Arc::clone(&done));
    let sampler = std::thread::spawn(move || {
        while !dn.load(Ordering::Relaxed) {
            for c in children(pid) {
                if let Some(r) = rss(c) {
                    pk.fetch_max(r, Ordering::Relaxed);
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    let t0 = Instant::now();
    let out = loop {
        if let Some(_st) = child.try_wait().unwrap() {
            break child.wait_with_output().unwrap();
        }
        if t0.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("bench on a 1 TiB sparse file did not finish in 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout
            .contains("skipped mmap-populate: MAP_POPULATE reads and maps the whole file (1 TiB)"),
        "{stdout}"
    );
    assert!(stdout.contains("MemAvailable"), "{stdout}");
    for m in ["mmap ", "pread ", "buffered "] {
        assert!(stdout.lines().any(|l| l.starts_with(m)), "{m}: {stdout}");
    }
    // 200 faults with 8 MiB of readahead each is at most 1.6 GiB; before the fix the populate
    // child alone reached 8 GB in 1 s.
    let peak = peak.load(Ordering::Relaxed);
    assert!(
        peak < 2 << 30,
        "a comparison child reached {peak} bytes of RSS"
    );
    assert!(t0.elapsed() < Duration::from_secs(60));
    // Nothing left in the cache worth worrying about, and the file is still 1 TiB of holes.
    assert_eq!(std::fs::metadata(&f).unwrap().len(), 1 << 40);
    let _ = mmviz(&[std::ffi::OsStr::new("evict"), f.as_os_str()]);
}

#[test]
fn every_comparison_child_runs_under_an_address_space_limit() {
    let dir = scratch_dir();
    let f = sparse(dir.path(), "s.bin", 1 << 40);
    for (method, mmap) in [("pread", false), ("mmap", true), ("buffered", false)] {
        let mut cmd = Command::new(BIN);
        cmd.arg("__compare").arg(&f).args([
            "--method",
            method,
            "--pattern",
            "random",
            "--accesses",
            "10",
        ]);
        let r = run_cmd(cmd, TIMEOUT);
        assert_eq!(r.code(), 0, "{r:?}");
        let lim = r.json()["address_space_limit"]
            .as_u64()
            .unwrap_or_else(|| panic!("no limit: {r:?}"));
        if mmap {
            // The mapping's length counts in the address space: the whole file plus slack.
            assert!(
                lim > 1 << 40 && lim < (1 << 40) + (2 << 30),
                "{method}: {lim}"
            );
        } else {
            assert!(lim < 2 << 30, "{method}: {lim}");
        }
    }
}

#[test]
fn warm_is_refused_when_the_file_does_not_fit_and_default_counts_are_capped() {
    let dir = scratch_dir();
    let f = dir.path().join("d.bin");
    std::fs::write(&f, vec![7u8; 48 << 20]).unwrap();
    // Pretend the machine has 64 MiB available: a 48 MiB file cannot be held warm in half of it.
    let mut cmd = Command::new(BIN);
    cmd.arg("bench")
        .arg(&f)
        .args(["--warm", "--repeat", "1"])
        .env(mmviz::kernel::meminfo::TEST_MEM_AVAILABLE_ENV, "67108864");
    let r = run_cmd(cmd, TIMEOUT);
    assert_eq!(r.code(), 2, "{r:?}");
    assert!(
        r.stderr.starts_with("mmviz: ") && r.stderr.contains("cannot run warm"),
        "{r:?}"
    );
    assert_eq!(r.stderr.trim().lines().count(), 1, "{r:?}");
    // The default one pass (12,288 pages) is capped to fit 32 MiB, and said so in the JSON;
    // MAP_POPULATE of 48 MiB is skipped.
    let mut cmd = Command::new(BIN);
    cmd.arg("bench")
        .arg(&f)
        .args(["--repeat", "1", "--json"])
        .env(mmviz::kernel::meminfo::TEST_MEM_AVAILABLE_ENV, "67108864");
    let r = run_cmd(cmd, TIMEOUT);
    assert_eq!(r.code(), 0, "{r:?}");
    let v = r.json();
    let notes: Vec<String> = v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect();
    assert!(
        notes.iter().any(|n| n.starts_with("accesses capped at")),
        "{notes:?}"
    );
    assert!(
        notes.iter().any(|n| n.starts_with("skipped mmap-populate")),
        "{notes:?}"
    );
    assert!(v["accesses"].as_u64().unwrap() < 12_288, "{v}");
}

#[test]
fn cancelling_a_running_comparison_kills_its_child_at_once() {
    std::env::set_var("MMVIZ_EXE", BIN);
    let dir = scratch_dir();
    let f = dir.path().join("c.bin");
    std::fs::write(&f, vec![1u8; 1 << 20]).unwrap();
    let spec = PatternSpec {
        kind: PatternKind::Random,
        seed: 3,
        access_size: 1,
        ..PatternSpec::default()
    };
    let mut o = CompareOptions::new(&f, spec);
    // Tens of seconds of pread: the child is surely running when we cancel.
    o.accesses = Some(200_000_000);
    o.repeat = 1;
    o.methods = Some(vec![Method::Pread]);
    let cancel = Arc::new(AtomicBool::new(false));
    let c2 = Arc::clone(&cancel);
    let me = std::process::id();
    let h = std::thread::spawn(move || {
        let r = compare_detailed(&o, &mut |_, _| {}, &c2);
        (r, Instant::now())
    });
    // Wait for the child to exist and to have started reading.
    let t0 = Instant::now();
    let kid = loop {
        if let Some(&k) = children(me).iter().find(|&&k| {
            std::fs::read_to_string(format!("/proc/{k}/cmdline"))
                .is_ok_and(|c| c.contains("__compare"))
        }) {
            break k;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "no child started");
        std::thread::sleep(Duration::from_millis(5));
    };
    std::thread::sleep(Duration::from_millis(300));
    let asked = Instant::now();
    cancel.store(true, Ordering::Relaxed);
    let (r, ended) = h.join().unwrap();
    let e = r.unwrap_err();
    assert_eq!(e.code, 130, "{e}");
    assert!(
        ended.duration_since(asked) < Duration::from_millis(500),
        "cancel took {:?}",
        ended.duration_since(asked)
    );
    // Killed and reaped: the pid is gone (a zombie would still have /proc/<pid>).
    assert!(
        !Path::new(&format!("/proc/{kid}")).exists(),
        "child {kid} still exists after cancel"
    );
}

#[test]
fn esc_in_the_live_session_cancels_the_comparison_and_its_child() {
    use mmviz::session::snapshot::{Command as Cmd, ComparisonState};
    use mmviz::session::{self, SessionOptions};
    std::env::set_var("MMVIZ_EXE", BIN);
    let dir = scratch_dir();
    let f = dir.path().join("live.bin");
    std::fs::write(&f, vec![b'z'; 64 << 20]).unwrap();
    let (tx, rx, handle) = session::spawn(SessionOptions {
        path: f.clone(),
        is_demo: false,
        spec: PatternSpec {
            kind: PatternKind::Random,
            ..PatternSpec::default()
        },
        advice: mmviz::kernel::advice::Advice::Normal,
        rate: Some(1000),
        cold: false,
        hz: 20,
        compare: Some(mmviz::cli::live::compare_for_tui),
        write: None,
    })
    .expect("session starts");
    tx.send(Cmd::SetView {
        start_page: 0,
        end_page: u64::MAX,
        cells: 32,
    })
    .unwrap();
    tx.send(Cmd::Compare).unwrap();
    let me = std::process::id();
    let compare_kid = || {
        children(me).into_iter().find(|&k| {
            std::fs::read_to_string(format!("/proc/{k}/cmdline"))
                .is_ok_and(|c| c.contains("__compare"))
        })
    };
    let t0 = Instant::now();
    let kid = loop {
        if let Some(k) = compare_kid() {
            break k;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "no comparison child"
        );
        while rx.try_recv().is_ok() {}
        std::thread::sleep(Duration::from_millis(2));
    };
    tx.send(Cmd::CancelCompare).unwrap();
    let asked = Instant::now();
    let s = loop {
        assert!(
            asked.elapsed() < Duration::from_secs(5),
            "the comparison did not end after cancel"
        );
        if let Ok(s) = rx.recv_timeout(Duration::from_millis(50)) {
            if matches!(s.comparison, ComparisonState::Failed { .. }) {
                break s;
            }
        }
    };
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "cancel took {:?}",
        asked.elapsed()
    );
    match &s.comparison {
        ComparisonState::Failed { error } => assert!(error.contains("cancelled"), "{error}"),
        other => panic!("{other:?}"),
    }
    assert!(
        !Path::new(&format!("/proc/{kid}")).exists(),
        "child {kid} alive"
    );
    assert!(
        compare_kid().is_none(),
        "a comparison child is still running"
    );
    tx.send(Cmd::Quit).unwrap();
    handle.join().unwrap();
}

#[test]
fn warm_key_on_a_1tib_sparse_file_is_refused_before_reading() {
    use mmviz::session::snapshot::Command as Cmd;
    use mmviz::session::{self, SessionOptions};
    std::env::set_var("MMVIZ_EXE", BIN);
    let dir = scratch_dir();
    let f = sparse(dir.path(), "warm.bin", 1 << 40);
    let (tx, rx, handle) = session::spawn(SessionOptions {
        path: f.clone(),
        is_demo: false,
        spec: PatternSpec {
            kind: PatternKind::Random,
            ..PatternSpec::default()
        },
        advice: mmviz::kernel::advice::Advice::Random,
        rate: Some(100),
        cold: false,
        hz: 20,
        compare: None,
        write: None,
    })
    .expect("session starts");
    tx.send(Cmd::SetView {
        start_page: 0,
        end_page: u64::MAX,
        cells: 32,
    })
    .unwrap();
    tx.send(Cmd::Warm).unwrap();
    let t0 = Instant::now();
    let msg = loop {
        assert!(t0.elapsed() < Duration::from_secs(10), "no answer to w");
        if let Ok(s) = rx.recv_timeout(Duration::from_millis(100)) {
            if let Some(m) = s.message.filter(|m| m.contains("warm failed")) {
                break m;
            }
        }
    };
    assert!(
        msg.contains("not read: the file is 1 TiB") && msg.contains("MemAvailable"),
        "{msg}"
    );
    tx.send(Cmd::Quit).unwrap();
    handle.join().unwrap();
    // An independent look: the cache holds at most what 100 random accesses brought in.
    let r = mmviz(&[
        std::ffi::OsStr::new("residency"),
        f.as_os_str(),
        std::ffi::OsStr::new("--json"),
    ]);
    let cached = r.json()["cached_pages"].as_u64().unwrap();
    assert!(cached < 10_000, "{cached} pages cached");
}
