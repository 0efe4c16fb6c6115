//! `mmviz lesson list` through the built binary: the compiled-in lessons, a teacher's own
//! directory, and a broken lesson file reported with its file and line (exit 2).

mod common;

use common::{mmviz, scratch_dir};

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
