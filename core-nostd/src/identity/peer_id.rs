use core::fmt;
use core::str::FromStr;

use super::DhtKey;
use crate::TextError;
use crate::codec::{
    Decode, DecodeError, Encode, EncodeError, Message, MessageType, Reader, Writer,
};
use crate::crypto::hash::derive_public;
use crate::crypto::sign::{PUBLIC_KEY_LEN, Signature, SignatureError, VerifyingKey};
use crate::crypto::{KdfContext, SignatureDomain};
use crate::text;

/// The human-readable prefix of a peer id's text form.
pub const PEER_ID_PREFIX: &str = "gfp";

/// A peer's public identity: its Ed25519 public key, validated (a curve point of large order).
///
/// In text it is bech32m with the prefix `gfp`, e.g. `gfp1…` (62 characters); a mistyped character is
/// detected by the checksum.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PeerId([u8; PUBLIC_KEY_LEN]);

impl PeerId {
    /// Validates `bytes` as an Ed25519 public key and wraps it.
    pub fn from_bytes(bytes: &[u8; PUBLIC_KEY_LEN]) -> Result<Self, SignatureError> {
        VerifyingKey::from_bytes(bytes)?;
        Ok(PeerId(*bytes))
    }

    pub(crate) fn from_verifying_key(key: &VerifyingKey) -> Self {
        PeerId(key.to_bytes())
    }

    /// The public key bytes.
    pub const fn as_bytes(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.0
    }

    /// The first four bytes, as a number: tables scan these to find a peer before comparing whole
    /// ids.
    pub(crate) fn head(&self) -> u32 {
        let [a, b, c, d, ..] = self.0;
        u32::from_be_bytes([a, b, c, d])
    }

    /// The peer's position in the DHT: `BLAKE3-derive_key("… peer dht key", public key)`.
    pub fn dht_key(&self) -> DhtKey {
        DhtKey(derive_public(KdfContext::PeerDhtKey, &self.0))
    }

    /// Verifies that this peer signed `domain || message`.
    pub fn verify(
        &self,
        domain: SignatureDomain,
        message: &[u8],
        signature: &Signature,
    ) -> Result<(), SignatureError> {
        // The bytes were validated when this PeerId was made, so this cannot fail on the key.
        VerifyingKey::from_validated_bytes(&self.0)?.verify(domain, message, signature)
    }

    /// The X25519 public key of this peer's secure sessions: the same curve point in Montgomery form.
    pub fn x25519_public(&self) -> crate::crypto::x25519::X25519Public {
        // The bytes were validated (canonical, prime order) when this PeerId was made; only the
        // decompression is needed, not the subgroup check again.
        match VerifyingKey::from_validated_bytes(&self.0) {
            Ok(key) => key.to_x25519(),
            // Unreachable: a PeerId is only made from a validated key. The all-zero key is refused by
            // every X25519 operation, so the fallback fails closed.
            Err(_) => crate::crypto::x25519::X25519Public([0; 32]),
        }
    }

    /// The work in this identity (S/Kademlia's static puzzle): the number of leading zero bits of
    /// `derive("… peer work", public key)`. A network may refuse peers below a difficulty, so that
    /// identities (and their DHT positions) cost `2^difficulty` key generations each.
    pub fn work_bits(&self) -> u8 {
        let h = derive_public(KdfContext::PeerWork, &self.0);
        let mut bits = 0u32;
        for byte in h {
            bits += byte.leading_zeros();
            if byte != 0 {
                break;
            }
        }
        u8::try_from(bits).unwrap_or(u8::MAX)
    }

    /// Characters of the text form (`gfp1…`).
    pub const TEXT_LEN: usize = 62;

    /// The text form written into `out`: what `Display` writes, without `core::fmt`.
    pub fn to_text<'o>(&self, out: &'o mut [u8; Self::TEXT_LEN]) -> &'o str {
        // `out` holds exactly the text (a test checks the length): never the empty fallback.
        text::encode(out, PEER_ID_PREFIX, &self.0).unwrap_or_default()
    }

    /// A short form for logs and tables: the first 12 characters of the text form.
    pub const fn short(&self) -> ShortPeerId<'_> {
        ShortPeerId(self)
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        text::write(f, PEER_ID_PREFIX, &self.0)
    }
}

impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PeerId({self})")
    }
}

/// Parse errors of a peer id's text form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PeerIdParseError {
    /// The text is not a well-formed peer id.
    Text(TextError),
    /// The text is well-formed but the key in it is not a usable Ed25519 public key.
    Key(SignatureError),
}

impl fmt::Display for PeerIdParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerIdParseError::Text(e) => write!(f, "invalid peer id: {e}"),
            PeerIdParseError::Key(e) => write!(f, "invalid peer id: {e}"),
        }
    }
}

impl core::error::Error for PeerIdParseError {}

impl FromStr for PeerId {
    type Err = PeerIdParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes =
            text::read::<PUBLIC_KEY_LEN>(PEER_ID_PREFIX, s).map_err(PeerIdParseError::Text)?;
        PeerId::from_bytes(&bytes).map_err(PeerIdParseError::Key)
    }
}

/// The first 12 characters of a peer id's text form (`gfp1` and 8 more), for logs.
#[derive(Clone, Copy)]
pub struct ShortPeerId<'a>(&'a PeerId);

impl fmt::Display for ShortPeerId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Truncate<'f, 'g> {
            f: &'f mut fmt::Formatter<'g>,
            left: usize,
        }
        impl fmt::Write for Truncate<'_, '_> {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                // bech32 text is ASCII, so byte positions are character positions.
                let n = s.len().min(self.left);
                self.left -= n;
                self.f.write_str(s.get(..n).unwrap_or(""))
            }
        }
        text::write(&mut Truncate { f, left: 12 }, PEER_ID_PREFIX, &self.0.0)?;
        f.write_str("…")
    }
}

impl fmt::Debug for ShortPeerId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Encode for PeerId {
    fn encoded_len(&self) -> usize {
        PUBLIC_KEY_LEN
    }
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_bytes(&self.0)
    }
}

impl<'a> Decode<'a> for PeerId {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        PeerId::from_bytes(&r.array()?).map_err(|_| DecodeError::InvalidValue {
            field: "peer_id",
            reason: "not a valid Ed25519 public key of large order",
        })
    }
}

impl Message for PeerId {
    const TYPE: MessageType = MessageType::PeerId;
}
