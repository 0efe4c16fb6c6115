//! Record and replay through the built binary: a live session recorded in a real terminal
//! (tmux), replayed with no file, rendered to asciicast v2; bad recordings exit 2, truncated
//! ones replay up to the break and exit 0; a steady session's recording is a small fraction
//! of a whole snapshot per frame, and replays to the same snapshots.

mod common;

use common::tmux::Tmux;
use common::{mmviz, scratch_dir};
use serde_json::Value;
use std::path::Path;

fn lines(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every line of an asciicast v2 file parses: a header object, then [time, "o", text].
fn check_cast(p: &Path, w: u64, h: u64) -> usize {
    let v = lines(p);
    assert_eq!(v[0]["version"], 2);
    assert_eq!(
        (v[0]["width"].as_u64(), v[0]["height"].as_u64()),
        (Some(w), Some(h))
    );
    let mut t = 0.0;
    for e in &v[1..] {
        let a = e.as_array().expect("event array");
        assert_eq!(a.len(), 3);
        assert!(a[0].as_f64().unwrap() >= t);
        t = a[0].as_f64().unwrap();
        assert_eq!(a[1], "o");
        assert!(a[2].as_str().unwrap().contains("\x1b["));
    }
    v.len() - 1
}

#[test]
fn record_a_live_session_then_replay_it() {
    if !Tmux::available() {
        eprintln!("skipped: tmux is not installed (.ci/run installs it)");
        return;
    }
    let dir = scratch_dir();
    let file = dir.path().join("lecture.bin");
    assert_eq!(
        mmviz(&["gen", file.to_str().unwrap(), "--size", "16MiB"]).code(),
        0
    );
    let rec = dir.path().join("lecture.jsonl");
    let bin = env!("CARGO_BIN_EXE_mmviz");
    let cmd = format!(
        "{bin} {} --rate 500 --record {}; echo EXIT=$?; sleep 60",
        file.display(),
        rec.display()
    );
    let t = Tmux::start("rec", &cmd);
    t.wait(20, "the running view", |s| {
        s.contains("running") && s.contains("1 cell =")
    });
    t.keys(&["4"]);
    t.wait(10, "pattern random", |s| s.contains("pattern random"));
    t.keys(&["e"]);
    t.wait(15, "evicted", |s| s.contains("evicted"));
    t.keys(&["q"]);
    t.wait(10, "exit status", |s| s.contains("EXIT=0"));
    drop(t);

    let v = lines(&rec);
    assert_eq!(v[0]["type"], "header");
    assert_eq!(v[0]["version"], 2);
    assert_eq!(v[0]["file"], "lecture.bin", "the name, not the path");
    let text = std::fs::read_to_string(&rec).unwrap();
    assert!(
        !text.contains(dir.path().to_str().unwrap()),
        "no full path anywhere"
    );
    let snaps = v
        .iter()
        .filter(|e| e["type"] == "keyframe" || e["type"] == "delta")
        .count();
    assert!(snaps >= 5, "{snaps} snapshots");
    let first = v
        .iter()
        .find(|e| e["type"] == "keyframe" || e["type"] == "delta")
        .unwrap();
    assert_eq!(first["type"], "keyframe", "the first frame is whole");
    let cmds: Vec<&str> = v
        .iter()
        .filter(|e| e["type"] == "action")
        .map(|e| e["command"]["cmd"].as_str().unwrap())
        .collect();
    for want in ["set_pattern", "evict", "quit"] {
        assert!(cmds.contains(&want), "{want} in {cmds:?}");
    }
    assert!(
        v.iter().any(|e| e["type"] == "event"),
        "the evict message is an event"
    );

    // Not overwritten without --force (checked before the screen switches).
    let cmd = format!(
        "{bin} {} --record {}; echo EXIT=$?; sleep 60",
        file.display(),
        rec.display()
    );
    let t = Tmux::start("again", &cmd);
    t.wait(10, "exit status", |s| s.contains("EXIT=2"));
    // Joined: the error line holds the path, and the terminal may wrap it anywhere.
    let s = t.capture_joined();
    assert!(s.contains("already exists (use --force"), "{s}");
    drop(t);

    // The replay needs neither the file nor the kernel's state: remove the file first.
    std::fs::remove_file(&file).unwrap();
    let cast = dir.path().join("lecture.cast");
    let r = mmviz(&[
        "replay",
        rec.to_str().unwrap(),
        "--asciicast",
        cast.to_str().unwrap(),
        "--size",
        "80x24",
    ]);
    assert_eq!(r.code(), 0, "{r:?}");
    assert!(check_cast(&cast, 80, 24) >= 2);
    let r = mmviz(&[
        "replay",
        rec.to_str().unwrap(),
        "--asciicast",
        cast.to_str().unwrap(),
    ]);
    assert_eq!(r.code(), 2, "never overwrites without --force: {r:?}");

    let cmd = format!("{bin} replay {}; echo EXIT=$?; sleep 60", rec.display());
    let t = Tmux::start("play", &cmd);
    t.wait(10, "the replay screen", |s| {
        s.contains("replay lecture.bin") && s.contains("1 cell =")
    });
    t.keys(&["Space"]);
    t.keys(&["Home"]);
    t.wait(5, "frame 1", |s| s.contains("frame 1/"));
    t.keys(&["Right"]);
    t.wait(5, "frame 2", |s| s.contains("frame 2/"));
    t.keys(&["q"]);
    t.wait(10, "exit status", |s| s.contains("EXIT=0"));
}

#[test]
fn bad_recordings_exit_2_and_truncated_ones_replay_with_a_warning() {
    let dir = scratch_dir();
    let good = dir.path().join("good.jsonl");
    // A format version 1 recording (a whole snapshot per line) of the built-in fixture
    // screen: still replayed by this format-2 reader.
    let snap = serde_json::to_value(mmviz::session::fixture::fixture_snapshot()).unwrap();
    let header = r#"{"type":"header","format":"mmviz-recording","version":1,"mmviz":"0.1.0","file":"d.bin","started_unix_ms":0}"#;
    let mut text = format!("{header}\n");
    for i in 0..3 {
        text.push_str(
            &serde_json::json!({"type": "snapshot", "t_ms": i * 100, "snapshot": snap}).to_string(),
        );
        text.push('\n');
    }
    std::fs::write(&good, &text).unwrap();
    let out = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let r = mmviz(&[
        "replay",
        good.to_str().unwrap(),
        "--asciicast",
        &out("g.cast"),
    ]);
    assert_eq!(r.code(), 0, "{r:?}");
    assert!(check_cast(Path::new(&out("g.cast")), 120, 40) >= 1);

    let cases: &[(&str, String, &str)] = &[
        ("garbage", "hello\n".into(), "not a valid mmviz recording"),
        ("empty", String::new(), "empty"),
        (
            "newer",
            text.replacen("\"version\":1", "\"version\":7", 1),
            "newer than this mmviz",
        ),
        ("middle", text.replacen("\n{", "\n{oops\n{", 1), "line 2"),
        ("nosnap", format!("{header}\n"), "no snapshots"),
    ];
    for (name, content, want) in cases {
        let p = dir.path().join(format!("{name}.jsonl"));
        std::fs::write(&p, content).unwrap();
        let r = mmviz(&[
            "replay",
            p.to_str().unwrap(),
            "--asciicast",
            &out(&format!("{name}.cast")),
        ]);
        assert_eq!(r.code(), 2, "{name}: {r:?}");
        assert!(
            r.stderr.starts_with("mmviz: ") && r.stderr.contains(want),
            "{name}: {r:?}"
        );
        assert_eq!(r.stderr.trim_end().lines().count(), 1, "{name}: {r:?}");
    }
    // Truncated: the last line cut in the middle (a recording killed mid-write).
    let cut = dir.path().join("cut.jsonl");
    std::fs::write(&cut, &text[..text.len() - 500]).unwrap();
    let r = mmviz(&[
        "replay",
        cut.to_str().unwrap(),
        "--asciicast",
        &out("cut.cast"),
    ]);
    assert_eq!(r.code(), 0, "{r:?}");
    assert!(r.stderr.contains("truncated at line 4"), "{r:?}");
    assert!(check_cast(Path::new(&out("cut.cast")), 120, 40) >= 1);
    // No terminal and no --asciicast: a usage error pointing at --asciicast.
    let r = mmviz(&["replay", good.to_str().unwrap()]);
    assert_eq!(r.code(), 2, "{r:?}");
    assert!(r.stderr.contains("--asciicast"), "{r:?}");
}

#[test]
fn a_steady_session_records_far_less_than_a_whole_snapshot_per_frame() {
    use mmviz::kernel::advice::Advice;
    use mmviz::record::{Recorder, Recording};
    use mmviz::session::snapshot::Command;
    use mmviz::session::SessionOptions;
    use mmviz::workload::worker::PatternSpec;
    let dir = scratch_dir();
    let file = dir.path().join("steady.bin");
    assert_eq!(
        mmviz(&["gen", file.to_str().unwrap(), "--size", "64MiB"]).code(),
        0
    );
    let mut live = common::live::Live::spawn(SessionOptions {
        path: file.clone(),
        is_demo: false,
        spec: PatternSpec {
            kind: mmviz::workload::patterns::PatternKind::Sequential,
            seed: 7,
            ..Default::default()
        },
        advice: Advice::Normal,
        rate: Some(2_000),
        cold: false,
        hz: 20,
        compare: None,
        write: None,
    });
    // About the grid of a 120x40 terminal.
    live.send(Command::SetView {
        start_page: 0,
        end_page: u64::MAX,
        cells: 2048,
    });
    let first = live.wait("2048 cells", |s| s.grid.cells.len() == 2048);
    let rec_path = dir.path().join("steady.jsonl");
    let mut rec = Recorder::create(&rec_path, false, &file, true).unwrap();
    let mut shown = vec![first];
    while shown.len() < 80 {
        let last = shown.last().unwrap().seq;
        shown.push(live.wait("the next snapshot", move |s| s.seq > last));
    }
    for s in &shown {
        rec.snapshot(s).unwrap();
    }
    drop(rec);
    live.end();
    // What version 1 wrote: each snapshot whole, on its own line.
    let whole: usize = shown
        .iter()
        .map(|s| serde_json::to_string(s).unwrap().len())
        .sum();
    let size = std::fs::metadata(&rec_path).unwrap().len() as usize;
    let ratio = size as f64 / whole as f64;
    eprintln!(
        "{size} bytes for {} frames; whole snapshots {whole} bytes; ratio {ratio:.4}",
        shown.len()
    );
    assert!(
        ratio < 0.05,
        "the recording is {ratio:.3} of whole snapshots ({size} of {whole} bytes)"
    );
    // The workload moved while recorded (so the deltas carried real changes)...
    assert!(shown.last().unwrap().worker.accesses > shown[0].worker.accesses);
    // ...and every frame replays as recorded (compared as the JSON `watch --json` prints).
    let mut r = Recording::open(&rec_path).unwrap();
    assert_eq!(r.frames.len(), shown.len());
    // (Through JSON text both: a float reads back as the text it was written as.)
    let json = |s: &mmviz::session::snapshot::Snapshot| {
        serde_json::from_str::<Value>(&serde_json::to_string(s).unwrap()).unwrap()
    };
    for i in (0..shown.len()).rev() {
        assert!(json(&r.frame(i).unwrap()) == json(&shown[i]), "frame {i}");
    }
}

#[test]
fn replay_jumps_to_recorded_lesson_steps_in_a_terminal() {
    use mmviz::record::{CheckRecord, CheckVerdict, LessonStep, Recorder};
    if !Tmux::available() {
        eprintln!("skipped: tmux is not installed (.ci/run installs it)");
        return;
    }
    let dir = scratch_dir();
    let rec = dir.path().join("lesson.jsonl");
    let mut r = Recorder::create(&rec, false, Path::new("data.bin"), false).unwrap();
    let mut s = mmviz::session::fixture::fixture_snapshot();
    s.message = None;
    for i in 0..6u64 {
        s.seq = i;
        r.snapshot(&s).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(30));
        if i == 1 || i == 3 {
            r.lesson_step(&LessonStep {
                lesson: "demand-paging".into(),
                index: i as u32 / 2,
                title: format!("step title {i}"),
                checks: vec![CheckRecord {
                    check: "faults.major_total >= 1".into(),
                    verdict: CheckVerdict::Pass,
                    measured: Some(serde_json::json!(14)),
                    note: None,
                }],
            })
            .unwrap();
            std::thread::sleep(std::time::Duration::from_millis(30));
        }
    }
    drop(r);
    let bin = env!("CARGO_BIN_EXE_mmviz");
    let cmd = format!("{bin} replay {}; echo EXIT=$?; sleep 60", rec.display());
    let t = Tmux::start("steps", &cmd);
    t.wait(10, "the replay screen", |s| {
        s.contains("replay data.bin") && s.contains("/2 ")
    });
    t.keys(&["Home", "n"]);
    let s = t.wait(5, "the first step", |s| {
        s.contains("◆ demand-paging step 1: step title 1  ✓ faults.major_total >= 1 (14)")
    });
    assert!(s.contains("step 1 ◆1/2") && s.contains("⏸"), "{s}");
    t.keys(&["n"]);
    t.wait(5, "the second step", |s| {
        s.contains("◆ demand-paging step 2: step title 3") && s.contains("step 2 ◆2/2")
    });
    t.keys(&["n"]);
    t.wait(5, "no step after", |s| {
        s.contains("no lesson step after this point")
    });
    t.keys(&["p"]);
    t.wait(5, "back to the first", |s| {
        s.contains("step 1: step title 1")
    });
    t.keys(&["q"]);
    t.wait(10, "exit status", |s| s.contains("EXIT=0"));
}

