//! TLB facts: hardware dTLB miss counters where the machine has them, otherwise an honest
//! "unsupported here" with the reason, plus the arithmetic that explains what huge pages buy.

use crate::snapshot::TlbInfo;
use std::io;

/// `struct perf_event_attr` (the first fields we set; the rest stays zero). Size
/// PERF_ATTR_SIZE_VER0 = 64 is accepted by every kernel.
#[repr(C)]
#[derive(Default)]
struct PerfEventAttr {
    type_: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    config1: u64,
}

const PERF_TYPE_HW_CACHE: u32 = 3;
// config = cache_id | (op << 8) | (result << 16): dTLB (3), read (0), miss (1).
const DTLB_READ_MISS: u64 = 3 | (1 << 16);
// flags bitfield: disabled(0) inherit(1) pinned(2) exclusive(3) exclude_user(4)
// exclude_kernel(5) exclude_hv(6).
const EXCLUDE_KERNEL_HV: u64 = (1 << 5) | (1 << 6);

/// A dTLB read-miss counter attached to a process.
pub struct DtlbCounter {
    fd: std::fs::File,
}

impl DtlbCounter {
    /// Opens a user-space dTLB read-miss counter on `pid` (any CPU).
    pub fn open(pid: u32) -> io::Result<DtlbCounter> {
        use std::os::fd::FromRawFd;
        let attr = PerfEventAttr {
            type_: PERF_TYPE_HW_CACHE,
            size: 64,
            config: DTLB_READ_MISS,
            flags: EXCLUDE_KERNEL_HV,
            ..Default::default()
        };
        // SAFETY: attr is a valid, initialised perf_event_attr of the size it declares; the
        // call does not retain the pointer.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_perf_event_open,
                &attr as *const PerfEventAttr,
                pid as libc::pid_t,
                -1 as libc::c_int,
                -1 as libc::c_int,
                0 as libc::c_ulong,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor returned by perf_event_open that nothing else owns.
        Ok(DtlbCounter {
            fd: unsafe { std::fs::File::from_raw_fd(fd as i32) },
        })
    }

    pub fn read(&self) -> io::Result<u64> {
        use std::io::Read;
        let mut b = [0u8; 8];
        (&self.fd).read_exact(&mut b)?;
        Ok(u64::from_ne_bytes(b))
    }
}

/// Why hardware TLB counters cannot be had, from the errno of perf_event_open.
pub fn reason(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::EOPNOTSUPP) | Some(libc::ENODEV) => {
            "no hardware PMU exposes dTLB events here (typical in a VM)".into()
        }
        Some(libc::EACCES) | Some(libc::EPERM) => {
            "perf_event_open not permitted (kernel.perf_event_paranoid)".into()
        }
        Some(libc::ENOSYS) => "the kernel has no perf events".into(),
        _ => format!("perf_event_open failed: {e}"),
    }
}

/// The facts shown whatever the counters say.
pub fn notes(page_size: u64, file_pages: u64) -> Vec<String> {
    let huge = 2 << 20;
    let per_huge = huge / page_size;
    vec![
        format!(
            "one TLB entry maps one {} page; a 2 MiB huge page covers {}x more",
            crate::units::human_bytes(page_size),
            per_huge
        ),
        format!(
            "touching all of this file needs {} entries with {} pages, {} with 2 MiB pages",
            file_pages,
            crate::units::human_bytes(page_size),
            file_pages.div_ceil(per_huge)
        ),
        "a page-cache folio of 2 MiB is still mapped with 4 KiB entries unless THP maps it".into(),
    ]
}

/// Probes hardware counters on `pid`.
pub fn probe(pid: u32, page_size: u64, file_pages: u64) -> (TlbInfo, Option<DtlbCounter>) {
    if crate::features::disabled(crate::features::Feature::Perf) {
        return (
            TlbInfo {
                supported: false,
                reason: Some("perf_event_open turned off (MMVIZ_DISABLE=perf)".into()),
                notes: notes(page_size, file_pages),
                ..Default::default()
            },
            None,
        );
    }
    match DtlbCounter::open(pid) {
        Ok(c) => (
            TlbInfo {
                supported: true,
                reason: None,
                notes: notes(page_size, file_pages),
                ..Default::default()
            },
            Some(c),
        ),
        Err(e) => (
            TlbInfo {
                supported: false,
                reason: Some(reason(&e)),
                notes: notes(page_size, file_pages),
                ..Default::default()
            },
            None,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_tells_the_truth_either_way() {
        let (info, counter) = probe(std::process::id(), 4096, 65536);
        assert_eq!(info.supported, counter.is_some());
        if let Some(c) = counter {
            let a = c.read().unwrap();
            let v = vec![0u64; 1 << 22];
            std::hint::black_box(v.iter().sum::<u64>());
            assert!(c.read().unwrap() >= a);
        } else {
            assert!(info.reason.as_deref().is_some_and(|r| !r.is_empty()));
        }
        assert!(info.notes[1].contains("65536 entries"));
        assert!(info.notes[1].contains("128 with 2 MiB"));
    }
}
