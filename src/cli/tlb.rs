//! `mmviz tlb`: what the TLB costs on this machine, measured.

use crate::cli::TlbArgs;
use crate::error::{AppError, Result};
use crate::tlbbench::{measure, render_text, Options};
use crate::units::human_bytes;

/// `mmviz tlb`.
pub fn command(a: &TlbArgs) -> Result<()> {
    use std::io::IsTerminal;
    let max = crate::units::parse_size(&a.max_working_set)
        .map_err(|e| AppError::usage(format!("--max-working-set: {e}")))?;
    if a.runs == 0 {
        return Err(AppError::usage("--runs must be at least 1"));
    }
    let opts = Options {
        max_working_set: max,
        runs: a.runs,
        ..Options::default()
    };
    let tell = std::io::stderr().is_terminal();
    let r = measure(&opts, |ws| {
        if tell {
            eprint!("\rmmviz: measuring {:>9} …", human_bytes(ws));
        }
    })?;
    if tell {
        eprint!("\r\x1b[K");
    }
    if a.json {
        let s = serde_json::to_string_pretty(&r)
            .map_err(|e| AppError::runtime(format!("json: {e}")))?;
        crate::outln!("{s}");
    } else {
        for l in render_text(&r) {
            crate::outln!("{l}");
        }
    }
    Ok(())
}
