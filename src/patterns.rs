//! Access patterns: deterministic iterators of byte offsets for a given seed.
//!
//! (Being written: see the API below. The worker calls `next_offset` in its hot loop.)

use serde::{Deserialize, Serialize};

/// The access patterns, in key order (`1`..`7` in the TUI).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PatternKind {
    #[default]
    Sequential,
    Reverse,
    Stride,
    Random,
    Hotset,
    Chase,
    Scan,
}
