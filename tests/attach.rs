//! `mmviz attach` / `mmviz exec` against real processes: a Python child maps a disk-backed
//! file and touches chosen pages. Checked against the child's own /proc files read by the test
//! (stat, smaps Rss), and against the touched set.
//!
//! Exactness: the file is evicted first and the child applies MADV_RANDOM, so each touch
//! brings exactly one page into the cache (no readahead) and fault-around has no cached
//! neighbours to map: the mapped pages are exactly the touched ones.

mod common;

use common::child::{
    fixture, pages_arg, python, smaps_rss_pages, start_child, start_script, stat_faults, PAGES,
};

use common::{as_nobody, can_evict, mmviz, nobody_sandbox, run_cmd, scratch_dir, skip};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const TOUCHED: [u64; 7] = [0, 5, 17, 100, 101, 4000, 16383];

fn evict(path: &Path) {
    let r = mmviz(&["evict".as_ref(), path.as_os_str(), "--json".as_ref()]);
    assert_eq!(r.code(), 0, "{r:?}");
    assert_eq!(r.json()["cached_after"], 0, "{r:?}");
}

fn attach_json(args: &[&std::ffi::OsStr]) -> common::Run {
    let mut a: Vec<&std::ffi::OsStr> = vec!["attach".as_ref()];
    a.extend_from_slice(args);
    a.push("--json".as_ref());
    mmviz(&a)
}

