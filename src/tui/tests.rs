use super::*;
use crate::session::fixture::{fixture_grid, fixture_snapshot};
use crate::session::snapshot::RunState;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use theme::COLOR;

/// Renders the whole screen for the fixture, regridded to the cells the area has (as the
/// sampler would after the view request), with `tweak` applied last.
fn screen(w: u16, h: u16, tweak: impl FnOnce(&mut App)) -> Terminal<TestBackend> {
    screen_with(w, h, tweak, |_| {})
}

/// `before` changes the snapshot the view is asked for; `after` edits the grid the
/// sampler answered with.
fn screen_with(
    w: u16,
    h: u16,
    before: impl FnOnce(&mut App),
    after: impl FnOnce(&mut App),
) -> Terminal<TestBackend> {
    let mut app = App::new(fixture_snapshot(), &COLOR);
    before(&mut app);
    let area = Rect::new(0, 0, w, h);
    if let Command::SetView {
        start_page,
        end_page,
        cells,
    } = app.view_request(app.grid_cells_area(area))
    {
        if app.snapshot.file.pages > 0 {
            app.snapshot.grid = fixture_grid(start_page, end_page, cells);
        }
    }
    after(&mut app);
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| f.render_widget(&app, f.area())).unwrap();
    terminal
}

#[test]
fn screen_80x24() {
    insta::assert_snapshot!(screen(80, 24, |_| {}).backend());
}

#[test]
fn screen_120x40() {
    insta::assert_snapshot!(screen(120, 40, |_| {}).backend());
}

#[test]
fn latency_panel_shows_on_tall_screens_and_gives_way_at_80x24() {
    let app = App::new(fixture_snapshot(), &COLOR);
    for (w, h) in [(120, 40), (140, 50), (200, 60)] {
        let a = app.areas(Rect::new(0, 0, w, h)).unwrap();
        assert!(a.latency.height >= 5, "{w}x{h}: {a:?}");
        // The counters keep at least their minimum rows.
        assert!(a.faults.height >= 14, "{w}x{h}: {a:?}");
        let out = format!("{:?}", screen(w, h, |_| {}).backend());
        assert!(out.contains("Access latency"), "{w}x{h}");
        assert!(out.contains("1 major"), "{w}x{h}");
    }
    let a = app.areas(Rect::new(0, 0, 80, 24)).unwrap();
    assert_eq!(a.latency.height, 0, "{a:?}");
    assert!(a.faults.height >= 14, "{a:?}");
    let out = format!("{:?}", screen(80, 24, |_| {}).backend());
    assert!(!out.contains("Access latency"));
    // No histogram yet: no panel, the old layout.
    let mut app = App::new(fixture_snapshot(), &COLOR);
    app.snapshot.tlb.latency = None;
    let a = app.areas(Rect::new(0, 0, 120, 40)).unwrap();
    assert_eq!(a.latency.height, 0);
    assert!(a.tlb.height > 3, "{a:?}");
}

#[test]
fn t_key_and_the_measurement_on_screen() {
    use crate::session::snapshot::TlbMeasureState;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let key = |c| KeyEvent::new(c, KeyModifiers::NONE);
    let mut app = App::new(fixture_snapshot(), &COLOR);
    assert_eq!(
        app.handle_key(key(KeyCode::Char('t'))),
        vec![Command::MeasureTlb {
            max_working_set: None
        }]
    );
    app.snapshot.tlb.measurement = TlbMeasureState::Running {
        progress: 0.25,
        working_set_bytes: 8 << 20,
    };
    // Esc cancels the measurement before it means quit.
    assert_eq!(app.handle_key(key(KeyCode::Esc)), vec![Command::CancelTlb]);
    assert_eq!(app.quit, None);
    // The TLB panel shows the progress at both first-class sizes, counters keep room.
    for (w, h) in [(80, 24), (120, 40)] {
        let a = app.areas(Rect::new(0, 0, w, h)).unwrap();
        assert!(a.tlb.height >= 4, "{w}x{h}: {a:?}");
        assert!(a.faults.height >= 14, "{w}x{h}: {a:?}");
        let out = format!(
            "{:?}",
            screen(w, h, |a| a.snapshot = app.snapshot.clone()).backend()
        );
        assert!(out.contains("4 KiB vs huge"), "{w}x{h}: {out}");
        assert!(out.contains("Esc cancels"), "{w}x{h}: {out}");
    }
}

