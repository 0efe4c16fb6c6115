//! Errors with the exit code they map to (the CLI contract):
//! 0 success, 1 failure at run time, 2 usage error or bad input, 130 interrupted by SIGINT.

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
