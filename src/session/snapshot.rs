//! The owned, plain data the sampler sends to the UI (and to JSON / recordings).
//!
//! Everything the screen shows comes from one `Snapshot`; widgets are pure functions of it.
//! Counts the kernel hides are `None` (JSON `null`), never a made-up number.

use crate::kernel::advice::Advice;
use crate::workload::patterns::PatternKind;
use serde::{Deserialize, Serialize};

pub use crate::kernel::fsinfo::FsInfo;
pub use crate::kernel::pagemap::PagemapSource;
pub use crate::kernel::residency::CacheSource;

/// Static facts about the file being shown.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FileInfo {
    pub path: String,
    pub size_bytes: u64,
    pub page_size: u64,
    pub pages: u64,
    pub filesystem: FsInfo,
    /// `read_ahead_kb` of the backing block device (None: no block device, e.g. tmpfs/nfs).
    pub read_ahead_kb: Option<u64>,
    /// Transparent huge page mode, e.g. "madvise" (None where /sys does not say).
    pub thp_mode: Option<String>,
    /// The built-in demo file (the header says so).
    pub is_demo: bool,
    /// Bytes the filesystem has allocated (`st_blocks * 512`); less than `size_bytes` for a
    /// sparse file, whose holes are zero-filled by the kernel without any disk I/O.
    #[serde(default)]
    pub allocated_bytes: Option<u64>,
    /// What changed under the session since the file was opened (it shrank, grew, was
    /// replaced or deleted), in a sentence, with what `r` will do about it.
    #[serde(default)]
    pub notice: Option<String>,
    /// Write mode: `path` is a scratch copy of `write.source` (the user's file, never written).
    #[serde(default)]
    pub write: Option<WriteInfo>,
}

/// The live view's write mode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WriteInfo {
    pub mode: crate::workload::worker::WriteMode,
    /// Share of accesses that store.
    pub share: f64,
    /// The scratch copy the worker writes (escaped for the terminal).
    pub scratch: String,
    /// The user's file it was copied from (escaped for the terminal).
    pub source: String,
    /// The kernel's flusher clock, read from /proc/sys/vm at the start: dirty pages older
    /// than `dirty_expire` are written back by the flusher, which wakes every
    /// `dirty_writeback` (centiseconds; None where /proc/sys does not say).
    pub dirty_expire_centisecs: Option<u64>,
    pub dirty_writeback_centisecs: Option<u64>,
}

/// What this machine and kernel can tell, and what they hide.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Capabilities {
    pub cache_source: CacheSource,
    /// False when the kernel hides page-cache state from us (cachestat EPERM; mincore would
    /// then report every page resident). Cache counts are then `None`.
    pub cache_state_visible: bool,
    /// Why the cache state is hidden, or a caveat (e.g. tmpfs is always resident).
    pub cache_note: Option<String>,
    pub pagemap: PagemapSource,
    pub pagemap_note: Option<String>,
}

/// Hardware TLB facts, if the machine has the counters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TlbInfo {
    /// True when hardware counters (dTLB, cycles, instructions) can be read for the worker.
    pub supported: bool,
    /// Why not, when not (e.g. "no hardware PMU … (ENOENT)").
    pub reason: Option<String>,
    /// One status line: "supported", "partly supported: …", "unsupported: REASON (ERRNO)".
    #[serde(default)]
    pub status: String,
    /// Counter rates of the last interval, when supported.
    #[serde(default)]
    pub hardware: Option<crate::kernel::tlb::HardwareRates>,
    /// The TLBs CPUID reports (empty levels: not reported by this CPU/VM).
    #[serde(default)]
    pub geometry: crate::kernel::tlb::TlbGeometry,
    /// Labelled estimate: pages/regions touched in the last interval vs the TLB's reach.
    #[serde(default)]
    pub estimate: Option<crate::kernel::tlb::ReachEstimate>,
    /// smaps of the worker: how much of the file is mapped with huge (PMD) entries.
    #[serde(default)]
    pub huge: Option<crate::kernel::tlb::HugeMapped>,
    /// The worker's timed accesses of the last ~1 s and its faults over the same batches.
    #[serde(default)]
    pub latency: Option<LatencyView>,
    /// The `t` measurement (4 KiB vs huge pages, `mmviz tlb` from the session).
    #[serde(default)]
    pub measurement: TlbMeasureState,
    /// Entries a 4 KiB page covers vs a 2 MiB page: facts shown as text.
    pub notes: Vec<String>,
}

