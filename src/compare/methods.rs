//! The measured loops. They run only in the `__compare` child process (see `child.rs`), one
//! method per process, so the process's /proc fault counters are exactly the method's.
//!
//! Every loop draws its offsets inline from [`PatternIter::next_offset`], reads the bytes of
//! one access, folds them into a value with [`fold`] and feeds that value back as `last` (the
//! chase pattern depends on it) and into a checksum. All methods fold the same bytes the same
//! way, so equal checksums prove that they read the same bytes. Nothing else happens per
//! access: no allocation, no logging, no bookkeeping beyond a syscall counter increment next
//! to each syscall (one register add beside a ~100 ns kernel entry).

use crate::kernel::advice::Advice;
use crate::kernel::counters::{mono_ns, Faults, ProcCounters};
use crate::workload::patterns::{PatternIter, PatternKind, PatternParams};
use crate::workload::worker::PatternSpec;
use memmap2::{Mmap, MmapOptions};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::fs::File;
use std::hint::black_box;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::str::FromStr;

/// One way of reading the same accesses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// A fresh mapping, one pointer dereference per access, first-touch faults included.
    Mmap,
    /// `MAP_POPULATE`: the kernel maps every page inside mmap() (and reads it if cold).
    MmapPopulate,
    /// A fresh mapping with `madvise(advice)` before the first access.
    MmapAdvised(Advice),
    /// One pread() of the access size per access.
    Pread,
    /// lseek() + read() per access, like fseek/fread on an unbuffered stream.
    SeekRead,
    /// `BufReader` (8 KiB) with `seek_relative` + `read_exact`: what a typical program does.
    Buffered,
    /// Streaming patterns only: read() of 64 KiB blocks from start to end.
    Read64k,
    /// Streaming patterns only: read() of 1 MiB blocks from start to end.
    Read1m,
}

impl Method {
    pub fn name(self) -> String {
        match self {
            Method::Mmap => "mmap".into(),
            Method::MmapPopulate => "mmap-populate".into(),
            Method::MmapAdvised(a) => format!("mmap-{}", a.name()),
            Method::Pread => "pread".into(),
            Method::SeekRead => "seek+read".into(),
            Method::Buffered => "buffered".into(),
            Method::Read64k => "read-64k".into(),
            Method::Read1m => "read-1m".into(),
        }
    }

    /// Methods that access the file through a mapping (their costs are faults, not syscalls).
    pub fn is_mmap(self) -> bool {
        matches!(
            self,
            Method::Mmap | Method::MmapPopulate | Method::MmapAdvised(_)
        )
    }

    /// Block reads stream the whole file, so they only exist for streaming patterns.
    pub fn is_block(self) -> bool {
        matches!(self, Method::Read64k | Method::Read1m)
    }

    /// The methods compared for a pattern: the common five, block reads and MADV_SEQUENTIAL
    /// for streaming patterns, MADV_RANDOM for random-like ones (cold default-advice mmap reads
    /// 8 MiB around every fault there), and the user's advice if it is none of those.
    pub fn for_pattern(kind: PatternKind, advice: Advice) -> Vec<Method> {
        if kind == PatternKind::Grep {
            // A search reads the file front to back: through a mapping, or read() of blocks
            // (per-access pread makes no sense for a regex engine).
            return vec![
                Method::Mmap,
                Method::MmapAdvised(Advice::Sequential),
                Method::Read64k,
                Method::Read1m,
            ];
        }
        let mut v = vec![
            Method::Mmap,
            Method::MmapPopulate,
            Method::Pread,
            Method::SeekRead,
            Method::Buffered,
        ];
        if is_streaming(kind) {
            v.insert(2, Method::MmapAdvised(Advice::Sequential));
            v.extend([Method::Read64k, Method::Read1m]);
        }
        if matches!(
            kind,
            PatternKind::Random | PatternKind::Hotset | PatternKind::Chase | PatternKind::Bsearch
        ) {
            v.insert(2, Method::MmapAdvised(Advice::Random));
        }
        if advice != Advice::Normal && !v.contains(&Method::MmapAdvised(advice)) {
            v.insert(2, Method::MmapAdvised(advice));
        }
        v
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "mmap" => Method::Mmap,
            "mmap-populate" => Method::MmapPopulate,
            "pread" => Method::Pread,
            "seek+read" => Method::SeekRead,
            "buffered" => Method::Buffered,
            "read-64k" => Method::Read64k,
            "read-1m" => Method::Read1m,
            _ => match s.strip_prefix("mmap-").map(str::parse::<Advice>) {
                Some(Ok(a)) if a != Advice::Normal => Method::MmapAdvised(a),
                _ => return Err(format!("unknown method '{s}'")),
            },
        })
    }
}

