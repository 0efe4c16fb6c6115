//! The live switch between reading the file and writing a scratch copy of it (the `M` key):
//! read -> write shared -> write private -> read, as `--write shared|private` does at start.
//! Every worker stops before the target changes (nothing maps the old one meanwhile) and
//! restarts on the new one; the user's file is only ever opened read-only, and a scratch copy
//! is removed as soon as the session stops using it.

use super::{file_info, scratch_target, Session, SessionWrite};
use crate::kernel::residency::CacheProbe;
use crate::kernel::target::Target;
use crate::session::snapshot::WriteInfo;
use crate::workload::scratch::ScratchFile;
use crate::workload::worker::{WorkerState, WriteMode};

impl Session {
    /// What the header shows for write mode `w` on scratch file `sf`.
    pub(super) fn write_info(&self, sf: &ScratchFile, w: SessionWrite) -> WriteInfo {
        WriteInfo {
            mode: w.mode,
            share: w.share,
            scratch: crate::inspect::escape_path(&sf.path.display().to_string()),
            source: crate::inspect::escape_path(&self.opts.path.display().to_string()),
            dirty_expire_centisecs: crate::kernel::machine::vm_sysctl("dirty_expire_centisecs"),
            dirty_writeback_centisecs: crate::kernel::machine::vm_sysctl(
                "dirty_writeback_centisecs",
            ),
        }
    }

    /// `M`: the next mode of the cycle, on a fresh scratch copy for either write mode.
    pub(super) fn cycle_write_mode(&mut self) {
        let next = match self.opts.write.map(|w| w.mode) {
            None => Some(WriteMode::Shared),
            Some(WriteMode::Shared) => Some(WriteMode::Private),
            Some(WriteMode::Private) => None,
        };
        let share = self.opts.write.map_or(1.0, |w| w.share);
        let mut paused = Vec::new();
        self.each(|s| {
            if s.w.progress.state == WorkerState::Paused {
                paused.push(s.w.id);
            }
        });
        // Nothing maps the old target while it is replaced.
        self.each(|s| s.stop_worker());
        let opened = match next {
            None => Target::open(&self.opts.path).map(|t| (t, None)),
            Some(_) => scratch_target(&self.opts.path).map(|(t, sf)| (t, Some(sf))),
        };
        let installed = opened.and_then(|(t, sf)| {
            let probe = CacheProbe::new(&t.file, t.size, &t.fs).map_err(|e| {
                crate::error::AppError::runtime(format!("{}: {e}", t.path.display()))
            })?;
            Ok((t, sf, probe))
        });
        let (t, sf, probe) = match installed {
            Ok(x) => x,
            Err(e) => {
                let m = format!(
                    "cannot switch to {}: {}; the workers restart as they were",
                    mode_name(next),
                    e.msg
                );
                self.restart_all(&paused, "restart");
                self.say(m);
                return;
            }
        };
        self.file = file_info(&t, probe.pages(), self.opts.is_demo);
        self.caps.cache_source = probe.source();
        self.caps.cache_state_visible = probe.visible();
        self.caps.cache_note = probe.note().map(str::to_string);
        self.watch = super::watch::FileWatch::new(&t);
        self.target = t;
        self.probe = probe;
        self.view = (0, self.file.pages, self.view.2);
        self.whole_cached = None;
        self.whole_mapped = None;
        self.opts.write = next.map(|mode| SessionWrite { mode, share });
        self.file.write = match (&sf, self.opts.write) {
            (Some(sf), Some(w)) => Some(self.write_info(sf, w)),
            _ => None,
        };
        // The old scratch copy (if any) is unlocked and removed here.
        self.write_scratch = sf;
        self.restart_all(&paused, "write mode");
        let n = self.workload_count();
        let workers = if n == 1 {
            "the worker restarted".to_string()
        } else {
            format!("{n} workers restarted")
        };
        let m = match &self.file.write {
            Some(w) => format!(
                "{}: writing to scratch copy {} of {} (your file is never written); {workers} on it",
                mode_name(next),
                w.scratch,
                w.source
            ),
            None => format!(
                "read mode: {workers} on {} (read-only); the scratch copy was removed",
                self.file.path
            ),
        };
        self.say(m);
    }

    /// Starts every workload again on the current target (paused ones paused).
    fn restart_all(&mut self, paused: &[u32], reason: &str) {
        self.each(|s| s.start_worker(paused.contains(&s.w.id), reason));
    }
}

fn mode_name(m: Option<WriteMode>) -> &'static str {
    match m {
        None => "read mode",
        Some(WriteMode::Shared) => "write mode shared (MAP_SHARED)",
        Some(WriteMode::Private) => "write mode private (MAP_PRIVATE)",
    }
}
