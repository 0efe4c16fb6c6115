//! `mmviz tlb`: what a TLB miss costs, measured. A dependent pointer chase over anonymous
//! memory mapped with 4 KiB pages (`MADV_NOHUGEPAGE`) and with transparent huge pages
//! (`MADV_HUGEPAGE`, verified in /proc/self/smaps `AnonHugePages`), over working sets from
//! 1 MiB up; min of several runs; the knee found from the data.
//!
//! One node per 4 KiB page, at a pseudo-random cache line inside its page (nodes at the same
//! offset of every page would all fall into the same cache sets), linked in a random cyclic
//! order: every access is a new page, so the number of pages in play is the working set / 4 KiB
//! and the data cache cannot hide the TLB. Each load's address is the previous load's value,
//! so the CPU cannot overlap the misses: the time per step is the latency of one access.

use crate::error::{AppError, Result};
use crate::kernel::tlb::{self, CounterValues, Counters, TlbGeometry};
use crate::units::human_bytes;
use memmap2::{Advice, MmapMut};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::Serialize;
use std::time::Instant;

/// Bytes between nodes: one node per base page.
pub const NODE_STRIDE: usize = 4096;
/// The transparent huge page size on x86-64 (PMD).
pub const HUGE: usize = 2 << 20;
/// Smallest working set measured.
pub const MIN_WORKING_SET: u64 = 1 << 20;
/// Largest working set measured by default.
pub const DEFAULT_MAX_WORKING_SET: u64 = 1 << 30;
/// A row counts as "4 KiB pages slower" from this ratio on.
pub const KNEE_RATIO: f64 = 1.15;
/// A huge-page run counts as huge when smaps shows at least this share of it THP-backed.
pub const MIN_HUGE_SHARE: f64 = 0.9;

/// What to measure.
#[derive(Clone, Debug)]
pub struct Options {
    pub max_working_set: u64,
    pub runs: u32,
    /// Timed steps per run (each run also first walks min(nodes, steps) untimed steps).
    pub steps: u64,
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_working_set: DEFAULT_MAX_WORKING_SET,
            runs: 3,
            steps: 200_000,
            seed: 1,
        }
    }
}

/// One working set, measured both ways.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Row {
    pub working_set_bytes: u64,
    /// Nodes of the cycle = 4 KiB pages touched.
    pub nodes: u64,
    /// Min over the runs, ns per dependent access, 4 KiB pages.
    pub ns_4k: f64,
    /// Min over the runs, ns per dependent access, the MADV_HUGEPAGE region.
    pub ns_huge: f64,
    /// ns_4k / ns_huge; `null` when the huge region did not get huge pages (the ratio would
    /// compare 4 KiB with 4 KiB).
    pub ratio: Option<f64>,
    /// Share of this working set's 2 MiB-rounded region backed by transparent huge pages, a
    /// lower bound from smaps AnonHugePages of the whole MADV_HUGEPAGE mapping (1.0 = all).
    pub huge_share: f64,
    /// smaps AnonHugePages of the whole MADV_NOHUGEPAGE mapping (expected 0).
    pub anon_huge_bytes_4k: u64,
    /// dTLB load misses per access, 4 KiB and huge, where the hardware counts them.
    pub dtlb_misses_per_access_4k: Option<f64>,
    pub dtlb_misses_per_access_huge: Option<f64>,
}

/// Facts about the machine the numbers depend on.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    pub cpu_model: Option<String>,
    pub online_cpus: Option<u64>,
    pub page_size: u64,
    pub mem_available_bytes: Option<u64>,
    pub thp_defrag: Option<String>,
    pub tlb_geometry: TlbGeometry,
    /// "not reported by this CPU/VM" when CPUID lists no TLB.
    pub tlb_geometry_note: Option<String>,
    /// Bytes the largest data TLB covers with 4 KiB and with 2 MiB pages (CPUID).
    pub tlb_reach_4k_bytes: Option<u64>,
    pub tlb_reach_2m_bytes: Option<u64>,
}

