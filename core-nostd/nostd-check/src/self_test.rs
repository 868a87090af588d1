//! One pass through every module of the core, with fixed inputs, using only stack memory.

use core::hint::black_box;

use gofast_core::block::{
    Block, BlockKind, Chunker, ChunkerParams, ConvergenceKey, ScopeSecret, open_in_place,
    seal_in_place, verify,
};
use gofast_core::codec::{decode_message, encode_message};
use gofast_core::crypto::SecretBytes;
use gofast_core::crypto::aead::{chacha20poly1305_open, chacha20poly1305_seal};
use gofast_core::crypto::hash::hash;
use gofast_core::crypto::x25519::X25519Secret;
use gofast_core::dht::{
    DhtConfig, MAX_ADDR_LEN, MemoryRecordStore, NodeAddress, Observed, QueryOutcome, RoutingTable,
    SmallNode, StoreConfig,
};
use gofast_core::identity::KeyPair;
use gofast_core::record::{MAX_RECORD_LEN, Record};
use gofast_core::session::{CipherId, Config, Input, PortableAead, Session};
use gofast_core::time::{Duration, Instant};

/// Returns the name of the first step that failed.
pub(crate) fn run() -> Result<(), &'static str> {
    let seed = black_box([7u8; 32]);

    // Identity and a signed record, through the codec and back.
    let keypair = KeyPair::from_seed(&SecretBytes::new(seed));
    let record =
        Record::sign(&keypair, b"sensor/temperature", 1, b"21.5C").map_err(|_| "record sign")?;
    let mut wire = [0u8; MAX_RECORD_LEN + 2];
    let n = encode_message(&record, &mut wire).map_err(|_| "record encode")?;
    let back: Record =
        decode_message(wire.get(..n).ok_or("record length")?).map_err(|_| "record decode")?;
    if back != record || back.public_key() != &keypair.peer_id() {
        return Err("record round trip");
    }

    // An encrypted block: seal, verify as a non-reader, open as a reader.
    let scope = ScopeSecret::from_secret(SecretBytes::new(seed));
    let mut block = [0u8; 257];
    block[0] = BlockKind::Data as u8;
    for (i, b) in block.iter_mut().enumerate().skip(1) {
        *b = i as u8;
    }
    let r = seal_in_place(&ConvergenceKey::derive(&scope), &mut block).map_err(|_| "block seal")?;
    verify(&r.id, &block).map_err(|_| "block verify")?;
    match open_in_place(&r, &mut block).map_err(|_| "block open")? {
        Block::Data(d) if d.len() == 256 && d.first() == Some(&1) => {}
        _ => return Err("block contents"),
    }

    // Content-defined chunking over a stack buffer.
    let params = ChunkerParams::new(64, 256, 1024).map_err(|_| "chunker params")?;
    let chunker = Chunker::new(params, &scope);
    let mut data = [0u8; 4096];
    for (i, b) in data.iter_mut().enumerate() {
        *b = hash(&(i as u32).to_le_bytes())[0];
    }
    let total: usize = chunker.chunks(black_box(&data)).map(<[u8]>::len).sum();
    if total != data.len() {
        return Err("chunking");
    }

    // AEAD and key agreement.
    let key = SecretBytes::new(hash(b"aead key"));
    let mut msg = *b"reading 21.5C at t=42";
    let tag = chacha20poly1305_seal(&key, &[1; 12], b"hdr", &mut msg).map_err(|_| "aead seal")?;
    chacha20poly1305_open(&key, &[1; 12], b"hdr", &mut msg, &tag).map_err(|_| "aead open")?;
    let a = X25519Secret::from_bytes(&SecretBytes::new([1; 32]));
    let b = X25519Secret::from_bytes(&SecretBytes::new([2; 32]));
    let ab = a.diffie_hellman(&b.public_key()).map_err(|_| "x25519")?;
    let ba = b.diffie_hellman(&a.public_key()).map_err(|_| "x25519")?;
    if ab != ba {
        return Err("x25519 agreement");
    }

    // A secure session in the microcontroller profile: IK to a known node, a reading on a stream,
    // a rekey.
    session(&keypair)?;

    // A small routing table: a few contacts, the closest to a key.
    let mut table: RoutingTable<u8, 4, 16, 4> = RoutingTable::new(keypair.peer_id().dht_key());
    for n in 1..=6u8 {
        let peer = KeyPair::from_seed(&SecretBytes::new([n; 32])).peer_id();
        if matches!(
            table.observe(peer, n, Instant::from_micros(u64::from(n))),
            Observed::IsSelf
        ) {
            return Err("routing table");
        }
    }
    let closest = table.closest::<3>(&keypair.peer_id().dht_key());
    if closest.is_empty() || table.is_empty() {
        return Err("routing table closest");
    }

    // Two DHT nodes in the microcontroller profile: a record put by one is stored by the other.
    dht(&keypair, &record)?;

    // Time is arithmetic only.
    let later = Instant::from_micros(black_box(5)) + Duration::from_secs(1);
    if later.as_micros() != 1_000_005 {
        return Err("time");
    }
    Ok(())
}

