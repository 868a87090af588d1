//! Provider records: "peer P holds the blocks under root R until time T", signed by P.
//!
//! Stored by the nodes closest to the root's DHT key, as Kademlia's provider records (IPFS). The
//! expiry is wall-clock time (seconds since the Unix epoch), because it must mean the same to every
//! storer; the core reads no clock, so callers pass the current time in.

use core::fmt;

use crate::codec::{Decode, DecodeError, Encode, EncodeError, Reader, Writer};
use crate::crypto::SignatureDomain;
use crate::crypto::sign::{SIGNATURE_LEN, Signature, SignatureError};
use crate::identity::{DhtKey, KeyPair, PeerId};

/// Bytes of the signed body: provider, root, expiry.
pub const PROVIDER_BODY_LEN: usize = 32 + 32 + 8;
/// Bytes of an encoded provider record.
pub const PROVIDER_LEN: usize = PROVIDER_BODY_LEN + SIGNATURE_LEN;

/// A signed provider record. Only [`Provider::sign`] and decoding (which verifies) make one.
#[derive(Clone, PartialEq, Eq)]
pub struct Provider {
    provider: PeerId,
    root: [u8; 32],
    expires: u64,
    signature: Signature,
}

impl Provider {
    /// `keypair` announces that it holds the blocks under `root` until `expires` (Unix seconds).
    pub fn sign(keypair: &KeyPair, root: [u8; 32], expires: u64) -> Result<Self, SignatureError> {
        let body = body(&keypair.peer_id(), &root, expires);
        let signature = keypair.sign(SignatureDomain::Provider, &body)?;
        Ok(Provider {
            provider: keypair.peer_id(),
            root,
            expires,
            signature,
        })
    }

    /// The peer that holds the blocks.
    pub const fn provider(&self) -> &PeerId {
        &self.provider
    }

    /// The root block id.
    pub const fn root(&self) -> &[u8; 32] {
        &self.root
    }

    /// Until when (Unix seconds).
    pub const fn expires(&self) -> u64 {
        self.expires
    }

    /// Whether the record has expired at `now_unix_secs`.
    pub const fn is_expired(&self, now_unix_secs: u64) -> bool {
        now_unix_secs >= self.expires
    }

    /// Where the record is stored in the DHT: the DHT key of its root.
    pub fn dht_key(&self) -> DhtKey {
        root_dht_key(&self.root)
    }
}

/// The DHT key under which the providers of `root` are stored:
/// `derive("… provider dht key", root)`.
pub fn root_dht_key(root: &[u8; 32]) -> DhtKey {
    DhtKey(crate::crypto::hash::derive_public(
        crate::crypto::KdfContext::ProviderDhtKey,
        root,
    ))
}

fn body(provider: &PeerId, root: &[u8; 32], expires: u64) -> [u8; PROVIDER_BODY_LEN] {
    let mut b = [0u8; PROVIDER_BODY_LEN];
    let (p, rest) = b.split_at_mut(32);
    p.copy_from_slice(provider.as_bytes());
    let (r, e) = rest.split_at_mut(32);
    r.copy_from_slice(root);
    e.copy_from_slice(&expires.to_le_bytes());
    b
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("provider", &self.provider)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

impl Encode for Provider {
    fn encoded_len(&self) -> usize {
        PROVIDER_LEN
    }
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_bytes(&body(&self.provider, &self.root, self.expires))?;
        w.put_bytes(&self.signature.0)
    }
}

impl<'a> Decode<'a> for Provider {
    /// Decodes and verifies: a record that does not verify is [`DecodeError::BadSignature`].
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let provider = PeerId::from_bytes(&r.array()?).map_err(|_| DecodeError::InvalidValue {
            field: "provider.peer",
            reason: "not a valid Ed25519 public key of large order",
        })?;
        let root: [u8; 32] = r.array()?;
        let expires = r.u64()?;
        let signature = Signature(r.array()?);
        provider
            .verify(
                SignatureDomain::Provider,
                &body(&provider, &root, expires),
                &signature,
            )
            .map_err(|_| DecodeError::BadSignature)?;
        Ok(Provider {
            provider,
            root,
            expires,
            signature,
        })
    }
}
