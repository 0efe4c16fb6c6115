//! Real-kernel tests of the worker process, its protocol and `mmviz run`.
//!
//! Every fault counted here is the worker's (from its /proc/<pid>/stat, via `run --json` or
//! its reports), never this test process's. Scratch files live under CARGO_TARGET_TMPDIR (a
//! disk filesystem, so eviction works; /tmp may be tmpfs). Every child process runs under a
//! deadline and is killed on drop, so a regression can fail a test but never hang CI.

use mmviz::kernel::pagemap::PagemapReader;
use mmviz::workload::patterns::{PatternIter, PatternKind};
use mmviz::workload::worker::{
    Control, Event, Limit, PatternSpec, Progress, Report, WorkerHandle, WorkerState,
};
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::Once;
use std::time::{Duration, Instant};

/// Longest any single child process may run before it is killed and the test fails.
const DEADLINE: Duration = Duration::from_secs(30);
const MIB: u64 = 1 << 20;

fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_mmviz")
}

/// The library spawns the worker from MMVIZ_EXE (current_exe would be this test binary).
/// Tests run on parallel threads; set it once.
fn init_lib() {
    static INIT: Once = Once::new();
    INIT.call_once(|| std::env::set_var("MMVIZ_EXE", exe()));
}

fn page_size() -> u64 {
    mmviz::units::page_size()
}

/// A fresh path under CARGO_TARGET_TMPDIR, unique per test (tests run in parallel).
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("worker-tests");
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    let p = dir.join(name);
    let _ = std::fs::remove_file(&p);
    p
}