/// Moves session frames between `a` and `b` through one stack buffer until both are quiet.
fn pump(
    a: &mut Session<PortableAead, 2>,
    b: &mut Session<PortableAead, 2>,
    now: Instant,
    buf: &mut [u8],
) -> Result<(), &'static str> {
    for _ in 0..16 {
        let mut moved = false;
        while let Some(n) = a.poll_transmit(now, buf) {
            moved = true;
            if let Ok(Input::PeerIdentified { .. }) =
                b.handle_input(now, buf.get_mut(..n).ok_or("frame length")?)
            {
                b.approve_peer(now).map_err(|_| "approve")?;
            }
        }
        while let Some(n) = b.poll_transmit(now, buf) {
            moved = true;
            let _ = a.handle_input(now, buf.get_mut(..n).ok_or("frame length")?);
        }
        while a.poll_event().is_some() || b.poll_event().is_some() {}
        if !moved {
            return Ok(());
        }
    }
    Err("session pump")
}

fn session(sensor: &KeyPair) -> Result<(), &'static str> {
    let node = KeyPair::from_seed(&SecretBytes::new([9; 32]));
    let config = Config::small();
    let mut now = Instant::from_micros(1);
    let mut a = Session::<PortableAead, 2>::connect_known(
        config,
        sensor,
        node.peer_id(),
        SecretBytes::new(black_box([3; 32])),
        now,
        b"hello",
    )
    .map_err(|_| "session connect")?;
    let mut b = Session::<PortableAead, 2>::accept(config, &node, SecretBytes::new([4; 32]))
        .map_err(|_| "session accept")?;
    let mut buf = [0u8; 1200];
    pump(&mut a, &mut b, now, &mut buf)?;
    if !a.is_established() || b.peer() != Some(sensor.peer_id()) {
        return Err("session handshake");
    }
    let stream = a
        .open_stream(CipherId::ChaCha20Poly1305)
        .map_err(|_| "open stream")?;
    let n = a
        .send(now, stream, b"21.5C", false, &mut buf)
        .map_err(|_| "session send")?;
    match b.handle_input(now, buf.get_mut(..n).ok_or("frame length")?) {
        Ok(Input::Data { data, .. }) if data == b"21.5C" => {}
        _ => return Err("session data"),
    }
    now += config.rekey_interval;
    a.handle_timeout(now);
    b.handle_timeout(now);
    pump(&mut a, &mut b, now, &mut buf)?;
    if a.send_epoch() != Some(1) || b.send_epoch() != Some(1) {
        return Err("session rekey");
    }
    Ok(())
}

/// A sensor's address in the self-test: one byte.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Addr(u8);

impl NodeAddress for Addr {
    fn to_bytes(&self) -> heapless::Vec<u8, MAX_ADDR_LEN> {
        let mut v = heapless::Vec::new();
        let _ = v.push(self.0);
        v
    }
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        match bytes {
            [b] => Some(Addr(*b)),
            _ => None,
        }
    }
}

type Sensor = SmallNode<Addr, MemoryRecordStore<2>>;

fn dht(sensor: &KeyPair, record: &Record) -> Result<(), &'static str> {
    let now = Instant::from_micros(1);
    let other = KeyPair::from_seed(&SecretBytes::new([11; 32]));
    let store = |k: &KeyPair| MemoryRecordStore::new(k.peer_id().dht_key(), StoreConfig::default());
    let mut a = Sensor::new(
        sensor.peer_id(),
        DhtConfig::default(),
        store(sensor),
        [1; 32],
        now,
    );
    let mut b = Sensor::new(
        other.peer_id(),
        DhtConfig::default(),
        store(&other),
        [2; 32],
        now,
    );
    a.add_contact(other.peer_id(), Addr(2), now);
    let query = a.put_record(now, record.clone()).map_err(|_| "dht put")?;
    for _ in 0..8 {
        while let Some(t) = a.poll_transmit(now) {
            b.handle_message(now, sensor.peer_id(), Addr(1), &t.message);
        }
        while let Some(t) = b.poll_transmit(now) {
            a.handle_message(now, other.peer_id(), Addr(2), &t.message);
        }
    }
    match a.poll_event() {
        Some(e)
            if e.id == query
                && e.outcome
                    == (QueryOutcome::Stored {
                        stored: 1,
                        refused: 0,
                        failed: 0,
                    }) => {}
        _ => return Err("dht put outcome"),
    }
    use gofast_core::dht::RecordStore;
    if b.store().get(&record.dht_key()) != Some(record) {
        return Err("dht store");
    }
    Ok(())
}
