//! The observed child of the attach tests: a Python process that maps a disk-backed file,
//! touches chosen pages and waits, and the kernel's own counts to check mmviz against
//! (/proc/PID/stat faults, /proc/PID/smaps Rss).

use super::{can_evict, have, scratch_dir, skip};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Pages of the test file: 64 MiB (sparse), larger than libpython, so "the largest mapped
/// regular file" is ours.
pub const PAGES: u64 = 16384;

/// Maps argv[1] read-only, MADV_RANDOM, reads one byte of each page in argv[2], prints
/// "ready PID", sleeps argv[3] seconds, prints its own stat faults, exits with argv[4].
pub const CHILD: &str = r#"
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

/// The real interpreter (not a pyenv shim script), or None when python3 is missing.
pub fn python() -> Option<String> {
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

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub file: PathBuf,
    pub script: PathBuf,
    pub py: String,
}

/// A 64 MiB sparse file that can be evicted and the child script, or None (with the skip
/// reason printed) where python3 or eviction is missing.
pub fn fixture(test: &str) -> Option<Fixture> {
    let Some(py) = python() else {
        skip(test, "python3 (with mmap.madvise) is not installed");
        return None;
    };
    let dir = scratch_dir();
    let file = dir.path().join("data.bin");
    let f = std::fs::File::create(&file).unwrap();
    f.set_len(PAGES * 4096).unwrap();
    drop(f);
    if let Err(r) = can_evict(&file) {
        skip(test, &r);
        return None;
    }
    let script = dir.path().join("child.py");
    std::fs::write(&script, CHILD).unwrap();
    Some(Fixture {
        dir,
        file,
        script,
        py,
    })
}

pub fn pages_arg(pages: &[u64]) -> String {
    pages
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Starts the child (touching `pages`, then sleeping `wait` s) and waits for its "ready" line.
pub fn start_child(fx: &Fixture, pages: &[u64], wait: f64) -> (Child, u32) {
    let mut cmd = Command::new(&fx.py);
    cmd.arg(&fx.script)
        .arg(&fx.file)
        .arg(pages_arg(pages))
        .arg(wait.to_string())
        .arg("0")
        .stdin(Stdio::null());
    ready(cmd)
}

/// Writes a test's own Python script `name` beside the file and starts it on the file
/// (`argv[1]`), with a pipe on its stdin (the test moves it on line by line), and waits for
/// its "ready PID" line.
pub fn start_script(fx: &Fixture, name: &str, text: &str) -> (Child, u32) {
    let script = fx.dir.path().join(name);
    std::fs::write(&script, text).unwrap();
    let mut cmd = Command::new(&fx.py);
    cmd.arg(&script).arg(&fx.file).stdin(Stdio::piped());
    ready(cmd)
}

fn ready(mut cmd: Command) -> (Child, u32) {
    let mut c = cmd.stdout(Stdio::piped()).spawn().expect("spawn python");
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
    assert_eq!(pid, c.id());
    (c, pid)
}

/// minflt, majflt of /proc/PID/stat, read by the test.
pub fn stat_faults(pid: u32) -> (u64, u64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let t: Vec<&str> = s.rsplit_once(')').unwrap().1.split_whitespace().collect();
    (t[7].parse().unwrap(), t[9].parse().unwrap())
}

/// Rss (in pages) of the mappings of `file` in /proc/PID/smaps: the kernel's own count.
pub fn smaps_rss_pages(pid: u32, file: &Path) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap();
    let name = file.to_str().unwrap();
    let mut inside = false;
    let mut kb = 0;
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
