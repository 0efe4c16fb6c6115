//! The worker's inner loops: one access (read or read-modify-write), the store share, the
//! sampled timing of a batch. Kept small and `#[inline(always)]` so a batch compiles to a
//! loop as tight as a plain one (benches/worker_loop.rs, benches/write.rs).

use std::time::Instant;

/// Reads one access of `size` bytes at `off` and folds it into a value (the next chase step
/// depends on it). One byte: a single load. More: every byte is read, like memchr looking
/// for newlines would, so the compiler cannot skip any.
#[inline(always)]
pub(super) fn access(map: &[u8], off: u64, size: usize) -> u64 {
    let off = off as usize;
    if size == 1 {
        // SAFETY: off < map.len() is guaranteed by the pattern (offset + access_size <= file
        // size = mapping length); read_volatile keeps the load even if the value were unused.
        unsafe { std::ptr::read_volatile(map.as_ptr().add(off)) as u64 }
    } else {
        let s = &map[off..off + size];
        let nl = s.iter().filter(|&&b| b == b'\n').count() as u64;
        nl.wrapping_mul(0x100) ^ s[0] as u64
    }
}

/// Stores of an access: the fraction `share_q16 / 65536` of accesses store, spread evenly.
#[inline(always)]
pub(super) fn due(acc: &mut u32, share_q16: u32) -> bool {
    *acc += share_q16;
    if *acc >= 1 << 16 {
        *acc -= 1 << 16;
        true
    } else {
        false
    }
}

/// One access in write mode: loads `size` bytes at `off` (like `access`) and, when `store`,
/// writes its first byte back incremented (a read-modify-write: the page becomes dirty in a
/// shared mapping, or a private copy in a private one). Public for the benchmarks.
///
/// # Safety
/// `base..base+len` must be a live, writable mapping and `off + size <= len`, `size >= 1`.
#[inline(always)]
pub unsafe fn write_access(base: *mut u8, off: u64, size: usize, store: bool) -> u64 {
    let p = base.add(off as usize);
    let v = if size == 1 {
        std::ptr::read_volatile(p) as u64
    } else {
        let mut nl = 0u64;
        for i in 0..size {
            nl += (std::ptr::read_volatile(p.add(i)) == b'\n') as u64;
        }
        nl.wrapping_mul(0x100) ^ std::ptr::read_volatile(p) as u64
    };
    if store {
        std::ptr::write_volatile(p, (v as u8).wrapping_add(1));
    }
    v
}

/// One write-mode batch's fixed parameters. Public so `benches/write.rs` times this exact
/// loop against a plain store loop over the same mapping.
pub struct WriteLoop {
    /// The writable mapping's first byte.
    pub base: *mut u8,
    /// The mapping's length in bytes.
    pub fsize: u64,
    /// Bytes loaded per access (a page for `scan`, clipped at the end of the file).
    pub size: u64,
    pub scan: bool,
    /// Share of accesses that store, in 1/65536.
    pub share_q16: u32,
}

impl WriteLoop {
    /// Runs `offs.len()` accesses of `iter` (the last `k` timed into `lat`), each loading
    /// `size` bytes and, for the due share, storing its first byte incremented. Returns the
    /// last offset; `wacc` carries the store accumulator and `sum` the checksum across
    /// batches.
    ///
    /// # Safety
    /// `base..base+fsize` must be a live, writable mapping and every offset `iter` draws must
    /// leave `off + size <= fsize` (`scan` clips `size` at the end itself).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub unsafe fn run(
        &self,
        iter: &mut crate::workload::patterns::PatternIter,
        offs: &mut [u64],
        record: bool,
        last: u64,
        k: usize,
        lat: &mut crate::latency::LatencyHist,
        wacc: &mut u32,
        sum: &mut u64,
    ) -> u64 {
        let (base, fsize, size, scan, q) =
            (self.base, self.fsize, self.size, self.scan, self.share_q16);
        let f = |off: u64| {
            let len = if scan {
                (fsize - off).min(size) as usize
            } else {
                size as usize
            };
            let store = due(wacc, q);
            // SAFETY: the caller's contract: base..base+fsize is live and writable and
            // off + len <= fsize; len >= 1.
            let v = unsafe { write_access(base, off, len.max(1), store) };
            *sum = sum.wrapping_add(v);
            v
        };
        drive_sampled(iter, offs, record, last, k, lat, f)
    }
}

/// Runs `offs.len()` accesses; the last `k` are timed one at a time into `lat` (two clock
/// reads each, plus drawing the offset). The untimed ones run the same tight loop as before.
#[inline(always)]
pub(super) fn drive_sampled(
    iter: &mut crate::workload::patterns::PatternIter,
    offs: &mut [u64],
    record: bool,
    mut last: u64,
    k: usize,
    lat: &mut crate::latency::LatencyHist,
    mut f: impl FnMut(u64) -> u64,
) -> u64 {
    let n = offs.len();
    let m = n - k.min(n);
    last = if record {
        iter.drive(&mut offs[..m], last, &mut f)
    } else {
        iter.drive_n(m, last, &mut f)
    };
    for i in m..n {
        let t = Instant::now();
        last = iter.drive(&mut offs[i..i + 1], last, &mut f);
        lat.record(t.elapsed().as_nanos() as u64);
    }
    last
}

/// A share 0.0..=1.0 in 1/65536 (clamped).
pub(super) fn share_q16(share: f64) -> u32 {
    (share.clamp(0.0, 1.0) * 65536.0).round() as u32
}
