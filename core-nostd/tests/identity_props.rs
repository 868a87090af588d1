//! Identities and identifiers in text: round trips, typo detection, kinds kept apart, nothing secret shown.

use std::str::FromStr;

use gofast_core::TextError;
use gofast_core::block::BlockRef;
use gofast_core::codec::{decode_exact, encode_to_vec};
use gofast_core::crypto::SecretBytes;
use gofast_core::crypto::sign::SignatureError;
use gofast_core::identity::PeerIdParseError;
use gofast_core::identity::{KeyPair, PeerId};
use proptest::prelude::*;

const BECH32_ALPHABET: &str = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

fn keypair(seed: [u8; 32]) -> KeyPair {
    KeyPair::from_seed(&SecretBytes::new(seed))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn text_round_trips(seed in any::<[u8; 32]>()) {
        let id = keypair(seed).peer_id();
        let text = id.to_string();
        prop_assert!(text.starts_with("gfp1"));
        prop_assert_eq!(text.len(), PeerId::TEXT_LEN);
        // The fmt-free form (the firmware's) is the same text.
        let mut buf = [0; PeerId::TEXT_LEN];
        prop_assert_eq!(id.to_text(&mut buf), text.as_str());
        prop_assert_eq!(PeerId::from_str(&text).unwrap(), id);
        prop_assert_eq!(PeerId::from_str(&text.to_uppercase()).unwrap(), id);
        prop_assert_eq!(decode_exact::<PeerId>(&encode_to_vec(&id)).unwrap(), id);
    }

    /// Bech32m detects every substitution of up to four characters in strings this short; each case tries
    /// one random substitution, then a second on top of it.
    #[test]
    fn mistyped_ids_are_refused(seed in any::<[u8; 32]>(), pos in 4usize..62, pos2 in 4usize..62, c in 0usize..32, c2 in 0usize..32) {
        let text = keypair(seed).peer_id().to_string();
        let mut chars: Vec<char> = text.chars().collect();
        let replacement = BECH32_ALPHABET.chars().nth(c).unwrap();
        prop_assume!(chars[pos] != replacement);
        chars[pos] = replacement;
        let one: String = chars.iter().collect();
        prop_assert!(PeerId::from_str(&one).is_err());
        chars[pos2] = BECH32_ALPHABET.chars().nth(c2).unwrap();
        let two: String = chars.iter().collect();
        prop_assert!(two == text || PeerId::from_str(&two).is_err());
    }

    #[test]
    fn swapped_neighbours_are_refused(seed in any::<[u8; 32]>(), pos in 4usize..61) {
        let text = keypair(seed).peer_id().to_string();
        let mut chars: Vec<char> = text.chars().collect();
        prop_assume!(chars[pos] != chars[pos + 1]);
        chars.swap(pos, pos + 1);
        let swapped: String = chars.iter().collect();
        prop_assert!(PeerId::from_str(&swapped).is_err());
    }

    #[test]
    fn block_refs_round_trip_in_text(bytes in any::<[u8; 32]>(), key in any::<[u8; 32]>()) {
        let mut raw = [0u8; 64];
        raw[..32].copy_from_slice(&bytes);
        raw[32..].copy_from_slice(&key);
        let r = BlockRef::from_bytes(&raw);
        let text = r.display_capability().to_string();
        prop_assert!(text.starts_with("gfb1"));
        prop_assert_eq!(text.len(), BlockRef::TEXT_LEN);
        let mut buf = [0; BlockRef::TEXT_LEN];
        prop_assert_eq!(r.capability_text(&mut buf), text.as_str());
        prop_assert_eq!(BlockRef::from_str(&text).unwrap(), r);
    }
}

#[test]
fn kinds_are_not_interchangeable() {
    let r = BlockRef::from_bytes(&[5; 64]);
    let block_text = r.display_capability().to_string();
    assert_eq!(
        PeerId::from_str(&block_text),
        Err(PeerIdParseError::Text(TextError::WrongKind {
            expected: "gfp"
        }))
    );
    let peer_text = keypair([1; 32]).peer_id().to_string();
    assert_eq!(
        BlockRef::from_str(&peer_text).unwrap_err().0,
        TextError::WrongKind { expected: "gfb" }
    );
}

