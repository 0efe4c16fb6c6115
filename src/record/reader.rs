//! Reading a recording in bounded memory: one pass builds an index of the frame lines' byte
//! offsets, times and keyframes (24 bytes per frame: a 45-minute recording at 10 Hz is
//! ~630 KiB), then frames are read on demand by seeking: frame `i` is its keyframe with the
//! deltas up to `i` applied. The last frame shown is kept (one packed value), so playing
//! forward applies one delta per frame; a seek reads one keyframe and the deltas after it.

use super::{delta, Entry, Header, LessonStep, FORMAT, VERSION};
use crate::error::{AppError, Result};
use crate::session::snapshot::Snapshot;
use serde::Deserialize;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Just the fields the index needs; serde skips the rest of the line without building it.
#[derive(Deserialize)]
struct Head {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    t_ms: u64,
    #[serde(default)]
    text: Option<String>,
}

/// Whether a frame line is a whole frame (keyframe, or a version 1 snapshot) and its `t_ms`,
/// for a line that starts `{"type":"keyframe","t_ms":N,` (or `delta`, `snapshot`) and ends
/// with `}`.
fn frame_prefix(line: &[u8]) -> Option<(bool, u64)> {
    let (key, rest) = if let Some(r) = line.strip_prefix(br#"{"type":"delta","t_ms":"#) {
        (false, r)
    } else if let Some(r) = line.strip_prefix(br#"{"type":"keyframe","t_ms":"#) {
        (true, r)
    } else {
        (true, line.strip_prefix(br#"{"type":"snapshot","t_ms":"#)?)
    };
    let t = t_ms_of(rest, line)?;
    Some((key, t))
}

fn t_ms_of(rest: &[u8], line: &[u8]) -> Option<u64> {
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || rest.get(digits) != Some(&b',') || !line.ends_with(b"}\n") {
        return None;
    }
    std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()
}

/// One indexed frame line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    pub offset: u64,
    pub t_ms: u64,
    /// The index of the keyframe this frame is built from (itself, for a keyframe).
    pub key: u32,
}

/// An opened recording: its header, the frame index, the events and, when the file ends in
/// the middle of a line, where it broke.
#[derive(Debug)]
pub struct Recording {
    pub path: PathBuf,
    pub header: Header,
    pub frames: Vec<Frame>,
    /// (t_ms, text) of every event line (events are rare: one per message change).
    pub events: Vec<(u64, String)>,
    /// (t_ms, step) of every lesson step line (a few per lesson).
    pub lesson_steps: Vec<(u64, LessonStep)>,
    /// Some(line number) when the recording is truncated there (replay stops before it).
    pub truncated_at: Option<u64>,
    reader: BufReader<File>,
    /// The last frame built: its index and packed value.
    state: Option<(usize, serde_json::Value)>,
}

fn bad(path: &Path, why: impl std::fmt::Display) -> AppError {
    AppError::bad_input(path, format!("not a valid mmviz recording: {why}"))
}

impl Recording {
    /// Opens and indexes a recording. Bad or newer-version recordings are exit-2 errors; a
    /// file that ends inside a line (a recording cut short) opens with `truncated_at` set.
    pub fn open(path: &Path) -> Result<Recording> {
        let file =
            File::open(path).map_err(|e| AppError::bad_input(path, crate::error::io_reason(&e)))?;
        let mut r = BufReader::with_capacity(1 << 16, file);
        let mut line = Vec::new();
        let n = r
            .read_until(b'\n', &mut line)
            .map_err(|e| AppError::runtime(format!("{}: {e}", path.display())))?;
        if n == 0 {
            return Err(bad(path, "the file is empty"));
        }
        let v: serde_json::Value = serde_json::from_slice(&line)
            .map_err(|_| bad(path, "the first line is not a JSON header"))?;
        if v.get("type").and_then(|t| t.as_str()) != Some("header")
            || v.get("format").and_then(|f| f.as_str()) != Some(FORMAT)
        {
            return Err(bad(path, "the first line is not an mmviz-recording header"));
        }
        let version = v.get("version").and_then(|x| x.as_u64()).unwrap_or(0);
        if version > VERSION as u64 {
            return Err(AppError::bad_input(
                path,
                format!(
                    "recording format version {version} is newer than this mmviz reads ({VERSION}); use a newer mmviz"
                ),
            ));
        }
        let header = match serde_json::from_value::<Entry>(v) {
            Ok(Entry::Header(h)) => h,
            _ => return Err(bad(path, "the header has missing or wrong fields")),
        };
        let mut frames: Vec<Frame> = Vec::new();
        let mut events = Vec::new();
        let mut lesson_steps = Vec::new();
        let mut last_key: Option<u32> = None;
        let mut truncated_at = None;
        let mut offset = n as u64;
        let mut lineno = 1u64;
        loop {
            line.clear();
            let n = r
                .read_until(b'\n', &mut line)
                .map_err(|e| AppError::runtime(format!("{}: {e}", path.display())))?;
            if n == 0 {
                break;
            }
            lineno += 1;
            let complete = line.last() == Some(&b'\n');
            // Fast path for the lines the recorder writes (tag and time first): no JSON
            // parse, so indexing runs at disk speed; the frame is fully parsed when shown.
            let mut frame = |is_key: bool, t_ms: u64| -> Result<()> {
                if is_key {
                    last_key = Some(frames.len() as u32);
                }
                let key = last_key.ok_or_else(|| {
                    bad(path, format!("line {lineno}: a delta before any keyframe"))
                })?;
                frames.push(Frame { offset, t_ms, key });
                Ok(())
            };
            if complete {
                if let Some((is_key, t_ms)) = frame_prefix(&line) {
                    frame(is_key, t_ms)?;
                    offset += n as u64;
                    continue;
                }
            }
            match serde_json::from_slice::<Head>(&line) {
                Ok(h) if complete => match h.kind.as_str() {
                    "snapshot" | "keyframe" => frame(true, h.t_ms)?,
                    "delta" => frame(false, h.t_ms)?,
                    "event" => events.push((h.t_ms, h.text.unwrap_or_default())),
                    "lesson_step" => match serde_json::from_slice::<Entry>(&line) {
                        Ok(Entry::LessonStep { t_ms, step }) => lesson_steps.push((t_ms, step)),
                        Ok(_) => unreachable!("the type is lesson_step"),
                        Err(e) => return Err(bad(path, format!("line {lineno}: {e}"))),
                    },
                    "action" => {}
                    other => {
                        return Err(bad(
                            path,
                            format!("line {lineno}: unknown entry type '{other}'"),
                        ))
                    }
                },
                // The last line, cut short: replay what came before.
                _ if !complete => {
                    truncated_at = Some(lineno);
                    break;
                }
                Ok(_) => unreachable!("complete is checked above"),
                Err(e) => return Err(bad(path, format!("line {lineno}: {e}"))),
            }
            offset += n as u64;
        }
        Ok(Recording {
            path: path.to_path_buf(),
            header,
            frames,
            events,
            lesson_steps,
            truncated_at,
            reader: r,
            state: None,
        })
    }

    /// The entry on the line at `offset`.
    fn entry_at(&mut self, offset: u64) -> std::result::Result<Entry, String> {
        let io = |e: std::io::Error| crate::error::io_reason(&e);
        self.reader.seek(SeekFrom::Start(offset)).map_err(io)?;
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line).map_err(io)?;
        serde_json::from_slice::<Entry>(&line).map_err(|e| e.to_string())
    }

    /// The packed value of frame `i` (built from its keyframe, or from the last frame built
    /// when that is on the way).
    fn packed(&mut self, i: usize) -> std::result::Result<serde_json::Value, String> {
        let f = self.frames[i];
        let key = f.key as usize;
        let (mut j, mut v) = match self.state.take() {
            Some((j, v)) if j >= key && j <= i => (j, v),
            _ => {
                let off = self.frames[key].offset;
                let v = match self.entry_at(off)? {
                    Entry::Keyframe { snapshot, .. } => delta::expand(snapshot)?,
                    Entry::Snapshot { snapshot, .. } => {
                        let mut v = serde_json::to_value(*snapshot).map_err(|e| e.to_string())?;
                        delta::pack(&mut v);
                        v
                    }
                    _ => return Err("not a keyframe line".into()),
                };
                (key, v)
            }
        };
        while j < i {
            j += 1;
            let off = self.frames[j].offset;
            match self.entry_at(off)? {
                Entry::Delta { patch, .. } => {
                    delta::apply(&mut v, &patch).map_err(|e| format!("frame {j}: {e}"))?
                }
                _ => return Err(format!("frame {j} is not a delta line")),
            }
        }
        self.state = Some((i, v.clone()));
        Ok(v)
    }

    /// Reads frame `i`: its keyframe and the deltas since (only the last frame built is kept).
    pub fn frame(&mut self, i: usize) -> Result<Snapshot> {
        if i >= self.frames.len() {
            return Err(AppError::runtime(format!("frame {i} is out of range")));
        }
        let built = self.packed(i).and_then(|mut v| {
            delta::unpack(&mut v)?;
            serde_json::from_value::<Snapshot>(v).map_err(|e| e.to_string())
        });
        built.map_err(|e| {
            self.state = None;
            bad(&self.path, format!("frame {i}: {e}"))
        })
    }

    /// The frame shown at `t_ms`: the last one recorded at or before it.
    pub fn frame_at(&self, t_ms: u64) -> usize {
        self.frames
            .partition_point(|f| f.t_ms <= t_ms)
            .saturating_sub(1)
    }

    /// The index in `lesson_steps` of the first step after `t_ms` (`next`) or the last one
    /// before it, and the frame to show for it.
    pub fn lesson_step_near(&self, t_ms: u64, next: bool) -> Option<(usize, usize)> {
        let i = if next {
            self.lesson_steps.iter().position(|(t, _)| *t > t_ms)?
        } else {
            self.lesson_steps.iter().rposition(|(t, _)| *t < t_ms)?
        };
        Some((i, self.frame_at(self.lesson_steps[i].0)))
    }

    /// Length of the recording (time of its last frame).
    pub fn duration_ms(&self) -> u64 {
        self.frames.last().map_or(0, |f| f.t_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Recorder;
    use super::*;
    use crate::session::fixture::fixture_snapshot;
    use std::io::Write;

    fn record(dir: &Path, n: u64) -> PathBuf {
        let p = dir.join("r.jsonl");
        let mut r = Recorder::create(&p, true, Path::new("d.bin"), false).unwrap();
        for i in 0..n {
            let mut s = fixture_snapshot();
            s.seq = i;
            s.message = None;
            r.snapshot(&s).unwrap();
        }
        p
    }

    #[test]
    fn index_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = record(dir.path(), 5);
        let mut rec = Recording::open(&p).unwrap();
        assert_eq!(rec.header.file, "d.bin");
        assert_eq!(rec.frames.len(), 5);
        assert_eq!(rec.truncated_at, None);
        for i in [3, 0, 4, 1] {
            assert_eq!(rec.frame(i).unwrap().seq, i as u64);
        }
        assert_eq!(rec.frame_at(u64::MAX), 4);
        assert_eq!(rec.frame_at(0), 0);
        let t1 = rec.frames[1].t_ms;
        assert!(rec.frame_at(t1) >= 1);
    }

    #[test]
    fn keyframes_and_deltas_rebuild_every_frame_in_any_order() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.jsonl");
        let mut r = Recorder::create(&p, true, Path::new("d.bin"), false).unwrap();
        let mut s = fixture_snapshot();
        s.message = None;
        s.file.path = "d.bin".into();
        let mut live = Vec::new();
        let mut x = 12345u64;
        for i in 0..120u64 {
            s.seq = i;
            s.t_ms = i * 100;
            // A churning grid: 200 cells change per frame, so keyframes recur.
            for _ in 0..200 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let n = s.grid.cells.len();
                let c = &mut s.grid.cells[(x >> 33) as usize % n];
                c.touched = (c.touched + 1).min(c.pages);
                c.recent = (x >> 20) % 5;
            }
            s.faults.minor_history.remove(0);
            s.faults.minor_history.push(i);
            if i == 50 {
                s.grid.cells.truncate(700); // a zoom: another geometry
                s.worker.rate = None;
            }
            r.snapshot(&s).unwrap();
            live.push(s.clone());
        }
        drop(r);
        let mut rec = Recording::open(&p).unwrap();
        assert_eq!(rec.frames.len(), 120);
        let keys = rec.frames.iter().filter(|f| f.key as usize == 0).count();
        assert!(keys < 120, "not every frame is a keyframe");
        let distinct: std::collections::BTreeSet<u32> = rec.frames.iter().map(|f| f.key).collect();
        assert!(distinct.len() >= 2, "keyframes recur: {distinct:?}");
        let order: Vec<usize> = (0..120).rev().chain([7, 0, 119, 60, 61, 3]).collect();
        // As JSON: what `watch --json` would print (the snapshot's own JSON round trip).
        let json = |s: &Snapshot| serde_json::to_value(s).unwrap();
        for i in order {
            assert!(json(&rec.frame(i).unwrap()) == json(&live[i]), "frame {i}");
        }
    }

    #[test]
    fn bad_newer_and_truncated_recordings() {
        let dir = tempfile::tempdir().unwrap();
        let p = record(dir.path(), 3);
        let good = std::fs::read(&p).unwrap();
        let q = dir.path().join("q.jsonl");
        // Damage inside a snapshot line the fast index path skips: found when it is shown.
        let inner =
            String::from_utf8(good.clone())
                .unwrap()
                .replacen("\"seq\":1", "\"seq\":\"x\"", 1);
        std::fs::write(&q, inner).unwrap();
        let mut r = Recording::open(&q).unwrap();
        let e = r.frame(1).unwrap_err();
        assert!(e.code == 2 && e.msg.contains("frame 1"), "{}", e.msg);
        assert!(r.frame(0).is_ok());
        // (content, Some(error text) or None = opens)
        let newer =
            String::from_utf8(good.clone())
                .unwrap()
                .replacen("\"version\":2", "\"version\":99", 1);
        let mid_garbage = {
            let s = String::from_utf8(good.clone()).unwrap();
            let mut lines: Vec<&str> = s.lines().collect();
            lines.insert(2, "{not json");
            lines.join("\n") + "\n"
        };
        let table: Vec<(Vec<u8>, Option<&str>)> = vec![
            (vec![], Some("empty")),
            (b"hello\n".to_vec(), Some("not a JSON header")),
            (
                b"{\"type\":\"snapshot\"}\n".to_vec(),
                Some("not an mmviz-recording header"),
            ),
            (newer.into_bytes(), Some("newer than this mmviz")),
            (mid_garbage.into_bytes(), Some("line 3")),
            (good[..good.len() - 10].to_vec(), None),
        ];
        for (content, want) in table {
            std::fs::File::create(&q)
                .unwrap()
                .write_all(&content)
                .unwrap();
            match (Recording::open(&q), want) {
                (Err(e), Some(w)) => {
                    assert_eq!(e.code, 2);
                    assert!(e.msg.contains(w), "{} should say {w}", e.msg);
                    assert!(!e.msg.contains('\n'));
                }
                (Ok(r), None) => {
                    assert_eq!(r.truncated_at, Some(4));
                    assert_eq!(r.frames.len(), 2, "replays up to the break");
                }
                (Ok(_), Some(w)) => panic!("should fail with {w}"),
                (Err(e), None) => panic!("should open: {}", e.msg),
            }
        }
    }
}
