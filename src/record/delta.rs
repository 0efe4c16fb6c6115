//! The compact recording format (version 2): keyframes and deltas of JSON values.
//!
//! A snapshot is ~180 KB of JSON at 120x40, almost all of it the grid's cells; between two
//! frames only a few cells and counters change. So the recorder writes a *keyframe* (the whole
//! snapshot, packed) now and then and a *delta* (only what changed) for every other frame.
//! Everything here works on `serde_json::Value`, not on the `Snapshot` type, so a field added
//! to the snapshot later is recorded and replayed without touching this file.
//!
//! Packing (keyframes and the recorder's and reader's in-memory state):
//! - `grid.cells`, an array of objects with the same keys and integer-or-null values, is
//!   stored column by column: `{"cols": {"cached": [..], "pages": [..], ..}}`. Any other
//!   shape is left as it is (still correct, only bigger).
//! - On disk, an array of 8 or more integers/nulls is run-length encoded as
//!   `{"#": [value, count, value, count, ..]}` where that is shorter.
//!
//! A patch (the `patch` of a delta line) turns the previous packed value into the next:
//! - a bare scalar (number, string, bool, null): the new value;
//! - `{"=": v}`: replace with `v` (RLE-expanded);
//! - `{"@": [gap, diff, gap, diff, ..]}`: an integer array of the same length with a few
//!   elements changed: the first gap is the index of the first change, each next gap the
//!   distance to the next one, each diff the new value minus the old;
//! - `{"<<": [k, [tail..]]}`: an array that dropped its first `k` elements and appended
//!   `tail` (the histories and the event log);
//! - any other object: a patch per changed key of an object with the same keys.
//!
//! Objects that contain a reserved key (`=`, `@`, `<<`, `#`) are never patched key by
//! key (they are replaced whole), so a patch is never ambiguous.

use serde_json::{Map, Value};

const RESERVED: [&str; 4] = ["=", "@", "<<", "#"];
/// Arrays shorter than this are written as they are.
const RLE_MIN: usize = 8;
/// Appended tails longer than this are sent as a replacement instead.
const SHIFT_MAX: usize = 64;

fn has_reserved(m: &Map<String, Value>) -> bool {
    RESERVED.iter().any(|k| m.contains_key(*k))
}

fn single<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    (m.len() == 1).then(|| m.get(key)).flatten()
}

fn int_or_null(v: &Value) -> bool {
    v.is_null() || v.as_i64().is_some()
}

/// Packs a snapshot's value in place: the grid's cells column by column.
pub fn pack(v: &mut Value) {
    let Some(cells) = v.pointer_mut("/grid/cells") else {
        return;
    };
    let Some(arr) = cells.as_array() else { return };
    let Some(Value::Object(first)) = arr.first() else {
        return;
    };
    let keys: Vec<String> = first.keys().cloned().collect();
    let uniform = arr.iter().all(|c| match c {
        Value::Object(m) => {
            m.len() == keys.len() && keys.iter().all(|k| m.get(k).is_some_and(int_or_null))
        }
        _ => false,
    });
    if !uniform {
        return;
    }
    let mut cols = Map::new();
    for k in &keys {
        let col: Vec<Value> = arr.iter().map(|c| c[k.as_str()].clone()).collect();
        cols.insert(k.clone(), Value::Array(col));
    }
    let mut m = Map::new();
    m.insert("cols".into(), Value::Object(cols));
    *cells = Value::Object(m);
}

/// Undoes [`pack`]: the grid's cells as an array of objects again.
pub fn unpack(v: &mut Value) -> Result<(), String> {
    let Some(cells) = v.pointer_mut("/grid/cells") else {
        return Ok(());
    };
    let Some(Value::Object(cols)) = cells.as_object().and_then(|m| single(m, "cols")) else {
        return Ok(());
    };
    let n = cols
        .values()
        .next()
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let mut out: Vec<Map<String, Value>> = vec![Map::new(); n];
    for (k, col) in cols {
        let col = col
            .as_array()
            .filter(|c| c.len() == n)
            .ok_or_else(|| format!("grid column '{k}' is not an array of {n} values"))?;
        for (cell, x) in out.iter_mut().zip(col) {
            cell.insert(k.clone(), x.clone());
        }
    }
    *cells = Value::Array(out.into_iter().map(Value::Object).collect());
    Ok(())
}

/// Run-length encodes every long integer/null array inside `v` where that is shorter.
pub fn compress(v: &Value) -> Value {
    match v {
        Value::Array(a) if a.len() >= RLE_MIN && a.iter().all(int_or_null) => {
            let mut runs: Vec<Value> = Vec::new();
            let mut i = 0;
            while i < a.len() {
                let n = a[i..].iter().take_while(|x| **x == a[i]).count();
                runs.push(a[i].clone());
                runs.push(Value::from(n as u64));
                i += n;
            }
            if runs.len() < a.len() {
                let mut m = Map::new();
                m.insert("#".into(), Value::Array(runs));
                Value::Object(m)
            } else {
                v.clone()
            }
        }
        Value::Array(a) => Value::Array(a.iter().map(compress).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, x)| (k.clone(), compress(x))).collect())
        }
        _ => v.clone(),
    }
}

