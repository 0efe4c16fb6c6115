//! `mmviz ipc`: two processes talk through one MAP_SHARED scratch file, with no read/write
//! syscalls on the data path.
//!
//! ```text
//!  page 0   header: head (published count), tail (consumed count), futex words, flags
//!  page 1.. ring of SLOTS slots of 64 bytes: {seq, CLOCK_MONOTONIC ns at publish}
//! ```
//!
//! The writer publishes message `i` into slot `i % SLOTS` and then `head = i + 1` (release);
//! the reader reads every slot below `head` (acquire) and then advances `tail`. Backpressure:
//! the writer never publishes while `i - tail == SLOTS`, so no slot is overwritten before it is
//! read and `lost` (gaps in the sequence the reader sees) must be 0. Waiting is a short spin,
//! then `futex(FUTEX_WAIT)` on a word in the shared mapping (counted); the other side wakes it
//! only when a `*_waiting` flag says someone sleeps (both sides use SeqCst, so either the
//! sleeper sees the new value or the waker sees the flag). Waits also time out after 10 ms, so
//! a lost wake-up could only delay, never hang.
//!
//! Both page tables point at the same page-cache page: where /proc/<pid>/pagemap shows PFNs
//! (the reader of pagemap has CAP_SYS_ADMIN), the parent checks that both processes' entries
//! for the header page hold the same frame; otherwise it says the PFN is hidden.

use crate::error::{io_reason, AppError, Result};
use crate::kernel::counters::mono_ns;
use crate::workload::scratch::{ScratchFile, COPY_LIMIT};
use memmap2::{MmapMut, MmapOptions};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Slots in the ring (64 bytes each: 16 pages).
pub const SLOTS: u64 = 1024;
const SLOT_BYTES: u64 = 64;
const HEADER_BYTES: u64 = 4096;
/// Spins before a futex wait (a few µs: the other side is often about to act).
const SPINS: u32 = 2000;
const WAIT: Duration = Duration::from_millis(10);
/// Most latencies kept (8 MiB of u64).
const MAX_SAMPLES: usize = 1 << 20;

const _: () = assert!(HEADER_BYTES >= std::mem::size_of::<Header>() as u64);
const _: () = assert!(SLOT_BYTES == std::mem::size_of::<Slot>() as u64);
const _: () = assert!(COPY_LIMIT >= HEADER_BYTES + SLOTS * SLOT_BYTES);

/// One side's counters, on its own cache line (the other side only reads them).
#[repr(C, align(64))]
struct Side {
    /// head (writer) or tail (reader): messages published / consumed.
    count: AtomicU64,
    /// Low 32 bits of `count`, the futex word the other side sleeps on.
    word: AtomicU32,
    /// 1 while this side sleeps in futex_wait.
    waiting: AtomicU32,
}

#[repr(C)]
struct Header {
    writer: Side,
    reader: Side,
    done: AtomicU32,
}

#[repr(C)]
struct Slot {
    seq: AtomicU64,
    ts_ns: AtomicU64,
    _pad: [u64; 6],
}

/// The ring inside a shared mapping.
struct Ring {
    map: MmapMut,
}

impl Ring {
    fn len() -> u64 {
        HEADER_BYTES + SLOTS * SLOT_BYTES
    }

    /// Maps `path` (a scratch file of at least `Ring::len()` bytes) MAP_SHARED, read-write,
    /// and closes the descriptor: the mapping keeps the file.
    fn open(path: &Path) -> std::io::Result<Ring> {
        if !crate::workload::scratch::is_scratch_name(path) {
            return Err(std::io::Error::other("not an mmviz scratch file"));
        }
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)?;
        if f.metadata()?.len() < Ring::len() {
            return Err(std::io::Error::other("ring file too small"));
        }
        // SAFETY: a scratch file only the two ipc children map; nobody truncates it while they
        // run (the parent holds it, locked, until both exited).
        let map = unsafe { MmapOptions::new().len(Ring::len() as usize).map_mut(&f)? };
        Ok(Ring { map })
    }

    fn header(&self) -> &Header {
        // SAFETY: the mapping is page aligned (so aligned for Header's 64-byte alignment),
        // at least HEADER_BYTES long, lives as long as &self, and every field is an atomic
        // for which the file's initial zero bytes are a valid value. Both processes access
        // it only through atomics.
        unsafe { &*(self.map.as_ptr() as *const Header) }
    }

    fn slot(&self, i: u64) -> &Slot {
        let off = HEADER_BYTES + (i % SLOTS) * SLOT_BYTES;
        // SAFETY: off + SLOT_BYTES <= Ring::len() = mapping length; 64-byte aligned offset in a
        // page-aligned mapping; atomics only, zero is valid (as for the header).
        unsafe { &*(self.map.as_ptr().add(off as usize) as *const Slot) }
    }
}

