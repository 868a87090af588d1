//! The sensor the publisher reads. Under QEMU there is none: a deterministic synthetic one stands in,
//! a temperature that follows a slow triangle wave from the reading's number, so a run's readings are
//! the same every time and a host test can recompute them. A real board reads its own.

/// Longest reading text.
pub(crate) const MAX_READING: usize = 32;

/// The reading of number `n` (from 1): `"t=21.37C"`, between 18.00 and 26.00 degrees.
pub(crate) fn synthetic_reading(n: u64) -> heapless::String<MAX_READING> {
    // A triangle wave of period 64 readings, 800 hundredths of a degree high.
    let phase = n % 64;
    let rise = if phase < 32 { phase } else { 64 - phase };
    let centi = 1800 + rise * 25;
    let mut s = heapless::String::new();
    // At most 12 bytes: it fits. Written by hand: `write!` would link `core::fmt` (kilobytes of
    // flash) for this one line.
    let _ = s.push_str("t=");
    push_decimal(&mut s, centi / 100, 1);
    let _ = s.push('.');
    push_decimal(&mut s, centi % 100, 2);
    let _ = s.push('C');
    s
}

/// `n` in decimal, with leading zeros to `width` digits.
fn push_decimal(s: &mut heapless::String<MAX_READING>, n: u64, width: usize) {
    let mut digits = [0u8; 20];
    let (mut n, mut len) = (n, 0);
    while n > 0 || len < width {
        if let Some(d) = digits.get_mut(len) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        len += 1;
    }
    for d in digits.iter().take(len).rev() {
        let _ = s.push(char::from(*d));
    }
}