impl TlbInfo {
    /// The panel's facts from the kernel's probe; the interval's figures come later.
    pub fn from_probe(p: crate::kernel::tlb::Probe) -> TlbInfo {
        TlbInfo {
            supported: p.supported,
            reason: p.reason,
            status: p.status,
            geometry: p.geometry,
            notes: p.notes,
            ..TlbInfo::default()
        }
    }
}

/// The `t` key's 4 KiB vs huge page measurement, as the TLB panel shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TlbMeasureState {
    #[default]
    Idle,
    Running {
        /// 0.0..=1.0 (working sets done / working sets).
        progress: f64,
        /// The working set being measured now.
        working_set_bytes: u64,
    },
    Done(TlbMeasureResult),
    Failed {
        error: String,
    },
}

/// A finished `t` measurement: the rows of `mmviz tlb` and what they depend on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TlbMeasureResult {
    pub thp_mode: Option<String>,
    pub hardware_counters: String,
    pub rows: Vec<TlbMeasureRow>,
    /// The smallest working set from which 4 KiB pages stay slower (`tlbbench::find_knee`).
    pub knee_working_set_bytes: Option<u64>,
    /// Why the largest working set is smaller than asked (free memory), if it is.
    pub capped: Option<String>,
    pub elapsed_ms: u64,
}

impl TlbMeasureResult {
    /// One line for the status bar, the log and the compact panel.
    pub fn summary(&self) -> String {
        let r = self;
        let best = r
            .rows
            .iter()
            .filter_map(|w| Some((w.working_set_bytes, w.ratio?)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        match (r.knee_working_set_bytes, best) {
            (Some(k), Some((ws, x))) => format!(
                "4 KiB pages slower from {} on, up to {x:.2}× at {}",
                crate::units::human_bytes(k),
                crate::units::human_bytes(ws)
            ),
            (None, Some((ws, x))) => format!(
                "no knee up to {}: largest ratio {x:.2}× at {}",
                crate::units::human_bytes(r.rows.last().map_or(0, |w| w.working_set_bytes)),
                crate::units::human_bytes(ws)
            ),
            (_, None) => format!(
                "no huge pages granted (THP {}): no ratio",
                r.thp_mode.as_deref().unwrap_or("unknown")
            ),
        }
    }
}

/// One working set, min ns per dependent access both ways.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TlbMeasureRow {
    pub working_set_bytes: u64,
    pub ns_4k: f64,
    pub ns_huge: f64,
    /// None when the huge region did not get huge pages.
    pub ratio: Option<f64>,
}

/// One interval of the access-latency histogram with the fault deltas of the same batches
/// (both from the worker's reports), for `tui::widgets::latency`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyView {
    pub hist: crate::latency::LatencyHist,
    pub minor: u64,
    pub major: u64,
    pub interval_ms: u64,
}

