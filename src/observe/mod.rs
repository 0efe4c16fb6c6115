//! Observing a foreign process (`mmviz attach`, `mmviz exec`): which pages of a file it maps,
//! the faults it takes, and the file's page cache, read from /proc only.
//!
//! Nothing here signals, traces or writes to the observed program: it reads
//! `/proc/<pid>/{stat,maps,pagemap,task/*/stat}` and asks the page cache about the file
//! through mmviz's own read-only descriptor.
//!
//! Identity: the kept-open `/proc/<pid>/stat` descriptor refers to the process it was opened
//! on (a reused PID is a different `struct pid`, and reads of the old descriptor fail with
//! ESRCH), so it is the anchor. Anything opened later by path is checked against the start
//! time (stat field 22) read when we attached.
//!
//! Measured on this kernel (6.18): after the program calls execve, the old `maps` descriptor
//! reads as empty and the old `pagemap` descriptor reads zero bytes, while `stat` keeps
//! working; a zombie's `stat` still holds its final fault counts (equal to wait4's rusage).

pub mod live;
pub mod procfs;
pub mod ranges;

pub use ranges::FileRange;
use ranges::{dev_of, file_present_runs, files_in_maps, regular_files, MappedFile};

use crate::kernel::counters::Faults;
use crate::kernel::pagemap::{PagemapReader, PresentRun};
use crate::kernel::residency::CacheProbe;
use crate::kernel::target::Target;
use crate::session::snapshot::PagemapSource;
use procfs::{parse_maps, parse_stat_fields, StatFields};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// How the observed file was chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Chosen {
    /// Named by the user (FILE / --file).
    Given,
    /// The largest regular file (by size) the process maps, re-chosen on every sample.
    LargestMapped,
    /// Picked in the live view (the `f` key cycles through the files it maps).
    Picked,
}

/// Whether the process is still there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Liveness {
    Running,
    /// Exited, not yet reaped by its parent: its stat holds the final fault counts.
    Zombie,
    /// Exited and reaped: nothing can be read any more.
    Gone,
}

/// Something that changed under the observer (the report lists them with the time).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ObsEvent {
    /// Milliseconds since observation started.
    pub at_ms: u64,
    /// exec, mapped, unmapped, remapped, resized, switched, exited, unreadable
    pub kind: String,
    pub detail: String,
}

/// Faults of one thread (`/proc/<pid>/task/<tid>/stat`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ThreadFaults {
    pub tid: u32,
    pub comm: String,
    pub minor: u64,
    pub major: u64,
}

/// The file being watched.
pub struct Watched {
    pub target: Target,
    pub probe: CacheProbe,
    pub dev: (u32, u32),
    pub inode: u64,
    pub chosen: Chosen,
    /// Its ranges at the latest sample (empty: not mapped now).
    pub ranges: Vec<FileRange>,
    /// Page-cache pages when observation of this file began; None when hidden.
    pub cached_before: Option<u64>,
    /// Milliseconds after the start at which this file began to be watched.
    pub since_ms: u64,
}

impl Watched {
    fn open(path: &Path, chosen: Chosen, since_ms: u64) -> crate::error::Result<Watched> {
        let target = Target::open(path)?;
        let meta = target
            .file
            .metadata()
            .map_err(|e| crate::error::AppError::bad_input(path, e))?;
        let mut probe = CacheProbe::new(&target.file, target.size, &target.fs)
            .map_err(|e| crate::error::AppError::runtime(format!("{}: {e}", path.display())))?;
        let pages = probe.pages();
        let cached_before = probe.range(0, pages).ok().flatten().map(|r| r.cached);
        Ok(Watched {
            dev: dev_of(&meta),
            inode: meta.ino(),
            target,
            probe,
            chosen,
            ranges: Vec::new(),
            cached_before,
            since_ms,
        })
    }

    pub fn pages(&self) -> u64 {
        self.probe.pages()
    }

    fn matches(&self, f: &MappedFile) -> bool {
        f.dev == self.dev && f.inode == self.inode
    }
}

/// The latest reading of the process and its file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObsSample {
    pub at_ms: u64,
    /// Whole process (all threads, including exited ones), since it started.
    pub faults: Option<Faults>,
    pub threads: Vec<ThreadFaults>,
    /// File pages present in the page table over all ranges; None: not readable.
    pub mapped: Option<u64>,
    /// Positions held only by private (copy-on-write) copies.
    pub private: Option<u64>,
}

