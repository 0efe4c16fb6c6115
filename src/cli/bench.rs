//! `mmviz bench`: the clap arguments turned into [`CompareOptions`], the comparison run and
//! its report printed.

use crate::cli::run::pattern_spec;
use crate::cli::BenchArgs;
use crate::compare::{compare_detailed, text, BenchMethod, BenchReport, CacheMode, CompareOptions};
use crate::error::{AppError, Result};
use crate::kernel::cache::Fill;
use std::sync::Arc;

/// Turns `mmviz bench` arguments into options (usage errors exit 2).
pub fn options_from_args(a: &BenchArgs, file_size: u64) -> Result<CompareOptions> {
    let (spec, advice) = pattern_spec(&a.workload, file_size, &a.file)?;
    let fill = match a.fill.to_ascii_lowercase().as_str() {
        "sequential" => Fill::Sequential,
        "random" => Fill::Random,
        other => {
            return Err(AppError::usage(format!(
                "--fill '{other}' is not sequential or random"
            )))
        }
    };
    let mut o = CompareOptions::new(&a.file, spec);
    o.advice = advice;
    o.accesses = a.accesses;
    o.repeat = a.repeat;
    o.cache = if a.cold {
        CacheMode::Cold
    } else if a.warm {
        CacheMode::Warm(fill)
    } else {
        CacheMode::AsIs
    };
    Ok(o)
}

/// `mmviz bench`.
pub fn bench(a: &BenchArgs) -> Result<()> {
    // Validates the file first, so bad input is reported the same way as other commands.
    let t = crate::kernel::target::Target::open(&a.file)?;
    let opts = options_from_args(a, t.size)?;
    let machine = crate::kernel::machine::Machine::detect(Some(&t.file));
    drop(t);
    let signals = crate::error::StopSignals::register()?;
    let interrupted = Arc::clone(&signals.stop);
    // Progress only for a person watching; never in JSON mode or into a pipe or log.
    let quiet = a.json || !std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut progress = |f: f64, what: &str| {
        if !quiet {
            eprint!("\r\x1b[K{:3.0}% {what}", f * 100.0);
        }
    };
    let res = compare_detailed(&opts, &mut progress, &interrupted);
    if !quiet {
        eprint!("\r\x1b[K");
    }
    let d = res.map_err(|e| signals.explain(e))?;
    let report = BenchReport {
        schema_version: 1,
        pattern: d.result.pattern,
        cache: d.result.cache.clone(),
        fill: match opts.cache {
            CacheMode::Warm(f) => Some(f),
            _ => None,
        },
        accesses: d.result.accesses,
        access_size: d.result.access_size,
        file_size: d.file_size,
        repeat: opts.repeat,
        results: d
            .result
            .results
            .iter()
            .zip(&d.checksums)
            .map(|(r, &c)| BenchMethod {
                result: r.clone(),
                checksum: c,
            })
            .collect(),
        verdict: d.result.verdict.clone(),
        outcome: d.result.outcome.clone(),
        why: d.result.why.clone(),
        machine,
        notes: d.result.notes.clone(),
    };
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(AppError::runtime)?
        );
    } else {
        print!("{}", text(&report, &crate::text::path(&a.file)));
    }
    Ok(())
}

/// `mmviz __compare FILE --method M ...` (internal: one repeat of one method in a fresh
/// process). Exit status as [`crate::compare::child::main`].
pub fn compare_child(a: &crate::cli::CompareChildArgs) -> i32 {
    let w = &a.workload;
    let spec = w
        .pattern
        .parse()
        .map(|kind| crate::workload::worker::PatternSpec {
            kind,
            seed: w.seed,
            access_size: w.access_size,
            stride_pages: w.stride,
            hot_fraction: w.hot_fraction,
            hot_share: w.hot_share,
            regex: w.regex.clone(),
            max_matches: w.max_matches,
        });
    crate::compare::child::main(&crate::compare::child::ChildRequest {
        file: &a.file,
        method: &a.method,
        spec,
        accesses: a.accesses,
    })
}
