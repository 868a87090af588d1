//! The project's golden vectors: `tests/vectors/gofast-golden.json` pins every gofast format (identities,
//! KDF contexts, blocks, chunking, trees, records, messages, refusals) for fixed inputs.
//!
//! `golden_file_matches_the_implementation` regenerates every value and compares it with the file; it
//! never writes the file unless asked with `GOFAST_BLESS=1`, so a format change has to change the file in
//! the same commit. `golden_file_reads_back` consumes the file the way another implementation (the node,
//! the firmware, a binding) would: it decodes the stored bytes instead of producing them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::str::FromStr;

use gofast_core::block::{
    Block, BlockId, BlockKind, BlockRef, Chunker, ChunkerParams, ConvergenceKey, FileEncoder,
    ScopeSecret, TreeEntry, encode_tree_node, open_in_place, seal_in_place, verify,
};
use gofast_core::codec::{
    decode_exact, decode_message, encode_message, encode_to_vec, message_len,
};
use gofast_core::crypto::hash::{derive_key, hash_xof};
use gofast_core::crypto::{KdfContext, SecretBytes, SignatureDomain};
use gofast_core::identity::{KeyPair, PeerId, PeerIdParseError};
use gofast_core::record::Record;
use gofast_core::session::{
    CipherId, Config, DataHeader, Input, MAX_FRAME_LEN, PortableAead, Session,
};
use gofast_core::time::Instant;
use serde_json::{Value, json};

fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/gofast-golden.json")
}

fn hx(b: &[u8]) -> String {
    hex::encode(b)
}

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("valid hex")
}

fn seed32(byte: u8) -> [u8; 32] {
    let mut s = [0u8; 32];
    for (i, b) in s.iter_mut().enumerate() {
        *b = byte.wrapping_add(i as u8);
    }
    s
}

/// Test data anyone can regenerate: the BLAKE3 extendable output of the UTF-8 seed string.
fn generated(seed: &str, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    hash_xof(seed.as_bytes(), &mut out);
    out
}

fn kdf_name(c: KdfContext) -> &'static str {
    match c {
        KdfContext::BlockConvergence => "BlockConvergence",
        KdfContext::ChunkerGear => "ChunkerGear",
        KdfContext::PeerDhtKey => "PeerDhtKey",
        KdfContext::RecordDhtKey => "RecordDhtKey",
        KdfContext::SessionStreamKey => "SessionStreamKey",
        KdfContext::SessionEpochRatchet => "SessionEpochRatchet",
        KdfContext::SessionRandom => "SessionRandom",
        KdfContext::ProviderDhtKey => "ProviderDhtKey",
        KdfContext::PeerWork => "PeerWork",
        KdfContext::StreamScope => "StreamScope",
        KdfContext::VolumeId => "VolumeId",
        KdfContext::VolumeScope => "VolumeScope",
        KdfContext::VolumeValueKey => "VolumeValueKey",
        KdfContext::VolumeValueNonce => "VolumeValueNonce",
        KdfContext::VolumeGrant => "VolumeGrant",
        _ => "unknown",
    }
}

/// The error's variant name alone ("WrongKind", "BadChecksum"): stable across languages.
fn peer_id_error(e: PeerIdParseError) -> String {
    let debug = match e {
        PeerIdParseError::Text(t) => format!("{t:?}"),
        PeerIdParseError::Key(k) => format!("{k:?}"),
    };
    debug
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect()
}

fn block_json(scope_seed: u8, plaintext: &[u8]) -> Value {
    let scope = ScopeSecret::from_secret(SecretBytes::new(seed32(scope_seed)));
    let mut block = plaintext.to_vec();
    let r = seal_in_place(&ConvergenceKey::derive(&scope), &mut block).unwrap();
    json!({
        "scope_secret": hx(scope.expose().expose()),
        "kind": if plaintext[0] == BlockKind::Data as u8 { "data" } else { "tree" },
        "plaintext": hx(plaintext),
        "key": hx(r.key.0.expose()),
        "id": hx(&r.id.0),
        "ciphertext": hx(&block),
        "ref_text": r.display_capability().to_string(),
    })
}

/// The chunking the first vectors were made with (the default before 2026-11-28): the vectors list
/// their parameters, so they stay valid for them.
const SIXTEEN_KIB: ChunkerParams = match ChunkerParams::new(4096, 16_384, 65_535) {
    Ok(p) => p,
    Err(_) => panic!("valid parameters"),
};

fn tree_json(scope_seed: u8, params: ChunkerParams, data_seed: &str, len: usize) -> Value {
    let scope = ScopeSecret::from_secret(SecretBytes::new(seed32(scope_seed)));
    let data = generated(data_seed, len);
    let mut ids = Vec::new();
    let mut enc = FileEncoder::new(&scope, params);
    let mut sink = |id: &BlockId, _: &[u8]| -> Result<(), ()> {
        ids.push(hx(&id.0));
        Ok(())
    };
    enc.write(&data, &mut sink).unwrap();
    let file = enc.finish(&mut sink).unwrap();
    let chunk_lengths: Vec<usize> = Chunker::new(params, &scope)
        .chunks(&data)
        .map(<[u8]>::len)
        .collect();
    json!({
        "scope_secret": hx(scope.expose().expose()),
        "params": { "min": params.min(), "avg": params.avg(), "max": params.max() },
        "data": { "blake3_xof_of": data_seed, "len": len },
        "chunk_lengths": chunk_lengths,
        "block_ids_in_order": ids,
        "root_id": hx(&file.root.id.0),
        "root_key": hx(file.root.key.0.expose()),
        "root_text": file.root.display_capability().to_string(),
        "size": file.size,
        "leaves": file.leaves,
    })
}

