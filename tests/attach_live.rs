//! The live view of `mmviz attach` and `mmviz exec`, driven in tmux: a Python child maps a
//! disk-backed file and touches chosen pages; what the screen shows is checked against the
//! child's own /proc files (stat, smaps Rss) read by the test, and against fincore.
//!
//! As in tests/attach.rs the file is evicted first and the child applies MADV_RANDOM, so each
//! touch brings exactly one page into the cache and maps exactly that page.

mod common;

use common::child::{self, smaps_rss_pages, stat_faults, Fixture, PAGES};

use common::tmux::Tmux;
use common::{fincore_pages, mmviz, skip, BIN};
use std::process::Child;

/// Pages far enough apart that no two share a grid cell at 120x40 or 80x24.
const TOUCHED: [u64; 6] = [0, 1000, 4000, 8000, 12000, 16383];

/// The child's fixture with tmux, the file evicted first.
fn fixture(test: &str) -> Option<Fixture> {
    if !Tmux::available() {
        skip(test, "tmux is not installed");
        return None;
    }
    let fx = child::fixture(test)?;
    let r = mmviz(&["evict".as_ref(), fx.file.as_os_str(), "--json".as_ref()]);
    assert_eq!(r.json()["cached_after"], 0, "{r:?}");
    Some(fx)
}

/// Starts the child (sleeping `wait` s after touching `TOUCHED`) and waits for its "ready".
fn start_child(fx: &Fixture, wait: f64) -> (Child, u32) {
    child::start_child(fx, &TOUCHED, wait)
}

/// `1,234` -> 1234.
fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The value at the end of the faults panel row starting with `label`.
fn panel_value(screen: &str, label: &str) -> Option<String> {
    screen.lines().find_map(|l| {
        let right = l.rsplit_once("││").map(|(_, r)| r)?;
        let body = right.strip_suffix('│').unwrap_or(right);
        let rest = body.strip_prefix(label)?;
        Some(rest.trim().to_string())
    })
}

/// Grid cells drawn as mapped (█) or partly mapped (▓), legend excluded.
fn mapped_cells(screen: &str) -> usize {
    screen
        .lines()
        .filter(|l| l.starts_with('│'))
        .map(|l| l[3..].split('│').next().unwrap_or(""))
        .filter(|grid| !grid.contains("mapped"))
        .map(|grid| grid.chars().filter(|&c| c == '█' || c == '▓').count())
        .sum()
}

/// Pages per cell from the grid caption ("1 cell = 8 pages").
fn pages_per_cell(screen: &str) -> u64 {
    let l = screen.lines().find(|l| l.contains("1 cell = ")).unwrap();
    let rest = l.split("1 cell = ").nth(1).unwrap();
    let n = rest.split(' ').next().unwrap().replace(',', "");
    n.parse().unwrap_or(1)
}

fn check_attached_screen(t: &Tmux, fx: &Fixture, pid: u32, w: u16) {
    let want_mapped = TOUCHED.len().to_string();
    let cells_of = |s: &str| {
        let ppc = pages_per_cell(s);
        let mut cells: Vec<u64> = TOUCHED.iter().map(|p| p / ppc).collect();
        cells.dedup();
        cells.len()
    };
    // The first frames may show the grid of the previous view request: wait for both.
    let s = t.wait(15, "the touched pages mapped", |s| {
        panel_value(s, "mapped").as_deref() == Some(want_mapped.as_str())
            && mapped_cells(s) == cells_of(s)
    });
    // The header says plainly whom and what it observes.
    assert!(s.contains(&format!("observing PID {pid} (python3)")), "{s}");
    assert!(s.contains("file: given"), "{s}");
    assert!(s.contains("data.bin"), "{s}");
    // Mapped: the page table's count equals the kernel's own (smaps Rss), and every touched
    // page's cell is drawn mapped, no other.
    assert_eq!(smaps_rss_pages(pid, &fx.file), TOUCHED.len() as u64);
    let ppc = pages_per_cell(&s);
    let mut cells: Vec<u64> = TOUCHED.iter().map(|p| p / ppc).collect();
    cells.dedup();
    assert_eq!(
        mapped_cells(&s),
        cells.len(),
        "{w} cols, {ppc} pages/cell\n{s}"
    );
    // Faults since it started: exactly /proc/PID/stat (the child sleeps: they are still).
    let (minor, major) = stat_faults(pid);
    let (long, short) = (
        format!(
            "since it started: {} minor, {} major",
            grouped(minor),
            grouped(major)
        ),
        format!("started: {} minor {} major", grouped(minor), grouped(major)),
    );
    assert!(s.contains(&long) || s.contains(&short), "{long}\n{s}");
    if w >= 100 {
        assert!(s.contains(&long), "{long}\n{s}");
    }
    // Since attach the sleeping child took no faults.
    assert_eq!(
        panel_value(&s, "minor").unwrap().split_whitespace().next(),
        Some("0"),
        "{s}"
    );
    assert_eq!(
        panel_value(&s, "cached").as_deref(),
        Some(want_mapped.as_str()),
        "MADV_RANDOM: the touches cached exactly their pages\n{s}"
    );
}