/// Watches one process.
pub struct Observer {
    pid: u32,
    starttime: u64,
    comm: String,
    stat: File,
    maps: Result<File, String>,
    pagemap: Result<PagemapReader, String>,
    want: Option<PathBuf>,
    watched: Option<Watched>,
    threads: BTreeMap<u32, File>,
    liveness: Liveness,
    t0: Instant,
    events: Vec<ObsEvent>,
    text: String,
    buf: Vec<u8>,
    scratch: Vec<PresentRun>,
    runs: Vec<PresentRun>,
    /// Latest successful reading of each kind.
    pub last: ObsSample,
    /// Time of the latest sample that read the page table.
    pub last_mapped_ms: Option<u64>,
    /// Largest `mapped` seen at any sample.
    pub mapped_max: Option<u64>,
    /// Why no file is watched (None when one is).
    pub file_note: Option<String>,
    pub samples: u64,
    /// The regular files the process mapped at the last sample that read its memory map:
    /// (path, file size, bytes mapped), largest file first.
    pub candidates: Vec<(String, u64, u64)>,
    /// Present runs of the watched file's pages (whole file, combined by file offset) at the
    /// last sample that read the page table: what the live view's grid shows, and keeps
    /// after the process exits.
    pub last_runs: Vec<PresentRun>,
}

/// Why /proc/<pid>/X cannot be read, in words.
fn unreadable(pid: u32, what: &str, e: &io::Error) -> String {
    let why = if e.kind() == io::ErrorKind::PermissionDenied {
        "permission denied: another user's memory map needs the same user or CAP_SYS_PTRACE \
         (ptrace read access, proc(5))"
            .to_string()
    } else {
        crate::error::io_reason(e)
    };
    format!("cannot read /proc/{pid}/{what}: {why}")
}

fn read_stat(f: &File, buf: &mut [u8]) -> io::Result<StatFields> {
    let n = f.read_at(buf, 0)?;
    let s = std::str::from_utf8(&buf[..n])
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "stat is not UTF-8"))?;
    parse_stat_fields(s).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad stat"))
}

impl Observer {
    /// Starts observing `pid`; `file` picks the file (else the largest mapped regular file).
    /// Errors (exit 2): no such process, a kernel thread, an exited process, a bad FILE.
    pub fn attach(pid: u32, file: Option<&Path>) -> crate::error::Result<Observer> {
        Self::open(pid, file, false)
    }

    /// For mmviz's own child (`exec`): a program that already exited (a zombie until we reap
    /// it) is still observed: its stat holds the final fault counts.
    pub fn attach_child(pid: u32, file: Option<&Path>) -> crate::error::Result<Observer> {
        Self::open(pid, file, true)
    }

