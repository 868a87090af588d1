//! Adding data to the store on every core: the calling thread reads and chunks, worker threads seal
//! the chunks, and one more thread builds the tree and writes the blocks to the store.
//!
//! The blocks and the root are exactly those the core's `FileEncoder` makes of the same data: the
//! chunker and the tree builder are the core's and see the chunks in the same order; only the
//! sealing of leaves (two BLAKE3 passes and a ChaCha20 pass over every byte, most of the work) runs
//! in parallel. `tests/encode_pipeline.rs` compares the two.
//!
//! Chunks travel in batches of about [`BATCH_BYTES`], dealt to the workers in turn and collected in
//! the same turn, so the order needs no sequence numbers. A message per chunk (about 20 KB) woke a
//! sleeping thread tens of thousands of times a gigabyte: on two cores the switching cost more CPU
//! than chunking. Every channel is bounded: a slow disk slows the reading down, and memory stays at
//! a few batches per worker.

use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use gofast_core::block::{
    BlockError, BlockId, BlockKind, BlockRef, BuildError, Chunker, ChunkerParams, ConvergenceKey,
    ScopeSecret, TreeBuilder, TreeEntry, seal_in_place,
};
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind};
use crate::store::{BlockStore, Class, StoreError, Writer};

/// Batches waiting for (and coming from) each worker.
const DEPTH: usize = 4;
/// A batch is sent once it holds this many bytes of chunks (or the input has ended).
const BATCH_BYTES: usize = 256 << 10;
/// Bytes read from the input at a time.
const READ_SIZE: usize = 1 << 20;
/// Sealing threads at most.
const MAX_WORKERS: usize = 4;

/// What an add produced.
#[derive(Debug)]
pub struct Encoded {
    /// The root of the tree.
    pub root: BlockRef,
    /// Data bytes.
    pub size: u64,
}

/// A sealed leaf on its way to the tree builder.
struct Sealed {
    entry: TreeEntry,
    ciphertext: Vec<u8>,
}

/// Encodes `input` into permanent blocks of `store`, indexed (readable, servable) when this returns
/// `Ok` but durable only with the store's next durable commit: the caller's, which must follow (an
/// add's pin). Every durable commit first syncs what lazy flushes indexed, so the blocks and the pin
/// that holds them become durable together, in one commit instead of one per batch and one more
/// for the pin. A crash before it loses the blocks (their arena bytes are cut off at the next
/// open), never leaves an index entry for bytes that are not on disk. `path` names the input in
/// errors; `progress` gets the bytes read so far.
pub fn encode_into_store(
    store: &BlockStore,
    scope: &ScopeSecret,
    input: impl Read,
    path: &Path,
    progress: impl FnMut(u64),
) -> Result<Encoded, Error> {
    let mut writer = store.writer().with_lazy_batches();
    let encoded = encode_with_writer(&mut writer, scope, input, path, progress)?;
    writer.flush_lazily()?;
    Ok(encoded)
}

/// [`encode_into_store`] into the batch of `writer`, not flushed: many small inputs then share
/// one flush (a directory's files). The blocks are durable only once the caller flushes; if this
/// fails, the caller should drop the writer (abandoning the batch) rather than flush it.
pub fn encode_with_writer(
    writer: &mut Writer,
    scope: &ScopeSecret,
    input: impl Read,
    path: &Path,
    progress: impl FnMut(u64),
) -> Result<Encoded, Error> {
    let convergence = ConvergenceKey::derive(scope);
    let chunker = Chunker::new(ChunkerParams::DEFAULT, scope);
    // One core's worth goes to reading, chunking and the store; measured on 2 cores, a second
    // sealer only adds switching (docs/BENCHMARKS.md).
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| usize::from(n).saturating_sub(1))
        .clamp(1, MAX_WORKERS);
    // Set when the reader fails: the store thread then abandons its batch instead of flushing a
    // tree that is not the input's.
    let failed = AtomicBool::new(false);
    std::thread::scope(|s| {
        let mut to_workers = Vec::with_capacity(workers);
        let mut from_workers = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (chunk_tx, chunk_rx) = sync_channel::<Vec<Zeroizing<Vec<u8>>>>(DEPTH);
            let (sealed_tx, sealed_rx) = sync_channel::<Vec<Result<Sealed, BlockError>>>(DEPTH);
            let convergence = &convergence;
            std::thread::Builder::new()
                .name("gofast-seal".into())
                .spawn_scoped(s, move || seal_worker(convergence, &chunk_rx, &sealed_tx))
                .map_err(|e| Error::new(ErrorKind::Internal, format!("starting a thread: {e}")))?;
            to_workers.push(chunk_tx);
            from_workers.push(sealed_rx);
        }
        let (convergence, failed_ref) = (&convergence, &failed);
        let builder = std::thread::Builder::new()
            .name("gofast-add-store".into())
            .spawn_scoped(s, move || {
                build_and_store(writer, convergence, &from_workers, failed_ref)
            })
            .map_err(|e| Error::new(ErrorKind::Internal, format!("starting a thread: {e}")))?;
        let read = read_and_chunk(&chunker, input, path, &to_workers, progress);
        if read.is_err() {
            failed.store(true, Ordering::Relaxed);
        }
        // The workers finish what they have and stop; so does the builder after them.
        drop(to_workers);
        let built = builder
            .join()
            .map_err(|_| Error::new(ErrorKind::Internal, "the store thread of the add panicked"))?;
        // A read error is the cause of whatever the builder saw after it.
        let size = read?;
        let root = built?;
        Ok(Encoded { root, size })
    })
}