/// Kills (SIGKILL) and reaps the child when dropped, so a failing assertion leaks nothing.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Drains a pipe on a thread (a full pipe would block the child), line by line.
fn lines_of(r: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for the child to exit, at most `deadline`; panics (after the guard kills it) if not.
fn wait_deadline(g: &mut Guard, deadline: Duration, what: &str) -> ExitStatus {
    let t0 = Instant::now();
    loop {
        if let Some(st) = g.0.try_wait().expect("try_wait") {
            return st;
        }
        assert!(
            t0.elapsed() < deadline,
            "{what}: still running after {deadline:?}; killed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

struct Out {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Out {
    fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

/// Runs `mmviz ARGS` to completion under DEADLINE.
fn mmviz(args: &[&str]) -> Out {
    let child = Command::new(exe())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mmviz");
    let mut g = Guard(child);
    let out = lines_of(g.0.stdout.take().unwrap());
    let err = lines_of(g.0.stderr.take().unwrap());
    let status = wait_deadline(&mut g, DEADLINE, &format!("mmviz {args:?}"));
    // The pipes close at exit, so the reader threads finish and the iterators end.
    let stdout: Vec<String> = out.iter().collect();
    let stderr: Vec<String> = err.iter().collect();
    Out {
        status,
        stdout: stdout.join("\n"),
        stderr: stderr.join("\n"),
    }
}

/// `mmviz gen` a file of pseudo-random bytes (written and synced, so it can be evicted).
fn gen(name: &str, size: u64, seed: u64) -> PathBuf {
    let p = scratch(name);
    let o = mmviz(&[
        "gen",
        p.to_str().unwrap(),
        "--size",
        &size.to_string(),
        "--seed",
        &seed.to_string(),
        "--force",
    ]);
    assert_eq!(o.code(), Some(0), "gen failed: {}", o.stderr);
    p
}

/// `mmviz run FILE ARGS --json`, which must succeed; returns the parsed report.
fn run_json(file: &Path, args: &[&str]) -> Value {
    let mut a = vec!["run", file.to_str().unwrap()];
    a.extend_from_slice(args);
    a.push("--json");
    let o = mmviz(&a);
    assert_eq!(o.code(), Some(0), "mmviz {a:?} failed: {}", o.stderr);
    serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("bad JSON ({e}): {}", o.stdout))
}

fn u(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} is not a number in {v}"))
}

/// Why cold-cache expectations cannot hold for this report's file, if they cannot: the
/// filesystem keeps or fakes its cache (tmpfs, overlay, network, FUSE), or hides it.
fn cannot_evict(v: &Value) -> Option<String> {
    let fs = v["filesystem"].as_str().unwrap_or("?").to_string();
    if v["cache_state_visible"] != Value::Bool(true) {
        return Some(format!("cache state hidden by the kernel on {fs}"));
    }
    let no_evict = [
        "tmpfs",
        "ramfs",
        "overlay",
        "nfs",
        "cifs",
        "smb2",
        "9p",
        "fuse",
        "hugetlbfs",
    ];
    no_evict
        .contains(&fs.as_str())
        .then(|| format!("{fs} cannot evict pages, so there is no cold cache"))
}

macro_rules! skip_unless_evictable {
    ($v:expr) => {
        if let Some(why) = cannot_evict(&$v) {
            eprintln!("skipped: {why}");
            return;
        }
    };
}

// ---------------------------------------------------------------------------------------
// 1-2: cold runs through the binary
// ---------------------------------------------------------------------------------------

#[test]
fn cold_sequential_pass_caches_maps_and_touches_every_page() {
    let f = gen("cold-seq.bin", 4 * MIB, 1);
    let v = run_json(&f, &["--pattern", "sequential", "--cold"]);
    skip_unless_evictable!(v);
    let pages = 4 * MIB / page_size();
    assert_eq!(u(&v, "pages"), pages);
    assert_eq!(u(&v, "cached_before"), 0, "{v}");
    assert_eq!(u(&v, "cached_after"), pages, "{v}");
    assert!(
        u(&v, "major_faults") > 0,
        "a cold pass must wait for I/O: {v}"
    );
    assert_eq!(u(&v, "touched_pages"), pages, "{v}");
    assert_eq!(u(&v, "mapped_after"), pages, "{v}");
    assert_eq!(
        u(&v, "accesses"),
        pages,
        "one pass = one access per page: {v}"
    );
    assert_eq!(u(&v, "schema_version"), 1);
}

#[test]
fn random_advice_reads_one_page_per_fault_normal_reads_ahead() {
    let f = gen("advice.bin", 4 * MIB, 3);
    let base = ["--accesses", "1", "--pattern", "random", "--cold"];
    let mut args = base.to_vec();
    args.extend_from_slice(&["--advice", "random"]);
    let rnd = run_json(&f, &args);
    skip_unless_evictable!(rnd);
    assert_eq!(u(&rnd, "accesses"), 1);
    assert_eq!(u(&rnd, "cached_before"), 0, "{rnd}");
    // MADV_RANDOM turns readahead off: the fault reads exactly the page it needs.
    assert_eq!(u(&rnd, "cached_after"), 1, "{rnd}");
    assert_eq!(rnd["advice"], "random");

    let norm = run_json(&f, &base);
    assert_eq!(u(&norm, "cached_before"), 0, "{norm}");
    assert!(
        u(&norm, "cached_after") > 1,
        "normal advice should read ahead around the fault: {norm}"
    );
}

// ---------------------------------------------------------------------------------------
// 3: hotset, through the library (the reports' new_touched runs)
// ---------------------------------------------------------------------------------------

/// Next report matching `want`, within `deadline`; panics if the worker dies or is silent.
fn wait_for(h: &WorkerHandle, deadline: Duration, mut want: impl FnMut(&Report) -> bool) -> Report {
    let t0 = Instant::now();
    loop {
        let left = deadline
            .checked_sub(t0.elapsed())
            .unwrap_or_else(|| panic!("no matching report within {deadline:?}"));
        match h.recv(left) {
            Some(Event::Report(r)) if want(&r) => return *r,
            Some(Event::Report(_)) => {}
            Some(Event::Closed) => panic!("the worker died"),
            None => panic!("no matching report within {deadline:?}"),
        }
    }
}

fn progress(r: Report) -> Progress {
    match r {
        Report::Progress(p) => p,
        other => panic!("not a progress report: {other:?}"),
    }
}

fn is_progress(r: &Report, pred: impl Fn(&Progress) -> bool) -> bool {
    matches!(r, Report::Progress(p) if pred(p))
}

fn is_ack(r: &Report, what: &str) -> bool {
    matches!(r, Report::Ack { what: w, .. } if w == what)
}

fn assert_ack_ok(r: &Report) {
    match r {
        Report::Ack { error: None, .. } => {}
        other => panic!("expected a successful ack, got {other:?}"),
    }
}

/// Follows an unpaused run of `spec` to Finished, collecting every newly touched page.
fn run_collecting(h: &WorkerHandle, spec: &PatternSpec) -> (Progress, BTreeSet<u64>) {
    let mut touched = BTreeSet::new();
    let t0 = Instant::now();
    loop {
        assert!(t0.elapsed() < Duration::from_secs(20), "run did not finish");
        match h.recv(Duration::from_secs(5)) {
            Some(Event::Report(r)) => match *r {
                Report::Progress(p) => {
                    if p.touched_reset {
                        touched.clear();
                    }
                    for &(s, l) in &p.new_touched {
                        touched.extend(s..s + l);
                    }
                    if p.state == WorkerState::Finished {
                        return (p, touched);
                    }
                }
                Report::Ack { error: Some(e), .. } => panic!("worker refused {spec:?}: {e}"),
                _ => {}
            },
            Some(Event::Closed) => panic!("the worker died"),
            None => panic!("no report for 5 s"),
        }
    }
}

#[test]
fn hotset_touches_mostly_the_hot_region() {
    init_lib();
    let size = 4 * MIB;
    let ps = page_size();
    let f = gen("hotset.bin", size, 5);
    let spec = PatternSpec {
        kind: PatternKind::Hotset,
        seed: 42,
        hot_fraction: 0.1,
        hot_share: 0.9,
        ..PatternSpec::default()
    };
    // 1,000 accesses: ~900 land on ~102 hot pages (all get touched), ~100 spread over the
    // whole file. With 20,000 accesses the cold pages would saturate too (2,000 cold draws
    // over 1,024 pages touch ~86% of them) and densities would stop telling hot from cold.
    let n = 1_000;
    let mut h = WorkerHandle::spawn(&f, Duration::from_secs(10)).expect("spawn worker");
    h.send(&Control::Configure {
        pattern: spec.clone(),
        limit: Limit::Accesses(n),
        rate: None,
        paused: false,
        report_ms: 20,
    })
    .unwrap();
    let (last, touched) = run_collecting(&h, &spec);
    assert_eq!(last.accesses, n);
    assert_eq!(last.touched_pages, touched.len() as u64);

    let params = spec.params(size, ps);
    let mut it = PatternIter::new(&params);
    let (hs, he) = it.hot_range().expect("hotset has a hot range");
    let (hot_lo, hot_hi) = (hs / ps, he.div_ceil(ps));
    let pages = size / ps;
    let hot_pages = hot_hi - hot_lo;
    let hot_touched = touched.range(hot_lo..hot_hi).count() as u64;
    let cold_touched = touched.len() as u64 - hot_touched;
    let hot_density = hot_touched as f64 / hot_pages as f64;
    let cold_density = cold_touched as f64 / (pages - hot_pages) as f64;
    assert!(
        hot_density >= 5.0 * cold_density,
        "hot density {hot_density:.3} ({hot_touched}/{hot_pages}) vs cold {cold_density:.3} \
         ({cold_touched}/{})",
        pages - hot_pages
    );
    assert!(
        hot_density > 0.9,
        "hot region barely touched: {hot_density}"
    );

    // Hotset offsets do not depend on the data read, so the pattern iterator predicts the
    // worker's touched set exactly.
    let mut want = BTreeSet::new();
    for _ in 0..n {
        want.insert(it.next_offset(0) / ps);
    }
    assert_eq!(
        touched, want,
        "the worker touched other pages than the pattern"
    );
    h.stop(Duration::from_secs(5));
}

// ---------------------------------------------------------------------------------------
// 4: chase is data-dependent and reproducible
// ---------------------------------------------------------------------------------------

#[test]
fn chase_is_reproducible_per_seed_and_depends_on_the_data() {
    let a = gen("chase-a.bin", 2 * MIB, 1);
    let b = gen("chase-b.bin", 2 * MIB, 2);
    let chase = |f: &Path, seed: &str| {
        let v = run_json(
            f,
            &["--pattern", "chase", "--accesses", "5000", "--seed", seed],
        );
        assert_eq!(u(&v, "accesses"), 5000);
        (u(&v, "checksum"), u(&v, "touched_pages"))
    };
    let a7 = chase(&a, "7");
    assert_eq!(a7, chase(&a, "7"), "same file, same seed: same walk");
    let a8 = chase(&a, "8");
    assert_ne!(a7.0, a8.0, "another seed must walk elsewhere");
    let b7 = chase(&b, "7");
    assert_ne!(
        a7.0, b7.0,
        "the same seed on other bytes must walk elsewhere (each step depends on the byte read)"
    );
}

// ---------------------------------------------------------------------------------------
// 5: truncation under a running worker
// ---------------------------------------------------------------------------------------

#[test]
fn truncation_kills_the_worker_with_sigbus_and_run_explains_it() {
    let f = gen("truncate.bin", 8 * MIB, 1);
    let child = Command::new(exe())
        .args(["run", f.to_str().unwrap()])
        .args([
            "--pattern",
            "sequential",
            "--rate",
            "200",
            "--progress",
            "--json",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mmviz run");
    let mut g = Guard(child);
    let out = lines_of(g.0.stdout.take().unwrap());
    let err = lines_of(g.0.stderr.take().unwrap());
    let mut lines = Vec::new();
    let t0 = Instant::now();
    loop {
        let left = Duration::from_secs(10).saturating_sub(t0.elapsed());
        let l = err
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no progress line within 10 s; stderr: {lines:?}"));
        let first = l.starts_with("progress:");
        lines.push(l);
        if first {
            break;
        }
    }
    // The test's own scratch file: shrink it to one page under the worker's mapping.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&f)
        .unwrap()
        .set_len(4096)
        .unwrap();
    let st = wait_deadline(&mut g, Duration::from_secs(10), "run after truncation");
    lines.extend(err.iter());
    let stdout: Vec<String> = out.iter().collect();
    assert_eq!(st.code(), Some(1), "stderr: {lines:?}");
    let sig: Vec<&String> = lines.iter().filter(|l| l.contains("SIGBUS")).collect();
    assert_eq!(sig.len(), 1, "one explanation line expected: {lines:?}");
    let msg = sig[0];
    assert!(msg.starts_with("mmviz: "), "{msg}");
    assert!(msg.contains("shrank"), "{msg}");
    assert!(
        msg.contains("offset "),
        "the faulting offset is part of it: {msg}"
    );
    assert!(
        lines.last() == Some(msg),
        "the explanation ends the output: {lines:?}"
    );
    for l in &lines {
        assert!(!l.contains("Bus error") && !l.contains("panicked"), "{l}");
        assert!(
            l.starts_with("progress:") || l == msg,
            "unexpected stderr line: {l}"
        );
    }
    assert!(stdout.is_empty(), "no report after a failure: {stdout:?}");
}

// ---------------------------------------------------------------------------------------
// 6: the worker dies with its parent
// ---------------------------------------------------------------------------------------

/// (state, ppid) from /proc/<pid>/stat; None once the process is gone.
fn proc_state(pid: u32) -> Option<(char, u32)> {
    let st = procfs::process::Process::new(pid as i32)
        .ok()?
        .stat()
        .ok()?;
    Some((st.state, st.ppid as u32))
}

/// The pid of `parent`'s worker child once it has mapped `file` (so it is past exec and
/// its PR_SET_PDEATHSIG, which comes before the mapping).
fn find_worker(parent: u32, file: &Path) -> Option<u32> {
    for p in procfs::process::all_processes().ok()?.flatten() {
        let Ok(st) = p.stat() else { continue };
        if st.ppid as u32 != parent {
            continue;
        }
        let is_worker = p.cmdline().is_ok_and(|c| c.iter().any(|a| a == "__worker"));
        let maps_file = p.maps().is_ok_and(|m| {
            m.iter()
                .any(|e| matches!(&e.pathname, procfs::process::MMapPath::Path(pb) if pb == file))
        });
        if is_worker && maps_file {
            return Some(p.pid as u32);
        }
    }
    None
}

#[test]
fn killed_parent_leaves_no_worker() {
    let f = gen("orphan.bin", 4 * MIB, 1);
    let child = Command::new(exe())
        .args(["run", "--rate", "10", "--pattern", "sequential"])
        .arg(&f)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn mmviz run");
    let mut g = Guard(child);
    let parent = g.0.id();
    let t0 = Instant::now();
    let worker = loop {
        if let Some(w) = find_worker(parent, &f) {
            break w;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "no worker child of {parent} appeared"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    g.0.kill().unwrap(); // SIGKILL: no handler, no cleanup in the parent
    g.0.wait().unwrap();
    let t1 = Instant::now();
    loop {
        match proc_state(worker) {
            None | Some(('Z', _)) | Some(('X', _)) => break,
            Some(s) => {
                if t1.elapsed() > Duration::from_secs(5) {
                    // Do not leave it behind for the rest of the suite.
                    // SAFETY: kill(2) has no memory arguments; the pid is our orphan.
                    unsafe { libc::kill(worker as i32, libc::SIGKILL) };
                    panic!("worker {worker} survived its parent for 5 s: {s:?}");
                }
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------------------
// 7: the protocol, driven through the library
// ---------------------------------------------------------------------------------------

fn present_pages(h: &WorkerHandle) -> u64 {
    let ps = h.map.page_size;
    let mut r = PagemapReader::open(h.pid()).expect("open the worker's pagemap");
    let mut runs = Vec::new();
    r.present_runs(h.map.addr, h.map.len.div_ceil(ps), ps, &mut runs)
        .expect("read the worker's pagemap");
    runs.iter().map(|r| r.end - r.start).sum()
}

#[test]
fn protocol_step_pause_resume_rate_advise_drop_stop() {
    init_lib();
    let size = 4 * MIB;
    let f = gen("protocol.bin", size, 9);
    let d = Duration::from_secs(5);
    let mut h = WorkerHandle::spawn(&f, Duration::from_secs(10)).expect("spawn worker");
    assert_eq!(h.map.len, size);
    assert_eq!(h.map.page_size, page_size());
    assert_ne!(h.map.addr, 0);
    assert_eq!(h.map.addr % page_size(), 0);
    assert!(h.pid() > 0 && h.pid() != std::process::id());

    h.send(&Control::Configure {
        pattern: PatternSpec::default(),
        limit: Limit::Unbounded,
        rate: None,
        paused: true,
        report_ms: 20,
    })
    .unwrap();
    assert_ack_ok(&wait_for(&h, d, |r| is_ack(r, "configure")));
    let p = progress(wait_for(&h, d, |r| is_progress(r, |_| true)));
    assert_eq!((p.state, p.accesses), (WorkerState::Paused, 0));

    // Step: exactly one batch, then paused again.
    h.send(&Control::Step).unwrap();
    let p = progress(wait_for(&h, d, |r| is_progress(r, |p| p.accesses > 0)));
    assert_eq!(p.state, WorkerState::Paused);
    assert_eq!(p.batches, 1);
    assert_eq!(p.last_batch_accesses, p.accesses);
    let stepped = p.accesses;
    std::thread::sleep(Duration::from_millis(100));
    for e in h.drain() {
        if let Event::Report(r) = e {
            if let Report::Progress(p) = *r {
                assert_eq!(p.accesses, stepped, "a paused worker kept running");
            }
        }
    }
    assert!(present_pages(&h) > 0, "the step mapped nothing");

    // Resume runs on; Pause stops it again.
    h.send(&Control::Resume).unwrap();
    wait_for(&h, d, |r| {
        is_progress(r, |p| {
            p.state == WorkerState::Running && p.accesses > stepped
        })
    });
    h.send(&Control::Pause).unwrap();
    let paused = progress(wait_for(&h, d, |r| {
        is_progress(r, |p| p.state == WorkerState::Paused)
    }));
    std::thread::sleep(Duration::from_millis(100));
    for e in h.drain() {
        if let Event::Report(r) = e {
            if let Report::Progress(p) = *r {
                assert_eq!(p.accesses, paused.accesses, "Pause did not stop the run");
            }
        }
    }

    h.send(&Control::SetRate { rate: Some(1000) }).unwrap();
    wait_for(&h, d, |r| is_progress(r, |p| p.rate == Some(1000)));

    h.send(&Control::Advise {
        advice: mmviz::kernel::advice::Advice::Random,
    })
    .unwrap();
    assert_ack_ok(&wait_for(&h, d, |r| is_ack(r, "advise")));
    let p = progress(wait_for(&h, d, |r| is_progress(r, |_| true)));
    assert_eq!(p.advice, mmviz::kernel::advice::Advice::Random);

    // DropMapping zaps the page table (so the parent could evict) and the touched set.
    h.send(&Control::DropMapping).unwrap();
    assert_ack_ok(&wait_for(&h, d, |r| is_ack(r, "drop_mapping")));
    let p = progress(wait_for(&h, d, |r| is_progress(r, |_| true)));
    assert!(p.touched_reset);
    assert_eq!(p.touched_pages, 0);
    assert_eq!(present_pages(&h), 0, "pages still mapped after DropMapping");

    let t0 = Instant::now();
    let st = h.stop(d);
    assert!(st.success(), "Stop must exit with status 0: {st:?}");
    assert!(t0.elapsed() < d);
}

#[test]
fn worker_on_empty_file_finishes_with_no_accesses() {
    init_lib();
    let f = scratch("empty.bin");
    std::fs::File::create(&f).unwrap();
    let mut h = WorkerHandle::spawn(&f, Duration::from_secs(10)).expect("spawn worker");
    assert_eq!((h.map.len, h.map.addr), (0, 0));
    h.send(&Control::Configure {
        pattern: PatternSpec::default(),
        limit: Limit::OnePass,
        rate: None,
        paused: false,
        report_ms: 20,
    })
    .unwrap();
    let d = Duration::from_secs(5);
    assert_ack_ok(&wait_for(&h, d, |r| is_ack(r, "configure")));
    let p = progress(wait_for(&h, d, |r| {
        is_progress(r, |p| p.state == WorkerState::Finished)
    }));
    assert_eq!((p.accesses, p.touched_pages), (0, 0));

    // An access count cannot be met on an empty file: the run must still finish.
    h.send(&Control::Configure {
        pattern: PatternSpec::default(),
        limit: Limit::Accesses(10),
        rate: None,
        paused: false,
        report_ms: 20,
    })
    .unwrap();
    let p = progress(wait_for(&h, d, |r| {
        is_progress(r, |p| p.state == WorkerState::Finished)
    }));
    assert_eq!(p.accesses, 0);
    assert!(h.stop(d).success());
}

/// One rule for every command that accesses pages (issue 12, defect 10): an empty file is
/// bad input for `run` as for `bench`, not a report of "0 accesses in 0.000 ms".
#[test]
fn run_on_empty_file_is_bad_input_like_bench() {
    let f = scratch("empty-run.bin");
    std::fs::File::create(&f).unwrap();
    for extra in [&[][..], &["--accesses", "10"][..]] {
        for cmd in ["run", "bench"] {
            let mut a = vec![cmd, f.to_str().unwrap()];
            a.extend_from_slice(extra);
            let o = mmviz(&a);
            assert_eq!(o.code(), Some(2), "mmviz {a:?}: {}", o.stderr);
            assert!(
                o.stderr.contains("the file is empty (0 bytes)"),
                "mmviz {a:?}: {}",
                o.stderr
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// 8: bad input to `run`
// ---------------------------------------------------------------------------------------

#[test]
fn run_rejects_bad_input_with_exit_2_and_one_line() {
    let f = gen("badinput.bin", 64 * 1024, 1);
    let file = f.to_str().unwrap();
    let missing = scratch("does-not-exist.bin");
    let cases: &[(&[&str], &str)] = &[
        (&["run", file, "--pattern", "zigzag"], "zigzag"),
        (&["run", file, "--rate", "0"], "--rate"),
        (&["run", file, "--rate", "abc"], "--rate"),
        (&["run", file, "--hot-fraction", "2"], "hot fraction"),
        (&["run", missing.to_str().unwrap()], "No such file"),
    ];
    for (args, needle) in cases {
        let o = mmviz(args);
        assert_eq!(o.code(), Some(2), "{args:?}: {}", o.stderr);
        assert_eq!(o.stderr.lines().count(), 1, "{args:?}: {:?}", o.stderr);
        assert!(o.stderr.starts_with("mmviz: "), "{args:?}: {}", o.stderr);
        assert!(o.stderr.contains(needle), "{args:?}: {}", o.stderr);
        assert!(o.stdout.is_empty(), "{args:?}: {}", o.stdout);
    }
}

/// `syscr` + `syscw` of a process (/proc/<pid>/io): read and write syscalls so far.
fn syscalls(pid: u32) -> u64 {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).expect("/proc/<worker>/io");
    io.lines()
        .filter(|l| l.starts_with("syscr:") || l.starts_with("syscw:"))
        .map(|l| l.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap())
        .sum()
}

fn configure_running(h: &mut WorkerHandle, rate: u64, report_ms: u64) {
    h.send(&Control::Configure {
        pattern: PatternSpec {
            kind: PatternKind::Random,
            ..PatternSpec::default()
        },
        limit: Limit::Unbounded,
        rate: Some(rate),
        paused: false,
        report_ms,
    })
    .unwrap();
    assert_ack_ok(&wait_for(h, Duration::from_secs(5), |r| {
        is_ack(r, "configure")
    }));
}

/// Defect: at `--rate 10` the worker polled with a zero timeout and read /proc on every turn
/// (74,189 preads in 3 s). A rate-limited worker must sleep until the next access is due: its
/// read/write syscalls scale with the accesses it runs, not with the time it waits.
#[test]
fn rate_limited_worker_sleeps_instead_of_spinning() {
    init_lib();
    let f = gen("sleepy.bin", 4 * MIB, 3);
    let mut h = WorkerHandle::spawn(&f, Duration::from_secs(10)).expect("spawn worker");
    configure_running(&mut h, 20, 50);
    std::thread::sleep(Duration::from_millis(300));
    let pid = h.pid();
    let (s0, t0) = (syscalls(pid), Instant::now());
    std::thread::sleep(Duration::from_millis(1500));
    let (s1, secs) = (syscalls(pid), t0.elapsed().as_secs_f64());
    let mut accesses = 0;
    for e in h.drain() {
        if let Event::Report(r) = e {
            if let Report::Progress(p) = *r {
                accesses = p.accesses;
            }
        }
    }
    // Per access: two /proc/self/stat reads around the batch and, at <= 50/s, one report
    // (a write plus two more reads). Allow twice that plus the 20 Hz reports.
    let budget = (accesses * 5 * 2) + (secs * 20.0 * 3.0) as u64 + 20;
    assert!(accesses > 0, "no accesses at 20/s");
    assert!(
        s1 - s0 <= budget,
        "{} read/write syscalls in {secs:.1} s for about {} accesses at 20/s: the worker spins",
        s1 - s0,
        (secs * 20.0) as u64
    );
    h.stop(Duration::from_secs(2));
}

/// Defect (hostile issue): after SIGSTOP/SIGCONT a rate-limited worker burst to catch up
/// (4,000 -> 15,953 accesses in 2 s at 2,000/s). The rate limit drops the backlog instead.
#[test]
fn rate_limit_does_not_catch_up_after_a_stall() {
    init_lib();
    let f = gen("stall.bin", 4 * MIB, 4);
    let mut h = WorkerHandle::spawn(&f, Duration::from_secs(10)).expect("spawn worker");
    let rate = 1000;
    configure_running(&mut h, rate, 20);
    let pid = h.pid() as i32;
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill(2) with a pid of our own child; no memory arguments.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
    std::thread::sleep(Duration::from_millis(200));
    let before = h
        .drain()
        .into_iter()
        .filter_map(|e| match e {
            Event::Report(r) => match *r {
                Report::Progress(p) => Some(p.accesses),
                _ => None,
            },
            _ => None,
        })
        .max()
        .unwrap_or(0);
    std::thread::sleep(Duration::from_millis(1300));
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGCONT) }, 0);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_millis(300));
    let mut after = before;
    for e in h.drain() {
        if let Event::Report(r) = e {
            if let Report::Progress(p) = *r {
                after = after.max(p.accesses);
            }
        }
    }
    let resumed_for = t0.elapsed().as_secs_f64() + 0.2; // + the time before the stop took
    let ran = after - before;
    // Catching up would run the 1.5 s owed for the stall (1,500 accesses) at once.
    let honest = (rate as f64 * resumed_for) as u64 + rate / 10 + 50;
    assert!(
        ran <= honest,
        "{ran} accesses in {resumed_for:.2} s after a 1.5 s stall at {rate}/s: it caught up"
    );
    h.stop(Duration::from_secs(2));
}
