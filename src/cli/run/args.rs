//! The command line of `mmviz run` (and of bench, watch, live) turned into domain options:
//! the pattern spec, the rate, the msync plan.

use crate::cli::WorkloadArgs;
use crate::error::{AppError, Result};
use crate::kernel::advice::Advice;
use crate::units::page_size;
use crate::workload::patterns::PatternKind;
use crate::workload::worker::{PatternSpec, WorkerOptions};

/// What `run --write` does with msync.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MsyncPlan {
    #[default]
    None,
    /// MS_ASYNC once after the run.
    Async,
    /// MS_SYNC once after the run.
    Sync,
    /// MS_SYNC after every N accesses, in the worker.
    Every(u64),
}

impl std::fmt::Display for MsyncPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MsyncPlan::None => f.write_str("none"),
            MsyncPlan::Async => f.write_str("async"),
            MsyncPlan::Sync => f.write_str("sync"),
            MsyncPlan::Every(n) => write!(f, "every {n}"),
        }
    }
}

/// Parses `--msync none|async|sync|every N` (also "every=N").
pub fn parse_msync(v: &[String]) -> Result<MsyncPlan> {
    let words: Vec<&str> = v
        .iter()
        .flat_map(|s| s.split(['=', ' ']))
        .filter(|s| !s.is_empty())
        .collect();
    match words.as_slice() {
        [] | ["none"] => Ok(MsyncPlan::None),
        ["async"] => Ok(MsyncPlan::Async),
        ["sync"] => Ok(MsyncPlan::Sync),
        ["every", n] => match n.parse::<u64>() {
            Ok(n) if n > 0 => Ok(MsyncPlan::Every(n)),
            _ => Err(AppError::usage(format!(
                "--msync every '{n}': N must be a positive number of accesses"
            ))),
        },
        _ => Err(AppError::usage(format!(
            "--msync '{}' is not one of: none, async, sync, every N",
            v.join(" ")
        ))),
    }
}

/// Options of `execute_with` beyond the pattern: how the worker maps the file and msync.
#[derive(Clone, Debug, Default)]
pub struct RunExtras {
    pub worker: WorkerOptions,
    pub msync: MsyncPlan,
    /// The scratch file written (named in the report).
    pub scratch_file: Option<std::path::PathBuf>,
    /// When the scratch file is a copy: (size of the source, bytes of data copied).
    pub copy_of: Option<(u64, u64)>,
}

/// Parses `--rate`: a whole number of accesses per second, at least 1, or "max"/"unlimited"
/// (None). The worker paces whole accesses per second, so a fraction would be a promise it
/// cannot keep; 0 would never access anything.
pub fn parse_rate(s: Option<&str>) -> Result<Option<u64>> {
    let v = match s {
        None => return Ok(None),
        Some(v) if v.eq_ignore_ascii_case("max") || v.eq_ignore_ascii_case("unlimited") => {
            return Ok(None)
        }
        Some(v) => v.trim(),
    };
    let bad = |why: &str| {
        Err(AppError::usage(format!(
            "--rate '{v}' {why}: give a whole number of accesses per second, 1 or more, or 'max'"
        )))
    };
    match v.parse::<u64>() {
        Ok(0) => bad("is zero"),
        Ok(n) => Ok(Some(n)),
        Err(_) => match v.parse::<f64>() {
            Ok(f) if f.is_finite() && f > 0.0 && f < 1.0 => bad("is below 1 access per second"),
            Ok(f) if f.is_finite() && f >= u64::MAX as f64 => bad("is too large"),
            Ok(f) if f.is_finite() && f > 0.0 => bad("is not a whole number"),
            Ok(f) if f.is_finite() => bad("is not positive"),
            _ if v.starts_with('-') => bad("is not positive"),
            _ if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => bad("is too large"),
            _ => bad("is not a number"),
        },
    }
}

/// Parses the pattern options into a spec, validated against the file size.
pub fn pattern_spec(
    w: &WorkloadArgs,
    size: u64,
    path: &std::path::Path,
) -> Result<(PatternSpec, Advice)> {
    let kind: PatternKind = w.pattern.parse().map_err(AppError::usage)?;
    let advice: Advice = w.advice.parse().map_err(AppError::usage)?;
    let spec = PatternSpec {
        kind,
        seed: w.seed,
        // A bsearch probe reads the record's 8-byte key, whatever --access-size says.
        access_size: if kind == PatternKind::Bsearch {
            crate::workload::patterns::bsearch::KEY_SIZE
        } else {
            w.access_size
        },
        stride_pages: w.stride,
        hot_fraction: w.hot_fraction,
        hot_share: w.hot_share,
        regex: w.regex.clone(),
        max_matches: w.max_matches,
    };
    match (kind, &w.regex) {
        (PatternKind::Grep, None) => {
            return Err(AppError::usage(
                "--pattern grep needs --regex RE (the regex to search for)",
            ))
        }
        (PatternKind::Grep, Some(re)) => {
            crate::workload::patterns::grep::compile(re).map_err(AppError::usage)?;
        }
        (_, Some(_)) => {
            return Err(AppError::usage("--regex applies only to --pattern grep"));
        }
        _ => {}
    }
    if w.max_matches.is_some() && kind != PatternKind::Grep {
        return Err(AppError::usage(
            "--max-matches applies only to --pattern grep",
        ));
    }
    // bsearch on a file that is not sorted records would "find" nothing and mislead: refuse
    // it here for run, bench and watch alike (the check reads one page with O_DIRECT, so
    // the page cache is left as it was).
    if kind == PatternKind::Bsearch {
        crate::workload::patterns::bsearch::check_records_file(path)
            .map_err(|e| AppError::bad_input(path, e))?;
    }
    // One rule for every command that accesses pages (run, bench, the live view): an empty
    // file has nothing to access and is bad input (residency and evict accept it).
    spec.params(size, page_size())
        .validate()
        .map_err(|e| AppError::bad_input(path, e))?;
    Ok((spec, advice))
}
