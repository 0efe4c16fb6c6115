//! Text for the screen and for text output: control characters escaped.

/// `s` with every control character escaped (C0, DEL and C1 as `\xNN`, e.g. ESC `\x1b`,
/// newline `\x0a`; `\u{NN}` above 0xFF), so a file name can neither send escape sequences to
/// the terminal (retitle it, clear the screen) nor break a line of text output. Escaping is
/// idempotent (a backslash is not a control character). JSON output needs no help: serde
/// escapes control characters in strings. The one helper for every path shown as text.
pub fn escape_controls(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            c if (c as u32) < 0x100 && c.is_control() => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A path for the screen or text output: lossy UTF-8, control characters escaped.
pub fn path(p: &std::path::Path) -> String {
    escape_controls(&p.display().to_string()).into_owned()
}

/// 1234567 -> "1,234,567".
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        let table = [
            ("plain.bin", "plain.bin"),
            (
                "esc\x1b]0;PWNED\x07\x1b[2J.bin",
                "esc\\x1b]0;PWNED\\x07\\x1b[2J.bin",
            ),
            ("new\nline", "new\\x0aline"),
            ("tab\tcr\r", "tab\\x09cr\\x0d"),
            ("del\x7f", "del\\x7f"),
            ("c1\u{9b}31m", "c1\\x9b31m"),
            ("already \\x1b escaped", "already \\x1b escaped"),
            ("ünïcode ok", "ünïcode ok"),
        ];
        for (raw, want) in table {
            assert_eq!(escape_controls(raw), want, "{raw:?}");
            assert!(!escape_controls(raw).chars().any(char::is_control));
        }
    }
}
