//! The SIGBUS handler: if the file is truncated under the mapping, touching a page wholly
//! beyond the new end raises SIGBUS, which kills this process and not the viewer. The handler
//! first writes the faulting offset to stderr so the parent can explain what happened.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Base address and length of the mapping, for the SIGBUS handler.
pub(super) static MAP_BASE: AtomicUsize = AtomicUsize::new(0);
pub(super) static MAP_LEN: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_sigbus(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // Only async-signal-safe work: format into a stack buffer, write(2), re-raise.
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers; si_addr is valid
    // for SIGBUS.
    let addr = unsafe { (*info).si_addr() } as usize;
    let base = MAP_BASE.load(Ordering::Relaxed);
    let len = MAP_LEN.load(Ordering::Relaxed);
    let mut buf = [0u8; 64];
    let mut n = 0;
    let mut put = |s: &[u8]| {
        for &b in s {
            if n < buf.len() {
                buf[n] = b;
                n += 1;
            }
        }
    };
    if addr >= base && addr < base + len {
        put(b"SIGBUS at offset ");
        let mut digits = [0u8; 20];
        let mut v = addr - base;
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        put(&digits[i..]);
    } else {
        put(b"SIGBUS outside the mapping");
    }
    put(b"\n");
    // SAFETY: write(2) and signal(2)/raise(3) are async-signal-safe; buf is a live stack array.
    unsafe {
        libc::write(2, buf.as_ptr() as *const libc::c_void, n);
        libc::signal(libc::SIGBUS, libc::SIG_DFL);
        libc::raise(libc::SIGBUS);
    }
}

pub(super) fn install_sigbus_handler() {
    // SAFETY: sigaction is plain old data; all-zero is a valid initial value.
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = on_sigbus as *const () as usize;
    sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESETHAND;
    // SAFETY: sa is fully initialised; the handler only does async-signal-safe work.
    unsafe {
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut());
    }
}
