//! Page-cache state of a file, per byte range, without ever touching its data.
//!
//! First choice: `cachestat(2)` (Linux 6.5+): cached / dirty / writeback / evicted counts for
//! any range, no mapping needed, cost independent of how sparse the file is. Fallback on
//! ENOSYS: `mincore()` on a `PROT_NONE` mapping, in bounded windows (never one byte per page of
//! the whole file at once).
//!
//! Honesty: for a file the caller neither owns nor may write, the kernel refuses cachestat
//! (EPERM) and makes mincore report every page resident (mm/mincore.c `can_do_mincore`), so
//! the state is then reported as hidden (`None`), never as the fake numbers.

use crate::kernel::fsinfo::FsInfo;
use crate::kernel::mapping::InertMap;
use crate::kernel::sys;
use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;

use serde::{Deserialize, Serialize};

/// Where page-cache state comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheSource {
    #[default]
    Cachestat,
    Mincore,
}

/// Pages per mincore window: bounds the vector (64 KiB) and the mapping (256 MiB at 4 KiB).
const MINCORE_WINDOW_PAGES: u64 = 64 * 1024;

/// Page-cache counts of a range, in pages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RangeStat {
    pub cached: u64,
    /// None with the mincore source (mincore cannot tell dirty pages).
    pub dirty: Option<u64>,
    pub writeback: Option<u64>,
    /// Pages evicted from this range since the file was opened by anyone (cachestat only).
    pub evicted: Option<u64>,
    pub recently_evicted: Option<u64>,
}

/// One cell's page-cache counts: (cached, dirty, writeback); dirty and writeback are None with
/// the mincore source, which cannot tell them.
pub type CellCache = (Option<u64>, Option<u64>, Option<u64>);

/// Answers "which pages of this file are in the page cache".
pub struct CacheProbe {
    file: File,
    size: u64,
    page_size: u64,
    source: CacheSource,
    visible: bool,
    note: Option<String>,
    vec: Vec<u8>,
}

impl CacheProbe {
    /// Probes which source works for `file` and whether the kernel shows us the truth.
    pub fn new(file: &File, size: u64, fs: &FsInfo) -> io::Result<CacheProbe> {
        let file = file.try_clone()?;
        let page_size = crate::units::page_size();
        // MMVIZ_DISABLE=cachestat: behave as a kernel without it (ENOSYS before 6.5).
        let probed =
            if crate::kernel::features::disabled(crate::kernel::features::Feature::Cachestat) {
                Err(io::Error::from_raw_os_error(libc::ENOSYS))
            } else {
                sys::cachestat(file.as_fd(), 0, 0)
            };
        let (source, visible, mut note) = match probed {
            Ok(_) => (CacheSource::Cachestat, true, None),
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => (
                CacheSource::Cachestat,
                false,
                Some(hidden_note("cachestat refused with EPERM")),
            ),
            Err(_) => {
                // ENOSYS (before 6.5) or EOPNOTSUPP: mincore, whose answers the kernel fakes
                // (all resident) unless we own the file or may write it.
                let owner = file.metadata()?.uid() == sys::geteuid();
                if owner || sys::may_write(file.as_fd()) {
                    (CacheSource::Mincore, true, None)
                } else {
                    (
                        CacheSource::Mincore,
                        false,
                        Some(hidden_note("mincore would report every page resident")),
                    )
                }
            }
        };
        if visible {
            if let Some(n) = &fs.note {
                if !fs.can_evict {
                    note = Some(n.clone());
                }
            }
        }
        Ok(CacheProbe {
            file,
            size,
            page_size,
            source,
            visible,
            note,
            vec: Vec::new(),
        })
    }

    /// Forces the mincore path (tests and benchmarks compare both sources).
    pub fn force_mincore(&mut self) {
        self.source = CacheSource::Mincore;
    }

    pub fn source(&self) -> CacheSource {
        self.source
    }
    /// False when the kernel hides the page-cache state of this file from us.
    pub fn visible(&self) -> bool {
        self.visible
    }
    pub fn note(&self) -> Option<&str> {
        self.note.as_deref()
    }
    pub fn size(&self) -> u64 {
        self.size
    }
    pub fn set_size(&mut self, size: u64) {
        self.size = size;
    }
    pub fn pages(&self) -> u64 {
        self.size.div_ceil(self.page_size)
    }

    /// Page-cache counts of pages `start..end`; `None` when hidden.
    pub fn range(&mut self, start: u64, end: u64) -> io::Result<Option<RangeStat>> {
        if !self.visible {
            return Ok(None);
        }
        let end = end.min(self.pages());
        if end <= start {
            return Ok(Some(RangeStat {
                dirty: self.dirty_opt(0),
                writeback: self.dirty_opt(0),
                evicted: self.dirty_opt(0),
                recently_evicted: self.dirty_opt(0),
                ..Default::default()
            }));
        }
        match self.source {
            CacheSource::Cachestat => {
                let cs = sys::cachestat(
                    self.file.as_fd(),
                    start * self.page_size,
                    (end - start) * self.page_size,
                )?;
                Ok(Some(RangeStat {
                    cached: cs.nr_cache,
                    dirty: Some(cs.nr_dirty),
                    writeback: Some(cs.nr_writeback),
                    evicted: Some(cs.nr_evicted),
                    recently_evicted: Some(cs.nr_recently_evicted),
                }))
            }
            CacheSource::Mincore => {
                let mut n = 0;
                self.for_each_page(start, end, |_, res| n += res as u64)?;
                Ok(Some(RangeStat {
                    cached: n,
                    ..Default::default()
                }))
            }
        }
    }

