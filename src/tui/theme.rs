//! The themes: every colour, modifier and grid glyph the screen uses, in one [`Theme`] each.
//!
//! Four themes for the room: [`COLOR`] (dark, the default), [`LIGHT`] (for a light terminal
//! background), [`PROJECTOR`] (projectors wash out dark colours and thin glyphs: bright
//! colours, bold everywhere, solid glyphs of distinct shapes) and [`MONO`] (no colour at
//! all, only modifiers). Precedence: `--theme` > `MMVIZ_THEME` > `NO_COLOR` (present and
//! non-empty, see <https://no-color.org>: mono) > dark. Page states stay distinguishable
//! without colour because each state has its own glyph; colour only reinforces it.

use crate::session::snapshot::CellCounts;
use ratatui::style::{Color, Modifier, Style};

/// Styles for every element on screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Theme {
    /// Painted under the whole screen first (the projector's black background).
    pub screen: Style,
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
    /// Mapped by another worker only, not the selected one (several workers).
    pub other: Style,
    pub cached: Style,
    pub ghost: Style,
    pub uncached: Style,
    pub private: Style,
    /// PMD-mapped (2 MiB huge mapping) cells.
    pub huge: Style,
    /// Dirty: written in the page cache, not yet on disk.
    pub dirty: Style,
    /// Under writeback: being written to disk now.
    pub writeback: Style,
    pub front: Style,
    pub hidden: Style,
    /// The grid glyphs.
    pub glyphs: Glyphs,
}

/// A set of grid glyphs, one per [`CellState`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Glyphs {
    /// Density rises with "closer to the CPU": · not cached, ░ ▒ cached, ▓ █ mapped.
    Shades,
    /// For a projector or a photo of one: shapes, not shades (░ ▒ ▓ blur into one grey).
    Shapes,
}

const fn fg(c: Color) -> Style {
    Style::new().fg(c)
}

/// Colours chosen for a projector: saturated, readable on dark and light backgrounds.
pub const COLOR: Theme = Theme {
    screen: Style::new(),
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
    other: fg(Color::Yellow),
    cached: fg(Color::LightBlue),
    ghost: fg(Color::Magenta),
    uncached: fg(Color::DarkGray),
    private: Style::new()
        .fg(Color::LightYellow)
        .add_modifier(Modifier::BOLD),
    huge: Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
    dirty: Style::new()
        .fg(Color::LightMagenta)
        .add_modifier(Modifier::BOLD),
    writeback: Style::new()
        .fg(Color::LightCyan)
        .add_modifier(Modifier::BOLD),
    front: Style::new()
        .fg(Color::LightRed)
        .add_modifier(Modifier::BOLD),
    hidden: fg(Color::DarkGray),
    glyphs: Glyphs::Shades,
};

/// The dark theme is the default one.
pub const DARK: &Theme = &COLOR;

const fn bold(c: Color) -> Style {
    Style::new().fg(c).add_modifier(Modifier::BOLD)
}

/// For a light terminal background: dark, saturated colours; no white or yellow text.
pub const LIGHT: Theme = Theme {
    screen: Style::new(),
    title: bold(Color::Blue),
    border: fg(Color::DarkGray),
    label: Style::new(),
    value: Style::new().add_modifier(Modifier::BOLD),
    dim: fg(Color::DarkGray),
    key: bold(Color::Magenta),
    warn: bold(Color::Red),
    error: Style::new()
        .fg(Color::White)
        .bg(Color::Red)
        .add_modifier(Modifier::BOLD),
    good: fg(Color::Green),
    message: Style::new().fg(Color::Black).bg(Color::LightYellow),
    selected: Style::new().add_modifier(Modifier::REVERSED),
    spark_minor: fg(Color::Blue),
    spark_major: fg(Color::Red),
    bar: fg(Color::Blue),
    gauge: Style::new().fg(Color::Blue).bg(Color::Gray),
    overlay: Style::new().fg(Color::Black).bg(Color::White),
    mapped: fg(Color::Green),
    partly: fg(Color::Cyan),
    other: fg(Color::LightRed),
    cached: fg(Color::Blue),
    ghost: fg(Color::Magenta),
    uncached: fg(Color::Gray),
    private: bold(Color::Red),
    huge: bold(Color::Blue),
    dirty: bold(Color::Magenta),
    writeback: bold(Color::Blue),
    front: bold(Color::Red),
    hidden: fg(Color::Gray),
    glyphs: Glyphs::Shades,
};

