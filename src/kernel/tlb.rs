//! TLB facts: hardware counters (perf_event_open) where the machine has them, otherwise an
//! honest "unsupported here" with the reason; the TLB geometry CPUID reports; the arithmetic
//! that explains what huge pages buy.

use serde::{Deserialize, Serialize};
use std::io;

// ---------------------------------------------------------------------------------------------
// Hardware and software counters

/// `struct perf_event_attr` (the first fields we set; the rest stays zero). Size
/// PERF_ATTR_SIZE_VER0 = 64 is accepted by every kernel.
#[repr(C)]
#[derive(Default)]
struct PerfEventAttr {
    type_: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    config1: u64,
}

// perf_event_open(2): attr.type values.
const PERF_TYPE_HARDWARE: u32 = 0;
const PERF_TYPE_SOFTWARE: u32 = 1;
const PERF_TYPE_HW_CACHE: u32 = 3;
// PERF_TYPE_HW_CACHE config = cache_id | (op << 8) | (result << 16): dTLB (3), read (0),
// access (0) or miss (1).
const DTLB_READ_ACCESS: u64 = 3;
const DTLB_READ_MISS: u64 = 3 | (1 << 16);
const HW_CPU_CYCLES: u64 = 0;
const HW_INSTRUCTIONS: u64 = 1;
const SW_PAGE_FAULTS: u64 = 2;
// perf_event_open(2) flags: close the counter in exec'd children.
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 1 << 3;
// flags bitfield: disabled(0) inherit(1) pinned(2) exclusive(3) exclude_user(4)
// exclude_kernel(5) exclude_hv(6). User space only: what the workload's own loads cost, and
// the only mode an unprivileged user may open (perf_event_paranoid 2). It misses faults taken
// inside syscalls, which the workers do not make on the mapping.
const EXCLUDE_KERNEL_HV: u64 = (1 << 5) | (1 << 6);

/// One event mmviz counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    DtlbLoadMisses,
    DtlbLoads,
    Cycles,
    Instructions,
    PageFaults,
}

impl Event {
    pub const ALL: [Event; 5] = [
        Event::DtlbLoadMisses,
        Event::DtlbLoads,
        Event::Cycles,
        Event::Instructions,
        Event::PageFaults,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Event::DtlbLoadMisses => "dTLB-load-misses",
            Event::DtlbLoads => "dTLB-loads",
            Event::Cycles => "cycles",
            Event::Instructions => "instructions",
            Event::PageFaults => "page-faults",
        }
    }

    /// True for events the CPU's PMU counts (false: the kernel's software events).
    pub fn hardware(self) -> bool {
        !matches!(self, Event::PageFaults)
    }

    fn type_config(self) -> (u32, u64) {
        match self {
            Event::DtlbLoadMisses => (PERF_TYPE_HW_CACHE, DTLB_READ_MISS),
            Event::DtlbLoads => (PERF_TYPE_HW_CACHE, DTLB_READ_ACCESS),
            Event::Cycles => (PERF_TYPE_HARDWARE, HW_CPU_CYCLES),
            Event::Instructions => (PERF_TYPE_HARDWARE, HW_INSTRUCTIONS),
            Event::PageFaults => (PERF_TYPE_SOFTWARE, SW_PAGE_FAULTS),
        }
    }
}

/// Opens one user-space counting event on `pid` (0 = the calling process), any CPU.
fn open_event(ev: Event, pid: i32) -> io::Result<std::fs::File> {
    use std::os::fd::FromRawFd;
    let (type_, config) = ev.type_config();
    let attr = PerfEventAttr {
        type_,
        size: 64,
        config,
        flags: EXCLUDE_KERNEL_HV,
        ..Default::default()
    };
    // SAFETY: attr is a valid, initialised perf_event_attr of the size it declares; the
    // call does not retain the pointer.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            &attr as *const PerfEventAttr,
            pid as libc::pid_t,
            -1 as libc::c_int,
            -1 as libc::c_int,
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor returned by perf_event_open that nothing else owns.
    Ok(unsafe { std::fs::File::from_raw_fd(fd as i32) })
}

