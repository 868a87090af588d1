//! Volumes: heads and device lists seal and open only with the volume's keys and their signer;
//! snapshots read back signed by their device, bound to their volume, with their history links.

use gofast_core::block::{Block, BlockId, BlockKey, BlockRef, open_in_place};
use gofast_core::codec::{decode_exact, encode_to_vec};
use gofast_core::crypto::SecretBytes;
use gofast_core::fs::snapshot::MAX_SNAPSHOT_BLOCK_LEN;
use gofast_core::fs::{
    DeviceList, MAX_DEVICES, Snapshot, SnapshotError, SnapshotRef, VolumeError, VolumeHead,
    VolumeKeys, VolumeSecret, read_snapshot,
};
use gofast_core::identity::KeyPair;
use gofast_core::record::Record;

fn key(i: u8) -> KeyPair {
    KeyPair::from_seed(&SecretBytes::new([i; 32]))
}

fn volume(i: u8) -> VolumeKeys {
    VolumeKeys::derive(&VolumeSecret(SecretBytes::new([i; 32])), 0, None)
}

fn some_ref(i: u8) -> BlockRef {
    BlockRef {
        id: BlockId([i; 32]),
        key: BlockKey(SecretBytes::new([i ^ 0x55; 32])),
    }
}

/// A record through the wire: encoded and decoded again (which checks its signature).
fn wire(record: &Record) -> Record {
    decode_exact(&encode_to_vec(record)).unwrap()
}

#[test]
fn a_head_opens_with_its_volume_and_nowhere_else() {
    let (keys, other) = (volume(1), volume(2));
    let device = key(7);
    let head = VolumeHead {
        seq: 3,
        snapshot: SnapshotRef(some_ref(9)),
    };
    let record = wire(&head.sign(&device, &keys).unwrap());
    assert_eq!(record.dht_key(), keys.head_key(&device.peer_id()));
    assert_eq!(VolumeHead::from_record(&record, &keys).unwrap(), head);
    // The reference never appears in the clear.
    let value = record.value();
    assert!(!value.windows(32).any(|w| w == [9u8; 32]));
    // Another volume: another salt.
    assert_eq!(
        VolumeHead::from_record(&record, &other),
        Err(VolumeError::WrongRecord)
    );
    // Another epoch of the same volume's keys.
    let later = VolumeKeys::derive(
        &VolumeSecret(SecretBytes::new([3; 32])),
        1,
        Some(*keys.id()),
    );
    assert_eq!(
        VolumeHead::from_record(&record, &later),
        Err(VolumeError::OtherEpoch {
            expected: 1,
            found: 0
        })
    );
    // The same value signed into another device's record does not open: the signer is bound in.
    let thief = key(8);
    let copied = Record::sign(&thief, &keys.head_salt(), 3, record.value()).unwrap();
    assert_eq!(
        VolumeHead::from_record(&copied, &keys),
        Err(VolumeError::NotOpened)
    );
    // Nor under another sequence number.
    let replayed = Record::sign(&device, &keys.head_salt(), 4, record.value()).unwrap();
    assert_eq!(
        VolumeHead::from_record(&replayed, &keys),
        Err(VolumeError::WrongRecord)
    );
    // Every flipped byte of the value is refused.
    for i in 0..value.len() {
        let mut bad = value.to_vec();
        bad[i] ^= 0x01;
        let forged = Record::sign(&device, &keys.head_salt(), 3, &bad).unwrap();
        assert!(
            VolumeHead::from_record(&forged, &keys).is_err(),
            "byte {i} flipped was accepted"
        );
    }
}

#[test]
fn a_device_list_is_its_owners_and_holds_each_device_once() {
    let keys = volume(1);
    let owner = key(1);
    let mut devices = heapless::Vec::new();
    for i in 1..=3 {
        devices.push(key(i).peer_id()).unwrap();
    }
    let list = DeviceList { seq: 2, devices };
    let record = wire(&list.sign(&owner, &keys).unwrap());
    assert_eq!(record.dht_key(), keys.devices_key(&owner.peer_id()));
    let read = DeviceList::from_record(&record, &owner.peer_id(), &keys).unwrap();
    assert_eq!(read, list);
    assert!(read.contains(&key(3).peer_id()));
    assert!(!read.contains(&key(4).peer_id()));
    // Signed by a device that is not the owner: refused, even with the right salt.
    let usurper = list.sign(&key(2), &keys).unwrap();
    assert_eq!(
        DeviceList::from_record(&usurper, &owner.peer_id(), &keys),
        Err(VolumeError::WrongRecord)
    );
    // A head is not a device list.
    let head = VolumeHead {
        seq: 2,
        snapshot: SnapshotRef(some_ref(1)),
    }
    .sign(&owner, &keys)
    .unwrap();
    assert_eq!(
        DeviceList::from_record(&head, &owner.peer_id(), &keys),
        Err(VolumeError::WrongRecord)
    );
    // Duplicates and empty lists are not made.
    let mut twice = list.clone();
    twice.devices.push(key(1).peer_id()).unwrap();
    assert_eq!(twice.sign(&owner, &keys), Err(VolumeError::BadDeviceList));
    let empty = DeviceList {
        seq: 1,
        devices: heapless::Vec::new(),
    };
    assert_eq!(empty.sign(&owner, &keys), Err(VolumeError::BadDeviceList));
    // The largest list fits a record.
    let mut full = heapless::Vec::new();
    for i in 0..MAX_DEVICES as u8 {
        full.push(key(100 + i).peer_id()).unwrap();
    }
    let full = DeviceList {
        seq: 9,
        devices: full,
    };
    let record = wire(&full.sign(&owner, &keys).unwrap());
    assert_eq!(
        DeviceList::from_record(&record, &owner.peer_id(), &keys).unwrap(),
        full
    );
}

