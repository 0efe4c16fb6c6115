//! The terminal UI: renders [`Snapshot`]s, turns keys into [`Command`]s.
//!
//! Shaped like ratatui's demo2: an [`App`] with pure state, `impl Widget for &App` for the
//! whole screen with named layout areas, one theme, `ratatui::init`/`restore`. The sampler
//! runs elsewhere and sends owned snapshots over a channel (as in bottom); this module reads
//! no clock and no /proc, so every screen renders the same in a test.

pub mod app;
pub mod asciicast;
#[doc(hidden)]
pub mod format;
pub mod keymap;
pub mod lesson_ui;
pub mod replay;
pub mod svg;
pub mod theme;
pub mod widgets;

pub use app::{App, ExitKind, View};
pub use theme::Theme;

use crate::session::snapshot::{Command, Snapshot};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::Widget;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::time::Duration;
use widgets::{
    comparison::Comparison, faults::Faults, footer::Footer, grid::Grid, header::Header, help::Help,
    tlb::Tlb, too_small::TooSmall, workers::Workers,
};

/// Below this the screen only asks for a bigger terminal.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;

/// The named areas of the screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Areas {
    pub header: Rect,
    pub grid: Rect,
    /// The worker panel (address space, descriptor; several workers side by side).
    pub workers: Rect,
    pub faults: Rect,
    /// The access-latency histogram (zero height when there is no room or no data).
    pub latency: Rect,
    pub tlb: Rect,
    pub comparison: Rect,
    /// Under the grid while grep or bsearch runs (zero height otherwise).
    pub search: Rect,
    /// The lesson's narrative panel (zero outside lessons).
    pub lesson: Rect,
    pub footer: Rect,
    /// Short screen: side panels drop their explanation lines.
    pub compact: bool,
    /// Per panel: drawn without its explanation lines.
    pub latency_compact: bool,
    pub tlb_compact: bool,
    pub comparison_compact: bool,
}

/// The latency panel for one interval's histogram.
fn latency_widget<'a>(
    l: &'a crate::session::snapshot::LatencyView,
    theme: &'a Theme,
    compact: bool,
) -> widgets::latency::Latency<'a> {
    widgets::latency::Latency {
        hist: &l.hist,
        minor: l.minor,
        major: l.major,
        interval_ms: l.interval_ms,
        theme,
        compact,
    }
}

