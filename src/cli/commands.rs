//! The headless commands: `gen`, `residency`, `evict`.

use crate::cli::gen::{self, GenOptions};
use crate::cli::{EvictArgs, GenArgs, ResidencyArgs};
use crate::error::{io_reason, AppError, Result};
use crate::kernel::cache;
use crate::kernel::fsinfo;
use crate::kernel::machine::Machine;
use crate::kernel::residency::CacheProbe;
use crate::kernel::target::Target;
use crate::session::snapshot::CacheSource;
use crate::units::{human_bytes, page_size, parse_size};
use serde::Serialize;
use std::io::IsTerminal;
use std::sync::Arc;

/// Cells of the text bar.
const BAR_CELLS: u64 = 60;

/// `mmviz residency --json` output.
#[derive(Serialize, Debug)]
pub struct ResidencyReport {
    pub schema_version: u32,
    pub path: String,
    pub size_bytes: u64,
    pub page_size: u64,
    pub pages: u64,
    pub cached_pages: Option<u64>,
    pub cached_percent: Option<f64>,
    pub dirty_pages: Option<u64>,
    pub writeback_pages: Option<u64>,
    pub evicted_pages: Option<u64>,
    pub source: CacheSource,
    pub cache_state_visible: bool,
    pub cache_note: Option<String>,
    pub filesystem: String,
    pub filesystem_note: Option<String>,
    pub can_evict: bool,
    pub read_ahead_kb: Option<u64>,
    pub thp_mode: Option<String>,
    /// vmtouch-style bar: 'O' all cached, 'o' some, ' ' none; null when hidden.
    pub bar: Option<String>,
    /// Kernel, page size, THP, readahead and virtualization of the machine.
    pub machine: Machine,
}

fn runtime(t: &Target, e: std::io::Error) -> AppError {
    AppError::runtime(format!("{}: {}", t.path.display(), io_reason(&e)))
}

/// Builds the residency report of a file.
pub fn residency_report(t: &Target) -> Result<ResidencyReport> {
    let mut probe = CacheProbe::new(&t.file, t.size, &t.fs).map_err(|e| runtime(t, e))?;
    let pages = probe.pages();
    let whole = probe.range(0, pages).map_err(|e| runtime(t, e))?;
    let bar = if probe.visible() {
        let (ppc, _) = crate::session::grid::geometry(0, pages, BAR_CELLS);
        let mut cells = Vec::new();
        probe
            .cells(0, pages, ppc, &mut cells)
            .map_err(|e| runtime(t, e))?;
        let mut s = String::with_capacity(cells.len());
        for (i, (c, _, _)) in cells.iter().enumerate() {
            let n = (pages - i as u64 * ppc).min(ppc);
            let c = c.unwrap_or(0);
            s.push(if c == 0 {
                ' '
            } else if c >= n {
                'O'
            } else {
                'o'
            });
        }
        Some(s)
    } else {
        None
    };
    Ok(ResidencyReport {
        schema_version: 1,
        path: t.path.display().to_string(),
        size_bytes: t.size,
        page_size: page_size(),
        pages,
        cached_pages: whole.map(|w| w.cached),
        cached_percent: whole.map(|w| {
            if pages == 0 {
                0.0
            } else {
                (w.cached as f64 * 1000.0 / pages as f64).round() / 10.0
            }
        }),
        dirty_pages: whole.and_then(|w| w.dirty),
        writeback_pages: whole.and_then(|w| w.writeback),
        evicted_pages: whole.and_then(|w| w.evicted),
        source: probe.source(),
        cache_state_visible: probe.visible(),
        cache_note: probe.note().map(str::to_string),
        filesystem: t.fs.name.clone(),
        filesystem_note: t.fs.note.clone(),
        can_evict: t.fs.can_evict,
        read_ahead_kb: fsinfo::read_ahead_kb(&t.file),
        thp_mode: fsinfo::thp_mode(),
        bar,
        machine: Machine::detect(Some(&t.file)),
    })
}

fn print_json<T: Serialize>(v: &T) -> Result<()> {
    let s = serde_json::to_string_pretty(v).map_err(AppError::runtime)?;
    crate::outln!("{s}");
    Ok(())
}

fn opt_pages(v: Option<u64>) -> String {
    match v {
        Some(n) => format!("{n} pages ({})", human_bytes(n * page_size())),
        None => "hidden by the kernel".to_string(),
    }
}

