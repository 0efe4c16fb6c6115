//! A ratatui [`Buffer`] as an SVG image: screenshots for the README from a real session,
//! with nothing to install (no terminal emulator, no headless browser).
//!
//! Text runs are `<text>` elements stretched to their cells (`textLength`), so columns line up
//! whatever monospace font the viewer has; the block glyphs of the grid and the bars
//! (█ ▌ ▄ ░ ▒ ▓ …) are drawn as rectangles, so they tile without the gaps fonts leave.

use ratatui::buffer::{Buffer, Cell};
use ratatui::style::{Color, Modifier};
use std::fmt::Write;

/// The terminal the image pretends to be: default colours and cell size.
#[derive(Clone, Copy, Debug)]
pub struct SvgStyle {
    pub fg: &'static str,
    pub bg: &'static str,
    /// Font size in px; a cell is 0.6 × this wide and 1.2 × this high.
    pub font_px: f64,
}

/// A dark terminal (the dark, projector and mono themes).
pub const DARK_TERMINAL: SvgStyle = SvgStyle {
    fg: "#d0d0d0",
    bg: "#101010",
    font_px: 14.0,
};

/// A light terminal (the light theme).
pub const LIGHT_TERMINAL: SvgStyle = SvgStyle {
    fg: "#202020",
    bg: "#fafafa",
    font_px: 14.0,
};

/// The 16 ANSI colours (xterm's defaults) and the 256-colour cube.
fn hex(c: Color) -> Option<String> {
    let named = |s: &str| Some(s.to_string());
    match c {
        Color::Reset => None,
        Color::Black => named("#000000"),
        Color::Red => named("#cd0000"),
        Color::Green => named("#00cd00"),
        Color::Yellow => named("#cdcd00"),
        Color::Blue => named("#0000ee"),
        Color::Magenta => named("#cd00cd"),
        Color::Cyan => named("#00cdcd"),
        Color::Gray => named("#e5e5e5"),
        Color::DarkGray => named("#7f7f7f"),
        Color::LightRed => named("#ff0000"),
        Color::LightGreen => named("#00ff00"),
        Color::LightYellow => named("#ffff00"),
        Color::LightBlue => named("#5c5cff"),
        Color::LightMagenta => named("#ff00ff"),
        Color::LightCyan => named("#00ffff"),
        Color::White => named("#ffffff"),
        Color::Rgb(r, g, b) => Some(format!("#{r:02x}{g:02x}{b:02x}")),
        Color::Indexed(i) => Some(indexed(i)),
    }
}

fn indexed(i: u8) -> String {
    const BASE: [Color; 16] = [
        Color::Black,
        Color::Red,
        Color::Green,
        Color::Yellow,
        Color::Blue,
        Color::Magenta,
        Color::Cyan,
        Color::Gray,
        Color::DarkGray,
        Color::LightRed,
        Color::LightGreen,
        Color::LightYellow,
        Color::LightBlue,
        Color::LightMagenta,
        Color::LightCyan,
        Color::White,
    ];
    match i {
        0..=15 => hex(BASE[i as usize]).unwrap_or_default(),
        16..=231 => {
            let v = |n: u8| if n == 0 { 0 } else { 55 + 40 * n };
            let n = i - 16;
            format!("#{:02x}{:02x}{:02x}", v(n / 36), v(n / 6 % 6), v(n % 6))
        }
        _ => {
            let g = 8 + 10 * (i - 232);
            format!("#{g:02x}{g:02x}{g:02x}")
        }
    }
}

