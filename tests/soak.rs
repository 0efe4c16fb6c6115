//! Soak: 10,000 random keys and 200 resizes between 10x3 and 250x70 against the live view at
//! `--rate max` in a real terminal (tmux), with rapid `c`, `r` and `e` among them. Bounded in
//! time (the storm is sent in a few seconds; every wait has a deadline, the whole test stays
//! under 60 s). Checks: the viewer never dies, never more than one worker beyond a restart's
//! overlap, a key sent after the storm takes effect within 10 s, RSS bounded, and after `q`
//! no mmviz process is left.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_mmviz");

struct Tmux {
    socket: String,
}

impl Tmux {
    fn available() -> bool {
        Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    fn start(cmd: &str) -> Tmux {
        let socket = format!("mmviz-soak-{}", std::process::id());
        let st = Command::new("tmux")
            .args(["-L", &socket, "-f", "/dev/null", "new-session", "-d"])
            .args(["-x", "120", "-y", "40"])
            .arg(cmd)
            .env_remove("TMUX")
            .status()
            .expect("tmux runs");
        assert!(st.success(), "tmux new-session failed");
        Tmux { socket }
    }

    fn tmux(&self, args: &[&str]) {
        let st = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .status()
            .unwrap();
        assert!(st.success(), "tmux {args:?}");
    }

    fn capture(&self) -> String {
        let o = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn wait(&self, secs: u64, what: &str, f: impl Fn(&str) -> bool) -> (String, Duration) {
        let t0 = Instant::now();
        let mut last = String::new();
        while t0.elapsed() < Duration::from_secs(secs) {
            last = self.capture();
            if f(&last) {
                return (last, t0.elapsed());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("timed out waiting for {what}; screen:\n{last}");
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

/// mmviz processes whose command line names `needle`: (pid, is_worker, is_compare).
fn mmviz_procs(needle: &str) -> Vec<(u32, bool, bool)> {
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args: Vec<String> = raw
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if args.first().is_some_and(|a| a.ends_with("mmviz"))
            && args.iter().any(|a| a.contains(needle))
        {
            v.push((
                pid,
                args.iter().any(|a| a == "__worker"),
                args.iter().any(|a| a == "__compare"),
            ));
        }
    }
    v
}

fn rss(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let l = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    l.split_whitespace()
        .nth(1)?
        .parse::<u64>()
        .ok()
        .map(|kb| kb * 1024)
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("soak");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    let st = Command::new(BIN)
        .args(["gen", p.to_str().unwrap(), "--size", "64MiB", "--force"])
        .status()
        .unwrap();
    assert!(st.success());
    p
}

#[test]
fn ten_thousand_keys_and_two_hundred_resizes() {
    if !Tmux::available() {
        eprintln!("skipped: tmux is not installed (.ci/run installs it)");
        return;
    }
    let started = Instant::now();
    let file = scratch("soak.bin");
    let sum_before = std::fs::read(&file).unwrap();
    let needle = "soak.bin";
    let t = Tmux::start(&format!(
        "{BIN} {} --rate max; echo EXIT=$?; sleep 60",
        file.display()
    ));
    t.wait(20, "running", |s| s.contains("running"));
    let viewer: Vec<u32> = mmviz_procs(needle)
        .into_iter()
        .filter(|p| !p.1 && !p.2)
        .map(|p| p.0)
        .collect();
    assert_eq!(viewer.len(), 1, "{viewer:?}");
    let viewer = viewer[0];

    // Every key but the ones that end or hide the view (q, Esc, Ctrl-C, ?, i).
    const KEYS: &[&str] = &[
        "1", "2", "3", "4", "5", "6", "7", "Space", "n", "[", "]", "e", "w", "W", "a", "r", "c",
        "+", "-", "Up", "Down", "Left", "Right", "PPage", "NPage", "Home", "End",
    ];
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut rnd = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let mut peak_rss = 0u64;
    let mut max_workers = 0usize;
    let sample = |peak: &mut u64, maxw: &mut usize| {
        let procs = mmviz_procs(needle);
        assert!(
            procs.iter().any(|p| p.0 == viewer),
            "the viewer died during the storm"
        );
        *maxw = (*maxw).max(procs.iter().filter(|p| p.1).count());
        *peak = (*peak).max(rss(viewer).unwrap_or(0));
    };
    let mut sent = 0;
    for round in 0..200 {
        // 50 keys per round, with rapid c/r/e runs every tenth round.
        let mut batch: Vec<&str> = (0..50)
            .map(|_| KEYS[rnd(KEYS.len() as u64) as usize])
            .collect();
        if round % 10 == 0 {
            batch[..6].copy_from_slice(&["c", "r", "e", "c", "r", "e"]);
        }
        let mut args = vec!["send-keys"];
        args.extend(batch.iter().copied());
        t.tmux(&args);
        sent += batch.len();
        let (w, h) = (10 + rnd(241), 3 + rnd(68));
        t.tmux(&["resize-window", "-x", &w.to_string(), "-y", &h.to_string()]);
        if round % 5 == 0 {
            sample(&mut peak_rss, &mut max_workers);
        }
    }
    assert_eq!(sent, 10_000);
    let storm_sent = started.elapsed();
    t.tmux(&["resize-window", "-x", "120", "-y", "40"]);
    // A key after the storm takes effect within 10 s: switch to two patterns in turn, so the
    // change is visible whatever the storm left.
    t.tmux(&["send-keys", "3"]);
    let (_, d1) = t.wait(10, "pattern 3 (stride) after the storm", |s| {
        s.contains("pattern stride")
    });
    sample(&mut peak_rss, &mut max_workers);
    t.tmux(&["send-keys", "6"]);
    let (screen, d2) = t.wait(10, "pattern 6 (chase) after the storm", |s| {
        s.contains("pattern chase")
    });
    // The screen lists one worker; exactly that one is alive.
    let shown: Option<u32> = screen.split("worker pid ").nth(1).and_then(|r| {
        r.split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|d| d.parse().ok())
    });
    let alive: Vec<u32> = mmviz_procs(needle)
        .into_iter()
        .filter(|p| p.1)
        .map(|p| p.0)
        .collect();
    assert_eq!(alive, shown.into_iter().collect::<Vec<_>>(), "{screen}");
    sample(&mut peak_rss, &mut max_workers);
    eprintln!(
        "soak: 10,000 keys + 200 resizes sent in {storm_sent:?}; first key effect {d1:?}, \
         next {d2:?}; viewer peak RSS {} KiB; at most {max_workers} workers alive at once",
        peak_rss / 1024
    );
    // A restart overlaps the old worker's exit with the new one's start: at most two.
    assert!(max_workers <= 2, "{max_workers} workers alive at once");
    assert!(peak_rss < 64 << 20, "viewer RSS reached {peak_rss} bytes");
    t.tmux(&["send-keys", "q"]);
    t.wait(15, "exit status 0 after q", |s| s.contains("EXIT=0"));
    let t0 = Instant::now();
    while !mmviz_procs(needle).is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "left behind after quit: {:?}",
            mmviz_procs(needle)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        std::fs::read(&file).unwrap() == sum_before,
        "file unchanged"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
}
