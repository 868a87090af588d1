//! The parallel add gives exactly the blocks and the root of the core's one-thread `FileEncoder`,
//! at sizes around the chunk and read boundaries, and stores every block it names.

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use gofast_core::block::{BlockId, ChunkerParams, FileEncoder, ScopeSecret, read_tree};
use gofast_core::crypto::SecretBytes;
use gofast_node::encode::encode_into_store;
use gofast_node::store::{BlockStore, StoreConfig};
use support::noise;

/// The core's reference: root and distinct block ids.
fn reference(
    scope: &ScopeSecret,
    data: &[u8],
) -> (gofast_core::block::BlockRef, BTreeSet<[u8; 32]>) {
    let mut ids = BTreeSet::new();
    let mut sink = |id: &BlockId, _: &[u8]| -> Result<(), std::convert::Infallible> {
        ids.insert(id.0);
        Ok(())
    };
    let mut enc = FileEncoder::new(scope, ChunkerParams::DEFAULT);
    // Odd write sizes, unlike the pipeline's reads.
    for piece in data.chunks(77_777) {
        enc.write(piece, &mut sink).unwrap();
    }
    let root = enc.finish(&mut sink).unwrap().root;
    (root, ids)
}

/// A store in a fresh directory (kept alive by the guard) and a scope.
fn store_and_scope() -> (tempfile::TempDir, BlockStore, ScopeSecret) {
    let dir = tempfile::tempdir().unwrap();
    let store = BlockStore::open(
        dir.path(),
        &SecretBytes::new([3; 32]),
        StoreConfig::default(),
    )
    .unwrap();
    (
        dir,
        store,
        ScopeSecret::from_secret(SecretBytes::new([4; 32])),
    )
}

#[test]
fn the_parallel_add_matches_the_core_encoder() {
    let (_dir, store, scope) = store_and_scope();
    let max = ChunkerParams::DEFAULT.max() as usize;
    let mut repetitive = noise(3 << 20, 9);
    repetitive.extend(std::iter::repeat_n(0u8, 2 << 20));
    repetitive.extend(noise(3 << 20, 9));
    let cases: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), Vec::new()),
        ("one byte".into(), vec![7]),
        ("one max chunk".into(), noise(max, 1)),
        ("a max chunk and a byte".into(), noise(max + 1, 2)),
        ("one read".into(), noise(1 << 20, 3)),
        ("a read and a max chunk".into(), noise((1 << 20) + max, 4)),
        ("17 MiB and change".into(), noise((17 << 20) + 12_345, 5)),
        ("repeats and zeros".into(), repetitive),
    ];
    for (name, data) in cases {
        let (want_root, want_ids) = reference(&scope, &data);
        let mut seen_progress = 0;
        let got = encode_into_store(&store, &scope, &data[..], Path::new("<test>"), |n| {
            seen_progress = n
        })
        .unwrap();
        assert_eq!(got.root, want_root, "{name}: another root");
        assert_eq!(got.size, data.len() as u64, "{name}: size");
        assert_eq!(seen_progress, data.len() as u64, "{name}: progress");
        // The same root names the same tree; every block of it is held.
        for id in want_ids {
            assert!(
                store.has(&BlockId(id)).unwrap(),
                "{name}: a block not stored"
            );
        }
        // Every block is stored and the data reads back.
        let mut back = Vec::new();
        read_tree(
            &got.root,
            u64::MAX,
            |id| {
                store
                    .get(id)
                    .map(|b| b.expect("a block of the tree is missing"))
            },
            |d| {
                back.extend_from_slice(d);
                Ok(())
            },
        )
        .unwrap();
        assert!(back == data, "{name}: the data reads back differently");
    }
}

/// A reader that fails part-way.
struct Failing(usize);

impl std::io::Read for Failing {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.0 == 0 {
            return Err(std::io::Error::other("the disk went away"));
        }
        let n = buf.len().min(self.0);
        buf[..n].fill(1);
        self.0 -= n;
        Ok(n)
    }
}

#[test]
fn a_read_error_fails_the_add_with_the_file_named() {
    let (_dir, store, scope) = store_and_scope();
    let err = encode_into_store(
        &store,
        &scope,
        Failing(3 << 20),
        Path::new("/data/big.iso"),
        |_| {},
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("big.iso") && text.contains("the disk went away"),
        "{text}"
    );
}