impl App {
    /// The screen layout for `area`, or None when the terminal is too small.
    pub fn areas(&self, area: Rect) -> Option<Areas> {
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            return None;
        }
        let s = &self.snapshot;
        let search_h = s
            .search
            .as_ref()
            .map_or(0, |v| widgets::search::Search::height(v, area.height));
        let [header, main, search, footer] = Layout::vertical([
            Constraint::Length(Header::height(s)),
            Constraint::Fill(1),
            Constraint::Length(search_h),
            Constraint::Length(Footer::height_with(
                s,
                self.footer_line().as_deref(),
                area.width,
            )),
        ])
        .areas(area);
        let side_w = match (area.width, self.lesson.is_some()) {
            (140.., false) => 48,
            (100.., false) => 42,
            (_, false) => 34,
            (140.., true) => 54,
            (100.., true) => 46,
            (_, true) => 36,
        };
        let [grid, side] =
            Layout::horizontal([Constraint::Fill(1), Constraint::Length(side_w)]).areas(main);
        if self.lesson.is_some() {
            // A lesson: its panel replaces the side column; the fault counters stay below it
            // where the screen is tall enough for both.
            let faults_h = if side.height >= 32 { 14 } else { 0 };
            let [lesson, faults] =
                Layout::vertical([Constraint::Fill(1), Constraint::Length(faults_h)]).areas(side);
            let none = Rect::new(side.x, side.bottom(), side.width, 0);
            return Some(Areas {
                header,
                grid,
                workers: none,
                faults,
                latency: none,
                tlb: none,
                comparison: none,
                search,
                lesson,
                footer,
                compact: true,
                latency_compact: true,
                tlb_compact: true,
                comparison_compact: true,
            });
        }
        // The worker panel on top of the side column. With one worker the fault counters
        // keep every row they had without it (on 80x24 the panel gives way); with several
        // the panel holds the side-by-side counts, and the selected worker's fault panel
        // below may drop its explanations.
        let keep = if s.workloads.len() > 1 { 8 } else { 19 };
        let workers_h = Workers::height(s, side_w).min(side.height.saturating_sub(keep));
        let workers_h = if workers_h < 3 { 0 } else { workers_h };
        let [workers, side] =
            Layout::vertical([Constraint::Length(workers_h), Constraint::Fill(1)]).areas(side);
        // Short screens: panels drop their explanations so the counters keep their room.
        let compact = main.height < 30;
        let tlb_w = |compact| Tlb {
            tlb: &s.tlb,
            theme: self.theme,
            compact,
        };
        let cmp_w = |compact| Comparison {
            state: &s.comparison,
            theme: self.theme,
            compact,
            cache: s.compare_cache,
        };
        let lat_h = |compact| {
            s.tlb
                .latency
                .as_ref()
                .map_or(0, |l| latency_widget(l, self.theme, compact).height(side_w))
        };
        // The fault counters keep their rows (counters, interval, cached / mapped / touched,
        // read ahead). On tall screens the latency histogram comes next: the other panels
        // drop their explanations first, then the TLB panel goes. On short screens (80x24 is
        // a first-class size: many projectors) the latency panel gives way first, then the
        // TLB panel, then the comparison shrinks to its verdict.
        const FAULTS_MIN: u16 = 14;
        let room = side.height.saturating_sub(FAULTS_MIN);
        // While the `t` measurement runs or shows its result, the TLB panel is what the
        // user asked for: it comes right after the counters, the others take what is left.
        let measuring = s.tlb.measurement != crate::session::snapshot::TlbMeasureState::Idle;
        // Each try: per panel (latency, tlb, comparison) None = hidden, Some(compact).
        type Try = (Option<bool>, Option<bool>, Option<bool>);
        const F: Option<bool> = Some(false);
        const C: Option<bool> = Some(true);
        let observing = s.observed.is_some();
        let tries: &[Try] = match (measuring, compact) {
            // Observing a program: no workload of ours to time, compare or measure.
            _ if observing => &[(None, None, None)],
            (true, false) => &[
                (F, F, F),
                (C, F, F),
                (C, F, C),
                (None, F, C),
                (None, F, None),
                (None, C, C),
                (None, C, None),
            ],
            (true, true) => &[(None, C, C), (None, C, None)],
            (false, false) => &[(F, F, F), (C, F, F), (C, F, C), (C, C, C), (C, None, C)],
            (false, true) => &[],
        };
        let h = |p: Option<bool>, f: &dyn Fn(bool) -> u16| p.map_or(0, f);
        // (latency compact, latency height, tlb compact, tlb height, cmp compact, cmp height)
        let plan = tries.iter().find_map(|&(l, t, c)| {
            if l.is_some() && s.tlb.latency.is_none() {
                return None;
            }
            let lh = h(l, &lat_h);
            let th = h(t, &|c| tlb_w(c).height(side_w));
            let ch = h(c, &|c| cmp_w(c).height(side_w));
            (lh + th + ch <= room).then_some((
                l.unwrap_or(true),
                lh,
                t.unwrap_or(true),
                th,
                c.unwrap_or(true),
                ch,
            ))
        });
        let (lat_compact, lat_h, tlb_compact, tlb_h, cmp_compact, cmp_h) =
            plan.unwrap_or_else(|| {
                let mut tlb_h = tlb_w(compact).height(side_w);
                let mut cmp_h = cmp_w(compact).height(side_w);
                if tlb_h + cmp_h > room {
                    tlb_h = 0;
                }
                if tlb_h + cmp_h > room {
                    cmp_h = room.max(3).min(cmp_h);
                }
                (true, 0, compact, tlb_h, compact, cmp_h)
            });
        let [faults, latency, tlb, comparison] = Layout::vertical([
            Constraint::Min(6),
            Constraint::Length(lat_h),
            Constraint::Length(tlb_h),
            Constraint::Length(cmp_h),
        ])
        .areas(side);
        Some(Areas {
            header,
            grid,
            workers,
            faults,
            latency,
            tlb,
            comparison,
            search,
            lesson: Rect::new(side.x, side.bottom(), side.width, 0),
            footer,
            compact,
            latency_compact: lat_compact,
            tlb_compact,
            comparison_compact: cmp_compact,
        })
    }

    /// Where the grid's cells go on a screen of `area` (empty when too small): the input of
    /// [`App::view_request`].
    pub fn grid_cells_area(&self, area: Rect) -> Rect {
        self.areas(area).map_or(Rect::default(), |a| {
            Grid::cells_area(a.grid, &self.snapshot, self.theme)
        })
    }
}

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        let (s, theme) = (&self.snapshot, self.theme);
        buf.set_style(area, theme.screen);
        if self.waiting {
            let msg = "mmviz: starting the worker and taking the first sample…  (q quits)";
            let y = area.y + area.height / 2;
            Line::styled(msg, theme.title).centered().render(
                Rect {
                    y,
                    height: area.height.min(1),
                    ..area
                },
                buf,
            );
            return;
        }
        let Some(a) = self.areas(area) else {
            TooSmall {
                min_width: MIN_WIDTH,
                min_height: MIN_HEIGHT,
                theme,
            }
            .render(area, buf);
            return;
        };
        Header { snapshot: s, theme }.render(a.header, buf);
        Grid {
            snapshot: s,
            theme,
            selected: self.selected,
        }
        .render(a.grid, buf);
        if let Some(v) = &self.lesson {
            widgets::lesson::LessonPanel {
                view: v,
                events: &s.events,
                theme,
            }
            .render(a.lesson, buf);
            if a.faults.height > 0 {
                Faults { snapshot: s, theme }.render(a.faults, buf);
            }
        } else {
            if a.workers.height > 0 {
                Workers { snapshot: s, theme }.render(a.workers, buf);
            }
            Faults { snapshot: s, theme }.render(a.faults, buf);
            if let Some(l) = s.tlb.latency.as_ref().filter(|_| a.latency.height > 0) {
                latency_widget(l, theme, a.latency_compact).render(a.latency, buf);
            }
            Tlb {
                tlb: &s.tlb,
                theme,
                compact: a.tlb_compact,
            }
            .render(a.tlb, buf);
            Comparison {
                state: &s.comparison,
                theme,
                compact: a.comparison_compact,
                cache: s.compare_cache,
            }
            .render(a.comparison, buf);
        }
        if let Some(v) = &s.search {
            widgets::search::Search {
                view: v,
                finished: s.worker.state == crate::session::snapshot::RunState::Finished,
                theme,
            }
            .render(a.search, buf);
        }
        let line = self.footer_line();
        Footer {
            snapshot: s,
            theme,
            line: line.as_deref(),
        }
        .render(a.footer, buf);
        if self.inspector_shown() {
            self.render_inspector(
                a.faults.union(a.latency).union(a.tlb).union(a.comparison),
                buf,
            );
        }
        if self.help {
            Help {
                theme,
                scroll: self.help_scroll,
                observing: s.observed.is_some(),
            }
            .render(area, buf);
        }
        if self.log {
            widgets::log::Log {
                events: &s.events,
                theme,
                scroll: self.log_scroll,
            }
            .render(area, buf);
        }
        if let Some((selected, note)) = &self.picker {
            widgets::lesson::Picker {
                entries: &self.lessons,
                selected: *selected,
                note: note.as_deref(),
                theme,
            }
            .render(area, buf);
        }
    }
}

