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
    fn targets_are_seeded_and_in_range() {
        let a: Vec<u64> = (0..100).map(|i| target(1, i, 1000)).collect();
        assert!(a.iter().all(|&t| t < 1000));
        assert_ne!(a, (0..100).map(|i| target(2, i, 1000)).collect::<Vec<_>>());
        assert!(a.iter().any(|&t| t != a[0]));
        assert_eq!(target(5, 3, 1), 0);
    }
}
