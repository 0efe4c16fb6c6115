//! The live view's session for an observed program (`mmviz attach PID` / `mmviz exec -- CMD`
//! in a terminal): a sampler thread that turns an [`Observer`] into the same [`Snapshot`]s the
//! worker's session sends, so the TUI's grid and fault panels show the observed process.
//!
//! No worker: the workload commands are refused with a reason. Evict and warm act on the file
//! (the UI asks for confirmation first: they change another program's performance). Nothing
//! here signals or traces the observed process; it is only read through /proc.
//!
//! The grid's mapped state comes from the observer's whole-file runs of its last sample
//! ([`ObservedRuns`], a [`PresenceSource`]): one page-table walk per tick, combined by file
//! offset over all the file's ranges, and still there after the process exits (its page table
//! is then gone: the screen keeps the last sample, and says so).

mod snapshot;

use super::{Chosen, Liveness, ObsEvent, Observer};
use crate::kernel::cache::Fill;
use crate::kernel::counters::{Faults, ProcCounters};
use crate::kernel::pagemap::PresentRun;
use crate::session::grid::{GridScratch, PresenceSource};
use crate::session::interval::IntervalStats;
use crate::session::snapshot::*;
use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::process::Child;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Events kept (the snapshot carries the newest `EVENTS_KEPT`).
const LOG_KEPT: usize = 200;
/// Program output shown in the log: at most this much per tick, and lines cut at this width.
const OUTPUT_CHUNK: usize = 16 * 1024;
const OUTPUT_LINE: usize = 200;

/// Whole-file present runs (file page indexes) served for any window of the grid.
pub struct ObservedRuns<'a> {
    pub runs: &'a [PresentRun],
}

impl PresenceSource for ObservedRuns<'_> {
    fn present_runs(&mut self, start: u64, end: u64, out: &mut Vec<PresentRun>) -> io::Result<()> {
        out.clear();
        if end <= start {
            return Ok(());
        }
        let lo = self.runs.partition_point(|r| r.end <= start);
        for r in &self.runs[lo..] {
            if r.start >= end {
                break;
            }
            out.push(PresentRun {
                start: r.start.max(start) - start,
                end: r.end.min(end) - start,
                file: r.file,
            });
        }
        Ok(())
    }
}

/// A program mmviz started (`exec`): its handle, for the exit status, and the file its
/// stdout and stderr go to (shown in the message log as it grows).
pub struct ExecChild {
    pub child: Child,
    pub argv: Vec<String>,
    /// Where its output goes, and mmviz's descriptor to read it back.
    pub output: Option<(String, File)>,
}

/// How the observed session starts.
pub struct ObservedOptions {
    /// "attach" or "exec".
    pub command: &'static str,
    pub hz: u32,
    pub exec: Option<ExecChild>,
    /// exec with FILE: its cached pages before the program started.
    pub cached_before_spawn: Option<u64>,
}

/// A warm running on its own thread (the session keeps sampling meanwhile).
struct WarmJob {
    fill: Fill,
    before: Option<u64>,
    handle: JoinHandle<io::Result<u64>>,
}

struct ObservedSession {
    obs: Observer,
    opts: ObservedOptions,
    counters: Option<ProcCounters>,
    view: (u64, u64, u64),
    scratch: GridScratch,
    interval: IntervalStats,
    mapped_at_start: u64,
    events_seen: usize,
    log: VecDeque<LogEntry>,
    message: Option<String>,
    ended: Option<ObservedEnd>,
    warm: Option<WarmJob>,
    inspector: crate::inspect::SessionInspector,
    output_pos: u64,
    output_partial: String,
    last_read: Option<u64>,
    seq: u64,
    started: Instant,
}

/// Starts the observed session's thread; `obs` has been attached (and sampled once).
pub fn spawn(
    obs: Observer,
    opts: ObservedOptions,
) -> crate::error::Result<(
    Sender<Command>,
    Receiver<Snapshot>,
    JoinHandle<ObservedSummary>,
)> {
    let (ctx, crx) = mpsc::channel::<Command>();
    let (stx, srx) = mpsc::channel::<Snapshot>();
    let counters = ProcCounters::open(Some(obs.pid())).ok();
    let mut s = ObservedSession {
        obs,
        opts,
        counters,
        view: (0, 0, 0),
        scratch: GridScratch::with_budget(Duration::from_millis(30)),
        interval: IntervalStats::new(),
        mapped_at_start: 0,
        events_seen: 0,
        log: VecDeque::new(),
        message: None,
        ended: None,
        warm: None,
        inspector: Default::default(),
        output_pos: 0,
        output_partial: String::new(),
        last_read: None,
        seq: 0,
        started: Instant::now(),
    };
    s.begin_interval(s.opts.command);
    // What happened before the screen opened (the first choice of file, an exec): logged,
    // without starting a new interval.
    for e in s.obs.events().to_vec() {
        s.say(format!("{}: {}", e.kind, e.detail));
    }
    s.events_seen = s.obs.events().len();
    if let Some(out) = s.observed_info().output {
        s.say(format!("the program's {out}"));
    }
    let h = std::thread::Builder::new()
        .name("mmviz-observe".into())
        .spawn(move || s.run(crx, stx))
        .map_err(crate::error::AppError::runtime)?;
    Ok((ctx, srx, h))
}

