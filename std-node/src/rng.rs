//! The operating system's randomness, as the `CryptoRng` that the core's key generation takes.

use rand_core::UnwrapErr;

/// The OS RNG (`getrandom`). A failing OS RNG is not recoverable for a node (no keys could be made), so
/// the rare failure aborts the operation with a panic rather than handing out weak bytes.
pub fn os_rng() -> UnwrapErr<getrandom::SysRng> {
    UnwrapErr(getrandom::SysRng)
}
