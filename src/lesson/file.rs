//! Lesson files: TOML, one per lesson, validated strictly. An unknown key, a bad action or a
//! check that does not parse or names a field the snapshot does not have is an error naming
//! the file and the line, so a teacher's typo is found before class, not during it.
//!
//! ```toml
//! title = "Demand paging"
//! duration_min = 8
//!
//! [[step]]
//! title = "First touch"
//! narrative = """
//! Nothing of the file is in memory yet.
//! The first access waits for the disk: a major fault."""
//! setup = [{ action = "evict" }, { action = "pattern", pattern = "sequential" }]
//! watch = "the faults panel"
//!
//! [[step.check]]
//! expect = "faults.major_total >= 1"
//! otherwise = "a warm cache gives minor faults only"
//! ```

use super::check::Check;
use crate::kernel::advice::Advice;
use crate::workload::patterns::PatternKind;
use serde::Deserialize;
use std::path::Path;
use toml::Spanned;

/// Most lines of a step's narrative (it sits beside the grid on an 80x24 screen).
pub const NARRATIVE_MAX_LINES: usize = 5;

/// The lessons compiled into the binary: (name = file stem, TOML text).
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "demand-paging",
        include_str!("../../assets/lessons/demand-paging.toml"),
    ),
    (
        "second-pass",
        include_str!("../../assets/lessons/second-pass.toml"),
    ),
    ("search", include_str!("../../assets/lessons/search.toml")),
    (
        "readahead",
        include_str!("../../assets/lessons/readahead.toml"),
    ),
    (
        "mmap-vs-read",
        include_str!("../../assets/lessons/mmap-vs-read.toml"),
    ),
    (
        "shared-cache",
        include_str!("../../assets/lessons/shared-cache.toml"),
    ),
    ("ipc", include_str!("../../assets/lessons/ipc.toml")),
    (
        "durability",
        include_str!("../../assets/lessons/durability.toml"),
    ),
    (
        "copy-on-write",
        include_str!("../../assets/lessons/copy-on-write.toml"),
    ),
    ("sigbus", include_str!("../../assets/lessons/sigbus.toml")),
    (
        "address-space",
        include_str!("../../assets/lessons/address-space.toml"),
    ),
];

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLesson {
    title: String,
    duration_min: u32,
    /// The lesson maps a scratch copy writable: "shared" or "private" (never the user's file).
    #[serde(default)]
    write: Option<Spanned<String>>,
    /// Share of accesses that store, 0..1 (with `write`; default 1).
    #[serde(default)]
    write_share: Option<f64>,
    #[serde(rename = "step")]
    steps: Vec<RawStep>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    title: String,
    narrative: Spanned<String>,
    #[serde(default)]
    setup: Vec<Spanned<Action>>,
    #[serde(default)]
    watch: Option<String>,
    #[serde(default, rename = "check")]
    checks: Vec<RawCheck>,
    /// Seconds after the set-up before the checks are judged (default 1).
    #[serde(default)]
    settle_s: Option<f64>,
    /// Seconds the headless pre-flight waits for every check to pass (default 8).
    #[serde(default)]
    timeout_s: Option<f64>,
    /// Why this step is slow; `lesson --check` skips it with this reason unless `--slow`.
    #[serde(default)]
    slow: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    expect: Spanned<String>,
    /// What to say when the check fails: why this machine can behave differently.
    otherwise: String,
    /// A predicate that must hold for the claim to apply here (e.g. the filesystem can
    /// evict); when it does not, the check is "not applicable here", with `otherwise`.
    #[serde(default)]
    applies_if: Option<Spanned<String>>,
    /// Said after the condition and what was measured when `applies_if` does not hold: why
    /// the claim cannot be shown then (needs `applies_if`).
    #[serde(default)]
    not_applicable: Option<String>,
}

