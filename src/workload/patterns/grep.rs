//! `grep`: a regex search over the file, the article's example of a real program reading a
//! mapping. It is not an offset iterator: the regex engine decides how far it reads.
//!
//! The search runs over *blocks* of whole lines: a block starts where the previous one ended
//! and ends at the first newline at or after [`BLOCK_MIN`] bytes (or at the end of the file).
//! Every way of reading the file (the worker's mapping, `read()` in the benchmark, the tests'
//! plain read) cuts the same blocks, so all find exactly the same matches; a match cannot span
//! two blocks (it can span lines inside one, like `regex::bytes` on the whole text would).
//! With `--max-matches N` the search stops inside the block where the N-th match ends, so only
//! the pages up to there (plus the newline look-ahead that ends the block) were read.

use regex::bytes::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};
use std::io::{self, Read};

/// The live view's regex when none was given (`8` without `--regex`): a run of six or more
/// ASCII letters, which matches on most lines of a text file and now and then in random bytes.
pub const DEFAULT_REGEX: &str = "[[:alpha:]]{6,}";

/// The smallest block the regex is run over (a block ends at the next newline after it).
pub const BLOCK_MIN: usize = 64 << 10;
/// Matches whose offset, line number and line are kept.
pub const FIRST_MATCHES: usize = 10;
/// Longest line text kept per match (bytes, before lossy UTF-8 conversion).
pub const LINE_MAX: usize = 200;

/// One of the first matches: byte offset of the match, 1-based line number, the line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrepMatch {
    pub offset: u64,
    pub line_number: u64,
    pub line: String,
}

/// Compiles a user's regex (bytes API; `^`/`$` match at line ends) into a one-line error.
pub fn compile(re: &str) -> Result<Regex, String> {
    RegexBuilder::new(re).multi_line(true).build().map_err(|e| {
        let msg = e.to_string();
        // regex's errors span several lines (the pattern with a caret); keep the reason.
        let last = msg.lines().last().unwrap_or("invalid").trim().to_string();
        format!("--regex '{re}' is not a valid regex: {last}")
    })
}

/// Where the block at the start of `data` ends (exclusive), or None when `data` holds no
/// complete block yet (more bytes are needed; never at the end of the file).
pub fn block_end(data: &[u8], eof: bool) -> Option<usize> {
    if data.is_empty() {
        return None;
    }
    let from = BLOCK_MIN - 1;
    if data.len() > from {
        if let Some(i) = memchr::memchr(b'\n', &data[from..]) {
            return Some(from + i + 1);
        }
    }
    eof.then_some(data.len())
}

/// The state of one search: counts, the first matches, and where it is in the file.
#[derive(Clone, Debug)]
pub struct Grep {
    re: Regex,
    max: Option<u64>,
    pub matches: u64,
    pub first: Vec<GrepMatch>,
    /// Newlines before `pos` (kept only while first matches are still collected).
    lines_before: u64,
    /// File offset of the next block.
    pub pos: u64,
    /// The search ended (end of file or `max` matches).
    pub done: bool,
    /// Where the regex stopped reading: the end of the last block, or of the N-th match.
    pub stopped_at: u64,
}

impl Grep {
    pub fn new(re: Regex, max_matches: Option<u64>) -> Grep {
        Grep {
            re,
            max: max_matches,
            matches: 0,
            first: Vec::new(),
            lines_before: 0,
            pos: 0,
            done: max_matches == Some(0),
            stopped_at: 0,
        }
    }

    /// Searches one block of whole lines that starts at file offset `self.pos`.
    pub fn search_block(&mut self, block: &[u8]) {
        let base = self.pos;
        // Offset inside the block up to which newlines are counted into lines_before.
        let mut counted = 0usize;
        let mut counting = self.first.len() < FIRST_MATCHES;
        for m in self.re.find_iter(block) {
            self.matches += 1;
            if counting {
                let s = m.start();
                self.lines_before += memchr::memchr_iter(b'\n', &block[counted..s]).count() as u64;
                counted = s;
                let ls = memchr::memrchr(b'\n', &block[..s]).map_or(0, |i| i + 1);
                let le = memchr::memchr(b'\n', &block[s..]).map_or(block.len(), |i| s + i);
                let text = &block[ls..le.min(ls + LINE_MAX)];
                self.first.push(GrepMatch {
                    offset: base + s as u64,
                    line_number: self.lines_before + 1,
                    line: String::from_utf8_lossy(text).into_owned(),
                });
                counting = self.first.len() < FIRST_MATCHES;
            }
            if self.max.is_some_and(|n| self.matches >= n) {
                self.done = true;
                self.stopped_at = base + m.end() as u64;
                self.pos = base + block.len() as u64;
                return;
            }
        }
        if counting {
            self.lines_before += memchr::memchr_iter(b'\n', &block[counted..]).count() as u64;
        }
        self.pos = base + block.len() as u64;
        self.stopped_at = self.pos;
    }

    /// Searches `data` (the whole file, e.g. a mapping) from `self.pos` block by block until
    /// at least `budget` more bytes were searched or the search ended; returns the bytes of
    /// the blocks searched.
    pub fn run_over(&mut self, data: &[u8], budget: u64) -> u64 {
        let start = self.pos;
        while !self.done && self.pos - start < budget.max(1) {
            let rest = &data[(self.pos as usize).min(data.len())..];
            match block_end(rest, true) {
                Some(end) => self.search_block(&rest[..end]),
                None => self.done = true,
            }
            if self.pos as usize >= data.len() {
                self.done = true;
            }
        }
        self.pos - start
    }

