//! `mmviz tlb`: the JSON contract with a small working set, checked against independent
//! sources (sysfs THP mode, the PMU list in sysfs), and bad input.

mod common;

use common::mmviz;
use mmviz::kernel::advice::Advice;
use mmviz::workload::worker::{
    Control, Event, Limit, PatternSpec, Report, WorkerHandle, WorkerState,
};

#[test]
fn tlb_json_has_the_documented_shape() {
    let r = mmviz(&["tlb", "--json", "--max-working-set", "8MiB", "--runs", "1"]);
    assert_eq!(r.code(), 0, "{r:?}");
    let j = r.json();
    let rows = j["rows"].as_array().expect("rows");
    let sizes: Vec<u64> = rows
        .iter()
        .map(|r| r["working_set_bytes"].as_u64().unwrap())
        .collect();
    assert_eq!(sizes, vec![1 << 20, 2 << 20, 4 << 20, 8 << 20]);
    for row in rows {
        let ns4 = row["ns_4k"].as_f64().expect("ns_4k");
        let nsh = row["ns_huge"].as_f64().expect("ns_huge");
        assert!(ns4 > 0.0 && nsh > 0.0, "{row}");
        assert_eq!(
            row["nodes"].as_u64().unwrap() * 4096,
            row["working_set_bytes"]
        );
        match row["ratio"].as_f64() {
            Some(q) => assert!((q - ns4 / nsh).abs() < 1e-9, "{row}"),
            None => assert!(row["huge_share"].as_f64().unwrap() < 0.9, "{row}"),
        }
        assert_eq!(
            row["anon_huge_bytes_4k"], 0,
            "MADV_NOHUGEPAGE got THP: {row}"
        );
    }
    // THP mode as the kernel states it (independent read of sysfs).
    let sys = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").ok();
    let want = sys.as_deref().and_then(|s| {
        let a = s.find('[')?;
        let b = s.find(']')?;
        Some(s[a + 1..b].to_string())
    });
    assert_eq!(j["thp_mode"].as_str().map(str::to_string), want);
    if want.as_deref() == Some("never") {
        assert!(rows.iter().all(|r| r["ratio"].is_null()), "{j}");
    }
    // Hardware counters: a status string; with no `cpu` PMU in sysfs it must be unsupported.
    let status = j["hardware_counters"].as_str().expect("status string");
    if !std::path::Path::new("/sys/bus/event_source/devices/cpu").exists() {
        assert!(status.starts_with("unsupported: "), "{status}");
        assert!(j["hardware"].is_null());
    }
    assert_eq!(j["stride"], "page");
    assert!(j["machine"]["page_size"].as_u64().is_some());
    assert!(j["knee_rule"].as_str().is_some());
    assert!(j.get("knee_working_set_bytes").is_some());
}

#[test]
fn tlb_text_has_table_and_chart() {
    let r = mmviz(&["tlb", "--max-working-set", "2MiB", "--runs", "1"]);
    assert_eq!(r.code(), 0, "{r:?}");
    assert!(r.stdout.contains("working set"), "{}", r.stdout);
    assert!(r.stdout.contains("THP mode:"), "{}", r.stdout);
    assert!(r.stdout.contains("█"), "{}", r.stdout);
    assert!(r.stdout.contains("   2 MiB"), "{}", r.stdout);
}

#[test]
fn tlb_bad_input_is_one_line_and_exit_2() {
    for args in [
        &["tlb", "--max-working-set", "4KiB"][..],
        &["tlb", "--max-working-set", "lots"][..],
        &["tlb", "--runs", "0"][..],
    ] {
        let r = mmviz(args);
        assert_eq!(r.code(), 2, "{args:?}: {r:?}");
        assert!(r.stderr.starts_with("mmviz: "), "{r:?}");
        assert_eq!(r.stderr.trim_end().lines().count(), 1, "{r:?}");
        assert!(r.stdout.is_empty(), "{r:?}");
    }
}

