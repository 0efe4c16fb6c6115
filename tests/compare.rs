//! mmap vs read() comparison on the real kernel, with small files under target/ (a real
//! disk filesystem, so eviction works; /tmp may be tmpfs, which never evicts).

use mmviz::compare::{compare_detailed, CacheMode, CompareOptions, Detailed, Method};
use mmviz::kernel::cache::Fill;
use mmviz::workload::patterns::PatternKind;
use mmviz::workload::worker::PatternSpec;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;

const EXE: &str = env!("CARGO_BIN_EXE_mmviz");

/// A file of `mib` MiB of pseudo-random bytes (with newlines, so the fold sees them).
fn data_file(name: &str, mib: usize) -> PathBuf {
    // Children run from the real binary, not from this test executable.
    std::env::set_var("MMVIZ_EXE", EXE);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("compare");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    let mut x = 0x1234_5678_9abc_def1u64 ^ name.len() as u64;
    let v: Vec<u8> = (0..mib << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 56) as u8
        })
        .collect();
    std::fs::write(&p, v).unwrap();
    p
}

fn spec(kind: PatternKind, access_size: u64) -> PatternSpec {
    PatternSpec {
        kind,
        seed: 7,
        access_size,
        ..PatternSpec::default()
    }
}

fn run(opts: &CompareOptions) -> Detailed {
    compare_detailed(opts, &mut |_, _| {}, &AtomicBool::new(false))
        .unwrap_or_else(|e| panic!("compare failed: {e}"))
}

