//! Integration tests of the foundation on the real kernel: page-cache residency (cachestat and
//! mincore), page-table presence (PAGEMAP_SCAN and pread of /proc/<pid>/pagemap), grid
//! aggregation, eviction, `mmviz gen` and the CLI's handling of bad input.
//!
//! Tests run in parallel in one process, each on its own scratch files under
//! `CARGO_TARGET_TMPDIR` (on disk: /tmp may be a tmpfs that never evicts). No test relies on
//! the test process's fault counters, which the other tests disturb.

mod common;

use common::{can_evict, mmviz, scratch_dir, skip};
use memmap2::{Mmap, MmapOptions};
use mmviz::kernel::pagemap::{PagemapReader, PresentRun};
use mmviz::kernel::residency::CacheProbe;
use mmviz::session::grid::{self, GridScratch, MappedSource};
use mmviz::session::snapshot::{CacheSource, PagemapSource};
use mmviz::units::page_size;
use std::collections::BTreeSet;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Pages of the scratch files (4 MiB with 4 KiB pages): big enough for several fault-around
/// blocks and grid cells, small enough to keep the whole file fast.
const PAGES: u64 = 1024;

/// Writes a file of `pages` pages whose every page differs, synced so it can be evicted
/// (fadvise DONTNEED skips dirty pages).
fn make_file(dir: &Path, name: &str, pages: u64) -> PathBuf {
    let ps = page_size() as usize;
    let path = dir.join(name);
    let mut f = File::create(&path).unwrap();
    let mut buf = vec![0u8; ps];
    for p in 0..pages {
        buf.fill((p % 251) as u8 + 1);
        f.write_all(&buf).unwrap();
    }
    f.sync_all().unwrap();
    path
}

fn probe_of(file: &File) -> CacheProbe {
    let fs = mmviz::kernel::fsinfo::fs_of(file).unwrap();
    let size = file.metadata().unwrap().len();
    CacheProbe::new(file, size, &fs).unwrap()
}

/// Evicts the whole file with the library (no mapping of it may exist); returns pages left.
fn evict_lib(file: &File) -> u64 {
    let mut probe = probe_of(file);
    let pages = probe.pages();
    let fs = mmviz::kernel::fsinfo::fs_of(file).unwrap();
    let rep =
        mmviz::kernel::cache::evict(file, &mut probe, 0, pages, &[], fs.can_evict, None).unwrap();
    rep.cached_after.expect("own file: state visible")
}

/// Maps `file` read-only and shared.
fn map_shared(file: &File) -> Mmap {
    // SAFETY: the file is a scratch file private to this test; nothing truncates or writes it
    // while the mapping lives, so the mapped bytes stay valid and unchanged.
    unsafe { Mmap::map(file) }.unwrap()
}

/// Reads one byte of page `p` so the compiler keeps the access (a real page fault).
fn touch(map: &[u8], p: u64) {
    std::hint::black_box(map[(p * page_size()) as usize]);
}

/// Present pages (page indexes) of the runs, and whether all were file pages.
fn pages_of(runs: &[PresentRun]) -> BTreeSet<u64> {
    runs.iter().flat_map(|r| r.start..r.end).collect()
}

fn present_runs(reader: &mut PagemapReader, addr: *const u8, pages: u64) -> Vec<PresentRun> {
    let mut runs = Vec::new();
    reader
        .present_runs(addr as u64, pages, page_size(), &mut runs)
        .unwrap();
    runs
}

fn cached_total(probe: &mut CacheProbe, start: u64, end: u64) -> u64 {
    probe.range(start, end).unwrap().unwrap().cached
}

// ---------------------------------------------------------------------------------------
// 1. CLI: gen, evict, residency agree with fincore.

