//! TLB facts: hardware counters where the machine has them, an honest "unsupported" otherwise.

use crate::kernel::tlb::GEOMETRY_NOT_REPORTED;
use crate::session::snapshot::{TlbInfo, TlbMeasureState};
use crate::tui::format::{count, nanos, rate, wrap};
use crate::tui::theme::Theme;
use crate::units::human_bytes;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Widget;

pub struct Tlb<'a> {
    pub tlb: &'a TlbInfo,
    pub theme: &'a Theme,
    /// One line only (short screens): the headline fact, no notes.
    pub compact: bool,
}

/// What a panel line is, for its style.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Value,
    Warn,
    Dim,
    Label,
    /// A table row: its columns are aligned with spaces, so it is never re-wrapped.
    Table,
    TableHead,
}

/// One optional per-access figure: `–` when not counted.
fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.filter(|x| x.is_finite()).map_or("–".into(), f)
}

/// The panel's text, a pure function of the TLB info (tested without a terminal).
fn text_lines(tlb: &TlbInfo, compact: bool) -> Vec<(String, Kind)> {
    if tlb.measurement != TlbMeasureState::Idle {
        return measurement_lines(&tlb.measurement, compact);
    }
    let mut out = Vec::new();
    if tlb.supported {
        let h = tlb.hardware.unwrap_or_default();
        out.push((
            format!(
                "dTLB load misses {}/s · {}/access",
                opt(h.dtlb_load_misses_per_s, rate),
                opt(h.dtlb_load_misses_per_access, |v| format!("{v:.3}"))
            ),
            Kind::Value,
        ));
        if compact {
            return out;
        }
        out.push((
            format!(
                "miss ratio {} · cycles/access {} · IPC {}",
                opt(h.dtlb_miss_ratio, |v| format!("{:.2}%", v * 100.0)),
                opt(h.cycles_per_access, |v| format!("{v:.0}")),
                opt(h.instructions_per_cycle, |v| format!("{v:.2}"))
            ),
            Kind::Value,
        ));
        out.push((
            format!(
                "page faults {}/s · {}/access",
                opt(h.page_faults_per_s, rate),
                opt(h.page_faults_per_access, |v| format!("{v:.4}"))
            ),
            Kind::Value,
        ));
    } else {
        let head = if compact {
            "TLB counters: unsupported here"
        } else {
            "hardware TLB counters: unsupported here"
        };
        out.push((head.into(), Kind::Warn));
        if compact {
            return out;
        }
        if let Some(r) = &tlb.reason {
            out.push((format!("({r})"), Kind::Dim));
        }
    }
    let g = &tlb.geometry;
    if g.levels.is_empty() {
        out.push((GEOMETRY_NOT_REPORTED.into(), Kind::Dim));
    } else {
        let (e4, e2) = (g.entries_for(4 << 10), g.entries_for(2 << 20));
        let reach = |e: u32, size: u64| human_bytes(e as u64 * size);
        let body = match (e4, e2) {
            (Some(a), Some(b)) if a == b => format!(
                "{} entries: reach {} (4 KiB pages), {} (2 MiB)",
                count(a as u64),
                reach(a, 4 << 10),
                reach(b, 2 << 20)
            ),
            (Some(a), Some(b)) => format!(
                "{} entries: reach {} (4 KiB pages); {}: {} (2 MiB)",
                count(a as u64),
                reach(a, 4 << 10),
                count(b as u64),
                reach(b, 2 << 20)
            ),
            (Some(a), None) => format!(
                "{} entries: reach {} (4 KiB pages)",
                count(a as u64),
                reach(a, 4 << 10)
            ),
            _ => "no data-TLB entries listed".to_string(),
        };
        out.push((format!("TLB (CPUID): {body}"), Kind::Label));
    }
    if let Some(e) = &tlb.estimate {
        let fits = if e.pages_4k > e.entries_4k as u64 {
            "expect TLB misses"
        } else {
            "fits"
        };
        out.push((
            format!(
                "estimate: {} 4 KiB pages ({} 2 MiB regions) touched last interval vs {} entries{}: {fits}",
                count(e.pages_4k),
                count(e.regions_2m),
                count(e.entries_4k as u64),
                if e.entries_source == "CPUID" {
                    String::new()
                } else {
                    format!(" ({})", e.entries_source)
                }
            ),
            Kind::Label,
        ));
    }
    if let Some(h) = &tlb.huge {
        let s = if h.file_pmd_mapped_bytes > 0 {
            format!(
                "PMD-mapped: {} of {} (smaps FilePmdMapped): 1 TLB entry per 2 MiB",
                human_bytes(h.file_pmd_mapped_bytes),
                human_bytes(h.rss_bytes)
            )
        } else {
            "PMD-mapped: none (smaps FilePmdMapped 0): 1 TLB entry per 4 KiB page, even in a 2 MiB folio"
                .to_string()
        };
        out.push((s, Kind::Label));
    }
    if let Some(l) = tlb.latency.as_ref().filter(|l| l.hist.count() > 0) {
        let q = |x: f64| {
            l.hist
                .quantile_ns(x)
                .map_or("–".into(), |v| format!("≤{}", nanos(v as f64)))
        };
        out.push((
            format!(
                "access latency, last {:.1} s ({} timed{}): p50 {}, p99 {}, max {}; faults {} minor, {} major",
                l.interval_ms as f64 / 1000.0,
                count(l.hist.count()),
                if l.hist.sampled_every() > 1 {
                    format!(", 1 in {}", count(l.hist.sampled_every()))
                } else {
                    String::new()
                },
                q(0.5),
                q(0.99),
                nanos(l.hist.max_ns() as f64),
                count(l.minor),
                count(l.major)
            ),
            Kind::Value,
        ));
    }
    // The static facts explain the panel until live figures replace them (the estimate
    // restates the second, the geometry line the first): the panel must stay short enough
    // for the side column, or the layout drops it.
    if tlb.estimate.is_none() {
        for n in &tlb.notes {
            out.push((n.clone(), Kind::Label));
        }
    }
    out
}