/// `mmviz tlb --json` (schema_version 1).
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub schema_version: u32,
    /// "supported", or "unsupported: REASON (ERRNO)".
    pub hardware_counters: String,
    /// Counter readings over all runs, where hardware counters exist (else null).
    pub hardware: Option<HardwareTotals>,
    pub thp_mode: Option<String>,
    /// "page": one node per 4 KiB page at a pseudo-random cache line of it.
    pub stride: String,
    pub node_stride_bytes: u64,
    pub order: String,
    pub runs: u32,
    pub steps_per_run: u64,
    pub seed: u64,
    pub rows: Vec<Row>,
    /// The smallest working set from which every larger one was at least KNEE_RATIO slower
    /// with 4 KiB pages; null when no such run of rows ends the table.
    pub knee_working_set_bytes: Option<u64>,
    pub knee_rule: String,
    /// Why the largest working set is smaller than asked, if it is.
    pub capped: Option<String>,
    pub machine: Machine,
    pub notes: Vec<String>,
}

/// Summed counters of the timed runs, per mode.
#[derive(Clone, Debug, Default, Serialize)]
pub struct HardwareTotals {
    pub dtlb_load_misses_4k: Option<u64>,
    pub dtlb_load_misses_huge: Option<u64>,
    pub steps_4k: u64,
    pub steps_huge: u64,
}

