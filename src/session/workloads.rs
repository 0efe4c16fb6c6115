//! The list of workloads: one to `MAX_WORKLOADS` worker processes on the same file, each a
//! [`Slot`] with its own pattern, rate, advice, counters, interval and page table.
//!
//! One workload and several are the same code path: every per-workload method of the session
//! acts on `Session::w`, the selected slot. [`Session::each`] runs a method for every slot by
//! swapping each of the others into `w` for the call (and back), so polling, sampling, evict
//! and restart are written once. Shared by all: the target file, its page-cache probe, the
//! provenance of cached pages, the grid, the message log.

use super::durability::group;
use super::interval::IntervalStats;
use super::workload::Workload;
use super::{Session, SessionOptions};
use crate::kernel::addrspace::ProcessView;
use crate::kernel::advice::Advice;
use crate::session::snapshot::{FaultStats, FirstTouch, WorkloadView};
use crate::workload::worker::{Control, PatternSpec, Progress, WorkerState};
use roaring::RoaringTreemap;
use std::borrow::Cow;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Workloads a session runs at most (2 vCPUs here: more would only measure the scheduler).
pub const MAX_WORKLOADS: usize = 4;

/// How often each worker's /proc/<pid>/status, fd and maps are read for the worker panel.
const PROCESS_EVERY: Duration = Duration::from_millis(500);

/// One workload: the worker process and everything measured about it.
pub struct Slot {
    pub id: u32,
    pub worker: Option<Workload>,
    pub dead: Option<String>,
    /// Set when /proc says the worker is stopped (T): why, in words.
    pub stopped: Option<String>,
    pub spec: PatternSpec,
    pub advice: Advice,
    pub rate: Option<u64>,
    pub progress: Progress,
    /// A `Configure` went to a worker that was already running: it restarts the worker's
    /// counters, so its reports count for the new interval only from the configure's ack on
    /// (those before it are the old run's).
    pub configuring: bool,
    /// The worker state the last pause/resume asked for, until a report confirms it.
    pub expected_state: Option<(WorkerState, Instant)>,
    pub touched: RoaringTreemap,
    /// First touches recorded at slow rates (bounded: `FIRST_TOUCH_KEPT` pages per interval).
    pub first_touch: HashMap<u64, FirstTouch>,
    pub recent: Vec<u64>,
    pub interval: IntervalStats,
    pub last_dtlb: Option<(crate::kernel::tlb::CounterValues, u64)>,
    /// The worker's cumulative latency histogram and fault deltas at the last latency view.
    pub last_latency: Option<(
        Instant,
        crate::latency::LatencyHist,
        crate::kernel::counters::Faults,
    )>,
    /// An `s` / `S` msync sent to the worker and not answered yet.
    pub msync_pending: Option<super::durability::PendingMsync>,
    /// The latest fault figures of a full sample (the per-workload view).
    pub faults: FaultStats,
    /// Whole-file file pages its page table maps, from the latest walk.
    pub mapped: Option<u64>,
    /// /proc view of the worker and when it was read.
    pub process: Option<(Instant, ProcessView)>,
    /// The other workloads that ran when this one was added (for the shared-cache sentence).
    pub added_beside: Vec<u32>,
}

impl Slot {
    pub fn new(id: u32, opts: &SessionOptions) -> Slot {
        Slot {
            id,
            worker: None,
            dead: None,
            stopped: None,
            spec: opts.spec.clone(),
            advice: opts.advice,
            rate: opts.rate,
            progress: Progress::default(),
            configuring: false,
            expected_state: None,
            touched: RoaringTreemap::new(),
            first_touch: HashMap::new(),
            recent: Vec::new(),
            interval: IntervalStats::new(),
            last_dtlb: None,
            last_latency: None,
            msync_pending: None,
            faults: FaultStats::default(),
            mapped: None,
            process: None,
            added_beside: Vec::new(),
        }
    }
}

impl Session {
    /// Number of workloads (the selected one included).
    pub(super) fn workload_count(&self) -> usize {
        1 + self.others.len()
    }