/// The counters that opened for a process, and why the others did not.
pub struct Counters {
    open: Vec<(Event, std::fs::File)>,
    failed: Vec<(Event, io::Error)>,
    /// perf_event_open not even tried (MMVIZ_DISABLE=perf).
    off: bool,
}

/// Why counters were not tried when MMVIZ_DISABLE=perf.
const TURNED_OFF: &str = "perf_event_open turned off (MMVIZ_DISABLE=perf)";

/// Raw counter values at one instant; `None` for events that are not counted here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterValues {
    pub dtlb_load_misses: Option<u64>,
    pub dtlb_loads: Option<u64>,
    pub cycles: Option<u64>,
    pub instructions: Option<u64>,
    pub page_faults: Option<u64>,
}

impl CounterValues {
    fn slot(&mut self, ev: Event) -> &mut Option<u64> {
        match ev {
            Event::DtlbLoadMisses => &mut self.dtlb_load_misses,
            Event::DtlbLoads => &mut self.dtlb_loads,
            Event::Cycles => &mut self.cycles,
            Event::Instructions => &mut self.instructions,
            Event::PageFaults => &mut self.page_faults,
        }
    }
}

impl Counters {
    /// Opens every [`Event`] on `pid` (0 = this process); failures are kept with their errno.
    pub fn open(pid: i32) -> Counters {
        let mut c = Counters {
            open: Vec::new(),
            failed: Vec::new(),
            off: crate::kernel::features::disabled(crate::kernel::features::Feature::Perf),
        };
        if c.off {
            return c;
        }
        for ev in Event::ALL {
            match open_event(ev, pid) {
                Ok(f) => c.open.push((ev, f)),
                Err(e) => c.failed.push((ev, e)),
            }
        }
        c
    }

    /// True when at least one hardware event counts.
    pub fn hardware_supported(&self) -> bool {
        self.open.iter().any(|(e, _)| e.hardware())
    }

    /// Reads every open counter (a failed read leaves that value `None`).
    pub fn read(&self) -> CounterValues {
        use std::io::Read;
        let mut v = CounterValues::default();
        for (ev, f) in &self.open {
            let mut b = [0u8; 8];
            if (&*f).read_exact(&mut b).is_ok() {
                *v.slot(*ev) = Some(u64::from_ne_bytes(b));
            }
        }
        v
    }

    /// One status line: "supported", "partly supported: …" or "unsupported: REASON (ERRNO)".
    pub fn status(&self) -> String {
        if self.off {
            return format!("unsupported: {TURNED_OFF}");
        }
        let hw_failed: Vec<&(Event, io::Error)> =
            self.failed.iter().filter(|(e, _)| e.hardware()).collect();
        match (self.hardware_supported(), hw_failed.first()) {
            (true, None) => "supported".into(),
            (true, Some(_)) => format!(
                "partly supported: {} not counted ({})",
                hw_failed
                    .iter()
                    .map(|(e, _)| e.name())
                    .collect::<Vec<_>>()
                    .join(", "),
                hw_failed
                    .iter()
                    .map(|(_, e)| errno_name(e))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            (false, Some((_, e))) => format!("unsupported: {} ({})", reason(e), errno_name(e)),
            (false, None) => "unsupported".into(),
        }
    }

    /// The reason hardware events failed, if they all did.
    pub fn unsupported_reason(&self) -> Option<String> {
        if self.off {
            return Some(TURNED_OFF.into());
        }
        if self.hardware_supported() {
            return None;
        }
        self.failed
            .iter()
            .find(|(e, _)| e.hardware())
            .map(|(_, e)| format!("{} ({})", reason(e), errno_name(e)))
    }
}

/// What the TLB panel and `mmviz tlb --json` show from two counter readings: rates per
/// second and per access. Every field is `None` when its counter is missing or the interval
/// is empty, never a made-up zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HardwareRates {
    pub dtlb_load_misses_per_s: Option<f64>,
    pub dtlb_load_misses_per_access: Option<f64>,
    pub dtlb_loads_per_s: Option<f64>,
    /// dTLB load misses / dTLB loads.
    pub dtlb_miss_ratio: Option<f64>,
    pub cycles_per_access: Option<f64>,
    pub instructions_per_cycle: Option<f64>,
    pub page_faults_per_s: Option<f64>,
    pub page_faults_per_access: Option<f64>,
}

