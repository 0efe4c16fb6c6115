//! The live session: owns the workload (the worker process) and the samplers, turns UI
//! commands into actions and sends an owned [`Snapshot`] per tick (the bottom model: one
//! collection thread, no shared locks with the UI). No terminal code here: the TUI, a recorder,
//! a headless report or a test can consume it.
//!
//! Pieces: `workload` (the worker process, its counters and page-table reader), `interval`
//! (every derived figure over one explicit interval), `provenance` (which cached pages were
//! there before: "cached only" vs read ahead), `others` (other processes mapping the file,
//! whose pages the session cannot tell from readahead), `watch` (the file changing under us), `actions`
//! (evict, warm, advice, step), `compare_job` (the `c` comparison thread), `sample` (building
//! the snapshot), `workloads` (the list of workers: add, remove, select, visit each),
//! `write_mode` (the live switch between the file and a scratch copy).

mod actions;
mod compare_job;
mod durability;
pub mod fixture;
pub mod grid;
pub(crate) mod interval;
mod others;
mod provenance;
mod sample;
pub mod snapshot;
mod tlb_job;
mod watch;
mod workload;
mod workloads;
mod write_mode;

use crate::error::{AppError, Result};
use crate::kernel::advice::Advice;
use crate::kernel::fsinfo;
use crate::kernel::residency::CacheProbe;
use crate::kernel::target::Target;
use crate::kernel::tlb;
use crate::session::grid::GridScratch;
use crate::session::snapshot::*;
use crate::units::page_size;
use crate::workload::worker::{PatternSpec, WorkerState};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use compare_job::CompareJob;
use provenance::Provenance;
pub use tlb_job::TLB_MAX_WORKING_SET;
use watch::FileWatch;
use workloads::Slot;
pub use workloads::MAX_WORKLOADS;

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
    pub mode: crate::workload::worker::WriteMode,
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
        s.file.write = Some(s.write_info(&sf, w));
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
fn scratch_target(
    path: &std::path::Path,
) -> Result<(Target, crate::workload::scratch::ScratchFile)> {
    let user = Target::open(path)?;
    let dir = crate::workload::scratch::pick_dir()?;
    // Leftovers of killed sessions (their lock is free) go first.
    let _ = crate::workload::scratch::sweep(&dir.path);
    let sf = crate::workload::scratch::ScratchFile::copy_of(&dir, &user.file, user.size).map_err(
        |e| {
            AppError::runtime(format!(
                "cannot make a scratch copy of {} in {}: {}",
                user.path.display(),
                dir.path.display(),
                crate::error::io_reason(&e)
            ))
        },
    )?;
    let t = Target::open(&sf.path)?;
    Ok((t, sf))
}

