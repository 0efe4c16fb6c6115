//! The live session: owns the workload (the worker process) and the samplers, turns UI
//! commands into actions and sends an owned [`Snapshot`] per tick (the bottom model: one
//! collection thread, no shared locks with the UI). No terminal code here: the TUI, a recorder,
//! a headless report or a test can consume it.
//!
//! Pieces: `workload` (the worker process, its counters and page-table reader), `interval`
//! (every derived figure over one explicit interval), `provenance` (which cached pages were
//! there before: "cached only" vs read ahead), `watch` (the file changing under us), `actions`
//! (evict, warm, advice, step), `compare_job` (the `c` comparison thread), `sample` (building
//! the snapshot).

mod actions;
mod compare_job;
mod durability;
pub(crate) mod interval;
mod provenance;
mod sample;
mod tlb_job;
mod watch;
mod workload;

use crate::advice::Advice;
use crate::error::{AppError, Result};
use crate::fsinfo;
use crate::grid::GridScratch;
use crate::residency::CacheProbe;
use crate::snapshot::*;
use crate::target::Target;
use crate::tlb;
use crate::units::page_size;
use crate::worker::{PatternSpec, Progress, WorkerState};
use roaring::RoaringTreemap;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use compare_job::CompareJob;
use interval::IntervalStats;
use provenance::Provenance;
pub use tlb_job::TLB_MAX_WORKING_SET;
use watch::FileWatch;
use workload::Workload;

/// Rates offered by `[` and `]` (accesses per second); past the last one is "max".
pub const RATES: [u64; 19] = [
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000,
    200_000, 500_000, 1_000_000,
];
/// Time one sample may spend on cachestat for the grid (the totals get half of it again), so
/// key-to-screen stays well under 100 ms whatever the page cache holds.
const SAMPLE_BUDGET: Duration = Duration::from_millis(30);
/// Whole-file (mapped, private) pages; None where the page table cannot be read.
type MappedPrivate = (Option<u64>, Option<u64>);

/// First touches kept per interval (about 1 MiB at most).
const FIRST_TOUCH_KEPT: usize = 16_384;

/// Events kept by the session (the snapshot carries the newest `EVENTS_KEPT`).
const LOG_KEPT: usize = 200;

/// How the session starts.
#[derive(Clone, Debug)]
pub struct SessionOptions {
    pub path: PathBuf,
    pub is_demo: bool,
    pub spec: PatternSpec,
    pub advice: Advice,
    pub rate: Option<u64>,
    pub cold: bool,
    pub hz: u32,
    /// Runs the mmap-vs-read comparison (the `c` key); None: not available.
    pub compare: Option<CompareFn>,
    /// Write mode: the session maps a scratch copy of `path` writable (never `path` itself).
    pub write: Option<SessionWrite>,
}

/// How the live session writes: always to a scratch copy it makes and removes itself.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SessionWrite {
    pub mode: crate::worker::WriteMode,
    /// Share of accesses that store, 0.0..=1.0.
    pub share: f64,
}

/// What the `c` key asks the comparison to measure.
#[derive(Clone, Debug)]
pub struct CompareRequest {
    pub path: PathBuf,
    pub spec: PatternSpec,
    pub advice: Advice,
    /// The cache state every repeat starts from.
    pub cache: CompareCache,
}

/// The comparison engine, injected so the session does not depend on how it measures.
pub type CompareFn = fn(
    &CompareRequest,
    &mut dyn FnMut(f64, &str),
    &AtomicBool,
) -> std::result::Result<ComparisonResult, String>;

/// The next slower rate (None = max).
pub fn slower(rate: Option<u64>) -> Option<u64> {
    match rate {
        None => Some(*RATES.last().expect("non-empty")),
        Some(r) => Some(
            RATES
                .iter()
                .rev()
                .copied()
                .find(|&x| x < r)
                .unwrap_or(RATES[0]),
        ),
    }
}

/// The next faster rate (None = max).
pub fn faster(rate: Option<u64>) -> Option<u64> {
    match rate {
        None => None,
        Some(r) => RATES.iter().copied().find(|&x| x > r),
    }
}

