//! The workload: one worker process, its /proc counters and its page-table reader. The session
//! starts, quiesces, restarts and stops it, and folds its reports into the touched set. Every
//! method acts on the current slot `self.w` (see `workloads` for the list).

use super::Session;
use crate::kernel::counters::ProcCounters;
use crate::kernel::pagemap::PagemapReader;
use crate::kernel::tlb::{self, Counters};
use crate::session::snapshot::PagemapSource;
use crate::units::page_size;
use crate::workload::worker::{Control, Event, Limit, Progress, Report, WorkerHandle, WorkerState};
use std::time::{Duration, Instant};

/// How long a state asked for is kept against older reports.
const EXPECT_FOR: Duration = Duration::from_secs(1);
/// How long an evict or warm waits for a worker to confirm it dropped its mapping. It answers
/// within milliseconds on an idle machine; a loaded one (2 vCPUs running a test suite) was
/// seen taking over 1 s, and then the evict found the pages still mapped.
const QUIESCE_WAIT: Duration = Duration::from_secs(5);

pub struct Workload {
    pub handle: WorkerHandle,
    /// The worker's /proc/<pid>/stat, read at sampling time so fault counts and page-table
    /// samples describe the same instant.
    pub counters: Option<ProcCounters>,
    pub pagemap: Option<PagemapReader>,
    pub dtlb: Option<Counters>,
}

/// The process state letter of `pid` (field 3 of /proc/<pid>/stat): R, S, D, T, t, Z...
pub fn proc_state(pid: u32) -> Option<char> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    s[s.rfind(')')? + 1..]
        .split_whitespace()
        .next()?
        .chars()
        .next()
}

impl Session {
    /// Starts a worker on the target (stopping the old one first). `paused` keeps a paused
    /// session paused. Every derived figure restarts with it (`reason` names the interval).
    pub(super) fn start_worker(&mut self, paused: bool, reason: &str) {
        self.stop_worker();
        self.w.touched.clear();
        self.w.recent.clear();
        self.w.dead = None;
        self.w.stopped = None;
        self.w.progress = Progress::default();
        self.w.configuring = false;
        self.w.expected_state = None;
        let wopts = crate::workload::worker::WorkerOptions {
            write: self.opts.write.map(|w| w.mode),
            write_share: self.opts.write.map_or(1.0, |w| w.share),
            ..Default::default()
        };
        let h = match WorkerHandle::spawn_with(&self.target.path, &wopts, Duration::from_secs(10)) {
            Ok(h) => h,
            Err(e) => {
                let m = format!("could not start the worker: {e}");
                self.w.dead = Some(m.clone());
                self.say(m);
                return;
            }
        };
        let pid = h.pid();
        let pagemap = match crate::kernel::features::worker_proc(|| PagemapReader::open(pid)) {
            Ok(mut r) => {
                // A read-only or MAP_SHARED mapping holds no private copies; a MAP_PRIVATE
                // writer does, and they are what its grid shows.
                r.set_file_bit(wopts.write == Some(crate::workload::worker::WriteMode::Private));
                // PMD-mapped (huge) pages per cell: PAGEMAP_SCAN only.
                r.set_huge(true);
                self.caps.pagemap = r.source();
                self.caps.pagemap_note = (r.source() == PagemapSource::Pread)
                    .then(|| "pread cannot tell huge (PMD) mappings".to_string());
                Some(r)
            }
            Err(e) => {
                self.caps.pagemap = PagemapSource::Unavailable;
                self.caps.pagemap_note = Some(format!("/proc/{pid}/pagemap: {e}"));
                None
            }
        };
        let (info, dtlb) = tlb::probe(pid, page_size(), self.file.pages);
        // A `t` measurement running or shown survives a worker (re)start.
        let measurement = std::mem::take(&mut self.tlb.measurement);
        self.tlb = crate::session::snapshot::TlbInfo::from_probe(info);
        self.tlb.measurement = measurement;
        self.w.last_dtlb = None;
        self.w.last_latency = None;
        self.tlb.latency = None;
        let counters = crate::kernel::features::worker_proc(|| ProcCounters::open(Some(pid))).ok();
        self.w.worker = Some(Workload {
            handle: h,
            counters,
            pagemap,
            dtlb,
        });
        if self.w.advice != crate::kernel::advice::Advice::Normal {
            self.send(Control::Advise {
                advice: self.w.advice,
            });
        }
        // The interval starts after the worker's own start-up faults (exec, mmap, /proc).
        self.begin_slot_interval(reason);
        let cfg = self.configure(paused);
        self.send(cfg);
    }