struct Session {
    opts: SessionOptions,
    /// Write mode: the scratch copy the worker writes (locked; removed when the session ends,
    /// which the UI makes happen on quit and on every ending signal).
    write_scratch: Option<crate::workload::scratch::ScratchFile>,
    target: Target,
    probe: CacheProbe,
    file: FileInfo,
    watch: FileWatch,
    caps: Capabilities,
    /// The workload being acted on: the selected one, except while [`Session::each`] visits
    /// the others (see `workloads`).
    w: Slot,
    /// The other workloads (at most `MAX_WORKLOADS - 1`).
    others: Vec<Slot>,
    /// The id the next added workload gets (1, 2, ...: shown as "worker N").
    next_id: u32,
    /// True while `each` visits a workload other than the selected one.
    foreign: bool,
    provenance: Provenance,
    /// The grid's page range and cell budget, as the UI asked.
    view: (u64, u64, u64),
    scratch: GridScratch,
    /// Coarse whole-file cells for the totals while the grid shows only part of the file.
    whole_scratch: GridScratch,
    /// The latest complete whole-file (cached, dirty, writeback) from `whole_scratch`.
    whole_cached: Option<crate::kernel::residency::CellCache>,
    /// The latest whole-file (mapped, private) walk and when it was taken.
    whole_mapped: Option<(Instant, MappedPrivate)>,
    tlb: TlbInfo,

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
    /// Other processes that map the file, scanned every few seconds.
    mappers: others::OtherMappers,
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
        let w = Slot::new(1, &opts);
        Ok(Session {
            view: (0, pages, 0),
            tlb: TlbInfo {
                notes: tlb::notes(page_size(), pages),
                ..Default::default()
            },
            watch: FileWatch::new(&target),
            opts,
            write_scratch: None,
            target,
            probe,
            file,
            caps,
            w,
            others: Vec::new(),
            next_id: 2,
            foreign: false,
            provenance: Provenance::default(),
            scratch: GridScratch::with_budget(SAMPLE_BUDGET),
            whole_scratch: GridScratch::with_budget(SAMPLE_BUDGET / 2),
            whole_cached: None,
            whole_mapped: None,
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
            mappers: Default::default(),
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
            self.each(|s| s.poll_worker());
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
                let idle = self.running_ids().is_empty()
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
        self.each(|s| s.stop_worker());
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
                if self.w.worker.is_none() {
                    self.say("no worker: press r to restart it");
                    return;
                }
                // A worker that has not reported yet was configured to run: pause it.
                let c = if matches!(
                    self.w.progress.state,
                    WorkerState::Running | WorkerState::Idle
                ) {
                    crate::workload::worker::Control::Pause
                } else {
                    crate::workload::worker::Control::Resume
                };
                self.send(c);
            }
            Command::Step => self.step(),
            Command::Slower | Command::Faster => {
                self.w.rate = if c == Command::Slower {
                    slower(self.w.rate)
                } else {
                    faster(self.w.rate)
                };
                self.send(crate::workload::worker::Control::SetRate { rate: self.w.rate });
                let m = match self.w.rate {
                    Some(r) => format!("rate: {r} accesses/s"),
                    None => "rate: max (unlimited)".into(),
                };
                self.say(m);
            }
            Command::Evict => self.evict(),
            Command::Warm => self.warm(crate::kernel::cache::Fill::Sequential),
            Command::WarmRandom => self.warm(crate::kernel::cache::Fill::Random),
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
            Command::Pause | Command::Resume => {
                if self.w.worker.is_none() {
                    self.say("no worker: press r to restart it");
                    return;
                }
                let running = matches!(
                    self.w.progress.state,
                    WorkerState::Running | WorkerState::Idle
                );
                match (c == Command::Pause, running) {
                    (true, true) => self.send(crate::workload::worker::Control::Pause),
                    (false, false) => self.send(crate::workload::worker::Control::Resume),
                    _ => {}
                }
            }
            Command::SetRate { rate } => {
                self.w.rate = rate;
                self.send(crate::workload::worker::Control::SetRate { rate });
                self.say(match rate {
                    Some(r) => format!("rate: {r} accesses/s"),
                    None => "rate: max (unlimited)".into(),
                });
            }
            Command::SetAdvice { advice } => {
                // The `a` cycle from the advice before it: one code path, one message.
                let all = Advice::ALL;
                if let Some(i) = all.iter().position(|a| *a == advice) {
                    self.w.advice = all[(i + all.len() - 1) % all.len()];
                    self.cycle_advice();
                }
            }
            Command::SetCompareCache { cache } => self.compare_cache = cache,
            Command::SetGrep { regex, max_matches } => {
                self.w.spec.regex = Some(regex);
                self.w.spec.max_matches = max_matches;
                self.switch_pattern(crate::workload::patterns::PatternKind::Grep);
            }
            Command::Note { text } => self.say(text),
            Command::AddWorkload => self.add_workload(),
            Command::RemoveWorkload => self.remove_workload(),
            Command::SelectNextWorkload => self.select_next(),
            Command::CycleWriteMode => self.cycle_write_mode(),
            // Only an observed program's session switches files.
            Command::NextFile | Command::Quit => {}
        }
    }

    /// Pages the grid spans: the file's current size, or the worker's mapping when the file
    /// shrank under it (the lost tail stays visible, marked).
    fn extent_pages(&self) -> u64 {
        let mapped = std::iter::once(&self.w)
            .chain(&self.others)
            .filter_map(|s| s.worker.as_ref())
            .map(|w| w.handle.map.len.div_ceil(page_size()))
            .max()
            .unwrap_or(0);
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
                | Command::CycleWriteMode
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
        && a.workloads == b.workloads
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
