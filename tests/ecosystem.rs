//! mmviz among the other tools: `watch` (the headless live session), the man page and
//! completions, `--help` examples, themes on the command line, and the `machine` object in
//! every JSON output, checked against independent sources (uname, fincore, /proc).

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn gen(dir: &Path, name: &str, size: &str) -> PathBuf {
    let p = dir.join(name);
    let r = mmviz(&["gen", p.to_str().unwrap(), "--size", size]);
    assert_eq!(r.code(), 0, "{r:?}");
    p
}

fn uname_r() -> String {
    let o = Command::new("uname").arg("-r").output().unwrap();
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// The `machine` object agrees with uname and the kernel's own files.
fn check_machine(v: &serde_json::Value) {
    let m = &v["machine"];
    assert_eq!(m["kernel_release"], uname_r().as_str(), "{v}");
    assert_eq!(m["page_size"], mmviz::units::page_size(), "{v}");
    assert_eq!(
        m["thp_mode"].as_str().map(str::to_string),
        mmviz::kernel::fsinfo::thp_mode()
    );
    assert!(m["virtualization"].is_object(), "{v}");
}

/// Processes whose command line mentions `needle` (the viewer and its worker).
fn pids_with(needle: &str) -> Vec<i32> {
    let Ok(all) = procfs::process::all_processes() else {
        return vec![];
    };
    all.flatten()
        .filter(|p| {
            p.cmdline()
                .is_ok_and(|c| c.iter().any(|a| a.contains(needle)))
        })
        .map(|p| p.pid)
        .collect()
}

#[test]
fn watch_json_emits_one_object_per_interval_with_growing_faults() {
    let dir = scratch_dir();
    let f = gen(dir.path(), "watch.bin", "32MiB");
    if let Err(why) = can_evict(&f) {
        return skip("watch_json", &why);
    }
    let mut cmd = Command::new(BIN);
    cmd.args(["watch", f.to_str().unwrap(), "--cold", "--rate", "2000"])
        .args(["--interval", "0.3", "--count", "3", "--json"]);
    let r = run_cmd(cmd, TIMEOUT);
    assert_eq!(r.code(), 0, "{r:?}");
    let lines: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.len(), 3, "{}", r.stdout);
    let mut last_faults = 0;
    let mut last_t = 0;
    for (i, v) in lines.iter().enumerate() {
        assert_eq!(v["schema_version"], 1, "{v}");
        for k in [
            "seq", "t_ms", "file", "caps", "worker", "totals", "faults", "interval",
        ] {
            assert!(!v[k].is_null(), "{k} missing: {v}");
        }
        assert!(v.get("grid").is_none(), "grid is left out");
        check_machine(v);
        assert_eq!(v["file"]["pages"], 8192);
        let t = v["t_ms"].as_u64().unwrap();
        let faults = v["faults"]["minor_total"].as_u64().unwrap()
            + v["faults"]["major_total"].as_u64().unwrap();
        assert!(t > last_t, "time moves: {v}");
        assert!(
            faults > last_faults,
            "line {i}: faults grow on a cold file: {v}"
        );
        let iv = &v["interval"];
        assert_eq!(
            iv["minor_faults"].as_u64().unwrap() + iv["major_faults"].as_u64().unwrap(),
            faults - last_faults,
            "interval counts are the totals' differences"
        );
        assert!(v["worker"]["accesses"].as_u64().unwrap() > 0);
        (last_faults, last_t) = (faults, t);
    }
    // Cold, sequential: the first touch waited for the disk.
    assert!(
        lines[0]["faults"]["major_total"].as_u64().unwrap() >= 1,
        "{}",
        lines[0]
    );
    // The cache only grew during the run (nothing evicts): fincore, asked afterwards, sees
    // at least what the last line said.
    let cached = lines[2]["totals"]["cached"].as_u64().unwrap();
    assert!(cached > 0);
    if let Some(fc) = fincore_pages(&f) {
        assert!(fc >= cached, "fincore {fc} < watch {cached}");
    }
}