/// Kernel major.minor from uname(2) release, e.g. (6, 18).
fn kernel_version() -> Option<(u32, u32)> {
    let s = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    let mut it = s.trim().split(['.', '-']);
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// Runs one sequential pass of `file` in a worker with `advice`, then reads the worker's smaps
/// over its mapping (addr and len from its hello).
fn pass_and_smaps(file: &std::path::Path, advice: Advice) -> mmviz::kernel::tlb::HugeMapped {
    use std::time::{Duration, Instant};
    let mut h = WorkerHandle::spawn(file, Duration::from_secs(10)).expect("spawn worker");
    let d = Duration::from_secs(20);
    let wait = |h: &WorkerHandle, pred: &dyn Fn(&Report) -> bool| {
        let t0 = Instant::now();
        loop {
            let left = d.checked_sub(t0.elapsed()).expect("worker report in time");
            match h.recv(left) {
                Some(Event::Report(r)) if pred(&r) => return *r,
                Some(Event::Report(_)) => {}
                other => panic!("worker: {other:?}"),
            }
        }
    };
    h.send(&Control::Advise { advice }).unwrap();
    let ack = wait(
        &h,
        &|r| matches!(r, Report::Ack { what, .. } if what == "advise"),
    );
    assert!(matches!(ack, Report::Ack { error: None, .. }), "{ack:?}");
    h.send(&Control::Configure {
        pattern: PatternSpec::default(),
        limit: Limit::OnePass,
        rate: None,
        paused: false,
        report_ms: 50,
    })
    .unwrap();
    wait(
        &h,
        &|r| matches!(r, Report::Progress(p) if p.state == WorkerState::Finished),
    );
    let got =
        mmviz::kernel::tlb::huge_mapped(h.pid(), h.map.addr, h.map.len).expect("worker smaps");
    h.stop(d);
    got
}

#[test]
fn hugepage_advice_pmd_maps_a_cold_file_on_ext4() {
    std::env::set_var("MMVIZ_EXE", env!("CARGO_BIN_EXE_mmviz"));
    let dir = common::scratch_dir();
    let f = dir.path().join("pmd.bin");
    let g = mmviz(&["gen", f.to_str().unwrap(), "--size", "16MiB"]);
    assert_eq!(g.code(), 0, "{g:?}");
    let fs = mmviz::kernel::fsinfo::fs_of(&std::fs::File::open(&f).unwrap()).unwrap();
    let thp = mmviz::kernel::fsinfo::thp_mode();
    // Measured on Linux 6.18 ext4 (THP madvise): ext4 has large folios since 6.16.
    if fs.name != "ext4" || kernel_version() < Some((6, 16)) || thp.as_deref() == Some("never") {
        common::skip(
            "hugepage_advice_pmd_maps_a_cold_file_on_ext4",
            &format!(
                "needs ext4, Linux >= 6.16 and THP enabled (fs {}, THP {thp:?})",
                fs.name
            ),
        );
        return;
    }
    let e = mmviz(&["evict", f.to_str().unwrap(), "--json"]);
    assert_eq!(e.code(), 0, "{e:?}");
    let h = pass_and_smaps(&f, Advice::Hugepage);
    assert_eq!(h.rss_bytes, 16 << 20, "{h:?}");
    // Cold faults under MADV_HUGEPAGE read 2 MiB folios and map each with one PMD entry.
    assert!(h.file_pmd_mapped_bytes >= 8 << 20, "{h:?}");
    assert_eq!(h.file_pmd_mapped_bytes % (2 << 20), 0, "{h:?}");

    // Small folios (the cache filled by 4 KiB reads in random order) are never PMD-mapped,
    // whatever the advice.
    let e = mmviz(&["evict", f.to_str().unwrap(), "--json"]);
    assert_eq!(e.code(), 0, "{e:?}");
    let file = std::fs::File::open(&f).unwrap();
    mmviz::kernel::cache::warm(
        &file,
        0,
        (16 << 20) / mmviz::units::page_size(),
        mmviz::kernel::cache::Fill::Random,
    )
    .unwrap();
    let h = pass_and_smaps(&f, Advice::Hugepage);
    assert_eq!(h.rss_bytes, 16 << 20, "{h:?}");
    assert_eq!(h.file_pmd_mapped_bytes, 0, "{h:?}");
}

#[test]
fn run_json_latency_histogram_matches_the_fault_counters() {
    let dir = common::scratch_dir();
    let f = dir.path().join("lat.bin");
    let fs = f.to_str().unwrap();
    assert_eq!(mmviz(&["gen", fs, "--size", "8MiB"]).code(), 0);
    if let Err(why) = common::can_evict(&f) {
        common::skip(
            "run_json_latency_histogram_matches_the_fault_counters",
            &why,
        );
        return;
    }
    // At <= 10,000 accesses/s every access is timed.
    let r = mmviz(&[
        "run",
        fs,
        "--cold",
        "--pattern",
        "random",
        "--rate",
        "10000",
        "--accesses",
        "1500",
        "--json",
    ]);
    assert_eq!(r.code(), 0, "{r:?}");
    let j = r.json();
    assert_eq!(j["latency_sampled_every"], 1, "{j}");
    assert_eq!(j["latency_samples"], j["accesses"], "{j}");
    let hist = j["latency_histogram"].as_array().expect("histogram");
    let mut total = 0;
    let (mut slow, mut very_slow) = (0, 0);
    for b in hist {
        let (lo, hi, c) = (
            b["lo_ns"].as_u64().unwrap(),
            b["hi_ns"].as_u64().unwrap(),
            b["count"].as_u64().unwrap(),
        );
        assert!(hi == (lo * 2).max(2), "log2 bucket {b}");
        total += c;
        if lo >= 256 {
            slow += c;
        }
        if lo >= 4096 {
            very_slow += c;
        }
    }
    assert_eq!(total, j["latency_samples"].as_u64().unwrap());
    // The independent witness: the worker's /proc fault counters over the same timed window.
    // Every access that faulted was timed and no fault returns in under 256 ns; a major
    // fault waits for the disk (far beyond 4 µs).
    let minor = j["minor_faults"].as_u64().unwrap();
    let major = j["major_faults"].as_u64().unwrap();
    assert!(minor + major > 0, "a cold run faults: {j}");
    assert!(
        slow >= minor + major,
        "{slow} slow samples < {minor}+{major} faults: {j}"
    );
    assert!(
        very_slow >= major,
        "{very_slow} samples >= 4 µs < {major} major faults: {j}"
    );
    let (p50, p99, max) = (
        j["latency_ns_p50"].as_u64().unwrap(),
        j["latency_ns_p99"].as_u64().unwrap(),
        j["latency_ns_max"].as_u64().unwrap(),
    );
    assert!(p50 <= p99 && p99 <= max, "{j}");

    // Unlimited rate: 1 in 1,024 is timed.
    let r = mmviz(&[
        "run",
        fs,
        "--pattern",
        "random",
        "--accesses",
        "100000",
        "--json",
    ]);
    assert_eq!(r.code(), 0, "{r:?}");
    let j = r.json();
    assert_eq!(j["latency_sampled_every"], 1024, "{j}");
    assert_eq!(j["latency_samples"], 100_000 / 1024, "{j}");
}

#[test]
fn worker_reports_distinct_pages_and_regions_of_the_interval() {
    use std::time::{Duration, Instant};
    std::env::set_var("MMVIZ_EXE", env!("CARGO_BIN_EXE_mmviz"));
    let dir = common::scratch_dir();
    let f = dir.path().join("interval.bin");
    assert_eq!(
        mmviz(&["gen", f.to_str().unwrap(), "--size", "6MiB"]).code(),
        0
    );
    let mut h = WorkerHandle::spawn(&f, Duration::from_secs(10)).expect("spawn worker");
    // One report interval for the whole pass: the sequential pass touches every 4 KiB page
    // of the 6 MiB file once, in 3 regions of 2 MiB.
    h.send(&Control::Configure {
        pattern: PatternSpec::default(),
        limit: Limit::OnePass,
        rate: None,
        paused: false,
        report_ms: 60_000,
    })
    .unwrap();
    let t0 = Instant::now();
    let last = loop {
        let left = Duration::from_secs(20)
            .checked_sub(t0.elapsed())
            .expect("finished in time");
        match h.recv(left) {
            Some(Event::Report(r)) => {
                if let Report::Progress(p) = *r {
                    if p.state == WorkerState::Finished {
                        break p;
                    }
                }
            }
            other => panic!("worker: {other:?}"),
        }
    };
    h.stop(Duration::from_secs(5));
    let pages = (6 << 20) / 4096;
    assert_eq!(last.accesses, pages, "{last:?}");
    assert_eq!(last.interval_pages, pages);
    assert_eq!(last.interval_regions, 3);
}

#[test]
fn tlb_says_when_perf_is_turned_off() {
    let mut cmd = std::process::Command::new(common::BIN);
    cmd.args(["tlb", "--json", "--max-working-set", "1MiB", "--runs", "1"])
        .env("MMVIZ_DISABLE", "perf");
    let r = common::run_cmd(cmd, common::TIMEOUT);
    assert_eq!(r.code(), 0, "{r:?}");
    let j = r.json();
    assert_eq!(
        j["hardware_counters"],
        "unsupported: perf_event_open turned off (MMVIZ_DISABLE=perf)"
    );
    assert!(j["hardware"].is_null());
    assert_eq!(j["rows"].as_array().unwrap().len(), 1);
}