/// Page counts of one grid cell (a run of consecutive pages).
///
/// States of a page, most specific first: private copy (present, anonymous: a written
/// MAP_PRIVATE page) > mapped (present in the worker's page table) > cached (in the page
/// cache, not mapped: the next touch is a minor fault) > not cached (the next touch is a major
/// fault). `cached`/`dirty` are `None` when the kernel hides page-cache state; `mapped` and
/// `private` are `None` when the worker's page table cannot be read (or no worker runs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellCounts {
    pub pages: u64,
    /// Pages in the page cache (including the mapped ones).
    pub cached: Option<u64>,
    pub dirty: Option<u64>,
    /// Pages under writeback (being written to disk now); None where the kernel cannot tell.
    #[serde(default)]
    pub writeback: Option<u64>,
    /// Pages present in the worker's page table as file pages.
    pub mapped: Option<u64>,
    /// Pages present in the worker's page table as private (anonymous) copies.
    pub private: Option<u64>,
    /// Distinct pages the workload touched since the last evict/reset.
    pub touched: u64,
    /// Pages accessed in the latest batches (the moving front).
    pub recent: u64,
    /// Pages that were already cached when the current interval began (start, evict, pattern
    /// switch, warm, reset) and that the workload has not touched since: "cached only", never
    /// readahead. Tracked as a set of the pages cached at that instant, bounded by the page
    /// cache (not by the file's size).
    #[serde(default)]
    pub earlier: u64,
    /// Pages mapped by a PMD (2 MiB huge mapping: one TLB entry for 512 pages), from
    /// PAGEMAP_SCAN's PAGE_IS_HUGE; None when that cannot be told (pread fallback, no worker).
    #[serde(default)]
    pub huge: Option<u64>,
}

impl CellCounts {
    /// Cached but not mapped (next touch = minor fault).
    pub fn cached_only(&self) -> Option<u64> {
        let c = self.cached?;
        Some(c.saturating_sub(self.mapped.unwrap_or(0)))
    }
    /// Not in the page cache (a private copy's file page may or may not be cached; it counts
    /// as private, not here).
    pub fn not_cached(&self) -> Option<u64> {
        let c = self.cached?;
        Some(
            self.pages
                .saturating_sub(c.max(self.mapped.unwrap_or(0)))
                .saturating_sub(self.private.unwrap_or(0)),
        )
    }
    /// Readahead ghosts: pages the kernel brought into the cache during the current interval
    /// that the workload never touched (cached now, not cached when the interval began, not
    /// touched). Exact while nothing is evicted under memory pressure; a lower bound otherwise.
    pub fn ghosts(&self) -> Option<u64> {
        Some(
            self.cached?
                .saturating_sub(self.touched)
                .saturating_sub(self.earlier),
        )
    }
}

/// The grid's data: `cells` equal runs of pages over `start_page..end_page`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GridData {
    pub start_page: u64,
    pub end_page: u64,
    /// Pages per cell (the last cell may hold fewer).
    pub pages_per_cell: u64,
    pub cells: Vec<CellCounts>,
    /// The first page past the file's current end when the file shrank under the worker's
    /// mapping and that lies inside the grid: pages from here on raise SIGBUS when touched.
    #[serde(default)]
    pub eof_page: Option<u64>,
    /// Cells whose page-cache counts were not sampled yet since the view changed (sampling is
    /// spread over frames when the cache is huge); their `cached` is `None`.
    #[serde(default)]
    pub unsampled: u64,
}

/// Whole-file counts (pages).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub cached: Option<u64>,
    pub dirty: Option<u64>,
    #[serde(default)]
    pub writeback: Option<u64>,
    pub mapped: Option<u64>,
    pub private: Option<u64>,
    pub touched: u64,
    pub ghosts: Option<u64>,
}

/// What the worker process is doing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RunState {
    #[default]
    Starting,
    Running,
    Paused,
    /// The pattern made its pass (or hit --accesses / --duration).
    Finished,
    /// The worker died: how, in words (e.g. "killed by SIGBUS: the file shrank from 256 MiB
    /// to 1 MiB; offset 0x1000000 is beyond the end").
    Dead {
        reason: String,
    },
    /// The worker process is alive but stopped (state T in /proc/<pid>/stat, e.g. SIGSTOP):
    /// it runs nothing and reports nothing until it is continued.
    Stopped {
        reason: String,
    },
}