/// A set-up action of a step. Write mode is chosen per lesson (`write = "shared"`), a second
/// process and the address-space limit are `probe` actions (a headless `mmviz run` with its
/// JSON under `probe.NAME`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Evict the file from the page cache.
    Evict,
    /// Read the file into the cache: `fill` sequential (large folios, default) or random.
    Warm {
        #[serde(default)]
        fill: Option<String>,
    },
    Advice {
        advice: String,
    },
    Pattern {
        pattern: String,
        #[serde(default)]
        regex: Option<String>,
        #[serde(default)]
        max_matches: Option<u64>,
    },
    /// Accesses per second, or "max".
    Rate {
        rate: toml::Value,
    },
    Pause,
    Resume,
    /// Reset counters and restart the worker.
    Reset,
    /// Start another live worker on the same file (the `p` key; up to 4), selected: the
    /// top-level `worker` and `faults` are then its own, `workloads.N` each one's.
    AddWorker,
    /// Exactly `count` single accesses (the `.` key), the worker paused.
    Access {
        #[serde(default)]
        count: Option<u64>,
    },
    /// msync the mapping: MS_SYNC (`sync = true`) or MS_ASYNC (write lessons only).
    Msync {
        sync: bool,
    },
    /// The mmap-vs-read comparison from a cache state (cold, warm, as-is): `comparison.*`.
    Compare {
        cache: String,
    },
    /// Truncate the lesson's scratch copy to `fraction` of its size (write lessons only).
    Truncate {
        fraction: f64,
    },
    /// Run `mmviz COMMAND FILE ARGS --json` as a separate process (`run` or `bench`; `ipc`
    /// takes no file) and keep its JSON under `probe.NAME`. FILE is the lesson's file (its
    /// scratch copy in a write lesson), or a fresh scratch file of `size` (`sparse`: a hole).
    Probe {
        name: String,
        command: String,
        #[serde(default)]
        args: Vec<String>,
        #[serde(default)]
        size: Option<String>,
        #[serde(default)]
        sparse: Option<bool>,
    },
}

/// A validated lesson.
#[derive(Clone, Debug, PartialEq)]
pub struct Lesson {
    pub name: String,
    pub title: String,
    pub duration_min: u32,
    /// Write mode ("shared" or "private") and the share of accesses that store.
    pub write: Option<(crate::workload::worker::WriteMode, f64)>,
    pub steps: Vec<Step>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub title: String,
    pub narrative: String,
    pub setup: Vec<Action>,
    pub watch: Option<String>,
    pub checks: Vec<LessonCheck>,
    pub settle_s: f64,
    pub timeout_s: f64,
    pub slow: Option<String>,
}

/// One claim of a step: what is expected, why this machine can differ, where it applies.
#[derive(Clone, Debug, PartialEq)]
pub struct LessonCheck {
    pub expect: Check,
    pub otherwise: String,
    pub applies_if: Option<Check>,
    /// Why the claim cannot be shown when `applies_if` does not hold.
    pub not_applicable: Option<String>,
}

fn line_of(src: &str, offset: usize) -> usize {
    src[..offset.min(src.len())].matches('\n').count() + 1
}