/// Undoes [`compress`].
pub fn expand(v: Value) -> Result<Value, String> {
    match v {
        Value::Object(m) => {
            if let Some(runs) = single(&m, "#") {
                let runs = runs
                    .as_array()
                    .ok_or("a run-length array is not an array")?;
                if runs.len() % 2 != 0 {
                    return Err("a run-length array has an odd length".into());
                }
                let mut out = Vec::new();
                for pair in runs.chunks(2) {
                    let n = pair[1]
                        .as_u64()
                        .filter(|&n| n as usize <= (1 << 24) - out.len())
                        .ok_or("a run-length count is not a sensible count")?;
                    out.resize(out.len() + n as usize, pair[0].clone());
                }
                return Ok(Value::Array(out));
            }
            let mut o = Map::new();
            for (k, x) in m {
                o.insert(k, expand(x)?);
            }
            Ok(Value::Object(o))
        }
        Value::Array(a) => Ok(Value::Array(
            a.into_iter().map(expand).collect::<Result<_, _>>()?,
        )),
        x => Ok(x),
    }
}

fn wrap(key: &str, v: Value) -> Value {
    let mut m = Map::new();
    m.insert(key.into(), v);
    Value::Object(m)
}

fn replacement(new: &Value) -> Value {
    match new {
        Value::Object(_) | Value::Array(_) => wrap("=", compress(new)),
        _ => new.clone(),
    }
}

/// Sparse edit of an integer array of unchanged length, when few elements changed.
fn sparse(old: &[Value], new: &[Value]) -> Option<Value> {
    let mut out = Vec::new();
    let mut last = 0usize;
    let mut changes = 0usize;
    for (i, (a, b)) in old.iter().zip(new).enumerate() {
        if a == b {
            continue;
        }
        let d = b.as_i64()?.checked_sub(a.as_i64()?)?;
        changes += 1;
        if changes * 2 > old.len() {
            return None;
        }
        out.push(Value::from((i - last) as u64));
        out.push(Value::from(d));
        last = i;
    }
    Some(wrap("@", Value::Array(out)))
}

/// `new` is `old` without its first `k` elements, then a short tail.
fn shifted(old: &[Value], new: &[Value]) -> Option<Value> {
    (0..=old.len().min(8)).find_map(|k| {
        let kept = &old[k..];
        let ok = new.len() >= kept.len()
            && new.len() - kept.len() <= SHIFT_MAX
            && new[..kept.len()] == *kept
            && (k > 0 || new.len() > old.len());
        ok.then(|| {
            wrap(
                "<<",
                Value::Array(vec![
                    Value::from(k as u64),
                    Value::Array(new[kept.len()..].to_vec()),
                ]),
            )
        })
    })
}

/// The patch that turns `old` into `new` (both packed); None when they are equal.
pub fn diff(old: &Value, new: &Value) -> Option<Value> {
    if old == new {
        return None;
    }
    match (old, new) {
        (Value::Object(a), Value::Object(b))
            if a.len() == b.len() && !has_reserved(b) && b.keys().all(|k| a.contains_key(k)) =>
        {
            let m: Map<String, Value> = b
                .iter()
                .filter_map(|(k, x)| Some((k.clone(), diff(&a[k.as_str()], x)?)))
                .collect();
            Some(Value::Object(m))
        }
        (Value::Array(a), Value::Array(b)) => {
            let p = if a.len() == b.len() && a.iter().chain(b).all(int_or_null) {
                sparse(a, b)
            } else {
                None
            };
            let p = p
                .or_else(|| shifted(a, b))
                .unwrap_or_else(|| replacement(new));
            // A sparse edit or shift is only worth it when it is shorter than the value.
            if !matches!(&p, Value::Object(m) if m.contains_key("=")) {
                let r = replacement(new);
                if r.to_string().len() < p.to_string().len() {
                    return Some(r);
                }
            }
            Some(p)
        }
        _ => Some(replacement(new)),
    }
}

