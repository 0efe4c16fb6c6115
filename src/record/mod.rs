//! Recording a live session and reading it back, with no terminal code (the player and the
//! asciicast renderer live in `tui::replay`).
//!
//! A recording is JSON lines, so it streams, survives a crash up to the last whole line and
//! can be read with `jq`:
//!
//! ```text
//! {"type":"header","format":"mmviz-recording","version":2,"mmviz":"0.1.0","file":"data.bin",...}
//! {"type":"keyframe","t_ms":0,"snapshot":{...the Snapshot, packed (see delta.rs)...}}
//! {"type":"delta","t_ms":100,"patch":{"seq":1,"t_ms":100,"grid":{"cells":{"cols":{...}}}}}
//! {"type":"action","t_ms":850,"command":{"cmd":"evict"}}
//! {"type":"event","t_ms":900,"text":"evicted: 65,536 -> 0 pages cached"}
//! {"type":"lesson_step","t_ms":950,"step":{"lesson":"demand-paging","index":1,...}}
//! ```
//!
//! `t_ms` is milliseconds since recording started. Every frame is a keyframe (the whole
//! snapshot as `watch --json` prints it, with the grid stored column by column) or a delta
//! (what changed since the previous frame, [`delta`]); a keyframe is written when the deltas
//! since the last one add up to [`KEYFRAME_DELTA_FACTOR`] keyframes, or after [`KEYFRAME_MAX_MS`], so seeking
//! reads one keyframe and a bounded run of deltas. Version 1 recordings (a whole
//! `snapshot` line per frame) are still read. Actions are the [`Command`]s the UI sent; events
//! are the session's messages, written once when they change; lesson steps are what the
//! lesson runner reports ([`Recorder::lesson_step`]). The file's name is kept, not its full
//! path, unless asked (`--record-paths`): recordings get shared.

pub mod delta;
mod paths;
mod reader;

pub use reader::{Frame, Recording};

use crate::session::snapshot::{CellCounts, GridData};

/// A recorded grid fitted to `fits` cells (a smaller terminal than the recording's): runs of
/// `k` consecutive cells merged into one by summing their counts (a count unknown in any of
/// them stays unknown), so every page is still counted exactly once. A grid that fits is
/// returned unchanged: cells keep their recorded size.
pub fn fit_grid(g: &GridData, fits: usize) -> GridData {
    let Some(k) = merge_factor(g.cells.len(), fits) else {
        return g.clone();
    };
    let sum = |a: Option<u64>, b: Option<u64>| Some(a? + b?);
    let cells = g
        .cells
        .chunks(k)
        .map(|ch| {
            ch.iter().skip(1).fold(ch[0], |acc, c| CellCounts {
                pages: acc.pages + c.pages,
                cached: sum(acc.cached, c.cached),
                dirty: sum(acc.dirty, c.dirty),
                writeback: sum(acc.writeback, c.writeback),
                mapped: sum(acc.mapped, c.mapped),
                private: sum(acc.private, c.private),
                touched: acc.touched + c.touched,
                recent: acc.recent + c.recent,
                earlier: acc.earlier + c.earlier,
                huge: sum(acc.huge, c.huge),
            })
        })
        .collect::<Vec<CellCounts>>();
    // A merged cell is unsampled when any of its cells was (its cached count is then None).
    let unsampled = if g.unsampled == 0 {
        0
    } else {
        cells.iter().filter(|c| c.cached.is_none()).count() as u64
    };
    GridData {
        start_page: g.start_page,
        end_page: g.end_page,
        pages_per_cell: g.pages_per_cell * k as u64,
        cells,
        // A page index, not a cell index: unchanged by merging.
        eof_page: g.eof_page,
        unsampled,
    }
}

/// How many recorded cells [`fit_grid`] merges into one to fit `fits` (None: they fit).
fn merge_factor(cells: usize, fits: usize) -> Option<usize> {
    (fits > 0 && cells > fits).then(|| cells.div_ceil(fits))
}

