//! `mmviz replay FILE --asciicast OUT.cast`: every recorded frame rendered through ratatui's
//! TestBackend and written as an asciinema v2 file: a JSON header line, then one
//! `[seconds, "o", text]` event per changed frame, the text being the whole screen with ANSI
//! cursor and colour escapes. Plays in asciinema's player (terminal or browser).

use super::replay::{self, Player, Status};
use super::theme::COLOR;
use crate::error::{io_reason, AppError, Result};
use crate::record::Recording;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier, Style};
use ratatui::Terminal;
use std::io::{BufWriter, Write};
use std::path::Path;

/// Parses `COLSxROWS`, e.g. `120x40`.
pub fn parse_size(s: &str) -> Result<(u16, u16)> {
    let bad = || {
        AppError::usage(format!(
            "--size '{s}' is not COLSxROWS, e.g. 120x40 (at least 60x16)"
        ))
    };
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let (w, h): (u16, u16) = (
        w.trim().parse().map_err(|_| bad())?,
        h.trim().parse().map_err(|_| bad())?,
    );
    if w < super::MIN_WIDTH || h < super::MIN_HEIGHT || w > 1000 || h > 1000 {
        return Err(bad());
    }
    Ok((w, h))
}

/// Writes the cast; returns the number of frames rendered. Refuses to overwrite `out`
/// without `force`.
pub fn write(rec: &mut Recording, out: &Path, force: bool, w: u16, h: u16) -> Result<usize> {
    let file = crate::record::create_output(out, force)?;
    let io = |e: std::io::Error| AppError::runtime(format!("{}: {}", out.display(), io_reason(&e)));
    let mut o = BufWriter::new(file);
    let header = serde_json::json!({
        "version": 2,
        "width": w,
        "height": h,
        "timestamp": rec.header.started_unix_ms / 1000,
        "title": format!("mmviz replay of {}", rec.header.file),
        "env": {"TERM": "xterm-256color"},
    });
    writeln!(o, "{header}").map_err(io)?;
    let mut term =
        Terminal::new(TestBackend::new(w, h)).map_err(|e| AppError::runtime(e.to_string()))?;
    let mut player = Player::new(rec);
    player.playing = true;
    let t0 = rec.frames.first().map_or(0, |f| f.t_ms);
    let mut prev: Option<Buffer> = None;
    for i in 0..rec.frames.len() {
        player.frame = i;
        let snap = rec.frame(i)?;
        let status = Status::of(&player, rec);
        term.draw(|f| replay::render(&snap, &status, &COLOR, f.area(), f.buffer_mut()))
            .map_err(|e| AppError::runtime(e.to_string()))?;
        let buf = term.backend().buffer().clone();
        if prev.as_ref() == Some(&buf) {
            continue;
        }
        let mut text = if prev.is_none() {
            "\x1b[2J".to_string()
        } else {
            String::new()
        };
        text.push_str(&to_ansi(&buf));
        let t = (rec.frames[i].t_ms - t0) as f64 / 1e3;
        writeln!(o, "{}", serde_json::json!([t, "o", text])).map_err(io)?;
        prev = Some(buf);
    }
    o.flush().map_err(io)?;
    Ok(rec.frames.len())
}

/// The whole buffer as terminal output: home the cursor, then every row with SGR escapes
/// wherever the style changes.
pub fn to_ansi(buf: &Buffer) -> String {
    let a = buf.area;
    let mut s = String::from("\x1b[H");
    for y in a.y..a.y + a.height {
        let mut cur: Option<Style> = None;
        s.push_str(&format!("\x1b[{};1H", y - a.y + 1));
        for x in a.x..a.x + a.width {
            let c = &buf[(x, y)];
            let st = c.style();
            if cur != Some(st) {
                s.push_str(&sgr(st));
                cur = Some(st);
            }
            s.push_str(c.symbol());
        }
        s.push_str("\x1b[0m");
    }
    s
}

