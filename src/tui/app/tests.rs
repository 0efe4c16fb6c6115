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
