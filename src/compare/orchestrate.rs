//! The parent's side: cache control between children, one child per method repeat, the
//! summary, the checksum check.

use super::budget;
use super::methods::{self, Measured, Method};
use super::verdict::{median_index, median_min_max, verdict};
use super::{CacheMode, CompareOptions, Detailed};
use crate::error::{io_reason, AppError, Result};
use crate::kernel::cache::{self, Fill};
use crate::kernel::meminfo;
use crate::kernel::residency::CacheProbe;
use crate::kernel::target::Target;
use crate::session::snapshot::{ComparisonResult, MethodResult};
use crate::units::{human_bytes, page_size};
use crate::workload::worker::PatternSpec;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// One child's run and the page-cache state around it.
struct Run {
    m: Measured,
    cached_before: Option<u64>,
    cached_after: Option<u64>,
}

/// The binary to run children from: MMVIZ_EXE (tests and benches point it at the real binary,
/// since their own executable has no `__compare`), else this executable.
fn exe() -> std::io::Result<PathBuf> {
    match std::env::var_os("MMVIZ_EXE") {
        Some(p) => Ok(PathBuf::from(p)),
        None => std::env::current_exe(),
    }
}

pub(super) fn run(
    opts: &CompareOptions,
    progress: &mut dyn FnMut(f64, &str),
    cancel: &AtomicBool,
) -> Result<Detailed> {
    if opts.repeat == 0 {
        return Err(AppError::usage("--repeat must be at least 1"));
    }
    if opts.accesses == Some(0) {
        return Err(AppError::usage("--accesses must be at least 1"));
    }
    let t = Target::open(&opts.path)?;
    let ps = page_size();
    let spec = &opts.pattern;
    spec.params(t.size, ps)
        .validate()
        .map_err(|e| AppError::bad_input(&t.path, e))?;
    let streaming = methods::is_streaming(spec.kind);
    let methods = match &opts.methods {
        Some(m) if m.is_empty() => return Err(AppError::usage("no methods to compare")),
        Some(m) => m.clone(),
        None => Method::for_pattern(spec.kind, opts.advice),
    };
    if let Some(m) = methods.iter().find(|m| m.is_block() && !streaming) {
        return Err(AppError::usage(format!(
            "{m} streams the whole file: only for --pattern sequential or scan"
        )));
    }
    if opts.cache == CacheMode::Cold && !t.fs.can_evict {
        let why =
            t.fs.note
                .clone()
                .unwrap_or_else(|| format!("{} cannot evict its pages", t.fs.name));
        return Err(AppError::bad_input(
            &t.path,
            format!("cannot run cold: {why}"),
        ));
    }
    let default = methods::default_accesses(spec, t.size, ps);
    let rt = |e: String| AppError::runtime(format!("{}: {e}", t.path.display()));
    // Memory bounds before anything fills the cache (see budget.rs).
    let available = meminfo::mem_available();
    let ra = crate::kernel::fsinfo::read_ahead_kb(&t.file).unwrap_or(128) << 10;
    let (methods, accesses, notes, need) = match available {
        Some(avail) => {
            let limit = meminfo::limit_of(avail);
            if let CacheMode::Warm(_) = opts.cache {
                if t.size > limit {
                    return Err(AppError::bad_input(
                        &t.path,
                        format!(
                            "cannot run warm: the file ({}) is larger than half of the {} \
                             available (MemAvailable)",
                            human_bytes(t.size),
                            human_bytes(avail)
                        ),
                    ));
                }
            }
            let p = budget::plan(
                &methods,
                spec,
                opts.accesses,
                default,
                t.size,
                ps,
                ra,
                limit,
                avail,
            );
            if p.methods.is_empty() {
                return Err(AppError::bad_input(
                    &t.path,
                    format!("no method fits in memory: {}", p.notes.join("; ")),
                ));
            }
            (p.methods, p.accesses, p.notes, Some(p.need))
        }
        None => (
            methods,
            opts.accesses.unwrap_or(default),
            vec!["MemAvailable unreadable: memory use not bounded beyond RLIMIT_AS".into()],
            None,
        ),
    };
    let mut probe = CacheProbe::new(&t.file, t.size, &t.fs).map_err(|e| rt(io_reason(&e)))?;
    let pages = probe.pages();
    let exe = exe().map_err(|e| rt(format!("cannot find the mmviz binary: {}", io_reason(&e))))?;

    let total = methods.len() as u64 * opts.repeat as u64;
    let mut runs: Vec<Vec<Run>> = methods.iter().map(|_| Vec::new()).collect();
    let mut warm_done = false;
    let mut done = 0u64;
    // Round-robin over methods, repeat by repeat, so slow drift (other load, thermal) spreads
    // over all methods instead of biasing the ones measured last.
    for r in 0..opts.repeat {
        for (i, &m) in methods.iter().enumerate() {
            if cancel.load(Ordering::Relaxed) {
                return Err(AppError::interrupted("comparison cancelled"));
            }
            progress(
                done as f64 / total as f64,
                &format!("{m} (repeat {} of {})", r + 1, opts.repeat),
            );
            match opts.cache {
                CacheMode::AsIs => {}
                CacheMode::Cold => {
                    cache::evict(&t.file, &mut probe, 0, pages, &[], t.fs.can_evict, None)
                        .map_err(|e| rt(format!("evict: {}", io_reason(&e))))?;
                }
                CacheMode::Warm(fill) => {
                    let full = warm_done
                        && probe
                            .range(0, pages)
                            .ok()
                            .flatten()
                            .is_some_and(|s| s.cached >= pages);
                    if !full {
                        fill_cache(&t, &mut probe, pages, fill).map_err(rt)?;
                        warm_done = true;
                    }
                }
            }
            // Memory may have shrunk since the plan (other programs, earlier methods'
            // mapped pages): check again before a step that can fill the cache.
            if let (Some(need), Some(now)) = (&need, meminfo::mem_available()) {
                if need[i] > meminfo::limit_of(now) {
                    return Err(rt(format!(
                        "stopped before {m}: it may bring {} into memory and only {} is \
                         available now (MemAvailable)",
                        human_bytes(need[i]),
                        human_bytes(now)
                    )));
                }
            }
            let before = cached(&mut probe, pages);
            let meas = run_child(&exe, &t.path, m, spec, accesses, opts.child_timeout, cancel)
                .map_err(|e| match e {
                    ChildError::Cancelled => AppError::interrupted("comparison cancelled"),
                    ChildError::Failed(s) => rt(format!("{m}: {s}")),
                })?;
            let after = cached(&mut probe, pages);
            if meas.file_size != t.size {
                return Err(rt(format!(
                    "the file changed size during the comparison ({} -> {} bytes)",
                    t.size, meas.file_size
                )));
            }
            runs[i].push(Run {
                m: meas,
                cached_before: before,
                cached_after: after,
            });
            done += 1;
        }
    }
    progress(1.0, "done");
    check_checksums(&methods, &runs).map_err(rt)?;

    let results: Vec<MethodResult> = methods
        .iter()
        .zip(&runs)
        .map(|(m, rs)| summarize(*m, rs))
        .collect();
    let cache_name = opts.cache.name().to_string();
    let context = match opts.cache {
        CacheMode::Warm(Fill::Random) => format!("{}, warm (random fill)", spec.kind),
        _ => format!("{}, {cache_name}", spec.kind),
    };
    let (verdict, why) = verdict(spec.kind, &context, &results);
    let outcome = super::verdict::outcome_of(spec.kind, &results).map(str::to_string);
    Ok(Detailed {
        result: ComparisonResult {
            pattern: spec.kind,
            cache: cache_name,
            accesses,
            access_size: if streaming { ps } else { spec.access_size },
            results,
            verdict,
            why,
            notes,
            outcome,
        },
        checksums: runs.iter().map(|rs| rs[0].m.checksum).collect(),
        file_size: t.size,
    })
}

