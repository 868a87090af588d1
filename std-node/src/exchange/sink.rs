//! Where a fetch's verified blocks go: the store, and (for a file) their plaintext at its offsets.
//!
//! The work runs on its own thread ([`Sink::spawn`]) so that the fetch loop keeps requests flowing
//! while blocks are sealed for the arena, synced and written out: on two cores that is the
//! difference between one busy core and two. The channel to it is bounded; a fetch that outruns the
//! disk waits for room.

use std::sync::Arc;

use gofast_core::block::{BlockId, BlockKind, open_verified_data_into};
use tokio::sync::mpsc;

use super::fetch::{FetchError, Placement};
use super::get::GetError;
use super::leaf_stage::LeafStage;
use super::output::FileOutput;
use crate::store::{BlockStore, Class};

/// Blocks waiting for the sink thread (64 KiB each at most: 4 MiB).
const SINK_QUEUE: usize = 64;

/// Blocks written between lazy flushes of the store (about 16 MiB): each makes them visible (the
/// node serves them) without syncing; the end of the fetch syncs once. Syncing every 16 MiB cost
/// 12 % of a 1 GiB get (205–209 MB/s against 232–236, 2026-11-28).
const FLUSH_EVERY: u64 = 256;

/// Work for the sink.
enum Job {
    /// A verified block to store, and its data's places in the file if it is a leaf.
    Block {
        id: BlockId,
        ciphertext: Vec<u8>,
        placements: Vec<Placement>,
    },
    /// Leaves held before the fetch, to write from the store.
    Held(Vec<Placement>),
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
    pub(super) fn spawn(
        store: &Arc<BlockStore>,
        class: Class,
        output: Option<Arc<FileOutput>>,
    ) -> Self {
        let (tx, mut rx) = mpsc::channel::<Job>(SINK_QUEUE);
        let mut writer = store.writer().dropping_synced_pages();
        let store = Arc::clone(store);
        let thread = tokio::task::spawn_blocking(move || {
            let mut unflushed = 0u64;
            let mut staged = output.map(LeafStage::new);
            let result = (|| {
                while let Some(job) = rx.blocking_recv() {
                    match job {
                        Job::Block {
                            id,
                            ciphertext,
                            placements,
                        } => {
                            // The fetch verified the block against its id as it arrived.
                            writer.put_verified(&id, &ciphertext, class)?;
                            unflushed += 1;
                            if unflushed >= FLUSH_EVERY {
                                writer.flush_lazily()?;
                                unflushed = 0;
                            }
                            if let Some(stage) = &mut staged {
                                for p in &placements {
                                    write_leaf(stage, p, &ciphertext)?;
                                }
                            }
                        }
                        Job::Held(placements) => {
                            let Some(stage) = &mut staged else { continue };
                            for p in &placements {
                                let ciphertext = store
                                    .get(&p.block.id)?
                                    .ok_or(GetError::NotHeld(p.block.id))?;
                                write_leaf(stage, p, &ciphertext)?;
                            }
                        }
                    }
                }
                staged.as_mut().map_or(Ok(()), LeafStage::write_all)
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
        placements: Vec<Placement>,
    ) -> Result<(), ()> {
        self.tx
            .send(Job::Block {
                id,
                ciphertext,
                placements,
            })
            .await
            .map_err(|_| ())
    }

    /// Hands over leaves held before the fetch, to write from the store into the file (if there
    /// is one); waits while the queue is full. An error means the thread stopped.
    pub(super) async fn write_held(&self, placements: Vec<Placement>) -> Result<(), ()> {
        self.tx.send(Job::Held(placements)).await.map_err(|_| ())
    }

    /// Waits for every block handed over to be written and flushed.
    pub(super) async fn finish(self) -> Result<(), GetError> {
        drop(self.tx);
        self.thread
            .await
            .map_err(|e| GetError::Write(std::io::Error::other(format!("sink thread: {e}"))))?
    }
}

/// Decrypts the verified leaf `ciphertext` straight into the stage, at its place in the file.
fn write_leaf(stage: &mut LeafStage, p: &Placement, ciphertext: &[u8]) -> Result<(), GetError> {
    let bad = |reason: &str| {
        GetError::Fetch(FetchError::BadTree {
            id: p.block.id,
            reason: reason.into(),
        })
    };
    // The data is the block without its kind byte.
    let size = ciphertext.len().saturating_sub(1);
    if size as u64 != p.size {
        return Err(bad("the data's length is not what its parent says"));
    }
    stage.add(p.offset, size, |room| {
        match open_verified_data_into(&p.block, ciphertext, room) {
            Ok(BlockKind::Data) => Ok(()),
            Ok(BlockKind::Tree) => Err(bad("a tree node stands where data should")),
            Err(e) => Err(bad(&e.to_string())),
        }
    })
}
