//! `mmviz page`: the page inspector against the real kernel, checked with cachestat through
//! our own probe and with util-linux fincore (an independent mincore-based tool) where
//! installed.

mod common;

use common::{can_evict, mmviz, scratch_dir, skip};
use std::fs::File;
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};

const PAGES: usize = 64;

/// A file of pseudo-random bytes (distinct per offset), synced so it can be evicted.
fn make_file(dir: &Path) -> PathBuf {
    let path = dir.join("data.bin");
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let bytes: Vec<u8> = (0..PAGES * 4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(&path, &bytes).unwrap();
    File::open(&path).unwrap().sync_all().unwrap();
    path
}

/// Cached pages of the whole file (cachestat through the library's probe).
fn cached(path: &Path) -> u64 {
    let f = File::open(path).unwrap();
    let fs = mmviz::kernel::fsinfo::fs_of(&f).unwrap();
    let size = f.metadata().unwrap().len();
    let mut p = mmviz::kernel::residency::CacheProbe::new(&f, size, &fs).unwrap();
    let n = p.pages();
    p.range(0, n).unwrap().expect("visible to the owner").cached
}

fn evict(path: &Path) {
    let r = mmviz(&["evict".as_ref(), path.as_os_str(), "--json".as_ref()]);
    assert_eq!(r.code(), 0, "{r:?}");
    assert_eq!(r.json()["cached_after"], 0, "{r:?}");
}

fn page(path: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args: Vec<&std::ffi::OsStr> = vec!["page".as_ref(), path.as_os_str()];
    args.extend(extra.iter().map(|s| std::ffi::OsStr::new(*s)));
    args.push("--json".as_ref());
    let r = mmviz(&args);
    assert_eq!(r.code(), 0, "{r:?}");
    r.json()
}

fn file_bytes(path: &Path, off: u64, len: usize) -> String {
    let mut b = vec![0u8; len];
    File::open(path)
        .unwrap()
        .read_exact_at(&mut b, off)
        .unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn setup(test: &str) -> Option<(tempfile::TempDir, PathBuf)> {
    let dir = scratch_dir();
    let path = make_file(dir.path());
    if let Err(why) = can_evict(&path) {
        skip(test, &why);
        return None;
    }
    Some((dir, path))
}

#[test]
fn evicted_page_is_reported_uncached_and_left_uncached() {
    let Some((_d, path)) = setup("evicted_page_is_reported_uncached_and_left_uncached") else {
        return;
    };
    evict(&path);
    let j = page(&path, &["1000"]);
    assert_eq!(j["cached"], false, "{j}");
    assert!(j["bytes_hex"].is_null(), "{j}");
    assert_eq!(j["read"], "not_cached", "{j}");
    assert_eq!(j["offset"], 1000, "{j}");
    assert_eq!(j["page_index"], 0, "{j}");
    assert_eq!(j["cache_changed"], false, "{j}");
    assert_eq!(cached(&path), 0, "looking must not cache the page");
    if let Some(n) = common::fincore_pages(&path) {
        assert_eq!(n, 0, "fincore sees pages the inspector brought in");
    }
    // The text form says so too.
    let r = mmviz(&["page".as_ref(), path.as_os_str(), "1000".as_ref()]);
    assert_eq!(r.code(), 0, "{r:?}");
    assert!(
        r.stdout
            .contains("not cached, reading it would fault it in"),
        "{r:?}"
    );
    assert_eq!(cached(&path), 0);
}

#[test]
fn cached_page_shows_the_files_bytes_without_changing_the_cache() {
    let Some((_d, path)) = setup("cached_page_shows_the_files_bytes") else {
        return;
    };
    // Read the whole file: every page cached (readahead markers are consumed by this read).
    std::fs::read(&path).unwrap();
    assert_eq!(cached(&path), PAGES as u64);
    for (off, arg, len) in [
        (1000u64, "1000", 16usize),
        (0x1fff0, "0x1fff0", 32), // crosses a page boundary
        (4096, "4KiB", 1),
    ] {
        let mut extra = vec![arg];
        let l = len.to_string();
        if len != 16 {
            extra.extend(["--length", &l]);
        }
        let j = page(&path, &extra);
        assert_eq!(j["cached"], true, "{j}");
        assert_eq!(j["read"], "read_cached", "{j}");
        assert_eq!(j["bytes_hex"], file_bytes(&path, off, len), "{arg}: {j}");
        assert_eq!(j["page_index"], off / 4096, "{j}");
        assert_eq!(j["cache_changed"], false, "{j}");
    }
    // Near the end the length is clamped to the file.
    let last = (PAGES * 4096 - 3).to_string();
    let j = page(&path, &[&last]);
    assert_eq!(j["length"], 3, "{j}");
    assert_eq!(
        j["bytes_hex"],
        file_bytes(&path, (PAGES * 4096 - 3) as u64, 3)
    );
}

#[test]
fn read_on_an_evicted_page_reports_what_it_brought_in() {
    let Some((_d, path)) = setup("read_on_an_evicted_page_reports_what_it_brought_in") else {
        return;
    };
    evict(&path);
    let j = page(&path, &["0x5000", "--read"]);
    assert_eq!(j["cached"], false, "state before the read: {j}");
    assert_eq!(j["read"], "read_requested", "{j}");
    assert_eq!(j["bytes_hex"], file_bytes(&path, 0x5000, 16), "{j}");
    assert_eq!(j["page_cached_after"], true, "{j}");
    let newly = j["pages_newly_cached"].as_i64().unwrap();
    // POSIX_FADV_RANDOM on the inspector's descriptor: the miss reads just the page (1 page
    // measured here; a large-folio filesystem may read one folio).
    assert!(newly >= 1, "{j}");
    assert_eq!(j["cache_changed"], true, "{j}");
    let now = cached(&path);
    assert_eq!(
        now as i64, newly,
        "the report matches cachestat of the whole file: {j}"
    );
    if let Some(n) = common::fincore_pages(&path) {
        assert_eq!(n, now, "fincore agrees");
    }
}

#[test]
fn reading_a_readahead_marked_page_is_reported_as_a_change() {
    let Some((_d, path)) = setup("reading_a_readahead_marked_page_is_reported") else {
        return;
    };
    evict(&path);
    // One 4 KiB read by another descriptor (normal advice): readahead caches a few pages and
    // marks one of them for async readahead.
    let mut b = [0u8; 4096];
    File::open(&path).unwrap().read_exact_at(&mut b, 0).unwrap();
    let before = cached(&path);
    assert!(before > 1, "readahead brought in only {before} page(s)");
    // Inspect every cached page; whatever the cache did, each report must match cachestat.
    let mut prev = before;
    for p in 1..before {
        let j = page(&path, &[&(p * 4096).to_string()]);
        assert_eq!(j["cached"], true, "{j}");
        let now = cached(&path);
        let newly = j["pages_newly_cached"].as_i64().unwrap();
        assert_eq!(now as i64 - prev as i64, newly, "page {p}: {j}");
        assert_eq!(j["cache_changed"], now != prev, "page {p}: {j}");
        prev = now;
    }
}

#[test]
fn bad_offsets_are_one_line_errors_with_exit_2() {
    let dir = scratch_dir();
    let path = make_file(dir.path());
    let size = (PAGES * 4096).to_string();
    for (args, want) in [
        (vec![size.as_str()], "past the end"),
        (vec!["1GiB"], "past the end"),
        (vec!["-1"], "negative"),
        (vec!["abc"], "does not parse"),
        (vec!["0xzz"], "hex"),
        (vec!["0", "--length", "-4"], "negative"),
        (vec!["0", "--length", "2MiB"], "larger than"),
    ] {
        let mut a: Vec<&std::ffi::OsStr> = vec!["page".as_ref(), path.as_os_str()];
        a.extend(args.iter().map(|s| std::ffi::OsStr::new(*s)));
        let r = mmviz(&a);
        assert_eq!(r.code(), 2, "{args:?}: {r:?}");
        assert!(r.stdout.is_empty(), "{r:?}");
        let line = r.stderr.trim_end();
        assert!(!line.contains('\n'), "one line: {r:?}");
        assert!(
            line.starts_with("mmviz: ") && line.contains(want),
            "{args:?}: {r:?}"
        );
    }
    // An empty file has no offset at all.
    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    let r = mmviz(&["page".as_ref(), empty.as_os_str(), "0".as_ref()]);
    assert_eq!(r.code(), 2, "{r:?}");
    assert!(r.stderr.contains("empty"), "{r:?}");
    // A missing file.
    let r = mmviz(&[
        "page".as_ref(),
        dir.path().join("nope").as_os_str(),
        "0".as_ref(),
    ]);
    assert_eq!(r.code(), 2, "{r:?}");
}

#[test]
fn hidden_state_is_null_and_not_read_unless_asked() {
    let (dir, bin) = match common::nobody_sandbox() {
        Ok(x) => x,
        Err(why) => return skip("hidden_state_is_null_and_not_read_unless_asked", &why),
    };
    let path = make_file(dir.path());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = |extra: &[&str]| {
        let mut args: Vec<&std::ffi::OsStr> = vec!["page".as_ref(), path.as_os_str()];
        args.extend(extra.iter().map(|s| std::ffi::OsStr::new(*s)));
        let r = common::run_cmd(common::as_nobody(&bin, &args), common::TIMEOUT);
        assert_eq!(r.code(), 0, "{r:?}");
        r
    };
    let j = run(&["1000", "--json"]).json();
    assert_eq!(j["cache_state_visible"], false, "{j}");
    assert!(j["cached"].is_null(), "{j}");
    assert!(j["bytes_hex"].is_null(), "{j}");
    assert!(j["cache_changed"].is_null(), "{j}");
    assert_eq!(j["read"], "hidden", "{j}");
    let t = run(&["1000"]).stdout;
    assert!(t.contains("hidden by the kernel"), "{t}");
    let j = run(&["1000", "--read", "--json"]).json();
    assert_eq!(j["bytes_hex"], file_bytes(&path, 1000, 16), "{j}");
    assert!(j["cached"].is_null(), "{j}");
}

#[test]
fn control_characters_in_paths_are_escaped() {
    let dir = scratch_dir();
    let src = make_file(dir.path());
    let odd = dir.path().join("a\x1b[31mred\nb.bin");
    std::fs::rename(&src, &odd).unwrap();
    let r = mmviz(&["page".as_ref(), odd.as_os_str(), "0".as_ref()]);
    assert_eq!(r.code(), 0, "{r:?}");
    assert!(!r.stdout.contains('\x1b'), "{r:?}");
    assert!(r.stdout.contains("a\\x1b[31mred\\x0ab.bin"), "{r:?}");
}

/// The live view's path: `Command::Inspect` to the session, the answer in the snapshot.
#[test]
fn session_inspects_the_cursor_page_and_reads_only_on_request() {
    use mmviz::session::snapshot::{Command, Snapshot};
    use std::time::{Duration, Instant};
    let Some((_d, path)) = setup("session_inspects_the_cursor_page") else {
        return;
    };
    std::env::set_var("MMVIZ_EXE", env!("CARGO_BIN_EXE_mmviz"));
    let (tx, rx, handle) = mmviz::session::spawn(mmviz::session::SessionOptions {
        path: path.clone(),
        is_demo: false,
        spec: mmviz::workload::worker::PatternSpec::default(),
        advice: mmviz::kernel::advice::Advice::Random,
        rate: Some(1),
        cold: true,
        hz: 20,
        compare: None,
        write: None,
    })
    .expect("session starts");
    let wait = |what: &str, f: &dyn Fn(&Snapshot) -> bool| -> Snapshot {
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(20) {
            if let Ok(s) = rx.recv_timeout(Duration::from_millis(200)) {
                if f(&s) {
                    return s;
                }
            }
        }
        panic!("timed out waiting for {what}");
    };
    // The last page: the slow sequential worker (MADV_RANDOM: no readahead) is far from it.
    let last = PAGES as u64 - 1;
    tx.send(Command::Inspect {
        page: Some(last),
        read: false,
    })
    .unwrap();
    let s = wait("an inspection of the last page", &|s| {
        s.inspector.as_ref().is_some_and(|r| r.page_index == last)
    });
    let r = s.inspector.unwrap();
    assert_eq!(r.cached, Some(false), "{r:?}");
    assert!(r.bytes.is_none(), "{r:?}");
    let f = File::open(&path).unwrap();
    let fs = mmviz::kernel::fsinfo::fs_of(&f).unwrap();
    let mut probe =
        mmviz::kernel::residency::CacheProbe::new(&f, (PAGES * 4096) as u64, &fs).unwrap();
    assert_eq!(probe.range(last, last + 1).unwrap().unwrap().cached, 0);

    // Enter: read it on purpose; the report says it is cached now and shows the bytes.
    tx.send(Command::Inspect {
        page: Some(last),
        read: true,
    })
    .unwrap();
    let s = wait("the bytes of the last page", &|s| {
        s.inspector
            .as_ref()
            .is_some_and(|r| r.page_index == last && r.bytes.is_some())
    });
    let r = s.inspector.unwrap();
    let hex: String = r
        .bytes
        .unwrap()
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect();
    assert_eq!(hex, file_bytes(&path, last * 4096, 16));
    assert_eq!(r.page_cached_after, Some(true));
    assert!(
        r.pages_newly_cached.unwrap() >= 1,
        "the read brought the page in"
    );
    assert_eq!(probe.range(last, last + 1).unwrap().unwrap().cached, 1);

    // Stop inspecting.
    tx.send(Command::Inspect {
        page: None,
        read: false,
    })
    .unwrap();
    wait("no inspector", &|s| s.inspector.is_none());
    tx.send(Command::Quit).unwrap();
    handle.join().unwrap();
}