fn record_json(key_seed: u8, salt: &[u8], seq: u64, value: &[u8]) -> Value {
    let kp = KeyPair::from_seed(&SecretBytes::new(seed32(key_seed)));
    let r = Record::sign(&kp, salt, seq, value).unwrap();
    let mut msg = vec![0u8; message_len(&r)];
    encode_message(&r, &mut msg).unwrap();
    json!({
        "key_seed": hx(&seed32(key_seed)),
        "public_key": hx(r.public_key().as_bytes()),
        "salt": hx(salt),
        "seq": seq,
        "value": hx(value),
        "signature": hx(&r.signature().0),
        "encoded": hx(&encode_to_vec(&r)),
        "message": hx(&msg),
        "dht_key": hx(r.dht_key().as_bytes()),
    })
}

/// Provider records and one DHT message of each kind (docs/spec/dht.md).
fn dht_json() -> (Value, Value) {
    use gofast_core::dht::{Body, DhtMessage, NodeInfo, Provider, StoreResult};
    let provider_key = KeyPair::from_seed(&SecretBytes::new(seed32(0x50)));
    let root = seed32(0x60);
    let provider = Provider::sign(&provider_key, root, 1_800_000_000).unwrap();
    let providers = json!([{
        "key_seed": hx(&seed32(0x50)),
        "root": hx(&root),
        "expires": 1_800_000_000u64,
        "encoded": hx(&encode_to_vec(&provider)),
        "dht_key": hx(provider.dht_key().as_bytes()),
    }]);
    let node = |s: u8, addr: &[u8]| NodeInfo {
        peer: KeyPair::from_seed(&SecretBytes::new(seed32(s))).peer_id(),
        addr: heapless::Vec::from_slice(addr).unwrap(),
    };
    let nodes: gofast_core::dht::Nodes = [node(0x70, &[127, 0, 0, 1, 0x1f, 0x90]), node(0x80, &[])]
        .into_iter()
        .collect();
    let record = Record::sign(&provider_key, b"", 3, b"v").unwrap();
    let bodies = [
        ("Ping", Body::Ping),
        // The same request from a DHT client: the kind's high bit set.
        ("PingFromClient", Body::Ping),
        (
            "FindNode",
            Body::FindNode {
                target: gofast_core::identity::DhtKey(seed32(0x90)),
            },
        ),
        (
            "Nodes",
            Body::Nodes {
                nodes: nodes.clone(),
            },
        ),
        (
            "Value",
            Body::Value {
                record: Some(record.clone()),
                nodes: nodes.clone(),
            },
        ),
        (
            "Stored",
            Body::Stored {
                result: StoreResult::Replaced,
            },
        ),
        (
            "AddProvider",
            Body::AddProvider {
                provider: provider.clone(),
            },
        ),
        (
            "Providers",
            Body::Providers {
                providers: [provider].into_iter().collect(),
                nodes,
            },
        ),
    ];
    let messages: Vec<Value> = bodies
        .into_iter()
        .enumerate()
        .map(|(i, (kind, body))| {
            let m = DhtMessage {
                client: kind == "PingFromClient",
                request_id: 1000 + i as u64,
                body,
            };
            let mut buf = vec![0u8; gofast_core::dht::MAX_DHT_MESSAGE_LEN];
            let n = encode_message(&m, &mut buf).unwrap();
            json!({ "kind": kind, "request_id": m.request_id, "message": hx(&buf[..n]) })
        })
        .collect();
    (providers, Value::Array(messages))
}

/// One directory listing and listings every decoder must refuse (docs/spec/dir.md).
fn dir_json() -> (Value, Value) {
    use gofast_core::fs::{DirEntry, EntryKind, encode_listing};
    let mut entries = vec![
        DirEntry {
            name: "notes.txt",
            kind: EntryKind::File,
            redundancy: 0,
            size: 13,
            mtime_ns: 1_764_000_000_123_456_789,
            target: BlockRef::from_bytes(
                &[seed32(0x10), seed32(0x30)].concat().try_into().unwrap(),
            ),
        },
        DirEntry {
            name: "Photos",
            kind: EntryKind::Dir,
            redundancy: 3,
            size: 1 << 40,
            mtime_ns: -1,
            target: BlockRef::from_bytes(
                &[seed32(0x50), seed32(0x70)].concat().try_into().unwrap(),
            ),
        },
        DirEntry {
            name: "\u{e9}t\u{e9}",
            kind: EntryKind::File,
            redundancy: 0,
            size: 0,
            mtime_ns: 0,
            target: BlockRef::from_bytes(
                &[seed32(0x90), seed32(0xb0)].concat().try_into().unwrap(),
            ),
        },
    ];
    let listing = encode_listing(&mut entries).unwrap();
    let names: Vec<&str> = entries.iter().map(|e| e.name).collect();
    let good = json!([{ "names_in_order": names, "listing": hx(&listing) }]);
    let header = |count: u32| [&b"GFD1"[..], &count.to_le_bytes()].concat();
    // The first entry (bytes 8.. up to its end) of the listing above.
    let first_len = 83 + names[0].len();
    let first = &listing[8..8 + first_len];
    let with_name = |name: &[u8]| {
        let mut e = vec![u8::try_from(name.len()).unwrap()];
        e.extend_from_slice(name);
        e.extend_from_slice(&first[1 + names[0].len()..]);
        [&header(1)[..], &e].concat()
    };
    let invalid = [
        (
            "wrong magic",
            [&b"GFD2"[..], &0u32.to_le_bytes()].concat(),
            "InvalidValue",
        ),
        ("count above the maximum", header(262_145), "LengthTooLarge"),
        ("name ..", with_name(b".."), "InvalidValue"),
        ("name with a slash", with_name(b"a/b"), "InvalidValue"),
        ("name not UTF-8", with_name(&[0xff, 0xfe]), "InvalidValue"),
        (
            "the same entry twice",
            [&header(2)[..], first, first].concat(),
            "InvalidValue",
        ),
        (
            "count says 2, one entry",
            [&header(2)[..], first].concat(),
            "UnexpectedEnd",
        ),
        (
            "a byte after the last entry",
            [&listing[..], &[0]].concat(),
            "TrailingBytes",
        ),
    ];
    let invalid: Vec<Value> = invalid
        .into_iter()
        .map(|(case, bytes, error)| json!({ "case": case, "bytes": hx(&bytes), "error": error }))
        .collect();
    (good, Value::Array(invalid))
}

