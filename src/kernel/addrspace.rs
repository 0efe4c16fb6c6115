//! A process's address space and descriptors, from /proc: `VmSize` (virtual) against `VmRSS`,
//! `RssFile` and `RssAnon` (resident) from /proc/<pid>/status, and whether a file is held
//! through a descriptor (/proc/<pid>/fd) and through a mapping (/proc/<pid>/maps).
//!
//! Why both: a mapping keeps its own reference to the file, so the descriptor can be closed
//! right after mmap; /proc shows exactly that (no fd entry, a maps line).

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Memory figures of /proc/<pid>/status, in bytes (the file gives kB).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct VmStatus {
    /// Virtual address space reserved (every mapping, touched or not).
    pub vm_size: u64,
    /// Resident memory: RssAnon + RssFile + RssShmem.
    pub vm_rss: u64,
    /// Resident file pages mapped by the process (page cache it maps).
    pub rss_file: u64,
    /// Resident anonymous pages (heap, stacks, and MAP_PRIVATE copies of written pages).
    pub rss_anon: u64,
}

/// Parses the `VmSize:`, `VmRSS:`, `RssFile:` and `RssAnon:` lines ("VmSize:   1234 kB").
pub fn parse_status(s: &str) -> Option<VmStatus> {
    let field = |name: &str| -> Option<u64> {
        s.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().strip_suffix("kB"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
    };
    Some(VmStatus {
        vm_size: field("VmSize:")?,
        vm_rss: field("VmRSS:")?,
        rss_file: field("RssFile:")?,
        rss_anon: field("RssAnon:")?,
    })
}

/// /proc/<pid>/status memory figures.
pub fn vm_status(pid: u32) -> io::Result<VmStatus> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_status(&s).ok_or_else(|| io::Error::other(format!("/proc/{pid}/status: no Vm lines")))
}

/// A process as /proc saw it at one instant (null where /proc could not tell): its address
/// space against its resident memory, and whether it holds the file through a descriptor and
/// through a mapping. `mmviz run` reports it at the end; the live view's worker panel per tick.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcessView {
    /// RLIMIT_AS the worker ran with (bytes), null: unlimited.
    pub address_space_limit: Option<u64>,
    /// /proc/<worker>/status VmSize, VmRSS, RssFile, RssAnon in bytes.
    pub vm_size: Option<u64>,
    pub vm_rss: Option<u64>,
    pub rss_file: Option<u64>,
    pub rss_anon: Option<u64>,
    /// Whether /proc/<worker>/fd holds a descriptor on the mapped file.
    pub fd_open: Option<bool>,
    /// Whether /proc/<worker>/maps holds a mapping of it.
    pub mapping_in_maps: Option<bool>,
}

/// [`ProcessView`] of `pid` now; `file` is the (device, inode) of the mapped file (None:
/// unknown, and so are the descriptor and mapping answers).
pub fn process_view(pid: u32, file: Option<(u64, u64)>, limit: Option<u64>) -> ProcessView {
    let st = vm_status(pid).ok();
    ProcessView {
        address_space_limit: limit,
        vm_size: st.map(|s| s.vm_size),
        vm_rss: st.map(|s| s.vm_rss),
        rss_file: st.map(|s| s.rss_file),
        rss_anon: st.map(|s| s.rss_anon),
        fd_open: file.and_then(|id| fd_holds(pid, id).ok()),
        mapping_in_maps: file.and_then(|id| maps_holds(pid, id).ok()),
    }
}

/// (device, inode) of a file, to recognise it in /proc without trusting names.
pub fn file_id(path: &Path) -> io::Result<(u64, u64)> {
    let m = std::fs::metadata(path)?;
    Ok((m.dev(), m.ino()))
}

/// Whether any descriptor of `pid` refers to the file `id` (stat through /proc/<pid>/fd/N,
/// which follows the magic link to the open file even if it was unlinked).
pub fn fd_holds(pid: u32, id: (u64, u64)) -> io::Result<bool> {
    for ent in std::fs::read_dir(format!("/proc/{pid}/fd"))? {
        let ent = ent?;
        if let Ok(m) = std::fs::metadata(ent.path()) {
            if (m.dev(), m.ino()) == id {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Whether a line of /proc/<pid>/maps maps the file `id`: maps prints the device as
/// "major:minor" in hex and the inode in decimal (fields 4 and 5).
pub fn maps_holds(pid: u32, id: (u64, u64)) -> io::Result<bool> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/maps"))?;
    Ok(maps_text_holds(&s, id))
}

/// [`maps_holds`] on the text of a maps file.
pub fn maps_text_holds(maps: &str, (dev, ino): (u64, u64)) -> bool {
    let want_dev = format!("{:02x}:{:02x}", libc::major(dev), libc::minor(dev));
    maps.lines().any(|l| {
        let mut f = l.split_ascii_whitespace();
        let (Some(_), Some(_), Some(_), Some(d), Some(i)) =
            (f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            return false;
        };
        d == want_dev && i.parse::<u64>().ok() == Some(ino)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status() {
        let s = "Name:\tmmviz\nVmPeak:\t  9000 kB\nVmSize:\t 4198400 kB\nVmRSS:\t    2048 kB\n\
                 RssAnon:\t    1024 kB\nRssFile:\t     1000 kB\nRssShmem:\t 24 kB\n";
        let v = parse_status(s).unwrap();
        assert_eq!(v.vm_size, 4198400 * 1024);
        assert_eq!(v.vm_rss, 2048 * 1024);
        assert_eq!(v.rss_file, 1000 * 1024);
        assert_eq!(v.rss_anon, 1024 * 1024);
        assert_eq!(parse_status("Name: x\n"), None);
    }

    #[test]
    fn own_process_maps_and_fds() {
        // This test binary is mapped (text) and not held open by a descriptor we know of;
        // a file we open is held by an fd and not mapped.
        let exe = std::env::current_exe().unwrap();
        let id = file_id(&exe).unwrap();
        assert!(maps_holds(std::process::id(), id).unwrap());
        let cargo = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        let f = std::fs::File::open(&cargo).unwrap();
        let cid = file_id(&cargo).unwrap();
        assert!(fd_holds(std::process::id(), cid).unwrap());
        assert!(!maps_holds(std::process::id(), cid).unwrap());
        drop(f);
        assert!(!fd_holds(std::process::id(), cid).unwrap());
    }
}
