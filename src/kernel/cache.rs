//! Cache control: evict a file from the page cache, or warm it.
//!
//! Evict, as far as an unprivileged process can (no drop_caches): drop our own mappings of the
//! range (`MADV_DONTNEED`; mapped pages cannot be evicted), `fdatasync` (dirty pages cannot be
//! evicted; it works on a read-only fd), then `posix_fadvise(POSIX_FADV_DONTNEED)`, then
//! verify. Pages another process still maps stay cached, and we say so.

use crate::kernel::residency::CacheProbe;
use crate::kernel::sys;
use serde::Serialize;
use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;

/// What an eviction achieved, in pages.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct EvictReport {
    pub cached_before: Option<u64>,
    pub cached_after: Option<u64>,
    pub dirty_after: Option<u64>,
    /// Why pages stayed cached (None when all went, or when the state is hidden).
    pub stayed_reason: Option<String>,
}

/// Evicts pages `start..end` of `file`. `own_mappings` are (address, length) ranges of this
/// process's mappings of that range, dropped first with `MADV_DONTNEED`.
pub fn evict(
    file: &File,
    probe: &mut CacheProbe,
    start: u64,
    end: u64,
    own_mappings: &[(usize, usize)],
    fs_can_evict: bool,
    fs_note: Option<&str>,
) -> io::Result<EvictReport> {
    let before = probe.range(start, end)?;
    for &(addr, len) in own_mappings {
        sys::madvise(addr, len, libc::MADV_DONTNEED)?;
    }
    // Dirty pages (e.g. written through a shared mapping) must be written back to be dropped.
    // EINVAL: the file does not support syncing (some special filesystems); go on.
    if let Err(e) = sys::fdatasync(file.as_fd()) {
        if e.raw_os_error() != Some(libc::EINVAL) {
            return Err(e);
        }
    }
    let ps = crate::units::page_size();
    let (off, len) = (start * ps, (end - start.min(end)) * ps);
    sys::fadvise(file.as_fd(), off, len, libc::POSIX_FADV_DONTNEED)?;
    let mut after = probe.range(start, end)?;
    // Folios still in per-CPU LRU batches are skipped once, and pages under read I/O (a
    // worker's first fault has just started 8 MiB of readahead) are skipped until the read
    // completes: retry while pages stay, clean, with short waits (at most 150 ms in all).
    for wait_ms in [0u64, 10, 20, 40, 80] {
        match after {
            Some(a) if a.cached > 0 && a.dirty.unwrap_or(0) == 0 && fs_can_evict => {}
            _ => break,
        }
        std::thread::sleep(std::time::Duration::from_millis(wait_ms));
        sys::fadvise(file.as_fd(), off, len, libc::POSIX_FADV_DONTNEED)?;
        after = probe.range(start, end)?;
    }
    let stayed_reason = match after {
        Some(a) if a.cached > 0 => Some(if !fs_can_evict {
            fs_note
                .unwrap_or("this filesystem cannot evict its pages")
                .to_string()
        } else if a.dirty.unwrap_or(0) > 0 {
            format!(
                "{} pages stayed cached: {} are dirty and could not be written back",
                a.cached,
                a.dirty.unwrap_or(0)
            )
        } else {
            // A process that maps the file pins only the pages its page table holds: name
            // those whose smaps shows resident pages of the file.
            let who: Vec<(u32, String, u64)> = mappers_of(file)
                .into_iter()
                .filter_map(|(pid, comm)| {
                    let rss = resident_pages_of(pid, file)?;
                    (rss > 0).then_some((pid, comm, rss))
                })
                .collect();
            if who.is_empty() {
                format!(
                    "{} pages stayed cached: none are dirty and no other process has them \
                     mapped (checked /proc/*/maps and smaps): the kernel kept them (in use by \
                     I/O, locked, or mapped by a process /proc does not show us)",
                    a.cached
                )
            } else {
                let names: Vec<String> = who
                    .iter()
                    .take(3)
                    .map(|(pid, comm, rss)| format!("{comm} (pid {pid}, {rss} pages)"))
                    .collect();
                format!(
                    "{} pages stayed cached: mapped by {}{}; fadvise cannot evict mapped pages",
                    a.cached,
                    names.join(", "),
                    if who.len() > 3 { " and others" } else { "" }
                )
            }
        }),
        _ => None,
    };
    Ok(EvictReport {
        cached_before: before.map(|b| b.cached),
        cached_after: after.map(|a| a.cached),
        dirty_after: after.and_then(|a| a.dirty),
        stayed_reason,
    })
}

