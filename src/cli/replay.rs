//! `mmviz replay FILE [--asciicast OUT.cast]`: a recording played in the terminal, or
//! rendered to an asciinema v2 file.

use crate::cli::ReplayArgs;
use crate::error::{AppError, Result};
use crate::record::Recording;
use std::io::IsTerminal;

/// Entry point of `mmviz replay`.
pub fn main(a: &ReplayArgs) -> Result<()> {
    let mut rec = Recording::open(&a.file)?;
    if rec.frames.is_empty() {
        return Err(AppError::bad_input(
            &a.file,
            "the recording has no snapshots to replay",
        ));
    }
    if let Some(w) = rec.truncated_at {
        eprintln!(
            "mmviz: warning: {} is truncated at line {w}; replaying the {} frames before it",
            a.file.display(),
            rec.frames.len()
        );
    }
    if let Some(out) = &a.asciicast {
        let (w, h) = crate::tui::asciicast::parse_size(&a.size)?;
        let n = crate::tui::asciicast::write(&mut rec, out, a.force, w, h)?;
        crate::outln!("{}: {n} frames, {w}x{h}", out.display());
        return Ok(());
    }
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(AppError::usage(
            "replay needs a terminal; without one use `mmviz replay FILE --asciicast OUT.cast`",
        ));
    }
    crate::tui::replay::play(&mut rec).map_err(|e| AppError::runtime(format!("terminal: {e}")))
}