/// The `t` measurement: progress, then its table (it replaces the panel's other lines: it
/// is what the user asked for, and the side column has no room for both).
fn measurement_lines(m: &TlbMeasureState, compact: bool) -> Vec<(String, Kind)> {
    let mut out = Vec::new();
    match m {
        TlbMeasureState::Idle => {}
        TlbMeasureState::Running {
            progress,
            working_set_bytes,
        } => {
            out.push((
                if *working_set_bytes == 0 {
                    "measuring 4 KiB vs huge pages: mapping memory…".to_string()
                } else if compact {
                    format!(
                        "4 KiB vs huge: {} ({:.0}%)",
                        human_bytes(*working_set_bytes),
                        progress * 100.0
                    )
                } else {
                    format!(
                        "measuring 4 KiB vs huge pages: {} working set ({:.0}%)",
                        human_bytes(*working_set_bytes),
                        progress * 100.0
                    )
                },
                Kind::Value,
            ));
            out.push(("worker paused · t or Esc cancels".into(), Kind::Dim));
        }
        TlbMeasureState::Failed { error } => {
            out.push((format!("TLB measurement failed: {error}"), Kind::Warn));
        }
        TlbMeasureState::Done(r) => {
            if compact {
                out.push((r.summary(), Kind::Value));
                return out;
            }
            out.push((
                format!(
                    "ns/access, min of runs (THP {}):",
                    r.thp_mode.as_deref().unwrap_or("unknown")
                ),
                Kind::Label,
            ));
            out.push((
                format!("{:>9} {:>8} {:>8} {:>6}", "set", "4 KiB", "huge", "ratio"),
                Kind::TableHead,
            ));
            for w in &r.rows {
                out.push((
                    format!(
                        "{:>9} {:>8} {:>8} {:>6}",
                        human_bytes(w.working_set_bytes),
                        nanos(w.ns_4k),
                        nanos(w.ns_huge),
                        w.ratio.map_or("no THP".into(), |x| format!("{x:.2}×"))
                    ),
                    Kind::Table,
                ));
            }
            out.push((
                match r.knee_working_set_bytes {
                    Some(k) => format!(
                        "knee: 4 KiB ≥{:.2}× slower from {}",
                        crate::tlbbench::KNEE_RATIO,
                        human_bytes(k)
                    ),
                    None => format!(
                        "no knee: 4 KiB pages never stay ≥{:.2}× slower here",
                        crate::tlbbench::KNEE_RATIO
                    ),
                },
                Kind::Label,
            ));
            if let Some(c) = &r.capped {
                out.push((c.clone(), Kind::Dim));
            }
        }
    }
    out
}

