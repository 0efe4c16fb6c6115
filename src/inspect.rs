//! The page inspector: what one page of a file holds and in which state the kernel keeps it,
//! observed without changing it (or, when a read is asked for, measuring what it changed).
//!
//! Rules, each from a measurement on this kernel (docs/page-inspector.md):
//! * Bytes are read by the viewer through its **own open file description** (never through
//!   the worker's mapping: a truncated file must not SIGBUS the viewer), with
//!   `POSIX_FADV_RANDOM` on it, so a read that misses the cache reads only what was asked for
//!   instead of a readahead window. It is a separate description (reopened via
//!   `/proc/self/fd`), because fadvise modes and readahead state live on the description and
//!   the session's other users of the file (warm, evict) must keep theirs.
//! * Without an explicit request, bytes are read only when every page of the range is
//!   cached (cachestat/mincore of that range first). `preadv2(RWF_NOWAIT)` alone is not
//!   enough: on an uncached page it returns EAGAIN but still starts readahead.
//! * Even a read of a cached page can change the cache: a folio marked for readahead starts
//!   async readahead when read (FADV_RANDOM does not stop that path). So the cached pages of
//!   the surrounding window are counted before and after, and any change is reported.
//! * When the kernel hides the page-cache state (a file we neither own nor may write), the
//!   states are `None` and nothing is read unless asked for.

use crate::error::{AppError, Result};
use crate::kernel::fsinfo;
use crate::kernel::residency::CacheProbe;
use crate::kernel::sys;
use crate::kernel::target::Target;
use crate::session::snapshot::CacheSource;
use crate::units::{page_size, parse_size};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::{FileExt, OpenOptionsExt};

/// Default number of bytes shown (`--length`).
pub const DEFAULT_LENGTH: u64 = 16;
/// Largest `--length`: a dump is for reading, not for copying files.
pub const MAX_LENGTH: u64 = 1 << 20;
/// The window of pages counted around the inspected page is at least this many bytes on
/// each side.
const MIN_WINDOW_BYTES: u64 = 2 << 20;

/// What happened to the bytes of the inspected range.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadOutcome {
    /// Every page of the range was cached: read through our own descriptor (RWF_NOWAIT).
    #[default]
    ReadCached,
    /// Not read: a page of the range is not cached; reading would fault it in.
    NotCached,
    /// Not read: the kernel hides the cache state, so a read might fault pages in.
    Hidden,
    /// Read on request (`--read`, Enter) although not known to be cached.
    ReadRequested,
    /// The pages left the cache between the check and the read (RWF_NOWAIT gave EAGAIN).
    EvictedMeanwhile,
}

/// One inspection of the page holding `offset`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PageReport {
    pub offset: u64,
    /// Bytes asked for after clamping to the end of the file.
    pub length: u64,
    pub page_size: u64,
    pub page_index: u64,
    /// First and last byte of the page (the last page of a file may be partial).
    pub page_first_byte: u64,
    pub page_last_byte: u64,
    pub file_size: u64,
    pub source: CacheSource,
    pub cache_state_visible: bool,
    /// Why the state is hidden, or a filesystem caveat.
    pub cache_note: Option<String>,
    /// The page's states; `None` when the kernel hides them (or mincore cannot tell dirty).
    pub cached: Option<bool>,
    pub dirty: Option<bool>,
    pub writeback: Option<bool>,
    /// cachestat `nr_evicted`: a shadow entry says reclaim evicted this page earlier.
    pub evicted: Option<bool>,
    pub read: ReadOutcome,
    /// The bytes at `offset..offset+length` (JSON: hex string), `None` when not read.
    #[serde(rename = "bytes_hex", with = "hex_opt")]
    pub bytes: Option<Vec<u8>>,
    /// Pages `window_start_page..window_end_page` are counted before and after the read.
    pub window_start_page: u64,
    pub window_end_page: u64,
    pub window_cached_before: Option<u64>,
    pub window_cached_after: Option<u64>,
    /// Whether the cached pages of the window changed while we looked (our read, or another
    /// process at the same time); `None` when hidden.
    pub cache_changed: Option<bool>,
    /// `window_cached_after - window_cached_before` (negative: pages left the cache).
    pub pages_newly_cached: Option<i64>,
    pub page_cached_after: Option<bool>,
}