/// Rates from two readings `dt_s` seconds apart during which the workload made `accesses`
/// accesses (a pure function: the supported path is tested with fixed inputs).
pub fn rates(prev: &CounterValues, cur: &CounterValues, dt_s: f64, accesses: u64) -> HardwareRates {
    let d = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64),
        _ => None,
    };
    let per_s = |x: Option<f64>| x.filter(|_| dt_s > 0.0).map(|x| x / dt_s);
    let per_acc = |x: Option<f64>| x.filter(|_| accesses > 0).map(|x| x / accesses as f64);
    let misses = d(prev.dtlb_load_misses, cur.dtlb_load_misses);
    let loads = d(prev.dtlb_loads, cur.dtlb_loads);
    let cycles = d(prev.cycles, cur.cycles);
    let instr = d(prev.instructions, cur.instructions);
    let faults = d(prev.page_faults, cur.page_faults);
    HardwareRates {
        dtlb_load_misses_per_s: per_s(misses),
        dtlb_load_misses_per_access: per_acc(misses),
        dtlb_loads_per_s: per_s(loads),
        dtlb_miss_ratio: match (misses, loads) {
            (Some(m), Some(l)) if l > 0.0 => Some(m / l),
            _ => None,
        },
        cycles_per_access: per_acc(cycles),
        instructions_per_cycle: match (instr, cycles) {
            (Some(i), Some(c)) if c > 0.0 => Some(i / c),
            _ => None,
        },
        page_faults_per_s: per_s(faults),
        page_faults_per_access: per_acc(faults),
    }
}

/// The errno's symbolic name, for status strings a user can search for.
pub fn errno_name(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ENOENT) => "ENOENT".into(),
        Some(libc::EOPNOTSUPP) => "EOPNOTSUPP".into(),
        Some(libc::ENODEV) => "ENODEV".into(),
        Some(libc::EACCES) => "EACCES".into(),
        Some(libc::EPERM) => "EPERM".into(),
        Some(libc::ENOSYS) => "ENOSYS".into(),
        Some(libc::EINVAL) => "EINVAL".into(),
        Some(n) => format!("errno {n}"),
        None => "no errno".into(),
    }
}