    /// The same search through `read()` of `chunk`-byte pieces (the benchmark's read side,
    /// and the tests' independent reference). Returns the read() calls made.
    pub fn run_reader(&mut self, mut r: impl Read, chunk: usize) -> io::Result<(u64, u64)> {
        let mut buf: Vec<u8> = Vec::with_capacity(chunk.max(1) + BLOCK_MIN);
        let (mut calls, mut total) = (0u64, 0u64);
        let mut eof = false;
        while !self.done {
            let old = buf.len();
            buf.resize(old + chunk.max(1), 0);
            calls += 1;
            let n = loop {
                match r.read(&mut buf[old..]) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    res => break res?,
                }
            };
            buf.truncate(old + n);
            total += n as u64;
            eof |= n == 0;
            let mut start = 0;
            while !self.done {
                match block_end(&buf[start..], eof) {
                    Some(end) => {
                        self.search_block(&buf[start..start + end]);
                        start += end;
                    }
                    None => break,
                }
            }
            buf.drain(..start);
            if eof {
                self.done = true;
            }
        }
        Ok((calls, total))
    }

    /// A value equal for equal searches (the benchmark checks every method found the same).
    pub fn checksum(&self) -> u64 {
        self.first.iter().fold(self.matches, |h, m| {
            super::rng::mix64(h ^ m.offset) ^ m.line_number
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(lines: usize) -> Vec<u8> {
        let mut v = Vec::new();
        for i in 0..lines {
            v.extend_from_slice(
                format!("line {i} {}\n", if i % 7 == 3 { "needle" } else { "hay" }).as_bytes(),
            );
        }
        v
    }

    #[test]
    fn block_ends_at_the_newline_after_block_min() {
        let t = text(20_000);
        let e = block_end(&t, false).unwrap();
        assert!(e >= BLOCK_MIN && t[e - 1] == b'\n');
        assert!(!t[BLOCK_MIN - 1..e - 1].contains(&b'\n'));
        assert_eq!(block_end(&t[..100], false), None);
        assert_eq!(block_end(&t[..100], true), Some(100));
        assert_eq!(block_end(b"", true), None);
        let no_nl = vec![b'x'; BLOCK_MIN * 2];
        assert_eq!(block_end(&no_nl, false), None);
        assert_eq!(block_end(&no_nl, true), Some(no_nl.len()));
    }

    #[test]
    fn mapping_and_read_find_the_same_matches() {
        let t = text(50_000);
        let want_lines: Vec<u64> = (0..50_000u64)
            .filter(|i| i % 7 == 3)
            .map(|i| i + 1)
            .collect();
        // (max matches, read chunk)
        for &(max, chunk) in &[
            (None, 4096),
            (None, 1 << 20),
            (Some(3), 100),
            (Some(5000), 65536),
        ] {
            let mut a = Grep::new(compile("needle").unwrap(), max);
            a.run_over(&t, u64::MAX);
            let mut b = Grep::new(compile("needle").unwrap(), max);
            b.run_reader(&t[..], chunk).unwrap();
            let n = max
                .unwrap_or(want_lines.len() as u64)
                .min(want_lines.len() as u64);
            assert_eq!(a.matches, n);
            assert_eq!((a.matches, &a.first), (b.matches, &b.first));
            let got: Vec<u64> = a.first.iter().map(|m| m.line_number).collect();
            assert_eq!(got, want_lines[..got.len()]);
            assert_eq!(a.first.len(), FIRST_MATCHES.min(n as usize));
            let m = &a.first[0];
            assert_eq!(m.line, "line 3 needle");
            assert_eq!(&t[m.offset as usize..m.offset as usize + 6], b"needle");
            assert_eq!(a.checksum(), b.checksum());
        }
    }

    #[test]
    fn max_matches_stops_early() {
        let t = text(50_000);
        let mut g = Grep::new(compile("needle").unwrap(), Some(2));
        g.run_over(&t, u64::MAX);
        assert!(g.done);
        assert_eq!(g.matches, 2);
        // Line 11 (index 10) holds the second needle; the regex stopped right after it.
        assert_eq!(g.first[1].line_number, 11);
        assert_eq!(g.stopped_at, g.first[1].offset + 6);
        assert!(g.pos <= (BLOCK_MIN + 100) as u64, "searched one block only");
        let mut z = Grep::new(compile("needle").unwrap(), Some(0));
        z.run_over(&t, u64::MAX);
        assert_eq!((z.matches, z.pos), (0, 0));
    }

    #[test]
    fn budget_advances_block_by_block_and_bad_regex_is_one_line() {
        let t = text(50_000);
        let mut g = Grep::new(compile("hay$").unwrap(), None);
        let n = g.run_over(&t, 1);
        assert!(n as usize >= BLOCK_MIN && n < 2 * BLOCK_MIN as u64);
        while !g.done {
            g.run_over(&t, 4096);
        }
        assert_eq!(g.pos, t.len() as u64);
        assert_eq!(g.matches, 50_000 - 50_000 / 7 - 1);
        let e = compile("(unclosed").unwrap_err();
        assert!(
            e.starts_with("--regex '(unclosed' is not a valid regex") && !e.contains('\n'),
            "{e}"
        );
    }
}