/// Hex (de)serialization of `Option<Vec<u8>>`: `"48656c6c6f"` or `null`.
mod hex_opt {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_str(&super::hex(b)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        match s {
            None => Ok(None),
            Some(s) => {
                if s.len() % 2 != 0 || !s.is_ascii() {
                    return Err(serde::de::Error::custom("odd or non-ASCII hex string"));
                }
                (0..s.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&s[i..i + 2], 16))
                    .collect::<Result<Vec<u8>, _>>()
                    .map(Some)
                    .map_err(serde::de::Error::custom)
            }
        }
    }
}

/// Lower-case hex, two digits per byte, no separators.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One row of a hex dump: the offset of its first byte, the hex column, the ASCII column
/// (printable ASCII as is, everything else as `.`). `hex` is padded to `per_row` bytes.
pub fn dump_rows(start: u64, bytes: &[u8], per_row: usize) -> Vec<(u64, String, String)> {
    let per_row = per_row.max(1);
    bytes
        .chunks(per_row)
        .enumerate()
        .map(|(i, chunk)| {
            let mut h: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
            h.resize(per_row, "  ".into());
            let a: String = chunk
                .iter()
                .map(|&b| {
                    if (0x20..0x7f).contains(&b) {
                        b as char
                    } else {
                        '.'
                    }
                })
                .collect();
            (start + (i * per_row) as u64, h.join(" "), a)
        })
        .collect()
}

/// Parses an offset or length: decimal with an optional size suffix (`4096`, `64KiB`, as in
/// [`parse_size`]) or `0x` hex (`0x3e8`).
pub fn parse_offset(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return u64::from_str_radix(h, 16)
            .map_err(|_| format!("'{s}' is not a hex number (expected e.g. 0x3e8)"));
    }
    if t.starts_with('-') {
        return Err(format!("'{s}' is negative"));
    }
    parse_size(t).map_err(|e| e.0)
}

/// Path text safe to print on a terminal: control characters (ESC, newline, ...) become
/// `\xNN` escapes, so a file name cannot move the cursor or change colours.
pub fn escape_path(p: &str) -> String {
    // One helper for every path shown as text (issue 12, defect 9).
    crate::text::escape_controls(p).into_owned()
}

/// Inspects pages of one file: its own read-only descriptor (FADV_RANDOM) for the bytes and
/// a [`CacheProbe`] (the residency module's visibility rules) for the states.
pub struct Inspector {
    probe: CacheProbe,
    reader: File,
    size: u64,
    page_size: u64,
    /// Pages counted on each side of the inspected page.
    window_pages: u64,
}

/// Opens a second, independent open file description of the same file (same inode even if
/// the path was renamed meanwhile): read-only, non-blocking open, close-on-exec.
fn reopen(t: &Target) -> io::Result<File> {
    let open = |p: &std::path::Path| {
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(p)
    };
    let via_proc = format!("/proc/self/fd/{}", t.file.as_raw_fd());
    open(std::path::Path::new(&via_proc)).or_else(|_| open(&t.path))
}

impl Inspector {
    pub fn open(t: &Target) -> io::Result<Inspector> {
        let reader = reopen(t)?;
        // No readahead on our reads: a miss reads what was asked for, not a window. (The
        // async readahead of a PG_readahead folio is not stopped by this; see the module doc.)
        sys::fadvise(reader.as_fd(), 0, 0, libc::POSIX_FADV_RANDOM)?;
        let probe = CacheProbe::new(&t.file, t.size, &t.fs)?;
        let ps = page_size();
        // Async readahead started by a read at page p starts at the first uncached page after
        // p (searched up to one readahead window) and reads up to one window: its pages lie
        // within p + 2 windows. Count that far on both sides, at least 2 MiB.
        let ra_pages = fsinfo::read_ahead_kb(&t.file).map_or(0, |kb| kb * 1024 / ps);
        let window_pages = (2 * ra_pages).max(MIN_WINDOW_BYTES / ps);
        Ok(Inspector {
            probe,
            reader,
            size: t.size,
            page_size: ps,
            window_pages,
        })
    }

    pub fn size(&self) -> u64 {
        self.size
    }
    pub fn set_size(&mut self, size: u64) {
        self.size = size;
        self.probe.set_size(size);
    }
    pub fn visible(&self) -> bool {
        self.probe.visible()
    }

    /// Checks `offset` and `length` against the file: a one-line error (exit 2) for an
    /// offset past the end; the length is clamped to the end of the file.
    pub fn check(&self, offset: u64, length: u64) -> Result<u64> {
        if offset >= self.size {
            return Err(AppError::usage(format!(
                "offset {offset} is past the end of the file ({} bytes{})",
                self.size,
                if self.size == 0 {
                    ", it is empty".to_string()
                } else {
                    format!("; the last offset is {}", self.size - 1)
                }
            )));
        }
        if length > MAX_LENGTH {
            return Err(AppError::usage(format!(
                "--length {length} is larger than {MAX_LENGTH} bytes (1 MiB)"
            )));
        }
        Ok(length.min(self.size - offset))
    }