/// For a projector: bright colours on black, bold everything (no dark grey, no blue, no dim:
/// projectors wash them out), solid glyphs of distinct shapes.
pub const PROJECTOR: Theme = Theme {
    screen: Style::new().fg(Color::White).bg(Color::Black),
    title: bold(Color::LightCyan),
    border: bold(Color::White),
    label: bold(Color::White),
    value: bold(Color::LightYellow),
    dim: bold(Color::Gray),
    key: bold(Color::LightYellow),
    warn: bold(Color::LightYellow),
    error: Style::new()
        .fg(Color::White)
        .bg(Color::Red)
        .add_modifier(Modifier::BOLD),
    good: bold(Color::LightGreen),
    message: Style::new()
        .fg(Color::Black)
        .bg(Color::LightYellow)
        .add_modifier(Modifier::BOLD),
    selected: Style::new().add_modifier(Modifier::REVERSED.union(Modifier::BOLD)),
    spark_minor: bold(Color::LightCyan),
    spark_major: bold(Color::LightRed),
    bar: bold(Color::LightCyan),
    gauge: Style::new()
        .fg(Color::LightCyan)
        .bg(Color::Black)
        .add_modifier(Modifier::BOLD),
    overlay: Style::new()
        .fg(Color::White)
        .bg(Color::Black)
        .add_modifier(Modifier::BOLD),
    mapped: bold(Color::LightGreen),
    partly: bold(Color::LightGreen),
    other: bold(Color::Yellow),
    cached: bold(Color::LightCyan),
    ghost: bold(Color::LightMagenta),
    uncached: bold(Color::Gray),
    private: bold(Color::LightYellow),
    huge: bold(Color::LightCyan),
    dirty: bold(Color::LightMagenta),
    writeback: bold(Color::LightCyan),
    front: bold(Color::LightRed),
    hidden: bold(Color::Gray),
    glyphs: Glyphs::Shapes,
};

/// Theme names, as `--theme` and `MMVIZ_THEME` take them.
pub const NAMES: [&str; 4] = ["dark", "light", "projector", "mono"];

/// No colours (for `NO_COLOR`): modifiers and glyphs only.
pub const MONO: Theme = Theme {
    screen: Style::new(),
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
    other: Style::new(),
    cached: Style::new(),
    ghost: Style::new(),
    uncached: Style::new().add_modifier(Modifier::DIM),
    private: Style::new().add_modifier(Modifier::BOLD),
    huge: Style::new().add_modifier(Modifier::BOLD),
    dirty: Style::new().add_modifier(Modifier::BOLD),
    writeback: Style::new()
        .add_modifier(Modifier::BOLD)
        .add_modifier(Modifier::UNDERLINED),
    front: Style::new().add_modifier(Modifier::BOLD),
    hidden: Style::new().add_modifier(Modifier::DIM),
    glyphs: Glyphs::Shades,
};

