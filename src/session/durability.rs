//! Durability in write mode: `s` / `S` run msync(MS_SYNC) / msync(MS_ASYNC) in the worker,
//! and the session measures what the call did with cachestat of the scratch file before the
//! request and after the worker's answer (`Report::Msynced`), so the footer says what this
//! kernel did rather than what the man page promises.

use super::Session;
use crate::kernel::residency::RangeStat;
use crate::workload::worker::{Control, WorkerState};
use std::time::Instant;

/// An msync asked of the worker, not answered yet.
pub(super) struct PendingMsync {
    sync: bool,
    /// Whole-file cachestat when the request was sent (None: the kernel hides it).
    before: Option<RangeStat>,
    /// The worker ran while the call was in flight: pages it wrote meanwhile are in `after`.
    running: bool,
    at: Instant,
}

/// "12.3 ms", "45.1 µs", "800 ns".
fn dur(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.1} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

impl Session {
    /// `s` (sync) / `S` (async): asks the worker to msync its whole mapping.
    pub(super) fn msync(&mut self, sync: bool) {
        let flag = if sync { "MS_SYNC" } else { "MS_ASYNC" };
        if self.opts.write.is_none() {
            self.say(format!(
                "msync({flag}): only in write mode (mmviz FILE --write shared|private); this \
                 read-only mapping has nothing to write back"
            ));
            return;
        }
        if self.w.worker.is_none() {
            self.say("no worker: press r to restart it");
            return;
        }
        // A worker restart or a quiesce can swallow an answer: a request 10 s old is stale.
        if self
            .w
            .msync_pending
            .as_ref()
            .is_some_and(|p| p.at.elapsed() < std::time::Duration::from_secs(10))
        {
            self.say(format!(
                "msync({flag}): the previous msync has not answered yet"
            ));
            return;
        }
        let pages = self.probe.pages();
        let before = self.probe.range(0, pages).ok().flatten();
        self.w.msync_pending = Some(PendingMsync {
            sync,
            before,
            running: self.w.progress.state == WorkerState::Running,
            at: Instant::now(),
        });
        self.send(Control::Msync { sync });
        if self.w.worker.is_none() {
            self.w.msync_pending = None;
        }
    }

    /// The worker's answer: measure the cache again and say what the call did.
    pub(super) fn on_msynced(&mut self, sync: bool, ns: u64, error: Option<String>) {
        let Some(p) = self.w.msync_pending.take() else {
            return;
        };
        let flag = if sync { "MS_SYNC" } else { "MS_ASYNC" };
        if let Some(e) = error {
            self.say(format!(
                "msync({flag}) failed after {}: {e}",
                dur(ns as f64)
            ));
            return;
        }
        debug_assert_eq!(sync, p.sync);
        let pages = self.probe.pages();
        let after = self.probe.range(0, pages).ok().flatten();
        let private =
            self.opts.write.map(|w| w.mode) == Some(crate::workload::worker::WriteMode::Private);
        let counts = match (p.before.and_then(|b| b.dirty), after.and_then(|a| a.dirty)) {
            (Some(b), Some(a)) => {
                let gone = b.saturating_sub(a);
                let mut m = format!(
                    "; dirty pages {} -> {} (cachestat), {} written back",
                    group(b),
                    group(a),
                    group(gone)
                );
                if gone > 0 {
                    m.push_str(&format!(", {} per page", dur(ns as f64 / gone as f64)));
                }
                if let Some(wb) = after.and_then(|a| a.writeback).filter(|&w| w > 0) {
                    m.push_str(&format!(", {} still under writeback", group(wb)));
                }
                if !sync && a > 0 && gone == 0 {
                    m.push_str(": MS_ASYNC started no I/O here, the flusher will write them");
                }
                if p.running {
                    m.push_str(
                        " (estimate: the worker kept writing between the two cachestat calls)",
                    );
                }
                m
            }
            _ => "; dirty pages unknown (the kernel hides page-cache state here)".to_string(),
        };
        let note = if private {
            " (MAP_PRIVATE: the copies are the process's own, msync never writes them to the file)"
        } else {
            ""
        };
        self.say(format!(
            "msync({flag}) took {} in the worker{counts}{note}",
            dur(ns as f64)
        ));
    }
}

/// 1234567 -> "1,234,567" (the footer's number style, without the TUI's formatter).
pub(super) fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_like_the_screen() {
        assert_eq!(group(0), "0");
        assert_eq!(group(1234), "1,234");
        assert_eq!(group(1_234_567), "1,234,567");
        assert_eq!(dur(800.0), "800 ns");
        assert_eq!(dur(45_100.0), "45.1 µs");
        assert_eq!(dur(12_300_000.0), "12.3 ms");
        assert_eq!(dur(2.5e9), "2.50 s");
    }
}