/// A stream of two entries and its head record (docs/spec/stream.md): the publisher is seed32(1),
/// the stream "sensor".
fn stream_json() -> Value {
    use gofast_core::stream::{Entry, Head, MAX_ENTRY_BLOCK_LEN, seal_entry};
    let key = KeyPair::from_seed(&SecretBytes::new(seed32(1)));
    let name = b"sensor";
    let mut entries = Vec::new();
    let mut prev = None;
    for (seq, time_ms, reading) in [(1u64, 1_000u64, &b"t=18.25C"[..]), (2, 2_000, b"t=18.50C")] {
        let entry = Entry {
            seq,
            time_ms,
            prev: prev.clone(),
            reading,
        };
        let mut block = [0u8; MAX_ENTRY_BLOCK_LEN];
        let (len, r) = seal_entry(&key, name, &entry, &mut block).unwrap();
        let sealed = block[..len].to_vec();
        let mut opened = sealed.clone();
        let plain = match open_in_place(&r, &mut opened).unwrap() {
            Block::Data(d) => d.to_vec(),
            Block::Tree(_) => unreachable!("an entry is a data block"),
        };
        entries.push(json!({
            "seq": seq,
            "time_ms": time_ms,
            "reading": hx(reading),
            "entry": hx(&plain),
            "id": hx(&r.id.0),
            "key": hx(r.key.0.expose()),
            "ciphertext": hx(&sealed),
        }));
        prev = Some(r);
    }
    let head = Head {
        seq: 2,
        entry: prev.unwrap(),
    };
    let record = head.sign(&key, name).unwrap();
    json!({
        "publisher_seed": hx(&seed32(1)),
        "name": hx(name),
        "entries": entries,
        "head_value": hx(&head.to_bytes()),
        "head_record": hx(&encode_to_vec(&record)),
    })
}

/// One block-exchange message of each kind, and encodings every decoder must refuse
/// (docs/spec/exchange.md; scenario in docs/spec/golden.md).
fn exchange_json() -> (Value, Value) {
    use gofast_core::exchange::{ExchangeMessage, MAX_EXCHANGE_MESSAGE_LEN};
    // The block of the second `blocks` entry: "hello, gofast" sealed in the scope seed32(1).
    let scope = ScopeSecret::from_secret(SecretBytes::new(seed32(1)));
    let mut ciphertext = b"\x01hello, gofast".to_vec();
    let sealed = seal_in_place(&ConvergenceKey::derive(&scope), &mut ciphertext).unwrap();
    let (a, b, c) = (BlockId(seed32(0xa0)), sealed.id, BlockId(seed32(0xc0)));
    let list = |ids: &[BlockId]| heapless::Vec::from_slice(ids).unwrap();
    let all = [
        ("Want", ExchangeMessage::Want { ids: list(&[a, b]) }),
        ("Cancel", ExchangeMessage::Cancel { ids: list(&[a]) }),
        (
            "WantHave",
            ExchangeMessage::WantHave {
                ids: list(&[a, b, c]),
            },
        ),
        ("Have", ExchangeMessage::Have { ids: list(&[b]) }),
        ("DontHave", ExchangeMessage::DontHave { ids: list(&[a, c]) }),
        (
            "Block",
            ExchangeMessage::Block {
                id: b,
                data: &ciphertext,
            },
        ),
        (
            "WantDelta",
            ExchangeMessage::WantDelta {
                wants: heapless::Vec::from_slice(&[gofast_core::exchange::DeltaWant {
                    target: sealed.clone(),
                    bases: heapless::Vec::from_slice(&[BlockRef {
                        id: a,
                        key: gofast_core::block::BlockKey(SecretBytes::new(seed32(0xb0))),
                    }])
                    .unwrap(),
                }])
                .unwrap(),
            },
        ),
        (
            "Delta",
            ExchangeMessage::Delta {
                id: b,
                data: b"opaque delta",
            },
        ),
    ];
    let encode = |m: &ExchangeMessage<'_>| {
        let mut buf = vec![0u8; MAX_EXCHANGE_MESSAGE_LEN];
        let n = encode_message(m, &mut buf).unwrap();
        buf.truncate(n);
        buf
    };
    let messages: Vec<Value> = all
        .iter()
        .map(|(kind, m)| json!({ "kind": kind, "message": hx(&encode(m)) }))
        .collect();

    let want = encode(&all[0].1);
    let block_len = |len: u32| [&[1u8, 5, 6][..], &b.0, &len.to_le_bytes()].concat();
    let invalid = [
        ("Want with no ids", vec![1, 5, 1, 0], "InvalidValue"),
        (
            "Have with a count of 65 (refused before the ids)",
            vec![1, 5, 4, 65],
            "LengthTooLarge",
        ),
        ("Block of 0 bytes", block_len(0), "InvalidValue"),
        (
            "Block of 65537 bytes (refused before the data)",
            block_len(65_537),
            "LengthTooLarge",
        ),
        (
            "unknown kind 9",
            [&[1u8, 5, 9, 1][..], &a.0].concat(),
            "InvalidTag",
        ),
        (
            "WantDelta whose request names 5 bases (refused before them)",
            [&[1u8, 5, 7, 1][..], &sealed.to_bytes(), &[5]].concat(),
            "LengthTooLarge",
        ),
        (
            "Cancel with a trailing byte",
            [&encode(&all[1].1)[..], &[0]].concat(),
            "TrailingBytes",
        ),
        (
            "Want cut inside its second id",
            want[..want.len() - 10].to_vec(),
            "UnexpectedEnd",
        ),
    ];
    let invalid: Vec<Value> = invalid
        .into_iter()
        .map(|(case, bytes, error)| json!({ "case": case, "bytes": hx(&bytes), "error": error }))
        .collect();
    (Value::Array(messages), Value::Array(invalid))
}

