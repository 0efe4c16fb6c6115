//! `mmviz gen`: test files of pseudo-random bytes (same seed, same bytes) or sparse files.

use crate::error::{io_reason, AppError, Result};
use crate::units::human_bytes;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// What to generate.
#[derive(Clone, Debug)]
pub struct GenOptions {
    pub path: PathBuf,
    pub size: u64,
    pub sparse: bool,
    pub seed: u64,
    pub force: bool,
    /// Show a progress bar (only on a terminal, for large files).
    pub progress: bool,
    /// Sorted fixed-size records (`patterns::bsearch`) instead of random bytes; `size` is
    /// then a multiple of the record size.
    pub records: bool,
}

/// Writes the file. On SIGINT (`interrupted` set) or a write error the partial file, which
/// mmviz itself created, is removed.
pub fn generate(opts: &GenOptions, interrupted: &AtomicBool) -> Result<()> {
    let path = &opts.path;
    let existing = std::fs::symlink_metadata(path).ok();
    if let Some(m) = &existing {
        if !opts.force {
            return Err(AppError::bad_input(
                path,
                "already exists (use --force to overwrite it)",
            ));
        }
        if !m.file_type().is_file() {
            return Err(AppError::bad_input(
                path,
                "exists and is not a regular file; refusing to overwrite it",
            ));
        }
    }
    check_dir(path)?;
    if !opts.sparse {
        check_space(path, opts.size, existing.as_ref().map(|m| m.blocks() * 512))?;
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| AppError::bad_input(path, io_reason(&e)))?;
    let res = if opts.sparse {
        file.set_len(opts.size).map_err(|e| {
            if e.raw_os_error() == Some(libc::EFBIG) {
                AppError::bad_input(
                    path,
                    format!(
                        "{} is larger than this filesystem allows a file to be (EFBIG; ext4 \
                         with 4 KiB blocks stops at 16 TiB - 4 KiB)",
                        human_bytes(opts.size)
                    ),
                )
            } else {
                AppError::runtime(format!("{}: {}", path.display(), io_reason(&e)))
            }
        })
    } else {
        write_random(&mut file, opts, interrupted)
    };
    if let Err(e) = res {
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    // Written data is dirty in the page cache; sync it so the file can be evicted right away
    // (fadvise DONTNEED skips dirty pages).
    file.sync_all()
        .map_err(|e| AppError::runtime(format!("{}: {}", path.display(), io_reason(&e))))?;
    Ok(())
}

/// The directory of `path`, or "." for a bare name.
fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Refuses kernel pseudo-filesystems (/proc, /sys, cgroups, debugfs): they hold no regular
/// files, and their statfs reports 0 B free, which would read as "the disk is full".
fn check_dir(path: &Path) -> Result<()> {
    const PSEUDO: [(u64, &str); 6] = [
        (0x9fa0, "procfs"),
        (0x6265_6572, "sysfs"),
        (0x6367_7270, "cgroup2"),
        (0x0027_e0eb, "cgroup"),
        (0x6462_6720, "debugfs"),
        (0x7472_6163, "tracefs"),
    ];
    let parent = parent_of(path);
    let Ok(dir) = File::open(&parent) else {
        // Missing or unreadable: the create below says why, naming the file.
        return Ok(());
    };
    if let Ok(magic) = crate::kernel::sys::fstatfs_magic(dir.as_fd()) {
        if let Some((_, name)) = PSEUDO.iter().find(|(m, _)| *m == magic) {
            return Err(AppError::bad_input(
                path,
                format!(
                    "{} is on {name}, a kernel pseudo-filesystem that holds no regular files; \
                     choose a directory on a disk filesystem",
                    crate::text::path(&parent)
                ),
            ));
        }
    }
    Ok(())
}

fn check_space(path: &Path, size: u64, reclaimable: Option<u64>) -> Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let dir = File::open(&parent).map_err(|e| {
        AppError::bad_input(
            path,
            format!(
                "cannot create it in {}: {}",
                parent.display(),
                io_reason(&e)
            ),
        )
    })?;
    let free = crate::kernel::sys::free_bytes(dir.as_fd())
        .map_err(|e| AppError::runtime(format!("{}: {}", parent.display(), io_reason(&e))))?;
    let free = free.saturating_add(reclaimable.unwrap_or(0));
    if size > free {
        return Err(AppError::bad_input(
            path,
            format!(
                "{} does not fit: only {} free on that filesystem (use --sparse for a file without data blocks)",
                human_bytes(size),
                human_bytes(free)
            ),
        ));
    }
    Ok(())
}

fn write_random(file: &mut File, opts: &GenOptions, interrupted: &AtomicBool) -> Result<()> {
    const CHUNK: usize = 1 << 20;
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut records = opts
        .records
        .then(|| crate::workload::patterns::bsearch::RecordWriter::new(opts.seed));
    let mut buf = vec![0u8; CHUNK];
    let bar = (opts.progress && opts.size >= 64 << 20).then(|| {
        let b = indicatif::ProgressBar::new(opts.size);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("static template")
            .progress_chars("=> "),
        );
        b.set_message(format!("writing {}", crate::text::path(&opts.path)));
        b
    });
    let mut written = 0u64;
    while written < opts.size {
        if interrupted.load(Ordering::Relaxed) {
            if let Some(b) = &bar {
                b.abandon();
            }
            return Err(AppError::interrupted(format!(
                "{}: interrupted; removed the partial file",
                opts.path.display()
            )));
        }
        let n = (opts.size - written).min(CHUNK as u64) as usize;
        match &mut records {
            // CHUNK is a multiple of the record size, so records never straddle chunks.
            Some(w) => {
                buf.clear();
                while buf.len() < n {
                    w.push(&mut buf);
                }
            }
            None => rng.fill_bytes(&mut buf[..n]),
        }
        file.write_all(&buf[..n]).map_err(|e| {
            AppError::runtime(format!(
                "{}: {} after writing {} of {}; removed the partial file",
                opts.path.display(),
                io_reason(&e),
                human_bytes(written),
                human_bytes(opts.size)
            ))
        })?;
        written += n as u64;
        if let Some(b) = &bar {
            b.set_position(written);
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(())
}
