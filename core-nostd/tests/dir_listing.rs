//! Directory listings: what encodes decodes to the same entries in name order, the encoding is
//! canonical, and every rule of the format is enforced on both sides.

use gofast_core::block::BlockRef;
use gofast_core::codec::{DecodeError, EncodeError};
use gofast_core::fs::{DirEntry, DirListing, EntryKind, MAX_NAME_LEN, check_name, encode_listing};
use proptest::prelude::*;

fn entry(name: &str, seed: u8) -> DirEntry<'_> {
    DirEntry {
        name,
        kind: if seed.is_multiple_of(2) {
            EntryKind::File
        } else {
            EntryKind::Dir
        },
        redundancy: seed,
        size: u64::from(seed) << 33,
        mtime_ns: i64::from(seed) * -1_000_000_007,
        target: BlockRef::from_bytes(&[seed; 64]),
    }
}

fn names() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::btree_set("[^/\u{0}]{1,40}", 0..40).prop_map(|s| {
        s.into_iter()
            .filter(|n| check_name(n).is_ok())
            .collect::<Vec<_>>()
    })
}

proptest! {
    #[test]
    fn listings_round_trip_in_name_order_and_canonically(names in names(), rot in 0usize..40) {
        let mut entries: Vec<DirEntry<'_>> = names
            .iter()
            .enumerate()
            .map(|(i, n)| entry(n, i as u8))
            .collect();
        let listing = encode_listing(&mut entries.clone()).unwrap();
        // Another order of the same entries: the same bytes.
        if !entries.is_empty() {
            let k = rot % entries.len();
            entries.rotate_left(k);
        }
        prop_assert_eq!(&encode_listing(&mut entries).unwrap(), &listing);
        let decoded = DirListing::decode(&listing).unwrap();
        prop_assert_eq!(decoded.len(), names.len());
        let back: Vec<DirEntry<'_>> = decoded.entries().collect();
        prop_assert_eq!(back.len(), entries.len());
        for w in back.windows(2) {
            prop_assert!(w[0].name.as_bytes() < w[1].name.as_bytes());
        }
        for e in &back {
            let original = entries.iter().find(|o| o.name == e.name).unwrap();
            prop_assert_eq!(e, original);
        }
        // Every cut-short listing is refused.
        for cut in 0..listing.len() {
            prop_assert!(DirListing::decode(&listing[..cut]).is_err());
        }
    }
}

#[test]
fn names_that_could_leave_the_directory_are_refused_on_both_sides() {
    let long = "x".repeat(MAX_NAME_LEN + 1);
    for bad in ["", ".", "..", "a/b", "/", "nul\0byte", long.as_str()] {
        assert!(check_name(bad).is_err(), "{bad:?} accepted");
        let err = encode_listing(&mut [entry(bad, 1)]).unwrap_err();
        assert!(
            matches!(err, EncodeError::InvalidValue { field: "name", .. }),
            "{bad:?}: {err:?}"
        );
    }
    for good in [
        "...",
        ".hidden",
        "a b",
        "é",
        "x".repeat(MAX_NAME_LEN).as_str(),
    ] {
        assert!(check_name(good).is_ok(), "{good:?} refused");
    }
}

#[test]
fn a_name_given_twice_is_refused() {
    let err = encode_listing(&mut [entry("a", 1), entry("b", 2), entry("a", 3)]).unwrap_err();
    assert!(matches!(err, EncodeError::InvalidValue { .. }), "{err:?}");
}

#[test]
fn an_unknown_kind_is_refused() {
    let mut listing = encode_listing(&mut [entry("a", 2)]).unwrap();
    // magic 4, count 4, name_len 1, name 1: the kind byte.
    listing[10] = 9;
    assert_eq!(
        DirListing::decode(&listing).unwrap_err(),
        DecodeError::InvalidTag {
            field: "kind",
            tag: 9
        }
    );
}

#[test]
fn the_empty_directory_is_eight_bytes() {
    let listing = encode_listing(&mut []).unwrap();
    assert_eq!(listing, b"GFD1\0\0\0\0");
    assert!(DirListing::decode(&listing).unwrap().is_empty());
}
