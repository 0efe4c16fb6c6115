//! The write half, against the real kernel: dirty pages and msync, private copies, the
//! MAP_SHARED ring between two processes, the address-space wall, descriptors closed after
//! mmap, scratch-file lifetime, and the user's file never written (bytes, strace, as nobody).

mod common;

use common::{run_cmd, skip, Run, BIN, TIMEOUT};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// `mmviz ARGS` with its cache (and so scratch) directory under `cache`.
fn mm<S: AsRef<std::ffi::OsStr>>(cache: &Path, args: &[S]) -> Run {
    let mut c = Command::new(BIN);
    c.env("MMVIZ_DEMO_DIR", cache).args(args);
    run_cmd(c, TIMEOUT)
}

fn scratch_files(cache: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(cache.join("scratch")) {
        Ok(d) => d.flatten().map(|e| e.path()).collect(),
        Err(_) => Vec::new(),
    }
}

/// A file of pseudo-random bytes made by `mmviz gen` (the user's file in these tests).
fn user_file(dir: &Path, name: &str, size: &str) -> PathBuf {
    let p = dir.join(name);
    let r = common::mmviz(&[
        "gen".as_ref(),
        p.as_os_str(),
        "--size".as_ref(),
        size.as_ref(),
    ]);
    assert_eq!(r.code(), 0, "{r:?}");
    p
}

fn u(j: &serde_json::Value, k: &str) -> u64 {
    j[k].as_u64()
        .unwrap_or_else(|| panic!("{k} is not a number: {j}"))
}

fn run_write(cache: &Path, file: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args: Vec<&std::ffi::OsStr> = vec!["run".as_ref(), file.as_os_str()];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    args.push("--json".as_ref());
    let r = mm(cache, &args);
    assert_eq!(r.code(), 0, "{r:?}");
    let j = r.json();
    let sf = j["scratch_file"].as_str().expect("scratch_file named");
    assert!(sf.starts_with(cache.to_str().unwrap()), "{j}");
    assert!(
        !Path::new(sf).exists(),
        "scratch copy removed at exit: {sf}"
    );
    assert!(
        scratch_files(cache).is_empty(),
        "{:?}",
        scratch_files(cache)
    );
    j
}

#[test]
fn shared_writes_dirty_pages_and_ms_sync_writes_them_back() {
    let dir = common::scratch_dir();
    let f = user_file(dir.path(), "user.bin", "8MiB");
    let before = std::fs::read(&f).unwrap();
    let pages = 8 << 20 >> 12;
    let j = run_write(
        dir.path(),
        &f,
        &[
            "--write",
            "shared",
            "--pattern",
            "sequential",
            "--msync",
            "sync",
        ],
    );
    assert_eq!(j["write_mode"], "shared");
    // Every page was stored to once: each one is dirty in the scratch copy's page cache.
    assert_eq!(u(&j, "dirty_before_msync"), pages, "{j}");
    assert_eq!(u(&j, "dirty_after"), 0, "MS_SYNC leaves nothing dirty: {j}");
    assert_eq!(
        u(&j, "writeback_after"),
        0,
        "MS_SYNC waits for the I/O: {j}"
    );
    assert_eq!(u(&j, "msync_pages"), pages, "{j}");
    assert!(u(&j, "msync_ns") > 0, "{j}");
    assert_eq!(
        std::fs::read(&f).unwrap(),
        before,
        "the user's file is untouched"
    );
}

#[test]
fn ms_async_leaves_the_pages_dirty_on_this_kernel() {
    let dir = common::scratch_dir();
    let f = user_file(dir.path(), "user.bin", "4MiB");
    let before = std::fs::read(&f).unwrap();
    let j = run_write(dir.path(), &f, &["--write", "shared", "--msync", "async"]);
    let d = u(&j, "dirty_before_msync");
    assert_eq!(d, 4 << 20 >> 12, "{j}");
    // Linux's MS_ASYNC starts no I/O (mm/msync.c: it only checks the range): still dirty.
    assert_eq!(u(&j, "dirty_after"), d, "{j}");
    assert_eq!(u(&j, "msync_pages"), 0, "{j}");
    assert_eq!(std::fs::read(&f).unwrap(), before);
}

