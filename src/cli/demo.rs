//! The built-in demo file: 256 MiB of pseudo-random bytes under the user's cache directory,
//! created once (with a progress bar) and reused.

use crate::cli::gen::{self, GenOptions};
use crate::error::{AppError, Result};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

pub const DEMO_SIZE: u64 = 256 << 20;

/// The demo file's path, created if missing (or if its size is wrong).
pub fn ensure_demo_file(progress: bool) -> Result<PathBuf> {
    let dir = crate::workload::scratch::demo_dir().ok_or_else(|| {
        AppError::runtime("no cache directory for the demo file (set HOME or MMVIZ_DEMO_DIR)")
    })?;
    std::fs::create_dir_all(&dir)
        .map_err(|e| AppError::runtime(format!("{}: {e}", dir.display())))?;
    let path = dir.join("demo-256MiB.bin");
    let ok = std::fs::metadata(&path)
        .map(|m| m.is_file() && m.len() == DEMO_SIZE)
        .unwrap_or(false);
    if !ok {
        if progress {
            eprintln!(
                "mmviz: creating the demo file {} (256 MiB, once)",
                path.display()
            );
        }
        let opts = GenOptions {
            path: path.clone(),
            size: DEMO_SIZE,
            sparse: false,
            seed: 1,
            force: true,
            progress,
            records: false,
        };
        gen::generate(&opts, &AtomicBool::new(false))?;
    }
    Ok(path)
}