impl App {
    /// The question waiting for y/n, or the answer to a declined one (the footer's line).
    fn footer_line(&self) -> Option<String> {
        match (&self.confirm, &self.snapshot.observed) {
            (Some(c), Some(o)) => Some(app::confirm_question(c, o.pid)),
            _ => self.notice.clone(),
        }
    }

    /// The inspector panel over the side column (the counters come back with Esc).
    fn render_inspector(&self, area: Rect, buf: &mut Buffer) {
        let Some(page) = self.selected else { return };
        let g = &self.snapshot.grid;
        let ppc = g.pages_per_cell.max(1);
        let cell = page
            .checked_sub(g.start_page)
            .map(|d| d / ppc)
            .and_then(|i| Some((g.start_page + i * ppc, g.cells.get(i as usize)?)));
        widgets::inspector::Inspector {
            page,
            report: self.snapshot.inspector.as_ref(),
            cell,
            pages_per_cell: ppc,
            cache_visible: self.snapshot.caps.cache_state_visible,
            first_touch: self.snapshot.inspected_first_touch.as_ref(),
            worker_pid: self.snapshot.worker.pid,
            prompt: self
                .offset_input
                .as_deref()
                .map(|typed| (typed, self.offset_error.as_deref())),
            theme: self.theme,
        }
        .render(area, buf);
    }
}

