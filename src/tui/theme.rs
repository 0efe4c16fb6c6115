//! The one theme: every colour, modifier and grid glyph the screen uses.
//!
//! `NO_COLOR` (present and non-empty, see <https://no-color.org>) selects [`MONO`]: no
//! colours at all, only modifiers. Page states stay distinguishable because each state has
//! its own glyph; colour only reinforces it.

use crate::snapshot::CellCounts;
use ratatui::style::{Color, Modifier, Style};

/// Styles for every element on screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Theme {
    pub title: Style,
    pub border: Style,
    pub label: Style,
    pub value: Style,
    pub dim: Style,
    pub key: Style,
    pub warn: Style,
    pub error: Style,
    pub good: Style,
    pub message: Style,
    pub selected: Style,
    pub spark_minor: Style,
    pub spark_major: Style,
    pub bar: Style,
    pub gauge: Style,
    pub overlay: Style,
    /// Grid cell styles, one per [`CellState`].
    pub mapped: Style,
    pub partly: Style,
    pub cached: Style,
    pub ghost: Style,
    pub uncached: Style,
    pub private: Style,
    pub front: Style,
    pub hidden: Style,
}

const fn fg(c: Color) -> Style {
    Style::new().fg(c)
}

/// Colours chosen for a projector: saturated, readable on dark and light backgrounds.
pub const COLOR: Theme = Theme {
    title: Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
    border: fg(Color::DarkGray),
    label: fg(Color::Gray),
    value: Style::new().fg(Color::White).add_modifier(Modifier::BOLD),
    dim: fg(Color::DarkGray),
    key: Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
    warn: Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
    error: Style::new()
        .fg(Color::White)
        .bg(Color::Red)
        .add_modifier(Modifier::BOLD),
    good: fg(Color::Green),
    message: Style::new().fg(Color::Black).bg(Color::Yellow),
    selected: Style::new().add_modifier(Modifier::REVERSED),
    spark_minor: fg(Color::Cyan),
    spark_major: fg(Color::LightRed),
    bar: fg(Color::Cyan),
    gauge: Style::new().fg(Color::Cyan).bg(Color::Black),
    overlay: Style::new().fg(Color::White).bg(Color::Black),
    mapped: fg(Color::LightGreen),
    partly: fg(Color::Green),
    cached: fg(Color::LightBlue),
    ghost: fg(Color::Magenta),
    uncached: fg(Color::DarkGray),
    private: Style::new()
        .fg(Color::LightYellow)
        .add_modifier(Modifier::BOLD),
    front: Style::new()
        .fg(Color::LightRed)
        .add_modifier(Modifier::BOLD),
    hidden: fg(Color::DarkGray),
};

/// No colours (for `NO_COLOR`): modifiers and glyphs only.
pub const MONO: Theme = Theme {
    title: Style::new().add_modifier(Modifier::BOLD),
    border: Style::new(),
    label: Style::new(),
    value: Style::new().add_modifier(Modifier::BOLD),
    dim: Style::new().add_modifier(Modifier::DIM),
    key: Style::new().add_modifier(Modifier::BOLD),
    warn: Style::new().add_modifier(Modifier::BOLD),
    error: Style::new().add_modifier(Modifier::BOLD.union(Modifier::REVERSED)),
    good: Style::new(),
    message: Style::new().add_modifier(Modifier::REVERSED),
    selected: Style::new().add_modifier(Modifier::REVERSED),
    spark_minor: Style::new(),
    spark_major: Style::new().add_modifier(Modifier::BOLD),
    bar: Style::new(),
    gauge: Style::new(),
    overlay: Style::new(),
    mapped: Style::new(),
    partly: Style::new(),
    cached: Style::new(),
    ghost: Style::new(),
    uncached: Style::new().add_modifier(Modifier::DIM),
    private: Style::new().add_modifier(Modifier::BOLD),
    front: Style::new().add_modifier(Modifier::BOLD),
    hidden: Style::new().add_modifier(Modifier::DIM),
};