/// The workload's settings and progress.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkerInfo {
    pub pid: Option<u32>,
    pub state: RunState,
    pub pattern: PatternKind,
    /// Accesses per second; None = unlimited.
    pub rate: Option<u64>,
    pub advice: Advice,
    pub access_size: u64,
    pub accesses: u64,
    pub batches: u64,
}

/// The interval every total and ratio is measured over: since the last reset, which happens
/// together for all of them (worker start or restart, evict, pattern switch, warm, `r`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// What began it: "start", "restart", "evict", "pattern", "warm", "comparison".
    pub reason: String,
    /// Milliseconds since it began.
    pub since_ms: u64,
    /// The worker's absolute counters (/proc/<pid>/stat minflt, majflt) when it began.
    pub minor_at_start: u64,
    pub major_at_start: u64,
    /// Whole-file cached pages when it began (None when hidden).
    pub cached_at_start: Option<u64>,
}

/// Fault counters of the worker and what they brought in. Totals and ratios are over
/// `interval` (since the last reset); rates are over the last second.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultStats {
    #[serde(default)]
    pub interval: Interval,
    pub minor_total: u64,
    pub major_total: u64,
    /// Per second over the last second (or since the interval began, if shorter).
    pub minor_rate: f64,
    pub major_rate: f64,
    /// Recent per-interval fault counts, oldest first (for sparklines).
    pub minor_history: Vec<u64>,
    pub major_history: Vec<u64>,
    /// Pages of the file cached now that were not cached when the interval began.
    #[serde(default)]
    pub newly_cached: Option<u64>,
    /// `newly_cached / major_total` (readahead per major fault), since the last reset.
    pub pages_cached_per_major: Option<f64>,
    /// Pages newly mapped per fault (fault-around, large folios), since the last reset.
    pub pages_mapped_per_fault: Option<f64>,
    /// Bytes the worker caused to be read from storage (`/proc/<pid>/io` read_bytes) since
    /// the interval began.
    pub read_bytes: Option<u64>,
    /// Why major faults read nothing from disk, when that is what was measured (holes of a
    /// sparse file are zero-filled by the kernel: a major fault without I/O).
    #[serde(default)]
    pub major_note: Option<String>,
}

/// When the workload first touched a page and what that access cost, recorded for accesses
/// run in batches of at most `FIRST_TOUCH_BATCH` (slow rates and single steps), where a
/// batch's faults belong to that access alone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirstTouch {
    pub page: u64,
    /// Milliseconds since the session started.
    pub t_ms: u64,
    /// The access number within the interval.
    pub access: u64,
    /// Accesses in its batch (1: the faults are exactly this access's).
    pub batch_accesses: u64,
    pub minor_faults: u64,
    pub major_faults: u64,
}

/// Largest batch whose touches are recorded page by page.
pub const FIRST_TOUCH_BATCH: u64 = 10;

/// One line of the event log: what happened, and when.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Milliseconds since the session started.
    pub t_ms: u64,
    pub text: String,
}

/// Which page-cache state the `c` comparison starts each repeat from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CompareCache {
    /// Evicted before every repeat of every method.
    #[default]
    Cold,
    /// Read sequentially into the cache before every repeat.
    Warm,
    /// Whatever the cache holds when `c` is pressed (set it up with `e`, `w`, `W`).
    AsIs,
}

impl CompareCache {
    pub fn name(self) -> &'static str {
        match self {
            CompareCache::Cold => "cold",
            CompareCache::Warm => "warm",
            CompareCache::AsIs => "as-is",
        }
    }
    pub fn next(self) -> CompareCache {
        match self {
            CompareCache::Cold => CompareCache::Warm,
            CompareCache::Warm => CompareCache::AsIs,
            CompareCache::AsIs => CompareCache::Cold,
        }
    }
}

impl std::str::FromStr for CompareCache {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [CompareCache::Cold, CompareCache::Warm, CompareCache::AsIs]
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| format!("comparison cache '{s}' is not cold, warm or as-is"))
    }
}

