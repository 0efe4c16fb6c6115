//! The one keymap: every key of the live view, what it does and its line of help. Key
//! handling ([`super::App::handle_key`]), the help overlay, the man page and the README's
//! key table all read this table, so they cannot disagree; a test checks that no two actions
//! share a key in any mode.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

mod replay;
pub use replay::{replay_lookup, replay_markdown_table, ReplayAction, ReplayRow, REPLAY_KEYMAP};

/// A key as the table names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    Char(char),
    /// Ctrl + a letter.
    Ctrl(char),
    Esc,
    Enter,
    Tab,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Home,
    End,
}

impl Key {
    /// The table's key for a terminal event (None for keys the table cannot name).
    pub fn of(ev: &KeyEvent) -> Option<Key> {
        if ev.modifiers.contains(KeyModifiers::CONTROL) {
            return match ev.code {
                KeyCode::Char(c) => Some(Key::Ctrl(c.to_ascii_lowercase())),
                _ => None,
            };
        }
        Some(match ev.code {
            KeyCode::Char(c) => Key::Char(c),
            KeyCode::Esc => Key::Esc,
            KeyCode::Enter => Key::Enter,
            KeyCode::Tab => Key::Tab,
            KeyCode::Up => Key::Up,
            KeyCode::Down => Key::Down,
            KeyCode::Left => Key::Left,
            KeyCode::Right => Key::Right,
            KeyCode::PageUp => Key::PageUp,
            KeyCode::PageDown => Key::PageDown,
            KeyCode::Home => Key::Home,
            KeyCode::End => Key::End,
            _ => return None,
        })
    }
}

/// What a key does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Pattern N (the digit is the key: `1`..`9` in [`crate::workload::patterns::PatternKind::EVERY`]).
    Pattern,
    TogglePause,
    Step,
    Slower,
    Faster,
    Evict,
    Warm,
    WarmRandom,
    CycleAdvice,
    Reset,
    Compare,
    /// Esc while a comparison runs: kill its child, drop the result.
    CancelCompare,
    /// `t`: the 4 KiB vs huge page measurement (again: cancel it).
    MeasureTlb,
    /// Esc while the TLB measurement runs.
    CancelTlb,
    /// Ctrl-Z: handled by the event loop (restore the terminal, stop as a shell job).
    Suspend,
    /// `C`: the comparison's cache mode (cold, warm, as-is).
    CycleCompareCache,
    /// `s` / `S`: msync(MS_SYNC) / msync(MS_ASYNC) of the worker's mapping (write mode).
    MsyncSync,
    MsyncAsync,
    /// `p` / `x` / Tab: add a worker, remove the selected one, select the next.
    AddWorkload,
    RemoveWorkload,
    SelectNextWorkload,
    /// `M`: read -> write shared -> write private -> read, on a scratch copy.
    CycleWriteMode,
    /// `m`: the message log overlay.
    OpenLog,
    /// Scrolling the open overlay (help or log).
    ScrollUp,
    ScrollDown,
    ScrollPageUp,
    ScrollPageDown,
    ScrollHome,
    ScrollEnd,
    /// Esc (or `m` in the log): close the overlay.
    CloseOverlay,
    ZoomIn,
    ZoomOut,
    PanUp,
    PanDown,
    PanLeft,
    PanRight,
    PanPageUp,
    PanPageDown,
    PanHome,
    PanEnd,
    /// `i`: enter / leave cursor mode (the page inspector).
    ToggleCursor,
    CursorLeft,
    CursorRight,
    CursorUp,
    CursorDown,
    CursorLeave,
    /// Read the page under the cursor (Enter).
    CursorRead,
    /// `o`: type a byte offset to inspect.
    CursorOffset,
    ToggleHelp,
    Quit,
    Interrupt,
    /// In a lesson: the next / previous step (runs its set-up), one access.
    LessonNext,
    LessonPrev,
    LessonAccess,
    /// `L`: the lesson picker.
    OpenPicker,
    /// In the picker: move, start the lesson, close.
    PickerUp,
    PickerDown,
    PickerChoose,
    PickerClose,
    /// `f`, observing a program: watch the next regular file it maps.
    NextFile,
    /// `y` / `n` while a confirmation is asked (observing: evict, warm).
    Confirm,
    Decline,
}

/// When a binding applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    Always,
    /// Only in these modes.
    In(&'static [Mode]),
}

