//! `mmviz page FILE OFFSET [--length N] [--read] [--json]`: the article's "byte at offset
//! 1000", with the truth about its page around it.

use crate::cli::PageArgs;
use crate::error::{AppError, Result};
use crate::inspect::{dump_rows, escape_path, parse_offset, Inspector, PageReport, ReadOutcome};
use crate::kernel::target::Target;
use crate::session::snapshot::CacheSource;
use crate::units::human_bytes;
use serde::Serialize;

/// Bytes per row of the text dump.
const PER_ROW: usize = 16;

#[derive(Serialize)]
struct PageJson<'a> {
    schema_version: u32,
    path: String,
    #[serde(flatten)]
    report: &'a PageReport,
    /// Kernel, page size, THP, readahead and virtualization of the machine.
    machine: crate::kernel::machine::Machine,
}

pub fn page(a: &PageArgs) -> Result<()> {
    let offset = parse_offset(&a.offset)
        .map_err(|e| AppError::usage(format!("OFFSET {}: {e}", a.offset)))?;
    let length = parse_offset(&a.length)
        .map_err(|e| AppError::usage(format!("--length {}: {e}", a.length)))?;
    let t = Target::open(&a.file)?;
    let mut ins = Inspector::open(&t)
        .map_err(|e| AppError::runtime(format!("{}: {}", t.path.display(), e)))?;
    let path = t.path.display().to_string();
    ins.check(offset, length)
        .map_err(|e| AppError::bad_input(&t.path, e))?;
    let r = ins.inspect(offset, length, a.read)?;
    if a.json {
        let j = PageJson {
            schema_version: 1,
            path,
            report: &r,
            machine: crate::kernel::machine::Machine::detect(Some(&t.file)),
        };
        let s = serde_json::to_string_pretty(&j).map_err(AppError::runtime)?;
        crate::outln!("{s}");
        return Ok(());
    }
    for l in text(&escape_path(&path), &r) {
        crate::outln!("{l}");
    }
    Ok(())
}

fn yes_no(v: Option<bool>, yes: &str, no: &str, unknown: &str) -> String {
    match v {
        Some(true) => yes.into(),
        Some(false) => no.into(),
        None => unknown.into(),
    }
}

