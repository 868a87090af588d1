//! The small fixed-size messages and values: block references, peer ids, tree entries, DHT keys.
#![no_main]

use gofast_core::block::{BlockRef, TreeEntry};
use gofast_core::codec::{decode_exact, decode_message, encode_to_vec};
use gofast_core::identity::{DhtKey, PeerId};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = decode_message::<BlockRef>(data) {
        assert_eq!(&data[2..], r.to_bytes());
    }
    if let Ok(p) = decode_message::<PeerId>(data) {
        assert_eq!(&data[2..], p.as_bytes());
        let _ = p.dht_key();
    }
    if let Ok(p) = decode_exact::<PeerId>(data) {
        assert_eq!(p.to_string().parse::<PeerId>(), Ok(p));
    }
    if let Ok(e) = decode_exact::<TreeEntry>(data) {
        assert_eq!(encode_to_vec(&e), data);
    }
    if let Ok(k) = decode_exact::<DhtKey>(data) {
        assert_eq!(k.as_bytes(), data);
    }
});
