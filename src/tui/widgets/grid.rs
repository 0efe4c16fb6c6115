//! The page grid: one terminal cell per run of pages, its glyph the mix of states of those
//! pages, with a caption (what range, how many pages per cell) and a legend that teaches.

use crate::session::snapshot::{CellCounts, Snapshot};
use crate::tui::format::{count, wrap};
use crate::tui::theme::{CellState, Theme};
use crate::units::human_bytes;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

pub struct Grid<'a> {
    pub snapshot: &'a Snapshot,
    pub theme: &'a Theme,
    /// The page whose cell the viewer clicked.
    pub selected: Option<u64>,
}

/// What a touch costs in each state: the point of the picture (in the theme's glyphs).
fn teach(t: &Theme) -> [String; 2] {
    let g = |s| t.glyph(s);
    [
        format!(
            "touch {}{} → minor fault (in RAM: just map it)",
            g(CellState::CachedTouched),
            g(CellState::Ghost)
        ),
        format!(
            "touch {} → major fault (read from disk)",
            g(CellState::NotCached)
        ),
    ]
}

/// The inner rows of the grid block, top to bottom.
struct Rows {
    caption: Rect,
    cells: Rect,
    legend: Rect,
    info: Rect,
}

/// The legend entries worth showing for this snapshot.
fn legend_states(s: &Snapshot) -> Vec<CellState> {
    let any_private = s.grid.cells.iter().any(|c| c.private.unwrap_or(0) > 0);
    let any_huge = s.grid.cells.iter().any(|c| c.huge.unwrap_or(0) > 0);
    // Dirty and writeback only where the kernel can tell them (cachestat), and in write mode
    // or when some are there: a read-only view has no use for them.
    let can_dirty = s.grid.cells.iter().any(|c| c.dirty.is_some());
    let writes = s.file.write.is_some()
        || s.grid
            .cells
            .iter()
            .any(|c| c.dirty.unwrap_or(0) + c.writeback.unwrap_or(0) > 0);
    let hidden = !s.caps.cache_state_visible;
    CellState::ALL
        .into_iter()
        .filter(|st| match st {
            CellState::Empty => false,
            CellState::PastEnd => s.grid.eof_page.is_some(),
            CellState::Unsampled => s.grid.unsampled > 0,
            CellState::Private => any_private,
            CellState::HugeMapped => any_huge,
            CellState::MappedOther => s.grid_mine.is_some(),
            CellState::Dirty => can_dirty && writes,
            // Writeback is brief on most disks: in the legend while some is there.
            CellState::Writeback => s.grid.cells.iter().any(|c| c.writeback.unwrap_or(0) > 0),
            CellState::Hidden => hidden,
            // Observing a program: no workload front, no readahead attribution.
            CellState::Front | CellState::Ghost if s.observed.is_some() => false,
            CellState::Ghost | CellState::CachedTouched | CellState::NotCached => !hidden,
            _ => true,
        })
        .collect()
}

/// Flows legend entries into lines of at most `width` columns.
fn legend_lines(s: &Snapshot, theme: &Theme, width: u16) -> Vec<Line<'static>> {
    let width = width as usize;
    let mut lines: Vec<Line> = Vec::new();
    let mut cur: Vec<Span> = Vec::new();
    let mut used = 0;
    for st in legend_states(s) {
        let w = 2 + st.label().chars().count();
        if used > 0 && used + 2 + w > width {
            lines.push(Line::from(std::mem::take(&mut cur)));
            used = 0;
        }
        if used > 0 {
            cur.push(Span::raw("  "));
            used += 2;
        }
        cur.push(Span::styled(theme.glyph(st).to_string(), theme.cell(st)));
        cur.push(Span::styled(format!(" {}", st.label()), theme.label));
        used += w;
    }
    if !cur.is_empty() {
        lines.push(Line::from(cur));
    }
    if s.caps.cache_state_visible && s.observed.is_none() {
        for teach in teach(theme) {
            lines.extend(
                wrap(&teach, width)
                    .into_iter()
                    .map(|l| Line::styled(l, theme.dim)),
            );
        }
    }
    lines
}

/// Short labels for the one-line legend of small screens (80x24 projectors).
fn short_label(st: CellState) -> &'static str {
    match st {
        CellState::Front => "now",
        CellState::Mapped => "mapped",
        CellState::MappedOther => "other",
        CellState::PartlyMapped => "part",
        CellState::CachedTouched => "cached",
        CellState::Ghost => "ahead",
        CellState::NotCached => "uncached",
        CellState::Private => "private",
        CellState::HugeMapped => "huge",
        CellState::Dirty => "dirty",
        CellState::Writeback => "wback",
        CellState::Hidden => "hidden",
        CellState::PastEnd => "SIGBUS",
        CellState::Unsampled => "unsampled",
        CellState::Empty => "",
    }
}