/// Byte offset of node `k`: page `k`, at a cache line chosen by a multiplicative hash of `k`.
pub fn node_offset(k: usize) -> usize {
    let line = ((k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize; // 0..63
    k * NODE_STRIDE + line * 64
}

/// Writes a single random cycle through `nodes` nodes into `buf` (each node holds the byte
/// offset of the next as a native u64) and returns the offset of the first node.
/// `buf` must hold `nodes` pages.
pub fn build_cycle(buf: &mut [u8], nodes: usize, seed: u64) -> usize {
    assert!(nodes > 0 && buf.len() >= nodes * NODE_STRIDE);
    let mut order: Vec<usize> = (0..nodes).collect();
    // Keep node 0 first so runs start at the same place; shuffle the rest.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    order[1..].shuffle(&mut rng);
    for i in 0..nodes {
        let from = node_offset(order[i]);
        let to = node_offset(order[(i + 1) % nodes]) as u64;
        buf[from..from + 8].copy_from_slice(&to.to_ne_bytes());
    }
    node_offset(order[0])
}

/// Follows the cycle for `steps` dependent loads from `start`; returns where it ended (the
/// caller passes it to `black_box`, so the loads cannot be optimised away).
#[inline(never)]
pub fn chase(buf: &[u8], start: usize, steps: u64) -> usize {
    let mut p = start;
    for _ in 0..steps {
        let b: [u8; 8] = buf[p..p + 8].try_into().expect("8 bytes");
        p = u64::from_ne_bytes(b) as usize;
    }
    p
}

/// An anonymous region of `len` bytes starting on a 2 MiB boundary (THP needs aligned 2 MiB
/// ranges), advised for huge or for base pages.
struct Region {
    map: MmapMut,
    off: usize,
    len: usize,
}

impl Region {
    fn new(len: usize, huge: bool) -> std::io::Result<Region> {
        let map = MmapMut::map_anon(len + HUGE)?;
        let addr = map.as_ptr() as usize;
        let off = addr.next_multiple_of(HUGE) - addr;
        let advice = if huge {
            Advice::HugePage
        } else {
            Advice::NoHugePage
        };
        map.advise_range(advice, off, len)?;
        Ok(Region { map, off, len })
    }
    /// Writes one byte per 4 KiB page so every page is faulted in before any timing.
    fn touch(&mut self) {
        for b in self.bytes_mut().iter_mut().step_by(NODE_STRIDE) {
            *b = 1;
        }
    }
    fn addr(&self) -> u64 {
        self.map.as_ptr() as u64 + self.off as u64
    }
    fn bytes(&self) -> &[u8] {
        &self.map[self.off..self.off + self.len]
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.map[self.off..self.off + self.len]
    }
    /// smaps AnonHugePages over this region.
    fn anon_huge(&self) -> u64 {
        tlb::huge_mapped(0, self.addr(), self.len as u64)
            .map(|h| h.anon_huge_bytes)
            .unwrap_or(0)
    }
}

/// Working sets measured: powers of two from 1 MiB to `max` (inclusive when a power of two).
pub fn working_sets(max: u64) -> Vec<u64> {
    let mut v = Vec::new();
    let mut w = MIN_WORKING_SET;
    while w <= max {
        v.push(w);
        w *= 2;
    }
    v
}

/// The knee: the first row of the trailing run of verified rows whose ratio is at least
/// `KNEE_RATIO`. Rows without a ratio (THP not granted) are skipped.
pub fn find_knee(rows: &[Row]) -> Option<u64> {
    let verified: Vec<&Row> = rows.iter().filter(|r| r.ratio.is_some()).collect();
    let mut knee = None;
    for r in verified.iter().rev() {
        if r.ratio.unwrap_or(0.0) >= KNEE_RATIO {
            knee = Some(r.working_set_bytes);
        } else {
            break;
        }
    }
    knee
}

fn mem_available() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    let l = s.lines().find(|l| l.starts_with("MemAvailable:"))?;
    l.split_whitespace()
        .nth(1)?
        .parse::<u64>()
        .ok()
        .map(|k| k * 1024)
}

fn cpu_model() -> Option<String> {
    let s = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let l = s.lines().find(|l| l.starts_with("model name"))?;
    Some(l.split_once(':')?.1.trim().to_string())
}

fn thp_defrag() -> Option<String> {
    let s = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/defrag").ok()?;
    let a = s.find('[')?;
    let b = s[a..].find(']')? + a;
    Some(s[a + 1..b].to_string())
}

/// One timed run: untimed warm-up, then `steps` timed steps; ns per step and the counter
/// delta over the timed part.
fn timed_run(
    r: &Region,
    start: usize,
    nodes: u64,
    steps: u64,
    c: &Counters,
) -> (f64, CounterValues, CounterValues) {
    let p = chase(r.bytes(), start, nodes.min(steps));
    let a = c.read();
    let t = Instant::now();
    let p = chase(r.bytes(), std::hint::black_box(p), steps);
    let ns = t.elapsed().as_nanos() as f64 / steps as f64;
    let b = c.read();
    std::hint::black_box(p);
    (ns, a, b)
}

fn delta(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    Some(b?.saturating_sub(a?))
}

/// Runs the measurement; `progress` is told each working set as it starts.
pub fn measure(opts: &Options, mut progress: impl FnMut(u64)) -> Result<Report> {
    measure_with(opts, |_, _, ws| {
        progress(ws);
        true
    })
}

/// [`measure`] with `progress(index, count, working_set)` told before each working set;
/// returning false cancels (the result is an error saying so).
pub fn measure_with(
    opts: &Options,
    mut progress: impl FnMut(usize, usize, u64) -> bool,
) -> Result<Report> {
    if opts.max_working_set < MIN_WORKING_SET {
        return Err(AppError::usage(format!(
            "--max-working-set must be at least {}",
            human_bytes(MIN_WORKING_SET)
        )));
    }
    let avail = mem_available();
    let mut max = opts.max_working_set;
    let mut capped = None;
    if let Some(a) = avail {
        // Both regions live at once (the runs alternate), each rounded up to 2 MiB plus one
        // 2 MiB of alignment slack; keep them within a quarter of what the kernel calls
        // available so the machine is not pushed into reclaim.
        let fit = (a / 4).saturating_sub(4 * HUGE as u64) / 2;
        if fit < max {
            max = fit;
            capped = Some(format!(
                "largest working set capped at {} (two regions within 1/4 of MemAvailable {})",
                human_bytes(fit),
                human_bytes(a)
            ));
        }
    }
    let sets = working_sets(max);
    if sets.is_empty() {
        return Err(AppError::runtime(format!(
            "not enough free memory for a {} working set ({})",
            human_bytes(MIN_WORKING_SET),
            capped.unwrap_or_default()
        )));
    }
    let counters = Counters::open(0);
    let thp_mode = crate::kernel::fsinfo::thp_mode();
    let mut rows = Vec::new();
    let mut hw = HardwareTotals::default();
    // One region per page size for the largest working set; smaller working sets use its
    // first bytes (faulting and zeroing the memory once is most of this command's time).
    let len = (*sets.last().expect("non-empty") as usize).next_multiple_of(HUGE);
    let map_err = |e: std::io::Error| {
        AppError::runtime(format!(
            "mmap of {} anonymous bytes: {e}",
            human_bytes(len as u64)
        ))
    };
    let mut small = Region::new(len, false).map_err(map_err)?;
    let mut huge = Region::new(len, true).map_err(map_err)?;
    // Touch every page now: a huge page per 2 MiB where THP grants it, else 4 KiB pages.
    small.touch();
    huge.touch();
    // smaps tells THP per mapping, not per prefix: what is not huge could all lie in any
    // prefix, so a prefix of `w` bytes is at least (w - not_huge) / w huge.
    let not_huge = (len as u64).saturating_sub(huge.anon_huge());
    let anon_huge_bytes_4k = small.anon_huge();
    for (i, &ws) in sets.iter().enumerate() {
        if !progress(i, sets.len(), ws) {
            return Err(AppError::runtime("the TLB measurement was cancelled"));
        }
        let nodes = (ws as usize) / NODE_STRIDE;
        let s0 = build_cycle(small.bytes_mut(), nodes, opts.seed);
        let s1 = build_cycle(huge.bytes_mut(), nodes, opts.seed);
        debug_assert_eq!(s0, s1);
        let region = (ws as usize).next_multiple_of(HUGE) as u64;
        let huge_share = region.saturating_sub(not_huge) as f64 / region as f64;
        let (mut best4, mut besth) = (f64::INFINITY, f64::INFINITY);
        let (mut m4, mut mh): (Option<u64>, Option<u64>) = (Some(0), Some(0));
        for _ in 0..opts.runs.max(1) {
            // Alternate the two so a noisy neighbour hurts both alike; the min is kept.
            let (ns, a, b) = timed_run(&small, s0, nodes as u64, opts.steps, &counters);
            best4 = best4.min(ns);
            m4 = m4
                .zip(delta(a.dtlb_load_misses, b.dtlb_load_misses))
                .map(|(x, y)| x + y);
            let (ns, a, b) = timed_run(&huge, s1, nodes as u64, opts.steps, &counters);
            besth = besth.min(ns);
            mh = mh
                .zip(delta(a.dtlb_load_misses, b.dtlb_load_misses))
                .map(|(x, y)| x + y);
        }
        let steps = opts.steps * opts.runs.max(1) as u64;
        if counters.hardware_supported() {
            let h = &mut hw;
            h.dtlb_load_misses_4k = Some(h.dtlb_load_misses_4k.unwrap_or(0) + m4.unwrap_or(0));
            h.dtlb_load_misses_huge = Some(h.dtlb_load_misses_huge.unwrap_or(0) + mh.unwrap_or(0));
            h.steps_4k += steps;
            h.steps_huge += steps;
        }
        let per = |m: Option<u64>| {
            counters
                .hardware_supported()
                .then_some(m)
                .flatten()
                .map(|m| m as f64 / steps as f64)
        };
        rows.push(Row {
            working_set_bytes: ws,
            nodes: nodes as u64,
            ns_4k: best4,
            ns_huge: besth,
            ratio: (huge_share >= MIN_HUGE_SHARE && besth > 0.0).then(|| best4 / besth),
            huge_share,
            anon_huge_bytes_4k,
            dtlb_misses_per_access_4k: per(m4),
            dtlb_misses_per_access_huge: per(mh),
        });
    }
    let geom = tlb::geometry();
    let mut notes = vec![
        "ns per access = min over the runs of (timed chase time / steps), CLOCK_MONOTONIC via \
         std::time::Instant; includes the data-cache misses both modes pay alike"
            .to_string(),
    ];
    if rows.iter().any(|r| r.ratio.is_none()) {
        notes.push(format!(
            "THP did not happen for some working sets (AnonHugePages < {:.0}% of the region; \
             THP mode {}): their ratio is null, the huge column there is 4 KiB pages too",
            MIN_HUGE_SHARE * 100.0,
            thp_mode.as_deref().unwrap_or("unknown")
        ));
    }
    if rows.iter().any(|r| r.anon_huge_bytes_4k > 0) {
        notes.push(
            "the MADV_NOHUGEPAGE region got huge pages anyway (see anon_huge_bytes_4k)".into(),
        );
    }
    let knee = find_knee(&rows);
    Ok(Report {
        schema_version: 1,
        hardware_counters: counters.status(),
        hardware: counters.hardware_supported().then_some(hw),
        thp_mode,
        stride: "page".into(),
        node_stride_bytes: NODE_STRIDE as u64,
        order: "random cycle over every node (one node per 4 KiB page, pseudo-random cache line \
                within it)"
            .into(),
        runs: opts.runs.max(1),
        steps_per_run: opts.steps,
        seed: opts.seed,
        rows,
        knee_working_set_bytes: knee,
        knee_rule: format!(
            "smallest working set from which every larger one has ns_4k/ns_huge >= {KNEE_RATIO}"
        ),
        capped,
        machine: Machine {
            cpu_model: cpu_model(),
            online_cpus: std::thread::available_parallelism()
                .ok()
                .map(|n| n.get() as u64),
            page_size: crate::units::page_size(),
            mem_available_bytes: avail,
            thp_defrag: thp_defrag(),
            tlb_geometry_note: geom
                .levels
                .is_empty()
                .then(|| "not reported by this CPU/VM".to_string()),
            tlb_reach_4k_bytes: geom.reach(4 << 10),
            tlb_reach_2m_bytes: geom.reach(2 << 20),
            tlb_geometry: geom,
        },
        notes,
    })
}

/// The text report: a table, a bar chart and what the knee means.
pub fn render_text(r: &Report) -> Vec<String> {
    let mut out = Vec::new();
    out.push(format!(
        "Pointer chase, one node per 4 KiB page in random cyclic order; min of {} runs × {} steps",
        r.runs, r.steps_per_run
    ));
    out.push(format!(
        "THP mode: {}   hardware counters: {}",
        r.thp_mode.as_deref().unwrap_or("unknown"),
        r.hardware_counters
    ));
    match (r.machine.tlb_reach_4k_bytes, r.machine.tlb_reach_2m_bytes) {
        (Some(a), Some(b)) => out.push(format!(
            "TLB reach (CPUID): {} with 4 KiB pages, {} with 2 MiB pages",
            human_bytes(a),
            human_bytes(b)
        )),
        (Some(a), None) => out.push(format!(
            "TLB reach (CPUID): {} with 4 KiB pages",
            human_bytes(a)
        )),
        _ => out.push("TLB sizes: not reported by this CPU/VM".into()),
    }
    out.push(String::new());
    out.push(format!(
        "{:>10}  {:>9}  {:>9}  {:>6}  {:>11}",
        "working set", "4 KiB ns", "huge ns", "ratio", "THP-backed"
    ));
    for row in &r.rows {
        out.push(format!(
            "{:>11}  {:>9.1}  {:>9.1}  {:>6}  {:>10.0}%",
            human_bytes(row.working_set_bytes),
            row.ns_4k,
            row.ns_huge,
            row.ratio.map_or("–".into(), |x| format!("{x:.2}")),
            row.huge_share * 100.0
        ));
    }
    out.push(String::new());
    out.push("ns per access (█ 4 KiB pages, ▒ huge pages):".into());
    let max = r
        .rows
        .iter()
        .flat_map(|x| [x.ns_4k, x.ns_huge])
        .fold(0.0f64, f64::max);
    const W: f64 = 50.0;
    for row in &r.rows {
        let bar = |v: f64, c: char| {
            let n = if max > 0.0 {
                (v / max * W).round() as usize
            } else {
                0
            };
            c.to_string().repeat(n.max(1))
        };
        out.push(format!(
            "{:>8} {} {:.1}",
            human_bytes(row.working_set_bytes),
            bar(row.ns_4k, '█'),
            row.ns_4k
        ));
        out.push(format!(
            "{:>8} {} {:.1}",
            "",
            bar(row.ns_huge, '▒'),
            row.ns_huge
        ));
    }
    out.push(String::new());
    match r.knee_working_set_bytes {
        Some(k) => out.push(format!(
            "knee: from {} on, 4 KiB pages were ≥{KNEE_RATIO}× slower than huge pages \
             (TLB misses and page walks that 2 MiB entries avoid)",
            human_bytes(k)
        )),
        None => out.push(format!(
            "no knee: the largest working sets were not ≥{KNEE_RATIO}× slower with 4 KiB pages \
             (or THP did not happen)"
        )),
    }
    for n in r.capped.iter().chain(r.notes.iter()) {
        out.push(format!("note: {n}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chase_visits_every_node_once_per_cycle() {
        for nodes in [1usize, 2, 3, 256, 1000] {
            let mut buf = vec![0u8; nodes * NODE_STRIDE];
            let start = build_cycle(&mut buf, nodes, 7);
            let mut seen = vec![false; nodes];
            let mut p = start;
            for step in 0..nodes {
                assert_eq!((p % NODE_STRIDE) % 64, 0, "node at a cache-line boundary");
                let k = p / NODE_STRIDE;
                assert!(
                    !seen[k],
                    "node {k} visited twice within one cycle (step {step})"
                );
                seen[k] = true;
                p = chase(&buf, p, 1);
            }
            assert!(seen.iter().all(|s| *s), "every node visited");
            assert_eq!(p, start, "the cycle closes after exactly {nodes} steps");
            assert_eq!(chase(&buf, start, nodes as u64 * 3), start);
        }
    }

    #[test]
    fn nodes_spread_over_cache_lines() {
        let lines: std::collections::HashSet<usize> = (0..256)
            .map(|k| node_offset(k) % NODE_STRIDE / 64)
            .collect();
        assert!(lines.len() > 40, "{} distinct lines", lines.len());
    }

    fn row(ws: u64, ratio: Option<f64>) -> Row {
        Row {
            working_set_bytes: ws,
            nodes: ws / 4096,
            ns_4k: 1.0,
            ns_huge: 1.0,
            ratio,
            huge_share: 1.0,
            anon_huge_bytes_4k: 0,
            dtlb_misses_per_access_4k: None,
            dtlb_misses_per_access_huge: None,
        }
    }

    #[test]
    fn knee_is_the_start_of_the_trailing_slow_run() {
        let m = 1 << 20;
        let rows = [
            row(m, Some(1.0)),
            row(4 * m, Some(1.2)),
            row(8 * m, Some(1.05)),
            row(16 * m, Some(1.3)),
            row(32 * m, None),
            row(64 * m, Some(1.6)),
        ];
        assert_eq!(find_knee(&rows), Some(16 * m));
        assert_eq!(find_knee(&rows[..3]), None);
        assert_eq!(find_knee(&[]), None);
    }

    #[test]
    fn huge_region_gets_thp_when_the_kernel_allows() {
        // The real kernel: 4 MiB with MADV_HUGEPAGE. Under THP "never" no huge pages is the
        // right answer; under madvise/always smaps must show them (defrag may fail under
        // memory pressure, so accept a partial share but not zero).
        let mut h = Region::new(4 << 20, true).unwrap();
        build_cycle(h.bytes_mut(), 1024, 1);
        let mut s = Region::new(4 << 20, false).unwrap();
        build_cycle(s.bytes_mut(), 1024, 1);
        assert_eq!(s.anon_huge(), 0, "MADV_NOHUGEPAGE region has no THP");
        match crate::kernel::fsinfo::thp_mode().as_deref() {
            Some("never") | None => assert_eq!(h.anon_huge(), 0),
            _ => assert!(h.anon_huge() >= 2 << 20, "AnonHugePages {}", h.anon_huge()),
        }
    }

    #[test]
    fn small_measure_is_sane_and_rejects_tiny_limits() {
        let r = measure(
            &Options {
                max_working_set: 4 << 20,
                runs: 1,
                steps: 20_000,
                seed: 1,
            },
            |_| {},
        )
        .unwrap();
        assert_eq!(
            r.rows
                .iter()
                .map(|r| r.working_set_bytes)
                .collect::<Vec<_>>(),
            vec![1 << 20, 2 << 20, 4 << 20]
        );
        for row in &r.rows {
            assert!(row.ns_4k > 0.1 && row.ns_4k < 10_000.0, "{row:?}");
            assert!(row.ns_huge > 0.1 && row.ns_huge < 10_000.0, "{row:?}");
        }
        let text = render_text(&r).join("\n");
        assert!(text.contains("working set"), "{text}");
        let e = measure(
            &Options {
                max_working_set: 4096,
                ..Options::default()
            },
            |_| {},
        )
        .unwrap_err();
        assert_eq!(e.code, 2);
    }
}
