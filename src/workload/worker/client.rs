//! The parent's side of the worker: spawn it, send controls, receive reports, explain its death.

use super::protocol::*;
use crate::units::human_bytes;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where the worker mapped the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapInfo {
    pub pid: u32,
    pub addr: u64,
    pub len: u64,
    pub page_size: u64,
    pub startup_ns: u64,
}

/// A message from the worker's reader thread.
#[derive(Debug)]
pub enum Event {
    Report(Box<Report>),
    /// The report pipe closed: the worker exited or died.
    Closed,
}

/// A running worker process.
pub struct WorkerHandle {
    child: Child,
    stdin: Option<ChildStdin>,
    events: Receiver<Event>,
    stderr: Arc<Mutex<String>>,
    pub map: MapInfo,
    path: PathBuf,
    size_at_start: u64,
    exit: Option<ExitStatus>,
    /// Time from spawn() to the Hello report, as the parent saw it.
    pub spawn_to_ready: Duration,
}

/// How the worker ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Death {
    /// A sentence for the user, e.g. "worker killed by SIGBUS: the file shrank ...".
    pub reason: String,
    pub signal: Option<i32>,
    pub code: Option<i32>,
}

fn worker_exe() -> std::io::Result<PathBuf> {
    // Tests and benches run the library from their own executables: they point us at the
    // real binary through MMVIZ_EXE.
    if let Ok(p) = std::env::var("MMVIZ_EXE") {
        return Ok(PathBuf::from(p));
    }
    std::env::current_exe()
}

impl WorkerHandle {
    /// Spawns `mmviz __worker FILE` and waits (up to `deadline`) for its Hello.
    ///
    /// Note: `PR_SET_PDEATHSIG` fires when the *thread* that spawned the child exits, so spawn
    /// from a thread that lives as long as the worker should.
    pub fn spawn(path: &Path, deadline: Duration) -> std::io::Result<WorkerHandle> {
        Self::spawn_with(path, &WorkerOptions::default(), deadline)
    }

