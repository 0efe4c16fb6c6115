use super::*;

#[test]
fn probe_tells_the_truth_either_way() {
    let (info, counter) = probe(std::process::id(), 4096, 65536);
    assert_eq!(info.supported, counter.is_some());
    if let Some(c) = counter {
        let a = c.read();
        let v = vec![0u64; 1 << 22];
        std::hint::black_box(v.iter().sum::<u64>());
        let b = c.read();
        assert!(b.cycles >= a.cycles);
        assert_eq!(info.status, c.status());
    } else {
        // The reason is the kernel's: the errno of a real perf_event_open call.
        let r = info.reason.as_deref().expect("a reason");
        assert!(r.contains("(E") || r.contains("errno"), "{r}");
        assert!(info.status.starts_with("unsupported: "), "{}", info.status);
    }
    assert!(info.notes[1].contains("65536 entries"));
    assert!(info.notes[1].contains("128 with 2 MiB"));
}

#[test]
fn software_page_faults_count_this_process() {
    // Software events exist on every perf-enabled kernel, PMU or not: the counter must
    // see the faults of touching fresh anonymous pages (an independent check of the fd).
    let c = Counters::open(0);
    let Some(a) = c.read().page_faults else {
        eprintln!("perf software events unavailable: {}", c.status());
        return;
    };
    let mut m = memmap2::MmapMut::map_anon(64 << 12).unwrap();
    for i in 0..64 {
        m[i << 12] = 1;
    }
    std::hint::black_box(&m);
    let b = c.read().page_faults.unwrap();
    assert!(b - a >= 64, "{a} -> {b}");
}

#[test]
fn rates_from_fixed_counter_values() {
    let prev = CounterValues {
        dtlb_load_misses: Some(1_000),
        dtlb_loads: Some(100_000),
        cycles: Some(10_000_000),
        instructions: Some(5_000_000),
        page_faults: Some(10),
    };
    let cur = CounterValues {
        dtlb_load_misses: Some(21_000),
        dtlb_loads: Some(1_100_000),
        cycles: Some(30_000_000),
        instructions: Some(15_000_000),
        page_faults: Some(60),
    };
    let r = rates(&prev, &cur, 0.5, 100_000);
    assert_eq!(r.dtlb_load_misses_per_s, Some(40_000.0));
    assert_eq!(r.dtlb_load_misses_per_access, Some(0.2));
    assert_eq!(r.dtlb_loads_per_s, Some(2_000_000.0));
    assert_eq!(r.dtlb_miss_ratio, Some(0.02));
    assert_eq!(r.cycles_per_access, Some(200.0));
    assert_eq!(r.instructions_per_cycle, Some(0.5));
    assert_eq!(r.page_faults_per_s, Some(100.0));
    assert_eq!(r.page_faults_per_access, Some(0.0005));
    // Missing counters and empty intervals give None, never 0.
    let none = rates(&CounterValues::default(), &cur, 0.0, 0);
    assert_eq!(none, HardwareRates::default());
}

#[test]
fn amd_leaves_decode_this_vms_values() {
    // CPUID 0x80000005/6 as read on the development VM (AMD EPYC, Zen 4).
    let l5 = [0xff48ff40, 0xff48ff40, 0x20080140, 0x20080140];
    let l6 = [0x5c002200, 0x6c004200, 0x04006140, 0x0a009140];
    let g = TlbGeometry {
        source: Some("test".into()),
        levels: decode_amd(l5, l6),
    };
    let l1d = &g.levels[0];
    assert_eq!((l1d.level, l1d.kind.as_str(), l1d.entries), (1, "data", 72));
    assert_eq!(l1d.page_sizes, vec![K4, M2, M4]);
    assert_eq!(l1d.ways, None);
    assert_eq!(g.entries_for(K4), Some(3072));
    assert_eq!(g.entries_for(M2), Some(3072));
    assert_eq!(g.reach(K4), Some(12 << 20));
    assert_eq!(g.reach(M2), Some(6 << 30));
    let l = g.lines();
    assert!(
        l.iter()
            .any(|s| s == "L2 data TLB: 3072 entries (4 KiB pages), 8-way"),
        "{l:?}"
    );
}

#[test]
fn intel_leaves_decode() {
    // Leaf 2 of a Skylake: 0x00feff01 / 0xf0b5ff / 0 / 0x00c30000 (AL=01 skipped).
    let (l, see18) = decode_leaf2([0x00fe_ff01, 0x00f0_b5ff, 0, 0x00c3_0000]);
    assert!(see18);
    assert_eq!(l.len(), 1);
    assert_eq!((l[0].level, l[0].entries), (2, 1536));
    // Leaf 0x18 subleaf: a 4 KiB/2 MiB/4 MiB 64-entry 4-way L1 load TLB (16 sets).
    let sub = [0, (4 << 16) | 0b0111, 16, 4 | (1 << 5)];
    let l = decode_leaf18(&[sub, [0; 4]]);
    assert_eq!(l.len(), 1);
    assert_eq!(
        (l[0].kind.as_str(), l[0].entries, l[0].ways),
        ("load", 64, Some(4))
    );
    assert_eq!(l[0].page_sizes, vec![K4, M2, M4]);
    // A VM that zeroes everything: nothing reported.
    assert!(decode_leaf18(&[[0; 4]]).is_empty());
    assert!(decode_leaf2([0; 4]).0.is_empty());
}

#[test]
fn smaps_range_sums_only_overlapping_vmas() {
    let text = "\
1000-3000 r--s 00000000 08:01 12 /f
Rss:                   8 kB
FilePmdMapped:         0 kB
AnonHugePages:         0 kB
200000-600000 r--s 00000000 08:01 12 /f
Rss:                4096 kB
FilePmdMapped:      2048 kB
AnonHugePages:         0 kB
7000000-7400000 rw-p 00000000 00:00 0
Rss:                4096 kB
AnonHugePages:      4096 kB
";
    let h = parse_smaps_range(text, 0x200000, 0x400000);
    assert_eq!(h.rss_bytes, 4096 << 10);
    assert_eq!(h.file_pmd_mapped_bytes, 2 << 20);
    assert_eq!(h.anon_huge_bytes, 0);
    let a = parse_smaps_range(text, 0x7000000, 1);
    assert_eq!(a.anon_huge_bytes, 4 << 20);
}

#[test]
fn estimate_uses_cpuid_or_says_assumed() {
    let none = reach_estimate(&TlbGeometry::default(), 5000, 10);
    assert_eq!(none.entries_4k, ASSUMED_ENTRIES);
    assert!(none.entries_source.starts_with("assumed"));
    let mut offs = vec![0, 4095, 4096, 2 << 20, (2 << 20) + 1, 10 << 20];
    assert_eq!(distinct_pages_regions(&mut offs), (4, 3));
    // The worker's per-interval sets agree with the sort-based count, and reset per seq.
    let mut s = IntervalSets::for_len(4 << 20);
    s.start(1);
    for o in &offs {
        s.insert(*o);
    }
    assert_eq!(s.counts(), (4, 3));
    s.start(1);
    assert_eq!(s.counts(), (4, 3));
    s.start(2);
    assert_eq!(s.counts(), (0, 0));
    s.insert(4096);
    assert_eq!(s.counts(), (1, 1));
}
