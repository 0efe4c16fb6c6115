//! Lessons (issue 10): lesson files (TOML in assets/lessons/, compiled in), the checks
//! engine (predicates over a snapshot's JSON that turn a step green with the measured value),
//! the controller that runs a lesson's steps against the live session (driven by the TUI and
//! by the headless pre-flight in `runner`) and its probes (second mmviz processes).

pub mod check;
pub mod controller;
pub mod file;
pub mod probe;
pub mod recording;
pub mod runner;

use crate::cli::{LessonArgs, LessonCmd};
use crate::error::{AppError, Result};

/// `mmviz lesson ...`; returns the exit code. An invalid lesson file is bad input (exit 2)
/// naming file and line; a pre-flight with a failed check exits 1.
pub fn main(a: &LessonArgs) -> Result<u8> {
    let Some(cmd) = &a.command else {
        let Some(name) = &a.name else {
            return Err(AppError::usage(
                "name a lesson (mmviz lesson list shows them) or use mmviz lesson list",
            ));
        };
        let all = file::all(a.lessons.as_deref()).map_err(AppError::usage)?;
        let Some(lesson) = all.iter().find(|l| &l.name == name).cloned() else {
            let names: Vec<&str> = all.iter().map(|l| l.name.as_str()).collect();
            return Err(AppError::usage(format!(
                "no lesson '{}' (there are: {})",
                crate::text::escape_controls(name),
                names.join(", ")
            )));
        };
        if a.check {
            let r = runner::check(&lesson, a.file.as_deref(), a.slow)?;
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
            let v = file::all(lessons.as_deref()).map_err(AppError::usage)?;
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