impl Theme {
    /// [`MONO`] when `NO_COLOR` is set to a non-empty value, else [`COLOR`].
    pub fn from_env() -> &'static Theme {
        Self::for_no_color(std::env::var_os("NO_COLOR").as_deref())
    }

    /// The theme for a given `NO_COLOR` value (testable without touching the environment).
    pub fn for_no_color(no_color: Option<&std::ffi::OsStr>) -> &'static Theme {
        match no_color {
            Some(v) if !v.is_empty() => &MONO,
            _ => &COLOR,
        }
    }

    /// The style of a grid cell in this state.
    pub fn cell(&self, state: CellState) -> Style {
        match state {
            CellState::Empty => Style::new(),
            CellState::NotCached => self.uncached,
            CellState::Ghost => self.ghost,
            CellState::CachedTouched => self.cached,
            CellState::PartlyMapped => self.partly,
            CellState::Mapped => self.mapped,
            CellState::Private => self.private,
            CellState::Front => self.front,
            CellState::Hidden => self.hidden,
            CellState::PastEnd => self.error,
            CellState::Unsampled => self.hidden,
        }
    }
}

/// What one grid cell shows: the most telling state among its pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CellState {
    /// No pages (past the end of the file).
    Empty,
    /// None of its pages is in the page cache: the next touch is a major fault.
    NotCached,
    /// Cached but mostly never touched: brought in by readahead (or warm), not by the workload.
    Ghost,
    /// Cached, touched earlier, not mapped now: the next touch is a minor fault.
    CachedTouched,
    /// Some pages mapped in the worker's page table.
    PartlyMapped,
    /// Every page mapped.
    Mapped,
    /// Some pages are private (copy-on-write) copies.
    Private,
    /// Accessed in the latest batches: the moving front of the workload.
    Front,
    /// The kernel hides the page-cache state and nothing is mapped here.
    Hidden,
    /// Past the file's new end after it shrank under the mapping: touching it raises SIGBUS.
    PastEnd,
    /// Not sampled yet since the view changed (a huge page cache is sampled over frames).
    Unsampled,
}

impl CellState {
    /// Every state, in legend order.
    pub const ALL: [CellState; 11] = [
        CellState::Front,
        CellState::Mapped,
        CellState::PartlyMapped,
        CellState::CachedTouched,
        CellState::Ghost,
        CellState::NotCached,
        CellState::Private,
        CellState::Hidden,
        CellState::PastEnd,
        CellState::Unsampled,
        CellState::Empty,
    ];

    /// The glyph: distinct per state, so the grid reads without colour (NO_COLOR).
    /// Density rises with "closer to the CPU": · not cached, ░ ▒ cached, ▓ █ mapped.
    pub fn glyph(self) -> char {
        match self {
            CellState::Empty => ' ',
            CellState::NotCached => '·',
            CellState::Ghost => '░',
            CellState::CachedTouched => '▒',
            CellState::PartlyMapped => '▓',
            CellState::Mapped => '█',
            CellState::Private => 'P',
            CellState::Front => '●',
            CellState::Hidden => '?',
            CellState::PastEnd => '×',
            CellState::Unsampled => '╌',
        }
    }

