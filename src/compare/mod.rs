//! mmap vs read(): the same accesses (same pattern, seed and count) through a mapping and
//! through syscalls, each method repeat in a fresh child process, on the user's machine.
//!
//! - `methods`: the measured loops (run in the child);
//! - `child`: the hidden `__compare` subcommand that runs one loop and prints one JSON line;
//! - `orchestrate`: cache control between children, deadlines, summaries, checksum check;
//! - `verdict`: median/min/max and the one-line verdict with its why.
//!
//! [`compare`] is the library entry point (the TUI calls it from a background thread);
//! [`bench`] is `mmviz bench`.

pub mod budget;
pub mod child;
pub mod methods;
mod orchestrate;
pub mod verdict;

use crate::error::Result;
use crate::kernel::advice::Advice;
use crate::kernel::cache::Fill;
use crate::session::snapshot::{ComparisonResult, MethodResult};
use crate::units::human_bytes;
use crate::workload::patterns::PatternKind;
use crate::workload::worker::PatternSpec;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

pub use methods::Method;

/// The page-cache state each method repeat starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CacheMode {
    /// Whatever the cache holds (earlier methods leave their pages behind).
    #[default]
    AsIs,
    /// Evicted before every method repeat.
    Cold,
    /// Fully cached, filled the given way (after an eviction, so the fill decides the folio
    /// sizes); refilled before a repeat only if pages were dropped meanwhile.
    Warm(Fill),
}

impl CacheMode {
    /// "cold", "warm" or "as-is" (the `cache` field of the result).
    pub fn name(self) -> &'static str {
        match self {
            CacheMode::AsIs => "as-is",
            CacheMode::Cold => "cold",
            CacheMode::Warm(_) => "warm",
        }
    }
}

/// What to compare.
#[derive(Clone, Debug)]
pub struct CompareOptions {
    pub path: PathBuf,
    /// Pattern, seed, access size, stride and hotset parameters (one access is one page for
    /// the streaming patterns, sequential and scan).
    pub pattern: PatternSpec,
    /// Adds an `mmap-<advice>` method when not `Normal`.
    pub advice: Advice,
    /// Accesses per method repeat; None: 100,000 for random/hotset/chase, one pass otherwise.
    pub accesses: Option<u64>,
    pub cache: CacheMode,
    /// Repeats per method (median, min, max); at least 1.
    pub repeat: u32,
    /// None: every method that applies to the pattern ([`Method::for_pattern`]).
    pub methods: Option<Vec<Method>>,
    /// Deadline per child process; it is killed after.
    pub child_timeout: Duration,
}

impl CompareOptions {
    pub const DEFAULT_REPEAT: u32 = 5;
    pub const DEFAULT_CHILD_TIMEOUT: Duration = Duration::from_secs(300);

    pub fn new(path: impl Into<PathBuf>, pattern: PatternSpec) -> CompareOptions {
        CompareOptions {
            path: path.into(),
            pattern,
            advice: Advice::Normal,
            accesses: None,
            cache: CacheMode::AsIs,
            repeat: Self::DEFAULT_REPEAT,
            methods: None,
            child_timeout: Self::DEFAULT_CHILD_TIMEOUT,
        }
    }
}

/// A comparison with what the panel does not show: per-method checksums and the file size.
#[derive(Clone, Debug, PartialEq)]
pub struct Detailed {
    pub result: ComparisonResult,
    /// Per method, in `result.results` order (verified equal before returning).
    pub checksums: Vec<u64>,
    pub file_size: u64,
}

/// Runs the comparison. `progress(fraction, what)` is called before each child; setting
/// `cancel` kills the running child and returns an interrupted error (exit 130).
/// Bad input (missing file, bad pattern parameters) is an exit-2 error naming the file.
pub fn compare(
    opts: &CompareOptions,
    progress: &mut dyn FnMut(f64, &str),
    cancel: &AtomicBool,
) -> Result<ComparisonResult> {
    compare_detailed(opts, progress, cancel).map(|d| d.result)
}

/// [`compare`] plus checksums and file size (for `mmviz bench --json`).
pub fn compare_detailed(
    opts: &CompareOptions,
    progress: &mut dyn FnMut(f64, &str),
    cancel: &AtomicBool,
) -> Result<Detailed> {
    orchestrate::run(opts, progress, cancel)
}

/// One row of `mmviz bench --json`.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct BenchMethod {
    #[serde(flatten)]
    pub result: MethodResult,
    /// Wrapping sum of the folded bytes of every access: equal across methods.
    pub checksum: u64,
}

/// `mmviz bench --json` (schema_version 1).
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct BenchReport {
    pub schema_version: u32,
    pub pattern: PatternKind,
    /// "cold", "warm" or "as-is".
    pub cache: String,
    /// How --warm filled the cache; null unless warm.
    pub fill: Option<Fill>,
    pub accesses: u64,
    pub access_size: u64,
    pub file_size: u64,
    pub repeat: u32,
    pub results: Vec<BenchMethod>,
    pub verdict: String,
    /// The verdict as a word: mmap_faster, about_equal or read_faster (medians vs spread).
    pub outcome: Option<String>,
    pub why: String,
    /// Kernel, page size, THP, readahead and virtualization of the machine.
    pub machine: crate::kernel::machine::Machine,
    /// Methods skipped or counts capped to stay within memory, and why.
    pub notes: Vec<String>,
}

fn opt(v: Option<u64>) -> String {
    v.map_or("hidden".into(), verdict::thousands)
}

/// The text table: one row per method, then the verdict and why.
pub fn text(r: &BenchReport, path: &str) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let cache = match r.fill {
        Some(f) => format!(
            "warm ({} fill)",
            if f == Fill::Random {
                "random"
            } else {
                "sequential"
            }
        ),
        None => r.cache.clone(),
    };
    let _ = writeln!(
        s,
        "{} over {path} ({}), {cache}: {} accesses of {} B per method, median of {} runs",
        r.pattern,
        human_bytes(r.file_size),
        verdict::thousands(r.accesses),
        r.access_size,
        r.repeat
    );
    let _ = writeln!(
        s,
        "{:<16} {:>11} {:>21} {:>10} {:>9} {:>7} {:>10} {:>19}",
        "method",
        "ns/access",
        "(min - max)",
        "MB/s",
        "minor",
        "major",
        "syscalls",
        "cached before>after"
    );
    for m in &r.results {
        let x = &m.result;
        let _ = writeln!(
            s,
            "{:<16} {:>11.1} {:>21} {:>10.1} {:>9} {:>7} {:>10} {:>19}",
            x.method,
            x.ns_per_access,
            format!("({:.1} - {:.1})", x.ns_per_access_min, x.ns_per_access_max),
            x.mb_per_s,
            verdict::thousands(x.minor_faults),
            verdict::thousands(x.major_faults),
            verdict::thousands(x.syscalls),
            format!("{}>{}", opt(x.cached_before), opt(x.cached_after)),
        );
    }
    for n in &r.notes {
        let _ = writeln!(s, "note:    {n}");
    }
    let _ = writeln!(s, "verdict: {}", r.verdict);
    let _ = writeln!(s, "why:     {}", r.why);
    let _ = writeln!(
        s,
        "(faults are not pages: one fault can map up to a 2 MiB folio; syscalls are counted as issued)"
    );
    s
}