/// Applies a [`diff`] patch to `v` in place.
pub fn apply(v: &mut Value, patch: &Value) -> Result<(), String> {
    let Value::Object(p) = patch else {
        *v = patch.clone();
        return Ok(());
    };
    if let Some(x) = single(p, "=") {
        *v = expand(x.clone())?;
        return Ok(());
    }
    if let Some(edits) = single(p, "@") {
        let (Some(arr), Some(edits)) = (v.as_array_mut(), edits.as_array()) else {
            return Err("a sparse edit of something that is not an array".into());
        };
        let mut i = 0usize;
        let mut first = true;
        for pair in edits.chunks(2) {
            let (Some(gap), Some(d)) = (pair[0].as_u64(), pair.get(1).and_then(Value::as_i64))
            else {
                return Err("a sparse edit is not pairs of integers".into());
            };
            i = if first {
                Some(gap as usize)
            } else {
                i.checked_add(gap as usize)
            }
            .ok_or("a sparse edit's index overflows")?;
            first = false;
            let old = arr
                .get(i)
                .and_then(Value::as_i64)
                .ok_or_else(|| format!("a sparse edit at {i} is out of range"))?;
            arr[i] = Value::from(
                old.checked_add(d)
                    .ok_or("a sparse edit overflows an integer")?,
            );
        }
        return Ok(());
    }
    if let Some(s) = single(p, "<<") {
        let (Some(arr), Some(k), Some(tail)) = (
            v.as_array_mut(),
            s.get(0).and_then(Value::as_u64),
            s.get(1).and_then(Value::as_array),
        ) else {
            return Err("a shift edit is not [count, [tail]] on an array".into());
        };
        if k as usize > arr.len() {
            return Err("a shift edit drops more than the array holds".into());
        }
        arr.drain(..k as usize);
        arr.extend(tail.iter().cloned());
        return Ok(());
    }
    let Value::Object(m) = v else {
        return Err("a key-by-key patch of something that is not an object".into());
    };
    for (k, x) in p {
        let slot = m
            .get_mut(k)
            .ok_or_else(|| format!("the patch names a key '{k}' the value does not have"))?;
        apply(slot, x)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::fixture::fixture_snapshot;
    use serde_json::json;

    fn roundtrip(old: &Value, new: &Value) {
        let mut v = old.clone();
        if let Some(p) = diff(old, new) {
            // Through text, as on disk.
            let p: Value = serde_json::from_str(&p.to_string()).unwrap();
            apply(&mut v, &p).unwrap();
        }
        assert_eq!(&v, new, "patch of {old} -> {new}");
    }

    #[test]
    fn patches_reproduce_every_kind_of_change() {
        let table = [
            (json!(1), json!(2)),
            (json!({"a": 1, "b": [1, 2]}), json!({"a": 1, "b": [1, 3]})),
            (json!({"a": 1}), json!({"a": 1, "b": 2})),
            (json!({"a": 1, "b": 2}), json!({"b": 2})),
            (
                json!({"state": "idle"}),
                json!({"state": "running", "progress": 0.5}),
            ),
            (json!({"x": null}), json!({"x": {"y": 1}})),
            (json!(vec![0; 100]), {
                let mut a = vec![0; 100];
                a[3] = 7;
                a[90] = 5;
                json!(a)
            }),
            (
                json!([1, 2, 3, 4, 5, 6, 7, 8, 9]),
                json!([2, 3, 4, 5, 6, 7, 8, 9, 10]),
            ),
            (json!([1, 2, 3]), json!([1, 2, 3, 4])),
            (json!([null, 1, 2]), json!([1, 1, 2])),
            (json!({"=": 1}), json!({"=": 2})),
            (json!([u64::MAX, 0]), json!([0, u64::MAX])),
            (json!(["a", "b"]), json!(["b", "c"])),
        ];
        for (a, b) in table {
            roundtrip(&a, &b);
            roundtrip(&b, &a);
        }
    }

    #[test]
    fn pack_compress_and_back_is_the_snapshot() {
        let s = fixture_snapshot();
        let orig = serde_json::to_value(&s).unwrap();
        let mut v = orig.clone();
        pack(&mut v);
        assert!(v.pointer("/grid/cells/cols/touched").is_some());
        let disk = compress(&v).to_string();
        assert!(
            disk.len() * 2 < orig.to_string().len(),
            "packed {} vs {}",
            disk.len(),
            orig.to_string().len()
        );
        let mut back = expand(serde_json::from_str(&disk).unwrap()).unwrap();
        unpack(&mut back).unwrap();
        for (k, x) in orig.as_object().unwrap() {
            assert_eq!(&back[k.as_str()], x, "{k}");
        }
        let s2: crate::session::snapshot::Snapshot = serde_json::from_value(back).unwrap();
        assert_eq!(s2.grid, s.grid);
    }

    #[test]
    fn a_few_changed_cells_make_a_small_patch() {
        let s = fixture_snapshot();
        let mut t = s.clone();
        t.seq += 1;
        for i in [5, 6, 700] {
            t.grid.cells[i].touched += 3;
            t.grid.cells[i].recent = 1;
        }
        let pv = |s: &crate::session::snapshot::Snapshot| {
            let mut v = serde_json::to_value(s).unwrap();
            pack(&mut v);
            v
        };
        let (a, b) = (pv(&s), pv(&t));
        let p = diff(&a, &b).unwrap();
        assert!(p.to_string().len() < 120, "{p}");
        roundtrip(&a, &b);
    }

    #[test]
    fn bad_patches_are_errors_not_panics() {
        let bad = [
            (json!([1, 2]), json!({"@": [5, 1]})),
            (json!([1, 2]), json!({"@": ["x", 1]})),
            (json!(1), json!({"@": [0, 1]})),
            (json!([1]), json!({"<<": [3, []]})),
            (json!({"a": 1}), json!({"b": 1})),
            (json!(1), json!({"b": 1})),
            (json!(1), json!({"=": {"#": [1]}})),
            (json!(1), json!({"=": {"#": [1, 1e30]}})),
        ];
        for (v, p) in bad {
            let mut v = v;
            assert!(apply(&mut v, &p).is_err(), "{p}");
        }
    }
}
