//! Both page-table readers (PAGEMAP_SCAN and the pread fallback) against the kernel's own
//! account of the same mapping: `Rss` of that VMA in /proc/self/smaps. Many small scattered
//! runs (more than one PAGEMAP_SCAN buffer holds) are where a double count would show.

mod common;

use memmap2::MmapOptions;
use mmviz::kernel::pagemap::{count_in, PagemapReader, PresentRun};
use mmviz::units::page_size;
use std::fs::OpenOptions;

/// Rss (in pages) of the VMA starting at `addr` in /proc/self/smaps.
fn smaps_rss_pages(addr: usize) -> u64 {
    let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
    let want = format!("{addr:x}-");
    let mut inside = false;
    for line in smaps.lines() {
        if line.contains('-') && line.split_whitespace().count() >= 5 && !line.contains(':') {
            inside = line.starts_with(&want);
        } else if line.starts_with(&want) {
            inside = true;
        } else if inside && line.starts_with("Rss:") {
            let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
            return kb * 1024 / page_size();
        }
    }
    panic!("no VMA at {addr:x} in smaps");
}

fn present(reader: &mut PagemapReader, addr: u64, pages: u64) -> (u64, usize) {
    let mut runs: Vec<PresentRun> = Vec::new();
    reader
        .present_runs(addr, pages, page_size(), &mut runs)
        .expect("present_runs");
    let (f, p) = count_in(&runs, 0, u64::MAX, &mut 0);
    (f + p, runs.len())
}

#[test]
fn both_pagemap_paths_agree_with_smaps_rss_on_scattered_runs() {
    let dir = common::scratch_dir();
    let path = dir.path().join("scatter.bin");
    let ps = page_size();
    // 256 MiB, sparse: holes read as zeros and cost no disk I/O, but each touched page is
    // a page-cache page mapped like any other.
    let pages: u64 = 65_536;
    std::fs::File::create(&path)
        .unwrap()
        .set_len(pages * ps)
        .unwrap();
    let file = OpenOptions::new().read(true).open(&path).unwrap();
    // SAFETY: a read-only shared mapping of a file only this test created and no one writes.
    let map = unsafe {
        MmapOptions::new()
            .len((pages * ps) as usize)
            .map(&file)
            .unwrap()
    };
    // 2,000 pseudo-random pages (the shape `run --pattern random --advice random` showed
    // 2,359 mapped for 1,972 touched): MADV_RANDOM, so no readahead and no cached neighbours.
    map.advise(memmap2::Advice::Random).unwrap();
    let mut sum = 0u64;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..2000 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let p = (x >> 33) % pages;
        sum += map[(p * ps) as usize] as u64;
    }
    std::hint::black_box(sum);
    let addr = map.as_ptr() as u64;
    let rss = smaps_rss_pages(map.as_ptr() as usize);
    let mut scan = PagemapReader::open(std::process::id()).unwrap();
    let (n_scan, runs_scan) = present(&mut scan, addr, pages);
    let mut pread = PagemapReader::open(std::process::id()).unwrap();
    pread.force_pread();
    let (n_pread, _) = present(&mut pread, addr, pages);
    assert!(
        rss >= 1900,
        "smaps Rss {rss} pages: the touches did not map"
    );
    assert!(
        runs_scan > 1000,
        "only {runs_scan} runs: the test must exceed one scan buffer"
    );
    assert_eq!(n_pread, rss, "pread fallback vs smaps Rss");
    assert_eq!(n_scan, rss, "PAGEMAP_SCAN vs smaps Rss");
    // Without the file bit too (the worker's read-only reader turns it off).
    let mut nofile = PagemapReader::open(std::process::id()).unwrap();
    nofile.set_file_bit(false);
    assert_eq!(
        present(&mut nofile, addr, pages).0,
        rss,
        "scan without file bit"
    );
}
