//! mmviz: make memory-mapped files and demand paging visible.
//!
//! Domain modules (everything but `tui`) import no terminal crate; the TUI renders owned
//! [`snapshot::Snapshot`]s built by the sampler.

pub mod addrspace;
pub mod advice;
pub mod attach;
pub mod cache;
pub mod cli;
pub mod clidoc;
pub mod commands;
pub mod compare;
pub mod counters;
pub mod demo;
pub mod error;
pub mod features;
pub mod fsinfo;
pub mod gen;
pub mod grid;
pub mod inspect;
pub mod ipc;
pub mod latency;
pub mod lesson;
pub mod live;
pub mod live_observe;
pub mod machine;
pub mod mapping;
pub mod observe;
pub mod output;
pub mod page;
pub mod pagemap;
pub mod patterns;
pub mod record;
pub mod residency;
pub mod run;
pub mod scratch;
pub mod session;
pub mod snapshot;
pub mod sys;
pub mod target;
pub mod tlb;
pub mod tlbbench;
pub mod tui;
pub mod units;
pub mod watch;
pub mod worker;
