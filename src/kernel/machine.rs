//! The machine a result was measured on: the `machine` object of every JSON output, so
//! results from two machines can be compared. Everything is read from the kernel (procfs,
//! sysfs); what the machine does not tell is `null`, never guessed.

use crate::units::page_size;
use serde::{Deserialize, Serialize};
use std::fs::File;

/// Signs of a hypervisor, each from its own source (all `null` where the source is absent).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Virtualization {
    /// True when any source below says the kernel runs under a hypervisor; false when
    /// /proc/cpuinfo has a flags line without `hypervisor` and no other source says so
    /// (x86: CPUID's hypervisor bit); null when nothing could tell.
    pub detected: Option<bool>,
    /// `/sys/hypervisor/type` (e.g. "xen").
    pub hypervisor_type: Option<String>,
    /// The `hypervisor` flag in /proc/cpuinfo (null: no flags line, e.g. non-x86).
    pub cpuinfo_hypervisor_flag: Option<bool>,
    /// `/sys/class/dmi/id/sys_vendor` (e.g. "QEMU", "Amazon EC2"; absent on some VMs).
    pub sys_vendor: Option<String>,
}

/// Kernel and machine facts that change what mmviz measures.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    /// `/proc/sys/kernel/osrelease` (what `uname -r` prints).
    pub kernel_release: Option<String>,
    pub page_size: u64,
    /// Transparent huge page mode ("always", "madvise", "never").
    pub thp_mode: Option<String>,
    /// `read_ahead_kb` of the file's block device (null: no file, or no block device).
    pub read_ahead_kb: Option<u64>,
    /// CPUs this process may run on.
    pub cpus: Option<u64>,
    pub virtualization: Virtualization,
}

fn read_trimmed(path: &str) -> Option<String> {
    let s = std::fs::read_to_string(path).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// Whether a /proc/cpuinfo text lists the `hypervisor` flag (None: no flags line).
pub fn cpuinfo_hypervisor(cpuinfo: &str) -> Option<bool> {
    let flags = cpuinfo
        .lines()
        .find(|l| l.starts_with("flags") && l.contains(':'))?;
    let (_, list) = flags.split_once(':')?;
    Some(list.split_whitespace().any(|f| f == "hypervisor"))
}

impl Virtualization {
    pub fn detect() -> Virtualization {
        let hypervisor_type = read_trimmed("/sys/hypervisor/type");
        let cpuinfo_hypervisor_flag = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| cpuinfo_hypervisor(&s));
        let sys_vendor = read_trimmed("/sys/class/dmi/id/sys_vendor");
        Virtualization::from_sources(hypervisor_type, cpuinfo_hypervisor_flag, sys_vendor)
    }

    /// Combines the sources. A DMI vendor alone does not decide (bare-metal vendors are
    /// vendors too); it is reported as is.
    pub fn from_sources(
        hypervisor_type: Option<String>,
        cpuinfo_hypervisor_flag: Option<bool>,
        sys_vendor: Option<String>,
    ) -> Virtualization {
        let detected = if hypervisor_type.is_some() || cpuinfo_hypervisor_flag == Some(true) {
            Some(true)
        } else {
            cpuinfo_hypervisor_flag
        };
        Virtualization {
            detected,
            hypervisor_type,
            cpuinfo_hypervisor_flag,
            sys_vendor,
        }
    }
}

impl Machine {
    /// The machine, with `read_ahead_kb` of `file`'s device when a file is given.
    pub fn detect(file: Option<&File>) -> Machine {
        Machine {
            kernel_release: read_trimmed("/proc/sys/kernel/osrelease"),
            page_size: page_size(),
            thp_mode: crate::kernel::fsinfo::thp_mode(),
            read_ahead_kb: file.and_then(crate::kernel::fsinfo::read_ahead_kb),
            cpus: std::thread::available_parallelism()
                .ok()
                .map(|n| n.get() as u64),
            virtualization: Virtualization::detect(),
        }
    }
}

/// A /proc/sys/vm value.
pub fn vm_sysctl(name: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/sys/vm/{name}"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpuinfo_flag_parses() {
        let vm = "processor\t: 0\nflags\t\t: fpu vme hypervisor lahf_lm\n";
        let metal = "processor\t: 0\nflags\t\t: fpu vme lahf_lm\n";
        assert_eq!(cpuinfo_hypervisor(vm), Some(true));
        assert_eq!(cpuinfo_hypervisor(metal), Some(false));
        assert_eq!(cpuinfo_hypervisor("Features\t: fp asimd\n"), None);
        // "hypervisor" must be a whole flag.
        assert_eq!(cpuinfo_hypervisor("flags : xhypervisorx\n"), Some(false));
    }

    #[test]
    fn sources_combine_without_guessing() {
        let v = Virtualization::from_sources(None, Some(true), None);
        assert_eq!(v.detected, Some(true));
        let v = Virtualization::from_sources(Some("xen".into()), None, None);
        assert_eq!(v.detected, Some(true));
        let v = Virtualization::from_sources(None, Some(false), Some("Dell Inc.".into()));
        assert_eq!(v.detected, Some(false));
        let v = Virtualization::from_sources(None, None, Some("QEMU".into()));
        assert_eq!(v.detected, None, "a vendor string alone does not decide");
    }

    #[test]
    fn this_machine_matches_uname_and_cpuinfo() {
        let f = File::open(env!("CARGO_MANIFEST_DIR").to_string() + "/Cargo.toml").unwrap();
        let m = Machine::detect(Some(&f));
        let uname = std::process::Command::new("uname")
            .arg("-r")
            .output()
            .unwrap();
        assert_eq!(
            m.kernel_release.as_deref(),
            Some(String::from_utf8_lossy(&uname.stdout).trim())
        );
        assert_eq!(m.page_size, page_size());
        assert_eq!(m.read_ahead_kb, crate::kernel::fsinfo::read_ahead_kb(&f));
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap();
        let flag = cpuinfo.split_whitespace().any(|w| w == "hypervisor");
        if cpuinfo.lines().any(|l| l.starts_with("flags")) {
            assert_eq!(m.virtualization.cpuinfo_hypervisor_flag, Some(flag));
        }
    }
}