fn cached(probe: &mut CacheProbe, pages: u64) -> Option<u64> {
    probe.range(0, pages).ok().flatten().map(|s| s.cached)
}

/// Evicts, then reads the whole file the `fill` way: evicting first makes the fill decide the
/// folio sizes (a sequential read leaves up to 2 MiB folios, random 4 KiB preads leave 4 KiB
/// ones), which decides how many pages one mmap fault maps.
fn fill_cache(
    t: &Target,
    probe: &mut CacheProbe,
    pages: u64,
    fill: Fill,
) -> std::result::Result<(), String> {
    cache::evict(&t.file, probe, 0, pages, &[], t.fs.can_evict, None)
        .map_err(|e| format!("evict: {}", io_reason(&e)))?;
    cache::warm(&t.file, 0, pages, fill).map_err(|e| format!("warm: {}", io_reason(&e)))?;
    Ok(())
}

/// Every run of every method must have folded the same bytes: the methods differ only in how
/// they read. A mismatch means a broken method or a file modified meanwhile: fail loudly.
fn check_checksums(methods: &[Method], runs: &[Vec<Run>]) -> std::result::Result<(), String> {
    let want = runs[0][0].m.checksum;
    let bad: Vec<String> = methods
        .iter()
        .zip(runs)
        .flat_map(|(m, rs)| rs.iter().map(move |r| (m, r.m.checksum)))
        .filter(|&(_, c)| c != want)
        .map(|(m, c)| format!("{m} {c:#018x}"))
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "checksums differ: {} {want:#018x} but {}; the methods did not read the same bytes \
             (was the file modified during the comparison?)",
            methods[0],
            bad.join(", ")
        ))
    }
}