/// One method's result in the mmap-vs-read comparison.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MethodResult {
    pub method: String,
    pub ns_per_access: f64,
    pub ns_per_access_min: f64,
    pub ns_per_access_max: f64,
    pub mb_per_s: f64,
    pub minor_faults: u64,
    pub major_faults: u64,
    pub syscalls: u64,
    pub cached_before: Option<u64>,
    pub cached_after: Option<u64>,
}

/// A finished comparison, as the panel shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ComparisonResult {
    pub pattern: PatternKind,
    /// "cold", "warm" or "as-is".
    pub cache: String,
    pub accesses: u64,
    pub access_size: u64,
    pub results: Vec<MethodResult>,
    /// One line, e.g. "mmap 3.1× faster than pread: random, warm".
    pub verdict: String,
    /// One line, e.g. "100,000 syscalls avoided vs 512 minor faults taken".
    pub why: String,
    /// What was skipped or capped to stay within memory, one sentence each.
    #[serde(default)]
    pub notes: Vec<String>,
    /// The verdict as a word: `mmap_faster`, `about_equal` or `read_faster` (plain mmap vs
    /// the counterpart the verdict names, from the medians and the repeats' spread).
    #[serde(default)]
    pub outcome: Option<String>,
}

/// The comparison panel's state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ComparisonState {
    #[default]
    Idle,
    Running {
        /// 0.0..=1.0
        progress: f64,
        method: String,
    },
    Done(ComparisonResult),
    Failed {
        error: String,
    },
}

/// The search a grep or bsearch pattern runs, as the search panel shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SearchView {
    Grep {
        regex: String,
        /// No `--regex` was given: this is mmviz's default regex.
        default_regex: bool,
        max_matches: Option<u64>,
        /// Matches found so far (all of them once the worker has finished).
        matches: u64,
        /// The first matches: byte offset, 1-based line number, the line (lossy UTF-8).
        first_matches: Vec<crate::workload::patterns::grep::GrepMatch>,
    },
    Bsearch {
        /// Records of `record_size` bytes in the file.
        records: u64,
        record_size: u64,
        /// Probes of one lookup at most: floor(log2(records)) + 1.
        max_probes: u64,
    },
}

/// Events kept in a snapshot for the message log.
pub const EVENTS_KEPT: usize = 40;

/// Everything the UI shows at one instant.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub schema_version: u32,
    /// Increases by one per snapshot.
    pub seq: u64,
    /// Milliseconds since the session started.
    pub t_ms: u64,
    pub file: FileInfo,
    pub caps: Capabilities,
    pub worker: WorkerInfo,
    pub grid: GridData,
    pub totals: Totals,
    pub faults: FaultStats,
    pub tlb: TlbInfo,
    pub comparison: ComparisonState,
    /// The latest event worth a line on screen ("evicted: 65,536 -> 0 pages cached").
    pub message: Option<String>,
    /// The page under the inspector's cursor (cursor mode), measured by the session.
    #[serde(default)]
    pub inspector: Option<crate::inspect::PageReport>,
    /// The latest events, oldest first (at most `EVENTS_KEPT`), for the message log.
    #[serde(default)]
    pub events: Vec<LogEntry>,
    /// A standing warning that needs the user's attention (e.g. the page cache of this file
    /// passed half of the memory that was available at the start).
    #[serde(default)]
    pub warning: Option<String>,
    /// The cache state the next `c` comparison starts from.
    #[serde(default)]
    pub compare_cache: CompareCache,
    /// The inspected page's first touch in this interval, when it was recorded.
    #[serde(default)]
    pub inspected_first_touch: Option<FirstTouch>,
    /// The grep or bsearch pattern's search (None for the other patterns).
    #[serde(default)]
    pub search: Option<SearchView>,
    /// Every workload, by id (schema 3). `worker`, `faults`, `tlb` and
    /// `inspected_first_touch` above are the selected workload's; `grid` and `totals` are the
    /// union over all workloads (`totals.mapped`: pages any of them maps; `totals.touched`:
    /// pages any of them touched), and `grid_mine` is the selected one's share per cell.
    #[serde(default)]
    pub workloads: Vec<WorkloadView>,
    /// With several workloads: per grid cell (same order as `grid.cells`), the pages the
    /// selected workload itself maps (file pages or private copies), so the grid can tell
    /// "mapped by the selected worker" from "mapped by another"; `grid`'s `mapped` and
    /// `private` are then the union over every workload. None with one workload (whose
    /// `mapped` and `private` are its own) or where its page table cannot be read.
    #[serde(default)]
    pub grid_mine: Option<Vec<u64>>,
    /// Set when the screen observes another program (`mmviz attach` / `mmviz exec`) instead
    /// of running mmviz's own worker: the workload keys are unavailable.
    #[serde(default)]
    pub observed: Option<ObservedInfo>,
    /// Other processes (not this session or its workers) that map the file, from
    /// /proc/*/maps about every 5 s. What they read enters the page cache too, and the session
    /// cannot tell it from readahead: it is in `totals.ghosts`. Processes that read the file
    /// with read() are not seen.
    #[serde(default)]
    pub other_mappers: Vec<OtherMapper>,
}

