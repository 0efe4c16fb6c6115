//! The live view of `mmviz attach` and `mmviz exec`, driven in tmux: a Python child maps a
//! disk-backed file and touches chosen pages; what the screen shows is checked against the
//! child's own /proc files (stat, smaps Rss) read by the test, and against fincore.
//!
//! As in tests/attach.rs the file is evicted first and the child applies MADV_RANDOM, so each
//! touch brings exactly one page into the cache and maps exactly that page.

mod common;

use common::tmux::Tmux;
use common::{can_evict, fincore_pages, have, mmviz, scratch_dir, skip, BIN};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// 64 MiB (sparse): larger than libpython, so it is also "the largest mapped file".
const PAGES: u64 = 16384;
/// Pages far enough apart that no two share a grid cell at 120x40 or 80x24.
const TOUCHED: [u64; 6] = [0, 1000, 4000, 8000, 12000, 16383];

/// Maps argv[1] read-only, MADV_RANDOM, reads one byte of each page in argv[2], prints
/// "ready PID", sleeps argv[3] seconds, prints its own stat faults, exits with argv[4].
const CHILD: &str = r#"
import mmap, os, sys, time
path, pages, wait, code = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
f = open(path, "rb")
m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
m.madvise(mmap.MADV_RANDOM)
s = 0
for p in [int(x) for x in pages.split(",") if x]:
    s += m[p * mmap.PAGESIZE]
print("ready", os.getpid(), flush=True)
time.sleep(wait)
st = open("/proc/self/stat").read().rsplit(")", 1)[1].split()
print("faults", st[10 - 3], st[12 - 3], flush=True)
sys.exit(code)
"#;

struct Fixture {
    _dir: tempfile::TempDir,
    file: PathBuf,
    script: PathBuf,
    py: String,
}

/// The real interpreter (not a pyenv shim), or None when python3 is missing.
fn python() -> Option<String> {
    if !have("python3") {
        return None;
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, mmap; mmap.MADV_RANDOM; print(sys.executable)",
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

fn fixture(test: &str) -> Option<Fixture> {
    if !Tmux::available() {
        skip(test, "tmux is not installed");
        return None;
    }
    let Some(py) = python() else {
        skip(test, "python3 (with mmap.madvise) is not installed");
        return None;
    };
    let dir = scratch_dir();
    let file = dir.path().join("data.bin");
    std::fs::File::create(&file)
        .unwrap()
        .set_len(PAGES * 4096)
        .unwrap();
    if let Err(r) = can_evict(&file) {
        skip(test, &r);
        return None;
    }
    let script = dir.path().join("child.py");
    std::fs::write(&script, CHILD).unwrap();
    let r = mmviz(&["evict".as_ref(), file.as_os_str(), "--json".as_ref()]);
    assert_eq!(r.json()["cached_after"], 0, "{r:?}");
    Some(Fixture {
        _dir: dir,
        file,
        script,
        py,
    })
}

fn pages_arg() -> String {
    TOUCHED
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Starts the child (sleeping `wait` s after its touches) and waits for its "ready" line.
fn start_child(fx: &Fixture, wait: f64) -> (Child, u32) {
    let mut c = Command::new(&fx.py)
        .arg(&fx.script)
        .arg(&fx.file)
        .arg(pages_arg())
        .arg(wait.to_string())
        .arg("0")
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn python");
    let mut line = String::new();
    BufReader::new(c.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let pid: u32 = line
        .strip_prefix("ready ")
        .unwrap_or_else(|| panic!("child said {line:?}"))
        .trim()
        .parse()
        .unwrap();
    (c, pid)
}

/// minflt, majflt of /proc/PID/stat, read by the test.
fn stat_faults(pid: u32) -> (u64, u64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let t: Vec<&str> = s.rsplit_once(')').unwrap().1.split_whitespace().collect();
    (t[7].parse().unwrap(), t[9].parse().unwrap())
}

/// Rss (in pages) of the mappings of `file` in /proc/PID/smaps: the kernel's own count.
fn smaps_rss_pages(pid: u32, file: &Path) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap();
    let name = file.to_str().unwrap();
    let (mut inside, mut kb) = (false, 0);
    for l in s.lines() {
        if l.contains('-') && l.split_whitespace().count() >= 5 && !l.ends_with(" kB") {
            inside = l.ends_with(name);
        } else if inside {
            if let Some(v) = l.strip_prefix("Rss:") {
                kb += v
                    .trim()
                    .trim_end_matches(" kB")
                    .trim()
                    .parse::<u64>()
                    .unwrap();
            }
        }
    }
    kb * 1024 / 4096
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
            pages = pages_arg()
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