/// Restores the terminal however `run` ends (return, `?`, panic unwinding).
struct RestoreGuard;

impl Drop for RestoreGuard {
    fn drop(&mut self) {
        leave_screen();
    }
}

/// Signal flags checked every loop iteration, so SIGINT/SIGTERM/SIGHUP/SIGQUIT leave through
/// the same path as `q` and the terminal is restored, and SIGTSTP/SIGCONT do job control.
///
/// A second signal of an ending kind performs the default action (terminates the process)
/// even if the UI or the shutdown after it hangs. The handlers are never unregistered:
/// signal-hook's `unregister` would leave the signal ignored, not restore its default.
struct Signals {
    interrupted: Arc<AtomicBool>,
    terminated: Arc<AtomicBool>,
    hung_up: Arc<AtomicBool>,
    quit: Arc<AtomicBool>,
    /// SIGTSTP (`kill -TSTP`; Ctrl-Z arrives as a key in raw mode): restore, then stop.
    suspend: Arc<AtomicBool>,
    /// SIGCONT: we were stopped (by us or by an uncatchable SIGSTOP); take the screen back.
    resumed: Arc<AtomicBool>,
}

impl Signals {
    fn register() -> anyhow::Result<Self> {
        use signal_hook::consts::{SIGCONT, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGTSTP};
        use signal_hook::flag::{register, register_conditional_default};
        let flag = || Arc::new(AtomicBool::new(false));
        let s = Signals {
            interrupted: flag(),
            terminated: flag(),
            hung_up: flag(),
            quit: flag(),
            suspend: flag(),
            resumed: flag(),
        };
        for (sig, flag) in [
            (SIGINT, &s.interrupted),
            (SIGTERM, &s.terminated),
            (SIGHUP, &s.hung_up),
            (SIGQUIT, &s.quit),
        ] {
            // Order matters: the conditional default sees the flag before this signal sets it.
            register_conditional_default(sig, Arc::clone(flag))?;
            register(sig, Arc::clone(flag))?;
        }
        // Catching SIGTSTP replaces its default action (stop): we stop ourselves once the
        // terminal is restored. SIGCONT's default (continue) happens whatever we register.
        register(SIGTSTP, Arc::clone(&s.suspend))?;
        register(SIGCONT, Arc::clone(&s.resumed))?;
        Ok(s)
    }

    fn exit_kind(&self) -> Option<ExitKind> {
        if self.interrupted.load(Ordering::Relaxed) {
            Some(ExitKind::Interrupted)
        } else if self.terminated.load(Ordering::Relaxed) {
            Some(ExitKind::Terminated)
        } else if self.hung_up.load(Ordering::Relaxed) {
            Some(ExitKind::HungUp)
        } else if self.quit.load(Ordering::Relaxed) {
            Some(ExitKind::Quit)
        } else {
            None
        }
    }
}