fn seal(device: &KeyPair, keys: &VolumeKeys, snap: &Snapshot<'_>) -> (SnapshotRef, Vec<u8>) {
    let mut block = vec![0u8; MAX_SNAPSHOT_BLOCK_LEN];
    let (len, r) = snap.seal(device, keys, &mut block).unwrap();
    block.truncate(len);
    (r, block)
}

fn read<'b>(
    keys: &VolumeKeys,
    r: &SnapshotRef,
    block: &'b mut [u8],
) -> Result<Snapshot<'b>, SnapshotError> {
    match open_in_place(&r.0, block).expect("the block opens") {
        Block::Data(data) => read_snapshot(keys, data),
        Block::Tree(_) => panic!("a snapshot is a data block"),
    }
}

#[test]
fn snapshots_chain_and_are_bound_to_their_volume_and_device() {
    let keys = volume(1);
    let device = key(5);
    let first = Snapshot {
        seq: 1,
        time_ns: -5,
        device: device.peer_id(),
        root: some_ref(1),
        parents: heapless::Vec::new(),
        note: "create",
    };
    let (r1, b1) = seal(&device, &keys, &first);
    let mut parents = heapless::Vec::new();
    parents.push(r1.clone()).unwrap();
    parents.push(SnapshotRef(some_ref(4))).unwrap();
    let merge = Snapshot {
        seq: 2,
        time_ns: 1_700_000_000_000_000_000,
        device: device.peer_id(),
        root: some_ref(2),
        parents,
        note: "merge with ünïcode",
    };
    let (r2, b2) = seal(&device, &keys, &merge);
    assert_eq!(read(&keys, &r1, &mut b1.clone()).unwrap(), first);
    assert_eq!(read(&keys, &r2, &mut b2.clone()).unwrap(), merge);
    // Sealing is deterministic: the same snapshot is the same block.
    assert_eq!(seal(&device, &keys, &merge).1, b2);

    // In another volume the signature does not verify (the id is signed).
    let other = volume(2);
    assert_eq!(
        read(&other, &r2, &mut b2.clone()),
        Err(SnapshotError::BadSignature)
    );
    // Signed by a key that is not the named device: not made.
    let mut block = vec![0u8; MAX_SNAPSHOT_BLOCK_LEN];
    assert!(matches!(
        merge.seal(&key(6), &keys, &mut block),
        Err(SnapshotError::Invalid(_))
    ));
    // A first snapshot with parents, or a later one without, is not made.
    let orphan = Snapshot {
        seq: 3,
        parents: heapless::Vec::new(),
        ..first.clone()
    };
    assert!(matches!(
        orphan.seal(&device, &keys, &mut block),
        Err(SnapshotError::Invalid(_))
    ));
    // A note too long is not made.
    let long = "x".repeat(257);
    let noisy = Snapshot {
        note: &long,
        ..first.clone()
    };
    assert!(matches!(
        noisy.seal(&device, &keys, &mut block),
        Err(SnapshotError::Invalid(_))
    ));
}

#[test]
fn a_changed_snapshot_byte_is_refused() {
    let keys = volume(1);
    let device = key(5);
    let snap = Snapshot {
        seq: 1,
        time_ns: 7,
        device: device.peer_id(),
        root: some_ref(1),
        parents: heapless::Vec::new(),
        note: "n",
    };
    let (r, block) = seal(&device, &keys, &snap);
    let mut plain = block.clone();
    let Block::Data(data) = open_in_place(&r.0, &mut plain).unwrap() else {
        panic!("a data block")
    };
    let data = data.to_vec();
    for i in 0..data.len() {
        let mut bad = data.clone();
        bad[i] ^= 0x80;
        assert!(
            read_snapshot(&keys, &bad).is_err(),
            "byte {i} flipped was accepted"
        );
    }
    for cut in 0..data.len() {
        assert!(read_snapshot(&keys, &data[..cut]).is_err());
    }
}

