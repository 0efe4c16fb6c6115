//! The live session: owns the worker and the samplers, turns UI commands into actions and
//! sends an owned [`Snapshot`] per tick (the bottom model: one collection thread, no shared
//! locks with the UI). No terminal code here: the TUI, a recorder or a test can consume it.

use crate::advice::Advice;
use crate::cache::{self, Fill};
use crate::counters::{Faults, ProcCounters};
use crate::error::{AppError, Result};
use crate::fsinfo;
use crate::grid::{self, GridScratch, MappedSource};
use crate::pagemap::PagemapReader;
use crate::residency::CacheProbe;
use crate::snapshot::*;
use crate::target::Target;
use crate::tlb::{self, Counters};
use crate::units::{human_bytes, page_size};
use crate::worker::{
    Control, Event, Limit, PatternSpec, Progress, Report, WorkerHandle, WorkerState,
};
use roaring::RoaringTreemap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Rates offered by `[` and `]` (accesses per second); past the last one is "max".
pub const RATES: [u64; 19] = [
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000,
    200_000, 500_000, 1_000_000,
];
/// Samples of fault history kept for sparklines.
const HISTORY: usize = 120;

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
}

/// What the `c` key asks the comparison to measure.
#[derive(Clone, Debug)]
pub struct CompareRequest {
    pub path: PathBuf,
    pub spec: PatternSpec,
    pub advice: Advice,
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
    let target = Target::open(&opts.path)?;
    let (ctx, crx) = mpsc::channel::<Command>();
    let (stx, srx) = mpsc::channel::<Snapshot>();
    let mut s = Session::new(opts, target)?;
    let h = std::thread::Builder::new()
        .name("mmviz-session".into())
        .spawn(move || s.run(crx, stx))
        .map_err(AppError::runtime)?;
    Ok((ctx, srx, h))
}

struct Worker {
    handle: WorkerHandle,
    /// The worker's /proc/<pid>/stat, read at sampling time so fault counts and page-table
    /// samples describe the same instant.
    counters: Option<ProcCounters>,
    pagemap: Option<PagemapReader>,
    dtlb: Option<Counters>,
}

/// Background comparison (the `c` key).
struct CompareJob {
    rx: Receiver<CompareMsg>,
    cancel: Arc<AtomicBool>,
    resume_after: bool,
}

enum CompareMsg {
    Progress(f64, String),
    Done(std::result::Result<ComparisonResult, String>),
}

struct Session {
    opts: SessionOptions,
    target: Target,
    probe: CacheProbe,
    file: FileInfo,
    caps: Capabilities,
    worker: Option<Worker>,
    dead: Option<String>,
    spec: PatternSpec,
    advice: Advice,
    rate: Option<u64>,
    progress: Progress,
    touched: RoaringTreemap,
    recent: Vec<u64>,
    view: (u64, u64, u64),
    scratch: GridScratch,
    baseline: Faults,
    last_faults: Faults,
    /// The worker's fault counters at the latest sample.
    faults_now: Faults,
    last_tick: Instant,
    minor_hist: Vec<u64>,
    major_hist: Vec<u64>,
    minor_rate: f64,
    major_rate: f64,
    prev_cached: Option<u64>,
    prev_mapped: Option<u64>,
    ra_pages: u64,
    ra_majors: u64,
    map_pages: u64,
    map_faults: u64,
    tlb: TlbInfo,
    last_dtlb: Option<(tlb::CounterValues, u64)>,
    comparison: ComparisonState,
    compare_job: Option<CompareJob>,
    message: Option<String>,
    seq: u64,
    started: Instant,
    last_sent: Option<Snapshot>,
    inspector: crate::inspect::SessionInspector,
}

