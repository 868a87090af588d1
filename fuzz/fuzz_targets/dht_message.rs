//! The DHT's RPC messages and provider records.
#![no_main]

use gofast_core::codec::{decode_exact, decode_message, encode_to_vec};
use gofast_core::dht::{DhtMessage, Provider, RecordlessDhtMessage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = decode_message::<DhtMessage>(data) {
        assert_eq!(encode_to_vec(&m), &data[2..]);
    }
    if let Ok(m) = decode_exact::<DhtMessage>(data) {
        assert_eq!(encode_to_vec(&m), data);
    }
    // The record-less decoder (a client's) takes a subset of what the full one takes, the same way.
    if let Ok(RecordlessDhtMessage(m)) = decode_exact::<RecordlessDhtMessage>(data) {
        assert_eq!(decode_exact::<DhtMessage>(data).as_ref(), Ok(&m));
        assert_eq!(encode_to_vec(&m), data);
    }
    if let Ok(p) = decode_exact::<Provider>(data) {
        assert_eq!(encode_to_vec(&p), data);
    }
});
