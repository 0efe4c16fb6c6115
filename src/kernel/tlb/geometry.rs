//! TLB geometry from CPUID: Intel leaf 0x18 and leaf 2 descriptors, AMD 0x80000005/6.

use super::{G1, K4, M2, M4};
use serde::{Deserialize, Serialize};

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
