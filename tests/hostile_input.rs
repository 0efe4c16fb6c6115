//! Hostile input through the real binary: one size parser, one rule per check, one exit
//! code rule (README "Exit status"), and file names that try to inject terminal escapes.

mod common;

use common::{run_cmd, scratch_dir, BIN, TIMEOUT};
use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn os(s: &str) -> OsString {
    OsString::from(s)
}

fn mmviz_os(args: &[OsString]) -> common::Run {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    run_cmd(cmd, TIMEOUT)
}

fn data(dir: &Path, name: &str, bytes: usize) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, vec![b'x'; bytes]).unwrap();
    p
}

/// Every bad input: exit 2, one line on stderr starting "mmviz: " (clap's own usage errors
/// are multi-line but also exit 2), containing the reason.
#[test]
fn bad_input_is_one_clear_line_and_exit_2() {
    let dir = scratch_dir();
    let f = data(dir.path(), "f.bin", 1 << 20);
    let empty = data(dir.path(), "empty.bin", 0);
    let fp = f.to_str().unwrap();
    let ep = empty.to_str().unwrap();
    let newf = dir.path().join("new.bin");
    let np = newf.to_str().unwrap();
    let table: &[(&[&str], &str)] = &[
        // Zero counts and empty files: the same rule in run and bench.
        (
            &["run", fp, "--accesses", "0"],
            "--accesses must be at least 1",
        ),
        (
            &["bench", fp, "--accesses", "0"],
            "--accesses must be at least 1",
        ),
        (&["run", ep], "the file is empty (0 bytes)"),
        (&["bench", ep], "the file is empty (0 bytes)"),
        (
            &["gen", np, "--size", "0"],
            "--size 0 would make an empty file",
        ),
        // Rates: whole accesses per second, at least 1.
        (
            &["run", fp, "--rate", "0.0001"],
            "is below 1 access per second",
        ),
        (&["run", fp, "--rate", "1e308"], "is too large"),
        (&["run", fp, "--rate", "0"], "is zero"),
        (&["run", fp, "--rate", "2.5"], "is not a whole number"),
        (&["run", fp, "--rate", "fast"], "is not a number"),
        (
            &["run", fp, "--rate", "99999999999999999999"],
            "is too large",
        ),
        // One size parser: suffixes accepted everywhere, errors say why.
        (
            &["run", fp, "--access-size", "2MiB"],
            "larger than the file",
        ),
        (&["gen", np, "--size", "12XB"], "unknown unit"),
        (&["gen", np, "--size", "99999999999999999999"], "too large"),
        (
            &["gen", np, "--size", "18446744073709551615", "--sparse"],
            "larger than any file Linux can hold",
        ),
        (
            &["gen", "/proc/x.bin", "--size", "4KiB"],
            "/proc is on procfs, a kernel pseudo-filesystem",
        ),
        (
            &["run", fp, "--duration", "0"],
            "not a positive number of seconds",
        ),
    ];
    for (args, want) in table {
        let r = mmviz_os(&args.iter().map(|a| os(a)).collect::<Vec<_>>());
        assert_eq!(r.code(), 2, "{args:?}: {r:?}");
        assert!(r.stderr.starts_with("mmviz: "), "{args:?}: {r:?}");
        assert_eq!(r.stderr.trim_end().lines().count(), 1, "{args:?}: {r:?}");
        assert!(r.stderr.contains(want), "{args:?} wants {want:?}: {r:?}");
        assert!(r.stdout.is_empty(), "{args:?}: {r:?}");
    }
    assert!(!newf.exists(), "no file made by a refused gen");
    // clap-level value errors (bad suffix on --access-size) exit 2 too, and name the parser.
    let r = mmviz_os(&[os("run"), f.clone().into(), os("--access-size"), os("1X")]);
    assert_eq!(r.code(), 2, "{r:?}");
    assert!(r.stderr.contains("unknown unit"), "{r:?}");
    // The same size syntax works for --access-size as for gen --size.
    let r = mmviz_os(&[
        os("run"),
        f.clone().into(),
        os("--access-size"),
        os("4KiB"),
        os("--accesses"),
        os("10"),
        os("--pattern"),
        os("random"),
        os("--json"),
    ]);
    assert_eq!(r.code(), 0, "{r:?}");
    assert_eq!(r.json()["access_size"], 4096);
}

#[test]
fn rate_limited_run_shows_wall_time_beside_timed_time() {
    let dir = scratch_dir();
    let f = data(dir.path(), "w.bin", 1 << 20);
    let r = mmviz_os(&[
        os("run"),
        f.clone().into(),
        os("--rate"),
        os("2000"),
        os("--duration"),
        os("1"),
    ]);
    assert_eq!(r.code(), 0, "{r:?}");
    let line = r
        .stdout
        .lines()
        .find(|l| l.starts_with("accesses:"))
        .unwrap();
    assert!(
        line.contains("ms timed") && line.contains("s wall clock"),
        "{line}"
    );
    // The wall clock is about the requested second, the timed window far less.
    let wall: f64 = line
        .split(", ")
        .last()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((0.9..2.0).contains(&wall), "{line}");
}

