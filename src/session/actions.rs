//! What the keys do to the file and the workload: evict, warm, switch pattern, advice, step.
//! Every sentence said is a measurement or the request itself, never a claim about the kernel
//! that was not checked here.

use super::Session;
use crate::kernel::advice::Advice;
use crate::kernel::cache::{self, Fill};
use crate::session::snapshot::ComparisonState;
use crate::text::thousands;
use crate::units::{human_bytes, page_size};
use crate::workload::patterns::PatternKind;
use crate::workload::worker::{Control, Progress, WorkerState};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

/// How long after an advice change its effect on the cache is measured.
const ADVICE_SETTLE: Duration = Duration::from_millis(700);

/// Measurements waiting for their "after" sample.
#[derive(Default)]
pub struct Pending {
    /// (advice, whole-file cached pages before, when) for the advice-effect message.
    advice: Option<(Advice, Option<u64>, Instant)>,
    /// Accesses before a step and the cached pages then.
    step: Option<(u64, Option<u64>)>,
    /// A step's first line, waiting for the cache delta of the next sample.
    step_line: Option<String>,
}

impl Pending {
    pub fn is_empty(&self) -> bool {
        self.advice.is_none() && self.step.is_none() && self.step_line.is_none()
    }
}

/// A warm pass on its own thread (it can take seconds on a cold file): the session keeps
/// sampling meanwhile, so the grid fills live, and a second `w` says one is running.
pub struct WarmJob {
    rx: Receiver<(std::io::Result<u64>, Duration)>,
    fill: Fill,
}

impl Session {
    /// Whole-file cached pages now (None when hidden or on error).
    pub(super) fn cached_now(&mut self) -> Option<u64> {
        let pages = self.probe.pages();
        self.probe.range(0, pages).ok().flatten().map(|r| r.cached)
    }

    /// Begins a new interval of every workload (evict, warm, comparison: the file changed
    /// under all of them): faults, accesses, read bytes, cached pages at the start, and which
    /// cached pages were already there.
    pub(super) fn begin_interval(&mut self, reason: &str) {
        self.capture_provenance();
        self.each(|s| s.reset_slot_interval(reason));
        self.interval_began(reason);
    }

    /// Begins a new interval of the current workload only (its start, its pattern switch).
    pub(super) fn begin_slot_interval(&mut self, reason: &str) {
        self.capture_provenance();
        self.reset_slot_interval(reason);
        self.interval_began(reason);
    }

    /// Which cached pages were there at the start of the interval (shared by all workloads).
    fn capture_provenance(&mut self) {
        let pages = self.probe.pages();
        if let Err(e) = self.provenance.capture(&mut self.probe, pages) {
            self.say(format!("could not record which pages were cached: {e}"));
        } else if self.probe.visible() && !self.provenance.exact {
            self.say(
                "too many cached pages to record one by one in 150 ms: partly cached ranges \
                 count as cached before, so 'read ahead' is a lower bound in this interval",
            );
        }
    }

    fn reset_slot_interval(&mut self, reason: &str) {
        let faults = self
            .w
            .worker
            .as_mut()
            .and_then(|w| w.counters.as_mut())
            .and_then(|c| c.faults().ok())
            .unwrap_or_default();
        let read = self
            .w
            .worker
            .as_mut()
            .and_then(|w| w.counters.as_mut())
            .and_then(|c| c.read_bytes());
        let cached = self.cached_now();
        self.w
            .interval
            .reset(reason, faults, self.w.progress.accesses, read, cached);
        self.w.first_touch.clear();
        // Until the next full sample: the new interval's figures, not the old one's.
        self.w.faults = Default::default();
        self.w.faults.interval.reason = reason.to_string();
    }

    fn interval_began(&mut self, reason: &str) {
        self.warning = None;
        // A measurement spanning the reset would mix two intervals: drop it, and say so.
        if let Some((advice, _, _)) = self.pending.advice.take() {
            self.say(format!(
                "advice {advice}: its effect was not measured (the {reason} came first)"
            ));
        }
    }

    /// Pauses every worker and drops its mapping, evicts the file, says what happened and why
    /// any pages stayed (only reasons that were checked), then resumes those that ran.
    pub(super) fn evict(&mut self) {
        let was_running = self.quiesce_all();
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
        let m = match r {
            Ok(r) => match (r.cached_before, r.cached_after) {
                (Some(b), Some(0)) => format!("evicted: {} -> 0 pages cached", thousands(b)),
                (Some(b), Some(a)) => {
                    let why = r.stayed_reason.unwrap_or_default();
                    format!(
                        "evict: {} -> {} pages cached; {why}",
                        thousands(b),
                        thousands(a)
                    )
                }
                _ => "evict requested; the result is hidden by the kernel".into(),
            },
            Err(e) => format!("evict failed: {e}"),
        };
        self.begin_interval("evict");
        self.say(m);
        self.resume_ids(&was_running);
    }