    fn dirty_opt(&self, v: u64) -> Option<u64> {
        (self.source == CacheSource::Cachestat).then_some(v)
    }

    /// Cached, dirty and writeback counts of the cells `[start + i*ppc, start + (i+1)*ppc) ∩
    /// [.., end)`, appended to `out` (cleared first). Hidden: every entry is `(None, None, None)`.
    pub fn cells(
        &mut self,
        start: u64,
        end: u64,
        ppc: u64,
        out: &mut Vec<CellCache>,
    ) -> io::Result<()> {
        out.clear();
        let ppc = ppc.max(1);
        let ncells = (end.saturating_sub(start)).div_ceil(ppc);
        if !self.visible {
            out.resize(ncells as usize, (None, None, None));
            return Ok(());
        }
        match self.source {
            CacheSource::Cachestat => {
                for i in 0..ncells {
                    let s = start + i * ppc;
                    let e = (s + ppc).min(end);
                    let r = self.range(s, e)?.unwrap_or_default();
                    out.push((Some(r.cached), r.dirty, r.writeback));
                }
            }
            CacheSource::Mincore => {
                out.resize(ncells as usize, (Some(0), None, None));
                let mut counts = vec![0u64; ncells as usize];
                self.for_each_page(start, end, |p, res| {
                    if res {
                        counts[((p - start) / ppc) as usize] += 1;
                    }
                })?;
                for (o, c) in out.iter_mut().zip(counts) {
                    o.0 = Some(c);
                }
            }
        }
        Ok(())
    }

    /// Calls `f(page, resident)` for each page of `start..end` using mincore on inert
    /// windows of at most [`MINCORE_WINDOW_PAGES`] pages. Only for visible state.
    pub fn for_each_page(
        &mut self,
        start: u64,
        end: u64,
        mut f: impl FnMut(u64, bool),
    ) -> io::Result<()> {
        let end = end.min(self.pages());
        let mut w = start;
        while w < end {
            let n = (end - w).min(MINCORE_WINDOW_PAGES);
            let len = (n * self.page_size) as usize;
            let map = InertMap::new(&self.file, w * self.page_size, len)?;
            self.vec.resize(n as usize, 0);
            sys::mincore(map.addr(), len, &mut self.vec)?;
            for (i, b) in self.vec.iter().enumerate() {
                f(w + i as u64, b & 1 != 0);
            }
            w += n;
        }
        Ok(())
    }
}

fn hidden_note(how: &str) -> String {
    format!(
        "page-cache state hidden by the kernel: you neither own this file nor may write it ({how})"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::fsinfo;

    fn tmp_file(pages: u64) -> (tempfile::TempDir, File) {
        // target/ is on the project's disk (tmpfs /tmp would be always resident).
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR").to_string() + "/target")
            .expect("tempdir in target/");
        let p = dir.path().join("f");
        let ps = crate::units::page_size();
        std::fs::write(&p, vec![7u8; (pages * ps) as usize]).unwrap();
        (dir, File::open(&p).unwrap())
    }

    #[test]
    fn cachestat_and_mincore_agree() {
        let (_d, f) = tmp_file(300);
        let fs = fsinfo::fs_of(&f).unwrap();
        let mut a = CacheProbe::new(&f, 300 * crate::units::page_size(), &fs).unwrap();
        let mut b = CacheProbe::new(&f, 300 * crate::units::page_size(), &fs).unwrap();
        b.force_mincore();
        assert!(a.visible());
        let ra = a.range(0, 300).unwrap().unwrap();
        let rb = b.range(0, 300).unwrap().unwrap();
        assert_eq!(ra.cached, rb.cached);
        let mut ca = Vec::new();
        let mut cb = Vec::new();
        a.cells(10, 290, 7, &mut ca).unwrap();
        b.cells(10, 290, 7, &mut cb).unwrap();
        assert_eq!(ca.len(), 40);
        let na: Vec<_> = ca.iter().map(|c| c.0).collect();
        let nb: Vec<_> = cb.iter().map(|c| c.0).collect();
        assert_eq!(na, nb);
        assert!(
            cb.iter().all(|c| c.1.is_none() && c.2.is_none()),
            "mincore cannot tell dirty"
        );
    }

    #[test]
    fn empty_range_and_past_the_end() {
        let (_d, f) = tmp_file(4);
        let fs = fsinfo::fs_of(&f).unwrap();
        let mut a = CacheProbe::new(&f, 4 * crate::units::page_size(), &fs).unwrap();
        assert_eq!(a.range(3, 3).unwrap().unwrap().cached, 0);
        assert_eq!(a.range(10, 20).unwrap().unwrap().cached, 0);
        let mut c = Vec::new();
        a.cells(0, 0, 1, &mut c).unwrap();
        assert!(c.is_empty());
    }
}