/// Parses and validates one lesson; errors are `FILE:LINE: reason` on one line.
pub fn parse(name: &str, file: &str, src: &str) -> Result<Lesson, String> {
    let at = |off: usize, why: String| format!("{file}:{}: {why}", line_of(src, off));
    let raw: RawLesson = toml::from_str(src).map_err(|e| {
        let why = e.message().trim().replace('\n', " ");
        match e.span() {
            Some(s) => at(s.start, why),
            None => format!("{file}: {why}"),
        }
    })?;
    if raw.title.trim().is_empty() {
        return Err(format!("{file}: the lesson has an empty title"));
    }
    if raw.steps.is_empty() {
        return Err(format!("{file}: the lesson has no [[step]]"));
    }
    let mut known = serde_json::to_value(crate::session::fixture::fixture_snapshot())
        .map_err(|e| e.to_string())?;
    // Fields of the other shapes of tagged enums: a dead or stopped worker's reason.
    if let Some(st) = known
        .pointer_mut("/worker/state")
        .and_then(|v| v.as_object_mut())
    {
        st.entry("reason").or_insert(serde_json::Value::Null);
    }
    // `workloads` holds one entry per live worker (up to 4): the fixture has none.
    if let Some(w) = known
        .pointer_mut("/workloads")
        .and_then(|v| v.as_array_mut())
    {
        let one = serde_json::to_value(crate::session::snapshot::WorkloadView::default())
            .map_err(|e| e.to_string())?;
        w.resize(crate::session::MAX_WORKLOADS, one);
    }
    let write = match &raw.write {
        None => None,
        Some(w) => {
            let mode: crate::workload::worker::WriteMode = w
                .get_ref()
                .parse()
                .map_err(|e: String| at(w.span().start, e))?;
            let share = raw.write_share.unwrap_or(1.0);
            if !(0.0..=1.0).contains(&share) {
                return Err(at(
                    w.span().start,
                    format!("write_share {share} is not between 0 and 1"),
                ));
            }
            Some((mode, share))
        }
    };
    if raw.write.is_none() && raw.write_share.is_some() {
        return Err(format!(
            "{file}: write_share needs write = \"shared\" or \"private\""
        ));
    }
    let mut probes: Vec<String> = Vec::new();
    let mut steps = Vec::new();
    for s in raw.steps {
        let n = s.narrative.get_ref().trim().lines().count();
        if n == 0 || n > NARRATIVE_MAX_LINES {
            return Err(at(
                s.narrative.span().start,
                format!(
                    "step '{}': the narrative has {n} lines; give 1 to {NARRATIVE_MAX_LINES}",
                    s.title
                ),
            ));
        }
        let mut setup = Vec::new();
        for a in s.setup {
            let off = a.span().start;
            validate_action(a.get_ref(), write.is_some()).map_err(|e| at(off, e))?;
            if let Action::Probe { name, .. } = a.get_ref() {
                if probes.contains(name) {
                    return Err(at(off, format!("probe '{name}' is defined twice")));
                }
                probes.push(name.clone());
            }
            setup.push(a.into_inner());
        }
        let mut checks = Vec::new();
        let known_check = |text: &Spanned<String>, probes: &[String]| {
            let off = text.span().start;
            let check = Check::parse(text.get_ref()).map_err(|e| at(off, e))?;
            let known_path = |path: &[String]| match path.first().map(String::as_str) {
                Some("probe") => path.len() >= 3 && probes.contains(&path[1]),
                _ => path_exists(&known, path),
            };
            if let Some(r) = check.reference.as_ref().filter(|r| !known_path(r)) {
                return Err(at(
                    off,
                    format!(
                        "'${}' is not a field of the snapshot JSON or of an earlier probe",
                        r.join(".")
                    ),
                ));
            }
            let ok = known_path(&check.path);
            if !ok {
                let why = if check.path.first().is_some_and(|p| p == "probe") {
                    format!(
                        "'{}' names no probe of this or an earlier step (probe.NAME.FIELD)",
                        check.path.join(".")
                    )
                } else {
                    format!(
                        "'{}' is not a field of the snapshot JSON (as a --record recording stores it)",
                        check.path.join(".")
                    )
                };
                return Err(at(off, why));
            }
            Ok(check)
        };
        for c in s.checks {
            let expect = known_check(&c.expect, &probes)?;
            let applies_if = c
                .applies_if
                .as_ref()
                .map(|a| known_check(a, &probes))
                .transpose()?;
            if c.not_applicable.is_some() && applies_if.is_none() {
                return Err(at(
                    c.expect.span().start,
                    "not_applicable needs applies_if (the condition it explains)".into(),
                ));
            }
            checks.push(LessonCheck {
                expect,
                otherwise: c.otherwise,
                applies_if,
                not_applicable: c.not_applicable,
            });
        }
        let secs = |v: Option<f64>, default: f64, what: &str| match v {
            None => Ok(default),
            Some(x) if x.is_finite() && (0.0..=600.0).contains(&x) => Ok(x),
            Some(x) => Err(at(
                s.narrative.span().start,
                format!("step '{}': {what} {x} is not in 0..=600 seconds", s.title),
            )),
        };
        let settle_s = secs(s.settle_s, 1.0, "settle_s")?;
        let timeout_s = secs(s.timeout_s, 8.0, "timeout_s")?.max(settle_s);
        steps.push(Step {
            title: s.title,
            narrative: s.narrative.into_inner().trim().to_string(),
            setup,
            watch: s.watch,
            checks,
            settle_s,
            timeout_s,
            slow: s.slow,
        });
    }
    Ok(Lesson {
        name: name.to_string(),
        title: raw.title,
        duration_min: raw.duration_min,
        write,
        steps,
    })
}

/// Whether `path` names a key of the snapshot JSON (null values count: a field the kernel
/// may not give here is still a valid field). Array items are checked against the first.
fn path_exists(v: &serde_json::Value, path: &[String]) -> bool {
    let Some((k, rest)) = path.split_first() else {
        return true;
    };
    match v {
        serde_json::Value::Object(m) => m.get(k).is_some_and(|x| path_exists(x, rest)),
        serde_json::Value::Array(a) => {
            k.parse::<usize>().is_ok() && a.first().is_some_and(|x| path_exists(x, rest))
        }
        serde_json::Value::Null => true,
        _ => false,
    }
}

/// Commands a probe may run (read-only on the lesson's file, or on their own scratch copy).
pub const PROBE_COMMANDS: [&str; 3] = ["run", "bench", "ipc"];