    /// Starts a warm pass in the background (a second one while it runs is refused, said so).
    pub(super) fn warm(&mut self, fill: Fill) {
        if self.warm_job.is_some() {
            self.say("a warm pass is already running: this key was ignored");
            return;
        }
        let file = match self.target.file.try_clone() {
            Ok(f) => f,
            Err(e) => {
                self.say(format!("warm failed: {e}"));
                return;
            }
        };
        let pages = self.probe.pages();
        let (tx, rx) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("mmviz-warm".into())
            .spawn(move || {
                let t0 = Instant::now();
                let r = cache::warm(&file, 0, pages, fill);
                let _ = tx.send((r, t0.elapsed()));
            });
        match spawned {
            Ok(_) => {
                self.warm_job = Some(WarmJob { rx, fill });
                self.say(match fill {
                    Fill::Sequential => "warming: reading the file sequentially…",
                    Fill::Random => "warming: reading every page once in random order…",
                });
            }
            Err(e) => self.say(format!("warm failed: {e}")),
        }
    }

    pub(super) fn poll_warm(&mut self) {
        let Some(job) = &self.warm_job else { return };
        let Ok((r, took)) = job.rx.try_recv() else {
            return;
        };
        let fill = job.fill;
        self.warm_job = None;
        let how = match fill {
            Fill::Sequential => "sequentially (the page cache builds large folios)",
            Fill::Random => "as random 4 KiB reads (small folios where the pages were not cached)",
        };
        let m = match r {
            Ok(n) => format!(
                "warmed: read {} in {:.0} ms {how}; pages it cached count as cached only",
                human_bytes(n),
                took.as_secs_f64() * 1e3
            ),
            Err(e) => format!("warm failed: {e}"),
        };
        // The warm pass is ours, not the workload's: a new interval, so its pages are
        // "cached only" and its cache growth is not charged to the workload's faults.
        self.begin_interval("warm");
        self.say(m);
    }

    /// A clean switch: pause, drop the mapping and the touched set, restart every derived
    /// figure, forget a comparison of the previous pattern, then run the new pattern.
    pub(super) fn switch_pattern(&mut self, pattern: PatternKind) {
        // bsearch reads keys of sorted records: on any other file its lookups would be
        // offsets without a search behind them, so it is refused (the worker keeps running).
        if pattern == PatternKind::Bsearch {
            if let Err(why) =
                crate::workload::patterns::bsearch::check_records_file(&self.target.path)
            {
                self.say(format!("bsearch refused: this file {why}"));
                return;
            }
        }
        if pattern == PatternKind::Grep && self.w.spec.regex.is_none() {
            self.w.spec.regex = Some(crate::workload::patterns::grep::DEFAULT_REGEX.into());
        }
        let old = self.w.spec.kind;
        let paused = self.w.progress.state == WorkerState::Paused;
        self.quiesce();
        self.w.spec.kind = pattern;
        // The worker's counters restart with the new configuration: the interval counts
        // accesses from 0, and the old run's reports still on their way are not applied.
        self.w.progress.accesses = 0;
        self.w.progress.batches = 0;
        self.w.configuring = self.w.worker.is_some();
        self.begin_slot_interval("pattern");
        let cfg = self.configure(paused);
        self.send(cfg);
        // The state the worker is in once it takes the configuration (its reports until then
        // are dropped): an evict or pause right after the switch acts on it.
        if self.w.worker.is_some() {
            self.w.progress.state = if paused {
                WorkerState::Paused
            } else {
                WorkerState::Running
            };
        }
        let mut m = match (&self.w.spec.regex, pattern) {
            (Some(re), PatternKind::Grep) => format!(
                "{}pattern: grep /{re}/{} (mapping dropped, counters reset)",
                self.who(),
                if self.opts.spec.regex.is_none() {
                    " (the default regex: --regex RE searches for another)"
                } else {
                    ""
                }
            ),
            _ => format!(
                "{}pattern: {pattern} (mapping dropped, counters reset)",
                self.who()
            ),
        };
        if let ComparisonState::Done(r) = &self.comparison {
            if r.pattern != pattern {
                m.push_str(&format!("; the {old} comparison was cleared"));
                self.comparison = ComparisonState::Idle;
            }
        }
        self.say(m);
    }

