//! Volumes: arbitrary bytes read as a snapshot of a fixed volume (almost always refused, at the
//! signature at the latest), as a head's and a device list's sealed value and a key grant's value, and as the three
//! listings of a directory merge; a real snapshot with one byte changed by the input is refused.
#![no_main]

use gofast_core::block::{Block, BlockId, BlockKey, BlockRef, open_in_place};
use gofast_core::crypto::SecretBytes;
use gofast_core::fs::merge::{Side, merge_dir};
use gofast_core::fs::snapshot::MAX_SNAPSHOT_BLOCK_LEN;
use gofast_core::fs::{
    DeviceList, DirListing, OpenedGrant, Snapshot, VolumeHead, VolumeKeys, VolumeSecret,
    read_snapshot, sealed_epoch,
};
use gofast_core::identity::KeyPair;
use gofast_core::record::Record;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let keys = VolumeKeys::derive(&VolumeSecret(SecretBytes::new([3; 32])), 0, None);
    let device = KeyPair::from_seed(&SecretBytes::new([7; 32]));
    let _ = read_snapshot(&keys, data);
    let value = data.get(..1000).unwrap_or(data);
    if let Ok(record) = Record::sign(&device, &keys.head_salt(), 1, value) {
        let _ = VolumeHead::from_record(&record, &keys);
    }
    if let Ok(record) = Record::sign(&device, &keys.devices_salt(), 1, value) {
        let _ = DeviceList::from_record(&record, &device.peer_id(), &keys);
    }
    if let Ok(record) = Record::sign(&device, &keys.grant_salt(), 1, value) {
        let _ = OpenedGrant::open(&record, &device.peer_id(), keys.id(), &device);
    }
    let _ = sealed_epoch(data);
    // Three listings cut from the input, merged: never a panic.
    let third = data.len() / 3;
    let (a, rest) = data.split_at(third);
    let (b, c) = rest.split_at(third);
    if let (Ok(a), Ok(b), Ok(c)) = (
        DirListing::decode(a),
        DirListing::decode(b),
        DirListing::decode(c),
    ) {
        let (a, b, c): (Vec<_>, Vec<_>, Vec<_>) = (
            a.entries().collect(),
            b.entries().collect(),
            c.entries().collect(),
        );
        let _ = merge_dir(
            &a,
            Side {
                entries: &b,
                device: "b",
            },
            Side {
                entries: &c,
                device: "c",
            },
        );
    }
    // One byte of a genuine snapshot changed: refused.
    let Some((&at, rest)) = data.split_first() else {
        return;
    };
    let note = core::str::from_utf8(rest.get(..rest.len().min(64)).unwrap_or(&[])).unwrap_or("");
    let snap = Snapshot {
        seq: 1,
        time_ns: 5,
        device: device.peer_id(),
        root: BlockRef {
            id: BlockId([at; 32]),
            key: BlockKey(SecretBytes::new([at; 32])),
        },
        parents: heapless::Vec::new(),
        note,
    };
    let mut block = [0u8; MAX_SNAPSHOT_BLOCK_LEN];
    let Ok((len, r)) = snap.seal(&device, &keys, &mut block) else {
        panic!("a valid snapshot seals");
    };
    let Ok(Block::Data(plain)) = open_in_place(&r.0, &mut block[..len]) else {
        panic!("a sealed snapshot opens");
    };
    assert_eq!(read_snapshot(&keys, plain).as_ref(), Ok(&snap));
    let mut changed = plain.to_vec();
    let i = usize::from(at) % changed.len();
    changed[i] ^= 0x55;
    assert!(read_snapshot(&keys, &changed).is_err());
});
