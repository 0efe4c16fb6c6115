//! The `c` comparison on its own thread: the worker is paused with its mapping dropped (a
//! mapped page cannot be evicted, so a "cold" comparison would not be cold), the comparison
//! runs its methods in child processes, and the session resumes afterwards in a new interval
//! (the comparison evicted or filled the cache: its effects are not the workload's).

use super::{CompareRequest, Session};
use crate::session::snapshot::{ComparisonResult, ComparisonState};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;

pub struct CompareJob {
    rx: Receiver<CompareMsg>,
    cancel: Arc<AtomicBool>,
    /// The workloads (ids) that ran before and resume after.
    resume_after: Vec<u32>,
}

enum CompareMsg {
    Progress(f64, String),
    Done(std::result::Result<ComparisonResult, String>),
}

impl CompareJob {
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

impl Session {
    pub(super) fn start_compare(&mut self) {
        if self.compare_job.is_some() {
            self.say("a comparison is already running: this key was ignored");
            return;
        }
        let Some(compare) = self.opts.compare else {
            self.say("the comparison is not available in this build");
            return;
        };
        let was_running = self.quiesce_all();
        let (tx, rx) = mpsc::channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let req = CompareRequest {
            path: self.target.path.clone(),
            spec: self.w.spec.clone(),
            advice: self.w.advice,
            cache: self.compare_cache,
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
                let m = format!(
                    "comparing mmap with read() for {}, {} cache: the pattern is paused and its mapping dropped",
                    self.w.spec.kind,
                    self.compare_cache.name()
                );
                self.say(m);
            }
            Err(e) => {
                self.comparison = ComparisonState::Failed {
                    error: e.to_string(),
                };
                self.resume_ids(&was_running);
            }
        }
    }

    pub(super) fn poll_compare(&mut self) {
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
        let Some(r) = done else { return };
        let resume = job.resume_after.clone();
        self.compare_job = None;
        self.begin_interval("comparison");
        self.comparison = match r {
            Ok(res) => {
                self.say(format!("comparison: {}", res.verdict));
                ComparisonState::Done(res)
            }
            Err(e) => {
                self.say(format!("comparison failed: {e}"));
                ComparisonState::Failed { error: e }
            }
        };
        self.resume_ids(&resume);
    }
}
