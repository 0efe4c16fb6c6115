//! Reference loops: each method written plainly (own xorshift64* offsets with multiply-shift
//! reduction, raw libc calls, memmap2), with none of mmviz's machinery, and a check that
//! mmviz's warm figures agree with them within 15%. Cold figures vary more (disk, readahead
//! state): their spread is reported, not checked.
//!
//! `cargo bench --bench reference` (env: MMVIZ_REF_MIB, default 256; MMVIZ_REF_ACCESSES,
//! default 100000). The file lives under target/ (a disk filesystem, evictable) and is deleted
//! afterwards. Exits 1 if a warm figure disagrees by more than 15%.

use mmviz::compare::{compare_detailed, CacheMode, CompareOptions, Method};
use mmviz::kernel::cache::Fill;
use mmviz::session::snapshot::MethodResult;
use mmviz::workload::patterns::PatternKind;
use mmviz::workload::worker::PatternSpec;
use std::fs::File;
use std::hint::black_box;
use std::io::{BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

const REPEAT: usize = 5;
const TOLERANCE: f64 = 0.15;
const PAGE: usize = 4096;

/// A random-access reference loop: (file, size, accesses) -> checksum.
type RandomLoop = fn(&File, u64, u64) -> u64;
/// A streaming reference loop over the whole file.
type StreamLoop<'a> = Box<dyn Fn() -> u64 + 'a>;

struct Rng(u64);

impl Rng {
    #[inline(always)]
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in 0..n by multiply-shift (no division).
    #[inline(always)]
    fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }
}

