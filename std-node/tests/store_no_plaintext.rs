//! Nothing readable reaches the disk: after blocks whose plaintext carries a marker, a block whose very
//! ciphertext is the marker, pins with a known label and root, hits, unpins and a gc, no file of the
//! store holds the marker, the label, the root's key, any block id or any block's ciphertext.

use std::fs;
use std::path::Path;

use gofast_core::block::{
    BlockId, BlockKind, BlockRef, ConvergenceKey, ScopeSecret, seal_in_place,
};
use gofast_core::crypto::SecretBytes;
use gofast_core::crypto::hash::hash;
use gofast_node::store::{BlockStore, Class, StoreConfig};

const MARKER: &[u8] = b"MARKER-gofast-plaintext-4b1d9e";
const LABEL: &str = "holiday photos of LABEL-secret-77c2";

fn every_file(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            every_file(&path, out);
        } else {
            out.push((path.display().to_string(), fs::read(&path).unwrap()));
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn no_plaintext_label_key_or_id_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let storage_key = SecretBytes::new([0x42; 32]);
    let scope = ScopeSecret::from_secret(SecretBytes::new([9; 32]));
    let convergence = ConvergenceKey::derive(&scope);

    // Real sealed blocks whose plaintext is full of the marker.
    let mut sealed: Vec<(BlockRef, Vec<u8>)> = Vec::new();
    for n in 0..8u8 {
        let mut block = vec![BlockKind::Data as u8];
        for _ in 0..100 {
            block.extend_from_slice(MARKER);
            block.push(n);
        }
        let r = seal_in_place(&convergence, &mut block).unwrap();
        sealed.push((r, block));
    }
    // A block whose ciphertext is the marker itself: only the store's own sealing hides it.
    let raw: Vec<u8> = MARKER.repeat(20);
    let raw_id = BlockId(hash(&raw));

    {
        let store = BlockStore::open(dir.path(), &storage_key, StoreConfig::default()).unwrap();
        let mut w = store.writer();
        for (r, ct) in &sealed[..4] {
            w.put(&r.id, ct, Class::Permanent).unwrap();
        }
        for (r, ct) in &sealed[4..] {
            w.put(&r.id, ct, Class::Cache).unwrap();
        }
        w.put(&raw_id, &raw, Class::Cache).unwrap();
        w.flush().unwrap();
        drop(w);
        let root = &sealed[0].0;
        store
            .pin(LABEL, root, sealed[1..4].iter().map(|(r, _)| r.id))
            .unwrap();
        store
            .pin("second LABEL-secret-77c2", &sealed[5].0, [raw_id])
            .unwrap();
        for (r, _) in &sealed {
            store.get(&r.id).unwrap().unwrap();
        }
        store.get(&raw_id).unwrap().unwrap();
        store.persist_hits().unwrap();
        store.unpin("second LABEL-secret-77c2").unwrap().unwrap();
        store.gc().unwrap();
        assert_eq!(store.pins().unwrap()[0].label, LABEL);
    }

    let mut files = Vec::new();
    every_file(dir.path(), &mut files);
    assert!(files.len() >= 2, "an index and an arena");
    let mut needles: Vec<(String, Vec<u8>)> = vec![
        ("marker".into(), MARKER.to_vec()),
        ("label".into(), LABEL.as_bytes().to_vec()),
        ("label fragment".into(), b"LABEL-secret".to_vec()),
        ("root key".into(), sealed[0].0.key.0.expose().to_vec()),
        ("raw id".into(), raw_id.0.to_vec()),
    ];
    for (i, (r, ct)) in sealed.iter().enumerate() {
        needles.push((format!("id {i}"), r.id.0.to_vec()));
        needles.push((format!("key {i}"), r.key.0.expose().to_vec()));
        needles.push((format!("ciphertext {i}"), ct[..32].to_vec()));
        needles.push((format!("ciphertext tail {i}"), ct[ct.len() - 32..].to_vec()));
    }
    for (name, bytes) in &files {
        for (what, needle) in &needles {
            assert!(!contains(bytes, needle), "{what} found in {name}");
        }
    }
}