/// Starts the session thread. Errors opening the file are returned before any thread starts.
pub fn spawn(
    opts: SessionOptions,
) -> Result<(Sender<Command>, Receiver<Snapshot>, JoinHandle<()>)> {
    let (target, scratch) = match opts.write {
        None => (Target::open(&opts.path)?, None),
        Some(w) => {
            let (t, s) = scratch_target(&opts.path)?;
            (t, Some((s, w)))
        }
    };
    let (ctx, crx) = mpsc::channel::<Command>();
    let (stx, srx) = mpsc::channel::<Snapshot>();
    let mut s = Session::new(opts, target)?;
    if let Some((sf, w)) = scratch {
        s.file.write = Some(WriteInfo {
            mode: w.mode,
            share: w.share,
            scratch: crate::inspect::escape_path(&sf.path.display().to_string()),
            source: crate::inspect::escape_path(&s.opts.path.display().to_string()),
            dirty_expire_centisecs: crate::run::vm_sysctl("dirty_expire_centisecs"),
            dirty_writeback_centisecs: crate::run::vm_sysctl("dirty_writeback_centisecs"),
        });
        s.write_scratch = Some(sf);
    }
    let h = std::thread::Builder::new()
        .name("mmviz-session".into())
        .spawn(move || s.run(crx, stx))
        .map_err(AppError::runtime)?;
    Ok((ctx, srx, h))
}

/// Opens the user's file read-only, copies it (its first 1 GiB) into a fresh scratch file and
/// opens that as the session's target. The user's descriptor is dropped here: nothing in the
/// session can write through it.
fn scratch_target(path: &std::path::Path) -> Result<(Target, crate::scratch::ScratchFile)> {
    let user = Target::open(path)?;
    let dir = crate::scratch::pick_dir()?;
    // Leftovers of killed sessions (their lock is free) go first.
    let _ = crate::scratch::sweep(&dir.path);
    let sf = crate::scratch::ScratchFile::copy_of(&dir, &user.file, user.size).map_err(|e| {
        AppError::runtime(format!(
            "cannot make a scratch copy of {} in {}: {}",
            user.path.display(),
            dir.path.display(),
            crate::error::io_reason(&e)
        ))
    })?;
    let t = Target::open(&sf.path)?;
    Ok((t, sf))
}

struct Session {
    opts: SessionOptions,
    /// Write mode: the scratch copy the worker writes (locked; removed when the session ends,
    /// which the UI makes happen on quit and on every ending signal).
    write_scratch: Option<crate::scratch::ScratchFile>,
    /// An `s` / `S` msync sent to the worker and not answered yet.
    msync_pending: Option<durability::PendingMsync>,
    target: Target,
    probe: CacheProbe,
    file: FileInfo,
    watch: FileWatch,
    caps: Capabilities,
    worker: Option<Workload>,
    dead: Option<String>,
    /// Set when /proc says the worker is stopped (T): why, in words.
    stopped: Option<String>,
    spec: PatternSpec,
    advice: Advice,
    rate: Option<u64>,
    progress: Progress,
    /// The worker state the last pause/resume asked for, until a report confirms it.
    expected_state: Option<(WorkerState, Instant)>,
    touched: RoaringTreemap,
    /// First touches recorded at slow rates (bounded: `FIRST_TOUCH_KEPT` pages per interval).
    first_touch: std::collections::HashMap<u64, FirstTouch>,
    recent: Vec<u64>,
    provenance: Provenance,
    interval: IntervalStats,
    /// The grid's page range and cell budget, as the UI asked.
    view: (u64, u64, u64),
    scratch: GridScratch,
    /// Coarse whole-file cells for the totals while the grid shows only part of the file.
    whole_scratch: GridScratch,
    /// The latest complete whole-file (cached, dirty, writeback) from `whole_scratch`.
    whole_cached: Option<crate::residency::CellCache>,
    /// The latest whole-file (mapped, private) walk and when it was taken.
    whole_mapped: Option<(Instant, MappedPrivate)>,
    tlb: TlbInfo,
    last_dtlb: Option<(crate::tlb::CounterValues, u64)>,
    /// The worker's cumulative latency histogram and fault deltas at the last latency view.
    last_latency: Option<(
        Instant,
        crate::latency::LatencyHist,
        crate::counters::Faults,
    )>,
    last_tick: Instant,
    comparison: ComparisonState,
    compare_cache: CompareCache,
    compare_job: Option<CompareJob>,
    tlb_job: Option<tlb_job::TlbJob>,
    warm_job: Option<actions::WarmJob>,
    pending: actions::Pending,
    message: Option<String>,
    log: VecDeque<LogEntry>,
    warning: Option<String>,
    /// MemAvailable at the start (bytes), for the page-cache growth warning.
    mem_available_at_start: Option<u64>,
    seq: u64,
    started: Instant,
    last_sent: Option<Snapshot>,
    inspector: crate::inspect::SessionInspector,
}

