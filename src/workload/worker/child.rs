//! The worker process: the only process that dereferences the mapping.
//!
//! If the file is truncated under it, touching a page wholly beyond the new end raises SIGBUS,
//! which kills this process and not the viewer. A tiny handler first writes the faulting
//! offset to stderr so the parent can explain what happened.

use super::protocol::*;
use crate::kernel::advice::Advice;
use crate::kernel::counters::ProcCounters;
use crate::workload::patterns::{PatternIter, PatternKind};
use memmap2::{Mmap, MmapMut, MmapOptions};
use roaring::RoaringTreemap;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The grep access mode (a regex search is not an offset iterator).
mod grep_mode;
mod loops;

use loops::{access, drive_sampled, share_q16};
pub use loops::{write_access, WriteLoop};

/// Base address and length of the mapping, for the SIGBUS handler.
static MAP_BASE: AtomicUsize = AtomicUsize::new(0);
static MAP_LEN: AtomicUsize = AtomicUsize::new(0);

/// Most pages kept for the "recent" front per report.
const RECENT_MAX: usize = 256;
/// Upper bound of a batch at the unlimited rate (bounds the offsets buffer: 512 KiB).
const MAX_BATCH: usize = 64 * 1024;
/// Target duration of one unlimited-rate batch: long enough that per-batch bookkeeping
/// (two /proc reads, ~2.5 µs) is noise, short enough that controls are served promptly.
const BATCH_TARGET: Duration = Duration::from_millis(2);
/// At a rate limit above this many accesses per second the worker wakes at most every
/// `MIN_GAP` and runs what is due as one batch (fewer wake-ups: 500/s instead of one per access).
const RATE_BATCH_ABOVE: u64 = 500;
const MIN_GAP: Duration = Duration::from_millis(2);
/// A rate-limited worker that fell behind (stopped by SIGSTOP, a slow disk, a long pause in the
/// scheduler) does not burst to catch up: backlog beyond this much time is dropped.
const MAX_BACKLOG: Duration = Duration::from_millis(100);

/// Entry point of `mmviz __worker FILE` (read-only, default options).
pub fn main(path: &Path) -> i32 {
    main_with(path, &WorkerOptions::default())
}

/// Entry point of `mmviz __worker FILE [--write ...]`. Returns the process exit code.
pub fn main_with(path: &Path, opts: &WorkerOptions) -> i32 {
    let start = Instant::now();
    crate::kernel::sys::die_with_parent();
    match run(path, opts, start) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("worker: {}: {e}", path.display());
            1
        }
    }
}

extern "C" fn on_sigbus(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // Only async-signal-safe work: format into a stack buffer, write(2), re-raise.
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers; si_addr is valid
    // for SIGBUS.
    let addr = unsafe { (*info).si_addr() } as usize;
    let base = MAP_BASE.load(Ordering::Relaxed);
    let len = MAP_LEN.load(Ordering::Relaxed);
    let mut buf = [0u8; 64];
    let mut n = 0;
    let mut put = |s: &[u8]| {
        for &b in s {
            if n < buf.len() {
                buf[n] = b;
                n += 1;
            }
        }
    };
    if addr >= base && addr < base + len {
        put(b"SIGBUS at offset ");
        let mut digits = [0u8; 20];
        let mut v = addr - base;
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        put(&digits[i..]);
    } else {
        put(b"SIGBUS outside the mapping");
    }
    put(b"\n");
    // SAFETY: write(2) and signal(2)/raise(3) are async-signal-safe; buf is a live stack array.
    unsafe {
        libc::write(2, buf.as_ptr() as *const libc::c_void, n);
        libc::signal(libc::SIGBUS, libc::SIG_DFL);
        libc::raise(libc::SIGBUS);
    }
}

fn install_sigbus_handler() {
    // SAFETY: sigaction is plain old data; all-zero is a valid initial value.
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = on_sigbus as *const () as usize;
    sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESETHAND;
    // SAFETY: sa is fully initialised; the handler only does async-signal-safe work.
    unsafe {
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut());
    }
}