    /// `spawn` with the worker's start options (write mode, descriptor, address space).
    pub fn spawn_with(
        path: &Path,
        opts: &WorkerOptions,
        deadline: Duration,
    ) -> std::io::Result<WorkerHandle> {
        // Errors name what is missing: the file, or the mmviz binary the worker runs from
        // (rebuilt or deleted while the viewer runs: /proc/self/exe then ends in "(deleted)").
        let named = |what: &Path, e: std::io::Error| {
            std::io::Error::new(
                e.kind(),
                format!(
                    "{}: {}",
                    crate::text::escape_controls(&what.display().to_string()),
                    crate::error::io_reason(&e)
                ),
            )
        };
        let size_at_start = std::fs::metadata(path).map_err(|e| named(path, e))?.len();
        let t0 = Instant::now();
        let exe = worker_exe()?;
        let mut child = Command::new(&exe)
            .arg("__worker")
            .arg(path)
            .args(opts.to_args())
            .env("MMVIZ_PARENT_PID", std::process::id().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| named(&exe, e))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("worker-reports".into())
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    match serde_json::from_str::<Report>(&line) {
                        Ok(r) => {
                            if tx.send(Event::Report(Box::new(r))).is_err() {
                                return;
                            }
                        }
                        Err(_) => continue,
                    }
                }
                let _ = tx.send(Event::Closed);
            })?;
        let err_buf = Arc::new(Mutex::new(String::new()));
        let eb = Arc::clone(&err_buf);
        std::thread::Builder::new()
            .name("worker-stderr".into())
            .spawn(move || {
                let mut r = BufReader::new(stderr);
                let mut s = String::new();
                let mut buf = [0u8; 4096];
                while let Ok(n) = r.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    s.push_str(&String::from_utf8_lossy(&buf[..n]));
                    if let Ok(mut g) = eb.lock() {
                        // Keep the tail only: a chatty worker must not grow us unboundedly.
                        g.push_str(&s);
                        if g.len() > 16 << 10 {
                            let cut = g.len() - (8 << 10);
                            let cut = (cut..g.len()).find(|&i| g.is_char_boundary(i)).unwrap_or(0);
                            g.drain(..cut);
                        }
                    }
                    s.clear();
                }
            })?;
        let stdin = child.stdin.take();
        let mut h = WorkerHandle {
            child,
            stdin,
            events: rx,
            stderr: err_buf,
            map: MapInfo {
                pid: 0,
                addr: 0,
                len: 0,
                page_size: 0,
                startup_ns: 0,
            },
            path: path.to_path_buf(),
            size_at_start,
            exit: None,
            spawn_to_ready: Duration::ZERO,
        };
        let hello = match h.events.recv_timeout(deadline) {
            Ok(Event::Report(r)) => match *r {
                Report::Hello {
                    pid,
                    addr,
                    len,
                    page_size,
                    startup_ns,
                    ..
                } => Some(MapInfo {
                    pid,
                    addr,
                    len,
                    page_size,
                    startup_ns,
                }),
                _ => None,
            },
            _ => None,
        };
        match hello {
            Some(m) => {
                h.map = m;
                h.spawn_to_ready = t0.elapsed();
                Ok(h)
            }
            None => {
                let d = h.kill_and_explain();
                Err(std::io::Error::other(format!(
                    "the worker did not start: {}",
                    d.reason
                )))
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.map.pid
    }

    /// Sends a control message. An error means the worker is gone.
    pub fn send(&mut self, c: &Control) -> std::io::Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| std::io::Error::other("worker stdin closed"))?;
        let mut s = serde_json::to_string(c).map_err(std::io::Error::other)?;
        s.push('\n');
        stdin.write_all(s.as_bytes())?;
        stdin.flush()
    }

    /// The next event, waiting at most `timeout`.
    pub fn recv(&self, timeout: Duration) -> Option<Event> {
        match self.events.recv_timeout(timeout) {
            Ok(e) => Some(e),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => Some(Event::Closed),
        }
    }

    /// Every event already waiting.
    pub fn drain(&self) -> Vec<Event> {
        self.events.try_iter().collect()
    }

    /// Waits for the worker to exit, at most `deadline`, then kills it. Never hangs.
    pub fn wait(&mut self, deadline: Duration) -> ExitStatus {
        if let Some(s) = self.exit {
            return s;
        }
        let t0 = Instant::now();
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                self.exit = Some(s);
                return s;
            }
            if t0.elapsed() >= deadline {
                let _ = self.child.kill();
                let s = self
                    .child
                    .wait()
                    .unwrap_or_else(|_| ExitStatus::from_raw(9));
                self.exit = Some(s);
                return s;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Asks the worker to stop and waits for it (killing it after `deadline`).
    pub fn stop(&mut self, deadline: Duration) -> ExitStatus {
        let _ = self.send(&Control::Stop);
        self.stdin.take();
        self.wait(deadline)
    }

    /// Kills the worker (if alive) and says how it ended.
    pub fn kill_and_explain(&mut self) -> Death {
        let _ = self.child.kill();
        self.stdin.take();
        let st = self.wait(Duration::from_secs(2));
        self.explain(st)
    }

    /// After the report pipe closed: wait briefly and describe the death.
    pub fn death(&mut self) -> Death {
        self.stdin.take();
        let st = self.wait(Duration::from_secs(2));
        self.explain(st)
    }

    fn explain(&self, st: ExitStatus) -> Death {
        // Give the stderr thread a moment to collect the handler's line.
        std::thread::sleep(Duration::from_millis(20));
        let stderr = self.stderr.lock().map(|g| g.clone()).unwrap_or_default();
        explain_exit(st, &stderr, self.size_at_start, &self.path)
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        if self.exit.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Describes how a worker ended, in a sentence a student understands.
pub fn explain_exit(st: ExitStatus, stderr: &str, size_at_start: u64, path: &Path) -> Death {
    let now = std::fs::metadata(path).map(|m| m.len()).ok();
    if let Some(sig) = st.signal() {
        if sig == libc::SIGBUS {
            let off = stderr.lines().rev().find_map(|l| {
                l.strip_prefix("SIGBUS at offset ")
                    .and_then(|v| v.trim().parse::<u64>().ok())
            });
            let shrank = match now {
                Some(n) if n < size_at_start => format!(
                    "the file shrank from {} to {} while mapped",
                    human_bytes(size_at_start),
                    human_bytes(n)
                ),
                Some(n) => format!(
                    "the file is {} now (it was {} when mapped)",
                    human_bytes(n),
                    human_bytes(size_at_start)
                ),
                None => "the file is gone".to_string(),
            };
            let at = off
                .map(|o| {
                    format!(
                        "; it touched offset {o} ({}), beyond the new end",
                        human_bytes(o)
                    )
                })
                .unwrap_or_default();
            return Death {
                reason: format!("worker killed by SIGBUS: {shrank}{at}"),
                signal: Some(sig),
                code: None,
            };
        }
        return Death {
            reason: format!("worker killed by signal {} ({})", sig, signal_name(sig)),
            signal: Some(sig),
            code: None,
        };
    }
    let code = st.code();
    let tail = stderr.lines().last().unwrap_or("").trim().to_string();
    Death {
        reason: match code {
            Some(0) => "worker exited".to_string(),
            Some(c) if tail.is_empty() => format!("worker exited with status {c}"),
            Some(c) => format!("worker exited with status {c}: {tail}"),
            None => "worker ended".to_string(),
        },
        signal: None,
        code,
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        _ => "signal",
    }
}