/// A volume (docs/spec/volume.md): secret seed32(9), owner and device seed32(1), a second device
/// seed32(2); its derived keys, a first snapshot and a merge, a head record and a device list; then
/// epoch 1's grant and device list.
fn volume_json() -> Value {
    use gofast_core::fs::snapshot::MAX_SNAPSHOT_BLOCK_LEN;
    use gofast_core::fs::{DeviceList, Snapshot, VolumeHead, VolumeKeys, VolumeSecret};
    let secret = VolumeSecret(SecretBytes::new(seed32(9)));
    let keys = VolumeKeys::derive(&secret, 0, None);
    let owner = KeyPair::from_seed(&SecretBytes::new(seed32(1)));
    let other = KeyPair::from_seed(&SecretBytes::new(seed32(2)));
    let root = |b: u8| BlockRef {
        id: BlockId([b; 32]),
        key: gofast_core::block::BlockKey(SecretBytes::new([b ^ 0xff; 32])),
    };
    let mut snapshots = Vec::new();
    let mut refs = Vec::new();
    for (seq, time_ns, parents, note) in [
        (1u64, 1_795_000_000_000_000_000i64, 0usize, "create"),
        (2, 1_795_000_001_000_000_000, 2, "merge"),
    ] {
        let mut ps = heapless::Vec::new();
        if parents == 2 {
            ps.push(refs.last().cloned().unwrap()).unwrap();
            ps.push(gofast_core::fs::SnapshotRef(root(0x33))).unwrap();
        }
        let snap = Snapshot {
            seq,
            time_ns,
            device: owner.peer_id(),
            root: root(seq as u8),
            parents: ps,
            note,
        };
        let mut block = vec![0u8; MAX_SNAPSHOT_BLOCK_LEN];
        let (len, r) = snap.seal(&owner, &keys, &mut block).unwrap();
        let sealed = block[..len].to_vec();
        let mut opened = sealed.clone();
        let plain = match open_in_place(&r.0, &mut opened).unwrap() {
            Block::Data(d) => d.to_vec(),
            Block::Tree(_) => unreachable!("a snapshot is a data block"),
        };
        snapshots.push(json!({
            "seq": seq,
            "time_ns": time_ns,
            "root": hx(&snap.root.to_bytes()),
            "parents": snap.parents.iter().map(|p| hx(&p.0.to_bytes())).collect::<Vec<_>>(),
            "note": note,
            "plaintext": hx(&plain),
            "id": hx(&r.0.id.0),
            "key": hx(r.0.key.0.expose()),
            "ciphertext": hx(&sealed),
        }));
        refs.push(r);
    }
    let head = VolumeHead {
        seq: 5,
        snapshot: refs.last().cloned().unwrap(),
    };
    let head_record = head.sign(&owner, &keys).unwrap();
    let mut devices = heapless::Vec::new();
    devices.push(owner.peer_id()).unwrap();
    devices.push(other.peer_id()).unwrap();
    let list = DeviceList { seq: 2, devices };
    let list_record = list.sign(&owner, &keys).unwrap();
    // Epoch 1 (after a device was removed): secret seed32(10), salt seed32(11)[..16], granted to
    // the owner and the second device.
    let epoch_secret = VolumeSecret(SecretBytes::new(seed32(10)));
    let salt: [u8; 16] = seed32(11)[..16].try_into().unwrap();
    let granted = [owner.peer_id(), other.peer_id()];
    let grant_record = gofast_core::fs::Grant {
        seq: 1,
        epoch: 1,
        secret: &epoch_secret,
        salt,
        devices: &granted,
    }
    .sign(&owner, keys.id())
    .unwrap();
    let later = VolumeKeys::derive(&epoch_secret, 1, Some(*keys.id()));
    let later_list_record = DeviceList {
        seq: 3,
        devices: heapless::Vec::from_slice(&granted).unwrap(),
    }
    .sign(&owner, &later)
    .unwrap();
    let scope = keys.scope().expose().expose();
    json!({
        "secret": hx(&seed32(9)),
        "id": hx(&keys.id().0),
        "scope_secret": hx(scope),
        "owner_seed": hx(&seed32(1)),
        "second_device_seed": hx(&seed32(2)),
        "snapshots": snapshots,
        "head": {
            "seq": 5,
            "snapshot": hx(&head.snapshot.0.to_bytes()),
            "record": hx(&encode_to_vec(&head_record)),
        },
        "device_list": {
            "seq": 2,
            "record": hx(&encode_to_vec(&list_record)),
        },
        "epoch_1": {
            "secret": hx(&seed32(10)),
            "salt": hx(&salt),
            "scope_secret": hx(later.scope().expose().expose()),
            "grant_record": hx(&encode_to_vec(&grant_record)),
            "device_list_record": hx(&encode_to_vec(&later_list_record)),
        },
    })
}