/// Sequential and scan stream the whole file; in the comparison both read it page by page
/// (the block methods read the same bytes in bigger pieces), and the headline figure is MB/s.
/// Grep streams too (front to back, until done).
pub fn is_streaming(kind: PatternKind) -> bool {
    matches!(
        kind,
        PatternKind::Sequential | PatternKind::Scan | PatternKind::Grep
    )
}

/// What one access reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `len` bytes at each offset.
    Fixed(usize),
    /// The page at each (page-aligned) offset; the file's last page may be partial.
    Pages { page: u64, file_size: u64 },
}

/// The pattern parameters and access shape every process derives the same way from the spec.
/// Streaming patterns use Scan's offsets (page starts, in order, wrapping) so that page `i` is
/// exactly the `i`-th chunk a block read sees.
pub fn workload(spec: &PatternSpec, file_size: u64, page_size: u64) -> (PatternParams, Shape) {
    let mut p = spec.params(file_size, page_size);
    if is_streaming(spec.kind) {
        p.kind = PatternKind::Scan;
        (
            p,
            Shape::Pages {
                page: page_size,
                file_size,
            },
        )
    } else {
        (p, Shape::Fixed(spec.access_size as usize))
    }
}

/// The accesses of one pass: 100,000 for random-like patterns, every page otherwise.
pub fn default_accesses(spec: &PatternSpec, file_size: u64, page_size: u64) -> u64 {
    PatternIter::new(&workload(spec, file_size, page_size).0).one_pass()
}

/// Folds the bytes of one access into a value: the first byte and the number of newlines,
/// so every byte is read (like a program looking for line ends) and the next chase offset
/// depends on the data.
#[inline(always)]
pub fn fold(s: &[u8]) -> u64 {
    if s.len() == 1 {
        return fold_byte(s[0]);
    }
    let nl = s.iter().filter(|&&b| b == b'\n').count() as u64;
    (nl << 8) ^ s[0] as u64
}

/// [`fold`] of a one-byte access.
#[inline(always)]
pub fn fold_byte(b: u8) -> u64 {
    (((b == b'\n') as u64) << 8) ^ b as u64
}

/// What a child measured, in its timed window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    pub method: String,
    pub accesses: u64,
    pub bytes: u64,
    pub elapsed_ns: u64,
    pub minor_faults: u64,
    pub major_faults: u64,
    pub syscalls: u64,
    pub checksum: u64,
    pub file_size: u64,
    /// RLIMIT_AS the child ran under (bytes), read back with getrlimit; None: unlimited.
    #[serde(default)]
    pub address_space_limit: Option<u64>,
}

/// Sum of the folded values, bytes read, syscalls issued.
#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    sum: u64,
    bytes: u64,
    syscalls: u64,
}

/// Runs `method` over `accesses` accesses of `spec` on `file` and measures it.
///
/// The timed window (CLOCK_MONOTONIC) runs from just before the first access to just after the
/// last. For the mmap methods it includes mmap(), madvise(), the first-touch faults and
/// munmap(): a program pays all of them to read through a mapping. It excludes process spawn
/// and open(), which every method pays alike, and the buffer allocation of the read methods
/// (done once, pre-touched so its page faults are not charged to the file).
pub fn run(method: Method, file: &File, spec: &PatternSpec, accesses: u64) -> io::Result<Measured> {
    let file_size = file.metadata()?.len();
    let page_size = crate::units::page_size();
    let (params, shape) = workload(spec, file_size, page_size);
    params
        .validate()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    if spec.kind == PatternKind::Grep {
        return grep_run(method, file, spec, file_size, page_size);
    }
    let mut it = PatternIter::new(&params);
    let mut counters = ProcCounters::open(None)?;
    let max_len = match shape {
        Shape::Fixed(n) => n,
        Shape::Pages { page, .. } => page as usize,
    };
    let block = match method {
        Method::Read64k => 64 << 10,
        Method::Read1m => 1 << 20,
        _ => max_len,
    };
    if method.is_block() && !matches!(shape, Shape::Pages { .. }) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "block reads exist only for the streaming patterns (sequential, scan)",
        ));
    }
    // Filled with non-zero bytes so every page of the buffer is faulted in now, not inside the
    // timed window (vec![0; n] would hand out untouched zero pages).
    let mut buf = vec![1u8; block.max(1)];
    black_box(&mut buf);

    let f0 = counters.faults()?;
    let t0 = mono_ns();
    let tally = match method {
        Method::Mmap => mmap_method(file, file_size, None, false, &mut it, accesses, shape)?,
        Method::MmapPopulate => mmap_method(file, file_size, None, true, &mut it, accesses, shape)?,
        Method::MmapAdvised(a) => {
            mmap_method(file, file_size, Some(a), false, &mut it, accesses, shape)?
        }
        Method::Pread => pread_method(file, &mut buf, &mut it, accesses, shape)?,
        Method::SeekRead => seek_read_method(file, &mut buf, &mut it, accesses, shape)?,
        Method::Buffered => buffered_method(file, &mut buf, &mut it, accesses, shape)?,
        Method::Read64k | Method::Read1m => {
            block_method(file, &mut buf, accesses, page_size, file_size)?
        }
    };
    let t1 = mono_ns();
    let f1 = counters.faults()?;
    let Faults { minor, major } = f1.since(f0);
    Ok(Measured {
        method: method.name(),
        accesses,
        bytes: tally.bytes,
        elapsed_ns: t1.saturating_sub(t0),
        minor_faults: minor,
        major_faults: major,
        syscalls: tally.syscalls,
        checksum: tally.sum,
        file_size,
        address_space_limit: None,
    })
}

