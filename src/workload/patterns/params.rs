//! The parameters that determine a pattern's offsets, and their validation.

use super::PatternKind;

/// Everything that determines the offsets a pattern produces.
#[derive(Clone, Debug, PartialEq)]
pub struct PatternParams {
    pub kind: PatternKind,
    pub seed: u64,
    /// Bytes; may be 0 or huge (1 TiB+).
    pub file_size: u64,
    /// From `units::page_size()`, never a literal.
    pub page_size: u64,
    /// Bytes read per access (>= 1); ignored by Scan, where one access is one page.
    pub access_size: u64,
    /// Pages between two accesses of Stride.
    pub stride_pages: u64,
    /// Hotset: fraction of the file that is hot, in (0, 1].
    pub hot_fraction: f64,
    /// Hotset: fraction of accesses that go to the hot region, in [0, 1].
    pub hot_share: f64,
}

impl PatternParams {
    pub const DEFAULT_STRIDE_PAGES: u64 = 16;
    pub const DEFAULT_HOT_FRACTION: f64 = 0.1;
    pub const DEFAULT_HOT_SHARE: f64 = 0.9;

    pub fn new(kind: PatternKind, file_size: u64, page_size: u64) -> Self {
        PatternParams {
            kind,
            seed: 1,
            file_size,
            page_size,
            access_size: 1,
            stride_pages: Self::DEFAULT_STRIDE_PAGES,
            hot_fraction: Self::DEFAULT_HOT_FRACTION,
            hot_share: Self::DEFAULT_HOT_SHARE,
        }
    }

    /// Checks every field, whatever the kind, so a bad value is reported when it is given
    /// rather than later when the user switches to the pattern that reads it.
    pub fn validate(&self) -> Result<(), String> {
        if self.page_size == 0 || !self.page_size.is_power_of_two() {
            return Err(format!(
                "page size {} is not a power of two",
                self.page_size
            ));
        }
        if self.file_size == 0 {
            return Err("the file is empty (0 bytes): there is nothing to access".into());
        }
        if self.access_size == 0 {
            return Err("access size must be at least 1 byte".into());
        }
        if self.access_size > self.file_size {
            return Err(format!(
                "access size {} is larger than the file ({} bytes)",
                self.access_size, self.file_size
            ));
        }
        if self.stride_pages == 0 {
            return Err("stride must be at least 1 page".into());
        }
        // Written as negations so NaN is rejected too.
        if !(self.hot_fraction > 0.0 && self.hot_fraction <= 1.0) {
            return Err(format!(
                "hot fraction {} is out of range (0, 1]",
                self.hot_fraction
            ));
        }
        if !(self.hot_share >= 0.0 && self.hot_share <= 1.0) {
            return Err(format!(
                "hot share {} is out of range [0, 1]",
                self.hot_share
            ));
        }
        Ok(())
    }
}
