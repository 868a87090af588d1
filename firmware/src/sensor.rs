//! The sensor the publisher reads. Under QEMU there is none: a deterministic synthetic one stands in,
//! a temperature that follows a slow triangle wave from the reading's number, so a run's readings are
//! the same every time and a host test can recompute them. A real board reads its own.

use core::fmt::Write as _;

/// Longest reading text.
pub(crate) const MAX_READING: usize = 32;

/// The reading of number `n` (from 1): `"t=21.37C"`, between 18.00 and 26.00 degrees.
pub(crate) fn synthetic_reading(n: u64) -> heapless::String<MAX_READING> {
    // A triangle wave of period 64 readings, 800 hundredths of a degree high.
    let phase = n % 64;
    let rise = if phase < 32 { phase } else { 64 - phase };
    let centi = 1800 + rise * 25;
    let mut s = heapless::String::new();
    // At most 12 bytes: it fits.
    let _ = write!(s, "t={}.{:02}C", centi / 100, centi % 100);
    s
}
