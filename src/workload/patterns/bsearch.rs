//! Binary search in a file of sorted fixed-size records: what a database index lookup does.
//!
//! `mmviz gen FILE --records N` writes N records of [`RECORD_SIZE`] bytes, each starting with
//! an 8-byte big-endian key; keys strictly increase (random gaps, same seed, same file). A
//! lookup of the key of record `t` probes the middle of `[lo, hi)` and halves it, so it reads
//! about log2(records) records, and the first probes of every lookup hit the same few records
//! (the "upper levels" a B-tree keeps hot).
//!
//! Because keys strictly increase, `key[mid] < key[t]` exactly when `mid < t`: the probes of a
//! lookup depend only on `t` and the record count, not on the bytes. The pattern iterator
//! therefore draws the same offsets a real search makes without reading data, and
//! [`lookup`] (the real search, reading keys) proves it in the tests.

use super::rng::{mix64, reduce, GOLDEN};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cmp::Ordering;

/// Bytes per record: the key and a readable payload line.
pub const RECORD_SIZE: u64 = 64;
/// Bytes of the big-endian key at the start of each record (what one probe reads).
pub const KEY_SIZE: u64 = 8;

/// Separates the lookup targets from the other seed-derived streams.
const SALT_BSEARCH: u64 = 0xA54F_F53A_5F1D_36F1;

/// Records in a file of `file_size` bytes (at least 1, so an odd small file still works).
pub fn records(file_size: u64) -> u64 {
    (file_size / RECORD_SIZE).max(1)
}

/// The record whose key the `n`-th lookup of `seed` searches for.
pub fn target(seed: u64, n: u64, records: u64) -> u64 {
    reduce(
        mix64(seed ^ SALT_BSEARCH ^ n.wrapping_mul(GOLDEN)),
        records.max(1),
    )
}

/// One probe of a lookup for record `t` in `[lo, hi)`: the record to read, and the range
/// left after comparing (empty when the probe found `t`).
#[inline(always)]
pub fn probe(lo: u64, hi: u64, t: u64) -> (u64, u64, u64) {
    let mid = lo + (hi - lo) / 2;
    match mid.cmp(&t) {
        Ordering::Less => (mid, mid + 1, hi),
        Ordering::Greater => (mid, lo, mid),
        Ordering::Equal => (mid, mid, mid),
    }
}

/// The real search: reads keys with `key_at(record)` and returns the record holding `key`
/// (None if no record does), pushing every probed record onto `probes`.
pub fn lookup<E>(
    records: u64,
    key: u64,
    mut key_at: impl FnMut(u64) -> Result<u64, E>,
    probes: &mut Vec<u64>,
) -> Result<Option<u64>, E> {
    let (mut lo, mut hi) = (0, records);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        probes.push(mid);
        match key_at(mid)?.cmp(&key) {
            Ordering::Less => lo = mid + 1,
            Ordering::Greater => hi = mid,
            Ordering::Equal => return Ok(Some(mid)),
        }
    }
    Ok(None)
}

/// The key stored in a record's first 8 bytes.
pub fn key_of(record: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&record[..KEY_SIZE as usize]);
    u64::from_be_bytes(b)
}