#[test]
fn malformed_text_gets_a_precise_error() {
    let good = keypair([2; 32]).peer_id().to_string();
    let mut mixed = good.clone();
    mixed.replace_range(10..11, &good[10..11].to_uppercase());
    if mixed != good {
        assert_eq!(
            PeerId::from_str(&mixed),
            Err(PeerIdParseError::Text(TextError::InvalidEncoding))
        );
    }
    assert_eq!(
        PeerId::from_str(""),
        Err(PeerIdParseError::Text(TextError::InvalidEncoding))
    );
    assert_eq!(
        PeerId::from_str("gfp1"),
        Err(PeerIdParseError::Text(TextError::InvalidEncoding))
    );
    assert_eq!(
        PeerId::from_str("hello world"),
        Err(PeerIdParseError::Text(TextError::InvalidEncoding))
    );
    let mut typo: Vec<char> = good.chars().collect();
    typo[20] = if typo[20] == 'q' { 'p' } else { 'q' };
    assert_eq!(
        PeerId::from_str(&typo.iter().collect::<String>()),
        Err(PeerIdParseError::Text(TextError::BadChecksum))
    );
}

#[test]
fn a_well_formed_text_of_a_non_key_is_refused() {
    // The identity point: a canonical encoding of a point of small order. Its text has a valid checksum,
    // but it names no usable key.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut text = String::new();
    bech32_text("gfp", &identity, &mut text);
    assert_eq!(
        PeerId::from_str(&text),
        Err(PeerIdParseError::Key(SignatureError::WeakPublicKey))
    );
    assert!(PeerId::from_bytes(&identity).is_err());
    assert!(decode_exact::<PeerId>(&identity).is_err());
}

/// Encodes with the canonical form, via a BlockRef-sized detour: the public API only prints valid ids,
/// so the test writes bech32m with a tiny independent encoder.
fn bech32_text(hrp: &str, data: &[u8], out: &mut String) {
    const GEN: [u32; 5] = [
        0x3b6a_57b2,
        0x2650_8e6d,
        0x1ea1_19fa,
        0x3d42_33dd,
        0x2a14_62b3,
    ];
    fn polymod(values: &[u8]) -> u32 {
        let mut chk: u32 = 1;
        for &v in values {
            let b = chk >> 25;
            chk = ((chk & 0x1ff_ffff) << 5) ^ u32::from(v);
            for (i, g) in GEN.iter().enumerate() {
                if (b >> i) & 1 == 1 {
                    chk ^= g;
                }
            }
        }
        chk
    }
    let mut five = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in data {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            five.push(((acc >> bits) & 31) as u8);
        }
    }
    if bits > 0 {
        five.push(((acc << (5 - bits)) & 31) as u8);
    }
    let mut values: Vec<u8> = hrp.bytes().map(|c| c >> 5).collect();
    values.push(0);
    values.extend(hrp.bytes().map(|c| c & 31));
    values.extend(&five);
    values.extend([0u8; 6]);
    let m = polymod(&values) ^ 0x2bc8_30a3;
    let alphabet: Vec<char> = BECH32_ALPHABET.chars().collect();
    out.push_str(hrp);
    out.push('1');
    for v in five
        .iter()
        .copied()
        .chain((0..6).map(|i| ((m >> (5 * (5 - i))) & 31) as u8))
    {
        out.push(alphabet[v as usize]);
    }
}

#[test]
fn the_independent_encoder_agrees_with_the_core() {
    let id = keypair([3; 32]).peer_id();
    let mut text = String::new();
    bech32_text("gfp", id.as_bytes(), &mut text);
    assert_eq!(text, id.to_string());
}

#[test]
fn secrets_never_show_in_debug_output() {
    let seed = [0xAB; 32];
    let kp = keypair(seed);
    let shown = format!("{kp:?}");
    assert!(!shown.to_lowercase().contains("abab"), "{shown}");
    assert!(shown.contains(&kp.peer_id().to_string()));

    let r = BlockRef::from_bytes(&{
        let mut b = [0x11; 64];
        b[32..].fill(0xCD);
        b
    });
    let shown = format!("{r:?}");
    assert!(!shown.to_lowercase().contains("cdcd"), "{shown}");
    assert!(shown.contains("redacted"));
    assert_eq!(
        format!("{:?}", r.display_capability()),
        "BlockRefText(<redacted>)"
    );
}

#[test]
fn short_ids_are_a_prefix_of_the_full_text() {
    let id = keypair([4; 32]).peer_id();
    let short = id.short().to_string();
    assert_eq!(short.chars().count(), 13);
    assert!(id.to_string().starts_with(short.trim_end_matches('…')));
}

#[test]
fn dht_keys_are_derived_not_chosen() {
    let a = keypair([5; 32]).peer_id();
    let b = keypair([6; 32]).peer_id();
    assert_eq!(a.dht_key(), a.dht_key());
    assert_ne!(a.dht_key(), b.dht_key());
    assert_ne!(a.dht_key().as_bytes(), a.as_bytes());
}