/// What one side waits for: spin, then futex-wait on `word` while `cond()` holds.
fn wait_while(side: &Side, word: &AtomicU32, waits: &mut u64, cond: impl Fn() -> bool) {
    for _ in 0..SPINS {
        if !cond() {
            return;
        }
        std::hint::spin_loop();
    }
    side.waiting.store(1, Ordering::SeqCst);
    fence(Ordering::SeqCst);
    let seen = word.load(Ordering::SeqCst);
    if cond() {
        *waits += 1;
        crate::kernel::sys::futex_wait(word, seen, WAIT);
    }
    side.waiting.store(0, Ordering::SeqCst);
}

/// The writer's result line.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
pub struct WriterResult {
    pub sent: u64,
    pub futex_waits: u64,
    pub futex_wakes: u64,
}

/// The reader's result line.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
pub struct ReaderResult {
    pub messages: u64,
    pub lost: u64,
    /// Messages whose sequence number was lower than expected (a repeat; must be 0 too).
    pub out_of_order: u64,
    pub latency_ns_p50: Option<u64>,
    pub latency_ns_p99: Option<u64>,
    pub latency_ns_max: Option<u64>,
    pub futex_waits: u64,
    pub futex_wakes: u64,
}

#[derive(Serialize, Deserialize, Debug)]
struct Ready {
    pid: u32,
    addr: u64,
}

/// Entry point of `mmviz __ipc writer|reader PATH`: maps, says ready, waits for "go" on
/// stdin, runs, prints one JSON result line.
pub fn child_main(role: &str, path: &Path, duration_ms: u64, rate: u64) -> i32 {
    crate::kernel::sys::die_with_parent();
    let ring = match Ring::open(path) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ipc {role}: {}: {e}", path.display());
            return 1;
        }
    };
    // Touch the header page so this page table maps it (for the parent's PFN check).
    let h = ring.header();
    let _ = h.writer.count.load(Ordering::SeqCst);
    let ready = Ready {
        pid: std::process::id(),
        addr: ring.map.as_ptr() as u64,
    };
    println!("{}", serde_json::to_string(&ready).unwrap_or_default());
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() || line.trim() != "go" {
        return 1;
    }
    let out = match role {
        "writer" => serde_json::to_string(&write_loop(&ring, duration_ms, rate)),
        "reader" => serde_json::to_string(&read_loop(&ring)),
        _ => {
            eprintln!("ipc: unknown role {role}");
            return 2;
        }
    };
    println!("{}", out.unwrap_or_default());
    0
}

