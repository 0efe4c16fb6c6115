//! Errors with the exit code they map to (the CLI contract, README "Exit status"):
//! 0 success, 1 failure at run time, 2 usage error or bad input, 128+N ended by signal N
//! (130 SIGINT/Ctrl-C, 129 SIGHUP, 131 SIGQUIT in the live view, 143 SIGTERM), the same in
//! every command and the live view.

use std::fmt;
use std::path::Path;

/// An error that ends a command: one line on stderr and an exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppError {
    pub code: u8,
    pub msg: String,
}

impl AppError {
    pub const RUNTIME: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const INTERRUPTED: u8 = 130;

    /// Bad input about a file: "mmviz: PATH: REASON", exit 2.
    pub fn bad_input(path: &Path, reason: impl fmt::Display) -> AppError {
        AppError {
            code: Self::USAGE,
            msg: format!("{}: {reason}", path.display()),
        }
    }
    /// A usage error (bad option value), exit 2.
    pub fn usage(msg: impl fmt::Display) -> AppError {
        AppError {
            code: Self::USAGE,
            msg: msg.to_string(),
        }
    }
    /// A failure at run time, exit 1.
    pub fn runtime(msg: impl fmt::Display) -> AppError {
        AppError {
            code: Self::RUNTIME,
            msg: msg.to_string(),
        }
    }
    /// Interrupted by SIGINT, exit 130.
    pub fn interrupted(msg: impl fmt::Display) -> AppError {
        AppError {
            code: Self::INTERRUPTED,
            msg: msg.to_string(),
        }
    }
}

impl AppError {
    /// Ended by signal `sig`: exit 128+sig, with a message naming it.
    pub fn signalled(sig: i32, what: &str) -> AppError {
        let how = match sig {
            libc::SIGINT => "interrupted".to_string(),
            libc::SIGTERM => "terminated (SIGTERM)".to_string(),
            libc::SIGHUP => "hung up (SIGHUP)".to_string(),
            s => format!("stopped by signal {s}"),
        };
        AppError {
            code: (128 + sig).clamp(0, 255) as u8,
            msg: if what.is_empty() {
                how
            } else {
                format!("{what}: {how}")
            },
        }
    }
}

/// SIGINT, SIGTERM and SIGHUP caught for a headless command: `stop` is set by any of them
/// and `which` remembers the last one, so the command ends through its normal cleanup
/// (kill the worker, remove a partial file) and exits 128+signal like the live view.
pub struct StopSignals {
    pub stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    which: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl StopSignals {
    pub fn register() -> Result<StopSignals> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let which = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            // `which` first: whoever sees `stop` set also sees the signal.
            signal_hook::flag::register_usize(sig, std::sync::Arc::clone(&which), sig as usize)
                .map_err(AppError::runtime)?;
            signal_hook::flag::register(sig, std::sync::Arc::clone(&stop))
                .map_err(AppError::runtime)?;
        }
        Ok(StopSignals { stop, which })
    }

    /// The signal that arrived, if any.
    pub fn caught(&self) -> Option<i32> {
        match self.which.load(std::sync::atomic::Ordering::SeqCst) {
            0 => None,
            s => Some(s as i32),
        }
    }

    /// `e` with the exit code of the signal that caused it (when one arrived and `e` is the
    /// interruption it caused, code 130), its message naming that signal.
    pub fn explain(&self, e: AppError) -> AppError {
        match self.caught() {
            Some(sig) if e.code == AppError::INTERRUPTED && sig != libc::SIGINT => {
                let s = AppError::signalled(sig, "");
                AppError {
                    code: s.code,
                    msg: if e.msg.contains("interrupted") {
                        e.msg.replacen("interrupted", &s.msg, 1)
                    } else {
                        format!("{}: {}", e.msg, s.msg)
                    },
                }
            }
            _ => e,
        }
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for AppError {}

/// `io::Error` text without Rust's " (os error N)" suffix, lower-case first letter, as
/// coreutils print it: "No such file or directory".
pub fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

pub type Result<T> = std::result::Result<T, AppError>;
