//! The file under the session can change: shrink (touching the lost tail raises SIGBUS in the
//! worker), grow (the worker maps only the old length), be replaced by another file at the same
//! path, or be deleted. Checked every tick with one fstat and one stat (about 1 µs each), said
//! on screen, and acted on together by `r`.

use super::Session;
use crate::error::io_reason;
use crate::kernel::residency::CacheProbe;
use crate::kernel::target::Target;
use crate::kernel::tlb;
use crate::units::{human_bytes, page_size};
use std::os::unix::fs::MetadataExt;

pub struct FileWatch {
    dev: u64,
    ino: u64,
}

impl FileWatch {
    pub fn new(t: &Target) -> FileWatch {
        let (dev, ino) = t
            .file
            .metadata()
            .map(|m| (m.dev(), m.ino()))
            .unwrap_or_default();
        FileWatch { dev, ino }
    }
}

/// What the path names now, compared with the open file.
enum PathState {
    Same,
    Replaced,
    Gone(String),
}

impl Session {
    fn path_state(&self) -> PathState {
        match std::fs::metadata(&self.target.path) {
            Ok(m) if m.dev() == self.watch.dev && m.ino() == self.watch.ino => PathState::Same,
            Ok(_) => PathState::Replaced,
            Err(e) => PathState::Gone(io_reason(&e)),
        }
    }

    /// Per tick: notices size changes (redraws the new extent) and replacement or deletion.
    pub(super) fn check_file(&mut self) {
        let name = self.file.path.clone();
        if let Ok(m) = self.target.file.metadata() {
            let size = m.len();
            if size != self.file.size_bytes {
                let old = self.file.size_bytes;
                self.target.size = size;
                self.file.size_bytes = size;
                self.file.pages = size.div_ceil(page_size());
                self.file.allocated_bytes = Some(m.blocks() * 512);
                self.tlb.notes = tlb::notes(page_size(), self.file.pages);
                let extent = self.extent_pages();
                self.probe.set_size(extent * page_size());
                if self.view.1 > extent
                    || self.view.1 == 0
                    || self.view.1 == old.div_ceil(page_size())
                {
                    self.view.0 = self.view.0.min(extent);
                    self.view.1 = extent;
                }
                let mapped = self.w.worker.as_ref().map_or(0, |w| w.handle.map.len);
                let m = if size < old && mapped > size {
                    format!(
                        "{name} shrank from {} to {} while mapped: touching pages past the new end (marked ×) raises SIGBUS; r restarts on the new size",
                        human_bytes(old),
                        human_bytes(size)
                    )
                } else if size > old && self.w.worker.is_some() && mapped < size {
                    format!(
                        "{name} grew from {} to {}: the worker maps only the first {}; r remaps the whole file",
                        human_bytes(old),
                        human_bytes(size),
                        human_bytes(mapped)
                    )
                } else {
                    format!(
                        "{name} changed size: {} -> {}",
                        human_bytes(old),
                        human_bytes(size)
                    )
                };
                self.file.notice = Some(m.clone());
                self.say(m);
            }
        }
        let notice = match self.path_state() {
            PathState::Same => None,
            PathState::Replaced => Some(format!(
                "{name} was replaced by another file: showing the file as it was when opened; r reopens the new one"
            )),
            PathState::Gone(why) => Some(format!(
                "{name} was deleted ({why}): showing the open file, whose pages live until it is closed"
            )),
        };
        if let Some(n) = notice {
            if self.file.notice.as_deref() != Some(n.as_str()) {
                self.file.notice = Some(n.clone());
                self.say(n);
            }
        }
    }

    /// Before a restart: reopen the path when it names another file now, refresh the size
    /// otherwise. Errors name the path.
    pub(super) fn reopen_if_changed(&mut self) -> Result<(), String> {
        let name = self.file.path.clone();
        match self.path_state() {
            PathState::Gone(why) => Err(format!("{name}: {why}")),
            PathState::Replaced => {
                let t = Target::open(&self.target.path).map_err(|e| e.msg)?;
                let probe = CacheProbe::new(&t.file, t.size, &t.fs)
                    .map_err(|e| format!("{name}: {}", io_reason(&e)))?;
                self.stop_worker();
                let write = self.file.write.take();
                self.file = super::file_info(&t, probe.pages(), self.opts.is_demo);
                self.file.write = write;
                self.caps.cache_source = probe.source();
                self.caps.cache_state_visible = probe.visible();
                self.caps.cache_note = probe.note().map(str::to_string);
                self.watch = FileWatch::new(&t);
                self.target = t;
                self.probe = probe;
                self.view = (0, self.file.pages, self.view.2);
                self.say(format!("{name} reopened: it is another file now"));
                Ok(())
            }
            PathState::Same => {
                let size = self
                    .target
                    .refresh_size()
                    .map_err(|e| format!("{name}: {}", io_reason(&e)))?;
                self.stop_worker();
                self.file.size_bytes = size;
                self.file.pages = size.div_ceil(page_size());
                self.file.notice = None;
                self.probe.set_size(size);
                self.tlb.notes = tlb::notes(page_size(), self.file.pages);
                let pages = self.file.pages;
                let whole = self.view.0 == 0 && self.view.1 >= self.extent_pages().min(self.view.1);
                if whole || self.view.1 > pages || self.view.0 >= pages {
                    self.view = (0, pages, self.view.2);
                }
                Ok(())
            }
        }
    }
}