/// Reads `input`, cuts it into chunks and deals them to the workers in turn, in batches; returns the
/// bytes read. Stops early (with `Ok`) if the workers are gone: the builder then reports why.
fn read_and_chunk(
    chunker: &Chunker,
    mut input: impl Read,
    path: &Path,
    workers: &[SyncSender<Vec<Zeroizing<Vec<u8>>>>],
    mut progress: impl FnMut(u64),
) -> Result<u64, Error> {
    let max = chunker.params().max() as usize;
    // Plaintext: wiped on drop. Never grown, so no copy is left in freed memory.
    let mut buf = Zeroizing::new(vec![0u8; READ_SIZE + max]);
    let (mut start, mut end, mut eof, mut read) = (0usize, 0usize, false, 0u64);
    let mut next = 0usize;
    let (mut batch, mut batch_bytes) = (Vec::new(), 0usize);
    // Sends the batch to the next worker in turn; false if the workers are gone.
    let mut send = |batch: Vec<Zeroizing<Vec<u8>>>| {
        let Some(worker) = workers.get(next % workers.len()) else {
            return false;
        };
        next += 1;
        worker.send(batch).is_ok()
    };
    loop {
        // A cut is final once `max` bytes are in view (or the input has ended): top up first.
        if !eof && end - start < max {
            buf.copy_within(start..end, 0);
            end -= start;
            start = 0;
            while end < buf.len() {
                let room = buf.get_mut(end..).unwrap_or_default();
                match input.read(room) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(n) => {
                        end += n;
                        read += n as u64;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(Error::file(path, "read", &e)),
                }
            }
            progress(read);
        }
        if start == end {
            if !batch.is_empty() {
                send(batch);
            }
            return Ok(read);
        }
        let view = buf.get(start..end.min(start + max)).unwrap_or_default();
        let cut = chunker.cut(view);
        let chunk = view.get(..cut).unwrap_or_default();
        let mut framed = Zeroizing::new(Vec::with_capacity(1 + chunk.len()));
        framed.push(BlockKind::Data as u8);
        framed.extend_from_slice(chunk);
        start += cut.max(1);
        batch_bytes += framed.len();
        batch.push(framed);
        if batch_bytes >= BATCH_BYTES {
            batch_bytes = 0;
            if !send(std::mem::take(&mut batch)) {
                return Ok(read);
            }
        }
    }
}

/// Seals the batches of chunks it is given, in order.
fn seal_worker(
    convergence: &ConvergenceKey,
    chunks: &Receiver<Vec<Zeroizing<Vec<u8>>>>,
    sealed: &SyncSender<Vec<Result<Sealed, BlockError>>>,
) {
    for batch in chunks {
        let results = batch
            .into_iter()
            .map(|mut framed| {
                let size = framed.len().saturating_sub(1) as u64;
                seal_in_place(convergence, &mut framed).map(|child| Sealed {
                    entry: TreeEntry { child, size },
                    // Ciphertext now: no need to wipe it.
                    ciphertext: std::mem::take(&mut *framed),
                })
            })
            .collect();
        if sealed.send(results).is_err() {
            return;
        }
    }
}

/// Takes the sealed leaves in the order they were dealt, builds the tree and writes every block
/// to the store; returns the root. (No list of the blocks: a pin walks the stored tree.)
fn build_and_store(
    writer: &mut Writer,
    convergence: &ConvergenceKey,
    workers: &[Receiver<Vec<Result<Sealed, BlockError>>>],
    failed: &AtomicBool,
) -> Result<BlockRef, Error> {
    let mut sink = |id: &BlockId, bytes: &[u8]| -> Result<(), StoreError> {
        // Sealed by this node a moment ago: no need to hash it again.
        writer.put_verified(id, bytes, Class::Permanent).map(|_| ())
    };
    let mut tree = TreeBuilder::new(convergence.clone());
    let mut next = 0usize;
    // The batch after the last one would have gone to a worker that has closed its channel.
    while let Some(rx) = workers.get(next % workers.len().max(1))
        && let Ok(batch) = rx.recv()
    {
        next += 1;
        for sealed in batch {
            let Sealed { entry, ciphertext } = sealed.map_err(encoding_error)?;
            sink(&entry.child.id, &ciphertext).map_err(Error::from)?;
            tree.push(entry, &mut sink).map_err(build_error)?;
        }
    }
    let root = match tree.finish(&mut sink).map_err(build_error)? {
        Some(root) => root.child,
        None => {
            // Empty data is one empty leaf, so that every file has a root.
            let mut empty = [BlockKind::Data as u8];
            let root = seal_in_place(convergence, &mut empty).map_err(encoding_error)?;
            sink(&root.id, &empty).map_err(Error::from)?;
            root
        }
    };
    if failed.load(Ordering::Relaxed) {
        // The reader failed: the caller's error says why, and it must not flush this batch.
        return Err(Error::new(ErrorKind::Internal, "the add was abandoned"));
    }
    Ok(root)
}

fn encoding_error(e: BlockError) -> Error {
    Error::new(ErrorKind::Internal, format!("encoding: {e}"))
}

fn build_error(e: BuildError<StoreError>) -> Error {
    match e {
        BuildError::Sink(s) => s.into(),
        other => Error::new(ErrorKind::Internal, format!("encoding: {other}")),
    }
}
