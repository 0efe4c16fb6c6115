//! `mmviz replay FILE`: plays a recording in the terminal with no file and no kernel access:
//! the screens are the recorded snapshots rendered by the live view's own widgets.
//!
//! Frames are read from the recording on demand through its index (bounded memory). A grid
//! recorded on a bigger terminal is fitted to this one by merging cells
//! ([`record::fit_snapshot`]); a smaller one keeps its recorded cells.

use super::app::App;
use super::keymap::{replay_lookup, Key, ReplayAction, REPLAY_KEYMAP};
use super::theme::Theme;
use crate::record::{self, CheckVerdict, LessonStep, Recording};
use crate::session::snapshot::Snapshot;
use crossterm::event::KeyEvent;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Widget;
use std::time::{Duration, Instant};

/// Playback speeds, `[` and `]` step through them.
pub const SPEEDS: [f64; 7] = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0];

/// Where the playback is: pure state, driven by keys and elapsed time.
#[derive(Clone, Debug, PartialEq)]
pub struct Player {
    pub frame: usize,
    pub frames: usize,
    pub playing: bool,
    pub speed: usize,
    /// Position on the recording's clock (ms since recording started).
    pub pos_ms: f64,
    pub quit: bool,
    /// The lesson step just jumped to with `n`/`p` (an index into `Recording::lesson_steps`),
    /// shown on the status line until another key.
    pub step: Option<usize>,
    /// Why the last `n`/`p` did nothing (no step that way).
    pub note: Option<String>,
}

impl Player {
    pub fn new(rec: &Recording) -> Player {
        Player {
            frame: 0,
            frames: rec.frames.len(),
            playing: true,
            speed: 2,
            pos_ms: rec.frames.first().map_or(0.0, |f| f.t_ms as f64),
            quit: false,
            step: None,
            note: None,
        }
    }

    fn goto_frame(&mut self, rec: &Recording, i: usize) {
        self.frame = i.min(self.frames.saturating_sub(1));
        self.pos_ms = rec.frames.get(self.frame).map_or(0.0, |f| f.t_ms as f64);
    }

    fn goto_time(&mut self, rec: &Recording, t_ms: f64) {
        let t = t_ms.clamp(0.0, rec.duration_ms() as f64);
        self.frame = rec.frame_at(t as u64);
        self.pos_ms = t;
    }

    /// Applies one key (looked up in [`REPLAY_KEYMAP`]).
    pub fn handle_key(&mut self, rec: &Recording, k: KeyEvent) {
        let Some(key) = Key::of(&k) else { return };
        let Some(a) = replay_lookup(key) else { return };
        if !matches!(a, ReplayAction::Slower | ReplayAction::Faster) {
            self.step = None;
            self.note = None;
        }
        match a {
            ReplayAction::Quit => self.quit = true,
            ReplayAction::PlayPause => {
                if !self.playing && self.frame + 1 >= self.frames {
                    self.goto_frame(rec, 0); // play again from the start
                }
                self.playing = !self.playing;
            }
            ReplayAction::NextFrame => {
                self.playing = false;
                self.goto_frame(rec, self.frame + 1);
            }
            ReplayAction::PrevFrame => {
                self.playing = false;
                self.goto_frame(rec, self.frame.saturating_sub(1));
            }
            ReplayAction::Forward10s => self.goto_time(rec, self.pos_ms + 10_000.0),
            ReplayAction::Back10s => self.goto_time(rec, self.pos_ms - 10_000.0),
            ReplayAction::First => self.goto_frame(rec, 0),
            ReplayAction::Last => self.goto_frame(rec, self.frames),
            ReplayAction::Slower => self.speed = self.speed.saturating_sub(1),
            ReplayAction::Faster => self.speed = (self.speed + 1).min(SPEEDS.len() - 1),
            ReplayAction::SeekTenth => {
                let Key::Char(c) = key else { return };
                let tenth = c.to_digit(10).unwrap_or(0) as f64 / 10.0;
                self.goto_time(rec, tenth * rec.duration_ms() as f64);
            }
            ReplayAction::NextLessonStep | ReplayAction::PrevLessonStep => {
                let next = a == ReplayAction::NextLessonStep;
                match rec.lesson_step_near(self.pos_ms as u64, next) {
                    Some((i, _)) => {
                        self.playing = false;
                        self.goto_time(rec, rec.lesson_steps[i].0 as f64);
                        self.step = Some(i);
                    }
                    None if rec.lesson_steps.is_empty() => {
                        self.note = Some("this recording has no lesson steps".into())
                    }
                    None => {
                        self.note = Some(format!(
                            "no lesson step {} this point",
                            if next { "after" } else { "before" }
                        ))
                    }
                }
            }
        }
    }

