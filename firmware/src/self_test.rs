//! The firmware's self-test: the project's golden vectors recomputed on the device with the same
//! core code the peer runs (identities, sealed blocks, signed records), and a timer that must
//! fire (the time driver works). Returns how many vectors it checked, or the step that failed.

use embassy_time::{Duration, Instant, Timer};
use gofast_core::block::{BlockRef, ConvergenceKey, ScopeSecret, seal_in_place};
use gofast_core::codec::{Encode, Writer};
use gofast_core::crypto::SecretBytes;
use gofast_core::crypto::hash::hash;
use gofast_core::identity::{KeyPair, PeerId};
use gofast_core::record::{MAX_RECORD_LEN, Record};

/// An identity: its seed, its text form and its DHT key.
pub(crate) struct Identity {
    seed: &'static [u8],
    text: &'static str,
    dht_key: &'static [u8],
}

/// A block: sealed from its plaintext in a scope, it must give this id, a ciphertext with this
/// BLAKE3 digest (the golden ciphertext's, taken at build time) and this reference.
pub(crate) struct GoldenBlock {
    scope_secret: &'static [u8],
    plaintext: &'static [u8],
    id: &'static [u8],
    ciphertext_digest: [u8; 32],
    ref_text: &'static str,
}

/// A record: signed from these fields with the key of `key_seed`, its encoding must have this
/// BLAKE3 digest, the golden encoding's (Ed25519 signatures are deterministic). Digests, not the
/// bytes: the flash holds 32 bytes per vector instead of a kilobyte.
pub(crate) struct GoldenRecord {
    key_seed: &'static [u8],
    salt: &'static [u8],
    seq: u64,
    value: &'static [u8],
    encoded_digest: [u8; 32],
}

include!(concat!(env!("OUT_DIR"), "/golden.rs"));

/// Longest block plaintext the test seals (the golden blocks are small).
const MAX_BLOCK: usize = 256;

fn seed32(bytes: &[u8]) -> Result<[u8; 32], &'static str> {
    bytes
        .try_into()
        .map_err(|_| "a golden seed is not 32 bytes")
}

pub(crate) async fn run() -> Result<usize, &'static str> {
    let checked = vectors()?;
    // The time driver: a timer fires, and time moved at least as far.
    let start = Instant::now();
    Timer::after(Duration::from_millis(20)).await;
    if start.elapsed() < Duration::from_millis(20) {
        return Err("timer fired early");
    }
    Ok(checked)
}

/// The golden vectors, recomputed. Out of line: its buffers would otherwise stay in the main
/// task's frame for the whole run.
#[inline(never)]
fn vectors() -> Result<usize, &'static str> {
    let mut checked = 0;
    for i in IDENTITIES {
        let kp = KeyPair::from_seed(&SecretBytes::new(seed32(i.seed)?));
        if kp.peer_id().to_text(&mut [0; PeerId::TEXT_LEN]) != i.text {
            return Err("identity text");
        }
        if kp.peer_id().dht_key().as_bytes().as_slice() != i.dht_key {
            return Err("identity DHT key");
        }
        checked += 1;
    }
    for b in BLOCKS {
        let scope = ScopeSecret::from_secret(SecretBytes::new(seed32(b.scope_secret)?));
        let mut buf = [0u8; MAX_BLOCK];
        let block = buf
            .get_mut(..b.plaintext.len())
            .ok_or("a golden block is too long for the test")?;
        block.copy_from_slice(b.plaintext);
        let r: BlockRef =
            seal_in_place(&ConvergenceKey::derive(&scope), block).map_err(|_| "block seal")?;
        if r.id.0.as_slice() != b.id || hash(block) != b.ciphertext_digest {
            return Err("block id or ciphertext");
        }
        if r.capability_text(&mut [0; BlockRef::TEXT_LEN]) != b.ref_text {
            return Err("block reference text");
        }
        checked += 1;
    }
    for g in RECORDS {
        let kp = KeyPair::from_seed(&SecretBytes::new(seed32(g.key_seed)?));
        let record = Record::sign(&kp, g.salt, g.seq, g.value).map_err(|_| "record sign")?;
        let mut buf = [0u8; MAX_RECORD_LEN];
        let mut w = Writer::new(&mut buf);
        record.encode(&mut w).map_err(|_| "record encode")?;
        let n = record.encoded_len();
        if buf.get(..n).map(hash) != Some(g.encoded_digest) {
            return Err("record bytes");
        }
        checked += 1;
    }
    Ok(checked)
}
