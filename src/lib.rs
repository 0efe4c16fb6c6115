//! mmviz: make memory-mapped files and demand paging visible.
//!
//! The folders are the architecture; every arrow points down:
//! - [`cli`]: the commands a user types (clap arguments, headless commands, the live view's
//!   start). Only `cli` knows clap's argument structs.
//! - [`tui`]: renders owned [`session::snapshot::Snapshot`]s; the only terminal code.
//! - [`session`]: the live session sampling workloads into snapshots; [`lesson`], [`record`],
//!   [`observe`] (another program), [`compare`] (mmap vs read()), [`inspect`] (one page).
//! - [`workload`]: the worker process, access patterns, scratch files, the IPC demo.
//! - [`kernel`]: syscalls and what the kernel says: page cache, page tables, counters, TLB,
//!   file systems, address space. Each kernel module owns its result types.
//! - [`units`], [`error`], [`latency`]: plain helpers every layer uses.

pub mod cli;
pub mod compare;
pub mod error;
pub mod inspect;
pub mod kernel;
pub mod latency;
pub mod lesson;
pub mod observe;
pub mod record;
pub mod session;
pub mod text;
pub mod tlbbench;
pub mod tui;
pub mod units;
pub mod workload;
