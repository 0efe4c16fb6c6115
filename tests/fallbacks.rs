//! Kernel features missing: with cachestat, PAGEMAP_SCAN and perf turned off
//! (MMVIZ_DISABLE), the fallbacks (mincore, pread of pagemap) report the same page counts on
//! the same file and cache state, checked against fincore as an independent witness.

mod common;

use common::{fincore_pages, run_cmd, scratch_dir, BIN, TIMEOUT};
use std::io::Read;
use std::path::Path;
use std::process::Command;

const ALL_OFF: &str = "cachestat,pagemap_scan,perf";

fn mmviz_json(args: &[&std::ffi::OsStr], disable: Option<&str>) -> serde_json::Value {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    match disable {
        Some(d) => cmd.env("MMVIZ_DISABLE", d),
        None => cmd.env_remove("MMVIZ_DISABLE"),
    };
    let r = run_cmd(cmd, TIMEOUT);
    assert_eq!(r.code(), 0, "{r:?}");
    r.json()
}

/// Reads `len` bytes of `path` from `off` (fills the cache there).
fn read_range(path: &Path, off: u64, len: usize) {
    use std::io::{Seek, SeekFrom};
    let mut f = std::fs::File::open(path).unwrap();
    f.seek(SeekFrom::Start(off)).unwrap();
    let mut buf = vec![0u8; len];
    f.read_exact(&mut buf).unwrap();
}

fn gen(dir: &Path, name: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    let r = common::mmviz(&[
        "gen".as_ref(),
        p.as_os_str(),
        "--size".as_ref(),
        "16MiB".as_ref(),
    ]);
    assert_eq!(r.code(), 0, "{r:?}");
    p
}

#[test]
fn mincore_fallback_counts_the_same_cached_pages() {
    let dir = scratch_dir();
    let p = gen(dir.path(), "res.bin");
    if let Err(why) = common::can_evict(&p) {
        common::skip("mincore_fallback_counts_the_same_cached_pages", &why);
        return;
    }
    let r = common::mmviz(&["evict".as_ref(), p.as_os_str()]);
    assert_eq!(r.code(), 0, "{r:?}");
    // An uneven cache state: two separate ranges (readahead adds what it adds, the same for
    // every reader below since nothing reads the file between them).
    read_range(&p, 0, 1 << 20);
    read_range(&p, 9 << 20, 512 << 10);
    let args = ["residency".as_ref(), p.as_os_str(), "--json".as_ref()];
    let fast = mmviz_json(&args, None);
    let slow = mmviz_json(&args, Some(ALL_OFF));
    assert_eq!(slow["source"], "mincore", "{slow}");
    if fast["source"] == "mincore" {
        eprintln!("note: this kernel has no cachestat; both runs used mincore");
    }
    assert_eq!(fast["cached_pages"], slow["cached_pages"], "{fast}\n{slow}");
    assert_eq!(fast["bar"], slow["bar"], "{fast}\n{slow}");
    let cached = fast["cached_pages"].as_u64().unwrap();
    assert!(cached > 0 && cached < 4096, "{fast}");
    if let Some(fc) = fincore_pages(&p) {
        assert_eq!(fc, cached, "fincore disagrees");
    }
}

#[test]
fn pagemap_pread_fallback_counts_the_same_mapped_pages() {
    let dir = scratch_dir();
    let p = gen(dir.path(), "run.bin");
    // Fully cached, so both runs see the same folios and fault-around maps the same pages.
    read_range(&p, 0, 16 << 20);
    let args = [
        "run".as_ref(),
        p.as_os_str(),
        "--pattern".as_ref(),
        "stride".as_ref(),
        "--stride".as_ref(),
        "37".as_ref(),
        "--accesses".as_ref(),
        "60".as_ref(),
        "--json".as_ref(),
    ];
    let fast = mmviz_json(&args, None);
    let slow = mmviz_json(&args, Some(ALL_OFF));
    assert_eq!(slow["mapped_source"], "pread", "{slow}");
    for key in [
        "mapped_after",
        "cached_before",
        "cached_after",
        "touched_pages",
    ] {
        assert_eq!(fast[key], slow[key], "{key}: {fast}\n{slow}");
    }
    let mapped = fast["mapped_after"].as_u64().unwrap();
    assert!(
        (60..4096).contains(&mapped),
        "60 strided touches map at least 60 pages: {fast}"
    );
    assert_eq!(fast["cached_after"], 4096, "{fast}");
}