/// Why hardware TLB counters cannot be had, from the errno of perf_event_open.
pub fn reason(e: &io::Error) -> String {
    match e.raw_os_error() {
        // perf_event_open(2): ENOENT "the type setting is not valid" / the event is not
        // supported by this CPU; no `cpu` PMU in /sys/bus/event_source/devices in a VM.
        Some(libc::ENOENT) | Some(libc::EOPNOTSUPP) | Some(libc::ENODEV) => {
            "no hardware PMU here (typical in a VM)".into()
        }
        Some(libc::EACCES) | Some(libc::EPERM) => {
            "perf_event_open not permitted (kernel.perf_event_paranoid)".into()
        }
        Some(libc::ENOSYS) => "the kernel has no perf events".into(),
        _ => format!("perf_event_open failed: {e}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Geometry from CPUID

/// One TLB of the CPU as CPUID describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlbLevel {
    /// 1 = first level, 2 = second level (the STLB / L2 TLB).
    pub level: u8,
    /// "data", "instruction", "unified", "load", "store".
    pub kind: String,
    /// Page sizes one entry may map, in bytes.
    pub page_sizes: Vec<u64>,
    pub entries: u32,
    /// Ways of associativity; `None` = fully associative or not stated.
    pub ways: Option<u32>,
}

impl TlbLevel {
    /// True for a TLB data loads go through.
    pub fn serves_loads(&self) -> bool {
        matches!(self.kind.as_str(), "data" | "unified" | "load")
    }
}

/// What CPUID says about the TLBs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlbGeometry {
    /// The CPUID leaves the entries came from; `None` when the CPU/VM reports none.
    pub source: Option<String>,
    pub levels: Vec<TlbLevel>,
}

const K4: u64 = 4 << 10;
const M2: u64 = 2 << 20;
const M4: u64 = 4 << 20;
const G1: u64 = 1 << 30;

impl TlbGeometry {
    /// Entries of the largest load-serving TLB that maps pages of `size` bytes.
    pub fn entries_for(&self, size: u64) -> Option<u32> {
        self.levels
            .iter()
            .filter(|l| l.serves_loads() && l.page_sizes.contains(&size))
            .map(|l| l.entries)
            .max()
    }

    /// Bytes the largest load-serving TLB covers with pages of `size` bytes.
    pub fn reach(&self, size: u64) -> Option<u64> {
        self.entries_for(size).map(|e| e as u64 * size)
    }

    /// One line per TLB, e.g. "L2 data TLB: 3,072 entries (4 KiB, 2 MiB pages), 8-way".
    pub fn lines(&self) -> Vec<String> {
        self.levels
            .iter()
            .map(|l| {
                let sizes: Vec<String> = l
                    .page_sizes
                    .iter()
                    .map(|s| crate::units::human_bytes(*s))
                    .collect();
                let ways = match l.ways {
                    Some(w) => format!(", {w}-way"),
                    None => ", fully associative".into(),
                };
                format!(
                    "L{} {} TLB: {} entries ({} pages){}",
                    l.level,
                    l.kind,
                    l.entries,
                    sizes.join(", "),
                    ways
                )
            })
            .collect()
    }
}

/// AMD's 4-bit associativity code of CPUID 0x80000006 (AMD APM vol. 3, E.4.5).
fn amd_l2_ways(code: u32) -> Option<u32> {
    match code {
        1 => Some(1),
        2 => Some(2),
        3 => Some(3),
        4 => Some(4),
        5 => Some(6),
        6 => Some(8),
        8 => Some(16),
        0xA => Some(32),
        0xB => Some(48),
        0xC => Some(64),
        0xD => Some(96),
        0xE => Some(128),
        _ => None, // 0xF fully associative; 0 disabled (filtered by entries == 0)
    }
}

/// Decodes AMD CPUID 0x80000005 (L1 TLBs) and 0x80000006 (L2 TLBs), registers
/// [eax, ebx, ecx, edx]. EAX describes 2 MiB/4 MiB pages, EBX 4 KiB pages; the high half is
/// the data TLB, the low half the instruction TLB.
pub fn decode_amd(l5: [u32; 4], l6: [u32; 4]) -> Vec<TlbLevel> {
    let mut out = Vec::new();
    let mut push = |level, kind: &str, sizes: &[u64], entries: u32, ways: Option<u32>| {
        if entries > 0 {
            out.push(TlbLevel {
                level,
                kind: kind.into(),
                page_sizes: sizes.to_vec(),
                entries,
                ways,
            });
        }
    };
    // L1: [31:24] dTLB assoc (0xFF = fully), [23:16] dTLB entries, [15:8]/[7:0] iTLB.
    let l1_ways = |a: u32| (a != 0xFF).then_some(a);
    for (reg, sizes) in [(l5[1], &[K4][..]), (l5[0], &[M2, M4][..])] {
        push(1, "data", sizes, (reg >> 16) & 0xFF, l1_ways(reg >> 24));
        push(
            1,
            "instruction",
            sizes,
            reg & 0xFF,
            l1_ways((reg >> 8) & 0xFF),
        );
    }
    // L2: [31:28] dTLB assoc code, [27:16] dTLB entries, [15:12]/[11:0] iTLB.
    for (reg, sizes) in [(l6[1], &[K4][..]), (l6[0], &[M2, M4][..])] {
        push(
            2,
            "data",
            sizes,
            (reg >> 16) & 0xFFF,
            amd_l2_ways(reg >> 28),
        );
        push(
            2,
            "instruction",
            sizes,
            reg & 0xFFF,
            amd_l2_ways((reg >> 12) & 0xF),
        );
    }
    merge_same(out)
}

/// Merges entries of the same TLB listed once per page size (AMD lists 4 KiB and 2 MiB
/// separately; Zen's L2 dTLB holds both in the same entries): same level, kind, entries and
/// ways become one line with both page sizes.
fn merge_same(levels: Vec<TlbLevel>) -> Vec<TlbLevel> {
    let mut out: Vec<TlbLevel> = Vec::new();
    for l in levels {
        if let Some(o) = out.iter_mut().find(|o| {
            o.level == l.level && o.kind == l.kind && o.entries == l.entries && o.ways == l.ways
        }) {
            o.page_sizes.extend(l.page_sizes);
        } else {
            out.push(l);
        }
    }
    out
}

/// Decodes Intel CPUID leaf 0x18 subleaves, registers [eax, ebx, ecx, edx] each (SDM vol. 2A,
/// "Deterministic Address Translation Parameters").
pub fn decode_leaf18(subleaves: &[[u32; 4]]) -> Vec<TlbLevel> {
    let mut out = Vec::new();
    for r in subleaves {
        let (ebx, ecx, edx) = (r[1], r[2], r[3]);
        let kind = match edx & 0x1F {
            1 => "data",
            2 => "instruction",
            3 => "unified",
            4 => "load",
            5 => "store",
            _ => continue, // 0 = invalid subleaf
        };
        let mut sizes = Vec::new();
        for (bit, s) in [(0, K4), (1, M2), (2, M4), (3, G1)] {
            if ebx & (1 << bit) != 0 {
                sizes.push(s);
            }
        }
        let ways = ebx >> 16;
        let fully = edx & (1 << 8) != 0;
        let entries = ways * ecx;
        if entries == 0 {
            continue;
        }
        out.push(TlbLevel {
            level: ((edx >> 5) & 0x7) as u8,
            kind: kind.into(),
            page_sizes: sizes,
            entries,
            ways: (!fully).then_some(ways),
        });
    }
    out
}

/// Intel CPUID leaf 2 TLB descriptors (SDM vol. 2A table 3-12; the data and shared ones).
/// Returns `None` for bytes that are not TLB descriptors.
fn leaf2_descriptor(b: u8) -> Option<TlbLevel> {
    let (level, kind, sizes, entries, ways): (u8, &str, &[u64], u32, Option<u32>) = match b {
        0x03 => (1, "data", &[K4], 64, Some(4)),
        0x04 => (1, "data", &[M4], 8, Some(4)),
        0x05 => (1, "data", &[M4], 32, Some(4)),
        0x0B => (1, "instruction", &[M4], 4, Some(4)),
        0x01 => (1, "instruction", &[K4], 32, Some(4)),
        0x5A => (1, "data", &[M2, M4], 32, Some(4)),
        0x5B => (1, "data", &[K4, M4], 64, None),
        0x5C => (1, "data", &[K4, M4], 128, None),
        0x5D => (1, "data", &[K4, M4], 256, None),
        0x63 => (1, "data", &[M2, M4], 32, Some(4)),
        0x64 => (1, "data", &[K4], 512, Some(4)),
        0x6A => (1, "data", &[K4], 64, Some(8)),
        0x6B => (1, "data", &[K4], 256, Some(8)),
        0x6C => (1, "data", &[M2, M4], 128, Some(8)),
        0x6D => (1, "data", &[G1], 16, None),
        0xB3 => (1, "data", &[K4], 128, Some(4)),
        0xB4 => (1, "data", &[K4], 256, Some(4)),
        0xBA => (1, "data", &[K4], 64, Some(4)),
        0xC0 => (1, "data", &[K4, M4], 8, Some(4)),
        0xC1 => (2, "unified", &[K4, M2], 1024, Some(8)),
        0xC2 => (1, "data", &[K4, M2], 16, Some(4)),
        0xC3 => (2, "unified", &[K4, M2], 1536, Some(6)),
        0xC4 => (1, "data", &[M2, M4], 32, Some(4)),
        0xCA => (2, "unified", &[K4], 512, Some(4)),
        _ => return None,
    };
    Some(TlbLevel {
        level,
        kind: kind.into(),
        page_sizes: sizes.to_vec(),
        entries,
        ways,
    })
}

/// Decodes CPUID leaf 2 registers [eax, ebx, ecx, edx]: each register with bit 31 clear holds
/// four descriptor bytes (AL is the iteration count, not a descriptor). Returns the TLBs and
/// whether descriptor 0xFF ("see leaf 0x18") appeared.
pub fn decode_leaf2(regs: [u32; 4]) -> (Vec<TlbLevel>, bool) {
    let mut out = Vec::new();
    let mut see_18 = false;
    for (i, r) in regs.iter().enumerate() {
        if r & (1 << 31) != 0 {
            continue;
        }
        for (j, b) in r.to_le_bytes().iter().enumerate() {
            if i == 0 && j == 0 {
                continue;
            }
            if *b == 0xFF {
                see_18 = true;
            } else if let Some(l) = leaf2_descriptor(*b) {
                out.push(l);
            }
        }
    }
    (out, see_18)
}

#[cfg(target_arch = "x86_64")]
fn cpuid(leaf: u32, sub: u32) -> [u32; 4] {
    // `__cpuid_count` became a safe fn in Rust 1.87; `unsafe` keeps older toolchains building.
    // SAFETY: CPUID is available on every x86-64 CPU and has no side effects; asking for a
    // leaf above the maximum returns data of the highest leaf, which callers bound first.
    #[allow(unused_unsafe)]
    let r = unsafe { std::arch::x86_64::__cpuid_count(leaf, sub) };
    [r.eax, r.ebx, r.ecx, r.edx]
}

/// This CPU's TLBs, as CPUID reports them (cached: CPUID does not change).
#[cfg(target_arch = "x86_64")]
pub fn geometry() -> TlbGeometry {
    static G: std::sync::OnceLock<TlbGeometry> = std::sync::OnceLock::new();
    G.get_or_init(|| {
        let max = cpuid(0, 0)[0];
        if max >= 0x18 {
            let n = cpuid(0x18, 0)[0];
            let subs: Vec<[u32; 4]> = (0..=n.min(64)).map(|s| cpuid(0x18, s)).collect();
            let levels = decode_leaf18(&subs);
            if !levels.is_empty() {
                return TlbGeometry {
                    source: Some("CPUID leaf 0x18".into()),
                    levels,
                };
            }
        }
        if max >= 2 {
            let (levels, _) = decode_leaf2(cpuid(2, 0));
            if !levels.is_empty() {
                return TlbGeometry {
                    source: Some("CPUID leaf 2 descriptors".into()),
                    levels,
                };
            }
        }
        if cpuid(0x8000_0000, 0)[0] >= 0x8000_0006 {
            let levels = decode_amd(cpuid(0x8000_0005, 0), cpuid(0x8000_0006, 0));
            if !levels.is_empty() {
                return TlbGeometry {
                    source: Some("CPUID 0x80000005/0x80000006".into()),
                    levels,
                };
            }
        }
        TlbGeometry::default()
    })
    .clone()
}

/// Other architectures: not read (no portable way to ask).
#[cfg(not(target_arch = "x86_64"))]
pub fn geometry() -> TlbGeometry {
    TlbGeometry::default()
}

/// The sentence shown when CPUID tells nothing.
pub const GEOMETRY_NOT_REPORTED: &str = "TLB sizes: not reported by this CPU/VM";

/// Entries assumed for a reach estimate when CPUID reports none: a common second-level TLB
/// size (Intel Skylake STLB: 1,536 entries). Always shown labelled as assumed.
pub const ASSUMED_ENTRIES: u32 = 1536;

// ---------------------------------------------------------------------------------------------
// Estimates: pages touched vs TLB reach

/// Distinct 4 KiB pages and 2 MiB regions a workload touched in an interval, compared with
/// what the TLB can hold. An estimate: a touched page needs an entry only while it is hot,
/// and the hardware may prefetch or share page-walk caches.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReachEstimate {
    pub pages_4k: u64,
    pub regions_2m: u64,
    /// Entries of the largest load-serving TLB for 4 KiB pages.
    pub entries_4k: u32,
    /// Entries for 2 MiB pages (`None` when the CPU reports no 2 MiB TLB).
    pub entries_2m: Option<u32>,
    /// "CPUID" or "assumed (not reported by this CPU/VM)".
    pub entries_source: String,
}

