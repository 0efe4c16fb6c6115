//! `mmviz attach PID` / `mmviz exec -- CMD` in a terminal: the live view of an observed
//! program (the TUI fed by [`crate::observe::live`]). Headless (the one final report of
//! [`crate::cli::attach`]) with `--json`, with `--duration`, or when stdin or stdout is not a
//! terminal.

use crate::error::{AppError, Result};
use crate::observe::live::{self, ObservedOptions, ObservedSummary};
use crate::observe::Observer;
use crate::session::snapshot::Command;
use crate::tui::ExitKind;
use std::io::IsTerminal;
use std::os::unix::fs::FileExt;

/// Program output printed after the screen closes, at most (the tail is kept).
const OUTPUT_SHOWN: u64 = 64 * 1024;

/// True when the live view opens: a terminal on stdin and stdout, no `--json`, no
/// `--duration` (those ask for the report).
pub fn wanted(json: bool, duration: Option<f64>) -> bool {
    !json && duration.is_none() && std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// Where an exec'd program's stdout and stderr go while the screen owns the terminal: a
/// scratch file (on disk, mode 0600, removed when mmviz ends unless the program still runs).
pub fn output_file() -> Result<crate::workload::scratch::ScratchFile> {
    let dir = crate::workload::scratch::pick_dir()?;
    let _ = crate::workload::scratch::sweep(&dir.path);
    crate::workload::scratch::ScratchFile::create(&dir).map_err(|e| {
        AppError::runtime(format!(
            "cannot create a file for the program's output in {}: {}",
            dir.path.display(),
            crate::error::io_reason(&e)
        ))
    })
}

/// Runs the live view until `q` (or a signal); the observed program is left as it is. With a
/// recorder, every snapshot and command is recorded on the way (`--record`).
pub fn run(
    obs: Observer,
    opts: ObservedOptions,
    output: Option<crate::workload::scratch::ScratchFile>,
    recorder: Option<crate::record::Recorder>,
) -> Result<()> {
    let theme = crate::tui::Theme::from_env();
    let (tx, rx, handle) = live::spawn(obs, opts)?;
    let (ui_tx, ui_rx, tee) = match recorder {
        Some(r) => {
            let (t, r, h) = crate::record::tee(tx.clone(), rx, r);
            (t, r, Some(h))
        }
        None => (tx.clone(), rx, None),
    };
    let res = crate::tui::run_with_theme(ui_rx, ui_tx, theme);
    let _ = tx.send(Command::Quit);
    let summary = handle.join().ok();
    if let Some(Some(e)) = tee.map(|h| h.finish()) {
        eprintln!("mmviz: the recording stopped early: {e}");
    }
    if let Some(s) = &summary {
        after_screen(s, output);
    }
    match res {
        Ok(ExitKind::Normal) => Ok(()),
        Ok(ExitKind::Interrupted) => Err(AppError::interrupted("interrupted")),
        Ok(k) => Err(AppError::signalled(k.code() - 128, "")),
        Err(e) => Err(AppError::runtime(format!("terminal: {e}"))),
    }
}

/// Back on the shell's screen: the exec'd program's output, and what became of it.
fn after_screen(s: &ObservedSummary, output: Option<crate::workload::scratch::ScratchFile>) {
    if let Some((path, f)) = &s.output {
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        if len > 0 {
            let from = len.saturating_sub(OUTPUT_SHOWN);
            let mut buf = vec![0u8; (len - from) as usize];
            if let Ok(n) = f.read_at(&mut buf, from) {
                if from > 0 {
                    eprintln!("mmviz: the program's output, its last {n} bytes ({path}):");
                } else {
                    eprintln!("mmviz: the program's output (stdout and stderr):");
                }
                for line in String::from_utf8_lossy(&buf[..n]).lines() {
                    eprintln!("{}", crate::text::escape_controls(line));
                }
            }
        }
    }
    if s.still_running {
        match output {
            Some(o) => {
                eprintln!(
                    "mmviz: PID {} is still running (mmviz never signals it); its output goes to {}",
                    s.pid,
                    o.path.display()
                );
                // Kept for the program: the next mmviz start sweeps it once the program,
                // which holds the file's lock through its descriptor, has exited.
                std::mem::forget(o);
            }
            None => eprintln!(
                "mmviz: PID {} is still running; mmviz stopped observing it",
                s.pid
            ),
        }
    }
}