/// The text report, one line per entry (`path` already escaped).
pub fn text(path: &str, r: &PageReport) -> Vec<String> {
    let mut out = Vec::new();
    let pages = r.file_size.div_ceil(r.page_size.max(1));
    out.push(format!(
        "file:     {path} ({}, {pages} pages of {})",
        human_bytes(r.file_size),
        human_bytes(r.page_size)
    ));
    out.push(format!(
        "offset:   {} (0x{:x}), {} byte{}",
        r.offset,
        r.offset,
        r.length,
        if r.length == 1 { "" } else { "s" }
    ));
    out.push(format!(
        "page:     {} (bytes {}-{})",
        r.page_index, r.page_first_byte, r.page_last_byte
    ));
    let src = match r.source {
        CacheSource::Cachestat => "cachestat(2) of this page",
        CacheSource::Mincore => "mincore(2) of this page",
    };
    if r.cache_state_visible {
        let mut s = vec![yes_no(r.cached, "cached", "not cached", "?")];
        s.push(yes_no(r.dirty, "dirty", "clean", "dirty unknown (mincore)"));
        if r.writeback == Some(true) {
            s.push("under writeback".into());
        }
        if r.evicted == Some(true) {
            s.push("evicted earlier by reclaim (shadow entry)".into());
        }
        let when = if r.read == ReadOutcome::ReadRequested {
            "before the read: "
        } else {
            ""
        };
        out.push(format!("state:    {when}{} ({src})", s.join(", ")));
    } else {
        out.push("state:    hidden by the kernel".into());
    }
    if let Some(n) = &r.cache_note {
        out.push(format!("note:     {n}"));
    }
    match (&r.bytes, r.read) {
        (Some(b), how) => {
            out.push(format!(
                "bytes:    {}",
                match how {
                    ReadOutcome::ReadRequested => {
                        "read on request (--read) through mmviz's own descriptor \
                         (POSIX_FADV_RANDOM)"
                    }
                    _ => {
                        "the page was cached: read through mmviz's own descriptor \
                         (POSIX_FADV_RANDOM, RWF_NOWAIT)"
                    }
                }
            ));
            for (off, hex, ascii) in dump_rows(r.offset, b, PER_ROW) {
                out.push(format!("  {off:08x}  {hex}  |{ascii}|"));
            }
        }
        (None, ReadOutcome::NotCached) => out.push(
            "bytes:    not read: not cached, reading it would fault it in (--read reads it)".into(),
        ),
        (None, ReadOutcome::Hidden) => out.push(
            "bytes:    not read: the kernel hides whether it is cached, so reading might fault \
             it in (--read reads it)"
                .into(),
        ),
        (None, _) => out.push(
            "bytes:    not read: the page left the cache between the check and the read".into(),
        ),
    }
    let window = format!(
        "pages {}-{}",
        r.window_start_page,
        r.window_end_page.saturating_sub(1)
    );
    match (
        r.window_cached_before,
        r.window_cached_after,
        r.pages_newly_cached,
    ) {
        (Some(b), Some(a), Some(d)) => {
            let what = if d == 0 && b == a {
                "unchanged by this inspection".to_string()
            } else if d > 0 {
                format!(
                    "{d} page{} newly cached while we looked{}",
                    if d == 1 { "" } else { "s" },
                    if r.read == ReadOutcome::ReadRequested {
                        " (brought in by this read, or another process at the same time)"
                    } else {
                        " (readahead started by this read, or another process)"
                    }
                )
            } else {
                format!("{} pages left the cache while we looked", -d)
            };
            out.push(format!(
                "cache:    {window}: {b} cached before, {a} after: {what}"
            ));
        }
        _ => out.push(format!(
            "cache:    {window}: hidden by the kernel, so what this inspection changed is unknown"
        )),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> PageReport {
        PageReport {
            offset: 1000,
            length: 5,
            page_size: 4096,
            page_index: 0,
            page_first_byte: 0,
            page_last_byte: 4095,
            file_size: 8192,
            cache_state_visible: true,
            cached: Some(true),
            dirty: Some(false),
            writeback: Some(false),
            evicted: Some(false),
            read: ReadOutcome::ReadCached,
            bytes: Some(b"Hello".to_vec()),
            window_start_page: 0,
            window_end_page: 2,
            window_cached_before: Some(2),
            window_cached_after: Some(2),
            cache_changed: Some(false),
            pages_newly_cached: Some(0),
            page_cached_after: Some(true),
            ..PageReport::default()
        }
    }

    #[test]
    fn cached_page_text_shows_bytes_and_truth() {
        let t = text("data.bin", &report()).join("\n");
        assert!(t.contains("offset:   1000 (0x3e8), 5 bytes"), "{t}");
        assert!(t.contains("state:    cached, clean"), "{t}");
        assert!(
            t.contains("000003e8  48 65 6c 6c 6f") && t.contains("|Hello|"),
            "{t}"
        );
        assert!(t.contains("unchanged by this inspection"), "{t}");
    }

    #[test]
    fn uncached_and_hidden_say_why_nothing_was_read() {
        let mut r = report();
        r.cached = Some(false);
        r.read = ReadOutcome::NotCached;
        r.bytes = None;
        let t = text("d", &r).join("\n");
        assert!(
            t.contains("not cached, reading it would fault it in"),
            "{t}"
        );
        r.cache_state_visible = false;
        r.cached = None;
        r.read = ReadOutcome::Hidden;
        r.window_cached_before = None;
        r.window_cached_after = None;
        r.pages_newly_cached = None;
        let t = text("d", &r).join("\n");
        assert!(t.contains("state:    hidden by the kernel"), "{t}");
        assert!(t.contains("the kernel hides whether it is cached"), "{t}");
        assert!(!t.contains("cached before"), "{t}");
    }
}
