//! The worker process and its protocol (see docs/ARCHITECTURE.md).
//!
//! The workload runs in a child process (the same binary, hidden subcommand `__worker`):
//! only it dereferences the mapping, so a SIGBUS after truncation kills it, never the viewer,
//! and its /proc fault counters are exactly the workload's.

pub mod child;
pub mod client;
pub mod protocol;

pub use client::{Death, Event, MapInfo, WorkerHandle};
pub use protocol::{
    Control, Limit, PatternSpec, Progress, Report, WorkerOptions, WorkerState, WriteMode,
};