#[test]
fn screen_cache_hidden() {
    let t = screen(100, 30, |app| {
        let s = &mut app.snapshot;
        s.caps.cache_state_visible = false;
        s.caps.cache_note = Some("cachestat EPERM: the file is not ours".into());
        s.totals.cached = None;
        s.totals.ghosts = None;
        s.faults.pages_cached_per_major = None;
    });
    let text = t.backend().to_string();
    assert!(text.contains("page-cache state hidden by the kernel"));
    insta::assert_snapshot!(t.backend());
}

#[test]
fn screen_dead_worker() {
    let dead = |app: &mut App| {
        let s = &mut app.snapshot;
        s.worker.state = RunState::Dead {
            reason: "killed by SIGBUS: the file shrank from 256 MiB to 1 MiB".into(),
        };
        s.worker.pid = None;
        s.totals.mapped = None;
        s.message = Some("worker died; press r to restart on the new size".into());
    };
    // No worker, no page table: nothing is mapped; the cache still holds its pages.
    let no_page_table = |app: &mut App| {
        for c in &mut app.snapshot.grid.cells {
            c.mapped = None;
            c.private = None;
            c.recent = 0;
        }
    };
    let t = screen_with(100, 30, dead, no_page_table);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn screen_write_shared_dirty() {
    // Write mode, MAP_SHARED: the written (mapped) pages are dirty, a few are under
    // writeback; header, legend, cells and the faults panel all say so.
    let write = |app: &mut App| {
        let s = &mut app.snapshot;
        s.file.path = "/home/teacher/.cache/mmviz/scratch/mmviz-scratch-4242-00c0ffee.bin".into();
        s.file.write = Some(crate::session::snapshot::WriteInfo {
            mode: crate::workload::worker::WriteMode::Shared,
            share: 1.0,
            scratch: s.file.path.clone(),
            source: "/home/teacher/mmviz/data.bin".into(),
            dirty_expire_centisecs: Some(3000),
            dirty_writeback_centisecs: Some(500),
        });
        s.message = Some(
            "msync(MS_ASYNC) took 2.9 µs in the worker; dirty pages 19,312 -> 19,312 \
             (cachestat), 0 written back"
                .into(),
        );
    };
    let dirty = |app: &mut App| {
        let (mut d, mut wb) = (0, 0);
        let n = app.snapshot.grid.cells.len();
        for (i, c) in app.snapshot.grid.cells.iter_mut().enumerate() {
            c.writeback = Some(0);
            let m = c.mapped.unwrap_or(0);
            if m > 0 && i % 3 != 0 {
                c.dirty = Some(m);
                d += m;
            }
            if m > 0 && i == n / 8 {
                c.writeback = Some(1);
                wb += 1;
            }
        }
        app.snapshot.totals.dirty = Some(d);
        app.snapshot.totals.writeback = Some(wb);
    };
    let t = screen_with(80, 24, write, dirty);
    let small = t.backend().to_string();
    // The promise survives the projector's 80x24.
    assert!(small.contains("(your file is never written)"), "{small}");
    let t = screen_with(120, 40, write, dirty);
    let text = t.backend().to_string();
    assert!(text.contains("(your file is never written)"), "{text}");
    assert!(text.contains("dirty"), "{text}");
    insta::assert_snapshot!(t.backend());
}

#[test]
fn lesson_screen_80x24_and_120x40() {
    let lesson = |app: &mut App| app.lesson = Some(widgets::lesson::tests::view());
    let t = screen(80, 24, lesson);
    let small = t.backend().to_string();
    for want in [
        "Lesson: Demand paging",
        "✓ faults.major_total >= 1",
        "n next p prev",
    ] {
        assert!(small.contains(want), "{want}: {small}");
    }
    insta::assert_snapshot!("lesson_80x24", t.backend());
    let t = screen(120, 40, lesson);
    let big = t.backend().to_string();
    // Tall enough: the fault counters stay below the lesson.
    assert!(
        big.contains("minor") && big.contains("Touching the first page"),
        "{big}"
    );
    insta::assert_snapshot!("lesson_120x40", t.backend());
    let t = screen(80, 24, |app| {
        lesson(app);
        app.lessons = vec![widgets::lesson::PickerEntry {
            name: "demand-paging".into(),
            title: "Demand paging".into(),
            duration_min: 10,
            steps: 4,
        }];
        app.picker = Some((0, None));
    });
    assert!(t.backend().to_string().contains("▶ demand-paging"));
}

#[test]
fn help_overlay_80x24() {
    let t = screen(80, 24, |app| app.help = true);
    let text = t.backend().to_string();
    // How to close it is on the first screen, even where the rows scroll.
    assert!(text.contains("? or Esc closes"), "{text}");
    insta::assert_snapshot!(t.backend());
}

#[test]
fn tiny_terminals_do_not_panic() {
    for (w, h) in [(20, 6), (1, 1), (0, 0), (59, 40), (200, 15), (60, 16)] {
        let t = screen(w, h, |app| app.help = true);
        if w > 0 && (w < MIN_WIDTH || h < MIN_HEIGHT) {
            let text = t.backend().to_string();
            assert!(w < 20 || text.contains("enlarge"), "{w}×{h}\n{text}");
        }
    }
    let t = screen(20, 6, |_| {});
    let text = t.backend().to_string();
    assert!(
        text.contains("enlarge to at least") && text.contains("60×16"),
        "{text}"
    );
}

#[test]
fn waits_for_the_first_snapshot() {
    let mut app = App::waiting(&COLOR);
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal.draw(|f| f.render_widget(&app, f.area())).unwrap();
    assert!(terminal
        .backend()
        .to_string()
        .contains("starting the worker"));
    assert_eq!(
        app.handle_key(crossterm::event::KeyEvent::from(
            crossterm::event::KeyCode::Char('q')
        )),
        vec![Command::Quit]
    );
    app.set_snapshot(fixture_snapshot());
    assert!(!app.waiting);
    // 0×0 while waiting does not panic either.
    Terminal::new(TestBackend::new(0, 0))
        .unwrap()
        .draw(|f| f.render_widget(&app, f.area()))
        .unwrap();
}

#[test]
fn empty_and_huge_files_render() {
    screen(80, 24, |app| {
        app.snapshot.file.pages = 0;
        app.snapshot.file.size_bytes = 0;
        app.snapshot.grid = Default::default();
    });
    let t = screen(100, 30, |app| {
        app.snapshot.file.pages = 1 << 28;
        app.snapshot.file.size_bytes = 1 << 40;
    });
    assert!(t.backend().to_string().contains("1 TiB"));
}

#[test]
fn screen_inspector_80x24() {
    use crate::inspect::{PageReport, ReadOutcome};
    let t = screen(80, 24, |app| {
        app.zoom = 20; // clamped to the deepest zoom: one page per cell
        app.pan = 28_900;
        app.cursor = true;
        app.selected = Some(29_000);
        app.snapshot.inspector = Some(PageReport {
            offset: 29_000 * 4096,
            length: 16,
            page_size: 4096,
            page_index: 29_000,
            page_first_byte: 29_000 * 4096,
            page_last_byte: 29_001 * 4096 - 1,
            file_size: 65_536 * 4096,
            cache_state_visible: true,
            cached: Some(true),
            dirty: Some(false),
            writeback: Some(false),
            read: ReadOutcome::ReadCached,
            bytes: Some(b"First byte: mmap".to_vec()),
            window_cached_before: Some(4096),
            window_cached_after: Some(4096),
            cache_changed: Some(false),
            pages_newly_cached: Some(0),
            ..PageReport::default()
        });
    });
    let text = t.backend().to_string();
    assert!(text.contains("Page inspector"), "{text}");
    assert!(text.contains("page 29,000"), "{text}");
    assert!(text.contains("46 69 72 73 Firs"), "{text}");
    insta::assert_snapshot!(t.backend());
}

/// The observed-program screen: its fixture, the grid regridded without our touches.
fn observed_screen(w: u16, h: u16, ended: bool, tweak: impl FnOnce(&mut App)) -> String {
    let t = screen_with(
        w,
        h,
        |app| app.snapshot = crate::session::fixture::fixture_observed(ended),
        |app| {
            for c in &mut app.snapshot.grid.cells {
                c.touched = 0;
                c.recent = 0;
            }
            tweak(app);
        },
    );
    t.backend().to_string()
}

#[test]
fn observed_screen_says_whom_it_watches_and_drops_the_workload_panels() {
    for (w, h) in [(80, 24), (120, 40)] {
        let out = observed_screen(w, h, false, |_| {});
        assert!(
            out.contains("observing PID 4242 (python3)"),
            "{w}x{h}\n{out}"
        );
        assert!(
            out.contains("file: largest mapped, 1 of 2"),
            "{w}x{h}\n{out}"
        );
        assert!(
            out.contains("Faults: PID 4242, all threads"),
            "{w}x{h}\n{out}"
        );
        assert!(out.contains("f next file"), "{w}x{h}\n{out}");
        assert!(out.contains("e evict (asks)"), "{w}x{h}\n{out}");
        // No worker: no pattern, rate, comparison or TLB panel, no "touched" claims.
        for absent in ["pattern ", "mmap vs read()", "TLB", "touched", "read ahead"] {
            assert!(!out.contains(absent), "{absent:?} at {w}x{h}\n{out}");
        }
    }
    let out = observed_screen(120, 40, false, |_| {});
    assert!(out.contains("workload keys off: no worker"), "{out}");
    assert!(
        out.contains("since it started: 4,610 minor, 14 major"),
        "{out}"
    );
}

#[test]
fn observed_screen_after_exit_keeps_the_totals() {
    for (w, h) in [(80, 24), (120, 40)] {
        let out = observed_screen(w, h, true, |_| {});
        assert!(
            out.contains("PID 4242 (python3) exited with status 3"),
            "{w}x{h}\n{out}"
        );
        let want = if w >= 100 {
            "totals: 4,610 minor / 14 major faults (final)  mapped 29,000 (max 29,000)  \
             cached 0 → 33,096"
        } else {
            "totals: 4,610 minor 14 major (final) · mapped 29,000 · cached 0 → 33,096"
        };
        assert!(out.contains(want), "{w}x{h}\n{out}");
    }
    let t = screen_with(
        80,
        24,
        |app| app.snapshot = crate::session::fixture::fixture_observed(true),
        |app| {
            for c in &mut app.snapshot.grid.cells {
                c.touched = 0;
                c.recent = 0;
            }
        },
    );
    insta::assert_snapshot!(t.backend());
}

#[test]
fn observed_evict_asks_in_the_footer_and_n_says_nothing_changed() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let key = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
    let out = observed_screen(80, 24, false, |app| {
        assert!(app.handle_key(key('e')).is_empty());
    });
    assert!(
        out.contains("evict the file from the page cache? It changes PID 4242's"),
        "{out}"
    );
    let out = observed_screen(80, 24, false, |app| {
        app.handle_key(key('e'));
        assert!(app.handle_key(key('n')).is_empty());
    });
    assert!(
        out.contains("not evicted: the page cache is as it was"),
        "{out}"
    );
}

