//! The two workloads of real programs, on real files through the built binary: `grep` (a regex
//! over the mapping) and `bsearch` (binary search over sorted records). Each result is
//! checked against an independent reading of the same file: a whole-file `std::fs::read` and
//! a regex over all of it, or keys read with pread.

mod common;

use common::{can_evict, fincore_pages, mmviz, scratch_dir, skip};
use mmviz::workload::patterns::bsearch::{self, key_of, RECORD_SIZE};
use mmviz::workload::patterns::{PatternIter, PatternKind, PatternParams};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Text lines, every 97th holding "needle <n>", and random-looking words otherwise.
fn write_text(path: &Path, lines: u64) {
    let mut v = Vec::new();
    for i in 0..lines {
        let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
        if i % 97 == 13 {
            v.extend_from_slice(format!("{i:08} needle {h:x} end\n").as_bytes());
        } else {
            v.extend_from_slice(format!("{i:08} hay {h:x} and more hay\n").as_bytes());
        }
    }
    std::fs::write(path, v).unwrap();
}

/// The reference: the whole file in memory, one regex pass, line numbers by counting the
/// newlines between consecutive matches (linear in the file size).
fn reference(path: &Path, re: &str) -> Vec<(u64, u64, String)> {
    let data = std::fs::read(path).unwrap();
    let re = regex::bytes::Regex::new(re).unwrap();
    let (mut line_no, mut counted) = (1u64, 0usize);
    re.find_iter(&data)
        .map(|m| {
            let s = m.start();
            line_no += data[counted..s].iter().filter(|&&b| b == b'\n').count() as u64;
            counted = s;
            let ls = data[..s]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            let le = data[s..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(data.len(), |i| s + i);
            (
                s as u64,
                line_no,
                String::from_utf8_lossy(&data[ls..le]).into_owned(),
            )
        })
        .collect()
}

#[test]
fn grep_finds_what_a_plain_read_finds() {
    let dir = scratch_dir();
    let f = dir.path().join("text.txt");
    write_text(&f, 200_000); // ~6 MiB, many blocks
    let want = reference(&f, r"needle [0-9a-f]+");
    assert!(want.len() > 2000);
    let r = mmviz(&[
        "run",
        f.to_str().unwrap(),
        "--pattern",
        "grep",
        "--regex",
        r"needle [0-9a-f]+",
        "--json",
    ]);
    assert_eq!(r.code(), 0, "{r:?}");
    let j = r.json();
    assert_eq!(j["matches"], want.len() as u64);
    let first = j["first_matches"].as_array().unwrap();
    assert_eq!(first.len(), 10);
    for (m, w) in first.iter().zip(&want) {
        assert_eq!(m["offset"], w.0);
        assert_eq!(m["line_number"], w.1);
        assert_eq!(m["line"], w.2.as_str());
    }
    // One pass read every page: the worker touched them all, and its page table says so.
    let pages = j["pages"].as_u64().unwrap();
    assert_eq!(j["touched_pages"], pages);
    assert_eq!(j["accesses"], pages);
    // Other patterns have no match fields.
    let r = mmviz(&["run", f.to_str().unwrap(), "--accesses", "10", "--json"]);
    assert!(r.json().get("matches").is_none(), "{r:?}");
}

#[test]
fn grep_stopping_early_loads_only_what_it_read() {
    let dir = scratch_dir();
    let f = dir.path().join("big.txt");
    write_text(&f, 2_000_000); // ~64 MiB
    if let Err(why) = can_evict(&f) {
        return skip("grep_stopping_early_loads_only_what_it_read", &why);
    }
    let r = mmviz(&[
        "run",
        f.to_str().unwrap(),
        "--pattern",
        "grep",
        "--regex",
        "needle",
        "--max-matches",
        "3",
        "--cold",
        "--json",
    ]);
    assert_eq!(r.code(), 0, "{r:?}");
    let j = r.json();
    assert_eq!(j["matches"], 3);
    let pages = j["pages"].as_u64().unwrap();
    // Asked before this test reads the file itself (that would cache all of it).
    if let Some(fc) = fincore_pages(&f) {
        assert!(fc < pages / 4, "fincore {fc} of {pages}");
    }
    let want = reference(&f, "needle");
    let third = want[2].0;
    assert_eq!(j["first_matches"][2]["offset"], third);
    let touched = j["touched_pages"].as_u64().unwrap();
    // The third needle is on line 208, ~6.6 KB in: the search read the first two pages.
    assert_eq!(touched, (third + 6).div_ceil(4096).max(1));
    // The kernel agrees: a few readahead windows at most were cached, far from the file.
    let cached = j["cached_after"].as_u64().unwrap();
    assert!(cached < pages / 4, "cached {cached} of {pages}");
    let mapped = j["mapped_after"].as_u64().unwrap();
    assert!(mapped < pages / 4 && mapped >= touched, "mapped {mapped}");
}

#[test]
fn grep_bad_input_is_one_line_exit_2() {
    let dir = scratch_dir();
    let f = dir.path().join("t.txt");
    write_text(&f, 100);
    let p = f.to_str().unwrap();
    let table: &[(&[&str], &str)] = &[
        (&["run", p, "--pattern", "grep"], "needs --regex"),
        (
            &["run", p, "--pattern", "grep", "--regex", "(x"],
            "not a valid regex",
        ),
        (&["run", p, "--regex", "x"], "only to --pattern grep"),
        (&["run", p, "--max-matches", "2"], "only to --pattern grep"),
        (&["bench", p, "--pattern", "grep"], "needs --regex"),
        (
            &["run", p, "--pattern", "bsearch"],
            "not a file of sorted records",
        ),
        (
            &["bench", p, "--pattern", "bsearch"],
            "not a file of sorted records",
        ),
        (
            &["watch", p, "--pattern", "bsearch"],
            "not a file of sorted records",
        ),
        (&["gen", p, "--records", "0", "--force"], "at least 1"),
    ];
    for (args, want) in table {
        let r = mmviz(args);
        assert_eq!(r.code(), 2, "{args:?}: {r:?}");
        assert!(r.stderr.starts_with("mmviz: "), "{r:?}");
        assert!(r.stderr.contains(want), "{args:?}: {r:?}");
        assert_eq!(r.stderr.trim_end().lines().count(), 1, "{r:?}");
    }
}

#[test]
fn bsearch_finds_every_key_it_looks_up() {
    let dir = scratch_dir();
    let f = dir.path().join("records.bin");
    let n = 100_000u64;
    let r = mmviz(&[
        "gen",
        f.to_str().unwrap(),
        "--records",
        "100000",
        "--seed",
        "5",
    ]);
    assert_eq!(r.code(), 0, "{r:?}");
    let file = std::fs::File::open(&f).unwrap();
    assert_eq!(file.metadata().unwrap().len(), n * RECORD_SIZE);
    // Keys read with pread, independent of the generator's code path.
    let key_at = |i: u64| -> std::io::Result<u64> {
        let mut b = [0u8; 8];
        file.read_exact_at(&mut b, i * RECORD_SIZE)?;
        Ok(key_of(&b))
    };
    let mut prev = None;
    for i in (0..n).step_by(997) {
        let k = key_at(i).unwrap();
        if let Some(p) = prev {
            assert!(p < k, "sorted");
        }
        prev = Some(k);
    }
    // The pattern's offsets are the probes of real lookups that find their key.
    let mut p = PatternParams::new(PatternKind::Bsearch, n * RECORD_SIZE, 4096);
    p.access_size = 8;
    p.seed = 3;
    let mut it = PatternIter::new(&p);
    let mut total = 0;
    for lookup in 0..500 {
        let t = bsearch::target(3, lookup, n);
        let key = key_at(t).unwrap();
        let mut probes = Vec::new();
        let found = bsearch::lookup(n, key, key_at, &mut probes).unwrap();
        assert_eq!(found, Some(t), "lookup {lookup}");
        for &pr in &probes {
            assert_eq!(it.next_offset(0), pr * RECORD_SIZE);
        }
        assert!(probes.len() <= 17, "log2(100000) < 17");
        total += probes.len();
    }
    assert!(total >= 500 * 14, "about log2(n) probes each: {total}");

    // Through the worker: few distinct pages (the hot upper levels are shared).
    let r = mmviz(&[
        "run",
        f.to_str().unwrap(),
        "--pattern",
        "bsearch",
        "--seed",
        "3",
        "--accesses",
        "3000",
        "--json",
    ]);
    assert_eq!(r.code(), 0, "{r:?}");
    let j = r.json();
    assert_eq!(j["access_size"], 8);
    assert_eq!(j["accesses"], 3000);
    let touched = j["touched_pages"].as_u64().unwrap();
    // ~200 lookups of ~16 probes: the first ~8 levels are shared, so far fewer pages than
    // probes.
    assert!(touched < 1500, "touched {touched}");
}

#[test]
fn bench_runs_both_searches_through_mmap_and_read() {
    let dir = scratch_dir();
    let t = dir.path().join("text.txt");
    write_text(&t, 100_000);
    let r = mmviz(&[
        "bench",
        t.to_str().unwrap(),
        "--pattern",
        "grep",
        "--regex",
        "needle",
        "--repeat",
        "1",
        "--json",
    ]);
    assert_eq!(r.code(), 0, "{r:?}");
    let j = r.json();
    let methods: Vec<&str> = j["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["method"].as_str().unwrap())
        .collect();
    assert_eq!(methods, ["mmap", "mmap-sequential", "read-64k", "read-1m"]);

    let rec = dir.path().join("rec.bin");
    assert_eq!(
        mmviz(&["gen", rec.to_str().unwrap(), "--records", "50000"]).code(),
        0
    );
    let r = mmviz(&[
        "bench",
        rec.to_str().unwrap(),
        "--pattern",
        "bsearch",
        "--accesses",
        "5000",
        "--repeat",
        "1",
        "--json",
    ]);
    assert_eq!(r.code(), 0, "{r:?}");
    let j = r.json();
    let names: Vec<&str> = j["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["method"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"mmap") && names.contains(&"pread"),
        "{names:?}"
    );
}
