//! Blocks as deltas against their older versions (`docs/spec/exchange.md`, "Deltas").
//!
//! An edited file's changed chunk, the tree node naming it and the listing naming the file each
//! differ little from the block they replace, but their ciphertexts differ entirely. The maker of
//! the new block holds both plaintexts and sends a delta of them (librsync's format, through
//! `fast_rsync`); the receiver, which holds the old block and both references, applies it, seals
//! the result with the new block's key and checks it against the id. The check makes every bad
//! delta (a lie, a base that changed, a bug) a plain fetch, never a wrong block.

use gofast_core::block::{
    BlockId, BlockRef, ConvergenceKey, MAX_BLOCK_LEN, open_in_place, reseal_in_place, seal_in_place,
};
use gofast_core::exchange::{DeltaWant, MAX_DELTA_BASES};
use zeroize::Zeroizing;

/// 16-byte blocks: the signature is computed where the delta is made and never sent, so small
/// blocks cost CPU only, and an edit costs at most two blocks of slack in the delta. 8 bytes of
/// MD4 per block are enough to find matches; correctness rests on the id check, not on MD4.
const OPTIONS: fast_rsync::SignatureOptions = fast_rsync::SignatureOptions {
    block_size: 16,
    crypto_hash_size: 8,
};

/// How a block asked for as a delta is sent.
#[derive(Debug, PartialEq, Eq)]
pub enum Served {
    /// As itself (its ciphertext).
    Block(Vec<u8>),
    /// As a delta against the bases asked with it.
    Delta(Vec<u8>),
    /// Not held.
    Missing,
}

/// The framed plaintexts of `refs`, concatenated: `None` if one is not held or does not open.
fn plaintexts(
    get: &impl Fn(&BlockId) -> Option<Vec<u8>>,
    refs: &[BlockRef],
) -> Option<Zeroizing<Vec<u8>>> {
    let mut all = Zeroizing::new(Vec::with_capacity(refs.len().min(MAX_DELTA_BASES) * 16_384));
    for r in refs.iter().take(MAX_DELTA_BASES) {
        let mut data = Zeroizing::new(get(&r.id)?);
        // Opened in place: the buffer holds the framed plaintext afterwards.
        open_in_place(r, &mut data).ok()?;
        all.extend_from_slice(&data);
    }
    Some(all)
}

/// The maker's side: `want`'s target as a delta against its bases when this node made the target
/// (sealed with `made_by`) and the delta is shorter than the block; the block itself otherwise.
pub fn serve(
    get: impl Fn(&BlockId) -> Option<Vec<u8>>,
    made_by: &ConvergenceKey,
    want: &DeltaWant,
) -> Served {
    let Some(block) = get(&want.target.id) else {
        return Served::Missing;
    };
    let made_here = || -> Option<Zeroizing<Vec<u8>>> {
        let mut plain = Zeroizing::new(block.clone());
        open_in_place(&want.target, &mut plain).ok()?;
        let mut again = Zeroizing::new(plain.to_vec());
        let r = seal_in_place(made_by, &mut again).ok()?;
        (r.id == want.target.id).then_some(plain)
    };
    let Some(target) = made_here() else {
        return Served::Block(block);
    };
    let Some(base) = plaintexts(&get, &want.bases) else {
        return Served::Block(block);
    };
    let signature = fast_rsync::Signature::calculate(&base, OPTIONS);
    let mut delta = Vec::with_capacity(block.len() / 4);
    if fast_rsync::diff(&signature.index(), &target, &mut delta).is_err()
        || delta.is_empty()
        // A delta's message has the block's header: worth it only if shorter.
        || delta.len() >= block.len()
    {
        zeroize::Zeroize::zeroize(&mut delta);
        return Served::Block(block);
    }
    Served::Delta(delta)
}

/// Why a delta did not give the block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RebuildError {
    /// A base is not held here (or does not open).
    #[error("a base of the delta is not held")]
    BaseMissing,
    /// The delta does not apply (malformed, or longer than a block).
    #[error("the delta does not apply")]
    DoesNotApply,
    /// It applied, but the result is not the block.
    #[error("the delta rebuilds another block")]
    WrongBlock,
}

/// The receiver's side: applies `delta` to the plaintexts of `bases` and returns the target's
/// ciphertext, checked against its id.
pub fn rebuild(
    get: impl Fn(&BlockId) -> Option<Vec<u8>>,
    target: &BlockRef,
    bases: &[BlockRef],
    delta: &[u8],
) -> Result<Vec<u8>, RebuildError> {
    // One copy of the body for every caller's closure.
    rebuild_dyn(&get, target, bases, delta)
}