/// The whole legend with short labels (glyph + label), for grids with few rows: one line
/// when it fits `width`, else flowed onto as few lines as it takes (never cut off). The
/// glyphs are the theme's, as the cells draw them.
fn legend_lines_compact(s: &Snapshot, theme: &Theme, width: u16) -> Vec<Line<'static>> {
    let width = width as usize;
    let mut lines = Vec::new();
    let mut cur: Vec<Span> = Vec::new();
    let mut used = 0;
    for st in legend_states(s) {
        let w = 1 + short_label(st).chars().count();
        if used > 0 && used + 1 + w > width {
            lines.push(Line::from(std::mem::take(&mut cur)));
            used = 0;
        }
        if used > 0 {
            cur.push(Span::raw(" "));
            used += 1;
        }
        cur.push(Span::styled(theme.glyph(st).to_string(), theme.cell(st)));
        cur.push(Span::styled(short_label(st).to_string(), theme.label));
        used += w;
    }
    if !cur.is_empty() {
        lines.push(Line::from(cur));
    }
    lines
}

/// The legend for a grid area: the full one when the grid keeps most of its rows, else one
/// line (the cells matter more than the words on a small screen).
fn legend_for(s: &Snapshot, theme: &Theme, inner: Rect) -> Vec<Line<'static>> {
    let full = legend_lines(s, theme, inner.width);
    if (full.len() as u16) * 4 <= inner.height {
        full
    } else {
        legend_lines_compact(s, theme, inner.width)
    }
}

fn rows(area: Rect, s: &Snapshot, theme: &Theme) -> Rows {
    let inner = Rect {
        x: area.x.saturating_add(1),
        y: area.y.saturating_add(1),
        width: area.width.saturating_sub(2),
        height: area.height.saturating_sub(2),
    };
    let legend_h = legend_for(s, theme, inner).len() as u16;
    let row = |y: u16, h: u16| Rect::new(inner.x, y, inner.width, h);
    // Caption and info line take one row each; the legend gives way first when short.
    let fixed = 2 + legend_h;
    let (legend_h, info_h) = if inner.height >= fixed + 3 {
        (legend_h, 1)
    } else if inner.height >= 6 {
        (0, 1)
    } else {
        (0, 0)
    };
    let caption_h = inner.height.min(1);
    let cells_h = inner.height - caption_h - legend_h - info_h;
    let y0 = inner.y;
    Rows {
        caption: row(y0, caption_h),
        cells: row(y0 + caption_h, cells_h),
        legend: row(y0 + caption_h + cells_h, legend_h),
        info: row(y0 + caption_h + cells_h + legend_h, info_h),
    }
}

impl Grid<'_> {
    /// Where the cells go inside the grid's area: the view request is derived from this, so
    /// one terminal cell is one grid cell.
    pub fn cells_area(area: Rect, s: &Snapshot, theme: &Theme) -> Rect {
        rows(area, s, theme).cells
    }

    fn caption(&self, width: u16) -> Line<'static> {
        let (s, t) = (self.snapshot, self.theme);
        let g = &s.grid;
        if s.file.pages == 0 {
            if s.observed.as_ref().is_some_and(|o| o.chosen.is_none()) {
                return Line::styled("no file watched (the header says why)", t.warn);
            }
            return Line::styled("empty file: 0 pages, nothing to map", t.warn);
        }
        let range = format!(
            "{}–{}",
            count(g.start_page),
            count(g.end_page.saturating_sub(1))
        );
        let ppc = g.pages_per_cell.max(1);
        let bytes = human_bytes(ppc.saturating_mul(s.file.page_size));
        let per = if ppc == 1 {
            format!("1 cell = 1 page = {bytes}")
        } else {
            format!("1 cell = {} pages = {bytes}", count(ppc))
        };
        let whole = g.start_page == 0 && g.end_page >= s.file.pages;
        let of = if whole {
            " (whole file)".to_string()
        } else {
            format!(" of {}", count(s.file.pages))
        };
        for cand in [
            format!("pages {range}{of} · {per}"),
            format!("pages {range} · {per}"),
            format!("{range} · {per}"),
            format!("{range} · {} pg/cell", count(ppc)),
        ] {
            if cand.chars().count() <= width as usize {
                return Line::styled(cand, t.label);
            }
        }
        Line::styled(range, t.label)
    }

    /// The clicked cell's pages, or a hint.
    fn info(&self, width: u16) -> Line<'static> {
        let (s, t) = (self.snapshot, self.theme);
        let g = &s.grid;
        let ppc = g.pages_per_cell.max(1);
        let hit = self.selected.and_then(|p| {
            let i = p.checked_sub(g.start_page)? / ppc;
            Some((i, g.cells.get(i as usize)?))
        });
        let Some((i, c)) = hit else {
            let hint = [
                "click a cell for its pages · +/- zoom · arrows pan",
                "click a cell for its pages",
            ]
            .into_iter()
            .find(|h| h.chars().count() <= width as usize)
            .unwrap_or("");
            return Line::styled(hint, t.dim);
        };
        let lo = g.start_page + i * ppc;
        let c = visible(c, s);
        let opt = |v: Option<u64>| v.map_or("?".to_string(), count);
        Line::from(vec![
            Span::styled(
                format!(
                    "▸ pages {}–{}: ",
                    count(lo),
                    count(lo + c.pages.saturating_sub(1))
                ),
                t.value,
            ),
            Span::styled(
                format!(
                    "mapped {} · cached {} · touched {} · ghosts {}",
                    opt(c.mapped),
                    opt(c.cached),
                    count(c.touched),
                    opt(c.ghosts())
                ),
                t.label,
            ),
        ])
    }
}