/// Builds the estimate for `pages_4k` pages and `regions_2m` regions from `geom`.
pub fn reach_estimate(geom: &TlbGeometry, pages_4k: u64, regions_2m: u64) -> ReachEstimate {
    match geom.entries_for(K4) {
        Some(e) => ReachEstimate {
            pages_4k,
            regions_2m,
            entries_4k: e,
            entries_2m: geom.entries_for(M2),
            entries_source: "CPUID".into(),
        },
        None => ReachEstimate {
            pages_4k,
            regions_2m,
            entries_4k: ASSUMED_ENTRIES,
            entries_2m: Some(ASSUMED_ENTRIES),
            entries_source: "assumed: not reported by this CPU/VM".into(),
        },
    }
}

/// A set of small integers as a bitmap that remembers which words it dirtied, so clearing
/// costs what was inserted, not the whole range. An insert is one load, test and store: cheaper
/// per access than a roaring insert, and no copy travels with the reports.
#[derive(Clone, Debug, Default)]
struct DirtyBitmap {
    words: Vec<u64>,
    dirty: Vec<usize>,
    len: u64,
}

impl DirtyBitmap {
    fn with_bits(n: u64) -> DirtyBitmap {
        DirtyBitmap {
            words: vec![0; n.div_ceil(64) as usize],
            ..DirtyBitmap::default()
        }
    }
    /// Inserts `i`; true when its 64-bit word was empty before (first member of the word).
    #[inline]
    fn insert(&mut self, i: u64) -> bool {
        let w = (i / 64) as usize;
        if w >= self.words.len() {
            self.words.resize(w + 1, 0);
        }
        let bit = 1u64 << (i % 64);
        let word = &mut self.words[w];
        let mut fresh = false;
        if *word & bit == 0 {
            if *word == 0 {
                self.dirty.push(w);
                fresh = true;
            }
            *word |= bit;
            self.len += 1;
        }
        fresh
    }
    fn clear(&mut self) {
        for &w in &self.dirty {
            self.words[w] = 0;
        }
        self.dirty.clear();
        self.len = 0;
    }
}

