//! `mmviz __compare FILE --method M ...`: one method, one repeat, in a fresh process.
//!
//! Runs the method on the file (opened read-only, mapped read-only) and prints one JSON line
//! (a [`Measured`]) on stdout. A fresh process per repeat means a fresh mapping, its own
//! first-touch faults, and /proc fault counters that belong to this method alone, never to
//! the UI or a test harness. Cache control (evict, warm) is the parent's job.

use super::budget;
use super::methods::{self, Measured, Method};
use crate::error::io_reason;
use crate::workload::worker::PatternSpec;
use std::fs::File;

/// What one child measures: a method, the pattern (or why its arguments were bad) and the
/// number of accesses.
pub struct ChildRequest<'a> {
    pub file: &'a std::path::Path,
    pub method: &'a str,
    pub spec: std::result::Result<PatternSpec, String>,
    pub accesses: u64,
}

/// Exit status: 0 with the JSON line printed, 1 with one line on stderr, 2 on bad arguments.
pub fn main(a: &ChildRequest) -> i32 {
    // A child left behind by a killed parent would keep reading the file and skew whatever
    // runs next.
    crate::kernel::sys::die_with_parent();
    match run(a) {
        Ok(m) => match serde_json::to_string(&m) {
            Ok(s) => {
                println!("{s}");
                0
            }
            Err(e) => {
                eprintln!("mmviz __compare: {e}");
                1
            }
        },
        Err((code, msg)) => {
            eprintln!("mmviz __compare: {msg}");
            code
        }
    }
}

fn run(a: &ChildRequest) -> Result<Measured, (i32, String)> {
    let bad = |e: String| (2, e);
    let method: Method = a.method.parse().map_err(bad)?;
    let spec = a.spec.clone().map_err(bad)?;
    // Plain O_RDONLY: the parent validated the file; we never write it.
    let file =
        File::open(a.file).map_err(|e| (1, format!("{}: {}", a.file.display(), io_reason(&e))))?;
    let size = file
        .metadata()
        .map_err(|e| (1, format!("{}: {}", a.file.display(), io_reason(&e))))?
        .len();
    // The last line of defence after the parent's memory plan (budget.rs): a runaway
    // allocation or mapping fails with ENOMEM instead of taking the machine's memory.
    let limit = budget::child_address_space(vm_size(), method, spec.access_size, size);
    crate::kernel::sys::set_address_space_limit(limit)
        .map_err(|e| (1, format!("setrlimit(RLIMIT_AS): {}", io_reason(&e))))?;
    let mut m = methods::run(method, &file, &spec, a.accesses).map_err(|e| {
        (
            1,
            format!("{} on {}: {}", method, a.file.display(), io_reason(&e)),
        )
    })?;
    // Read back from the kernel, so the parent and the tests see the limit that applied.
    m.address_space_limit = crate::kernel::sys::address_space_limit().ok().flatten();
    Ok(m)
}

/// VmSize of this process in bytes (/proc/self/status), 64 MiB if unreadable.
fn vm_size() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| crate::kernel::meminfo::meminfo_field(&s, "VmSize"))
        .unwrap_or(64 << 20)
}
