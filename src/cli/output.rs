//! Printing results to stdout without panicking when the reader goes away (`mmviz … | head`).
//!
//! Rust ignores SIGPIPE, so `println!` panics on a closed pipe. We keep SIGPIPE ignored (the
//! viewer writes to its worker's stdin and must survive the worker's death) and end quietly,
//! like a command piped into `head` is expected to, when stdout is closed.

use std::io::Write;

/// Writes a line to stdout; exits 0 at once when stdout is a closed pipe.
pub fn line(s: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(s).and_then(|_| out.write_all(b"\n")) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("mmviz: stdout: {e}");
        std::process::exit(1);
    }
}

/// `println!` that never panics on a closed pipe.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::output::line(format_args!($($arg)*))
    };
}