/// What the session hands back when it ends: the exec'd program's exit (if it exited while
/// watched) and its output file, for the caller to print once the screen is restored.
pub struct ObservedSummary {
    pub ended: Option<ObservedEnd>,
    pub output: Option<(String, File)>,
    /// Still running when the view closed (exec: mmviz leaves it running).
    pub still_running: bool,
    pub pid: u32,
}

impl ObservedSession {
    fn run(mut self, commands: Receiver<Command>, snapshots: Sender<Snapshot>) -> ObservedSummary {
        let period = Duration::from_secs_f64(1.0 / self.opts.hz.clamp(1, 60) as f64);
        let mut next = Instant::now();
        'outer: loop {
            let wait = next.saturating_duration_since(Instant::now());
            let mut batch = Vec::new();
            let mut tick = false;
            match commands.recv_timeout(wait) {
                Ok(c) => batch.push(c),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => tick = true,
            }
            batch.extend(commands.try_iter().take(10_000));
            for c in batch {
                if c == Command::Quit {
                    break 'outer;
                }
                self.command(c);
            }
            if tick || self.seq == 0 {
                self.sample();
                next = Instant::now() + period;
            }
            self.poll_warm();
            let snap = self.snapshot();
            if snapshots.send(snap).is_err() {
                break;
            }
        }
        let still_running = self.ended.is_none() && self.obs.liveness() == Liveness::Running;
        ObservedSummary {
            ended: self.ended.clone(),
            output: self.opts.exec.take().and_then(|e| e.output),
            still_running,
            pid: self.obs.pid(),
        }
    }

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

    /// A new interval: totals and ratios restart (attach, exec, a file switch, evict, warm).
    fn begin_interval(&mut self, reason: &str) {
        let faults = if reason == "exec" {
            // exec observes from the program's start: its counters began at 0 (fork).
            Faults::default()
        } else {
            self.obs.last.faults.unwrap_or_default()
        };
        let read = if reason == "exec" {
            Some(0)
        } else {
            self.counters.as_mut().and_then(|c| c.read_bytes())
        };
        let cached = if reason == "exec" && self.opts.cached_before_spawn.is_some() {
            self.opts.cached_before_spawn
        } else {
            self.obs.cached_now()
        };
        self.mapped_at_start = if reason == "exec" {
            0
        } else {
            self.obs.last.mapped.unwrap_or(0)
        };
        self.interval.reset(reason, faults, 0, read, cached);
    }

    fn unavailable(&mut self, what: &str) {
        self.say(format!(
            "{what}: unavailable while observing PID {} (no mmviz worker)",
            self.obs.pid()
        ));
    }

    fn command(&mut self, c: Command) {
        match c {
            Command::SetView {
                start_page,
                end_page,
                cells,
            } => self.view = (start_page, end_page, cells),
            Command::Evict => self.evict(),
            Command::Warm => self.start_warm(Fill::Sequential),
            Command::WarmRandom => self.start_warm(Fill::Random),
            Command::NextFile => match self.obs.switch_next() {
                Ok(line) => {
                    self.events_seen = self.obs.events().len();
                    self.begin_interval("switch");
                    self.inspector = Default::default();
                    self.say(line);
                }
                Err(e) => self.say(e),
            },
            // Looking only: the bytes of a cached page; an uncached page is never read in
            // (that would change the observed program's page cache).
            Command::Inspect { page, read } => {
                let Some(w) = self.obs.watched() else {
                    return;
                };
                let m = self.inspector.request(&w.target, page, false);
                if read {
                    self.say(
                        "Enter (read the page) is unavailable while observing: reading an \
                         uncached page would bring it into the observed program's page cache",
                    );
                } else if let Some(m) = m {
                    self.say(m);
                }
            }
            Command::InspectOffset { offset } => {
                let Some(w) = self.obs.watched() else {
                    return;
                };
                if let Some(m) = self.inspector.request_offset(&w.target, offset) {
                    self.say(m);
                }
            }
            Command::SetPattern { .. } => self.unavailable("patterns"),
            Command::TogglePause => self.unavailable("pause"),
            Command::Step => self.unavailable("step"),
            Command::Slower | Command::Faster => self.unavailable("rate"),
            Command::CycleAdvice => self.unavailable("advice"),
            Command::Reset => self.unavailable("restart"),
            Command::Compare | Command::CancelCompare | Command::CycleCompareCache => {
                self.unavailable("compare")
            }
            Command::MeasureTlb { .. } | Command::CancelTlb => self.unavailable("TLB measurement"),
            Command::Msync { .. } => self.unavailable("msync (write mode)"),
            Command::Pause | Command::Resume => self.unavailable("pause"),
            Command::SetRate { .. } => self.unavailable("rate"),
            Command::SetAdvice { .. } => self.unavailable("advice"),
            Command::SetCompareCache { .. } => self.unavailable("compare"),
            Command::SetGrep { .. } => self.unavailable("patterns"),
            Command::AddWorkload | Command::RemoveWorkload | Command::SelectNextWorkload => {
                self.unavailable("workers")
            }
            Command::CycleWriteMode => self.unavailable("write mode"),
            Command::Note { text } => self.say(text),
            Command::Quit => {}
        }
    }

    fn evict(&mut self) {
        if self.warm.is_some() {
            self.say("warming: evict waits until it is done");
            return;
        }
        let pid = self.obs.pid();
        let Some(w) = self.obs.watched_mut() else {
            self.say("no file to evict");
            return;
        };
        let pages = w.pages();
        let fs = w.target.fs.clone();
        let r = crate::kernel::cache::evict(
            &w.target.file,
            &mut w.probe,
            0,
            pages,
            &[],
            fs.can_evict,
            fs.note.as_deref(),
        );
        let line = match r {
            Ok(r) => {
                let n = |v: Option<u64>| v.map_or("?".to_string(), crate::text::thousands);
                // Nothing left the cache (every page mapped, say): no "evicted" headline.
                let none =
                    matches!((r.cached_before, r.cached_after), (Some(b), Some(a)) if a >= b);
                let mut l = format!(
                    "{} (confirmed): {} -> {} pages cached",
                    if none {
                        "evict: nothing evicted"
                    } else {
                        "evicted"
                    },
                    n(r.cached_before),
                    n(r.cached_after)
                );
                if let Some(why) = r.stayed_reason {
                    l.push_str(&format!("; {why}"));
                }
                if !none {
                    l.push_str(&format!(
                        "; PID {pid}'s next touch of an evicted page is a major fault"
                    ));
                }
                l
            }
            Err(e) => format!("evict failed: {}", crate::error::io_reason(&e)),
        };
        self.begin_interval("evict");
        self.say(line);
    }

    fn start_warm(&mut self, fill: Fill) {
        if self.warm.is_some() {
            self.say("already warming");
            return;
        }
        let Some(w) = self.obs.watched_mut() else {
            self.say("no file to warm");
            return;
        };
        let pages = w.pages();
        let before = w.probe.range(0, pages).ok().flatten().map(|r| r.cached);
        let file = match w.target.file.try_clone() {
            Ok(f) => f,
            Err(e) => {
                let m = format!("warm failed: {}", crate::error::io_reason(&e));
                self.say(m);
                return;
            }
        };
        let handle = std::thread::spawn(move || crate::kernel::cache::warm(&file, 0, pages, fill));
        self.warm = Some(WarmJob {
            fill,
            before,
            handle,
        });
        self.say(format!(
            "warming (confirmed): reading the file into the page cache ({})",
            match fill {
                Fill::Sequential => "sequential reads",
                Fill::Random => "4 KiB reads in random order",
            }
        ));
    }

    fn poll_warm(&mut self) {
        if !self.warm.as_ref().is_some_and(|j| j.handle.is_finished()) {
            return;
        }
        let j = self.warm.take().expect("checked above");
        let res = j.handle.join();
        let after = self.obs.cached_now();
        let n = |v: Option<u64>| v.map_or("?".to_string(), crate::text::thousands);
        let line = match res {
            Ok(Ok(bytes)) => format!(
                "warmed ({}): read {}; {} -> {} pages cached",
                match j.fill {
                    Fill::Sequential => "sequential",
                    Fill::Random => "random 4 KiB",
                },
                crate::units::human_bytes(bytes),
                n(j.before),
                n(after)
            ),
            Ok(Err(e)) => format!("warm failed: {}", crate::error::io_reason(&e)),
            Err(_) => "warm failed: its thread panicked".to_string(),
        };
        self.begin_interval("warm");
        self.say(line);
    }

    fn sample(&mut self) {
        // The program's output first: its last lines come before the exit line.
        self.read_output();
        if self.ended.is_none() {
            self.obs.sample();
            self.new_events();
            if self.obs.liveness() != Liveness::Running {
                self.finish();
            }
        }
    }

    /// Observer events (exec, mapped, unmapped, remapped, resized, switched, unreadable) go
    /// to the message line and the log.
    fn new_events(&mut self) {
        let evs: Vec<ObsEvent> = self.obs.events()[self.events_seen..].to_vec();
        self.events_seen = self.obs.events().len();
        for e in evs {
            if e.kind == "exited" {
                continue; // said by finish(), with the totals
            }
            if e.kind == "switched" && self.obs.watched().is_some() {
                // The largest file changed: its own interval.
                self.begin_interval("switch");
            }
            self.say(format!("{}: {}", e.kind, e.detail));
        }
    }

    /// The process exited: take the totals (exit status for exec), keep the last screen.
    fn finish(&mut self) {
        let (code, signal, status_note) = match self.opts.exec.as_mut() {
            Some(e) => match e.child.wait() {
                Ok(s) => {
                    use std::os::unix::process::ExitStatusExt;
                    (s.code(), s.signal(), None)
                }
                Err(e) => (
                    None,
                    None,
                    Some(format!("wait4 failed: {}", crate::error::io_reason(&e))),
                ),
            },
            None => (
                None,
                None,
                Some("not mmviz's child: its exit status goes to its parent".to_string()),
            ),
        };
        let cached_after = self.obs.cached_now();
        let end = ObservedEnd {
            at_ms: self.obs.elapsed_ms(),
            exit_code: code,
            signal,
            status_note,
            faults: self.obs.last.faults,
            faults_final: self.obs.liveness() == Liveness::Zombie,
            mapped_last: self.obs.last.mapped,
            mapped_max: self.obs.mapped_max,
            cached_before: self.cached_before(),
            cached_after,
        };
        let how = match (code, signal) {
            (Some(c), _) => format!("exited with status {c}"),
            (_, Some(s)) => format!("was killed by signal {s}"),
            _ => "exited".to_string(),
        };
        let f = end.faults.map_or("unknown".to_string(), |f| {
            format!(
                "{} minor, {} major",
                crate::text::thousands(f.minor),
                crate::text::thousands(f.major)
            )
        });
        self.say(format!(
            "PID {} ({}) {how}: faults {f}{}; the screen keeps its last sample \
             (its page table is gone), q quits",
            self.obs.pid(),
            crate::text::escape_controls(self.obs.comm()),
            if end.faults_final {
                " (final, read at exit)"
            } else {
                " (last sample)"
            }
        ));
        self.ended = Some(end);
    }

    fn cached_before(&self) -> Option<u64> {
        let w = self.obs.watched()?;
        if self.opts.command == "exec" && w.chosen == Chosen::Given {
            return self.opts.cached_before_spawn.or(w.cached_before);
        }
        w.cached_before
    }

    /// New output of the exec'd program (its stdout and stderr file) into the log.
    fn read_output(&mut self) {
        let Some((_, f)) = self.opts.exec.as_ref().and_then(|e| e.output.as_ref()) else {
            return;
        };
        let mut buf = vec![0u8; OUTPUT_CHUNK];
        let n = match f.read_at(&mut buf, self.output_pos) {
            Ok(n) => n,
            Err(_) => return,
        };
        if n == 0 {
            return;
        }
        self.output_pos += n as u64;
        self.output_partial
            .push_str(&String::from_utf8_lossy(&buf[..n]));
        while let Some(i) = self.output_partial.find('\n') {
            let line: String = self.output_partial[..i].chars().take(OUTPUT_LINE).collect();
            self.output_partial.drain(..=i);
            self.say(format!("program: {line}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(start: u64, end: u64, file: bool) -> PresentRun {
        PresentRun { start, end, file }
    }

    #[test]
    fn observed_runs_cut_any_window_relative_to_its_start() {
        let runs = [
            run(0, 1, true),
            run(5, 6, true),
            run(17, 20, false),
            run(100, 102, true),
        ];
        let mut src = ObservedRuns { runs: &runs };
        let mut out = Vec::new();
        // (window) -> runs relative to its start
        let table: Vec<((u64, u64), Vec<PresentRun>)> = vec![
            ((0, 200), runs.to_vec()),
            ((1, 5), vec![]),
            ((5, 18), vec![run(0, 1, true), run(12, 13, false)]),
            ((18, 101), vec![run(0, 2, false), run(82, 83, true)]),
            ((101, 101), vec![]),
            ((300, 400), vec![]),
        ];
        for ((s, e), want) in table {
            src.present_runs(s, e, &mut out).unwrap();
            assert_eq!(out, want, "{s}..{e}");
        }
    }
}