#[test]
fn attach_live_shows_the_touched_pages_and_the_kernels_faults() {
    let Some(fx) = fixture("attach_live_shows_the_touched_pages") else {
        return;
    };
    let (mut child, pid) = start_child(&fx, 120.0);
    for (w, h) in [(120, 40), (80, 24)] {
        let cmd = format!(
            "{BIN} attach {pid} {}; echo EXIT=$?; sleep 60",
            fx.file.display()
        );
        let t = Tmux::start_sized(&format!("att{w}"), &cmd, w, h);
        check_attached_screen(&t, &fx, pid, w);
        t.keys(&["q"]);
        let s = t.wait(10, "exit", |s| s.contains("EXIT="));
        assert!(s.contains("EXIT=0"), "{s}");
        assert!(s.contains(&format!("PID {pid} is still running")), "{s}");
    }
    // mmviz sent it nothing: it is still asleep, its mapping as it was.
    assert!(child.try_wait().unwrap().is_none());
    assert_eq!(smaps_rss_pages(pid, &fx.file), TOUCHED.len() as u64);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn attach_live_evict_asks_first_and_workload_keys_say_why_not() {
    let Some(fx) = fixture("attach_live_evict_asks_first") else {
        return;
    };
    let Some(_) = fincore_pages(&fx.file) else {
        skip("attach_live_evict_asks_first", "fincore is not installed");
        return;
    };
    let (mut child, pid) = start_child(&fx, 120.0);
    // Cache the whole file (unmapped pages the evict could drop).
    std::io::copy(
        &mut std::fs::File::open(&fx.file).unwrap(),
        &mut std::io::sink(),
    )
    .unwrap();
    let before = fincore_pages(&fx.file).unwrap();
    assert_eq!(before, PAGES);
    let cmd = format!("{BIN} attach {pid}; echo EXIT=$?; sleep 60");
    let t = Tmux::start_sized("evict", &cmd, 80, 24);
    t.wait(15, "the screen", |s| {
        s.contains(&format!("observing PID {pid}")) && s.contains("largest mapped")
    });
    // A workload key: unavailable, said in one line.
    t.keys(&["1"]);
    let s = t.wait(5, "patterns unavailable", |s| {
        s.contains(&format!(
            "patterns: unavailable while observing PID {pid} (no mmviz worker)"
        ))
    });
    assert!(
        s.contains("workload keys off") || s.contains("i inspect"),
        "{s}"
    );
    t.keys(&["Space"]);
    t.wait(5, "pause unavailable", |s| {
        s.contains("pause: unavailable while observing")
    });
    // Evict asks; n leaves the cache exactly as it was (fincore, an independent witness).
    t.keys(&["e"]);
    t.wait(5, "the question", |s| {
        s.contains(&format!("It changes PID {pid}'s performance"))
    });
    t.keys(&["n"]);
    t.wait(5, "declined", |s| {
        s.contains("not evicted: the page cache is as it was")
    });
    // Nothing was evicted. fincore a moment later may see a few pages reclaimed under
    // memory pressure (parallel tests), never more pages; an evict would leave 6.
    let after_n = fincore_pages(&fx.file).unwrap();
    assert!(
        after_n <= before && after_n >= before - before / 100,
        "{after_n} of {before} pages cached after n"
    );
    // y evicts: every page goes but the ones the child maps, and the screen says why.
    t.keys(&["e"]);
    t.wait(5, "the question again", |s| s.contains("n or Esc: no"));
    t.keys(&["y"]);
    let s = t.wait(10, "evicted", |s| s.contains("evicted (confirmed)"));
    let after = fincore_pages(&fx.file).unwrap();
    assert_eq!(after, TOUCHED.len() as u64, "{s}");
    assert!(
        s.contains(&format!(
            " -> {} pages cached",
            mmviz::text::thousands(after)
        )),
        "{s}"
    );
    t.keys(&["q"]);
    t.wait(10, "exit", |s| s.contains("EXIT=0"));
    assert!(child.try_wait().unwrap().is_none(), "never signalled");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn exec_live_keeps_the_last_screen_with_totals_and_exit_status() {
    let Some(fx) = fixture("exec_live_keeps_the_last_screen") else {
        return;
    };
    for (w, h) in [(120, 40), (80, 24)] {
        mmviz(&["evict".as_ref(), fx.file.as_os_str()]);
        let cmd = format!(
            "{BIN} exec --file {f} -- {py} {script} {f} {pages} 0.5 3; echo EXIT=$?; sleep 60",
            f = fx.file.display(),
            py = fx.py,
            script = fx.script.display(),
            pages = child::pages_arg(&TOUCHED)
        );
        let t = Tmux::start_sized(&format!("exec{w}"), &cmd, w, h);
        let cells_of = |s: &str| {
            let ppc = pages_per_cell(s);
            let mut cells: Vec<u64> = TOUCHED.iter().map(|p| p / ppc).collect();
            cells.dedup();
            cells.len()
        };
        // The mapped pages at the last sample: Python may unmap at shutdown before that
        // sample (then 0, and the log says "unmapped"); the maximum is always all of them.
        let last_mapped = |s: &str| -> Option<usize> {
            let l = s.lines().find(|l| l.contains("totals:"))?;
            let rest = l.split("mapped ").nth(1)?;
            rest.split([' ', '(']).next()?.parse().ok()
        };
        // The header grows by the totals row: the next frame regrids to the smaller area.
        let s = t.wait(20, "the exit, regridded", |s| {
            s.contains("exited with status 3")
                && last_mapped(s)
                    .is_some_and(|m| mapped_cells(s) == if m == 0 { 0 } else { cells_of(s) })
        });
        let last = last_mapped(&s).unwrap();
        assert!(last == 0 || last == TOUCHED.len(), "{s}");
        // The last screen stays, with the totals.
        assert!(s.contains("last screen kept"), "{s}");
        let n = TOUCHED.len();
        // The full totals row, or its short form where it does not fit.
        assert!(
            (s.contains(&format!("mapped {last} (max {n})")) && s.contains("faults (final)"))
                || (s.contains(&format!("· mapped {last} ·")) && s.contains("major (final)")),
            "{s}"
        );
        assert_eq!(
            panel_value(&s, "mapped at most"),
            Some(n.to_string()),
            "{s}"
        );
        assert!(s.contains(&format!("cached 0 → {n}")), "{s}");
        // The grid still shows the pages mapped at the last sample (checked in the wait).
        // The final fault counts: at least what the program read from its own stat just
        // before exiting (the log shows its output line).
        t.keys(&["m"]);
        let log = t.wait(5, "the log", |s| s.contains("program: faults "));
        if last == 0 {
            assert!(
                log.contains("unmapped: the file is no longer mapped"),
                "{log}"
            );
        }
        let line = log
            .lines()
            .find(|l| l.contains("program: faults "))
            .unwrap();
        let v: Vec<u64> = line
            .split("program: faults ")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .take(2)
            .map(|x| x.trim_end_matches('│').parse().unwrap())
            .collect();
        let totals = s.lines().find(|l| l.contains("totals:")).unwrap();
        let minor: u64 = totals
            .split("totals: ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .replace(',', "")
            .parse()
            .unwrap();
        assert!(minor >= v[0], "{totals} vs {line}");
        t.keys(&["Escape"]);
        std::thread::sleep(std::time::Duration::from_millis(300));
        t.keys(&["q"]);
        let s = t.wait(10, "exit", |s| s.contains("EXIT="));
        assert!(s.contains("EXIT=0"), "{s}");
        // Back on the shell: the program's output.
        assert!(s.contains("ready "), "{s}");
    }
}

/// Maps argv[1] (MADV_RANDOM), touches pages 1 and 9000, says "ready", then on each line of
/// stdin moves on: maps pages 0-63 again as a second range and touches page 50; unmaps the
/// first mapping; execve's into `sleep 1`.
const LIFE: &str = r#"
import mmap, os, sys, time
f = open(sys.argv[1], "rb")
m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
m.madvise(mmap.MADV_RANDOM)
s = m[1 * mmap.PAGESIZE] + m[9000 * mmap.PAGESIZE]
print("ready", os.getpid(), flush=True)
sys.stdin.readline()
m2 = mmap.mmap(f.fileno(), 64 * mmap.PAGESIZE, access=mmap.ACCESS_READ)
m2.madvise(mmap.MADV_RANDOM)
s += m2[50 * mmap.PAGESIZE]
sys.stdin.readline()
m.close()
sys.stdin.readline()
os.execv("/bin/sleep", ["sleep", "1"])
"#;

#[test]
fn attach_live_follows_truncation_remapping_and_execve_at_80x24() {
    use std::io::Write;
    let Some(fx) = fixture("attach_live_follows_truncation") else {
        return;
    };
    let (mut c, pid) = child::start_script(&fx, "life.py", LIFE);
    let mut next = || {
        let i = c.stdin.as_mut().unwrap();
        i.write_all(b"\n").unwrap();
        i.flush().unwrap();
    };
    let cmd = format!(
        "{BIN} attach {pid} {}; echo EXIT=$?; sleep 60",
        fx.file.display()
    );
    let t = Tmux::start_sized("life", &cmd, 80, 24);
    let mapped = |s: &str, n: &str| panel_value(s, "mapped").as_deref() == Some(n);
    t.wait(15, "pages 1 and 9000 mapped", |s| {
        mapped(s, "2") && s.contains("pages 0–16,383")
    });

    // The test's own scratch file: truncated to 100 pages under the mapping. The kernel
    // unmaps page 9000 (past the new end); the grid is redrawn for the new size.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&fx.file)
        .unwrap()
        .set_len(100 * 4096)
        .unwrap();
    let s = t.wait(10, "the new size", |s| {
        s.contains("pages 0–99 · 1 cell = 1 page") && mapped(s, "1")
    });
    assert_eq!(smaps_rss_pages(pid, &fx.file), 1, "{s}");
    assert!(
        s.contains("resized: file size changed: 67108864 -> 409600 bytes"),
        "{s}"
    );
    assert_eq!(
        panel_value(&s, "mapped at most").as_deref(),
        Some("2"),
        "{s}"
    );

    // A second range of the same file: both shown, combined by file offset.
    next();
    let s = t.wait(10, "two ranges", |s| {
        s.contains("2 ranges") && mapped(s, "2")
    });
    assert_eq!(smaps_rss_pages(pid, &fx.file), 2, "{s}");
    // The first range unmapped: page 50 through the second is all that is left.
    next();
    let s = t.wait(10, "one range again", |s| {
        s.contains("1 range ") && mapped(s, "1")
    });
    assert_eq!(smaps_rss_pages(pid, &fx.file), 1, "{s}");

    // execve: the old address space is gone; then sleep exits and the last screen stays.
    next();
    let s = t.wait(15, "the exit", |s| {
        s.contains(&format!("PID {pid} (sleep) exited after")) && s.contains("last screen kept")
    });
    assert!(mapped(&s, "0"), "{s}");
    assert!(!s.contains("exited :"), "{s}");
    t.keys(&["m"]);
    let log = t.wait(5, "the log", |s| s.contains("Message log"));
    let joined = t.capture_joined();
    let order = [
        "resized: file size changed",
        "remapped: the file's mappings changed: 1 -> 2 range(s)",
        "remapped: the file's mappings changed: 2 -> 1 range(s)",
        "exec: the program called execve (now 'sleep')",
        &format!("PID {pid} (sleep) exited: faults "),
    ];
    let flat: String = joined
        .lines()
        .map(|l| l.trim_matches(|ch: char| ch == '│' || ch == ' '))
        .collect::<Vec<_>>()
        .join(" ");
    let mut at = 0;
    for want in order {
        let i = flat[at..]
            .find(want)
            .unwrap_or_else(|| panic!("{want:?} after the earlier events in the log:\n{log}"));
        at += i + want.len();
    }
    t.keys(&["Escape"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    t.keys(&["q"]);
    let s = t.wait(10, "exit", |s| s.contains("EXIT="));
    assert!(s.contains("EXIT=0"), "{s}");
    assert!(c.wait().unwrap().success(), "sleep after execve exited 0");
}

/// `attach --record`: the live view of another program recorded, file names only, and
/// replayed with neither the program nor the file; without the live view `--record` is
/// refused, and `exec` with an existing recording file starts nothing.
#[test]
fn attach_live_records_and_the_recording_replays_without_the_program() {
    let Some(fx) = fixture("attach_live_records") else {
        return;
    };
    let (mut child, pid) = start_child(&fx, 120.0);
    let rec = fx.dir.path().join("observed.jsonl");
    let cmd = format!(
        "{BIN} attach {pid} {} --record {}; echo EXIT=$?; sleep 60",
        fx.file.display(),
        rec.display()
    );
    let t = Tmux::start_sized("attrec", &cmd, 80, 24);
    let want = TOUCHED.len().to_string();
    t.wait(15, "the touched pages mapped", |s| {
        panel_value(s, "mapped").as_deref() == Some(want.as_str())
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    t.keys(&["q"]);
    t.wait(10, "exit", |s| s.contains("EXIT=0"));
    drop(t);
    child.kill().unwrap();
    child.wait().unwrap();

    let text = std::fs::read_to_string(&rec).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["type"], "header");
    assert_eq!(lines[0]["file"], "data.bin", "the name, not the path");
    assert!(
        !text.contains(fx.dir.path().to_str().unwrap()),
        "no full path of the file anywhere"
    );
    let key = lines
        .iter()
        .find(|e| e["type"] == "keyframe")
        .expect("a keyframe");
    assert_eq!(key["snapshot"]["observed"]["pid"], pid, "{key}");
    assert!(lines.iter().any(|e| e["type"] == "action"));

    // Replayed to asciicast with the file gone and the program ended.
    std::fs::remove_file(&fx.file).unwrap();
    let cast = fx.dir.path().join("observed.cast");
    let r = mmviz(&[
        "replay".as_ref(),
        rec.as_os_str(),
        "--asciicast".as_ref(),
        cast.as_os_str(),
    ]);
    assert_eq!(r.code(), 0, "{r:?}");
    let cast_text = std::fs::read_to_string(&cast).unwrap();
    assert!(cast_text.lines().count() >= 3, "a header and frames");
    // Played in the terminal: the observed program's screen, from the recording alone.
    let cmd = format!("{BIN} replay {}; echo EXIT=$?; sleep 60", rec.display());
    let t = Tmux::start_sized("attplay", &cmd, 80, 24);
    t.wait(10, "the replayed screen", |s| {
        s.contains(&format!("observing PID {pid}")) && s.contains("replay data.bin")
    });
    t.keys(&["q"]);
    t.wait(10, "exit", |s| s.contains("EXIT=0"));
    drop(t);

    // Headless, --record has no live view to record: a usage error.
    let r = mmviz(&[
        "attach",
        &pid.to_string(),
        "--json",
        "--record",
        fx.dir.path().join("x.jsonl").to_str().unwrap(),
    ]);
    assert_eq!(r.code(), 2, "{r:?}");
    assert!(r.stderr.contains("--record records the live view"), "{r:?}");
    // exec with an existing recording: refused before the program starts.
    let marker = fx.dir.path().join("started");
    let cmd = format!(
        "{BIN} exec --record {} -- touch {}; echo EXIT=$?; sleep 60",
        rec.display(),
        marker.display()
    );
    let t = Tmux::start_sized("execrec", &cmd, 80, 24);
    t.wait(10, "exit", |s| s.contains("EXIT="));
    // Joined: the error line holds the path, and the terminal may wrap it anywhere.
    let s = t.capture_joined();
    assert!(s.contains("EXIT=2") && s.contains("already exists"), "{s}");
    assert!(!marker.exists(), "the program did not start");
}