/// A whole session, frame by frame: XX handshake, streams on both ciphers, a finished stream, one
/// rekey proposed by the initiator, data in the new epoch. Scenario in docs/spec/golden.md.
fn session_json() -> Value {
    type S = Session<PortableAead, 4>;
    let ids = (seed32(0x10), seed32(0x20));
    let seeds = (seed32(0x30), seed32(0x40));
    let a_id = KeyPair::from_seed(&SecretBytes::new(ids.0));
    let b_id = KeyPair::from_seed(&SecretBytes::new(ids.1));
    let config = Config::default();
    let t0 = Instant::from_micros(1_000_000);
    let mut a = S::connect(config, &a_id, SecretBytes::new(seeds.0), t0).unwrap();
    let mut b = S::accept(config, &b_id, SecretBytes::new(seeds.1)).unwrap();
    let mut frames: Vec<Value> = Vec::new();
    let mut buf = vec![0u8; MAX_FRAME_LEN];

    // Hands one frame to the other side and records it, with its plaintext if it is a data frame.
    fn deliver(to: &mut S, from: &str, now: Instant, frame: &[u8], frames: &mut Vec<Value>) {
        let mut copy = frame.to_vec();
        let plaintext = match to.handle_input(now, &mut copy).unwrap() {
            Input::PeerIdentified { .. } => {
                to.approve_peer(now).unwrap();
                None
            }
            Input::Data { data, .. } => Some(hx(data)),
            Input::Nothing => {
                // A control frame: its plaintext is the decrypted payload.
                DataHeader::decode(frame)
                    .ok()
                    .map(|_| hx(&copy[18..copy.len() - 16]))
            }
        };
        while to.poll_event().is_some() {}
        let mut entry = json!({ "from": from, "frame": hx(frame) });
        if let Some(p) = plaintext {
            entry["plaintext"] = json!(p);
        }
        frames.push(entry);
    }
    let pump = |a: &mut S, b: &mut S, now: Instant, buf: &mut Vec<u8>, frames: &mut Vec<Value>| loop {
        let mut moved = false;
        while let Some(n) = a.poll_transmit(now, buf) {
            moved = true;
            deliver(b, "initiator", now, &buf[..n], frames);
        }
        while let Some(n) = b.poll_transmit(now, buf) {
            moved = true;
            deliver(a, "responder", now, &buf[..n], frames);
        }
        if !moved {
            return;
        }
    };
    pump(&mut a, &mut b, t0, &mut buf, &mut frames);
    let s1 = a.open_stream(CipherId::ChaCha20Poly1305).unwrap();
    let s3 = a.open_stream(CipherId::Aes256Gcm).unwrap();
    for (from_a, stream, text, fin) in [
        (true, s1, &b"hello from the initiator"[..], false),
        (true, s3, b"a stream on AES-256-GCM", false),
        (false, s1, b"reply, and done", true),
    ] {
        let (tx, rx, name) = if from_a {
            (&mut a, &mut b, "initiator")
        } else {
            (&mut b, &mut a, "responder")
        };
        let n = tx.send(t0, stream, text, fin, &mut buf).unwrap();
        deliver(rx, name, t0, &buf[..n], &mut frames);
    }
    // The initiator's rekey timer fires first; the responder's is checked after the exchange.
    let t1 = t0 + config.rekey_interval;
    a.handle_timeout(t1);
    pump(&mut a, &mut b, t1, &mut buf, &mut frames);
    b.handle_timeout(t1);
    pump(&mut a, &mut b, t1, &mut buf, &mut frames);
    assert_eq!((a.send_epoch(), b.send_epoch()), (Some(1), Some(1)));
    let n = a
        .send(t1, s1, b"epoch 1, and done", true, &mut buf)
        .unwrap();
    deliver(&mut b, "initiator", t1, &buf[..n], &mut frames);
    let n = b.send(t1, s3, b"last word", false, &mut buf).unwrap();
    deliver(&mut a, "responder", t1, &buf[..n], &mut frames);
    json!({
        "initiator_identity_seed": hx(&ids.0),
        "responder_identity_seed": hx(&ids.1),
        "initiator_random_seed": hx(&seeds.0),
        "responder_random_seed": hx(&seeds.1),
        "frames": frames,
    })
}

