//! Properties of single blocks: what a reader, a non-reader and an attacker each get.

use gofast_core::block::{
    Block, BlockError, BlockId, BlockKind, ConvergenceKey, MAX_BLOCK_LEN, MAX_PAYLOAD_LEN,
    ScopeSecret, open_in_place, open_verified_data_into, seal_in_place, verify,
};
use gofast_core::crypto::SecretBytes;
use proptest::prelude::*;

fn scope(seed: u8) -> ScopeSecret {
    ScopeSecret::from_secret(SecretBytes::new([seed; 32]))
}

fn data_block(payload: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(payload.len() + 1);
    b.push(BlockKind::Data as u8);
    b.extend_from_slice(payload);
    b
}

/// The plaintext of a tree node with one child.
fn tree_node() -> Vec<u8> {
    let mut node = vec![0u8; 128];
    let entry = gofast_core::block::TreeEntry {
        child: gofast_core::block::BlockRef::from_bytes(&[9; 64]),
        size: 10,
    };
    let n = gofast_core::block::encode_tree_node(1, &[entry], &mut node).unwrap();
    node.truncate(n);
    node
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        proptest::collection::vec(any::<u8>(), 0..4096),
        // The largest payloads, where an off-by-one would show.
        proptest::collection::vec(any::<u8>(), MAX_PAYLOAD_LEN - 8..=MAX_PAYLOAD_LEN),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn seal_then_open_round_trips(data in payload(), s in any::<u8>()) {
        let conv = ConvergenceKey::derive(&scope(s));
        let mut block = data_block(&data);
        let r = seal_in_place(&conv, &mut block).unwrap();
        prop_assert_eq!(block.len(), data.len() + 1, "ciphertext is exactly as long as the framed plaintext");
        verify(&r.id, &block).unwrap();
        match open_in_place(&r, &mut block).unwrap() {
            Block::Data(out) => prop_assert_eq!(out, &data[..]),
            Block::Tree(_) => prop_assert!(false, "data came back as a tree"),
        }
    }

    #[test]
    fn opening_into_another_buffer_gives_what_opening_in_place_gives(
        data in payload(),
        s in any::<u8>(),
        slack in 0usize..3,
        fill in any::<u8>(),
    ) {
        let conv = ConvergenceKey::derive(&scope(s));
        let mut block = data_block(&data);
        let r = seal_in_place(&conv, &mut block).unwrap();
        let sealed = block.clone();
        // Room to spare past the payload must be left alone: a leaf is decrypted into a buffer
        // that gathers the next leaves too.
        let mut out = vec![fill; data.len() + slack];
        prop_assert_eq!(open_verified_data_into(&r, &block, &mut out), Ok(BlockKind::Data));
        prop_assert_eq!(&out[..data.len()], &data[..]);
        prop_assert!(out[data.len()..].iter().all(|&b| b == fill));
        prop_assert_eq!(&block, &sealed, "the block's own buffer keeps the ciphertext");
        if !data.is_empty() {
            let mut short = vec![0u8; data.len() - 1];
            prop_assert_eq!(
                open_verified_data_into(&r, &block, &mut short),
                Err(BlockError::BufferTooSmall { needed: data.len() })
            );
        }
    }

    #[test]
    fn any_flipped_ciphertext_bit_changes_the_id_and_is_refused(data in payload(), bit in any::<usize>()) {
        let conv = ConvergenceKey::derive(&scope(1));
        let mut block = data_block(&data);
        let r = seal_in_place(&conv, &mut block).unwrap();
        let bit = bit % (block.len() * 8);
        block[bit / 8] ^= 1 << (bit % 8);
        prop_assert_ne!(gofast_core::crypto::hash::hash(&block), r.id.0);
        prop_assert_eq!(verify(&r.id, &block), Err(BlockError::IdMismatch));
        let copy = block.clone();
        prop_assert_eq!(open_in_place(&r, &mut block).err(), Some(BlockError::IdMismatch));
        prop_assert_eq!(block, copy, "a refused block is not decrypted");
    }

    #[test]
    fn a_block_under_another_id_is_refused(a in payload(), b in payload()) {
        prop_assume!(a != b);
        let conv = ConvergenceKey::derive(&scope(2));
        let mut block_a = data_block(&a);
        let mut block_b = data_block(&b);
        let _ = seal_in_place(&conv, &mut block_a).unwrap();
        let ref_b = seal_in_place(&conv, &mut block_b).unwrap();
        prop_assert_eq!(verify(&ref_b.id, &block_a), Err(BlockError::IdMismatch));
        prop_assert_eq!(open_in_place(&ref_b, &mut block_a).err(), Some(BlockError::IdMismatch));
    }

    #[test]
    fn same_plaintext_same_scope_same_ref_other_scope_other_ref(data in payload(), s1 in any::<u8>(), s2 in any::<u8>()) {
        prop_assume!(s1 != s2);
        let seal = |s: u8| {
            let mut b = data_block(&data);
            let r = seal_in_place(&ConvergenceKey::derive(&scope(s)), &mut b).unwrap();
            (r, b)
        };
        let (r1, c1) = seal(s1);
        let (r1_again, c1_again) = seal(s1);
        let (r2, c2) = seal(s2);
        prop_assert_eq!(&r1, &r1_again);
        prop_assert_eq!(&c1, &c1_again);
        prop_assert_ne!(r1.key, r2.key);
        // A block of n bytes has only 2^(8n) ciphertexts, so tiny blocks of two scopes may coincide (the
        // empty file's one-byte block does so once in 256 pairs); from 8 bytes on a collision is a 2^-64 event.
        if data.len() + 1 >= 8 {
            prop_assert_ne!(r1.id, r2.id);
            prop_assert_ne!(c1, c2);
        }
    }
}