/// The common loop: `n` offsets from the pattern, one `access(offset, len)` each, its folded
/// value fed back to the pattern and summed. Inlined into each method, so `access` is a
/// direct, inlined call.
#[inline(always)]
fn drive(
    it: &mut PatternIter,
    n: u64,
    shape: Shape,
    mut access: impl FnMut(u64, usize) -> io::Result<u64>,
) -> io::Result<Tally> {
    let mut last = 0u64;
    let mut sum = 0u64;
    let bytes;
    match shape {
        Shape::Fixed(len) => {
            for _ in 0..n {
                let off = it.next_offset(last);
                last = access(off, len)?;
                sum = sum.wrapping_add(last);
            }
            bytes = n * len as u64;
        }
        Shape::Pages { page, file_size } => {
            let mut b = 0u64;
            for _ in 0..n {
                let off = it.next_offset(last);
                let len = (file_size - off).min(page) as usize;
                last = access(off, len)?;
                sum = sum.wrapping_add(last);
                b += len as u64;
            }
            bytes = b;
        }
    }
    Ok(Tally {
        sum,
        bytes,
        syscalls: 0,
    })
}

fn to_memmap(a: Advice) -> memmap2::Advice {
    match a {
        Advice::Normal => memmap2::Advice::Normal,
        Advice::Random => memmap2::Advice::Random,
        Advice::Sequential => memmap2::Advice::Sequential,
        Advice::Willneed => memmap2::Advice::WillNeed,
        Advice::Hugepage => memmap2::Advice::HugePage,
    }
}

/// Maps the whole file read-only (never writable: the user's file is never written).
fn map_file(file: &File, len: u64, populate: bool) -> io::Result<Mmap> {
    let mut o = MmapOptions::new();
    // An explicit length: memmap2 would otherwise fstat() the file, a syscall mmap does not need.
    o.len(len as usize);
    if populate {
        o.populate();
    }
    // SAFETY: the mapping is read-only and private to this short-lived child process. If
    // another process truncates the file meanwhile, an access beyond the new end raises
    // SIGBUS, which kills only this child; the parent reports the death.
    unsafe { o.map(file) }
}

/// One byte through the mapping, with a volatile load so the compiler keeps exactly one load
/// per access.
#[inline(always)]
fn load(map: &[u8], off: u64) -> u8 {
    let off = off as usize;
    debug_assert!(off < map.len());
    // SAFETY: the pattern guarantees off + access_size <= file size = map.len(), so off is in
    // bounds of the live mapping `map` borrows.
    unsafe { std::ptr::read_volatile(map.as_ptr().add(off)) }
}