#[test]
fn a_capability_reads_back_from_its_text_and_hides_its_secret() {
    use gofast_core::fs::{CapabilityParseError, VolumeCapability};
    let cap = VolumeCapability {
        owner: key(1).peer_id(),
        secret: VolumeSecret(SecretBytes::new([42; 32])),
    };
    let text = cap.display_secret().to_string();
    assert!(text.starts_with("gfv1"), "{text}");
    assert_eq!(text.parse::<VolumeCapability>().unwrap(), cap);
    // The characters that encode the secret (the owner, first, is public) appear nowhere.
    assert!(!format!("{cap:?}").contains(&text[60..100]));
    assert!(!format!("{:?}", cap.display_secret()).contains("gfv1"));
    // A peer id is not a capability; a changed character fails the checksum.
    let peer = key(1).peer_id().to_string();
    assert!(matches!(
        peer.parse::<VolumeCapability>(),
        Err(CapabilityParseError::Text(_))
    ));
    let mut bad = text.clone().into_bytes();
    bad[10] = if bad[10] == b'q' { b'p' } else { b'q' };
    assert!(
        String::from_utf8(bad)
            .unwrap()
            .parse::<VolumeCapability>()
            .is_err()
    );
}

#[test]
fn a_grant_gives_the_epoch_secret_to_the_listed_devices_only() {
    use gofast_core::fs::{Grant, OpenedGrant, sealed_epoch};
    let keys = volume(1);
    let (owner, kept, removed) = (key(1), key(2), key(3));
    let secret = VolumeSecret(SecretBytes::new([0x42; 32]));
    let devices = [owner.peer_id(), kept.peer_id()];
    let grant = Grant {
        seq: 4,
        epoch: 2,
        secret: &secret,
        salt: [5; 16],
        devices: &devices,
    };
    let record = wire(&grant.sign(&owner, keys.id()).unwrap());
    assert_eq!(record.dht_key(), keys.grant_key(&owner.peer_id()));
    // The secret never appears in the clear.
    assert!(!record.value().windows(32).any(|w| w == [0x42u8; 32]));
    for device in [&owner, &kept] {
        let opened = OpenedGrant::open(&record, &owner.peer_id(), keys.id(), device).unwrap();
        assert_eq!((opened.seq, opened.epoch), (4, 2));
        assert_eq!(opened.secret.as_ref(), Some(&secret));
    }
    // The removed device reads the record but finds no envelope it can open.
    let opened = OpenedGrant::open(&record, &owner.peer_id(), keys.id(), &removed).unwrap();
    assert_eq!((opened.epoch, opened.secret), (2, None));
    // Another volume, another owner: not this grant.
    assert_eq!(
        OpenedGrant::open(&record, &owner.peer_id(), volume(2).id(), &kept).unwrap_err(),
        VolumeError::WrongRecord
    );
    assert_eq!(
        OpenedGrant::open(&record, &kept.peer_id(), keys.id(), &kept).unwrap_err(),
        VolumeError::WrongRecord
    );
    // A changed byte in the header (version, epoch, salt, count) or in the kept device's envelope
    // (the second): no secret comes out for it.
    let value = record.value().to_vec();
    assert_eq!(value.len(), 22 + 2 * 48);
    for i in (0..22).chain(22 + 48..value.len()) {
        let mut changed = value.clone();
        changed[i] ^= 1;
        let forged = Record::sign(&owner, record.salt(), 5, &changed).unwrap();
        let opened = OpenedGrant::open(&forged, &owner.peer_id(), keys.id(), &kept);
        assert!(
            opened.is_err() || opened.unwrap().secret.is_none(),
            "byte {i} changed"
        );
    }
    // Keys of the new epoch seal heads that name it.
    let later = VolumeKeys::derive(&secret, 2, Some(*keys.id()));
    let head = VolumeHead {
        seq: 1,
        snapshot: SnapshotRef(some_ref(3)),
    }
    .sign(&kept, &later)
    .unwrap();
    assert_eq!(sealed_epoch(head.value()), Ok(2));
    assert_eq!(later.head_salt(), keys.head_salt());
    assert_ne!(later.scope(), keys.scope());
}

#[test]
fn a_grant_of_epoch_zero_or_of_no_devices_is_refused() {
    use gofast_core::fs::Grant;
    let keys = volume(1);
    let owner = key(1);
    let secret = VolumeSecret(SecretBytes::new([1; 32]));
    let one = [owner.peer_id()];
    let too_many: Vec<_> = (0..=MAX_DEVICES as u8)
        .map(|i| key(i + 10).peer_id())
        .collect();
    for (epoch, devices) in [(0, &one[..]), (1, &[][..]), (1, &too_many[..])] {
        let grant = Grant {
            seq: 1,
            epoch,
            secret: &secret,
            salt: [0; 16],
            devices,
        };
        assert_eq!(
            grant.sign(&owner, keys.id()).unwrap_err(),
            VolumeError::BadDeviceList
        );
    }
}

proptest::proptest! {
    #[test]
    fn any_grant_value_is_read_without_panic(value in proptest::collection::vec(proptest::num::u8::ANY, 0..1000)) {
        use gofast_core::fs::{OpenedGrant, sealed_epoch};
        let keys = volume(1);
        let owner = key(1);
        let record = Record::sign(&owner, &keys.grant_salt(), 1, &value).unwrap();
        let _ = OpenedGrant::open(&record, &owner.peer_id(), keys.id(), &key(2));
        let _ = sealed_epoch(&value);
    }
}