#[test]
fn another_users_process_says_what_cannot_be_read() {
    let out = observed_screen(120, 40, false, |app| {
        let o = app.snapshot.observed.as_mut().unwrap();
        o.maps_note = Some(
            "cannot read /proc/4242/maps: permission denied: another user's memory map \
             needs the same user or CAP_SYS_PTRACE"
                .into(),
        );
        app.snapshot.caps.pagemap = crate::session::snapshot::PagemapSource::Unavailable;
        app.snapshot.totals.mapped = None;
        for c in &mut app.snapshot.grid.cells {
            c.mapped = None;
            c.private = None;
        }
    });
    assert!(
        out.contains("cannot read /proc/4242/maps: permission denied"),
        "{out}"
    );
    assert!(out.contains("mapped: unavailable"), "{out}");
    assert!(out.contains("ranges unknown"), "{out}");
    let warn = out
        .lines()
        .find(|l| l.contains("permission denied"))
        .unwrap();
    assert!(warn.contains("⚠"), "{out}");
}

#[test]
fn no_file_watched_says_so_instead_of_an_empty_file() {
    let out = observed_screen(120, 40, false, |app| {
        let o = app.snapshot.observed.as_mut().unwrap();
        o.chosen = None;
        o.maps_note = Some("cannot read /proc/4242/maps: permission denied".into());
        app.snapshot.file = crate::session::snapshot::FileInfo::default();
        app.snapshot.grid = Default::default();
    });
    assert!(out.contains("no file watched"), "{out}");
    assert!(out.contains("give FILE"), "{out}");
    assert!(!out.contains("empty file"), "{out}");
}

#[test]
fn observed_help_marks_the_workload_keys() {
    let out = observed_screen(120, 40, false, |app| app.help = true);
    assert!(out.contains("✗ keys are unavailable"), "{out}");
    assert!(out.contains("✗ pattern: sequential"), "{out}");
    assert!(!out.contains("✗ evict"), "{out}");
}
