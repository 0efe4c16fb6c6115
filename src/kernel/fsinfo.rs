//! What the filesystem and block device tell about caching: the filesystem kind (fstatfs),
//! the device's `read_ahead_kb` and the transparent huge page mode. They explain how many
//! pages one fault brings in, and whether eviction (cold-cache demos) can work at all.

use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;

use serde::{Deserialize, Serialize};

/// Filesystem facts that decide what the demo can show.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FsInfo {
    /// Short name: "ext4", "xfs", "btrfs", "tmpfs", "ramfs", "overlay", "nfs", "fuse", ...
    pub name: String,
    /// `f_type` from `fstatfs`.
    pub magic: u64,
    /// Whether `posix_fadvise(DONTNEED)` can evict pages here (false on tmpfs, ramfs, ...).
    pub can_evict: bool,
    /// Why cold-cache demos cannot work here, if they cannot.
    pub note: Option<String>,
}

/// Filesystem magics from `<linux/magic.h>` (`statfs.f_type`).
const KNOWN: &[(u64, &str)] = &[
    (0xEF53, "ext4"),
    (0x5846_5342, "xfs"),
    (0x9123_683E, "btrfs"),
    (0x2FC1_2FC1, "zfs"),
    (0xF2F5_2010, "f2fs"),
    (0x0102_1994, "tmpfs"),
    (0x8584_58f6, "ramfs"),
    (0x794C_7630, "overlay"),
    (0x6969, "nfs"),
    (0xFF53_4D42, "cifs"),
    (0xFE53_4D42, "smb2"),
    (0x6573_5546, "fuse"),
    (0x0102_1997, "9p"),
    (0x9FA0, "proc"),
    (0x6265_6572, "sysfs"),
    (0x4d44, "vfat"),
    (0x2011_BAB0, "exfat"),
    (0x5346_544e, "ntfs"),
    (0x7366_746E, "ntfs3"),
    (0x9584_58f6, "hugetlbfs"),
    (0x7371_7368, "squashfs"),
    (0xE0F5_E1E2, "erofs"),
];

/// Classifies a filesystem magic: name, whether `fadvise(DONTNEED)` can evict, and a note.
pub fn classify(magic: u64) -> FsInfo {
    let name = KNOWN
        .iter()
        .find(|(m, _)| *m == magic)
        .map(|(_, n)| n.to_string())
        .unwrap_or_else(|| format!("unknown (0x{magic:x})"));
    let note = match name.as_str() {
        "tmpfs" | "ramfs" => Some(format!(
            "{name} has no disk behind it: written pages stay in memory (or swap) until the file \
             is deleted and holes have no page at all, so eviction and cold-cache demos cannot \
             work here"
        )),
        "hugetlbfs" => Some("hugetlbfs pages are never in the page cache's LRU: eviction cannot work".into()),
        "overlay" => Some(
            "overlayfs: the page cache belongs to the lower file; eviction may not work, results may mislead".into(),
        ),
        "nfs" | "cifs" | "smb2" | "9p" => Some(format!(
            "{name} is a network filesystem: the client cache may be revalidated or dropped behind our back; eviction is not reliable"
        )),
        "fuse" => Some(
            "FUSE: the daemon decides caching; eviction and readahead may not behave like a disk filesystem".into(),
        ),
        "proc" | "sysfs" => Some(format!("{name} files are generated on read and have no page cache")),
        _ => None,
    };
    FsInfo {
        can_evict: note.is_none(),
        name,
        magic,
        note,
    }
}

/// The filesystem of an open file.
pub fn fs_of(file: &File) -> std::io::Result<FsInfo> {
    Ok(classify(crate::kernel::sys::fstatfs_magic(file.as_fd())?))
}

/// `read_ahead_kb` of the device (backing_dev_info) that holds `file`, if it has one.
/// Tries `/sys/class/bdi/MAJ:MIN` (the filesystem's bdi), then the block device's queue
/// (and its parent for a partition).
pub fn read_ahead_kb(file: &File) -> Option<u64> {
    let dev = file.metadata().ok()?.dev();
    let (maj, min) = (libc::major(dev), libc::minor(dev));
    let candidates = [
        format!("/sys/class/bdi/{maj}:{min}/read_ahead_kb"),
        format!("/sys/dev/block/{maj}:{min}/queue/read_ahead_kb"),
        format!("/sys/dev/block/{maj}:{min}/../queue/read_ahead_kb"),
    ];
    candidates.iter().find_map(|p| {
        std::fs::read_to_string(p)
            .ok()
            .and_then(|s| s.trim().parse().ok())
    })
}

/// The transparent huge page mode: the bracketed word of
/// `/sys/kernel/mm/transparent_hugepage/enabled` ("always", "madvise" or "never").
pub fn thp_mode() -> Option<String> {
    let s = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").ok()?;
    bracketed(&s)
}

fn bracketed(s: &str) -> Option<String> {
    let a = s.find('[')?;
    let b = s[a..].find(']')? + a;
    Some(s[a + 1..b].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magics_classify() {
        let table = [
            (0xEF53, "ext4", true),
            (0x0102_1994, "tmpfs", false),
            (0x8584_58f6, "ramfs", false),
            (0x794C_7630, "overlay", false),
            (0x6969, "nfs", false),
            (0x6573_5546, "fuse", false),
            (0x5846_5342, "xfs", true),
        ];
        for (magic, name, evict) in table {
            let fs = classify(magic);
            assert_eq!(fs.name, name);
            assert_eq!(fs.can_evict, evict, "{name}");
            assert_eq!(fs.note.is_some(), !evict, "{name}");
        }
        assert!(classify(0x1234).name.starts_with("unknown"));
    }

    #[test]
    fn thp_mode_word() {
        assert_eq!(
            bracketed("always [madvise] never\n").as_deref(),
            Some("madvise")
        );
        assert_eq!(bracketed("nothing"), None);
        // On Linux with THP compiled in, the real file parses.
        if std::path::Path::new("/sys/kernel/mm/transparent_hugepage/enabled").exists() {
            let m = thp_mode().expect("THP mode parses");
            assert!(["always", "madvise", "never"].contains(&m.as_str()), "{m}");
        }
    }

    #[test]
    fn fs_of_a_temp_file_is_known() {
        let f = File::open(env!("CARGO_MANIFEST_DIR").to_string() + "/Cargo.toml").unwrap();
        let fs = fs_of(&f).unwrap();
        assert!(!fs.name.is_empty());
    }
}