    pub(super) fn stop_worker(&mut self) {
        // An msync in flight is answered by this worker or never.
        self.w.msync_pending = None;
        if let Some(mut w) = self.w.worker.take() {
            // A stopped (SIGSTOP) worker cannot read its stop control: kill it at once so
            // quitting stays fast.
            if matches!(proc_state(w.handle.pid()), Some('T' | 't')) {
                w.handle.kill_and_explain();
            } else {
                w.handle.stop(Duration::from_secs(2));
            }
        }
    }

    /// `r`: reopen the file if it was replaced, restart every worker, keep a paused worker
    /// paused. Says only what happened.
    pub(super) fn restart(&mut self) {
        let mut paused = Vec::new();
        self.each(|s| {
            if s.w.progress.state == WorkerState::Paused {
                paused.push(s.w.id);
            }
        });
        if let Err(e) = self.reopen_if_changed() {
            self.say(format!("cannot restart: {e}"));
            return;
        }
        let mut started = 0;
        self.each(|s| {
            s.start_worker(paused.contains(&s.w.id), "restart");
            started += usize::from(s.w.worker.is_some());
        });
        if started > 0 {
            let n = self.workload_count();
            let m = format!(
                "counters reset, {} restarted on {} pages{}",
                if n == 1 {
                    "worker".to_string()
                } else {
                    format!("{started} of {n} workers")
                },
                self.file.pages,
                if paused.is_empty() { "" } else { " (paused)" }
            );
            self.say(m);
        }
    }

    pub(super) fn configure(&self, paused: bool) -> Control {
        Control::Configure {
            pattern: self.w.spec.clone(),
            limit: Limit::Unbounded,
            rate: self.w.rate,
            paused,
            report_ms: (1000 / self.opts.hz.clamp(1, 60) as u64 / 2).max(10),
        }
    }

    pub(super) fn send(&mut self, c: Control) {
        if let Some(w) = self.w.worker.as_mut() {
            if w.handle.send(&c).is_err() {
                self.on_worker_closed();
                return;
            }
            // The worker applies controls in order; assume the state it will report, so a key
            // pressed before its next report (a second space, a pause right after an evict
            // resumed it) acts on what the user sees, not on a stale report.
            let st = &mut self.w.progress.state;
            let expect = match c {
                Control::Pause if matches!(*st, WorkerState::Running | WorkerState::Idle) => {
                    Some(WorkerState::Paused)
                }
                Control::Resume if matches!(*st, WorkerState::Paused | WorkerState::Idle) => {
                    Some(WorkerState::Running)
                }
                _ => None,
            };
            if let Some(e) = expect {
                *st = e;
                self.w.expected_state = Some((e, Instant::now()));
            }
        }
    }