/// Whether no `__worker` process maps `f` (polls up to 5 s).
fn worker_gone(f: &Path) -> bool {
    let needle = f.to_str().unwrap().to_string();
    let t0 = Instant::now();
    loop {
        let alive = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .any(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                    let c = String::from_utf8_lossy(&c);
                    c.contains("__worker") && c.contains(&needle)
                })
            });
        if !alive {
            return true;
        }
        if t0.elapsed() > Duration::from_secs(5) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts `run` on a long, slow workload, sends `sig` once it is running, returns the run.
fn run_and_signal(f: &Path, sig: &str) -> common::Run {
    let mut cmd = Command::new(BIN);
    cmd.args(["run"])
        .arg(f)
        .args(["--rate", "100", "--duration", "60", "--progress"]);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The worker is running once a progress line appears; read stderr in a thread.
    let mut err = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        use std::io::Read;
        let mut all = Vec::new();
        let mut buf = [0u8; 256];
        loop {
            match err.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    all.extend_from_slice(&buf[..n]);
                    if all.windows(9).any(|w| w == b"progress:") {
                        let _ = tx.send(());
                    }
                }
            }
        }
        String::from_utf8_lossy(&all).into_owned()
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("run reported progress");
    let st = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "run ignored {sig}");
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stdout = String::new();
    use std::io::Read;
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    common::Run {
        status,
        stdout,
        stderr: reader.join().unwrap(),
    }
}

/// The exit-code rule of README "Exit status", row by row where a test can produce it:
/// 0 success, 2 bad input, 128+signal for SIGINT/SIGHUP/SIGTERM (the live view's rows,
/// including 131 for SIGQUIT, are in e2e_tui.rs).
#[test]
fn exit_codes_follow_the_documented_table() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let dir = scratch_dir();
    let f = data(dir.path(), "x.bin", 1 << 20);
    for (code, row) in [
        (0, "| 0 |"),
        (1, "| 1 |"),
        (2, "| 2 |"),
        (129, "| 129 |"),
        (130, "| 130 |"),
        (131, "| 131 |"),
        (143, "| 143 |"),
    ] {
        assert!(readme.contains(row), "README documents exit status {code}");
    }
    let r = mmviz_os(&[os("residency"), f.clone().into()]);
    assert_eq!(r.code(), 0, "{r:?}");
    let r = mmviz_os(&[os("residency"), dir.path().join("missing").into()]);
    assert_eq!(r.code(), 2, "{r:?}");
    for (sig, code, says) in [
        ("-INT", 130, "interrupted"),
        ("-HUP", 129, "hung up (SIGHUP)"),
        ("-TERM", 143, "terminated (SIGTERM)"),
    ] {
        let r = run_and_signal(&f, sig);
        assert_eq!(r.code(), code, "{sig}: {r:?}");
        assert!(r.stderr.contains(&format!("mmviz: {says}")), "{sig}: {r:?}");
        // The worker was stopped, not left running.
        assert!(
            worker_gone(&f),
            "{sig}: a worker on the file is still alive"
        );
    }
}

/// A file name with ESC, BEL and a newline reaches no terminal raw: every text output
/// escapes it; JSON keeps the exact name (serde escapes it).
#[test]
fn hostile_file_names_are_escaped_in_text_output() {
    let dir = scratch_dir();
    let name = "esc\x1b]0;PWNED\x07\x1b[2J\nline.bin";
    let f = dir.path().join(name);
    std::fs::write(&f, vec![b'y'; 256 << 10]).unwrap();
    let sum = std::fs::read(&f).unwrap();
    let escaped = "esc\\x1b]0;PWNED\\x07\\x1b[2J\\x0aline.bin";
    let runs: Vec<(&str, Vec<OsString>)> = vec![
        ("residency", vec![os("residency"), f.clone().into()]),
        ("evict", vec![os("evict"), f.clone().into()]),
        (
            "run",
            vec![os("run"), f.clone().into(), os("--accesses"), os("10")],
        ),
        (
            "bench",
            vec![
                os("bench"),
                f.clone().into(),
                os("--repeat"),
                os("1"),
                os("--accesses"),
                os("10"),
                os("--pattern"),
                os("random"),
            ],
        ),
        // An error naming the file (gen refuses to overwrite it).
        (
            "gen",
            vec![os("gen"), f.clone().into(), os("--size"), os("4KiB")],
        ),
    ];
    for (what, args) in runs {
        let r = mmviz_os(&args);
        let all = format!("{}{}", r.stdout, r.stderr);
        assert!(
            !all.contains('\x1b') && !all.contains('\x07'),
            "{what} printed a raw control character: {all:?}"
        );
        assert!(
            all.contains(escaped),
            "{what} names the file escaped: {all:?}"
        );
        // The name's newline did not split a line: no line starts with its tail.
        assert!(
            !all.lines().any(|l| l.starts_with("line.bin")),
            "{what}: {all:?}"
        );
    }
    let r = mmviz_os(&[os("residency"), f.clone().into(), os("--json")]);
    assert_eq!(r.code(), 0, "{r:?}");
    assert!(!r.stdout.contains('\x1b'), "{:?}", r.stdout);
    assert!(r.json()["path"].as_str().unwrap().ends_with(name));
    assert_eq!(std::fs::read(&f).unwrap(), sum, "the file is unchanged");
}