/// A two-worker session recorded at 120x40, replayed into smaller terminals: the grid's
/// cells are merged to fit, and so is the selected worker's own share per cell, so a merged
/// cell that only the other worker maps is still drawn "mapped by another worker" (▚). The
/// expected cells are worked out here from the recorded, unmerged cells.
#[test]
fn a_two_worker_recording_keeps_mapped_by_another_worker_in_a_smaller_replay() {
    use mmviz::record::Recording;
    use mmviz::tui::replay::{self, Player, Status};
    use mmviz::tui::theme::COLOR;
    use mmviz::tui::App;
    use ratatui::backend::TestBackend;
    use ratatui::layout::Rect;

    if !Tmux::available() {
        eprintln!("skipped: tmux is not installed (.ci/run installs it)");
        return;
    }
    let dir = scratch_dir();
    let file = dir.path().join("two.bin");
    assert_eq!(
        mmviz(&["gen", file.to_str().unwrap(), "--size", "16MiB"]).code(),
        0
    );
    let rec_path = dir.path().join("two.jsonl");
    let bin = env!("CARGO_BIN_EXE_mmviz");
    // Worker 1 reads sequentially; worker 2 (`p`, then selected) starts over at page 0, so
    // the pages between the two fronts are mapped by worker 1 only.
    let cmd = format!(
        "{bin} {} --rate 400 --record {}; echo EXIT=$?; sleep 60",
        file.display(),
        rec_path.display()
    );
    let t = Tmux::start("rec2", &cmd);
    t.wait(20, "the running view", |s| {
        s.contains("running") && s.contains("1 cell =")
    });
    std::thread::sleep(std::time::Duration::from_millis(1500));
    t.keys(&["p"]);
    t.wait(15, "two workers (the legend's ▚ other)", |s| {
        s.contains('▚')
    });
    t.keys(&["q"]);
    t.wait(10, "exit status", |s| s.contains("EXIT=0"));
    drop(t);

    let mut rec = Recording::open(&rec_path).unwrap();
    // The newest frame with a selected worker's share per cell.
    let i = (0..rec.frames.len())
        .rev()
        .find(|&i| rec.frame(i).unwrap().grid_mine.is_some())
        .expect("a frame recorded with two workers");
    let s = rec.frame(i).unwrap();
    let mine = s.grid_mine.clone().unwrap();
    let n = s.grid.cells.len();
    assert_eq!(mine.len(), n);
    let mut player = Player::new(&rec);
    player.playing = false;
    player.frame = i;
    let status = Status::of(&player, &rec);
    for (w, h) in [(80u16, 24u16), (100, 30)] {
        let mut term = ratatui::Terminal::new(TestBackend::new(w, h)).unwrap();
        term.draw(|f| replay::render(&s, &status, &COLOR, f.area(), f.buffer_mut()))
            .unwrap();
        let buf = term.backend().buffer().clone();
        let cells = App::new(s.clone(), &COLOR).grid_cells_area(Rect::new(0, 0, w, h - 1));
        let fits = cells.width as usize * cells.height as usize;
        assert!(
            fits > 0 && fits < n,
            "{w}x{h}: {fits} cells for {n} recorded"
        );
        let k = n.div_ceil(fits);
        let (mut other, mut own) = (0, 0);
        for (j, run) in s.grid.cells.chunks(k).enumerate() {
            let lo = j * k;
            let sum = |f: &dyn Fn(&mmviz::session::snapshot::CellCounts) -> u64| {
                run.iter().map(f).sum::<u64>()
            };
            let mine_sum: u64 = mine[lo..lo + run.len()].iter().sum();
            let past_end = s
                .grid
                .eof_page
                .is_some_and(|e| s.grid.start_page + (lo as u64) * s.grid.pages_per_cell >= e);
            // Mapped by someone, not by the selected worker, and nothing drawn over it
            // (front, private copy, dirty, writeback, unsampled).
            let expect_other = !past_end
                && mine_sum == 0
                && sum(&|c| c.mapped.unwrap_or(0)) > 0
                && sum(&|c| c.recent) == 0
                && sum(&|c| c.private.unwrap_or(0) + c.dirty.unwrap_or(0)) == 0
                && sum(&|c| c.writeback.unwrap_or(0)) == 0
                && run.iter().all(|c| c.cached.is_some());
            let x = cells.x + (j % cells.width as usize) as u16;
            let y = cells.y + (j / cells.width as usize) as u16;
            let drawn = buf[(x, y)].symbol() == "▚";
            assert_eq!(
                drawn,
                expect_other,
                "{w}x{h}, merged cell {j} (recorded {lo}..{}): mine {mine_sum}, {run:?}",
                lo + run.len()
            );
            other += usize::from(drawn);
            own += usize::from(mine_sum > 0);
        }
        assert!(
            other > 0 && own > 0,
            "{w}x{h}: {other} cells of the other worker, {own} of the selected one"
        );
    }
}

