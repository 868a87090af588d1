use core::fmt;

/// Why bytes could not be decoded. Every variant names what was wrong; none carries the input itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before a field did.
    UnexpectedEnd {
        /// Bytes the field needed.
        needed: usize,
        /// Bytes that were left.
        remaining: usize,
    },
    /// A value decoded completely but bytes were left after it.
    TrailingBytes {
        /// How many.
        extra: usize,
    },
    /// A length prefix exceeds the field's maximum.
    LengthTooLarge {
        /// The field, as named in the spec.
        field: &'static str,
        /// The field's maximum.
        max: usize,
        /// The length found.
        found: usize,
    },
    /// A message header carries a format version this build does not speak.
    UnsupportedVersion {
        /// The version byte found.
        version: u8,
    },
    /// A message header names another message type than the one expected.
    UnexpectedMessageType {
        /// The type expected here.
        expected: u8,
        /// The type found.
        found: u8,
    },
    /// An enumeration byte has no meaning.
    InvalidTag {
        /// The field, as named in the spec.
        field: &'static str,
        /// The byte found.
        tag: u8,
    },
    /// A field decoded but breaks a rule of the format (a zero where none is allowed, a sum that
    /// overflows, a public key that is not a curve point, ...).
    InvalidValue {
        /// The field, as named in the spec.
        field: &'static str,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// A signed value's signature does not verify.
    BadSignature,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::UnexpectedEnd { needed, remaining } => {
                write!(
                    f,
                    "input ends early: a field needs {needed} bytes, {remaining} are left"
                )
            }
            DecodeError::TrailingBytes { extra } => {
                write!(f, "{extra} unexpected bytes after the value")
            }
            DecodeError::LengthTooLarge { field, max, found } => {
                write!(f, "`{field}` is {found} bytes long, the maximum is {max}")
            }
            DecodeError::UnsupportedVersion { version } => {
                write!(
                    f,
                    "format version {version} is not supported (this build speaks {})",
                    super::FORMAT_VERSION
                )
            }
            DecodeError::UnexpectedMessageType { expected, found } => {
                write!(
                    f,
                    "expected message type {expected:#04x}, found {found:#04x}"
                )
            }
            DecodeError::InvalidTag { field, tag } => {
                write!(f, "`{field}` has no meaning for byte {tag:#04x}")
            }
            DecodeError::InvalidValue { field, reason } => {
                write!(f, "`{field}` is invalid: {reason}")
            }
            DecodeError::BadSignature => f.write_str("the signature does not verify"),
        }
    }
}

impl core::error::Error for DecodeError {}

/// Why a value could not be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum EncodeError {
    /// The output buffer is too small.
    BufferTooSmall {
        /// Bytes the next field needed.
        needed: usize,
        /// Bytes left in the buffer.
        available: usize,
    },
    /// A variable-length field is longer than its length prefix or its maximum allows.
    TooLong {
        /// The field's maximum.
        max: usize,
        /// The field's length.
        len: usize,
    },
    /// The value breaks a rule of its format that its type cannot enforce (an empty list where the
    /// format requires one entry or more), so a decoder would refuse it; nothing is encoded.
    InvalidValue {
        /// The field, as named in the spec.
        field: &'static str,
        /// The rule it breaks.
        reason: &'static str,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::BufferTooSmall { needed, available } => {
                write!(
                    f,
                    "output buffer too small: {needed} bytes needed, {available} available"
                )
            }
            EncodeError::TooLong { max, len } => {
                write!(f, "field of {len} bytes exceeds its maximum of {max}")
            }
            EncodeError::InvalidValue { field, reason } => {
                write!(f, "`{field}` cannot be encoded: {reason}")
            }
        }
    }
}

impl core::error::Error for EncodeError {}
