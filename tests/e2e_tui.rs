//! End-to-end: the real binary in a real terminal (tmux), driven by keys, read back from the
//! screen. A private tmux socket, killed on drop; every wait polls against a deadline.

mod common;

use common::tmux::Tmux;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

fn scratch(name: &str, size: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    let st = Command::new(env!("CARGO_BIN_EXE_mmviz"))
        .args(["gen", p.to_str().unwrap(), "--size", size, "--force"])
        .status()
        .unwrap();
    assert!(st.success());
    p
}

/// Minor + major fault totals as shown in the faults panel.
fn faults_on_screen(screen: &str) -> Option<u64> {
    let num = |word: &str| -> Option<u64> {
        let line = screen.lines().find(|l| l.contains(&format!("│{word} ")))?;
        let after = &line[line.find(&format!("│{word} "))? + word.len() + 4..];
        let tok = after.split_whitespace().next()?;
        tok.replace(',', "").parse().ok()
    };
    Some(num("minor")? + num("major")?)
}

/// The grid's cell rows: lines between the caption and the legend, left panel only.
fn grid_rows(screen: &str) -> Vec<String> {
    let lines: Vec<&str> = screen.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.contains("1 cell ="))
        .map(|i| i + 1);
    let end = lines.iter().position(|l| l.contains("just touched"));
    match (start, end) {
        (Some(s), Some(e)) if e > s => lines[s..e]
            .iter()
            .map(|l| {
                let l = l.trim_start_matches('│');
                l.split('│').next().unwrap_or("").to_string()
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[test]
fn live_view_switch_pattern_pause_evict_quit() {
    if !Tmux::available() {
        eprintln!("skipped: tmux is not installed (.ci/run installs it)");
        return;
    }
    let file = scratch("e2e.bin", "16MiB");
    let cmd = format!(
        "{} {} --cold --rate 500; echo EXIT=$?; sleep 60",
        env!("CARGO_BIN_EXE_mmviz"),
        file.display()
    );
    let t = Tmux::start("main", &cmd);
    t.wait(20, "the running view", |s| {
        s.contains("running") && s.contains("pattern sequential") && s.contains("1 cell =")
    });
    assert_eq!(
        t.display("#{alternate_on}"),
        "1",
        "the TUI uses the alternate screen"
    );

    // Switch to random: the fault counts move.
    t.keys(&["4"]);
    let s = t.wait(10, "pattern random", |s| s.contains("pattern random"));
    let f1 = faults_on_screen(&s).expect("fault counts on screen");
    t.wait(20, "fault counts to change", |s| {
        faults_on_screen(s).is_some_and(|f| f > f1)
    });

    // Pause, evict: the grid empties (no cached or mapped glyphs left).
    t.keys(&["Space"]);
    t.wait(10, "paused", |s| s.contains("paused"));
    t.keys(&["e"]);
    let s = t.wait(15, "the evicted grid", |s| {
        s.contains("evicted:")
            && !grid_rows(s).is_empty()
            && grid_rows(s)
                .iter()
                .all(|r| !r.contains(['█', '▓', '▒', '░', '●']))
    });
    assert!(s.contains("-> 0 pages cached"), "{s}");

    // Quit: the shell sees exit 0 and the terminal is back on the main screen.
    t.keys(&["q"]);
    t.wait(10, "exit status", |s| s.contains("EXIT=0"));
    assert_eq!(t.display("#{alternate_on}"), "0", "terminal restored");
}

#[test]
fn live_view_survives_truncation_and_restarts() {
    if !Tmux::available() {
        eprintln!("skipped: tmux is not installed (.ci/run installs it)");
        return;
    }
    let file = scratch("e2e-trunc.bin", "8MiB");
    let cmd = format!(
        "{} {} --rate 100; echo EXIT=$?; sleep 60",
        env!("CARGO_BIN_EXE_mmviz"),
        file.display()
    );
    let t = Tmux::start("trunc", &cmd);
    t.wait(20, "running", |s| s.contains("running"));
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(4096)
        .unwrap();
    t.wait(20, "the worker's death explained", |s| s.contains("SIGBUS"));
    t.keys(&["r"]);
    t.wait(20, "restarted on the new size", |s| {
        s.contains("running") && s.contains("4 KiB (1 page)")
    });
    t.keys(&["C-c"]);
    t.wait(10, "exit status 130", |s| s.contains("EXIT=130"));
    assert_eq!(t.display("#{alternate_on}"), "0", "terminal restored");
}

#[test]
fn live_view_without_a_terminal_is_a_usage_error() {
    let file = scratch("e2e-notty.bin", "64KiB");
    let o = Command::new(env!("CARGO_BIN_EXE_mmviz"))
        .arg(&file)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("mmviz run"), "{err}");
}

/// Pids of live (non-zombie) mmviz processes whose command line mentions `needle`.
fn pids_with(needle: &str) -> Vec<u32> {
    let Ok(all) = procfs::process::all_processes() else {
        return Vec::new();
    };
    all.flatten()
        .filter(|p| p.stat().is_ok_and(|s| s.state != 'Z'))
        // Only this build's mmviz processes (viewer and worker): tmux and the shell mention the
        // file too, and another checkout's test run may use the same file names.
        .filter(|p| {
            p.cmdline().is_ok_and(|c| {
                c.first()
                    .is_some_and(|a0| a0 == env!("CARGO_BIN_EXE_mmviz"))
                    && c.iter().any(|a| a.contains(needle))
            })
        })
        .map(|p| p.pid as u32)
        .collect()
}

#[test]
fn closing_the_terminal_ends_the_app_and_its_worker() {
    if !Tmux::available() {
        eprintln!("skipped: tmux is not installed (.ci/run installs it)");
        return;
    }
    let file = scratch("e2e-hangup.bin", "8MiB");
    // Not exec'd: the shell is the session leader, so the app may get no SIGHUP at all and
    // must notice the hung-up terminal by itself.
    let cmd = format!(
        "{} {} --rate 100; echo EXIT=$?; sleep 60",
        env!("CARGO_BIN_EXE_mmviz"),
        file.display()
    );
    let t = Tmux::start("hangup", &cmd);
    t.wait(20, "running", |s| s.contains("running"));
    let needle = "e2e-hangup.bin";
    assert!(!pids_with(needle).is_empty());
    drop(t); // kill-server: the terminal goes away
    let t0 = Instant::now();
    while !pids_with(needle).is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "mmviz (or its worker) still running after the terminal closed: {:?}",
            pids_with(needle)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sigterm_restores_the_terminal() {
    if !Tmux::available() {
        eprintln!("skipped: tmux is not installed (.ci/run installs it)");
        return;
    }
    let file = scratch("e2e-sigterm.bin", "8MiB");
    let cmd = format!(
        "{} {} --rate 100; echo EXIT=$?; sleep 60",
        env!("CARGO_BIN_EXE_mmviz"),
        file.display()
    );
    let t = Tmux::start("sigterm", &cmd);
    t.wait(20, "running", |s| s.contains("running"));
    assert_eq!(t.display("#{alternate_on}"), "1");
    let pids: Vec<u32> = pids_with("e2e-sigterm.bin")
        .into_iter()
        .filter(|&p| {
            procfs::process::Process::new(p as i32)
                .and_then(|p| p.cmdline())
                .is_ok_and(|c| !c.iter().any(|a| a == "__worker"))
        })
        .collect();
    assert_eq!(pids.len(), 1, "the viewer process: {pids:?}");
    // Through the kill(1) command: no unsafe in tests.
    let st = Command::new("kill")
        .args(["-TERM", &pids[0].to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    t.wait(10, "exit status 143", |s| s.contains("EXIT=143"));
    assert_eq!(t.display("#{alternate_on}"), "0", "terminal restored");
    let t0 = Instant::now();
    while !pids_with("e2e-sigterm.bin").is_empty() {
        assert!(t0.elapsed() < Duration::from_secs(5), "worker left behind");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// 80x24, the size of many projectors' terminals: the fault counters stay on screen with a
/// comparison shown, help scrolls instead of being cut, and the message log shows the events.
#[test]
fn projector_80x24_keeps_counters_scrolls_help_and_shows_the_log() {
    if !Tmux::available() {
        eprintln!("skipped: tmux is not installed (.ci/run installs it)");
        return;
    }
    let file = scratch("e2e-80x24.bin", "8MiB");
    let cmd = format!(
        "{} {} --cold --rate 2000; echo EXIT=$?; sleep 60",
        env!("CARGO_BIN_EXE_mmviz"),
        file.display()
    );
    let t = Tmux::start_sized("small", &cmd, 80, 24);
    let rows = [
        "minor",
        "major",
        "cached",
        "mapped",
        "touched",
        "read ahead, untouched",
    ];
    t.wait(20, "the counters at 80x24", |s| {
        rows.iter().all(|r| s.contains(r))
    });
    // The comparison from a warm cache (C cycles cold -> warm), then its verdict: the
    // counters keep their rows.
    t.keys(&["C"]);
    t.wait(10, "compare cache warm", |s| {
        s.contains("comparison cache: warm")
    });
    t.keys(&["c"]);
    let s = t.wait(60, "a verdict", |s| {
        s.contains("faster than") || s.contains("slower than") || s.contains("about equal")
    });
    for r in rows {
        assert!(
            s.contains(r),
            "{r:?} pushed off the screen by the comparison:\n{s}"
        );
    }
    // Help is longer than 24 rows: it says so and scrolls.
    t.keys(&["?"]);
    let s = t.wait(10, "help", |s| s.contains("Keys 1-"));
    assert!(!s.contains("totals and ratios"), "{s}");
    // More presses than rows: scrolling stops at the end.
    for _ in 0..40 {
        t.keys(&["Down"]);
    }
    t.wait(10, "help scrolled to its end", |s| {
        s.contains("totals and ratios")
    });
    t.keys(&["Escape"]);
    t.wait(10, "help closed", |s| !s.contains("Keys "));
    // The message log: every event in full.
    t.keys(&["m"]);
    let s = t.wait(10, "the log", |s| s.contains("Message log"));
    assert!(
        s.contains("evicted:") && s.contains("comparison cache: warm"),
        "{s}"
    );
    t.keys(&["m"]);
    t.wait(10, "log closed", |s| !s.contains("Message log"));
    t.keys(&["q"]);
    t.wait(10, "exit status", |s| s.contains("EXIT=0"));
}

/// An interactive bash in tmux (job control on) with a recognizable prompt, running mmviz on
/// `file` at a slow rate; waits until the live view is up. Returns the session and the
/// viewer's pid.
fn shell_with_viewer(name: &str, file: &std::path::Path) -> (Tmux, u32) {
    let t = Tmux::start(
        name,
        "env PS1='PROMPT$ ' HISTFILE=/dev/null bash --norc --noprofile",
    );
    t.wait(10, "the shell prompt", |s| s.contains("PROMPT$"));
    t.keys(&[
        "-l",
        &format!(
            "{} {} --rate 100",
            env!("CARGO_BIN_EXE_mmviz"),
            file.display()
        ),
    ]);
    t.keys(&["Enter"]);
    t.wait(20, "running", |s| s.contains("running"));
    assert_eq!(t.display("#{alternate_on}"), "1");
    let needle = file.file_name().unwrap().to_str().unwrap().to_string();
    let pids: Vec<u32> = pids_with(&needle)
        .into_iter()
        .filter(|&p| {
            procfs::process::Process::new(p as i32)
                .and_then(|p| p.cmdline())
                .is_ok_and(|c| !c.iter().any(|a| a == "__worker"))
        })
        .collect();
    assert_eq!(pids.len(), 1, "the viewer process: {pids:?}");
    (t, pids[0])
}

fn kill(sig: &str, pid: u32) {
    // Through the kill(1) command: no unsafe in tests.
    let st = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

/// Waits until no mmviz process mentions `needle` (viewer and worker gone).
fn wait_gone(needle: &str) {
    let t0 = Instant::now();
    while !pids_with(needle).is_empty() {
        assert!(t0.elapsed() < Duration::from_secs(5), "process left behind");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sigquit_restores_the_terminal_and_exits_131() {
    if !Tmux::available() {
        eprintln!("skipped: tmux is not installed (.ci/run installs it)");
        return;
    }
    let file = scratch("e2e-sigquit.bin", "8MiB");
    let (t, pid) = shell_with_viewer("sigquit", &file);
    kill("-QUIT", pid);
    t.wait(10, "the shell back", |s| {
        s.lines().any(|l| l.starts_with("PROMPT$")) && !s.contains("running")
    });
    t.keys(&["-l", "echo EXIT=$?"]);
    t.keys(&["Enter"]);
    t.wait(10, "exit status 131", |s| s.contains("EXIT=131"));
    // The terminal is the shell's again: main screen, cursor shown, no mouse reporting.
    assert_eq!(
        t.display("#{alternate_on}"),
        "0",
        "left the alternate screen"
    );
    assert_eq!(t.display("#{cursor_flag}"), "1", "cursor visible");
    assert_eq!(t.display("#{mouse_any_flag}"), "0", "mouse reporting off");
    wait_gone("e2e-sigquit.bin");
}

#[test]
fn sigtstp_and_ctrl_z_suspend_cleanly_and_fg_brings_the_screen_back() {
    if !Tmux::available() {
        eprintln!("skipped: tmux is not installed (.ci/run installs it)");
        return;
    }
    let file = scratch("e2e-sigtstp.bin", "8MiB");
    let (t, pid) = shell_with_viewer("sigtstp", &file);
    let stopped = |pid: u32| {
        procfs::process::Process::new(pid as i32)
            .and_then(|p| p.stat())
            .is_ok_and(|s| s.state == 'T')
    };
    for how in ["kill -TSTP", "Ctrl-Z"] {
        if how == "Ctrl-Z" {
            t.keys(&["C-z"]);
        } else {
            kill("-TSTP", pid);
        }
        // The shell reports the stopped job on a clean main screen: no grid under the prompt.
        let s = t.wait(10, &format!("{how}: the shell prompt"), |s| {
            s.contains("Stopped") && s.lines().any(|l| l.starts_with("PROMPT$"))
        });
        assert!(
            !s.contains("1 cell ="),
            "{how}: the grid is still drawn:\n{s}"
        );
        assert_eq!(t.display("#{alternate_on}"), "0", "{how}: main screen");
        assert_eq!(t.display("#{cursor_flag}"), "1", "{how}: cursor visible");
        assert_eq!(t.display("#{mouse_any_flag}"), "0", "{how}: mouse off");
        let t0 = Instant::now();
        while !stopped(pid) {
            assert!(t0.elapsed() < Duration::from_secs(5), "{how}: not stopped");
            std::thread::sleep(Duration::from_millis(20));
        }
        // The prompt takes typed text in cooked mode (echo works without Enter tricks).
        t.keys(&["-l", "fg"]);
        t.keys(&["Enter"]);
        t.wait(10, &format!("{how}: the live view back"), |s| {
            s.contains("running") && s.contains("1 cell =")
        });
        assert_eq!(t.display("#{alternate_on}"), "1", "{how}: alternate screen");
        // Keys work at once (raw mode, no Enter needed): space pauses and resumes.
        t.keys(&["Space"]);
        t.wait(10, &format!("{how}: space pauses"), |s| {
            s.contains("paused")
        });
        t.keys(&["Space"]);
        t.wait(10, &format!("{how}: space resumes"), |s| {
            s.contains("running")
        });
    }
    t.keys(&["q"]);
    t.wait(10, "the shell after q", |s| {
        s.lines().filter(|l| l.starts_with("PROMPT$")).count() >= 1 && !s.contains("1 cell =")
    });
    t.keys(&["-l", "echo EXIT=$?"]);
    t.keys(&["Enter"]);
    t.wait(10, "exit status 0", |s| s.contains("EXIT=0"));
    wait_gone("e2e-sigtstp.bin");
}

#[test]
fn sighup_restores_the_terminal_and_exits_129() {
    if !Tmux::available() {
        eprintln!("skipped: tmux is not installed (.ci/run installs it)");
        return;
    }
    let file = scratch("e2e-sighup.bin", "8MiB");
    let (t, pid) = shell_with_viewer("sighup", &file);
    kill("-HUP", pid);
    t.wait(10, "the shell back", |s| {
        s.lines().any(|l| l.starts_with("PROMPT$")) && !s.contains("running")
    });
    t.keys(&["-l", "echo EXIT=$?"]);
    t.keys(&["Enter"]);
    // 128 + SIGHUP, as `run` exits on SIGHUP (before: 143, the same as SIGTERM).
    t.wait(10, "exit status 129", |s| s.contains("EXIT=129"));
    assert_eq!(
        t.display("#{alternate_on}"),
        "0",
        "left the alternate screen"
    );
    wait_gone("e2e-sighup.bin");
}

/// The page inspector as a user drives it: `i` enters cursor mode, `o` takes a typed offset,
/// the panel shows that page's bytes (the file's own bytes) and states; Esc leaves.
#[test]
fn page_inspector_with_a_typed_offset() {
    if !Tmux::available() {
        eprintln!("skipped: tmux is not installed (.ci/run installs it)");
        return;
    }
    let file = scratch("e2e-inspect.bin", "1MiB");
    let bytes = std::fs::read(&file).unwrap();
    let cmd = format!(
        "{} {} --rate 5; echo EXIT=$?; sleep 60",
        env!("CARGO_BIN_EXE_mmviz"),
        file.display()
    );
    let t = Tmux::start_sized("inspect", &cmd, 80, 24);
    t.wait(20, "the view", |s| s.contains("running"));
    t.keys(&["i"]);
    t.wait(10, "the inspector", |s| s.contains("Page inspector"));
    t.keys(&["o", "0", "x", "2", "0", "0", "0"]);
    t.wait(10, "the offset prompt", |s| s.contains("offset: 0x2000"));
    t.keys(&["Enter"]);
    // The first four bytes at 0x2000, as the dump shows them.
    let want: Vec<String> = bytes[0x2000..0x2004]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let row = format!("2000 {}", want.join(" "));
    let s = t.wait(10, "the bytes at 0x2000", |s| s.contains(&row));
    assert!(s.contains("page 2 ·"), "{s}");
    t.keys(&["Escape"]);
    t.wait(10, "cursor mode left", |s| !s.contains("Page inspector"));
    t.keys(&["q"]);
    t.wait(10, "exit status", |s| s.contains("EXIT=0"));
}

/// `mmviz*` files in `dir` (the scratch copies the viewer made).
fn scratch_copies(dir: &std::path::Path) -> Vec<PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(d) => d
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("mmviz-scratch-"))
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn write_mode_names_its_scratch_copy_msyncs_and_removes_it_on_sigterm_and_after_sigkill() {
    if !Tmux::available() {
        eprintln!("skipped: tmux is not installed (.ci/run installs it)");
        return;
    }
    let file = scratch("e2e-write-user.bin", "8MiB");
    let before = std::fs::read(&file).unwrap();
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e-write-cache");
    let _ = std::fs::remove_dir_all(&cache);
    let sdir = cache.join("scratch");
    let cmd = format!(
        "env MMVIZ_DEMO_DIR={} {} {} --write shared --rate 5000; echo EXIT=$?; sleep 60",
        cache.display(),
        env!("CARGO_BIN_EXE_mmviz"),
        file.display()
    );
    let viewer = || -> u32 {
        let pids: Vec<u32> = pids_with("e2e-write-user.bin")
            .into_iter()
            .filter(|&p| {
                procfs::process::Process::new(p as i32)
                    .and_then(|p| p.cmdline())
                    .is_ok_and(|c| {
                        c.iter().any(|a| a == "--write") && !c.iter().any(|a| a == "__worker")
                    })
            })
            .collect();
        assert_eq!(pids.len(), 1, "the viewer process: {pids:?}");
        pids[0]
    };

    // SIGTERM: the copy is removed on the way out.
    let t = Tmux::start("write-term", &cmd);
    t.wait(30, "the write-mode header", |s| {
        s.contains("(your file is never written)") && s.contains("dirty")
    });
    let copies = scratch_copies(&sdir);
    assert_eq!(copies.len(), 1, "{copies:?}");
    t.keys(&["s"]);
    t.wait(10, "the MS_SYNC answer", |s| {
        s.contains("msync(MS_SYNC) took")
    });
    kill("-TERM", viewer());
    t.wait(10, "exit status 143", |s| s.contains("EXIT=143"));
    assert!(
        !copies[0].exists(),
        "{} removed on SIGTERM",
        copies[0].display()
    );
    drop(t);

    // SIGKILL leaves the copy behind (nothing runs in a killed process); its lock died with
    // it, so the next start sweeps it.
    let t = Tmux::start("write-kill", &cmd);
    t.wait(30, "the write-mode header", |s| {
        s.contains("(your file is never written)")
    });
    let left = scratch_copies(&sdir);
    assert_eq!(left.len(), 1, "{left:?}");
    kill("-KILL", viewer());
    t.wait(10, "exit status 137", |s| s.contains("EXIT=137"));
    wait_gone(left[0].file_name().unwrap().to_str().unwrap());
    drop(t);
    let t = Tmux::start("write-again", &cmd);
    t.wait(30, "the write-mode header", |s| {
        s.contains("(your file is never written)")
    });
    assert!(
        !left[0].exists(),
        "{} swept at the next start",
        left[0].display()
    );
    t.keys(&["q"]);
    t.wait(10, "exit status 0", |s| s.contains("EXIT=0"));
    assert!(
        scratch_copies(&sdir).is_empty(),
        "{:?}",
        scratch_copies(&sdir)
    );
    assert!(
        std::fs::read(&file).unwrap() == before,
        "the user's file is byte-identical"
    );
}

#[test]
fn live_write_mode_opens_the_users_file_read_only() {
    let have = |p: &str| {
        Command::new(p)
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !Tmux::available() || !have("strace") {
        eprintln!("skipped: tmux or strace is not installed (.ci/run installs them)");
        return;
    }
    let file = scratch("e2e-write-ro.bin", "4MiB");
    let before = std::fs::read(&file).unwrap();
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e-write-ro-cache");
    for mode in ["shared", "private"] {
        let log = cache.join(format!("open-{mode}.txt"));
        std::fs::create_dir_all(&cache).unwrap();
        let cmd = format!(
            "env MMVIZ_DEMO_DIR={} strace -f -e trace=open,openat,openat2,creat,truncate -o {} \
             {} {} --write {mode} --rate 5000; echo EXIT=$?; sleep 60",
            cache.display(),
            log.display(),
            env!("CARGO_BIN_EXE_mmviz"),
            file.display()
        );
        let t = Tmux::start(&format!("write-ro-{mode}"), &cmd);
        // No msync key here: under strace every syscall of the worker is a tracing stop, and
        // the session's "stopped / continued" notes can overwrite the answer on screen.
        t.wait(30, "the write-mode header", |s| {
            s.contains("(your file is never written)")
        });
        t.keys(&["q"]);
        t.wait(10, "exit status 0", |s| s.contains("EXIT=0"));
        let text = std::fs::read_to_string(&log).unwrap();
        let name = format!("\"{}\"", file.display());
        let opens: Vec<&str> = text.lines().filter(|l| l.contains(&name)).collect();
        assert!(
            !opens.is_empty(),
            "strace saw no open of the user's file:\n{text}"
        );
        for l in &opens {
            assert!(l.contains("O_RDONLY"), "{l}");
            for bad in ["O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "truncate("] {
                assert!(!l.contains(bad), "{mode}: {l}");
            }
        }
        // The scratch copy, by contrast, is opened for writing (so the check can see flags).
        assert!(
            text.lines()
                .any(|l| l.contains("mmviz-scratch-") && l.contains("O_RDWR")),
            "{text}"
        );
    }
    assert!(
        std::fs::read(&file).unwrap() == before,
        "the user's file is byte-identical"
    );
}