/// Gives the terminal back to the shell as `ratatui::restore` does (cooked mode, main screen,
/// cursor shown, mouse reporting off).
fn leave_screen() {
    let _ = crossterm::execute!(
        std::io::stdout(),
        crossterm::event::DisableMouseCapture,
        crossterm::cursor::Show
    );
    ratatui::restore();
}

/// Takes the terminal again after a stop: raw mode, the alternate screen, mouse capture,
/// cursor hidden, and a full redraw on the next frame (the shell drew over the screen).
fn enter_screen(terminal: &mut ratatui::DefaultTerminal) -> std::io::Result<()> {
    crossterm::terminal::enable_raw_mode()?;
    crossterm::execute!(
        std::io::stdout(),
        crossterm::terminal::EnterAlternateScreen,
        crossterm::event::EnableMouseCapture,
        crossterm::cursor::Hide
    )?;
    terminal.clear()
}

/// Job control the way full-screen programs do it (less, vim): restore the terminal, stop
/// the process with SIGSTOP (which cannot be caught, so the shell sees a stopped job), and
/// when `fg` continues us, take the screen back.
fn suspend(terminal: &mut ratatui::DefaultTerminal, signals: &Signals) -> std::io::Result<()> {
    leave_screen();
    signals.resumed.store(false, Ordering::SeqCst);
    crate::kernel::sys::stop_self();
    // Here after SIGCONT.
    signals.resumed.store(false, Ordering::SeqCst);
    enter_screen(terminal)
}

/// How long to wait for input before looking at the channel and signals again (50 cheap
/// wake-ups a second; a new snapshot waits at most this long to be drawn).
const POLL: Duration = Duration::from_millis(20);
/// After a key sent commands, how long to wait for the session's answer before drawing, so
/// the screen shows the key's effect in the same frame.
const ANSWER_WAIT: Duration = Duration::from_millis(30);

/// Watches for the terminal going away. crossterm 0.28 loops forever reading a hung-up tty
/// (it returns EOF, which crossterm retries), so the UI thread cannot notice it by itself;
/// this thread tells the session to stop the worker and ends the process (exit 129, as for
/// SIGHUP). The worker would also die with us (PR_SET_PDEATHSIG).
fn spawn_hangup_watchdog(commands: Sender<Command>) {
    let _ = std::thread::Builder::new()
        .name("tty-watchdog".into())
        .spawn(move || loop {
            std::thread::sleep(Duration::from_millis(250));
            if crate::kernel::sys::hung_up(std::io::stdin().as_fd()) {
                let _ = commands.send(Command::Quit);
                std::thread::sleep(Duration::from_millis(300));
                std::process::exit(129);
            }
        });
}

/// Runs the UI until quit or a signal: draws the latest snapshot, sends the grid's view
/// whenever it changes (resize, zoom, pan) and the commands keys ask for.
pub fn run(snapshots: Receiver<Snapshot>, commands: Sender<Command>) -> anyhow::Result<ExitKind> {
    run_with_theme(snapshots, commands, Theme::from_env())
}

/// [`run`] in the given theme (`--theme`, resolved by the caller).
pub fn run_with_theme(
    snapshots: Receiver<Snapshot>,
    commands: Sender<Command>,
    theme: &'static Theme,
) -> anyhow::Result<ExitKind> {
    run_lessons(snapshots, commands, theme, Lessons::default())
}

