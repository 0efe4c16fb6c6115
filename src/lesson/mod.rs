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
