//! Write mode of the live session, run headless (commands in, snapshots out) against the real
//! kernel: shared writes dirty the scratch copy's pages and `s` (msync MS_SYNC) takes them to
//! 0, with cachestat(2) of the scratch file called here directly as the witness; `S`
//! (MS_ASYNC) leaves them dirty on Linux; private writes make private copies (witness:
//! `Anonymous` of the worker's mapping in /proc/<worker>/smaps) and no dirty page. In every
//! case the user's file is byte-identical afterwards and the scratch copy is gone once the
//! session ends.

mod common;

use common::live::Live;

use mmviz::kernel::advice::Advice;
use mmviz::session::snapshot::{Command, Snapshot};
use mmviz::session::{SessionOptions, SessionWrite};
use mmviz::workload::patterns::PatternKind;
use mmviz::workload::worker::{PatternSpec, WriteMode};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

const PS: u64 = 4096;

use common::{cache_dir, user_file};

/// (nr_cache, nr_dirty, nr_writeback) of the whole file, from cachestat(2) called here (not
/// through mmviz's probe).
fn cachestat(path: &Path) -> (u64, u64, u64) {
    #[repr(C)]
    struct Range {
        off: u64,
        len: u64,
    }
    #[repr(C)]
    #[derive(Default)]
    struct Stat {
        cache: u64,
        dirty: u64,
        writeback: u64,
        evicted: u64,
        recently_evicted: u64,
    }
    let f = std::fs::File::open(path).unwrap();
    let r = Range { off: 0, len: 0 };
    let mut s = Stat::default();
    // SAFETY: cachestat(fd, &range, &stat, 0) reads `r` and writes `s`, both live and of the
    // kernel's layout (struct cachestat_range / struct cachestat).
    let rc = unsafe {
        libc::syscall(
            451,
            f.as_raw_fd(),
            &r as *const Range,
            &mut s as *mut Stat,
            0,
        )
    };
    assert_eq!(rc, 0, "cachestat: {}", std::io::Error::last_os_error());
    (s.cache, s.dirty, s.writeback)
}

/// `Anonymous` (pages) of `pid`'s mapping(s) of `path` in /proc/<pid>/smaps: the private
/// copies made by copy-on-write.
fn smaps_anonymous(pid: u32, path: &Path) -> u64 {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap();
    let name = path.display().to_string();
    let mut inside = false;
    let mut kb = 0;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if first.contains('-') && !first.ends_with(':') {
            inside = line.ends_with(&name);
        } else if inside && line.starts_with("Anonymous:") {
            kb += line
                .split_whitespace()
                .nth(1)
                .unwrap()
                .parse::<u64>()
                .unwrap();
        }
    }
    kb * 1024 / PS
}

/// A session writing to a scratch copy of `path` in `mode`.
fn start(path: &Path, mode: WriteMode) -> Live {
    cache_dir();
    Live::spawn(SessionOptions {
        path: path.to_path_buf(),
        is_demo: false,
        spec: PatternSpec {
            kind: PatternKind::Sequential,
            seed: 7,
            ..Default::default()
        },
        advice: Advice::Normal,
        rate: Some(20_000),
        cold: false,
        hz: 20,
        compare: None,
        write: Some(SessionWrite { mode, share: 1.0 }),
    })
}

/// The scratch copy the session writes: named in the snapshot, under the cache directory,
/// never the user's file.
fn scratch_of(s: &Snapshot, user: &Path) -> PathBuf {
    let w = s.file.write.as_ref().expect("write mode in the snapshot");
    assert_eq!(w.source, user.display().to_string());
    let p = PathBuf::from(&w.scratch);
    assert_eq!(
        s.file.path, w.scratch,
        "the session samples the scratch copy"
    );
    assert_ne!(p, user);
    assert!(
        p.starts_with(cache_dir().join("scratch")),
        "{} is not under the scratch directory",
        p.display()
    );
    assert!(p.exists(), "{} exists while the session runs", p.display());
    p
}

