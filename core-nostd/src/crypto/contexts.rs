//! Every BLAKE3 key-derivation context and every signature domain of gofast, in one place.
//!
//! A context string is part of the protocol: changing one changes every key derived with it, so a string
//! here is never edited, only added. The format follows the BLAKE3 recommendation,
//! `"<application> <date the use was defined> <purpose>"`. `docs/spec/crypto.md` lists the same strings;
//! `tests/spec_in_step.rs` keeps the two in step.

/// The purpose of a BLAKE3 `derive_key` call. Each variant is used for exactly one thing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum KdfContext {
    /// Scope secret → the key of the convergent keyed hash that gives a block its key.
    BlockConvergence,
    /// Scope secret → the gear table of the content-defined chunker (keyed so that block sizes do not
    /// fingerprint known files).
    ChunkerGear,
    /// Peer public key → the peer's position in the DHT key space.
    PeerDhtKey,
    /// Record public key and salt → the record's position in the DHT key space.
    RecordDhtKey,
    /// A session direction's epoch secret, stream id, epoch and cipher → that stream's AEAD key.
    SessionStreamKey,
    /// A session direction's epoch secret and a rekey's X25519 output → the next epoch's secret.
    SessionEpochRatchet,
    /// A session's random seed → its ephemeral keys, one after another (fast key erasure).
    SessionRandom,
    /// A root block id → where its provider records are stored in the DHT.
    ProviderDhtKey,
    /// Peer public key → the proof of work of S/Kademlia's static puzzle (its leading zero bits).
    PeerWork,
    /// Publisher public key and stream name → the scope secret its entries are sealed in.
    StreamScope,
    /// A volume's first secret → its public id, which names its records ([`crate::fs::volume`]).
    VolumeId,
    /// A volume secret → the scope secret every block of the volume is sealed in.
    VolumeScope,
    /// A volume secret → the XChaCha20-Poly1305 key of its records' values.
    VolumeValueKey,
    /// A volume secret → the key of the keyed hash that gives a record value its nonce.
    VolumeValueNonce,
    /// X25519 of a volume owner's and a device's keys, the volume, an epoch and a salt → the key
    /// of the envelope that carries the epoch's secret to the device ([`crate::fs::grant`]).
    VolumeGrant,
}

impl KdfContext {
    /// Every context, for tests that check they are distinct and documented.
    pub const ALL: &'static [KdfContext] = &[
        KdfContext::BlockConvergence,
        KdfContext::ChunkerGear,
        KdfContext::PeerDhtKey,
        KdfContext::RecordDhtKey,
        KdfContext::SessionStreamKey,
        KdfContext::SessionEpochRatchet,
        KdfContext::SessionRandom,
        KdfContext::ProviderDhtKey,
        KdfContext::PeerWork,
        KdfContext::StreamScope,
        KdfContext::VolumeId,
        KdfContext::VolumeScope,
        KdfContext::VolumeValueKey,
        KdfContext::VolumeValueNonce,
        KdfContext::VolumeGrant,
    ];

    /// The exact context string passed to BLAKE3.
    pub const fn as_str(self) -> &'static str {
        match self {
            KdfContext::BlockConvergence => "gofast 2026-11-26 block convergence key",
            KdfContext::ChunkerGear => "gofast 2026-11-26 chunker gear table",
            KdfContext::PeerDhtKey => "gofast 2026-11-26 peer dht key",
            KdfContext::RecordDhtKey => "gofast 2026-11-26 record dht key",
            KdfContext::SessionStreamKey => "gofast 2026-11-26 session stream key",
            KdfContext::SessionEpochRatchet => "gofast 2026-11-26 session epoch ratchet",
            KdfContext::SessionRandom => "gofast 2026-11-26 session random",
            KdfContext::ProviderDhtKey => "gofast 2026-11-26 provider dht key",
            KdfContext::PeerWork => "gofast 2026-11-26 peer work",
            KdfContext::StreamScope => "gofast 2026-11-27 stream scope",
            KdfContext::VolumeId => "gofast 2026-11-27 volume id",
            KdfContext::VolumeScope => "gofast 2026-11-27 volume scope",
            KdfContext::VolumeValueKey => "gofast 2026-11-27 volume value key",
            KdfContext::VolumeValueNonce => "gofast 2026-11-27 volume value nonce",
            KdfContext::VolumeGrant => "gofast 2026-11-27 volume grant envelope key",
        }
    }
}

/// A prefix put in front of every message that gofast signs, so that a signature made for one purpose
/// is never valid for another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum SignatureDomain {
    /// A signed mutable record ([`crate::record::Record`]).
    Record,
    /// A provider record ([`crate::dht::Provider`]): "this peer holds the blocks under this root".
    Provider,
    /// A stream entry ([`crate::stream`]): one reading of a publisher's stream.
    StreamEntry,
    /// A volume snapshot ([`crate::fs::snapshot`]): one state of a volume, after the volume's id.
    VolumeSnapshot,
}

impl SignatureDomain {
    /// Every domain, for tests.
    pub const ALL: &'static [SignatureDomain] = &[
        SignatureDomain::Record,
        SignatureDomain::Provider,
        SignatureDomain::StreamEntry,
        SignatureDomain::VolumeSnapshot,
    ];

    /// The exact bytes prepended to the signed message. Each ends in a NUL byte so that no domain is a
    /// prefix of another's message.
    pub const fn as_bytes(self) -> &'static [u8] {
        match self {
            SignatureDomain::Record => b"gofast 2026-11-26 signed record\0",
            SignatureDomain::Provider => b"gofast 2026-11-26 provider record\0",
            SignatureDomain::StreamEntry => b"gofast 2026-11-27 stream entry\0",
            SignatureDomain::VolumeSnapshot => b"gofast 2026-11-27 volume snapshot\0",
        }
    }
}