struct Run {
    iter: PatternIter,
    spec: PatternSpec,
    limit: Limit,
    rate: Option<u64>,
    state: WorkerState,
    advice: Advice,
    report_ms: u64,
    progress: Progress,
    last: u64,
    first_access: Option<Instant>,
    finished_at: Option<Instant>,
    batch: usize,
    /// Rate limiting: accesses allowed so far = rate * running time since `rate_epoch`.
    rate_epoch: Instant,
    rate_done: u64,
    step_pending: bool,
    /// Grep's search state; Some only for the grep pattern (see `grep_mode`).
    grep: Option<crate::workload::patterns::grep::Grep>,
}

/// The worker's mapping: read-only (the user's file) or writable (a scratch file only).
enum Mapping {
    Read(Mmap),
    /// MAP_SHARED or MAP_PRIVATE with PROT_WRITE; stores go through `base`, a raw pointer
    /// taken once, and loads in write mode too, so no `&[u8]` aliases the stored bytes.
    Write {
        map: MmapMut,
        base: *mut u8,
    },
}

impl Mapping {
    fn addr(&self) -> usize {
        match self {
            Mapping::Read(m) => m.as_ptr() as usize,
            Mapping::Write { base, .. } => *base as usize,
        }
    }
    fn len(&self) -> usize {
        match self {
            Mapping::Read(m) => m.len(),
            Mapping::Write { map, .. } => map.len(),
        }
    }
    fn advise(&self, a: memmap2::Advice) -> io::Result<()> {
        match self {
            Mapping::Read(m) => m.advise(a),
            Mapping::Write { map, .. } => map.advise(a),
        }
    }
}

/// Write-mode state of the worker.
#[derive(Default)]
struct WriteState {
    /// Share of stores in 1/65536 (65536 = every access stores).
    share_q16: u32,
    /// Bresenham accumulator: stores are spread evenly, deterministically.
    acc: u32,
    msync_every: Option<u64>,
    since_msync: u64,
}

struct Worker {
    map: Option<Mapping>,
    write: Option<WriteState>,
    /// The descriptor, when kept open after mmap (`--keep-fd`).
    _fd: Option<File>,
    size: u64,
    page_size: u64,
    counters: ProcCounters,
    touched: RoaringTreemap,
    new_touched: Vec<u64>,
    touched_reset: bool,
    /// Offsets of the current batch, filled by index (MAX_BATCH long, allocated once).
    offs: Vec<u64>,
    recent: Vec<u64>,
    /// Distinct pages/regions accessed since the last report (TLB reach estimate).
    interval: crate::kernel::tlb::IntervalSets,
    out: BufWriter<io::Stdout>,
    run: Run,
    seq: u64,
    last_report: Instant,
}