/// A recorded snapshot fitted to `fits` grid cells: the grid by [`fit_grid`], and
/// `grid_mine` (the selected worker's own pages per cell) summed over the same runs of
/// cells, so a replay still tells "mapped by another worker" apart. A `grid_mine` that does
/// not match the recorded grid cell for cell is dropped (the grid widget ignores it anyway).
pub fn fit_snapshot(s: &Snapshot, fits: usize) -> Snapshot {
    let mut out = s.clone();
    let Some(k) = merge_factor(s.grid.cells.len(), fits) else {
        return out;
    };
    out.grid = fit_grid(&s.grid, fits);
    out.grid_mine = s
        .grid_mine
        .as_ref()
        .filter(|m| m.len() == s.grid.cells.len())
        .map(|m| m.chunks(k).map(|ch| ch.iter().sum()).collect());
    out
}

use crate::error::{io_reason, AppError, Result};
use crate::session::snapshot::{Command, Snapshot};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Instant;

/// Written in every header; a reader refuses a newer version.
pub const FORMAT: &str = "mmviz-recording";
pub const VERSION: u32 = 2;
/// A keyframe at least this often (ms), whatever the deltas weigh.
pub const KEYFRAME_MAX_MS: u64 = 30_000;
/// A keyframe once the deltas since the last one weigh this many keyframes: seeking then
/// reads at most one keyframe and this many keyframes' worth of deltas, and the keyframes
/// are at most 1/(1+this) of the recording.
pub const KEYFRAME_DELTA_FACTOR: u64 = 4;

/// The first line of a recording.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u32,
    /// The mmviz version that recorded it.
    pub mmviz: String,
    /// The recorded file's name (or full path with `--record-paths`).
    pub file: String,
    /// Wall-clock start, ms since the Unix epoch.
    pub started_unix_ms: u64,
}

/// One line of a recording.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Entry {
    Header(Header),
    /// Version 1: the whole snapshot, unpacked (read, no longer written).
    Snapshot {
        t_ms: u64,
        snapshot: Box<Snapshot>,
    },
    /// The whole snapshot's value, packed and run-length encoded ([`delta`]).
    Keyframe {
        t_ms: u64,
        snapshot: serde_json::Value,
    },
    /// What changed since the previous frame ([`delta::diff`] of the packed values).
    Delta {
        t_ms: u64,
        patch: serde_json::Value,
    },
    Action {
        t_ms: u64,
        command: Command,
    },
    Event {
        t_ms: u64,
        text: String,
    },
    LessonStep {
        t_ms: u64,
        step: LessonStep,
    },
}

/// A lesson step as the lesson runner reports it when the step is shown or its checks are
/// evaluated (a step may be recorded more than once: each time its checks change).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LessonStep {
    /// The lesson's name (its file stem).
    pub lesson: String,
    /// The step's index in the lesson, from 0.
    pub index: u32,
    pub title: String,
    pub checks: Vec<CheckRecord>,
}

/// One check of a lesson step and what was measured for it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckRecord {
    /// The check as the lesson file writes it, e.g. `faults.major_total >= 1`.
    pub check: String,
    pub verdict: CheckVerdict,
    /// The measured value (None when the field was not measured here).
    pub measured: Option<serde_json::Value>,
    /// What was seen instead, or why it was not measured.
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckVerdict {
    Pass,
    Fail,
    /// The field is absent or null on this machine (not a pass, not a fail).
    NotMeasured,
    /// The check's `applies_if` does not hold on this machine (the note says why).
    NotApplicable,
    /// The step was skipped (the note says why).
    Skipped,
    /// Not evaluated yet (the step was just shown).
    Pending,
}

/// Creates `path` for writing, refusing to replace an existing file unless `force`.
pub fn create_output(path: &Path, force: bool) -> Result<File> {
    let mut o = OpenOptions::new();
    o.write(true);
    if force {
        o.create(true).truncate(true);
    } else {
        o.create_new(true);
    }
    o.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            AppError::bad_input(path, "already exists (use --force to overwrite it)")
        } else {
            AppError::bad_input(path, io_reason(&e))
        }
    })
}