fn rebuild_dyn(
    get: &dyn Fn(&BlockId) -> Option<Vec<u8>>,
    target: &BlockRef,
    bases: &[BlockRef],
    delta: &[u8],
) -> Result<Vec<u8>, RebuildError> {
    let base = plaintexts(&get, bases).ok_or(RebuildError::BaseMissing)?;
    let mut out = Zeroizing::new(Vec::with_capacity(MAX_BLOCK_LEN));
    fast_rsync::apply_limited(&base, delta, &mut *out, MAX_BLOCK_LEN)
        .map_err(|_| RebuildError::DoesNotApply)?;
    reseal_in_place(target, &mut out).map_err(|_| RebuildError::WrongBlock)?;
    // Ciphertext now: nothing left to wipe.
    Ok(std::mem::take(&mut *out))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use gofast_core::block::{BlockKey, ScopeSecret};
    use gofast_core::crypto::SecretBytes;

    use super::*;

    fn scope(i: u8) -> ConvergenceKey {
        ConvergenceKey::derive(&ScopeSecret::from_secret(SecretBytes::new([i; 32])))
    }

    /// Seals `data` as a data block into `held`; returns its reference.
    fn put(held: &mut HashMap<BlockId, Vec<u8>>, key: &ConvergenceKey, data: &[u8]) -> BlockRef {
        let mut block = [&[1u8][..], data].concat();
        let r = seal_in_place(key, &mut block).unwrap();
        held.insert(r.id, block);
        r
    }

    fn pseudo_random(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    fn want(target: &BlockRef, bases: &[&BlockRef]) -> DeltaWant {
        DeltaWant {
            target: target.clone(),
            bases: bases.iter().map(|b| (*b).clone()).collect(),
        }
    }

    #[test]
    fn an_edited_chunk_travels_as_its_edit_and_rebuilds_exactly() {
        let key = scope(1);
        let mut held = HashMap::new();
        let old = pseudo_random(16_384, 1);
        let mut new = old.clone();
        new[5_000..5_000 + 1_000].copy_from_slice(&pseudo_random(1_000, 2));
        new.splice(0..0, pseudo_random(100, 3));
        let (a, b) = (put(&mut held, &key, &old), put(&mut held, &key, &new));
        let get = |id: &BlockId| held.get(id).cloned();
        let Served::Delta(delta) = serve(get, &key, &want(&b, &[&a])) else {
            panic!("a delta for a small edit");
        };
        assert!(delta.len() < 1_400, "{} bytes", delta.len());
        // The receiver holds only the old block.
        let mine: HashMap<_, _> = [(a.id, held[&a.id].clone())].into();
        let get = |id: &BlockId| mine.get(id).cloned();
        assert_eq!(
            rebuild(get, &b, std::slice::from_ref(&a), &delta),
            Ok(held[&b.id].clone())
        );
        // Against another base, or with a changed byte, it is refused: never a wrong block.
        let c = put(&mut held, &key, &pseudo_random(16_384, 9));
        let theirs: HashMap<_, _> = [(c.id, held[&c.id].clone())].into();
        let get = |id: &BlockId| theirs.get(id).cloned();
        assert!(rebuild(get, &b, std::slice::from_ref(&c), &delta).is_err());
        let get = |id: &BlockId| mine.get(id).cloned();
        for i in [0, delta.len() / 2, delta.len() - 1] {
            let mut bad = delta.clone();
            bad[i] ^= 0x40;
            assert!(
                rebuild(get, &b, std::slice::from_ref(&a), &bad).is_err(),
                "byte {i}"
            );
        }
        assert_eq!(
            rebuild(|_| None, &b, std::slice::from_ref(&a), &delta),
            Err(RebuildError::BaseMissing)
        );
    }

    #[test]
    fn a_block_made_elsewhere_or_unlike_its_base_is_sent_whole() {
        let (mine, other) = (scope(1), scope(2));
        let mut held = HashMap::new();
        let base = put(&mut held, &mine, &pseudo_random(8_000, 1));
        let foreign = put(&mut held, &other, &pseudo_random(8_000, 1));
        let unlike = put(&mut held, &mine, &pseudo_random(8_000, 5));
        let get = |id: &BlockId| held.get(id).cloned();
        assert_eq!(
            serve(get, &mine, &want(&foreign, &[&base])),
            Served::Block(held[&foreign.id].clone())
        );
        assert_eq!(
            serve(get, &mine, &want(&unlike, &[&base])),
            Served::Block(held[&unlike.id].clone())
        );
        let absent = BlockRef {
            id: BlockId([7; 32]),
            key: BlockKey(SecretBytes::new([7; 32])),
        };
        assert_eq!(serve(get, &mine, &want(&absent, &[&base])), Served::Missing);
        // A base that is not held: the block itself.
        let made = put(&mut held, &mine, &pseudo_random(8_000, 6));
        let get = |id: &BlockId| held.get(id).cloned();
        assert_eq!(
            serve(get, &mine, &want(&made, &[&absent])),
            Served::Block(held[&made.id].clone())
        );
    }

    proptest::proptest! {
        #[test]
        fn any_delta_bytes_are_refused_or_rebuild_the_block(
            delta in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
        ) {
            let key = scope(1);
            let mut held = HashMap::new();
            let a = put(&mut held, &key, &pseudo_random(2_000, 1));
            let b = put(&mut held, &key, &pseudo_random(2_000, 2));
            let get = |id: &BlockId| held.get(id).cloned();
            if let Ok(block) = rebuild(get, &b, &[a], &delta) {
                proptest::prop_assert_eq!(&block, &held[&b.id]);
            }
        }
    }
}