impl Theme {
    /// The theme called `name` (one of [`NAMES`]).
    pub fn named(name: &str) -> Option<&'static Theme> {
        match name.to_ascii_lowercase().as_str() {
            "dark" => Some(DARK),
            "light" => Some(&LIGHT),
            "projector" => Some(&PROJECTOR),
            "mono" => Some(&MONO),
            _ => None,
        }
    }

    /// The theme by precedence: `--theme` > `MMVIZ_THEME` > `NO_COLOR` (mono) > dark. An
    /// empty variable counts as unset; an unknown name is an error (bad input).
    pub fn resolve(
        flag: Option<&str>,
        mmviz_theme: Option<&std::ffi::OsStr>,
        no_color: Option<&std::ffi::OsStr>,
    ) -> Result<&'static Theme, String> {
        let names = NAMES.join(", ");
        if let Some(f) = flag {
            return Self::named(f).ok_or_else(|| format!("--theme {f}: not one of {names}"));
        }
        if let Some(v) = mmviz_theme.filter(|v| !v.is_empty()) {
            let s = v.to_string_lossy();
            return Self::named(&s).ok_or_else(|| format!("MMVIZ_THEME={s}: not one of {names}"));
        }
        Ok(Self::for_no_color(no_color))
    }

    /// [`Theme::resolve`] from the environment, with `flag` from the command line.
    pub fn from_args(flag: Option<&str>) -> Result<&'static Theme, String> {
        Self::resolve(
            flag,
            std::env::var_os("MMVIZ_THEME").as_deref(),
            std::env::var_os("NO_COLOR").as_deref(),
        )
    }

    /// [`Theme::from_args`] without a flag; an unknown `MMVIZ_THEME` falls back to dark.
    pub fn from_env() -> &'static Theme {
        Self::from_args(None).unwrap_or(DARK)
    }

    /// The glyph of a grid cell in this state.
    pub fn glyph(&self, state: CellState) -> char {
        match self.glyphs {
            Glyphs::Shades => state.glyph(),
            Glyphs::Shapes => state.shape_glyph(),
        }
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
            CellState::MappedOther => self.other,
            CellState::Private => self.private,
            CellState::HugeMapped => self.huge,
            CellState::Dirty => self.dirty,
            CellState::Writeback => self.writeback,
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
    /// With several workers: mapped, but only by workers other than the selected one.
    MappedOther,
    /// At least half of its pages mapped by a PMD: a 2 MiB huge mapping, one TLB entry for
    /// 512 pages (PAGEMAP_SCAN PAGE_IS_HUGE; a 2 MiB folio mapped by 512 PTEs is not one).
    HugeMapped,
    /// Some pages are private (copy-on-write) copies.
    Private,
    /// Some pages are dirty in the page cache (written, not yet on disk): cachestat nr_dirty.
    Dirty,
    /// Some pages are under writeback (being written to disk now): cachestat nr_writeback.
    Writeback,
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
    /// The write states come right after the front: they appear only in write mode, where
    /// they are the news, and a one-line legend cut at the panel's edge keeps them.
    pub const ALL: [CellState; 15] = [
        CellState::Front,
        CellState::Private,
        CellState::Writeback,
        CellState::Dirty,
        CellState::HugeMapped,
        CellState::Mapped,
        CellState::PartlyMapped,
        CellState::MappedOther,
        CellState::CachedTouched,
        CellState::Ghost,
        CellState::NotCached,
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
            CellState::MappedOther => '▚',
            CellState::Private => 'P',
            CellState::HugeMapped => 'H',
            CellState::Dirty => 'D',
            CellState::Writeback => 'W',
            CellState::Front => '●',
            CellState::Hidden => '?',
            CellState::PastEnd => '×',
            CellState::Unsampled => '╌',
        }
    }

    /// The projector's glyph: solid shapes that a camera or a washed-out projector still
    /// tells apart (full block, half blocks, a plus, a dash) instead of shades of grey.
    pub fn shape_glyph(self) -> char {
        match self {
            CellState::Empty => ' ',
            CellState::NotCached => '-',
            CellState::Ghost => '+',
            CellState::CachedTouched => '▄',
            CellState::PartlyMapped => '▌',
            CellState::Mapped => '█',
            CellState::MappedOther => '#',
            CellState::Private => 'P',
            CellState::HugeMapped => 'H',
            CellState::Dirty => 'D',
            CellState::Writeback => 'W',
            CellState::Front => '●',
            CellState::Hidden => '?',
            CellState::PastEnd => 'X',
            CellState::Unsampled => '~',
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
            CellState::MappedOther => "mapped by another worker",
            CellState::Private => "private copy",
            CellState::HugeMapped => "huge (2 MiB PMD) mapping",
            CellState::Dirty => "dirty (not on disk yet)",
            CellState::Writeback => "writeback (to disk now)",
            CellState::Front => "just touched",
            CellState::Hidden => "cache state hidden",
            CellState::PastEnd => "past the new end (touch = SIGBUS)",
            CellState::Unsampled => "not sampled yet",
        }
    }

    /// Classifies a cell. The front wins (it is what moves), then private copies, then pages
    /// under writeback, then dirty pages (a written page is mapped too: its durability is the
    /// news), then the mapped share; otherwise the page-cache share, and `Hidden` when the
    /// kernel hides it.
    /// Never guesses: with the cache hidden, an unmapped cell is `Hidden`, not "not cached".
    pub fn of(c: &CellCounts) -> CellState {
        CellState::of_selected(c, None)
    }

    /// [`CellState::of`] for a cell of several workers' union: `mine` is what the selected
    /// worker maps itself (None: one worker). A mapped cell the selected one does not map is
    /// `MappedOther`.
    pub fn of_selected(c: &CellCounts, mine: Option<u64>) -> CellState {
        let st = CellState::of_union(c);
        match (st, mine) {
            (CellState::Mapped | CellState::PartlyMapped | CellState::HugeMapped, Some(0)) => {
                CellState::MappedOther
            }
            _ => st,
        }
    }

    fn of_union(c: &CellCounts) -> CellState {
        if c.pages == 0 {
            return CellState::Empty;
        }
        if c.recent > 0 {
            return CellState::Front;
        }
        if c.private.unwrap_or(0) > 0 {
            return CellState::Private;
        }
        if c.writeback.unwrap_or(0) > 0 {
            return CellState::Writeback;
        }
        if c.dirty.unwrap_or(0) > 0 {
            return CellState::Dirty;
        }
        if c.huge.is_some_and(|h| h > 0 && h * 2 >= c.pages) {
            return CellState::HugeMapped;
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
    fn every_state_has_its_own_glyph_in_every_theme() {
        for t in [&COLOR, &LIGHT, &PROJECTOR, &MONO] {
            let glyphs: HashSet<char> = CellState::ALL.iter().map(|&s| t.glyph(s)).collect();
            assert_eq!(glyphs.len(), CellState::ALL.len(), "{:?}", t.glyphs);
        }
    }

    #[test]
    fn huge_cells_classify_only_when_the_kernel_said_so() {
        let huge = |h: Option<u64>| CellCounts {
            huge: h,
            ..cell(64, Some(64), Some(64), 64)
        };
        assert_eq!(CellState::of(&huge(Some(64))), CellState::HugeMapped);
        assert_eq!(CellState::of(&huge(Some(32))), CellState::HugeMapped);
        assert_eq!(CellState::of(&huge(Some(31))), CellState::Mapped);
        assert_eq!(CellState::of(&huge(Some(0))), CellState::Mapped);
        // Cannot tell (pread fallback): never guessed huge.
        assert_eq!(CellState::of(&huge(None)), CellState::Mapped);
        // The moving front still wins.
        let front = CellCounts {
            recent: 1,
            ..huge(Some(64))
        };
        assert_eq!(CellState::of(&front), CellState::Front);
        for t in [&COLOR, &LIGHT, &PROJECTOR, &MONO] {
            assert_eq!(t.glyph(CellState::HugeMapped), 'H');
            assert_eq!(t.cell(CellState::HugeMapped), t.huge);
        }
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
        let dirty = CellCounts {
            dirty: Some(3),
            writeback: Some(0),
            ..cell(64, Some(64), Some(64), 64)
        };
        assert_eq!(CellState::of(&dirty), CellState::Dirty);
        let wb = CellCounts {
            writeback: Some(1),
            ..dirty
        };
        assert_eq!(CellState::of(&wb), CellState::Writeback);
        // The front still wins: it is what moves.
        assert_eq!(
            CellState::of(&CellCounts { recent: 1, ..wb }),
            CellState::Front
        );
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

    #[test]
    fn precedence_flag_then_mmviz_theme_then_no_color_then_dark() {
        let os = |s: &'static str| Some(OsStr::new(s));
        let r = Theme::resolve;
        assert_eq!(r(Some("projector"), os("light"), os("1")), Ok(&PROJECTOR));
        assert_eq!(r(None, os("light"), os("1")), Ok(&LIGHT));
        assert_eq!(r(None, os("Mono"), None), Ok(&MONO));
        assert_eq!(r(None, None, os("1")), Ok(&MONO));
        assert_eq!(
            r(None, os(""), os("1")),
            Ok(&MONO),
            "empty MMVIZ_THEME = unset"
        );
        assert_eq!(r(None, None, None), Ok(DARK));
        assert_eq!(
            r(Some("dark"), None, os("1")),
            Ok(DARK),
            "--theme beats NO_COLOR"
        );
        let e = r(None, os("neon"), None).unwrap_err();
        assert!(
            e.contains("MMVIZ_THEME=neon") && e.contains("projector"),
            "{e}"
        );
        assert!(r(Some("neon"), None, None).is_err());
        for n in NAMES {
            assert!(Theme::named(n).is_some(), "{n}");
        }
    }

    fn every_style(t: &Theme) -> Vec<(&'static str, Style)> {
        let mut v = vec![
            ("title", t.title),
            ("border", t.border),
            ("label", t.label),
            ("value", t.value),
            ("dim", t.dim),
            ("key", t.key),
            ("warn", t.warn),
            ("good", t.good),
            ("spark_minor", t.spark_minor),
            ("spark_major", t.spark_major),
            ("bar", t.bar),
        ];
        for s in CellState::ALL {
            if s != CellState::Empty {
                v.push((s.label(), t.cell(s)));
            }
        }
        v
    }

    #[test]
    fn projector_is_bold_and_avoids_colours_projectors_wash_out() {
        for (what, st) in every_style(&PROJECTOR) {
            assert!(st.add_modifier.contains(Modifier::BOLD), "{what} not bold");
            assert!(!st.add_modifier.contains(Modifier::DIM), "{what} dim");
            assert!(
                !matches!(
                    st.fg,
                    Some(Color::DarkGray | Color::Blue | Color::Black | Color::Magenta)
                ),
                "{what}: {:?} washes out",
                st.fg
            );
        }
        // Shapes, not shades: no two shade glyphs (░ ▒ ▓) that blur into one grey.
        let shades = CellState::ALL
            .iter()
            .filter(|&&s| "░▒▓".contains(PROJECTOR.glyph(s)))
            .count();
        assert_eq!(shades, 0);
    }

    #[test]
    fn light_theme_has_no_text_that_vanishes_on_white() {
        for (what, st) in every_style(&LIGHT) {
            if st.bg.is_none() {
                assert!(
                    !matches!(
                        st.fg,
                        Some(Color::White | Color::Yellow | Color::LightYellow)
                    ),
                    "{what}: {:?} on a light background",
                    st.fg
                );
            }
        }
    }

    /// The whole 80×24 screen of the fixture in `theme`: the real widgets, real styles.
    fn screen(theme: &'static Theme) -> ratatui::buffer::Buffer {
        screen_and_grid(theme).0
    }

    fn screen_and_grid(theme: &'static Theme) -> (ratatui::buffer::Buffer, ratatui::layout::Rect) {
        use crate::session::fixture::{fixture_grid, fixture_snapshot};
        use crate::session::snapshot::Command;
        use crate::tui::App;
        use ratatui::layout::Rect;
        let mut app = App::new(fixture_snapshot(), theme);
        let area = Rect::new(0, 0, 80, 24);
        let cells_area = app.grid_cells_area(area);
        if let Command::SetView {
            start_page,
            end_page,
            cells,
        } = app.view_request(app.grid_cells_area(area))
        {
            app.snapshot.grid = fixture_grid(start_page, end_page, cells);
        }
        let mut buf = ratatui::buffer::Buffer::empty(area);
        ratatui::widgets::Widget::render(&app, area, &mut buf);
        (buf, cells_area)
    }

    #[test]
    fn grid_cells_carry_the_themes_glyph_and_style() {
        for t in [&COLOR, &LIGHT, &PROJECTOR, &MONO] {
            let (buf, grid) = screen_and_grid(t);
            let cells: Vec<_> = grid.positions().map(|p| &buf[p]).collect();
            for st in [CellState::Mapped, CellState::NotCached, CellState::Front] {
                let cell = cells
                    .iter()
                    .find(|c| c.symbol().starts_with(t.glyph(st)))
                    .unwrap_or_else(|| panic!("{st:?} not on screen in {:?}", t.glyphs));
                let want = t.cell(st);
                assert_eq!(cell.fg, want.fg.unwrap_or(Color::Reset), "{st:?}");
                assert!(cell.modifier.contains(want.add_modifier), "{st:?}");
            }
        }
    }

    #[test]
    fn theme_snapshots_with_styles() {
        // Debug of a Buffer lists its text and then every style run: a change of colour or
        // modifier shows in the snapshot, not only a change of text.
        for (name, t) in [
            ("dark", DARK),
            ("light", &LIGHT),
            ("projector", &PROJECTOR),
            ("mono", &MONO),
        ] {
            insta::assert_debug_snapshot!(format!("theme_{name}_80x24"), screen(t));
        }
    }
}
