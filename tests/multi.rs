//! Several workers in the live session, run headless against the real kernel: a second reader
//! of a file the first one warmed takes no major fault (witness: /proc/<pid>/stat of each
//! worker, read here); the worker panel's VmSize / VmRSS match /proc/<pid>/status and its
//! descriptor line matches /proc/<pid>/fd and /proc/<pid>/maps (a 1 TiB sparse mapping: 1 TiB
//! of address space, a few MiB resident); the write-mode key leaves the user's file
//! byte-identical and removes its scratch copies.

mod common;

use common::live::Live;
use mmviz::kernel::advice::Advice;
use mmviz::session::snapshot::{Command, RunState, Snapshot};
use mmviz::session::SessionOptions;
use mmviz::workload::patterns::PatternKind;
use mmviz::workload::worker::{PatternSpec, WriteMode};
use std::path::{Path, PathBuf};

use common::{cache_dir, user_file};

fn opts(path: &Path, kind: PatternKind, rate: Option<u64>, cold: bool) -> SessionOptions {
    SessionOptions {
        path: path.to_path_buf(),
        is_demo: false,
        spec: PatternSpec {
            kind,
            seed: 7,
            ..Default::default()
        },
        advice: Advice::Normal,
        rate,
        cold,
        hz: 20,
        compare: None,
        write: None,
    }
}

/// (minflt, majflt) of `pid` from /proc/<pid>/stat (fields 10 and 12), read here.
fn proc_faults(pid: u32) -> (u64, u64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let f: Vec<&str> = s[s.rfind(')').unwrap() + 2..].split(' ').collect();
    // After the comm field: state is field 3, so field N is f[N - 3].
    (f[10 - 3].parse().unwrap(), f[12 - 3].parse().unwrap())
}

/// A /proc/<pid>/status line in bytes ("VmSize:  123 kB").
fn status_bytes(pid: u32, name: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let l = s.lines().find(|l| l.starts_with(name)).unwrap();
    let kb: u64 = l.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

fn pid_of(s: &Snapshot, id: u32) -> u32 {
    s.workloads
        .iter()
        .find(|w| w.id == id)
        .and_then(|w| w.worker.pid)
        .unwrap()
}

#[test]
fn a_second_reader_of_a_warmed_file_takes_no_major_fault() {
    let path = user_file("shared-cache.bin", 32);
    if let Err(why) = common::can_evict(&path) {
        return common::skip("shared page cache", &why);
    }
    let pages = 32 * 256;
    // Worker 1 starts on an evicted file and reads it once through (sequential, max rate).
    let mut live = Live::spawn(opts(&path, PatternKind::Sequential, None, true));
    let s = live.wait("worker 1 touched every page", |s| {
        s.workloads.len() == 1 && s.workloads[0].touched >= pages
    });
    let pid1 = pid_of(&s, 1);
    live.send(Command::AddWorkload);
    let s = live.wait("worker 2 touched every page", |s| {
        s.workloads.len() == 2 && s.workloads[1].selected && s.workloads[1].touched >= pages
    });
    let pid2 = pid_of(&s, 2);
    assert_ne!(pid1, pid2);
    let (w1, w2) = (&s.workloads[0], &s.workloads[1]);
    let ((_, maj1), (min2, maj2)) = (proc_faults(pid1), proc_faults(pid2));
    // The first worker read the file from disk: major faults, by the kernel's count.
    assert!(
        maj1 > 0,
        "worker 1 read a cold file: /proc says {maj1} major"
    );
    assert!(
        w1.faults.major_total > 0 && w1.faults.major_total <= maj1,
        "{w1:?}"
    );
    // The second one found every page in the page cache: none, over its whole life.
    assert_eq!(maj2, 0, "worker 2 (pid {pid2}): /proc/{pid2}/stat majflt");
    assert_eq!(w2.faults.major_total, 0, "{w2:?}");
    assert!(
        w2.faults.minor_total > 0 && w2.faults.minor_total <= min2,
        "{w2:?}"
    );
    let note = w2.cache_note.as_deref().expect("the shared-cache sentence");
    eprintln!("worker 1 /proc majflt {maj1}; worker 2 /proc minflt {min2} majflt {maj2}; {note}");
    assert!(
        note.contains("worker 2: 0 major faults")
            && note.contains(&mmviz::tui::format::count(w2.faults.minor_total))
            && note.contains("the page cache is shared"),
        "{note}"
    );
    assert!(w1.cache_note.is_none(), "worker 1 was the first: {w1:?}");
    // The top-level figures are the selected worker's.
    assert_eq!(s.worker.pid, Some(pid2));
    assert_eq!(s.faults.major_total, 0);
    // Remove worker 2: worker 1 is selected again and keeps running.
    live.send(Command::RemoveWorkload);
    let s = live.wait("worker 2 gone", |s| s.workloads.len() == 1);
    assert_eq!(s.worker.pid, Some(pid1));
    assert!(s.workloads[0].selected);
    live.end();
    let alive =
        std::path::Path::new(&format!("/proc/{pid2}")).exists() && proc_state(pid2) != Some('Z');
    assert!(!alive, "worker 2 (pid {pid2}) still runs after x");
}

fn proc_state(pid: u32) -> Option<char> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    s[s.rfind(')')? + 2..].chars().next()
}