/// Distinct 4 KiB pages and 2 MiB regions accessed in one report interval (worker side).
#[derive(Clone, Debug, Default)]
pub struct IntervalSets {
    /// The report sequence number the sets started after.
    seq: u64,
    pages: DirtyBitmap,
    regions: DirtyBitmap,
}

impl IntervalSets {
    /// Sets sized for a mapping of `len` bytes (they grow if offsets go beyond).
    pub fn for_len(len: u64) -> IntervalSets {
        IntervalSets {
            seq: 0,
            pages: DirtyBitmap::with_bits(len.div_ceil(K4)),
            regions: DirtyBitmap::with_bits(len.div_ceil(M2)),
        }
    }

    /// Starts a new interval when a report was sent since the last call (`seq` changed).
    pub fn start(&mut self, seq: u64) {
        if self.seq != seq {
            self.seq = seq;
            self.pages.clear();
            self.regions.clear();
        }
    }

    #[inline]
    pub fn insert(&mut self, offset: u64) {
        // A region (512 pages = 8 words) is new only if the page's word is: the region set
        // is touched once per 64 pages, not per access.
        if self.pages.insert(offset / K4) {
            self.regions.insert(offset / M2);
        }
    }

    /// (distinct 4 KiB pages, distinct 2 MiB regions) since `start`.
    pub fn counts(&self) -> (u64, u64) {
        (self.pages.len, self.regions.len)
    }
}

