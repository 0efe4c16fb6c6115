//! The worker's protocol: newline-delimited JSON over two pipes.
//!
//! ```text
//!  parent ──stdin pipe──►  worker     Control, one JSON object per line
//!  parent ◄─stdout pipe──  worker     Report, one JSON object per line
//!  parent ◄─stderr pipe──  worker     free text; "SIGBUS at offset N" from the signal handler
//! ```
//!
//! JSON keeps it debuggable (`mmviz __worker FILE` can be driven by hand) and versionable;
//! volume is small because reports are per interval (~50 ms), not per access, and touched
//! pages travel as *new* page ranges only (bounded by the file's pages over a whole session).

use crate::kernel::advice::Advice;
use crate::kernel::counters::Faults;
use crate::workload::patterns::{PatternKind, PatternParams};
use serde::{Deserialize, Serialize};

pub const PROTOCOL_VERSION: u32 = 1;

/// A pattern and its parameters, without the file size (the worker knows it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PatternSpec {
    pub kind: PatternKind,
    pub seed: u64,
    pub access_size: u64,
    pub stride_pages: u64,
    pub hot_fraction: f64,
    pub hot_share: f64,
    /// Grep: the regex (required for grep, ignored otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// Grep: stop after this many matches (None: search the whole file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_matches: Option<u64>,
}

impl Default for PatternSpec {
    fn default() -> Self {
        PatternSpec {
            kind: PatternKind::Sequential,
            seed: 1,
            access_size: 1,
            stride_pages: PatternParams::DEFAULT_STRIDE_PAGES,
            hot_fraction: PatternParams::DEFAULT_HOT_FRACTION,
            hot_share: PatternParams::DEFAULT_HOT_SHARE,
            regex: None,
            max_matches: None,
        }
    }
}

impl PatternSpec {
    pub fn params(&self, file_size: u64, page_size: u64) -> PatternParams {
        PatternParams {
            kind: self.kind,
            seed: self.seed,
            file_size,
            page_size,
            access_size: self.access_size,
            stride_pages: self.stride_pages,
            hot_fraction: self.hot_fraction,
            hot_share: self.hot_share,
        }
    }
}

/// When a run stops by itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// One pass: all pages for streaming patterns, 100,000 accesses otherwise.
    #[default]
    OnePass,
    Accesses(u64),
    /// Milliseconds of running (pauses excluded).
    DurationMs(u64),
    /// Until told otherwise (the TUI: patterns loop).
    Unbounded,
}

/// Parent → worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Control {
    /// Sets the pattern and limit and restarts the pattern from its first access; counters of
    /// the timed window restart at zero. The touched set is kept (use `ResetTouched`).
    Configure {
        pattern: PatternSpec,
        limit: Limit,
        /// Accesses per second; None = unlimited.
        rate: Option<u64>,
        /// Start paused (the run begins with `Resume` or `Step`).
        paused: bool,
        /// Report at most this often while running fast.
        report_ms: u64,
    },
    SetRate {
        rate: Option<u64>,
    },
    Pause,
    Resume,
    /// One batch, then paused again.
    Step,
    /// madvise the whole mapping.
    Advise {
        advice: Advice,
    },
    /// `MADV_DONTNEED` on the whole mapping (so the parent can evict) and clear the touched set.
    DropMapping,
    ResetTouched,
    /// Exit now (status 0).
    Stop,
    /// Write mode: `msync(MS_SYNC)` (sync = true) or `msync(MS_ASYNC)` over the whole
    /// mapping, in the worker; answered with `Report::Msynced`.
    Msync {
        sync: bool,
    },
    /// Write mode: `msync(MS_SYNC)` after every N accesses (None: never); batches are capped
    /// at N accesses so the period holds at any rate.
    MsyncEvery {
        every: Option<u64>,
    },
    /// Write mode: share of accesses that store, 0.0..=1.0.
    SetWriteShare {
        share: f64,
    },
}

/// The worker's run state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerState {
    #[default]
    Idle,
    Running,
    Paused,
    Finished,
}