#[test]
fn shared_writes_dirty_pages_and_s_writes_them_back() {
    let user = user_file("shared-user.bin", 4);
    let bytes = std::fs::read(&user).unwrap();
    let mut live = start(&user, WriteMode::Shared);
    let s = live.wait("dirty pages", |s| s.totals.dirty.unwrap_or(0) > 64);
    let scratch = scratch_of(&s, &user);

    let s = live.paused();
    let (_, dirty, wb) = cachestat(&scratch);
    assert!(dirty > 0, "cachestat sees dirty pages after shared writes");
    // Both read the same page cache at (about) the same instant, the worker paused: only the
    // flusher could move pages in between, and it writes back, never dirties.
    let grid_dirty = s.totals.dirty.unwrap();
    assert!(
        grid_dirty >= dirty && grid_dirty <= dirty + wb + 16,
        "session says {grid_dirty} dirty, cachestat {dirty} (+{wb} writeback)"
    );
    assert!(
        s.grid.cells.iter().any(|c| c.dirty.unwrap_or(0) > 0),
        "dirty pages show in cells"
    );

    // S: MS_ASYNC starts no writeback on Linux; the pages stay dirty (the test does not wait
    // anywhere near the 30 s dirty_expire, so the flusher leaves them too).
    live.send(Command::Msync { sync: false });
    let m = live.wait("the MS_ASYNC answer", |s| {
        s.message
            .as_deref()
            .is_some_and(|m| m.starts_with("msync(MS_ASYNC) took"))
    });
    let (_, after_async, _) = cachestat(&scratch);
    eprintln!("{}", m.message.as_deref().unwrap_or(""));
    assert!(
        after_async > 0,
        "MS_ASYNC left dirty pages: {:?}",
        m.message
    );

    // s: MS_SYNC writes every dirty page of the mapping back before returning.
    live.send(Command::Msync { sync: true });
    let m = live.wait("the MS_SYNC answer", |s| {
        s.message
            .as_deref()
            .is_some_and(|m| m.starts_with("msync(MS_SYNC) took"))
    });
    let msg = m.message.clone().unwrap();
    eprintln!("{msg}");
    assert!(msg.contains("-> 0 (cachestat)"), "{msg}");
    assert!(msg.contains("per page"), "{msg}");
    let (_, dirty_after, wb_after) = cachestat(&scratch);
    assert_eq!((dirty_after, wb_after), (0, 0), "after MS_SYNC: {msg}");
    let s = live.fresh();
    assert_eq!(s.totals.dirty, Some(0));
    assert!(s.grid.cells.iter().all(|c| c.dirty == Some(0)));

    live.end();
    assert!(
        !scratch.exists(),
        "{} removed at the end",
        scratch.display()
    );
    assert!(
        std::fs::read(&user).unwrap() == bytes,
        "the user's file is byte-identical"
    );
}

#[test]
fn private_writes_make_private_copies_and_no_dirty_page() {
    let user = user_file("private-user.bin", 4);
    let bytes = std::fs::read(&user).unwrap();
    let mut live = start(&user, WriteMode::Private);
    let s = live.wait("private copies", |s| s.totals.private.unwrap_or(0) > 64);
    let scratch = scratch_of(&s, &user);
    let s = live.paused();
    let pid = s.worker.pid.expect("worker pid");
    let private = s.totals.private.unwrap();
    let anon = smaps_anonymous(pid, &scratch);
    assert_eq!(
        private, anon,
        "private copies: session {private}, smaps Anonymous {anon}"
    );
    assert_eq!(s.totals.dirty, Some(0), "private writes dirty no file page");
    let (_, dirty, _) = cachestat(&scratch);
    assert_eq!(dirty, 0, "cachestat agrees: the scratch file is clean");
    assert!(s
        .grid
        .cells
        .iter()
        .any(|c| mmviz::tui::theme::CellState::of(c) == mmviz::tui::theme::CellState::Private));
    live.end();
    assert!(
        !scratch.exists(),
        "{} removed at the end",
        scratch.display()
    );
    assert!(std::fs::read(&user).unwrap() == bytes);
}