fn generate() -> Value {
    let kdf: Vec<Value> = KdfContext::ALL
        .iter()
        .map(|&c| {
            let material = b"gofast golden material";
            json!({
                "name": kdf_name(c),
                "context": c.as_str(),
                "material": hx(material),
                "derived": hx(derive_key(c, material).expose()),
            })
        })
        .collect();
    let domains: Vec<Value> = SignatureDomain::ALL
        .iter()
        .map(|d| json!({ "name": format!("{d:?}"), "bytes": hx(d.as_bytes()) }))
        .collect();

    let identities: Vec<Value> = [0u8, 1, 0x80, 0xff]
        .iter()
        .map(|&s| {
            let kp = KeyPair::from_seed(&SecretBytes::new(seed32(s)));
            let id = kp.peer_id();
            json!({ "seed": hx(&seed32(s)), "peer_id": hx(id.as_bytes()), "text": id.to_string(), "dht_key": hx(id.dht_key().as_bytes()), "work_bits": id.work_bits() })
        })
        .collect();

    let good = KeyPair::from_seed(&SecretBytes::new(seed32(1)))
        .peer_id()
        .to_string();
    let mut typo: Vec<char> = good.chars().collect();
    typo[10] = if typo[10] == 'q' { 'p' } else { 'q' };
    let typo: String = typo.into_iter().collect();
    let wrong_kind = BlockRef::from_bytes(&[1; 64])
        .display_capability()
        .to_string();
    let invalid_texts: Vec<Value> = [
        typo,
        wrong_kind,
        good[..good.len() - 1].to_string(),
        "gfp1".to_string(),
    ]
    .into_iter()
    .map(|t| {
        let e = PeerId::from_str(&t).expect_err("must be refused");
        json!({ "text": t, "error": peer_id_error(e) })
    })
    .collect();

    let mut node = vec![0u8; 1024];
    let entries = [
        TreeEntry {
            child: BlockRef::from_bytes(&[0x11; 64]),
            size: 65_535,
        },
        TreeEntry {
            child: BlockRef::from_bytes(&[0x22; 64]),
            size: 1,
        },
    ];
    let n = encode_tree_node(1, &entries, &mut node).unwrap();
    let blocks = vec![
        block_json(1, &[BlockKind::Data as u8]),
        block_json(1, b"\x01hello, gofast"),
        block_json(2, b"\x01hello, gofast"),
        block_json(1, &node[..n]),
    ];

    let chunking: Vec<Value> = [
        (SIXTEEN_KIB, 300_000),
        (ChunkerParams::new(64, 256, 1024).unwrap(), 8_000),
    ]
    .iter()
    .map(|&(p, len)| {
        let scope = ScopeSecret::from_secret(SecretBytes::new(seed32(7)));
        let data = generated("gofast golden chunking", len);
        let lengths: Vec<usize> = Chunker::new(p, &scope)
            .chunks(&data)
            .map(<[u8]>::len)
            .collect();
        json!({
            "scope_secret": hx(scope.expose().expose()),
            "params": { "min": p.min(), "avg": p.avg(), "max": p.max() },
            "data": { "blake3_xof_of": "gofast golden chunking", "len": len },
            "chunk_lengths": lengths,
        })
    })
    .collect();

    let trees = vec![
        tree_json(3, SIXTEEN_KIB, "gofast golden tree", 0),
        tree_json(3, SIXTEEN_KIB, "gofast golden tree", 200_000),
        tree_json(3, ChunkerParams::DEFAULT, "gofast golden tree", 300_000),
        // Small chunks give a tree of several levels from little data.
        tree_json(
            3,
            ChunkerParams::new(64, 128, 256).unwrap(),
            "gofast golden deep tree",
            120_000,
        ),
    ];

    let records = vec![
        record_json(1, b"", 0, b""),
        record_json(1, b"volume/root", 42, b"a value"),
        record_json(2, &[0xAA; 64], u64::MAX, &[0x55; 1000]),
    ];

    let r = BlockRef::from_bytes(&{
        let mut b = [0u8; 64];
        for (i, x) in b.iter_mut().enumerate() {
            *x = i as u8;
        }
        b
    });
    let mut block_ref_msg = vec![0u8; message_len(&r)];
    encode_message(&r, &mut block_ref_msg).unwrap();
    let peer = KeyPair::from_seed(&SecretBytes::new(seed32(0))).peer_id();
    let mut peer_msg = vec![0u8; message_len(&peer)];
    encode_message(&peer, &mut peer_msg).unwrap();
    let messages = vec![
        json!({ "type": "BlockRef", "value": hx(&r.to_bytes()), "message": hx(&block_ref_msg) }),
        json!({ "type": "PeerId", "value": hx(peer.as_bytes()), "message": hx(&peer_msg) }),
    ];

    // Encodings that every decoder must refuse, with the reason.
    let rec = Record::sign(
        &KeyPair::from_seed(&SecretBytes::new(seed32(1))),
        b"",
        1,
        b"v",
    )
    .unwrap();
    let mut bad_sig = encode_to_vec(&rec);
    let last = bad_sig.len() - 1;
    bad_sig[last] ^= 1;
    let mut long_value = encode_to_vec(&rec);
    long_value[32 + 1 + 8..32 + 1 + 8 + 2].copy_from_slice(&1001u16.to_le_bytes());
    let mut wrong_version = block_ref_msg.clone();
    wrong_version[0] = 2;
    let invalid = vec![
        json!({ "type": "Record", "bytes": hx(&bad_sig), "error": "BadSignature" }),
        json!({ "type": "Record", "bytes": hx(&long_value), "error": "LengthTooLarge" }),
        json!({ "type": "BlockRef message", "bytes": hx(&wrong_version), "error": "UnsupportedVersion" }),
        json!({ "type": "BlockRef message", "bytes": hx(&block_ref_msg[..40]), "error": "UnexpectedEnd" }),
        json!({ "type": "TreeNode payload", "bytes": hx(&[1, 0, 0]), "error": "InvalidValue" }),
        json!({ "type": "TreeNode payload", "bytes": hx(&node[1..n - 1]), "error": "UnexpectedEnd" }),
    ];

    let mut doc = BTreeMap::new();
    doc.insert("about", json!("gofast golden vectors. Hex is lowercase; generated data is the BLAKE3 XOF of the UTF-8 seed string. See docs/spec/golden.md."));
    doc.insert("format_version", json!(1));
    doc.insert("kdf_contexts", Value::Array(kdf));
    doc.insert("signature_domains", Value::Array(domains));
    doc.insert("identities", Value::Array(identities));
    doc.insert("invalid_peer_id_texts", Value::Array(invalid_texts));
    doc.insert("blocks", Value::Array(blocks));
    doc.insert("chunking", Value::Array(chunking));
    doc.insert("trees", Value::Array(trees));
    doc.insert("records", Value::Array(records));
    doc.insert("messages", Value::Array(messages));
    doc.insert("invalid_encodings", Value::Array(invalid));
    doc.insert("session", session_json());
    let (providers, dht_messages) = dht_json();
    doc.insert("providers", providers);
    doc.insert("dht_messages", dht_messages);
    let (exchange, invalid_exchange) = exchange_json();
    doc.insert("exchange_messages", exchange);
    doc.insert("invalid_exchange_messages", invalid_exchange);
    let (dirs, invalid_dirs) = dir_json();
    doc.insert("dir_listings", dirs);
    doc.insert("invalid_dir_listings", invalid_dirs);
    doc.insert("stream", stream_json());
    doc.insert("volume", volume_json());
    serde_json::to_value(doc).unwrap()
}