#[test]
fn tab_selects_and_the_grid_tells_the_selected_workers_pages_from_the_others() {
    let path = user_file("tab.bin", 8);
    let mut live = Live::spawn(opts(&path, PatternKind::Sequential, Some(2_000), false));
    live.wait("worker 1 runs", |s| s.worker.state == RunState::Running);
    live.send(Command::AddWorkload);
    live.wait("two workers", |s| s.workloads.len() == 2);
    // Worker 2 maps only the first page region it touched: pause it early, and let worker 1
    // run the whole file.
    live.send(Command::SetPattern {
        pattern: PatternKind::Random,
    });
    let s = live.wait("both have mapped pages", |s| {
        s.grid_mine
            .as_ref()
            .is_some_and(|m| m.iter().any(|&x| x > 0))
            && s.workloads.iter().all(|w| w.touched > 16)
    });
    let mine = s.grid_mine.clone().unwrap();
    assert_eq!(mine.len(), s.grid.cells.len());
    for (c, m) in s.grid.cells.iter().zip(&mine) {
        // The selected worker's own pages are part of the union.
        assert!(
            *m <= c.mapped.unwrap_or(0) + c.private.unwrap_or(0),
            "{c:?} {m}"
        );
    }
    assert_eq!(s.workloads.iter().filter(|w| w.selected).count(), 1);
    assert!(s.workloads[1].selected);
    live.send(Command::SelectNextWorkload);
    let s = live.wait("worker 1 selected", |s| {
        s.workloads.len() == 2 && s.workloads[0].selected
    });
    assert_eq!(s.worker.pid, s.workloads[0].worker.pid);
    // The pattern key acts on the selected worker only.
    assert_eq!(s.workloads[0].worker.pattern, PatternKind::Sequential);
    assert_eq!(s.workloads[1].worker.pattern, PatternKind::Random);
    // Evict drops both workers' mappings first: nothing stays cached because of them.
    if common::can_evict(&path).is_ok() {
        live.send(Command::Evict);
        let s = live.wait("the evict's result", |s| {
            s.events.iter().any(|e| e.text.starts_with("evict"))
        });
        let e = s
            .events
            .iter()
            .rev()
            .find(|e| e.text.starts_with("evict"))
            .unwrap();
        assert!(e.text.ends_with("-> 0 pages cached"), "{}", e.text);
        let s = live.wait("both run again", |s| {
            s.workloads
                .iter()
                .all(|w| w.worker.state == RunState::Running)
        });
        assert_eq!(s.workloads.len(), 2);
    }
    for _ in 0..3 {
        live.send(Command::AddWorkload);
    }
    let s = live.wait("four workers, no more", |s| {
        s.workloads.len() == 4
            && s.message
                .as_deref()
                .is_some_and(|m| m.contains("4 workers"))
    });
    let ids: Vec<u32> = s.workloads.iter().map(|w| w.id).collect();
    assert_eq!(ids, vec![1, 2, 3, 4]);
    live.end();
}

