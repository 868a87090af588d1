//! Where a fetch's verified blocks go: the store, and (for a file) their plaintext at its offsets.
//!
//! The work runs on its own thread ([`Sink::spawn`]) so that the fetch loop keeps requests flowing
//! while blocks are sealed for the arena, synced and written out: on two cores that is the
//! difference between one busy core and two. The channel to it is bounded; a fetch that outruns the
//! disk waits for room.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

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
    /// Starts the disk on what was written while the fetch goes on (`None` if it could not be
    /// started: the final sync then does all the writing).
    behind: Option<WriteBehind>,
}

/// Bytes written to a fetched file between two requests to the background sync ([`WriteBehind`]).
const WRITE_BEHIND_EVERY: u64 = 8 << 20;

/// A thread that `fdatasync`s a fetched file as it fills. The kernel otherwise starts writing only
/// past its dirty threshold (gigabytes on a large machine), so the whole file waited for the last
/// sync: half a second of a 1 GiB get (`docs/BENCHMARKS.md`). The syncs are only a head start;
/// durability comes from [`FileOutput::finish`]'s.
#[derive(Debug)]
struct WriteBehind {
    /// One request waiting at most: a request made while another waits is covered by that one.
    tx: std::sync::mpsc::SyncSender<()>,
    thread: std::thread::JoinHandle<()>,
    /// Set when a background sync failed. Linux reports a writeback error to one sync call only,
    /// and that may be this thread's, so the final sync cannot be trusted then.
    failed: Arc<AtomicBool>,
    /// Bytes written since the last request.
    unsynced: AtomicU64,
}

impl WriteBehind {
    fn start(file: &File) -> std::io::Result<WriteBehind> {
        let clone = file.try_clone()?;
        let failed = Arc::new(AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::sync_channel::<()>(1);
        let flag = Arc::clone(&failed);
        let thread = std::thread::Builder::new()
            .name("gofast-get-sync".into())
            .spawn(move || {
                for () in rx {
                    if clone.sync_data().is_err() {
                        flag.store(true, Ordering::Release);
                        return;
                    }
                }
            })?;
        Ok(WriteBehind {
            tx,
            thread,
            failed,
            unsynced: AtomicU64::new(0),
        })
    }

    fn wrote(&self, n: u64) {
        let before = self.unsynced.fetch_add(n, Ordering::Relaxed);
        if before.saturating_add(n) >= WRITE_BEHIND_EVERY {
            self.unsynced.store(0, Ordering::Relaxed);
            // Full: a request is waiting already, and covers these bytes.
            let _ = self.tx.try_send(());
        }
    }

    /// Stops the thread; an error if one of its syncs failed.
    fn stop(self) -> std::io::Result<()> {
        drop(self.tx);
        let _ = self.thread.join();
        if self.failed.load(Ordering::Acquire) {
            return Err(std::io::Error::other(
                "an earlier sync of the file failed: its data may not be on disk",
            ));
        }
        Ok(())
    }
}

impl FileOutput {
    /// Writes into `file` (created empty by the caller).
    pub fn new(file: File) -> Self {
        let behind = WriteBehind::start(&file)
            .map_err(|e| tracing::debug!(error = %e, "no write-behind for a fetched file"))
            .ok();
        FileOutput { file, behind }
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
        self.write_at(data, p.offset)
    }

    fn write_at(&self, data: &[u8], offset: u64) -> Result<(), GetError> {
        self.file
            .write_all_at(data, offset)
            .map_err(GetError::Write)?;
        if let Some(behind) = &self.behind {
            behind.wrote(data.len() as u64);
        }
        Ok(())
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
                    self.write_at(data, at)?;
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
        if let Some(behind) = self.behind {
            behind.stop().map_err(GetError::Write)?;
        }
        self.file.set_len(size).map_err(GetError::Write)?;
        self.file.sync_all().map_err(GetError::Write)?;
        Ok(self.file)
    }
}
