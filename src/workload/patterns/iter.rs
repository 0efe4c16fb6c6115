//! The offset iterator: a few words of precomputed state, one cheap draw per access.

use super::rng::*;
use super::{PatternKind, PatternParams};

/// Accesses in one pass of the patterns that never finish (Random, Hotset, Chase).
const UNBOUNDED_PASS: u64 = 100_000;

/// A deterministic stream of byte offsets for one [`PatternParams`].
///
/// `new` never panics, even on params that [`PatternParams::validate`] rejects: zero page
/// size, stride and access size are treated as 1 and the Hotset fractions are clamped.
#[derive(Clone, Debug)]
pub struct PatternIter {
    kind: PatternKind,
    file_size: u64,
    page_size: u64,
    /// Pages in the file, counting a partial last page.
    pages: u64,
    /// Largest offset with `offset + access_size <= file_size`.
    max_off: u64,
    /// Number of valid offsets, `max_off + 1` (the range for uniform draws).
    span: u64,
    one_pass: u64,
    step: u64,
    /// Sequential / Reverse / Scan: byte offset of the current page start.
    off: u64,
    /// Reverse: start of the last page, where it wraps to.
    last_page_off: u64,
    /// Stride: current page, pass number, pass count (min(stride, pages)) and stride.
    cur: u64,
    phase: u64,
    phases: u64,
    stride: u64,
    /// Random / Hotset: xorshift64* state, never 0.
    rng: u64,
    /// Hotset: hot offsets are `hot_lo + reduce(x, hot_span)`; hot when `x < hot_threshold`.
    hot_lo: u64,
    hot_span: u64,
    hot_threshold: u64,
    hot_range: Option<(u64, u64)>,
    /// Chase: seed-derived key mixed with step and the previous read.
    chase_key: u64,
    /// Bsearch: seed, record count, lookups begun, and the current lookup's target and
    /// remaining record range `[lo, hi)` (empty: the next draw begins a new lookup).
    bs_seed: u64,
    bs_records: u64,
    bs_lookups: u64,
    bs_target: u64,
    bs_lo: u64,
    bs_hi: u64,
}

/// Runs `$body` with `$k` bound to the iterator's kind as a constant, so the per-access
/// `match` in `next_as` folds away and each pattern gets its own tight loop.
macro_rules! per_kind {
    ($self:ident, $k:ident => $body:block) => {
        match $self.kind {
            PatternKind::Sequential => {
                const $k: PatternKind = PatternKind::Sequential;
                $body
            }
            PatternKind::Reverse => {
                const $k: PatternKind = PatternKind::Reverse;
                $body
            }
            PatternKind::Stride => {
                const $k: PatternKind = PatternKind::Stride;
                $body
            }
            PatternKind::Random => {
                const $k: PatternKind = PatternKind::Random;
                $body
            }
            PatternKind::Hotset => {
                const $k: PatternKind = PatternKind::Hotset;
                $body
            }
            PatternKind::Chase => {
                const $k: PatternKind = PatternKind::Chase;
                $body
            }
            PatternKind::Scan => {
                const $k: PatternKind = PatternKind::Scan;
                $body
            }
            PatternKind::Grep => {
                const $k: PatternKind = PatternKind::Grep;
                $body
            }
            PatternKind::Bsearch => {
                const $k: PatternKind = PatternKind::Bsearch;
                $body
            }
        }
    };
}