#[test]
fn attach_reports_exactly_the_touched_pages_and_the_kernels_faults() {
    let Some(fx) = fixture("attach_reports_exactly_the_touched_pages") else {
        return;
    };
    evict(&fx.file);
    let (mut child, pid) = start_child(&fx, &TOUCHED, 30.0);
    let pid_s = pid.to_string();
    let r = attach_json(&[
        pid_s.as_ref(),
        fx.file.as_os_str(),
        "--duration".as_ref(),
        "0.3".as_ref(),
    ]);
    // The child sleeps: its counters and page table are still while we compare.
    let (minor, major) = stat_faults(pid);
    let rss = smaps_rss_pages(pid, &fx.file);
    assert_eq!(r.code(), 0, "{r:?}");
    let j = r.json();
    assert_eq!(j["pid"], pid);
    assert_eq!(j["ended"], "duration");
    assert_eq!(j["process_at_end"], "running");
    assert_eq!(j["file_chosen"], "given");
    assert_eq!(j["file_pages"], PAGES);
    assert_eq!(j["ranges"].as_array().unwrap().len(), 1, "{j}");
    assert_eq!(j["mapped_pages"], TOUCHED.len() as u64, "{j}");
    assert_eq!(j["mapped_pages"], rss, "smaps Rss disagrees: {j}");
    assert_eq!(j["private_pages"], 0);
    assert_eq!(j["faults"]["minor"], minor, "{j}");
    assert_eq!(j["faults"]["major"], major, "{j}");
    assert_eq!(
        j["faults_during"]["minor"], 0,
        "a sleeping child takes no faults: {j}"
    );
    let threads = j["threads"].as_array().unwrap();
    assert_eq!(threads.len(), 1, "{j}");
    assert_eq!(threads[0]["tid"], pid);
    assert_eq!(threads[0]["minor"], minor);
    // The cache holds exactly what the touches brought in (MADV_RANDOM: no readahead).
    assert_eq!(j["cached_before"], TOUCHED.len() as u64, "{j}");
    assert_eq!(j["cached_after"], TOUCHED.len() as u64, "{j}");

    // Which pages, not just how many: the library's per-page runs.
    let mut obs = mmviz::observe::Observer::attach(pid, Some(&fx.file)).unwrap();
    obs.sample();
    let mut runs = Vec::new();
    assert!(obs.present_runs(0, PAGES, &mut runs).unwrap());
    let pages: Vec<u64> = runs.iter().flat_map(|r| r.start..r.end).collect();
    assert_eq!(pages, TOUCHED.to_vec());
    assert!(runs.iter().all(|r| r.file));
    // A view window: runs are relative to its start.
    obs.present_runs(100, 4001, &mut runs).unwrap();
    let pages: Vec<u64> = runs.iter().flat_map(|r| r.start..r.end).collect();
    assert_eq!(pages, vec![0, 1, 3900]);

    // Without FILE: the largest regular file it maps is ours (64 MiB > libpython).
    let r = attach_json(&[pid_s.as_ref(), "--duration".as_ref(), "0.1".as_ref()]);
    assert_eq!(r.code(), 0, "{r:?}");
    let j = r.json();
    assert_eq!(j["file_chosen"], "largest_mapped", "{j}");
    assert_eq!(j["file"], fx.file.to_str().unwrap(), "{j}");
    assert_eq!(j["mapped_pages"], TOUCHED.len() as u64, "{j}");

    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_file_mapped_at_two_ranges_is_combined_by_file_offset() {
    let Some(fx) = fixture("a_file_mapped_at_two_ranges") else {
        return;
    };
    evict(&fx.file);
    // Two mappings: [0, 64) pages and [32, 96) pages (offset 128 KiB); touch 10 through the
    // first, 40 and 50 through the first, 40 and 90 through the second.
    let (mut c, pid) = start_script(
        &fx,
        "two.py",
        r#"
import mmap, os, sys, time
f = open(sys.argv[1], "rb")
ps = mmap.PAGESIZE
a = mmap.mmap(f.fileno(), 64 * ps, access=mmap.ACCESS_READ)
b = mmap.mmap(f.fileno(), 64 * ps, access=mmap.ACCESS_READ, offset=32 * ps)
a.madvise(mmap.MADV_RANDOM); b.madvise(mmap.MADV_RANDOM)
s = a[10 * ps] + a[40 * ps] + a[50 * ps] + b[(40 - 32) * ps] + b[(90 - 32) * ps]
print("ready", os.getpid(), flush=True)
time.sleep(30)
"#,
    );
    let pid = pid.to_string();
    let r = attach_json(&[
        pid.as_ref(),
        fx.file.as_os_str(),
        "--duration".as_ref(),
        "0.1".as_ref(),
    ]);
    let rss = smaps_rss_pages(c.id(), &fx.file);
    c.kill().unwrap();
    c.wait().unwrap();
    assert_eq!(r.code(), 0, "{r:?}");
    let j = r.json();
    assert_eq!(j["ranges"].as_array().unwrap().len(), 2, "{j}");
    // Distinct file pages present: 10, 40, 50, 90. Page 40 is present in both ranges and
    // counted once. smaps counts per mapping: at least 5 (40 twice); 6 when the second
    // mapping's fault-around window (aligned on its virtual addresses) also mapped the
    // cached page 50 there, which still is one file page.
    assert_eq!(j["mapped_pages"], 4, "{j}");
    assert!((5..=6).contains(&rss), "smaps Rss {rss} pages");
}

#[test]
fn exec_reports_totals_at_exit_and_the_exit_status() {
    let Some(fx) = fixture("exec_reports_totals_at_exit") else {
        return;
    };
    evict(&fx.file);
    let r = mmviz(&[
        "exec".as_ref(),
        "--file".as_ref(),
        fx.file.as_os_str(),
        "--json".as_ref(),
        "--".as_ref(),
        fx.py.as_ref(),
        fx.script.as_os_str(),
        fx.file.as_os_str(),
        pages_arg(&TOUCHED).as_ref(),
        "0.3".as_ref(),
        "7".as_ref(),
    ]);
    assert_eq!(r.code(), 0, "{r:?}");
    let j = r.json();
    // The program's stdout went to stderr (stdout is the report).
    let faults_line = r
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("faults "))
        .unwrap_or_else(|| panic!("no faults line from the child: {r:?}"));
    let own: Vec<u64> = faults_line
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    assert_eq!(j["exit_status"]["code"], 7, "{j}");
    assert_eq!(j["ended"], "exited");
    assert_eq!(j["faults_final"], true, "{j}");
    assert_eq!(j["cached_before"], 0, "{j}");
    assert_eq!(j["cached_after"], TOUCHED.len() as u64, "{j}");
    assert_eq!(j["mapped_pages_max"], TOUCHED.len() as u64, "{j}");
    // At exit the counts are final: at least what the child read of itself just before
    // exiting (interpreter teardown may add some).
    let minor = j["faults"]["minor"].as_u64().unwrap();
    assert!(minor >= own[0], "{minor} < child's own {}: {j}", own[0]);
    assert!(
        minor < own[0] + 2000,
        "{minor} vs child's own {}: {j}",
        own[0]
    );
    assert!(j["faults"]["major"].as_u64().unwrap() >= own[1]);
    let events: Vec<&str> = j["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(
        events.contains(&"mapped") && events.contains(&"exited"),
        "{j}"
    );
}

