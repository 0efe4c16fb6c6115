//! How much does the worker's loop (pattern iterator, touched-page bookkeeping, checksum,
//! batching, /proc counters) cost over the plainest possible mmap loop?
//!
//! 1,000,000 random 1-byte accesses through a fresh mapping of a cached 256 MiB file:
//!   (a) in this process: memmap2 map, xorshift64* + multiply-shift offsets drawn inline,
//!       read_volatile, checksum;
//!   (b) through `mmviz run --pattern random --accesses 1000000 --json` (ns_per_access).
//! Min of 5 runs each (the min is the run least disturbed by the other jobs on this shared
//! machine). Also the start-up of `run` (spawn to first access), median of 5.
//!
//! Run: `cargo bench --bench worker_loop`
//! (env: WORKER_LOOP_RUNS=N runs per side; MMVIZ_BENCH_EXE=PATH measures another mmviz build).

use memmap2::Mmap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const SIZE: u64 = 256 << 20;
const ACCESSES: u64 = 1_000_000;
const RUNS: usize = 5;

/// The binary under test; MMVIZ_BENCH_EXE compares another build (e.g. before a change).
fn mmviz_exe() -> String {
    std::env::var("MMVIZ_BENCH_EXE").unwrap_or_else(|_| env!("CARGO_BIN_EXE_mmviz").to_string())
}

/// Runs per side (default 5); more gives a steadier min on a loaded machine.
fn runs() -> usize {
    std::env::var("WORKER_LOOP_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(RUNS)
}

fn data_file() -> PathBuf {
    // target/, not /tmp: /tmp may be tmpfs, and the file is reused between bench runs.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("bench-data");
    std::fs::create_dir_all(&dir).expect("create target/bench-data");
    let p = dir.join("worker_loop_256MiB.bin");
    if std::fs::metadata(&p).ok().map(|m| m.len()) != Some(SIZE) {
        let st = Command::new(env!("CARGO_BIN_EXE_mmviz"))
            .args(["gen", p.to_str().unwrap(), "--size", "256MiB", "--force"])
            .status()
            .expect("run mmviz gen");
        assert!(st.success(), "mmviz gen failed");
    }
    p
}

/// Reads the whole file so every page is cached (both sides then take only minor faults).
fn warm(p: &Path) {
    let mut f = File::open(p).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    while f.read(&mut buf).unwrap() > 0 {}
}

/// (a): the plain loop, offsets drawn inline like the worker does. Returns ns per access.
fn plain(p: &Path, seed: u64) -> f64 {
    let f = File::open(p).unwrap();
    // SAFETY: read-only mapping of our own scratch file, which nothing truncates meanwhile.
    let map = unsafe { Mmap::map(&f).unwrap() };
    let span = map.len() as u64;
    let base = map.as_ptr();
    let mut x = seed | 1;
    let mut sum = 0u64;
    let t0 = Instant::now();
    for _ in 0..ACCESSES {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let off = ((r as u128 * span as u128) >> 64) as usize;
        // SAFETY: off < span = map.len().
        sum = sum.wrapping_add(unsafe { std::ptr::read_volatile(base.add(off)) } as u64);
    }
    let dt = t0.elapsed();
    std::hint::black_box(sum);
    dt.as_nanos() as f64 / ACCESSES as f64
}

struct WorkerRun {
    ns_per_access: f64,
    startup_ms: f64,
    spawn_to_ready_ms: f64,
}

/// (b): the same workload through `mmviz run`.
fn worker(p: &Path, seed: u64) -> WorkerRun {
    let out = Command::new(mmviz_exe())
        .args(["run", p.to_str().unwrap(), "--pattern", "random"])
        .args([
            "--accesses",
            &ACCESSES.to_string(),
            "--seed",
            &seed.to_string(),
        ])
        .arg("--json")
        .output()
        .expect("run mmviz run");
    assert!(
        out.status.success(),
        "mmviz run failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let f = |k: &str| {
        v[k].as_f64()
            .unwrap_or_else(|| panic!("{k} missing in {v}"))
    };
    assert_eq!(v["accesses"].as_u64(), Some(ACCESSES));
    WorkerRun {
        ns_per_access: f("ns_per_access"),
        startup_ms: f("startup_ms"),
        spawn_to_ready_ms: f("spawn_to_ready_ms"),
    }
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    s[s.len() / 2]
}

fn main() {
    // `cargo test --benches` runs bench targets with no `--bench`; keep that fast.
    if !std::env::args().any(|a| a == "--bench") {
        println!("worker_loop: skipped (run with `cargo bench --bench worker_loop`)");
        return;
    }
    let p = data_file();
    warm(&p);
    let mut a = Vec::new();
    let mut b = Vec::new();
    // Interleaved, so a burst of load from other jobs hits both sides alike.
    let n = runs();
    for i in 0..n {
        let seed = 1 + i as u64;
        a.push(plain(&p, seed));
        b.push(worker(&p, seed));
    }
    let a_min = min(&a);
    let b_ns: Vec<f64> = b.iter().map(|r| r.ns_per_access).collect();
    let b_min = min(&b_ns);
    let startup: Vec<f64> = b.iter().map(|r| r.startup_ms).collect();
    let ready: Vec<f64> = b.iter().map(|r| r.spawn_to_ready_ms).collect();
    let fmt = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.2}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!("worker_loop: {ACCESSES} random 1-byte accesses, cached 256 MiB file, fresh mapping");
    println!(
        "  (a) plain loop in-process : min {a_min:6.2} ns/access  [{}]",
        fmt(&a)
    );
    println!(
        "  (b) mmviz run (worker)    : min {b_min:6.2} ns/access  [{}]",
        fmt(&b_ns)
    );
    println!(
        "  ratio (b)/(a)             : {:.3}  (target <= 1.10)",
        b_min / a_min
    );
    println!(
        "  run start-up, median of {n}: spawn->first access {:.2} ms [{}], spawn->ready {:.2} ms [{}]",
        median(&startup),
        fmt(&startup),
        median(&ready),
        fmt(&ready)
    );
}