/// Writes a recording line by line (each line flushed, so a crash loses at most the line
/// being written).
pub struct Recorder {
    out: BufWriter<File>,
    start: Instant,
    paths: paths::PathPolicy,
    last_message: Option<String>,
    /// The last frame's packed value (what the next delta is taken against).
    prev: Option<serde_json::Value>,
    /// Bytes of the last keyframe, of the deltas since, and when it was written.
    key_bytes: u64,
    since_key_bytes: u64,
    key_t_ms: u64,
    /// Bytes written so far (header included).
    written: u64,
}

impl Recorder {
    /// Starts a recording of `recorded` (a path; only its name is kept unless `keep_paths`).
    pub fn create(path: &Path, force: bool, recorded: &Path, keep_paths: bool) -> Result<Self> {
        let file = create_output(path, force)?;
        let mut r = Recorder {
            out: BufWriter::new(file),
            start: Instant::now(),
            paths: paths::PathPolicy::new(keep_paths, recorded),
            last_message: None,
            prev: None,
            key_bytes: 0,
            since_key_bytes: 0,
            key_t_ms: 0,
            written: 0,
        };
        let header = Header {
            format: FORMAT.into(),
            version: VERSION,
            mmviz: env!("CARGO_PKG_VERSION").into(),
            file: r.paths.name(&recorded.display().to_string()),
            started_unix_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        };
        r.write(&Entry::Header(header))
            .map_err(|e| AppError::runtime(format!("{}: {}", path.display(), io_reason(&e))))?;
        Ok(r)
    }

