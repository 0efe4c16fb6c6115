//! `mmviz run`: one pattern in a worker process, measured, reported as text or JSON.
//!
//! Parts: `args` (options to domain types), `execute` (the measured run in a worker),
//! `report` (the JSON report), `text` (the text output); here, the command itself.

mod args;
mod execute;
mod report;
mod text;

pub use args::{parse_msync, parse_rate, pattern_spec, MsyncPlan, RunExtras};
pub use execute::{execute, execute_with};
pub use report::{ProcessView, RunReport, WriteOutcome};

use crate::cli::RunArgs;
use crate::error::{io_reason, AppError, Result};
use crate::kernel::target::Target;
use crate::workload::worker::{Limit, WorkerOptions, WriteMode};
use std::sync::atomic::Ordering;

pub fn run(a: &RunArgs) -> Result<()> {
    let user = Target::open(&a.file)?;
    let write: Option<WriteMode> = a
        .write
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(AppError::usage)?;
    let msync = parse_msync(&a.msync)?;
    if !(0.0..=1.0).contains(&a.write_share) {
        return Err(AppError::usage(format!(
            "--write-share {} is not between 0 and 1",
            a.write_share
        )));
    }
    let address_space = a
        .address_space
        .as_deref()
        .map(|s| {
            crate::units::parse_size(s)
                .map_err(|e| AppError::usage(format!("--address-space: {e}")))
                .and_then(|n| {
                    (n > 0)
                        .then_some(n)
                        .ok_or_else(|| AppError::usage("--address-space must be positive"))
                })
        })
        .transpose()?;
    // With --write the worker maps a scratch copy; `user` stays the read-only source.
    let copy_size = if write.is_some() {
        user.size.min(crate::workload::scratch::COPY_LIMIT)
    } else {
        user.size
    };
    let (spec, advice) = pattern_spec(&a.workload, copy_size, &user.path)?;
    let rate = parse_rate(a.rate.as_deref())?;
    let limit = match (a.accesses, a.duration) {
        (Some(0), _) => return Err(AppError::usage("--accesses must be at least 1")),
        (Some(n), _) => Limit::Accesses(n),
        (None, Some(d)) if d > 0.0 && d.is_finite() => Limit::DurationMs((d * 1000.0) as u64),
        (None, Some(d)) => {
            return Err(AppError::usage(format!(
                "--duration {d} is not a positive number of seconds"
            )))
        }
        (None, None) => Limit::OnePass,
    };
    // SIGINT, SIGTERM and SIGHUP only set a flag: the scratch copy is removed as we return.
    let signals = crate::error::StopSignals::register()?;
    let extras = RunExtras {
        worker: WorkerOptions {
            write,
            write_share: a.write_share,
            keep_fd: a.keep_fd,
            address_space,
        },
        msync,
        scratch_file: None,
        copy_of: None,
    };
    // The scratch copy lives until the end of this function: dropped (removed) on success,
    // errors and signals alike.
    let mut scratch = None;
    let a_size = user.size;
    let t = match write {
        None => user,
        Some(_) => {
            let dir = crate::workload::scratch::pick_dir()?;
            let _ = crate::workload::scratch::sweep(&dir.path);
            let s = crate::workload::scratch::ScratchFile::copy_of(&dir, &user.file, user.size)
                .map_err(|e| {
                    AppError::runtime(format!(
                        "cannot make a scratch copy of {} in {}: {}",
                        user.path.display(),
                        dir.path.display(),
                        io_reason(&e)
                    ))
                })?;
            let t = Target::open(&s.path)?;
            scratch = Some(s);
            t
        }
    };
    let extras = RunExtras {
        scratch_file: scratch.as_ref().map(|s| s.path.clone()),
        copy_of: scratch.as_ref().map(|s| (a_size, s.data_bytes)),
        ..extras
    };
    if signals.stop.load(Ordering::Relaxed) {
        return Err(signals.explain(AppError::interrupted("interrupted")));
    }
    let mut report = execute_with(
        &t,
        spec,
        advice,
        rate,
        limit,
        a.cold,
        a.progress,
        &signals.stop,
        &extras,
    )
    .map_err(|e| signals.explain(e))?;
    if scratch.is_some() {
        report.path = a.file.display().to_string();
    }
    if a.json {
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(AppError::runtime)?
        );
    } else {
        text::print_text(&report);
    }
    Ok(())
}

#[cfg(test)]
mod write_tests {
    use super::*;

    #[test]
    fn msync_plans_parse() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let table: &[(&[&str], Option<MsyncPlan>)] = &[
            (&[], Some(MsyncPlan::None)),
            (&["none"], Some(MsyncPlan::None)),
            (&["async"], Some(MsyncPlan::Async)),
            (&["sync"], Some(MsyncPlan::Sync)),
            (&["every", "100"], Some(MsyncPlan::Every(100))),
            (&["every=7"], Some(MsyncPlan::Every(7))),
            (&["every", "0"], None),
            (&["every"], None),
            (&["sometimes"], None),
            (&["sync", "3"], None),
        ];
        for (args, want) in table {
            let got = parse_msync(&v(args));
            match want {
                Some(w) => assert_eq!(got.as_ref().ok(), Some(w), "{args:?}"),
                None => assert_eq!(got.map_err(|e| e.code), Err(2), "{args:?}"),
            }
        }
        assert_eq!(MsyncPlan::Every(5).to_string(), "every 5");
    }
}