#[test]
fn write_share_and_msync_every_n() {
    let dir = common::scratch_dir();
    let f = user_file(dir.path(), "user.bin", "4MiB");
    let before = std::fs::read(&f).unwrap();
    // Sequential 1-byte accesses visit each page once. Loads alone dirty nothing.
    let j = run_write(dir.path(), &f, &["--write", "shared", "--write-share", "0"]);
    assert_eq!(u(&j, "dirty_after"), 0, "{j}");
    // Half the accesses store (every other page). The kernel tracks dirtiness per folio, and
    // the copy's cache holds large folios (written with pwrite), so one store dirties the
    // whole folio: here all 1024 pages were dirty. Assert the bounds only.
    let j = run_write(
        dir.path(),
        &f,
        &["--write", "shared", "--write-share", "0.5"],
    );
    let d = u(&j, "dirty_after");
    assert!((512..=1024).contains(&d), "{j}");
    // msync(MS_SYNC) every 256 accesses: 1024 accesses, 4 calls, nothing left dirty.
    let j = run_write(
        dir.path(),
        &f,
        &["--write", "shared", "--msync", "every", "256"],
    );
    assert_eq!(u(&j, "msync_calls"), 4, "{j}");
    assert_eq!(u(&j, "dirty_after"), 0, "{j}");
    assert!(j["msync_pages"].is_null(), "{j}");
    assert_eq!(std::fs::read(&f).unwrap(), before);
}

/// The Anonymous: total of the smaps entries that map `path` in `pid` (kB), an independent
/// witness of private copies.
fn smaps_anon_kb(pid: u32, path: &Path) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap();
    let name = path.to_str().unwrap();
    let mut inside = false;
    let mut kb = 0;
    for l in s.lines() {
        let first = l.split_ascii_whitespace().next().unwrap_or("");
        if first.contains('-') && !first.ends_with(':') {
            inside = l.ends_with(name);
        } else if inside {
            if let Some(v) = l.strip_prefix("Anonymous:") {
                kb += v
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .unwrap();
            }
        }
    }
    kb
}

#[test]
fn private_writes_make_copies_and_leave_the_file_unchanged() {
    use mmviz::workload::worker::*;
    let dir = common::scratch_dir();
    let f = user_file(dir.path(), "user.bin", "8MiB");
    let before = std::fs::read(&f).unwrap();
    // Headless: private copies are anonymous memory, the page cache holds no dirty page.
    let j = run_write(dir.path(), &f, &["--write", "private"]);
    assert_eq!(u(&j, "dirty_after"), 0, "{j}");
    assert_eq!(
        u(&j, "private_after"),
        2048,
        "pagemap: every page a private copy: {j}"
    );
    assert!(u(&j, "rss_anon") >= 8 << 20, "RSS grows by the copies: {j}");

    // The scratch copy itself stays unchanged too (checked while it exists), with smaps as
    // the second witness.
    std::env::set_var("MMVIZ_EXE", BIN);
    let sd = mmviz::workload::scratch::ScratchDir {
        path: dir.path().join("scratch"),
        fs: String::new(),
    };
    std::fs::create_dir_all(&sd.path).unwrap();
    let src = std::fs::File::open(&f).unwrap();
    let s = mmviz::workload::scratch::ScratchFile::copy_of(&sd, &src, 8 << 20).unwrap();
    let opts = WorkerOptions {
        write: Some(WriteMode::Private),
        ..WorkerOptions::default()
    };
    let mut h = WorkerHandle::spawn_with(&s.path, &opts, Duration::from_secs(10)).unwrap();
    h.send(&Control::Configure {
        pattern: PatternSpec::default(),
        limit: Limit::OnePass,
        rate: None,
        paused: false,
        report_ms: 50,
    })
    .unwrap();
    let t0 = Instant::now();
    loop {
        assert!(t0.elapsed() < TIMEOUT, "worker did not finish");
        if let Some(Event::Report(r)) = h.recv(Duration::from_millis(100)) {
            if let Report::Progress(p) = *r {
                if p.state == WorkerState::Finished {
                    break;
                }
            }
        }
    }
    let anon = smaps_anon_kb(h.pid(), &s.path);
    assert!(
        anon >= 8 << 10,
        "smaps Anonymous {anon} kB for 8 MiB of copies"
    );
    h.stop(Duration::from_secs(5));
    assert_eq!(
        std::fs::read(&s.path).unwrap(),
        before,
        "MAP_PRIVATE never writes"
    );
    assert_eq!(std::fs::read(&f).unwrap(), before);
}