/// The lessons of a live view: what `L` offers, the one to start with, and what the session
/// can run (a write lesson needs a session started in that write mode).
#[derive(Clone, Debug, Default)]
pub struct Lessons {
    pub all: Vec<crate::lesson::file::Lesson>,
    pub start: Option<crate::lesson::file::Lesson>,
    /// The user's file (probes open it read-only).
    pub file: std::path::PathBuf,
    /// The session's write mode (None: read-only mapping).
    pub write: Option<crate::workload::worker::WriteMode>,
    /// With `--record`: where each step entered and each change of its verdicts is written.
    pub sink: Option<crate::record::LessonSink>,
}

/// Turns the keys' lesson requests into controller calls, ticks the controller against the
/// newest snapshot and hands its view to the app. Returns whether the screen changed.
fn drive_lesson(
    app: &mut App,
    ctl: &mut Option<crate::lesson::controller::Controller>,
    lessons: &Lessons,
    commands: &Sender<Command>,
    log: &mut crate::lesson::recording::StepLog,
) -> bool {
    use crate::lesson::controller::Controller;
    use lesson_ui::LessonRequest as R;
    let mut changed = false;
    for r in app.take_lesson_requests() {
        changed = true;
        match r {
            R::Next | R::Prev => {
                if let Some(c) = ctl.as_mut() {
                    let i = c.step_index();
                    let last = c.lesson().steps.len().saturating_sub(1);
                    let j = if r == R::Next {
                        (i + 1).min(last)
                    } else {
                        i.saturating_sub(1)
                    };
                    if j != i {
                        c.go(j);
                        let _ = commands.send(Command::Note {
                            text: format!(
                                "lesson step {}/{}: {}",
                                j + 1,
                                last + 1,
                                c.lesson().steps[j].title
                            ),
                        });
                    }
                }
            }
            R::Access => {
                for c in Controller::one_access(&app.snapshot) {
                    let _ = commands.send(c);
                }
            }
            R::Start(name) => {
                let Some(l) = lessons.all.iter().find(|l| l.name == name) else {
                    continue;
                };
                let wants = l.write.map(|(m, _)| m);
                if wants != lessons.write {
                    let how = match wants {
                        Some(m) => format!("write mode ({m}, on a scratch copy)"),
                        None => "a read-only mapping".into(),
                    };
                    app.picker_refused(format!(
                        "{name} needs {how}: quit and run mmviz lesson {name} FILE"
                    ));
                    continue;
                }
                let exe = std::env::current_exe().unwrap_or_else(|_| "mmviz".into());
                *ctl = Some(Controller::new(l.clone(), lessons.file.clone(), exe));
                app.picker = None;
                let _ = commands.send(Command::Note {
                    text: format!("lesson {name}: step 1/{}", l.steps.len()),
                });
            }
        }
    }
    if let Some(c) = ctl.as_mut() {
        let now = std::time::Instant::now();
        for cmd in c.tick(&app.snapshot, now) {
            let _ = commands.send(cmd);
        }
        if let Some(sink) = &lessons.sink {
            if let Some(step) = log.update(c) {
                sink.lesson_step(&step);
            }
        }
        let v = c.view(now);
        if app.lesson.as_ref() != Some(&v) {
            app.lesson = Some(v);
            changed = true;
        }
    }
    changed
}

