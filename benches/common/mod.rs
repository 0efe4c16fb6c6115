//! What the benches share: tmux on a private socket, and a process's CPU and children from
//! /proc. (A folder, so cargo does not take it for a bench of its own.)
#![allow(dead_code)]

use std::process::Command;

/// `tmux -L SOCK ARGS...`, its stdout.
pub fn tmux(sock: &str, args: &[&str]) -> String {
    let o = Command::new("tmux")
        .args(["-L", sock])
        .args(args)
        .output()
        .expect("tmux");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A fresh private tmux server on `sock` running `cmd` in a 120x40 pane (any server left on
/// that socket by an earlier run is killed first).
pub fn start_session(sock: &str, cmd: &str) {
    let _ = Command::new("tmux")
        .args(["-L", sock, "kill-server"])
        .status();
    // A server still exiting makes new-session fail ("server exited unexpectedly"): retry
    // for a moment.
    for _ in 0..50 {
        let st = Command::new("tmux")
            .args(["-L", sock, "-f", "/dev/null", "new-session", "-d"])
            .args(["-x", "120", "-y", "40", cmd])
            .status()
            .expect("tmux");
        if st.success() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("tmux new-session failed for 5 s");
}

/// Nanoseconds on the CPU of every thread of `pid`.
pub fn cpu_ns(pid: &str) -> u64 {
    let mut ns = 0;
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let s = std::fs::read_to_string(t.path().join("schedstat")).unwrap_or_default();
        ns += s
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    ns
}

pub fn children(pid: &str) -> Vec<String> {
    let mut out = Vec::new();
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let s = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
        out.extend(s.split_whitespace().map(str::to_string));
    }
    out
}
