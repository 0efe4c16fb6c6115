//! Running a lesson against a live session: the one state machine the TUI and the headless
//! pre-flight (`lesson NAME --check`) both drive. It turns a step's set-up actions into session
//! [`Command`]s one at a time (waiting where an action needs the kernel's answer first: a warm
//! pass, a comparison, a probe process, single accesses), then judges the step's checks on
//! every snapshot once the step has settled. No terminal code; the TUI renders [`LessonView`].

use super::check::{Check, Verdict};
use super::file::{Action, Lesson, LessonCheck};
use super::probe::{self, ProbeResult};
use crate::session::snapshot::{Command, ComparisonState, Snapshot};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

/// A set-up action waiting for the kernel longer than this is given up (the step says so).
const WAIT_LIMIT: Duration = Duration::from_secs(180);

/// Where a check stands.
#[derive(Clone, Debug, PartialEq)]
pub enum CheckState {
    /// Not judged yet (set-up running or the step settling).
    Pending,
    Pass {
        measured: Value,
    },
    Fail {
        measured: Value,
    },
    /// The kernel did not give the field here (null): neither pass nor fail.
    NotMeasured {
        why: String,
    },
    /// `applies_if` does not hold on this machine.
    NotApplicable {
        why: String,
    },
    /// The step was skipped (a slow step in the pre-flight).
    Skipped {
        why: String,
    },
}

impl CheckState {
    /// Passed, or honestly explained as not applicable here.
    pub fn ok(&self) -> bool {
        !matches!(self, CheckState::Pending | CheckState::Fail { .. })
    }
    /// The word `--check` prints and JSON carries.
    pub fn word(&self) -> &'static str {
        match self {
            CheckState::Pending => "pending",
            CheckState::Pass { .. } => "pass",
            CheckState::Fail { .. } => "fail",
            CheckState::NotMeasured { .. } => "not_measured",
            CheckState::NotApplicable { .. } => "not_applicable",
            CheckState::Skipped { .. } => "skipped",
        }
    }
}

/// One check as a screen or a report shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckView {
    pub expect: String,
    pub state: CheckState,
    /// Measured value or reason, one line: "measured 4096" / "measured 0: <otherwise>".
    pub detail: String,
}

/// Everything the narrative panel shows (owned, so the widget is a pure function of it).
#[derive(Clone, Debug, PartialEq)]
pub struct LessonView {
    pub lesson_title: String,
    pub step: usize,
    pub steps: usize,
    pub step_title: String,
    pub narrative: String,
    pub watch: Option<String>,
    /// "setting up: warm", "watching (judged in 0.4 s)", "judging live".
    pub status: String,
    pub checks: Vec<CheckView>,
}

/// What the set-up is waiting for before its next action.
#[derive(Debug)]
enum Wait {
    /// A warm pass: its "warmed"/"warm failed" event after this session time.
    Warm {
        after_ms: u64,
    },
    /// An evict: its result event after this session time. A probe started before it would
    /// read the file while the session still writes it back and drops it (then finds it
    /// cached, and the evict empties the cache after the probe filled it).
    Evict {
        after_ms: u64,
    },
    /// A comparison different from this one (Done or Failed).
    Compare {
        before: ComparisonState,
    },
    Probe {
        name: String,
    },
    /// Single accesses still to run; the session time after which the last one's "step:"
    /// event counts (the counters themselves may restart under a pattern switch).
    Access {
        left: u64,
        after_ms: u64,
        /// The first step waits a moment: a pattern switch or pause just sent must reach the
        /// worker first, or the step would be counted against the old counters.
        started: bool,
    },
}