    pub(super) fn cycle_advice(&mut self) {
        let was_huge = self.w.advice == Advice::Hugepage;
        self.w.advice = self.w.advice.next();
        self.send(Control::Advise {
            advice: self.w.advice,
        });
        let ra = self
            .file
            .read_ahead_kb
            .map(|kb| format!(" (read_ahead_kb {kb})"))
            .unwrap_or_default();
        let what = match self.w.advice {
            Advice::Normal => format!("MADV_NORMAL: the default readahead on faults{ra}"),
            Advice::Random => "MADV_RANDOM: asks for no readahead on faults".into(),
            Advice::Sequential => "MADV_SEQUENTIAL: asks for aggressive readahead on faults".into(),
            Advice::Willneed => {
                "MADV_WILLNEED: asks the kernel to read the mapping ahead now".into()
            }
            Advice::Hugepage => "MADV_HUGEPAGE: cold faults read 2 MiB folios, PMD-mapped".into(),
        };
        // The worker replaced MADV_HUGEPAGE with MADV_NOHUGEPAGE (see worker/child/control.rs).
        let what = if was_huge {
            format!("{what} (and MADV_NOHUGEPAGE: madvise cannot undo hugepage)")
        } else {
            what
        };
        self.say(format!(
            "advice {}: {what}; measuring what the cache does…",
            self.w.advice
        ));
        let cached = self.cached_now();
        self.pending.advice = Some((self.w.advice, cached, Instant::now()));
    }

    /// One batch while paused; at <= 10 accesses/s exactly one access (the worker's step is
    /// a tenth of a second of the rate). The result is said when its report arrives.
    pub(super) fn step(&mut self) {
        if self.w.worker.is_none() {
            self.say("no worker: press r to restart it");
            return;
        }
        let cached = self.last_sent.as_ref().and_then(|s| s.totals.cached);
        self.pending.step = Some((self.w.progress.accesses, cached));
        self.send(Control::Step);
    }

    /// Called for each progress report: finishes a pending step's sentence.
    pub(super) fn step_progress(&mut self, p: &Progress) {
        let Some((before, _)) = self.pending.step else {
            return;
        };
        if p.accesses <= before {
            return;
        }
        let n = p.accesses - before;
        let f = p.last_batch_faults;
        let faults = match (f.minor, f.major) {
            (0, 0) => "no fault (the page was mapped: a RAM hit)".to_string(),
            (mi, 0) => format!("{mi} minor fault{}", if mi == 1 { "" } else { "s" }),
            (0, ma) => format!("{ma} major fault{}", if ma == 1 { "" } else { "s" }),
            (mi, ma) => format!("{mi} minor and {ma} major faults"),
        };
        let line = if n == 1 {
            let page = p.recent.first().copied().unwrap_or(0);
            format!(
                "step: access {} on page {} -> {faults}",
                thousands(p.accesses),
                thousands(page)
            )
        } else {
            format!("step: ran {n} accesses -> {faults}")
        };
        self.pending.step_line = Some(line);
    }

    /// Finishes measurements that need a later sample (called with the whole-file cached
    /// pages of the sample just taken).
    pub(super) fn finish_pending(&mut self, cached: Option<u64>) {
        if let Some(line) = self.pending.step_line.take() {
            let before = self.pending.step.take().and_then(|s| s.1);
            let delta = match (before, cached) {
                (Some(b), Some(a)) if a > b => format!(
                    "; {} pages newly cached ({})",
                    a - b,
                    human_bytes((a - b) * page_size())
                ),
                (Some(_), Some(_)) => "; nothing newly cached".into(),
                _ => String::new(),
            };
            self.say(format!("{line}{delta}"));
        }
        if let Some((advice, before, at)) = self.pending.advice {
            if at.elapsed() < ADVICE_SETTLE {
                return;
            }
            self.pending.advice = None;
            let m = match (before, cached) {
                // Something dropped pages meanwhile (a comparison evicting before each repeat,
                // another program, reclaim): the growth cannot be told from that.
                (Some(b), Some(a)) if a < b => format!(
                    "advice {advice}: not measured: the cache shrank meanwhile ({} -> {} \
                     pages cached in {:.1} s{}), so what the advice read in cannot be told apart",
                    thousands(b),
                    thousands(a),
                    at.elapsed().as_secs_f64(),
                    if self.compare_job.is_some() {
                        ": a comparison is running, and it sets the cache state before each repeat"
                    } else {
                        ""
                    }
                ),
                (Some(b), Some(a)) => {
                    let grew = a.saturating_sub(b);
                    let all = self.probe.pages();
                    let whole = if grew > 0 && a >= all {
                        " (now the whole file)".to_string()
                    } else if grew > 0 {
                        format!(
                            " ({:.1}% of the file)",
                            grew as f64 * 100.0 / all.max(1) as f64
                        )
                    } else {
                        String::new()
                    };
                    let running = if self.w.progress.state == WorkerState::Running {
                        ", the workload's own faults included"
                    } else {
                        ""
                    };
                    format!(
                        "advice {advice}: in {:.1} s the cache grew by {} pages ({}){whole}{running}: {} -> {} cached",
                        at.elapsed().as_secs_f64(),
                        thousands(grew),
                        human_bytes(grew * page_size()),
                        thousands(b),
                        thousands(a)
                    )
                }
                _ => format!(
                    "advice {advice}: the cache state is hidden, its effect cannot be measured"
                ),
            };
            self.say(m);
        }
    }
}
