//! Where a fetch's verified blocks go: the store, and (for a file) their plaintext at its offsets.
//!
//! The work runs on its own thread ([`Sink::spawn`]) so that the fetch loop keeps requests flowing
//! while blocks are sealed for the arena, synced and written out: on two cores that is the
//! difference between one busy core and two. The channel to it is bounded; a fetch that outruns the
//! disk waits for room.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use gofast_core::block::{Block, BlockId, open_verified_in_place, read_tree};
use tokio::sync::mpsc;

use super::fetch::{FetchError, Placement};
use super::get::GetError;
use crate::store::{BlockStore, Class};

/// Blocks waiting for the sink thread (64 KiB each at most: 4 MiB).
const SINK_QUEUE: usize = 64;

/// Blocks written between lazy flushes of the store (about 16 MiB): each makes them visible (the
/// node serves them) without syncing; the end of the fetch syncs once. Syncing every 16 MiB cost
/// 12 % of a 1 GiB get (205–209 MB/s against 232–236, 2026-11-28).
const FLUSH_EVERY: u64 = 256;

/// One verified block for the sink.
struct Job {
    id: BlockId,
    ciphertext: Vec<u8>,
    placement: Option<Placement>,
}

/// The fetch loop's end of the sink thread.
pub(super) struct Sink {
    tx: mpsc::Sender<Job>,
    thread: tokio::task::JoinHandle<Result<(), GetError>>,
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink").finish_non_exhaustive()
    }
}

impl Sink {
    /// Starts the thread: blocks go to `store` as `class`, leaves' data to `output` if given.
    pub(super) fn spawn(store: &BlockStore, class: Class, output: Option<Arc<FileOutput>>) -> Self {
        let (tx, mut rx) = mpsc::channel::<Job>(SINK_QUEUE);
        let mut writer = store.writer();
        let thread = tokio::task::spawn_blocking(move || {
            let mut unflushed = 0u64;
            let result = (|| {
                while let Some(mut job) = rx.blocking_recv() {
                    // The fetch verified the block against its id as it arrived.
                    writer.put_verified(&job.id, &job.ciphertext, class)?;
                    unflushed += 1;
                    if unflushed >= FLUSH_EVERY {
                        writer.flush_lazily()?;
                        unflushed = 0;
                    }
                    if let (Some(out), Some(p)) = (&output, &job.placement) {
                        out.write_leaf(p, &mut job.ciphertext)?;
                    }
                }
                Ok(())
            })();
            // What arrived is kept even when the fetch failed: a retry does not fetch it again.
            let flushed = writer.flush().map_err(GetError::from);
            result.and(flushed)
        });
        Sink { tx, thread }
    }

    /// Hands a verified block over; waits while the queue is full. An error means the thread
    /// stopped: [`Sink::finish`] says why.
    pub(super) async fn put(
        &self,
        id: BlockId,
        ciphertext: Vec<u8>,
        placement: Option<Placement>,
    ) -> Result<(), ()> {
        self.tx
            .send(Job {
                id,
                ciphertext,
                placement,
            })
            .await
            .map_err(|_| ())
    }

    /// Waits for every block handed over to be written and flushed.
    pub(super) async fn finish(self) -> Result<(), GetError> {
        drop(self.tx);
        self.thread
            .await
            .map_err(|e| GetError::Write(std::io::Error::other(format!("sink thread: {e}"))))?
    }
}

/// A file being written as its leaves arrive, out of order, each at its offsets.
#[derive(Debug)]
pub struct FileOutput {
    file: File,
}

impl FileOutput {
    /// Writes into `file` (created empty by the caller).
    pub fn new(file: File) -> Self {
        FileOutput { file }
    }

    /// Decrypts the verified leaf `ciphertext` in place and writes it at its offset; the buffer is
    /// wiped afterwards whatever happened (it held plaintext, or a tree node's child keys).
    fn write_leaf(&self, p: &Placement, ciphertext: &mut [u8]) -> Result<(), GetError> {
        let result = self.decrypt_and_write(p, ciphertext);
        zeroize::Zeroize::zeroize(ciphertext);
        result
    }

    fn decrypt_and_write(&self, p: &Placement, ciphertext: &mut [u8]) -> Result<(), GetError> {
        let bad = |reason: &str| {
            GetError::Fetch(FetchError::BadTree {
                id: p.block.id,
                reason: reason.into(),
            })
        };
        let block = open_verified_in_place(&p.block, ciphertext).map_err(|e| bad(&e.to_string()));
        let data = match block? {
            Block::Data(d) => d,
            Block::Tree(_) => return Err(bad("a tree node stands where data should")),
        };
        if data.len() as u64 != p.size {
            return Err(bad("the data's length is not what its parent says"));
        }
        self.file
            .write_all_at(data, p.offset)
            .map_err(GetError::Write)
    }

    /// Writes the data under `p.block` (a leaf or a whole subtree, every block of it held by
    /// `store`) at its offset.
    pub fn write_stored(&self, store: &BlockStore, p: &Placement) -> Result<(), GetError> {
        {
            let mut at = p.offset;
            let written = read_tree(
                &p.block,
                p.size,
                |id| match store.get(id) {
                    Ok(Some(b)) => Ok(b),
                    Ok(None) => Err(GetError::NotHeld(*id)),
                    Err(e) => Err(GetError::Store(e)),
                },
                |data| {
                    self.file.write_all_at(data, at).map_err(GetError::Write)?;
                    at = at.saturating_add(data.len() as u64);
                    Ok(())
                },
            )
            .map_err(|e| match e {
                gofast_core::block::ReadError::Fetch(e)
                | gofast_core::block::ReadError::Output(e) => e,
                other => GetError::Fetch(FetchError::BadTree {
                    id: p.block.id,
                    reason: other.to_string(),
                }),
            })?;
            if written != p.size {
                return Err(GetError::Fetch(FetchError::BadTree {
                    id: p.block.id,
                    reason: "the data's length is not what its parent says".into(),
                }));
            }
        }
        Ok(())
    }

    /// Sets the file's length to `size` and syncs it; returns the file.
    pub fn finish(self, size: u64) -> Result<File, GetError> {
        self.file.set_len(size).map_err(GetError::Write)?;
        self.file.sync_all().map_err(GetError::Write)?;
        Ok(self.file)
    }
}
