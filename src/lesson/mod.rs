//! Lessons (issue 10): lesson files (TOML in assets/lessons/, compiled in) and the checks
//! engine, predicates over a snapshot's JSON that turn a step green with the measured value.
//! The picker and running steps against the live session come later.

pub mod check;
pub mod file;

use crate::cli::{LessonArgs, LessonCmd};
use crate::error::{AppError, Result};

/// `mmviz lesson ...`. An invalid lesson file is bad input (exit 2) naming file and line.
pub fn main(a: &LessonArgs) -> Result<()> {
    match &a.command {
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
            Ok(())
        }
    }
}
