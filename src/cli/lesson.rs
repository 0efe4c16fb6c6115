//! `mmviz lesson list`, `mmviz lesson NAME [FILE]` (the live view in a lesson) and
//! `mmviz lesson NAME [FILE] --check [--json] [--slow]` (the pre-flight).

use crate::cli::{LessonArgs, LessonCmd};
use crate::error::{AppError, Result};
use crate::lesson::runner;

/// `mmviz lesson ...`; returns the exit code. An invalid lesson file is bad input (exit 2)
/// naming file and line; a pre-flight with a failed check exits 1.
pub fn main(a: &LessonArgs) -> Result<u8> {
    let Some(cmd) = &a.command else {
        let Some(name) = &a.name else {
            return Err(AppError::usage(
                "name a lesson (mmviz lesson list shows them) or use mmviz lesson list",
            ));
        };
        let all = crate::lesson::file::all(a.lessons.as_deref()).map_err(AppError::usage)?;
        let Some(lesson) = all.iter().find(|l| &l.name == name).cloned() else {
            let names: Vec<&str> = all.iter().map(|l| l.name.as_str()).collect();
            return Err(AppError::usage(format!(
                "no lesson '{}' (there are: {})",
                crate::text::escape_controls(name),
                names.join(", ")
            )));
        };
        if a.check {
            let (path, is_demo) = match &a.file {
                Some(p) => (p.clone(), false),
                None => (crate::cli::demo::ensure_demo_file(false)?, true),
            };
            let r = runner::check(
                &lesson,
                &runner::CheckOptions {
                    path,
                    is_demo,
                    slow: a.slow,
                    rate: Some(crate::cli::live::DEFAULT_TUI_RATE),
                    compare: Some(crate::cli::live::compare_for_tui),
                },
            )?;
            if a.json {
                crate::outln!(
                    "{}",
                    serde_json::to_string_pretty(&r).map_err(AppError::runtime)?
                );
            } else {
                crate::outln!("{}", runner::text(&r).trim_end());
            }
            return Ok(if r.ok { 0 } else { 1 });
        }
        return crate::cli::live::main_lesson(a, lesson, all);
    };
    match cmd {
        LessonCmd::List { lessons, json } => {
            let v = crate::lesson::file::all(lessons.as_deref()).map_err(AppError::usage)?;
            if *json {
                let rows: Vec<_> = v
                    .iter()
                    .map(|l| {
                        serde_json::json!({
                            "name": l.name,
                            "title": l.title,
                            "duration_min": l.duration_min,
                            "steps": l.steps.len(),
                        })
                    })
                    .collect();
                crate::outln!(
                    "{}",
                    serde_json::to_string_pretty(&rows).map_err(AppError::runtime)?
                );
            } else {
                let w = v.iter().map(|l| l.name.len()).max().unwrap_or(4).max(4);
                crate::outln!("{:w$}  {:>4}  {:>5}  title", "name", "min", "steps");
                for l in &v {
                    crate::outln!(
                        "{:w$}  {:>4}  {:>5}  {}",
                        l.name,
                        l.duration_min,
                        l.steps.len(),
                        l.title
                    );
                }
            }
            Ok(0)
        }
    }
}