/// The modes a screen can be in (for [`When`]). Keys are looked up through layers, top
/// first (see [`lookup_layers`]): an open overlay (help or log) over a base mode (normal, or
/// cursor while the page inspector shows).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    Normal,
    /// The page inspector shows (cursor mode, or a clicked page at one page per cell).
    Cursor,
    /// The help overlay is open.
    Help,
    /// The message log overlay is open.
    Log,
    /// A comparison runs (a layer over normal mode: Esc cancels it before it means quit).
    Comparing,
    /// The `t` TLB measurement runs (a layer over normal mode: Esc cancels it).
    MeasuringTlb,
    /// A lesson runs (a layer over normal or cursor mode: `n` is the next step there).
    Lesson,
    /// The lesson picker (`L`) is open.
    Picker,
    /// A question waits for y or n (observing a program: evict or warm its file?); the only
    /// layer while it waits.
    Confirm,
}

impl Mode {
    pub const ALL: [Mode; 9] = [
        Mode::Normal,
        Mode::Cursor,
        Mode::Help,
        Mode::Log,
        Mode::Comparing,
        Mode::MeasuringTlb,
        Mode::Lesson,
        Mode::Picker,
        Mode::Confirm,
    ];
}

impl When {
    pub fn applies(self, mode: Mode) -> bool {
        match self {
            // A question waiting for y/n is modal: only its own keys answer it.
            When::Always => mode != Mode::Confirm,
            When::In(modes) => modes.contains(&mode),
        }
    }
}

const BASE: When = When::In(&[Mode::Normal]);
const CURSOR: When = When::In(&[Mode::Cursor]);
const OVERLAY: When = When::In(&[Mode::Help, Mode::Log]);
const NOT_OVERLAY: When = When::In(&[Mode::Normal, Mode::Cursor]);
const LESSON: When = When::In(&[Mode::Lesson]);
/// `n` steps one access everywhere but in a lesson, where it is the next step.
const NOT_LESSON: When = When::In(&[
    Mode::Normal,
    Mode::Cursor,
    Mode::Help,
    Mode::Log,
    Mode::Comparing,
    Mode::MeasuringTlb,
]);
const PICKER: When = When::In(&[Mode::Picker]);

/// One row of help: the keys as shown, the line of help, and what each key does.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    /// The keys as the help overlay, man page and README show them.
    pub keys: &'static str,
    pub help: &'static str,
    pub bindings: &'static [(Key, Action, When)],
    /// False for bindings documented inside another row's text (Esc closing the help).
    pub listed: bool,
    /// Shown in the help overlay (false: only in the README and the man page).
    pub overlay: bool,
    /// The README's and the man page's longer text (None: `help`).
    pub long: Option<&'static str>,
    /// Drives mmviz's own workload: unavailable while observing another program (`mmviz
    /// attach` / `exec`), where the help and the footer say so.
    pub workload: bool,
}

const fn row(
    keys: &'static str,
    help: &'static str,
    bindings: &'static [(Key, Action, When)],
) -> Row {
    Row {
        keys,
        help,
        bindings,
        listed: true,
        overlay: true,
        long: None,
        workload: false,
    }
}

impl Row {
    const fn long(mut self, text: &'static str) -> Row {
        self.long = Some(text);
        self
    }
    const fn not_in_overlay(mut self) -> Row {
        self.overlay = false;
        self
    }
    const fn workload(mut self) -> Row {
        self.workload = true;
        self
    }
    /// The README's and the man page's text.
    pub fn long_help(&self) -> &'static str {
        match self.long {
            Some(l) => l,
            None => self.help,
        }
    }
}

use Action as A;
use Key as K;
use When::Always as W;