fn sgr(st: Style) -> String {
    let mut codes: Vec<String> = vec!["0".into()];
    let m = st.add_modifier;
    for (bit, code) in [
        (Modifier::BOLD, "1"),
        (Modifier::DIM, "2"),
        (Modifier::ITALIC, "3"),
        (Modifier::UNDERLINED, "4"),
        (Modifier::REVERSED, "7"),
        (Modifier::CROSSED_OUT, "9"),
    ] {
        if m.contains(bit) {
            codes.push(code.into());
        }
    }
    if let Some(c) = st.fg {
        codes.push(color(c, false));
    }
    if let Some(c) = st.bg {
        codes.push(color(c, true));
    }
    format!("\x1b[{}m", codes.join(";"))
}

fn color(c: Color, bg: bool) -> String {
    let base = if bg { 40 } else { 30 };
    let named = |i: u8| (base + i as u16).to_string();
    let bright = |i: u8| (base + 60 + i as u16).to_string();
    match c {
        Color::Reset => (base + 9).to_string(),
        Color::Black => named(0),
        Color::Red => named(1),
        Color::Green => named(2),
        Color::Yellow => named(3),
        Color::Blue => named(4),
        Color::Magenta => named(5),
        Color::Cyan => named(6),
        Color::Gray => named(7),
        Color::DarkGray => bright(0),
        Color::LightRed => bright(1),
        Color::LightGreen => bright(2),
        Color::LightYellow => bright(3),
        Color::LightBlue => bright(4),
        Color::LightMagenta => bright(5),
        Color::LightCyan => bright(6),
        Color::White => bright(7),
        Color::Indexed(i) => format!("{};5;{i}", base + 8),
        Color::Rgb(r, g, b) => format!("{};2;{r};{g};{b}", base + 8),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Recorder;
    use crate::session::fixture::fixture_snapshot;

    #[test]
    fn cast_is_asciicast_v2() {
        let dir = tempfile::tempdir().unwrap();
        let rp = dir.path().join("r.jsonl");
        let mut r = Recorder::create(&rp, false, Path::new("data.bin"), false).unwrap();
        for i in 0..3u64 {
            let mut s = fixture_snapshot();
            s.totals.touched += i;
            s.worker.accesses += i * 100;
            r.snapshot(&s).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(15));
        }
        drop(r);
        let mut rec = Recording::open(&rp).unwrap();
        let out = dir.path().join("o.cast");
        assert_eq!(write(&mut rec, &out, false, 80, 24).unwrap(), 3);
        let text = std::fs::read_to_string(&out).unwrap();
        let mut lines = text.lines();
        let h: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        assert_eq!(
            (
                h["version"].as_u64(),
                h["width"].as_u64(),
                h["height"].as_u64()
            ),
            (Some(2), Some(80), Some(24))
        );
        let mut last_t = -1.0;
        let mut n = 0;
        for l in lines {
            let e: serde_json::Value = serde_json::from_str(l).unwrap();
            let t = e[0].as_f64().unwrap();
            assert!(t >= last_t, "times never go back");
            last_t = t;
            assert_eq!(e[1], "o");
            let s = e[2].as_str().unwrap();
            assert!(s.contains("\x1b[H") && s.contains("replay data.bin"));
            n += 1;
        }
        assert!(n >= 1);
        // Never overwritten without --force.
        let e = write(&mut rec, &out, false, 80, 24).unwrap_err();
        assert_eq!(e.code, 2);
        assert!(write(&mut rec, &out, true, 80, 24).is_ok());
    }

    #[test]
    fn ansi_colours_and_sizes() {
        assert_eq!(color(Color::Red, false), "31");
        assert_eq!(color(Color::LightBlue, true), "104");
        assert_eq!(color(Color::Indexed(200), false), "38;5;200");
        assert_eq!(color(Color::Rgb(1, 2, 3), true), "48;2;1;2;3");
        assert_eq!(sgr(Style::new().add_modifier(Modifier::BOLD)), "\x1b[0;1m");
        assert_eq!(parse_size("120x40").unwrap(), (120, 40));
        for bad in ["120", "x", "10x10", "axb", "5000x40"] {
            assert_eq!(parse_size(bad).unwrap_err().code, 2, "{bad}");
        }
    }
}