fn env_u64(k: &str, d: u64) -> u64 {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn make_file(path: &Path, mib: u64) {
    let mut f = File::create(path).unwrap();
    let mut r = Rng(0x1234_5678);
    let mut block = vec![0u8; 1 << 20];
    for _ in 0..mib {
        for c in block.chunks_mut(8) {
            c.copy_from_slice(&r.next().to_le_bytes());
        }
        f.write_all(&block).unwrap();
    }
    f.sync_all().unwrap();
}

fn evict(f: &File) {
    // SAFETY: plain fadvise on a valid fd; no memory arguments.
    unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
}

fn median(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    let m = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    (m, v[0], v[n - 1])
}

/// ns per access of `f`, `repeat` times; `before` runs untimed before each repeat.
fn measure(
    repeat: usize,
    n: u64,
    mut before: impl FnMut(),
    mut f: impl FnMut() -> u64,
) -> (f64, f64, f64) {
    let mut v = Vec::new();
    for _ in 0..repeat {
        before();
        let t = Instant::now();
        black_box(f());
        v.push(t.elapsed().as_nanos() as f64 / n as f64);
    }
    median(v)
}

// ---- random 1-byte reads ----

fn ref_mmap_random(file: &File, size: u64, n: u64) -> u64 {
    // The mapping is created and dropped inside the timed closure, like mmviz's window.
    // SAFETY: read-only private mapping of a file nobody truncates during the bench.
    let map = unsafe { memmap2::MmapOptions::new().len(size as usize).map(file) }.unwrap();
    let p = map.as_ptr();
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let mut sum = 0u64;
    for _ in 0..n {
        let off = r.below(size) as usize;
        // SAFETY: off < size = mapping length.
        sum = sum.wrapping_add(unsafe { std::ptr::read_volatile(p.add(off)) } as u64);
    }
    sum
}

fn ref_pread_random(file: &File, size: u64, n: u64) -> u64 {
    let fd = file.as_raw_fd();
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let mut b = [0u8; 1];
    let mut sum = 0u64;
    for _ in 0..n {
        let off = r.below(size);
        // SAFETY: b is a valid 1-byte buffer.
        unsafe { libc::pread(fd, b.as_mut_ptr().cast(), 1, off as libc::off_t) };
        sum = sum.wrapping_add(black_box(b)[0] as u64);
    }
    sum
}

fn ref_seek_read_random(file: &File, size: u64, n: u64) -> u64 {
    let fd = file.as_raw_fd();
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let mut b = [0u8; 1];
    let mut sum = 0u64;
    for _ in 0..n {
        let off = r.below(size);
        // SAFETY: plain lseek/read on a valid fd into a valid 1-byte buffer.
        unsafe {
            libc::lseek(fd, off as libc::off_t, libc::SEEK_SET);
            libc::read(fd, b.as_mut_ptr().cast(), 1);
        }
        sum = sum.wrapping_add(black_box(b)[0] as u64);
    }
    sum
}

fn ref_buffered_random(file: &File, size: u64, n: u64) -> u64 {
    // The fd offset is shared with the other loops: start at 0, where `pos` starts.
    // SAFETY: rewinding a valid fd.
    unsafe { libc::lseek(file.as_raw_fd(), 0, libc::SEEK_SET) };
    let mut rd = BufReader::new(file);
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let mut b = [0u8; 1];
    let mut pos = 0u64;
    let mut sum = 0u64;
    for _ in 0..n {
        let off = r.below(size);
        rd.seek_relative(off as i64 - pos as i64).unwrap();
        rd.read_exact(&mut b).unwrap();
        pos = off + 1;
        sum = sum.wrapping_add(black_box(b)[0] as u64);
    }
    sum
}

// ---- streaming the whole file ----

#[inline(always)]
fn fold(s: &[u8]) -> u64 {
    let nl = s.iter().filter(|&&b| b == b'\n').count() as u64;
    (nl << 8) ^ s[0] as u64
}

fn ref_mmap_stream(file: &File, size: u64) -> u64 {
    // SAFETY: as above.
    let map = unsafe { memmap2::MmapOptions::new().len(size as usize).map(file) }.unwrap();
    map.chunks(PAGE).map(fold).fold(0, u64::wrapping_add)
}

fn ref_pread_stream(file: &File, size: u64) -> u64 {
    let fd = file.as_raw_fd();
    let mut b = vec![1u8; PAGE];
    let mut sum = 0u64;
    let mut off = 0u64;
    while off < size {
        // SAFETY: b is PAGE bytes long.
        let k = unsafe { libc::pread(fd, b.as_mut_ptr().cast(), PAGE, off as libc::off_t) };
        sum = sum.wrapping_add(fold(black_box(&b[..k as usize])));
        off += k as u64;
    }
    sum
}

fn ref_read_stream(file: &File, block: usize) -> u64 {
    let fd = file.as_raw_fd();
    // SAFETY: rewinding a valid fd.
    unsafe { libc::lseek(fd, 0, libc::SEEK_SET) };
    let mut b = vec![1u8; block];
    let mut sum = 0u64;
    loop {
        // SAFETY: b is `block` bytes long.
        let k = unsafe { libc::read(fd, b.as_mut_ptr().cast(), block) };
        if k <= 0 {
            break;
        }
        for c in black_box(&b[..k as usize]).chunks(PAGE) {
            sum = sum.wrapping_add(fold(c));
        }
    }
    sum
}

fn mmviz_run(
    path: &Path,
    kind: PatternKind,
    cache: CacheMode,
    methods: Vec<Method>,
    accesses: Option<u64>,
    repeat: u32,
) -> Vec<MethodResult> {
    let mut o = CompareOptions::new(
        path,
        PatternSpec {
            kind,
            ..PatternSpec::default()
        },
    );
    o.cache = cache;
    o.methods = Some(methods);
    o.accesses = accesses;
    o.repeat = repeat;
    compare_detailed(&o, &mut |_, _| {}, &AtomicBool::new(false))
        .expect("mmviz compare")
        .result
        .results
}

/// Runs one reference loop in this (fresh) process: `--ref-child NAME PATH SIZE N`; prints
/// ns per access. mmviz measures every repeat in a fresh process, so the like-for-like
/// reference does too (a long-lived process measured ~20-100% faster here, see PERFORMANCE.md).
fn ref_child(args: &[String]) {
    let (name, path, size, n) = (
        args[0].as_str(),
        &args[1],
        args[2].parse::<u64>().unwrap(),
        args[3].parse::<u64>().unwrap(),
    );
    let file = File::open(path).unwrap();
    let pages = size / PAGE as u64;
    let t = Instant::now();
    let per = match name {
        "mmap" => (black_box(ref_mmap_random(&file, size, n)), n).1,
        "pread" => (black_box(ref_pread_random(&file, size, n)), n).1,
        "seek+read" => (black_box(ref_seek_read_random(&file, size, n)), n).1,
        "buffered" => (black_box(ref_buffered_random(&file, size, n)), n).1,
        "s-mmap" => (black_box(ref_mmap_stream(&file, size)), pages).1,
        "s-pread" => (black_box(ref_pread_stream(&file, size)), pages).1,
        "s-read-1m" => (black_box(ref_read_stream(&file, 1 << 20)), pages).1,
        _ => panic!("unknown reference loop {name}"),
    };
    println!("{}", t.elapsed().as_nanos() as f64 / per as f64);
}

/// One reference loop in a fresh child process (same binary).
fn fresh(name: &str, path: &Path, size: u64, n: u64) -> f64 {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ref-child", name])
        .arg(path)
        .args([size.to_string(), n.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--ref-child") {
        ref_child(&args[i + 1..]);
        return;
    }
    std::env::set_var("MMVIZ_EXE", env!("CARGO_BIN_EXE_mmviz"));
    let mib = env_u64("MMVIZ_REF_MIB", 256);
    let n = env_u64("MMVIZ_REF_ACCESSES", 100_000);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ref-bench");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ref.bin");
    make_file(&path, mib);
    let file = File::open(&path).unwrap();
    let size = mib << 20;
    // (case, mmviz median, fresh-process reference (median, min, max), long-lived reference
    // median, checked)
    type Row = (String, f64, (f64, f64, f64), Option<f64>, bool);
    let mut rows: Vec<Row> = Vec::new();
    let mut ok = true;

    // Warm: one mmviz repeat (one child per method), then one repeat of each reference loop,
    // REPEAT times, so load from elsewhere on the machine drifts over both alike. Each mmviz
    // call evicts and fills the cache sequentially; the reference loops run on that cache, so
    // both see the same folio sizes.
    let refs: [(&str, RandomLoop); 4] = [
        ("mmap", ref_mmap_random),
        ("pread", ref_pread_random),
        ("seek+read", ref_seek_read_random),
        ("buffered", ref_buffered_random),
    ];
    let pages = size / PAGE as u64;
    let srefs: [(&str, StreamLoop); 3] = [
        ("mmap", Box::new(|| ref_mmap_stream(&file, size))),
        ("pread", Box::new(|| ref_pread_stream(&file, size))),
        ("read-1m", Box::new(|| ref_read_stream(&file, 1 << 20))),
    ];
    let mut mm_r: Vec<Vec<f64>> = vec![Vec::new(); refs.len()];
    let mut ref_r: Vec<Vec<f64>> = vec![Vec::new(); refs.len()];
    let mut mm_s: Vec<Vec<f64>> = vec![Vec::new(); srefs.len()];
    let mut fresh_r: Vec<Vec<f64>> = vec![Vec::new(); refs.len()];
    let mut fresh_s: Vec<Vec<f64>> = vec![Vec::new(); srefs.len()];
    let mut ref_s: Vec<Vec<f64>> = vec![Vec::new(); srefs.len()];
    // Fill once (evict, then a sequential read), as `mmviz bench --warm` does before its first
    // repeat; the repeats below then run as-is on that full cache. Refilling before every
    // repeat would put mmviz's first child (mmap) right after 256 MiB of reads every time while
    // the reference loops never are: measured here as +70% on warm random mmap.
    mmviz_run(
        &path,
        PatternKind::Random,
        CacheMode::Warm(Fill::Sequential),
        vec![Method::Pread],
        Some(1000),
        1,
    );
    // Each method: mmviz's child, the fresh-process reference and the in-process reference
    // back to back, in alternating order, so what ran just before (which measurably changes
    // warm random mmap here) is the same for both on average.
    let rmethods = [
        Method::Mmap,
        Method::Pread,
        Method::SeekRead,
        Method::Buffered,
    ];
    let smethods = [Method::Mmap, Method::Pread, Method::Read1m];
    for rep in 0..REPEAT {
        for (i, (name, f)) in refs.iter().enumerate() {
            let mm = || {
                mmviz_run(
                    &path,
                    PatternKind::Random,
                    CacheMode::AsIs,
                    vec![rmethods[i]],
                    Some(n),
                    1,
                )[0]
                .ns_per_access
            };
            if rep % 2 == 0 {
                mm_r[i].push(mm());
            }
            fresh_r[i].push(fresh(name, &path, size, n));
            ref_r[i].push(measure(1, n, || {}, || f(&file, size, n)).0);
            if rep % 2 == 1 {
                mm_r[i].push(mm());
            }
        }
        for (i, (name, f)) in srefs.iter().enumerate() {
            let mm = || {
                mmviz_run(
                    &path,
                    PatternKind::Sequential,
                    CacheMode::AsIs,
                    vec![smethods[i]],
                    None,
                    1,
                )[0]
                .ns_per_access
            };
            if rep % 2 == 0 {
                mm_s[i].push(mm());
            }
            fresh_s[i].push(fresh(&format!("s-{name}"), &path, size, n));
            ref_s[i].push(measure(1, pages, || {}, &**f).0);
            if rep % 2 == 1 {
                mm_s[i].push(mm());
            }
        }
    }
    for (i, (name, _)) in refs.iter().enumerate() {
        rows.push((
            format!("random 1 B, warm: {name}"),
            median(mm_r[i].clone()).0,
            median(fresh_r[i].clone()),
            Some(median(ref_r[i].clone()).0),
            true,
        ));
    }
    for (i, (name, _)) in srefs.iter().enumerate() {
        rows.push((
            format!("sequential 4 KiB pages, warm: {name}"),
            median(mm_s[i].clone()).0,
            median(fresh_s[i].clone()),
            Some(median(ref_s[i].clone()).0),
            true,
        ));
    }

    // First touch: the same offsets twice through one mapping of the cached file. Pass 1 pays
    // a minor fault per newly touched page group; pass 2 finds the page tables filled.
    {
        let mut c = mmviz::kernel::counters::ProcCounters::open(None).unwrap();
        // SAFETY: as above.
        let map = unsafe { memmap2::MmapOptions::new().len(size as usize).map(&file) }.unwrap();
        for pass in 1..=2 {
            let mut r = Rng(0x9E37_79B9_7F4A_7C15);
            let f0 = c.faults().unwrap();
            let t = Instant::now();
            let mut sum = 0u64;
            for _ in 0..n {
                let off = r.below(size) as usize;
                // SAFETY: off < size = mapping length.
                sum = sum
                    .wrapping_add(unsafe { std::ptr::read_volatile(map.as_ptr().add(off)) } as u64);
            }
            black_box(sum);
            let ns = t.elapsed().as_nanos() as f64 / n as f64;
            let f = c.faults().unwrap().since(f0);
            println!(
                "first touch, pass {pass}: {ns:.1} ns/access, {} minor + {} major faults",
                f.minor, f.major
            );
        }
    }

    // Cold random: spread only (fewer accesses: each is a disk read).
    let nc = (n / 5).max(1);
    let m = mmviz_run(
        &path,
        PatternKind::Random,
        CacheMode::Cold,
        vec![Method::Mmap, Method::Pread],
        Some(nc),
        3,
    );
    let crefs: [(&str, RandomLoop); 2] = [("mmap", ref_mmap_random), ("pread", ref_pread_random)];
    for (name, f) in crefs {
        let r = measure(3, nc, || evict(&file), || f(&file, size, nc));
        let mm = m.iter().find(|x| x.method == name).unwrap();
        rows.push((
            format!("random 1 B, cold: {name}"),
            mm.ns_per_access,
            r,
            None,
            false,
        ));
        // mmviz's own spread, for the same row.
        println!(
            "  (mmviz cold {name}: {:.0} ns, spread {:.0}-{:.0})",
            mm.ns_per_access, mm.ns_per_access_min, mm.ns_per_access_max
        );
    }

    println!("\n{mib} MiB file, {n} random accesses (cold: {nc}), median of {REPEAT} (cold: 3)\n");
    println!("| case | reference ns, fresh process (min-max) | same loop, long-lived process | mmviz ns | mmviz / reference | check |");
    println!("|---|---|---|---|---|---|");
    for (name, mm, (med, min, max), long, checked) in &rows {
        let ratio = mm / med;
        let pass = (ratio - 1.0).abs() <= TOLERANCE;
        if *checked && !pass {
            ok = false;
        }
        println!(
            "| {name} | {med:.1} ({min:.1}-{max:.1}) | {} | {mm:.1} | {ratio:.2} | {} |",
            long.map_or("-".to_string(), |l| format!("{l:.1}")),
            match (checked, pass) {
                (false, _) => "spread only",
                (true, true) => "ok (within 15%)",
                (true, false) => "DISAGREES",
            }
        );
    }
    drop(srefs);
    drop(file);
    let _ = std::fs::remove_file(&path);
    if !ok {
        eprintln!("reference: mmviz's warm figures disagree with the plain loops by more than 15%");
        std::process::exit(1);
    }
}
