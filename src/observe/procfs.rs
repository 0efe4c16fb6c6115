//! Pure parsers of the /proc text an observer reads: `/proc/<pid>/maps` lines and the
//! `/proc/<pid>/stat` fields it needs (state, flags, faults, start time).
//!
//! Kept free of I/O so they are table-tested on fixed lines.

/// One line of `/proc/<pid>/maps` (proc(5)): `start-end perms offset major:minor inode path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapLine {
    pub start: u64,
    pub end: u64,
    /// "r-xp", "rw-s", ...
    pub perms: String,
    /// File offset of `start` in bytes.
    pub offset: u64,
    pub dev_major: u32,
    pub dev_minor: u32,
    pub inode: u64,
    /// The path as the kernel prints it (may end in " (deleted)"; empty for anonymous).
    pub path: String,
}

impl MapLine {
    /// True for a shared mapping (`s` in the fourth perms column).
    pub fn shared(&self) -> bool {
        self.perms.as_bytes().get(3) == Some(&b's')
    }
    /// True when the line names a file (inode != 0 and an absolute path): regular files,
    /// but also device files; the caller checks the file type.
    pub fn is_file(&self) -> bool {
        self.inode != 0 && self.path.starts_with('/')
    }
    /// The file was deleted (or replaced by rename) after it was mapped.
    pub fn deleted(&self) -> bool {
        self.path.ends_with(" (deleted)")
    }
}

/// Parses one maps line; `None` for a line that does not have the documented shape.
pub fn parse_map_line(line: &str) -> Option<MapLine> {
    // The path is the rest of the line after the fifth field and may contain spaces.
    let mut rest = line;
    let mut field = || {
        let t = rest.trim_start_matches(' ');
        let end = t.find(' ').unwrap_or(t.len());
        let (f, r) = t.split_at(end);
        rest = r;
        (!f.is_empty()).then_some(f)
    };
    let range = field()?;
    let perms = field()?;
    let offset = field()?;
    let dev = field()?;
    let inode = field()?;
    let path = rest.trim_start_matches(' ').to_string();
    let (s, e) = range.split_once('-')?;
    let (maj, min) = dev.split_once(':')?;
    let start = u64::from_str_radix(s, 16).ok()?;
    let end = u64::from_str_radix(e, 16).ok()?;
    if end < start || perms.len() != 4 {
        return None;
    }
    Some(MapLine {
        start,
        end,
        perms: perms.to_string(),
        offset: u64::from_str_radix(offset, 16).ok()?,
        dev_major: u32::from_str_radix(maj, 16).ok()?,
        dev_minor: u32::from_str_radix(min, 16).ok()?,
        inode: inode.parse().ok()?,
        path,
    })
}

/// Parses a whole maps file, skipping lines that do not parse.
pub fn parse_maps(text: &str) -> Vec<MapLine> {
    text.lines().filter_map(parse_map_line).collect()
}

/// `PF_KTHREAD` from `<linux/sched.h>`: the task is a kernel thread (field 9, flags).
pub const PF_KTHREAD: u64 = 0x0020_0000;

/// The fields of `/proc/<pid>/stat` an observer needs (proc_pid_stat(5)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatFields {
    /// Field 2 without the parentheses (at most 15 bytes, set by the program).
    pub comm: String,
    /// Field 3: R, S, D, Z (zombie: exited, not yet reaped), X, T, t, I ...
    pub state: char,
    /// Field 9: PF_* flags.
    pub flags: u64,
    /// Fields 10 and 12.
    pub minflt: u64,
    pub majflt: u64,
    /// Field 22: start time in clock ticks since boot. Same PID + same start time = same
    /// process (a reused PID starts later).
    pub starttime: u64,
}

impl StatFields {
    pub fn is_kernel_thread(&self) -> bool {
        self.flags & PF_KTHREAD != 0
    }
    /// Exited: a zombie waiting for its parent, or dead.
    pub fn exited(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Parses a stat line. The comm field may contain spaces and ')', so fields after it are
/// counted from the last ')'.
pub fn parse_stat_fields(s: &str) -> Option<StatFields> {
    let open = s.find('(')?;
    let close = s.rfind(')')?;
    if close < open {
        return None;
    }
    let comm = s[open + 1..close].to_string();
    // Field 3 is token 0 after ')'.
    let t: Vec<&str> = s[close + 1..].split_ascii_whitespace().collect();
    let f = |n: usize| t.get(n - 3).copied();
    let state = f(3)?.chars().next()?;
    Some(StatFields {
        comm,
        state,
        flags: f(9)?.parse().ok()?,
        minflt: f(10)?.parse().ok()?,
        majflt: f(12)?.parse().ok()?,
        starttime: f(22)?.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_lines_parse() {
        let l = parse_map_line(
            "7f1c2a000000-7f1c2a400000 r--s 00010000 fd:01 1234567                    /data/my db.bin",
        )
        .unwrap();
        assert_eq!(l.start, 0x7f1c2a000000);
        assert_eq!(l.end, 0x7f1c2a400000);
        assert_eq!(l.offset, 0x10000);
        assert_eq!((l.dev_major, l.dev_minor), (0xfd, 1));
        assert_eq!(l.inode, 1234567);
        assert_eq!(l.path, "/data/my db.bin");
        assert!(l.shared() && l.is_file() && !l.deleted());

        let anon = parse_map_line("7ffd1000-7ffd2000 rw-p 00000000 00:00 0 ").unwrap();
        assert!(!anon.is_file() && !anon.shared());
        let stack = parse_map_line("7ffd1000-7ffd2000 rw-p 00000000 00:00 0    [stack]").unwrap();
        assert_eq!(stack.path, "[stack]");
        assert!(!stack.is_file());
        let del = parse_map_line("1000-2000 r--p 00000000 08:02 77 /tmp/x (deleted)").unwrap();
        assert!(del.deleted() && del.is_file());

        for bad in [
            "",
            "zzzz-1000 r--p 0 0:0 0",
            "2000-1000 r--p 00000000 00:00 0",
            "1000-2000 r--p 00000000",
            "1000-2000 r- 00000000 00:00 0",
        ] {
            assert_eq!(parse_map_line(bad), None, "{bad:?}");
        }
        assert_eq!(
            parse_maps("1000-2000 r--p 00000000 00:00 0\ngarbage\n3000-4000 r--p 0 00:00 0\n")
                .len(),
            2
        );
    }

    #[test]
    fn stat_fields_parse() {
        // A real line from this kernel (a zombie), comm with a space and ')'.
        let line = "1154 (my ) prog) Z 1151 1154 26158 0 -1 4227084 395 0 7 0 0 0 0 0 20 0 1 0 \
                    29531 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        let s = parse_stat_fields(line).unwrap();
        assert_eq!(s.comm, "my ) prog");
        assert_eq!(s.state, 'Z');
        assert!(s.exited());
        assert_eq!(s.flags, 4227084);
        assert!(!s.is_kernel_thread());
        assert_eq!((s.minflt, s.majflt), (395, 7));
        assert_eq!(s.starttime, 29531);

        let kthread = "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0";
        let k = parse_stat_fields(kthread).unwrap();
        assert!(k.is_kernel_thread() && !k.exited());
        assert_eq!(k.starttime, 1);

        for bad in [
            "",
            "1 (x) R 1 2",
            "1 x) R",
            ")( R 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15",
        ] {
            assert_eq!(parse_stat_fields(bad), None, "{bad:?}");
        }
    }
}
