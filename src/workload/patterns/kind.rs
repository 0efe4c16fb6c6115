//! The pattern names, their TUI keys and parsing.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The access patterns: the seven offset patterns in key order (`1`..`7` in the TUI), then the
/// two searches of real programs (grep, bsearch).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PatternKind {
    #[default]
    Sequential,
    Reverse,
    Stride,
    Random,
    Hotset,
    Chase,
    Scan,
    /// A regex search over the mapping, in chunks of whole lines (see `grep.rs`): not an
    /// offset iterator; the worker runs it in its own access mode.
    Grep,
    /// Lookups by binary search in a file of sorted fixed-size records (see `bsearch.rs`).
    Bsearch,
}

impl PatternKind {
    /// All patterns, in TUI key order (`1`..`7`).
    pub const ALL: [PatternKind; 7] = [
        PatternKind::Sequential,
        PatternKind::Reverse,
        PatternKind::Stride,
        PatternKind::Random,
        PatternKind::Hotset,
        PatternKind::Chase,
        PatternKind::Scan,
    ];

    /// Every pattern: [`ALL`](Self::ALL), then the searches (`8` grep, `9` bsearch in the TUI).
    pub const EVERY: [PatternKind; 9] = [
        PatternKind::Sequential,
        PatternKind::Reverse,
        PatternKind::Stride,
        PatternKind::Random,
        PatternKind::Hotset,
        PatternKind::Chase,
        PatternKind::Scan,
        PatternKind::Grep,
        PatternKind::Bsearch,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PatternKind::Sequential => "sequential",
            PatternKind::Reverse => "reverse",
            PatternKind::Stride => "stride",
            PatternKind::Random => "random",
            PatternKind::Hotset => "hotset",
            PatternKind::Chase => "chase",
            PatternKind::Scan => "scan",
            PatternKind::Grep => "grep",
            PatternKind::Bsearch => "bsearch",
        }
    }

    /// The TUI key that selects this pattern: `'1'`..`'7'` the offset patterns, `'8'` grep
    /// (the `--regex`, or [`crate::workload::patterns::grep::DEFAULT_REGEX`]), `'9'` bsearch.
    pub fn key(self) -> Option<char> {
        let i = PatternKind::EVERY.iter().position(|k| *k == self)?;
        // EVERY has 9 entries, so the digit is always '1'..='9'.
        Some(char::from(b'1' + i as u8))
    }

    pub fn from_key(c: char) -> Option<PatternKind> {
        let d = c.to_digit(10)? as usize;
        d.checked_sub(1)
            .and_then(|i| PatternKind::EVERY.get(i))
            .copied()
    }

    /// Whether one pass touches every page exactly once (so progress is "pages done").
    pub fn is_streaming(self) -> bool {
        matches!(
            self,
            PatternKind::Sequential
                | PatternKind::Reverse
                | PatternKind::Stride
                | PatternKind::Scan
                | PatternKind::Grep
        )
    }
}

impl fmt::Display for PatternKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PatternKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PatternKind::EVERY
            .iter()
            .copied()
            .find(|k| k.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!(
                    "unknown pattern '{s}' (sequential, reverse, stride, random, hotset, chase, scan, grep, bsearch)"
                )
            })
    }
}
