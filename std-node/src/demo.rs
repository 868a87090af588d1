//! `gofast demo`: what the core does today, end to end, with a readable report.
//!
//! Two people and a storage peer: Alice encrypts a file into blocks in her scope, Bob stores them
//! without being able to read them and verifies each by its id, Carol reads the file back from the root
//! reference alone. Then the scope rules (deduplication inside, nothing shared outside) and a signed
//! record with the storers' update rules. Every claim the report makes is checked first; a failed check
//! is an error, not a line of output.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::time::Instant;

use gofast_core::block::{
    BlockError, BlockId, BlockRef, ChunkerParams, EncodedFile, FileEncoder, ReadError, ScopeSecret,
    read_tree, verify,
};
use gofast_core::codec::{DecodeError, decode_exact, encode_to_vec};
use gofast_core::crypto::hash::{Hasher, hash};
use gofast_core::identity::{KeyPair, PeerId};
use gofast_core::record::{Record, UpdateError};

use crate::rng::os_rng;

/// The demo keeps every block in memory, so it takes inputs up to this size.
pub const MAX_DEMO_INPUT: u64 = 256 << 20;

/// What to encrypt.
#[derive(Debug, Clone)]
pub enum Source {
    /// A file on disk.
    File(PathBuf),
    /// This many bytes of random data.
    Random(u64),
}

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The input file could not be read.
    #[error("cannot read {path}: {source}")]
    Input {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: io::Error,
    },
    /// The input is larger than the demo's in-memory store takes.
    #[error(
        "the input is {size} bytes; the demo keeps its blocks in memory and takes at most {MAX_DEMO_INPUT} bytes"
    )]
    TooLarge {
        /// Its size.
        size: u64,
    },
    /// The report could not be written.
    #[error("cannot write the report: {0}")]
    Output(#[from] io::Error),
    /// A check failed: the core did not behave as the report was about to claim.
    #[error("check failed: {0}")]
    Check(String),
}

fn check(ok: bool, what: impl FnOnce() -> String) -> Result<(), DemoError> {
    if ok {
        Ok(())
    } else {
        Err(DemoError::Check(what()))
    }
}

fn failed(e: impl std::fmt::Display) -> DemoError {
    DemoError::Check(e.to_string())
}

/// Blocks as a storage peer keeps them: id → ciphertext, no keys.
type BlockStore = HashMap<BlockId, Vec<u8>>;

/// Reads the whole input (bounded by [`MAX_DEMO_INPUT`]).
fn load(source: &Source) -> Result<Vec<u8>, DemoError> {
    match source {
        Source::File(path) => {
            let input_err = |source| DemoError::Input {
                path: path.clone(),
                source,
            };
            let size = std::fs::metadata(path).map_err(input_err)?.len();
            if size > MAX_DEMO_INPUT {
                return Err(DemoError::TooLarge { size });
            }
            let mut data = Vec::with_capacity(size as usize);
            std::fs::File::open(path)
                .map_err(input_err)?
                .take(MAX_DEMO_INPUT)
                .read_to_end(&mut data)
                .map_err(input_err)?;
            Ok(data)
        }
        Source::Random(len) => {
            if *len > MAX_DEMO_INPUT {
                return Err(DemoError::TooLarge { size: *len });
            }
            let mut data = vec![0u8; *len as usize];
            rand_core::Rng::fill_bytes(&mut os_rng(), &mut data);
            Ok(data)
        }
    }
}

/// Encrypts `data` in `scope` into `store`, feeding the encoder in 1 MiB pieces as a file reader would.
fn encrypt(
    data: &[u8],
    scope: &ScopeSecret,
    store: &mut BlockStore,
) -> Result<EncodedFile, DemoError> {
    let mut enc = FileEncoder::new(scope, ChunkerParams::DEFAULT);
    let mut sink = |id: &BlockId, bytes: &[u8]| -> Result<(), std::convert::Infallible> {
        store.insert(*id, bytes.to_vec());
        Ok(())
    };
    for piece in data.chunks(1 << 20) {
        enc.write(piece, &mut sink).map_err(failed)?;
    }
    enc.finish(&mut sink).map_err(failed)
}

fn short_hex(bytes: &[u8]) -> String {
    bytes.iter().take(8).fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn mb_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / secs.max(1e-9) / 1e6
}

