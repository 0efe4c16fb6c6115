//! Mapped state of a process: which pages of an address range are present in its page table,
//! and whether each present page is the file's page or a private (anonymous) copy.
//!
//! Source: `/proc/<pid>/pagemap` (readable for our own children without privileges; the PFN
//! bits are zeroed for unprivileged readers but bits 63 "present" and 61 "file page" stay).
//! Fast path: the `PAGEMAP_SCAN` ioctl (Linux 6.7+), which returns present *ranges* and skips
//! empty page tables, so a 1 TiB mapping with few present pages costs little. Fallback:
//! chunked `pread` of the 8-byte entries.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;

use serde::{Deserialize, Serialize};

/// Where the mapped state (page-table presence) comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PagemapSource {
    /// `PAGEMAP_SCAN` ioctl (Linux 6.7+).
    #[default]
    Scan,
    /// Chunked `pread` of `/proc/<pid>/pagemap`.
    Pread,
    /// Not readable (see `Capabilities::pagemap_note`).
    Unavailable,
}

const PM_PRESENT: u64 = 1 << 63;
const PM_FILE: u64 = 1 << 61;

// <linux/fs.h>: categories reported by PAGEMAP_SCAN.
const PAGE_IS_FILE: u64 = 1 << 2;
const PAGE_IS_PRESENT: u64 = 1 << 3;
/// Mapped by a PMD (a 2 MiB huge mapping: one TLB entry) or hugetlb; a large folio mapped by
/// 512 PTEs does not have it (include/uapi/linux/fs.h, fs/proc/task_mmu.c).
const PAGE_IS_HUGE: u64 = 1 << 6;

/// `struct page_region` from `<linux/fs.h>`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
struct PageRegion {
    start: u64,
    end: u64,
    categories: u64,
}

/// `struct pm_scan_arg` from `<linux/fs.h>`.
#[repr(C)]
#[derive(Default)]
struct PmScanArg {
    size: u64,
    flags: u64,
    start: u64,
    end: u64,
    walk_end: u64,
    vec: u64,
    vec_len: u64,
    max_pages: u64,
    category_inverted: u64,
    category_mask: u64,
    category_anyof_mask: u64,
    return_mask: u64,
}

/// `_IOWR('f', 16, struct pm_scan_arg)`.
const PAGEMAP_SCAN: libc::c_ulong = (3 << 30)
    | ((std::mem::size_of::<PmScanArg>() as libc::c_ulong) << 16)
    | ((b'f' as libc::c_ulong) << 8)
    | 16;

/// A run of present pages: `[start, end)` as page indexes relative to the range asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PresentRun {
    pub start: u64,
    pub end: u64,
    /// True: the file's own page (shared with the page cache). False: a private copy.
    pub file: bool,
}

/// Reads the page table of one process.
pub struct PagemapReader {
    file: File,
    source: PagemapSource,
    regions: Vec<PageRegion>,
    buf: Vec<u64>,
    file_bit: bool,
    /// When Some: the PMD-mapped runs (page indexes relative to the last `present_runs`
    /// address) of the last scan, merged.
    huge: Option<Vec<(u64, u64)>>,
}

impl PagemapReader {
    /// Opens `/proc/<pid>/pagemap`. Probes `PAGEMAP_SCAN` once and remembers the answer.
    pub fn open(pid: u32) -> io::Result<PagemapReader> {
        let file = File::open(format!("/proc/{pid}/pagemap"))?;
        let mut r = PagemapReader {
            file,
            source: PagemapSource::Scan,
            regions: vec![PageRegion::default(); 1024],
            buf: Vec::new(),
            file_bit: true,
            huge: None,
        };
        // A zero-length scan tells whether the ioctl exists (ENOTTY/EINVAL before 6.7).
        let probe = r.scan_once(0, 0);
        if probe.is_err()
            || crate::kernel::features::disabled(crate::kernel::features::Feature::PagemapScan)
        {
            r.source = PagemapSource::Pread;
        }
        Ok(r)
    }

    /// Forces the pread fallback (for tests and benchmarks of both paths).
    pub fn force_pread(&mut self) {
        self.source = PagemapSource::Pread;
    }

    /// Whether to tell file pages from private copies. Asking costs a `struct page` lookup
    /// per present page (about twice the walk); a read-only `MAP_SHARED` mapping cannot hold
    /// private copies, so its reader turns this off and reports every present page as a file
    /// page.
    pub fn set_file_bit(&mut self, on: bool) {
        self.file_bit = on;
    }

    /// Also ask PAGEMAP_SCAN for PAGE_IS_HUGE (PMD-mapped pages), read by [`Self::huge_runs`].
    pub fn set_huge(&mut self, on: bool) {
        self.huge = on.then(Vec::new);
    }

    /// The PMD-mapped runs of the last [`Self::present_runs`] (relative page indexes, sorted,
    /// disjoint). None when not asked for, or under the pread fallback: /proc/<pid>/pagemap
    /// entries have no bit for "mapped by a PMD", so it cannot tell.
    pub fn huge_runs(&self) -> Option<&[(u64, u64)]> {
        if self.source != PagemapSource::Scan {
            return None;
        }
        self.huge.as_deref()
    }