/// The cell as the screen may show it: when the kernel hides page-cache state, cache counts
/// are dropped even if the sampler sent some (never draw a number we cannot trust).
fn visible(c: &CellCounts, s: &Snapshot) -> CellCounts {
    if s.observed.is_some() && s.caps.cache_state_visible {
        // Observing a program: its touches are not ours to count, so a cached page that is
        // not mapped cannot be called read ahead (it may have been touched and unmapped).
        CellCounts {
            earlier: c.cached.unwrap_or(0),
            ..*c
        }
    } else if s.caps.cache_state_visible {
        *c
    } else {
        CellCounts {
            cached: None,
            dirty: None,
            ..*c
        }
    }
}

impl Widget for Grid<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.is_empty() {
            return;
        }
        let t = self.theme;
        super::panel("Pages of the file", t).render(area, buf);
        let r = rows(area, self.snapshot, t);
        self.caption(r.caption.width).render(r.caption, buf);

        let g = &self.snapshot.grid;
        let ppc = g.pages_per_cell.max(1);
        let sel_idx = self
            .selected
            .and_then(|p| p.checked_sub(g.start_page))
            .map(|d| d / ppc);
        let fits = r.cells.width as usize * r.cells.height as usize;
        // Several workers: the selected one's own pages per cell (a replay may lack them).
        let mine = self
            .snapshot
            .grid_mine
            .as_ref()
            .filter(|m| m.len() == g.cells.len());
        for (i, c) in g.cells.iter().take(fits).enumerate() {
            let x = r.cells.x + (i % r.cells.width as usize) as u16;
            let y = r.cells.y + (i / r.cells.width as usize) as u16;
            let past_end = g
                .eof_page
                .is_some_and(|e| g.start_page + i as u64 * ppc >= e);
            let st = if past_end {
                CellState::PastEnd
            } else if self.snapshot.caps.cache_state_visible && c.cached.is_none() && c.pages > 0 {
                CellState::Unsampled
            } else {
                CellState::of_selected(&visible(c, self.snapshot), mine.map(|m| m[i]))
            };
            let mut style = t.cell(st);
            if sel_idx == Some(i as u64) {
                style = style.patch(t.selected);
            }
            if let Some(cell) = buf.cell_mut((x, y)) {
                cell.set_char(t.glyph(st)).set_style(style);
            }
        }

        let inner = Rect {
            x: area.x.saturating_add(1),
            y: area.y.saturating_add(1),
            width: area.width.saturating_sub(2),
            height: area.height.saturating_sub(2),
        };
        let legend = legend_for(self.snapshot, t, inner);
        for (i, line) in legend
            .into_iter()
            .take(r.legend.height as usize)
            .enumerate()
        {
            line.render(
                Rect {
                    y: r.legend.y + i as u16,
                    height: 1,
                    ..r.legend
                },
                buf,
            );
        }
        if r.info.height > 0 {
            self.info(r.info.width).render(r.info, buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::fixture::{fixture_grid, fixture_snapshot};
    use crate::tui::theme::{COLOR, MONO};
    use crate::tui::widgets::testing::{render, text};

    #[test]
    fn huge_cells_get_their_glyph_and_legend_entry() {
        let mut s = fixture_snapshot();
        let out = show(&s, 80, 30, None);
        assert!(!out.contains("huge (2 MiB PMD) mapping"), "{out}");
        for c in s.grid.cells.iter_mut().take(64) {
            c.huge = Some(c.pages);
            c.mapped = Some(c.pages);
            c.recent = 0;
        }
        let out = show(&s, 80, 30, None);
        assert!(out.contains("H huge (2 MiB PMD) mapping"), "{out}");
        assert!(out.contains("HHHH"), "{out}");
    }

    fn show(s: &Snapshot, w: u16, h: u16, selected: Option<u64>) -> String {
        text(&render(
            Grid {
                snapshot: s,
                theme: &COLOR,
                selected,
            },
            w,
            h,
        ))
    }

    #[test]
    fn draws_one_cell_per_grid_cell_with_caption_and_legend() {
        let mut s = fixture_snapshot();
        let area = Rect::new(0, 0, 66, 30);
        let cells = Grid::cells_area(area, &s, &COLOR);
        assert_eq!(cells.width, 64);
        s.grid = fixture_grid(0, 65536, u64::from(cells.width) * u64::from(cells.height));
        let out = show(&s, area.width, area.height, None);
        let ppc = s.grid.pages_per_cell;
        assert!(
            out.contains(&format!("1 cell = {ppc} pages = {} KiB", ppc * 4)),
            "{out}"
        );
        assert!(out.contains("pages 0–65,535 (whole file)"), "{out}");
        for st in [
            CellState::Mapped,
            CellState::Ghost,
            CellState::NotCached,
            CellState::Front,
        ] {
            assert!(out.contains(st.glyph()), "{st:?} glyph missing\n{out}");
            assert!(out.contains(st.label()), "{st:?} label missing\n{out}");
        }
        assert!(out.contains("minor fault (in RAM"), "{out}");
        assert!(out.contains("click a cell"), "{out}");
    }

    #[test]
    fn selected_cell_shows_its_pages() {
        let s = fixture_snapshot(); // 1024 cells of 64 pages
        let out = show(&s, 66, 40, Some(64 * 3 + 5));
        assert!(
            out.contains("▸ pages 192–255: mapped 64 · cached 64 · touched 64"),
            "{out}"
        );
    }

    #[test]
    fn hidden_cache_draws_no_cache_state() {
        let mut s = fixture_snapshot();
        s.caps.cache_state_visible = false;
        // Even if a sampler bug sent cache counts, none are drawn.
        let out = show(&s, 90, 40, Some(40_000));
        assert!(out.contains('?'), "{out}");
        assert!(!out.contains('░') && !out.contains('▒'), "{out}");
        assert!(out.contains("cache state hidden"), "{out}");
        assert!(out.contains("cached ? · touched 0 · ghosts ?"), "{out}");
    }

    #[test]
    fn mismatched_counts_and_tiny_areas_do_not_panic() {
        let mut s = fixture_snapshot();
        for (w, h) in [(0, 0), (1, 1), (2, 2), (3, 3), (10, 4), (200, 60)] {
            show(&s, w, h, Some(3));
        }
        s.grid.cells.truncate(5);
        let out = show(&s, 40, 12, None);
        let first_row = out.lines().nth(2).unwrap();
        assert!(first_row.starts_with("│█████ "), "{out}");
        s.grid = Default::default();
        s.file.pages = 0;
        let out = show(&s, 40, 12, None);
        assert!(out.contains("empty file"), "{out}");
    }

    #[test]
    fn the_short_legend_uses_the_themes_glyphs_and_is_never_cut_off() {
        use crate::tui::theme::PROJECTOR;
        let mut s = fixture_snapshot();
        s.grid_mine = Some(vec![0; s.grid.cells.len()]);
        // A short grid (80x24 with a side panel): the one-line legend, 42 columns wide.
        for (theme, w) in [(&COLOR, 44u16), (&PROJECTOR, 44), (&COLOR, 30)] {
            let out = text(&render(
                Grid {
                    snapshot: &s,
                    theme,
                    selected: None,
                },
                w,
                16,
            ));
            let other = theme.glyph(CellState::MappedOther);
            // Glyph and short label side by side appear only in the legend.
            let all = &out;
            for st in [CellState::Mapped, CellState::NotCached] {
                let want = format!("{}{}", theme.glyph(st), short_label(st));
                assert!(all.contains(&want), "{want} missing ({w} wide)\n{out}");
            }
            assert!(
                all.contains(&format!("{other}other")),
                "{other}other missing ({w} wide)\n{out}"
            );
            for l in out.lines() {
                assert!(
                    l.chars().count() <= w as usize && (!l.contains('│') || l.ends_with('│')),
                    "cut off: {l}\n{out}"
                );
            }
        }
    }

    #[test]
    fn mono_grid_still_tells_states_apart() {
        let s = fixture_snapshot();
        let buf = render(
            Grid {
                snapshot: &s,
                theme: &MONO,
                selected: None,
            },
            66,
            40,
        );
        let out = text(&buf);
        for st in [
            CellState::Mapped,
            CellState::Ghost,
            CellState::NotCached,
            CellState::Front,
        ] {
            assert!(out.contains(st.glyph()), "{st:?}");
        }
        assert!(buf
            .content
            .iter()
            .all(|c| c.fg == ratatui::style::Color::Reset));
    }
}
