//! A lesson's steps as recording entries (`mmviz lesson NAME --record FILE`, or `L` in a
//! recorded live view): one [`LessonStep`] when a step is entered and one each time a verdict
//! of its checks changes, so `mmviz replay` can jump to them. Measured values that move while
//! the verdict stays are not re-recorded: the recording's frames carry them.

use super::controller::{CheckState, Controller};
use crate::record::{CheckRecord, CheckVerdict, LessonStep};

/// Decides when the running lesson has something new to record.
#[derive(Debug, Default)]
pub struct StepLog {
    /// The lesson, the visit of a step (the controller's generation) and the verdicts last
    /// recorded for it.
    last: Option<(String, usize, Vec<&'static str>)>,
}

impl StepLog {
    /// The entry to record now, if the step was just entered or one of its verdicts changed.
    pub fn update(&mut self, c: &Controller) -> Option<LessonStep> {
        let words: Vec<&'static str> = c.check_states().iter().map(CheckState::word).collect();
        let key = (c.lesson().name.clone(), c.visit(), words);
        if self.last.as_ref() == Some(&key) {
            return None;
        }
        self.last = Some(key);
        Some(entry(c))
    }
}

/// The controller's current step as an entry.
pub fn entry(c: &Controller) -> LessonStep {
    let i = c.step_index();
    let step = &c.lesson().steps[i];
    LessonStep {
        lesson: c.lesson().name.clone(),
        index: i as u32,
        title: step.title.clone(),
        checks: step
            .checks
            .iter()
            .zip(c.check_states())
            .map(|(ch, st)| {
                let (verdict, measured, note) = match st {
                    CheckState::Pending => (CheckVerdict::Pending, None, None),
                    CheckState::Pass { measured } => {
                        (CheckVerdict::Pass, Some(measured.clone()), None)
                    }
                    CheckState::Fail { measured } => (
                        CheckVerdict::Fail,
                        Some(measured.clone()),
                        Some(ch.otherwise.clone()),
                    ),
                    CheckState::NotMeasured { why } => {
                        (CheckVerdict::NotMeasured, None, Some(why.clone()))
                    }
                    CheckState::NotApplicable { why } => {
                        (CheckVerdict::NotApplicable, None, Some(why.clone()))
                    }
                    CheckState::Skipped { why } => (CheckVerdict::Skipped, None, Some(why.clone())),
                };
                CheckRecord {
                    check: ch.expect.to_string(),
                    verdict,
                    measured,
                    note,
                }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lesson::file::parse;
    use crate::session::snapshot::{LogEntry, Snapshot};
    use std::path::PathBuf;
    use std::time::Instant;

    #[test]
    fn a_step_is_recorded_when_entered_and_when_a_verdict_changes() {
        let src = "title = \"T\"\nduration_min = 1\n\
            [[step]]\ntitle = \"cold\"\nnarrative = \"n\"\nsettle_s = 0\n\
            [[step.check]]\nexpect = \"faults.major_total >= 1\"\notherwise = \"nothing was read\"\n\
            [[step.check]]\nexpect = \"faults.newly_cached >= 1\"\notherwise = \"x\"\n\
            [[step]]\ntitle = \"warm\"\nnarrative = \"n\"\nsetup = [{ action = \"warm\" }]\n\
            [[step.check]]\nexpect = \"faults.major_total == 0\"\notherwise = \"y\"\n";
        let l = parse("t", "t.toml", src).unwrap();
        let mut c = Controller::new(l, PathBuf::from("/nonexistent"), PathBuf::from("mmviz"));
        let mut log = StepLog::default();
        let mut snap = Snapshot::default();
        let now = Instant::now();
        // Entered: every check pending.
        let e = log.update(&c).expect("the step entered");
        assert_eq!(
            (e.lesson.as_str(), e.index, e.title.as_str()),
            ("t", 0, "cold")
        );
        assert!(e.checks.iter().all(|k| k.verdict == CheckVerdict::Pending));
        assert_eq!(log.update(&c), None, "nothing changed");
        // Judged: 0 majors fails (with the lesson's reason), newly_cached null is not measured.
        snap.faults.newly_cached = None;
        c.tick(&snap, now);
        let e = log.update(&c).expect("verdicts changed");
        assert_eq!(e.checks[0].check, "faults.major_total >= 1");
        assert_eq!(e.checks[0].verdict, CheckVerdict::Fail);
        assert_eq!(e.checks[0].measured, Some(0.into()));
        assert_eq!(e.checks[0].note.as_deref(), Some("nothing was read"));
        assert_eq!(e.checks[1].verdict, CheckVerdict::NotMeasured);
        assert_eq!(e.checks[1].measured, None);
        assert!(e.checks[1].note.as_deref().is_some_and(|n| !n.is_empty()));
        // The measured value moves, the verdict stays: nothing new.
        snap.seq = 1;
        snap.faults.major_total = 0;
        c.tick(&snap, now + std::time::Duration::from_secs(1));
        assert_eq!(log.update(&c), None);
        snap.seq = 2;
        snap.faults.major_total = 3;
        c.tick(&snap, now + std::time::Duration::from_secs(2));
        let e = log.update(&c).expect("turned green");
        assert_eq!(
            (e.checks[0].verdict, e.checks[0].measured.clone()),
            (CheckVerdict::Pass, Some(3.into()))
        );
        // The next step, and the same step visited again, are entries of their own.
        c.go(1);
        assert_eq!(log.update(&c).map(|e| e.index), Some(1));
        c.go(0);
        assert_eq!(log.update(&c).map(|e| e.index), Some(0));
        c.go(1);
        let e = log.update(&c).expect("step 2 again");
        assert_eq!(e.checks[0].verdict, CheckVerdict::Pending);
        snap.events.push(LogEntry {
            t_ms: 1,
            text: "warmed".into(),
        });
        assert_eq!(log.update(&c), None, "set-up running, nothing judged");
    }
}
