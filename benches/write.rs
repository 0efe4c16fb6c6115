//! The write half, measured:
//!
//! 1. Write loop vs a plain store loop: 1,000,000 random 1-byte read-modify-writes through a
//!    fresh MAP_SHARED mapping of a clean, cached 64 MiB copy: (a) in this process, offsets
//!    drawn inline, `read_volatile` + `write_volatile`; (b) `mmviz run FILE --write shared
//!    --pattern random --accesses 1000000 --json` (ns_per_access: the worker's timed windows,
//!    which include the write faults, as (a) does). Min and median of N runs each.
//!    (c) steady state, the loop alone: the same already-dirty MAP_SHARED mapping (every
//!    page written once first, so no access faults), the plain loop vs the worker's own
//!    `WriteLoop::run` (pattern iterator, store accumulator, sampled latency timing) in
//!    batches of 64 Ki accesses as the worker runs them; alternated A/B/A/B.
//! 2. msync(MS_SYNC) cost per dirty page: dirty K pages of a 64 MiB shared mapping, time one
//!    msync; K = 256, 4096, 16384. Also MS_ASYNC on 16384 dirty pages and what it left dirty.
//! 3. IPC latency: `mmviz ipc --duration 2 --json` at 20,000 and 200,000 messages/s.
//!
//! Run: `cargo bench --bench write` (env WRITE_RUNS=N runs per side, default 5).

use memmap2::MmapOptions;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const SIZE: u64 = 64 << 20;
const ACCESSES: u64 = 1_000_000;