    /// "worker N: " when there are several workloads (so a sentence names its worker), "" with
    /// one.
    pub(super) fn who(&self) -> String {
        if self.others.is_empty() {
            String::new()
        } else {
            format!("worker {}: ", self.w.id)
        }
    }

    /// Runs `f` for every workload, the selected one first, each in turn as `self.w`.
    pub(super) fn each(&mut self, mut f: impl FnMut(&mut Session)) {
        f(self);
        for i in 0..self.others.len() {
            if i >= self.others.len() {
                break;
            }
            std::mem::swap(&mut self.w, &mut self.others[i]);
            self.foreign = true;
            f(self);
            self.foreign = false;
            std::mem::swap(&mut self.w, &mut self.others[i]);
        }
    }

    /// Ids of the workloads whose worker is running now.
    pub(super) fn running_ids(&mut self) -> Vec<u32> {
        let mut ids = Vec::new();
        self.each(|s| {
            if s.w.worker.is_some() && s.w.progress.state == WorkerState::Running {
                ids.push(s.w.id);
            }
        });
        ids
    }

    /// Pauses every workload and drops its mapping (bounded wait each); returns the ids that
    /// were running.
    pub(super) fn quiesce_all(&mut self) -> Vec<u32> {
        let mut ids = Vec::new();
        self.each(|s| {
            if s.quiesce() {
                ids.push(s.w.id);
            }
        });
        ids
    }

    /// Pauses every running workload; returns their ids.
    pub(super) fn pause_all(&mut self) -> Vec<u32> {
        let ids = self.running_ids();
        self.each(|s| {
            if ids.contains(&s.w.id) {
                s.send(Control::Pause);
            }
        });
        ids
    }

    /// Resumes the workloads `ids` (those a pause or quiesce found running).
    pub(super) fn resume_ids(&mut self, ids: &[u32]) {
        self.each(|s| {
            if ids.contains(&s.w.id) {
                s.send(Control::Resume);
            }
        });
    }

    /// `p`: another worker on the same file with the selected one's pattern, rate and advice,
    /// selected from now on. The interval of the new one starts after its own start-up.
    pub(super) fn add_workload(&mut self) {
        if self.workload_count() >= MAX_WORKLOADS {
            self.say(format!(
                "{MAX_WORKLOADS} workers run already (the most a session runs): x removes the selected one"
            ));
            return;
        }
        let beside = self.running_ids();
        let mut slot = Slot::new(self.next_id, &self.opts);
        self.next_id += 1;
        slot.spec = self.w.spec.clone();
        slot.rate = self.w.rate;
        slot.advice = self.w.advice;
        slot.added_beside = beside;
        let old = std::mem::replace(&mut self.w, slot);
        self.others.push(old);
        self.start_worker(false, "add");
        let id = self.w.id;
        if self.w.worker.is_some() {
            let m = format!(
                "worker {id} added ({} at {}; pid {}): Tab selects a worker, x removes the selected one",
                self.w.spec.kind,
                rate_text(self.w.rate),
                self.w.worker.as_ref().map_or(0, |w| w.handle.pid())
            );
            self.say(m);
        }
    }

    /// `x`: stops the selected worker and selects the next one; the last one stays.
    pub(super) fn remove_workload(&mut self) {
        if self.others.is_empty() {
            self.say("one worker runs: it stays (r restarts it, q quits)");
            return;
        }
        let gone = self.w.id;
        let next = self.next_index();
        self.stop_worker();
        self.w = self.others.remove(next);
        let m = format!(
            "worker {gone} stopped and removed; worker {} selected ({} left)",
            self.w.id,
            self.workload_count()
        );
        self.say(m);
    }

    /// Tab: the next workload by id (wrapping) becomes the selected one.
    pub(super) fn select_next(&mut self) {
        if self.others.is_empty() {
            self.say("one worker runs: p adds another on the same file");
            return;
        }
        let i = self.next_index();
        std::mem::swap(&mut self.w, &mut self.others[i]);
        // Keep the others in id order (the panel lists them so).
        self.others.sort_by_key(|s| s.id);
        let m = format!(
            "worker {} selected: pattern, rate, advice, space and n act on it",
            self.w.id
        );
        self.say(m);
    }