fn mmap_method(
    file: &File,
    size: u64,
    advice: Option<Advice>,
    populate: bool,
    it: &mut PatternIter,
    n: u64,
    shape: Shape,
) -> io::Result<Tally> {
    let map = map_file(file, size, populate)?;
    let mut syscalls = 2; // mmap + munmap
    if let Some(a) = advice {
        map.advise(to_memmap(a))?;
        syscalls += 1;
    }
    let m: &[u8] = &map;
    let mut t = if shape == Shape::Fixed(1) {
        // The classic 1-byte case as tight as a hand-written loop: the pattern is dispatched
        // once (`drive_n`), its state lives in a local, and a load cannot fail, so there is no
        // per-access error branch.
        let mut local = it.clone();
        let mut sum = 0u64;
        local.drive_n(n as usize, 0, |off| {
            let v = fold_byte(load(m, off));
            sum = sum.wrapping_add(v);
            v
        });
        *it = local;
        Tally {
            sum,
            bytes: n,
            syscalls: 0,
        }
    } else {
        drive(it, n, shape, |off, len| {
            let off = off as usize;
            Ok(fold(&m[off..off + len]))
        })?
    };
    // munmap is inside the window: tearing down the page tables is part of the price.
    drop(map);
    t.syscalls = syscalls;
    Ok(t)
}

/// pread() until `buf` is full. Regular files return short reads only at end of file, which
/// the patterns never reach, so the loop runs once; every call is counted.
#[inline(always)]
fn pread_full(file: &File, buf: &mut [u8], off: u64, calls: &mut u64) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        *calls += 1;
        match file.read_at(&mut buf[done..], off + done as u64)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            k => done += k,
        }
    }
    Ok(())
}

/// read() until `buf` is full (short reads only at end of file), counting every call.
#[inline(always)]
fn read_full(mut r: impl Read, buf: &mut [u8], calls: &mut u64) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        *calls += 1;
        match r.read(&mut buf[done..])? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            k => done += k,
        }
    }
    Ok(())
}

fn pread_method(
    file: &File,
    buf: &mut [u8],
    it: &mut PatternIter,
    n: u64,
    shape: Shape,
) -> io::Result<Tally> {
    let mut calls = 0u64;
    let mut t = drive(it, n, shape, |off, len| {
        let b = &mut buf[..len];
        pread_full(file, b, off, &mut calls)?;
        Ok(fold(black_box(&*b)))
    })?;
    t.syscalls = calls;
    Ok(t)
}

fn seek_read_method(
    file: &File,
    buf: &mut [u8],
    it: &mut PatternIter,
    n: u64,
    shape: Shape,
) -> io::Result<Tally> {
    let mut calls = 0u64;
    let mut f = file;
    let mut t = drive(it, n, shape, |off, len| {
        calls += 1;
        f.seek(SeekFrom::Start(off))?;
        let b = &mut buf[..len];
        read_full(&mut f, b, &mut calls)?;
        Ok(fold(black_box(&*b)))
    })?;
    t.syscalls = calls;
    Ok(t)
}

/// A `Read + Seek` that counts the syscalls BufReader makes underneath.
struct Counting<'a> {
    file: &'a File,
    calls: u64,
}

impl Read for Counting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        self.file.read(buf)
    }
}

impl Seek for Counting<'_> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.calls += 1;
        self.file.seek(pos)
    }
}

/// BufReader with its default 8 KiB buffer. Each access moves with `seek_relative`, which keeps
/// the buffer when the target is inside it (glibc's fseek does the same for read streams);
/// `BufReader::seek` would always discard it and refill, one more read() per access. A jump
/// outside the buffer costs an lseek plus an 8 KiB read() for a possibly 1-byte access: that
/// is exactly the classic fseek/fread cost this method measures.
fn buffered_method(
    file: &File,
    buf: &mut [u8],
    it: &mut PatternIter,
    n: u64,
    shape: Shape,
) -> io::Result<Tally> {
    let mut r = BufReader::new(Counting { file, calls: 0 });
    let mut pos = 0u64;
    let mut t = drive(it, n, shape, |off, len| {
        r.seek_relative(off.wrapping_sub(pos) as i64)?;
        let b = &mut buf[..len];
        r.read_exact(b)?;
        pos = off + len as u64;
        Ok(fold(black_box(&*b)))
    })?;
    t.syscalls = r.get_ref().calls;
    Ok(t)
}

/// read() of `buf.len()`-byte blocks from the start, wrapping at the end like the pattern;
/// each page of a block is folded as one access, so the checksum equals the per-page methods'.
fn block_method(file: &File, buf: &mut [u8], n: u64, page: u64, size: u64) -> io::Result<Tally> {
    let mut f = file;
    let mut calls = 0u64;
    let (mut pos, mut left, mut last, mut sum, mut bytes) = (0u64, n, 0u64, 0u64, 0u64);
    while left > 0 {
        if pos == size {
            calls += 1;
            f.seek(SeekFrom::Start(0))?;
            pos = 0;
        }
        let want = (buf.len() as u64).min(left * page).min(size - pos) as usize;
        let b = &mut buf[..want];
        read_full(&mut f, b, &mut calls)?;
        for chunk in black_box(&*b).chunks(page as usize) {
            last = fold(chunk);
            sum = sum.wrapping_add(last);
            left -= 1;
        }
        pos += want as u64;
        bytes += want as u64;
    }
    black_box(last);
    Ok(Tally {
        sum,
        bytes,
        syscalls: calls,
    })
}