fn runs() -> usize {
    std::env::var("WRITE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(5)
}

fn bench_dir() -> PathBuf {
    // target/, not /tmp: /tmp may be tmpfs, which never writes back.
    let d = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("bench-data");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The user's file for (b), and this bench's own writable copy for (a) and 2.
fn files() -> (PathBuf, PathBuf) {
    let d = bench_dir();
    let src = d.join("write_64MiB.bin");
    if std::fs::metadata(&src).ok().map(|m| m.len()) != Some(SIZE) {
        let st = Command::new(env!("CARGO_BIN_EXE_mmviz"))
            .args(["gen", src.to_str().unwrap(), "--size", "64MiB", "--force"])
            .status()
            .unwrap();
        assert!(st.success());
    }
    let copy = d.join("write_64MiB.copy");
    std::fs::copy(&src, &copy).unwrap();
    (src, copy)
}

fn clean_and_warm(p: &Path) {
    let f = File::open(p).unwrap();
    // fdatasync works on a read-only descriptor: the copy starts clean, like mmviz's scratch
    // copies; then reading it keeps every page cached.
    mmviz::kernel::sys::fdatasync(f.as_fd()).unwrap();
    let mut f = f;
    let mut buf = vec![0u8; 1 << 20];
    while f.read(&mut buf).unwrap() > 0 {}
}

fn dirty_pages(f: &File) -> u64 {
    mmviz::kernel::sys::cachestat(f.as_fd(), 0, 0)
        .unwrap()
        .nr_dirty
}

/// A fresh shared mapping of a fresh scratch copy of `src`, made exactly as `run --write`
/// makes its own (pwrite, then fdatasync), then `f(base, span)`: ns per access.
fn fresh(src: &Path, f: impl FnOnce(*mut u8, u64) -> f64) -> f64 {
    let (_s, mut map) = scratch_map(src);
    let span = map.len() as u64;
    f(map.as_mut_ptr(), span)
}

/// A scratch copy of `src` (kept alive by the first value) and its writable shared mapping.
fn scratch_map(src: &Path) -> (mmviz::workload::scratch::ScratchFile, memmap2::MmapMut) {
    let dir = mmviz::workload::scratch::ScratchDir {
        path: bench_dir(),
        fs: String::new(),
    };
    let s = mmviz::workload::scratch::ScratchFile::copy_of(&dir, &File::open(src).unwrap(), SIZE)
        .unwrap();
    // SAFETY: this bench's own scratch file; nothing truncates it meanwhile.
    let map = unsafe { MmapOptions::new().map_mut(&s.file).unwrap() };
    (s, map)
}

/// (a) the plain store loop on a fresh mapping; ns per access.
fn plain(src: &Path, seed: u64) -> f64 {
    fresh(src, |base, span| plain_loop(base, span, seed))
}

/// The xorshift64* + multiply-shift plain store loop over `base..base+span`; ns per access.
fn plain_loop(base: *mut u8, span: u64, seed: u64) -> f64 {
    let mut x = seed | 1;
    let mut sum = 0u64;
    let t0 = Instant::now();
    for _ in 0..ACCESSES {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let off = ((r as u128 * span as u128) >> 64) as usize;
        // SAFETY: off < span, a live writable mapping of this bench's own file.
        unsafe {
            let q = base.add(off);
            let v = std::ptr::read_volatile(q);
            std::ptr::write_volatile(q, v.wrapping_add(1));
            sum = sum.wrapping_add(v as u64);
        }
    }
    let dt = t0.elapsed();
    std::hint::black_box(sum);
    dt.as_nanos() as f64 / ACCESSES as f64
}

/// The worker's write loop (`WriteLoop::run`, random pattern, every access stores) over the
/// same mapping, in the worker's batch size, with its latency sampling; ns per access.
fn worker_loop(base: *mut u8, span: u64, seed: u64) -> f64 {
    use mmviz::workload::patterns::{PatternIter, PatternKind};
    use mmviz::workload::worker::child::WriteLoop;
    use mmviz::workload::worker::PatternSpec;
    let spec = PatternSpec {
        kind: PatternKind::Random,
        seed,
        ..PatternSpec::default()
    };
    let ps = mmviz::units::page_size();
    let mut iter = PatternIter::new(&spec.params(span, ps));
    let w = WriteLoop {
        base,
        fsize: span,
        size: 1,
        scan: false,
        share_q16: 1 << 16,
    };
    let mut lat = mmviz::latency::LatencyHist::default();
    lat.calibrate();
    let every = mmviz::latency::sample_every_for(None);
    const BATCH: usize = 64 * 1024;
    let mut offs = vec![0u64; BATCH];
    let (mut wacc, mut sum, mut last, mut left) = (0u32, 0u64, 0u64, ACCESSES as usize);
    let mut timed = std::time::Duration::ZERO;
    while left > 0 {
        let n = left.min(BATCH);
        let k = lat.take_samples(n as u64, every) as usize;
        let t0 = Instant::now();
        // SAFETY: base..base+span is this bench's live writable mapping; the random pattern
        // draws offsets with off + 1 <= span.
        last = unsafe {
            w.run(
                &mut iter,
                &mut offs[..n],
                false,
                last,
                k,
                &mut lat,
                &mut wacc,
                &mut sum,
            )
        };
        timed += t0.elapsed();
        left -= n;
    }
    std::hint::black_box(sum);
    timed.as_nanos() as f64 / ACCESSES as f64
}

/// (c): both loops over one mapping whose pages are all dirty already (no faults).
fn steady(src: &Path, n: usize) -> (Vec<f64>, Vec<f64>) {
    let (_s, mut map) = scratch_map(src);
    let span = map.len() as u64;
    let ps = mmviz::units::page_size() as usize;
    for i in (0..map.len()).step_by(ps) {
        map[i] = map[i].wrapping_add(1);
    }
    let base = map.as_mut_ptr();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for i in 0..n {
        let seed = 1 + i as u64;
        a.push(plain_loop(base, span, seed));
        b.push(worker_loop(base, span, seed));
    }
    drop(map);
    (a, b)
}

fn mmviz_json(args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_mmviz"))
        .env("MMVIZ_DEMO_DIR", bench_dir())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// (b) through the worker; ns per access.
fn worker(src: &Path, seed: u64) -> f64 {
    let v = mmviz_json(&[
        "run",
        src.to_str().unwrap(),
        "--write",
        "shared",
        "--pattern",
        "random",
        "--accesses",
        &ACCESSES.to_string(),
        "--seed",
        &seed.to_string(),
        "--json",
    ]);
    v["ns_per_access"].as_f64().unwrap()
}

fn stats(v: &[f64]) -> (f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    (s[0], s[s.len() / 2])
}

/// Dirty every `step`-th page of the shared mapping, then time one msync; returns
/// (dirty pages before, dirty after, ns).
fn msync_once(p: &Path, step: usize, flags: libc::c_int) -> (u64, u64, u64) {
    clean_and_warm(p);
    let f = OpenOptions::new().read(true).write(true).open(p).unwrap();
    // SAFETY: this bench's own file; nothing truncates it meanwhile.
    let mut map = unsafe { MmapOptions::new().map_mut(&f).unwrap() };
    for i in (0..map.len()).step_by(4096 * step) {
        map[i] = map[i].wrapping_add(1);
    }
    let before = dirty_pages(&f);
    let t0 = Instant::now();
    mmviz::kernel::sys::msync(map.as_ptr() as usize, map.len(), flags).unwrap();
    let ns = t0.elapsed().as_nanos() as u64;
    let after = dirty_pages(&f);
    (before, after, ns)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("write: skipped (run with `cargo bench --bench write`)");
        return;
    }
    let (src, copy) = files();
    let n = runs();

    let mut a = Vec::new();
    let mut b = Vec::new();
    for i in 0..n {
        let seed = 1 + i as u64;
        a.push(plain(&src, seed));
        b.push(worker(&src, seed));
    }
    let (amin, amed) = stats(&a);
    let (bmin, bmed) = stats(&b);
    println!("write loop: {ACCESSES} random 1-byte read-modify-writes, fresh MAP_SHARED mapping of a clean cached 64 MiB copy");
    println!("  (a) plain store loop : min {amin:6.2} median {amed:6.2} ns/access {a:.2?}");
    println!("  (b) mmviz worker     : min {bmin:6.2} median {bmed:6.2} ns/access {b:.2?}");
    println!(
        "  ratio (b)/(a)        : min {:.3}, median {:.3} (target <= 1.10)",
        bmin / amin,
        bmed / amed
    );

    let mut e = Vec::new();
    for i in 0..n {
        e.push(fresh(&src, |base, span| {
            worker_loop(base, span, 1 + i as u64)
        }));
    }
    let (emin, emed) = stats(&e);
    println!("  (e) WriteLoop::run on a fresh mapping in this process: min {emin:6.2} median {emed:6.2} ns/access {e:.2?}");
    println!(
        "  ratio (e)/(a)        : min {:.3}, median {:.3} (the loop alone, faults included)",
        emin / amin,
        emed / amed
    );
    let (c, d) = steady(&src, n.max(7));
    let (cmin, cmed) = stats(&c);
    let (dmin, dmed) = stats(&d);
    println!("steady state: the same 1,000,000 stores over one already-dirty mapping (no faults)");
    println!("  (c) plain store loop : min {cmin:6.2} median {cmed:6.2} ns/access {c:.2?}");
    println!("  (d) WriteLoop::run   : min {dmin:6.2} median {dmed:6.2} ns/access {d:.2?}");
    println!(
        "  ratio (d)/(c)        : min {:.3}, median {:.3} (target <= 1.10)",
        dmin / cmin,
        dmed / cmed
    );

    println!("msync(MS_SYNC), one call over the whole 64 MiB mapping:");
    for step in [64usize, 4, 1] {
        let mut per = Vec::new();
        let mut last = (0, 0, 0);
        for _ in 0..n {
            last = msync_once(&copy, step, libc::MS_SYNC);
            per.push(last.2 as f64 / last.0.max(1) as f64);
        }
        let (mn, md) = stats(&per);
        println!(
            "  every {step:2}th page dirty: {:5} dirty before, {} after; {:.1} ms; per dirty page min {:.2} median {:.2} us",
            last.0,
            last.1,
            last.2 as f64 / 1e6,
            mn / 1e3,
            md / 1e3
        );
    }
    let (b4, a4, ns) = msync_once(&copy, 1, libc::MS_ASYNC);
    println!("  MS_ASYNC with {b4} dirty pages: {ns} ns, {a4} still dirty after");
    // Leave the copy clean for the next run.
    clean_and_warm(&copy);

    if std::env::var_os("WRITE_FLUSHER").is_some() {
        flusher(&copy);
    } else {
        println!(
            "flusher: skipped (WRITE_FLUSHER=1 waits up to 60 s for the kernel's own writeback)"
        );
    }

    println!("ipc: mmviz ipc --duration 2 --json");
    for rate in [20_000u64, 200_000] {
        for _ in 0..3 {
            let v = mmviz_json(&[
                "ipc",
                "--duration",
                "2",
                "--rate",
                &rate.to_string(),
                "--json",
            ]);
            println!(
                "  rate {rate:6}/s: {} messages, lost {}, latency p50 {} ns, p99 {} ns, futex waits w/r {}/{}",
                v["messages"], v["lost"], v["latency_ns_p50"], v["latency_ns_p99"],
                v["writer_futex_waits"], v["reader_futex_waits"]
            );
        }
    }
}

/// Dirty every page of the copy without msync and watch cachestat until the flusher has
/// written them back on its own (vm.dirty_expire_centisecs, checked every
/// dirty_writeback_centisecs).
fn flusher(p: &Path) {
    let sysctl = |n: &str| std::fs::read_to_string(format!("/proc/sys/vm/{n}")).unwrap_or_default();
    clean_and_warm(p);
    let f = OpenOptions::new().read(true).write(true).open(p).unwrap();
    // SAFETY: this bench's own file; nothing truncates it meanwhile.
    let mut map = unsafe { MmapOptions::new().map_mut(&f).unwrap() };
    for i in (0..map.len()).step_by(4096) {
        map[i] = map[i].wrapping_add(1);
    }
    let t0 = Instant::now();
    let start = dirty_pages(&f);
    let mut first_drop = None;
    let mut saw_writeback = 0u64;
    while t0.elapsed().as_secs() < 60 {
        let cs = mmviz::kernel::sys::cachestat(f.as_fd(), 0, 0).unwrap();
        saw_writeback = saw_writeback.max(cs.nr_writeback);
        if cs.nr_dirty < start && first_drop.is_none() {
            first_drop = Some(t0.elapsed());
        }
        if cs.nr_dirty == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    println!(
        "flusher: {start} dirty pages, no msync (dirty_expire_centisecs {}, dirty_writeback_centisecs {}): first drop after {:?}, 0 dirty after {:?} (max nr_writeback seen {saw_writeback})",
        sysctl("dirty_expire_centisecs").trim(),
        sysctl("dirty_writeback_centisecs").trim(),
        first_drop,
        (dirty_pages(&f) == 0).then(|| t0.elapsed())
    );
    drop(map);
}
