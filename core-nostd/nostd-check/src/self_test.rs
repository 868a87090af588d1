//! One pass through every module of the core, with fixed inputs, using only stack memory.

use core::hint::black_box;

use gofast_core::block::{
    Block, BlockKind, Chunker, ChunkerParams, ConvergenceKey, ScopeSecret, open_in_place,
    seal_in_place, verify,
};
use gofast_core::codec::{decode_message, encode_message};
use gofast_core::crypto::SecretBytes;
use gofast_core::crypto::aead::{chacha20poly1305_open, chacha20poly1305_seal};
use gofast_core::crypto::hash::hash;
use gofast_core::crypto::x25519::X25519Secret;
use gofast_core::identity::KeyPair;
use gofast_core::record::{MAX_RECORD_LEN, Record};
use gofast_core::time::{Duration, Instant};

/// Returns the name of the first step that failed.
pub(crate) fn run() -> Result<(), &'static str> {
    let seed = black_box([7u8; 32]);

    // Identity and a signed record, through the codec and back.
    let keypair = KeyPair::from_seed(&SecretBytes::new(seed));
    let record =
        Record::sign(&keypair, b"sensor/temperature", 1, b"21.5C").map_err(|_| "record sign")?;
    let mut wire = [0u8; MAX_RECORD_LEN + 2];
    let n = encode_message(&record, &mut wire).map_err(|_| "record encode")?;
    let back: Record =
        decode_message(wire.get(..n).ok_or("record length")?).map_err(|_| "record decode")?;
    if back != record || back.public_key() != &keypair.peer_id() {
        return Err("record round trip");
    }

    // An encrypted block: seal, verify as a non-reader, open as a reader.
    let scope = ScopeSecret::from_secret(SecretBytes::new(seed));
    let mut block = [0u8; 257];
    block[0] = BlockKind::Data as u8;
    for (i, b) in block.iter_mut().enumerate().skip(1) {
        *b = i as u8;
    }
    let r = seal_in_place(&ConvergenceKey::derive(&scope), &mut block).map_err(|_| "block seal")?;
    verify(&r.id, &block).map_err(|_| "block verify")?;
    match open_in_place(&r, &mut block).map_err(|_| "block open")? {
        Block::Data(d) if d.len() == 256 && d.first() == Some(&1) => {}
        _ => return Err("block contents"),
    }

    // Content-defined chunking over a stack buffer.
    let params = ChunkerParams::new(64, 256, 1024).map_err(|_| "chunker params")?;
    let chunker = Chunker::new(params, &scope);
    let mut data = [0u8; 4096];
    for (i, b) in data.iter_mut().enumerate() {
        *b = hash(&(i as u32).to_le_bytes())[0];
    }
    let total: usize = chunker.chunks(black_box(&data)).map(<[u8]>::len).sum();
    if total != data.len() {
        return Err("chunking");
    }

    // AEAD and key agreement.
    let key = SecretBytes::new(hash(b"aead key"));
    let mut msg = *b"reading 21.5C at t=42";
    let tag = chacha20poly1305_seal(&key, &[1; 12], b"hdr", &mut msg).map_err(|_| "aead seal")?;
    chacha20poly1305_open(&key, &[1; 12], b"hdr", &mut msg, &tag).map_err(|_| "aead open")?;
    let a = X25519Secret::from_bytes(&SecretBytes::new([1; 32]));
    let b = X25519Secret::from_bytes(&SecretBytes::new([2; 32]));
    let ab = a.diffie_hellman(&b.public_key()).map_err(|_| "x25519")?;
    let ba = b.diffie_hellman(&a.public_key()).map_err(|_| "x25519")?;
    if ab != ba {
        return Err("x25519 agreement");
    }

    // Time is arithmetic only.
    let later = Instant::from_micros(black_box(5)) + Duration::from_secs(1);
    if later.as_micros() != 1_000_005 {
        return Err("time");
    }
    Ok(())
}