/// Opens and maps the file as `opts` says: the address-space limit first, then the mapping,
/// then (by default) the descriptor is closed: the mapping holds its own reference to the
/// file, so /proc/<worker>/fd shows no descriptor while /proc/<worker>/maps shows the mapping.
fn map_file(path: &Path, opts: &WorkerOptions) -> io::Result<(Option<Mapping>, u64, Option<File>)> {
    let file = match opts.write {
        // Writes only ever go to scratch files mmviz created (see scratch.rs): refuse any
        // other name rather than trust the caller.
        Some(mode) => {
            if !crate::workload::scratch::is_scratch_name(path) {
                return Err(io::Error::other(format!(
                    "refusing --write {mode} on a file that is not an mmviz scratch file"
                )));
            }
            match mode {
                WriteMode::Shared => std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(path)?,
                // MAP_PRIVATE needs only read access: the copies are anonymous memory.
                WriteMode::Private => File::open(path)?,
            }
        }
        None => File::open(path)?,
    };
    let size = file.metadata()?.len();
    if let Some(limit) = opts.address_space {
        crate::kernel::sys::set_address_space_limit(limit)?;
    }
    // What this process already occupies counts against the limit too (binary, heap, stacks).
    let used = opts
        .address_space
        .and_then(|_| crate::kernel::addrspace::vm_status(std::process::id()).ok())
        .map(|s| s.vm_size);
    let enomem = |e: io::Error| -> io::Error {
        match (e.raw_os_error(), opts.address_space) {
            (Some(libc::ENOMEM), Some(limit)) => io::Error::other(format!(
                "mmap of {} failed with ENOMEM: a {} address space (RLIMIT_AS) cannot hold a {} mapping{}",
                crate::units::human_bytes(size),
                crate::units::human_bytes(limit),
                crate::units::human_bytes(size),
                used.map(|u| format!(
                    " (the worker already used {} of it)",
                    crate::units::human_bytes(u)
                ))
                .unwrap_or_default()
            )),
            _ => e,
        }
    };
    let map = if size == 0 {
        None
    } else {
        let mut o = MmapOptions::new();
        o.len(size as usize);
        Some(match opts.write {
            // SAFETY: the mapping is read-only and shared. Another process may truncate the
            // file; then touching pages beyond the end raises SIGBUS, which kills this process
            // only — that is exactly why this is a separate process (see DESIGN.md).
            None => Mapping::Read(unsafe { o.map(&file) }.map_err(enomem)?),
            Some(mode) => {
                // SAFETY: a scratch file only this mmviz writes; truncation by another process
                // raises SIGBUS in this process only, as for reads.
                let mut m = unsafe {
                    match mode {
                        WriteMode::Shared => o.map_mut(&file),
                        WriteMode::Private => o.map_copy(&file),
                    }
                }
                .map_err(enomem)?;
                let base = m.as_mut_ptr();
                Mapping::Write { map: m, base }
            }
        })
    };
    let keep = opts.keep_fd.then_some(file);
    Ok((map, size, keep))
}

fn run(path: &Path, opts: &WorkerOptions, start: Instant) -> io::Result<()> {
    let page_size = crate::units::page_size();
    install_sigbus_handler();
    let (map, size, fd) = map_file(path, opts)?;
    if let Some(m) = &map {
        MAP_BASE.store(m.addr(), Ordering::Relaxed);
        MAP_LEN.store(m.len(), Ordering::Relaxed);
    }
    let write = opts.write.map(|_| WriteState {
        share_q16: share_q16(opts.write_share),
        ..WriteState::default()
    });
    let mut w = Worker {
        write,
        _fd: fd,
        counters: ProcCounters::open(None)?,
        touched: RoaringTreemap::new(),
        new_touched: Vec::new(),
        touched_reset: false,
        offs: vec![0; MAX_BATCH],
        recent: Vec::new(),
        interval: crate::kernel::tlb::IntervalSets::for_len(size),
        out: BufWriter::new(io::stdout()),
        run: Run::new(PatternSpec::default(), size, page_size),
        seq: 0,
        last_report: Instant::now(),
        size,
        page_size,
        map,
    };
    w.send(&Report::Hello {
        version: PROTOCOL_VERSION,
        pid: std::process::id(),
        addr: w.map.as_ref().map_or(0, |m| m.addr() as u64),
        len: size,
        page_size,
        startup_ns: start.elapsed().as_nanos() as u64,
    })?;
    w.main_loop()
}

impl Run {
    fn new(spec: PatternSpec, size: u64, page_size: u64) -> Run {
        Run {
            iter: PatternIter::new(&spec.params(size, page_size)),
            spec,
            limit: Limit::OnePass,
            rate: None,
            state: WorkerState::Idle,
            advice: Advice::Normal,
            report_ms: 50,
            progress: Progress::default(),
            last: 0,
            first_access: None,
            finished_at: None,
            // Start small: the first accesses may be slow (cold disk, sparse holes) and the
            // worker answers controls only between batches; it doubles quickly when fast.
            batch: 16,
            rate_epoch: Instant::now(),
            rate_done: 0,
            step_pending: false,
            grep: None,
        }
    }

