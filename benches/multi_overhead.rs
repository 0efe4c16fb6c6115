//! What sampling several workers costs the viewer (run: `cargo bench --bench multi_overhead`):
//! the live view in tmux (120x40, 10 Hz) on a warm 64 MiB file, each worker running
//! `--pattern random --rate 100`, with 1 and then 4 workers (`p` adds them); the viewer's CPU
//! (all its threads, the workers excluded) from /proc/<pid>/task/*/schedstat, as
//! benches/overhead.rs measures it. Target (issue 9): four workers within 10% of one core.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
use common::{children, cpu_ns};

const SOCK: &str = "mmviz-bench-multi";

fn wait_for(what: &str, f: impl Fn(&str) -> bool) {
    let t0 = Instant::now();
    while !f(&tmux(&["capture-pane", "-p"])) {
        assert!(t0.elapsed() < Duration::from_secs(20), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn tmux(args: &[&str]) -> String {
    common::tmux(SOCK, args)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!(
            "multi_overhead benchmark: skipped (run it with `cargo bench --bench multi_overhead`)"
        );
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let exe = root.join("target/release/mmviz");
    assert!(Command::new("cargo")
        .args(["build", "--release", "--quiet"])
        .status()
        .unwrap()
        .success());
    let dir = root.join("target/bench-overhead");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("warm-64MiB.bin");
    Command::new(&exe)
        .args(["gen", file.to_str().unwrap(), "--size", "64MiB", "--force"])
        .status()
        .unwrap();
    let secs = 10.0;
    println!("| workers | viewer CPU (10 Hz) | workers' CPU (sum) |");
    println!("|---|---|---|");
    for n in [1usize, 4] {
        let cmd = format!(
            "exec {} {} --pattern random --rate 100",
            exe.display(),
            file.display()
        );
        common::start_session(SOCK, &cmd);
        wait_for("the view", |s| s.contains("running"));
        for i in 2..=n {
            let _ = tmux(&["send-keys", "p"]);
            wait_for("a worker added", |s| s.contains(&format!("Workers ({i}")));
        }
        std::thread::sleep(Duration::from_secs(3));
        let pid = tmux(&["display-message", "-p", "#{pane_pid}"])
            .trim()
            .to_string();
        let workers = children(&pid);
        assert_eq!(workers.len(), n, "{workers:?}");
        let wcpu = || workers.iter().map(|w| cpu_ns(w)).sum::<u64>();
        let (v0, w0) = (cpu_ns(&pid), wcpu());
        std::thread::sleep(Duration::from_secs_f64(secs));
        let (v1, w1) = (cpu_ns(&pid), wcpu());
        let pct = |a: u64, b: u64| (b - a) as f64 / (secs * 1e9) * 100.0;
        println!("| {n} | {:.2} % | {:.2} % |", pct(v0, v1), pct(w0, w1));
        let _ = tmux(&["send-keys", "q"]);
        std::thread::sleep(Duration::from_millis(300));
    }
    let _ = Command::new("tmux")
        .args(["-L", SOCK, "kill-server"])
        .status();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average at the end: {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
}