impl Session {
    fn new(opts: SessionOptions, target: Target) -> Result<Session> {
        let probe = CacheProbe::new(&target.file, target.size, &target.fs)
            .map_err(|e| AppError::runtime(format!("{}: {e}", target.path.display())))?;
        let pages = probe.pages();
        let file = file_info(&target, pages, opts.is_demo);
        let caps = Capabilities {
            cache_source: probe.source(),
            cache_state_visible: probe.visible(),
            cache_note: probe.note().map(str::to_string),
            pagemap: PagemapSource::Unavailable,
            pagemap_note: Some("no worker yet".into()),
        };
        Ok(Session {
            spec: opts.spec.clone(),
            advice: opts.advice,
            rate: opts.rate,
            view: (0, pages, 0),
            tlb: TlbInfo {
                notes: tlb::notes(page_size(), pages),
                ..Default::default()
            },
            watch: FileWatch::new(&target),
            opts,
            write_scratch: None,
            msync_pending: None,
            target,
            probe,
            file,
            caps,
            worker: None,
            dead: None,
            stopped: None,
            progress: Progress::default(),
            expected_state: None,
            touched: RoaringTreemap::new(),
            first_touch: std::collections::HashMap::new(),
            recent: Vec::new(),
            provenance: Provenance::default(),
            interval: IntervalStats::new(),
            scratch: GridScratch::with_budget(SAMPLE_BUDGET),
            whole_scratch: GridScratch::with_budget(SAMPLE_BUDGET / 2),
            whole_cached: None,
            whole_mapped: None,
            last_dtlb: None,
            last_latency: None,
            last_tick: Instant::now(),
            comparison: ComparisonState::Idle,
            compare_cache: CompareCache::default(),
            compare_job: None,
            tlb_job: None,
            warm_job: None,
            pending: actions::Pending::default(),
            message: None,
            log: VecDeque::new(),
            warning: None,
            mem_available_at_start: mem_available(),
            seq: 0,
            started: Instant::now(),
            last_sent: None,
            inspector: Default::default(),
        })
    }