impl PatternIter {
    pub fn new(p: &PatternParams) -> PatternIter {
        let page_size = p.page_size.max(1);
        let access_size = p.access_size.max(1);
        let file_size = p.file_size;
        let pages = file_size.div_ceil(page_size);
        let max_off = file_size.saturating_sub(access_size);
        // max_off <= u64::MAX - 1 because access_size >= 1, so this cannot overflow.
        let span = max_off + 1;
        // (pages - 1) * page_size < file_size, so no page start overflows.
        let last_page_off = pages.saturating_sub(1) * page_size;
        let stride = p.stride_pages.max(1);

        let one_pass = if pages == 0 {
            0
        } else if p.kind.is_streaming() {
            pages
        } else {
            UNBOUNDED_PASS
        };

        let mut rng = mix64(p.seed.wrapping_add(SALT_RNG));
        if rng == 0 {
            // xorshift has the all-zero fixed point; mix64 maps exactly one seed here.
            rng = GOLDEN;
        }

        let (hot_lo, hot_span, hot_threshold, hot_range) = if p.kind == PatternKind::Hotset {
            Self::hot_setup(p, page_size, pages, access_size, max_off)
        } else {
            (0, span, 0, None)
        };

        PatternIter {
            kind: p.kind,
            file_size,
            page_size,
            pages,
            max_off,
            span,
            one_pass,
            step: 0,
            off: if p.kind == PatternKind::Reverse {
                last_page_off
            } else {
                0
            },
            last_page_off,
            cur: 0,
            phase: 0,
            phases: stride.min(pages).max(1),
            stride,
            rng,
            hot_lo,
            hot_span,
            hot_threshold,
            hot_range,
            chase_key: mix64(p.seed ^ SALT_CHASE),
            bs_seed: p.seed,
            bs_records: super::bsearch::records(file_size),
            bs_lookups: 0,
            bs_target: 0,
            bs_lo: 0,
            bs_hi: 0,
        }
    }

    /// Precomputes the hot region so the hot loop needs no floating point.
    fn hot_setup(
        p: &PatternParams,
        page_size: u64,
        pages: u64,
        access_size: u64,
        max_off: u64,
    ) -> (u64, u64, u64, Option<(u64, u64)>) {
        let frac = if p.hot_fraction.is_nan() {
            PatternParams::DEFAULT_HOT_FRACTION
        } else {
            p.hot_fraction.clamp(0.0, 1.0)
        };
        let share = if p.hot_share.is_nan() {
            PatternParams::DEFAULT_HOT_SHARE
        } else {
            p.hot_share.clamp(0.0, 1.0)
        };
        // Rounded, not ceiled: 0.1 * 1000 pages must be 100 pages, not 101 from FP noise.
        let hot_pages = ((frac * pages as f64).round() as u64).clamp(1, pages.max(1));
        let slots = pages.saturating_sub(hot_pages) + 1;
        let start_page = reduce(mix64(p.seed ^ SALT_HOT), slots);
        let start = start_page * page_size;
        // The last hot page may be the file's partial last page.
        let end = start
            .saturating_add(hot_pages.saturating_mul(page_size))
            .min(p.file_size);
        // Keep hot accesses inside both the hot region and the file; if an access is longer
        // than the region, it starts at the region start (still inside the file).
        let lo = start.min(max_off);
        let hi = end.saturating_sub(access_size).min(max_off).max(lo);
        // `as u64` saturates, so a share of 1.0 becomes u64::MAX (hot with p = 1 - 2^-64).
        let threshold = (share * 18_446_744_073_709_551_616.0) as u64;
        (lo, hi - lo + 1, threshold, Some((start, end)))
    }

    /// Byte offset of the next access. `last` is a value folded from the bytes the previous
    /// access read (0 for the first); only Chase uses it.
    #[inline(always)]
    pub fn next_offset(&mut self, last: u64) -> u64 {
        self.next_as(self.kind, last)
    }

    /// Fills `slots` with the next `slots.len()` offsets, calling `access(offset)` for each
    /// right after drawing it; its return value is the `last` of the next draw (Chase). The
    /// match on the pattern kind happens once per batch, not per access, so the loop the
    /// compiler emits is as tight as a hand-written one for that pattern. Returns the last
    /// value `access` returned.
    #[inline(always)]
    pub fn drive(
        &mut self,
        slots: &mut [u64],
        mut last: u64,
        mut access: impl FnMut(u64) -> u64,
    ) -> u64 {
        per_kind!(self, K => {
            for slot in slots.iter_mut() {
                let off = self.next_as(K, last);
                *slot = off;
                last = access(off);
            }
        });
        last
    }

