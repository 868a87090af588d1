use core::fmt;

/// Why a Noise operation failed. A handshake that returned an error must not be used further (the
/// session layer keeps a copy of the state from before the message to go on from).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum NoiseError {
    /// A message ended before the fields its pattern requires.
    Truncated,
    /// A message is longer than Noise allows, or than the output buffer holds.
    BufferTooSmall,
    /// A decryption failed: wrong keys, altered bytes, or a different transcript (prologue, payloads).
    Decrypt,
    /// A DH produced all zeros: the peer sent a small-order key.
    NonContributory,
    /// The pattern needs a key that was not supplied (a static key, or the responder's static key for
    /// IK).
    MissingKey,
    /// It is the other side's turn, or the handshake is already over, or not over yet.
    WrongTurn,
    /// The nonce counter is exhausted (2^64 - 1 messages); the key must not be used again.
    NonceExhausted,
    /// The protocol name is longer than this implementation's buffer.
    NameTooLong,
}

impl fmt::Display for NoiseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NoiseError::Truncated => "noise message truncated",
            NoiseError::BufferTooSmall => "noise message too long for the buffer",
            NoiseError::Decrypt => "noise message failed to decrypt",
            NoiseError::NonContributory => "peer sent a small-order key",
            NoiseError::MissingKey => "noise pattern needs a key that was not supplied",
            NoiseError::WrongTurn => "noise message out of turn",
            NoiseError::NonceExhausted => "noise nonce exhausted",
            NoiseError::NameTooLong => "noise protocol name too long",
        })
    }
}

impl core::error::Error for NoiseError {}
