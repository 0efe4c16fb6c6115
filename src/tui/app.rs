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
mod tests;