    /// Inspects the page holding `offset` and the bytes `offset..offset+length`. Reads them
    /// only when all their pages are cached, unless `read` asks for it anyway.
    pub fn inspect(&mut self, offset: u64, length: u64, read: bool) -> Result<PageReport> {
        let length = self.check(offset, length)?;
        self.inspect_checked(offset, length, read)
            .map_err(|e| AppError::runtime(crate::error::io_reason(&e)))
    }

    fn inspect_checked(&mut self, offset: u64, length: u64, read: bool) -> io::Result<PageReport> {
        let ps = self.page_size;
        let pages = self.probe.pages();
        let page = offset / ps;
        let w_start = page.saturating_sub(self.window_pages);
        let w_end = (page + 1 + self.window_pages).min(pages);
        let before = self.probe.range(w_start, w_end)?.map(|r| r.cached);
        let st = self.probe.range(page, page + 1)?;
        let (first, last) = (page, (offset + length.max(1) - 1) / ps);
        let all_cached = self
            .probe
            .range(first, last + 1)?
            .map(|r| r.cached == last + 1 - first);

        let mut buf = vec![0u8; length as usize];
        let (outcome, bytes) = match (all_cached, read) {
            (Some(true), _) => match self.read_nowait(&mut buf, offset) {
                Ok(n) if n > 0 => {
                    buf.truncate(n);
                    (ReadOutcome::ReadCached, Some(buf))
                }
                Ok(_) => (ReadOutcome::EvictedMeanwhile, None),
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
                    (ReadOutcome::EvictedMeanwhile, None)
                }
                Err(e) => return Err(e),
            },
            (_, true) => {
                let n = self.read_all(&mut buf, offset)?;
                buf.truncate(n);
                (ReadOutcome::ReadRequested, Some(buf))
            }
            (Some(false), false) => (ReadOutcome::NotCached, None),
            (None, false) => (ReadOutcome::Hidden, None),
        };