    fn run(&mut self, commands: Receiver<Command>, snapshots: Sender<Snapshot>) {
        if self.opts.cold {
            self.evict();
        }
        self.start_worker(false, "start");
        let period = Duration::from_secs_f64(1.0 / self.opts.hz.clamp(1, 60) as f64);
        let mut next = Instant::now();
        'outer: loop {
            // Wait for a command until the next tick is due; commands are served at once.
            let wait = next.saturating_duration_since(Instant::now());
            let mut resample = self.last_sent.is_none();
            let mut batch = Vec::new();
            match commands.recv_timeout(wait) {
                Ok(c) => batch.push(c),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => resample = true,
            }
            // Everything queued behind it too, coalesced: a storm of keys costs one action each
            // kind, not one per key (the UI never waits behind a queue of slow actions).
            batch.extend(commands.try_iter().take(10_000));
            for c in coalesce(batch) {
                if c == Command::Quit {
                    break 'outer;
                }
                resample |= matches!(c, Command::SetView { .. } | Command::Evict);
                self.command(c);
            }
            self.poll_worker();
            self.poll_compare();
            self.poll_tlb();
            self.poll_warm();
            let t0 = Instant::now();
            let snap = if resample {
                let snap = self.snapshot();
                // Sampling cost grows with the cached folios of the range (cachestat walks
                // them): never spend more than ~10% of a core on it, so the visualizer does not
                // perturb what it measures.
                let cost = t0.elapsed();
                let idle = self.progress.state != WorkerState::Running
                    && self.compare_job.is_none()
                    && self.tlb_job.is_none()
                    && self.warm_job.is_none()
                    && self.pending.is_empty();
                let base = if idle {
                    period.max(Duration::from_millis(250))
                } else {
                    period
                };
                next = Instant::now() + base.max(cost * 10).min(Duration::from_secs(2));
                snap
            } else {
                self.quick_snapshot()
            };
            let changed = match &self.last_sent {
                Some(prev) => !same_content(prev, &snap),
                None => true,
            };
            if changed {
                self.last_sent = Some(snap.clone());
                if snapshots.send(snap).is_err() {
                    break;
                }
            }
        }
        if let Some(j) = &self.compare_job {
            j.cancel();
        }
        if let Some(j) = &self.tlb_job {
            j.cancel();
        }
        self.stop_worker();
    }

    /// Records an event: the status line shows it, the message log keeps it.
    fn say(&mut self, text: impl Into<String>) {
        let text = text.into();
        self.log.push_back(LogEntry {
            t_ms: self.started.elapsed().as_millis() as u64,
            text: text.clone(),
        });
        while self.log.len() > LOG_KEPT {
            self.log.pop_front();
        }
        self.message = Some(text);
    }

    fn command(&mut self, c: Command) {
        match c {
            Command::SetPattern { pattern } => self.switch_pattern(pattern),
            Command::TogglePause => {
                if self.worker.is_none() {
                    self.say("no worker: press r to restart it");
                    return;
                }
                // A worker that has not reported yet was configured to run: pause it.
                let c = if matches!(
                    self.progress.state,
                    WorkerState::Running | WorkerState::Idle
                ) {
                    crate::worker::Control::Pause
                } else {
                    crate::worker::Control::Resume
                };
                self.send(c);
            }
            Command::Step => self.step(),
            Command::Slower | Command::Faster => {
                self.rate = if c == Command::Slower {
                    slower(self.rate)
                } else {
                    faster(self.rate)
                };
                self.send(crate::worker::Control::SetRate { rate: self.rate });
                let m = match self.rate {
                    Some(r) => format!("rate: {r} accesses/s"),
                    None => "rate: max (unlimited)".into(),
                };
                self.say(m);
            }
            Command::Evict => self.evict(),
            Command::Warm => self.warm(crate::cache::Fill::Sequential),
            Command::WarmRandom => self.warm(crate::cache::Fill::Random),
            Command::CycleAdvice => self.cycle_advice(),
            Command::Reset => self.restart(),
            Command::Compare if self.tlb_job.is_some() => {
                self.say("the TLB measurement is running: the comparison waits (Esc cancels it)")
            }
            Command::Compare => self.start_compare(),
            Command::MeasureTlb { max_working_set } => self.toggle_tlb(max_working_set),
            Command::CancelTlb => self.cancel_tlb(),
            Command::CancelCompare => {
                // The orchestrator polls this flag every 2 ms and kills its child.
                if let Some(j) = &self.compare_job {
                    j.cancel();
                    self.say("cancelling the comparison".to_string());
                }
            }
            Command::CycleCompareCache => {
                self.compare_cache = self.compare_cache.next();
                let m = format!(
                    "comparison cache: {} ({})",
                    self.compare_cache.name(),
                    match self.compare_cache {
                        CompareCache::Cold => "evicted before every repeat",
                        CompareCache::Warm => "read into the cache before every repeat",
                        CompareCache::AsIs => "whatever the cache holds when c is pressed",
                    }
                );
                self.say(m);
            }
            Command::SetView {
                start_page,
                end_page,
                cells,
            } => {
                let pages = self.extent_pages();
                let e = end_page.min(pages);
                self.view = (start_page.min(e), e, cells);
            }
            Command::InspectOffset { offset } => {
                if let Some(m) = self.inspector.request_offset(&self.target, offset) {
                    self.say(m);
                }
            }
            Command::Inspect { page, read } => {
                if let Some(m) = self.inspector.request(&self.target, page, read) {
                    self.say(m);
                }
            }
            Command::Msync { sync } => self.msync(sync),
            // Only an observed program's session switches files.
            Command::NextFile | Command::Quit => {}
        }
    }

    /// Pages the grid spans: the file's current size, or the worker's mapping when the file
    /// shrank under it (the lost tail stays visible, marked).
    fn extent_pages(&self) -> u64 {
        let mapped = self
            .worker
            .as_ref()
            .map_or(0, |w| w.handle.map.len.div_ceil(page_size()));
        self.file.pages.max(mapped)
    }
}