/// Every key of the live view, in help order.
pub const KEYMAP: &[Row] = &[
    row(
        "1 2 3 4",
        "pattern: sequential, reverse, stride, random",
        &[
            (K::Char('1'), A::Pattern, W),
            (K::Char('2'), A::Pattern, W),
            (K::Char('3'), A::Pattern, W),
            (K::Char('4'), A::Pattern, W),
        ],
    )
    .long(
        "pattern: sequential, reverse, stride, random (a clean switch: the mapping and the \
touched set are dropped and every counter restarts; a comparison of the old pattern is cleared)",
    )
    .workload(),
    row(
        "5 6 7 8 9",
        "pattern: hotset, chase, scan, grep (regex), bsearch (records)",
        &[
            (K::Char('5'), A::Pattern, W),
            (K::Char('6'), A::Pattern, W),
            (K::Char('7'), A::Pattern, W),
            (K::Char('8'), A::Pattern, W),
            (K::Char('9'), A::Pattern, W),
        ],
    )
    .long(
        "pattern: hotset, chase (pointer chase), scan (a clean switch, as for 1-4); then the \
searches of real programs: 8 grep runs the --regex (or the default regex, named on screen) over \
the mapping, and the strip under the grid shows the match count and the first matches (offset, \
line number, line); 9 bsearch looks up keys by binary search in a file of sorted records \
(`mmviz gen FILE --records N`), and on any other file is refused with the reason on screen",
    )
    .workload(),
    row(
        "space",
        "pause / resume the workload",
        &[(K::Char(' '), A::TogglePause, W)],
    )
    .workload(),
    row(
        "n",
        "one step while paused (one access at <= 10/s; says what it did)",
        &[(K::Char('n'), A::Step, NOT_LESSON)],
    )
    .long(
        "one step while paused: exactly one access at <= 10 accesses/s (a tenth of a \
second's worth above), and the footer says what it did",
    )
    .workload(),
    row(
        "L",
        "the lesson picker (arrows choose, Enter starts, Esc closes)",
        &[
            (
                K::Char('L'),
                A::OpenPicker,
                When::In(&[Mode::Normal, Mode::Cursor]),
            ),
            (K::Char('L'), A::PickerClose, PICKER),
            (K::Up, A::PickerUp, PICKER),
            (K::Down, A::PickerDown, PICKER),
            (K::Enter, A::PickerChoose, PICKER),
            (K::Esc, A::PickerClose, PICKER),
        ],
    )
    .long(
        "the lesson picker: arrows choose, Enter starts the lesson (its narrative panel \
replaces the side column), Esc closes",
    )
    .workload(),
    row(
        "n  p  .",
        "in a lesson: next / previous step; . runs one access",
        &[
            (K::Char('n'), A::LessonNext, LESSON),
            (K::Char('p'), A::LessonPrev, LESSON),
            (K::Char('.'), A::LessonAccess, LESSON),
        ],
    )
    .long(
        "in a lesson: n / p go to the next / previous step and run its set-up actions; . \
pauses and runs exactly one access (the footer names it); outside lessons n keeps its \
single-step meaning",
    ),
    row(
        "[  ]",
        "slower / faster (accesses per second)",
        &[(K::Char('['), A::Slower, W), (K::Char(']'), A::Faster, W)],
    )
    .long("slower / faster (1 access/s ... 1,000,000/s, then max)")
    .workload(),
    row(
        "e",
        "evict: drop the file's pages from the page cache",
        &[(K::Char('e'), A::Evict, W)],
    )
    .long(
        "evict the file from the page cache (pauses the worker and drops its mapping \
first; when pages stay, says why, naming any other process that maps the file; observing a \
program, it asks y/n first)",
    ),
    row(
        "w",
        "warm, sequential reads (large folios: a fault maps <= 2 MiB)",
        &[(K::Char('w'), A::Warm, W)],
    )
    .long(
        "warm the file with sequential reads (large folios: one fault maps up to 2 MiB; \
observing a program, it asks y/n first)",
    ),
    row(
        "W",
        "warm, random 4 KiB reads (small folios: fault maps <= 16 pages)",
        &[(K::Char('W'), A::WarmRandom, W)],
    )
    .long(
        "warm with 4 KiB reads in random order (4 KiB folios: one fault maps at most 16 \
pages; evict first; observing a program, it asks y/n first)",
    ),
    row(
        "a",
        "next madvise advice: normal, random, sequential, willneed",
        &[(K::Char('a'), A::CycleAdvice, W)],
    )
    .long(
        "cycle madvise: normal, random, sequential, willneed (0.7 s later the footer says \
how much the cache grew meanwhile: measured, not asserted)",
    )
    .workload(),
    row(
        "r",
        "restart the worker, reset counters (paused stays paused)",
        &[(K::Char('r'), A::Reset, W)],
    )
    .long(
        "restart the worker and reset every counter (also after it died; reopens the file \
if it was replaced; a paused session stays paused)",
    )
    .workload(),
    row(
        "c",
        "compare mmap with read() for this pattern (Esc cancels it)",
        &[
            (K::Char('c'), A::Compare, W),
            (K::Esc, A::CancelCompare, When::In(&[Mode::Comparing])),
        ],
    )
    .long(
        "run the mmap-vs-read() comparison for the current pattern (Esc cancels a running \
one, killing its child at once)",
    )
    .workload(),
    row(
        "t",
        "measure 4 KiB vs huge pages (pauses the worker; t or Esc cancels)",
        &[
            (K::Char('t'), A::MeasureTlb, W),
            (K::Esc, A::CancelTlb, When::In(&[Mode::MeasuringTlb])),
        ],
    )
    .long(
        "measure what the TLB costs: a dependent pointer chase on anonymous memory with 4 KiB \
pages vs transparent huge pages over working sets from 1 MiB up to 256 MiB (capped to what fits \
in free memory), as `mmviz tlb` does; the worker pauses meanwhile and the TLB panel shows \
progress, then ns per access, the ratio and the knee (t again or Esc cancels)",
    )
    .workload(),
    row(
        "C",
        "comparison cache: cold, warm or as-is (each repeat)",
        &[(K::Char('C'), A::CycleCompareCache, W)],
    )
    .long(
        "the comparison's cache state: cold (evicted before every repeat, the default), \
warm (read in before every repeat), as-is (whatever the cache holds when c is pressed); the \
result names the state used, and says \"about equal\" when the repeats' ranges overlap",
    )
    .workload(),
    row(
        "s  S",
        "write mode: msync MS_SYNC / MS_ASYNC (time, pages written back)",
        &[
            (K::Char('s'), A::MsyncSync, W),
            (K::Char('S'), A::MsyncAsync, W),
        ],
    )
    .long(
        "write mode (--write shared|private): msync(MS_SYNC) / msync(MS_ASYNC) over the \
worker's mapping, in the worker; the footer shows the call's time, the dirty pages before and \
after (cachestat) and the cost per page written back (on Linux MS_ASYNC starts no I/O: the \
counts say what it did)",
    )
    .workload(),
    row(
        "m",
        "message log: every event in full (arrows scroll)",
        &[
            (
                K::Char('m'),
                A::OpenLog,
                When::In(&[Mode::Normal, Mode::Cursor, Mode::Help]),
            ),
            (K::Char('m'), A::CloseOverlay, When::In(&[Mode::Log])),
        ],
    )
    .long("message log: every event in full with its time (arrows scroll; m or Esc closes)"),
    row(
        "+ =  -",
        "zoom in / out (each level halves the pages shown)",
        &[
            (K::Char('+'), A::ZoomIn, W),
            (K::Char('='), A::ZoomIn, W),
            (K::Char('-'), A::ZoomOut, W),
        ],
    ),
    row(
        "↑ ↓  ← →",
        "pan one row / one cell",
        &[
            (K::Up, A::PanUp, BASE),
            (K::Down, A::PanDown, BASE),
            (K::Left, A::PanLeft, BASE),
            (K::Right, A::PanRight, BASE),
        ],
    ),
    row(
        "PgUp PgDn",
        "pan one screen; Home / End: start / end of file",
        &[
            (K::PageUp, A::PanPageUp, NOT_OVERLAY),
            (K::PageDown, A::PanPageDown, NOT_OVERLAY),
            (K::Home, A::PanHome, NOT_OVERLAY),
            (K::End, A::PanEnd, NOT_OVERLAY),
        ],
    ),
    row(
        "mouse",
        "click a cell to see its pages; the wheel zooms",
        &[],
    ),
    row(
        "i",
        "inspect a page: arrows move, Enter reads it, Esc leaves",
        &[
            (K::Char('i'), A::ToggleCursor, W),
            (K::Left, A::CursorLeft, CURSOR),
            (K::Right, A::CursorRight, CURSOR),
            (K::Up, A::CursorUp, CURSOR),
            (K::Down, A::CursorDown, CURSOR),
            (K::Enter, A::CursorRead, CURSOR),
            (K::Esc, A::CursorLeave, CURSOR),
        ],
    )
    .long(
        "cursor mode: arrows move a page cursor, the inspector shows that page; Enter reads \
it; Esc leaves",
    ),
    row(
        "o",
        "in cursor mode: type a byte offset (1000, 0x3e8, 4KiB) and Enter",
        &[(K::Char('o'), A::CursorOffset, CURSOR)],
    )
    .long(
        "in cursor mode: type a byte offset (decimal, 0x hex or a size such as 4KiB), Enter \
shows the bytes there (only if its page is cached; Enter again reads it), Esc cancels",
    ),
    row(
        "?",
        "this help (Esc closes it)",
        &[(K::Char('?'), A::ToggleHelp, W)],
    )
    .long("this help (arrows scroll it; ? or Esc closes it)"),
    row(
        "p  x  Tab",
        "workers: add one (<= 4) / remove the selected / select the next",
        &[
            (K::Char('p'), A::AddWorkload, NOT_LESSON),
            (K::Char('x'), A::RemoveWorkload, W),
            (K::Tab, A::SelectNextWorkload, W),
        ],
    )
    .long(
        "several processes: p (outside a lesson, where it is the previous step) starts another worker on the same file (up to 4, with the \
selected one's pattern, rate and advice), x stops the selected one (the last one stays), Tab \
selects the next; the pattern, rate, advice, pause and step keys act on the selected worker, the \
worker panel shows each one's faults, VmSize and RSS side by side, and the grid the union of \
their mappings with the selected worker's own apart",
    )
    .workload(),
    row(
        "M",
        "mode: read / write shared / write private (scratch copy)",
        &[(K::Char('M'), A::CycleWriteMode, NOT_LESSON)],
    )
    .long(
        "switch the mode, as --write shared or private does at start: read -> write shared \
(MAP_SHARED) -> write private (MAP_PRIVATE) -> read; write modes map a fresh scratch copy of the \
file (the header names it; your file is never written), and every worker restarts on it",
    )
    .workload(),
    row(
        "f",
        "observing a program: watch the next file it maps",
        &[(K::Char('f'), A::NextFile, W)],
    )
    .long(
        "observing a program (mmviz attach / exec): watch the next regular file it maps \
(the largest is the default; counters restart for the new file)",
    ),
    row(
        "y  n",
        "observing: y / n answer \"evict?\" or \"warm?\" (e, w, W ask)",
        &[
            (K::Char('y'), A::Confirm, When::In(&[Mode::Confirm])),
            (K::Char('n'), A::Decline, When::In(&[Mode::Confirm])),
            (K::Esc, A::Decline, When::In(&[Mode::Confirm])),
        ],
    )
    .long(
        "observing a program: e, w and W ask first, because evicting or warming its file \
changes the observed program's performance; y does it, n or Esc leaves the cache as it was",
    ),
    // Documented in the overlays' own titles and the `?` and `m` lines.
    Row {
        keys: "↑ ↓ PgUp PgDn Home End Esc",
        help: "in the help or the log: scroll; Esc closes",
        bindings: &[
            (K::Up, A::ScrollUp, OVERLAY),
            (K::Down, A::ScrollDown, OVERLAY),
            (K::PageUp, A::ScrollPageUp, OVERLAY),
            (K::PageDown, A::ScrollPageDown, OVERLAY),
            (K::Home, A::ScrollHome, OVERLAY),
            (K::End, A::ScrollEnd, OVERLAY),
            (K::Esc, A::CloseOverlay, OVERLAY),
        ],
        listed: false,
        overlay: false,
        long: None,
        workload: false,
    },
    row(
        "q  Esc",
        "quit",
        &[
            (K::Char('q'), A::Quit, W),
            (K::Esc, A::Quit, When::In(&[Mode::Normal])),
        ],
    )
    .long(
        "quit (Esc first closes an overlay, leaves cursor mode or cancels a running \
comparison or TLB measurement)",
    ),
    row(
        "Ctrl-C",
        "quit (exit status 130)",
        &[(K::Ctrl('c'), A::Interrupt, W)],
    ),
    row(
        "Ctrl-Z",
        "suspend (restores the terminal; fg brings the screen back)",
        &[(K::Ctrl('z'), A::Suspend, W)],
    )
    .not_in_overlay(),
];

