//! What the visualizer costs (run: `cargo bench --bench overhead`): CPU of the viewer (all its
//! threads) and of the worker while the live view runs a rate-limited pattern in tmux, from
//! /proc/<pid>/task/*/schedstat (nanoseconds on the CPU; utime/stime ticks are sampled at the
//! timer tick and overcharge a process that wakes on it). The file is small and warm, so after
//! the first second every access is a RAM hit: what remains is the cost of pacing, reporting
//! and sampling, not of the workload's faults. Targets (truth issue): at <= 100 accesses/s the
//! worker <= 1% of a core and the viewer <= 3%; at 2,000/s both together <= 10%.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
use common::{children, cpu_ns};

const SOCK: &str = "mmviz-bench-overhead";

fn tmux(args: &[&str]) -> String {
    common::tmux(SOCK, args)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("overhead benchmark: skipped (run it with `cargo bench --bench overhead`)");
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
    let file = dir.join("warm-4MiB.bin");
    Command::new(&exe)
        .args(["gen", file.to_str().unwrap(), "--size", "4MiB", "--force"])
        .status()
        .unwrap();
    let secs = 10.0;
    println!("| rate (accesses/s) | viewer CPU | worker CPU | together |");
    println!("|---|---|---|---|");
    for rate in [10u64, 100, 2_000] {
        let cmd = format!(
            "exec {} {} --pattern random --rate {rate}",
            exe.display(),
            file.display()
        );
        common::start_session(SOCK, &cmd);
        let t0 = Instant::now();
        while !tmux(&["capture-pane", "-p"]).contains("running") {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "the view did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // Let every page of the small file get mapped (the workload's own faults).
        std::thread::sleep(Duration::from_secs(3));
        let pid = tmux(&["display-message", "-p", "#{pane_pid}"])
            .trim()
            .to_string();
        let worker = children(&pid).into_iter().next().expect("the worker");
        let (v0, w0) = (cpu_ns(&pid), cpu_ns(&worker));
        std::thread::sleep(Duration::from_secs_f64(secs));
        let (v1, w1) = (cpu_ns(&pid), cpu_ns(&worker));
        let pct = |a: u64, b: u64| (b - a) as f64 / (secs * 1e9) * 100.0;
        let (v, w) = (pct(v0, v1), pct(w0, w1));
        println!("| {rate} | {v:.2} % | {w:.2} % | {:.2} % |", v + w);
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
