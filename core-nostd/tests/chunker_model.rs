//! The FastCDC chunker against a reference model written from the spec (`docs/spec/block.md`) in a
//! different form: each fingerprint is recomputed from its definition as a shifted sum over the window,
//! and the gear table is re-derived through the public KDF.

use gofast_core::block::{Chunker, ChunkerParams, ChunkerParamsError, ScopeSecret};
use gofast_core::crypto::hash::derive_key_xof;
use gofast_core::crypto::{KdfContext, SecretBytes};
use proptest::prelude::*;

fn scope(seed: u8) -> ScopeSecret {
    ScopeSecret::from_secret(SecretBytes::new([seed; 32]))
}

fn gear_table(scope: &ScopeSecret) -> Vec<u64> {
    let mut bytes = [0u8; 2048];
    derive_key_xof(KdfContext::ChunkerGear, scope.expose().expose(), &mut bytes);
    bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// fp(i) = Σ_{j=min}^{i} gear[data[j]] · 2^(i−j) mod 2^64; cut after the first i where the top bits are
/// zero (more bits before avg, fewer after), else at min(len, max).
fn reference_cut(gear: &[u64], p: ChunkerParams, data: &[u8]) -> usize {
    let (min, avg, max) = (p.min() as usize, p.avg() as usize, p.max() as usize);
    if data.len() <= min {
        return data.len();
    }
    let bits = p.avg().trailing_zeros();
    let top = |b: u32| !0u64 << (64 - b);
    let end = data.len().min(max);
    for i in min..end {
        let mut fp = 0u64;
        for j in min.max(i.saturating_sub(63))..=i {
            fp = fp.wrapping_add(gear[data[j] as usize].wrapping_shl((i - j) as u32));
        }
        let mask = if i < avg.min(end) {
            top(bits + 1)
        } else {
            top(bits - 1)
        };
        if fp & mask == 0 {
            return i + 1;
        }
    }
    end
}

fn params() -> impl Strategy<Value = ChunkerParams> {
    (7u32..=12, 1u32..4, 1u32..4).prop_map(|(avg_bits, min_div, max_mul)| {
        let avg = 1 << avg_bits;
        let min = (avg >> min_div).max(64);
        let max = (avg * (1 + max_mul)).min(65_535);
        ChunkerParams::new(min, avg, max).unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn cut_points_match_the_reference_model(p in params(), seed in any::<u8>(), data in proptest::collection::vec(any::<u8>(), 0..20_000)) {
        let s = scope(seed);
        let chunker = Chunker::new(p, &s);
        let gear = gear_table(&s);
        let mut rest = &data[..];
        while !rest.is_empty() {
            let cut = chunker.cut(rest);
            prop_assert_eq!(cut, reference_cut(&gear, p, rest));
            rest = &rest[cut..];
        }
    }

    #[test]
    fn chunks_cover_the_input_within_bounds(p in params(), data in proptest::collection::vec(any::<u8>(), 0..50_000)) {
        let chunker = Chunker::new(p, &scope(1));
        let chunks: Vec<&[u8]> = chunker.chunks(&data).collect();
        prop_assert_eq!(chunks.concat(), data.clone());
        let (last, body) = match chunks.split_last() { Some(x) => x, None => return Ok(()) };
        for c in body {
            prop_assert!(c.len() >= p.min() as usize && c.len() <= p.max() as usize, "chunk of {} outside {:?}", c.len(), p);
        }
        prop_assert!(!last.is_empty() && last.len() <= p.max() as usize);
    }

    /// With at least `max` bytes in view, the cut does not depend on what comes after them.
    #[test]
    fn a_cut_depends_only_on_the_first_max_bytes(p in params(), data in proptest::collection::vec(any::<u8>(), 0..70_000), tail in proptest::collection::vec(any::<u8>(), 1..100)) {
        let chunker = Chunker::new(p, &scope(2));
        prop_assume!(data.len() >= p.max() as usize);
        let mut longer = data.clone();
        longer.extend_from_slice(&tail);
        prop_assert_eq!(chunker.cut(&data), chunker.cut(&longer));
    }
}

#[test]
fn different_scopes_cut_the_same_data_differently() {
    let data: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let p = ChunkerParams::new(256, 1024, 4096).unwrap();
    let a: Vec<usize> = Chunker::new(p, &scope(1))
        .chunks(&data)
        .map(<[u8]>::len)
        .collect();
    let b: Vec<usize> = Chunker::new(p, &scope(2))
        .chunks(&data)
        .map(<[u8]>::len)
        .collect();
    assert_ne!(
        a, b,
        "block sizes must not fingerprint content across scopes"
    );
}

#[test]
fn average_chunk_size_is_near_the_target() {
    // Deterministic noise; the bounds are loose because they check the masks, not the statistics.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let data: Vec<u8> = (0..4 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect();
    let p = ChunkerParams::DEFAULT;
    let n = Chunker::new(p, &scope(3)).chunks(&data).count();
    let mean = data.len() / n;
    assert!(
        mean > p.avg() as usize / 2 && mean < p.avg() as usize * 2,
        "mean chunk {mean} for target {}",
        p.avg()
    );
}

#[test]
fn parameters_are_validated() {
    assert_eq!(
        ChunkerParams::new(32, 128, 512),
        Err(ChunkerParamsError::OutOfOrder)
    );
    assert_eq!(
        ChunkerParams::new(256, 128, 512),
        Err(ChunkerParamsError::OutOfOrder)
    );
    assert_eq!(
        ChunkerParams::new(64, 128, 128),
        Err(ChunkerParamsError::OutOfOrder)
    );
    assert_eq!(
        ChunkerParams::new(64, 128, 65_536),
        Err(ChunkerParamsError::OutOfOrder)
    );
    assert_eq!(
        ChunkerParams::new(64, 100, 512),
        Err(ChunkerParamsError::AvgNotPowerOfTwo)
    );
    assert!(ChunkerParams::new(64, 128, 65_535).is_ok());
    let d = ChunkerParams::DEFAULT;
    assert_eq!(ChunkerParams::new(d.min(), d.avg(), d.max()), Ok(d));
}
