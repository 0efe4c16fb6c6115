//! TLB facts: hardware counters (perf_event_open) where the machine has them, otherwise an
//! honest "unsupported here" with the reason; the TLB geometry CPUID reports; the arithmetic
//! that explains what huge pages buy.
//!
//! Parts: `counters` (perf_event_open and rates), `geometry` (CPUID), `reach` (pages
//! touched vs TLB reach), `huge` (PMD-mapped bytes from smaps); here, the panel's facts.

mod counters;
mod geometry;
mod huge;
mod reach;

pub use counters::{errno_name, rates, reason, CounterValues, Counters, Event, HardwareRates};
pub use geometry::{
    decode_amd, decode_leaf18, decode_leaf2, geometry, TlbGeometry, TlbLevel, ASSUMED_ENTRIES,
    GEOMETRY_NOT_REPORTED,
};
pub use huge::{huge_mapped, parse_smaps_range, HugeMapped};
pub use reach::{distinct_pages_regions, reach_estimate, IntervalSets, ReachEstimate};

/// Page sizes in bytes, shared by the parts (and the tests).
const K4: u64 = 4 << 10;
const M2: u64 = 2 << 20;
const M4: u64 = 4 << 20;
const G1: u64 = 1 << 30;

// ---------------------------------------------------------------------------------------------
// The panel's facts

/// The facts shown whatever the counters say.
pub fn notes(page_size: u64, file_pages: u64) -> Vec<String> {
    let huge = 2 << 20;
    let per_huge = huge / page_size;
    vec![
        format!(
            "one TLB entry maps one {} page; a 2 MiB huge page covers {}x more",
            crate::units::human_bytes(page_size),
            per_huge
        ),
        format!(
            "touching all of this file needs {} entries with {} pages, {} with 2 MiB pages",
            file_pages,
            crate::units::human_bytes(page_size),
            file_pages.div_ceil(per_huge)
        ),
        "a page-cache folio of 2 MiB is still mapped with 4 KiB entries unless THP maps it".into(),
    ]
}

/// What the machine's TLB counters can tell, whatever they count.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Probe {
    /// True when hardware counters (dTLB, cycles, instructions) can be read.
    pub supported: bool,
    /// Why not, when not: the errno of a real perf_event_open call.
    pub reason: Option<String>,
    /// One status line: "supported", "partly supported: ...", "unsupported: REASON (ERRNO)".
    pub status: String,
    /// The TLBs CPUID reports.
    pub geometry: TlbGeometry,
    /// Entries a 4 KiB page covers vs a 2 MiB page: facts shown as text.
    pub notes: Vec<String>,
}

/// Probes the counters on `pid`: what they can tell, and the counters when hardware events
/// count (software page-fault counts alone add nothing to /proc/<pid>/stat).
pub fn probe(pid: u32, page_size: u64, file_pages: u64) -> (Probe, Option<Counters>) {
    let c = Counters::open(pid as i32);
    let info = Probe {
        supported: c.hardware_supported(),
        reason: c.unsupported_reason(),
        status: c.status(),
        geometry: geometry(),
        notes: notes(page_size, file_pages),
    };
    (info, c.hardware_supported().then_some(c))
}

#[cfg(test)]
mod tests;