#[test]
fn bench_json_has_every_key_and_method() {
    let f = data_file("json", 4);
    for (pattern, methods) in [
        (
            "random",
            &[
                "mmap",
                "mmap-populate",
                "mmap-random",
                "pread",
                "seek+read",
                "buffered",
            ][..],
        ),
        (
            "sequential",
            &[
                "mmap",
                "mmap-populate",
                "mmap-sequential",
                "pread",
                "seek+read",
                "buffered",
                "read-64k",
                "read-1m",
            ][..],
        ),
    ] {
        let out = Command::new(EXE)
            .arg("bench")
            .arg(&f)
            .args(["--pattern", pattern, "--accesses", "3000", "--repeat", "2"])
            .args(["--warm", "--json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for k in [
            "schema_version",
            "pattern",
            "cache",
            "accesses",
            "access_size",
            "file_size",
            "results",
            "verdict",
            "why",
        ] {
            assert!(v.get(k).is_some(), "missing {k} in {v}");
        }
        assert_eq!(v["pattern"], pattern);
        assert_eq!(v["cache"], "warm");
        assert_eq!(v["file_size"], 4 << 20);
        assert_eq!(v["accesses"], 3000);
        let results = v["results"].as_array().unwrap();
        let names: Vec<&str> = results
            .iter()
            .map(|r| r["method"].as_str().unwrap())
            .collect();
        assert_eq!(names, methods);
        for r in results {
            for k in [
                "method",
                "ns_per_access",
                "ns_per_access_min",
                "ns_per_access_max",
                "mb_per_s",
                "minor_faults",
                "major_faults",
                "syscalls",
                "cached_before",
                "cached_after",
                "checksum",
            ] {
                assert!(r.get(k).is_some(), "missing {k} in {r}");
            }
            let (med, min, max) = (
                r["ns_per_access"].as_f64().unwrap(),
                r["ns_per_access_min"].as_f64().unwrap(),
                r["ns_per_access_max"].as_f64().unwrap(),
            );
            assert!(min <= med && med <= max && min > 0.0, "{r}");
        }
        assert!(v["verdict"].as_str().unwrap().starts_with("mmap "));
    }
}

#[test]
fn every_method_reads_the_same_bytes() {
    let f = data_file("same", 4);
    let cases = [
        (PatternKind::Chase, 1),
        (PatternKind::Chase, 100),
        (PatternKind::Random, 1),
        (PatternKind::Hotset, 64),
        (PatternKind::Stride, 1),
        (PatternKind::Reverse, 8),
        (PatternKind::Sequential, 1),
        (PatternKind::Scan, 1),
    ];
    let mut chase1 = None;
    for (kind, size) in cases {
        let mut o = CompareOptions::new(&f, spec(kind, size));
        o.accesses = Some(if kind.is_streaming() { 1500 } else { 4000 });
        o.repeat = 1;
        // Every method that can run this pattern, including all mmap advice variants.
        let mut methods = vec![
            Method::Mmap,
            Method::MmapPopulate,
            Method::MmapAdvised(mmviz::kernel::advice::Advice::Random),
            Method::Pread,
            Method::SeekRead,
            Method::Buffered,
        ];
        if matches!(kind, PatternKind::Sequential | PatternKind::Scan) {
            methods.extend([Method::Read64k, Method::Read1m]);
        }
        o.methods = Some(methods.clone());
        let d = run(&o);
        assert_eq!(d.checksums.len(), methods.len());
        assert!(
            d.checksums.iter().all(|&c| c == d.checksums[0]),
            "{kind:?}/{size}: {:?}",
            d.checksums
        );
        assert_ne!(d.checksums[0], 0, "{kind:?}: nothing was folded");
        if kind == PatternKind::Chase && size == 1 {
            chase1 = Some(d.checksums[0]);
        }
    }
    // The chase depends on the bytes: another seed takes another path.
    let mut o = CompareOptions::new(
        &f,
        PatternSpec {
            seed: 8,
            ..spec(PatternKind::Chase, 1)
        },
    );
    o.accesses = Some(4000);
    o.repeat = 1;
    o.methods = Some(vec![Method::Mmap, Method::Pread]);
    assert_ne!(Some(run(&o).checksums[0]), chase1);
}

#[test]
fn block_reads_wrap_like_the_pattern() {
    // More accesses than pages: every method wraps to the start and still agrees.
    let f = data_file("wrap", 1);
    let mut o = CompareOptions::new(&f, spec(PatternKind::Sequential, 1));
    o.accesses = Some(700);
    o.repeat = 1;
    o.methods = Some(vec![
        Method::Mmap,
        Method::Pread,
        Method::Buffered,
        Method::Read64k,
        Method::Read1m,
    ]);
    let d = run(&o);
    assert!(
        d.checksums.iter().all(|&c| c == d.checksums[0]),
        "{:?}",
        d.checksums
    );
}

#[test]
fn cold_runs_start_with_nothing_cached() {
    let f = data_file("cold", 4);
    let mut o = CompareOptions::new(&f, spec(PatternKind::Random, 1));
    o.accesses = Some(500);
    o.repeat = 2;
    o.cache = CacheMode::Cold;
    let d = run(&o);
    assert_eq!(d.result.cache, "cold");
    for r in &d.result.results {
        assert_eq!(r.cached_before, Some(0), "{}", r.method);
        assert!(r.cached_after.unwrap() > 0, "{} cached nothing", r.method);
    }
}

#[test]
fn faults_are_charged_to_mmap_only() {
    let f = data_file("faults", 4);
    let accesses = 5000;
    let mut o = CompareOptions::new(&f, spec(PatternKind::Random, 1));
    o.accesses = Some(accesses);
    o.repeat = 1;
    o.cache = CacheMode::Warm(Fill::Random);
    let d = run(&o);
    let by = |name: &str| {
        d.result
            .results
            .iter()
            .find(|r| r.method == name)
            .unwrap_or_else(|| panic!("no {name}"))
    };
    let mmap = by("mmap");
    assert!(
        mmap.minor_faults + mmap.major_faults > 0,
        "a fresh mapping must fault: {mmap:?}"
    );
    assert_eq!(mmap.syscalls, 2, "mmap + munmap");
    for name in ["pread", "seek+read", "buffered"] {
        let r = by(name);
        assert_eq!(r.major_faults, 0, "{r:?}");
        assert!(r.minor_faults < 20, "{name}: {r:?}");
        assert!(r.minor_faults * 100 < accesses, "{r:?}");
    }
    assert_eq!(by("pread").syscalls, accesses);
    assert_eq!(by("seek+read").syscalls, 2 * accesses);
    // Random 4 KiB fill: small folios, fault-around maps 16 pages per fault. A sequential fill
    // leaves larger folios on ext4 (fewer faults) once readahead has ramped up, which takes
    // more than a few MiB; filesystems without large folios give equal counts.
    let big = data_file("folios", 32);
    let mut o = CompareOptions::new(&big, spec(PatternKind::Random, 1));
    o.accesses = Some(accesses);
    o.repeat = 1;
    o.methods = Some(vec![Method::Mmap, Method::Pread]);
    let mut faults = |fill| {
        o.cache = CacheMode::Warm(fill);
        run(&o).result.results[0].minor_faults
    };
    let (small, large) = (faults(Fill::Random), faults(Fill::Sequential));
    assert!(
        large <= small,
        "sequential fill {large} vs random fill {small} faults"
    );
}

#[test]
fn bad_input_exits_2() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let missing = dir.join("compare-no-such-file");
    let f = data_file("bad", 1);
    let empty = dir.join("compare-empty");
    std::fs::write(&empty, b"").unwrap();
    let cases: Vec<(Vec<&std::ffi::OsStr>, &str)> = vec![
        (vec![missing.as_os_str()], "compare-no-such-file"),
        (vec![dir.as_os_str()], "is a directory"),
        (vec![empty.as_os_str()], "empty"),
        (
            vec![f.as_os_str(), "--pattern".as_ref(), "zigzag".as_ref()],
            "unknown pattern",
        ),
        (
            vec![f.as_os_str(), "--repeat".as_ref(), "0".as_ref()],
            "--repeat",
        ),
        (
            vec![f.as_os_str(), "--fill".as_ref(), "diagonal".as_ref()],
            "--fill",
        ),
    ];
    for (args, want) in cases {
        let out = Command::new(EXE)
            .arg("bench")
            .args(&args)
            .args(
                ["--pattern", "random"]
                    .iter()
                    .skip(if args.len() > 1 { 2 } else { 0 }),
            )
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn cancel_stops_the_comparison() {
    let f = data_file("cancel", 1);
    let mut o = CompareOptions::new(&f, spec(PatternKind::Random, 1));
    o.accesses = Some(1000);
    let e = compare_detailed(&o, &mut |_, _| {}, &AtomicBool::new(true)).unwrap_err();
    assert_eq!(e.code, 130);
}