/// The live view's key actions as flags: `--warm` (the `w` key) fills the cache before the
/// workload runs (fincore agrees), `--paused` (space) keeps the worker still.
#[test]
fn watch_takes_warm_and_paused_as_flags() {
    let dir = scratch_dir();
    let f = gen(dir.path(), "watch-flags.bin", "8MiB");
    if let Err(why) = can_evict(&f) {
        return skip("watch_flags", &why);
    }
    let mut cmd = Command::new(BIN);
    cmd.args(["watch", f.to_str().unwrap(), "--cold", "--warm", "--paused"])
        .args(["--interval", "0.4", "--count", "2", "--json"]);
    let r = run_cmd(cmd, TIMEOUT);
    assert_eq!(r.code(), 0, "{r:?}");
    let last: serde_json::Value =
        serde_json::from_str(r.stdout.lines().last().expect("two lines")).unwrap();
    assert_eq!(last["worker"]["state"]["state"], "paused", "{last}");
    assert_eq!(last["worker"]["accesses"], 0, "{last}");
    // Warmed: the warm read the whole file, and the page cache holds it (reclaim under the
    // suite's load, e.g. DAMON, may already have taken a few pages back, never added any).
    let events = last["events"].to_string();
    assert!(events.contains("warmed: read 8 MiB"), "{last}");
    let cached = last["totals"]["cached"].as_u64().unwrap();
    assert!((2000..=2048).contains(&cached), "warmed: {last}");
    let o = Command::new("fincore")
        .args(["--raw", "--noheadings", "--output", "PAGES"])
        .arg(&f)
        .output();
    if let Ok(o) = o {
        // The independent witness, a moment later: reclaim under the suite's load may already
        // have dropped a few pages again, never added any.
        let fc: u64 = String::from_utf8_lossy(&o.stdout).trim().parse().unwrap();
        assert!(
            (2000..=2048).contains(&fc),
            "fincore says {fc} pages cached"
        );
    }
}

#[test]
fn watch_text_prints_a_header_and_one_line_per_interval() {
    let dir = scratch_dir();
    let f = gen(dir.path(), "watch-text.bin", "8MiB");
    let r = mmviz(&[
        "watch",
        f.to_str().unwrap(),
        "--interval",
        "0.2",
        "--count",
        "2",
    ]);
    assert_eq!(r.code(), 0, "{r:?}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", r.stdout);
    assert!(lines[0].contains("minflt") && lines[0].contains("cached"));
    assert!(lines[1].contains("sequential"), "{}", r.stdout);
}

#[test]
fn watch_exits_130_on_ctrl_c_and_leaves_no_worker() {
    watch_stops_on("INT", 130);
}

#[test]
fn watch_exits_143_on_sigterm_and_leaves_no_worker() {
    watch_stops_on("TERM", 143);
}

