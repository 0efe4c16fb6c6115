//! Scratch files: the only files mmviz ever writes to.
//!
//! Write demos (shared and private writes, msync, IPC) need a file to write. That is never the
//! user's file: it is a scratch copy (its first 1 GiB, holes kept as holes) or generated data,
//! in a scratch directory on a disk filesystem beside the demo file. The user's file is read
//! through the caller's read-only descriptor and never reopened here.
//!
//! Lifetime: each scratch file is held with an exclusive `flock` on its own descriptor while
//! in use and unlinked when its [`ScratchFile`] is dropped (normal exit, errors, and SIGINT /
//! SIGTERM, which the commands turn into an ordinary return). A SIGKILL leaves the file behind,
//! but the kernel drops the lock with the process, so the next start's [`sweep`] removes every
//! scratch file whose lock is free. Pids are never trusted: a pid in a name may be reused, a
//! free lock cannot lie.

use crate::error::{io_reason, AppError, Result};
use crate::kernel::fsinfo;
use crate::units::human_bytes;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// `$MMVIZ_DEMO_DIR`, else `$XDG_CACHE_HOME/mmviz`, else `~/.cache/mmviz`.
pub fn demo_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("MMVIZ_DEMO_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d).join("mmviz"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("mmviz"))
}

/// Scratch copies stop here: enough pages for every demo, bounded disk use.
pub const COPY_LIMIT: u64 = 1 << 30;

/// Name prefix of scratch files (the sweep only ever touches these).
const PREFIX: &str = "mmviz-scratch-";

/// Whether `path`'s file name is a scratch file name (the worker refuses writable mappings of
/// anything else).
pub fn is_scratch_name(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with(PREFIX))
}

/// A directory for scratch files, on a filesystem that can show writeback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScratchDir {
    pub path: PathBuf,
    /// Filesystem name (fstatfs), e.g. "ext4".
    pub fs: String,
}

/// Why a candidate directory cannot hold scratch files (for the refusal message).
fn check_dir(dir: &Path) -> std::result::Result<String, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {}", dir.display(), io_reason(&e)))?;
    let f = File::open(dir).map_err(|e| format!("{}: {}", dir.display(), io_reason(&e)))?;
    let fs = fsinfo::fs_of(&f).map_err(|e| format!("{}: {}", dir.display(), io_reason(&e)))?;
    if matches!(fs.name.as_str(), "tmpfs" | "ramfs") {
        return Err(format!(
            "{} is on {}, which keeps every page in memory and never writes back: dirty pages \
             and msync could not be shown there",
            dir.display(),
            fs.name
        ));
    }
    // Writable by us? access(2) with the effective ids, like the open would check.
    if !crate::kernel::sys::may_write(f.as_fd()) {
        return Err(format!(
            "{}: Permission denied (cannot create scratch files there)",
            dir.display()
        ));
    }
    Ok(fs.name)
}

/// Picks the scratch directory: `<demo dir>/scratch`; when that is on tmpfs/ramfs,
/// `$HOME/.cache/mmviz/scratch` if that is a different, disk-backed directory the user owns.
/// Otherwise an error that says why write mode is refused.
pub fn pick_dir() -> Result<ScratchDir> {
    let primary = demo_dir()
        .ok_or_else(|| {
            AppError::runtime("no cache directory for scratch files (set HOME or MMVIZ_DEMO_DIR)")
        })?
        .join("scratch");
    let first_err = match check_dir(&primary) {
        Ok(fs) => return Ok(ScratchDir { path: primary, fs }),
        Err(e) => e,
    };
    let in_memory = first_err.contains("keeps every page in memory");
    if in_memory {
        if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            let home = PathBuf::from(home);
            let owned = std::fs::metadata(&home)
                .map(|m| m.uid() == crate::kernel::sys::geteuid())
                .unwrap_or(false);
            let alt = home.join(".cache").join("mmviz").join("scratch");
            if owned && alt != primary {
                match check_dir(&alt) {
                    Ok(fs) => return Ok(ScratchDir { path: alt, fs }),
                    Err(e2) => {
                        return Err(AppError::runtime(format!(
                            "write mode refused: {first_err}; and {e2}"
                        )))
                    }
                }
            }
        }
    }
    Err(AppError::runtime(format!(
        "write mode refused: {first_err}"
    )))
}