fn summarize(m: Method, rs: &[Run]) -> MethodResult {
    let ns: Vec<f64> = rs
        .iter()
        .map(|r| r.m.elapsed_ns as f64 / r.m.accesses.max(1) as f64)
        .collect();
    let (med, min, max) = median_min_max(&ns).unwrap_or_default();
    // Counters of the median repeat, so one row describes one real run.
    let rep = &rs[median_index(&ns).unwrap_or(0)];
    let bytes_per_access = rep.m.bytes as f64 / rep.m.accesses.max(1) as f64;
    MethodResult {
        method: m.name(),
        ns_per_access: med,
        ns_per_access_min: min,
        ns_per_access_max: max,
        // bytes per ns = GB/s; MB/s is 10^6 bytes per second.
        mb_per_s: if med > 0.0 {
            bytes_per_access / med * 1e3
        } else {
            0.0
        },
        minor_faults: rep.m.minor_faults,
        major_faults: rep.m.major_faults,
        syscalls: rep.m.syscalls,
        cached_before: rep.cached_before,
        cached_after: rep.cached_after,
    }
}

enum ChildError {
    Cancelled,
    Failed(String),
}

/// Spawns `mmviz __compare`, waits up to `timeout` (then kills it), parses its JSON line.
fn run_child(
    exe: &Path,
    path: &Path,
    m: Method,
    spec: &PatternSpec,
    accesses: u64,
    timeout: Duration,
    cancel: &AtomicBool,
) -> std::result::Result<Measured, ChildError> {
    let failed = |s: String| ChildError::Failed(s);
    let mut child = Command::new(exe)
        .arg("__compare")
        .arg(path)
        .args(["--method", &m.name()])
        .args(["--pattern", spec.kind.name()])
        .args(["--seed", &spec.seed.to_string()])
        .args(["--access-size", &spec.access_size.to_string()])
        .args(["--stride", &spec.stride_pages.to_string()])
        .args(["--hot-fraction", &spec.hot_fraction.to_string()])
        .args(["--hot-share", &spec.hot_share.to_string()])
        .args(["--accesses", &accesses.to_string()])
        .args(spec.regex.as_ref().map(|r| format!("--regex={r}")))
        .args(spec.max_matches.map(|n| format!("--max-matches={n}")))
        .env("MMVIZ_PARENT_PID", std::process::id().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(format!("cannot start {}: {}", exe.display(), io_reason(&e))))?;
    let deadline = Instant::now() + timeout;
    // The child writes one short line at the very end, far below the pipe's capacity, so
    // polling for its exit before reading cannot deadlock.
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) => {}
            Err(e) => return Err(failed(format!("wait: {}", io_reason(&e)))),
        }
        let cancelled = cancel.load(Ordering::Relaxed);
        if cancelled || Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(if cancelled {
                ChildError::Cancelled
            } else {
                failed(format!(
                    "did not finish within {} s; killed it",
                    timeout.as_secs()
                ))
            });
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut out);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    if !status.success() {
        // A Ctrl-C reaches the child too (same process group): report it as the cancel it is.
        if cancel.load(Ordering::Relaxed) {
            return Err(ChildError::Cancelled);
        }
        use std::os::unix::process::ExitStatusExt;
        let how = match (status.code(), status.signal()) {
            (_, Some(libc::SIGBUS)) => {
                "killed by SIGBUS (was the file truncated meanwhile?)".to_string()
            }
            (_, Some(sig)) => format!("killed by signal {sig}"),
            (Some(c), _) => format!("exited with status {c}"),
            _ => "failed".to_string(),
        };
        let detail = err.trim().lines().last().unwrap_or("").to_string();
        return Err(failed(if detail.is_empty() {
            how
        } else {
            format!("{how}: {detail}")
        }));
    }
    serde_json::from_str(out.trim())
        .map_err(|e| failed(format!("unreadable result {:?}: {e}", out.trim())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_with(checksum: u64) -> Run {
        Run {
            m: Measured {
                checksum,
                ..Default::default()
            },
            cached_before: None,
            cached_after: None,
        }
    }

    #[test]
    fn differing_checksums_fail_loudly() {
        let methods = [Method::Mmap, Method::Pread];
        let same = vec![vec![run_with(5), run_with(5)], vec![run_with(5)]];
        assert!(check_checksums(&methods, &same).is_ok());
        let differ = vec![vec![run_with(5)], vec![run_with(5), run_with(6)]];
        let e = check_checksums(&methods, &differ).unwrap_err();
        assert!(e.contains("checksums differ") && e.contains("pread"), "{e}");
    }
}