#[test]
fn exec_of_a_missing_command_and_a_bad_file_are_usage_errors() {
    let r = mmviz(&["exec", "--json", "--", "/nonexistent/prog"]);
    assert_eq!(r.code(), 2, "{r:?}");
    assert!(
        r.stderr
            .starts_with("mmviz: /nonexistent/prog: command not found"),
        "{r:?}"
    );
    let r = mmviz(&["exec", "--file", "/nonexistent/db", "--", "true"]);
    assert_eq!(r.code(), 2, "{r:?}");
    assert!(r.stderr.starts_with("mmviz: /nonexistent/db:"), "{r:?}");
    let r = mmviz(&["exec", "--json", "--duration", "-1", "--", "true"]);
    assert_eq!(r.code(), 2, "{r:?}");
}

#[test]
fn bad_pids_are_clear_errors() {
    let pid_max: u64 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // PIDs are below pid_max, so pid_max itself never names a process.
    let table: Vec<(String, &str)> = vec![
        (pid_max.to_string(), "no process with PID"),
        ("2".into(), "is a kernel thread"),
        ("abc".into(), "is not a process id"),
        ("-3".into(), "is not a process id"),
        ("0".into(), "PID 0 is not a process"),
    ];
    for (pid, want) in table {
        let r = mmviz(&["attach", &pid, "--json"]);
        assert_eq!(r.code(), 2, "{pid}: {r:?}");
        assert!(r.stdout.is_empty(), "{pid}: {r:?}");
        assert!(
            r.stderr.starts_with("mmviz: ") && r.stderr.contains(want),
            "{pid}: {r:?}"
        );
        assert_eq!(r.stderr.lines().count(), 1, "{pid}: {r:?}");
    }
}

#[test]
fn a_pid_that_exits_mid_run_ends_the_report() {
    let Some(fx) = fixture("a_pid_that_exits_mid_run") else {
        return;
    };
    let (mut child, pid) = start_child(&fx, &[1, 2, 3], 0.4);
    // Reap it at once, as a shell would: mmviz then sees it vanish (not a zombie).
    let reaper = std::thread::spawn(move || child.wait().unwrap());
    let pid_s = pid.to_string();
    let t = std::time::Instant::now();
    let r = attach_json(&[
        pid_s.as_ref(),
        fx.file.as_os_str(),
        "--duration".as_ref(),
        "20".as_ref(),
    ]);
    assert!(reaper.join().unwrap().success());
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "did not notice the exit"
    );
    assert_eq!(r.code(), 0, "{r:?}");
    let j = r.json();
    assert_eq!(j["ended"], "exited", "{j}");
    assert_ne!(j["process_at_end"], "running");
    assert!(j["exit_status"].is_null());
    assert!(j["exit_status_note"]
        .as_str()
        .unwrap()
        .contains("not mmviz's child"));
    assert_eq!(j["mapped_pages_max"], 3, "{j}");
    assert!(j["faults"]["minor"].as_u64().unwrap() > 0);
    // Text mode says so too.
    let (mut child, pid) = start_child(&fx, &[], 0.2);
    let reaper = std::thread::spawn(move || child.wait().unwrap());
    let r = mmviz(&["attach", &pid.to_string()]);
    reaper.join().unwrap();
    assert_eq!(r.code(), 0, "{r:?}");
    assert!(r.stdout.contains("ended:     the process exited"), "{r:?}");
}

