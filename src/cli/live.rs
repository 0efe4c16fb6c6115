//! `mmviz [FILE]`: the live view. Checks the terminal, prepares the file (or the demo file),
//! starts the session thread and hands the screen to the TUI.

use crate::cli::demo;
use crate::cli::run::{parse_rate, pattern_spec};
use crate::cli::TuiArgs;
use crate::error::{AppError, Result};
use crate::kernel::target::Target;
use crate::session::snapshot::Command;
use crate::session::{self, CompareFn, SessionOptions};
use std::io::IsTerminal;

/// Default rate of the live view: fast enough to sweep the demo file in half a minute, slow
/// enough that the moving front is visible.
pub const DEFAULT_TUI_RATE: u64 = 2_000;

/// Runs the live view; returns the process exit code.
pub fn main(a: &TuiArgs, compare: Option<CompareFn>) -> Result<u8> {
    // `L` offers the built-in lessons in every live view.
    let all = crate::lesson::file::builtin().unwrap_or_default();
    main_with(a, compare, all, None)
}

/// `mmviz lesson NAME [FILE]`: the live view in a lesson (a write lesson maps a scratch copy
/// in its write mode; the user's file is never written).
pub fn main_lesson(
    a: &crate::cli::LessonArgs,
    lesson: crate::lesson::file::Lesson,
    all: Vec<crate::lesson::file::Lesson>,
) -> Result<u8> {
    let mut argv: Vec<std::ffi::OsString> = vec!["mmviz".into()];
    if let Some(f) = &a.file {
        // As a path, so a file named like a subcommand stays a file.
        argv.push(std::path::Path::new(".").join(f).into_os_string());
        if f.is_absolute() {
            argv.pop();
            argv.push(f.clone().into_os_string());
        }
    }
    let cli = <crate::cli::Cli as clap::Parser>::try_parse_from(argv)
        .map_err(|e| AppError::usage(e.to_string().trim().to_string()))?;
    let mut t = cli.tui;
    t.theme = a.theme.clone();
    t.rec = crate::cli::RecordArgs {
        record: a.record.clone(),
        record_paths: a.record_paths,
        force: a.force,
    };
    if let Some((mode, share)) = lesson.write {
        t.write = Some(mode.to_string());
        t.write_share = share;
    }
    main_with(&t, Some(compare_for_tui), all, Some(lesson))
}

fn main_with(
    a: &TuiArgs,
    compare: Option<CompareFn>,
    all: Vec<crate::lesson::file::Lesson>,
    start: Option<crate::lesson::file::Lesson>,
) -> Result<u8> {
    // Before the terminal check: a misspelt theme is the more useful message.
    let theme = crate::tui::Theme::from_args(a.theme.as_deref()).map_err(AppError::usage)?;
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(AppError::usage(
            "the live view needs a terminal (stdin and stdout); for scripts use `mmviz run FILE --json`",
        ));
    }
    let (path, is_demo) = match &a.file {
        Some(p) => (p.clone(), false),
        None => (
            demo::ensure_demo_file(std::io::stderr().is_terminal())?,
            true,
        ),
    };
    // Validate the file and the options before the screen switches to the alternate buffer,
    // so bad input is a plain one-line error.
    let t = Target::open(&path)?;
    let write = match a.write.as_deref() {
        None => None,
        Some(m) => {
            let mode: crate::workload::worker::WriteMode = m.parse().map_err(AppError::usage)?;
            if !(0.0..=1.0).contains(&a.write_share) {
                return Err(AppError::usage(format!(
                    "--write-share {} is not between 0 and 1",
                    a.write_share
                )));
            }
            Some(session::SessionWrite {
                mode,
                share: a.write_share,
            })
        }
    };
    // With --write the worker maps the scratch copy, which holds at most the first 1 GiB.
    let size = if write.is_some() {
        t.size.min(crate::workload::scratch::COPY_LIMIT)
    } else {
        t.size
    };
    // `--regex RE [--max-matches N]` may come with another first pattern: `8` switches to
    // grep with it. Validated here all the same.
    let mut w = a.workload.clone();
    let starts_grep = w.pattern.trim().eq_ignore_ascii_case("grep");
    let (regex, max_matches) = if starts_grep {
        (None, None)
    } else {
        (w.regex.take(), w.max_matches.take())
    };
    let (mut spec, advice) = pattern_spec(&w, size, &t.path)?;
    if let Some(re) = regex {
        crate::workload::patterns::grep::compile(&re).map_err(AppError::usage)?;
        spec.regex = Some(re);
    }
    spec.max_matches = spec.max_matches.or(max_matches);
    drop(t);
    let rate = match a.rate.as_deref() {
        None => Some(DEFAULT_TUI_RATE),
        r => parse_rate(r)?,
    };
    if a.hz == 0 || a.hz > 60 {
        return Err(AppError::usage(format!("--hz {} is not in 1..=60", a.hz)));
    }
    // Created before the session starts, so an existing file is a plain exit-2 error.
    let recorder = match &a.rec.record {
        Some(out) => Some(crate::record::Recorder::create(
            out,
            a.rec.force,
            &path,
            a.rec.record_paths,
        )?),
        None => None,
    };
    let path_for_probes = path.clone();
    let (tx, rx, handle) = session::spawn(SessionOptions {
        path,
        is_demo,
        spec,
        advice,
        rate,
        cold: a.cold,
        hz: a.hz,
        compare,
        write,
    })?;
    let (ui_tx, ui_rx, tee) = match recorder {
        Some(r) => {
            let (t, r, h) = crate::record::tee(tx.clone(), rx, r);
            (t, r, Some(h))
        }
        None => (tx.clone(), rx, None),
    };
    let lessons = crate::tui::Lessons {
        all,
        start,
        file: path_for_probes,
        write: write.map(|w| w.mode),
        sink: tee.as_ref().map(|h| h.lesson_sink()),
    };
    let res = crate::tui::run_lessons(ui_rx, ui_tx, theme, lessons);
    let _ = tx.send(Command::Quit);
    let _ = handle.join();
    if let Some(Some(e)) = tee.map(|h| h.finish()) {
        eprintln!("mmviz: the recording stopped early: {e}");
    }
    match res {
        Ok(kind) => Ok(kind.code() as u8),
        Err(e) => Err(AppError::runtime(format!("terminal: {e}"))),
    }
}

/// The `c` key: the comparison for the current pattern and advice from the cache state the
/// user picked (`C` cycles cold, evicted before every repeat; warm, read in before every
/// repeat; as-is, the cache as it is when `c` is pressed), 3 repeats so the answer comes in
/// seconds. The result says which state was used.
pub fn compare_for_tui(
    req: &crate::session::CompareRequest,
    progress: &mut dyn FnMut(f64, &str),
    cancel: &std::sync::atomic::AtomicBool,
) -> std::result::Result<crate::session::snapshot::ComparisonResult, String> {
    let mut opts = crate::compare::CompareOptions::new(req.path.clone(), req.spec.clone());
    opts.advice = req.advice;
    opts.repeat = 3;
    opts.cache = match req.cache {
        crate::session::snapshot::CompareCache::Cold => crate::compare::CacheMode::Cold,
        crate::session::snapshot::CompareCache::Warm => {
            crate::compare::CacheMode::Warm(crate::kernel::cache::Fill::Sequential)
        }
        crate::session::snapshot::CompareCache::AsIs => crate::compare::CacheMode::AsIs,
    };
    crate::compare::compare(&opts, progress, cancel).map_err(|e| e.msg)
}
