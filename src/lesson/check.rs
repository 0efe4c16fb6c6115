//! Lesson checks: predicates over the fields of a snapshot's JSON (the names `watch --json`
//! prints), e.g. `faults.major_total >= 1` or `faults.pages_cached_per_major >= 100`.
//!
//! Pure: a check is parsed once (a one-line error naming what is wrong) and evaluated against
//! a `serde_json::Value`, so the same check runs on a live snapshot, a recorded one or a test
//! fixture. The verdict always carries what was measured, so a failed step can say what was
//! seen instead; a field the kernel did not give (JSON `null`, e.g. cache state hidden) is
//! "not measured here", never a pass or a fail.

use serde_json::Value;
use std::fmt;

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Ge,
    Le,
    Gt,
    Lt,
    /// The field's value is one of a list.
    In,
    /// The field is a string containing the value (`worker.state.reason contains SIGBUS`).
    Contains,
}

impl Op {
    fn text(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Ge => ">=",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Lt => "<",
            Op::In => "in",
            Op::Contains => "contains",
        }
    }
}

/// `PATH OP VALUE`: a dotted path into the snapshot JSON (array items by index, e.g.
/// `comparison.results.0.method`), an operator, and a JSON value (a number, a string
/// in quotes or a bare word, true/false, or for `in` a list `[a, b]`).
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    pub path: Vec<String>,
    pub op: Op,
    pub value: Value,
    /// `$other.path` as the value: compare with another field of the same snapshot (e.g.
    /// one probe's faults with another's), not with a constant.
    pub reference: Option<Vec<String>>,
}

/// What evaluating a check found.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Pass {
        measured: Value,
    },
    Fail {
        measured: Value,
    },
    /// The field is absent or null: this machine or kernel did not measure it.
    NotMeasured {
        why: String,
    },
}

impl Check {
    /// Parses `PATH OP VALUE`; the error is one line.
    pub fn parse(s: &str) -> Result<Check, String> {
        let s = s.trim();
        // Longest operators first so ">=" is not read as ">".
        let ops = [
            (" in ", Op::In),
            (" contains ", Op::Contains),
            (">=", Op::Ge),
            ("<=", Op::Le),
            ("==", Op::Eq),
            ("!=", Op::Ne),
            (">", Op::Gt),
            ("<", Op::Lt),
        ];
        let (pos, len, op) = ops
            .iter()
            .filter_map(|(t, op)| s.find(t).map(|p| (p, t.len(), *op)))
            .min_by_key(|(p, _, _)| *p)
            .ok_or_else(|| {
                format!("check '{s}' has no operator (==, !=, >=, <=, >, <, in, contains)")
            })?;
        let path_text = s[..pos].trim();
        let value_text = s[pos + len..].trim();
        if path_text.is_empty() {
            return Err(format!("check '{s}' names no field before '{}'", op.text()));
        }
        if !is_path(path_text) {
            return Err(format!(
                "check '{s}': '{path_text}' is not a field path like faults.major_total"
            ));
        }
        if value_text.is_empty() {
            return Err(format!("check '{s}' has no value after '{}'", op.text()));
        }
        if let Some(r) = value_text.strip_prefix('$') {
            // `$path * 0.9`: a factor for claims about direction that must not fail on noise.
            let (r, factor) = match r.split_once('*') {
                Some((p, f)) => match f.trim().parse::<f64>() {
                    Ok(x) if x.is_finite() && x > 0.0 => (p.trim(), Some(x)),
                    _ => {
                        return Err(format!(
                            "check '{s}': '*{}' is not a positive factor like * 0.9",
                            f.trim()
                        ))
                    }
                },
                None => (r.trim(), None),
            };
            if !is_path(r) || op == Op::In {
                return Err(format!(
                    "check '{s}': '${r}' is not a field path like $probe.first.major_faults (and in takes a list)"
                ));
            }
            return Ok(Check {
                path: path_text.split('.').map(String::from).collect(),
                op,
                value: factor.map_or(Value::Null, Value::from),
                reference: Some(r.split('.').map(String::from).collect()),
            });
        }
        let value = parse_value(value_text, op).map_err(|e| format!("check '{s}': {e}"))?;
        Ok(Check {
            path: path_text.split('.').map(String::from).collect(),
            op,
            value,
            reference: None,
        })
    }

