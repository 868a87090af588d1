//! Directory listings: what decodes yields every entry in strictly increasing name order, each name
//! safe to write to disk, and encodes back to the same bytes.
#![no_main]

use gofast_core::fs::{DirListing, check_name, encode_listing};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(listing) = DirListing::decode(data) {
        let mut entries: Vec<_> = listing.entries().collect();
        assert_eq!(entries.len(), listing.len());
        for w in entries.windows(2) {
            assert!(w[0].name.as_bytes() < w[1].name.as_bytes());
        }
        assert!(entries.iter().all(|e| check_name(e.name).is_ok()));
        assert_eq!(encode_listing(&mut entries).unwrap(), data);
    }
});
