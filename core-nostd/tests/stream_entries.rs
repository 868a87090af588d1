//! Streams: entries sealed by a publisher read back, verified, in a chain behind a signed head; a
//! changed byte, another stream's entry, a broken chain or a foreign record is refused.

use gofast_core::block::{Block, open_in_place};
use gofast_core::crypto::SecretBytes;
use gofast_core::identity::KeyPair;
use gofast_core::record::Record;
use gofast_core::stream::{
    Entry, Head, MAX_ENTRY_BLOCK_LEN, MAX_READING_LEN, StreamError, head_key, read_entry,
    seal_entry,
};

fn key(i: u8) -> KeyPair {
    KeyPair::from_seed(&SecretBytes::new([i; 32]))
}

/// Opens a sealed entry block and reads it as `name` of `publisher`.
fn open<'b>(
    publisher: &KeyPair,
    name: &[u8],
    r: &gofast_core::block::BlockRef,
    block: &'b mut [u8],
) -> Result<Entry<'b>, StreamError> {
    match open_in_place(r, block).expect("the block opens") {
        Block::Data(data) => read_entry(&publisher.peer_id(), name, data),
        Block::Tree(_) => panic!("an entry is a data block"),
    }
}

#[test]
fn a_chain_of_entries_reads_back_from_its_head() {
    let device = key(1);
    let name = b"sensor";
    let mut blocks = Vec::new();
    let mut prev = None;
    for seq in 1..=5u64 {
        let reading = format!("t={seq}");
        let entry = Entry {
            seq,
            time_ms: seq * 1000,
            prev: prev.clone(),
            reading: reading.as_bytes(),
        };
        let mut block = [0u8; MAX_ENTRY_BLOCK_LEN];
        let (len, r) = seal_entry(&device, name, &entry, &mut block).unwrap();
        blocks.push((r.clone(), block[..len].to_vec()));
        prev = Some(r);
    }
    let head = Head {
        seq: 5,
        entry: prev.unwrap(),
    };
    let record = head.sign(&device, name).unwrap();
    assert_eq!(record.dht_key(), head_key(&device.peer_id(), name).unwrap());
    let read = Head::from_record(&record, name).unwrap();
    assert_eq!(read, head);

    // Walk back from the head.
    let mut next = Some(read.entry);
    let mut seen = Vec::new();
    while let Some(r) = next {
        let (_, bytes) = blocks.iter().find(|(b, _)| b.id == r.id).unwrap();
        let mut block = bytes.clone();
        let e = open(&device, name, &r, &mut block).unwrap();
        seen.push((e.seq, String::from_utf8(e.reading.to_vec()).unwrap()));
        next = e.prev;
    }
    let expected: Vec<_> = (1..=5u64).rev().map(|s| (s, format!("t={s}"))).collect();
    assert_eq!(seen, expected);
}

#[test]
fn forged_foreign_and_malformed_entries_are_refused() {
    let device = key(1);
    let entry = Entry {
        seq: 1,
        time_ms: 7,
        prev: None,
        reading: b"21.5C",
    };
    let mut block = [0u8; MAX_ENTRY_BLOCK_LEN];
    let (len, r) = seal_entry(&device, b"sensor", &entry, &mut block).unwrap();
    let sealed = block[..len].to_vec();

    // Read as another stream, or as another publisher's: the signature does not hold.
    let mut b = sealed.clone();
    assert_eq!(
        open(&device, b"other", &r, &mut b),
        Err(StreamError::BadSignature)
    );
    let mut b = sealed.clone();
    assert_eq!(
        open(&key(2), b"sensor", &r, &mut b),
        Err(StreamError::BadSignature)
    );

    // Plaintext changed under a valid signature's nose: re-sealed with a flipped reading byte.
    let mut b = sealed.clone();
    let Block::Data(data) = open_in_place(&r, &mut b).unwrap() else {
        panic!()
    };
    let mut forged = data.to_vec();
    let at = forged.len() - 64 - 1;
    forged[at] ^= 1;
    assert_eq!(
        read_entry(&device.peer_id(), b"sensor", &forged),
        Err(StreamError::BadSignature)
    );

    // A first entry that names a previous one, or a later one that names none, is out of sequence
    // even when signed.
    let mut block = [0u8; MAX_ENTRY_BLOCK_LEN];
    let bad = Entry {
        seq: 2,
        prev: None,
        ..entry.clone()
    };
    let (len, r2) = seal_entry(&device, b"sensor", &bad, &mut block).unwrap();
    assert!(matches!(
        open(&device, b"sensor", &r2, &mut block[..len]),
        Err(StreamError::OutOfSequence { found: 2, .. })
    ));

    // Limits: names and readings.
    let long = [0u8; MAX_READING_LEN + 1];
    let mut block = [0u8; MAX_ENTRY_BLOCK_LEN];
    let too_long = Entry {
        reading: &long,
        ..entry.clone()
    };
    assert_eq!(
        seal_entry(&device, b"sensor", &too_long, &mut block),
        Err(StreamError::ReadingTooLong)
    );
    assert_eq!(
        seal_entry(&device, b"", &entry, &mut block),
        Err(StreamError::BadName)
    );
    assert_eq!(
        seal_entry(&device, b"sensor", &entry, &mut block[..20]).map(|_| ()),
        Err(StreamError::BufferTooSmall)
    );
    // Truncated input never panics.
    for n in 0..data_len(&sealed, &r) {
        let mut b = sealed.clone();
        let Block::Data(data) = open_in_place(&r, &mut b).unwrap() else {
            panic!()
        };
        assert!(read_entry(&device.peer_id(), b"sensor", &data[..n]).is_err());
    }
}

fn data_len(sealed: &[u8], r: &gofast_core::block::BlockRef) -> usize {
    let mut b = sealed.to_vec();
    match open_in_place(r, &mut b).unwrap() {
        Block::Data(d) => d.len(),
        Block::Tree(_) => 0,
    }
}

#[test]
fn a_head_is_only_read_from_its_own_slot() {
    let device = key(3);
    let mut block = [0u8; MAX_ENTRY_BLOCK_LEN];
    let (_, r) = seal_entry(
        &device,
        b"sensor",
        &Entry {
            seq: 1,
            time_ms: 0,
            prev: None,
            reading: b"x",
        },
        &mut block,
    )
    .unwrap();
    let head = Head { seq: 1, entry: r };
    let record = head.sign(&device, b"sensor").unwrap();
    assert_eq!(
        Head::from_record(&record, b"other"),
        Err(StreamError::NotAHead)
    );
    // A record in the slot whose value is not a head, or whose sequence disagrees with it.
    let junk = Record::sign(&device, b"stream/sensor", 1, b"\x01short").unwrap();
    assert!(matches!(
        Head::from_record(&junk, b"sensor"),
        Err(StreamError::Malformed(_))
    ));
    let skewed = Record::sign(&device, b"stream/sensor", 9, &head.to_bytes()).unwrap();
    assert!(matches!(
        Head::from_record(&skewed, b"sensor"),
        Err(StreamError::OutOfSequence { .. })
    ));
}