#[test]
fn golden_file_matches_the_implementation() {
    let fresh = generate();
    if std::env::var("GOFAST_BLESS").is_ok_and(|v| v == "1") {
        let text = serde_json::to_string_pretty(&fresh).unwrap() + "\n";
        std::fs::write(path(), text).unwrap();
        eprintln!("wrote {}", path().display());
        return;
    }
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(path()).unwrap_or_else(|e| {
        panic!("cannot read {}: {e}; create it with GOFAST_BLESS=1 cargo test -p gofast-core --test golden", path().display())
    }))
    .unwrap();
    if stored != fresh {
        let (Value::Object(s), Value::Object(f)) = (&stored, &fresh) else {
            panic!("golden file is not an object")
        };
        let differing: Vec<&String> = f.keys().filter(|k| s.get(*k) != f.get(*k)).collect();
        panic!(
            "the implementation no longer produces the golden vectors (sections {differing:?}).\n\
             If the format change is intended, regenerate with `GOFAST_BLESS=1 cargo test -p gofast-core --test golden`,\n\
             say why in the commit, and update docs/spec/ and every other reader of the file."
        );
    }
}

#[test]
fn golden_file_reads_back() {
    let g: Value = serde_json::from_str(&std::fs::read_to_string(path()).unwrap()).unwrap();

    for id in g["identities"].as_array().unwrap() {
        let seed: [u8; 32] = unhex(&id["seed"]).try_into().unwrap();
        let kp = KeyPair::from_seed(&SecretBytes::new(seed));
        let parsed = PeerId::from_str(id["text"].as_str().unwrap()).unwrap();
        assert_eq!(parsed, kp.peer_id());
        assert_eq!(parsed.as_bytes().as_slice(), unhex(&id["peer_id"]));
        assert_eq!(
            parsed.dht_key().as_bytes().as_slice(),
            unhex(&id["dht_key"])
        );
    }
    for t in g["invalid_peer_id_texts"].as_array().unwrap() {
        let e = PeerId::from_str(t["text"].as_str().unwrap()).unwrap_err();
        assert_eq!(peer_id_error(e), t["error"].as_str().unwrap());
    }

    for b in g["blocks"].as_array().unwrap() {
        let r = BlockRef::from_str(b["ref_text"].as_str().unwrap()).unwrap();
        assert_eq!(r.id.0.as_slice(), unhex(&b["id"]));
        let mut ct = unhex(&b["ciphertext"]);
        verify(&r.id, &ct).unwrap();
        let plain = unhex(&b["plaintext"]);
        match open_in_place(&r, &mut ct).unwrap() {
            Block::Data(d) => assert_eq!(d, &plain[1..]),
            Block::Tree(t) => assert_eq!(t.len(), 2),
        }
    }

    for rec in g["records"].as_array().unwrap() {
        let r: Record = decode_exact(&unhex(&rec["encoded"])).unwrap();
        assert_eq!(r.seq(), rec["seq"].as_u64().unwrap());
        assert_eq!(r.value(), unhex(&rec["value"]));
        assert_eq!(r.salt(), unhex(&rec["salt"]));
        assert_eq!(r.dht_key().as_bytes().as_slice(), unhex(&rec["dht_key"]));
        assert_eq!(
            decode_message::<Record>(&unhex(&rec["message"])).unwrap(),
            r
        );
    }

    for m in g["messages"].as_array().unwrap() {
        let bytes = unhex(&m["message"]);
        match m["type"].as_str().unwrap() {
            "BlockRef" => assert_eq!(
                decode_message::<BlockRef>(&bytes)
                    .unwrap()
                    .to_bytes()
                    .as_slice(),
                unhex(&m["value"])
            ),
            "PeerId" => assert_eq!(
                decode_message::<PeerId>(&bytes)
                    .unwrap()
                    .as_bytes()
                    .as_slice(),
                unhex(&m["value"])
            ),
            other => panic!("unknown message type {other}"),
        }
    }

    for m in g["dht_messages"].as_array().unwrap() {
        let bytes = unhex(&m["message"]);
        let decoded = decode_message::<gofast_core::dht::DhtMessage>(&bytes).unwrap();
        assert_eq!(decoded.request_id, m["request_id"].as_u64().unwrap());
    }
    for m in g["exchange_messages"].as_array().unwrap() {
        use gofast_core::exchange::ExchangeMessage;
        let bytes = unhex(&m["message"]);
        let decoded = decode_message::<ExchangeMessage<'_>>(&bytes).unwrap();
        let kind = format!("{decoded:?}");
        assert!(
            kind.starts_with(&format!("{} {{", m["kind"].as_str().unwrap())),
            "{kind}"
        );
        if let ExchangeMessage::Block { id, data } = decoded {
            verify(&id, data).unwrap();
        }
    }
    for bad in g["invalid_exchange_messages"].as_array().unwrap() {
        let bytes = unhex(&bad["bytes"]);
        let err = decode_message::<gofast_core::exchange::ExchangeMessage<'_>>(&bytes).unwrap_err();
        let kind = format!("{err:?}");
        assert!(
            kind.starts_with(bad["error"].as_str().unwrap()),
            "{kind} for {}",
            bad["case"]
        );
    }
    for d in g["dir_listings"].as_array().unwrap() {
        let bytes = unhex(&d["listing"]);
        let listing = gofast_core::fs::DirListing::decode(&bytes).unwrap();
        let names: Vec<&str> = listing.entries().map(|e| e.name).collect();
        let want: Vec<&str> = d["names_in_order"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect();
        assert_eq!(names, want);
    }
    for bad in g["invalid_dir_listings"].as_array().unwrap() {
        let err = gofast_core::fs::DirListing::decode(&unhex(&bad["bytes"])).unwrap_err();
        let kind = format!("{err:?}");
        assert!(
            kind.starts_with(bad["error"].as_str().unwrap()),
            "{kind} for {}",
            bad["case"]
        );
    }
    for p in g["providers"].as_array().unwrap() {
        let decoded: gofast_core::dht::Provider = decode_exact(&unhex(&p["encoded"])).unwrap();
        assert_eq!(decoded.expires(), p["expires"].as_u64().unwrap());
        assert_eq!(
            decoded.dht_key().as_bytes().as_slice(),
            unhex(&p["dht_key"])
        );
    }

    for bad in g["invalid_encodings"].as_array().unwrap() {
        let bytes = unhex(&bad["bytes"]);
        let err = match bad["type"].as_str().unwrap() {
            "Record" => decode_exact::<Record>(&bytes).unwrap_err(),
            "BlockRef message" => decode_message::<BlockRef>(&bytes).unwrap_err(),
            "TreeNode payload" => gofast_core::block::TreeNode::decode(&bytes).unwrap_err(),
            other => panic!("unknown type {other}"),
        };
        let kind = format!("{err:?}");
        assert!(
            kind.starts_with(bad["error"].as_str().unwrap()),
            "{kind} for {}",
            bad["type"]
        );
    }

    // Trees: the chunking matches the stored lengths and the root's text form names the stored root.
    // (The file does not hold the tree's blocks; `golden_file_matches_the_implementation` rebuilds them.)
    for t in g["trees"].as_array().unwrap() {
        let scope = ScopeSecret::from_secret(SecretBytes::new(
            unhex(&t["scope_secret"]).try_into().unwrap(),
        ));
        let p = &t["params"];
        let params = ChunkerParams::new(
            p["min"].as_u64().unwrap() as u32,
            p["avg"].as_u64().unwrap() as u32,
            p["max"].as_u64().unwrap() as u32,
        )
        .unwrap();
        let data = generated(
            t["data"]["blake3_xof_of"].as_str().unwrap(),
            t["data"]["len"].as_u64().unwrap() as usize,
        );
        let lengths: Vec<u64> = Chunker::new(params, &scope)
            .chunks(&data)
            .map(|c| c.len() as u64)
            .collect();
        let stored: Vec<u64> = t["chunk_lengths"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert_eq!(lengths, stored);
        let root = BlockRef::from_str(t["root_text"].as_str().unwrap()).unwrap();
        assert_eq!(root.id.0.as_slice(), unhex(&t["root_id"]));
    }
}