#[test]
fn descriptor_closed_after_mmap_while_the_mapping_stays() {
    let dir = common::scratch_dir();
    let f = user_file(dir.path(), "user.bin", "1MiB");
    for (extra, fd) in [(&[][..], false), (&["--keep-fd"][..], true)] {
        let mut args: Vec<&std::ffi::OsStr> = vec!["run".as_ref(), f.as_os_str()];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        args.push("--json".as_ref());
        let r = mm(dir.path(), &args);
        assert_eq!(r.code(), 0, "{r:?}");
        let j = r.json();
        assert_eq!(j["fd_open"], fd, "{j}");
        assert_eq!(j["mapping_in_maps"], true, "{j}");
    }
}

#[test]
fn address_space_limit_stops_a_4gib_mapping() {
    let dir = common::scratch_dir();
    let f = dir.path().join("sparse4g.bin");
    let r = common::mmviz(&[
        "gen".as_ref(),
        f.as_os_str(),
        "--size".as_ref(),
        "4GiB".as_ref(),
        "--sparse".as_ref(),
    ]);
    assert_eq!(r.code(), 0, "{r:?}");
    let args = |lim: &'static str| -> Vec<&std::ffi::OsStr> {
        vec![
            "run".as_ref(),
            f.as_os_str(),
            "--accesses".as_ref(),
            "100".as_ref(),
            "--pattern".as_ref(),
            "random".as_ref(),
            "--address-space".as_ref(),
            lim.as_ref(),
            "--json".as_ref(),
        ]
    };
    let r = mm(dir.path(), &args("3GiB"));
    assert_eq!(r.code(), 1, "{r:?}");
    assert!(r.stderr.starts_with("mmviz: "), "{r:?}");
    assert!(r.stderr.contains("ENOMEM"), "{r:?}");
    assert!(
        r.stderr
            .contains("a 3 GiB address space (RLIMIT_AS) cannot hold a 4 GiB mapping"),
        "{r:?}"
    );
    assert_eq!(r.stderr.lines().count(), 1, "{r:?}");
    let r = mm(dir.path(), &args("5GiB"));
    assert_eq!(r.code(), 0, "{r:?}");
    let j = r.json();
    assert_eq!(u(&j, "address_space_limit"), 5 << 30, "{j}");
    // 4 GiB of address space, a few MiB resident (cross-checked by the kernel's own status).
    assert!(u(&j, "vm_size") >= 4 << 30, "{j}");
    assert!(u(&j, "vm_rss") < 64 << 20, "{j}");
}