    fn t_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// Writes one line; its length in bytes.
    fn write(&mut self, e: &Entry) -> std::io::Result<u64> {
        let mut line = serde_json::to_vec(e)?;
        line.push(b'\n');
        self.out.write_all(&line)?;
        self.out.flush()?;
        self.written += line.len() as u64;
        Ok(line.len() as u64)
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// Records a snapshot (its paths shortened, [`paths`]), and its message as an event when it changed.
    pub fn snapshot(&mut self, s: &Snapshot) -> std::io::Result<()> {
        let t_ms = self.t_ms();
        if s.message.is_some() && s.message != self.last_message {
            self.last_message = s.message.clone();
            let text = self.paths.text(s.message.as_deref().unwrap_or_default());
            self.write(&Entry::Event { t_ms, text })?;
        }
        let mut v = serde_json::to_value(s)?;
        self.paths.snapshot(&mut v);
        delta::pack(&mut v);
        let key = match &self.prev {
            None => true,
            Some(_) => {
                self.since_key_bytes >= KEYFRAME_DELTA_FACTOR * self.key_bytes
                    || t_ms.saturating_sub(self.key_t_ms) >= KEYFRAME_MAX_MS
            }
        };
        if key {
            let n = self.write(&Entry::Keyframe {
                t_ms,
                snapshot: delta::compress(&v),
            })?;
            (self.key_bytes, self.since_key_bytes, self.key_t_ms) = (n, 0, t_ms);
        } else {
            let prev = self.prev.as_ref().expect("not a keyframe: prev is set");
            let patch = delta::diff(prev, &v).unwrap_or_else(|| serde_json::json!({}));
            self.since_key_bytes += self.write(&Entry::Delta { t_ms, patch })?;
        }
        self.prev = Some(v);
        Ok(())
    }

    /// Records a lesson step (shown, or its checks evaluated).
    pub fn lesson_step(&mut self, step: &LessonStep) -> std::io::Result<()> {
        let t_ms = self.t_ms();
        self.write(&Entry::LessonStep {
            t_ms,
            step: step.clone(),
        })
        .map(drop)
    }

    /// Records a command the UI sent.
    pub fn action(&mut self, c: &Command) -> std::io::Result<()> {
        let t_ms = self.t_ms();
        self.write(&Entry::Action {
            t_ms,
            command: c.clone(),
        })
        .map(drop)
    }
}

/// Puts a recorder between the session and the UI: returns the channel ends the UI uses in
/// place of the session's. Two forwarding threads pass every snapshot and command through
/// unchanged and record them; they end when either side hangs up. A write error stops the
/// recording (reported on stderr after the UI ends) but never the session.
pub fn tee(
    to_session: Sender<Command>,
    from_session: Receiver<Snapshot>,
    recorder: Recorder,
) -> (Sender<Command>, Receiver<Snapshot>, TeeHandle) {
    let rec = std::sync::Arc::new(std::sync::Mutex::new(Some(recorder)));
    let failed = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
    let (ui_tx, ui_rx) = mpsc::channel::<Command>();
    let (snap_tx, snap_rx) = mpsc::channel::<Snapshot>();
    let record = {
        let rec = rec.clone();
        let failed = failed.clone();
        move |f: &mut dyn FnMut(&mut Recorder) -> std::io::Result<()>| {
            let mut g = rec.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(r) = g.as_mut() {
                if let Err(e) = f(r) {
                    *failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(io_reason(&e));
                    *g = None;
                }
            }
        }
    };
    let rec_cmd = record.clone();
    let commands = std::thread::spawn(move || {
        for c in ui_rx {
            rec_cmd(&mut |r| r.action(&c));
            if to_session.send(c).is_err() {
                break;
            }
        }
    });
    let snapshots = std::thread::spawn(move || {
        for s in from_session {
            record(&mut |r| r.snapshot(&s));
            if snap_tx.send(s).is_err() {
                break;
            }
        }
    });
    (
        ui_tx,
        snap_rx,
        TeeHandle {
            threads: vec![commands, snapshots],
            sink: LessonSink { rec, failed },
        },
    )
}

/// Where the lesson runner reports its steps while [`tee`] records: cloneable, and sendable
/// to whichever thread runs the lesson. Writes go to the same file as the snapshots.
#[derive(Clone)]
pub struct LessonSink {
    rec: std::sync::Arc<std::sync::Mutex<Option<Recorder>>>,
    failed: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

impl LessonSink {
    /// Records a lesson step; a write error stops the recording as in [`tee`].
    pub fn lesson_step(&self, step: &LessonStep) {
        let mut g = self.rec.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = g.as_mut() {
            if let Err(e) = r.lesson_step(step) {
                *self.failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(io_reason(&e));
                *g = None;
            }
        }
    }
}

impl std::fmt::Debug for LessonSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LessonSink")
    }
}

/// The forwarding threads of [`tee`].
pub struct TeeHandle {
    threads: Vec<std::thread::JoinHandle<()>>,
    sink: LessonSink,
}

impl TeeHandle {
    /// The handle the lesson runner records its steps through.
    pub fn lesson_sink(&self) -> LessonSink {
        self.sink.clone()
    }