fn validate_action(a: &Action, write: bool) -> Result<(), String> {
    match a {
        Action::Advice { advice } if advice == "hugepage" => {
            Err("advice hugepage is a start option, not a lesson action".into())
        }
        Action::Access { count: Some(0) } => Err("access count 0 runs nothing".into()),
        Action::Msync { .. } if !write => {
            Err("msync needs a write lesson (write = \"shared\" at the top)".into())
        }
        Action::Truncate { .. } if !write => Err(
            "truncate needs a write lesson (write = \"shared\" at the top): only a scratch copy is truncated"
                .into(),
        ),
        Action::Truncate { fraction } if !(*fraction >= 0.0 && *fraction < 1.0) => Err(format!(
            "truncate fraction {fraction} is not in 0..1 (the share of the copy kept)"
        )),
        Action::Compare { cache } => cache
            .parse::<crate::session::snapshot::CompareCache>()
            .map(|_| ()),
        Action::Probe {
            name,
            command,
            args,
            size,
            ..
        } => {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("probe name '{name}' is not a word like second_reader"));
            }
            if !PROBE_COMMANDS.contains(&command.as_str()) {
                return Err(format!(
                    "probe command '{command}' is not one of {}",
                    PROBE_COMMANDS.join(", ")
                ));
            }
            if let Some(a) = args.iter().find(|a| !a.starts_with('-') && !is_option_value(args, a)) {
                return Err(format!("probe argument '{a}' is not an option (the file is the lesson's)"));
            }
            if let Some(sz) = size {
                crate::units::parse_size(sz).map_err(|e| format!("probe size: {e}"))?;
            }
            Ok(())
        }
        Action::Warm { fill: Some(f) } if f != "sequential" && f != "random" => {
            Err(format!("warm fill '{f}' is not sequential or random"))
        }
        Action::Advice { advice } => advice.parse::<Advice>().map(|_| ()),
        Action::Pattern { pattern, regex, .. } => {
            let k: PatternKind = pattern.parse()?;
            match (k, regex) {
                (PatternKind::Grep, None) => Err("pattern grep needs a regex".into()),
                (PatternKind::Grep, Some(r)) => {
                    crate::workload::patterns::grep::compile(r).map(|_| ())
                }
                (_, Some(_)) => Err("regex applies only to pattern grep".into()),
                _ => Ok(()),
            }
        }
        Action::Rate { rate } => match rate {
            toml::Value::Integer(n) if *n > 0 => Ok(()),
            toml::Value::String(s) if s == "max" => Ok(()),
            other => Err(format!("rate {other} is not a positive number or \"max\"")),
        },
        _ => Ok(()),
    }
}

/// Whether `a` is the value of the option before it (`--pattern random`).
fn is_option_value(args: &[String], a: &str) -> bool {
    args.windows(2)
        .any(|w| w[1] == a && w[0].starts_with("--") && !w[0].contains('='))
}

/// Every built-in lesson, validated (a broken one is a bug caught by the tests).
pub fn builtin() -> Result<Vec<Lesson>, String> {
    BUILTIN
        .iter()
        .map(|(name, src)| parse(name, &format!("assets/lessons/{name}.toml"), src))
        .collect()
}