/// Cumulative progress since the last `Configure`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub seq: u64,
    pub state: WorkerState,
    pub pattern: PatternKind,
    pub rate: Option<u64>,
    pub advice: Advice,
    /// Accesses made since Configure.
    pub accesses: u64,
    pub batches: u64,
    /// Sum of the batches' timed windows (CLOCK_MONOTONIC, first access to last of each
    /// batch), ns: excludes waiting, bookkeeping and reporting.
    pub elapsed_ns: u64,
    /// Wall time from the first access to now (or to the finish), ns.
    pub wall_ns: u64,
    /// Fault deltas over the timed windows since Configure.
    pub faults: Faults,
    /// The worker's fault counters since it started (for rates in the UI).
    pub faults_total: Faults,
    /// Fault deltas of the latest batch.
    pub last_batch_faults: Faults,
    pub last_batch_accesses: u64,
    /// /proc/self/io read_bytes, since the worker started.
    pub read_bytes: Option<u64>,
    /// Distinct pages touched since the last ResetTouched / DropMapping.
    pub touched_pages: u64,
    /// Pages touched for the first time since the previous report, as (start, len) runs.
    pub new_touched: Vec<(u64, u64)>,
    /// True when the touched set was cleared since the previous report (apply before
    /// `new_touched`).
    pub touched_reset: bool,
    /// Pages accessed by the latest batches (at most a few hundred, sorted, deduplicated).
    pub recent: Vec<u64>,
    /// CLOCK_MONOTONIC ns of the first access since Configure (0: none yet); comparable with
    /// the parent's `counters::mono_ns()`.
    pub first_access_mono_ns: u64,
    /// Folded value of the bytes read (keeps the loads alive; equal runs give equal sums).
    pub checksum: u64,
    /// Grep: matches found so far (None for the other patterns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matches: Option<u64>,
    /// Grep: the first matches (offset, 1-based line number, line).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub first_matches: Vec<crate::workload::patterns::grep::GrepMatch>,
    /// Latencies of a sample of the accesses since Configure (see `latency`).
    #[serde(default)]
    pub latency: crate::latency::LatencyHist,
    /// Distinct 4 KiB pages and 2 MiB regions accessed since the previous report (the TLB
    /// reach estimate).
    #[serde(default)]
    pub interval_pages: u64,
    #[serde(default)]
    pub interval_regions: u64,
}

/// Worker → parent.
// Progress is large (latency histogram, grep matches), but a report is built every ~50 ms,
// parsed from JSON and moved a few times: boxing it would change every user for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "report", rename_all = "snake_case")]
pub enum Report {
    /// First line: where the file is mapped.
    Hello {
        version: u32,
        pid: u32,
        /// Address of file offset 0 (0 for an empty file: nothing mapped).
        addr: u64,
        /// Mapped bytes (the file size at start).
        len: u64,
        page_size: u64,
        /// Spawn-to-ready time in the worker (exec, open, mmap), ns since its main started.
        startup_ns: u64,
    },
    Progress(Progress),
    /// Answer to a control that can fail (Advise, DropMapping, Configure).
    Ack {
        what: String,
        error: Option<String>,
    },
    /// One msync call: its flag, its duration in the worker (CLOCK_MONOTONIC, ns) and its
    /// error. `periodic`: made by `MsyncEvery`, not by an explicit `Msync`.
    Msynced {
        sync: bool,
        ns: u64,
        periodic: bool,
        error: Option<String>,
    },
}

/// How the worker maps the file: read-only (the default), or writable on a scratch file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteMode {
    /// MAP_SHARED + PROT_WRITE: stores dirty the file's page-cache pages.
    Shared,
    /// MAP_PRIVATE + PROT_WRITE: the first store to a page copies it (copy-on-write); the
    /// file never changes.
    Private,
}

impl std::str::FromStr for WriteMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "shared" => Ok(WriteMode::Shared),
            "private" => Ok(WriteMode::Private),
            _ => Err(format!("--write '{s}' is not one of: shared, private")),
        }
    }
}

impl std::fmt::Display for WriteMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WriteMode::Shared => "shared",
            WriteMode::Private => "private",
        })
    }
}

/// How the worker process is started (command-line options of `mmviz __worker`), fixed for
/// its life: the mapping is set up once.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkerOptions {
    /// None: read-only mapping (the user's file). Some: a writable mapping, allowed only on a
    /// scratch file (the worker checks the name).
    pub write: Option<WriteMode>,
    /// Share of accesses that store (write mode only), 0.0..=1.0.
    pub write_share: f64,
    /// Keep the descriptor open after mmap (default: close it; the mapping does not need it).
    pub keep_fd: bool,
    /// RLIMIT_AS in bytes, set before mmap.
    pub address_space: Option<u64>,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            write: None,
            write_share: 1.0,
            keep_fd: false,
            address_space: None,
        }
    }
}

impl WorkerOptions {
    /// The `mmviz __worker` arguments after FILE.
    pub fn to_args(&self) -> Vec<String> {
        let mut a = Vec::new();
        if let Some(w) = self.write {
            a.push("--write".into());
            a.push(w.to_string());
            a.push("--write-share".into());
            a.push(self.write_share.to_string());
        }
        if self.keep_fd {
            a.push("--keep-fd".into());
        }
        if let Some(n) = self.address_space {
            a.push("--address-space".into());
            a.push(n.to_string());
        }
        a
    }
}
