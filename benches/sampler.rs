//! Sampler benchmark on the real kernel: `cargo bench --bench sampler`.
//!
//! Measures what one screen refresh costs (page-cache state + mapped state per grid cell),
//! `mmviz residency` against util-linux `fincore` on a 1 TiB sparse file, the peak RSS of
//! `mmviz residency`, and the per-GiB cost of each kernel source (cachestat vs mincore,
//! PAGEMAP_SCAN vs pread of /proc/<pid>/pagemap). Prints a Markdown table; the numbers in
//! docs/PERFORMANCE.md come from it. No harness: timings are min/median of N runs.
//!
//! Files go under `CARGO_TARGET_TMPDIR` (on disk, not a tmpfs) and are deleted at the end.

use memmap2::Mmap;
use mmviz::kernel::pagemap::{PagemapReader, PresentRun};
use mmviz::kernel::residency::CacheProbe;
use mmviz::session::grid::{self, GridScratch, MappedSource};
use mmviz::units::page_size;
use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_mmviz");
const GIB: u64 = 1 << 30;
const TIB: u64 = 1 << 40;

/// Min and median of `n` timed runs of `f`.
fn time_n(n: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    f(); // warm-up: first-call costs (page tables of buffers, probe) are not a refresh's
    let mut v: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    v.sort();
    (v[0], v[n / 2])
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms < 0.1 {
        format!("{:.1} µs", ms * 1e3)
    } else {
        format!("{ms:.2} ms")
    }
}

struct Row {
    what: String,
    min: String,
    median: String,
    target: String,
    ok: Option<bool>,
}

fn row(what: &str, (min, med): (Duration, Duration), target_ms: Option<f64>) -> Row {
    Row {
        what: what.into(),
        min: ms(min),
        median: ms(med),
        target: target_ms.map_or("–".into(), |t| format!("≤ {t} ms")),
        ok: target_ms.map(|t| med.as_secs_f64() * 1e3 <= t),
    }
}

fn mmviz(args: &[&str]) -> std::process::Output {
    let out = Command::new(BIN).args(args).output().expect("run mmviz");
    assert!(out.status.success(), "mmviz {args:?}: {out:?}");
    out
}

fn probe_of(file: &File) -> CacheProbe {
    let fs = mmviz::kernel::fsinfo::fs_of(file).unwrap();
    CacheProbe::new(file, file.metadata().unwrap().len(), &fs).unwrap()
}

fn map(file: &File) -> Mmap {
    // SAFETY: the benchmark's own scratch file; nothing truncates or writes it while mapped.
    unsafe { Mmap::map(file) }.unwrap()
}