    /// Moves the clock on by `dt` of wall time while playing; stops at the last frame.
    pub fn advance(&mut self, rec: &Recording, dt: Duration) {
        if !self.playing {
            return;
        }
        self.pos_ms += dt.as_secs_f64() * 1e3 * SPEEDS[self.speed];
        if self.pos_ms >= rec.duration_ms() as f64 {
            self.goto_frame(rec, self.frames);
            self.playing = false;
        } else {
            self.frame = rec.frame_at(self.pos_ms as u64);
        }
    }
}

/// What the two replay lines at the bottom say.
#[derive(Clone, Debug, PartialEq)]
pub struct Status {
    pub file: String,
    pub frame: usize,
    pub frames: usize,
    pub t_ms: u64,
    pub duration_ms: u64,
    pub playing: bool,
    pub speed: f64,
    /// Shown instead of the key list (a truncated recording).
    pub warning: Option<String>,
    /// Shown instead of the key list: the lesson step jumped to, or why `n`/`p` did nothing.
    pub step_line: Option<String>,
    /// "step 2/7" when the recording has lesson steps: the last one at or before now.
    pub step_at: Option<String>,
    /// Times of the recorded lesson steps (marked on the timeline).
    pub marks: Vec<u64>,
}

/// One line for a lesson step: lesson, step, title and each check as measured.
pub fn step_line(s: &LessonStep) -> String {
    let mut out = format!("◆ {} step {}: {}", s.lesson, s.index + 1, s.title);
    for c in &s.checks {
        let why = |what: &str| match &c.note {
            Some(n) => format!("{what}: {n}"),
            None => what.to_string(),
        };
        let measured = match (&c.measured, c.verdict) {
            (Some(serde_json::Value::String(t)), _) => t.clone(),
            (Some(v), _) => v.to_string(),
            (None, CheckVerdict::NotApplicable) => why("not applicable here"),
            (None, CheckVerdict::Skipped) => why("skipped"),
            (None, CheckVerdict::Pending) => "not judged yet".into(),
            (None, _) => why("not measured"),
        };
        let mark = match c.verdict {
            CheckVerdict::Pass => "✓",
            CheckVerdict::Fail => "✗",
            CheckVerdict::NotMeasured | CheckVerdict::NotApplicable | CheckVerdict::Skipped => "–",
            CheckVerdict::Pending => "…",
        };
        out.push_str(&format!("  {mark} {} ({measured})", c.check));
    }
    out
}

impl Status {
    pub fn of(p: &Player, rec: &Recording) -> Status {
        Status {
            file: rec.header.file.clone(),
            frame: p.frame,
            frames: p.frames,
            t_ms: rec.frames.get(p.frame).map_or(0, |f| f.t_ms),
            duration_ms: rec.duration_ms(),
            playing: p.playing,
            speed: SPEEDS[p.speed],
            warning: rec
                .truncated_at
                .map(|l| format!("recording truncated at line {l}: replaying what came before it")),
            step_line: p
                .step
                .and_then(|i| rec.lesson_steps.get(i))
                .map(|(_, s)| step_line(s))
                .or_else(|| p.note.clone()),
            // A step is recorded when entered and at each verdict change: the lesson step
            // shown, then which of the recorded marks this is.
            step_at: (!rec.lesson_steps.is_empty()).then(|| {
                let n = rec
                    .lesson_steps
                    .partition_point(|(t, _)| *t as f64 <= p.pos_ms);
                let marks = rec.lesson_steps.len();
                match n.checked_sub(1).map(|i| &rec.lesson_steps[i].1) {
                    Some(s) => format!("step {} ◆{n}/{marks}", s.index + 1),
                    None => format!("◆0/{marks}"),
                }
            }),
            marks: rec.lesson_steps.iter().map(|(t, _)| *t).collect(),
        }
    }
}

fn clock(ms: u64) -> String {
    format!("{}:{:04.1}", ms / 60_000, (ms % 60_000) as f64 / 1e3)
}