impl Tlb<'_> {
    fn lines(&self, width: u16) -> Vec<Line<'static>> {
        let t = self.theme;
        let w = width as usize;
        let mut lines = Vec::new();
        for (s, k) in text_lines(self.tlb, self.compact) {
            let style = match k {
                Kind::Value => t.value,
                Kind::Warn => t.warn,
                Kind::Dim => t.dim,
                Kind::Label => t.label,
                Kind::Table => t.value,
                Kind::TableHead => t.dim,
            };
            if matches!(k, Kind::Table | Kind::TableHead) {
                lines.push(Line::styled(s, style));
                continue;
            }
            lines.extend(wrap(&s, w).into_iter().map(|l| Line::styled(l, style)));
        }
        if self.compact {
            // The measurement's progress keeps its "cancels" line.
            let keep = match self.tlb.measurement {
                TlbMeasureState::Idle => 1,
                _ => 2,
            };
            lines.truncate(keep);
        }
        lines
    }

    /// Rows this panel needs at `width` (borders included).
    pub fn height(&self, width: u16) -> u16 {
        self.lines(width.saturating_sub(2)).len() as u16 + 2
    }
}

impl Widget for Tlb<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let theme = self.theme;
        super::render_lines_panel("TLB", theme, area, buf, |w| self.lines(w));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::tlb::{
        decode_amd, rates, reach_estimate, CounterValues, HardwareRates, HugeMapped, TlbGeometry,
    };
    use crate::session::fixture::fixture_snapshot;
    use crate::tui::theme::COLOR;
    use crate::tui::widgets::testing::{render, text};

    #[test]
    fn unsupported_says_so_with_reason_and_notes() {
        let s = fixture_snapshot();
        let w = Tlb {
            tlb: &s.tlb,
            theme: &COLOR,
            compact: false,
        };
        let h = w.height(60);
        let out = text(&render(w, 60, h));
        assert!(
            out.contains("hardware TLB counters: unsupported here"),
            "{out}"
        );
        assert!(out.contains("no hardware PMU in this VM"), "{out}");
        assert!(out.contains("page covers 512× more"), "{out}");
        let compact = Tlb {
            tlb: &s.tlb,
            theme: &COLOR,
            compact: true,
        };
        assert_eq!(compact.height(60), 3);
    }

    /// The panel's text without borders, wrapped lines joined: phrases survive wrapping.
    fn flat(out: &str) -> String {
        out.replace(['│', '╭', '╮', '╰', '╯', '─'], " ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn supported_info() -> TlbInfo {
        let prev = CounterValues {
            dtlb_load_misses: Some(1_000),
            dtlb_loads: Some(100_000),
            cycles: Some(10_000_000),
            instructions: Some(5_000_000),
            page_faults: Some(10),
        };
        let cur = CounterValues {
            dtlb_load_misses: Some(21_000),
            dtlb_loads: Some(1_100_000),
            cycles: Some(30_000_000),
            instructions: Some(15_000_000),
            page_faults: Some(60),
        };
        let geometry = TlbGeometry {
            source: Some("CPUID 0x80000005/0x80000006".into()),
            levels: decode_amd(
                [0xff48ff40, 0xff48ff40, 0, 0],
                [0x5c002200, 0x6c004200, 0, 0],
            ),
        };
        TlbInfo {
            supported: true,
            status: "supported".into(),
            hardware: Some(rates(&prev, &cur, 0.5, 100_000)),
            estimate: Some(reach_estimate(&geometry, 5_000, 12)),
            geometry,
            huge: Some(HugeMapped {
                rss_bytes: 64 << 20,
                file_pmd_mapped_bytes: 8 << 20,
                anon_huge_bytes: 0,
            }),
            ..TlbInfo::default()
        }
    }

    #[test]
    fn supported_shows_rates_geometry_estimate_and_huge() {
        let tlb = supported_info();
        let w = Tlb {
            tlb: &tlb,
            theme: &COLOR,
            compact: false,
        };
        let h = w.height(60);
        let out = text(&render(w, 60, h));
        let flat = flat(&out);
        assert!(
            flat.contains("dTLB load misses 40,000/s · 0.200/access"),
            "{out}"
        );
        assert!(
            flat.contains("miss ratio 2.00% · cycles/access 200 · IPC 0.50"),
            "{out}"
        );
        assert!(flat.contains("page faults 100/s · 0.0005/access"), "{out}");
        assert!(
            flat.contains("TLB (CPUID): 3,072 entries: reach 12 MiB (4 KiB pages), 6 GiB (2 MiB)"),
            "{out}"
        );
        assert!(flat.contains("estimate: 5,000 4 KiB pages (12 2 MiB regions) touched last interval vs 3,072 entries: expect TLB misses"), "{out}");
        assert!(
            flat.contains(
                "PMD-mapped: 8 MiB of 64 MiB (smaps FilePmdMapped): 1 TLB entry per 2 MiB"
            ),
            "{out}"
        );
        assert!(!out.contains("unsupported"), "{out}");
        // Compact: the headline only.
        let c = Tlb {
            tlb: &tlb,
            theme: &COLOR,
            compact: true,
        };
        assert_eq!(c.height(60), 3);
        let out = text(&render(c, 60, 3));
        assert!(out.contains("dTLB load misses 40,000/s"), "{out}");
        // A zero-sized area renders nothing and does not panic.
        text(&render(
            Tlb {
                tlb: &tlb,
                theme: &COLOR,
                compact: false,
            },
            0,
            0,
        ));
    }

    #[test]
    fn latency_summary_line() {
        let mut hist = crate::latency::LatencyHist::default();
        hist.set_timer_overhead_ns(0);
        for ns in [10, 10, 10, 5_000] {
            hist.record(ns);
        }
        let tlb = TlbInfo {
            latency: Some(crate::session::snapshot::LatencyView {
                hist,
                minor: 1,
                major: 0,
                interval_ms: 1_000,
            }),
            ..TlbInfo::default()
        };
        let w = Tlb {
            tlb: &tlb,
            theme: &COLOR,
            compact: false,
        };
        let h = w.height(60);
        let out = flat(&text(&render(w, 60, h)));
        assert!(
            out.contains("access latency, last 1.0 s (4 timed): p50 ≤11 ns, p99 ≤5.0 µs, max 5.0 µs; faults 1 minor, 0 major"),
            "{out}"
        );
    }

    #[test]
    fn missing_counters_show_dashes_not_zeros() {
        let tlb = TlbInfo {
            supported: true,
            hardware: Some(HardwareRates {
                dtlb_load_misses_per_s: Some(12_345.0),
                ..HardwareRates::default()
            }),
            ..TlbInfo::default()
        };
        let out = text(&render(
            Tlb {
                tlb: &tlb,
                theme: &COLOR,
                compact: false,
            },
            60,
            8,
        ));
        assert!(
            out.contains("dTLB load misses 12,345/s · –/access"),
            "{out}"
        );
        assert!(out.contains("IPC –"), "{out}");
        assert!(out.contains("not reported by this CPU/VM"), "{out}");
    }

    #[test]
    fn unsupported_with_estimate_and_no_huge_mapping() {
        let tlb = TlbInfo {
            supported: false,
            reason: Some("no hardware PMU here (typical in a VM) (ENOENT)".into()),
            estimate: Some(reach_estimate(&TlbGeometry::default(), 100, 1)),
            huge: Some(HugeMapped {
                rss_bytes: 4 << 20,
                ..HugeMapped::default()
            }),
            ..TlbInfo::default()
        };
        let w = Tlb {
            tlb: &tlb,
            theme: &COLOR,
            compact: false,
        };
        let h = w.height(60);
        let out = text(&render(w, 60, h));
        let flat = flat(&out);
        assert!(
            flat.contains("hardware TLB counters: unsupported here"),
            "{out}"
        );
        assert!(flat.contains("(ENOENT)"), "{out}");
        assert!(
            flat.contains("TLB sizes: not reported by this CPU/VM"),
            "{out}"
        );
        assert!(
            flat.contains("vs 1,536 entries (assumed: not reported by this CPU/VM): fits"),
            "{out}"
        );
        assert!(
            flat.contains("PMD-mapped: none (smaps FilePmdMapped 0): 1 TLB entry per 4 KiB page"),
            "{out}"
        );
    }

    fn measured() -> crate::session::snapshot::TlbMeasureResult {
        use crate::session::snapshot::{TlbMeasureResult, TlbMeasureRow};
        let row = |mib: u64, a: f64, b: f64, huge: bool| TlbMeasureRow {
            working_set_bytes: mib << 20,
            ns_4k: a,
            ns_huge: b,
            ratio: huge.then_some(a / b),
        };
        TlbMeasureResult {
            thp_mode: Some("madvise".into()),
            hardware_counters: "unsupported: no PMU (ENOENT)".into(),
            rows: vec![
                row(1, 2.0, 2.0, true),
                row(4, 4.0, 4.0, true),
                row(32, 30.0, 20.0, true),
                row(256, 100.0, 62.5, true),
                row(512, 110.0, 110.0, false),
            ],
            knee_working_set_bytes: Some(32 << 20),
            capped: Some("largest working set capped at 512 MiB".into()),
            elapsed_ms: 3_000,
        }
    }

    #[test]
    fn measurement_progress_table_and_failure() {
        let mut info = TlbInfo {
            measurement: TlbMeasureState::Running {
                progress: 0.5,
                working_set_bytes: 32 << 20,
            },
            ..TlbInfo::default()
        };
        let w = Tlb {
            tlb: &info,
            theme: &COLOR,
            compact: true,
        };
        let h = w.height(40);
        let out = text(&render(w, 40, h));
        assert!(out.contains("4 KiB vs huge: 32 MiB (50%)"), "{out}");
        assert!(out.contains("t or Esc cancels"), "{out}");
        info.measurement = TlbMeasureState::Done(measured());
        let w = Tlb {
            tlb: &info,
            theme: &COLOR,
            compact: false,
        };
        let h = w.height(42);
        assert_eq!(
            h,
            2 + 1 + 1 + 5 + 1 + 1,
            "heading, header, 5 rows, knee, capped"
        );
        let out = text(&render(w, 42, h));
        assert!(out.contains("THP madvise"), "{out}");
        assert!(out.contains("1.60×"), "{out}");
        assert!(out.contains("1.50×"), "{out}");
        assert!(out.contains("no THP"), "{out}");
        assert!(
            out.contains("knee: 4 KiB ≥1.15× slower from 32 MiB"),
            "{out}"
        );
        assert!(out.contains("capped at 512 MiB"), "{out}");
        // The static lines give way to what the user asked for.
        assert!(!out.contains("unsupported here"), "{out}");
        insta::assert_snapshot!("tlb_measurement_42", out);
        let compact = Tlb {
            tlb: &info,
            theme: &COLOR,
            compact: true,
        };
        let ch = compact.height(42);
        let out = text(&render(compact, 42, ch));
        assert!(
            out.contains("4 KiB pages slower from 32 MiB on, up to"),
            "{out}"
        );
        assert!(out.contains("1.60× at 256 MiB"), "{out}");
        info.measurement = TlbMeasureState::Failed {
            error: "not enough free memory".into(),
        };
        let out = text(&render(
            Tlb {
                tlb: &info,
                theme: &COLOR,
                compact: false,
            },
            42,
            5,
        ));
        assert!(out.contains("TLB measurement failed: not enough"), "{out}");
        let mut r = measured();
        r.knee_working_set_bytes = None;
        assert_eq!(
            r.summary(),
            "no knee up to 512 MiB: largest ratio 1.60× at 256 MiB"
        );
        r.rows.iter_mut().for_each(|w| w.ratio = None);
        assert_eq!(r.summary(), "no huge pages granted (THP madvise): no ratio");
    }
}