fn write_loop(ring: &Ring, duration_ms: u64, rate: u64) -> WriterResult {
    let h = ring.header();
    let mut r = WriterResult::default();
    let t0 = Instant::now();
    let end = Duration::from_millis(duration_ms);
    let gap = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let mut i = 0u64;
    while t0.elapsed() < end {
        // Pace: message i is due at t0 + i * gap.
        let due = gap * (i.min(u32::MAX as u64) as u32);
        let now = t0.elapsed();
        if due > now {
            std::thread::sleep(due - now);
        }
        // Backpressure: slot i % SLOTS is free once the reader consumed message i - SLOTS.
        wait_while(&h.writer, &h.reader.word, &mut r.futex_waits, || {
            i - h.reader.count.load(Ordering::Acquire) >= SLOTS
        });
        if i - h.reader.count.load(Ordering::Acquire) >= SLOTS {
            continue; // still full after a timed-out wait: try again (never overwrite)
        }
        let s = ring.slot(i);
        s.seq.store(i, Ordering::Relaxed);
        s.ts_ns.store(mono_ns(), Ordering::Relaxed);
        h.writer.count.store(i + 1, Ordering::Release);
        h.writer.word.store((i + 1) as u32, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if h.reader.waiting.load(Ordering::SeqCst) == 1 {
            crate::kernel::sys::futex_wake(&h.writer.word, 1);
            r.futex_wakes += 1;
        }
        i += 1;
    }
    h.done.store(1, Ordering::SeqCst);
    h.writer.word.fetch_add(1, Ordering::SeqCst);
    crate::kernel::sys::futex_wake(&h.writer.word, 1);
    r.futex_wakes += 1;
    r.sent = i;
    r
}

fn read_loop(ring: &Ring) -> ReaderResult {
    let h = ring.header();
    let mut r = ReaderResult::default();
    let mut lat: Vec<u64> = Vec::with_capacity(64 * 1024);
    let mut tail = 0u64;
    let mut expected = 0u64;
    loop {
        let head = h.writer.count.load(Ordering::Acquire);
        if head > tail {
            for k in tail..head {
                let s = ring.slot(k);
                let seq = s.seq.load(Ordering::Relaxed);
                let ts = s.ts_ns.load(Ordering::Relaxed);
                let now = mono_ns();
                match seq.cmp(&expected) {
                    std::cmp::Ordering::Equal => {}
                    std::cmp::Ordering::Greater => r.lost += seq - expected,
                    std::cmp::Ordering::Less => r.out_of_order += 1,
                }
                expected = expected.max(seq + 1);
                r.messages += 1;
                if lat.len() < MAX_SAMPLES {
                    lat.push(now.saturating_sub(ts));
                }
            }
            tail = head;
            h.reader.count.store(tail, Ordering::Release);
            h.reader.word.store(tail as u32, Ordering::SeqCst);
            fence(Ordering::SeqCst);
            if h.writer.waiting.load(Ordering::SeqCst) == 1 {
                crate::kernel::sys::futex_wake(&h.reader.word, 1);
                r.futex_wakes += 1;
            }
            continue;
        }
        if h.done.load(Ordering::SeqCst) == 1 && h.writer.count.load(Ordering::Acquire) == tail {
            break;
        }
        wait_while(&h.reader, &h.writer.word, &mut r.futex_waits, || {
            h.writer.count.load(Ordering::Acquire) == tail && h.done.load(Ordering::SeqCst) == 0
        });
    }
    lat.sort_unstable();
    let pct = |p: f64| -> Option<u64> {
        (!lat.is_empty()).then(|| lat[((lat.len() - 1) as f64 * p).round() as usize])
    };
    r.latency_ns_p50 = pct(0.50);
    r.latency_ns_p99 = pct(0.99);
    r.latency_ns_max = lat.last().copied();
    r
}

/// `mmviz ipc --json` (schema_version 1).
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct IpcReport {
    pub schema_version: u32,
    pub scratch_file: String,
    pub duration_s: f64,
    pub rate: u64,
    pub slots: u64,
    pub sent: u64,
    pub messages: u64,
    pub lost: u64,
    pub out_of_order: u64,
    pub latency_ns_p50: Option<u64>,
    pub latency_ns_p99: Option<u64>,
    pub latency_ns_max: Option<u64>,
    pub writer_futex_waits: u64,
    pub reader_futex_waits: u64,
    pub writer_futex_wakes: u64,
    pub reader_futex_wakes: u64,
    pub writer_pid: u32,
    pub reader_pid: u32,
    /// Physical frame of the ring's header page in each process's page table; null when
    /// hidden (pagemap shows PFN 0 without CAP_SYS_ADMIN) or not present.
    pub writer_pfn: Option<u64>,
    pub reader_pfn: Option<u64>,
    /// Both page tables point at the same frame (null: the kernel did not show PFNs).
    pub same_frame: Option<bool>,
    pub pfn_note: String,
}

/// Options of `mmviz ipc`.
#[derive(Clone, Debug)]
pub struct IpcOptions {
    pub duration: Duration,
    /// Messages per second the writer sends.
    pub rate: u64,
}

struct Kid {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Drop for Kid {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(role: &str, path: &Path, o: &IpcOptions) -> std::io::Result<Kid> {
    let exe = match std::env::var_os("MMVIZ_EXE") {
        Some(p) => p.into(),
        None => std::env::current_exe()?,
    };
    let mut child = Command::new(exe)
        .arg("__ipc")
        .arg(role)
        .arg(path)
        .arg("--duration-ms")
        .arg(o.duration.as_millis().to_string())
        .arg("--rate")
        .arg(o.rate.to_string())
        .env("MMVIZ_PARENT_PID", std::process::id().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let out = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines() {
            let Ok(l) = l else { break };
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    Ok(Kid { child, lines: rx })
}

fn next_line(k: &Kid, deadline: Instant, interrupted: &AtomicBool) -> Result<String> {
    loop {
        if interrupted.load(Ordering::Relaxed) {
            return Err(AppError::interrupted("interrupted"));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(AppError::runtime("an ipc process did not answer in time"));
        }
        match k.lines.recv_timeout(left.min(Duration::from_millis(100))) {
            Ok(l) => return Ok(l),
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(AppError::runtime("an ipc process exited early"))
            }
        }
    }
}

/// The pagemap entry of the page at `addr` in `pid`: Some(pfn) when present with a PFN shown,
/// Some(0) when present but the PFN is hidden, None when not present or unreadable.
fn pfn_of(pid: u32, addr: u64) -> Option<u64> {
    let f = std::fs::File::open(format!("/proc/{pid}/pagemap")).ok()?;
    let mut b = [0u8; 8];
    f.read_exact_at(&mut b, addr / crate::units::page_size() * 8)
        .ok()?;
    let e = u64::from_le_bytes(b);
    (e >> 63 == 1).then_some(e & ((1 << 55) - 1))
}

/// Runs the two-process demo. Used by `mmviz ipc` and the tests.
pub fn run(o: &IpcOptions, interrupted: &AtomicBool) -> Result<IpcReport> {
    let dir = crate::workload::scratch::pick_dir()?;
    let _ = crate::workload::scratch::sweep(&dir.path);
    let scratch = ScratchFile::sparse(&dir, Ring::len()).map_err(|e| {
        AppError::runtime(format!(
            "cannot create the ring file in {}: {}",
            dir.path.display(),
            io_reason(&e)
        ))
    })?;
    let rt = |e: std::io::Error| AppError::runtime(format!("ipc: {}", io_reason(&e)));
    let mut reader = spawn("reader", &scratch.path, o).map_err(rt)?;
    let mut writer = spawn("writer", &scratch.path, o).map_err(rt)?;
    let start_deadline = Instant::now() + Duration::from_secs(10);
    let parse_ready = |l: String| -> Result<Ready> {
        serde_json::from_str(&l).map_err(|e| AppError::runtime(format!("ipc: bad ready line: {e}")))
    };
    let rr = parse_ready(next_line(&reader, start_deadline, interrupted)?)?;
    let wr = parse_ready(next_line(&writer, start_deadline, interrupted)?)?;
    let (wp, rp) = (pfn_of(wr.pid, wr.addr), pfn_of(rr.pid, rr.addr));
    let (writer_pfn, reader_pfn, same_frame, pfn_note) = match (wp, rp) {
        (Some(a), Some(b)) if a != 0 && b != 0 => (
            Some(a),
            Some(b),
            Some(a == b),
            if a == b {
                format!("both page tables map physical frame {a:#x}")
            } else {
                format!("different frames: writer {a:#x}, reader {b:#x}")
            },
        ),
        (Some(_), Some(_)) => (
            None,
            None,
            None,
            "PFN hidden without CAP_SYS_ADMIN".to_string(),
        ),
        _ => (
            None,
            None,
            None,
            "the header page is not present in both page tables: nothing to compare".to_string(),
        ),
    };
    for k in [&mut reader, &mut writer] {
        let stdin = k.child.stdin.as_mut().expect("piped stdin");
        stdin.write_all(b"go\n").map_err(rt)?;
        stdin.flush().map_err(rt)?;
    }
    let end_deadline = Instant::now() + o.duration + Duration::from_secs(20);
    let w: WriterResult = serde_json::from_str(&next_line(&writer, end_deadline, interrupted)?)
        .map_err(|e| AppError::runtime(format!("ipc writer: {e}")))?;
    let r: ReaderResult = serde_json::from_str(&next_line(&reader, end_deadline, interrupted)?)
        .map_err(|e| AppError::runtime(format!("ipc reader: {e}")))?;
    drop(writer);
    drop(reader);
    Ok(IpcReport {
        schema_version: 1,
        scratch_file: scratch.path.display().to_string(),
        duration_s: o.duration.as_secs_f64(),
        rate: o.rate,
        slots: SLOTS,
        sent: w.sent,
        messages: r.messages,
        lost: r.lost + w.sent.saturating_sub(r.messages),
        out_of_order: r.out_of_order,
        latency_ns_p50: r.latency_ns_p50,
        latency_ns_p99: r.latency_ns_p99,
        latency_ns_max: r.latency_ns_max,
        writer_futex_waits: w.futex_waits,
        reader_futex_waits: r.futex_waits,
        writer_futex_wakes: w.futex_wakes,
        reader_futex_wakes: r.futex_wakes,
        writer_pid: wr.pid,
        reader_pid: rr.pid,
        writer_pfn,
        reader_pfn,
        same_frame,
        pfn_note,
    })
}

/// Text output of `mmviz ipc`.
pub fn print_text(r: &IpcReport) {
    crate::outln!(
        "two processes (writer {}, reader {}) share {} MAP_SHARED: a ring of {} slots",
        r.writer_pid,
        r.reader_pid,
        r.scratch_file,
        r.slots
    );
    crate::outln!(
        "messages:  {} sent, {} seen, {} lost, {} out of order (backpressure: none may be lost)",
        r.sent,
        r.messages,
        r.lost,
        r.out_of_order
    );
    let ns = |v: Option<u64>| v.map_or("-".into(), |v| format!("{v} ns"));
    crate::outln!(
        "latency:   write-to-read p50 {}, p99 {}, max {} (on 2 vCPUs mostly the scheduler's)",
        ns(r.latency_ns_p50),
        ns(r.latency_ns_p99),
        ns(r.latency_ns_max)
    );
    crate::outln!(
        "syscalls:  no read/write on the data path (loads and stores in the mapping; the writer paces with nanosleep); futex waits: writer {}, reader {}; wakes: writer {}, reader {}",
        r.writer_futex_waits,
        r.reader_futex_waits,
        r.writer_futex_wakes,
        r.reader_futex_wakes
    );
    crate::outln!("same page: {}", r.pfn_note);
}

/// `mmviz ipc [--duration S] [--rate N] [--json]`.
pub fn main(duration_s: f64, rate: u64, json: bool) -> Result<()> {
    if !(duration_s > 0.0 && duration_s <= 3600.0) {
        return Err(AppError::usage(format!(
            "--duration {duration_s} is not a number of seconds in (0, 3600]"
        )));
    }
    if rate == 0 || rate > 10_000_000 {
        return Err(AppError::usage(format!(
            "--rate {rate} is not a message rate in 1..=10000000 per second"
        )));
    }
    // SIGINT, SIGTERM, SIGHUP: stop, kill both children, remove the ring, exit 128+signal.
    let signals = crate::error::StopSignals::register()?;
    let o = IpcOptions {
        duration: Duration::from_secs_f64(duration_s),
        rate,
    };
    let r = run(&o, &signals.stop).map_err(|e| signals.explain(e))?;
    if json {
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&r).map_err(AppError::runtime)?
        );
    } else {
        print_text(&r);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> (tempfile::TempDir, ScratchFile, Ring) {
        let t = tempfile::Builder::new()
            .prefix("mmviz-ipc-unit-")
            .tempdir_in(env!("CARGO_MANIFEST_DIR").to_string() + "/target")
            .unwrap();
        let d = crate::workload::scratch::ScratchDir {
            path: t.path().to_path_buf(),
            fs: String::new(),
        };
        let s = ScratchFile::sparse(&d, Ring::len()).unwrap();
        let r = Ring::open(&s.path).unwrap();
        (t, s, r)
    }

    /// The reader counts gaps: a ring whose writer skipped sequence numbers (as an
    /// overwriting ring without backpressure would) reports them as lost.
    #[test]
    fn reader_counts_gaps_and_repeats() {
        let (_t, _s, r) = ring();
        let h = r.header();
        for (slot, seq) in [0u64, 1, 5, 6, 6].into_iter().enumerate() {
            r.slot(slot as u64).seq.store(seq, Ordering::Relaxed);
            r.slot(slot as u64)
                .ts_ns
                .store(mono_ns(), Ordering::Relaxed);
        }
        h.writer.count.store(5, Ordering::Release);
        h.done.store(1, Ordering::SeqCst);
        let got = read_loop(&r);
        assert_eq!(got.messages, 5);
        assert_eq!(got.lost, 3, "2, 3 and 4 never arrived");
        assert_eq!(got.out_of_order, 1, "6 twice");
        assert!(got.latency_ns_p50.is_some());
    }

    /// Writer and reader threads over one mapping: backpressure keeps every message.
    #[test]
    fn ring_with_backpressure_loses_nothing() {
        let (_t, s, r) = ring();
        let r2 = Ring::open(&s.path).unwrap();
        let reader = std::thread::spawn(move || read_loop(&r2));
        // A fast writer (2 million/s asked) against a reader that must keep up: the ring
        // fills, the writer waits.
        let w = write_loop(&r, 200, 2_000_000);
        let got = reader.join().unwrap();
        assert!(w.sent > SLOTS, "the ring wrapped: {w:?}");
        assert_eq!(got.messages, w.sent, "{got:?} {w:?}");
        assert_eq!(got.lost, 0);
        assert_eq!(got.out_of_order, 0);
    }

    #[test]
    fn refuses_a_file_that_is_not_scratch() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        assert!(Ring::open(&p).is_err());
    }
}
