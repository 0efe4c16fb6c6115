//! Reading a recording in bounded memory: one pass builds an index of the snapshot lines'
//! byte offsets and times (16 bytes per frame: a 45-minute recording at 10 Hz is ~430 KiB),
//! then frames are read on demand by seeking.

use super::{Entry, Header, FORMAT, VERSION};
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

/// `t_ms` of a line that starts `{"type":"snapshot","t_ms":N,` and ends with `}`.
fn snapshot_prefix(line: &[u8]) -> Option<u64> {
    const P: &[u8] = br#"{"type":"snapshot","t_ms":"#;
    let rest = line.strip_prefix(P)?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || rest.get(digits) != Some(&b',') || !line.ends_with(b"}\n") {
        return None;
    }
    std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()
}

/// One indexed snapshot line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    pub offset: u64,
    pub t_ms: u64,
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
    /// Some(line number) when the recording is truncated there (replay stops before it).
    pub truncated_at: Option<u64>,
    reader: BufReader<File>,
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
        let mut frames = Vec::new();
        let mut events = Vec::new();
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
            if complete {
                if let Some(t_ms) = snapshot_prefix(&line) {
                    frames.push(Frame { offset, t_ms });
                    offset += n as u64;
                    continue;
                }
            }
            match serde_json::from_slice::<Head>(&line) {
                Ok(h) if complete => match h.kind.as_str() {
                    "snapshot" => frames.push(Frame {
                        offset,
                        t_ms: h.t_ms,
                    }),
                    "event" => events.push((h.t_ms, h.text.unwrap_or_default())),
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
            truncated_at,
            reader: r,
        })
    }

    /// Reads frame `i` (seeks to its line; nothing else is kept in memory).
    pub fn frame(&mut self, i: usize) -> Result<Snapshot> {
        let f = *self
            .frames
            .get(i)
            .ok_or_else(|| AppError::runtime(format!("frame {i} is out of range")))?;
        let rt = |e: String| AppError::runtime(format!("{}: {e}", self.path.display()));
        self.reader
            .seek(SeekFrom::Start(f.offset))
            .map_err(|e| rt(e.to_string()))?;
        let mut line = Vec::new();
        self.reader
            .read_until(b'\n', &mut line)
            .map_err(|e| rt(e.to_string()))?;
        match serde_json::from_slice::<Entry>(&line) {
            Ok(Entry::Snapshot { snapshot, .. }) => Ok(*snapshot),
            Ok(_) => Err(rt(format!("frame {i} is not a snapshot line"))),
            Err(e) => Err(bad(&self.path, format!("frame {i}: {e}"))),
        }
    }

    /// The frame shown at `t_ms`: the last one recorded at or before it.
    pub fn frame_at(&self, t_ms: u64) -> usize {
        self.frames
            .partition_point(|f| f.t_ms <= t_ms)
            .saturating_sub(1)
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
                .replacen("\"version\":1", "\"version\":99", 1);
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
