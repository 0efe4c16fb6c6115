//! `mmviz lesson list` through the built binary: the compiled-in lessons, a teacher's own
//! directory, and a broken lesson file reported with its file and line (exit 2).

mod common;

use common::{mmviz, run_cmd, scratch_dir, Run};

#[test]
fn lesson_list_shows_builtin_and_own_lessons_and_rejects_bad_files() {
    let r = mmviz(&["lesson", "list", "--json"]);
    assert_eq!(r.code(), 0, "{r:?}");
    let names: Vec<String> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap().to_string())
        .collect();
    for want in ["demand-paging", "second-pass", "search"] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }
    let dir = scratch_dir();
    std::fs::write(
        dir.path().join("mine.toml"),
        "title = \"My lesson\"\nduration_min = 4\n[[step]]\ntitle = \"a\"\nnarrative = \"n\"\n",
    )
    .unwrap();
    let d = dir.path().to_str().unwrap();
    let r = mmviz(&["lesson", "list", "--lessons", d]);
    assert_eq!(r.code(), 0, "{r:?}");
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("mine ") && l.ends_with("My lesson")),
        "{r:?}"
    );
    std::fs::write(
        dir.path().join("typo.toml"),
        "title = \"T\"\nduration_min = 4\n[[step]]\ntitle = \"a\"\nnarrative = \"n\"\n[[step.check]]\nexpect = \"faults.majr_total >= 1\"\notherwise = \"x\"\n",
    )
    .unwrap();
    let r = mmviz(&["lesson", "list", "--lessons", d]);
    assert_eq!(r.code(), 2, "{r:?}");
    assert!(
        r.stderr
            .contains("typo.toml:7: 'faults.majr_total' is not a field"),
        "{r:?}"
    );
    assert_eq!(r.stderr.trim_end().lines().count(), 1);
}

fn gen(dir: &std::path::Path, name: &str, size: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    let r = mmviz(&["gen", p.to_str().unwrap(), "--size", size]);
    assert_eq!(r.code(), 0, "{r:?}");
    p
}

fn check_json(args: &[&str]) -> (i32, serde_json::Value, Run) {
    let mut cmd = std::process::Command::new(common::BIN);
    cmd.args(args);
    let r = run_cmd(cmd, std::time::Duration::from_secs(150));
    let code = r.code();
    let v = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {r:?}"));
    (code, v, r)
}

/// Every built-in lesson runs headless through all its steps on a disk-backed file; every
/// check passes, or says why it does not apply here (tmpfs, a hidden field, a skipped slow
/// step) — never a silent pass. The write lessons leave the user's file byte-identical.
#[test]
fn every_lesson_preflight_passes_here_and_write_lessons_never_touch_the_file() {
    let dir = scratch_dir();
    let names: Vec<String> = mmviz(&["lesson", "list", "--json"])
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap().to_string())
        .collect();
    assert!(names.len() >= 11, "{names:?}");
    // One file each: lessons running side by side on one file would evict and warm it under
    // each other (and say so: "another process may be reading the file").
    let files: Vec<(std::path::PathBuf, Vec<u8>, std::time::SystemTime)> = names
        .iter()
        .map(|n| {
            let f = gen(dir.path(), &format!("{n}.bin"), "8MiB");
            let bytes = std::fs::read(&f).unwrap();
            let mtime = std::fs::metadata(&f).unwrap().modified().unwrap();
            (f, bytes, mtime)
        })
        .collect();
    // One after the other: side by side, the bench probes' timings and the live workers
    // disturb each other (a pre-flight is what a teacher runs on a quiet machine).
    let results: Vec<(String, i32, serde_json::Value, Run)> = names
        .iter()
        .zip(&files)
        .map(|(n, (f, _, _))| {
            let (c, v, r) = check_json(&["lesson", n, f.to_str().unwrap(), "--check", "--json"]);
            (n.clone(), c, v, r)
        })
        .collect();
    let mut write_lessons = 0;
    for (name, code, v, r) in &results {
        assert_eq!(code, &0, "{name}: {}\n{r:?}", v);
        assert_eq!(v["lesson"], name.as_str());
        assert_eq!(v["ok"], true, "{name}");
        let steps = v["steps"].as_array().unwrap();
        assert!(!steps.is_empty(), "{name}");
        for s in steps {
            assert!(s["problem"].is_null(), "{name}: {s}");
            for c in s["checks"].as_array().unwrap() {
                let verdict = c["verdict"].as_str().unwrap();
                assert!(
                    ["pass", "not_applicable", "not_measured", "skipped"].contains(&verdict),
                    "{name}: {c}"
                );
                if verdict == "pass" {
                    assert!(!c["measured"].is_null(), "{name}: {c}");
                } else {
                    // Explained: the reason is on the line.
                    assert!(c["detail"].as_str().unwrap().len() > 10, "{name}: {c}");
                }
            }
        }
        if !v["write"].is_null() {
            write_lessons += 1;
        }
    }
    assert!(write_lessons >= 3, "durability, copy-on-write, sigbus");
    // The slow step of the durability lesson is skipped with its reason unless --slow.
    let (_, _, dur, _) = results.iter().find(|r| r.0 == "durability").unwrap();
    let last = dur["steps"].as_array().unwrap().last().unwrap();
    assert!(
        last["skipped"].as_str().unwrap().contains("--slow"),
        "{last}"
    );
    for (f, bytes, mtime) in &files {
        assert!(
            std::fs::read(f).unwrap() == *bytes,
            "{} changed",
            f.display()
        );
        assert_eq!(std::fs::metadata(f).unwrap().modified().unwrap(), *mtime);
    }
}

