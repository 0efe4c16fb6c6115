//! Hardware and software counters: perf_event_open where the machine has them, otherwise an
//! honest "unsupported here" with the errno; the rates the TLB panel shows from two readings.

use serde::{Deserialize, Serialize};
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

// perf_event_open(2): attr.type values.
const PERF_TYPE_HARDWARE: u32 = 0;
const PERF_TYPE_SOFTWARE: u32 = 1;
const PERF_TYPE_HW_CACHE: u32 = 3;
// PERF_TYPE_HW_CACHE config = cache_id | (op << 8) | (result << 16): dTLB (3), read (0),
// access (0) or miss (1).
const DTLB_READ_ACCESS: u64 = 3;
const DTLB_READ_MISS: u64 = 3 | (1 << 16);
const HW_CPU_CYCLES: u64 = 0;
const HW_INSTRUCTIONS: u64 = 1;
const SW_PAGE_FAULTS: u64 = 2;
// perf_event_open(2) flags: close the counter in exec'd children.
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 1 << 3;
// flags bitfield: disabled(0) inherit(1) pinned(2) exclusive(3) exclude_user(4)
// exclude_kernel(5) exclude_hv(6). User space only: what the workload's own loads cost, and
// the only mode an unprivileged user may open (perf_event_paranoid 2). It misses faults taken
// inside syscalls, which the workers do not make on the mapping.
const EXCLUDE_KERNEL_HV: u64 = (1 << 5) | (1 << 6);

/// One event mmviz counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    DtlbLoadMisses,
    DtlbLoads,
    Cycles,
    Instructions,
    PageFaults,
}

impl Event {
    pub const ALL: [Event; 5] = [
        Event::DtlbLoadMisses,
        Event::DtlbLoads,
        Event::Cycles,
        Event::Instructions,
        Event::PageFaults,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Event::DtlbLoadMisses => "dTLB-load-misses",
            Event::DtlbLoads => "dTLB-loads",
            Event::Cycles => "cycles",
            Event::Instructions => "instructions",
            Event::PageFaults => "page-faults",
        }
    }

    /// True for events the CPU's PMU counts (false: the kernel's software events).
    pub fn hardware(self) -> bool {
        !matches!(self, Event::PageFaults)
    }

    fn type_config(self) -> (u32, u64) {
        match self {
            Event::DtlbLoadMisses => (PERF_TYPE_HW_CACHE, DTLB_READ_MISS),
            Event::DtlbLoads => (PERF_TYPE_HW_CACHE, DTLB_READ_ACCESS),
            Event::Cycles => (PERF_TYPE_HARDWARE, HW_CPU_CYCLES),
            Event::Instructions => (PERF_TYPE_HARDWARE, HW_INSTRUCTIONS),
            Event::PageFaults => (PERF_TYPE_SOFTWARE, SW_PAGE_FAULTS),
        }
    }
}

/// Opens one user-space counting event on `pid` (0 = the calling process), any CPU.
fn open_event(ev: Event, pid: i32) -> io::Result<std::fs::File> {
    use std::os::fd::FromRawFd;
    let (type_, config) = ev.type_config();
    let attr = PerfEventAttr {
        type_,
        size: 64,
        config,
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
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor returned by perf_event_open that nothing else owns.
    Ok(unsafe { std::fs::File::from_raw_fd(fd as i32) })
}

/// The counters that opened for a process, and why the others did not.
pub struct Counters {
    open: Vec<(Event, std::fs::File)>,
    failed: Vec<(Event, io::Error)>,
    /// perf_event_open not even tried (MMVIZ_DISABLE=perf).
    off: bool,
}

/// Why counters were not tried when MMVIZ_DISABLE=perf.
const TURNED_OFF: &str = "perf_event_open turned off (MMVIZ_DISABLE=perf)";

/// Raw counter values at one instant; `None` for events that are not counted here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterValues {
    pub dtlb_load_misses: Option<u64>,
    pub dtlb_loads: Option<u64>,
    pub cycles: Option<u64>,
    pub instructions: Option<u64>,
    pub page_faults: Option<u64>,
}

impl CounterValues {
    fn slot(&mut self, ev: Event) -> &mut Option<u64> {
        match ev {
            Event::DtlbLoadMisses => &mut self.dtlb_load_misses,
            Event::DtlbLoads => &mut self.dtlb_loads,
            Event::Cycles => &mut self.cycles,
            Event::Instructions => &mut self.instructions,
            Event::PageFaults => &mut self.page_faults,
        }
    }
}

impl Counters {
    /// Opens every [`Event`] on `pid` (0 = this process); failures are kept with their errno.
    pub fn open(pid: i32) -> Counters {
        let mut c = Counters {
            open: Vec::new(),
            failed: Vec::new(),
            off: crate::kernel::features::disabled(crate::kernel::features::Feature::Perf),
        };
        if c.off {
            return c;
        }
        for ev in Event::ALL {
            match open_event(ev, pid) {
                Ok(f) => c.open.push((ev, f)),
                Err(e) => c.failed.push((ev, e)),
            }
        }
        c
    }

    /// True when at least one hardware event counts.
    pub fn hardware_supported(&self) -> bool {
        self.open.iter().any(|(e, _)| e.hardware())
    }