pub struct Controller {
    lesson: Lesson,
    /// The lesson's file as the user gave it (opened read-only by every probe).
    file: PathBuf,
    exe: PathBuf,
    step: usize,
    queue: Vec<Action>,
    wait: Option<(Wait, Instant)>,
    /// When the last set-up action finished (None while setting up).
    ready_at: Option<Instant>,
    entered_at: Instant,
    states: Vec<CheckState>,
    /// What each check last logged, so the event log gets changes, not every tick.
    logged: Vec<Option<&'static str>>,
    probes: BTreeMap<String, Value>,
    probe_tx: Sender<(usize, ProbeResult)>,
    probe_rx: Receiver<(usize, ProbeResult)>,
    /// Bumped on every step change: a probe of an earlier visit is ignored.
    generation: usize,
    problem: Option<String>,
    /// The snapshot last judged and when (judging serializes it: not at every UI frame).
    judged: Option<(u64, Instant)>,
    /// The step was skipped: done at once.
    skipped: bool,
    /// The running probes' cancel flags (set on a step change and when the lesson ends).
    running: Vec<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl Drop for Controller {
    fn drop(&mut self) {
        self.cancel_probes();
    }
}

impl Controller {
    /// A lesson on `file` (the user's file; a write lesson's session maps its scratch copy).
    pub fn new(lesson: Lesson, file: PathBuf, exe: PathBuf) -> Controller {
        let (probe_tx, probe_rx) = mpsc::channel();
        let mut c = Controller {
            lesson,
            file,
            exe,
            step: 0,
            queue: Vec::new(),
            wait: None,
            ready_at: None,
            entered_at: Instant::now(),
            states: Vec::new(),
            logged: Vec::new(),
            probes: BTreeMap::new(),
            probe_tx,
            probe_rx,
            generation: 0,
            problem: None,
            judged: None,
            skipped: false,
            running: Vec::new(),
        };
        c.go(0);
        c
    }

    pub fn lesson(&self) -> &Lesson {
        &self.lesson
    }

    pub fn step_index(&self) -> usize {
        self.step
    }

    /// Counts the visits of steps: changes whenever a step is entered (again).
    pub fn visit(&self) -> usize {
        self.generation
    }

    /// The current step's checks, in the lesson's order.
    pub fn check_states(&self) -> &[CheckState] {
        &self.states
    }

