//! From `/proc/<pid>/maps` to a file's pages: the ranges that map each file (grouped by
//! device and inode), and the page-table presence of a file's pages combined over all its
//! ranges by file offset. Pure functions of the maps text and pagemap reads.

use super::procfs::MapLine;
use crate::kernel::pagemap::{PagemapReader, PresentRun};
use crate::units::page_size;
use serde::Serialize;
use std::io;
use std::os::unix::fs::MetadataExt;

/// One mapping of the file in the observed process.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileRange {
    /// Virtual address of the first byte.
    pub addr: u64,
    pub len_bytes: u64,
    /// File offset mapped at `addr` (page aligned, as mmap requires).
    pub file_offset: u64,
    pub perms: String,
}

/// A file named in `/proc/<pid>/maps`, all its ranges together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MappedFile {
    pub path: String,
    pub dev: (u32, u32),
    pub inode: u64,
    pub deleted: bool,
    pub ranges: Vec<FileRange>,
}

impl MappedFile {
    pub fn mapped_bytes(&self) -> u64 {
        self.ranges.iter().map(|r| r.len_bytes).sum()
    }
}

/// Groups maps lines by file (device + inode), in address order.
pub fn files_in_maps(lines: &[MapLine]) -> Vec<MappedFile> {
    let mut out: Vec<MappedFile> = Vec::new();
    for l in lines.iter().filter(|l| l.is_file()) {
        let dev = (l.dev_major, l.dev_minor);
        let range = FileRange {
            addr: l.start,
            len_bytes: l.end - l.start,
            file_offset: l.offset,
            perms: l.perms.clone(),
        };
        match out.iter_mut().find(|f| f.dev == dev && f.inode == l.inode) {
            Some(f) => f.ranges.push(range),
            None => out.push(MappedFile {
                path: l
                    .path
                    .strip_suffix(" (deleted)")
                    .unwrap_or(&l.path)
                    .to_string(),
                dev,
                inode: l.inode,
                deleted: l.deleted(),
                ranges: vec![range],
            }),
        }
    }
    out
}

/// Device numbers of a file as /proc/<pid>/maps prints them (major, minor).
pub fn dev_of(meta: &std::fs::Metadata) -> (u32, u32) {
    let d = meta.dev();
    (libc::major(d), libc::minor(d))
}

/// Sorts runs and makes them disjoint: a file page present through any range counts once as
/// mapped; a position held only by private copies counts once as private.
pub fn normalize_runs(runs: &mut Vec<PresentRun>) {
    fn union(mut v: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
        v.sort_unstable();
        let mut out: Vec<(u64, u64)> = Vec::with_capacity(v.len());
        for (s, e) in v {
            match out.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => out.push((s, e)),
            }
        }
        out
    }
    let file = union(
        runs.iter()
            .filter(|r| r.file)
            .map(|r| (r.start, r.end))
            .collect(),
    );
    let private = union(
        runs.iter()
            .filter(|r| !r.file)
            .map(|r| (r.start, r.end))
            .collect(),
    );
    // private minus file.
    let mut only_private = Vec::new();
    let mut j = 0;
    for (mut s, e) in private {
        while j < file.len() && file[j].1 <= s {
            j += 1;
        }
        let mut k = j;
        while s < e {
            match file.get(k) {
                Some(&(fs, fe)) if fs < e => {
                    if fs > s {
                        only_private.push((s, fs));
                    }
                    s = s.max(fe);
                    k += 1;
                }
                _ => {
                    only_private.push((s, e));
                    s = e;
                }
            }
        }
    }
    runs.clear();
    runs.extend(file.into_iter().map(|(start, end)| PresentRun {
        start,
        end,
        file: true,
    }));
    runs.extend(only_private.into_iter().map(|(start, end)| PresentRun {
        start,
        end,
        file: false,
    }));
    runs.sort_unstable_by_key(|r| r.start);
}

