//! Helpers shared by the integration tests: disk-backed scratch directories, running the
//! built binary with a timeout, and skip reasons where the kernel or the machine cannot show
//! what a test needs.
//!
//! Each test file includes this with `mod common;` and uses a subset, hence the allow.
#![allow(dead_code)]

pub mod child;
pub mod live;
pub mod tmux;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long one run of the binary may take before the test fails instead of hanging CI.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_mmviz");

/// A scratch directory on the project's disk (`target/tmp`), never `/tmp`, which may be a
/// tmpfs where every page is always cached and nothing can be evicted.
pub fn scratch_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("mmviz-test-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("temp dir under CARGO_TARGET_TMPDIR")
}

/// What a finished (or killed) child printed.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The exit code; panics (with the output) when the child died of a signal.
    pub fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| panic!("killed by a signal: {self:?}"))
    }

    /// Stdout parsed as JSON; panics with the output when it does not parse.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }
}

/// Runs `cmd` with stdin closed, capturing stdout and stderr; kills it and panics after
/// `timeout` so a hang fails the test.
pub fn run_cmd(mut cmd: Command, timeout: Duration) -> Run {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    // Drain both pipes in threads so a chatty child cannot block on a full pipe.
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait for child") {
            break st;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Run {
        status,
        stdout: t_out.join().expect("stdout reader"),
        stderr: t_err.join().expect("stderr reader"),
    }
}

/// Runs the built `mmviz` with `args`.
pub fn mmviz<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    run_cmd(cmd, TIMEOUT)
}

/// `Ok(())` when `fadvise(DONTNEED)` can evict pages of `path`'s filesystem, else the reason
/// to skip (tmpfs and ramfs keep every page; network and FUSE filesystems are unreliable).
pub fn can_evict(path: &Path) -> Result<(), String> {
    let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let fs =
        mmviz::kernel::fsinfo::fs_of(&f).map_err(|e| format!("fstatfs {}: {e}", path.display()))?;
    if fs.can_evict {
        Ok(())
    } else {
        Err(format!(
            "{} is on {}: {}",
            path.display(),
            fs.name,
            fs.note.unwrap_or_else(|| "cannot evict".into())
        ))
    }
}

/// Prints why a test is skipped (visible with `--nocapture` and in failure logs).
pub fn skip(test: &str, reason: &str) {
    eprintln!("SKIP {test}: {reason}");
}

/// Pages resident according to util-linux `fincore` (an independent mincore-based tool), or
/// `None` when fincore is not installed.
pub fn fincore_pages(path: &Path) -> Option<u64> {
    if !have("fincore") {
        return None;
    }
    let mut cmd = Command::new("fincore");
    cmd.args(["--json", "--bytes"]).arg(path);
    let r = run_cmd(cmd, TIMEOUT);
    assert_eq!(r.code(), 0, "fincore failed: {r:?}");
    let v = r.json();
    let pages = &v["fincore"][0]["pages"];
    // Older util-linux prints numbers as strings in JSON.
    Some(
        pages
            .as_u64()
            .or_else(|| pages.as_str().and_then(|s| s.parse().ok()))
            .unwrap_or_else(|| panic!("fincore JSON without pages: {v}")),
    )
}

/// Whether a program is on PATH.
pub fn have(prog: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
        .unwrap_or(false)
}

/// The effective user id of the test process.
pub fn euid() -> u32 {
    mmviz::kernel::sys::geteuid()
}

/// A directory an unprivileged user (`nobody`) can reach, holding a copy of the binary:
/// the binary under `target/` may sit below directories `nobody` cannot traverse.
/// Returns the directory and the binary's path, or the reason to skip.
pub fn nobody_sandbox() -> Result<(tempfile::TempDir, PathBuf), String> {
    if euid() != 0 {
        return Err("needs root to switch to user nobody (setpriv)".into());
    }
    if !have("setpriv") {
        return Err("setpriv (util-linux) is not installed".into());
    }
    let dir = scratch_dir();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("chmod 0755 {}: {e}", dir.path().display()))?;
    let bin = dir.path().join("mmviz");
    std::fs::copy(BIN, &bin).map_err(|e| format!("copy the binary: {e}"))?;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("chmod 0755 {}: {e}", bin.display()))?;
    // Prove it empirically: every parent must be traversable by nobody.
    let r = run_cmd(as_nobody(&bin, &["--version"]), TIMEOUT);
    if !r.status.success() {
        return Err(format!(
            "user nobody cannot run {} (a parent directory is not traversable?): {}",
            bin.display(),
            r.stderr.trim()
        ));
    }
    Ok((dir, bin))
}

/// `setpriv --reuid=nobody --regid=nogroup --clear-groups BIN ARGS...`.
pub fn as_nobody<S: AsRef<std::ffi::OsStr>>(bin: &Path, args: &[S]) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .arg(bin)
        .args(args);
    cmd
}

/// One cache (and so scratch) directory for the whole test binary, set as MMVIZ_DEMO_DIR
/// (process-wide, and the tests run in parallel threads), with MMVIZ_EXE pointing at the
/// built binary: for tests whose sessions make scratch copies.
pub fn cache_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let d = DIR.get_or_init(|| {
        let d = scratch_dir();
        std::env::set_var("MMVIZ_DEMO_DIR", d.path());
        std::env::set_var("MMVIZ_EXE", BIN);
        d
    });
    d.path()
}

/// A user's file of `mib` MiB of generated data in [`cache_dir`].
pub fn user_file(name: &str, mib: u64) -> PathBuf {
    let p = cache_dir().join(name);
    let r = mmviz(&[
        "gen",
        p.to_str().unwrap(),
        "--size",
        &format!("{mib}MiB"),
        "--force",
    ]);
    assert_eq!(r.code(), 0, "{r:?}");
    p
}
