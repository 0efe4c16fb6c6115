//! End-to-end: several workers in the real binary in tmux at both first-class sizes (120x40
//! and 80x24): `p` adds workers (the panel shows them side by side, with the address space and
//! the closed descriptor), Tab selects, `x` removes; the worker pids on screen are live
//! processes and a removed one is gone.

mod common;

use common::tmux::Tmux;
use std::path::PathBuf;
use std::process::Command;

fn file(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e-multi");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    let st = Command::new(env!("CARGO_BIN_EXE_mmviz"))
        .args(["gen", p.to_str().unwrap(), "--size", "16MiB", "--force"])
        .status()
        .unwrap();
    assert!(st.success());
    p
}

/// The pid in "worker pid N" of the header (the selected worker).
fn header_pid(screen: &str) -> Option<u32> {
    let i = screen.find("worker pid ")? + "worker pid ".len();
    screen[i..].split_whitespace().next()?.parse().ok()
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s[s.rfind(')')? + 2..].chars().next())
        .is_some_and(|c| c != 'Z')
}

fn add_tab_remove(w: u16, h: u16) {
    if !Tmux::available() {
        eprintln!("skipped: tmux is not installed (.ci/run installs it)");
        return;
    }
    let f = file(&format!("multi-{w}x{h}.bin"));
    let cmd = format!(
        "{} {} --rate 2000; echo EXIT=$?; sleep 60",
        env!("CARGO_BIN_EXE_mmviz"),
        f.display()
    );
    let t = Tmux::start_sized(&format!("multi{w}"), &cmd, w, h);
    let s = t.wait(20, "one worker running", |s| {
        s.contains("running") && s.contains("read ahead, untouched")
    });
    if h >= 40 {
        // One worker: its panel on tall screens (on 80x24 the fault counters keep the room).
        assert!(s.contains("Worker ") && s.contains("VmSize"), "{s}");
        assert!(s.contains("fd closed after mmap"), "{s}");
    }
    let pid1 = header_pid(&s).expect("worker pid in the header");

    t.keys(&["p"]);
    // The grid tells the other worker's pages apart (▚, with a legend entry) while the new
    // worker has not mapped what the first one has.
    let s = t.wait(20, "two workers", |s| {
        s.contains("Workers (2")
            && s.contains("2*")
            && s.contains("Page faults of worker 2")
            && s.matches('▚').count() >= 2
    });
    let pid2 = header_pid(&s).expect("worker pid");
    assert_ne!(pid1, pid2, "the header follows the selected worker\n{s}");
    assert!(alive(pid1) && alive(pid2));
    assert!(
        s.contains("VmSize") && s.contains("minor") && s.contains("major"),
        "{s}"
    );

    t.keys(&["Tab"]);
    let s = t.wait(10, "worker 1 selected", |s| {
        s.contains("1*") && s.contains("Page faults of worker 1")
    });
    assert_eq!(header_pid(&s), Some(pid1), "{s}");

    t.keys(&["p"]);
    t.wait(20, "three workers", |s| s.contains("Workers (3"));
    // Tab goes by id and wraps: 3 -> 1 -> 2.
    t.keys(&["Tab"]);
    t.wait(10, "worker 3 -> 1 selected", |s| s.contains("1*"));
    t.keys(&["Tab"]);
    t.wait(10, "worker 1 -> 2 selected", |s| s.contains("2*"));
    t.keys(&["x"]);
    let s = t.wait(10, "worker 2 removed", |s| {
        s.contains("Workers (2") && s.contains("3*")
    });
    assert!(!s.contains("2*"), "{s}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while alive(pid2) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!alive(pid2), "the removed worker (pid {pid2}) still runs");
    t.keys(&["x"]);
    let s = t.wait(10, "one worker left", |s| {
        !s.contains("Workers (") && s.contains("Page faults of the worker")
    });
    assert_eq!(header_pid(&s), Some(pid1), "{s}");
    // The last one stays.
    t.keys(&["x"]);
    t.wait(10, "the last worker stays", |s| s.contains("it stays"));
    assert!(alive(pid1));
    t.keys(&["q"]);
    t.wait(10, "exit 0", |s| s.contains("EXIT=0"));
}

#[test]
fn add_select_remove_workers_120x40() {
    add_tab_remove(120, 40);
}

#[test]
fn add_select_remove_workers_80x24() {
    add_tab_remove(80, 24);
}