/// Grep through one method: the same search (same blocks, same matches) through a mapping or
/// read() of blocks. One access is one page the search read (up to where it stopped); the
/// checksum folds the match count and first matches, so every method must agree.
fn grep_run(
    method: Method,
    file: &File,
    spec: &PatternSpec,
    file_size: u64,
    page_size: u64,
) -> io::Result<Measured> {
    use crate::workload::patterns::grep::{compile, Grep};
    let bad = |e: String| io::Error::new(io::ErrorKind::InvalidInput, e);
    let re = compile(
        spec.regex
            .as_deref()
            .ok_or_else(|| bad("grep needs a regex".into()))?,
    )
    .map_err(bad)?;
    let mut g = Grep::new(re, spec.max_matches);
    let mut counters = ProcCounters::open(None)?;
    let f0 = counters.faults()?;
    let t0 = mono_ns();
    let (bytes, syscalls) = match method {
        Method::Mmap | Method::MmapAdvised(_) if file_size > 0 => {
            let map = map_file(file, file_size, false)?;
            let mut calls = 2;
            if let Method::MmapAdvised(a) = method {
                map.advise(to_memmap(a))?;
                calls += 1;
            }
            g.run_over(&map, u64::MAX);
            drop(map);
            (g.stopped_at, calls)
        }
        Method::Mmap | Method::MmapAdvised(_) => (0, 0),
        Method::Read64k | Method::Read1m => {
            let chunk = if method == Method::Read64k {
                64 << 10
            } else {
                1 << 20
            };
            let (calls, bytes) = g.run_reader(file, chunk)?;
            (bytes, calls)
        }
        _ => {
            return Err(bad(format!(
                "{method} does not apply to grep (mmap, mmap-sequential, read-64k, read-1m)"
            )))
        }
    };
    let t1 = mono_ns();
    let Faults { minor, major } = counters.faults()?.since(f0);
    Ok(Measured {
        method: method.name(),
        accesses: g.stopped_at.div_ceil(page_size),
        bytes,
        elapsed_ns: t1.saturating_sub(t0),
        minor_faults: minor,
        major_faults: major,
        syscalls,
        checksum: g.checksum(),
        file_size,
        // Filled in by the child process, like for the other methods.
        address_space_limit: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_byte_is_fold_of_one_byte() {
        for b in 0..=255u8 {
            assert_eq!(fold(&[b]), fold_byte(b));
        }
        assert_eq!(fold(b"a\nb\n"), (2 << 8) ^ b'a' as u64);
    }

    #[test]
    fn names_round_trip() {
        let all = [
            Method::Mmap,
            Method::MmapPopulate,
            Method::MmapAdvised(Advice::Random),
            Method::MmapAdvised(Advice::Sequential),
            Method::MmapAdvised(Advice::Willneed),
            Method::Pread,
            Method::SeekRead,
            Method::Buffered,
            Method::Read64k,
            Method::Read1m,
        ];
        for m in all {
            assert_eq!(m.name().parse::<Method>(), Ok(m));
        }
        assert!("mmap-normal".parse::<Method>().is_err());
        assert!("fread".parse::<Method>().is_err());
    }

    #[test]
    fn methods_per_pattern() {
        let names = |k, a| {
            Method::for_pattern(k, a)
                .into_iter()
                .map(Method::name)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(PatternKind::Random, Advice::Normal),
            [
                "mmap",
                "mmap-populate",
                "mmap-random",
                "pread",
                "seek+read",
                "buffered"
            ]
        );
        assert_eq!(
            names(PatternKind::Sequential, Advice::Normal),
            [
                "mmap",
                "mmap-populate",
                "mmap-sequential",
                "pread",
                "seek+read",
                "buffered",
                "read-64k",
                "read-1m"
            ]
        );
        assert_eq!(
            names(PatternKind::Stride, Advice::Willneed),
            [
                "mmap",
                "mmap-populate",
                "mmap-willneed",
                "pread",
                "seek+read",
                "buffered"
            ]
        );
        assert_eq!(
            names(PatternKind::Chase, Advice::Random),
            [
                "mmap",
                "mmap-populate",
                "mmap-random",
                "pread",
                "seek+read",
                "buffered"
            ]
        );
    }
}