/// `mmviz lesson NAME FILE --record R` in a real terminal: every step entered and every change
/// of its verdicts is a `lesson_step` entry with the measured values the screen showed (and
/// the recorded frame at that moment holds), never one per frame; the replay marks them and
/// jumps to them with n.
#[test]
fn a_recorded_lesson_replays_its_steps_with_their_verdicts() {
    use mmviz::record::{CheckVerdict, Recording};
    if !Tmux::available() {
        eprintln!("skipped: tmux is not installed (.ci/run installs it)");
        return;
    }
    let dir = scratch_dir();
    let file = dir.path().join("lesson.bin");
    assert_eq!(
        mmviz(&["gen", file.to_str().unwrap(), "--size", "8MiB"]).code(),
        0
    );
    let rec = dir.path().join("lesson.jsonl");
    let (f, r) = (file.to_str().unwrap(), rec.to_str().unwrap());
    // The flags as in the live view; a pre-flight has no screen to record.
    let e = mmviz(&["lesson", "demand-paging", f, "--check", "--record", r]);
    assert_eq!(e.code(), 2, "{e:?}");
    assert!(
        e.stderr.contains("--record") && e.stderr.contains("--check"),
        "{e:?}"
    );
    let e = mmviz(&["lesson", "demand-paging", f, "--force"]);
    assert_eq!(e.code(), 2, "--force needs --record: {e:?}");
    assert!(!rec.exists());

    let bin = env!("CARGO_BIN_EXE_mmviz");
    let cmd = format!("{bin} lesson demand-paging {f} --record {r}; echo EXIT=$?; sleep 60");
    let t = Tmux::start("lessonrec", &cmd);
    t.wait(30, "step 1 judged", |s| {
        s.contains("1/4 A cold file") && s.contains("✓ totals.cached == 0")
    });
    t.keys(&["n"]);
    t.wait(30, "step 2 judged", |s| {
        s.contains("2/4 First touch") && s.contains("✓ faults.major_total >= 1")
    });
    t.keys(&["n"]);
    t.wait(30, "step 3 judged", |s| {
        s.contains("3/4 Minor faults") && s.contains("✓ faults.minor_total >= 1")
    });
    t.keys(&["q"]);
    t.wait(10, "exit status", |s| s.contains("EXIT=0"));
    drop(t);
    // Not overwritten without --force (checked before the screen switches).
    let t = Tmux::start("lessonrec2", &cmd);
    t.wait(10, "exit status", |s| s.contains("EXIT=2"));
    // Joined: the error line holds the path, and the terminal may wrap it anywhere.
    let s = t.capture_joined();
    assert!(s.contains("already exists (use --force"), "{s}");
    drop(t);

    let mut recording = Recording::open(&rec).unwrap();
    let steps = recording.lesson_steps.clone();
    let lesson = mmviz::lesson::file::builtin()
        .unwrap()
        .into_iter()
        .find(|l| l.name == "demand-paging")
        .unwrap();
    let indices: Vec<u32> = steps.iter().map(|(_, s)| s.index).collect();
    let mut visited = indices.clone();
    visited.dedup();
    assert_eq!(visited, [0, 1, 2], "{indices:?}");
    let mut prev: Option<&mmviz::record::LessonStep> = None;
    for (t_ms, s) in &steps {
        let want = &lesson.steps[s.index as usize];
        assert_eq!(
            (s.lesson.as_str(), &s.title),
            ("demand-paging", &want.title)
        );
        let checks: Vec<String> = want.checks.iter().map(|c| c.expect.to_string()).collect();
        let got: Vec<String> = s.checks.iter().map(|c| c.check.clone()).collect();
        assert_eq!(got, checks);
        let verdicts =
            |s: &mmviz::record::LessonStep| s.checks.iter().map(|c| c.verdict).collect::<Vec<_>>();
        match prev {
            // Entered: nothing judged yet.
            Some(p) if p.index == s.index => {
                assert_ne!(
                    verdicts(p),
                    verdicts(s),
                    "written only when a verdict changes"
                )
            }
            _ => assert!(
                s.checks.iter().all(|c| c.verdict == CheckVerdict::Pending),
                "{s:?}"
            ),
        }
        for c in &s.checks {
            match c.verdict {
                CheckVerdict::Pass | CheckVerdict::Fail => assert!(c.measured.is_some(), "{c:?}"),
                CheckVerdict::Pending => assert!(c.measured.is_none(), "{c:?}"),
                _ => assert!(c.note.as_deref().is_some_and(|n| !n.is_empty()), "{c:?}"),
            }
        }
        // Step 2 paused after its one access: the recorded frame holds the judged count.
        if s.index == 1 {
            if let Some(c) = s
                .checks
                .iter()
                .find(|c| c.check == "faults.major_total >= 1" && c.verdict == CheckVerdict::Pass)
            {
                let i = recording.frame_at(*t_ms);
                let frame = recording.frame(i).unwrap();
                assert_eq!(c.measured, Some(frame.faults.major_total.into()));
                assert!(frame.faults.major_total >= 1);
            }
        }
        prev = Some(s);
    }
    let passed = |i: u32, check: &str| {
        steps.iter().any(|(_, s)| {
            s.index == i
                && s.checks
                    .iter()
                    .any(|c| c.check == check && c.verdict == CheckVerdict::Pass)
        })
    };
    assert!(passed(0, "totals.cached == 0"), "{steps:?}");
    assert!(passed(1, "faults.major_total >= 1"), "{steps:?}");
    assert!(passed(2, "faults.minor_total >= 1"), "{steps:?}");
    let frames = recording.frames.len();
    assert!(
        steps.len() < frames,
        "{} entries, {frames} frames",
        steps.len()
    );

    // The replay marks them and jumps to them with n.
    let n = steps.len();
    let cmd = format!("{bin} replay {r}; echo EXIT=$?; sleep 60");
    let t = Tmux::start("lessonplay", &cmd);
    t.wait(10, "the replay screen", |s| {
        s.contains("replay lesson.bin") && s.contains(&format!("/{n} ")) && s.contains('◆')
    });
    t.keys(&["Home", "n"]);
    let s = t.wait(5, "the first step", |s| {
        s.contains("◆ demand-paging step 1: A cold file  ") && s.contains("totals.cached == 0 (")
    });
    assert!(s.contains("step 1 ◆") && s.contains("⏸"), "{s}");
    // n walks the entries in order, each shown with its lesson step and verdicts.
    let mut seen = Vec::new();
    for _ in 0..n {
        let s = t.capture();
        let line = s
            .lines()
            .find(|l| l.starts_with("◆ demand-paging step "))
            .unwrap_or_default()
            .to_string();
        if line.contains("step 2: First touch") && line.contains("✓ faults.major_total >= 1 (") {
            seen.push(line);
            break;
        }
        seen.push(line.clone());
        t.keys(&["n"]);
        // The next entry's line replaces this one.
        t.wait(5, "the next entry", |s| {
            !s.contains(&line) || s.contains("no lesson step after")
        });
    }
    assert!(
        seen.last()
            .is_some_and(|l| l.contains("✓ faults.major_total >= 1 (")),
        "{seen:#?}"
    );
    assert!(
        seen.iter()
            .any(|l| l.contains("step 1: A cold file  ✓ totals.cached == 0 (0)")),
        "{seen:#?}"
    );
    t.keys(&["q"]);
    t.wait(10, "exit status", |s| s.contains("EXIT=0"));
}
