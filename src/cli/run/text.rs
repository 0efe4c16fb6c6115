//! The text output of `mmviz run` (without `--json`).

use super::RunReport;
use crate::units::human_bytes;

fn opt(v: Option<u64>) -> String {
    v.map_or("hidden".into(), |v| v.to_string())
}

pub(super) fn print_text(r: &RunReport) {
    crate::outln!(
        "{} {} over {} ({} pages), advice {}{}",
        r.pattern,
        if r.cold { "cold" } else { "as-is" },
        crate::text::escape_controls(&r.path),
        r.pages,
        r.advice,
        r.rate.map(|x| format!(", {x}/s")).unwrap_or_default()
    );
    crate::outln!(
        "accesses:      {} of {} B in {:.3} ms timed ({}), {:.3} s wall clock",
        r.accesses,
        r.access_size,
        r.elapsed_ns as f64 / 1e6,
        r.ns_per_access
            .map_or("-".into(), |n| format!("{n:.1} ns per access")),
        r.wall_ns as f64 / 1e9
    );
    if r.rate.is_some() {
        crate::outln!(
            "               (timed = the access batches only; the wall clock adds the pauses of the rate limit)"
        );
    }
    crate::outln!(
        "faults:        {} minor, {} major  (faults are not pages: see below)",
        r.minor_faults,
        r.major_faults
    );
    crate::outln!(
        "page cache:    {} -> {} pages cached (file has {})",
        opt(r.cached_before),
        opt(r.cached_after),
        r.pages
    );
    crate::outln!(
        "mapped:        {} pages present in the worker's page table; {} distinct pages touched",
        opt(r.mapped_after),
        r.touched_pages
    );
    if let (Some(p50), Some(p99), Some(max)) =
        (r.latency_ns_p50, r.latency_ns_p99, r.latency_ns_max)
    {
        crate::outln!(
            "latency:       p50 ≤{p50} ns, p99 ≤{p99} ns, max {max} ns over {} timed accesses (1 in {})",
            r.latency_samples,
            r.latency_sampled_every
        );
    }
    if let Some(x) = r.pages_cached_per_major_fault {
        crate::outln!("readahead:     {x:.1} pages newly cached per major fault");
    }
    if let Some(x) = r.pages_mapped_per_fault {
        crate::outln!("fault-around:  {x:.1} pages mapped per fault");
    }
    if let Some(b) = r.read_bytes {
        crate::outln!("read from disk: {}", human_bytes(b));
    }
    if let Some(n) = r.matches {
        crate::outln!(
            "matches:       {n} (the search read {} pages of {})",
            r.accesses,
            r.pages
        );
        for m in r.first_matches.iter().flatten() {
            crate::outln!("  {}:{}: {}", m.line_number, m.offset, m.line);
        }
    }
    if let Some(s) = r.startup_ms {
        crate::outln!("start-up:      {s:.2} ms from spawn to first access");
    }
    let p = &r.process;
    let b = |v: Option<u64>| v.map_or("?".into(), human_bytes);
    crate::outln!(
        "address space: VmSize {} (virtual) vs VmRSS {} resident ({} file, {} anon){}",
        b(p.vm_size),
        b(p.vm_rss),
        b(p.rss_file),
        b(p.rss_anon),
        p.address_space_limit
            .map(|l| format!(", RLIMIT_AS {}", human_bytes(l)))
            .unwrap_or_default()
    );
    let yn = |v: Option<bool>| match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    };
    crate::outln!(
        "descriptor:    fd open on the file: {}; mapping in /proc/<worker>/maps: {}",
        yn(p.fd_open),
        yn(p.mapping_in_maps)
    );
    if let Some(w) = &r.write {
        crate::outln!(
            "writes:        {} mapping of scratch copy {} (your file is never written), write share {}",
            w.write_mode,
            w.scratch_file,
            w.write_share
        );
        if w.msync == "none" {
            crate::outln!(
                "dirty pages:   {} dirty, {} under writeback (no msync)",
                opt(w.dirty_after),
                opt(w.writeback_after)
            );
        } else {
            crate::outln!(
                "dirty pages:   {} dirty, {} under writeback before msync; after msync {}: {} dirty, {} writeback",
                opt(w.dirty_before_msync),
                opt(w.writeback_before_msync),
                w.msync,
                opt(w.dirty_after),
                opt(w.writeback_after)
            );
        }
        if let Some(src) = w.source_size.filter(|&s| s > w.scratch_size) {
            crate::outln!(
                "copy:          the first {} of the file's {} (copies stop at 1 GiB)",
                human_bytes(w.scratch_size),
                human_bytes(src)
            );
        }
        if let Some(ns) = w.msync_ns {
            crate::outln!(
                "msync:         {} call(s), {:.3} ms in msync; {} pages written back{}",
                w.msync_calls,
                ns as f64 / 1e6,
                opt(w.msync_pages),
                w.msync_ns_per_page
                    .map(|x| format!(" ({:.2} us per page)", x / 1e3))
                    .unwrap_or_default()
            );
        }
        if let (Some(e), Some(wb)) = (w.dirty_expire_centisecs, w.dirty_writeback_centisecs) {
            if w.dirty_after.is_some_and(|d| d > 0) {
                crate::outln!(
                    "flusher:       left alone, dirty pages are written back once older than {:.0} s (vm.dirty_expire_centisecs {e}), checked every {:.0} s (vm.dirty_writeback_centisecs {wb})",
                    e as f64 / 100.0,
                    wb as f64 / 100.0
                );
            }
        }
        if let Some(e) = &w.msync_error {
            crate::outln!("msync error:   {e}");
        }
    }
}