#[test]
fn another_users_process_says_what_cannot_be_read() {
    let Some(fx) = fixture("another_users_process") else {
        return;
    };
    let (dir, bin) = match nobody_sandbox() {
        Ok(x) => x,
        Err(why) => return skip("another_users_process", &why),
    };
    // A copy of the file nobody can read (but not write): the cache state is hidden from a
    // non-owner, the rest is shown.
    let shared = dir.path().join("shared.bin");
    std::fs::copy(&fx.file, &shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (mut child, pid) = start_child(&fx, &[1], 30.0);
    let pid_s = pid.to_string();
    let r = run_cmd(
        as_nobody(&bin, &["attach", &pid_s, "--json", "--duration", "0.1"]),
        common::TIMEOUT,
    );
    let (minor, _) = stat_faults(pid);
    let r2 = run_cmd(
        as_nobody(
            &bin,
            &[
                "attach",
                &pid_s,
                shared.to_str().unwrap(),
                "--json",
                "--duration",
                "0.1",
            ],
        ),
        common::TIMEOUT,
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(r.code(), 0, "{r:?}");
    let j = r.json();
    assert!(
        j["maps_note"]
            .as_str()
            .unwrap()
            .contains("permission denied"),
        "{j}"
    );
    assert!(j["pagemap_note"]
        .as_str()
        .unwrap()
        .contains("permission denied"));
    assert!(j["file"].is_null());
    assert!(
        j["file_note"].as_str().unwrap().contains("give FILE"),
        "{j}"
    );
    assert!(j["mapped_pages"].is_null());
    // stat is world-readable: the faults are still shown.
    assert_eq!(j["faults"]["minor"], minor, "{j}");
    assert_eq!(r2.code(), 0, "{r2:?}");
    let j = r2.json();
    assert_eq!(j["file_chosen"], "given");
    assert!(j["mapped_pages"].is_null());
    assert_eq!(j["cache_state_visible"], false, "{j}");
    assert!(j["cached_before"].is_null());
}

#[test]
fn sqlite_point_lookups_map_few_pages_of_the_database() {
    let test = "sqlite_point_lookups";
    let Some(py) = python() else {
        return skip(test, "python3 is not installed");
    };
    let ok = Command::new(&py)
        .args(["-c", "import sqlite3"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return skip(test, "Python's sqlite3 module is missing");
    }
    let dir = scratch_dir();
    let db = dir.path().join("items.db");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sqlite_mmap.py");
    let mut c = Command::new(&py);
    c.arg(&example)
        .arg("create")
        .arg(&db)
        .args(["--rows", "60000"]);
    let r = run_cmd(c, common::TIMEOUT);
    assert_eq!(r.code(), 0, "{r:?}");
    if let Err(why) = can_evict(&db) {
        return skip(test, &why);
    }
    evict(&db);
    let r = mmviz(&[
        "exec".as_ref(),
        "--file".as_ref(),
        db.as_os_str(),
        "--json".as_ref(),
        "--".as_ref(),
        py.as_ref(),
        example.as_os_str(),
        "lookups".as_ref(),
        db.as_os_str(),
        "--count".as_ref(),
        "20".as_ref(),
    ]);
    assert_eq!(r.code(), 0, "{r:?}");
    let j = r.json();
    assert_eq!(j["exit_status"]["code"], 0, "{j}");
    let pages = j["file_pages"].as_u64().unwrap();
    let mapped = j["mapped_pages_max"].as_u64().unwrap();
    // 20 lookups: a root-to-leaf path each, plus fault-around's 16 neighbours per fault.
    assert!(mapped > 0, "{j}");
    assert!(
        mapped * 4 < pages,
        "lookups mapped {mapped} of {pages} pages: {j}"
    );
    assert!(r.stderr.contains("lookups: 20 of 20 found"), "{r:?}");
}

#[test]
fn truncation_and_unmapping_under_the_observer_are_events() {
    let Some(fx) = fixture("truncation_and_unmapping") else {
        return;
    };
    evict(&fx.file);
    // Touch pages 1, 2 and 9000; after 0.6 s unmap; stay alive 0.6 s more. The file is the
    // test's own scratch file, so the test may truncate it.
    let (mut c, pid) = start_script(
        &fx,
        "unmap.py",
        r#"
import mmap, os, sys, time
f = open(sys.argv[1], "rb")
m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
m.madvise(mmap.MADV_RANDOM)
s = m[1 * mmap.PAGESIZE] + m[2 * mmap.PAGESIZE] + m[9000 * mmap.PAGESIZE]
print("ready", os.getpid(), flush=True)
time.sleep(0.6)
m.close()
time.sleep(0.6)
"#,
    );
    let pid = pid.to_string();
    let file = fx.file.clone();
    // Truncate to 100 pages while attached (before the child unmaps).
    let cutter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(250));
        std::fs::OpenOptions::new()
            .write(true)
            .open(&file)
            .unwrap()
            .set_len(100 * 4096)
            .unwrap();
    });
    let r = attach_json(&[pid.as_ref(), fx.file.as_os_str()]);
    cutter.join().unwrap();
    c.wait().unwrap();
    assert_eq!(r.code(), 0, "{r:?}");
    let j = r.json();
    let kinds: Vec<&str> = j["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    let pos = |k: &str| kinds.iter().position(|x| *x == k);
    let (res, unm, ex) = (pos("resized"), pos("unmapped"), pos("exited"));
    assert!(res.is_some() && unm.is_some() && ex.is_some(), "{j}");
    assert!(res < unm && unm < ex, "{kinds:?}");
    let resized = j["events"].as_array().unwrap()[res.unwrap()]["detail"]
        .as_str()
        .unwrap();
    assert!(
        resized.contains(&format!("{} -> {} bytes", PAGES * 4096, 100 * 4096)),
        "{resized}"
    );
    // Before the cut 3 pages were mapped; pages past the new end are gone (the kernel unmaps
    // them on truncate), so at most 2 remain until the unmap, then none.
    assert_eq!(j["mapped_pages_max"], 3, "{j}");
    assert_eq!(j["file_pages"], 100);
    assert_eq!(j["mapped_pages"], 0, "{j}");
    assert_eq!(j["ranges"].as_array().unwrap().len(), 0);
}

#[test]
fn remapping_and_execve_under_the_observer_are_events() {
    let Some(fx) = fixture("remapping_and_execve") else {
        return;
    };
    evict(&fx.file);
    // One range, then a second range of the same file (1 -> 2), then the first unmapped
    // (2 -> 1), then execve into sleep: the old address space, and the file's ranges, are gone.
    let (mut c, pid) = start_script(
        &fx,
        "remap.py",
        r#"
import mmap, os, sys, time
f = open(sys.argv[1], "rb")
m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
m.madvise(mmap.MADV_RANDOM)
s = m[1 * mmap.PAGESIZE]
print("ready", os.getpid(), flush=True)
time.sleep(0.5)
m2 = mmap.mmap(f.fileno(), 64 * mmap.PAGESIZE, access=mmap.ACCESS_READ,
               offset=1000 * mmap.PAGESIZE)
m2.madvise(mmap.MADV_RANDOM)
s += m2[0]
time.sleep(0.5)
m.close()
time.sleep(0.5)
os.execv("/bin/sleep", ["sleep", "0.6"])
"#,
    );
    let pid = pid.to_string();
    let r = attach_json(&[pid.as_ref(), fx.file.as_os_str()]);
    let st = c.wait().unwrap();
    assert!(
        st.success(),
        "the child (sleep after execve) exited with {st:?}"
    );
    assert_eq!(r.code(), 0, "{r:?}");
    let j = r.json();
    let events: Vec<(&str, &str)> = j["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["detail"].as_str().unwrap()))
        .collect();
    let pos = |kind: &str, detail: &str| {
        events
            .iter()
            .position(|(k, d)| *k == kind && d.contains(detail))
            .unwrap_or_else(|| panic!("no {kind} event with {detail:?} in {events:?}"))
    };
    let grew = pos("remapped", "1 -> 2 range(s)");
    let shrank = pos("remapped", "2 -> 1 range(s)");
    let exec = pos("exec", "now 'sleep'");
    let exited = pos("exited", "");
    assert!(
        grew < shrank && shrank < exec && exec < exited,
        "{events:?}"
    );
    // Page 1 through the first mapping, page 1000 through the second: at most both mapped at
    // once; after execve nothing of the file is.
    assert_eq!(j["mapped_pages_max"], 2, "{j}");
    assert_eq!(j["mapped_pages"], 0, "{j}");
    assert_eq!(j["ranges"].as_array().unwrap().len(), 0, "{j}");
}
