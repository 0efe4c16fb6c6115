//! Other processes that map the session's file. Pages they bring into the page cache are
//! indistinguishable, for the session, from readahead around its own workers' faults: the
//! snapshot names them so the screen can say that its "read ahead, untouched" count includes
//! their pages. Found from /proc/*/maps (device and inode), about every 5 s: a scan took
//! 14 ms over 375 processes here (release build), 0.3 % of one core, and reading maps changes
//! nothing in the processes read.

use super::snapshot::OtherMapper;
use super::Session;
use std::time::{Duration, Instant};

/// How often the scan runs.
const EVERY: Duration = Duration::from_secs(5);

#[derive(Default)]
pub(super) struct OtherMappers {
    at: Option<Instant>,
    found: Vec<OtherMapper>,
}

impl Session {
    /// The processes other than this session and its workers that map the file (cached
    /// between scans).
    pub(super) fn other_mappers(&mut self, now: Instant) -> Vec<OtherMapper> {
        if !self
            .mappers
            .at
            .is_some_and(|t| now.duration_since(t) < EVERY)
        {
            let mut mine = Vec::new();
            self.each(|s| {
                if let Some(w) = s.w.worker.as_ref() {
                    mine.push(w.handle.pid());
                }
            });
            self.mappers.at = Some(now);
            self.mappers.found = crate::kernel::cache::mappers_of(&self.target.file)
                .into_iter()
                .filter(|(pid, _)| !mine.contains(pid))
                .map(|(pid, comm)| OtherMapper { pid, comm })
                .collect();
        }
        self.mappers.found.clone()
    }
}