/// Runs the demo on `source`, writing the report to `out`. Returns `Ok` only when every check passed.
pub fn run(source: &Source, out: &mut impl Write) -> Result<(), DemoError> {
    let mut rng = os_rng();
    let data = load(source)?;
    let what = match source {
        Source::File(p) => p.display().to_string(),
        Source::Random(n) => format!("{n} random bytes"),
    };
    writeln!(
        out,
        "gofast demo: the core's blocks, identities and records, end to end\n"
    )?;

    // 1. Identities.
    let alice = KeyPair::generate(&mut rng);
    let bob = KeyPair::generate(&mut rng);
    writeln!(
        out,
        "1. Identities (Ed25519 keys; the text form carries a checksum)"
    )?;
    writeln!(out, "   alice  {}", alice.peer_id())?;
    writeln!(out, "   bob    {}", bob.peer_id())?;
    let mut typo: Vec<char> = alice.peer_id().to_string().chars().collect();
    typo[20] = if typo[20] == 'q' { 'p' } else { 'q' };
    let refused = typo.into_iter().collect::<String>().parse::<PeerId>();
    let Err(why) = refused else {
        return Err(failed("a mistyped peer id was accepted"));
    };
    writeln!(
        out,
        "   alice's id with one character mistyped: refused ({why})\n"
    )?;

    // 2. Alice encrypts.
    let alice_scope = ScopeSecret::generate(&mut rng);
    let mut bob_store = BlockStore::new();
    let started = Instant::now();
    let file = encrypt(&data, &alice_scope, &mut bob_store)?;
    let secs = started.elapsed().as_secs_f64();
    check(file.size == data.len() as u64, || {
        "encoded size differs from the input".into()
    })?;
    let stored: u64 = bob_store.values().map(|b| b.len() as u64).sum();
    writeln!(
        out,
        "2. Alice encrypts {what} into blocks (content-defined chunks under a Merkle tree)"
    )?;
    writeln!(
        out,
        "   {} bytes -> {} data leaves, {} distinct blocks, {} bytes to store ({:.1} ms, {:.0} MB/s)",
        file.size,
        file.leaves,
        bob_store.len(),
        stored,
        secs * 1e3,
        mb_s(file.size, secs)
    )?;
    writeln!(
        out,
        "   root block {}… (the full reference is the capability to read; the demo does not print it)\n",
        short_hex(&file.root.id.0)
    )?;

    // 3. Bob, without the key.
    writeln!(
        out,
        "3. Bob stores the blocks without any key and checks each one by its id"
    )?;
    let started = Instant::now();
    for (id, bytes) in &bob_store {
        verify(id, bytes).map_err(|e| failed(format!("block {id} failed verification: {e}")))?;
    }
    writeln!(
        out,
        "   {} blocks verified: BLAKE3(ciphertext) = id ({:.1} ms)",
        bob_store.len(),
        started.elapsed().as_secs_f64() * 1e3
    )?;
    let (victim_id, mut tampered) = bob_store
        .iter()
        .next()
        .map(|(i, b)| (*i, b.clone()))
        .ok_or_else(|| failed("no blocks were stored"))?;
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0x01;
    check(
        verify(&victim_id, &tampered) == Err(BlockError::IdMismatch),
        || "a tampered block passed".into(),
    )?;
    writeln!(
        out,
        "   the same block with one bit flipped: refused (content does not match its id)"
    )?;
    // Known plaintext: 32-byte pieces from 16 places across the input must appear in no stored block.
    if data.len() >= 32 {
        let probes: Vec<&[u8]> = (0..16)
            .map(|i| &data[i * (data.len() - 32) / 15..][..32])
            .collect();
        let leaked = bob_store
            .values()
            .any(|b| b.windows(32).any(|w| probes.contains(&w)));
        check(!leaked, || "plaintext found in a stored block".into())?;
        writeln!(
            out,
            "   none of 16 pieces of the input (32 bytes each, spread across it) appears in a stored block\n"
        )?;
    } else {
        writeln!(out)?;
    }

    // 4. Carol reads it back from the root reference alone.
    writeln!(
        out,
        "4. Carol, given only the root reference, reads the file back"
    )?;
    let root: BlockRef = file
        .root
        .display_capability()
        .to_string()
        .parse()
        .map_err(failed)?;
    let mut digest = Hasher::new();
    let started = Instant::now();
    let read = read_tree(
        &root,
        MAX_DEMO_INPUT,
        |id| bob_store.get(id).cloned().ok_or("missing block"),
        |piece| {
            digest.update(piece);
            Ok(())
        },
    )
    .map_err(|e: ReadError<&str>| failed(format!("reading the tree: {e}")))?;
    let secs = started.elapsed().as_secs_f64();
    let expected = hash(&data);
    check(read == file.size && digest.finalize() == expected, || {
        "the file read back differs".into()
    })?;
    writeln!(
        out,
        "   {} bytes, BLAKE3 {}…, identical to the input ({:.1} ms, {:.0} MB/s)\n",
        read,
        short_hex(&expected),
        secs * 1e3,
        mb_s(read, secs)
    )?;

    // 5. Scopes.
    writeln!(
        out,
        "5. Deduplication inside a scope, nothing shared outside it"
    )?;
    let mut again = BlockStore::new();
    let file_again = encrypt(&data, &alice_scope, &mut again)?;
    let new_blocks = again
        .keys()
        .filter(|id| !bob_store.contains_key(id))
        .count();
    check(file_again.root == file.root && new_blocks == 0, || {
        "the same data in the same scope changed".into()
    })?;
    writeln!(
        out,
        "   alice encrypts the same file again: the same root, 0 new blocks"
    )?;
    let mallory_scope = ScopeSecret::generate(&mut rng);
    let mut mallory_store = BlockStore::new();
    let mallory_file = encrypt(&data, &mallory_scope, &mut mallory_store)?;
    let shared = mallory_store
        .keys()
        .filter(|id| bob_store.contains_key(id))
        .count();
    check(shared == 0 && mallory_file.root.id != file.root.id, || {
        format!("{shared} blocks shared across scopes")
    })?;
    writeln!(
        out,
        "   mallory encrypts the same file in her own scope: another root, 0 blocks in common\n"
    )?;

    // 6. Signed records.
    writeln!(
        out,
        "6. A signed record: alice publishes her file's root id (a BEP 44-style slot with sequence numbers)"
    )?;
    let slot = b"files/demo";
    // Record values are public (signed, not encrypted), so the value is the root's id: enough to fetch and
    // verify every block, not to read them. The key travels only to whom alice gives it.
    let r1 = Record::sign(&alice, slot, 1, &file.root.id.0).map_err(failed)?;
    let wire = encode_to_vec(&r1);
    let at_bob: Record = decode_exact(&wire).map_err(|e| failed(format!("record decode: {e}")))?;
    check(at_bob.public_key() == &alice.peer_id(), || {
        "wrong record signer".into()
    })?;
    let key = file.root.key.0.expose();
    check(
        at_bob.value() == file.root.id.0 && !wire.windows(key.len()).any(|w| w == key),
        || "the record carries the root's read key".into(),
    )?;
    writeln!(
        out,
        "   seq 1, {} bytes on the wire: bob decodes it and the signature verifies; the value is the root id,\n   \
         which lets bob fetch and verify the blocks but holds no key",
        wire.len()
    )?;
    let conflict = Record::sign(&alice, slot, 1, b"something else").map_err(failed)?;
    check(
        at_bob.check_update(&conflict) == Err(UpdateError::Conflict { seq: 1 }),
        || "conflict missed".into(),
    )?;
    writeln!(
        out,
        "   another value at seq 1: refused as a conflict (evidence of equivocation)"
    )?;
    let stale = Record::sign(&alice, slot, 0, b"old").map_err(failed)?;
    check(
        matches!(at_bob.check_update(&stale), Err(UpdateError::Stale { .. })),
        || "stale record accepted".into(),
    )?;
    writeln!(out, "   seq 0: refused as stale")?;
    let mut forged = encode_to_vec(&Record::sign(&bob, slot, 2, b"bob's root").map_err(failed)?);
    forged[..32].copy_from_slice(alice.peer_id().as_bytes());
    check(
        decode_exact::<Record>(&forged) == Err(DecodeError::BadSignature),
        || "forged record accepted".into(),
    )?;
    writeln!(
        out,
        "   bob's record relabelled as alice's: refused (bad signature)"
    )?;
    let r2 = Record::sign(&alice, slot, 2, &file.root.id.0).map_err(failed)?;
    check(at_bob.check_update(&r2).is_ok(), || {
        "newer record refused".into()
    })?;
    writeln!(out, "   seq 2: accepted\n")?;

    writeln!(out, "demo: all checks passed")?;
    Ok(())
}