pub fn residency(a: &ResidencyArgs) -> Result<()> {
    let t = Target::open(&a.file)?;
    let r = residency_report(&t)?;
    if a.json {
        return print_json(&r);
    }
    crate::outln!("file:        {}", crate::text::escape_controls(&r.path));
    crate::outln!(
        "size:        {} ({} bytes)",
        human_bytes(r.size_bytes),
        r.size_bytes
    );
    crate::outln!("page size:   {}", human_bytes(r.page_size));
    crate::outln!("pages:       {}", r.pages);
    match (r.cached_pages, r.cached_percent) {
        (Some(c), Some(p)) => crate::outln!(
            "cached:      {c} pages ({}), {p:.1}%",
            human_bytes(c * r.page_size)
        ),
        _ => crate::outln!("cached:      hidden by the kernel"),
    }
    crate::outln!(
        "dirty:       {}",
        opt_pages(r.dirty_pages).replace("hidden by the kernel", "unknown")
    );
    crate::outln!(
        "filesystem:  {}{}",
        r.filesystem,
        r.filesystem_note
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default()
    );
    crate::outln!(
        "readahead:   {}, THP {}",
        r.read_ahead_kb
            .map(|k| format!("read_ahead_kb {k}"))
            .unwrap_or_else(|| "read_ahead_kb unknown (no block device)".into()),
        r.thp_mode.as_deref().unwrap_or("unknown")
    );
    crate::outln!(
        "source:      {}",
        match r.source {
            CacheSource::Cachestat => "cachestat(2)",
            CacheSource::Mincore => "mincore(2)",
        }
    );
    // The probe's note is often the filesystem's note again: say it once.
    if let Some(n) = r
        .cache_note
        .as_ref()
        .filter(|n| r.filesystem_note.as_ref() != Some(*n))
    {
        crate::outln!("note:        {n}");
    }
    if let Some(b) = &r.bar {
        crate::outln!("[{b}]");
    }
    Ok(())
}

#[derive(Serialize, Debug)]
struct EvictJson {
    schema_version: u32,
    path: String,
    pages: u64,
    cached_before: Option<u64>,
    cached_after: Option<u64>,
    dirty_after: Option<u64>,
    cache_state_visible: bool,
    evicted: Option<bool>,
    reason: Option<String>,
    machine: Machine,
}

pub fn evict(a: &EvictArgs) -> Result<()> {
    let t = Target::open(&a.file)?;
    let mut probe = CacheProbe::new(&t.file, t.size, &t.fs).map_err(|e| runtime(&t, e))?;
    let pages = probe.pages();
    let rep = cache::evict(
        &t.file,
        &mut probe,
        0,
        pages,
        &[],
        t.fs.can_evict,
        t.fs.note.as_deref(),
    )
    .map_err(|e| runtime(&t, e))?;
    let reason = if probe.visible() {
        rep.stayed_reason.clone()
    } else {
        probe.note().map(str::to_string)
    };
    let j = EvictJson {
        schema_version: 1,
        path: t.path.display().to_string(),
        pages,
        cached_before: rep.cached_before,
        cached_after: rep.cached_after,
        dirty_after: rep.dirty_after,
        cache_state_visible: probe.visible(),
        evicted: rep.cached_after.map(|c| c == 0),
        reason,
        machine: Machine::detect(Some(&t.file)),
    };
    if a.json {
        return print_json(&j);
    }
    match (j.cached_before, j.cached_after) {
        (Some(b), Some(af)) => crate::outln!(
            "{}: {b} -> {af} pages cached ({} -> {})",
            crate::text::escape_controls(&j.path),
            human_bytes(b * page_size()),
            human_bytes(af * page_size())
        ),
        _ => crate::outln!(
            "{}: asked the kernel to drop its pages; the result is hidden by the kernel",
            crate::text::escape_controls(&j.path)
        ),
    }
    if let Some(r) = &j.reason {
        crate::outln!("note: {r}");
    }
    Ok(())
}

pub fn gen(a: &GenArgs) -> Result<()> {
    let size = match (&a.size, a.records) {
        (_, Some(0)) => return Err(AppError::usage("--records must be at least 1")),
        (_, Some(n)) => n
            .checked_mul(crate::workload::patterns::bsearch::RECORD_SIZE)
            .filter(|&b| b <= i64::MAX as u64)
            .ok_or_else(|| AppError::usage(format!("--records {n} is too many for one file")))?,
        (Some(s), None) => parse_size(s).map_err(|e| AppError::bad_input(&a.file, e))?,
        (None, None) => return Err(AppError::usage("give --size SIZE or --records N")),
    };
    if size == 0 {
        return Err(AppError::bad_input(
            &a.file,
            "--size 0 would make an empty file, which run, bench and the live view refuse; give at least 1 byte",
        ));
    }
    // The largest file size Linux can represent (loff_t is signed 64-bit).
    if size > i64::MAX as u64 {
        return Err(AppError::bad_input(
            &a.file,
            format!(
                "--size {} is larger than any file Linux can hold ({} bytes at most)",
                a.size.as_deref().unwrap_or_default(),
                i64::MAX
            ),
        ));
    }
    let signals = crate::error::StopSignals::register()?;
    let interrupted = Arc::clone(&signals.stop);
    let opts = GenOptions {
        path: a.file.clone(),
        size,
        sparse: a.sparse,
        seed: a.seed,
        force: a.force,
        progress: std::io::stderr().is_terminal(),
        records: a.records.is_some(),
    };
    gen::generate(&opts, &interrupted).map_err(|e| signals.explain(e))
}