    /// Like [`drive`](Self::drive) without recording the offsets: `n` accesses, nothing
    /// stored per access. The worker times this loop and recovers the offsets afterwards by
    /// replaying a clone of the iterator (patterns other than Chase ignore `last`).
    #[inline(always)]
    pub fn drive_n(&mut self, n: usize, mut last: u64, mut access: impl FnMut(u64) -> u64) -> u64 {
        per_kind!(self, K => {
            for _ in 0..n {
                let off = self.next_as(K, last);
                last = access(off);
            }
        });
        last
    }

    /// The pattern this iterator draws.
    pub fn kind(&self) -> PatternKind {
        self.kind
    }

    /// `next_offset` for a kind known at the call site (constant-folds the match).
    #[inline(always)]
    fn next_as(&mut self, kind: PatternKind, last: u64) -> u64 {
        let step = self.step;
        self.step = step.wrapping_add(1);
        match kind {
            PatternKind::Sequential => self.next_forward().min(self.max_off),
            // Scan reads whole pages, so it returns the page start regardless of access size.
            // Grep is not an offset iterator (the worker runs the regex in its own mode); as
            // offsets it is the order it reads pages in, like Scan.
            PatternKind::Scan | PatternKind::Grep => self.next_forward(),
            PatternKind::Bsearch => {
                if self.bs_lo >= self.bs_hi {
                    self.bs_target =
                        super::bsearch::target(self.bs_seed, self.bs_lookups, self.bs_records);
                    self.bs_lookups += 1;
                    self.bs_lo = 0;
                    self.bs_hi = self.bs_records;
                }
                let (mid, lo, hi) = super::bsearch::probe(self.bs_lo, self.bs_hi, self.bs_target);
                self.bs_lo = lo;
                self.bs_hi = hi;
                (mid * super::bsearch::RECORD_SIZE).min(self.max_off)
            }
            PatternKind::Reverse => {
                let off = self.off;
                // Page starts are multiples of page_size, so `off < page_size` means page 0.
                self.off = if off >= self.page_size {
                    off - self.page_size
                } else {
                    self.last_page_off
                };
                off.min(self.max_off)
            }
            PatternKind::Stride => {
                let cur = self.cur;
                let next = cur.saturating_add(self.stride);
                if next < self.pages {
                    self.cur = next;
                } else {
                    // Next pass starts one page further; passes past min(stride, pages)
                    // would be empty, so it wraps there.
                    let ph = self.phase + 1;
                    self.phase = if ph >= self.phases { 0 } else { ph };
                    self.cur = self.phase;
                }
                (cur * self.page_size).min(self.max_off)
            }
            PatternKind::Random => reduce(self.next_rand(), self.span),
            PatternKind::Hotset => {
                let hot = self.next_rand() < self.hot_threshold;
                let x = self.next_rand();
                // Selects rather than branches: the hot/cold choice is unpredictable.
                let (base, n) = if hot {
                    (self.hot_lo, self.hot_span)
                } else {
                    (0, self.span)
                };
                base + reduce(x, n)
            }
            PatternKind::Chase => {
                let h = mix64(self.chase_key ^ step.wrapping_mul(GOLDEN) ^ last);
                reduce(h, self.span)
            }
        }
    }

    /// Current page start, then advance one page, wrapping after the last page.
    #[inline(always)]
    fn next_forward(&mut self) -> u64 {
        let off = self.off;
        // Written as a difference so a file_size near u64::MAX cannot overflow `off + page`.
        self.off = if self.file_size - off > self.page_size {
            off + self.page_size
        } else {
            0
        };
        off
    }

    /// xorshift64*: a few cycles, good enough for picking pages.
    #[inline(always)]
    fn next_rand(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(XORSHIFT_MUL)
    }

    /// Accesses in one pass: the page count for streaming patterns, 100 000 otherwise, and 0
    /// for an empty file.
    pub fn one_pass(&self) -> u64 {
        self.one_pass
    }

    /// For Hotset: the hot byte range `(start, end)`, half-open; None otherwise.
    pub fn hot_range(&self) -> Option<(u64, u64)> {
        self.hot_range
    }

    /// Bsearch: lookups begun so far (each ends on the record it looked for).
    pub fn lookups(&self) -> u64 {
        self.bs_lookups
    }

    /// Accesses produced so far.
    pub fn step(&self) -> u64 {
        self.step
    }
}