/// Present runs of the file's pages `start..end` (run indexes relative to `start`, the
/// convention of [`crate::session::grid`]), combining every range that maps them by file offset.
/// Pages at or past `file_pages` are never reported (the kernel unmaps them on truncate).
pub fn file_present_runs(
    reader: &mut PagemapReader,
    ranges: &[FileRange],
    file_pages: u64,
    start: u64,
    end: u64,
    scratch: &mut Vec<PresentRun>,
    out: &mut Vec<PresentRun>,
) -> io::Result<()> {
    out.clear();
    let ps = page_size();
    let end = end.min(file_pages);
    for r in ranges {
        let f0 = r.file_offset / ps;
        let f1 = f0 + r.len_bytes / ps;
        let (lo, hi) = (start.max(f0), end.min(f1));
        if hi <= lo {
            continue;
        }
        reader.present_runs(r.addr + (lo - f0) * ps, hi - lo, ps, scratch)?;
        let shift = lo - start;
        out.extend(scratch.iter().map(|p| PresentRun {
            start: p.start + shift,
            end: p.end + shift,
            file: p.file,
        }));
    }
    if ranges.len() > 1 {
        normalize_runs(out);
    }
    Ok(())
}

/// The regular files among `files` whose path still names the mapped inode (not deleted,
/// not replaced), with their size, largest first (ties: more bytes mapped).
pub(super) fn regular_files(files: &[MappedFile]) -> Vec<(&MappedFile, u64)> {
    let mut out: Vec<(&MappedFile, u64)> = files
        .iter()
        .filter(|f| !f.deleted)
        .filter_map(|f| {
            let meta = std::fs::metadata(&f.path).ok()?;
            (meta.is_file() && dev_of(&meta) == f.dev && meta.ino() == f.inode)
                .then_some((f, meta.len()))
        })
        .collect();
    out.sort_by_key(|b| std::cmp::Reverse((b.1, b.0.mapped_bytes())));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::procfs::parse_maps;

    fn run(start: u64, end: u64, file: bool) -> PresentRun {
        PresentRun { start, end, file }
    }

    #[test]
    fn runs_combine_by_file_offset() {
        // Table: input runs (possibly overlapping, from several ranges) -> disjoint output.
        let table: Vec<(Vec<PresentRun>, Vec<PresentRun>)> = vec![
            (vec![], vec![]),
            (
                vec![run(5, 8, true), run(0, 2, true), run(1, 6, true)],
                vec![run(0, 8, true)],
            ),
            (
                vec![run(0, 4, false), run(2, 3, true)],
                vec![run(0, 2, false), run(2, 3, true), run(3, 4, false)],
            ),
            (
                vec![run(0, 10, false), run(0, 10, true), run(12, 13, false)],
                vec![run(0, 10, true), run(12, 13, false)],
            ),
            (
                vec![run(3, 4, true), run(0, 9, false), run(6, 7, true)],
                vec![
                    run(0, 3, false),
                    run(3, 4, true),
                    run(4, 6, false),
                    run(6, 7, true),
                    run(7, 9, false),
                ],
            ),
        ];
        for (input, want) in table {
            let mut v = input.clone();
            normalize_runs(&mut v);
            assert_eq!(v, want, "{input:?}");
        }
    }

    #[test]
    fn maps_group_by_inode() {
        let text = "\
1000-3000 r--s 00000000 08:02 77 /d/a.bin
3000-4000 r--p 00000000 00:00 0
5000-6000 r--p 00004000 08:02 77 /d/a.bin
7000-9000 r-xp 00000000 08:02 78 /usr/bin/x
a000-b000 r--s 00000000 08:03 77 /other/dev/same-inode
";
        let files = files_in_maps(&parse_maps(text));
        assert_eq!(files.len(), 3);
        assert_eq!(files[0].path, "/d/a.bin");
        assert_eq!(
            files[0].ranges,
            vec![
                FileRange {
                    addr: 0x1000,
                    len_bytes: 0x2000,
                    file_offset: 0,
                    perms: "r--s".into()
                },
                FileRange {
                    addr: 0x5000,
                    len_bytes: 0x1000,
                    file_offset: 0x4000,
                    perms: "r--p".into()
                }
            ]
        );
        assert_eq!(files[0].mapped_bytes(), 0x3000);
        assert_eq!(files[2].dev, (8, 3));
    }
}