/// Block glyphs drawn as a rectangle: (x0, y0, x1, y1) in cell fractions, and opacity.
fn block(sym: &str) -> Option<(f64, f64, f64, f64, f64)> {
    Some(match sym {
        "█" => (0.0, 0.0, 1.0, 1.0, 1.0),
        "▓" => (0.0, 0.0, 1.0, 1.0, 0.75),
        "▒" => (0.0, 0.0, 1.0, 1.0, 0.5),
        "░" => (0.0, 0.0, 1.0, 1.0, 0.25),
        "▌" => (0.0, 0.0, 0.5, 1.0, 1.0),
        "▐" => (0.5, 0.0, 1.0, 1.0, 1.0),
        "▀" => (0.0, 0.0, 1.0, 0.5, 1.0),
        "▁" => (0.0, 7.0 / 8.0, 1.0, 1.0, 1.0),
        "▂" => (0.0, 6.0 / 8.0, 1.0, 1.0, 1.0),
        "▃" => (0.0, 5.0 / 8.0, 1.0, 1.0, 1.0),
        "▄" => (0.0, 4.0 / 8.0, 1.0, 1.0, 1.0),
        "▅" => (0.0, 3.0 / 8.0, 1.0, 1.0, 1.0),
        "▆" => (0.0, 2.0 / 8.0, 1.0, 1.0, 1.0),
        "▇" => (0.0, 1.0 / 8.0, 1.0, 1.0, 1.0),
        "▉" => (0.0, 0.0, 7.0 / 8.0, 1.0, 1.0),
        "▊" => (0.0, 0.0, 6.0 / 8.0, 1.0, 1.0),
        "▋" => (0.0, 0.0, 5.0 / 8.0, 1.0, 1.0),
        "▍" => (0.0, 0.0, 3.0 / 8.0, 1.0, 1.0),
        "▎" => (0.0, 0.0, 2.0 / 8.0, 1.0, 1.0),
        "▏" => (0.0, 0.0, 1.0 / 8.0, 1.0, 1.0),
        _ => return None,
    })
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A cell's effective colours and text attributes.
#[derive(Clone, PartialEq)]
struct Look {
    fg: String,
    bg: Option<String>,
    bold: bool,
    dim: bool,
    italic: bool,
    underline: bool,
}

fn look(c: &Cell, term: &SvgStyle) -> Look {
    let m = c.modifier;
    let (mut fg, mut bg) = (hex(c.fg), hex(c.bg));
    if m.contains(Modifier::REVERSED) {
        let f = fg.take().unwrap_or_else(|| term.fg.to_string());
        fg = Some(bg.take().unwrap_or_else(|| term.bg.to_string()));
        bg = Some(f);
    }
    Look {
        fg: fg.unwrap_or_else(|| term.fg.to_string()),
        bg,
        bold: m.contains(Modifier::BOLD),
        dim: m.contains(Modifier::DIM),
        italic: m.contains(Modifier::ITALIC),
        underline: m.contains(Modifier::UNDERLINED),
    }
}

/// Renders `buf` as a standalone SVG document. `title` becomes the image's accessible name.
pub fn render(buf: &Buffer, term: &SvgStyle, title: &str) -> String {
    let a = buf.area;
    let (cw, ch) = (term.font_px * 0.6, term.font_px * 1.2);
    let (w, h) = (f64::from(a.width) * cw, f64::from(a.height) * ch);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.1} {h:.1}" role="img">
<title>{}</title>
<rect width="100%" height="100%" fill="{}"/>
<g font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="{}" xml:space="preserve" shape-rendering="crispEdges">
"#,
        esc(title),
        term.bg,
        term.font_px
    );
    for y in 0..a.height {
        let row: Vec<(&Cell, Look)> = (0..a.width)
            .map(|x| {
                let c = &buf[(a.x + x, a.y + y)];
                (c, look(c, term))
            })
            .collect();
        let py = f64::from(y) * ch;
        // Backgrounds, merged into runs.
        let mut x = 0;
        while x < row.len() {
            let bg = row[x].1.bg.clone();
            let start = x;
            while x < row.len() && row[x].1.bg == bg {
                x += 1;
            }
            if let Some(bg) = bg {
                let _ = writeln!(
                    s,
                    r#"<rect x="{:.1}" y="{py:.1}" width="{:.1}" height="{ch:.1}" fill="{bg}"/>"#,
                    start as f64 * cw,
                    (x - start) as f64 * cw
                );
            }
        }
        // Blocks as rectangles; text as runs of one look.
        let mut x = 0;
        while x < row.len() {
            let (cell, lk) = &row[x];
            let sym = cell.symbol();
            if let Some((x0, y0, x1, y1, op)) = block(sym) {
                let _ = writeln!(
                    s,
                    r#"<rect x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="{}"{}/>"#,
                    (x as f64 + x0) * cw,
                    py + y0 * ch,
                    (x1 - x0) * cw,
                    (y1 - y0) * ch,
                    lk.fg,
                    if op < 1.0 || lk.dim {
                        format!(r#" fill-opacity="{}""#, op * if lk.dim { 0.6 } else { 1.0 })
                    } else {
                        String::new()
                    }
                );
                x += 1;
                continue;
            }
            let start = x;
            let mut text = String::new();
            while x < row.len() && row[x].1 == *lk && block(row[x].0.symbol()).is_none() {
                text.push_str(row[x].0.symbol());
                x += 1;
            }
            if text.trim().is_empty() {
                continue;
            }
            let mut attrs = format!(r#" fill="{}""#, lk.fg);
            if lk.bold {
                attrs.push_str(r#" font-weight="bold""#);
            }
            if lk.dim {
                attrs.push_str(r#" fill-opacity="0.6""#);
            }
            if lk.italic {
                attrs.push_str(r#" font-style="italic""#);
            }
            if lk.underline {
                attrs.push_str(r#" text-decoration="underline""#);
            }
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}" textLength="{:.1}" lengthAdjust="spacingAndGlyphs"{attrs}>{}</text>"#,
                start as f64 * cw,
                py + ch * 0.8,
                (x - start) as f64 * cw,
                esc(&text)
            );
        }
    }
    s.push_str("</g>\n</svg>\n");
    s
}

/// The buffer's text, one line per row, trailing blanks removed (the text capture).
pub fn text(buf: &Buffer) -> String {
    let a = buf.area;
    let mut out = String::new();
    for y in 0..a.height {
        let line: String = (0..a.width)
            .map(|x| buf[(a.x + x, a.y + y)].symbol())
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::layout::Rect;
    use ratatui::style::Style;

    fn buf() -> Buffer {
        let mut b = Buffer::empty(Rect::new(0, 0, 6, 2));
        b.set_string(
            0,
            0,
            "a<b",
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        );
        b.set_string(3, 0, "█▌", Style::new().fg(Color::Green));
        b.set_string(0, 1, "ok", Style::new().add_modifier(Modifier::REVERSED));
        b
    }

    #[test]
    fn text_runs_blocks_and_reverse_video() {
        let svg = render(&buf(), &DARK_TERMINAL, "t & u");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("<title>t &amp; u</title>"));
        // Text is escaped, coloured and bold, stretched over its 3 cells (3 × 8.4 px).
        assert!(
            svg.contains(r##"textLength="25.2" lengthAdjust="spacingAndGlyphs" fill="#cd0000" font-weight="bold">a&lt;b</text>"##),
            "{svg}"
        );
        // █ is a full cell, ▌ half a cell, in the foreground colour.
        assert!(
            svg.contains(
                r##"<rect x="25.20" y="0.00" width="8.40" height="16.80" fill="#00cd00"/>"##
            ),
            "{svg}"
        );
        assert!(
            svg.contains(
                r##"<rect x="33.60" y="0.00" width="4.20" height="16.80" fill="#00cd00"/>"##
            ),
            "{svg}"
        );
        // Reversed: terminal background as text colour on the terminal foreground.
        assert!(
            svg.contains(r##"width="16.8" height="16.8" fill="#d0d0d0"/>"##),
            "{svg}"
        );
        assert!(svg.contains(r##"fill="#101010">ok</text>"##), "{svg}");
    }

    #[test]
    fn text_capture_trims_rows() {
        assert_eq!(text(&buf()), "a<b█▌\nok\n");
    }

    #[test]
    fn palette() {
        assert_eq!(indexed(16), "#000000");
        assert_eq!(indexed(231), "#ffffff");
        assert_eq!(indexed(232), "#080808");
        assert_eq!(hex(Color::Rgb(1, 2, 255)).unwrap(), "#0102ff");
        assert_eq!(hex(Color::Reset), None);
    }
}
