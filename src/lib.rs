//! mmviz: make memory-mapped files and demand paging visible.
//!
//! Domain modules (everything but `tui`) import no terminal crate; the TUI renders owned
//! [`snapshot::Snapshot`]s built by the sampler.

pub mod advice;
pub mod patterns;
pub mod snapshot;
pub mod tui;
pub mod units;