/// Removes the scratch files in `dir` whose lock is free (left by a killed mmviz). Returns
/// how many were removed. Files in use by a running mmviz keep their lock and are left alone.
pub fn sweep(dir: &Path) -> io::Result<usize> {
    let mut removed = 0;
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    for ent in entries.flatten() {
        let name = ent.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with(PREFIX) {
            continue;
        }
        let path = ent.path();
        // O_NOFOLLOW: never follow a link planted in our directory; O_RDONLY is enough for
        // flock, and we never read or write the leftover.
        let Ok(f) = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
            .open(&path)
        else {
            continue;
        };
        if crate::kernel::sys::try_lock_exclusive(f.as_fd()).unwrap_or(false) {
            // Still the same file at that name? (A racing sweep may have replaced it.)
            let same = match (std::fs::symlink_metadata(&path), f.metadata()) {
                (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
                _ => false,
            };
            if same && std::fs::remove_file(&path).is_ok() {
                removed += 1;
            }
        }
    }
    Ok(removed)
}

/// A scratch file held (flock) by this process and removed on drop.
#[derive(Debug)]
pub struct ScratchFile {
    pub path: PathBuf,
    /// Read-write descriptor that holds the lock (the parent samples cachestat through it).
    pub file: File,
    pub size: u64,
    /// Bytes of data copied (holes excluded) when this is a copy.
    pub data_bytes: u64,
}

impl ScratchFile {
    /// A new, empty, locked scratch file in `dir` (mode 0600, O_EXCL: never an existing file).
    pub fn create(dir: &ScratchDir) -> io::Result<ScratchFile> {
        use rand::RngCore;
        for _ in 0..16 {
            let tag = rand::thread_rng().next_u64();
            let path = dir
                .path
                .join(format!("{PREFIX}{}-{tag:016x}.bin", std::process::id()));
            let file = match OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
                .open(&path)
            {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            };
            // Lock, then check that a concurrent sweep did not take the fresh, unlocked file
            // away between create and lock (it would have unlinked it).
            let locked = crate::kernel::sys::try_lock_exclusive(file.as_fd())?;
            let ours = match (std::fs::symlink_metadata(&path), file.metadata()) {
                (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
                _ => false,
            };
            if locked && ours {
                return Ok(ScratchFile {
                    path,
                    file,
                    size: 0,
                    data_bytes: 0,
                });
            }
        }
        Err(io::Error::other(
            "could not create a scratch file (16 attempts)",
        ))
    }

    /// A sparse scratch file of `size` bytes (no data blocks: reads see zeros).
    pub fn sparse(dir: &ScratchDir, size: u64) -> io::Result<ScratchFile> {
        let mut s = ScratchFile::create(dir)?;
        s.file.set_len(size)?;
        s.size = size;
        Ok(s)
    }

    /// A scratch file of `size` pseudo-random bytes (ChaCha8 from `seed`: same seed, same
    /// bytes), written back before it is returned, for write demos with no user file.
    pub fn generated(dir: &ScratchDir, size: u64, seed: u64) -> io::Result<ScratchFile> {
        use rand::{RngCore, SeedableRng};
        let mut s = ScratchFile::create(dir)?;
        let free = crate::kernel::sys::free_bytes(s.file.as_fd())?;
        if size > free {
            return Err(io::Error::other(format!(
                "{} does not fit in the {} free in {}",
                human_bytes(size),
                human_bytes(free),
                dir.path.display()
            )));
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut buf = vec![0u8; 1 << 20];
        let mut off = 0;
        while off < size {
            let n = ((size - off) as usize).min(buf.len());
            rng.fill_bytes(&mut buf[..n]);
            s.file.write_all_at(&buf[..n], off)?;
            off += n as u64;
        }
        crate::kernel::sys::fdatasync(s.file.as_fd())?;
        s.size = size;
        s.data_bytes = size;
        Ok(s)
    }

    /// A copy of the first `min(size, COPY_LIMIT)` bytes of `src` (the user's file, read
    /// through the caller's read-only descriptor with pread only). Holes stay holes
    /// (SEEK_DATA/SEEK_HOLE). The copy is then written back (fdatasync), so a write demo
    /// starts with no dirty pages of its own making.
    pub fn copy_of(dir: &ScratchDir, src: &File, size: u64) -> io::Result<ScratchFile> {
        let len = size.min(COPY_LIMIT);
        let mut s = ScratchFile::create(dir)?;
        let need = data_bytes_in(src, len)?;
        let free = crate::kernel::sys::free_bytes(s.file.as_fd())?;
        if need > free {
            return Err(io::Error::other(format!(
                "the scratch copy needs {} but {} has {} free",
                human_bytes(need),
                dir.path.display(),
                human_bytes(free)
            )));
        }
        s.file.set_len(len)?;
        let mut buf = vec![0u8; 1 << 20];
        let mut off = 0;
        let mut copied = 0;
        while off < len {
            let Some(data) = crate::kernel::sys::seek_data_or_hole(src.as_fd(), off, true)? else {
                break;
            };
            if data >= len {
                break;
            }
            let hole = crate::kernel::sys::seek_data_or_hole(src.as_fd(), data, false)?
                .unwrap_or(len)
                .min(len);
            let mut p = data;
            while p < hole {
                let want = ((hole - p) as usize).min(buf.len());
                let n = src.read_at(&mut buf[..want], p)?;
                if n == 0 {
                    break; // the file shrank under us: the rest stays a hole
                }
                s.file.write_all_at(&buf[..n], p)?;
                p += n as u64;
                copied += n as u64;
            }
            off = hole.max(p);
        }
        crate::kernel::sys::fdatasync(s.file.as_fd())?;
        s.size = len;
        s.data_bytes = copied;
        Ok(s)
    }
}

/// Bytes of data (not holes) in the first `len` bytes of `f`.
fn data_bytes_in(f: &File, len: u64) -> io::Result<u64> {
    let mut off = 0;
    let mut total = 0;
    while off < len {
        let Some(d) = crate::kernel::sys::seek_data_or_hole(f.as_fd(), off, true)? else {
            break;
        };
        if d >= len {
            break;
        }
        let h = crate::kernel::sys::seek_data_or_hole(f.as_fd(), d, false)?
            .unwrap_or(len)
            .min(len);
        total += h - d;
        off = h.max(d + 1);
    }
    Ok(total)
}

impl Drop for ScratchFile {
    fn drop(&mut self) {
        // Unlink while still holding the lock, so a sweep never sees it unlocked.
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> (tempfile::TempDir, ScratchDir) {
        let t = tempfile::Builder::new()
            .prefix("mmviz-scratch-unit-")
            .tempdir_in(env!("CARGO_MANIFEST_DIR").to_string() + "/target")
            .unwrap();
        let d = ScratchDir {
            path: t.path().to_path_buf(),
            fs: "test".into(),
        };
        (t, d)
    }

    #[test]
    fn copy_keeps_holes_and_bytes() {
        let (_t, d) = dir();
        let src_path = d.path.join("src.bin");
        let src = File::create(&src_path).unwrap();
        src.set_len(8 << 20).unwrap();
        src.write_all_at(&[7u8; 4096], 0).unwrap();
        src.write_all_at(&[9u8; 4096], 6 << 20).unwrap();
        src.sync_all().unwrap();
        let src = File::open(&src_path).unwrap();
        let s = ScratchFile::copy_of(&d, &src, 8 << 20).unwrap();
        assert_eq!(s.size, 8 << 20);
        assert_eq!(
            std::fs::read(&s.path).unwrap(),
            std::fs::read(&src_path).unwrap()
        );
        // ext4 allocates in blocks: two 4 KiB data blocks, the rest holes.
        let blocks = std::fs::metadata(&s.path).unwrap().blocks() * 512;
        assert!(
            blocks <= 64 << 10,
            "holes were filled: {blocks} bytes allocated"
        );
        assert_eq!(s.data_bytes, 8192);
    }

    #[test]
    fn generated_is_deterministic_and_clean() {
        let (_t, d) = dir();
        let a = ScratchFile::generated(&d, (1 << 20) + 5, 7).unwrap();
        let b = ScratchFile::generated(&d, (1 << 20) + 5, 7).unwrap();
        let c = ScratchFile::generated(&d, (1 << 20) + 5, 8).unwrap();
        let (ba, bb, bc) = (
            std::fs::read(&a.path).unwrap(),
            std::fs::read(&b.path).unwrap(),
            std::fs::read(&c.path).unwrap(),
        );
        assert_eq!(ba.len(), (1 << 20) + 5);
        assert_eq!(ba, bb);
        assert_ne!(ba, bc);
        let cs = crate::kernel::sys::cachestat(a.file.as_fd(), 0, 0).unwrap();
        assert_eq!(cs.nr_dirty, 0, "written back before use");
    }

    #[test]
    fn sweep_removes_only_unlocked_files() {
        let (_t, d) = dir();
        let held = ScratchFile::sparse(&d, 4096).unwrap();
        let stale = d.path.join(format!("{PREFIX}1-dead.bin"));
        std::fs::write(&stale, b"left by a killed run").unwrap();
        let other = d.path.join("not-ours.bin");
        std::fs::write(&other, b"x").unwrap();
        assert_eq!(sweep(&d.path).unwrap(), 1);
        assert!(!stale.exists());
        assert!(held.path.exists(), "a locked scratch file is in use");
        assert!(other.exists(), "the sweep only touches scratch names");
        let p = held.path.clone();
        drop(held);
        assert!(!p.exists(), "removed on drop");
    }
}