    /// The field this check reads, or None when absent or null.
    pub fn field<'a>(&self, snapshot: &'a Value) -> Option<&'a Value> {
        lookup(snapshot, &self.path)
    }

    /// Evaluates the check against a snapshot's JSON.
    pub fn eval(&self, snapshot: &Value) -> Verdict {
        let Some(r) = &self.reference else {
            return self.eval_against(snapshot, &self.value);
        };
        match lookup(snapshot, r) {
            Some(v) => {
                let want = match (self.value.as_f64(), v.as_f64()) {
                    (Some(k), Some(x)) => Value::from(k * x),
                    _ => v.clone(),
                };
                self.eval_against(snapshot, &want)
            }
            None => Verdict::NotMeasured {
                why: format!("{} was not measured here (absent or null)", r.join(".")),
            },
        }
    }
}

fn is_path(p: &str) -> bool {
    !p.is_empty()
        && p.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        && !p.split('.').any(str::is_empty)
}

/// The value at a dotted path (array items by index), or None when absent or null.
fn lookup<'a>(snapshot: &'a Value, path: &[String]) -> Option<&'a Value> {
    {
        let mut v = snapshot;
        for k in path {
            v = match v {
                Value::Object(m) => m.get(k)?,
                Value::Array(a) => a.get(k.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        (!v.is_null()).then_some(v)
    }
}

impl Check {
    fn eval_against(&self, snapshot: &Value, want: &Value) -> Verdict {
        let Some(got) = self.field(snapshot) else {
            return Verdict::NotMeasured {
                why: format!(
                    "{} was not measured here (absent or null)",
                    self.path.join(".")
                ),
            };
        };
        let pass = match self.op {
            Op::Eq => equal(got, want),
            Op::Ne => !equal(got, want),
            Op::Contains => match (got.as_str(), want.as_str()) {
                (Some(a), Some(b)) => a.contains(b),
                _ => false,
            },
            Op::In => self
                .value
                .as_array()
                .is_some_and(|list| list.iter().any(|x| equal(got, x))),
            Op::Ge | Op::Le | Op::Gt | Op::Lt => match (got.as_f64(), want.as_f64()) {
                (Some(a), Some(b)) => match self.op {
                    Op::Ge => a >= b,
                    Op::Le => a <= b,
                    Op::Gt => a > b,
                    _ => a < b,
                },
                _ => false,
            },
        };
        if pass {
            Verdict::Pass {
                measured: got.clone(),
            }
        } else {
            Verdict::Fail {
                measured: got.clone(),
            }
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reference {
            Some(r) => {
                write!(
                    f,
                    "{} {} ${}",
                    self.path.join("."),
                    self.op.text(),
                    r.join(".")
                )?;
                match self.value.as_f64() {
                    Some(k) => write!(f, " * {k}"),
                    None => Ok(()),
                }
            }
            None => write!(
                f,
                "{} {} {}",
                self.path.join("."),
                self.op.text(),
                self.value
            ),
        }
    }
}

/// Numbers compare by value (1 == 1.0); everything else by JSON equality.
fn equal(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn parse_value(t: &str, op: Op) -> Result<Value, String> {
    if op == Op::In {
        let inner = t
            .strip_prefix('[')
            .and_then(|x| x.strip_suffix(']'))
            .ok_or_else(|| format!("'in' needs a list like [a, b], not '{t}'"))?;
        let items: Result<Vec<Value>, String> = inner
            .split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(|x| parse_scalar(x, Op::Eq))
            .collect();
        let items = items?;
        if items.is_empty() {
            return Err("'in' needs at least one value".into());
        }
        return Ok(Value::Array(items));
    }
    parse_scalar(t, op)
}

fn parse_scalar(t: &str, op: Op) -> Result<Value, String> {
    let v = match serde_json::from_str::<Value>(t) {
        Ok(v @ (Value::Number(_) | Value::String(_) | Value::Bool(_))) => v,
        Ok(_) => return Err(format!("'{t}' is not a number, string or true/false")),
        // A bare word (mmap_faster) is a string.
        Err(_)
            if t.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
        {
            Value::String(t.to_string())
        }
        Err(_) => return Err(format!("'{t}' is not a number, string or true/false")),
    };
    if op == Op::Contains && !v.is_string() {
        return Err(format!(
            "'contains' looks for text, but '{t}' is not a string"
        ));
    }
    if matches!(op, Op::Ge | Op::Le | Op::Gt | Op::Lt) && !v.is_number() {
        return Err(format!(
            "'{}' compares numbers, but '{t}' is not one",
            op.text()
        ));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parse_table() {
        let ok: &[(&str, &str)] = &[
            ("faults.major_total >= 1", "faults.major_total >= 1"),
            (
                "faults.pages_cached_per_major>=100",
                "faults.pages_cached_per_major >= 100",
            ),
            ("a.b == \"x y\"", "a.b == \"x y\""),
            (
                "verdict in [mmap_faster, about_equal]",
                "verdict in [\"mmap_faster\",\"about_equal\"]",
            ),
            ("worker.paused == true", "worker.paused == true"),
            ("x.0.y != 2.5", "x.0.y != 2.5"),
            ("t < -1", "t < -1"),
            (
                "worker.state.reason contains SIGBUS",
                "worker.state.reason contains \"SIGBUS\"",
            ),
        ];
        for (src, shown) in ok {
            let c = Check::parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
            assert_eq!(c.to_string(), *shown);
        }
        let bad: &[(&str, &str)] = &[
            ("faults.major_total", "no operator"),
            (">= 3", "names no field"),
            ("a..b == 1", "not a field path"),
            ("a-b == 1", "not a field path"),
            ("a >=", "no value"),
            ("a >= big", "compares numbers"),
            ("a in x", "needs a list"),
            ("a in []", "at least one"),
            ("a == [1]", "not a number, string"),
            ("a == {x}", "not a number, string"),
            ("a contains 3", "looks for text"),
            ("a >= $b..c", "not a field path"),
            ("a in $b", "not a field path"),
            ("a >= $b * x", "positive factor"),
            ("a >= $b * -1", "positive factor"),
        ];
        for (src, want) in bad {
            let e = Check::parse(src).unwrap_err();
            assert!(e.contains(want), "{src}: {e}");
            assert!(!e.contains('\n'));
        }
    }

    #[test]
    fn eval_table() {
        let s = json!({
            "faults": {"major_total": 3, "minor_total": 0, "pages_cached_per_major": 2048.0,
                       "newly_cached": null},
            "comparison": {"verdict": "about_equal", "results": [{"method": "mmap"}]},
            "worker": {"paused": false},
        });
        let pass = |m: Value| Verdict::Pass { measured: m };
        let fail = |m: Value| Verdict::Fail { measured: m };
        let table: Vec<(&str, Verdict)> = vec![
            ("faults.major_total >= 1", pass(json!(3))),
            ("faults.major_total > 3", fail(json!(3))),
            ("faults.major_total == 3.0", pass(json!(3))),
            ("faults.minor_total < 1", pass(json!(0))),
            ("faults.pages_cached_per_major >= 100", pass(json!(2048.0))),
            ("faults.pages_cached_per_major <= 100", fail(json!(2048.0))),
            (
                "comparison.verdict in [mmap_faster, about_equal]",
                pass(json!("about_equal")),
            ),
            (
                "comparison.verdict == read_faster",
                fail(json!("about_equal")),
            ),
            ("comparison.results.0.method == mmap", pass(json!("mmap"))),
            ("worker.paused != true", pass(json!(false))),
            (
                "comparison.verdict contains equal",
                pass(json!("about_equal")),
            ),
            (
                "comparison.verdict contains mmap",
                fail(json!("about_equal")),
            ),
            ("faults.major_total contains x", fail(json!(3))),
            ("faults.major_total >= $faults.minor_total", pass(json!(3))),
            ("faults.minor_total >= $faults.major_total", fail(json!(0))),
            (
                "faults.pages_cached_per_major >= $faults.major_total * 600",
                pass(json!(2048.0)),
            ),
            (
                "faults.pages_cached_per_major >= $faults.major_total * 700",
                fail(json!(2048.0)),
            ),
            // A string is never >= a number.
            ("comparison.verdict >= 1", fail(json!("about_equal"))),
        ];
        for (src, want) in table {
            assert_eq!(Check::parse(src).unwrap().eval(&s), want, "{src}");
        }
        for src in [
            "faults.newly_cached >= 1",
            "faults.major_total >= $faults.newly_cached",
            "faults.nope == 1",
            "comparison.results.5.method == x",
        ] {
            match Check::parse(src).unwrap().eval(&s) {
                Verdict::NotMeasured { why } => assert!(why.contains("not measured"), "{why}"),
                v => panic!("{src}: {v:?}"),
            }
        }
    }

    #[test]
    fn checks_read_the_real_snapshot_json() {
        let s = serde_json::to_value(crate::session::fixture::fixture_snapshot()).unwrap();
        let c = Check::parse("faults.major_total >= 1").unwrap();
        assert!(
            matches!(c.eval(&s), Verdict::Pass { .. }),
            "{:?}",
            c.eval(&s)
        );
        let c = Check::parse("file.pages == 65536").unwrap();
        assert_eq!(
            c.eval(&s),
            Verdict::Pass {
                measured: json!(65536)
            }
        );
    }
}