/// A claim this machine does not bear out fails the pre-flight (exit 1) with what was
/// measured and the lesson's "otherwise"; a file where the claim cannot apply (tmpfs cannot
/// evict) makes it "not applicable here", exit 0.
#[test]
fn a_failed_claim_exits_1_and_tmpfs_is_not_applicable() {
    let dir = scratch_dir();
    let file = gen(dir.path(), "claim.bin", "4MiB");
    let own = scratch_dir();
    std::fs::write(
        own.path().join("impossible.toml"),
        "title = \"T\"\nduration_min = 1\n[[step]]\ntitle = \"cold\"\nnarrative = \"n\"\nsetup = [{ action = \"pause\" }, { action = \"evict\" }]\ntimeout_s = 2\n[[step.check]]\nexpect = \"totals.cached >= 1000000\"\notherwise = \"this file is far smaller\"\napplies_if = \"file.filesystem.can_evict == true\"\n",
    )
    .unwrap();
    let lessons = own.path().to_str().unwrap();
    let (code, v, r) = check_json(&[
        "lesson",
        "impossible",
        file.to_str().unwrap(),
        "--check",
        "--json",
        "--lessons",
        lessons,
    ]);
    assert_eq!(code, 1, "{r:?}");
    let c = &v["steps"][0]["checks"][0];
    assert_eq!(c["verdict"], "fail", "{c}");
    assert_eq!(c["measured"], 0, "{c}");
    assert!(c["detail"].as_str().unwrap().contains("far smaller"), "{c}");
    // The session's log during the step: the eviction the set-up asked for, with its count.
    let events = v["steps"][0]["events"].as_array().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e["text"].as_str().unwrap().contains("-> 0 pages cached")),
        "{events:?}"
    );
    let text = mmviz(&[
        "lesson",
        "impossible",
        file.to_str().unwrap(),
        "--check",
        "--lessons",
        lessons,
    ]);
    assert_eq!(text.code(), 1);
    assert!(
        text.stdout
            .contains("FAIL  totals.cached >= 1000000  measured 0"),
        "{text:?}"
    );
    assert!(text.stdout.contains("NOT ready"), "{text:?}");
    assert!(
        text.stdout.contains("the session's log during the step:")
            && text.stdout.contains("-> 0 pages cached"),
        "{text:?}"
    );

    let shm = std::path::Path::new("/dev/shm");
    let on_tmpfs = shm.is_dir()
        && std::fs::File::open(shm)
            .ok()
            .and_then(|f| mmviz::kernel::fsinfo::fs_of(&f).ok())
            .is_some_and(|fs| !fs.can_evict);
    if !on_tmpfs {
        common::skip("tmpfs part", "/dev/shm is not a tmpfs here");
        return;
    }
    let t = tempfile::Builder::new()
        .prefix("mmviz-lesson-")
        .tempfile_in(shm)
        .unwrap();
    std::fs::write(t.path(), vec![7u8; 1 << 20]).unwrap();
    let (code, v, r) = check_json(&[
        "lesson",
        "impossible",
        t.path().to_str().unwrap(),
        "--check",
        "--json",
        "--lessons",
        lessons,
    ]);
    assert_eq!(code, 0, "{r:?}");
    let c = &v["steps"][0]["checks"][0];
    assert_eq!(c["verdict"], "not_applicable", "{c}");
    assert!(c["detail"].as_str().unwrap().contains("can_evict"), "{c}");
}

