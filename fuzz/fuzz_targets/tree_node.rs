//! Tree node payloads. A node that decodes is internally consistent and re-encodes to the same bytes.
#![no_main]

use gofast_core::block::{BlockKind, TreeEntry, TreeNode, encode_tree_node};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(node) = TreeNode::decode(data) else {
        return;
    };
    let entries: Vec<TreeEntry> = node.entries().collect();
    assert_eq!(entries.len(), node.len());
    assert_eq!(
        entries.iter().map(|e| e.size).sum::<u64>(),
        node.total_size()
    );
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(node.get(i).as_ref(), Some(e));
    }
    assert!(node.get(entries.len()).is_none());
    let mut out = vec![0u8; data.len() + 1];
    let n = encode_tree_node(node.level(), &entries, &mut out).expect("re-encode");
    assert_eq!(out[0], BlockKind::Tree as u8);
    assert_eq!(&out[1..n], data);
});