    /// Legend text.
    pub fn label(self) -> &'static str {
        match self {
            CellState::Empty => "past end of file",
            CellState::NotCached => "not cached",
            CellState::Ghost => "read ahead, untouched",
            CellState::CachedTouched => "cached, not mapped",
            CellState::PartlyMapped => "partly mapped",
            CellState::Mapped => "mapped",
            CellState::Private => "private copy",
            CellState::Front => "just touched",
            CellState::Hidden => "cache state hidden",
            CellState::PastEnd => "past the new end (touch = SIGBUS)",
            CellState::Unsampled => "not sampled yet",
        }
    }

    /// Classifies a cell. The front wins (it is what moves), then private copies, then the
    /// mapped share; otherwise the page-cache share, and `Hidden` when the kernel hides it.
    /// Never guesses: with the cache hidden, an unmapped cell is `Hidden`, not "not cached".
    pub fn of(c: &CellCounts) -> CellState {
        if c.pages == 0 {
            return CellState::Empty;
        }
        if c.recent > 0 {
            return CellState::Front;
        }
        if c.private.unwrap_or(0) > 0 {
            return CellState::Private;
        }
        let mapped = c.mapped.unwrap_or(0);
        if mapped >= c.pages {
            return CellState::Mapped;
        }
        if mapped > 0 {
            return CellState::PartlyMapped;
        }
        match c.cached {
            None => CellState::Hidden,
            Some(0) => CellState::NotCached,
            Some(cached) => {
                // Ghosts = pages the kernel brought in during this interval that were never
                // touched (pages cached before it began are not ghosts); a cell that is mostly
                // ghosts shows readahead at work.
                let ghosts = c.ghosts().unwrap_or(0);
                if ghosts * 2 >= cached {
                    CellState::Ghost
                } else {
                    CellState::CachedTouched
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::ffi::OsStr;

    fn cell(pages: u64, cached: Option<u64>, mapped: Option<u64>, touched: u64) -> CellCounts {
        CellCounts {
            pages,
            cached,
            mapped,
            private: mapped.map(|_| 0),
            touched,
            ..CellCounts::default()
        }
    }

    #[test]
    fn every_state_has_its_own_glyph() {
        let glyphs: HashSet<char> = CellState::ALL.iter().map(|s| s.glyph()).collect();
        assert_eq!(glyphs.len(), CellState::ALL.len());
    }

    #[test]
    fn cells_classify_by_their_mix() {
        let table = [
            (cell(0, Some(0), Some(0), 0), CellState::Empty),
            (cell(64, Some(0), Some(0), 0), CellState::NotCached),
            (cell(64, Some(64), Some(0), 0), CellState::Ghost),
            (cell(64, Some(64), Some(0), 64), CellState::CachedTouched),
            (cell(64, Some(64), Some(10), 10), CellState::PartlyMapped),
            (cell(64, Some(64), Some(64), 64), CellState::Mapped),
            (cell(64, None, Some(0), 0), CellState::Hidden),
            (cell(64, None, None, 0), CellState::Hidden),
            // Mapped state comes from our pagemap, not the page cache: still shown when
            // the cache is hidden.
            (cell(64, None, Some(64), 64), CellState::Mapped),
            // Cached known, no worker (mapped unknown): cache state only.
            (cell(64, Some(3), None, 0), CellState::Ghost),
            // Cached before the interval began, untouched: cached, never "read ahead".
            (
                CellCounts {
                    earlier: 64,
                    ..cell(64, Some(64), Some(0), 0)
                },
                CellState::CachedTouched,
            ),
            // Half earlier, half brought in by readahead: still readahead at work.
            (
                CellCounts {
                    earlier: 32,
                    ..cell(64, Some(64), Some(0), 0)
                },
                CellState::Ghost,
            ),
        ];
        for (c, want) in table {
            assert_eq!(CellState::of(&c), want, "{c:?}");
        }
        let front = CellCounts {
            recent: 1,
            ..cell(64, Some(64), Some(64), 64)
        };
        assert_eq!(CellState::of(&front), CellState::Front);
        let private = CellCounts {
            private: Some(1),
            ..cell(64, Some(64), Some(63), 64)
        };
        assert_eq!(CellState::of(&private), CellState::Private);
    }

    #[test]
    fn mono_theme_distinguishes_states_without_colour() {
        // NO_COLOR: no style has a colour; the glyphs alone tell the states apart.
        let t = Theme::for_no_color(Some(OsStr::new("1")));
        assert_eq!(t, &MONO);
        for s in CellState::ALL {
            let st = t.cell(s);
            assert_eq!((st.fg, st.bg), (None, None), "{s:?}");
        }
        for st in [t.title, t.key, t.warn, t.error, t.message, t.bar, t.front] {
            assert_eq!((st.fg, st.bg), (None, None));
        }
        // Empty NO_COLOR means "not set" per no-color.org.
        assert_eq!(Theme::for_no_color(Some(OsStr::new(""))), &COLOR);
        assert_eq!(Theme::for_no_color(None), &COLOR);
    }
}