    fn open(pid: u32, file: Option<&Path>, allow_zombie: bool) -> crate::error::Result<Observer> {
        use crate::error::AppError;
        if pid == 0 {
            return Err(AppError::usage("PID 0 is not a process"));
        }
        let stat = File::open(format!("/proc/{pid}/stat")).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                AppError::usage(format!("no process with PID {pid}"))
            } else {
                AppError::runtime(unreadable(pid, "stat", &e))
            }
        })?;
        let mut buf = vec![0u8; 4096];
        let st = read_stat(&stat, &mut buf).map_err(|e| {
            if e.raw_os_error() == Some(libc::ESRCH) {
                AppError::usage(format!("no process with PID {pid} (it just exited)"))
            } else {
                AppError::runtime(unreadable(pid, "stat", &e))
            }
        })?;
        if st.is_kernel_thread() {
            return Err(AppError::usage(format!(
                "PID {pid} ({}) is a kernel thread: it has no user address space and maps no files",
                st.comm
            )));
        }
        if st.exited() && !allow_zombie {
            return Err(AppError::usage(format!(
                "PID {pid} ({}) has already exited (a zombie waiting for its parent): \
                 nothing left to observe",
                st.comm
            )));
        }
        let zombie = st.exited();
        let maps = File::open(format!("/proc/{pid}/maps")).map_err(|e| unreadable(pid, "maps", &e));
        let pagemap = PagemapReader::open(pid).map_err(|e| unreadable(pid, "pagemap", &e));
        let mut o = Observer {
            pid,
            starttime: st.starttime,
            comm: st.comm,
            stat,
            maps,
            pagemap,
            want: file.map(Path::to_path_buf),
            watched: None,
            threads: BTreeMap::new(),
            liveness: if zombie {
                Liveness::Zombie
            } else {
                Liveness::Running
            },
            t0: Instant::now(),
            events: Vec::new(),
            text: String::new(),
            buf,
            scratch: Vec::new(),
            runs: Vec::new(),
            last: ObsSample::default(),
            last_mapped_ms: None,
            mapped_max: None,
            file_note: None,
            samples: 0,
            candidates: Vec::new(),
            last_runs: Vec::new(),
        };
        // Opened after the process checks, so a reused PID was not ours. The open is
        // checked again (regular file, read-only) inside Target::open.
        if let Some(p) = file {
            o.watched = Some(Watched::open(p, Chosen::Given, 0)?);
        }
        Ok(o)
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }
    pub fn comm(&self) -> &str {
        &self.comm
    }
    pub fn starttime(&self) -> u64 {
        self.starttime
    }
    pub fn liveness(&self) -> Liveness {
        self.liveness
    }
    pub fn events(&self) -> &[ObsEvent] {
        &self.events
    }
    pub fn watched(&self) -> Option<&Watched> {
        self.watched.as_ref()
    }
    pub fn watched_mut(&mut self) -> Option<&mut Watched> {
        self.watched.as_mut()
    }
    /// Why the memory map cannot be read (another user's process), if it cannot.
    pub fn maps_note(&self) -> Option<&str> {
        self.maps.as_ref().err().map(String::as_str)
    }
    pub fn pagemap_note(&self) -> Option<&str> {
        self.pagemap.as_ref().err().map(String::as_str)
    }
    pub fn pagemap_source(&self) -> PagemapSource {
        match &self.pagemap {
            Ok(r) => r.source(),
            Err(_) => PagemapSource::Unavailable,
        }
    }
    pub fn elapsed_ms(&self) -> u64 {
        self.t0.elapsed().as_millis() as u64
    }

    fn event(&mut self, kind: &str, detail: String) {
        let at_ms = self.elapsed_ms();
        self.events.push(ObsEvent {
            at_ms,
            kind: kind.to_string(),
            detail,
        });
    }

    /// Reads the process's state, faults, threads, maps and its file's mapped pages.
    pub fn sample(&mut self) -> &ObsSample {
        if self.liveness == Liveness::Gone {
            return &self.last;
        }
        self.samples += 1;
        let at_ms = self.elapsed_ms();
        let st = match read_stat(&self.stat, &mut self.buf) {
            Ok(s) => s,
            Err(_) => {
                // ESRCH: reaped. What we have is the previous sample.
                self.liveness = Liveness::Gone;
                self.event(
                    "exited",
                    "the process exited and was reaped; the figures are its last sample".into(),
                );
                return &self.last;
            }
        };
        self.last.at_ms = at_ms;
        self.last.faults = Some(Faults {
            minor: st.minflt,
            major: st.majflt,
        });
        self.comm = st.comm.clone();
        if st.exited() {
            let first = self.liveness != Liveness::Zombie || self.events.is_empty();
            self.liveness = Liveness::Zombie;
            self.threads.clear();
            if self.watched.is_none() && self.file_note.is_none() {
                self.file_note =
                    Some("the process exited before its memory map could be read".into());
            }
            if !first {
                return &self.last;
            }
            self.event(
                "exited",
                "the process exited (zombie, not yet reaped): fault counts are final, its page \
                 table is gone (mapped pages are from the sample before)"
                    .into(),
            );
            return &self.last;
        }
        self.sample_threads();
        self.sample_maps(at_ms);
        &self.last
    }

    fn sample_threads(&mut self) {
        let pid = self.pid;
        if let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            for e in rd.flatten() {
                if let Some(tid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) {
                    if let std::collections::btree_map::Entry::Vacant(v) = self.threads.entry(tid) {
                        if let Ok(f) = File::open(format!("/proc/{pid}/task/{tid}/stat")) {
                            v.insert(f);
                        }
                    }
                }
            }
        }
        // The listing was by path: it was our process only if our anchor still reads (a PID
        // cannot be reused while its process exists, zombie or not).
        if read_stat(&self.stat, &mut self.buf).is_err() {
            self.threads.clear();
            return;
        }
        let mut out = Vec::with_capacity(self.threads.len());
        let buf = &mut self.buf;
        self.threads.retain(|&tid, f| match read_stat(f, buf) {
            Ok(s) if !s.exited() => {
                out.push(ThreadFaults {
                    tid,
                    comm: s.comm,
                    minor: s.minflt,
                    major: s.majflt,
                });
                true
            }
            _ => false,
        });
        self.last.threads = out;
    }

    /// Reads the maps text through the kept-open descriptor; empty after an execve.
    fn read_maps(&mut self) -> io::Result<bool> {
        let Ok(f) = self.maps.as_mut() else {
            return Ok(false);
        };
        self.text.clear();
        f.rewind()?;
        f.read_to_string(&mut self.text)?;
        Ok(true)
    }

    /// After the old maps descriptor went empty: the program either exec'd (new maps by path,
    /// same start time) or is exiting (no maps at all).
    fn reopen_after_exec(&mut self) -> bool {
        let pid = self.pid;
        let Ok(mut f) = File::open(format!("/proc/{pid}/maps")) else {
            return false;
        };
        let mut text = String::new();
        if f.read_to_string(&mut text).is_err() || text.is_empty() {
            return false;
        }
        // Opened by path: check it was our process (same start time, still alive).
        let same = File::open(format!("/proc/{pid}/stat"))
            .and_then(|s| read_stat(&s, &mut self.buf))
            .map(|s| s.starttime == self.starttime)
            .unwrap_or(false);
        if !same || read_stat(&self.stat, &mut self.buf).is_err() {
            return false;
        }
        f.rewind().ok();
        self.maps = Ok(f);
        self.pagemap = PagemapReader::open(pid).map_err(|e| unreadable(pid, "pagemap", &e));
        self.text = text;
        true
    }

    fn sample_maps(&mut self, at_ms: u64) {
        match self.read_maps() {
            Ok(true) => {}
            Ok(false) => {
                self.last.mapped = None;
                self.last.private = None;
                if self.watched.is_none() {
                    self.file_note = self.maps_note().map(|n| {
                        format!("{n}; without the memory map no file can be chosen (give FILE)")
                    });
                }
                return;
            }
            Err(e) => {
                let pid = self.pid;
                let note = unreadable(pid, "maps", &e);
                self.event("unreadable", note.clone());
                self.maps = Err(note);
                return;
            }
        }
        if self.text.is_empty() {
            if self.reopen_after_exec() {
                self.event(
                    "exec",
                    format!(
                        "the program called execve (now '{}'): its old mappings are gone",
                        self.comm
                    ),
                );
                if let Some(w) = self.watched.as_mut() {
                    w.ranges.clear();
                }
            } else {
                // Exiting: its address space is already released.
                return;
            }
        }
        let files = files_in_maps(&parse_maps(&self.text));
        self.candidates = regular_files(&files)
            .into_iter()
            .map(|(f, size)| (f.path.clone(), size, f.mapped_bytes()))
            .collect();
        if self.want.is_none() {
            self.choose_largest(&files, at_ms);
        }
        let Some(w) = self.watched.as_mut() else {
            self.last.mapped = None;
            self.last.private = None;
            return;
        };
        let ranges: Vec<FileRange> = files
            .iter()
            .find(|f| w.matches(f))
            .map(|f| f.ranges.clone())
            .unwrap_or_default();
        let mut ev: Option<(&str, String)> = None;
        if ranges != w.ranges {
            ev = Some(match (w.ranges.is_empty(), ranges.is_empty()) {
                (true, false) => (
                    "mapped",
                    format!("{} range(s) of the file mapped", ranges.len()),
                ),
                (false, true) => ("unmapped", "the file is no longer mapped".to_string()),
                _ => (
                    "remapped",
                    format!(
                        "the file's mappings changed: {} -> {} range(s)",
                        w.ranges.len(),
                        ranges.len()
                    ),
                ),
            });
            w.ranges = ranges;
        }
        let old = w.target.size;
        let resized = match w.target.refresh_size() {
            Ok(new) if new != old => {
                w.probe.set_size(new);
                Some(format!("file size changed: {old} -> {new} bytes"))
            }
            _ => None,
        };
        let pages = w.pages();
        let res = match self.pagemap.as_mut() {
            Ok(r) => file_present_runs(
                r,
                &w.ranges,
                pages,
                0,
                pages,
                &mut self.scratch,
                &mut self.runs,
            )
            .map(|()| true),
            Err(_) => Ok(false),
        };
        if let Some((k, d)) = ev {
            self.event(k, d);
        }
        if let Some(d) = resized {
            self.event("resized", d);
        }
        match res {
            Ok(true) => {
                let (file, private) =
                    crate::kernel::pagemap::count_in(&self.runs, 0, u64::MAX, &mut 0);
                self.last.mapped = Some(file);
                self.last.private = Some(private);
                self.last_runs.clone_from(&self.runs);
                self.last_mapped_ms = Some(at_ms);
                self.mapped_max = Some(self.mapped_max.unwrap_or(0).max(file));
            }
            Ok(false) => {
                self.last.mapped = None;
                self.last.private = None;
            }
            Err(e) => {
                // ESRCH: the address space went away between maps and pagemap (exit or exec);
                // the next sample tells which.
                if e.raw_os_error() != Some(libc::ESRCH) {
                    let pid = self.pid;
                    let note = unreadable(pid, "pagemap", &e);
                    self.event("unreadable", note.clone());
                    self.pagemap = Err(note);
                }
            }
        }
    }

    /// Without FILE: watch the largest regular file mapped now (by file size; ties: more
    /// bytes mapped). Switching is an event, and the new file's "before" is taken now.
    fn choose_largest(&mut self, files: &[MappedFile], at_ms: u64) {
        let Some((f, _)) = regular_files(files).into_iter().next() else {
            if self.watched.is_none() {
                self.file_note = Some("the process maps no regular file we can open".into());
            }
            return;
        };
        if self.watched.as_ref().is_some_and(|w| w.matches(f)) {
            return;
        }
        match Watched::open(Path::new(&f.path), Chosen::LargestMapped, at_ms) {
            Ok(w) => {
                self.last_runs.clear();
                let was = self
                    .watched
                    .as_ref()
                    .map(|o| o.target.path.display().to_string());
                self.watched = Some(w);
                self.file_note = None;
                self.event(
                    "switched",
                    match was {
                        Some(p) => format!("now watching {} (larger than {p})", f.path),
                        None => format!("watching {} (the largest mapped regular file)", f.path),
                    },
                );
            }
            Err(e) => {
                if self.watched.is_none() {
                    self.file_note = Some(format!("cannot open the largest mapped file: {e}"));
                }
            }
        }
    }

    /// Watches the next of [`Self::candidates`] after the current file (the live view's `f`);
    /// from then on the choice is the user's and is not re-made by size. Returns the line
    /// for the screen.
    pub fn switch_next(&mut self) -> Result<String, String> {
        if self.candidates.is_empty() {
            return Err(match self.maps_note() {
                Some(n) => format!("no other file to watch: {n}"),
                None => "the process maps no regular file we can open".to_string(),
            });
        }
        let cur = self.watched.as_ref().map(|w| (w.dev, w.inode));
        let pos = self.candidates.iter().position(|(p, _, _)| {
            std::fs::metadata(p)
                .ok()
                .is_some_and(|m| Some((dev_of(&m), m.ino())) == cur)
        });
        let next = pos.map_or(0, |i| (i + 1) % self.candidates.len());
        let (path, _, _) = self.candidates[next].clone();
        if pos == Some(next) {
            return Err(format!("{path} is the only regular file it maps"));
        }
        let at_ms = self.elapsed_ms();
        let w = Watched::open(Path::new(&path), Chosen::Picked, at_ms).map_err(|e| e.msg)?;
        self.watched = Some(w);
        self.want = Some(PathBuf::from(&path));
        self.file_note = None;
        self.last_runs.clear();
        self.last.mapped = None;
        self.last.private = None;
        self.mapped_max = None;
        let line = format!(
            "now watching {path} (file {} of {} it maps)",
            next + 1,
            self.candidates.len()
        );
        self.event("switched", line.clone());
        // Its ranges and pages now, not at the next tick.
        self.sample();
        Ok(line)
    }

    /// Present runs of the watched file's pages `start..end` (relative to `start`), from the
    /// ranges of the latest sample: what a grid cell source needs. Ok(false) when there is no
    /// file or the page table cannot be read.
    pub fn present_runs(
        &mut self,
        start: u64,
        end: u64,
        out: &mut Vec<PresentRun>,
    ) -> io::Result<bool> {
        out.clear();
        let (Some(w), Ok(r)) = (self.watched.as_ref(), self.pagemap.as_mut()) else {
            return Ok(false);
        };
        file_present_runs(r, &w.ranges, w.pages(), start, end, &mut self.scratch, out)?;
        Ok(true)
    }

    /// Page-cache pages of the watched file now (None: no file, or hidden by the kernel).
    pub fn cached_now(&mut self) -> Option<u64> {
        let w = self.watched.as_mut()?;
        let pages = w.probe.pages();
        w.probe.range(0, pages).ok().flatten().map(|r| r.cached)
    }
}
