//! Small text helpers shared by the widgets (numbers with separators, names, truncation).

/// `65536` -> `65,536`.
pub fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A per-second rate, rounded for reading at a glance: `0`, `7.5`, `1,234`.
pub fn rate(r: f64) -> String {
    if !r.is_finite() || r <= 0.0 {
        "0".to_string()
    } else if r < 10.0 {
        format!("{r:.1}")
    } else {
        count(r.round() as u64)
    }
}

/// An optional ratio such as pages per fault; `?` when unknown.
pub fn ratio(r: Option<f64>) -> String {
    match r {
        Some(v) if v.is_finite() => {
            if v < 100.0 {
                format!("{v:.1}")
            } else {
                count(v.round() as u64)
            }
        }
        // Not measured yet (e.g. no major fault so far): a dash, not "?" (which reads as hidden).
        _ => "–".to_string(),
    }
}

/// Nanoseconds, with a unit that keeps 3 significant digits.
pub fn nanos(ns: f64) -> String {
    if !ns.is_finite() || ns < 0.0 {
        "?".to_string()
    } else if ns < 10.0 {
        format!("{ns:.2} ns")
    } else if ns < 1_000.0 {
        format!("{ns:.0} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.1} µs", ns / 1_000.0)
    } else {
        format!("{:.1} ms", ns / 1_000_000.0)
    }
}

/// Keeps the end of `s` (the file name matters most in a path), prefixing `…` when cut.
pub fn truncate_left(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let tail: String = s.chars().skip(n - (max - 1)).collect();
    format!("…{tail}")
}

/// Keeps the start of `s`, ending it with `…` when cut (titles, list rows).
pub fn truncate_right(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let head: String = s.chars().take(max - 1).collect();
    format!("{}…", head.trim_end())
}

/// Greedy word wrap to `width` columns (a word longer than a line is cut). Exact, so
/// panels can size themselves to their text.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    if width == 0 {
        return lines;
    }
    let mut cur = String::new();
    let mut cur_len = 0;
    for word in text.split_whitespace() {
        let mut word: String = word.to_string();
        let mut wlen = word.chars().count();
        if cur_len > 0 && cur_len + 1 + wlen > width {
            lines.push(std::mem::take(&mut cur));
            cur_len = 0;
        }
        while wlen > width {
            let head: String = word.chars().take(width).collect();
            word = word.chars().skip(width).collect();
            wlen -= width;
            if cur_len > 0 {
                lines.push(std::mem::take(&mut cur));
                cur_len = 0;
            }
            lines.push(head);
        }
        if cur_len > 0 {
            cur.push(' ');
            cur_len += 1;
        }
        cur.push_str(&word);
        cur_len += wlen;
    }
    if cur_len > 0 {
        lines.push(cur);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_right_cuts_with_an_ellipsis_and_keeps_short_text() {
        assert_eq!(truncate_right("Demand paging", 20), "Demand paging");
        assert_eq!(
            truncate_right("Demand paging: nothing is read", 16),
            "Demand paging:…"
        );
        assert_eq!(truncate_right("abc", 1), "…");
        assert_eq!(truncate_right("abc", 0), "");
        assert!(truncate_right("Lesson: x y", 9).chars().count() <= 9);
    }

    #[test]
    fn wrap_fits_width() {
        assert_eq!(wrap("a bb ccc dddd", 6), vec!["a bb", "ccc", "dddd"]);
        assert_eq!(wrap("abcdefgh", 3), vec!["abc", "def", "gh"]);
        assert!(wrap("x", 0).is_empty());
        assert!(wrap("", 5).is_empty());
    }

    #[test]
    fn counts_have_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(268_435_456), "268,435,456");
    }

    #[test]
    fn rates_and_ratios_read_well() {
        assert_eq!(rate(0.0), "0");
        assert_eq!(rate(f64::NAN), "0");
        assert_eq!(rate(7.46), "7.5");
        assert_eq!(rate(1234.4), "1,234");
        assert_eq!(ratio(None), "–");
        assert_eq!(ratio(Some(2048.0)), "2,048");
        assert_eq!(nanos(4.104), "4.10 ns");
        assert_eq!(nanos(1500.0), "1.5 µs");
    }

    #[test]
    fn paths_keep_their_end() {
        assert_eq!(truncate_left("/a/b/data.bin", 40), "/a/b/data.bin");
        assert_eq!(truncate_left("/very/long/dir/data.bin", 10), "…/data.bin");
        assert_eq!(truncate_left("abc", 0), "");
    }
}
