//! The byte-level spec in `docs/spec/` names the same constants as the code. Context strings and signature
//! domains are part of every derived key and signature, so a spec that drifts from them describes another
//! protocol.

use gofast_core::block::{MAX_BLOCK_LEN, MAX_TREE_CHILDREN};
use gofast_core::codec::FORMAT_VERSION;
use gofast_core::crypto::{KdfContext, SignatureDomain};
use gofast_core::exchange::{BLOCK_MESSAGE_HEADER_LEN, MAX_EXCHANGE_MESSAGE_LEN, MAX_IDS};
use gofast_core::record::{MAX_SALT_LEN, MAX_VALUE_LEN};

const CRYPTO: &str = include_str!("../../docs/spec/crypto.md");
const BLOCK: &str = include_str!("../../docs/spec/block.md");
const RECORD: &str = include_str!("../../docs/spec/record.md");
const CODEC: &str = include_str!("../../docs/spec/codec.md");
const EXCHANGE: &str = include_str!("../../docs/spec/exchange.md");
const DIR: &str = include_str!("../../docs/spec/dir.md");

#[test]
fn every_kdf_context_is_in_the_spec_exactly() {
    for c in KdfContext::ALL {
        let s = c.as_str();
        assert!(
            CRYPTO.contains(&format!("`{s}` | {} |", s.len())),
            "crypto.md lacks the context `{s}` with its length"
        );
    }
    let distinct: std::collections::HashSet<_> =
        KdfContext::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(
        distinct.len(),
        KdfContext::ALL.len(),
        "context strings must be distinct"
    );
}

#[test]
fn every_signature_domain_is_in_the_spec_exactly() {
    for d in SignatureDomain::ALL {
        let hex = hex::encode(d.as_bytes());
        assert!(
            CRYPTO.contains(&hex),
            "crypto.md lacks the domain bytes {hex}"
        );
        assert_eq!(d.as_bytes().last(), Some(&0), "a domain ends in NUL");
    }
}

#[test]
fn limits_in_the_spec_match_the_code() {
    assert!(
        BLOCK.contains(&MAX_BLOCK_LEN.to_string())
            || BLOCK.contains("65 536")
            || BLOCK.contains("65,536")
    );
    assert!(
        BLOCK.contains(&MAX_TREE_CHILDREN.to_string()),
        "block.md lacks MAX_TREE_CHILDREN = {MAX_TREE_CHILDREN}"
    );
    assert!(
        RECORD.contains(&format!("| `MAX_SALT_LEN` | {MAX_SALT_LEN} |"))
            && RECORD.contains(&format!("| `MAX_VALUE_LEN` | {MAX_VALUE_LEN} |"))
    );
    assert!(
        CODEC.contains(&format!("{FORMAT_VERSION:#04x}"))
            || CODEC.contains(&format!("`{FORMAT_VERSION}`"))
    );
}

#[test]
fn exchange_limits_in_the_spec_match_the_code() {
    for (name, value) in [
        ("MAX_IDS", MAX_IDS),
        ("BLOCK_MESSAGE_HEADER_LEN", BLOCK_MESSAGE_HEADER_LEN),
        ("MAX_EXCHANGE_MESSAGE_LEN", MAX_EXCHANGE_MESSAGE_LEN),
    ] {
        assert!(
            EXCHANGE.contains(&format!("| `{name}` | {value} |")),
            "exchange.md lacks {name} = {value}"
        );
    }
    assert!(
        CODEC.contains("| `0x05` | `Exchange` |"),
        "codec.md's registry lacks the exchange message type"
    );
}

#[test]
fn dir_limits_in_the_spec_match_the_code() {
    use gofast_core::fs::{DIR_MAGIC, ENTRY_FIXED_LEN, MAX_DIR_ENTRIES, MAX_NAME_LEN};
    for (name, value) in [
        ("MAX_DIR_ENTRIES", MAX_DIR_ENTRIES as usize),
        ("ENTRY_FIXED_LEN", ENTRY_FIXED_LEN),
        ("MAX_NAME_LEN", MAX_NAME_LEN),
    ] {
        assert!(
            DIR.contains(&format!("`{name} = {value}`")),
            "dir.md lacks {name} = {value}"
        );
    }
    assert!(DIR.contains(&format!("`{}`", std::str::from_utf8(&DIR_MAGIC).unwrap())));
}
