//! Thin, safe wrappers over the few system calls libc does not wrap the way we need.
//!
//! Every `unsafe` block of the crate's kernel interface lives here or in `mapping.rs`,
//! each in a tiny function with a `// SAFETY:` comment.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// `cachestat(2)` syscall number (Linux 6.5+). Not wrapped by libc 0.2.
#[cfg(target_arch = "x86_64")]
const SYS_CACHESTAT: libc::c_long = 451;
#[cfg(not(target_arch = "x86_64"))]
const SYS_CACHESTAT: libc::c_long = 451; // same number on the generic syscall table (arm64, riscv)

/// `struct cachestat_range` from `<linux/mman.h>`.
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CachestatRange {
    off: u64,
    len: u64,
}

/// `struct cachestat` from `<linux/mman.h>`: page counts for a byte range of a file.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Cachestat {
    pub nr_cache: u64,
    pub nr_dirty: u64,
    pub nr_writeback: u64,
    pub nr_evicted: u64,
    pub nr_recently_evicted: u64,
}

/// `cachestat(fd, {off, len}, &cs, 0)`. `len == 0` means "to the end of the file".
/// Errors: ENOSYS before Linux 6.5, EPERM when the kernel hides the state (a file we
/// neither own nor may write), EBADF/EOPNOTSUPP for odd files (hugetlbfs).
pub fn cachestat(fd: BorrowedFd<'_>, off: u64, len: u64) -> io::Result<Cachestat> {
    let range = CachestatRange { off, len };
    let mut cs = Cachestat::default();
    // SAFETY: both pointers point to live, properly sized #[repr(C)] structs that outlive the
    // call; the kernel reads `range` and writes `cs` only.
    let r = unsafe {
        libc::syscall(
            SYS_CACHESTAT,
            fd.as_raw_fd(),
            &range as *const CachestatRange,
            &mut cs as *mut Cachestat,
            0 as libc::c_uint,
        )
    };
    if r == 0 {
        Ok(cs)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `mincore(addr, len, vec)`: one byte per page of `addr..addr+len`, bit 0 = resident.
/// `addr` must be page aligned and `vec.len()` at least `ceil(len / page_size)`.
/// The pages are never dereferenced: mincore only inspects the page cache / page tables.
pub fn mincore(addr: usize, len: usize, vec: &mut [u8]) -> io::Result<()> {
    let ps = crate::units::page_size() as usize;
    assert!(vec.len() >= len.div_ceil(ps), "mincore vector too small");
    // SAFETY: mincore does not access the memory at addr (an invalid range gives ENOMEM, not a
    // fault); it writes at most ceil(len/page_size) bytes into vec, which we checked is large
    // enough.
    let r = unsafe { libc::mincore(addr as *mut libc::c_void, len, vec.as_mut_ptr()) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `posix_fadvise(fd, off, len, advice)`.
pub fn fadvise(fd: BorrowedFd<'_>, off: u64, len: u64, advice: libc::c_int) -> io::Result<()> {
    // SAFETY: plain syscall on a borrowed, open fd; no memory is passed.
    let r = unsafe { libc::posix_fadvise(fd.as_raw_fd(), off as i64, len as i64, advice) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(r))
    }
}

/// `fdatasync(fd)`: works on a read-only descriptor, writes back the file's dirty pages.
pub fn fdatasync(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: plain syscall on a borrowed, open fd.
    let r = unsafe { libc::fdatasync(fd.as_raw_fd()) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `fstatfs(fd)`: the filesystem magic (`f_type`).
pub fn fstatfs_magic(fd: BorrowedFd<'_>) -> io::Result<u64> {
    // SAFETY: statfs is plain old data; all-zero is a valid value.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: st is a valid, writable statfs struct for the duration of the call.
    let r = unsafe { libc::fstatfs(fd.as_raw_fd(), &mut st) };
    if r == 0 {
        Ok(st.f_type as u64)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Bytes available to an unprivileged user on the filesystem holding `fd` (`fstatvfs`).
pub fn free_bytes(fd: BorrowedFd<'_>) -> io::Result<u64> {
    // SAFETY: statvfs is plain old data; all-zero is a valid value.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: st is a valid, writable statvfs struct for the duration of the call.
    let r = unsafe { libc::fstatvfs(fd.as_raw_fd(), &mut st) };
    if r == 0 {
        Ok((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Whether the calling process may write the file behind `fd` (`faccessat2` semantics via
/// `/proc/self/fd`, using the effective ids as the kernel's permission check does).
pub fn may_write(fd: BorrowedFd<'_>) -> bool {
    let path = std::ffi::CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .expect("no NUL in a formatted path");
    // SAFETY: path is a valid NUL-terminated string that lives across the call.
    let r = unsafe { libc::faccessat(libc::AT_FDCWD, path.as_ptr(), libc::W_OK, libc::AT_EACCESS) };
    r == 0
}

/// The effective user id.
pub fn geteuid() -> u32 {
    // SAFETY: geteuid cannot fail and has no preconditions.
    unsafe { libc::geteuid() }
}

/// `madvise(addr, len, advice)` on a range this process mapped.
pub fn madvise(addr: usize, len: usize, advice: libc::c_int) -> io::Result<()> {
    // SAFETY: the callers pass ranges of mappings they own (MADV_DONTNEED on a file mapping
    // only drops page-table entries; the file's data stays in the page cache).
    let r = unsafe { libc::madvise(addr as *mut libc::c_void, len, advice) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// True when `fd` reports a hang-up (`POLLHUP`/`POLLERR`): e.g. the terminal window was
/// closed. A hung-up tty reads as EOF forever, so a UI that polls it would spin.
pub fn hung_up(fd: BorrowedFd<'_>) -> bool {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: pfd is a valid pollfd array of length 1 for the duration of the call; timeout 0.
    let r = unsafe { libc::poll(&mut pfd, 1, 0) };
    r > 0 && pfd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0
}

/// For child processes (worker, comparison): `PR_SET_PDEATHSIG(SIGKILL)`, then a check that
/// the parent (`MMVIZ_PARENT_PID`) did not die before that call, in which case we were
/// re-parented and the signal will never come.
pub fn die_with_parent() {
    // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number and has no memory arguments.
    unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        );
    }
    if let Ok(expected) = std::env::var("MMVIZ_PARENT_PID") {
        // SAFETY: getppid has no preconditions and cannot fail.
        let ppid = unsafe { libc::getppid() };
        if expected.parse::<i32>().ok() != Some(ppid) {
            std::process::exit(1);
        }
    }
}

/// `preadv2(fd, buf, off, RWF_NOWAIT)`: reads only what is already in the page cache; EAGAIN
/// instead of waiting for the disk. Measured here: on an uncached page it still starts
/// readahead before returning EAGAIN, so callers check residency first.
pub fn pread_nowait(fd: BorrowedFd<'_>, buf: &mut [u8], off: u64) -> io::Result<usize> {
    let iov = libc::iovec {
        iov_base: buf.as_mut_ptr() as *mut libc::c_void,
        iov_len: buf.len(),
    };
    // SAFETY: iov describes `buf`, which is valid and writable for its whole length during
    // the call; the kernel writes at most iov_len bytes into it.
    let r = unsafe {
        libc::preadv2(
            fd.as_raw_fd(),
            &iov,
            1,
            off as libc::off_t,
            libc::RWF_NOWAIT,
        )
    };
    if r >= 0 {
        Ok(r as usize)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Stops this process with SIGSTOP (job control: the shell sees a stopped job; `fg` sends
/// SIGCONT). Returns once continued.
pub fn stop_self() {
    // SAFETY: kill has no memory arguments; SIGSTOP to our own pid only stops this process.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGSTOP);
    }
}

/// `setrlimit(RLIMIT_AS, {bytes, bytes})`: caps this process's address space, so a runaway
/// allocation or mapping fails with ENOMEM instead of taking the machine's memory
/// (setrlimit(2); a hard limit may be lowered by anyone, never raised without privilege).
pub fn set_address_space_limit(bytes: u64) -> io::Result<()> {
    let lim = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: bytes,
    };
    // SAFETY: `lim` is a live, initialized struct the kernel only reads.
    let r = unsafe { libc::setrlimit(libc::RLIMIT_AS, &lim) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The soft `RLIMIT_AS` of this process (None: unlimited).
pub fn address_space_limit() -> io::Result<Option<u64>> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a live struct the kernel writes.
    let r = unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut lim) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((lim.rlim_cur != libc::RLIM_INFINITY).then_some(lim.rlim_cur))
}

/// `flock(fd, LOCK_EX | LOCK_NB)`: true when this open file description now holds the
/// exclusive lock, false when another one holds it (EWOULDBLOCK).
pub fn try_lock_exclusive(fd: BorrowedFd<'_>) -> io::Result<bool> {
    // SAFETY: plain syscall on a borrowed, open fd; no memory is passed.
    let r = unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if r == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e)
    }
}

/// `lseek(fd, off, SEEK_DATA or SEEK_HOLE)`; `Ok(None)` on ENXIO (no data at or after `off`).
pub fn seek_data_or_hole(fd: BorrowedFd<'_>, off: u64, data: bool) -> io::Result<Option<u64>> {
    let whence = if data {
        libc::SEEK_DATA
    } else {
        libc::SEEK_HOLE
    };
    // SAFETY: plain syscall on a borrowed, open fd; it only moves that fd's file offset
    // (callers use pread/pwrite, which ignore it).
    let r = unsafe { libc::lseek(fd.as_raw_fd(), off as libc::off_t, whence) };
    if r >= 0 {
        return Ok(Some(r as u64));
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::ENXIO) {
        Ok(None)
    } else {
        Err(e)
    }
}

/// `msync(addr, len, flags)` on a range this process mapped (MS_SYNC or MS_ASYNC).
pub fn msync(addr: usize, len: usize, flags: libc::c_int) -> io::Result<()> {
    // SAFETY: msync only inspects the page tables of the range and writes back the file's
    // pages; it does not access our memory through Rust references. An unmapped range gives
    // ENOMEM, not a fault.
    let r = unsafe { libc::msync(addr as *mut libc::c_void, len, flags) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `futex(word, FUTEX_WAIT, expected, timeout)` on a word in a MAP_SHARED mapping (so no
/// FUTEX_PRIVATE_FLAG). Returns when woken, when `*word != expected` (EAGAIN), on a signal
/// or after `timeout`; the caller re-checks its condition in every case.
pub fn futex_wait(
    word: &std::sync::atomic::AtomicU32,
    expected: u32,
    timeout: std::time::Duration,
) {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: word is a live, 4-byte aligned AtomicU32 (the kernel only reads it and queues
    // us on its address); ts lives across the call.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            &ts as *const libc::timespec,
        );
    }
}

/// `futex(word, FUTEX_WAKE, n)`: wakes up to `n` waiters on `word` (any process mapping it).
pub fn futex_wake(word: &std::sync::atomic::AtomicU32, n: i32) {
    // SAFETY: word is a live, aligned AtomicU32; FUTEX_WAKE does not dereference it.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, n);
    }
}
