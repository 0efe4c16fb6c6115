//! Opening the user's file: read-only, never blocking, regular files only.

use crate::error::{io_reason, AppError, Result};
use crate::kernel::fsinfo;
use crate::kernel::fsinfo::FsInfo;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// A user's file, opened read-only (mmviz never writes the user's data).
#[derive(Debug)]
pub struct Target {
    pub path: PathBuf,
    pub file: File,
    pub size: u64,
    pub fs: FsInfo,
}

impl Target {
    /// Opens `path` with `O_RDONLY | O_NONBLOCK` (so a FIFO can never hang the open), then
    /// rejects anything that is not a regular file on a filesystem with a page cache.
    pub fn open(path: &Path) -> Result<Target> {
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| AppError::bad_input(path, io_reason(&e)))?;
        let meta = file
            .metadata()
            .map_err(|e| AppError::bad_input(path, io_reason(&e)))?;
        let ft = meta.file_type();
        let kind = if ft.is_dir() {
            Some("is a directory")
        } else if ft.is_fifo() {
            Some("is a FIFO (named pipe), not a regular file")
        } else if ft.is_char_device() {
            Some("is a character device, not a regular file")
        } else if ft.is_block_device() {
            Some("is a block device, not a regular file")
        } else if ft.is_socket() {
            Some("is a socket, not a regular file")
        } else if !ft.is_file() {
            Some("is not a regular file")
        } else {
            None
        };
        if let Some(k) = kind {
            return Err(AppError::bad_input(path, k));
        }
        let fs = fsinfo::fs_of(&file).map_err(|e| AppError::bad_input(path, io_reason(&e)))?;
        if fs.name == "proc" || fs.name == "sysfs" {
            return Err(AppError::bad_input(
                path,
                format!(
                    "is a {} file, generated on read: it has no page cache to show",
                    fs.name
                ),
            ));
        }
        Ok(Target {
            path: path.to_path_buf(),
            size: meta.len(),
            file,
            fs,
        })
    }

    /// Re-reads the size (the file may have been truncated or extended).
    pub fn refresh_size(&mut self) -> std::io::Result<u64> {
        self.size = self.file.metadata()?.len();
        Ok(self.size)
    }
}
