//! Experiment: does a read-only file mapping get PMD-mapped (one TLB entry per 2 MiB) here?
//! `cargo run --release --example file_pmd -- FILE [hugepage|normal] [cold|warm]` maps FILE
//! read-only, optionally sets MADV_HUGEPAGE, touches one byte per 4 KiB page and prints what
//! smaps says (Rss, FilePmdMapped) plus the minor/major faults the touch cost.

use memmap2::{Advice, Mmap};
use std::fs::File;

fn faults() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap();
    let f: Vec<&str> = s[s.rfind(')').unwrap() + 2..].split(' ').collect();
    (f[7].parse().unwrap(), f[9].parse().unwrap())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).expect("FILE");
    let huge = args.get(2).map(String::as_str) == Some("hugepage");
    let cold = args.get(3).map(String::as_str) == Some("cold");
    let file = File::open(path).expect("open read-only");
    if cold {
        // SAFETY: posix_fadvise on our own open fd, no memory arguments; it evicts clean pages
        // that no process maps.
        let r = unsafe {
            libc::posix_fadvise(
                std::os::fd::AsRawFd::as_raw_fd(&file),
                0,
                0,
                libc::POSIX_FADV_DONTNEED,
            )
        };
        assert_eq!(r, 0);
    }
    // SAFETY: read-only mapping of a file nobody truncates during the experiment.
    let map = unsafe { Mmap::map(&file) }.expect("mmap");
    let addr = map.as_ptr() as u64;
    if huge {
        map.advise(Advice::HugePage).expect("MADV_HUGEPAGE");
    }
    let before = faults();
    let mut sum = 0u64;
    for i in (0..map.len()).step_by(4096) {
        sum += map[i] as u64;
    }
    std::hint::black_box(sum);
    let after = faults();
    let h = mmviz::kernel::tlb::huge_mapped(0, addr, map.len() as u64).unwrap();
    println!(
        "addr {addr:#x} (2 MiB aligned: {}) len {} huge_advice {huge} cold {cold}: minflt {} majflt {} rss {} KiB FilePmdMapped {} KiB",
        addr % (2 << 20) == 0,
        map.len(),
        after.0 - before.0,
        after.1 - before.1,
        h.rss_bytes >> 10,
        h.file_pmd_mapped_bytes >> 10
    );
}