/// Peak RSS of `mmviz residency FILE` in KiB, and how it was measured.
fn peak_rss_kib(file: &Path) -> (u64, &'static str) {
    if Path::new("/usr/bin/time").exists() {
        let out = Command::new("/usr/bin/time")
            .arg("-v")
            .arg(BIN)
            .arg("residency")
            .arg(file)
            .stdout(Stdio::null())
            .output()
            .expect("run /usr/bin/time");
        let err = String::from_utf8_lossy(&out.stderr);
        if let Some(kib) = err
            .lines()
            .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
            .and_then(|v| v.trim().parse().ok())
        {
            return (kib, "/usr/bin/time -v");
        }
    }
    // Fallback: the largest peak RSS of any waited-for child so far (an upper bound: the
    // earlier children are `mmviz gen` runs with a 1 MiB buffer).
    let st = Command::new(BIN)
        .arg("residency")
        .arg(file)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    // SAFETY: rusage is plain old data, all-zero is valid; getrusage only writes it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage for the duration of the call.
    assert_eq!(
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) },
        0
    );
    (ru.ru_maxrss as u64, "getrusage(RUSAGE_CHILDREN) ru_maxrss")
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it,
    // and must not write 1 GiB nor take a minute.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("sampler benchmark: skipped (run it with `cargo bench --bench sampler`)");
        return;
    }
    let load_before = loadavg();
    let ps = page_size();
    let dir = tempfile::Builder::new()
        .prefix("mmviz-bench-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let gib_path = dir.path().join("1gib.bin");
    let tib_path = dir.path().join("1tib.sparse");
    let gib_s = gib_path.to_str().unwrap();
    let tib_s = tib_path.to_str().unwrap();
    eprintln!(
        "generating 1 GiB and 1 TiB (sparse) files in {}",
        dir.path().display()
    );
    mmviz(&["gen", gib_s, "--size", "1GiB"]);
    mmviz(&["gen", tib_s, "--size", "1TiB", "--sparse"]);
    let mut rows = Vec::new();

    // Peak RSS first, so the getrusage fallback sees only small children before it.
    let (rss_kib, rss_how) = peak_rss_kib(&tib_path);

    // (1) A cached, fully mapped 1 GiB file at 4,000 cells: page cache + our page table.
    let gib = File::open(&gib_path).unwrap();
    let gib_pages = GIB / ps;
    mmviz::kernel::cache::warm(&gib, 0, gib_pages, mmviz::kernel::cache::Fill::Sequential).unwrap();
    let gmap = map(&gib);
    let mut sum = 0u64;
    for p in 0..gib_pages {
        sum = sum.wrapping_add(gmap[(p * ps) as usize] as u64);
    }
    std::hint::black_box(sum);
    let pid = std::process::id();
    let mut reader = PagemapReader::open(pid).unwrap();
    let mut probe = probe_of(&gib);
    let mut scratch = GridScratch::default();
    let mut check = None;
    let t = time_n(31, || {
        let src = MappedSource {
            reader: &mut reader,
            addr: gmap.as_ptr() as u64,
            pages: gib_pages,
        };
        let g = grid::sample(
            &mut probe,
            Some(src),
            None,
            &[],
            0,
            gib_pages,
            4000,
            &mut scratch,
        )
        .unwrap();
        check = Some(g);
    });
    let g = check.take().unwrap();
    let cached: u64 = g.cells.iter().map(|c| c.cached.unwrap()).sum();
    let mapped: u64 = g.cells.iter().map(|c| c.mapped.unwrap()).sum();
    assert_eq!(
        (cached, mapped),
        (gib_pages, gib_pages),
        "1 GiB cached and mapped"
    );
    rows.push(row(
        &format!(
            "grid::sample, 1 GiB cached + mapped, {} cells (cachestat + {:?})",
            g.cells.len(),
            reader.source()
        ),
        t,
        Some(10.0),
    ));

    // Where (1) goes: the page-cache half alone, and the page-table half alone.
    let t = time_n(31, || {
        let g = grid::sample(
            &mut probe,
            None,
            None,
            &[],
            0,
            gib_pages,
            4000,
            &mut scratch,
        )
        .unwrap();
        std::hint::black_box(g);
    });
    rows.push(row(
        "  of which: cachestat, one call per cell (3972 calls)",
        t,
        None,
    ));
    let mut runs: Vec<PresentRun> = Vec::new();
    let t = time_n(31, || {
        reader
            .present_runs(gmap.as_ptr() as u64, gib_pages, ps, &mut runs)
            .unwrap();
    });
    rows.push(row(
        &format!(
            "  of which: {:?} pagemap over 1 GiB, all present",
            reader.source()
        ),
        t,
        None,
    ));

    // (2) A 1 TiB sparse file, mapped but untouched, at 10,000 cells.
    let tib = File::open(&tib_path).unwrap();
    let tib_pages = TIB / ps;
    let tmap = map(&tib);
    let mut tprobe = probe_of(&tib);
    let t = time_n(21, || {
        let src = MappedSource {
            reader: &mut reader,
            addr: tmap.as_ptr() as u64,
            pages: tib_pages,
        };
        let g = grid::sample(
            &mut tprobe,
            Some(src),
            None,
            &[],
            0,
            tib_pages,
            10_000,
            &mut scratch,
        )
        .unwrap();
        check = Some(g);
    });
    let g = check.take().unwrap();
    assert_eq!(g.cells.len(), 10_000);
    assert!(g
        .cells
        .iter()
        .all(|c| c.cached == Some(0) && c.mapped == Some(0)));
    rows.push(row(
        "grid::sample, 1 TiB sparse, mapped untouched, 10,000 cells",
        t,
        Some(20.0),
    ));

    // (3) `mmviz residency` vs `fincore` on the 1 TiB sparse file, whole process wall time.
    let out = mmviz(&["residency", tib_s, "--json"]);
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["pages"], tib_pages);
    assert_eq!(j["cached_pages"], 0);
    let t = time_n(11, || {
        let st = Command::new(BIN)
            .args(["residency", tib_s])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success());
    });
    rows.push(row(
        "`mmviz residency` 1 TiB sparse (spawned)",
        t,
        Some(20.0),
    ));
    let fincore = Command::new("fincore")
        .args(["--json", "--bytes", tib_s])
        .output();
    match fincore {
        Ok(o) if o.status.success() => {
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            let e = &v["fincore"][0];
            let num = |x: &serde_json::Value| {
                x.as_u64()
                    .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
            };
            assert_eq!(num(&e["pages"]), Some(0), "fincore: 0 pages resident: {v}");
            assert_eq!(num(&e["size"]), Some(TIB), "{v}");
            let t = time_n(3, || {
                let st = Command::new("fincore")
                    .arg(tib_s)
                    .stdout(Stdio::null())
                    .status()
                    .unwrap();
                assert!(st.success());
            });
            rows.push(row(
                "`fincore` 1 TiB sparse (util-linux, mincore), same answer: 0 pages",
                t,
                None,
            ));
        }
        other => eprintln!("fincore not compared: {other:?}"),
    }

    // (4) Peak RSS.
    rows.push(Row {
        what: format!("peak RSS of `mmviz residency` 1 TiB sparse ({rss_how})"),
        min: format!("{:.1} MiB", rss_kib as f64 / 1024.0),
        median: "–".into(),
        target: "≤ 64 MiB".into(),
        ok: Some(rss_kib <= 64 * 1024),
    });

    // (5) Per-GiB cost of each source.
    let mut mc = probe_of(&gib);
    mc.force_mincore();
    let t = time_n(11, || {
        std::hint::black_box(probe.range(0, gib_pages).unwrap());
    });
    rows.push(row("cachestat, 1 GiB cached (one call)", t, None));
    let t = time_n(11, || {
        std::hint::black_box(mc.range(0, gib_pages).unwrap());
    });
    rows.push(row("mincore, 1 GiB cached", t, None));
    let mut tmc = probe_of(&tib);
    tmc.force_mincore();
    let sixty_four = 64 * GIB / ps;
    let t = time_n(5, || {
        std::hint::black_box(tprobe.range(0, tib_pages).unwrap());
    });
    rows.push(row("cachestat, 1 TiB sparse (one call)", t, None));
    let t = time_n(5, || {
        std::hint::black_box(tmc.range(0, sixty_four).unwrap());
    });
    rows.push(per_gib(
        row("mincore, 64 GiB of the sparse file", t, None),
        64,
    ));

    let mut pread = PagemapReader::open(pid).unwrap();
    pread.force_pread();
    let mut runs2: Vec<PresentRun> = Vec::new();
    let t = time_n(11, || {
        reader
            .present_runs(gmap.as_ptr() as u64, gib_pages, ps, &mut runs)
            .unwrap();
    });
    rows.push(row(
        &format!("{:?} pagemap, 1 GiB all present", reader.source()),
        t,
        None,
    ));
    let t = time_n(11, || {
        pread
            .present_runs(gmap.as_ptr() as u64, gib_pages, ps, &mut runs2)
            .unwrap();
    });
    rows.push(row("Pread pagemap, 1 GiB all present", t, None));
    assert_eq!(runs, runs2, "both pagemap paths agree");
    let t = time_n(5, || {
        reader
            .present_runs(tmap.as_ptr() as u64, tib_pages, ps, &mut runs)
            .unwrap();
    });
    rows.push(row(
        &format!("{:?} pagemap, 1 TiB mapped, untouched", reader.source()),
        t,
        None,
    ));
    let t = time_n(5, || {
        pread
            .present_runs(tmap.as_ptr() as u64, sixty_four, ps, &mut runs2)
            .unwrap();
    });
    rows.push(per_gib(
        row("Pread pagemap, 64 GiB of the untouched mapping", t, None),
        64,
    ));
    assert!(runs.is_empty() && runs2.is_empty());

    drop(gmap);
    drop(tmap);
    drop(dir); // deletes the 1 GiB and 1 TiB files

    println!();
    println!("| measurement | min | median | target | |");
    println!("|---|---:|---:|---:|---|");
    for r in &rows {
        let verdict = match r.ok {
            Some(true) => "ok",
            Some(false) => "**over target**",
            None => "",
        };
        println!(
            "| {} | {} | {} | {} | {} |",
            r.what, r.min, r.median, r.target, verdict
        );
    }
    println!();
    println!(
        "page size {ps} B; {} CPUs; load average before / after: {} / {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_before.trim(),
        loadavg().trim()
    );
}

/// Adds the per-GiB figure to a row measured over `gib` GiB.
fn per_gib(mut r: Row, gib: u32) -> Row {
    let parse = |s: &str| s.trim_end_matches(" ms").parse::<f64>().unwrap();
    r.what = format!(
        "{} (per GiB: {:.3} ms)",
        r.what,
        parse(&r.median) / gib as f64
    );
    r
}

/// `/proc/loadavg` (the machine is shared: other builds inflate medians, less so minimums).
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").unwrap_or_default()
}