    fn cancel_probes(&mut self) {
        for c in self.running.drain(..) {
            c.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Enters step `i` (clamped): its set-up runs from the next [`Controller::tick`].
    pub fn go(&mut self, i: usize) {
        self.cancel_probes();
        let i = i.min(self.lesson.steps.len().saturating_sub(1));
        self.step = i;
        self.generation += 1;
        let s = &self.lesson.steps[i];
        self.queue = s.setup.iter().rev().cloned().collect();
        self.wait = None;
        self.ready_at = None;
        self.entered_at = Instant::now();
        self.states = vec![CheckState::Pending; s.checks.len()];
        self.logged = vec![None; s.checks.len()];
        self.problem = None;
        self.judged = None;
        self.skipped = false;
        // A probe of this step runs again; those of earlier steps stay for its checks.
        for a in &s.setup {
            if let Action::Probe { name, .. } = a {
                self.probes.remove(name);
            }
        }
    }

    /// Marks the step skipped (every check explained by `why`), without running its set-up.
    pub fn skip(&mut self, why: &str) {
        self.skipped = true;
        self.queue.clear();
        self.wait = None;
        self.ready_at = Some(Instant::now());
        for s in &mut self.states {
            *s = CheckState::Skipped { why: why.into() };
        }
    }

    /// The `.` key in a lesson: exactly one access (paused; at <= 10/s a step is one access).
    pub fn one_access(snap: &Snapshot) -> Vec<Command> {
        let mut v = vec![Command::Pause];
        if snap.worker.rate.map_or(true, |r| r > 10) {
            v.push(Command::SetRate { rate: Some(10) });
        }
        v.push(Command::Step);
        v
    }

    /// Advances the set-up and judges the checks against `snap`; returns the commands to
    /// send to the session (set-up actions and event-log notes).
    pub fn tick(&mut self, snap: &Snapshot, now: Instant) -> Vec<Command> {
        let mut out = Vec::new();
        while let Ok((generation, r)) = self.probe_rx.try_recv() {
            if generation == self.generation {
                out.push(Command::Note {
                    text: format!("lesson probe {}: {}", r.name, r.summary),
                });
                self.probes.insert(r.name, r.json);
            }
        }
        self.advance(snap, now, &mut out);
        if self.ready_at.is_some() {
            self.judge(snap, now, &mut out);
        }
        out
    }

    fn advance(&mut self, snap: &Snapshot, now: Instant, out: &mut Vec<Command>) {
        loop {
            if let Some((w, since)) = &mut self.wait {
                let done = match w {
                    Wait::Warm { after_ms } => snap.events.iter().any(|e| {
                        e.t_ms >= *after_ms
                            && (e.text.starts_with("warmed") || e.text.starts_with("warm failed"))
                    }),
                    Wait::Evict { after_ms } => snap.events.iter().any(|e| {
                        e.t_ms >= *after_ms
                            && ["evicted:", "evict:", "evict requested", "evict failed"]
                                .iter()
                                .any(|p| e.text.starts_with(p))
                    }),
                    Wait::Compare { before } => {
                        snap.comparison != *before
                            && matches!(
                                snap.comparison,
                                ComparisonState::Done(_) | ComparisonState::Failed { .. }
                            )
                    }
                    Wait::Probe { name } => self.probes.contains_key(name.as_str()),
                    Wait::Access {
                        started: started @ false,
                        ..
                    } => {
                        if now.duration_since(*since) >= Duration::from_millis(300) {
                            *started = true;
                            out.push(Command::Step);
                        }
                        false
                    }
                    Wait::Access { left, after_ms, .. } => {
                        let done = snap
                            .events
                            .iter()
                            .filter(|e| e.t_ms > *after_ms && e.text.starts_with("step:"))
                            .map(|e| e.t_ms)
                            .max();
                        if let Some(t) = done {
                            *left -= 1;
                            *after_ms = t;
                            if *left > 0 {
                                out.push(Command::Step);
                            }
                        }
                        *left == 0
                    }
                };
                if !done && now.duration_since(*since) > WAIT_LIMIT {
                    self.problem = Some(format!("gave up waiting for {w:?}"));
                } else if !done {
                    return;
                }
                self.wait = None;
            }
            let Some(a) = self.queue.pop() else {
                if self.ready_at.is_none() {
                    self.ready_at = Some(now);
                }
                return;
            };
            self.issue(a, snap, now, out);
        }
    }

    fn issue(&mut self, a: Action, snap: &Snapshot, now: Instant, out: &mut Vec<Command>) {
        match a {
            Action::Evict => {
                out.push(Command::Evict);
                self.wait = Some((
                    Wait::Evict {
                        after_ms: snap.t_ms,
                    },
                    now,
                ));
            }
            Action::Warm { fill } => {
                out.push(if fill.as_deref() == Some("random") {
                    Command::WarmRandom
                } else {
                    Command::Warm
                });
                self.wait = Some((
                    Wait::Warm {
                        after_ms: snap.t_ms,
                    },
                    now,
                ));
            }
            Action::Advice { advice } => {
                if let Ok(advice) = advice.parse() {
                    out.push(Command::SetAdvice { advice });
                }
            }
            Action::Pattern {
                pattern,
                regex,
                max_matches,
            } => match regex {
                Some(regex) => out.push(Command::SetGrep { regex, max_matches }),
                None => {
                    if let Ok(pattern) = pattern.parse() {
                        out.push(Command::SetPattern { pattern });
                    }
                }
            },
            Action::Rate { rate } => out.push(Command::SetRate {
                rate: rate.as_integer().map(|n| n as u64),
            }),
            Action::Pause => out.push(Command::Pause),
            Action::Resume => out.push(Command::Resume),
            Action::Reset => out.push(Command::Reset),
            Action::AddWorker => out.push(Command::AddWorkload),
            Action::Access { count } => {
                // Pause and slow down now; the first step follows once they took effect.
                out.extend(
                    Controller::one_access(snap)
                        .into_iter()
                        .filter(|c| *c != Command::Step),
                );
                self.wait = Some((
                    Wait::Access {
                        left: count.unwrap_or(1),
                        after_ms: snap.t_ms,
                        started: false,
                    },
                    now,
                ));
            }
            Action::Msync { sync } => out.push(Command::Msync { sync }),
            Action::Compare { cache } => {
                if let Ok(cache) = cache.parse() {
                    out.push(Command::SetCompareCache { cache });
                    out.push(Command::Compare);
                    self.wait = Some((
                        Wait::Compare {
                            before: snap.comparison.clone(),
                        },
                        now,
                    ));
                }
            }
            Action::Truncate { fraction } => {
                let text = match probe::truncate_scratch(snap, fraction) {
                    Ok(t) => t,
                    Err(e) => {
                        self.problem = Some(e.clone());
                        e
                    }
                };
                out.push(Command::Note { text });
            }
            Action::Probe {
                name,
                command,
                args,
                size,
                sparse,
            } => {
                // A write lesson's probes read its scratch copy; otherwise the user's file,
                // opened read-only by the probe like every mmviz command.
                let file = match &snap.file.write {
                    Some(w) => PathBuf::from(&w.scratch),
                    None => self.file.clone(),
                };
                let job = probe::Job {
                    name: name.clone(),
                    exe: self.exe.clone(),
                    command,
                    file,
                    args,
                    size: size.and_then(|s| crate::units::parse_size(&s).ok()),
                    sparse: sparse.unwrap_or(false),
                    cancel: Default::default(),
                };
                self.running.push(job.cancel.clone());
                out.push(Command::Note {
                    text: format!("lesson probe {name}: {}", job.command_line()),
                });
                let tx = self.probe_tx.clone();
                let generation = self.generation;
                let spawned = std::thread::Builder::new()
                    .name("mmviz-lesson-probe".into())
                    .spawn(move || {
                        let _ = tx.send((generation, job.run()));
                    });
                match spawned {
                    Ok(_) => self.wait = Some((Wait::Probe { name }, now)),
                    Err(e) => self.problem = Some(format!("probe {name}: {e}")),
                }
            }
        }
    }

    /// The JSON the checks read: the snapshot's fields (as `watch --json` prints them) and
    /// the probes' results under `probe`.
    fn facts(&self, snap: &Snapshot) -> Value {
        let mut v = serde_json::to_value(snap).unwrap_or(Value::Null);
        if let Some(o) = v.as_object_mut() {
            o.remove("grid");
            let probes: serde_json::Map<String, Value> = self
                .probes
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            o.insert("probe".into(), Value::Object(probes));
        }
        v
    }

    fn judge(&mut self, snap: &Snapshot, now: Instant, out: &mut Vec<Command>) {
        let settle = Duration::from_secs_f64(self.lesson.steps[self.step].settle_s);
        let Some(ready) = self.ready_at else { return };
        if now.duration_since(ready) < settle {
            return;
        }
        if self.judged.is_some_and(|(seq, at)| {
            seq == snap.seq && now.duration_since(at) < Duration::from_millis(250)
        }) {
            return;
        }
        self.judged = Some((snap.seq, now));
        let facts = self.facts(snap);
        let step = &self.lesson.steps[self.step];
        for (i, c) in step.checks.iter().enumerate() {
            if matches!(self.states[i], CheckState::Skipped { .. }) {
                continue;
            }
            let st = judge_one(c, &facts);
            let word = st.word();
            if self.logged[i] != Some(word) && st != CheckState::Pending {
                self.logged[i] = Some(word);
                out.push(Command::Note {
                    text: format!(
                        "lesson check {}: {} -> {}",
                        self.step + 1,
                        c.expect,
                        detail(c, &st)
                    ),
                });
            }
            self.states[i] = st;
        }
    }

    /// The step's checks are all judged ok (pass or explained), or it timed out.
    pub fn step_done(&self, now: Instant) -> bool {
        if self.skipped {
            return true;
        }
        let Some(ready) = self.ready_at else {
            return self.problem.is_some();
        };
        let step = &self.lesson.steps[self.step];
        let judged = now.duration_since(ready) >= Duration::from_secs_f64(step.settle_s);
        let all_ok = self.states.iter().all(CheckState::ok);
        (judged && all_ok)
            || now.duration_since(ready) >= Duration::from_secs_f64(step.timeout_s)
            || self.problem.is_some()
    }

    /// Why the set-up could not finish, if it could not.
    pub fn problem(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    pub fn view(&self, now: Instant) -> LessonView {
        let step = &self.lesson.steps[self.step];
        let status = if let Some(p) = &self.problem {
            format!("set-up failed: {p}")
        } else if let Some((w, _)) = &self.wait {
            match w {
                Wait::Warm { .. } => "setting up: warming the cache…".into(),
                Wait::Evict { .. } => "setting up: evicting the file…".into(),
                Wait::Compare { .. } => "setting up: comparing mmap with read()…".into(),
                Wait::Probe { name } => format!("setting up: probe {name} running…"),
                Wait::Access { left, .. } => format!("setting up: {left} access(es) to go"),
            }
        } else if let Some(r) = self.ready_at {
            let left = step.settle_s - now.duration_since(r).as_secs_f64();
            if left > 0.0 {
                format!("watching: judged in {left:.1} s")
            } else {
                "checks judged live".into()
            }
        } else {
            "setting up…".into()
        };
        LessonView {
            lesson_title: self.lesson.title.clone(),
            step: self.step,
            steps: self.lesson.steps.len(),
            step_title: step.title.clone(),
            narrative: step.narrative.clone(),
            watch: step.watch.clone(),
            status,
            checks: step
                .checks
                .iter()
                .zip(&self.states)
                .map(|(c, st)| CheckView {
                    expect: c.expect.to_string(),
                    state: st.clone(),
                    detail: detail(c, st),
                })
                .collect(),
        }
    }

    /// How long the step has been running (for reports).
    pub fn step_elapsed(&self, now: Instant) -> Duration {
        now.duration_since(self.entered_at)
    }
}

/// Judges one check against the facts: `applies_if` first, then the claim. A probe field that
/// is absent (the probe ran, the key is not in its JSON) is a fail, not "not measured": it is
/// a typo or a changed format, never the kernel hiding something.
fn judge_one(c: &LessonCheck, facts: &Value) -> CheckState {
    let missing = |path: &[String]| {
        path.first().is_some_and(|p| p == "probe")
            && facts.get("probe").and_then(|p| p.get(&path[1])).is_none()
    };
    let probe_pending =
        |ch: &Check| missing(&ch.path) || ch.reference.as_deref().is_some_and(missing);
    if probe_pending(&c.expect) || c.applies_if.as_ref().is_some_and(probe_pending) {
        return CheckState::Pending;
    }
    if let Some(cond) = &c.applies_if {
        match cond.eval(facts) {
            Verdict::Pass { .. } => {}
            Verdict::Fail { measured } => {
                let other = cond.reference.as_ref().and_then(|r| lookup(facts, r));
                let because = c
                    .not_applicable
                    .as_ref()
                    .map_or(String::new(), |s| format!(": {s}"));
                return CheckState::NotApplicable {
                    why: format!(
                        "it needs {cond}, measured {}{}{because}",
                        show(&measured),
                        other.map_or(String::new(), |o| format!(" vs {}", show(o)))
                    ),
                };
            }
            Verdict::NotMeasured { why } => return CheckState::NotApplicable { why },
        }
    }
    // A comparison with another field shows both sides.
    let both = |m: Value| match c.expect.reference.as_ref().and_then(|r| lookup(facts, r)) {
        Some(other) => Value::String(format!("{} vs {}", show(&m), show(other))),
        None => m,
    };
    match c.expect.eval(facts) {
        Verdict::Pass { measured } => CheckState::Pass {
            measured: both(measured),
        },
        Verdict::Fail { measured } => CheckState::Fail {
            measured: both(measured),
        },
        Verdict::NotMeasured { why } => {
            if c.expect.path.first().is_some_and(|p| p == "probe") && !exists(facts, &c.expect.path)
            {
                CheckState::Fail {
                    measured: Value::String("absent".into()),
                }
            } else {
                CheckState::NotMeasured { why }
            }
        }
    }
}

fn lookup<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut v = v;
    for k in path {
        v = match v {
            Value::Object(m) => m.get(k)?,
            Value::Array(a) => a.get(k.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(v)
}

/// A measured value as one short word: integers as they are, fractions with two decimals.
fn show(v: &Value) -> String {
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() != 0.0 => format!("{f:.2}"),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

fn exists(v: &Value, path: &[String]) -> bool {
    let mut v = v;
    for k in path {
        v = match v {
            Value::Object(m) => match m.get(k) {
                Some(x) => x,
                None => return false,
            },
            Value::Array(a) => match k.parse::<usize>().ok().and_then(|i| a.get(i)) {
                Some(x) => x,
                None => return false,
            },
            _ => return false,
        };
    }
    true
}

/// One line: "measured 4096", "measured 0 — <otherwise>", "not applicable here: …".
fn detail(c: &LessonCheck, st: &CheckState) -> String {
    match st {
        CheckState::Pending => "not judged yet".into(),
        CheckState::Pass { measured } => format!("measured {}", show(measured)),
        CheckState::Fail { measured } => {
            format!("measured {}; {}", show(measured), c.otherwise)
        }
        CheckState::NotMeasured { why } => format!("{why}; {}", c.otherwise),
        CheckState::NotApplicable { why } => format!("not applicable here: {why}"),
        CheckState::Skipped { why } => format!("skipped: {why}"),
    }
}

#[cfg(test)]
mod tests;
