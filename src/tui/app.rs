//! The application state: the latest snapshot plus what the viewer chose (zoom, pan, help,
//! selection). Pure: no terminal, no clock; keys in, [`Command`]s out.

use super::keymap::{self, Action, Key, Mode};
use super::theme::Theme;
use crate::session::snapshot::{Command, Snapshot};
use crate::workload::patterns::PatternKind;
use crossterm::event::{KeyEvent, KeyEventKind, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

/// How the viewer ended; the binary maps it to an exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitKind {
    /// `q` or Esc.
    Normal,
    /// Ctrl-C or SIGINT.
    Interrupted,
    /// SIGTERM.
    Terminated,
    /// SIGHUP, or the terminal went away.
    HungUp,
    /// SIGQUIT.
    Quit,
}

impl ExitKind {
    /// The conventional exit status, 128+signal as for every command: 0, 130 SIGINT,
    /// 143 SIGTERM, 129 SIGHUP, 131 SIGQUIT.
    pub fn code(self) -> i32 {
        match self {
            ExitKind::Normal => 0,
            ExitKind::Interrupted => 130,
            ExitKind::Terminated => 143,
            ExitKind::HungUp => 129,
            ExitKind::Quit => 131,
        }
    }
}

/// The page range the grid shows, derived from the render area on every frame (never
/// stored as settings: a resize changes it). Kept only to map keys and clicks to pages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct View {
    pub start_page: u64,
    pub end_page: u64,
    pub cells: u64,
    /// The screen rectangle of the cells.
    pub area: Rect,
    /// The deepest zoom that still has at least one page per cell.
    pub max_zoom: u32,
}

impl View {
    fn pages(&self) -> u64 {
        self.end_page - self.start_page
    }
    fn pages_per_cell(&self) -> u64 {
        self.pages().div_ceil(self.cells.max(1)).max(1)
    }
}

/// Everything the screen shows: the latest snapshot and the viewer's choices.
#[derive(Clone, Debug)]
pub struct App {
    pub snapshot: Snapshot,
    /// 0 = whole file; each level halves the visible page range.
    pub zoom: u32,
    /// First page shown when zoomed in (clamped to the file by [`App::view_request`]).
    pub pan: u64,
    pub help: bool,
    /// First row of the help overlay shown (it scrolls where the screen is short).
    pub help_scroll: u16,
    /// The message log overlay (`m`): every event with its time.
    pub log: bool,
    /// Rows scrolled up from the newest event in the log.
    pub log_scroll: u16,
    /// The offset being typed after `o` in cursor mode.
    pub offset_input: Option<String>,
    /// Why the typed offset was refused.
    pub offset_error: Option<String>,
    /// The page whose cell was clicked (kept as a page so it survives zoom and pan).
    pub selected: Option<u64>,
    pub quit: Option<ExitKind>,
    pub theme: &'static Theme,
    /// No snapshot has arrived yet (the screen says so instead of showing an empty file).
    pub waiting: bool,
    /// Cursor mode (`i`): the arrows move the selected page and the inspector panel shows it.
    pub cursor: bool,
    /// Observing a program: the evict or warm waiting for y (the footer asks).
    pub confirm: Option<Command>,
    /// A line the screen shows until the next key (the answer to a declined question).
    pub notice: Option<String>,
    /// The page the session was last asked to inspect (so each change is sent once).
    inspecting: Option<u64>,
    view: Option<View>,
    /// The running lesson's panel (built by the event loop's controller each tick).
    pub lesson: Option<crate::lesson::controller::LessonView>,
    /// The lessons `L` offers.
    pub lessons: Vec<super::widgets::lesson::PickerEntry>,
    /// The open picker: selected row and why the last choice could not start.
    pub picker: Option<(usize, Option<String>)>,
    /// Lesson keys for the event loop (it owns the controller).
    pub lesson_requests: Vec<super::lesson_ui::LessonRequest>,
}

/// The question asked before `cmd` changes an observed program's page cache.
pub fn confirm_question(cmd: &Command, pid: u32) -> String {
    let what = match cmd {
        Command::Evict => "evict the file from the page cache",
        Command::Warm => "warm the file (read it all into the page cache)",
        Command::WarmRandom => "warm the file with random 4 KiB reads",
        _ => "do that",
    };
    format!("{what}? It changes PID {pid}'s performance. y: yes, n or Esc: no")
}

/// `ceil(total / 2^zoom)`, at least 1 for a non-empty file.
fn shrink(total: u64, zoom: u32) -> u64 {
    if zoom >= 64 {
        return total.min(1);
    }
    total.div_ceil(1u64 << zoom)
}

