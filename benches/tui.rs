//! Live view benchmark (run: `cargo bench --bench tui`): key-to-screen latency on a 1 TiB
//! sparse file, and the CPU an idle, paused app uses. Drives the release binary in tmux and
//! reads the screen back, as a user would see it. Targets (issue: TUI): key to screen under
//! 100 ms; an idle paused app uses almost no CPU.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
use common::children;

const SOCK: &str = "mmviz-bench-tui";

fn wait_screen(what: &str, f: impl Fn(&str) -> bool) -> Duration {
    let t0 = Instant::now();
    loop {
        if f(&tmux(&["capture-pane", "-p"])) {
            return t0.elapsed();
        }
        if t0.elapsed() > Duration::from_secs(10) {
            panic!("timeout waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn cpu_ticks(pid: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = &s[s.rfind(')').map_or(0, |i| i + 1)..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 (tokens 11 and 12 after the comm).
    f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn tmux(args: &[&str]) -> String {
    common::tmux(SOCK, args)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("tui benchmark: skipped (run it with `cargo bench --bench tui`)");
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let exe = root.join("target/release/mmviz");
    assert!(Command::new("cargo")
        .args(["build", "--release", "--quiet"])
        .status()
        .unwrap()
        .success());
    let dir = root.join("target/bench-tui");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("sparse-1TiB.bin");
    let _ = std::fs::remove_file(&file);
    Command::new(&exe)
        .args(["gen", file.to_str().unwrap(), "--size", "1TiB", "--sparse"])
        .status()
        .unwrap();

    let cmd = format!("exec {} {} --rate 1000", exe.display(), file.display());
    common::start_session(SOCK, &cmd);
    wait_screen("start", |s| s.contains("running"));
    let pid = tmux(&["display-message", "-p", "#{pane_pid}"])
        .trim()
        .to_string();

    // Key to screen: alternate patterns 1 and 4 and wait for the header to change.
    let mut pattern_ms = Vec::new();
    for i in 0..20 {
        let (key, name) = if i % 2 == 0 {
            ("4", "pattern random")
        } else {
            ("1", "pattern sequential")
        };
        let t0 = Instant::now();
        tmux(&["send-keys", key]);
        wait_screen(name, |s| s.contains(name));
        pattern_ms.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    // Floor: the help overlay is drawn by the UI alone (no session round trip), so this row
    // is the cost of tmux send-keys + capture-pane polling + one frame.
    let mut help_ms = Vec::new();
    for i in 0..10 {
        let shown = i % 2 == 0;
        let t0 = Instant::now();
        tmux(&["send-keys", "?"]);
        wait_screen("help", |s| s.contains("Keys (? or Esc closes)") == shown);
        help_ms.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    // Zoom: the caption's page range changes.
    let mut zoom_ms = Vec::new();
    for i in 0..10 {
        let key = if i % 2 == 0 { "+" } else { "-" };
        let want_whole = i % 2 == 1;
        let t0 = Instant::now();
        tmux(&["send-keys", key]);
        wait_screen("zoom", |s| s.contains("(whole file)") == want_whole);
        zoom_ms.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    // Idle: pause, settle, then measure CPU of the viewer and the worker over 10 s.
    tmux(&["send-keys", "Space"]);
    wait_screen("paused", |s| s.contains("paused"));
    std::thread::sleep(Duration::from_secs(2));
    let worker = children(&pid)
        .into_iter()
        .next()
        .expect("the worker process");
    let hz = 100.0; // USER_HZ
    let (v0, w0) = (cpu_ticks(&pid), cpu_ticks(&worker));
    let secs = 10.0;
    std::thread::sleep(Duration::from_secs_f64(secs));
    let (v1, w1) = (cpu_ticks(&pid), cpu_ticks(&worker));
    let _ = tmux(&["send-keys", "q"]);
    std::thread::sleep(Duration::from_millis(300));
    let _ = Command::new("tmux")
        .args(["-L", SOCK, "kill-server"])
        .status();
    let _ = std::fs::remove_file(&file);

    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average at the end: {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!("| measurement (1 TiB sparse file, 120x40) | median | max |");
    println!("|---|---|---|");
    let max = |v: &Vec<f64>| v.iter().cloned().fold(0.0, f64::max);
    println!(
        "| key `1`/`4` to new pattern on screen (incl. tmux capture) | {:.1} ms | {:.1} ms |",
        median(pattern_ms.clone()),
        max(&pattern_ms)
    );
    println!(
        "| key `?` to help overlay (UI only: the measuring floor) | {:.1} ms | {:.1} ms |",
        median(help_ms.clone()),
        max(&help_ms)
    );
    println!(
        "| key `+`/`-` to re-zoomed grid on screen | {:.1} ms | {:.1} ms |",
        median(zoom_ms.clone()),
        max(&zoom_ms)
    );
    println!(
        "| idle paused viewer CPU over {secs:.0} s | {:.2} % | |",
        (v1 - v0) as f64 / hz / secs * 100.0
    );
    println!(
        "| idle paused worker CPU over {secs:.0} s | {:.2} % | |",
        (w1 - w0) as f64 / hz / secs * 100.0
    );
}