/// The action bound to `key` in `mode`, if any.
pub fn lookup(key: Key, mode: Mode) -> Option<Action> {
    KEYMAP
        .iter()
        .flat_map(|r| r.bindings.iter())
        .find(|(k, _, w)| *k == key && w.applies(mode))
        .map(|&(_, a, _)| a)
}

/// The action bound to `key` in the first of `layers` (top first) that binds it.
pub fn lookup_layers(key: Key, layers: &[Mode]) -> Option<Action> {
    layers.iter().find_map(|&m| lookup(key, m))
}

/// The rows shown to people in the README and the man page.
pub fn listed() -> impl Iterator<Item = &'static Row> {
    KEYMAP.iter().filter(|r| r.listed)
}

/// The rows of the help overlay.
pub fn overlay() -> impl Iterator<Item = &'static Row> {
    listed().filter(|r| r.overlay)
}

/// The README's key table (Markdown), generated from [`KEYMAP`].
pub fn markdown_table() -> String {
    let mut s = String::from("| key | action |\n|---|---|\n");
    for r in listed() {
        let keys: Vec<String> = r
            .keys
            .split_whitespace()
            .map(|k| format!("`{k}`"))
            .collect();
        let off = if r.workload {
            " (unavailable while observing a program: no worker)"
        } else {
            ""
        };
        s.push_str(&format!(
            "| {} | {}{off} |\n",
            keys.join(" "),
            r.long_help()
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn no_two_actions_share_a_key_in_any_mode() {
        for mode in Mode::ALL {
            let mut seen: HashMap<Key, Action> = HashMap::new();
            for (k, a, w) in KEYMAP.iter().flat_map(|r| r.bindings.iter()) {
                if !w.applies(mode) {
                    continue;
                }
                if let Some(prev) = seen.insert(*k, *a) {
                    panic!("{k:?} is bound to {prev:?} and {a:?} in {mode:?}");
                }
            }
        }
    }

    #[test]
    fn esc_closes_the_help_before_it_quits() {
        assert_eq!(lookup(Key::Esc, Mode::Help), Some(Action::CloseOverlay));
        assert_eq!(lookup(Key::Esc, Mode::Log), Some(Action::CloseOverlay));
        assert_eq!(
            lookup(Key::Char('m'), Mode::Log),
            Some(Action::CloseOverlay)
        );
        assert_eq!(lookup(Key::Char('m'), Mode::Help), Some(Action::OpenLog));
        // Left/Right are not the overlay's: they reach the mode under it.
        let log_over_cursor = [Mode::Log, Mode::Cursor];
        assert_eq!(
            lookup_layers(Key::Left, &log_over_cursor),
            Some(Action::CursorLeft)
        );
        assert_eq!(
            lookup_layers(Key::Up, &log_over_cursor),
            Some(Action::ScrollUp)
        );
        assert_eq!(lookup(Key::Esc, Mode::Normal), Some(Action::Quit));
        assert_eq!(lookup(Key::Char('q'), Mode::Help), Some(Action::Quit));
        assert_eq!(lookup(Key::Char('X'), Mode::Normal), None);
        assert_eq!(
            lookup(Key::Tab, Mode::Normal),
            Some(Action::SelectNextWorkload)
        );
        assert_eq!(lookup(Key::Esc, Mode::Cursor), Some(Action::CursorLeave));
        assert_eq!(lookup(Key::Left, Mode::Cursor), Some(Action::CursorLeft));
        assert_eq!(
            lookup_layers(Key::Left, &[Mode::Help, Mode::Normal]),
            Some(Action::PanLeft)
        );
        assert_eq!(lookup(Key::Enter, Mode::Normal), None);
    }

    #[test]
    fn every_pattern_key_names_a_pattern() {
        for (k, a, _) in KEYMAP.iter().flat_map(|r| r.bindings.iter()) {
            if *a == Action::Pattern {
                let Key::Char(c) = k else { panic!("{k:?}") };
                assert!(
                    crate::workload::patterns::PatternKind::from_key(*c).is_some(),
                    "{c}"
                );
            }
        }
    }

    #[test]
    fn ctrl_keys_are_their_own_keys() {
        let ev = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(Key::of(&ev), Some(Key::Ctrl('c')));
        assert_eq!(lookup(Key::Ctrl('e'), Mode::Normal), None);
        let ev = KeyEvent::new(KeyCode::Char('W'), KeyModifiers::SHIFT);
        assert_eq!(Key::of(&ev), Some(Key::Char('W')));
    }

    #[test]
    fn readme_key_table_is_the_keymap() {
        let readme = include_str!("../../README.md");
        for table in [markdown_table(), replay_markdown_table()] {
            assert!(
                readme.contains(&table),
                "README.md's key table differs from the keymap; replace it with:\n{table}"
            );
        }
    }
}
