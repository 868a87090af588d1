//! The textual form of gofast identifiers: bech32m (BIP 350) with a human-readable prefix per kind.
//!
//! Bech32m's checksum is guaranteed to detect any error in up to four characters of a string of at most
//! 90 characters, which covers peer ids (62 characters), and misses any other error with probability about
//! 2^-30; so a mistyped id is refused instead of naming someone else. Block references are 113 characters:
//! beyond BIP 173's 90-character convention (as BOLT 11 invoices are), so they keep the 2^-30 bound but not
//! the four-character guarantee, and decoders in other languages must not enforce the 90-character limit.
//! The prefix names the kind (`gfp` for a peer, `gfb` for a block reference), so pasting one kind where
//! another belongs is an error too. Encodings are canonical: lowercase, zero padding bits; parsing accepts
//! all-uppercase too.

use bech32::primitives::decode::{CheckedHrpstring, CheckedHrpstringError, ChecksumError};
use bech32::{Bech32m, ByteIterExt, Fe32IterExt, Hrp};
use core::fmt;

/// Why a text could not be read as an identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TextError {
    /// Not bech32m text: a character outside the alphabet, mixed case, no `1` separator, or too long.
    InvalidEncoding,
    /// The checksum does not match: a character was mistyped, dropped or swapped.
    BadChecksum,
    /// The text is an identifier of another kind.
    WrongKind {
        /// The prefix this kind uses.
        expected: &'static str,
    },
    /// The data part has the wrong length for this kind.
    WrongLength,
    /// Padding bits are not zero: the text is not the canonical form of any identifier.
    NonCanonical,
}

impl fmt::Display for TextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TextError::InvalidEncoding => {
                f.write_str("not a gofast identifier (bech32m text expected)")
            }
            TextError::BadChecksum => {
                f.write_str("checksum mismatch: the identifier was mistyped or damaged")
            }
            TextError::WrongKind { expected } => {
                write!(
                    f,
                    "an identifier of another kind (expected one starting with `{expected}1`)"
                )
            }
            TextError::WrongLength => f.write_str("the identifier has the wrong length"),
            TextError::NonCanonical => f.write_str("the identifier is not in canonical form"),
        }
    }
}

impl core::error::Error for TextError {}

/// Longest text [`write`] makes: a 64-byte identifier (113 characters) and room to spare.
const MAX_TEXT: usize = 128;

/// Writes `data` (at most 64 bytes) as lowercase bech32m under `hrp`: the text of [`encode`], so
/// `Display` and the fmt-free forms cannot differ. The text may be a secret (a capability): its
/// buffer is wiped.
pub(crate) fn write(f: &mut impl fmt::Write, hrp: &'static str, data: &[u8]) -> fmt::Result {
    let mut buf = zeroize::Zeroizing::new([0u8; MAX_TEXT]);
    f.write_str(encode(buf.as_mut_slice(), hrp, data).ok_or(fmt::Error)?)
}

/// Writes `data` as lowercase bech32m under `hrp` into `out` without `core::fmt` (a
/// microcontroller's flash has no room for the formatting machinery): the text, or `None` when
/// `out` is too short.
pub(crate) fn encode<'o>(out: &'o mut [u8], hrp: &'static str, data: &[u8]) -> Option<&'o str> {
    let hrp = Hrp::parse_unchecked(hrp);
    let mut n = 0;
    for c in data
        .iter()
        .copied()
        .bytes_to_fes()
        .with_checksum::<Bech32m>(&hrp)
        .chars()
    {
        // Bech32 characters are ASCII: one byte each.
        *out.get_mut(n)? = u8::try_from(c).ok()?;
        n += 1;
    }
    core::str::from_utf8(out.get(..n)?).ok()
}

/// Reads `N` bytes encoded as bech32m under `hrp`.
pub(crate) fn read<const N: usize>(hrp: &'static str, text: &str) -> Result<[u8; N], TextError> {
    let checked = CheckedHrpstring::new::<Bech32m>(text).map_err(|e| match e {
        // Only a wrong residue means "a character was mistyped"; too short or too long is malformed.
        CheckedHrpstringError::Checksum(ChecksumError::InvalidResidue(_)) => TextError::BadChecksum,
        _ => TextError::InvalidEncoding,
    })?;
    if !checked.hrp().as_str().eq_ignore_ascii_case(hrp) {
        return Err(TextError::WrongKind { expected: hrp });
    }
    // 5-bit groups needed for N bytes, rounded up.
    if checked.data_part_ascii_no_checksum().len() != (N * 8).div_ceil(5) {
        return Err(TextError::WrongLength);
    }
    checked
        .validate_segwit_padding()
        .map_err(|_| TextError::NonCanonical)?;
    let mut out = [0u8; N];
    let mut bytes = checked.byte_iter();
    for slot in out.iter_mut() {
        *slot = bytes.next().ok_or(TextError::WrongLength)?;
    }
    if bytes.next().is_some() {
        return Err(TextError::WrongLength);
    }
    Ok(out)
}