/// Checks that `path` is a file of sorted records as `mmviz gen --records` writes them, by
/// reading the page that holds the middle record (the first probe of every lookup): every
/// record there ends in a newline, names its own index and key, and the keys increase. The
/// page is read with `O_DIRECT`, so the check leaves the page cache as it was (the lookups'
/// first fault stays theirs); where `O_DIRECT` is refused (tmpfs: every page is in memory
/// anyway) it is read normally. Err: one line saying why the file is not one.
pub fn check_records_file(path: &std::path::Path) -> Result<u64, String> {
    use std::os::unix::fs::{FileExt, OpenOptionsExt};
    const NOT: &str =
        "is not a file of sorted records (make one with `mmviz gen FILE --records N`)";
    let open = |direct: bool| {
        let mut o = std::fs::OpenOptions::new();
        o.read(true);
        if direct {
            o.custom_flags(libc::O_DIRECT);
        }
        o.open(path)
    };
    let f = open(true)
        .or_else(|_| open(false))
        .map_err(|e| crate::error::io_reason(&e))?;
    let size = f.metadata().map_err(|e| crate::error::io_reason(&e))?.len();
    if size < RECORD_SIZE || size % RECORD_SIZE != 0 {
        return Err(format!(
            "{NOT}: its size, {size} bytes, is not a multiple of {RECORD_SIZE}-byte records"
        ));
    }
    let n = size / RECORD_SIZE;
    let page = crate::units::page_size().max(4096);
    let mid = n / 2;
    let start = (mid * RECORD_SIZE) / page * page;
    // An O_DIRECT buffer must be aligned: a page-aligned window of a larger Vec.
    let mut raw = vec![0u8; 2 * page as usize];
    let off = raw.as_ptr().align_offset(page as usize);
    let buf = &mut raw[off..off + page as usize];
    let read = |buf: &mut [u8]| -> std::io::Result<usize> {
        let mut got = 0;
        while got < buf.len() {
            match f.read_at(&mut buf[got..], start + got as u64)? {
                0 => break,
                k => got += k,
            }
        }
        Ok(got)
    };
    let got = match read(buf) {
        Ok(g) => g,
        // O_DIRECT refused at read time: read through the cache.
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            let f2 = open(false).map_err(|e| crate::error::io_reason(&e))?;
            f2.read_at(buf, start)
                .map_err(|e| crate::error::io_reason(&e))?
        }
        Err(e) => return Err(crate::error::io_reason(&e)),
    };
    let first = start / RECORD_SIZE;
    let mut prev: Option<u64> = None;
    for (i, r) in buf[..got].chunks_exact(RECORD_SIZE as usize).enumerate() {
        let idx = first + i as u64;
        let key = key_of(r);
        let text = format!(" record {idx:>12} key {key:016x}");
        if !r[KEY_SIZE as usize..].starts_with(text.as_bytes()) || r[63] != b'\n' {
            return Err(format!(
                "{NOT}: the 64 bytes at offset {} are not record {idx}",
                idx * RECORD_SIZE
            ));
        }
        if prev.is_some_and(|p| p >= key) {
            return Err(format!(
                "{NOT}: the keys of records {} and {idx} are not sorted",
                idx - 1
            ));
        }
        prev = Some(key);
    }
    if prev.is_none() {
        return Err(format!("{NOT}: nothing could be read at offset {start}"));
    }
    Ok(n)
}

/// Probes of one lookup at most in `records` records: floor(log2(n)) + 1.
pub fn max_probes(records: u64) -> u64 {
    64 - records.max(1).leading_zeros() as u64
}

/// Writes sorted records, `chunk_records` at a time, for `mmviz gen --records`.
pub struct RecordWriter {
    rng: ChaCha8Rng,
    next: u64,
    key: u64,
}

impl RecordWriter {
    pub fn new(seed: u64) -> RecordWriter {
        RecordWriter {
            rng: ChaCha8Rng::seed_from_u64(seed),
            next: 0,
            key: 0,
        }
    }