fn watch_stops_on(sig: &str, code: i32) {
    let dir = scratch_dir();
    let name = format!("watch-sig{sig}.bin");
    let f = gen(dir.path(), &name, "8MiB");
    let mut child = Command::new(BIN)
        .args([
            "watch",
            f.to_str().unwrap(),
            "--interval",
            "0.2",
            "--rate",
            "100",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap(); // header
    line.clear();
    out.read_line(&mut line).unwrap(); // first sample: the session and its worker run
    assert!(line.contains("sequential"), "{line}");
    let pids = pids_with(&name);
    assert!(pids.len() >= 2, "viewer and worker: {pids:?}");
    let st = Command::new("kill")
        .args([format!("-{sig}"), child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t0.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("watch did not stop on SIG{sig}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(code));
    let t0 = Instant::now();
    while !pids_with(&name).is_empty() {
        assert!(t0.elapsed() < Duration::from_secs(5), "worker left behind");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn watch_bad_input_is_one_line_and_exit_2() {
    let dir = scratch_dir();
    let f = gen(dir.path(), "watch-bad.bin", "64KiB");
    for args in [
        vec!["--interval", "0"],
        vec!["--interval", "nan"],
        vec!["--count", "0"],
        vec!["--pattern", "zigzag"],
    ] {
        let mut a = vec!["watch", f.to_str().unwrap()];
        a.extend(args.iter());
        let r = mmviz(&a);
        assert_eq!(r.code(), 2, "{args:?}: {r:?}");
        assert!(r.stdout.is_empty());
    }
    let r = mmviz(&["watch", "/nonexistent/file", "--count", "1"]);
    assert_eq!(r.code(), 2, "{r:?}");
    assert!(r.stderr.starts_with("mmviz: "), "{r:?}");
}

#[test]
fn every_json_output_has_the_machine() {
    let dir = scratch_dir();
    let f = gen(dir.path(), "machine.bin", "1MiB");
    let p = f.to_str().unwrap();
    for args in [
        vec!["residency", p, "--json"],
        vec!["evict", p, "--json"],
        vec!["run", p, "--accesses", "10", "--json"],
        vec!["page", p, "4096", "--json"],
        vec!["bench", p, "--accesses", "100", "--repeat", "1", "--json"],
        vec!["exec", "--file", p, "--json", "--", "cat", p],
    ] {
        let r = mmviz(&args);
        assert_eq!(r.code(), 0, "{args:?}: {r:?}");
        let v = r.json();
        check_machine(&v);
        if args[0] == "residency" {
            assert_eq!(v["machine"]["read_ahead_kb"], v["read_ahead_kb"], "{v}");
        }
    }
}

#[test]
fn manpage_and_completions_cover_every_subcommand() {
    let subs = [
        "gen",
        "residency",
        "evict",
        "run",
        "bench",
        "page",
        "attach",
        "exec",
        "watch",
        "completions",
        "manpage",
    ];
    let r = mmviz(&["manpage"]);
    assert_eq!(r.code(), 0, "{r:?}");
    assert!(r.stdout.contains(".TH mmviz 1"), "{}", &r.stdout[..200]);
    for s in subs {
        assert!(r.stdout.contains(&format!("mmviz {s}")), "man page: {s}");
    }
    assert!(r.stdout.contains("EXIT STATUS") && r.stdout.contains("130"));
    if have("man") {
        // The page renders (no roff errors on stderr).
        let dir = scratch_dir();
        let page = dir.path().join("mmviz.1");
        std::fs::write(&page, &r.stdout).unwrap();
        let mut cmd = Command::new("man");
        cmd.arg("-l")
            .arg(&page)
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "80");
        let m = run_cmd(cmd, TIMEOUT);
        assert_eq!(m.code(), 0, "{m:?}");
        assert!(m.stdout.contains("COMMANDS"), "{m:?}");
    }
    for sh in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let r = mmviz(&["completions", sh]);
        assert_eq!(r.code(), 0, "{sh}: {r:?}");
        for s in subs {
            assert!(r.stdout.contains(s), "{sh} completions: {s}");
        }
    }
    if have("bash") {
        // The bash script is valid bash.
        let r = mmviz(&["completions", "bash"]);
        let mut cmd = Command::new("bash");
        cmd.args(["-n", "-c", &r.stdout]);
        assert_eq!(run_cmd(cmd, TIMEOUT).code(), 0);
    }
    let r = mmviz(&["completions", "tcsh"]);
    assert_eq!(r.code(), 2, "{r:?}");
}

#[test]
fn every_subcommand_help_has_an_example() {
    for s in [
        "gen",
        "residency",
        "evict",
        "run",
        "bench",
        "page",
        "attach",
        "exec",
        "watch",
        "completions",
        "manpage",
    ] {
        let r = mmviz(&[s, "--help"]);
        assert_eq!(r.code(), 0, "{s}: {r:?}");
        assert!(
            r.stdout.contains("Example:") && r.stdout.contains(&format!("mmviz {s}")),
            "{s}:\n{}",
            r.stdout
        );
    }
    let r = mmviz(&["--help"]);
    assert!(r.stdout.contains("--theme") && r.stdout.contains("Example:"));
}

#[test]
fn a_bad_theme_is_bad_input() {
    let dir = scratch_dir();
    let f = gen(dir.path(), "theme.bin", "64KiB");
    let mut cmd = Command::new(BIN);
    cmd.arg(&f).env("MMVIZ_THEME", "neon");
    let r = run_cmd(cmd, TIMEOUT);
    assert_eq!(r.code(), 2, "{r:?}");
    assert_eq!(
        r.stderr.trim(),
        "mmviz: MMVIZ_THEME=neon: not one of dark, light, projector, mono"
    );
    let r = mmviz(&[f.to_str().unwrap(), "--theme", "neon"]);
    assert_eq!(r.code(), 2, "{r:?}");
    // A good theme without a terminal: the terminal error, not a theme error.
    let r = mmviz(&[f.to_str().unwrap(), "--theme", "projector"]);
    assert_eq!(r.code(), 2, "{r:?}");
    assert!(r.stderr.contains("needs a terminal"), "{r:?}");
}

/// Another process mapping the file is named in `other_mappers` (its pages would count as
/// read ahead): the test's own Python child, against its pid; the session's own worker is
/// never listed.
#[test]
fn watch_names_other_processes_that_map_the_file() {
    let Some(fx) = common::child::fixture("watch_names_other_mappers") else {
        return;
    };
    let watch = |count: &str| {
        let mut cmd = Command::new(BIN);
        cmd.args(["watch", fx.file.to_str().unwrap(), "--rate", "1000"])
            .args(["--interval", "0.2", "--count", count, "--json"]);
        let r = run_cmd(cmd, TIMEOUT);
        assert_eq!(r.code(), 0, "{r:?}");
        let last: serde_json::Value =
            serde_json::from_str(r.stdout.lines().last().unwrap()).unwrap();
        last
    };
    let alone = watch("1");
    assert_eq!(alone["other_mappers"], serde_json::json!([]), "{alone}");
    let (mut c, pid) = common::child::start_child(&fx, &[0, 1, 2], 30.0);
    let v = watch("2");
    c.kill().unwrap();
    c.wait().unwrap();
    let others = v["other_mappers"].as_array().unwrap();
    assert!(
        others
            .iter()
            .any(|o| o["pid"] == pid && o["comm"].as_str().is_some_and(|c| c.starts_with("python"))),
        "{v}"
    );
    assert!(
        !others.iter().any(|o| o["pid"] == v["worker"]["pid"]),
        "the session's own worker is not another process: {v}"
    );
}
