//! The chunker over arbitrary data and parameters: chunks cover the input, respect the bounds, and a cut
//! with at least `max` bytes in view does not depend on what follows.
#![no_main]

use gofast_core::block::{Chunker, ChunkerParams, ScopeSecret};
use gofast_core::crypto::SecretBytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&[a, b, c, s], rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    let avg = 1u32 << (7 + u32::from(a % 8));
    let min = (avg >> (1 + u32::from(b % 3))).max(64);
    let max = (avg * (2 + u32::from(c % 4))).min(65_535);
    let Ok(params) = ChunkerParams::new(min, avg, max) else {
        return;
    };
    let chunker = Chunker::new(params, &ScopeSecret::from_secret(SecretBytes::new([s; 32])));
    let chunks: Vec<&[u8]> = chunker.chunks(rest).collect();
    assert_eq!(chunks.concat(), rest);
    if let Some((_, body)) = chunks.split_last() {
        assert!(
            body.iter()
                .all(|c| c.len() >= min as usize && c.len() <= max as usize)
        );
    }
    if rest.len() > max as usize {
        assert_eq!(chunker.cut(rest), chunker.cut(&rest[..max as usize]));
    }
});