/// Another process that maps the session's file (same device and inode in its maps).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtherMapper {
    pub pid: u32,
    /// Its command name (/proc/<pid>/comm).
    pub comm: String,
}

/// One workload of the live session (a worker process with its own pattern, rate, counters
/// and page table), as the worker panel shows them side by side.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkloadView {
    /// 1, 2, ...: "worker N" on screen (ids are not reused within a session).
    pub id: u32,
    /// The workload the pattern, rate, advice, pause and step keys act on (Tab changes it).
    pub selected: bool,
    pub worker: WorkerInfo,
    /// This workload's faults (/proc/<pid>/stat) over its own interval.
    pub faults: FaultStats,
    /// Distinct pages it touched in its interval.
    pub touched: u64,
    /// Its address space and descriptor, read from /proc (about twice a second).
    pub process: Option<crate::kernel::addrspace::ProcessView>,
    /// A measured sentence about the page cache it found, for a workload added while another
    /// ran: e.g. "worker 2: 0 major faults, 1,024 minor: the page cache is shared". Only its
    /// own counts, never a claim they do not show.
    pub cache_note: Option<String>,
}

/// A foreign process observed through /proc (`mmviz attach PID`, `mmviz exec -- CMD`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ObservedInfo {
    /// "attach" or "exec".
    pub command: String,
    pub pid: u32,
    /// Its command name now (/proc/PID/stat; changes on execve). Escaped for the terminal.
    pub comm: String,
    /// exec only: what mmviz started.
    pub argv: Option<Vec<String>>,
    /// How the watched file was chosen: "given", "largest mapped", "picked with f";
    /// None when no file is watched.
    pub chosen: Option<String>,
    /// Why no file is watched (None when one is).
    pub file_note: Option<String>,
    /// The regular files it maps now (escaped paths) with the bytes mapped, largest first;
    /// `f` cycles through them.
    pub files: Vec<(String, u64)>,
    /// Mappings (ranges) of the watched file at the last sample.
    pub ranges: usize,
    /// Whole process, since it started (/proc/PID/stat, all threads); None: unreadable.
    pub faults_process: Option<crate::kernel::counters::Faults>,
    /// Live threads at the last sample (/proc/PID/task/*/stat).
    pub threads: usize,
    /// Largest number of the file's pages mapped at any sample.
    pub mapped_max: Option<u64>,
    /// The file's cached pages when observation of it began.
    pub cached_before: Option<u64>,
    /// Why /proc/PID/maps or /proc/PID/pagemap cannot be read (another user's process).
    pub maps_note: Option<String>,
    pub pagemap_note: Option<String>,
    /// exec: where the program's stdout and stderr go (its stdin is /dev/null).
    pub output: Option<String>,
    /// Set once the process exited (the screen then keeps its last sample).
    pub ended: Option<ObservedEnd>,
}