impl App {
    pub fn new(snapshot: Snapshot, theme: &'static Theme) -> Self {
        App {
            snapshot,
            zoom: 0,
            pan: 0,
            help: false,
            help_scroll: 0,
            log: false,
            log_scroll: 0,
            offset_input: None,
            offset_error: None,
            selected: None,
            quit: None,
            theme,
            waiting: false,
            cursor: false,
            confirm: None,
            notice: None,
            inspecting: None,
            view: None,
            lesson: None,
            lessons: Vec::new(),
            picker: None,
            lesson_requests: Vec::new(),
        }
    }

    /// Before the first snapshot: the screen shows "starting" until one arrives.
    pub fn waiting(theme: &'static Theme) -> Self {
        App {
            waiting: true,
            ..App::new(Snapshot::default(), theme)
        }
    }

    /// Takes a newer snapshot (the sampler's latest).
    pub fn set_snapshot(&mut self, snapshot: Snapshot) {
        self.snapshot = snapshot;
        self.waiting = false;
    }

    /// The last view computed by [`App::view_request`].
    pub fn view(&self) -> Option<View> {
        self.view
    }

    fn total_pages(&self) -> u64 {
        self.snapshot.file.pages
    }

    /// The range to show in `grid_area` (one cell per terminal cell) at the current zoom and
    /// pan. Clamps zoom (at least one page per cell) and pan (inside the file) to the area.
    pub fn view_request(&mut self, grid_area: Rect) -> Command {
        let total = self.total_pages();
        let cells = u64::from(grid_area.width) * u64::from(grid_area.height);
        if total == 0 || cells == 0 {
            self.zoom = 0;
            self.pan = 0;
            self.view = Some(View {
                cells,
                area: grid_area,
                ..View::default()
            });
            return Command::SetView {
                start_page: 0,
                end_page: 0,
                cells,
            };
        }
        let min_visible = cells.min(total);
        let mut max_zoom = 0;
        while shrink(total, max_zoom) > min_visible {
            max_zoom += 1;
        }
        self.zoom = self.zoom.min(max_zoom);
        let visible = shrink(total, self.zoom).max(min_visible);
        self.pan = self.pan.min(total - visible);
        let view = View {
            start_page: self.pan,
            end_page: self.pan + visible,
            cells,
            area: grid_area,
            max_zoom,
        };
        self.view = Some(view);
        Command::SetView {
            start_page: view.start_page,
            end_page: view.end_page,
            cells,
        }
    }

