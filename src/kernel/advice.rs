//! madvise hints the worker can apply to its mapping while a pattern runs.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// An `madvise(2)` hint for the whole mapping.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Advice {
    /// `MADV_NORMAL`: default readahead (the backing device's `read_ahead_kb`, adaptive).
    #[default]
    Normal,
    /// `MADV_RANDOM`: no readahead, one page per major fault (fault-around still maps cached neighbours).
    Random,
    /// `MADV_SEQUENTIAL`: aggressive readahead, pages behind may be dropped sooner.
    Sequential,
    /// `MADV_WILLNEED`: start reading the whole mapping now (asynchronous).
    Willneed,
    /// `MADV_HUGEPAGE`: allow transparent huge pages for the mapping. Measured on Linux 6.18
    /// ext4 (THP `madvise`): faults that read a cold file then read 2 MiB folios, each
    /// PMD-mapped (one TLB entry per 2 MiB: 64 MiB in 32 faults); cached 2 MiB folios are
    /// PMD-mapped with or without it, cached small folios never. Not in the `a` cycle:
    /// madvise cannot clear it (only `MADV_NOHUGEPAGE` replaces it), so it is a start option.
    Hugepage,
}

impl Advice {
    pub const ALL: [Advice; 4] = [
        Advice::Normal,
        Advice::Random,
        Advice::Sequential,
        Advice::Willneed,
    ];

    /// Every advice a user may name (`ALL` plus the start-only `hugepage`).
    pub const NAMED: [Advice; 5] = [
        Advice::Normal,
        Advice::Random,
        Advice::Sequential,
        Advice::Willneed,
        Advice::Hugepage,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Advice::Normal => "normal",
            Advice::Random => "random",
            Advice::Sequential => "sequential",
            Advice::Willneed => "willneed",
            Advice::Hugepage => "hugepage",
        }
    }

    /// The next advice in the cycle used by the `a` key.
    pub fn next(self) -> Advice {
        if self == Advice::Hugepage {
            return Advice::Normal;
        }
        let i = Advice::ALL.iter().position(|a| *a == self).unwrap_or(0);
        Advice::ALL[(i + 1) % Advice::ALL.len()]
    }

    /// The `madvise` constant.
    pub fn to_libc(self) -> libc::c_int {
        match self {
            Advice::Normal => libc::MADV_NORMAL,
            Advice::Random => libc::MADV_RANDOM,
            Advice::Sequential => libc::MADV_SEQUENTIAL,
            Advice::Willneed => libc::MADV_WILLNEED,
            Advice::Hugepage => libc::MADV_HUGEPAGE,
        }
    }
}

impl fmt::Display for Advice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Advice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Advice::NAMED
            .iter()
            .copied()
            .find(|a| a.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("unknown advice '{s}' (normal, random, sequential, willneed, hugepage)")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advice_cycles_and_parses() {
        let mut a = Advice::Normal;
        for _ in 0..4 {
            let n = a.next();
            assert_ne!(n, a);
            assert_eq!(n.name().parse::<Advice>(), Ok(n));
            a = n;
        }
        assert_eq!(a, Advice::Normal);
        assert!("bogus".parse::<Advice>().is_err());
        assert_eq!("hugepage".parse::<Advice>(), Ok(Advice::Hugepage));
        assert_eq!(Advice::Hugepage.next(), Advice::Normal);
        assert!(!Advice::ALL.contains(&Advice::Hugepage));
    }
}
