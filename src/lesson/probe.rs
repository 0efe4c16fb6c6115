//! A lesson's probes and its one file-changing action.
//!
//! A probe is a second mmviz process (`run`, `bench` or `ipc`, with `--json`) whose JSON the
//! step's checks read under `probe.NAME`: a second reader of the page cache, the address-space
//! limit, a durability run, the mmap-vs-read comparison. Probes open the lesson's file
//! read-only (every mmviz command does) or a scratch file made for them; `truncate` cuts only
//! a write lesson's scratch copy, never a file mmviz did not make.

use crate::session::snapshot::Snapshot;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Longest a probe may run before it is killed (a bench on a small file takes seconds).
const PROBE_LIMIT: Duration = Duration::from_secs(120);

/// One probe to run.
#[derive(Clone, Debug)]
pub struct Job {
    pub name: String,
    pub exe: PathBuf,
    pub command: String,
    pub file: PathBuf,
    pub args: Vec<String>,
    /// Run on a fresh scratch file of this size instead of the lesson's file.
    pub size: Option<u64>,
    /// That scratch file is a hole (no data blocks).
    pub sparse: bool,
    /// Set when the lesson moved on: the probe's process is killed.
    pub cancel: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// What a probe answered.
#[derive(Clone, Debug)]
pub struct ProbeResult {
    pub name: String,
    /// The command's `--json` output, plus `exit_code` (and `error`, its last stderr line,
    /// when it failed: a failing probe is often the lesson's point, e.g. RLIMIT_AS).
    pub json: Value,
    /// One line for the event log.
    pub summary: String,
}

impl Job {
    /// The command as the log shows it (FILE for the file argument).
    pub fn command_line(&self) -> String {
        let file = match (self.command.as_str(), self.size) {
            ("ipc", _) => String::new(),
            (_, Some(n)) => format!(
                " <{} scratch file of {}>",
                if self.sparse { "sparse" } else { "new" },
                crate::units::human_bytes(n)
            ),
            _ => " FILE".into(),
        };
        format!(
            "mmviz {}{file} {} --json",
            self.command,
            self.args.join(" ")
        )
    }

    /// Runs the probe to its end (at most [`PROBE_LIMIT`]).
    pub fn run(self) -> ProbeResult {
        let name = self.name.clone();
        match self.run_inner() {
            Ok((json, summary)) => ProbeResult {
                name,
                json,
                summary,
            },
            Err(e) => ProbeResult {
                name,
                json: serde_json::json!({ "exit_code": null, "error": e }),
                summary: format!("could not run: {e}"),
            },
        }
    }

    fn run_inner(&self) -> Result<(Value, String), String> {
        // Held until the probe ends: the scratch file is removed when it drops.
        let mut scratch = None;
        let file: Option<PathBuf> = match (self.command.as_str(), self.size) {
            ("ipc", _) => None,
            (_, Some(n)) => {
                let dir = crate::workload::scratch::pick_dir().map_err(|e| e.msg)?;
                let f = if self.sparse {
                    crate::workload::scratch::ScratchFile::sparse(&dir, n)
                } else {
                    crate::workload::scratch::ScratchFile::generated(&dir, n, 1)
                }
                .map_err(|e| format!("scratch file: {e}"))?;
                let p = f.path.clone();
                scratch = Some(f);
                Some(p)
            }
            _ => Some(self.file.clone()),
        };
        let mut cmd = std::process::Command::new(&self.exe);
        cmd.arg(&self.command);
        if let Some(f) = &file {
            cmd.arg(f);
        }
        cmd.args(&self.args)
            .arg("--json")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let child = cmd
            .spawn()
            .map_err(|e| format!("{}: {e}", self.exe.display()))?;
        let out = wait_limited(child, PROBE_LIMIT, &self.cancel)?;
        drop(scratch);
        let code = out.status.code();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
        let mut json = serde_json::from_slice::<Value>(&out.stdout)
            .ok()
            .filter(Value::is_object)
            .unwrap_or_else(|| serde_json::json!({}));
        if let Some(o) = json.as_object_mut() {
            o.remove("machine");
            o.insert("exit_code".into(), code.into());
            if code != Some(0) {
                o.insert(
                    "error".into(),
                    last.map(|l| l.trim().to_string())
                        .unwrap_or_default()
                        .into(),
                );
            }
        }
        let summary = match code {
            Some(0) => "done (exit 0)".to_string(),
            c => format!(
                "exit {}: {}",
                c.map_or("by signal".into(), |c| c.to_string()),
                last.unwrap_or("").trim()
            ),
        };
        Ok((json, crate::text::escape_controls(&summary).into_owned()))
    }
}

/// Waits for `child` with a deadline; kills it when the deadline passes or on `cancel`.
fn wait_limited(
    mut child: std::process::Child,
    limit: Duration,
    cancel: &std::sync::atomic::AtomicBool,
) -> Result<std::process::Output, String> {
    use std::io::Read;
    // Drain both pipes on threads so a chatty child cannot block on a full pipe.
    let mut so = child.stdout.take();
    let mut se = child.stderr.take();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(s) = so.as_mut() {
            let _ = s.read_to_end(&mut v);
        }
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(s) = se.as_mut() {
            let _ = s.read_to_end(&mut v);
        }
        v
    });
    let t0 = std::time::Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if t0.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("killed after {} s", limit.as_secs()));
            }
            Ok(None) if cancel.load(std::sync::atomic::Ordering::Relaxed) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("cancelled: the lesson moved on".into());
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(e.to_string()),
        }
    };
    Ok(std::process::Output {
        status,
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
    })
}

/// Truncates a write lesson's scratch copy to `fraction` of its size (whole pages). Refuses
/// anything that is not the session's own scratch copy: the snapshot must be in write mode
/// and the file must carry a scratch name.
pub fn truncate_scratch(snap: &Snapshot, fraction: f64) -> Result<String, String> {
    let Some(w) = &snap.file.write else {
        return Err("truncate: only a write lesson's scratch copy can be truncated".into());
    };
    let path = Path::new(&w.scratch);
    if !crate::workload::scratch::is_scratch_name(path) {
        return Err(format!(
            "truncate: {} is not a scratch file; refused",
            w.scratch
        ));
    }
    let ps = snap.file.page_size.max(1);
    let old = snap.file.size_bytes;
    let new = ((old as f64 * fraction) as u64) / ps * ps;
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| format!("truncate {}: {e}", w.scratch))?;
    f.set_len(new)
        .map_err(|e| format!("truncate {}: {e}", w.scratch))?;
    Ok(format!(
        "lesson: truncated the scratch copy from {} to {} (your file is untouched)",
        crate::units::human_bytes(old),
        crate::units::human_bytes(new)
    ))
}