impl Session {
    fn new(opts: SessionOptions, target: Target) -> Result<Session> {
        let probe = CacheProbe::new(&target.file, target.size, &target.fs)
            .map_err(|e| AppError::runtime(format!("{}: {e}", target.path.display())))?;
        let ps = page_size();
        let pages = probe.pages();
        let file = FileInfo {
            path: target.path.display().to_string(),
            size_bytes: target.size,
            page_size: ps,
            pages,
            filesystem: target.fs.clone(),
            read_ahead_kb: fsinfo::read_ahead_kb(&target.file),
            thp_mode: fsinfo::thp_mode(),
            is_demo: opts.is_demo,
        };
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
                notes: tlb::notes(ps, pages),
                ..Default::default()
            },
            opts,
            target,
            probe,
            file,
            caps,
            worker: None,
            dead: None,
            progress: Progress::default(),
            touched: RoaringTreemap::new(),
            recent: Vec::new(),
            scratch: GridScratch::default(),
            baseline: Faults::default(),
            last_faults: Faults::default(),
            faults_now: Faults::default(),
            last_tick: Instant::now(),
            minor_hist: Vec::new(),
            major_hist: Vec::new(),
            minor_rate: 0.0,
            major_rate: 0.0,
            prev_cached: None,
            prev_mapped: None,
            ra_pages: 0,
            ra_majors: 0,
            map_pages: 0,
            map_faults: 0,
            last_dtlb: None,
            comparison: ComparisonState::Idle,
            compare_job: None,
            message: None,
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
        self.start_worker(false);
        let period = Duration::from_secs_f64(1.0 / self.opts.hz.clamp(1, 60) as f64);
        let mut next = Instant::now();
        loop {
            // Wait for a command until the next tick is due; commands are served at once.
            let wait = next.saturating_duration_since(Instant::now());
            let mut resample = self.last_sent.is_none();
            match commands.recv_timeout(wait) {
                Ok(Command::Quit) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(c) => {
                    // A new view needs new cells now; other keys get an immediate answer built
                    // from the latest sample (the next tick re-samples).
                    resample |= matches!(c, Command::SetView { .. } | Command::Evict);
                    self.command(c);
                }
                Err(RecvTimeoutError::Timeout) => resample = true,
            }
            self.poll_worker();
            self.poll_compare();
            let t0 = Instant::now();
            let snap = if resample {
                let snap = self.snapshot();
                // Sampling cost grows with the cached folios of the range (cachestat walks
                // them): never spend more than ~10% of a core on it, so the visualizer does not
                // perturb what it measures.
                let cost = t0.elapsed();
                let paused = self.progress.state != WorkerState::Running;
                let base = if paused && self.compare_job.is_none() {
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
            j.cancel.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        if let Some(mut w) = self.worker.take() {
            w.handle.stop(Duration::from_secs(2));
        }
    }

    fn start_worker(&mut self, keep_touched: bool) {
        if let Some(mut w) = self.worker.take() {
            w.handle.stop(Duration::from_secs(2));
        }
        if let Ok(size) = self.target.refresh_size() {
            self.probe.set_size(size);
            self.file.size_bytes = size;
            self.file.pages = self.probe.pages();
            self.tlb.notes = tlb::notes(self.file.page_size, self.file.pages);
            if self.view.1 > self.file.pages || self.view.1 == 0 {
                self.view.0 = self.view.0.min(self.file.pages);
                self.view.1 = self.file.pages;
            }
        }
        if !keep_touched {
            self.touched.clear();
            self.recent.clear();
        }
        self.dead = None;
        self.progress = Progress::default();
        match WorkerHandle::spawn(&self.target.path, Duration::from_secs(10)) {
            Ok(mut h) => {
                let pagemap = match PagemapReader::open(h.pid()) {
                    Ok(mut r) => {
                        // The worker maps the file read-only and shared: no private copies.
                        r.set_file_bit(false);
                        self.caps.pagemap = r.source();
                        self.caps.pagemap_note = None;
                        Some(r)
                    }
                    Err(e) => {
                        self.caps.pagemap = PagemapSource::Unavailable;
                        self.caps.pagemap_note = Some(format!("/proc/{}/pagemap: {e}", h.pid()));
                        None
                    }
                };
                let (info, dtlb) = tlb::probe(h.pid(), self.file.page_size, self.file.pages);
                self.tlb = info;
                self.last_dtlb = None;
                if self.advice != Advice::Normal {
                    let _ = h.send(&Control::Advise {
                        advice: self.advice,
                    });
                }
                // Baseline after the worker's own start-up faults (exec, mmap, /proc opens).
                let mut counters = ProcCounters::open(Some(h.pid())).ok();
                let base = counters
                    .as_mut()
                    .and_then(|c| c.faults().ok())
                    .unwrap_or_default();
                let _ = h.send(&self.configure(false));
                self.worker = Some(Worker {
                    handle: h,
                    counters,
                    pagemap,
                    dtlb,
                });
                self.reset_stats();
                self.baseline = base;
                self.last_faults = base;
                self.faults_now = base;
            }
            Err(e) => {
                self.dead = Some(format!("could not start the worker: {e}"));
            }
        }
    }

    fn configure(&self, paused: bool) -> Control {
        Control::Configure {
            pattern: self.spec.clone(),
            limit: Limit::Unbounded,
            rate: self.rate,
            paused,
            report_ms: (1000 / self.opts.hz.clamp(1, 60) as u64 / 2).max(10),
        }
    }

    fn reset_stats(&mut self) {
        self.minor_hist.clear();
        self.major_hist.clear();
        self.minor_rate = 0.0;
        self.major_rate = 0.0;
        self.ra_pages = 0;
        self.ra_majors = 0;
        self.map_pages = 0;
        self.map_faults = 0;
        self.prev_cached = None;
        self.prev_mapped = None;
        self.baseline = self.faults_now;
        self.last_faults = self.faults_now;
    }

    fn send(&mut self, c: Control) {
        if let Some(w) = self.worker.as_mut() {
            if w.handle.send(&c).is_err() {
                self.on_worker_closed();
            }
        }
    }

    fn command(&mut self, c: Command) {
        match c {
            Command::SetPattern { pattern } => {
                self.spec.kind = pattern;
                let paused = self.progress.state == WorkerState::Paused;
                let cfg = self.configure(paused);
                self.send(cfg);
                self.message = Some(format!("pattern: {pattern}"));
            }
            Command::TogglePause => {
                if self.worker.is_none() {
                    self.message = Some("no worker: press r to restart it".into());
                    return;
                }
                let c = if self.progress.state == WorkerState::Running {
                    Control::Pause
                } else {
                    Control::Resume
                };
                self.send(c);
            }
            Command::Step => self.send(Control::Step),
            Command::Slower | Command::Faster => {
                self.rate = if c == Command::Slower {
                    slower(self.rate)
                } else {
                    faster(self.rate)
                };
                self.send(Control::SetRate { rate: self.rate });
                self.message = Some(match self.rate {
                    Some(r) => format!("rate: {r} accesses/s"),
                    None => "rate: max (unlimited)".into(),
                });
            }
            Command::Evict => self.evict(),
            Command::Warm => self.warm(Fill::Sequential),
            Command::WarmRandom => self.warm(Fill::Random),
            Command::CycleAdvice => {
                let was_huge = self.advice == Advice::Hugepage;
                self.advice = self.advice.next();
                self.send(Control::Advise {
                    advice: self.advice,
                });
                self.message = Some(format!(
                    "advice: {}: {}",
                    self.advice,
                    match self.advice {
                        Advice::Normal => "default readahead on major faults",
                        Advice::Random => "no readahead: one page per major fault",
                        Advice::Sequential => "aggressive readahead",
                        Advice::Willneed => "the kernel starts reading the whole file now",
                        Advice::Hugepage =>
                            "huge (PMD) mappings allowed: cold faults read 2 MiB folios",
                    },
                ));
                if was_huge {
                    // The worker replaced MADV_HUGEPAGE with MADV_NOHUGEPAGE (see child.rs).
                    if let Some(m) = &mut self.message {
                        m.push_str(" (now MADV_NOHUGEPAGE: madvise cannot undo hugepage)");
                    }
                }
            }
            Command::Reset => {
                self.start_worker(false);
                self.message = Some("counters reset, worker restarted".into());
            }
            Command::Compare => self.start_compare(),
            Command::SetView {
                start_page,
                end_page,
                cells,
            } => {
                let pages = self.file.pages;
                let e = end_page.min(pages);
                self.view = (start_page.min(e), e, cells);
            }
            Command::Inspect { page, read } => {
                if let Some(m) = self.inspector.request(&self.target, page, read) {
                    self.message = Some(m);
                }
            }
            Command::Quit => {}
        }
    }

    /// Drops the worker's mapping, then evicts the file and reports the result.
    fn evict(&mut self) {
        let mut pending = Vec::new();
        let mut closed = false;
        if let Some(w) = self.worker.as_mut() {
            // Wait for the ack (bounded) so the pages are unmapped before fadvise runs.
            if w.handle.send(&Control::DropMapping).is_ok() {
                let t0 = Instant::now();
                while t0.elapsed() < Duration::from_secs(1) {
                    match w.handle.recv(Duration::from_millis(50)) {
                        Some(Event::Report(r)) => match *r {
                            Report::Ack { what, .. } if what == "drop_mapping" => break,
                            Report::Progress(p) => pending.push(p),
                            _ => {}
                        },
                        Some(Event::Closed) => {
                            closed = true;
                            break;
                        }
                        None => {}
                    }
                }
            }
        }
        for p in pending {
            self.apply_progress(p);
        }
        if closed {
            self.on_worker_closed();
        }
        self.touched.clear();
        self.recent.clear();
        let pages = self.probe.pages();
        let r = cache::evict(
            &self.target.file,
            &mut self.probe,
            0,
            pages,
            &[],
            self.target.fs.can_evict,
            self.target.fs.note.as_deref(),
        );
        self.message = Some(match r {
            Ok(r) => match (r.cached_before, r.cached_after) {
                (Some(b), Some(0)) => format!("evicted: {b} -> 0 pages cached"),
                (Some(b), Some(a)) => {
                    let why = r.stayed_reason.unwrap_or_default();
                    format!("evict: {b} -> {a} pages cached; {a} stayed: {why}")
                }
                _ => "evict requested; the result is hidden by the kernel".into(),
            },
            Err(e) => format!("evict failed: {e}"),
        });
        self.prev_cached = None;
        self.prev_mapped = None;
    }

    fn warm(&mut self, fill: Fill) {
        let pages = self.probe.pages();
        let t0 = Instant::now();
        let how = match fill {
            Fill::Sequential => "sequentially: large folios, one fault can map up to 2 MiB",
            Fill::Random => {
                "as random 4 KiB reads: 4 KiB folios, one fault maps at most 16 pages \
                 (evict first with e, or folios already cached stay large)"
            }
        };
        self.message = Some(match cache::warm(&self.target.file, 0, pages, fill) {
            Ok(n) => format!(
                "warmed: read {} in {:.0} ms {how}",
                human_bytes(n),
                t0.elapsed().as_secs_f64() * 1e3
            ),
            Err(e) => format!("warm failed: {e}"),
        });
        // The warm pass is ours, not the worker's: don't charge it to readahead per fault.
        self.prev_cached = None;
    }

    fn start_compare(&mut self) {
        if self.compare_job.is_some() {
            self.message = Some("a comparison is already running".into());
            return;
        }
        let was_running = self.progress.state == WorkerState::Running;
        if was_running {
            self.send(Control::Pause);
        }
        let (tx, rx) = mpsc::channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let Some(compare) = self.opts.compare else {
            self.message = Some("the comparison is not available in this build".into());
            return;
        };
        let req = CompareRequest {
            path: self.target.path.clone(),
            spec: self.spec.clone(),
            advice: self.advice,
        };
        let c2 = Arc::clone(&cancel);
        let spawned = std::thread::Builder::new()
            .name("mmviz-compare".into())
            .spawn(move || {
                let tx2 = tx.clone();
                let mut progress = move |f: f64, m: &str| {
                    let _ = tx2.send(CompareMsg::Progress(f, m.to_string()));
                };
                let r = compare(&req, &mut progress, &c2);
                let _ = tx.send(CompareMsg::Done(r));
            });
        match spawned {
            Ok(_) => {
                self.comparison = ComparisonState::Running {
                    progress: 0.0,
                    method: "starting".into(),
                };
                self.compare_job = Some(CompareJob {
                    rx,
                    cancel,
                    resume_after: was_running,
                });
                self.message = Some("comparing mmap with read(): the pattern is paused".into());
            }
            Err(e) => {
                self.comparison = ComparisonState::Failed {
                    error: e.to_string(),
                }
            }
        }
    }

    fn poll_compare(&mut self) {
        let Some(job) = &self.compare_job else { return };
        let mut done = None;
        for m in job.rx.try_iter() {
            match m {
                CompareMsg::Progress(f, method) => {
                    self.comparison = ComparisonState::Running {
                        progress: f.clamp(0.0, 1.0),
                        method,
                    }
                }
                CompareMsg::Done(r) => done = Some(r),
            }
        }
        if let Some(r) = done {
            let resume = job.resume_after;
            self.compare_job = None;
            self.comparison = match r {
                Ok(res) => {
                    self.message = Some(res.verdict.clone());
                    ComparisonState::Done(res)
                }
                Err(e) => ComparisonState::Failed { error: e },
            };
            // The comparison evicts/warms the file: cache deltas are not the worker's.
            self.prev_cached = None;
            if resume {
                self.send(Control::Resume);
            }
        }
    }

    fn apply_progress(&mut self, p: Progress) {
        if p.touched_reset {
            self.touched.clear();
        }
        for &(s, l) in &p.new_touched {
            self.touched.insert_range(s..s + l);
        }
        if !p.recent.is_empty() || p.state == WorkerState::Running {
            self.recent = p.recent.clone();
        }
        self.progress = p;
    }

    fn poll_worker(&mut self) {
        let Some(w) = self.worker.as_mut() else {
            return;
        };
        let mut closed = false;
        let mut reports = Vec::new();
        for e in w.handle.drain() {
            match e {
                Event::Report(r) => reports.push(*r),
                Event::Closed => closed = true,
            }
        }
        for r in reports {
            match r {
                Report::Progress(p) => self.apply_progress(p),
                Report::Ack {
                    what,
                    error: Some(e),
                } => self.message = Some(format!("{what} failed: {e}")),
                _ => {}
            }
        }
        if closed {
            self.on_worker_closed();
        }
    }

    fn on_worker_closed(&mut self) {
        if let Some(mut w) = self.worker.take() {
            let d = w.handle.death();
            self.message = Some(format!(
                "{}; press r to restart on the file's current size",
                d.reason
            ));
            self.dead = Some(d.reason);
            self.caps.pagemap_note = Some("no worker".into());
        }
    }

    /// The latest sample with the current settings, state and message: the immediate answer
    /// to a key, without the cost of sampling.
    fn quick_snapshot(&mut self) -> Snapshot {
        let Some(mut s) = self.last_sent.clone() else {
            return self.snapshot();
        };
        self.seq += 1;
        s.seq = self.seq;
        s.t_ms = self.started.elapsed().as_millis() as u64;
        s.worker = self.worker_info();
        s.caps = self.caps.clone();
        s.file = self.file.clone();
        s.comparison = self.comparison.clone();
        if let Some(m) = self.message.take() {
            s.message = Some(m);
        }
        s.inspector = self.inspector.current();
        s
    }

    fn worker_info(&self) -> WorkerInfo {
        let state = if let Some(r) = &self.dead {
            RunState::Dead { reason: r.clone() }
        } else {
            match self.progress.state {
                WorkerState::Idle => RunState::Starting,
                WorkerState::Running => RunState::Running,
                WorkerState::Paused => RunState::Paused,
                WorkerState::Finished => RunState::Finished,
            }
        };
        WorkerInfo {
            pid: self.worker.as_ref().map(|w| w.handle.pid()),
            state,
            pattern: self.spec.kind,
            rate: self.rate,
            advice: self.advice,
            access_size: self.spec.access_size,
            accesses: self.progress.accesses,
            batches: self.progress.batches,
        }
    }

    fn snapshot(&mut self) -> Snapshot {
        let now = Instant::now();
        let dt = now.duration_since(self.last_tick).as_secs_f64().max(1e-3);
        let pages = self.probe.pages();
        let (vs, ve, vc) = self.view;
        let cells = if vc == 0 { 2000 } else { vc };
        let touched = Some(&self.touched);
        let mut recent = self.recent.clone();
        recent.sort_unstable();
        let grid_res = {
            let mapped = self.worker.as_mut().and_then(|w| {
                let addr = w.handle.map.addr;
                let mp = w.handle.map.len.div_ceil(page_size());
                w.pagemap.as_mut().map(|r| MappedSource {
                    reader: r,
                    addr,
                    pages: mp,
                })
            });
            grid::sample(
                &mut self.probe,
                mapped,
                touched,
                &recent,
                vs,
                ve.min(pages),
                cells,
                &mut self.scratch,
            )
        };
        let grid = grid_res.unwrap_or_else(|e| {
            self.message = Some(format!("sampling failed: {e}"));
            GridData::default()
        });
        // Whole-file totals: from the grid when it shows the whole file, else separately.
        let whole = grid.start_page == 0 && grid.end_page == pages;
        let totals = self.totals(&grid, whole);

        // Fault rates over this tick, and per-fault ratios since the last reset.
        if let Some(f) = self
            .worker
            .as_mut()
            .and_then(|w| w.counters.as_mut())
            .and_then(|c| c.faults().ok())
        {
            self.faults_now = f;
        }
        let ft = self.faults_now;
        let d = ft.since(self.last_faults);
        self.last_faults = ft;
        self.minor_rate = d.minor as f64 / dt;
        self.major_rate = d.major as f64 / dt;
        push_hist(&mut self.minor_hist, d.minor);
        push_hist(&mut self.major_hist, d.major);
        if let (Some(prev), Some(now_c)) = (self.prev_cached, totals.cached) {
            if d.major > 0 {
                self.ra_pages += now_c.saturating_sub(prev);
                self.ra_majors += d.major;
            }
        }
        if let (Some(prev), Some(now_m)) = (self.prev_mapped, totals.mapped) {
            if d.total() > 0 {
                self.map_pages += now_m.saturating_sub(prev);
                self.map_faults += d.total();
            }
        }
        self.prev_cached = totals.cached;
        self.prev_mapped = totals.mapped;

        if let Some(c) = self.worker.as_ref().and_then(|w| w.dtlb.as_ref()) {
            let v = c.read();
            if let Some((pv, pa)) = self.last_dtlb {
                let da = self.progress.accesses.saturating_sub(pa);
                self.tlb.hardware = Some(tlb::rates(&pv, &v, dt, da));
            }
            self.last_dtlb = Some((v, self.progress.accesses));
        }
        self.last_tick = now;
        self.seq += 1;

        let ft_since = ft.since(self.baseline);
        Snapshot {
            schema_version: 1,
            seq: self.seq,
            t_ms: self.started.elapsed().as_millis() as u64,
            file: self.file.clone(),
            caps: self.caps.clone(),
            worker: self.worker_info(),
            grid,
            totals,
            faults: FaultStats {
                minor_total: ft_since.minor,
                major_total: ft_since.major,
                minor_rate: self.minor_rate,
                major_rate: self.major_rate,
                minor_history: self.minor_hist.clone(),
                major_history: self.major_hist.clone(),
                pages_cached_per_major: (self.ra_majors > 0)
                    .then(|| self.ra_pages as f64 / self.ra_majors as f64),
                pages_mapped_per_fault: (self.map_faults > 0)
                    .then(|| self.map_pages as f64 / self.map_faults as f64),
                read_bytes: self.progress.read_bytes,
            },
            tlb: self.tlb.clone(),
            comparison: self.comparison.clone(),
            message: self
                .message
                .take()
                .or_else(|| self.last_sent.as_ref().and_then(|s| s.message.clone())),
            inspector: self.inspector.tick(&self.target),
        }
    }

    fn totals(&mut self, grid: &GridData, whole: bool) -> Totals {
        let sum = |f: fn(&CellCounts) -> Option<u64>| -> Option<u64> {
            grid.cells.iter().map(f).sum::<Option<u64>>()
        };
        let (cached, dirty) = if whole {
            (sum(|c| c.cached), sum(|c| c.dirty))
        } else {
            match self.probe.range(0, self.probe.pages()) {
                Ok(Some(r)) => (Some(r.cached), r.dirty),
                _ => (None, None),
            }
        };
        let (mapped, private) = if whole {
            (sum(|c| c.mapped), sum(|c| c.private))
        } else if let Some(w) = self.worker.as_mut() {
            let ps = page_size();
            let mp = w.handle.map.len.div_ceil(ps);
            let addr = w.handle.map.addr;
            match w.pagemap.as_mut() {
                Some(r) => {
                    let mut runs = Vec::new();
                    match r.present_runs(addr, mp, ps, &mut runs) {
                        Ok(()) => {
                            let (f, p) = crate::pagemap::count_in(&runs, 0, u64::MAX, &mut 0);
                            (Some(f), Some(p))
                        }
                        Err(_) => (None, None),
                    }
                }
                None => (None, None),
            }
        } else {
            (None, None)
        };
        let touched = self.touched.len();
        Totals {
            cached,
            dirty,
            mapped,
            private,
            touched,
            ghosts: cached.map(|c| c.saturating_sub(touched)),
        }
    }
}

fn push_hist(h: &mut Vec<u64>, v: u64) {
    if h.len() == HISTORY {
        h.remove(0);
    }
    h.push(v);
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
}