/// The replay screen: the recorded snapshot as the live view drew it (grid fitted to this
/// area), its footer replaced by a timeline and the replay keys.
pub fn render(
    snapshot: &Snapshot,
    status: &Status,
    theme: &'static Theme,
    area: Rect,
    buf: &mut Buffer,
) {
    let area = area.intersection(buf.area);
    if area.height < 3 {
        return;
    }
    let app_area = Rect {
        height: area.height - 1,
        ..area
    };
    let mut app = App::new(snapshot.clone(), theme);
    let cells = app.grid_cells_area(app_area);
    let fits = cells.width as usize * cells.height as usize;
    if fits > 0 && snapshot.grid.cells.len() > fits {
        app = App::new(record::fit_snapshot(snapshot, fits), theme);
    }
    (&app).render(app_area, buf);

    let y = area.y + area.height - 2;
    let line = |y: u16| Rect {
        y,
        height: 1,
        ..area
    };
    buf.set_style(line(y), theme.key);
    for x in area.x..area.x + area.width {
        buf[(x, y)].set_symbol(" ");
    }
    let head = format!(
        " {} replay {}  {} / {}  frame {}/{}  {}x {}",
        if status.playing { "▶" } else { "⏸" },
        status.file,
        clock(status.t_ms),
        clock(status.duration_ms),
        status.frame + 1,
        status.frames,
        status.speed,
        status
            .step_at
            .as_ref()
            .map_or(String::new(), |s| format!(" {s} "))
    );
    let width = area.width as usize;
    let bar_w = width.saturating_sub(head.chars().count() + 1);
    let done = if status.duration_ms == 0 {
        bar_w
    } else {
        (bar_w as u128 * status.t_ms as u128 / status.duration_ms as u128) as usize
    };
    let at = |t: u64| {
        if status.duration_ms == 0 {
            0
        } else {
            (bar_w.saturating_sub(1) as u128 * t.min(status.duration_ms) as u128
                / status.duration_ms as u128) as usize
        }
    };
    let marks: Vec<usize> = status.marks.iter().map(|&t| at(t)).collect();
    let bar: String = (0..bar_w)
        .map(|i| match () {
            _ if marks.contains(&i) => '◆',
            _ if i < done => '━',
            _ => '─',
        })
        .collect();
    Line::styled(format!("{head}{bar}"), theme.key).render(line(y), buf);
    let bottom = match (&status.warning, &status.step_line) {
        (Some(w), _) => Line::styled(format!(" ⚠ {w}"), theme.warn),
        (None, Some(s)) => Line::styled(s.clone(), theme.key),
        (None, None) => Line::styled(key_line(width, !status.marks.is_empty()), theme.dim),
    };
    bottom.render(line(y + 1), buf);
}

/// The replay keys that fit in `width` columns, in table order, `q quit` always last; the
/// lesson step keys only when the recording has steps.
pub fn key_line(width: usize, steps: bool) -> String {
    let all: Vec<&str> = REPLAY_KEYMAP
        .iter()
        .filter(|r| !r.status.is_empty())
        .filter(|r| {
            steps
                || !r
                    .bindings
                    .iter()
                    .any(|b| b.1 == ReplayAction::NextLessonStep)
        })
        .map(|r| r.status)
        .collect();
    let (last, rest) = all.split_last().expect("the table is not empty");
    let mut shown: Vec<&str> = Vec::new();
    let len = |v: &[&str]| v.iter().map(|s| s.chars().count() + 2).sum::<usize>();
    for s in rest {
        if len(&shown) + s.chars().count() + 2 + last.chars().count() <= width {
            shown.push(s);
        }
    }
    shown.push(last);
    shown.join("  ")
}

