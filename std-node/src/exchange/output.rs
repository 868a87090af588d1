//! A fetched file being written: [`FileOutput`].

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use gofast_core::block::read_tree;

use super::fetch::{FetchError, Placement};
use super::get::GetError;
use crate::store::BlockStore;

/// Alignment of a write that skips the page cache (`O_DIRECT`), in memory and in the file: the
/// page size, which every Linux file system and device here accepts.
pub(super) const DIRECT_ALIGN: usize = 4096;

/// A file being written as its leaves arrive, out of order, each at its offsets.
#[derive(Debug)]
pub struct FileOutput {
    file: File,
    /// The same file opened for writes that skip the page cache (`O_DIRECT`), if the system and
    /// the file system allow them.
    direct: Option<File>,
    /// Cleared when a direct write was refused as such (`EINVAL`): everything then goes through
    /// `file`.
    direct_ok: AtomicBool,
    /// Bytes written past the page cache (for the log, and for tests to see the path taken).
    direct_bytes: AtomicU64,
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
    /// Writes into `file` (created empty by the caller), all of it through the page cache.
    fn new(file: File) -> Self {
        let behind = WriteBehind::start(&file)
            .map_err(|e| tracing::debug!(error = %e, "no write-behind for a fetched file"))
            .ok();
        FileOutput {
            file,
            direct: None,
            direct_ok: AtomicBool::new(false),
            direct_bytes: AtomicU64::new(0),
            behind,
        }
    }

    /// Writes into `file`, just created at `path`, and where the system allows it writes whole pages
    /// straight to the disk ([`FileOutput::write_direct`]).
    pub fn create(file: File, path: &Path) -> Self {
        let mut out = FileOutput::new(file);
        match open_direct(&out.file, path) {
            Ok(direct) => {
                out.direct = Some(direct);
                out.direct_ok = AtomicBool::new(true);
            }
            Err(e) => tracing::debug!(error = %e, "no direct writes for a fetched file"),
        }
        out
    }

    /// Writes whole pages (`data` and `offset` aligned to [`DIRECT_ALIGN`]) past the page cache:
    /// no copy into page-cache memory, no write-back by the kernel later. Through the page cache
    /// where that is not possible.
    pub(super) fn write_direct(&self, data: &[u8], offset: u64) -> Result<(), GetError> {
        if let Some(direct) = self
            .direct
            .as_ref()
            .filter(|_| self.direct_ok.load(Ordering::Relaxed))
        {
            match direct.write_all_at(data, offset) {
                Ok(()) => {
                    self.direct_bytes
                        .fetch_add(data.len() as u64, Ordering::Relaxed);
                    return Ok(());
                }
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error()) => {
                    // The file system's alignment is not ours, or it does not do direct writes
                    // after all: the same bytes through the page cache, and from now on.
                    tracing::debug!(error = %e, "direct writes refused; writing through the page cache");
                    self.direct_ok.store(false, Ordering::Relaxed);
                }
                Err(e) => return Err(GetError::Write(e)),
            }
        }
        self.write_at(data, offset)
    }

    /// Whether whole pages go past the page cache (until a direct write is refused).
    #[cfg(test)]
    pub(super) fn writes_direct(&self) -> bool {
        self.direct.is_some() && self.direct_ok.load(Ordering::Relaxed)
    }

    /// Bytes written past the page cache so far.
    #[cfg(test)]
    pub(super) fn direct_bytes(&self) -> u64 {
        self.direct_bytes.load(Ordering::Relaxed)
    }

    pub(super) fn write_at(&self, data: &[u8], offset: u64) -> Result<(), GetError> {
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
        // Also makes the direct writes durable: the sync is the inode's, whichever handle wrote.
        self.file.sync_all().map_err(GetError::Write)?;
        let direct = self.direct_bytes.load(Ordering::Relaxed);
        tracing::debug!(size, direct, "fetched file written");
        Ok(self.file)
    }
}

/// Opens `path` again, for writes that skip the page cache, and checks that it is still `file`
/// (`O_NOFOLLOW` and the inode: nobody swapped a link in between the two opens).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn open_direct(file: &File, path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let flags = rustix::fs::OFlags::DIRECT | rustix::fs::OFlags::NOFOLLOW;
    let direct = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(i32::try_from(flags.bits()).unwrap_or(0))
        .open(path)?;
    let (a, b) = (file.metadata()?, direct.metadata()?);
    if (a.dev(), a.ino()) != (b.dev(), b.ino()) {
        return Err(std::io::Error::other(
            "the file was replaced between two opens",
        ));
    }
    Ok(direct)
}

/// Elsewhere writes go through the page cache.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn open_direct(_file: &File, _path: &Path) -> std::io::Result<File> {
    Err(std::io::Error::other(
        "direct writes are used on Linux only",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_direct_write_goes_through_the_page_cache_and_so_do_later_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let out = FileOutput::create(File::create_new(&path).unwrap(), &path);
        let direct = out.writes_direct();
        let mut buf: Vec<u8> = (0..4 * DIRECT_ALIGN).map(|i| (i % 253) as u8).collect();
        let base = buf.as_ptr().align_offset(DIRECT_ALIGN);
        let data = &mut buf[base..base + 3 * DIRECT_ALIGN];
        // Whole pages: past the page cache where the file system allows it.
        out.write_direct(&data[..DIRECT_ALIGN], 0).unwrap();
        assert_eq!(
            out.direct_bytes(),
            if direct { DIRECT_ALIGN as u64 } else { 0 }
        );
        // Not aligned: refused by the kernel (EINVAL), written all the same.
        out.write_direct(
            &data[DIRECT_ALIGN..2 * DIRECT_ALIGN + 1],
            DIRECT_ALIGN as u64,
        )
        .unwrap();
        assert!(
            !out.writes_direct(),
            "after a refusal, no more direct writes"
        );
        out.write_direct(&data[2 * DIRECT_ALIGN + 1..], 2 * DIRECT_ALIGN as u64 + 1)
            .unwrap();
        assert!(out.direct_bytes() <= DIRECT_ALIGN as u64);
        out.finish(data.len() as u64).unwrap();
        assert!(std::fs::read(&path).unwrap() == data);
    }
}