#[test]
fn worker_panel_matches_proc_status_fd_and_maps_on_a_1_tib_sparse_mapping() {
    let path = cache_dir().join("sparse-1tib.bin");
    let f = std::fs::File::create(&path).unwrap();
    if f.set_len(1 << 40).is_err() {
        return common::skip("1 TiB sparse", "the filesystem refuses a 1 TiB file");
    }
    drop(f);
    let mut live = Live::spawn(opts(&path, PatternKind::Random, Some(200), false));
    live.wait("some pages touched", |s| {
        s.workloads.first().is_some_and(|w| w.touched > 20)
    });
    let _ = live.paused();
    // The panel's /proc view is refreshed twice a second: take one newer than the pause.
    std::thread::sleep(std::time::Duration::from_millis(700));
    let s = live.fresh();
    let w = &s.workloads[0];
    let pid = w.worker.pid.unwrap();
    let p = w.process.expect("the worker's /proc view");
    let (size, rss) = (status_bytes(pid, "VmSize:"), status_bytes(pid, "VmRSS:"));
    eprintln!("1 TiB sparse: panel {p:?}; /proc VmSize {size} VmRSS {rss}");
    assert_eq!(p.vm_size, Some(size), "VmSize vs /proc/{pid}/status");
    let d = p.vm_rss.unwrap().abs_diff(rss);
    assert!(d <= 256 << 10, "VmRSS {:?} vs /proc {rss}", p.vm_rss);
    assert_eq!(p.rss_file, Some(status_bytes(pid, "RssFile:")));
    // 1 TiB of address space, a few MiB of memory.
    assert!(size >= 1 << 40, "VmSize {size}");
    assert!(rss < 64 << 20, "VmRSS {rss}");
    // The descriptor was closed after mmap: no fd names the file, maps still does.
    let canon = std::fs::canonicalize(&path).unwrap();
    let fds: Vec<PathBuf> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .collect();
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    assert_eq!(p.fd_open, Some(fds.contains(&canon)), "{fds:?}");
    assert_eq!(p.fd_open, Some(false));
    assert_eq!(
        p.mapping_in_maps,
        Some(maps.contains(canon.to_str().unwrap()))
    );
    assert_eq!(p.mapping_in_maps, Some(true));
    live.end();
    let _ = std::fs::remove_file(&path);
}

fn scratch_copies() -> Vec<PathBuf> {
    let d = cache_dir().join("scratch");
    std::fs::read_dir(d)
        .map(|r| {
            r.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.to_string_lossy().contains("mmviz-scratch-"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_write_mode_key_writes_only_scratch_copies_and_comes_back() {
    let path = user_file("write-key.bin", 8);
    let before = std::fs::read(&path).unwrap();
    let mut live = Live::spawn(opts(&path, PatternKind::Sequential, Some(20_000), false));
    live.wait("read mode", |s| {
        s.file.write.is_none() && s.worker.state == RunState::Running
    });
    live.send(Command::AddWorkload);
    live.wait("two workers", |s| s.workloads.len() == 2);
    live.send(Command::CycleWriteMode);
    let s = live.wait("shared writes dirty the scratch copy", |s| {
        s.file
            .write
            .as_ref()
            .is_some_and(|w| w.mode == WriteMode::Shared)
            && s.totals.dirty.unwrap_or(0) > 0
    });
    let w = s.file.write.clone().unwrap();
    assert!(w.scratch.contains("mmviz-scratch-"), "{w:?}");
    assert_eq!(w.source, path.display().to_string());
    assert!(
        s.message
            .as_deref()
            .unwrap_or("")
            .contains("your file is never written")
            || s.events
                .iter()
                .any(|e| e.text.contains("your file is never written")),
        "{s:#?}"
    );
    assert_eq!(s.workloads.len(), 2, "both workers restarted on the copy");
    let shared_copy = w.scratch.clone();
    live.send(Command::CycleWriteMode);
    let s = live.wait("private copies", |s| {
        s.file
            .write
            .as_ref()
            .is_some_and(|w| w.mode == WriteMode::Private)
            && s.totals.private.unwrap_or(0) > 0
    });
    assert_ne!(s.file.write.as_ref().unwrap().scratch, shared_copy);
    assert!(
        !Path::new(&shared_copy).exists(),
        "the shared copy is removed"
    );
    live.send(Command::CycleWriteMode);
    let s = live.wait("read mode again", |s| {
        s.file.write.is_none() && s.worker.state == RunState::Running
    });
    assert_eq!(s.file.path, path.display().to_string());
    assert!(scratch_copies().is_empty(), "{:?}", scratch_copies());
    live.end();
    assert!(
        std::fs::read(&path).unwrap() == before,
        "the user's file changed"
    );
}