#[test]
fn ipc_loses_no_message_and_shares_one_frame() {
    let dir = common::scratch_dir();
    let r = mm(dir.path(), &["ipc", "--duration", "1", "--json"]);
    assert_eq!(r.code(), 0, "{r:?}");
    let j = r.json();
    assert_eq!(u(&j, "lost"), 0, "{j}");
    assert_eq!(u(&j, "out_of_order"), 0, "{j}");
    assert!(u(&j, "messages") > 1000, "{j}");
    assert_eq!(u(&j, "messages"), u(&j, "sent"), "{j}");
    assert!(u(&j, "latency_ns_p50") <= u(&j, "latency_ns_p99"), "{j}");
    if common::euid() == 0 {
        // Root has CAP_SYS_ADMIN: pagemap shows PFNs, and both point at one frame.
        assert_eq!(j["same_frame"], true, "{j}");
        assert_eq!(j["writer_pfn"], j["reader_pfn"], "{j}");
    } else {
        assert!(j["same_frame"].is_null(), "{j}");
        assert_eq!(j["pfn_note"], "PFN hidden without CAP_SYS_ADMIN", "{j}");
    }
    assert!(scratch_files(dir.path()).is_empty());
}

/// Syscall counts from `strace -c` output.
fn strace_counts(log: &str) -> std::collections::HashMap<String, u64> {
    let mut m = std::collections::HashMap::new();
    for l in log.lines() {
        let f: Vec<&str> = l.split_ascii_whitespace().collect();
        // % time, seconds, usecs/call, calls, [errors], syscall
        if f.len() >= 5 && f[0].parse::<f64>().is_ok() {
            if let Ok(calls) = f[3].parse::<u64>() {
                m.insert(f[f.len() - 1].to_string(), calls);
            }
        }
    }
    m
}

#[test]
fn ipc_data_path_makes_no_read_or_write_syscalls() {
    if !common::have("strace") {
        return skip(
            "ipc_data_path_makes_no_read_or_write_syscalls",
            "strace not installed",
        );
    }
    let dir = common::scratch_dir();
    let log = dir.path().join("strace.txt");
    let mut c = Command::new("strace");
    c.env("MMVIZ_DEMO_DIR", dir.path())
        .args(["-f", "-c", "-o"])
        .arg(&log)
        .args(["-e", "trace=read,write,pread64,pwrite64,readv,writev,futex"])
        .args([BIN, "ipc", "--duration", "1", "--json"]);
    let r = run_cmd(c, TIMEOUT);
    assert_eq!(r.code(), 0, "{r:?}");
    let j = r.json();
    let msgs = u(&j, "messages");
    assert!(msgs >= 1000, "{j}");
    assert_eq!(u(&j, "lost"), 0, "{j}");
    let counts = strace_counts(&std::fs::read_to_string(&log).unwrap());
    let rw: u64 = ["read", "write", "pread64", "pwrite64", "readv", "writev"]
        .iter()
        .map(|k| counts.get(*k).copied().unwrap_or(0))
        .sum();
    // Start-up and result lines only (all three processes, a few dozen), not per message.
    assert!(
        rw < 200,
        "{rw} read/write calls for {msgs} messages: {counts:?}"
    );
}