/// The totals when an observed process ended.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ObservedEnd {
    /// Milliseconds after observation began.
    pub at_ms: u64,
    /// exec: its exit code, or the signal that killed it (wait4).
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    /// Why no exit status is shown (attach: not mmviz's child).
    pub status_note: Option<String>,
    /// Whole-process faults at exit; `faults_final`: read from its zombie, so exact.
    pub faults: Option<crate::kernel::counters::Faults>,
    pub faults_final: bool,
    /// Pages mapped at the last sample before exit, and at most.
    pub mapped_last: Option<u64>,
    pub mapped_max: Option<u64>,
    pub cached_before: Option<u64>,
    pub cached_after: Option<u64>,
}

/// What the UI asks of the session (sampler thread).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Command {
    SetPattern {
        pattern: PatternKind,
    },
    TogglePause,
    /// One batch while paused.
    Step,
    Slower,
    Faster,
    Evict,
    /// Read the whole file sequentially (the page cache builds large folios).
    Warm,
    /// Read every page once with 4 KiB reads in random order (small folios: one fault then
    /// maps at most 16 pages).
    WarmRandom,
    CycleAdvice,
    /// Reset counters and restart the worker (also on the file's new size after a truncation).
    Reset,
    /// Run the mmap-vs-read comparison for the current pattern.
    Compare,
    /// Cancel a running comparison (Esc): its child is killed at once.
    CancelCompare,
    /// Cycle the cache state the comparison starts from: cold -> warm -> as-is.
    CycleCompareCache,
    /// `t`: measure 4 KiB vs huge pages (the worker pauses meanwhile); while one runs,
    /// cancel it. `max_working_set`: None = the session's default
    /// (`session::TLB_MAX_WORKING_SET`), always capped to what fits in free memory.
    MeasureTlb {
        #[serde(default)]
        max_working_set: Option<u64>,
    },
    /// Esc while the TLB measurement runs.
    CancelTlb,
    /// Write mode: msync the worker's mapping, MS_SYNC (`sync`) or MS_ASYNC.
    Msync {
        sync: bool,
    },
    /// The page range the grid shows and how many cells it has room for.
    SetView {
        start_page: u64,
        end_page: u64,
        cells: u64,
    },
    /// Inspect one page (the inspector's cursor); `None` stops. `read` reads its bytes even
    /// when it is not cached (which faults it in; the report says what that brought in).
    /// Inspect the bytes at one offset (typed in cursor mode with `o`): its page's states and,
    /// when cached, the bytes from that offset.
    InspectOffset {
        offset: u64,
    },
    Inspect {
        page: Option<u64>,
        read: bool,
    },
    /// Lessons: pause (idempotent, unlike the space key's toggle).
    Pause,
    /// Lessons: resume (idempotent).
    Resume,
    /// Lessons: accesses per second (None = max).
    SetRate {
        rate: Option<u64>,
    },
    /// Lessons: one advice (not the `a` key's cycle).
    SetAdvice {
        advice: crate::kernel::advice::Advice,
    },
    /// Lessons: the cache state the next comparison starts from.
    SetCompareCache {
        cache: CompareCache,
    },
    /// Lessons: the grep pattern with its regex and match limit.
    SetGrep {
        regex: String,
        #[serde(default)]
        max_matches: Option<u64>,
    },
    /// Lessons: a line for the event log (a check's result, a step entered).
    Note {
        text: String,
    },
    /// Start another workload on the same file (up to `session::MAX_WORKLOADS`), selected.
    AddWorkload,
    /// Stop the selected workload (the last one stays).
    RemoveWorkload,
    /// Select the next workload (by id, wrapping).
    SelectNextWorkload,
    /// Read -> write shared -> write private -> read: every workload restarts on a scratch
    /// copy of the file (write) or on the file itself (read).
    CycleWriteMode,
    /// Observing another program: watch the next regular file it maps (`f`).
    NextFile,
    Quit,
}
