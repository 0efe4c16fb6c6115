//! Set-up of the mapping: open the file (read-only, or a scratch file for writes), map it,
//! and the madvise calls on it.

use crate::kernel::advice::Advice;
use crate::workload::worker::protocol::{WorkerOptions, WriteMode};
use memmap2::{Mmap, MmapMut, MmapOptions};
use std::fs::File;
use std::io;
use std::path::Path;

/// The worker's mapping: read-only (the user's file) or writable (a scratch file only).
pub(super) enum Mapping {
    Read(Mmap),
    /// MAP_SHARED or MAP_PRIVATE with PROT_WRITE; stores go through `base`, a raw pointer
    /// taken once, and loads in write mode too, so no `&[u8]` aliases the stored bytes.
    Write {
        map: MmapMut,
        base: *mut u8,
    },
}

impl Mapping {
    pub(super) fn addr(&self) -> usize {
        match self {
            Mapping::Read(m) => m.as_ptr() as usize,
            Mapping::Write { base, .. } => *base as usize,
        }
    }
    pub(super) fn len(&self) -> usize {
        match self {
            Mapping::Read(m) => m.len(),
            Mapping::Write { map, .. } => map.len(),
        }
    }
    pub(super) fn advise(&self, a: memmap2::Advice) -> io::Result<()> {
        match self {
            Mapping::Read(m) => m.advise(a),
            Mapping::Write { map, .. } => map.advise(a),
        }
    }
}

/// Opens and maps the file as `opts` says: the address-space limit first, then the mapping,
/// then (by default) the descriptor is closed: the mapping holds its own reference to the
/// file, so /proc/<worker>/fd shows no descriptor while /proc/<worker>/maps shows the mapping.
pub(super) fn map_file(
    path: &Path,
    opts: &WorkerOptions,
) -> io::Result<(Option<Mapping>, u64, Option<File>)> {
    let file = match opts.write {
        // Writes only ever go to scratch files mmviz created (see scratch.rs): refuse any
        // other name rather than trust the caller.
        Some(mode) => {
            if !crate::workload::scratch::is_scratch_name(path) {
                return Err(io::Error::other(format!(
                    "refusing --write {mode} on a file that is not an mmviz scratch file"
                )));
            }
            match mode {
                WriteMode::Shared => std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(path)?,
                // MAP_PRIVATE needs only read access: the copies are anonymous memory.
                WriteMode::Private => File::open(path)?,
            }
        }
        None => File::open(path)?,
    };
    let size = file.metadata()?.len();
    if let Some(limit) = opts.address_space {
        crate::kernel::sys::set_address_space_limit(limit)?;
    }
    // What this process already occupies counts against the limit too (binary, heap, stacks).
    let used = opts
        .address_space
        .and_then(|_| crate::kernel::addrspace::vm_status(std::process::id()).ok())
        .map(|s| s.vm_size);
    let enomem = |e: io::Error| -> io::Error {
        match (e.raw_os_error(), opts.address_space) {
            (Some(libc::ENOMEM), Some(limit)) => io::Error::other(format!(
                "mmap of {} failed with ENOMEM: a {} address space (RLIMIT_AS) cannot hold a {} mapping{}",
                crate::units::human_bytes(size),
                crate::units::human_bytes(limit),
                crate::units::human_bytes(size),
                used.map(|u| format!(
                    " (the worker already used {} of it)",
                    crate::units::human_bytes(u)
                ))
                .unwrap_or_default()
            )),
            _ => e,
        }
    };
    let map = if size == 0 {
        None
    } else {
        let mut o = MmapOptions::new();
        o.len(size as usize);
        Some(match opts.write {
            // SAFETY: the mapping is read-only and shared. Another process may truncate the
            // file; then touching pages beyond the end raises SIGBUS, which kills this process
            // only — that is exactly why this is a separate process (see DESIGN.md).
            None => Mapping::Read(unsafe { o.map(&file) }.map_err(enomem)?),
            Some(mode) => {
                // SAFETY: a scratch file only this mmviz writes; truncation by another process
                // raises SIGBUS in this process only, as for reads.
                let mut m = unsafe {
                    match mode {
                        WriteMode::Shared => o.map_mut(&file),
                        WriteMode::Private => o.map_copy(&file),
                    }
                }
                .map_err(enomem)?;
                let base = m.as_mut_ptr();
                Mapping::Write { map: m, base }
            }
        })
    };
    let keep = opts.keep_fd.then_some(file);
    Ok((map, size, keep))
}

pub(super) fn to_memmap_advice(a: Advice) -> memmap2::Advice {
    match a {
        Advice::Normal => memmap2::Advice::Normal,
        Advice::Random => memmap2::Advice::Random,
        Advice::Sequential => memmap2::Advice::Sequential,
        Advice::Willneed => memmap2::Advice::WillNeed,
        Advice::Hugepage => memmap2::Advice::HugePage,
    }
}
