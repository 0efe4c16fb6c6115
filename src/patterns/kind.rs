//! The pattern names, their TUI keys and parsing.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The access patterns, in key order (`1`..`7` in the TUI).
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

    pub fn name(self) -> &'static str {
        match self {
            PatternKind::Sequential => "sequential",
            PatternKind::Reverse => "reverse",
            PatternKind::Stride => "stride",
            PatternKind::Random => "random",
            PatternKind::Hotset => "hotset",
            PatternKind::Chase => "chase",
            PatternKind::Scan => "scan",
        }
    }

    /// The TUI key that selects this pattern (`'1'`..`'7'`).
    pub fn key(self) -> char {
        let i = PatternKind::ALL
            .iter()
            .position(|k| *k == self)
            .unwrap_or(0);
        // ALL has 7 entries, so the digit is always '1'..='7'.
        char::from(b'1' + i as u8)
    }

    pub fn from_key(c: char) -> Option<PatternKind> {
        let d = c.to_digit(10)? as usize;
        d.checked_sub(1)
            .and_then(|i| PatternKind::ALL.get(i))
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
        PatternKind::ALL
            .iter()
            .copied()
            .find(|k| k.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!(
                    "unknown pattern '{s}' (sequential, reverse, stride, random, hotset, chase, scan)"
                )
            })
    }
}