/// Other processes that map `file` (same device and inode in /proc/<pid>/maps), as (pid,
/// command name). Processes whose maps we may not read are not listed.
pub fn mappers_of(file: &File) -> Vec<(u32, String)> {
    use std::os::unix::fs::MetadataExt;
    let Ok(m) = file.metadata() else {
        return Vec::new();
    };
    let dev = m.dev();
    // glibc's gnu_dev_major / gnu_dev_minor.
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    let (want_dev, want_ino) = (format!("{major:02x}:{minor:02x}"), m.ino().to_string());
    let me = std::process::id();
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    // One buffer for every process's maps, and no allocation per line: the live session
    // runs this every few seconds over every process of the machine.
    let mut maps = String::new();
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        maps.clear();
        let read = std::fs::File::open(format!("/proc/{pid}/maps"))
            .and_then(|mut f| std::io::Read::read_to_string(&mut f, &mut maps));
        if read.is_err() {
            continue;
        }
        // "addr perms offset dev inode path": dev and inode are fields 4 and 5.
        let hit = maps.lines().any(|l| {
            let mut f = l.split_ascii_whitespace().skip(3);
            f.next() == Some(want_dev.as_str()) && f.next() == Some(want_ino.as_str())
        });
        if hit {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            out.push((pid, comm.trim().to_string()));
        }
    }
    out
}

/// Pages of `file` resident in process `pid`'s mappings of it (the Rss of its VMAs in
/// /proc/<pid>/smaps), or None when smaps cannot be read.
pub fn resident_pages_of(pid: u32, file: &File) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    let m = file.metadata().ok()?;
    let dev = m.dev();
    let want_dev = format!("{:02x}:{:02x}", libc::major(dev), libc::minor(dev));
    let want_ino = m.ino().to_string();
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).ok()?;
    let mut ours = false;
    let mut kib = 0u64;
    for l in smaps.lines() {
        let mut f = l.split_ascii_whitespace();
        let first = f.next().unwrap_or("");
        if first.contains('-') && !first.ends_with(':') {
            // A VMA header: "addr perms offset dev inode path".
            let mut f = f.skip(2);
            ours = f.next() == Some(want_dev.as_str()) && f.next() == Some(want_ino.as_str());
        } else if ours && first == "Rss:" {
            kib += f.next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    Some(kib * 1024 / crate::units::page_size())
}

/// How to bring a file into the page cache. The fill order decides the folio sizes the page
/// cache ends up holding (sequential reads build large folios, e.g. 2 MiB; scattered 4 KiB
/// reads build small ones), which changes how many pages one later fault maps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fill {
    /// `POSIX_FADV_WILLNEED` then a sequential 1 MiB `pread` pass.
    #[default]
    Sequential,
    /// One page-sized `pread` per page, in a pseudo-random order (no readahead: the file is
    /// advised `POSIX_FADV_RANDOM` for the pass).
    Random,
}

/// Reads pages `start..end` of `file` into the page cache. Returns bytes read.
///
/// Refuses (ErrorKind::OutOfMemory, nothing read) a range larger than half of
/// `MemAvailable`: reading a 16 TiB sparse file fills the cache with zero pages (21 GiB in
/// 16 s here) and pushes everything else out.
pub fn warm(file: &File, start: u64, end: u64, fill: Fill) -> io::Result<u64> {
    let ps = crate::units::page_size();
    let (off, len) = (start * ps, end.saturating_sub(start) * ps);
    if let Some(avail) = crate::kernel::meminfo::mem_available() {
        if len > crate::kernel::meminfo::limit_of(avail) {
            return Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!(
                    "not read: the file is {}, more than half of the {} available (MemAvailable)",
                    crate::units::human_bytes(len),
                    crate::units::human_bytes(avail)
                ),
            ));
        }
    }
    let mut total = 0u64;
    match fill {
        Fill::Sequential => {
            sys::fadvise(file.as_fd(), off, len, libc::POSIX_FADV_WILLNEED)?;
            let mut buf = vec![0u8; 1 << 20];
            let mut pos = off;
            while pos < off + len {
                let n = file.read_at(&mut buf, pos)?;
                if n == 0 {
                    break;
                }
                total += n as u64;
                pos += n as u64;
            }
        }
        Fill::Random => {
            sys::fadvise(file.as_fd(), off, len, libc::POSIX_FADV_RANDOM)?;
            let mut buf = vec![0u8; ps as usize];
            let n = end.saturating_sub(start);
            for i in permutation(n, 0x9E37_79B9) {
                total += file.read_at(&mut buf, (start + i) * ps)? as u64;
            }
            sys::fadvise(file.as_fd(), off, len, libc::POSIX_FADV_NORMAL)?;
        }
    }
    Ok(total)
}

/// A pseudo-random permutation of `0..n` without allocating: a full-period LCG modulo the next
/// power of two (Hull–Dobell: c odd, a ≡ 1 mod 4), skipping values >= n.
pub fn permutation(n: u64, seed: u64) -> impl Iterator<Item = u64> {
    let m = n.next_power_of_two().max(4);
    let mask = m - 1;
    let mut x = seed & mask;
    let mut emitted = 0u64;
    std::iter::from_fn(move || {
        while emitted < n {
            x = (x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407))
                & mask;
            if x < n {
                emitted += 1;
                return Some(x);
            }
        }
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutation_is_a_permutation() {
        for n in [0u64, 1, 2, 3, 5, 16, 17, 1000] {
            let mut v: Vec<u64> = permutation(n, 42).collect();
            assert_eq!(v.len() as u64, n);
            let in_order = v.windows(2).all(|w| w[0] < w[1]);
            v.sort_unstable();
            assert_eq!(v, (0..n).collect::<Vec<_>>());
            if n > 16 {
                assert!(!in_order, "n={n} should be shuffled");
            }
        }
    }
}