        let after = self.probe.range(w_start, w_end)?.map(|r| r.cached);
        let page_after = self.probe.range(page, page + 1)?.map(|r| r.cached > 0);
        let changed = before.zip(after).map(|(b, a)| b != a);
        Ok(PageReport {
            offset,
            length,
            page_size: ps,
            page_index: page,
            page_first_byte: page * ps,
            page_last_byte: ((page + 1) * ps).min(self.size) - 1,
            file_size: self.size,
            source: self.probe.source(),
            cache_state_visible: self.probe.visible(),
            cache_note: self.probe.note().map(str::to_string),
            cached: st.map(|r| r.cached > 0),
            dirty: st.and_then(|r| r.dirty).map(|d| d > 0),
            writeback: st.and_then(|r| r.writeback).map(|d| d > 0),
            evicted: st.and_then(|r| r.evicted).map(|d| d > 0),
            read: outcome,
            bytes,
            window_start_page: w_start,
            window_end_page: w_end,
            window_cached_before: before,
            window_cached_after: after,
            cache_changed: changed,
            pages_newly_cached: before.zip(after).map(|(b, a)| a as i64 - b as i64),
            page_cached_after: page_after,
        })
    }

    /// The page's states now, without reading anything (the live panel refreshes these per
    /// tick): (cached, dirty, writeback), each `None` when unknown.
    pub fn states(&mut self, page: u64) -> io::Result<(Option<bool>, Option<bool>, Option<bool>)> {
        let st = self.probe.range(page, page + 1)?;
        Ok((
            st.map(|r| r.cached > 0),
            st.and_then(|r| r.dirty).map(|d| d > 0),
            st.and_then(|r| r.writeback).map(|d| d > 0),
        ))
    }

    fn read_nowait(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        sys::pread_nowait(self.reader.as_fd(), buf, offset)
    }

    fn read_all(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            match self.reader.read_at(&mut buf[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }
}

/// The live view's inspector, owned by the session thread (so the render path does no I/O):
/// `Command::Inspect` points it at a page, every sample refreshes that page's states, and
/// the bytes are read as soon as the page is cached (never before, unless asked).
#[derive(Default)]
pub struct SessionInspector {
    inspector: Option<Inspector>,
    page: Option<u64>,
    /// A typed offset inside `page` (the bytes shown start there), else the page's start.
    offset: Option<u64>,
    report: Option<PageReport>,
}

impl SessionInspector {
    /// Inspects `page` (its first 16 bytes); `None` stops inspecting. `read` reads the page
    /// even when it is not cached. Returns a line for the message bar when it failed.
    pub fn request(&mut self, t: &Target, page: Option<u64>, read: bool) -> Option<String> {
        if page != self.page {
            self.offset = None;
        }
        self.page = page;
        let Some(page) = page else {
            self.report = None;
            return None;
        };
        self.run(t, page, read).err()
    }

    /// Inspects the bytes at `offset` (never reading an uncached page: the panel says so and
    /// Enter reads it). Returns a line for the message bar when it failed.
    pub fn request_offset(&mut self, t: &Target, offset: u64) -> Option<String> {
        if offset >= t.size {
            return Some(format!(
                "offset {offset} is past the end of the file ({} bytes)",
                t.size
            ));
        }
        let ps = crate::units::page_size();
        self.page = Some(offset / ps);
        self.offset = Some(offset);
        self.run(t, offset / ps, false).err()
    }

    fn run(&mut self, t: &Target, page: u64, read: bool) -> std::result::Result<(), String> {
        if self.inspector.is_none() {
            self.inspector = Some(Inspector::open(t).map_err(|e| format!("inspector: {e}"))?);
        }
        let ins = self.inspector.as_mut().expect("opened above");
        if ins.size() != t.size {
            ins.set_size(t.size);
        }
        let at = self
            .offset
            .filter(|o| o / ins.page_size == page)
            .unwrap_or(page * ins.page_size);
        match ins.inspect(at, DEFAULT_LENGTH, read) {
            Ok(r) => {
                self.report = Some(r);
                Ok(())
            }
            Err(e) => {
                self.report = None;
                Err(format!("inspect page {page}: {e}"))
            }
        }
    }

    /// Per sample: the inspected page's states now; the bytes once it is cached. Returns the
    /// report for the snapshot.
    pub fn tick(&mut self, t: &Target) -> Option<PageReport> {
        let (Some(page), Some(ins)) = (self.page, self.inspector.as_mut()) else {
            return None;
        };
        if let Some(r) = self.report.as_mut() {
            if let Ok((cached, dirty, writeback)) = ins.states(page) {
                r.cached = cached;
                r.dirty = dirty;
                r.writeback = writeback;
            }
            // Became cached (the worker touched it, readahead): reading is harmless now.
            if r.bytes.is_none() && r.cached == Some(true) {
                let _ = self.run(t, page, false);
            }
        }
        self.report.clone()
    }

    /// The latest report, without sampling.
    pub fn current(&self) -> Option<PageReport> {
        self.report.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_parse() {
        assert_eq!(parse_offset("1000"), Ok(1000));
        assert_eq!(parse_offset("0x3e8"), Ok(1000));
        assert_eq!(parse_offset("0X3E8"), Ok(1000));
        assert_eq!(parse_offset("4KiB"), Ok(4096));
        assert_eq!(parse_offset("1M"), Ok(1 << 20));
        for bad in ["-1", "abc", "0x", "0xzz", "", "1.5.2", "12XB"] {
            assert!(parse_offset(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dump_rows_pad_and_escape() {
        let r = dump_rows(0x3e8, b"Hi\x00\x1bthere!", 4);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0], (0x3e8, "48 69 00 1b".into(), "Hi..".into()));
        assert_eq!(r[1].2, "ther");
        assert_eq!(r[2], (0x3f0, "65 21      ".into(), "e!".into()));
        assert_eq!(hex(b"\x00\xff"), "00ff");
    }

    #[test]
    fn paths_lose_control_characters() {
        assert_eq!(escape_path("a\x1b[31mb\nc"), "a\\x1b[31mb\\x0ac");
        assert_eq!(escape_path("café.bin"), "café.bin");
    }

    #[test]
    fn hex_json_round_trips() {
        let r = PageReport {
            bytes: Some(vec![1, 0xab]),
            ..PageReport::default()
        };
        let j = serde_json::to_value(&r).unwrap();
        assert_eq!(j["bytes_hex"], "01ab");
        let back: PageReport = serde_json::from_value(j).unwrap();
        assert_eq!(back, r);
        let none = serde_json::to_value(PageReport::default()).unwrap();
        assert!(none["bytes_hex"].is_null());
    }
}