    /// Waits for the snapshot thread (it ends once the session hung up, so every snapshot is
    /// on disk); the write error that stopped the recording, if any. The command thread is
    /// not waited for: the UI's hang-up watchdog keeps a sender alive to the end, and a
    /// command sent after the session ended has nothing to record.
    pub fn finish(mut self) -> Option<String> {
        if let Some(t) = self.threads.pop() {
            let _ = t.join();
        }
        let e = self
            .sink
            .failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::fixture::fixture_snapshot;

    #[test]
    fn fit_grid_merges_cells_and_keeps_every_page() {
        let g = fixture_snapshot().grid;
        let n = g.cells.len();
        let pages: u64 = g.cells.iter().map(|c| c.pages).sum();
        for fits in [n + 10, n, n / 2, n / 3, 7, 1] {
            let f = fit_grid(&g, fits);
            assert!(
                f.cells.len() <= fits.max(1) && !f.cells.is_empty(),
                "fits {fits}"
            );
            assert_eq!(f.cells.iter().map(|c| c.pages).sum::<u64>(), pages);
            let cached = |g: &GridData| g.cells.iter().map(|c| c.cached.unwrap()).sum::<u64>();
            assert_eq!(cached(&f), cached(&g));
            if fits >= n {
                assert_eq!(f, g, "fits: unchanged");
            }
        }
        let mut h = g.clone();
        h.cells[0].cached = None;
        assert_eq!(
            fit_grid(&h, 2).cells[0].cached,
            None,
            "unknown stays unknown"
        );
    }

    #[test]
    fn fit_snapshot_sums_the_selected_workers_share_over_the_merged_cells() {
        let mut s = fixture_snapshot();
        let n = s.grid.cells.len();
        let mine: Vec<u64> = (0..n as u64).map(|i| i % 3).collect();
        s.grid_mine = Some(mine.clone());
        let f = fit_snapshot(&s, n / 3);
        let k = n.div_ceil(n / 3);
        assert_eq!(f.grid, fit_grid(&s.grid, n / 3));
        let m = f.grid_mine.unwrap();
        assert_eq!(m.len(), f.grid.cells.len());
        assert_eq!(m.iter().sum::<u64>(), mine.iter().sum::<u64>());
        assert_eq!(m[1], mine[k..2 * k].iter().sum::<u64>());
        assert_eq!(fit_snapshot(&s, n), s, "fits: unchanged");
        s.grid_mine = Some(vec![1; n - 1]);
        assert_eq!(fit_snapshot(&s, n / 2).grid_mine, None, "not cell for cell");
    }

    #[test]
    fn tee_forwards_everything_and_records_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rec.jsonl");
        let rec = Recorder::create(&path, false, Path::new("/secret/dir/data.bin"), false).unwrap();
        let (sess_tx, sess_rx) = mpsc::channel::<Command>();
        let (snap_tx, snap_rx) = mpsc::channel::<Snapshot>();
        let (ui_tx, ui_rx, h) = tee(sess_tx, snap_rx, rec);
        let mut s = fixture_snapshot();
        s.message = None;
        s.file.path = "/secret/dir/data.bin".into();
        snap_tx.send(s.clone()).unwrap();
        assert_eq!(ui_rx.recv().unwrap(), s, "forwarded unchanged");
        ui_tx.send(Command::Evict).unwrap();
        assert_eq!(sess_rx.recv().unwrap(), Command::Evict);
        s.message = Some("evicted".into());
        snap_tx.send(s.clone()).unwrap();
        ui_rx.recv().unwrap();
        let step = LessonStep {
            lesson: "demand-paging".into(),
            index: 1,
            title: "first touch".into(),
            checks: vec![CheckRecord {
                check: "faults.major_total >= 1".into(),
                verdict: CheckVerdict::Pass,
                measured: Some(3.into()),
                note: None,
            }],
        };
        h.lesson_sink().lesson_step(&step);
        drop((ui_tx, snap_tx));
        assert_eq!(h.finish(), None);
        let text = std::fs::read_to_string(&path).unwrap();
        let rec = Recording::open(&path).unwrap();
        assert_eq!(rec.lesson_steps.len(), 1);
        assert_eq!(rec.lesson_steps[0].1, step);
        assert!(
            !text.contains("/secret"),
            "only the file's name is recorded"
        );
        let kinds: Vec<String> = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["type"].to_string())
            .collect();
        assert_eq!(
            kinds,
            [
                "\"header\"",
                "\"keyframe\"",
                "\"action\"",
                "\"event\"",
                "\"delta\"",
                "\"lesson_step\""
            ]
        );
        // Never overwritten without force.
        let e = Recorder::create(&path, false, Path::new("x"), false)
            .err()
            .unwrap();
        assert_eq!(e.code, 2);
        assert!(e.msg.contains("--force"), "{}", e.msg);
        assert!(Recorder::create(&path, true, Path::new("x"), true).is_ok());
    }
}