#[test]
fn user_file_is_only_opened_read_only_on_the_write_path() {
    if !common::have("strace") {
        return skip("user_file_is_only_opened_read_only", "strace not installed");
    }
    let dir = common::scratch_dir();
    let f = user_file(dir.path(), "user.bin", "2MiB");
    let before = std::fs::read(&f).unwrap();
    for mode in ["shared", "private"] {
        let log = dir.path().join(format!("open-{mode}.txt"));
        let mut c = Command::new("strace");
        c.env("MMVIZ_DEMO_DIR", dir.path())
            .args(["-f", "-e", "trace=open,openat,openat2,creat,truncate", "-o"])
            .arg(&log)
            .arg(BIN)
            .args(["run"])
            .arg(&f)
            .args(["--write", mode, "--msync", "sync", "--json"]);
        let r = run_cmd(c, TIMEOUT);
        assert_eq!(r.code(), 0, "{r:?}");
        let text = std::fs::read_to_string(&log).unwrap();
        let name = format!("\"{}\"", f.display());
        let opens: Vec<&str> = text.lines().filter(|l| l.contains(&name)).collect();
        assert!(
            !opens.is_empty(),
            "strace saw no open of the user's file:\n{text}"
        );
        for l in &opens {
            assert!(l.contains("O_RDONLY"), "{l}");
            for bad in ["O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "truncate("] {
                assert!(!l.contains(bad), "{l}");
            }
        }
        // The scratch copy, by contrast, is opened for writing (so the check can see flags).
        assert!(
            text.lines()
                .any(|l| l.contains("mmviz-scratch-") && l.contains("O_RDWR")),
            "{text}"
        );
    }
    assert_eq!(std::fs::read(&f).unwrap(), before);
}

#[test]
fn scratch_files_are_removed_after_sigkill_and_a_new_start() {
    let dir = common::scratch_dir();
    let f = user_file(dir.path(), "user.bin", "1MiB");
    let before = std::fs::read(&f).unwrap();
    let mut child = Command::new(BIN)
        .env("MMVIZ_DEMO_DIR", dir.path())
        .arg("run")
        .arg(&f)
        .args([
            "--write",
            "shared",
            "--rate",
            "50",
            "--duration",
            "30",
            "--json",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while scratch_files(dir.path()).is_empty() {
        assert!(t0.elapsed() < TIMEOUT, "no scratch file appeared");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Let it start writing, then kill it without a chance to clean up.
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    let left = scratch_files(dir.path());
    assert_eq!(left.len(), 1, "SIGKILL leaves the file behind: {left:?}");
    // A new start sweeps it: its lock died with the killed process.
    let j = run_write(dir.path(), &f, &["--write", "shared", "--accesses", "10"]);
    assert!(!left[0].exists(), "{j}");
    assert_eq!(std::fs::read(&f).unwrap(), before);
}

#[test]
fn nobody_with_an_unwritable_scratch_dir_is_refused_and_the_file_untouched() {
    let (dir, bin) = match common::nobody_sandbox() {
        Ok(x) => x,
        Err(why) => return skip("nobody_write_refused", &why),
    };
    let f = user_file(dir.path(), "roots.bin", "1MiB");
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    let before = std::fs::read(&f).unwrap();
    // A cache directory nobody cannot write (root-owned, 0755).
    let cache = dir.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o755)).unwrap();
    for mode in ["shared", "private"] {
        let mut c = common::as_nobody(
            &bin,
            &[
                "run".as_ref(),
                f.as_os_str(),
                "--write".as_ref(),
                mode.as_ref(),
                "--json".as_ref(),
            ],
        );
        c.env("MMVIZ_DEMO_DIR", &cache);
        let r = run_cmd(c, TIMEOUT);
        assert_eq!(r.code(), 1, "{r:?}");
        assert!(r.stdout.is_empty(), "{r:?}");
        assert_eq!(r.stderr.lines().count(), 1, "one line: {r:?}");
        assert!(r.stderr.starts_with("mmviz: write mode refused: "), "{r:?}");
        assert!(r.stderr.contains("Permission denied"), "{r:?}");
    }
    assert_eq!(std::fs::read(&f).unwrap(), before);
    assert!(!cache.join("scratch").exists());

    // With a scratch directory nobody may write, the demo runs: it never needed write access
    // to the user's file (an open for writing would have failed with EACCES and ended the run).
    let open = dir.path().join("open-cache");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    for mode in ["shared", "private"] {
        let mut c = common::as_nobody(
            &bin,
            &[
                "run".as_ref(),
                f.as_os_str(),
                "--write".as_ref(),
                mode.as_ref(),
                "--msync".as_ref(),
                "sync".as_ref(),
                "--json".as_ref(),
            ],
        );
        c.env("MMVIZ_DEMO_DIR", &open);
        let r = run_cmd(c, TIMEOUT);
        assert_eq!(r.code(), 0, "{r:?}");
        let j = r.json();
        assert_eq!(j["cache_state_visible"], true, "nobody owns the copy: {j}");
        let dirty = u(&j, "dirty_before_msync");
        if mode == "shared" {
            assert_eq!(dirty, 256, "{j}");
        } else {
            assert_eq!(dirty, 0, "{j}");
        }
        assert_eq!(u(&j, "dirty_after"), 0, "{j}");
    }
    assert_eq!(std::fs::read(&f).unwrap(), before);
}

#[test]
fn bad_write_options_are_usage_errors() {
    let dir = common::scratch_dir();
    let f = user_file(dir.path(), "user.bin", "64KiB");
    for extra in [
        &["--write", "both"][..],
        &["--write", "shared", "--write-share", "1.5"][..],
        &["--write", "shared", "--msync", "sometimes"][..],
        &["--write", "shared", "--msync", "every", "0"][..],
        &["--address-space", "lots"][..],
    ] {
        let mut args: Vec<&std::ffi::OsStr> = vec!["run".as_ref(), f.as_os_str()];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        let r = mm(dir.path(), &args);
        assert_eq!(r.code(), 2, "{extra:?}: {r:?}");
        assert!(r.stderr.starts_with("mmviz: "), "{r:?}");
        assert_eq!(r.stderr.lines().count(), 1, "{r:?}");
    }
    assert!(scratch_files(dir.path()).is_empty());
}

#[test]
fn sigint_sigterm_and_sighup_remove_the_scratch_copy() {
    let dir = common::scratch_dir();
    let f = user_file(dir.path(), "user.bin", "1MiB");
    for (sig, code) in [
        (libc::SIGINT, 130),
        (libc::SIGTERM, 143),
        (libc::SIGHUP, 129),
    ] {
        let child = Command::new(BIN)
            .env("MMVIZ_DEMO_DIR", dir.path())
            .arg("run")
            .arg(&f)
            .args(["--write", "shared", "--rate", "50", "--duration", "30"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let t0 = Instant::now();
        while scratch_files(dir.path()).is_empty() {
            assert!(t0.elapsed() < TIMEOUT, "no scratch file appeared");
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(300));
        // SAFETY: kill(2) on our own child's pid; no memory is passed.
        assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("mmviz: "), "{out:?}");
        assert_eq!(err.lines().count(), 1, "{out:?}");
        if sig == libc::SIGINT {
            assert_eq!(err.trim(), "mmviz: interrupted", "{out:?}");
        }
        assert!(
            scratch_files(dir.path()).is_empty(),
            "signal {sig}: copy removed"
        );
    }
}

/// A tmpfs directory for the tmpfs tests, or None (skip) where /dev/shm is not tmpfs.
fn tmpfs_dir() -> Option<tempfile::TempDir> {
    let t = tempfile::Builder::new()
        .prefix("mmviz-test-")
        .tempdir_in("/dev/shm")
        .ok()?;
    let fs = mmviz::kernel::fsinfo::fs_of(&std::fs::File::open(t.path()).ok()?).ok()?;
    (fs.name == "tmpfs").then_some(t)
}

#[test]
fn scratch_on_tmpfs_moves_to_home_or_is_refused() {
    let Some(shm) = tmpfs_dir() else {
        return skip("scratch_on_tmpfs", "/dev/shm is not a writable tmpfs here");
    };
    let dir = common::scratch_dir();
    let f = user_file(dir.path(), "user.bin", "1MiB");
    let before = std::fs::read(&f).unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    // The cache dir is on tmpfs, HOME is on disk and ours: scratch goes under HOME.
    let mut c = Command::new(BIN);
    c.env("MMVIZ_DEMO_DIR", shm.path())
        .env("HOME", &home)
        .arg("run")
        .arg(&f)
        .args(["--write", "shared", "--json"]);
    let r = run_cmd(c, TIMEOUT);
    assert_eq!(r.code(), 0, "{r:?}");
    let j = r.json();
    let sf = j["scratch_file"].as_str().unwrap();
    assert!(
        sf.starts_with(home.join(".cache/mmviz/scratch").to_str().unwrap()),
        "{j}"
    );
    assert!(u(&j, "dirty_after") > 0, "{j}");
    // HOME on tmpfs too: refused, with the reason.
    let mut c = Command::new(BIN);
    c.env("MMVIZ_DEMO_DIR", shm.path())
        .env("HOME", shm.path())
        .arg("run")
        .arg(&f)
        .args(["--write", "shared", "--json"]);
    let r = run_cmd(c, TIMEOUT);
    assert_eq!(r.code(), 1, "{r:?}");
    assert_eq!(r.stderr.lines().count(), 1, "{r:?}");
    assert!(r.stderr.starts_with("mmviz: write mode refused: "), "{r:?}");
    assert!(r.stderr.contains("is on tmpfs"), "{r:?}");
    assert!(r.stderr.contains("never writes back"), "{r:?}");
    assert_eq!(std::fs::read(&f).unwrap(), before);
}

#[test]
fn copies_stop_at_1gib_and_keep_holes() {
    let dir = common::scratch_dir();
    let f = dir.path().join("sparse.bin");
    let r = common::mmviz(&[
        "gen".as_ref(),
        f.as_os_str(),
        "--size".as_ref(),
        "1200MiB".as_ref(),
        "--sparse".as_ref(),
    ]);
    assert_eq!(r.code(), 0, "{r:?}");
    // One data block at 4 MiB; everything else a hole.
    {
        use std::os::unix::fs::FileExt;
        let w = std::fs::OpenOptions::new().write(true).open(&f).unwrap();
        w.write_all_at(&[0x5a; 4096], 4 << 20).unwrap();
    }
    let before_blocks = std::fs::metadata(&f).unwrap();
    let j = run_write(dir.path(), &f, &["--write", "private", "--accesses", "10"]);
    assert_eq!(u(&j, "source_size"), 1200 << 20, "{j}");
    assert_eq!(u(&j, "scratch_size"), 1 << 30, "{j}");
    assert_eq!(u(&j, "pages"), (1 << 30) / 4096, "{j}");
    assert_eq!(
        u(&j, "scratch_data_bytes"),
        4096,
        "only the data block is copied: {j}"
    );
    use std::os::unix::fs::MetadataExt;
    let after = std::fs::metadata(&f).unwrap();
    assert_eq!(after.len(), before_blocks.len());
    assert_eq!(
        (after.mtime(), after.mtime_nsec()),
        (before_blocks.mtime(), before_blocks.mtime_nsec()),
        "the user's file is not written"
    );
}

#[test]
fn worker_refuses_to_map_a_non_scratch_file_writable() {
    let dir = common::scratch_dir();
    let f = user_file(dir.path(), "user.bin", "64KiB");
    let before = std::fs::read(&f).unwrap();
    for mode in ["shared", "private"] {
        let mut c = Command::new(BIN);
        c.arg("__worker").arg(&f).args(["--write", mode]);
        let r = run_cmd(c, TIMEOUT);
        assert_eq!(r.code(), 1, "{r:?}");
        assert!(r.stdout.is_empty(), "no hello: {r:?}");
        assert!(
            r.stderr.contains(&format!(
                "refusing --write {mode} on a file that is not an mmviz scratch file"
            )),
            "{r:?}"
        );
    }
    assert_eq!(std::fs::read(&f).unwrap(), before);
}

#[test]
fn worker_write_controls_answer_and_validate() {
    use mmviz::workload::worker::*;
    std::env::set_var("MMVIZ_EXE", BIN);
    let dir = common::scratch_dir();
    let sd = mmviz::workload::scratch::ScratchDir {
        path: dir.path().to_path_buf(),
        fs: String::new(),
    };
    let s = mmviz::workload::scratch::ScratchFile::sparse(&sd, 1 << 20).unwrap();
    let next = |h: &WorkerHandle, pred: &dyn Fn(&Report) -> bool| -> Report {
        let t0 = Instant::now();
        loop {
            assert!(t0.elapsed() < TIMEOUT, "no matching report");
            if let Some(Event::Report(r)) = h.recv(Duration::from_millis(100)) {
                if pred(&r) {
                    return *r;
                }
            }
        }
    };
    // Read-only worker: write controls are refused, msync itself is harmless.
    let mut h = WorkerHandle::spawn(&s.path, Duration::from_secs(10)).unwrap();
    h.send(&Control::SetWriteShare { share: 0.5 }).unwrap();
    let r = next(
        &h,
        &|r| matches!(r, Report::Ack { what, .. } if what == "set_write_share"),
    );
    assert!(
        matches!(r, Report::Ack { error: Some(ref e), .. } if e == "not in write mode"),
        "{r:?}"
    );
    h.stop(Duration::from_secs(5));

    let opts = WorkerOptions {
        write: Some(WriteMode::Shared),
        ..WorkerOptions::default()
    };
    let mut h = WorkerHandle::spawn_with(&s.path, &opts, Duration::from_secs(10)).unwrap();
    h.send(&Control::SetWriteShare { share: 1.5 }).unwrap();
    let r = next(
        &h,
        &|r| matches!(r, Report::Ack { what, .. } if what == "set_write_share"),
    );
    assert!(matches!(r, Report::Ack { error: Some(_), .. }), "{r:?}");
    h.send(&Control::Msync { sync: true }).unwrap();
    let r = next(&h, &|r| matches!(r, Report::Msynced { .. }));
    assert!(
        matches!(
            r,
            Report::Msynced {
                sync: true,
                periodic: false,
                error: None,
                ..
            }
        ),
        "{r:?}"
    );
    h.stop(Duration::from_secs(5));
}

#[test]
fn ipc_sigint_exits_130_and_removes_the_ring() {
    let dir = common::scratch_dir();
    let child = Command::new(BIN)
        .env("MMVIZ_DEMO_DIR", dir.path())
        .args(["ipc", "--duration", "30"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while scratch_files(dir.path()).is_empty() {
        assert!(t0.elapsed() < TIMEOUT, "no ring file appeared");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill(2) on our own child's pid; no memory is passed.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "mmviz: interrupted"
    );
    assert!(scratch_files(dir.path()).is_empty(), "ring file removed");
    // Both children are gone (killed and reaped by the parent before it exited).
    let needle = dir.path().to_str().unwrap().to_string();
    let alive: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains("__ipc") && c.contains(&needle))
        .collect();
    assert!(alive.is_empty(), "ipc children left: {alive:?}");
}

#[test]
fn a_1tib_sparse_mapping_costs_address_space_not_memory() {
    let dir = common::scratch_dir();
    let f = dir.path().join("sparse1t.bin");
    let r = common::mmviz(&[
        "gen".as_ref(),
        f.as_os_str(),
        "--size".as_ref(),
        "1TiB".as_ref(),
        "--sparse".as_ref(),
    ]);
    assert_eq!(r.code(), 0, "{r:?}");
    let r = mm(
        dir.path(),
        &[
            "run".as_ref(),
            f.as_os_str(),
            "--pattern".as_ref(),
            "random".as_ref(),
            // Without it each fault on a hole reads ~2000 pages of zeros ahead (measured:
            // 1000 accesses cached 7.6 GiB and mapped 62 MiB).
            "--advice".as_ref(),
            "random".as_ref(),
            "--accesses".as_ref(),
            "200".as_ref(),
            "--json".as_ref(),
        ],
    );
    assert_eq!(r.code(), 0, "{r:?}");
    let j = r.json();
    assert!(u(&j, "vm_size") >= 1 << 40, "{j}");
    assert!(u(&j, "vm_rss") < 32 << 20, "{j}");
    assert_eq!(j["fd_open"], false, "{j}");
    assert_eq!(j["mapping_in_maps"], true, "{j}");
}