    /// Handles one key; returns what the session must do. Releases and repeats of
    /// non-navigation keys are ignored so a held key does not flood the worker.
    pub fn handle_key(&mut self, key: KeyEvent) -> Vec<Command> {
        if key.kind == KeyEventKind::Release {
            return vec![];
        }
        if self.offset_input.is_some() {
            return self.offset_key(key);
        }
        self.notice = None;
        if self.confirm.is_some() {
            return self.confirm_key(key);
        }
        if self.picker.is_some() {
            return self.picker_key(key);
        }
        // The layers keys go through, top first: an open overlay over the base mode (the
        // help hides cursor mode; the log does not).
        let base = if self.inspector_shown() {
            Mode::Cursor
        } else {
            Mode::Normal
        };
        // A running comparison: Esc cancels it before it means quit (not in cursor mode,
        // where Esc leaves the cursor first).
        let comparing = matches!(
            self.snapshot.comparison,
            crate::session::snapshot::ComparisonState::Running { .. }
        );
        let mut layers: Vec<Mode> = Vec::with_capacity(4);
        if self.lesson.is_some() {
            layers.push(Mode::Lesson);
        }
        if self.help {
            layers.push(Mode::Help);
        } else if self.log {
            layers.push(Mode::Log);
        }
        let base = if self.help { Mode::Normal } else { base };
        if comparing && base == Mode::Normal {
            layers.push(Mode::Comparing);
        }
        let measuring = matches!(
            self.snapshot.tlb.measurement,
            crate::session::snapshot::TlbMeasureState::Running { .. }
        );
        if measuring && base == Mode::Normal {
            layers.push(Mode::MeasuringTlb);
        }
        layers.push(base);
        let Some(k) = Key::of(&key) else {
            return vec![];
        };
        let Some(action) = keymap::lookup_layers(k, &layers) else {
            return vec![];
        };
        let cmd = match action {
            Action::Pattern => match k {
                Key::Char(c) => {
                    PatternKind::from_key(c).map(|p| Command::SetPattern { pattern: p })
                }
                _ => None,
            },
            Action::TogglePause => Some(Command::TogglePause),
            Action::Step => Some(Command::Step),
            Action::Slower => Some(Command::Slower),
            Action::Faster => Some(Command::Faster),
            Action::Evict | Action::Warm | Action::WarmRandom => {
                let cmd = match action {
                    Action::Evict => Command::Evict,
                    Action::Warm => Command::Warm,
                    _ => Command::WarmRandom,
                };
                if self.snapshot.observed.is_some() {
                    // Another program's page cache: ask first.
                    self.confirm = Some(cmd);
                    None
                } else {
                    Some(cmd)
                }
            }
            Action::NextFile => {
                if self.snapshot.observed.is_some() {
                    Some(Command::NextFile)
                } else {
                    self.notice = Some(
                        "f switches files only while observing a program (mmviz attach / exec)"
                            .into(),
                    );
                    None
                }
            }
            // Only reached through the Confirm layer (confirm_key).
            Action::Confirm | Action::Decline => None,
            Action::CycleAdvice => Some(Command::CycleAdvice),
            Action::Reset => Some(Command::Reset),
            Action::Compare => Some(Command::Compare),
            Action::CancelCompare => Some(Command::CancelCompare),
            Action::MeasureTlb => Some(Command::MeasureTlb {
                max_working_set: None,
            }),
            Action::CancelTlb => Some(Command::CancelTlb),
            // The event loop suspends on Ctrl-Z before keys reach the App.
            Action::Suspend => None,
            Action::CycleCompareCache => Some(Command::CycleCompareCache),
            Action::MsyncSync => Some(Command::Msync { sync: true }),
            Action::MsyncAsync => Some(Command::Msync { sync: false }),
            Action::AddWorkload => Some(Command::AddWorkload),
            Action::RemoveWorkload => Some(Command::RemoveWorkload),
            Action::SelectNextWorkload => Some(Command::SelectNextWorkload),
            Action::CycleWriteMode => Some(Command::CycleWriteMode),
            Action::OpenLog => {
                self.log = true;
                self.log_scroll = 0;
                self.help = false;
                None
            }
            Action::ZoomIn => {
                self.zoom_in();
                None
            }
            Action::ZoomOut => {
                self.zoom_out();
                None
            }
            Action::ToggleHelp => {
                self.help = !self.help;
                self.help_scroll = 0;
                self.log = false;
                None
            }
            Action::Quit => return self.quit_with(ExitKind::Normal),
            Action::Interrupt => return self.quit_with(ExitKind::Interrupted),
            Action::PanUp => self.pan_by(-(self.row_pages() as i128)),
            Action::PanDown => self.pan_by(self.row_pages() as i128),
            Action::PanLeft => self.pan_by(-(self.cell_pages() as i128)),
            Action::PanRight => self.pan_by(self.cell_pages() as i128),
            Action::PanPageUp => self.pan_by(-(self.screen_pages() as i128)),
            Action::PanPageDown => self.pan_by(self.screen_pages() as i128),
            Action::PanHome => {
                self.pan = 0;
                None
            }
            Action::PanEnd => {
                self.pan = self.total_pages();
                None
            }
            Action::ScrollUp
            | Action::ScrollDown
            | Action::ScrollPageUp
            | Action::ScrollPageDown
            | Action::ScrollHome
            | Action::ScrollEnd
            | Action::CloseOverlay => {
                self.overlay_action(action);
                None
            }
            Action::ToggleCursor
            | Action::CursorLeft
            | Action::CursorRight
            | Action::CursorUp
            | Action::CursorDown
            | Action::CursorLeave
            | Action::CursorRead
            | Action::CursorOffset => return self.cursor_action(action),
            Action::LessonNext
            | Action::LessonPrev
            | Action::LessonAccess
            | Action::OpenPicker
            | Action::PickerUp
            | Action::PickerDown
            | Action::PickerChoose
            | Action::PickerClose => return self.lesson_action(action),
        };
        cmd.into_iter().collect()
    }

    /// A question waits: y does it, n or Esc declines; any other key repeats the question.
    fn confirm_key(&mut self, key: KeyEvent) -> Vec<Command> {
        let action = Key::of(&key).and_then(|k| keymap::lookup(k, Mode::Confirm));
        match action {
            Some(Action::Confirm) => self.confirm.take().into_iter().collect(),
            Some(Action::Decline) => {
                let what = match self.confirm.take() {
                    Some(Command::Evict) => "not evicted",
                    _ => "not warmed",
                };
                self.notice = Some(format!("{what}: the page cache is as it was"));
                vec![]
            }
            _ => {
                if matches!(Key::of(&key), Some(Key::Ctrl('c'))) {
                    return self.quit_with(ExitKind::Interrupted);
                }
                vec![]
            }
        }
    }

