//! Opening blocks: the first 64 bytes are a reference (id, key), the rest the block. The id is either
//! taken as given (almost always wrong: refused before decryption) or replaced by the real hash, so that
//! decryption and plaintext parsing with an arbitrary key are reached too.
#![no_main]

use gofast_core::block::{Block, BlockError, BlockId, BlockRef, open_in_place, verify};
use gofast_core::crypto::hash::hash;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((head, block)) = data.split_first_chunk::<65>() else {
        return;
    };
    let (mode, raw_ref) = head.split_first().expect("65 bytes");
    let mut r = BlockRef::from_bytes(raw_ref.try_into().expect("64 bytes"));
    if mode & 1 == 1 {
        r.id = BlockId(hash(block));
        assert!(verify(&r.id, block).is_ok() || block.is_empty() || block.len() > 65_536);
    }
    let mut buf = block.to_vec();
    match open_in_place(&r, &mut buf) {
        Ok(Block::Data(d)) => assert_eq!(d.len() + 1, block.len()),
        Ok(Block::Tree(t)) => assert!(!t.is_empty()),
        Err(BlockError::IdMismatch) => assert_eq!(buf, block, "a refused block is left untouched"),
        Err(_) => {}
    }
});