    /// Pauses the worker and drops its mapping, waiting (bounded) for the acknowledgement, so
    /// that nothing touches the file while the session evicts it or switches patterns. Returns
    /// whether the worker was running.
    pub(super) fn quiesce(&mut self) -> bool {
        let was_running = self.w.progress.state == WorkerState::Running;
        let mut pending = Vec::new();
        let mut closed = false;
        if let Some(w) = self.w.worker.as_mut() {
            let ok = w.handle.send(&Control::Pause).is_ok()
                && w.handle.send(&Control::DropMapping).is_ok();
            if ok {
                let t0 = Instant::now();
                while t0.elapsed() < QUIESCE_WAIT {
                    match w.handle.recv(Duration::from_millis(50)) {
                        Some(Event::Report(r)) => match *r {
                            Report::Ack { what, .. } if what == "drop_mapping" => break,
                            // A switch's configure answered here: its reports count again.
                            Report::Ack { what, .. } if what == "configure" => {
                                self.w.configuring = false
                            }
                            Report::Progress(_) if self.w.configuring => {}
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
        self.w.touched.clear();
        self.w.recent.clear();
        was_running
    }

    pub(super) fn apply_progress(&mut self, p: Progress) {
        if p.touched_reset {
            self.w.touched.clear();
        }
        for &(s, l) in &p.new_touched {
            self.w.touched.insert_range(s..s + l);
        }
        // At slow rates a batch is a few accesses: record when each page was first touched
        // and what its batch cost, for the page inspector.
        if p.last_batch_accesses > 0
            && p.last_batch_accesses <= crate::session::snapshot::FIRST_TOUCH_BATCH
            && self.w.first_touch.len() < super::FIRST_TOUCH_KEPT
        {
            let t_ms = self.started.elapsed().as_millis() as u64;
            let access = p.accesses.saturating_sub(self.w.interval.accesses_at_start);
            for &(s, l) in &p.new_touched {
                for page in s..(s + l).min(s + 64) {
                    self.w.first_touch.entry(page).or_insert(
                        crate::session::snapshot::FirstTouch {
                            page,
                            t_ms,
                            access,
                            batch_accesses: p.last_batch_accesses,
                            minor_faults: p.last_batch_faults.minor,
                            major_faults: p.last_batch_faults.major,
                        },
                    );
                }
            }
        }
        self.provenance.touched(&p.new_touched);
        if !p.recent.is_empty() || p.state == WorkerState::Running {
            self.w.recent = p.recent.clone();
        }
        // A step is the selected worker's: another worker's report does not finish it.
        if !self.foreign {
            self.step_progress(&p);
        }
        let mut p = p;
        // Reports written before the worker read our last pause/resume still carry the old
        // state: keep the state we asked for until the worker confirms it (or 1 s passes).
        if let Some((want, at)) = self.w.expected_state {
            if p.state == want || p.state == WorkerState::Finished || at.elapsed() > EXPECT_FOR {
                self.w.expected_state = None;
            } else {
                p.state = want;
            }
        }
        self.w.progress = p;
    }

    pub(super) fn poll_worker(&mut self) {
        let Some(w) = self.w.worker.as_mut() else {
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
                // The old run's last reports, before the worker took the new configuration.
                Report::Progress(_) if self.w.configuring => {}
                Report::Progress(p) => self.apply_progress(p),
                Report::Ack { what, error } => {
                    if what == "configure" {
                        self.w.configuring = false;
                    }
                    if let Some(e) = error {
                        let who = self.who();
                        self.say(format!("{who}{what} failed: {e}"))
                    }
                }
                Report::Msynced {
                    sync,
                    ns,
                    periodic: false,
                    error,
                } => self.on_msynced(sync, ns, error),
                _ => {}
            }
        }
        if closed {
            self.on_worker_closed();
        } else {
            self.check_stopped();
        }
    }

    /// A worker stopped by a signal reports nothing and looks alive: ask /proc.
    fn check_stopped(&mut self) {
        let Some(pid) = self.w.worker.as_ref().map(|w| w.handle.pid()) else {
            return;
        };
        let stopped = matches!(proc_state(pid), Some('T' | 't'));
        match (stopped, self.w.stopped.is_some()) {
            (true, false) => {
                let m = format!(
                    "{}the worker (pid {pid}) is stopped (SIGSTOP or a debugger): it runs \
                     nothing until continued (kill -CONT {pid}); r restarts it",
                    self.who()
                );
                self.w.stopped = Some(m.clone());
                self.say(m);
            }
            (false, true) => {
                self.w.stopped = None;
                let who = self.who();
                self.say(format!("{who}the worker (pid {pid}) was continued"));
            }
            _ => {}
        }
    }

    pub(super) fn on_worker_closed(&mut self) {
        self.w.msync_pending = None;
        if let Some(mut w) = self.w.worker.take() {
            let d = w.handle.death();
            let who = self.who();
            self.say(format!(
                "{who}{}; press r to restart on the file's current size",
                d.reason
            ));
            self.w.dead = Some(d.reason);
            self.w.stopped = None;
            if self.others.is_empty() {
                self.caps.pagemap_note = Some("no worker".into());
            }
        }
    }
}
