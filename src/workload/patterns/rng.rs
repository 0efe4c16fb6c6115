//! The few integer mixing functions the patterns draw from (no division, no floating point).

/// splitmix64 increment (2^64 / golden ratio); also spreads the step in Chase.
pub(super) const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// xorshift64* output multiplier.
pub(super) const XORSHIFT_MUL: u64 = 0x2545_F491_4F6C_DD1D;

/// Domain separators so the random stream, the hot-region position and the chase key are
/// independent even though they come from the same seed.
pub(super) const SALT_RNG: u64 = 0x6A09_E667_F3BC_C908;
pub(super) const SALT_HOT: u64 = 0xBB67_AE85_84CA_A73B;
pub(super) const SALT_CHASE: u64 = 0x3C6E_F372_FE94_F82B;

/// The splitmix64 finalizer: a bijection on u64 with full avalanche.
#[inline(always)]
pub(super) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Maps a uniform word onto `0..n` without a division (Lemire's multiply-shift).
#[inline(always)]
pub(super) fn reduce(x: u64, n: u64) -> u64 {
    ((x as u128 * n as u128) >> 64) as u64
}
