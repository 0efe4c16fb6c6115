//! Raw file mappings the sampler never dereferences (`PROT_NONE`), used only to ask
//! `mincore()` about the page cache in bounded windows.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// A `PROT_NONE`, `MAP_SHARED` mapping of a file range. Touching it would fault, and nothing
/// here ever does: it exists so `mincore` can look the pages up in the page cache.
pub struct InertMap {
    addr: usize,
    len: usize,
}

impl InertMap {
    /// Maps `len` bytes of `file` from `offset` (page aligned) with no access rights.
    pub fn new(file: &File, offset: u64, len: usize) -> io::Result<InertMap> {
        assert!(len > 0);
        // SAFETY: a fresh mapping chosen by the kernel (addr NULL) with PROT_NONE cannot alias
        // or change any existing Rust object; the result is checked for MAP_FAILED.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_NONE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                offset as libc::off_t,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(InertMap {
            addr: p as usize,
            len,
        })
    }

    pub fn addr(&self) -> usize {
        self.addr
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for InertMap {
    fn drop(&mut self) {
        // SAFETY: addr/len are exactly the mapping created in `new`, unmapped once here.
        unsafe {
            libc::munmap(self.addr as *mut libc::c_void, self.len);
        }
    }
}