/// Distinct 4 KiB pages and 2 MiB regions among byte offsets (sorts `offsets` in place).
pub fn distinct_pages_regions(offsets: &mut [u64]) -> (u64, u64) {
    offsets.sort_unstable();
    let (mut pages, mut regions) = (0u64, 0u64);
    let (mut lp, mut lr) = (u64::MAX, u64::MAX);
    for o in offsets.iter() {
        let (p, r) = (o / K4, o / M2);
        if p != lp {
            pages += 1;
            lp = p;
        }
        if r != lr {
            regions += 1;
            lr = r;
        }
    }
    (pages, regions)
}

// ---------------------------------------------------------------------------------------------
// Huge mappings, from /proc/<pid>/smaps

/// smaps totals over the VMAs of one address range: how much is mapped with huge (PMD)
/// page-table entries, i.e. one TLB entry per 2 MiB. A 2 MiB folio mapped by 512 PTEs counts
/// in `rss_bytes` but not here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HugeMapped {
    pub rss_bytes: u64,
    /// `FilePmdMapped`: file pages mapped by PMD entries.
    pub file_pmd_mapped_bytes: u64,
    /// `AnonHugePages`: anonymous memory backed by transparent huge pages.
    pub anon_huge_bytes: u64,
}

/// Sums `Rss`, `FilePmdMapped` and `AnonHugePages` over the VMAs of smaps text that overlap
/// `[start, start + len)` (a pure function of the text).
pub fn parse_smaps_range(text: &str, start: u64, len: u64) -> HugeMapped {
    let end = start.saturating_add(len);
    let mut h = HugeMapped::default();
    let mut inside = false;
    for line in text.lines() {
        // A VMA header: "7f..-7f.. r--s 00000000 08:01 1234  /path".
        if let Some((range, _)) = line.split_once(' ') {
            if let Some((a, b)) = range.split_once('-') {
                if let (Ok(a), Ok(b)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) {
                    inside = a < end && b > start;
                    continue;
                }
            }
        }
        if !inside {
            continue;
        }
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let kb = || -> u64 {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .unwrap_or(0)
                * 1024
        };
        match key {
            "Rss" => h.rss_bytes += kb(),
            "FilePmdMapped" => h.file_pmd_mapped_bytes += kb(),
            "AnonHugePages" => h.anon_huge_bytes += kb(),
            _ => {}
        }
    }
    h
}

/// [`parse_smaps_range`] of `/proc/<pid>/smaps` (`pid` 0 = this process). The session can
/// call this for the worker's mapping (addr and len come in the worker's `hello`).
pub fn huge_mapped(pid: u32, start: u64, len: u64) -> io::Result<HugeMapped> {
    let path = if pid == 0 {
        "/proc/self/smaps".to_string()
    } else {
        format!("/proc/{pid}/smaps")
    };
    Ok(parse_smaps_range(
        &std::fs::read_to_string(path)?,
        start,
        len,
    ))
}

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
