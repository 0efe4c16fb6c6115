//! The report of one `mmviz run`: the JSON schema (`--json`, schema_version 1) and its write
//! part.

use crate::kernel::advice::Advice;
use crate::workload::patterns::PatternKind;
use crate::workload::worker::WriteMode;
use serde::Serialize;

/// `mmviz run --json` (schema_version 1).
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct RunReport {
    pub schema_version: u32,
    pub path: String,
    pub pattern: PatternKind,
    pub seed: u64,
    pub access_size: u64,
    pub advice: Advice,
    pub rate: Option<u64>,
    pub cold: bool,
    pub accesses: u64,
    /// CLOCK_MONOTONIC ns in the worker, first access to last, summed over its batches
    /// (excludes spawn, mmap, advice, eviction, sampling and the worker's bookkeeping).
    pub elapsed_ns: u64,
    /// Wall-clock ns from the worker's start of the pattern to its last report: with a rate
    /// limit it includes the pauses between batches, which `elapsed_ns` leaves out.
    pub wall_ns: u64,
    pub ns_per_access: Option<f64>,
    /// Worker fault deltas over the same window.
    pub minor_faults: u64,
    pub major_faults: u64,
    pub page_size: u64,
    pub pages: u64,
    /// Page-cache pages of the whole file (readahead included); null when hidden.
    pub cached_before: Option<u64>,
    pub cached_after: Option<u64>,
    /// Pages present in the worker's page table, sampled before it unmaps.
    pub mapped_after: Option<u64>,
    /// How the page table was read: scan (PAGEMAP_SCAN) or pread; null when unreadable.
    pub mapped_source: Option<crate::session::snapshot::PagemapSource>,
    pub private_after: Option<u64>,
    pub touched_pages: u64,
    /// (cached_after - cached_before) / major_faults: readahead per major fault.
    pub pages_cached_per_major_fault: Option<f64>,
    /// mapped_after / (minor + major): fault-around and large folios per fault.
    pub pages_mapped_per_fault: Option<f64>,
    /// Bytes the worker caused to be read from storage (/proc/<pid>/io).
    pub read_bytes: Option<u64>,
    pub cache_state_visible: bool,
    pub filesystem: String,
    pub checksum: u64,
    /// Spawn to the worker's first access (ms), and spawn to its ready report.
    pub startup_ms: Option<f64>,
    pub spawn_to_ready_ms: f64,
    /// Grep only: matches found (all of them, or up to --max-matches).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matches: Option<u64>,
    /// Grep only: the first matches, `[{offset, line_number, line}]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_matches: Option<Vec<crate::workload::patterns::grep::GrepMatch>>,
    /// Kernel, page size, THP, readahead and virtualization of the machine.
    pub machine: crate::kernel::machine::Machine,
    /// Log2 histogram of the timed accesses (1 in `latency_sampled_every`), ns, with the
    /// clock-pair cost (`latency_timer_overhead_ns`) subtracted.
    pub latency_histogram: Vec<crate::latency::Bucket>,
    pub latency_sampled_every: u64,
    pub latency_samples: u64,
    pub latency_timer_overhead_ns: u64,
    /// Percentiles from the histogram (upper edge of a 1/8-power-of-two bucket: ≤12.5% high).
    pub latency_ns_p50: Option<u64>,
    pub latency_ns_p99: Option<u64>,
    pub latency_ns_max: Option<u64>,
    /// The worker's address space and descriptor, sampled before it stopped.
    #[serde(flatten)]
    pub process: ProcessView,
    /// With `--write`: the scratch copy and what writing and msync did to its pages.
    #[serde(flatten)]
    pub write: Option<WriteOutcome>,
}

pub use crate::kernel::addrspace::ProcessView;

/// `run --write`: writes went to `scratch_file`, never to the user's file.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct WriteOutcome {
    pub scratch_file: String,
    /// Size of the user's file, and of the scratch copy (its first 1 GiB at most).
    pub source_size: Option<u64>,
    pub scratch_size: u64,
    /// Bytes of data copied (holes stay holes and are not counted).
    pub scratch_data_bytes: Option<u64>,
    pub write_mode: WriteMode,
    pub write_share: f64,
    /// "none", "async", "sync" or "every N".
    pub msync: String,
    /// cachestat of the whole scratch file when the pattern finished, before any msync.
    pub dirty_before_msync: Option<u64>,
    pub writeback_before_msync: Option<u64>,
    /// cachestat after the msync (= before it with --msync none).
    pub dirty_after: Option<u64>,
    pub writeback_after: Option<u64>,
    /// Time inside msync in the worker (sum over the calls), ns; null: no msync.
    pub msync_ns: Option<u64>,
    pub msync_calls: u64,
    /// Dirty pages before minus after the final msync (cachestat); null for "every N",
    /// where the calls happen mid-run and the parent cannot bracket each one.
    pub msync_pages: Option<u64>,
    pub msync_ns_per_page: Option<f64>,
    pub msync_error: Option<String>,
    /// The kernel's own clock for dirty pages without msync (/proc/sys/vm, centiseconds): a
    /// page dirty for longer than `dirty_expire` is written back by the flusher, which wakes
    /// every `dirty_writeback`.
    pub dirty_expire_centisecs: Option<u64>,
    pub dirty_writeback_centisecs: Option<u64>,
}
