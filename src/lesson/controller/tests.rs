use super::*;
use crate::lesson::file::parse;
use serde_json::json;

fn lc(expect: &str, applies: Option<&str>) -> LessonCheck {
    LessonCheck {
        expect: Check::parse(expect).unwrap(),
        otherwise: "why".into(),
        applies_if: applies.map(|a| Check::parse(a).unwrap()),
        not_applicable: None,
    }
}

#[test]
fn judging_table() {
    let f = json!({
        "faults": {"major_total": 2, "newly_cached": null},
        "file": {"filesystem": {"can_evict": false}},
        "probe": {"second": {"major_faults": 0}},
    });
    let t = |e: &str, a: Option<&str>| judge_one(&lc(e, a), &f).word();
    assert_eq!(t("faults.major_total >= 1", None), "pass");
    assert_eq!(t("faults.major_total == 0", None), "fail");
    assert_eq!(t("faults.newly_cached >= 1", None), "not_measured");
    assert_eq!(
        t(
            "faults.major_total == 0",
            Some("file.filesystem.can_evict == true")
        ),
        "not_applicable"
    );
    assert_eq!(t("probe.second.major_faults == 0", None), "pass");
    // Not applicable: the condition with both sides measured, and the lesson's reason.
    let mut c = lc(
        "faults.major_total == 0",
        Some("probe.second.major_faults == $faults.major_total"),
    );
    c.not_applicable = Some("pages were evicted".into());
    assert_eq!(
        judge_one(&c, &f),
        CheckState::NotApplicable {
            why: "it needs probe.second.major_faults == $faults.major_total, measured 0 vs 2: \
                  pages were evicted"
                .into()
        }
    );
    // The probe ran, but its JSON has no such key: a fail, never "not measured".
    assert_eq!(t("probe.second.majors == 0", None), "fail");
    // The probe has not answered yet.
    assert_eq!(t("probe.third.x == 0", None), "pending");
}

#[test]
fn a_probe_after_an_evict_waits_for_the_evict_result() {
    let src = "title = \"T\"\nduration_min = 1\n[[step]]\ntitle = \"s\"\nnarrative = \"n\"\nsetup = [{ action = \"pause\" }, { action = \"evict\" }, { action = \"probe\", name = \"first\", command = \"run\" }]\n";
    let l = parse("t", "t.toml", src).unwrap();
    let mut c = Controller::new(l, PathBuf::from("/nonexistent"), PathBuf::from("mmviz"));
    let mut snap = Snapshot {
        t_ms: 100,
        ..Default::default()
    };
    // An evict of an earlier step does not count.
    snap.events.push(crate::session::snapshot::LogEntry {
        t_ms: 40,
        text: "evicted: 2048 -> 0 pages cached".into(),
    });
    let now = Instant::now();
    assert_eq!(c.tick(&snap, now), vec![Command::Pause, Command::Evict]);
    assert_eq!(c.view(now).status, "setting up: evicting the file…");
    assert!(
        c.tick(&snap, now).is_empty(),
        "no probe before the evict's result"
    );
    snap.t_ms = 180;
    snap.events.push(crate::session::snapshot::LogEntry {
        t_ms: 170,
        text: "evict: 2048 -> 3 pages cached; 3 are dirty".into(),
    });
    let out = c.tick(&snap, now);
    assert!(
        matches!(&out[..], [Command::Note { text }] if text.starts_with("lesson probe first: ")),
        "{out:?}"
    );
}

#[test]
fn setup_issues_actions_in_order_and_waits_for_the_warm_pass() {
    let src = "title = \"T\"\nduration_min = 1\n[[step]]\ntitle = \"s\"\nnarrative = \"n\"\nsettle_s = 0\nsetup = [{ action = \"pause\" }, { action = \"warm\" }, { action = \"rate\", rate = 5 }]\n[[step.check]]\nexpect = \"faults.major_total == 0\"\notherwise = \"x\"\n";
    let l = parse("t", "t.toml", src).unwrap();
    let mut c = Controller::new(l, PathBuf::from("/nonexistent"), PathBuf::from("mmviz"));
    let mut snap = Snapshot::default();
    let now = Instant::now();
    let out = c.tick(&snap, now);
    assert_eq!(out, vec![Command::Pause, Command::Warm]);
    assert_eq!(c.view(now).checks[0].state, CheckState::Pending);
    // Still warming: nothing more.
    assert!(c.tick(&snap, now).is_empty());
    snap.t_ms = 50;
    snap.events.push(crate::session::snapshot::LogEntry {
        t_ms: 40,
        text: "warmed: read 1 MiB".into(),
    });
    let out = c.tick(&snap, now);
    assert_eq!(out[0], Command::SetRate { rate: Some(5) });
    // Judged (settle 0) and logged once.
    assert!(
        matches!(&out[1], Command::Note { text } if text.contains("faults.major_total == 0 -> measured 0")),
        "{out:?}"
    );
    assert!(c.tick(&snap, now).is_empty());
    assert!(c.step_done(now));
}