/// The built-in lessons plus a teacher's own `*.toml` files from `dir` (same name: theirs).
pub fn all(dir: Option<&Path>) -> Result<Vec<Lesson>, String> {
    let mut v = builtin()?;
    let Some(dir) = dir else {
        return Ok(v);
    };
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    for p in files {
        let name = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let src = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        let l = parse(&name, &p.display().to_string(), &src)?;
        v.retain(|x| x.name != name);
        v.push(l);
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_lesson_validates_and_every_asset_is_built_in() {
        let all = builtin().unwrap();
        assert_eq!(all.len(), BUILTIN.len());
        for l in &all {
            assert!(!l.steps.is_empty() && l.duration_min > 0, "{}", l.name);
        }
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/lessons");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let mut built: Vec<String> = BUILTIN.iter().map(|(n, _)| n.to_string()).collect();
        built.sort();
        assert_eq!(on_disk, built, "every assets/lessons/*.toml is compiled in");
    }

    #[test]
    fn strict_validation_names_file_and_line() {
        let good = "title = \"T\"\nduration_min = 3\n\n[[step]]\ntitle = \"s\"\nnarrative = \"one line\"\n\n[[step.check]]\nexpect = \"faults.major_total >= 1\"\notherwise = \"x\"\n";
        assert!(parse("t", "t.toml", good).is_ok());
        let table: &[(&str, &str, &str)] = &[
            (
                "duration_min = 3",
                "duration_min = 3\ncolour = 1",
                "t.toml:3: unknown field `colour`",
            ),
            (
                "faults.major_total >= 1",
                "faults.major_total >> 1",
                "t.toml:9:",
            ),
            (
                "faults.major_total >= 1",
                "faults.majors >= 1",
                "t.toml:9: 'faults.majors' is not a field",
            ),
            (
                "otherwise = \"x\"",
                "otherwise = \"x\"\nnot_applicable = \"y\"",
                "t.toml:9: not_applicable needs applies_if",
            ),
            (
                "narrative = \"one line\"",
                "narrative = \"\"",
                "t.toml:6: step 's': the narrative has 0 lines",
            ),
            (
                "narrative = \"one line\"",
                "narrative = \"one line\"\nsetup = [{ action = \"explode\" }]",
                "t.toml:7: unknown variant `explode`",
            ),
            (
                "narrative = \"one line\"",
                "narrative = \"one line\"\nsetup = [{ action = \"truncate\", fraction = 0.5 }]",
                "t.toml:7: truncate needs a write lesson",
            ),
            (
                "narrative = \"one line\"",
                "narrative = \"one line\"\nsetup = [{ action = \"msync\", sync = true }]",
                "t.toml:7: msync needs a write lesson",
            ),
            (
                "narrative = \"one line\"",
                "narrative = \"one line\"\nsetup = [{ action = \"probe\", name = \"x\", command = \"rm\" }]",
                "t.toml:7: probe command 'rm' is not one of run, bench, ipc",
            ),
            (
                "narrative = \"one line\"",
                "narrative = \"one line\"\nsetup = [{ action = \"probe\", name = \"x\", command = \"run\", args = [\"/etc/passwd\"] }]",
                "t.toml:7: probe argument '/etc/passwd' is not an option",
            ),
            (
                "narrative = \"one line\"",
                "narrative = \"one line\"\nsetup = [{ action = \"compare\", cache = \"lukewarm\" }]",
                "t.toml:7: comparison cache 'lukewarm'",
            ),
            (
                "faults.major_total >= 1",
                "probe.nope.major_faults >= 1",
                "t.toml:9: 'probe.nope.major_faults' names no probe",
            ),
            (
                "faults.major_total >= 1",
                "faults.major_total >= $faults.nope",
                "t.toml:9: '$faults.nope' is not a field",
            ),
            (
                "otherwise = \"x\"",
                "otherwise = \"x\"\napplies_if = \"file.nope == true\"",
                "t.toml:11: 'file.nope' is not a field",
            ),
            (
                "duration_min = 3",
                "duration_min = 3\nwrite = \"sideways\"",
                "t.toml:3:",
            ),
            (
                "duration_min = 3",
                "duration_min = 3\nwrite_share = 0.5",
                "t.toml: write_share needs write",
            ),
            (
                "narrative = \"one line\"",
                "narrative = \"one line\"\nsetup = [{ action = \"advice\", advice = \"fast\" }]",
                "t.toml:7: unknown advice",
            ),
            (
                "narrative = \"one line\"",
                "narrative = \"one line\"\nsetup = [{ action = \"pattern\", pattern = \"grep\" }]",
                "t.toml:7: pattern grep needs a regex",
            ),
            (
                "narrative = \"one line\"",
                "narrative = \"one line\"\nsetup = [{ action = \"rate\", rate = 0 }]",
                "t.toml:7: rate 0",
            ),
        ];
        for (from, to, want) in table {
            let src = good.replacen(from, to, 1);
            let e = parse("t", "t.toml", &src).unwrap_err();
            assert!(e.starts_with(want), "{e:?} should start with {want:?}");
            assert!(!e.contains('\n'), "{e:?}");
        }
        assert!(parse("t", "t.toml", "title = \"T\"\nduration_min = 1\n")
            .unwrap_err()
            .contains("missing field `step`"));
    }

    #[test]
    fn a_teachers_directory_adds_and_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let own =
            "title = \"Mine\"\nduration_min = 2\n[[step]]\ntitle = \"a\"\nnarrative = \"n\"\n";
        std::fs::write(dir.path().join("mine.toml"), own).unwrap();
        std::fs::write(dir.path().join("search.toml"), own).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        let v = all(Some(dir.path())).unwrap();
        assert_eq!(v.len(), BUILTIN.len() + 1);
        assert_eq!(v.iter().find(|l| l.name == "search").unwrap().title, "Mine");
        std::fs::write(dir.path().join("bad.toml"), "title = 1\n").unwrap();
        let e = all(Some(dir.path())).unwrap_err();
        assert!(e.contains("bad.toml:1:"), "{e}");
    }
}
