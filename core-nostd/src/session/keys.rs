//! The session's key schedule: epoch secrets per direction, stream keys derived from them, and the
//! ratchet that a rekey applies. Every function here is one-way, which is what the containment and
//! forward-secrecy properties rest on (`docs/spec/session.md`, "Keys").

use crate::crypto::hash::derive_key;
use crate::crypto::x25519::X25519Secret;
use crate::crypto::{KdfContext, SecretBytes};

use super::cipher::CipherId;

/// The secret of one direction of a session in one epoch. Stream keys are derived from it; the next
/// epoch's secret is ratcheted from it and a fresh DH.
#[derive(Clone, Debug)]
pub(crate) struct EpochSecret {
    pub(crate) epoch: u32,
    pub(crate) secret: SecretBytes<32>,
}

impl EpochSecret {
    /// `derive_key("… session stream key", secret || stream id || epoch || cipher)`.
    pub(crate) fn stream_key(&self, stream: u32, cipher: CipherId) -> SecretBytes<32> {
        let mut material = [0u8; 32 + 4 + 4 + 1];
        material[..32].copy_from_slice(self.secret.expose());
        material[32..36].copy_from_slice(&stream.to_le_bytes());
        material[36..40].copy_from_slice(&self.epoch.to_le_bytes());
        material[40] = cipher as u8;
        let key = derive_key(KdfContext::SessionStreamKey, &material);
        zeroize::Zeroize::zeroize(&mut material);
        key
    }

    /// `derive_key("… session epoch ratchet", secret || dh || next epoch)`.
    pub(crate) fn ratchet(&self, dh: &SecretBytes<32>) -> Option<EpochSecret> {
        let epoch = self.epoch.checked_add(1)?;
        let mut material = [0u8; 32 + 32 + 4];
        material[..32].copy_from_slice(self.secret.expose());
        material[32..64].copy_from_slice(dh.expose());
        material[64..].copy_from_slice(&epoch.to_le_bytes());
        let secret = derive_key(KdfContext::SessionEpochRatchet, &material);
        zeroize::Zeroize::zeroize(&mut material);
        Some(EpochSecret { epoch, secret })
    }
}

/// A deterministic generator of the session's ephemeral keys, seeded once by the caller (the core
/// draws no ambient randomness). Each draw ratchets the state forward, so a state captured later
/// does not reveal earlier keys.
pub(crate) struct KeyRng {
    state: SecretBytes<32>,
}

impl KeyRng {
    pub(crate) fn new(seed: SecretBytes<32>) -> Self {
        KeyRng { state: seed }
    }

    fn next_bytes(&mut self) -> SecretBytes<32> {
        let mut material = [0u8; 33];
        material[..32].copy_from_slice(self.state.expose());
        material[32] = 1;
        let out = derive_key(KdfContext::SessionRandom, &material);
        material[32] = 0;
        self.state = derive_key(KdfContext::SessionRandom, &material);
        zeroize::Zeroize::zeroize(&mut material);
        out
    }

    /// A fresh X25519 key.
    pub(crate) fn x25519(&mut self) -> X25519Secret {
        X25519Secret::from_bytes(&self.next_bytes())
    }
}

impl core::fmt::Debug for KeyRng {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("KeyRng(<redacted>)")
    }
}