/// Keeps the order of commands but runs each slow or idempotent kind once per batch (its
/// last occurrence): SetView, Inspect, SetPattern, evict, warm, comparison, restart. Toggles
/// keep their parity (a storm of 10,001 spaces is one toggle) and advice cycles their count
/// modulo the cycle; other keys are cheap and all kept.
fn coalesce(batch: Vec<Command>) -> Vec<Command> {
    if batch.len() <= 1 {
        return batch;
    }
    let once = |c: &Command| {
        matches!(
            c,
            Command::Evict
                | Command::Warm
                | Command::WarmRandom
                | Command::Reset
                | Command::Compare
                | Command::MeasureTlb { .. }
                | Command::SetView { .. }
                | Command::Inspect { .. }
                | Command::SetPattern { .. }
                | Command::Msync { .. }
        )
    };
    let toggles = batch.iter().filter(|c| **c == Command::TogglePause).count();
    let advices = batch.iter().filter(|c| **c == Command::CycleAdvice).count();
    let (mut keep_toggles, mut keep_advice) = (toggles % 2, advices % Advice::ALL.len());
    let mut out: Vec<Command> = Vec::new();
    for c in batch.into_iter().rev() {
        let keep = if once(&c) {
            !out.iter()
                .any(|o| std::mem::discriminant(o) == std::mem::discriminant(&c))
        } else if c == Command::TogglePause {
            let k = keep_toggles > 0;
            keep_toggles = keep_toggles.saturating_sub(1);
            k
        } else if c == Command::CycleAdvice {
            let k = keep_advice > 0;
            keep_advice = keep_advice.saturating_sub(1);
            k
        } else {
            true
        };
        if keep {
            out.push(c);
        }
    }
    out.reverse();
    out
}

fn file_info(t: &Target, pages: u64, is_demo: bool) -> FileInfo {
    use std::os::unix::fs::MetadataExt;
    FileInfo {
        path: crate::inspect::escape_path(&t.path.display().to_string()),
        size_bytes: t.size,
        page_size: page_size(),
        pages,
        filesystem: t.fs.clone(),
        read_ahead_kb: fsinfo::read_ahead_kb(&t.file),
        thp_mode: fsinfo::thp_mode(),
        is_demo,
        allocated_bytes: t.file.metadata().ok().map(|m| m.blocks() * 512),
        notice: None,
        write: None,
    }
}

/// MemAvailable from /proc/meminfo, in bytes.
fn mem_available() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    let l = s.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = l.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Snapshots that differ only in their sequence number and clock need no redraw.
fn same_content(a: &Snapshot, b: &Snapshot) -> bool {
    a.grid == b.grid
        && a.totals == b.totals
        && a.worker == b.worker
        && a.comparison == b.comparison
        && a.message == b.message
        && a.inspector == b.inspector
        && a.caps == b.caps
        && a.file == b.file
        && a.warning == b.warning
        && a.compare_cache == b.compare_cache
        && a.tlb.measurement == b.tlb.measurement
        && a.events.len() == b.events.len()
        && a.events.last() == b.events.last()
        && a.faults.minor_total == b.faults.minor_total
        && a.faults.major_total == b.faults.major_total
        && a.faults.minor_rate == b.faults.minor_rate
        && a.faults.major_rate == b.faults.major_rate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_step_both_ways() {
        assert_eq!(faster(Some(1)), Some(2));
        assert_eq!(faster(Some(1_000_000)), None);
        assert_eq!(faster(None), None);
        assert_eq!(slower(None), Some(1_000_000));
        assert_eq!(slower(Some(2)), Some(1));
        assert_eq!(slower(Some(1)), Some(1));
        assert_eq!(slower(Some(3)), Some(2));
        assert_eq!(faster(Some(3)), Some(5));
    }

    #[test]
    fn coalesce_runs_slow_actions_once_and_keeps_order() {
        use Command::*;
        let v = vec![Warm, TogglePause, Warm, Evict, Faster, Evict, TogglePause];
        assert_eq!(coalesce(v), vec![Warm, Faster, Evict]);
        let v = vec![TogglePause, Step, TogglePause, TogglePause, CycleAdvice];
        assert_eq!(coalesce(v), vec![Step, TogglePause, CycleAdvice]);
        let views: Vec<Command> = (0..5)
            .map(|i| SetView {
                start_page: i,
                end_page: 10,
                cells: 3,
            })
            .collect();
        assert_eq!(
            coalesce(views),
            vec![SetView {
                start_page: 4,
                end_page: 10,
                cells: 3
            }]
        );
        let storm: Vec<Command> = (0..10_001).map(|_| TogglePause).collect();
        assert_eq!(coalesce(storm), vec![TogglePause]);
    }
}
