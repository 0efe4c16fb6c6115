//! End-to-end: the searches as keys of the live view (`8` grep, `9` bsearch) in a real
//! terminal (tmux) at 120x40 and 80x24, read back from the screen and checked against the
//! file's bytes searched here independently.

mod common;

use common::tmux::Tmux;
use std::path::PathBuf;
use std::process::Command;

fn dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e-search");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[test]
fn grep_key_shows_the_regex_the_count_and_the_first_matches_and_bsearch_refuses_text() {
    if !Tmux::available() {
        eprintln!("skipped: tmux is not installed (.ci/run installs it)");
        return;
    }
    // 4 MiB of text lines; every 997th line holds the needle.
    let file = dir().join("text.log");
    let mut text = String::new();
    let mut i = 0u64;
    while text.len() < 4 << 20 {
        i += 1;
        if i % 997 == 0 {
            text.push_str(&format!("line {i} holds the needle here\n"));
        } else {
            text.push_str(&format!("line {i} is plain text of a log\n"));
        }
    }
    std::fs::write(&file, &text).unwrap();
    // The first matches, found here with a plain search of the bytes.
    let first: Vec<(u64, u64)> = text
        .match_indices("needle")
        .take(2)
        .map(|(off, _)| {
            let line = text[..off].matches('\n').count() as u64 + 1;
            (off as u64, line)
        })
        .collect();

    let bin = env!("CARGO_BIN_EXE_mmviz");
    let cmd = format!(
        "{bin} {} --regex needle --max-matches 3; echo EXIT=$?; sleep 60",
        file.display()
    );
    let t = Tmux::start("grepkey", &cmd);
    t.wait(20, "the running view", |s| {
        s.contains("running") && s.contains("1 cell =")
    });
    t.keys(&["8"]);
    let s = t.wait(20, "three matches found", |s| {
        s.contains("grep /needle/") && s.contains("3 matches")
    });
    assert!(s.contains("pattern grep"), "{s}");
    assert!(s.contains("(stops after 3)"), "{s}");
    assert!(!s.contains("default regex"), "the regex was given: {s}");
    for (off, line) in &first {
        let want = format!(
            "offset {:>13}  line {:>9}  line {line} holds the needle",
            count(*off),
            count(*line)
        );
        assert!(s.contains(&want), "{want} in\n{s}");
    }
    // Not a records file: refused with the reason, grep goes on.
    t.keys(&["9"]);
    let s = t.wait(10, "bsearch refused", |s| s.contains("bsearch refused"));
    assert!(s.contains("not a file of sorted records"), "{s}");
    assert!(s.contains("pattern grep"), "{s}");
    t.keys(&["q"]);
    t.wait(10, "exit status", |s| s.contains("EXIT=0"));
}

#[test]
fn grep_default_regex_and_bsearch_on_a_records_file_at_80x24() {
    if !Tmux::available() {
        eprintln!("skipped: tmux is not installed (.ci/run installs it)");
        return;
    }
    let file = dir().join("records.bin");
    let st = Command::new(env!("CARGO_BIN_EXE_mmviz"))
        .args([
            "gen",
            file.to_str().unwrap(),
            "--records",
            "100000",
            "--force",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let bin = env!("CARGO_BIN_EXE_mmviz");
    let cmd = format!("{bin} {} ; echo EXIT=$?; sleep 60", file.display());
    let t = Tmux::start_sized("grepdef", &cmd, 80, 24);
    t.wait(20, "the running view", |s| {
        s.contains("running") && s.contains("1 cell =")
    });
    t.keys(&["8"]);
    // Every record's text holds "record" (six letters): the default regex matches each line.
    let s = t.wait(20, "grep with the default regex and a first match", |s| {
        s.contains("grep /[[:alpha:]]{6,}/") && s.contains("   offset ")
    });
    assert!(s.contains("the default regex"), "{s}");
    assert!(
        s.contains("offset             9  line         1  "),
        "the first record's \"record\", at offset 9 of line 1:\n{s}"
    );
    t.keys(&["9"]);
    let s = t.wait(20, "bsearch runs", |s| s.contains("pattern bsearch"));
    assert!(s.contains("bsearch 100,000 sorted records of 64 B"), "{s}");
    assert!(!s.contains("grep /"), "{s}");
    t.keys(&["q"]);
    t.wait(10, "exit status", |s| s.contains("EXIT=0"));

    // Started as bsearch on a file that is not one: a one-line error before the screen.
    let text = dir().join("not-records.bin");
    std::fs::write(&text, vec![b'x'; 64 * 1000]).unwrap();
    let cmd = format!(
        "{bin} {} --pattern bsearch; echo EXIT=$?; sleep 60",
        text.display()
    );
    let t = Tmux::start_sized("bsbad", &cmd, 80, 24);
    t.wait(10, "exit status", |s| s.contains("EXIT=2"));
    // One line, wrapped by the 80-column terminal wherever the path's length puts the wrap.
    let s = t.capture_joined();
    let line = s
        .lines()
        .find(|l| l.starts_with("mmviz: "))
        .unwrap_or_else(|| panic!("an error line in\n{s}"));
    assert!(line.contains("is not a file of sorted records"), "{s}");
}