/// [`run_with_theme`] with lessons (`mmviz lesson NAME`, and `L` in any live view).
pub fn run_lessons(
    snapshots: Receiver<Snapshot>,
    commands: Sender<Command>,
    theme: &'static Theme,
    lessons: Lessons,
) -> anyhow::Result<ExitKind> {
    use crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};

    let signals = Signals::register()?;
    // try_init is init() returning the error instead of panicking; both install the panic
    // hook that restores the terminal.
    let mut terminal = ratatui::try_init()?;
    let _guard = RestoreGuard;
    crossterm::execute!(std::io::stdout(), crossterm::event::EnableMouseCapture)?;

    spawn_hangup_watchdog(commands.clone());
    let mut app = App::waiting(theme);
    app.lessons = lessons
        .all
        .iter()
        .map(|l| widgets::lesson::PickerEntry {
            name: l.name.clone(),
            title: l.title.clone(),
            duration_min: l.duration_min,
            steps: l.steps.len(),
        })
        .collect();
    let mut ctl = lessons.start.clone().map(|l| {
        let exe = std::env::current_exe().unwrap_or_else(|_| "mmviz".into());
        crate::lesson::controller::Controller::new(l, lessons.file.clone(), exe)
    });
    // The panel (and the lesson keys) from the first frame, before any snapshot.
    app.lesson = ctl.as_ref().map(|c| c.view(std::time::Instant::now()));
    let mut step_log = crate::lesson::recording::StepLog::default();
    let mut last_view: Option<Command> = None;
    let mut dirty = true;
    let mut connected = true;
    loop {
        if let Some(kind) = signals.exit_kind() {
            let _ = commands.send(Command::Quit);
            return Ok(kind);
        }
        // The terminal went away without a SIGHUP reaching us (e.g. its emulator was killed
        // and we were not in the foreground group): a hung-up tty reads as EOF forever and
        // crossterm would spin on it. Leave as if hung up.
        if crate::kernel::sys::hung_up(std::io::stdin().as_fd()) {
            let _ = commands.send(Command::Quit);
            return Ok(ExitKind::HungUp);
        }
        if signals.suspend.swap(false, Ordering::SeqCst) {
            suspend(&mut terminal, &signals)?;
            dirty = true;
        } else if signals.resumed.swap(false, Ordering::SeqCst) {
            // Continued after a SIGSTOP we did not ask for: the shell may have reset the
            // terminal and drawn its prompt over the screen.
            enter_screen(&mut terminal)?;
            dirty = true;
        }
        // Keep only the newest snapshot: older ones are already stale.
        while connected {
            match snapshots.try_recv() {
                Ok(s) => {
                    app.set_snapshot(s);
                    dirty = true;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => connected = false,
            }
        }
        if !app.waiting && drive_lesson(&mut app, &mut ctl, &lessons, &commands, &mut step_log) {
            dirty = true;
        }
        if dirty {
            let size = terminal.size()?;
            let area = Rect::new(0, 0, size.width, size.height);
            let view = app.view_request(app.grid_cells_area(area));
            let has_cells = matches!(view, Command::SetView { cells, .. } if cells > 0);
            if has_cells && last_view.as_ref() != Some(&view) {
                let _ = commands.send(view.clone());
                last_view = Some(view);
            }
            if let Some(c) = app.inspect_request() {
                let _ = commands.send(c);
            }
            terminal.draw(|frame| frame.render_widget(&app, frame.area()))?;
            dirty = false;
        }
        if !event::poll(POLL)? {
            continue;
        }
        // Handle every pending event before the next draw.
        let mut sent = false;
        loop {
            match event::read()? {
                // Raw mode turns off the terminal's ISIG, so Ctrl-Z arrives as a key, not
                // as SIGTSTP: suspend as the shell would have.
                Event::Key(k)
                    if k.kind != KeyEventKind::Release
                        && k.modifiers.contains(KeyModifiers::CONTROL)
                        && k.code == KeyCode::Char('z') =>
                {
                    suspend(&mut terminal, &signals)?;
                    dirty = true;
                }
                Event::Key(k) if k.kind != KeyEventKind::Release => {
                    for cmd in app.handle_key(k) {
                        let _ = commands.send(cmd);
                        sent = true;
                    }
                    dirty = true;
                }
                Event::Mouse(m) => {
                    for cmd in app.handle_mouse(m) {
                        let _ = commands.send(cmd);
                    }
                    dirty = true;
                }
                Event::Resize(..) => dirty = true,
                _ => {}
            }
            if let Some(kind) = app.quit {
                return Ok(kind);
            }
            if !event::poll(Duration::ZERO)? {
                break;
            }
        }
        if sent && connected {
            if let Ok(s) = snapshots.recv_timeout(ANSWER_WAIT) {
                app.set_snapshot(s);
            }
        }
    }
}

#[cfg(test)]
mod tests;