#[test]
fn evict_and_residency_agree_with_fincore() {
    let dir = scratch_dir();
    let path = dir.path().join("f.bin");
    let r = mmviz(&[
        "gen".as_ref(),
        path.as_os_str(),
        "--size".as_ref(),
        "4MiB".as_ref(),
    ]);
    assert_eq!(r.code(), 0, "{r:?}");
    if let Err(why) = can_evict(&path) {
        return skip("evict_and_residency_agree_with_fincore", &why);
    }

    let r = mmviz(&["evict".as_ref(), path.as_os_str(), "--json".as_ref()]);
    assert_eq!(r.code(), 0, "{r:?}");
    let ev = r.json();
    assert_eq!(ev["cached_after"], 0, "{ev}");
    assert_eq!(ev["evicted"], true, "{ev}");
    let fincore = common::fincore_pages(&path);
    match fincore {
        Some(n) => assert_eq!(n, 0, "fincore after evict"),
        None => skip("fincore comparison", "fincore is not installed"),
    }

    let data = std::fs::read(&path).unwrap();
    std::hint::black_box(&data);
    let r = mmviz(&["residency".as_ref(), path.as_os_str(), "--json".as_ref()]);
    assert_eq!(r.code(), 0, "{r:?}");
    let res = r.json();
    let pages = res["pages"].as_u64().unwrap();
    assert_eq!(pages, (4 << 20) / res["page_size"].as_u64().unwrap());
    assert_eq!(res["cached_pages"].as_u64(), Some(pages), "{res}");
    if let Some(n) = common::fincore_pages(&path) {
        assert_eq!(n, pages, "fincore after a full read");
    }
}

// ---------------------------------------------------------------------------------------
// 2. Library: page-table presence of our own shared mapping.

#[test]
fn pagemap_sees_touched_pages_of_a_shared_mapping() {
    let dir = scratch_dir();
    let path = make_file(dir.path(), "shared.bin", PAGES);
    if let Err(why) = can_evict(&path) {
        return skip("pagemap_sees_touched_pages_of_a_shared_mapping", &why);
    }
    let file = File::open(&path).unwrap();
    assert_eq!(
        evict_lib(&file),
        0,
        "a synced, unmapped scratch file evicts"
    );

    let map = map_shared(&file);
    // MADV_RANDOM: a fault reads only its own page (no readahead), so fault-around, which
    // maps only pages already cached, finds no neighbours to map.
    map.advise(memmap2::Advice::Random).unwrap();
    let k = 37;
    touch(&map, k);
    touch(&map, k + 100);

    let mut reader = PagemapReader::open(std::process::id()).unwrap();
    let runs = present_runs(&mut reader, map.as_ptr(), PAGES);
    let present = pages_of(&runs);
    assert!(present.contains(&k), "page {k} present: {runs:?}");
    assert!(
        present.contains(&(k + 100)),
        "page {} present: {runs:?}",
        k + 100
    );
    assert!(
        runs.iter().all(|r| r.file),
        "shared mapping: file pages: {runs:?}"
    );
    // Fault-around maps at most the 64 KiB-aligned block around a fault (16 pages of 4 KiB).
    let block = (65536 / page_size()).max(1);
    let stray: Vec<u64> = present
        .iter()
        .copied()
        .filter(|p| p / block != k / block && p / block != (k + 100) / block)
        .collect();
    assert!(
        stray.is_empty(),
        "pages mapped outside the fault-around blocks of {k} and {}: {stray:?}",
        k + 100
    );

    // The grid sees the same: one page per cell, then 64 cells.
    let mut probe = probe_of(&file);
    let mut scratch = GridScratch::default();
    for cells in [PAGES, 64] {
        let src = MappedSource {
            reader: &mut reader,
            addr: map.as_ptr() as u64,
            pages: PAGES,
        };
        let g = grid::sample(
            &mut probe,
            Some(src),
            None,
            &[],
            0,
            PAGES,
            cells,
            &mut scratch,
        )
        .unwrap();
        let ppc = g.pages_per_cell;
        assert_eq!(ppc, PAGES / cells);
        for (i, c) in g.cells.iter().enumerate() {
            let (s, e) = (i as u64 * ppc, (i as u64 + 1) * ppc);
            let want = present.range(s..e).count() as u64;
            assert_eq!(c.mapped, Some(want), "cell {i} ({s}..{e}) at {cells} cells");
            assert_eq!(c.private, Some(0), "cell {i}");
            let cached = c.cached.unwrap();
            assert!(cached >= want, "mapped pages are cached: cell {i}: {c:?}");
        }
        let total: u64 = g.cells.iter().map(|c| c.mapped.unwrap()).sum();
        assert_eq!(total, present.len() as u64);
        assert!(g.cells[(k / ppc) as usize].mapped.unwrap() >= 1);
        assert!(g.cells[((k + 100) / ppc) as usize].mapped.unwrap() >= 1);
    }
}

// ---------------------------------------------------------------------------------------
// 3. A written MAP_PRIVATE page is a private copy, not the file's page.