    /// Typing an offset (`o` in cursor mode): characters of a number, Backspace, Enter
    /// inspects it (the cursor jumps to its page), Esc cancels.
    fn offset_key(&mut self, key: KeyEvent) -> Vec<Command> {
        let Some(buf) = self.offset_input.as_mut() else {
            return vec![];
        };
        match key.code {
            crossterm::event::KeyCode::Esc => self.offset_input = None,
            crossterm::event::KeyCode::Backspace => {
                buf.pop();
            }
            crossterm::event::KeyCode::Char(c) if c.is_ascii_alphanumeric() && buf.len() < 24 => {
                buf.push(c)
            }
            crossterm::event::KeyCode::Enter => match crate::inspect::parse_offset(buf.trim()) {
                Ok(off) if off < self.snapshot.file.size_bytes => {
                    self.offset_input = None;
                    self.offset_error = None;
                    let ps = self.snapshot.file.page_size.max(1);
                    let page = off / ps;
                    self.selected = Some(page);
                    self.cursor = true;
                    self.inspecting = Some(page);
                    // Keep the page on screen.
                    if let Some(v) = self.view {
                        if page < v.start_page || page >= v.end_page {
                            self.pan = page;
                        }
                    }
                    return vec![Command::InspectOffset { offset: off }];
                }
                Ok(off) => {
                    self.offset_error = Some(format!(
                        "{off} is past the end ({} bytes)",
                        self.snapshot.file.size_bytes
                    ))
                }
                Err(e) => self.offset_error = Some(e),
            },
            _ => {}
        }
        if self.offset_input.is_none() {
            self.offset_error = None;
        }
        vec![]
    }

    /// While the help or the log overlay is open, the arrows and page keys scroll it and
    /// Esc (or its own key) closes it; every other key works as usual (the keymap's overlay
    /// layer).
    fn overlay_action(&mut self, action: Action) {
        if !self.help && !self.log {
            return;
        }
        let scroll = if self.help {
            &mut self.help_scroll
        } else {
            &mut self.log_scroll
        };
        // The log scrolls up from the newest line; help down from the top.
        let dir: i32 = if self.help { 1 } else { -1 };
        let by = match action {
            Action::ScrollUp => -dir,
            Action::ScrollDown => dir,
            Action::ScrollPageUp => -10 * dir,
            Action::ScrollPageDown => 10 * dir,
            Action::ScrollHome => {
                *scroll = if self.help { 0 } else { u16::MAX / 2 };
                return;
            }
            Action::ScrollEnd => {
                *scroll = if self.help { u16::MAX / 2 } else { 0 };
                return;
            }
            Action::CloseOverlay => {
                self.help = false;
                self.log = false;
                return;
            }
            _ => return,
        };
        *scroll = (*scroll as i32 + by).clamp(0, u16::MAX as i32 / 2) as u16;
    }

