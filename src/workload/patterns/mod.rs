//! Access patterns: deterministic iterators of byte offsets for a given seed.
//!
//! The worker calls [`PatternIter::next_offset`] in its hot loop, so an iterator holds only a
//! few words of precomputed state: no allocation proportional to the file (files may be 1 TiB
//! or more), no division and no floating point per access.

pub mod bsearch;
pub mod grep;
mod iter;
mod kind;
mod params;
mod rng;

pub use iter::PatternIter;
pub use kind::PatternKind;
pub use params::PatternParams;

#[cfg(test)]
mod tests;