#[test]
fn private_copy_is_not_a_file_page() {
    let dir = scratch_dir();
    let orig = make_file(dir.path(), "orig.bin", PAGES);
    let path = dir.path().join("copy.bin");
    std::fs::copy(&orig, &path).unwrap();
    let file = File::open(&path).unwrap();
    // SAFETY: scratch file private to this test, never truncated while mapped; MAP_PRIVATE
    // writes go to private copies and never reach the file.
    let mut map = unsafe { MmapOptions::new().map_copy(&file) }.unwrap();
    let ps = page_size();
    let k = 300u64;
    map[(k * ps) as usize] ^= 0xff;

    let mut reader = PagemapReader::open(std::process::id()).unwrap();
    let runs = present_runs(&mut reader, map.as_ptr(), PAGES);
    let at_k: Vec<_> = runs.iter().filter(|r| r.start <= k && k < r.end).collect();
    assert_eq!(at_k.len(), 1, "page {k} present once: {runs:?}");
    assert!(!at_k[0].file, "written private page is anonymous: {runs:?}");
    let privates: u64 = runs
        .iter()
        .filter(|r| !r.file)
        .map(|r| r.end - r.start)
        .sum();
    assert_eq!(privates, 1, "only page {k} was written: {runs:?}");

    let mut probe = probe_of(&file);
    let whole = cached_total(&mut probe, 0, PAGES);
    let k_cached = cached_total(&mut probe, k, k + 1);
    let mut scratch = GridScratch::default();
    for cells in [PAGES, 64] {
        let src = MappedSource {
            reader: &mut reader,
            addr: map.as_ptr() as u64,
            pages: PAGES,
        };
        let g = grid::sample(
            &mut probe,
            Some(src),
            None,
            &[],
            0,
            PAGES,
            cells,
            &mut scratch,
        )
        .unwrap();
        let ck = &g.cells[(k / g.pages_per_cell) as usize];
        assert_eq!(ck.private, Some(1), "{ck:?}");
        let private: u64 = g.cells.iter().map(|c| c.private.unwrap()).sum();
        assert_eq!(private, 1);
        let cached: u64 = g.cells.iter().map(|c| c.cached.unwrap()).sum();
        assert_eq!(
            cached,
            whole - k_cached,
            "the private position is counted once, as private, not as cached"
        );
        if cells == PAGES {
            assert_eq!(ck.cached, Some(0), "{ck:?}");
            assert_eq!(ck.mapped, Some(0), "{ck:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// 4. Both sources of each kind agree.

#[test]
fn pagemap_scan_and_pread_agree() {
    let dir = scratch_dir();
    let path = make_file(dir.path(), "both.bin", PAGES);
    let file = File::open(&path).unwrap();
    // SAFETY: scratch file private to this test, never truncated while mapped.
    let mut map = unsafe { MmapOptions::new().map_copy(&file) }.unwrap();
    let ps = page_size() as usize;
    // File pages (reads, with fault-around) and private copies (writes) interleaved.
    for p in (0..200).step_by(3) {
        std::hint::black_box(map[p * ps]);
    }
    for p in [50usize, 51, 600, 1023] {
        map[p * ps] = 0;
    }
    std::hint::black_box(map[800 * ps]);

    let mut scan = PagemapReader::open(std::process::id()).unwrap();
    if scan.source() != PagemapSource::Scan {
        skip(
            "pagemap_scan_and_pread_agree",
            "PAGEMAP_SCAN is not supported (Linux < 6.7): only the pread path runs",
        );
    }
    let mut pread = PagemapReader::open(std::process::id()).unwrap();
    pread.force_pread();
    assert_eq!(pread.source(), PagemapSource::Pread);

    // The whole mapping, and a window that starts and ends mid-run (indexes are relative).
    for (first, n) in [(0u64, PAGES), (10, 600), (51, 1)] {
        let addr = map.as_ptr().wrapping_add(first as usize * ps);
        let a = present_runs(&mut scan, addr, n);
        let b = present_runs(&mut pread, addr, n);
        assert_eq!(a, b, "pages {first}..{}", first + n);
        assert!(
            a.iter().any(|r| !r.file),
            "a written page in {first}..{}",
            first + n
        );
        if n > 1 {
            assert!(
                a.iter().any(|r| r.file),
                "a read page in {first}..{}",
                first + n
            );
        }
    }
}

#[test]
fn cachestat_and_mincore_agree_on_a_partially_cached_file() {
    let dir = scratch_dir();
    let path = make_file(dir.path(), "partial.bin", PAGES);
    if let Err(why) = can_evict(&path) {
        return skip(
            "cachestat_and_mincore_agree_on_a_partially_cached_file",
            &why,
        );
    }
    let file = File::open(&path).unwrap();
    assert_eq!(evict_lib(&file), 0);
    read_ranges(&file, &[(10, 1), (200, 9), (513, 2), (1023, 1)]);

    let mut cs = probe_of(&file);
    if cs.source() != CacheSource::Cachestat {
        return skip(
            "cachestat_and_mincore_agree_on_a_partially_cached_file",
            "cachestat(2) is not supported (Linux < 6.5)",
        );
    }
    let mut mc = probe_of(&file);
    mc.force_mincore();
    let total = cached_total(&mut cs, 0, PAGES);
    assert!((13..PAGES).contains(&total), "partially cached: {total}");
    assert_eq!(cached_total(&mut mc, 0, PAGES), total);
    for ppc in [1, 7, 64, PAGES] {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        cs.cells(0, PAGES, ppc, &mut a).unwrap();
        mc.cells(0, PAGES, ppc, &mut b).unwrap();
        let a: Vec<_> = a.iter().map(|c| c.0).collect();
        let b: Vec<_> = b.iter().map(|c| c.0).collect();
        assert_eq!(a, b, "{ppc} pages per cell");
    }
    // Each page read is cached (whatever readahead added around it).
    let mut resident = BTreeSet::new();
    mc.for_each_page(0, PAGES, |p, r| {
        if r {
            resident.insert(p);
        }
    })
    .unwrap();
    for p in [10, 200, 208, 513, 514, 1023] {
        assert!(resident.contains(&p), "page {p} was read: {resident:?}");
    }
}

/// `pread`s `(first page, pages)` ranges with POSIX_FADV_RANDOM (so readahead stays small).
fn read_ranges(file: &File, ranges: &[(u64, u64)]) {
    let ps = page_size();
    mmviz::kernel::sys::fadvise(file.as_fd(), 0, 0, libc::POSIX_FADV_RANDOM).unwrap();
    for &(p, n) in ranges {
        let mut buf = vec![0u8; (n * ps) as usize];
        file.read_exact_at(&mut buf, p * ps).unwrap();
        std::hint::black_box(&buf);
    }
}

// ---------------------------------------------------------------------------------------
// 5. Aggregation over a partially cached file at several cell counts.

#[test]
fn grid_sums_match_cachestat_at_any_cell_count() {
    let dir = scratch_dir();
    let path = make_file(dir.path(), "grid.bin", PAGES);
    let file = File::open(&path).unwrap();
    if can_evict(&path).is_ok() {
        assert_eq!(evict_lib(&file), 0);
    }
    read_ranges(&file, &[(3, 5), (100, 1), (511, 3), (900, 40)]);
    let mut probe = probe_of(&file);
    let mut scratch = GridScratch::default();
    for (start, end) in [(0, PAGES), (5, PAGES - 3), (101, 102)] {
        let want = cached_total(&mut probe, start, end);
        let len = end - start;
        for cells in [1, 7, 64, len, 2 * len] {
            let g =
                grid::sample(&mut probe, None, None, &[], start, end, cells, &mut scratch).unwrap();
            let (ppc, n) = grid::geometry(start, end, cells);
            assert_eq!(g.pages_per_cell, ppc);
            assert_eq!(g.cells.len() as u64, n);
            assert!(n <= cells);
            let pages: u64 = g.cells.iter().map(|c| c.pages).sum();
            assert_eq!(pages, len, "{start}..{end} in {cells} cells");
            let cached: u64 = g.cells.iter().map(|c| c.cached.unwrap()).sum();
            assert_eq!(cached, want, "{start}..{end} in {cells} cells");
            assert!(g.cells.iter().all(|c| c.cached.unwrap() <= c.pages));
            assert!(g.cells.iter().all(|c| c.mapped.is_none()));
        }
    }
}

// ---------------------------------------------------------------------------------------
// 6. Bad input: exit 2, one line on stderr naming the file, never a panic.

fn assert_bad_input(r: &common::Run, names: &str) {
    assert_eq!(r.code(), 2, "{r:?}");
    assert!(
        !r.stderr.contains("panicked") && !r.stdout.contains("panicked"),
        "{r:?}"
    );
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line on stderr: {r:?}");
    assert!(lines[0].starts_with("mmviz: "), "{r:?}");
    assert!(lines[0].contains(names), "names {names}: {r:?}");
    assert!(r.stdout.is_empty(), "{r:?}");
}

#[test]
fn bad_files_are_rejected_with_one_line() {
    let dir = scratch_dir();
    let missing = dir.path().join("missing");
    let fifo = dir.path().join("fifo");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path that outlives the call.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
    let paths = [
        missing.clone(),
        dir.path().to_path_buf(),
        fifo,
        PathBuf::from("/dev/zero"),
        PathBuf::from("/proc/self/status"),
    ];
    for p in &paths {
        for cmd in ["residency", "evict"] {
            let r = mmviz(&[cmd.as_ref(), p.as_os_str(), "--json".as_ref()]);
            assert_bad_input(&r, &p.display().to_string());
        }
    }
    assert!(!missing.exists(), "nothing created");
}

#[test]
fn unreadable_file_is_bad_input() {
    let (dir, bin) = match common::nobody_sandbox() {
        Ok(x) => x,
        Err(why) => return skip("unreadable_file_is_bad_input", &why),
    };
    let path = dir.path().join("secret.bin");
    std::fs::write(&path, b"not for nobody").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    let r = common::run_cmd(
        common::as_nobody(&bin, &["residency".as_ref(), path.as_os_str()]),
        common::TIMEOUT,
    );
    assert_bad_input(&r, &path.display().to_string());
    assert!(r.stderr.contains("Permission denied"), "{r:?}");
}

#[test]
fn gen_rejects_bad_sizes_and_existing_files() {
    let dir = scratch_dir();
    let path = dir.path().join("g.bin");
    let p = path.as_os_str();
    for size in ["12XB", "abc", "", "1.5.5MiB", "99999999999999999999"] {
        let r = mmviz(&["gen".as_ref(), p, "--size".as_ref(), size.as_ref()]);
        assert_bad_input(&r, &path.display().to_string());
        assert!(!path.exists());
    }
    // Does not fit in the free space (without --sparse): refused before writing anything.
    let r = mmviz(&["gen".as_ref(), p, "--size".as_ref(), "1PiB".as_ref()]);
    assert_bad_input(&r, &path.display().to_string());
    assert!(!path.exists());

    let r = mmviz(&["gen".as_ref(), p, "--size".as_ref(), "8KiB".as_ref()]);
    assert_eq!(r.code(), 0, "{r:?}");
    let before = std::fs::read(&path).unwrap();
    let r = mmviz(&[
        "gen".as_ref(),
        p,
        "--size".as_ref(),
        "4KiB".as_ref(),
        "--seed".as_ref(),
        "9".as_ref(),
    ]);
    assert_bad_input(&r, &path.display().to_string());
    assert_eq!(std::fs::read(&path).unwrap(), before, "not overwritten");
    let r = mmviz(&[
        "gen".as_ref(),
        p,
        "--size".as_ref(),
        "4KiB".as_ref(),
        "--force".as_ref(),
    ]);
    assert_eq!(r.code(), 0, "{r:?}");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 4096);
}

// ---------------------------------------------------------------------------------------
// 7. The kernel hides the cache state of a file we neither own nor may write.

#[test]
fn hidden_cache_state_is_reported_as_hidden() {
    let (dir, bin) = match common::nobody_sandbox() {
        Ok(x) => x,
        Err(why) => return skip("hidden_cache_state_is_reported_as_hidden", &why),
    };
    let path = make_file(dir.path(), "roots.bin", 64);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    // Cached or not, nobody must see "hidden", never mincore's fake "all resident".
    let args = ["residency".as_ref(), path.as_os_str(), "--json".as_ref()];
    let r = common::run_cmd(common::as_nobody(&bin, &args), common::TIMEOUT);
    assert_eq!(r.code(), 0, "{r:?}");
    let j = r.json();
    assert_eq!(j["cache_state_visible"], false, "{j}");
    assert!(j["cached_pages"].is_null(), "{j}");
    assert!(j["bar"].is_null(), "{j}");
    assert!(
        j["cache_note"]
            .as_str()
            .is_some_and(|n| n.contains("hidden")),
        "{j}"
    );
    assert_eq!(j["pages"], 64, "{j}");

    let r = mmviz(&args);
    assert_eq!(r.code(), 0, "{r:?}");
    let j = r.json();
    assert_eq!(j["cache_state_visible"], true, "{j}");
    assert!(j["cached_pages"].is_u64(), "{j}");
}

// ---------------------------------------------------------------------------------------
// 8. JSON contract, empty files, gen determinism, huge sparse files.

#[test]
fn json_reports_have_the_documented_keys() {
    let dir = scratch_dir();
    let path = make_file(dir.path(), "keys.bin", 16);
    let r = mmviz(&["residency".as_ref(), path.as_os_str(), "--json".as_ref()]);
    assert_eq!(r.code(), 0, "{r:?}");
    let j = r.json();
    for key in [
        "size_bytes",
        "page_size",
        "pages",
        "cached_pages",
        "dirty_pages",
        "source",
        "cache_state_visible",
        "filesystem",
    ] {
        assert!(j.get(key).is_some(), "residency JSON has {key}: {j}");
    }
    assert!(
        ["cachestat", "mincore"].contains(&j["source"].as_str().unwrap()),
        "{j}"
    );
    assert_eq!(j["size_bytes"], 16 * page_size());
    assert_eq!(j["page_size"], page_size());
    assert_eq!(j["pages"], 16);
    assert_eq!(j["cache_state_visible"], true);
    assert!(j["filesystem"].as_str().is_some_and(|s| !s.is_empty()));

    let r = mmviz(&["evict".as_ref(), path.as_os_str(), "--json".as_ref()]);
    assert_eq!(r.code(), 0, "{r:?}");
    let j = r.json();
    for key in ["cached_before", "cached_after"] {
        assert!(
            j.get(key).is_some_and(|v| v.is_u64()),
            "evict JSON has {key}: {j}"
        );
    }

    let empty = dir.path().join("empty");
    File::create(&empty).unwrap();
    for cmd in ["residency", "evict"] {
        let r = mmviz(&[cmd.as_ref(), empty.as_os_str(), "--json".as_ref()]);
        assert_eq!(r.code(), 0, "{r:?}");
        assert_eq!(r.json()["pages"], 0, "{r:?}");
    }
    let r = mmviz(&["residency".as_ref(), empty.as_os_str(), "--json".as_ref()]);
    assert_eq!(r.json()["cached_pages"], 0);
}

#[test]
fn gen_is_deterministic_per_seed() {
    let dir = scratch_dir();
    let gen = |name: &str, seed: &str| {
        let p = dir.path().join(name);
        let r = mmviz(&[
            "gen".as_ref(),
            p.as_os_str(),
            "--size".as_ref(),
            "1MiB".as_ref(),
            "--seed".as_ref(),
            seed.as_ref(),
        ]);
        assert_eq!(r.code(), 0, "{r:?}");
        std::fs::read(p).unwrap()
    };
    let a = gen("a", "7");
    let b = gen("b", "7");
    let c = gen("c", "8");
    assert_eq!(a.len(), 1 << 20);
    assert!(a == b, "same seed, same bytes");
    assert!(a != c, "different seeds, different bytes");
}

#[test]
fn one_tib_sparse_file() {
    let dir = scratch_dir();
    let path = dir.path().join("huge.sparse");
    let r = mmviz(&[
        "gen".as_ref(),
        path.as_os_str(),
        "--size".as_ref(),
        "1TiB".as_ref(),
        "--sparse".as_ref(),
    ]);
    if r.code() != 0 && r.stderr.contains("File too large") {
        return skip(
            "one_tib_sparse_file",
            "the filesystem's maximum file size is < 1 TiB",
        );
    }
    assert_eq!(r.code(), 0, "{r:?}");
    let r = mmviz(&["residency".as_ref(), path.as_os_str(), "--json".as_ref()]);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(r.code(), 0, "{r:?}");
    let j = r.json();
    let ps = j["page_size"].as_u64().unwrap();
    assert_eq!(j["size_bytes"], 1u64 << 40);
    assert_eq!(j["pages"], (1u64 << 40) / ps, "{j}");
    if ps == 4096 {
        assert_eq!(j["pages"], 268_435_456u64);
    }
    assert_eq!(j["cached_pages"], 0, "{j}");
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let dir = common::scratch_dir();
    let f = dir.path().join("pipe.bin");
    assert!(
        common::mmviz(&["gen", f.to_str().unwrap(), "--size", "64KiB"])
            .status
            .success()
    );
    for args in [
        vec!["residency"],
        vec!["residency", "--json"],
        vec!["evict"],
    ] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mmviz"))
            .args(&args)
            .arg(&f)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader goes away at once, like `| head -0`
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
    }
}