    fn target(&self) -> Option<u64> {
        match self.limit {
            Limit::OnePass => Some(self.iter.one_pass()),
            Limit::Accesses(n) => Some(n),
            Limit::DurationMs(_) | Limit::Unbounded => None,
        }
    }
}

impl Worker {
    fn send(&mut self, r: &Report) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, r)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }

    fn main_loop(&mut self) -> io::Result<()> {
        let stdin_fd = io::stdin().as_raw_fd();
        set_nonblocking(stdin_fd)?;
        let mut line = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let timeout = self.poll_timeout();
            if poll_readable(stdin_fd, timeout)? {
                match io::stdin().lock().read(&mut buf) {
                    Ok(0) => return Ok(()), // parent closed the pipe: it is gone
                    Ok(n) => {
                        for &b in &buf[..n] {
                            if b == b'\n' {
                                let cmd: Result<Control, _> = serde_json::from_slice(&line);
                                line.clear();
                                match cmd {
                                    Ok(Control::Stop) => {
                                        self.report()?;
                                        return Ok(());
                                    }
                                    Ok(c) => self.control(c)?,
                                    Err(e) => self.send(&Report::Ack {
                                        what: "parse".into(),
                                        error: Some(e.to_string()),
                                    })?,
                                }
                            } else {
                                line.push(b);
                            }
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            self.tick()?;
        }
    }

    /// How long to wait for a control message before the next batch is due. At a rate limit
    /// the worker sleeps in poll(2) until the next access is due (or a control arrives), so a
    /// slow demo costs about nothing; it never spins with a zero timeout.
    fn poll_timeout(&self) -> Duration {
        let r = &self.run;
        if r.step_pending {
            return Duration::ZERO;
        }
        if r.state != WorkerState::Running {
            return Duration::from_millis(200);
        }
        match r.rate {
            None => Duration::ZERO,
            Some(rate) => {
                // The next access is due when `rate_done + 1` accesses are allowed; above
                // RATE_BATCH_ABOVE accesses/s wake at most every MIN_GAP and run the accesses
                // due by then as one batch (the average rate is the same).
                let rate = rate.max(1) as f64;
                let next = (r.rate_done + 1) as f64 / rate;
                let now = r.rate_epoch.elapsed().as_secs_f64();
                let wait = Duration::from_secs_f64((next - now).clamp(0.0, 0.2));
                if rate > RATE_BATCH_ABOVE as f64 {
                    wait.max(MIN_GAP)
                } else {
                    wait
                }
            }
        }
    }

    fn control(&mut self, c: Control) -> io::Result<()> {
        match c {
            Control::Configure {
                pattern,
                limit,
                rate,
                paused,
                report_ms,
            } => {
                let mut params = pattern.params(self.size, self.page_size);
                // An empty file is a valid target (nothing is mapped; a run finishes at once
                // with 0 accesses, as `run` expects), so validate every field but the size.
                params.file_size = params.file_size.max(params.access_size).max(1);
                if let Err(e) = params.validate() {
                    return self.send(&Report::Ack {
                        what: "configure".into(),
                        error: Some(e),
                    });
                }
                let grep = match grep_mode::prepare(&pattern) {
                    Ok(g) => g,
                    Err(e) => {
                        return self.send(&Report::Ack {
                            what: "configure".into(),
                            error: Some(e),
                        })
                    }
                };
                let advice = self.run.advice;
                self.run = Run::new(pattern, self.size, self.page_size);
                self.run.grep = grep;
                self.run.advice = advice;
                self.run.limit = limit;
                self.run.rate = rate.filter(|&r| r > 0);
                self.run.report_ms = report_ms.max(1);
                self.run.state = if paused {
                    WorkerState::Paused
                } else {
                    WorkerState::Running
                };
                self.run.rate_epoch = Instant::now();
                self.recent.clear();
                self.send(&Report::Ack {
                    what: "configure".into(),
                    error: None,
                })?;
                self.report()?;
            }
            Control::SetRate { rate } => {
                self.run.rate = rate.filter(|&r| r > 0);
                self.run.rate_epoch = Instant::now();
                self.run.rate_done = 0;
                self.report()?;
            }
            Control::Pause => {
                if self.run.state == WorkerState::Running {
                    self.run.state = WorkerState::Paused;
                }
                self.report()?;
            }
            Control::Resume => {
                if self.run.state == WorkerState::Paused || self.run.state == WorkerState::Idle {
                    self.run.state = WorkerState::Running;
                    self.run.rate_epoch = Instant::now();
                    self.run.rate_done = 0;
                }
                self.report()?;
            }
            Control::Step => {
                if self.run.state != WorkerState::Finished {
                    self.run.state = WorkerState::Paused;
                    self.run.step_pending = true;
                }
            }
            Control::Advise { advice } => {
                // Leaving `hugepage`: madvise cannot clear VM_HUGEPAGE, only replace it with
                // VM_NOHUGEPAGE, so that is what the mapping gets (see Advice::Hugepage).
                let leaving_huge =
                    self.run.advice == Advice::Hugepage && advice != Advice::Hugepage;
                let err = match &self.map {
                    Some(m) => (if leaving_huge {
                        m.advise(memmap2::Advice::NoHugePage)
                    } else {
                        Ok(())
                    })
                    .and_then(|()| m.advise(to_memmap_advice(advice)))
                    .err()
                    .map(|e| e.to_string()),
                    None => None,
                };
                if err.is_none() {
                    self.run.advice = advice;
                }
                self.send(&Report::Ack {
                    what: "advise".into(),
                    error: err,
                })?;
                self.report()?;
            }
            Control::DropMapping => {
                let err = match &self.map {
                    Some(m) => crate::kernel::sys::madvise(m.addr(), m.len(), libc::MADV_DONTNEED)
                        .err()
                        .map(|e| e.to_string()),
                    None => None,
                };
                self.clear_touched();
                self.send(&Report::Ack {
                    what: "drop_mapping".into(),
                    error: err,
                })?;
                self.report()?;
            }
            Control::ResetTouched => {
                self.clear_touched();
                self.report()?;
            }
            Control::Stop => {}
            Control::Msync { sync } => self.msync(sync, false)?,
            Control::MsyncEvery { every } => {
                if let Some(ws) = self.write.as_mut() {
                    ws.msync_every = every.filter(|&n| n > 0);
                    ws.since_msync = 0;
                }
                let error = self
                    .write
                    .is_none()
                    .then(|| "not in write mode".to_string());
                self.send(&Report::Ack {
                    what: "msync_every".into(),
                    error,
                })?;
            }
            Control::SetWriteShare { share } => {
                let error = match self.write.as_mut() {
                    Some(_) if !(0.0..=1.0).contains(&share) => {
                        Some(format!("write share {share} is not between 0 and 1"))
                    }
                    Some(ws) => {
                        ws.share_q16 = share_q16(share);
                        None
                    }
                    None => Some("not in write mode".to_string()),
                };
                self.send(&Report::Ack {
                    what: "set_write_share".into(),
                    error,
                })?;
            }
        }
        Ok(())
    }

    /// msync over the whole mapping, timed here (the parent measures the pages it wrote back
    /// with cachestat around it).
    fn msync(&mut self, sync: bool, periodic: bool) -> io::Result<()> {
        let flags = if sync { libc::MS_SYNC } else { libc::MS_ASYNC };
        let (ns, error) = match &self.map {
            Some(m) => {
                let t0 = Instant::now();
                let r = crate::kernel::sys::msync(m.addr(), m.len(), flags);
                (
                    t0.elapsed().as_nanos() as u64,
                    r.err().map(|e| e.to_string()),
                )
            }
            None => (0, None),
        };
        self.send(&Report::Msynced {
            sync,
            ns,
            periodic,
            error,
        })
    }

    /// `MsyncEvery`: counts accesses and runs msync(MS_SYNC) when N are done.
    fn after_batch_msync(&mut self, n: usize) -> io::Result<()> {
        let Some(ws) = self.write.as_mut() else {
            return Ok(());
        };
        let Some(every) = ws.msync_every else {
            return Ok(());
        };
        ws.since_msync += n as u64;
        if ws.since_msync >= every {
            ws.since_msync = 0;
            self.msync(true, true)?;
        }
        Ok(())
    }

    /// Accesses left before the next periodic msync (caps a batch).
    fn msync_cap(&self) -> u64 {
        match &self.write {
            Some(WriteState {
                msync_every: Some(n),
                since_msync,
                ..
            }) => n.saturating_sub(*since_msync).max(1),
            _ => u64::MAX,
        }
    }

    fn clear_touched(&mut self) {
        self.touched.clear();
        self.new_touched.clear();
        self.recent.clear();
        self.touched_reset = true;
    }

    /// Runs a batch if one is due, then reports if a report is due.
    fn tick(&mut self) -> io::Result<()> {
        let step = std::mem::take(&mut self.run.step_pending);
        if self.run.state == WorkerState::Running || step {
            let n = self.batch_size(step);
            if n > 0 {
                self.batch(n)?;
                self.after_batch_msync(n)?;
            }
            if n == 0 && self.map.is_none() {
                // Empty file: batch() marks the run finished.
                self.batch(0)?;
            }
            // batch() finishes by itself on an empty file, where an access count or a
            // duration can never be met: report that too, or the parent waits forever.
            if self.run.state == WorkerState::Finished || self.limit_reached() {
                self.run.state = WorkerState::Finished;
                self.run.finished_at = Some(Instant::now());
                return self.report();
            }
            // At slow rates every batch is reported (each access is visible); otherwise at
            // most every report_ms. A turn that ran nothing reports nothing.
            let slow = n > 0 && self.run.rate.is_some_and(|r| r <= 50);
            if step
                || slow
                || self.last_report.elapsed() >= Duration::from_millis(self.run.report_ms)
            {
                self.report()?;
            }
        }
        Ok(())
    }

    fn limit_reached(&self) -> bool {
        let r = &self.run;
        match r.limit {
            Limit::DurationMs(ms) => r
                .first_access
                .is_some_and(|t| t.elapsed() >= Duration::from_millis(ms)),
            _ => r.target().is_some_and(|t| r.progress.accesses >= t),
        }
    }

    fn batch_size(&mut self, step: bool) -> usize {
        let r = &mut self.run;
        let remaining = r
            .target()
            .map_or(u64::MAX, |t| t.saturating_sub(r.progress.accesses));
        let want = if step {
            // One visible batch: at a slow rate one access, otherwise 1/10 s worth.
            r.rate.map_or(r.batch as u64, |rate| (rate / 10).max(1))
        } else if let Some(rate) = r.rate {
            let elapsed = r.rate_epoch.elapsed();
            let allowed = (elapsed.as_secs_f64() * rate as f64) as u64;
            let backlog = allowed.saturating_sub(r.rate_done);
            let cap = ((rate as f64 * MAX_BACKLOG.as_secs_f64()) as u64).max(1);
            if backlog > cap {
                // Fell behind: restart the rate clock instead of bursting (the accesses owed
                // for the stall are dropped, as a frame-limited renderer drops frames).
                r.rate_epoch = Instant::now();
                r.rate_done = 0;
                1
            } else {
                backlog.min(MAX_BATCH as u64)
            }
        } else {
            r.batch as u64
        };
        let cap = self.msync_cap();
        want.min(remaining).min(MAX_BATCH as u64).min(cap) as usize
    }

    fn batch(&mut self, n: usize) -> io::Result<()> {
        if self.run.grep.is_some() {
            return self.grep_batch(n);
        }
        let Some(mapping) = self.map.as_ref() else {
            // Empty file: nothing to access; count nothing.
            self.run.state = WorkerState::Finished;
            return Ok(());
        };
        // Write mode touches the mapping through its raw base only (see Mapping::Write).
        let (map, wbase): (&[u8], Option<*mut u8>) = match mapping {
            Mapping::Read(m) => (&m[..], None),
            Mapping::Write { base, .. } => (&[], Some(*base)),
        };
        let mut wacc = self.write.as_ref().map_or(0, |w| w.acc);
        let share_q16 = self.write.as_ref().map_or(0, |w| w.share_q16);
        let scan = self.run.spec.kind == PatternKind::Scan;
        let size = if scan {
            self.page_size
        } else {
            self.run.spec.access_size
        };
        let f0 = self.counters.faults()?;
        let mut last = self.run.last;
        let mut sum = self.run.progress.checksum;
        // A local copy, so its state can live in registers for the whole loop.
        let mut it = self.run.iter.clone();
        let iter = &mut it;
        // A slice of exactly n slots written in order: unlike Vec::push, no capacity check
        // and no length store per access, so the timed loop stays as small as a plain one.
        let offs = &mut self.offs[..n];
        // Chase's next offset depends on the bytes read, so its offsets are recorded as they
        // are drawn (a dependent load hides the store). Every other pattern ignores `last`:
        // the timed loop then stores nothing, and the offsets are recovered after the clock
        // stops by replaying a clone of the iterator.
        let record = self.run.spec.kind == PatternKind::Chase;
        let replay = (!record).then(|| iter.clone());
        // The last `k` accesses of the batch are timed one by one (1 in N; N from the rate).
        let lat = &mut self.run.progress.latency;
        if !lat.calibrated() {
            lat.calibrate();
        }
        let k =
            lat.take_samples(n as u64, crate::latency::sample_every_for(self.run.rate)) as usize;
        let t0 = Instant::now();
        if let Some(base) = wbase {
            let w = WriteLoop {
                base,
                fsize: self.size,
                size,
                scan,
                share_q16,
            };
            // SAFETY: base..base+size is this worker's writable mapping (live for the
            // worker's life); the pattern keeps off + len <= size.
            last = unsafe { w.run(iter, offs, record, last, k, lat, &mut wacc, &mut sum) };
        } else if scan {
            let fsize = self.size;
            let f = |off: u64| {
                let len = (fsize - off).min(size) as usize;
                let v = access(map, off, len);
                sum = sum.wrapping_add(v);
                v
            };
            last = drive_sampled(iter, offs, record, last, k, lat, f);
        } else if size == 1 {
            // The classic case, kept free of any size logic: one volatile load per access.
            let f = |off: u64| {
                let v = access(map, off, 1);
                sum = sum.wrapping_add(v);
                v
            };
            last = drive_sampled(iter, offs, record, last, k, lat, f);
        } else {
            let size = size as usize;
            let f = |off: u64| {
                let v = access(map, off, size);
                sum = sum.wrapping_add(v);
                v
            };
            last = drive_sampled(iter, offs, record, last, k, lat, f);
        }
        let t1 = Instant::now();
        if let Some(mut r) = replay {
            for slot in offs.iter_mut() {
                *slot = r.next_offset(0);
            }
        }
        self.run.iter = it;
        if let Some(w) = self.write.as_mut() {
            w.acc = wacc;
        }
        let f1 = self.counters.faults()?;
        let dt = t1.duration_since(t0);

        let r = &mut self.run;
        r.last = last;
        if r.first_access.is_none() {
            r.first_access = Some(t0);
            r.progress.first_access_mono_ns =
                crate::kernel::counters::mono_ns().saturating_sub(t0.elapsed().as_nanos() as u64);
        }
        r.rate_done += n as u64;
        let p = &mut r.progress;
        p.checksum = sum;
        p.accesses += n as u64;
        p.batches += 1;
        p.elapsed_ns += dt.as_nanos() as u64;
        let d = f1.since(f0);
        p.faults.minor += d.minor;
        p.faults.major += d.major;
        p.last_batch_faults = d;
        p.last_batch_accesses = n as u64;
        // Adapt the unlimited-rate batch so one batch takes about BATCH_TARGET.
        if r.rate.is_none() {
            if dt < BATCH_TARGET / 2 && r.batch < MAX_BATCH {
                r.batch *= 2;
            } else if dt > BATCH_TARGET * 4 && r.batch > 16 {
                r.batch /= 2;
            }
        }

        // Bookkeeping, outside the timed window: touched pages and the recent front.
        let ps = self.page_size;
        let access_pages = if scan { 1 } else { size.div_ceil(ps).max(1) };
        self.recent.clear();
        let offs = &self.offs[..n];
        let stride = (n / RECENT_MAX).max(1);
        let sets = &mut self.interval;
        sets.start(self.seq);
        for (i, &off) in offs.iter().enumerate() {
            sets.insert(off);
            let first = off / ps;
            let last_page = (off + size.max(1) - 1).min(self.size - 1) / ps;
            for p in first..=last_page.min(first + access_pages) {
                if self.touched.insert(p) {
                    self.new_touched.push(p);
                }
            }
            if i % stride == 0 || i + 1 == n {
                self.recent.push(first);
            }
        }
        let p = &mut self.run.progress;
        (p.interval_pages, p.interval_regions) = self.interval.counts();
        Ok(())
    }

    fn report(&mut self) -> io::Result<()> {
        self.seq += 1;
        self.last_report = Instant::now();
        let r = &mut self.run;
        let mut p = r.progress.clone();
        p.seq = self.seq;
        p.state = r.state;
        p.pattern = r.spec.kind;
        p.rate = r.rate;
        p.advice = r.advice;
        p.wall_ns = match (r.first_access, r.finished_at) {
            (Some(a), Some(b)) => b.duration_since(a).as_nanos() as u64,
            (Some(a), None) => a.elapsed().as_nanos() as u64,
            _ => 0,
        };
        p.faults_total = self.counters.faults().unwrap_or_default();
        p.read_bytes = self.counters.read_bytes();
        p.touched_pages = self.touched.len();
        p.touched_reset = std::mem::take(&mut self.touched_reset);
        self.new_touched.sort_unstable();
        p.new_touched = to_runs(&self.new_touched);
        self.new_touched.clear();
        let mut recent = self.recent.clone();
        recent.sort_unstable();
        recent.dedup();
        p.recent = recent;
        grep_mode::fill(&self.run, &mut p);
        self.send(&Report::Progress(p))
    }
}

/// Sorted page indexes to (start, len) runs.
pub fn to_runs(pages: &[u64]) -> Vec<(u64, u64)> {
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for &p in pages {
        match runs.last_mut() {
            Some((s, l)) if *s + *l == p => *l += 1,
            Some((s, l)) if p < *s + *l => {}
            _ => runs.push((p, 1)),
        }
    }
    runs
}

fn to_memmap_advice(a: Advice) -> memmap2::Advice {
    match a {
        Advice::Normal => memmap2::Advice::Normal,
        Advice::Random => memmap2::Advice::Random,
        Advice::Sequential => memmap2::Advice::Sequential,
        Advice::Willneed => memmap2::Advice::WillNeed,
        Advice::Hugepage => memmap2::Advice::HugePage,
    }
}

fn set_nonblocking(fd: i32) -> io::Result<()> {
    // SAFETY: fcntl F_GETFL/F_SETFL on our own stdin; no memory arguments.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        if fl < 0 || libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Waits up to `timeout` for `fd` to become readable (or hung up). ppoll(2) takes the timeout
/// in nanoseconds: poll(2)'s milliseconds would truncate 9.6 ms to 9 and the worker would then
/// spin with zero timeouts until the next access is due.
fn poll_readable(fd: i32, timeout: Duration) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ts = libc::timespec {
        tv_sec: timeout.as_secs().min(i32::MAX as u64) as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: pfd is a valid pollfd array of length 1 and ts a valid timespec, both live for
    // the duration of the call; a null sigmask leaves the signal mask unchanged.
    let r = unsafe { libc::ppoll(&mut pfd, 1, &ts, std::ptr::null()) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(false);
        }
        return Err(e);
    }
    Ok(r > 0)
}

#[cfg(test)]
mod tests;