    /// Reads every open counter (a failed read leaves that value `None`).
    pub fn read(&self) -> CounterValues {
        use std::io::Read;
        let mut v = CounterValues::default();
        for (ev, f) in &self.open {
            let mut b = [0u8; 8];
            if (&*f).read_exact(&mut b).is_ok() {
                *v.slot(*ev) = Some(u64::from_ne_bytes(b));
            }
        }
        v
    }

    /// One status line: "supported", "partly supported: …" or "unsupported: REASON (ERRNO)".
    pub fn status(&self) -> String {
        if self.off {
            return format!("unsupported: {TURNED_OFF}");
        }
        let hw_failed: Vec<&(Event, io::Error)> =
            self.failed.iter().filter(|(e, _)| e.hardware()).collect();
        match (self.hardware_supported(), hw_failed.first()) {
            (true, None) => "supported".into(),
            (true, Some(_)) => format!(
                "partly supported: {} not counted ({})",
                hw_failed
                    .iter()
                    .map(|(e, _)| e.name())
                    .collect::<Vec<_>>()
                    .join(", "),
                hw_failed
                    .iter()
                    .map(|(_, e)| errno_name(e))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            (false, Some((_, e))) => format!("unsupported: {} ({})", reason(e), errno_name(e)),
            (false, None) => "unsupported".into(),
        }
    }

    /// The reason hardware events failed, if they all did.
    pub fn unsupported_reason(&self) -> Option<String> {
        if self.off {
            return Some(TURNED_OFF.into());
        }
        if self.hardware_supported() {
            return None;
        }
        self.failed
            .iter()
            .find(|(e, _)| e.hardware())
            .map(|(_, e)| format!("{} ({})", reason(e), errno_name(e)))
    }
}

/// What the TLB panel and `mmviz tlb --json` show from two counter readings: rates per
/// second and per access. Every field is `None` when its counter is missing or the interval
/// is empty, never a made-up zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HardwareRates {
    pub dtlb_load_misses_per_s: Option<f64>,
    pub dtlb_load_misses_per_access: Option<f64>,
    pub dtlb_loads_per_s: Option<f64>,
    /// dTLB load misses / dTLB loads.
    pub dtlb_miss_ratio: Option<f64>,
    pub cycles_per_access: Option<f64>,
    pub instructions_per_cycle: Option<f64>,
    pub page_faults_per_s: Option<f64>,
    pub page_faults_per_access: Option<f64>,
}

/// Rates from two readings `dt_s` seconds apart during which the workload made `accesses`
/// accesses (a pure function: the supported path is tested with fixed inputs).
pub fn rates(prev: &CounterValues, cur: &CounterValues, dt_s: f64, accesses: u64) -> HardwareRates {
    let d = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64),
        _ => None,
    };
    let per_s = |x: Option<f64>| x.filter(|_| dt_s > 0.0).map(|x| x / dt_s);
    let per_acc = |x: Option<f64>| x.filter(|_| accesses > 0).map(|x| x / accesses as f64);
    let misses = d(prev.dtlb_load_misses, cur.dtlb_load_misses);
    let loads = d(prev.dtlb_loads, cur.dtlb_loads);
    let cycles = d(prev.cycles, cur.cycles);
    let instr = d(prev.instructions, cur.instructions);
    let faults = d(prev.page_faults, cur.page_faults);
    HardwareRates {
        dtlb_load_misses_per_s: per_s(misses),
        dtlb_load_misses_per_access: per_acc(misses),
        dtlb_loads_per_s: per_s(loads),
        dtlb_miss_ratio: match (misses, loads) {
            (Some(m), Some(l)) if l > 0.0 => Some(m / l),
            _ => None,
        },
        cycles_per_access: per_acc(cycles),
        instructions_per_cycle: match (instr, cycles) {
            (Some(i), Some(c)) if c > 0.0 => Some(i / c),
            _ => None,
        },
        page_faults_per_s: per_s(faults),
        page_faults_per_access: per_acc(faults),
    }
}

/// The errno's symbolic name, for status strings a user can search for.
pub fn errno_name(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ENOENT) => "ENOENT".into(),
        Some(libc::EOPNOTSUPP) => "EOPNOTSUPP".into(),
        Some(libc::ENODEV) => "ENODEV".into(),
        Some(libc::EACCES) => "EACCES".into(),
        Some(libc::EPERM) => "EPERM".into(),
        Some(libc::ENOSYS) => "ENOSYS".into(),
        Some(libc::EINVAL) => "EINVAL".into(),
        Some(n) => format!("errno {n}"),
        None => "no errno".into(),
    }
}

/// Why hardware TLB counters cannot be had, from the errno of perf_event_open.
pub fn reason(e: &io::Error) -> String {
    match e.raw_os_error() {
        // perf_event_open(2): ENOENT "the type setting is not valid" / the event is not
        // supported by this CPU; no `cpu` PMU in /sys/bus/event_source/devices in a VM.
        Some(libc::ENOENT) | Some(libc::EOPNOTSUPP) | Some(libc::ENODEV) => {
            "no hardware PMU here (typical in a VM)".into()
        }
        Some(libc::EACCES) | Some(libc::EPERM) => {
            "perf_event_open not permitted (kernel.perf_event_paranoid)".into()
        }
        Some(libc::ENOSYS) => "the kernel has no perf events".into(),
        _ => format!("perf_event_open failed: {e}"),
    }
}