#[test]
fn bad_lesson_names_and_options_are_one_line_errors() {
    let r = mmviz(&["lesson", "no-such-lesson", "--check"]);
    assert_eq!(r.code(), 2, "{r:?}");
    assert!(r.stderr.contains("no lesson 'no-such-lesson'"), "{r:?}");
    assert!(r.stderr.contains("demand-paging"), "{r:?}");
    assert_eq!(r.stderr.trim_end().lines().count(), 1);
    let r = mmviz(&["lesson", "demand-paging", "/nonexistent/file", "--check"]);
    assert_ne!(r.code(), 0, "{r:?}");
    assert_eq!(r.stderr.trim_end().lines().count(), 1, "{r:?}");
    // Not a terminal: the live lesson refuses like the live view.
    let r = mmviz(&["lesson", "demand-paging"]);
    assert_eq!(r.code(), 2, "{r:?}");
    assert!(r.stderr.contains("needs a terminal"), "{r:?}");
}

/// The live view in a lesson, in a real terminal at 80x24: the narrative panel with its
/// checks turning green with measured values, n / p between steps, . one access, the L picker.
#[test]
fn lesson_in_the_tui_at_80x24_and_120x40() {
    use common::tmux::Tmux;
    if !Tmux::available() {
        common::skip("lesson tui", "tmux is not installed");
        return;
    }
    let dir = scratch_dir();
    let file = gen(dir.path(), "tui.bin", "8MiB");
    let cmd = format!(
        "{} lesson demand-paging {}; echo EXIT=$?; sleep 60",
        common::BIN,
        file.display()
    );
    let t = Tmux::start_sized("lesson80", &cmd, 80, 24);
    t.wait(20, "step 1 judged", |s| {
        s.contains("1/4 A cold file")
            && s.contains("✓ totals.cached == 0")
            && s.contains("measured 0")
    });
    t.keys(&["n"]);
    // The check turns green, and its result goes into the event log shown in the panel.
    let s = t.wait(20, "step 2: the one access's major fault, logged", |s| {
        s.contains("2/4 First touch")
            && s.contains("✓ faults.major_total >= 1")
            && s.contains("lesson check 2")
    });
    assert!(s.contains("n next p prev . access L list"), "{s}");
    t.keys(&["."]);
    t.wait(10, "the access named in the footer", |s| {
        s.contains("step: access")
    });
    t.keys(&["p"]);
    t.wait(10, "back to step 1", |s| s.contains("1/4 A cold file"));
    t.keys(&["L"]);
    t.wait(10, "the picker", |s| {
        s.contains("Lessons (") && s.contains("second-pass")
    });
    t.keys(&["Down", "Enter"]);
    t.wait(20, "the second lesson", |s| {
        s.contains("Lesson: Later accesses") && s.contains("1/3 Warm the file")
    });
    // A write lesson cannot start in this read-only session: the picker says how.
    t.keys(&["L"]);
    for _ in 0..7 {
        t.keys(&["Down"]);
    }
    t.wait(10, "durability selected", |s| s.contains("▶ durability"));
    t.keys(&["Enter"]);
    t.wait(10, "why not", |s| s.contains("durability needs write mode"));
    t.keys(&["Escape", "q"]);
    t.wait(10, "exit 0", |s| s.contains("EXIT=0"));
    drop(t);

    let t = Tmux::start_sized("lesson120", &cmd, 120, 40);
    let s = t.wait(20, "panel and counters at 120x40", |s| {
        s.contains("Lesson: Demand paging")
            && s.contains("✓ totals.cached == 0")
            && s.contains("major")
    });
    assert!(s.contains("mmap() returned at once"), "{s}");
    t.keys(&["q"]);
    t.wait(10, "exit 0", |s| s.contains("EXIT=0"));
}