    /// Index in `others` of the workload after the selected one (by id, wrapping).
    fn next_index(&self) -> usize {
        let id = self.w.id;
        let after = self
            .others
            .iter()
            .enumerate()
            .filter(|(_, s)| s.id > id)
            .min_by_key(|(_, s)| s.id);
        let first = self.others.iter().enumerate().min_by_key(|(_, s)| s.id);
        after.or(first).map_or(0, |(i, _)| i)
    }

    /// The pages any workload touched (borrowed with one workload).
    pub(super) fn union_touched(&self) -> Cow<'_, RoaringTreemap> {
        if self.others.is_empty() {
            return Cow::Borrowed(&self.w.touched);
        }
        let mut u = self.w.touched.clone();
        for o in &self.others {
            u |= &o.touched;
        }
        Cow::Owned(u)
    }

    /// The pages accessed in the latest batches of any workload, sorted.
    pub(super) fn union_recent(&self) -> Vec<u64> {
        let mut r = self.w.recent.clone();
        for o in &self.others {
            r.extend_from_slice(&o.recent);
        }
        r.sort_unstable();
        r.dedup();
        r
    }

    /// Refreshes the current slot's /proc view when it is older than `PROCESS_EVERY`.
    pub(super) fn refresh_process(&mut self) {
        let Some(pid) = self.w.worker.as_ref().map(|w| w.handle.pid()) else {
            self.w.process = None;
            return;
        };
        if self
            .w
            .process
            .as_ref()
            .is_some_and(|(at, _)| at.elapsed() < PROCESS_EVERY)
        {
            return;
        }
        use std::os::unix::fs::MetadataExt;
        let id = self.target.file.metadata().ok().map(|m| (m.dev(), m.ino()));
        let v = crate::kernel::features::worker_proc(|| {
            Ok(crate::kernel::addrspace::process_view(pid, id, None))
        })
        .unwrap_or_default();
        self.w.process = Some((Instant::now(), v));
    }

    /// The current slot as the panel shows it (with the figures of the latest full sample).
    pub(super) fn workload_view(&self) -> WorkloadView {
        WorkloadView {
            id: self.w.id,
            selected: !self.foreign,
            worker: self.worker_info(),
            faults: self.w.faults.clone(),
            touched: self.w.touched.len(),
            process: self.w.process.map(|(_, v)| v),
            cache_note: self.cache_note(),
        }
    }

    /// For a workload added while others ran, and only while its interval is still the one it
    /// started with: its own major and minor faults, and what they say about the page cache.
    fn cache_note(&self) -> Option<String> {
        let f = &self.w.faults;
        if self.w.added_beside.is_empty() || f.interval.reason != "add" {
            return None;
        }
        let (mi, ma) = (f.minor_total, f.major_total);
        if mi + ma == 0 {
            return None;
        }
        let others: Vec<String> = self
            .w
            .added_beside
            .iter()
            .map(|i| format!("worker {i}"))
            .collect();
        let cached = f
            .interval
            .cached_at_start
            .map(|c| {
                format!(
                    "{} pages of the file were cached when it started, ",
                    group(c)
                )
            })
            .unwrap_or_default();
        let id = self.w.id;
        Some(if ma == 0 {
            format!(
                "worker {id}: 0 major faults, {} minor: the page cache is shared ({cached}beside {})",
                group(mi),
                others.join(", ")
            )
        } else {
            format!(
                "worker {id}: {} major faults, {} minor: some pages it touched were not cached yet ({cached}beside {})",
                group(ma),
                group(mi),
                others.join(", ")
            )
        })
    }

    /// Every workload's view, by id.
    pub(super) fn workload_views(&mut self) -> Vec<WorkloadView> {
        let mut v = Vec::new();
        self.each(|s| v.push(s.workload_view()));
        v.sort_by_key(|w| w.id);
        v
    }
}

/// "100 accesses/s", "max".
fn rate_text(r: Option<u64>) -> String {
    match r {
        Some(r) => format!("{} accesses/s", group(r)),
        None => "max rate".into(),
    }
}
