//! The `t` key: the 4 KiB vs huge page measurement of `mmviz tlb` on its own thread. The
//! worker is paused meanwhile (the two would share the 2 cores and the caches, and the
//! worker's numbers would include the measurement's pressure), then resumes if it ran.
//!
//! The measurement maps anonymous memory only (never the user's file). It is capped to a
//! small largest working set by default so it takes a few seconds, and `tlbbench` caps it
//! further to what fits in a quarter of MemAvailable.

use super::Session;
use crate::session::snapshot::{TlbMeasureResult, TlbMeasureRow, TlbMeasureState};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::Instant;

/// The largest working set `t` measures unless asked otherwise (256 MiB: the knee on this
/// kind of machine lies well below it, and faulting in 2 × 256 MiB takes about a second).
pub const TLB_MAX_WORKING_SET: u64 = 256 << 20;

pub struct TlbJob {
    rx: Receiver<TlbMsg>,
    cancel: Arc<AtomicBool>,
    /// The workloads (ids) that ran before and resume after.
    resume_after: Vec<u32>,
    started: Instant,
}

enum TlbMsg {
    Progress(f64, u64),
    Done(std::result::Result<TlbMeasureResult, String>),
}

impl TlbJob {
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

impl Session {
    /// `t`: start the measurement, or cancel the running one.
    pub(super) fn toggle_tlb(&mut self, max_working_set: Option<u64>) {
        if self.tlb_job.is_some() {
            self.cancel_tlb();
            return;
        }
        if self.compare_job.is_some() {
            self.say("a comparison is running: the TLB measurement waits for it (press t again)");
            return;
        }
        let was_running = self.pause_all();
        let max = max_working_set.unwrap_or(TLB_MAX_WORKING_SET);
        let opts = crate::tlbbench::Options {
            max_working_set: max,
            ..Default::default()
        };
        let (tx, rx) = mpsc::channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let c2 = Arc::clone(&cancel);
        let started = Instant::now();
        let spawned = std::thread::Builder::new()
            .name("mmviz-tlb".into())
            .spawn(move || {
                let tx2 = tx.clone();
                let r = crate::tlbbench::measure_with(&opts, |i, n, ws| {
                    let _ = tx2.send(TlbMsg::Progress(i as f64 / n.max(1) as f64, ws));
                    !c2.load(Ordering::Relaxed)
                });
                let r = r.map(|r| result_of(&r, started)).map_err(|e| e.to_string());
                let _ = tx.send(TlbMsg::Done(r));
            });
        match spawned {
            Ok(_) => {
                self.tlb.measurement = TlbMeasureState::Running {
                    progress: 0.0,
                    working_set_bytes: 0,
                };
                self.tlb_job = Some(TlbJob {
                    rx,
                    cancel,
                    resume_after: was_running,
                    started,
                });
                self.say(format!(
                    "measuring 4 KiB vs huge pages on anonymous memory up to {} working set \
                     (the worker is paused; t or Esc cancels)",
                    crate::units::human_bytes(max)
                ));
            }
            Err(e) => {
                self.tlb.measurement = TlbMeasureState::Failed {
                    error: e.to_string(),
                };
                self.resume_ids(&was_running);
            }
        }
    }

    /// Esc / `t` while it runs: the thread stops before its next working set.
    pub(super) fn cancel_tlb(&mut self) {
        if let Some(j) = &self.tlb_job {
            j.cancel();
            self.say("cancelling the TLB measurement");
        }
    }

    pub(super) fn poll_tlb(&mut self) {
        let Some(job) = &self.tlb_job else { return };
        let mut done = None;
        for m in job.rx.try_iter() {
            match m {
                TlbMsg::Progress(f, ws) => {
                    self.tlb.measurement = TlbMeasureState::Running {
                        progress: f.clamp(0.0, 1.0),
                        working_set_bytes: ws,
                    }
                }
                TlbMsg::Done(r) => done = Some(r),
            }
        }
        let Some(r) = done else { return };
        let (resume, cancelled) = (job.resume_after.clone(), job.cancel.load(Ordering::Relaxed));
        let secs = job.started.elapsed().as_secs_f64();
        self.tlb_job = None;
        self.tlb.measurement = match r {
            Ok(res) => {
                self.say(format!("TLB measurement: {} ({secs:.1} s)", res.summary()));
                TlbMeasureState::Done(res)
            }
            Err(_) if cancelled => {
                self.say("TLB measurement cancelled");
                TlbMeasureState::Idle
            }
            Err(e) => {
                self.say(format!("TLB measurement failed: {e}"));
                TlbMeasureState::Failed { error: e }
            }
        };
        self.resume_ids(&resume);
    }
}

fn result_of(r: &crate::tlbbench::Report, started: Instant) -> TlbMeasureResult {
    TlbMeasureResult {
        thp_mode: r.thp_mode.clone(),
        hardware_counters: r.hardware_counters.clone(),
        rows: r
            .rows
            .iter()
            .map(|w| TlbMeasureRow {
                working_set_bytes: w.working_set_bytes,
                ns_4k: w.ns_4k,
                ns_huge: w.ns_huge,
                ratio: w.ratio,
            })
            .collect(),
        knee_working_set_bytes: r.knee_working_set_bytes,
        capped: r.capped.clone(),
        elapsed_ms: started.elapsed().as_millis() as u64,
    }
}
