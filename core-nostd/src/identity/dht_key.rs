use core::fmt;

use crate::codec::{Decode, DecodeError, Encode, EncodeError, Reader, Writer};

/// A position in the 256-bit DHT key space: of a peer, a record or a provider entry.
///
/// Always the output of a BLAKE3 derivation under a purpose-specific context, so keys of different kinds
/// never collide by construction.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DhtKey(pub [u8; 32]);

impl DhtKey {
    /// The raw key.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The first four bytes, as a number: the top 32 bits of the distance to another key are
    /// `a.head() ^ b.head()`, enough to refuse most keys in a nearest-first selection.
    pub(crate) fn head(&self) -> u32 {
        let [a, b, c, d, ..] = self.0;
        u32::from_be_bytes([a, b, c, d])
    }

    /// The Kademlia XOR distance to `other`, as a big-endian 256-bit number.
    pub fn distance(&self, other: &DhtKey) -> [u8; 32] {
        let mut d = [0u8; 32];
        for (out, (a, b)) in d.iter_mut().zip(self.0.iter().zip(other.0.iter())) {
            *out = a ^ b;
        }
        d
    }

    /// The XOR distance to `other` as four big-endian words: ordered as [`Self::distance`] is, and
    /// compared a word at a time (lookups and tables compare distances in their inner loops).
    pub fn distance_words(&self, other: &DhtKey) -> [u64; 4] {
        let mut d = [0u64; 4];
        for (i, w) in d.iter_mut().enumerate() {
            let mut a = [0u8; 8];
            let mut b = [0u8; 8];
            if let (Some(x), Some(y)) =
                (self.0.get(i * 8..i * 8 + 8), other.0.get(i * 8..i * 8 + 8))
            {
                a.copy_from_slice(x);
                b.copy_from_slice(y);
            }
            *w = u64::from_be_bytes(a) ^ u64::from_be_bytes(b);
        }
        d
    }
}

impl fmt::Debug for DhtKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DhtKey(")?;
        for b in &self.0[..8] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…)")
    }
}

impl Encode for DhtKey {
    fn encoded_len(&self) -> usize {
        32
    }
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_bytes(&self.0)
    }
}

impl<'a> Decode<'a> for DhtKey {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(DhtKey(r.array()?))
    }
}
