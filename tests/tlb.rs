//! `mmviz tlb`: the JSON contract with a small working set, checked against independent
//! sources (sysfs THP mode, the PMU list in sysfs), and bad input.

mod common;

use common::mmviz;

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