/// Plays `rec` in the terminal until the user quits (the `mmviz replay` screen).
pub fn play(rec: &mut Recording) -> anyhow::Result<()> {
    use crossterm::event::{self, Event, KeyEventKind};
    let mut terminal = ratatui::try_init()?;
    struct Restore;
    impl Drop for Restore {
        fn drop(&mut self) {
            ratatui::restore();
        }
    }
    let _restore = Restore;
    let theme = Theme::from_env();
    let mut p = Player::new(rec);
    let mut shown: Option<(usize, Snapshot)> = None;
    let mut last = Instant::now();
    loop {
        let now = Instant::now();
        p.advance(rec, now - last);
        last = now;
        if shown.as_ref().map(|(i, _)| *i) != Some(p.frame) {
            shown = Some((p.frame, rec.frame(p.frame)?));
        }
        let status = Status::of(&p, rec);
        let snap = &shown.as_ref().expect("loaded above").1;
        terminal.draw(|f| render(snap, &status, theme, f.area(), f.buffer_mut()))?;
        if event::poll(Duration::from_millis(30))? {
            if let Event::Key(k) = event::read()? {
                if k.kind != KeyEventKind::Release {
                    p.handle_key(rec, k);
                }
            }
        }
        if p.quit {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Recorder;
    use crate::session::fixture::fixture_snapshot;
    use crate::tui::theme::COLOR;
    use crossterm::event::{KeyCode, KeyModifiers};
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;
    use std::path::Path;

    fn frames() -> Vec<Snapshot> {
        (0..4u64)
            .map(|i| {
                let mut s = fixture_snapshot();
                s.seq = i;
                s.t_ms = i * 100;
                s.totals.touched += i * 1000;
                s.message = (i == 2).then(|| "evicted: 65,536 -> 0 pages cached".to_string());
                s
            })
            .collect()
    }

    fn draw(w: u16, h: u16, f: impl FnOnce(&mut ratatui::Frame)) -> Buffer {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(f).unwrap();
        t.backend().buffer().clone()
    }

    #[test]
    fn record_then_replay_draws_the_same_frames() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        // Full paths kept, so the header line is the same too.
        let mut r = Recorder::create(&path, false, Path::new("data.bin"), true).unwrap();
        let live = frames();
        for s in &live {
            r.snapshot(s).unwrap();
        }
        drop(r);
        let mut rec = Recording::open(&path).unwrap();
        assert_eq!(rec.frames.len(), live.len());
        assert_eq!(rec.events.len(), 1);
        for (i, orig) in live.iter().enumerate() {
            let back = rec.frame(i).unwrap();
            for (w, h) in [(120, 40), (80, 24)] {
                let a = draw(w, h, |f| {
                    f.render_widget(&App::new(orig.clone(), &COLOR), f.area())
                });
                let b = draw(w, h, |f| {
                    f.render_widget(&App::new(back.clone(), &COLOR), f.area())
                });
                assert_eq!(a, b, "frame {i} at {w}x{h}");
            }
        }
    }

    #[test]
    fn player_keys_and_clock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let mut r = Recorder::create(&path, false, Path::new("data.bin"), false).unwrap();
        for s in frames() {
            r.snapshot(&s).unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(r);
        let rec = Recording::open(&path).unwrap();
        let key = |c| KeyEvent::new(c, KeyModifiers::NONE);
        let mut p = Player::new(&rec);
        assert!(p.playing);
        p.handle_key(&rec, key(KeyCode::Char(' ')));
        assert!(!p.playing);
        p.handle_key(&rec, key(KeyCode::Right));
        p.handle_key(&rec, key(KeyCode::Right));
        assert_eq!(p.frame, 2);
        p.handle_key(&rec, key(KeyCode::Left));
        assert_eq!(p.frame, 1);
        p.handle_key(&rec, key(KeyCode::End));
        assert_eq!(p.frame, 3);
        p.handle_key(&rec, key(KeyCode::Right));
        assert_eq!(p.frame, 3, "stays on the last frame");
        p.handle_key(&rec, key(KeyCode::Char('0')));
        assert_eq!(p.frame, 0);
        p.handle_key(&rec, key(KeyCode::Char(']')));
        assert_eq!(SPEEDS[p.speed], 2.0);
        p.handle_key(&rec, key(KeyCode::Char(' ')));
        p.advance(&rec, Duration::from_secs(3600));
        assert_eq!(
            (p.frame, p.playing),
            (3, false),
            "played to the end and stopped"
        );
        p.handle_key(&rec, key(KeyCode::Char('q')));
        assert!(p.quit);
    }

    #[test]
    fn replay_screen_fits_the_grid_and_shows_the_timeline() {
        let s = fixture_snapshot();
        let st = Status {
            file: "data.bin".into(),
            frame: 4,
            frames: 10,
            t_ms: 61_500,
            duration_ms: 123_000,
            playing: false,
            speed: 1.0,
            warning: None,
            step_line: None,
            step_at: None,
            marks: vec![],
        };
        let buf = draw(80, 24, |f| {
            render(&s, &st, &COLOR, f.area(), f.buffer_mut())
        });
        let row = |y: u16| (0..80).map(|x| buf[(x, y)].symbol()).collect::<String>();
        assert!(
            row(22).contains("⏸ replay data.bin  1:01.5 / 2:03.0  frame 5/10  1x"),
            "{}",
            row(22)
        );
        assert!(row(23).starts_with("space play  ←→ frame"), "{}", row(23));
        // The fixture's 1024 cells do not fit 80x24: merged, every page still shown.
        let app = App::new(s.clone(), &COLOR);
        let cells = app.grid_cells_area(Rect::new(0, 0, 80, 23));
        assert!(s.grid.cells.len() > (cells.width * cells.height) as usize);
        let text: Vec<String> = (0..24).map(row).collect();
        // 1024 cells of 64 pages, merged in pairs.
        assert!(
            text.iter().any(|l| l.contains("1 cell = 128 pages")),
            "{}",
            text.join("\n")
        );
        assert!(
            text[23].trim_end().ends_with("q quit"),
            "every key shown: {}",
            text[23]
        );
        let warned = Status {
            warning: Some("recording truncated at line 9".into()),
            ..st
        };
        let buf = draw(80, 24, |f| {
            render(&s, &warned, &COLOR, f.area(), f.buffer_mut())
        });
        let last: String = (0..80).map(|x| buf[(x, 23)].symbol()).collect();
        assert!(last.contains("truncated at line 9"), "{last}");
    }

    #[test]
    fn lesson_steps_are_jumped_to_and_shown_with_their_checks() {
        use crate::record::{CheckRecord, CheckVerdict, LessonStep};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let mut r = Recorder::create(&path, false, Path::new("data.bin"), false).unwrap();
        let step =
            |index: u32, title: &str, verdict, measured: Option<serde_json::Value>| LessonStep {
                lesson: "demand-paging".into(),
                index,
                title: title.into(),
                checks: vec![CheckRecord {
                    check: "faults.major_total >= 1".into(),
                    verdict,
                    measured,
                    note: None,
                }],
            };
        let fr = frames();
        r.snapshot(&fr[0]).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        r.lesson_step(&step(0, "first touch", CheckVerdict::Pass, Some(3.into())))
            .unwrap();
        std::thread::sleep(Duration::from_millis(20));
        r.snapshot(&fr[1]).unwrap();
        r.snapshot(&fr[2]).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        r.lesson_step(&step(1, "a second pass", CheckVerdict::NotMeasured, None))
            .unwrap();
        std::thread::sleep(Duration::from_millis(20));
        r.snapshot(&fr[3]).unwrap();
        drop(r);
        let rec = Recording::open(&path).unwrap();
        assert_eq!(rec.lesson_steps.len(), 2);
        let key = |c| KeyEvent::new(c, KeyModifiers::NONE);
        let mut p = Player::new(&rec);
        p.handle_key(&rec, key(KeyCode::Char('n')));
        assert_eq!((p.step, p.frame, p.playing), (Some(0), 0, false));
        p.handle_key(&rec, key(KeyCode::Char('n')));
        assert_eq!((p.step, p.frame), (Some(1), 2), "the frame before step 2");
        let st = Status::of(&p, &rec);
        assert_eq!(st.step_at.as_deref(), Some("step 2 ◆2/2"));
        assert_eq!(
            st.step_line.as_deref(),
            Some("◆ demand-paging step 2: a second pass  – faults.major_total >= 1 (not measured)")
        );
        p.handle_key(&rec, key(KeyCode::Char('n')));
        assert_eq!(p.step, None);
        assert_eq!(p.note.as_deref(), Some("no lesson step after this point"));
        p.handle_key(&rec, key(KeyCode::Char('p')));
        assert_eq!(p.step, Some(0));
        let st = Status::of(&p, &rec);
        let buf = draw(80, 24, |f| {
            render(&fr[0], &st, &COLOR, f.area(), f.buffer_mut())
        });
        let row = |y: u16| (0..80).map(|x| buf[(x, y)].symbol()).collect::<String>();
        assert!(row(22).contains("step 1 ◆1/2"), "{}", row(22));
        assert!(
            row(23)
                .starts_with("◆ demand-paging step 1: first touch  ✓ faults.major_total >= 1 (3)"),
            "{}",
            row(23)
        );
        // Explained verdicts carry their reason; a pending check says it was not judged.
        let mut s = step(2, "folios", CheckVerdict::NotApplicable, None);
        s.checks[0].note = Some("it needs file.filesystem.can_evict == true".into());
        s.checks.push(CheckRecord {
            verdict: CheckVerdict::Pending,
            ..s.checks[0].clone()
        });
        assert_eq!(
            step_line(&s),
            "◆ demand-paging step 3: folios  – faults.major_total >= 1 (not applicable here: \
             it needs file.filesystem.can_evict == true)  … faults.major_total >= 1 (not judged yet)"
        );
        // Any other key returns the key list, with the step keys since there are steps.
        p.handle_key(&rec, key(KeyCode::Right));
        let st = Status::of(&p, &rec);
        assert_eq!(st.step_line, None);
        assert!(key_line(200, true).contains("n/p step"));
        assert!(!key_line(200, false).contains("n/p step"));
        for w in [60, 80, 120] {
            let l = key_line(w, true);
            assert!(l.chars().count() <= w && l.ends_with("q quit"), "{w}: {l}");
        }
    }
}
