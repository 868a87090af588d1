//! Stream entries and heads: arbitrary bytes read as an entry of a fixed publisher's stream (almost
//! always refused, at the signature at the latest) and as a head record's value; a real entry with
//! one byte changed by the input must be refused.
#![no_main]

use gofast_core::block::{Block, open_in_place};
use gofast_core::crypto::SecretBytes;
use gofast_core::identity::KeyPair;
use gofast_core::record::Record;
use gofast_core::stream::{Entry, Head, MAX_ENTRY_BLOCK_LEN, read_entry, seal_entry};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let publisher = KeyPair::from_seed(&SecretBytes::new([7; 32]));
    let _ = read_entry(&publisher.peer_id(), b"sensor", data);
    if let Ok(record) = Record::sign(
        &publisher,
        b"stream/sensor",
        1,
        data.get(..73).unwrap_or(data),
    ) {
        let _ = Head::from_record(&record, b"sensor");
    }
    // One byte of a genuine entry changed: refused.
    let Some((&at, rest)) = data.split_first() else {
        return;
    };
    let reading = rest.get(..rest.len().min(64)).unwrap_or(&[]);
    let entry = Entry {
        seq: 1,
        time_ms: 5,
        prev: None,
        reading,
    };
    let mut block = [0u8; MAX_ENTRY_BLOCK_LEN];
    let Ok((len, r)) = seal_entry(&publisher, b"sensor", &entry, &mut block) else {
        return;
    };
    let Ok(Block::Data(plain)) = open_in_place(&r, &mut block[..len]) else {
        panic!("a sealed entry opens");
    };
    let mut changed = plain.to_vec();
    let i = usize::from(at) % changed.len();
    changed[i] ^= 0x55;
    assert!(read_entry(&publisher.peer_id(), b"sensor", &changed).is_err());
});