#[test]
fn sizes_at_and_past_the_limit() {
    let conv = ConvergenceKey::derive(&scope(3));
    let mut max = data_block(&vec![7u8; MAX_PAYLOAD_LEN]);
    assert_eq!(max.len(), MAX_BLOCK_LEN);
    seal_in_place(&conv, &mut max).unwrap();
    let mut too_big = data_block(&vec![7u8; MAX_PAYLOAD_LEN + 1]);
    assert_eq!(
        seal_in_place(&conv, &mut too_big),
        Err(BlockError::TooLarge {
            len: MAX_BLOCK_LEN + 1
        })
    );
    assert_eq!(
        verify(&BlockId([0; 32]), &too_big),
        Err(BlockError::TooLarge {
            len: MAX_BLOCK_LEN + 1
        })
    );
    assert_eq!(seal_in_place(&conv, &mut []), Err(BlockError::Empty));
    assert_eq!(verify(&BlockId([0; 32]), &[]), Err(BlockError::Empty));
}

#[test]
fn sealing_refuses_an_unknown_kind_or_a_malformed_tree() {
    let conv = ConvergenceKey::derive(&scope(4));
    let mut unknown = vec![0x7f, 1, 2, 3];
    assert_eq!(
        seal_in_place(&conv, &mut unknown),
        Err(BlockError::UnknownKind { byte: 0x7f })
    );
    let mut bad_tree = vec![BlockKind::Tree as u8, 1, 0, 0];
    assert!(matches!(
        seal_in_place(&conv, &mut bad_tree),
        Err(BlockError::MalformedTree(_))
    ));
}

#[test]
fn opening_a_tree_node_into_a_data_buffer_says_so_and_writes_nothing() {
    let conv = ConvergenceKey::derive(&scope(6));
    let mut block = tree_node();
    let r = seal_in_place(&conv, &mut block).unwrap();
    let mut out = vec![0xaa; block.len()];
    assert_eq!(
        open_verified_data_into(&r, &block, &mut out),
        Ok(BlockKind::Tree)
    );
    assert!(
        out.iter().all(|&b| b == 0xaa),
        "a tree's child keys are not decrypted here"
    );
    let mut out = vec![0u8; 100];
    assert_eq!(
        open_verified_data_into(&r, &[], &mut out),
        Err(BlockError::Empty)
    );
}

#[test]
fn the_convergent_key_depends_on_the_kind_byte() {
    // The same payload bytes sealed as data and as a tree node must not share a key: the kind byte is
    // part of the plaintext that the key is derived from.
    let conv = ConvergenceKey::derive(&scope(5));
    let mut as_tree = tree_node();
    let mut as_data = as_tree.clone();
    as_data[0] = BlockKind::Data as u8;
    let tree_ref = seal_in_place(&conv, &mut as_tree).unwrap();
    let data_ref = seal_in_place(&conv, &mut as_data).unwrap();
    assert_ne!(tree_ref.key, data_ref.key);
    assert_ne!(tree_ref.id, data_ref.id);
}