    /// Appends the next record to `out`: key (big-endian), then a text line naming it.
    pub fn push(&mut self, out: &mut Vec<u8>) {
        // Gaps of 1..=1024 keep keys strictly increasing and far from u64::MAX for any
        // realistic record count (2^40 records * 1024 < 2^51).
        self.key += 1 + (self.rng.next_u32() & 1023) as u64;
        let start = out.len();
        out.extend_from_slice(&self.key.to_be_bytes());
        let text = format!(" record {:>12} key {:016x}", self.next, self.key);
        out.extend_from_slice(text.as_bytes());
        out.resize(start + RECORD_SIZE as usize - 1, b' ');
        out.push(b'\n');
        self.next += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(n: u64, seed: u64) -> Vec<u8> {
        let mut w = RecordWriter::new(seed);
        let mut v = Vec::new();
        for _ in 0..n {
            w.push(&mut v);
        }
        v
    }

    #[test]
    fn records_are_sorted_fixed_size_and_seeded() {
        let a = file(1000, 7);
        assert_eq!(a.len() as u64, 1000 * RECORD_SIZE);
        let keys: Vec<u64> = a.chunks(RECORD_SIZE as usize).map(key_of).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        assert!(a.chunks(RECORD_SIZE as usize).all(|r| r[63] == b'\n'));
        assert_eq!(a, file(1000, 7));
        assert_ne!(a, file(1000, 8));
    }

    #[test]
    fn lookup_finds_every_key_in_about_log2_probes() {
        // (records, max probes = floor(log2(n)) + 1)
        for &(n, max) in &[(1u64, 1usize), (2, 2), (3, 2), (1000, 10), (4096, 13)] {
            let f = file(n, 3);
            let key_at =
                |i: u64| -> Result<u64, ()> { Ok(key_of(&f[(i * RECORD_SIZE) as usize..])) };
            for t in 0..n {
                let key = key_at(t).unwrap();
                let mut probes = Vec::new();
                assert_eq!(lookup(n, key, key_at, &mut probes), Ok(Some(t)));
                assert!(probes.len() <= max, "n {n} t {t}: {probes:?}");
                // The data-free probe rule gives the same path.
                let (mut lo, mut hi, mut path) = (0, n, Vec::new());
                while lo < hi {
                    let (m, l, h) = probe(lo, hi, t);
                    path.push(m);
                    (lo, hi) = (l, h);
                }
                assert_eq!(path, probes, "n {n} t {t}");
            }
            // A key between two records is not found.
            if n >= 2 {
                let k = key_at(1).unwrap() - 1;
                if k > key_at(0).unwrap() {
                    assert_eq!(lookup(n, k, key_at, &mut Vec::new()), Ok(None));
                }
            }
        }
    }

    #[test]
    fn a_records_file_is_told_from_other_files_without_caching_it() {
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR").to_string() + "/target").unwrap();
        let p = dir.path().join("r.bin");
        std::fs::write(&p, file(100_000, 1)).unwrap();
        assert_eq!(check_records_file(&p), Ok(100_000));
        assert_eq!(max_probes(100_000), 17);
        assert_eq!((max_probes(1), max_probes(2), max_probes(4096)), (1, 2, 13));
        // Evicted, then checked: O_DIRECT left the page cache as it was (cachestat/mincore).
        let f = std::fs::File::open(&p).unwrap();
        let fs = crate::kernel::fsinfo::fs_of(&f).unwrap();
        let size = f.metadata().unwrap().len();
        let mut probe = crate::kernel::residency::CacheProbe::new(&f, size, &fs).unwrap();
        let pages = probe.pages();
        if fs.can_evict && probe.visible() {
            f.sync_all().unwrap();
            crate::kernel::cache::evict(&f, &mut probe, 0, pages, &[], true, None).unwrap();
            let before = probe.range(0, pages).unwrap().map(|r| r.cached);
            assert_eq!(before, Some(0), "evicted");
            check_records_file(&p).unwrap();
            let after = probe.range(0, pages).unwrap().map(|r| r.cached);
            assert_eq!(after, before, "the check cached nothing");
        }
        let mut bad = file(100_000, 1);
        let table: Vec<(Vec<u8>, &str)> = vec![
            (vec![b'x'; 6_400_000], "are not record"),
            (
                bad[..6_399_999].to_vec(),
                "not a multiple of 64-byte records",
            ),
            (vec![], "not a multiple"),
            (
                {
                    // Two records swapped in the middle page: their texts name other indexes.
                    let m = 50_000 * 64;
                    let (a, b) = bad.split_at_mut(m + 64);
                    a[m..].swap_with_slice(&mut b[..64]);
                    bad
                },
                "are not record",
            ),
        ];
        for (content, want) in table {
            std::fs::write(&p, content).unwrap();
            let e = check_records_file(&p).unwrap_err();
            assert!(
                e.contains(want) && e.contains("mmviz gen FILE --records N"),
                "{e}"
            );
            assert!(!e.contains('\n'));
        }
    }

    #[test]
    fn targets_are_seeded_and_in_range() {
        let a: Vec<u64> = (0..100).map(|i| target(1, i, 1000)).collect();
        assert!(a.iter().all(|&t| t < 1000));
        assert_ne!(a, (0..100).map(|i| target(2, i, 1000)).collect::<Vec<_>>());
        assert!(a.iter().any(|&t| t != a[0]));
        assert_eq!(target(5, 3, 1), 0);
    }
}
