use core::fmt;
use core::str::FromStr;

use crate::TextError;
use crate::codec::{
    Decode, DecodeError, Encode, EncodeError, Message, MessageType, Reader, Writer,
};
use crate::crypto::SecretBytes;
use crate::text;

/// The human-readable prefix of a block reference's text form.
pub const BLOCK_REF_PREFIX: &str = "gfb";

/// The address of a block: the BLAKE3 hash of its ciphertext. Public; anyone can check it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BlockId(pub [u8; 32]);

/// The key that decrypts one block. Secret: holding it is the right to read the block.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BlockKey(pub SecretBytes<32>);

/// A reference to a block: where it is and how to read it. Copying a `BlockRef` grants read access, so it
/// has no `Display`; [`BlockRef::display_capability`] is the deliberate way to print one.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BlockRef {
    /// The block's id.
    pub id: BlockId,
    /// The block's key.
    pub key: BlockKey,
}

impl BlockId {
    /// The raw hash.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlockId(")?;
        for b in &self.0[..8] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…)")
    }
}

impl fmt::Debug for BlockRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockRef")
            .field("id", &self.id)
            .field("key", &self.key)
            .finish()
    }
}

impl BlockRef {
    /// The text form (`gfb1…`, bech32m over id and key), which grants read access to whoever sees it.
    /// Print it to the user who asked for it; never log it.
    pub const fn display_capability(&self) -> BlockRefText<'_> {
        BlockRefText(self)
    }

    /// Characters of the text form (`gfb1…`).
    pub const TEXT_LEN: usize = 113;

    /// The text form written into `out`: what [`Self::display_capability`] writes, without
    /// `core::fmt`. It holds the key: the caller wipes `out` when the text is secret.
    pub fn capability_text<'o>(&self, out: &'o mut [u8; Self::TEXT_LEN]) -> &'o str {
        let bytes = zeroize::Zeroizing::new(self.to_bytes());
        // `out` holds exactly the text (a test checks the length): never the empty fallback.
        text::encode(out, BLOCK_REF_PREFIX, bytes.as_slice()).unwrap_or_default()
    }

    /// The 64 bytes id || key.
    pub fn to_bytes(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        let (id, key) = out.split_at_mut(32);
        id.copy_from_slice(&self.id.0);
        key.copy_from_slice(self.key.0.expose());
        out
    }

    /// The reference with these 64 bytes, id || key.
    pub fn from_bytes(bytes: &[u8; 64]) -> BlockRef {
        let (id, key) = bytes.split_at(32);
        let mut id_arr = [0u8; 32];
        id_arr.copy_from_slice(id);
        let mut key_arr = [0u8; 32];
        key_arr.copy_from_slice(key);
        BlockRef {
            id: BlockId(id_arr),
            key: BlockKey(SecretBytes::new(key_arr)),
        }
    }
}

/// A [`BlockRef`] in text form; see [`BlockRef::display_capability`].
pub struct BlockRefText<'a>(&'a BlockRef);

impl fmt::Display for BlockRefText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = zeroize::Zeroizing::new(self.0.to_bytes());
        text::write(f, BLOCK_REF_PREFIX, bytes.as_slice())
    }
}

impl fmt::Debug for BlockRefText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BlockRefText(<redacted>)")
    }
}

/// The text was not a block reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BlockRefParseError(pub TextError);

impl fmt::Display for BlockRefParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid block reference: {}", self.0)
    }
}

impl core::error::Error for BlockRefParseError {}

impl FromStr for BlockRef {
    type Err = BlockRefParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = zeroize::Zeroizing::new(
            text::read::<64>(BLOCK_REF_PREFIX, s).map_err(BlockRefParseError)?,
        );
        Ok(BlockRef::from_bytes(&bytes))
    }
}

impl Encode for BlockId {
    fn encoded_len(&self) -> usize {
        32
    }
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_bytes(&self.0)
    }
}

impl<'a> Decode<'a> for BlockId {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(BlockId(r.array()?))
    }
}

impl Encode for BlockRef {
    fn encoded_len(&self) -> usize {
        64
    }
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_bytes(&self.id.0)?;
        w.put_bytes(self.key.0.expose())
    }
}

impl<'a> Decode<'a> for BlockRef {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let id = BlockId(r.array()?);
        let key = BlockKey(SecretBytes::new(r.array()?));
        Ok(BlockRef { id, key })
    }
}

impl Message for BlockRef {
    const TYPE: MessageType = MessageType::BlockRef;
}