    pub fn source(&self) -> PagemapSource {
        self.source
    }

    /// One PAGEMAP_SCAN call over [start, end); returns (regions filled, walk_end).
    fn scan_once(&mut self, start: u64, end: u64) -> io::Result<(usize, u64)> {
        let mut arg = PmScanArg {
            size: std::mem::size_of::<PmScanArg>() as u64,
            start,
            end,
            vec: self.regions.as_mut_ptr() as u64,
            vec_len: self.regions.len() as u64,
            category_anyof_mask: PAGE_IS_PRESENT,
            return_mask: if self.file_bit {
                PAGE_IS_PRESENT | PAGE_IS_FILE
            } else {
                PAGE_IS_PRESENT
            } | if self.huge.is_some() { PAGE_IS_HUGE } else { 0 },
            ..Default::default()
        };
        // SAFETY: `arg` is a valid pm_scan_arg whose `vec` points to `self.regions`, a live
        // buffer of exactly `vec_len` page_region structs that the kernel may fill; both outlive
        // the call. The ioctl writes only `arg.walk_end` and at most `vec_len` regions.
        let r = unsafe { libc::ioctl(self.file.as_raw_fd(), PAGEMAP_SCAN as _, &mut arg) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((r as usize, arg.walk_end))
    }

    /// Present runs within the virtual range `[addr, addr + pages * page_size)`, as page
    /// indexes relative to `addr`, in order. `addr` must be page aligned.
    pub fn present_runs(
        &mut self,
        addr: u64,
        pages: u64,
        page_size: u64,
        out: &mut Vec<PresentRun>,
    ) -> io::Result<()> {
        out.clear();
        if let Some(h) = self.huge.as_mut() {
            h.clear();
        }
        if pages == 0 {
            return Ok(());
        }
        match self.source {
            PagemapSource::Scan => self.runs_scan(addr, pages, page_size, out),
            _ => self.runs_pread(addr, pages, page_size, out),
        }
    }

    fn runs_scan(
        &mut self,
        addr: u64,
        pages: u64,
        ps: u64,
        out: &mut Vec<PresentRun>,
    ) -> io::Result<()> {
        let end = addr + pages * ps;
        let mut cur = addr;
        while cur < end {
            let (n, walk_end) = self.scan_once(cur, end)?;
            // The walk covered [cur, walk_end) only. Measured on 6.18: a call can return
            // regions *past* walk_end (here 979 regions up to the end of a 256 MiB mapping with
            // walk_end in its middle) that are an incomplete picture of that part, and the next
            // call from walk_end reports them again. Keep only what lies below walk_end, so no
            // page is counted twice and none is missed (tests/pagemap_truth.rs checks smaps).
            let done_to = if walk_end > cur {
                walk_end.min(end)
            } else {
                end
            };
            for reg in &self.regions[..n] {
                let (s, e) = (reg.start.max(cur), reg.end.min(done_to));
                if e <= s {
                    continue;
                }
                let run = PresentRun {
                    start: (s - addr) / ps,
                    end: (e - addr) / ps,
                    file: !self.file_bit || reg.categories & PAGE_IS_FILE != 0,
                };
                push_run(out, run);
                if reg.categories & PAGE_IS_HUGE != 0 {
                    if let Some(h) = self.huge.as_mut() {
                        match h.last_mut() {
                            Some(last) if last.1 == run.start => last.1 = run.end,
                            _ => h.push((run.start, run.end)),
                        }
                    }
                }
            }
            if walk_end <= cur {
                break;
            }
            cur = walk_end;
        }
        Ok(())
    }

    fn runs_pread(
        &mut self,
        addr: u64,
        pages: u64,
        ps: u64,
        out: &mut Vec<PresentRun>,
    ) -> io::Result<()> {
        // 64 Ki entries (512 KiB) per read: bounded memory whatever the range.
        const CHUNK: u64 = 64 * 1024;
        self.buf.resize(CHUNK as usize, 0);
        let mut done = 0;
        while done < pages {
            let n = CHUNK.min(pages - done);
            let bytes = bytemuck_u64(&mut self.buf[..n as usize]);
            let off = (addr / ps + done) * 8;
            self.file.read_exact_at(bytes, off)?;
            for (i, &e) in self.buf[..n as usize].iter().enumerate() {
                if e & PM_PRESENT != 0 {
                    let p = done + i as u64;
                    push_run(
                        out,
                        PresentRun {
                            start: p,
                            end: p + 1,
                            file: e & PM_FILE != 0,
                        },
                    );
                }
            }
            done += n;
        }
        Ok(())
    }
}

/// Appends a run, merging it with the previous one when adjacent and of the same kind.
fn push_run(out: &mut Vec<PresentRun>, run: PresentRun) {
    if let Some(last) = out.last_mut() {
        if last.end == run.start && last.file == run.file {
            last.end = run.end;
            return;
        }
    }
    out.push(run);
}

/// Views a `u64` slice as bytes (pagemap entries are native-endian u64s).
fn bytemuck_u64(v: &mut [u64]) -> &mut [u8] {
    let len = std::mem::size_of_val(v);
    // SAFETY: u8 has alignment 1 and no invalid bit patterns; the byte slice covers exactly the
    // memory of `v` and borrows it mutably for the same lifetime.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr() as *mut u8, len) }
}

/// Counts present file pages and private pages of `runs` inside `[start, end)`.
/// `runs` must be sorted; `hint` is the index to start searching from (advanced in place),
/// so counting consecutive cells is linear overall.
pub fn count_in(runs: &[PresentRun], start: u64, end: u64, hint: &mut usize) -> (u64, u64) {
    let mut file = 0;
    let mut private = 0;
    while *hint < runs.len() && runs[*hint].end <= start {
        *hint += 1;
    }
    let mut i = *hint;
    while i < runs.len() && runs[i].start < end {
        let r = runs[i];
        let lo = r.start.max(start);
        let hi = r.end.min(end);
        if hi > lo {
            if r.file {
                file += hi - lo;
            } else {
                private += hi - lo;
            }
        }
        i += 1;
    }
    (file, private)
}

/// Pages of `runs` (sorted, disjoint `(start, end)`) inside `start..end`; `hint` as in
/// [`count_in`] (ascending queries).
pub fn count_ranges_in(runs: &[(u64, u64)], start: u64, end: u64, hint: &mut usize) -> u64 {
    while *hint < runs.len() && runs[*hint].1 <= start {
        *hint += 1;
    }
    runs[*hint..]
        .iter()
        .take_while(|r| r.0 < end)
        .map(|r| r.1.min(end).saturating_sub(r.0.max(start)))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_number_matches_the_kernel_header() {
        // _IOWR('f', 16, struct pm_scan_arg) with sizeof == 96 on 64-bit.
        assert_eq!(std::mem::size_of::<PmScanArg>(), 96);
        assert_eq!(PAGEMAP_SCAN, 0xC060_6610);
    }

    #[test]
    fn pread_fallback_cannot_tell_huge_mappings() {
        // Our own page table: 64 KiB of heap we just wrote are present.
        let v = vec![1u8; 64 << 10];
        let ps = crate::units::page_size();
        let addr = (v.as_ptr() as u64).next_multiple_of(ps);
        let mut r = PagemapReader::open(std::process::id()).unwrap();
        r.set_file_bit(false);
        let mut out = Vec::new();
        r.present_runs(addr, 8, ps, &mut out).unwrap();
        assert_eq!(r.huge_runs(), None, "not asked for");
        r.set_huge(true);
        r.present_runs(addr, 8, ps, &mut out).unwrap();
        assert_eq!(out.iter().map(|x| x.end - x.start).sum::<u64>(), 8);
        if r.source() == PagemapSource::Scan {
            assert!(r.huge_runs().is_some());
        }
        r.force_pread();
        r.present_runs(addr, 8, ps, &mut out).unwrap();
        assert_eq!(out.iter().map(|x| x.end - x.start).sum::<u64>(), 8);
        assert_eq!(r.huge_runs(), None, "pagemap entries have no PMD bit");
        drop(v);
    }

    #[test]
    fn huge_ranges_count_per_cell() {
        let runs = [(0, 512), (1024, 1536)];
        let mut hint = 0;
        let per: Vec<u64> = (0..8)
            .map(|i| count_ranges_in(&runs, i * 256, i * 256 + 256, &mut hint))
            .collect();
        assert_eq!(per, vec![256, 256, 0, 0, 256, 256, 0, 0]);
        let mut hint = 0;
        assert_eq!(count_ranges_in(&runs, 500, 1100, &mut hint), 12 + 76);
        assert_eq!(count_ranges_in(&[], 0, 10, &mut 0), 0);
    }

    #[test]
    fn runs_merge_and_count() {
        let mut v = Vec::new();
        for (s, e, f) in [(0, 2, true), (2, 4, true), (4, 5, false), (10, 12, true)] {
            push_run(
                &mut v,
                PresentRun {
                    start: s,
                    end: e,
                    file: f,
                },
            );
        }
        assert_eq!(v.len(), 3);
        let table = [
            (0, 4, (4, 0)),
            (3, 6, (1, 1)),
            (5, 10, (0, 0)),
            (11, 100, (1, 0)),
            (0, 100, (6, 1)),
        ];
        for (s, e, want) in table {
            let mut h = 0;
            assert_eq!(count_in(&v, s, e, &mut h), want, "{s}..{e}");
        }
        // With a carried hint over consecutive cells.
        let mut h = 0;
        let cells: Vec<_> = (0..4)
            .map(|c| count_in(&v, c * 3, c * 3 + 3, &mut h))
            .collect();
        assert_eq!(cells, vec![(3, 0), (1, 1), (0, 0), (2, 0)]);
    }
}