    /// Left click selects a cell (its pages show under the grid); the wheel zooms.
    pub fn handle_mouse(&mut self, m: MouseEvent) -> Vec<Command> {
        match m.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                self.selected = self.page_at(m.column, m.row);
            }
            MouseEventKind::ScrollUp => self.zoom_in(),
            MouseEventKind::ScrollDown => self.zoom_out(),
            _ => {}
        }
        vec![]
    }

    /// The first page of the cell drawn at screen position (x, y), from the snapshot's grid
    /// (what is on screen), if a cell is there.
    pub fn page_at(&self, x: u16, y: u16) -> Option<u64> {
        let area = self.view?.area;
        if !area.contains(Position { x, y }) {
            return None;
        }
        let idx = u64::from(y - area.y) * u64::from(area.width) + u64::from(x - area.x);
        let g = &self.snapshot.grid;
        if idx >= g.cells.len() as u64 || g.cells[idx as usize].pages == 0 {
            return None;
        }
        Some(g.start_page + idx * g.pages_per_cell.max(1))
    }

    /// Whether the inspector panel shows: in cursor mode, or when a clicked page is one cell
    /// (at coarser zoom a click shows the cell's counts under the grid, as before).
    pub fn inspector_shown(&self) -> bool {
        self.cursor || (self.selected.is_some() && self.cell_pages() == 1)
    }

    /// Actions of cursor mode (`i` enters it; arrows, Enter and Esc act while the panel
    /// shows: the keymap's cursor layer).
    fn cursor_action(&mut self, action: Action) -> Vec<Command> {
        if action == Action::ToggleCursor {
            self.cursor = !self.cursor;
            if self.cursor && self.selected.is_none() {
                self.selected = self.view.map(|v| {
                    let ppc = v.pages_per_cell();
                    v.start_page + (v.pages() / 2) / ppc * ppc
                });
            }
            if !self.cursor {
                self.selected = None;
            }
            return vec![];
        }
        let step = |a: &Self, cells: i128| cells * a.cell_pages() as i128;
        let delta = match action {
            Action::CursorLeft => step(self, -1),
            Action::CursorRight => step(self, 1),
            Action::CursorUp => -(self.row_pages() as i128),
            Action::CursorDown => self.row_pages() as i128,
            Action::CursorLeave => {
                self.cursor = false;
                self.selected = None;
                return vec![];
            }
            Action::CursorOffset => {
                self.offset_input = Some(String::new());
                return vec![];
            }
            Action::CursorRead => {
                let page = self.selected.filter(|_| self.cell_pages() == 1);
                self.inspecting = page;
                return page
                    .map(|p| Command::Inspect {
                        page: Some(p),
                        read: true,
                    })
                    .into_iter()
                    .collect();
            }
            _ => return vec![],
        };
        let total = self.total_pages();
        let cur = i128::from(self.selected.unwrap_or(self.pan));
        let next = (cur + delta).clamp(0, i128::from(total.saturating_sub(1))) as u64;
        self.selected = Some(next);
        // Keep the cursor on screen: scroll by the same amount when it leaves the view.
        if let Some(v) = self.view {
            if next < v.start_page || next >= v.end_page {
                self.pan_by(delta);
            }
        }
        vec![]
    }

    /// The `Command::Inspect` the session needs now, if the inspected page changed: the
    /// selected page while the panel shows at one page per cell, else none. Call after
    /// [`App::view_request`] (the zoom decides the pages per cell).
    pub fn inspect_request(&mut self) -> Option<Command> {
        let want = self
            .selected
            .filter(|_| self.inspector_shown() && self.cell_pages() == 1);
        if want == self.inspecting {
            return None;
        }
        self.inspecting = want;
        Some(Command::Inspect {
            page: want,
            read: false,
        })
    }

    pub(super) fn quit_with(&mut self, kind: ExitKind) -> Vec<Command> {
        self.quit = Some(kind);
        vec![Command::Quit]
    }

    fn cell_pages(&self) -> u64 {
        self.view.map_or(1, |v| v.pages_per_cell())
    }
    fn row_pages(&self) -> u64 {
        self.view
            .map_or(1, |v| v.pages_per_cell() * u64::from(v.area.width.max(1)))
    }
    fn screen_pages(&self) -> u64 {
        self.view.map_or(1, |v| v.pages().max(1))
    }

    fn pan_by(&mut self, delta: i128) -> Option<Command> {
        let p = (i128::from(self.pan) + delta).clamp(0, i128::from(self.total_pages()));
        self.pan = p as u64;
        None
    }

    /// Zooms in around the selected page if any, else around the middle of the view.
    fn zoom_in(&mut self) {
        let total = self.total_pages();
        let (max_zoom, start, len) = match self.view {
            Some(v) if v.cells > 0 => (v.max_zoom, v.start_page, v.pages()),
            _ => (64, 0, total),
        };
        if self.zoom >= max_zoom {
            return;
        }
        let focus = self
            .selected
            .filter(|p| (start..start + len).contains(p))
            .unwrap_or(start + len / 2);
        self.zoom += 1;
        let visible = shrink(total, self.zoom);
        self.pan = focus.saturating_sub(visible / 2);
    }

    fn zoom_out(&mut self) {
        if self.zoom == 0 {
            return;
        }
        let total = self.total_pages();
        let (start, len) = self.view.map_or((0, total), |v| (v.start_page, v.pages()));
        self.zoom -= 1;
        let visible = shrink(total, self.zoom);
        self.pan = (start + len / 2).saturating_sub(visible / 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::fixture::fixture_snapshot;
    use crate::tui::theme::COLOR;
    use crate::workload::patterns::PatternKind;
    use crossterm::event::{KeyCode, KeyModifiers};

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }
    fn app_with_pages(pages: u64) -> App {
        let mut s = fixture_snapshot();
        s.file.pages = pages;
        s.file.size_bytes = pages * 4096;
        App::new(s, &COLOR)
    }
    fn view(cmd: Command) -> (u64, u64, u64) {
        match cmd {
            Command::SetView {
                start_page,
                end_page,
                cells,
            } => (start_page, end_page, cells),
            other => panic!("not a view: {other:?}"),
        }
    }

    #[test]
    fn keys_send_commands() {
        let table = [
            (KeyCode::Char(' '), Command::TogglePause),
            (KeyCode::Char('n'), Command::Step),
            (KeyCode::Char('['), Command::Slower),
            (KeyCode::Char(']'), Command::Faster),
            (KeyCode::Char('e'), Command::Evict),
            (KeyCode::Char('w'), Command::Warm),
            (KeyCode::Char('W'), Command::WarmRandom),
            (KeyCode::Char('a'), Command::CycleAdvice),
            (KeyCode::Char('r'), Command::Reset),
            (KeyCode::Char('c'), Command::Compare),
        ];
        for (code, want) in table {
            let mut app = app_with_pages(65536);
            assert_eq!(app.handle_key(key(code)), vec![want], "{code:?}");
            assert_eq!(app.quit, None);
        }
    }

    #[test]
    fn digit_keys_pick_patterns() {
        let want = [
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
        let mut app = app_with_pages(65536);
        for (i, p) in want.into_iter().enumerate() {
            let c = char::from(b'1' + i as u8);
            assert_eq!(
                app.handle_key(key(KeyCode::Char(c))),
                vec![Command::SetPattern { pattern: p }]
            );
        }
        assert!(app.handle_key(key(KeyCode::Char('0'))).is_empty());
    }

    #[test]
    fn esc_cancels_a_running_comparison_before_it_quits() {
        let mut app = app_with_pages(10);
        app.snapshot.comparison = crate::session::snapshot::ComparisonState::Running {
            progress: 0.3,
            method: "pread".into(),
        };
        assert_eq!(
            app.handle_key(key(KeyCode::Esc)),
            vec![Command::CancelCompare]
        );
        assert_eq!(app.quit, None);
        app.snapshot.comparison = crate::session::snapshot::ComparisonState::Idle;
        assert_eq!(app.handle_key(key(KeyCode::Esc)), vec![Command::Quit]);
    }

    #[test]
    fn quit_keys() {
        for (k, kind) in [
            (key(KeyCode::Char('q')), ExitKind::Normal),
            (key(KeyCode::Esc), ExitKind::Normal),
            (
                KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL),
                ExitKind::Interrupted,
            ),
        ] {
            let mut app = app_with_pages(10);
            assert_eq!(app.handle_key(k), vec![Command::Quit]);
            assert_eq!(app.quit, Some(kind));
        }
        assert_eq!(ExitKind::Interrupted.code(), 130);
        assert_eq!(ExitKind::HungUp.code(), 129);
        assert_eq!(ExitKind::Quit.code(), 131);
        assert_eq!(ExitKind::Terminated.code(), 143);
    }

    #[test]
    fn help_toggles_and_esc_closes_it_first() {
        let mut app = app_with_pages(10);
        assert!(app.handle_key(key(KeyCode::Char('?'))).is_empty());
        assert!(app.help);
        assert!(app.handle_key(key(KeyCode::Char('?'))).is_empty());
        assert!(!app.help);
        app.handle_key(key(KeyCode::Char('?')));
        assert!(app.handle_key(key(KeyCode::Esc)).is_empty());
        assert!(!app.help);
        assert_eq!(app.quit, None);
        assert_eq!(app.handle_key(key(KeyCode::Esc)), vec![Command::Quit]);
    }

    #[test]
    fn releases_and_other_ctrl_keys_do_nothing() {
        let mut app = app_with_pages(10);
        let mut k = key(KeyCode::Char('e'));
        k.kind = KeyEventKind::Release;
        assert!(app.handle_key(k).is_empty());
        let ctrl_e = KeyEvent::new(KeyCode::Char('e'), KeyModifiers::CONTROL);
        assert!(app.handle_key(ctrl_e).is_empty());
        assert_eq!(app.quit, None);
    }

    #[test]
    fn zoom_halves_the_range_down_to_one_page_per_cell() {
        let mut app = app_with_pages(65536);
        let area = Rect::new(0, 0, 64, 16); // 1024 cells
        assert_eq!(view(app.view_request(area)), (0, 65536, 1024));
        app.handle_key(key(KeyCode::Char('+')));
        let (s, e, _) = view(app.view_request(area));
        assert_eq!(e - s, 32768);
        assert_eq!(s, 16384, "zoom keeps the middle in view");
        app.handle_key(key(KeyCode::Char('=')));
        let (s, e, _) = view(app.view_request(area));
        assert_eq!(e - s, 16384);
        for _ in 0..20 {
            app.handle_key(key(KeyCode::Char('+')));
            app.view_request(area);
        }
        let (s, e, _) = view(app.view_request(area));
        assert_eq!(e - s, 1024, "never less than one page per cell");
        assert_eq!(app.zoom, 6);
        app.handle_key(key(KeyCode::Char('-')));
        let (s2, e2, _) = view(app.view_request(area));
        assert_eq!(e2 - s2, 2048);
        assert!(s2 <= s && e2 >= e);
        for _ in 0..10 {
            app.handle_key(key(KeyCode::Char('-')));
        }
        assert_eq!(view(app.view_request(area)), (0, 65536, 1024));
    }

    #[test]
    fn pan_keys_move_and_clamp_to_the_file() {
        let mut app = app_with_pages(65536);
        let area = Rect::new(0, 0, 64, 16);
        app.view_request(area);
        // Whole file shown: panning cannot move it.
        app.handle_key(key(KeyCode::Down));
        assert_eq!(view(app.view_request(area)).0, 0);
        app.zoom = 2; // 16384 pages, 16 per cell, 1024 per row
        app.view_request(area);
        app.handle_key(key(KeyCode::Down));
        assert_eq!(view(app.view_request(area)).0, 1024);
        app.handle_key(key(KeyCode::Right));
        assert_eq!(view(app.view_request(area)).0, 1040);
        app.handle_key(key(KeyCode::Left));
        app.handle_key(key(KeyCode::Up));
        assert_eq!(view(app.view_request(area)).0, 0);
        app.handle_key(key(KeyCode::Up));
        assert_eq!(view(app.view_request(area)).0, 0);
        app.handle_key(key(KeyCode::PageDown));
        assert_eq!(view(app.view_request(area)).0, 16384);
        app.handle_key(key(KeyCode::PageUp));
        assert_eq!(view(app.view_request(area)).0, 0);
        app.handle_key(key(KeyCode::End));
        assert_eq!(view(app.view_request(area)), (49152, 65536, 1024));
        app.handle_key(key(KeyCode::PageDown));
        assert_eq!(view(app.view_request(area)), (49152, 65536, 1024));
        app.handle_key(key(KeyCode::Home));
        assert_eq!(view(app.view_request(area)), (0, 16384, 1024));
    }

    #[test]
    fn huge_and_empty_files() {
        // 1 TiB sparse file: 268M pages.
        let mut app = app_with_pages(1 << 28);
        let area = Rect::new(0, 0, 100, 30);
        let (s, e, cells) = view(app.view_request(area));
        assert_eq!((s, e, cells), (0, 1 << 28, 3000));
        for _ in 0..40 {
            app.handle_key(key(KeyCode::Char('+')));
            app.view_request(area);
        }
        let (s, e, _) = view(app.view_request(area));
        assert_eq!(e - s, 3000);
        app.handle_key(key(KeyCode::End));
        assert_eq!(view(app.view_request(area)).1, 1 << 28);

        let mut empty = app_with_pages(0);
        for code in [
            KeyCode::Char('+'),
            KeyCode::End,
            KeyCode::Down,
            KeyCode::PageDown,
        ] {
            empty.handle_key(key(code));
            assert_eq!(view(empty.view_request(area)), (0, 0, 3000));
        }
        // A zero-sized area (terminal too small) asks for nothing.
        assert_eq!(view(app.view_request(Rect::default())), (0, 0, 0));
    }

    #[test]
    fn clicks_select_the_cell_under_the_mouse() {
        let mut app = App::new(fixture_snapshot(), &COLOR);
        let g = app.snapshot.grid.clone();
        let area = Rect::new(2, 3, 32, 32);
        app.view_request(area);
        let click = |x, y| MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: x,
            row: y,
            modifiers: KeyModifiers::NONE,
        };
        assert!(app.handle_mouse(click(2 + 5, 3 + 1)).is_empty());
        assert_eq!(app.selected, Some(g.start_page + 37 * g.pages_per_cell));
        app.handle_mouse(click(0, 0));
        assert_eq!(app.selected, None);
        let wheel = MouseEvent {
            kind: MouseEventKind::ScrollUp,
            ..click(5, 5)
        };
        app.handle_mouse(wheel);
        assert_eq!(app.zoom, 1);
    }

    #[test]
    fn cursor_mode_moves_a_page_cursor_and_asks_the_session() {
        let mut app = app_with_pages(65536);
        let area = Rect::new(0, 0, 64, 16); // 1024 cells
        app.view_request(area);
        // At the whole-file zoom (64 pages per cell) `i` shows the cell, asks nothing.
        assert!(app.handle_key(key(KeyCode::Char('i'))).is_empty());
        assert!(app.cursor && app.inspector_shown());
        assert_eq!(app.selected, Some(32768));
        assert_eq!(app.inspect_request(), None);
        app.handle_key(key(KeyCode::Right));
        assert_eq!(app.selected, Some(32768 + 64), "one cell");
        // Zoom to one page per cell around the cursor: now the session is asked.
        for _ in 0..10 {
            app.handle_key(key(KeyCode::Char('+')));
            app.view_request(area);
        }
        let p = 32768 + 64;
        assert_eq!(
            app.inspect_request(),
            Some(Command::Inspect {
                page: Some(p),
                read: false
            })
        );
        assert_eq!(app.inspect_request(), None, "sent once");
        app.handle_key(key(KeyCode::Left));
        assert_eq!(app.selected, Some(p - 1), "one page per cell: one page");
        app.handle_key(key(KeyCode::Down));
        assert_eq!(app.selected, Some(p - 1 + 64), "one row");
        app.view_request(area);
        assert!(matches!(
            app.inspect_request(),
            Some(Command::Inspect { page: Some(x), read: false }) if x == p - 1 + 64
        ));
        // Enter reads the page on purpose.
        assert_eq!(
            app.handle_key(key(KeyCode::Enter)),
            vec![Command::Inspect {
                page: Some(p - 1 + 64),
                read: true
            }]
        );
        // Esc leaves cursor mode (it does not quit) and stops the inspection.
        assert!(app.handle_key(key(KeyCode::Esc)).is_empty());
        assert_eq!(app.quit, None);
        assert!(!app.cursor && app.selected.is_none() && !app.inspector_shown());
        assert_eq!(
            app.inspect_request(),
            Some(Command::Inspect {
                page: None,
                read: false
            })
        );
        // Out of cursor mode the arrows pan again.
        let pan = app.pan;
        app.handle_key(key(KeyCode::Right));
        assert_eq!(app.pan, pan + 1);
    }

    #[test]
    fn o_in_cursor_mode_takes_a_typed_offset() {
        let mut app = app_with_pages(65536);
        app.view_request(Rect::new(0, 0, 64, 16));
        app.handle_key(key(KeyCode::Char('i')));
        assert!(app.handle_key(key(KeyCode::Char('o'))).is_empty());
        assert_eq!(app.offset_input.as_deref(), Some(""));
        // While typing, keys are text: 'q' does not quit, 'e' does not evict.
        for c in "zz".chars() {
            assert!(app.handle_key(key(KeyCode::Char(c))).is_empty());
        }
        assert!(app.handle_key(key(KeyCode::Enter)).is_empty());
        assert!(app.offset_error.is_some(), "a bad offset is refused");
        app.handle_key(key(KeyCode::Backspace));
        app.handle_key(key(KeyCode::Backspace));
        for c in "0x1003e8".chars() {
            app.handle_key(key(KeyCode::Char(c)));
        }
        assert_eq!(
            app.handle_key(key(KeyCode::Enter)),
            vec![Command::InspectOffset { offset: 0x1003e8 }]
        );
        assert_eq!(app.selected, Some(0x1003e8 / 4096));
        assert!(app.offset_input.is_none() && app.offset_error.is_none());
        // Past the end: refused, said; Esc cancels typing without leaving cursor mode.
        app.handle_key(key(KeyCode::Char('o')));
        for c in "1TiB".chars() {
            app.handle_key(key(KeyCode::Char(c)));
        }
        assert!(app.handle_key(key(KeyCode::Enter)).is_empty());
        assert!(app
            .offset_error
            .as_deref()
            .unwrap()
            .contains("past the end"));
        app.handle_key(key(KeyCode::Esc));
        assert!(app.offset_input.is_none() && app.cursor && app.quit.is_none());
    }

    #[test]
    fn cursor_scrolls_the_view_and_stays_in_the_file() {
        let mut app = app_with_pages(4096);
        let area = Rect::new(0, 0, 64, 16);
        app.zoom = 2; // 1024 pages: one per cell
        app.view_request(area);
        app.handle_key(key(KeyCode::Char('i')));
        app.selected = Some(1023);
        app.handle_key(key(KeyCode::Right));
        assert_eq!(app.selected, Some(1024));
        assert_eq!(view(app.view_request(area)).0, 1, "scrolled by one page");
        app.selected = Some(4095);
        app.handle_key(key(KeyCode::Down));
        assert_eq!(app.selected, Some(4095), "clamped to the last page");
        app.selected = Some(3);
        app.handle_key(key(KeyCode::Up));
        assert_eq!(app.selected, Some(0));
    }

    #[test]
    fn observing_evict_and_warm_wait_for_y() {
        let mut app = App::new(crate::session::fixture::fixture_observed(false), &COLOR);
        for (c, want) in [
            ('e', Command::Evict),
            ('w', Command::Warm),
            ('W', Command::WarmRandom),
        ] {
            assert!(app.handle_key(key(KeyCode::Char(c))).is_empty(), "{c}");
            assert_eq!(app.confirm, Some(want.clone()));
            // Modal: other keys (even q, and n's usual step) do not act meanwhile.
            assert!(app.handle_key(key(KeyCode::Char('q'))).is_empty());
            assert!(app.handle_key(key(KeyCode::Char('1'))).is_empty());
            assert_eq!(app.quit, None);
            assert_eq!(app.handle_key(key(KeyCode::Char('y'))), vec![want]);
            assert_eq!(app.confirm, None);
        }
        for decline in [KeyCode::Char('n'), KeyCode::Esc] {
            app.handle_key(key(KeyCode::Char('e')));
            assert!(app.handle_key(key(decline)).is_empty());
            assert_eq!(app.confirm, None);
            assert_eq!(app.quit, None, "Esc declines, it does not quit");
            assert!(app.notice.as_deref().unwrap().contains("not evicted"));
        }
        // The notice lasts until the next key.
        app.handle_key(key(KeyCode::Char('+')));
        assert_eq!(app.notice, None);
        // Ctrl-C still quits from the question.
        app.handle_key(key(KeyCode::Char('e')));
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(app.handle_key(ctrl_c), vec![Command::Quit]);
        assert_eq!(app.quit, Some(ExitKind::Interrupted));
    }

    #[test]
    fn f_switches_files_only_while_observing() {
        let mut app = App::new(crate::session::fixture::fixture_observed(false), &COLOR);
        assert_eq!(
            app.handle_key(key(KeyCode::Char('f'))),
            vec![Command::NextFile]
        );
        let mut app = app_with_pages(10);
        assert!(app.handle_key(key(KeyCode::Char('f'))).is_empty());
        assert!(app
            .notice
            .as_deref()
            .unwrap()
            .contains("only while observing"));
        // Without observing, evict needs no question.
        assert_eq!(
            app.handle_key(key(KeyCode::Char('e'))),
            vec![Command::Evict]
        );
    }
}
