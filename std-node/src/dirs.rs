//! Directories on the node: adding a directory tree from disk, reading listings back from the store,
//! and listing every block under a directory's root (for pins).
//!
//! A directory is a block tree whose data is its listing (`gofast_core::fs`, `docs/spec/dir.md`);
//! each entry points at a file's data tree or at another directory's listing tree. The node adds a
//! directory bottom-up: files first, then the listing that names them.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use gofast_core::block::{BlockId, BlockRef, ScopeSecret, read_tree};
use gofast_core::fs::{
    DirEntry, DirListing, EntryKind, MAX_LISTING_LEN, check_name, encode_listing,
};

use crate::encode::{Encoded, encode_with_writer};
use crate::error::{Error, ErrorKind};
use crate::store::{BlockStore, StoreError, Writer};

/// Directories nested deeper than this are refused (on add and on get): deeper than any real tree,
/// shallow enough that paths stay within what file systems accept.
pub const MAX_DEPTH: usize = 128;
/// Entries (files and directories) in one directory tree, all levels together.
pub const MAX_TREE_ENTRIES: u64 = 1 << 22;

/// Adds `n` entries to a tree's running `count`; an error once it passes [`MAX_TREE_ENTRIES`].
pub(crate) fn count_entries(count: &mut u64, n: usize) -> Result<(), Error> {
    *count = count.saturating_add(n as u64);
    if *count > MAX_TREE_ENTRIES {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("the directory holds more than {MAX_TREE_ENTRIES} entries"),
        ));
    }
    Ok(())
}

/// The error for a directory tree nested deeper than [`MAX_DEPTH`].
pub(crate) fn too_deep() -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        format!("the directory nests deeper than {MAX_DEPTH} levels"),
    )
}

/// What adding a directory produced.
#[derive(Debug)]
pub struct DirAdded {
    /// The top listing's root and the data bytes of every file beneath it.
    pub encoded: Encoded,
    /// Files added (read, or taken unchanged from the previous tree).
    pub files: u64,
    /// Of those, the files taken from the previous tree without being read (same size and
    /// modification time).
    pub reused: u64,
    /// What was left out: symbolic links and special files (devices, sockets, pipes).
    pub skipped: Vec<PathBuf>,
}

/// An entry of a listing, owned.
#[derive(Clone, Debug)]
pub struct OwnedEntry {
    /// The name.
    pub name: String,
    /// File or directory.
    pub kind: EntryKind,
    /// Data bytes (as the listing says).
    pub size: u64,
    /// Modification time, ns since the Unix epoch.
    pub mtime_ns: i64,
    /// The file's data root or the directory's listing root.
    pub target: BlockRef,
}

impl OwnedEntry {
    /// The entry as a listing holds it (redundancy: the default).
    pub fn as_entry(&self) -> DirEntry<'_> {
        DirEntry {
            name: &self.name,
            kind: self.kind,
            redundancy: 0,
            size: self.size,
            mtime_ns: self.mtime_ns,
            target: self.target.clone(),
        }
    }
}

struct Adding<'a, P> {
    /// One batch for the whole tree: a flush per file would cost an fdatasync and a redb commit
    /// each (the writer still flushes by itself every `max_batch` blocks).
    writer: Writer,
    scope: &'a ScopeSecret,
    progress: P,
    /// Modification times from this one on (ns) are not trusted by the quick check.
    racy_from_ns: i64,
    read: u64,
    files: u64,
    reused: u64,
    entries: u64,
    skipped: Vec<PathBuf>,
}

impl<P: FnMut(u64)> Adding<'_, P> {
    /// Adds the directory `dir` (at `depth` below the top); returns its listing's root and the data
    /// bytes beneath it. A file whose size and modification time are those `previous` (the listing
    /// of this directory's last add, held whole) gives it is not read again: its entry is reused.
    fn add(
        &mut self,
        store: &BlockStore,
        dir: &Path,
        depth: usize,
        previous: Option<&BlockRef>,
    ) -> Result<(BlockRef, u64), Error> {
        if depth > MAX_DEPTH {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "{}: directories nest deeper than {MAX_DEPTH} levels",
                    dir.display()
                ),
            ));
        }
        let mut children = Vec::new();
        let listing = std::fs::read_dir(dir).map_err(|e| Error::file(dir, "list", &e))?;
        for entry in listing {
            let entry = entry.map_err(|e| Error::file(dir, "list", &e))?;
            let path = entry.path();
            let name = entry.file_name().into_string().map_err(|_| {
                Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "{}: the name is not UTF-8; gofast keeps names as UTF-8 (rename it)",
                        path.display()
                    ),
                )
            })?;
            check_name(&name).map_err(|reason| {
                Error::new(
                    ErrorKind::InvalidInput,
                    format!("{}: {reason}", path.display()),
                )
            })?;
            // Not followed: a link could lead out of the tree, or round in a circle.
            let meta =
                std::fs::symlink_metadata(&path).map_err(|e| Error::file(&path, "read", &e))?;
            let kind = if meta.is_file() {
                EntryKind::File
            } else if meta.is_dir() {
                EntryKind::Dir
            } else {
                self.skipped.push(path);
                continue;
            };
            self.entries += 1;
            if self.entries > MAX_TREE_ENTRIES {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!("more than {MAX_TREE_ENTRIES} files and directories in one add"),
                ));
            }
            children.push((name, path, kind, meta.len(), mtime_ns(meta.modified().ok())));
        }
        let previous: std::collections::HashMap<String, OwnedEntry> = match previous {
            Some(p) => read_listing(store, p)?
                .into_iter()
                .map(|e| (e.name.clone(), e))
                .collect(),
            None => std::collections::HashMap::new(),
        };
        // The listing sorts its entries; sorting here too makes the add's order (and its
        // progress) the same on every run.
        children.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let mut owned = Vec::with_capacity(children.len());
        let mut total = 0u64;
        for (name, path, kind, len, mtime) in children {
            let before = previous.get(&name).filter(|e| e.kind == kind);
            // The quick check rsync makes: same size, same time, same file; but not for a time so
            // close to the earlier add that the file may have changed again within one tick of
            // the file system's clock after it was read (git's "racily clean" entries).
            let unchanged = before.filter(|e| {
                kind == EntryKind::File
                    && e.size == len
                    && e.mtime_ns == mtime
                    && mtime < self.racy_from_ns
            });
            let (target, size) = match kind {
                _ if let Some(e) = unchanged => {
                    self.files += 1;
                    self.reused += 1;
                    (e.target.clone(), e.size)
                }
                EntryKind::File => match self.add_file(&path)? {
                    Some(added) => added,
                    None => {
                        self.skipped.push(path);
                        continue;
                    }
                },
                EntryKind::Dir => self.add(store, &path, depth + 1, before.map(|e| &e.target))?,
            };
            total = total.saturating_add(size);
            owned.push(OwnedEntry {
                name,
                kind,
                size,
                mtime_ns: mtime,
                target,
            });
        }
        let mut entries: Vec<DirEntry<'_>> = owned.iter().map(OwnedEntry::as_entry).collect();
        let listing = encode_listing(&mut entries)
            .map_err(|e| Error::new(ErrorKind::InvalidInput, format!("{}: {e}", dir.display())))?;
        let encoded = encode_with_writer(&mut self.writer, self.scope, &listing[..], dir, |_| {})?;
        Ok((encoded.root, total))
    }

    /// Adds the regular file at `path`; `None` if it is not one any more when it is opened.
    fn add_file(&mut self, path: &Path) -> Result<Option<(BlockRef, u64)>, Error> {
        // Opened without following a link and without waiting on a pipe, then checked again: the
        // entry may have been swapped for a link to a secret, or for a FIFO, since it was listed.
        use std::os::unix::fs::OpenOptionsExt;
        let flags = rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK;
        let file = match std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(flags.bits() as i32)
            .open(path)
        {
            Ok(f) => f,
            // ELOOP: it is a symbolic link now.
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
                return Ok(None);
            }
            Err(e) => return Err(Error::file(path, "open", &e)),
        };
        let meta = file.metadata().map_err(|e| Error::file(path, "read", &e))?;
        if !meta.is_file() {
            return Ok(None);
        }
        let base = self.read;
        let progress = &mut self.progress;
        let encoded = encode_with_writer(&mut self.writer, self.scope, file, path, |n| {
            progress(base.saturating_add(n));
        })?;
        self.read = base.saturating_add(encoded.size);
        self.files += 1;
        Ok(Some((encoded.root, encoded.size)))
    }
}

/// A file's modification time as `mtime_ns` (0 if the system does not say).
pub(crate) fn mtime_of(meta: &std::fs::Metadata) -> i64 {
    mtime_ns(meta.modified().ok())
}

fn mtime_ns(t: Option<SystemTime>) -> i64 {
    let Some(t) = t else { return 0 };
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_nanos()).map_or(i64::MIN, |n| -n),
    }
}

/// `mtime_ns` as a time, for setting it on a written file.
pub fn system_time(mtime_ns: i64) -> Option<SystemTime> {
    let magnitude = std::time::Duration::from_nanos(mtime_ns.unsigned_abs());
    if mtime_ns >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(magnitude)
    } else {
        SystemTime::UNIX_EPOCH.checked_sub(magnitude)
    }
}

/// Adds the directory `dir` and everything beneath it to `store` (permanent blocks, flushed once
/// at the end). `progress` gets the file bytes read so far.
pub fn add_dir(
    store: &BlockStore,
    scope: &ScopeSecret,
    dir: &Path,
    progress: impl FnMut(u64),
) -> Result<DirAdded, Error> {
    add_dir_since(store, scope, dir, None, progress)
}

/// An earlier add of a directory, for [`add_dir_since`].
#[derive(Clone, Copy, Debug)]
pub struct EarlierAdd<'a> {
    /// Its root (every block of its listings held).
    pub root: &'a BlockRef,
    /// When it was made (Unix seconds; its pin's time): every file it read was read by then.
    /// `None` if unknown: then no file is taken unread.
    pub made_at: Option<u64>,
}

/// How long before an earlier add a file's modification time must lie for the quick check to
/// trust it. A file written again within one tick of the file system's clock after the add read it
/// keeps its time: ext4's tick is a few milliseconds, FAT's two seconds.
pub const RACY_WINDOW_SECS: u64 = 2;

/// The earliest modification time (Unix nanoseconds) that a look at a file at `seen_ns` cannot
/// vouch for: a file whose time is this or later may have changed again since without a new time
/// (see [`RACY_WINDOW_SECS`]). The push's quick check and the folder mirror both use this rule.
pub(crate) fn racy_from_ns(seen_ns: i64) -> i64 {
    const WINDOW_NS: i64 = RACY_WINDOW_SECS as i64 * 1_000_000_000;
    seen_ns.saturating_sub(WINDOW_NS)
}

/// [`add_dir`], reading only the files that changed since `previous` (an earlier add of the same
/// directory): a file with the size and modification time its entry there gives is taken from it
/// unread (`reused`), as rsync's quick check does, unless that time lies within
/// [`RACY_WINDOW_SECS`] of the earlier add (it may have changed again without a new time).
pub fn add_dir_since(
    store: &BlockStore,
    scope: &ScopeSecret,
    dir: &Path,
    previous: Option<EarlierAdd<'_>>,
    progress: impl FnMut(u64),
) -> Result<DirAdded, Error> {
    let racy_from_ns = previous.and_then(|p| p.made_at).map_or(i64::MIN, |t| {
        racy_from_ns(i64::try_from(u128::from(t) * 1_000_000_000).unwrap_or(i64::MAX))
    });
    let mut adding = Adding {
        writer: store.writer(),
        scope,
        progress,
        racy_from_ns,
        read: 0,
        files: 0,
        reused: 0,
        entries: 0,
        skipped: Vec::new(),
    };
    let (root, size) = adding.add(store, dir, 0, previous.map(|p| p.root))?;
    adding.writer.flush()?;
    Ok(DirAdded {
        encoded: Encoded { root, size },
        files: adding.files,
        reused: adding.reused,
        skipped: adding.skipped,
    })
}

/// Reads and decodes the listing under `root` from `store` (every block of it must be held).
pub fn read_listing(store: &BlockStore, root: &BlockRef) -> Result<Vec<OwnedEntry>, Error> {
    read_listing_by(root, |id| store.get(id))
}

/// [`read_listing`] through [`BlockStore::get_uncounted`]: for the walks of a pin.
pub(crate) fn read_listing_uncounted(
    store: &BlockStore,
    root: &BlockRef,
) -> Result<Vec<OwnedEntry>, Error> {
    read_listing_by(root, |id| store.get_uncounted(id))
}

fn read_listing_by(
    root: &BlockRef,
    mut get: impl FnMut(&BlockId) -> Result<Option<Vec<u8>>, StoreError>,
) -> Result<Vec<OwnedEntry>, Error> {
    let mut bytes = Vec::new();
    read_tree(
        root,
        MAX_LISTING_LEN as u64,
        |id| match get(id) {
            Ok(Some(b)) => Ok(b),
            Ok(None) => Err(Error::new(
                ErrorKind::NotFound,
                format!(
                    "block {id} of a directory listing is not held: fetch it with `gofast get`"
                ),
            )),
            Err(e) => Err(e.into()),
        },
        |d| {
            bytes.extend_from_slice(d);
            Ok(())
        },
    )
    .map_err(|e| match e {
        gofast_core::block::ReadError::Fetch(e) | gofast_core::block::ReadError::Output(e) => e,
        other => Error::new(ErrorKind::Corrupt, format!("a directory listing: {other}")),
    })?;
    let listing = DirListing::decode(&bytes).map_err(|e| {
        Error::new(
            ErrorKind::Corrupt,
            format!("not a directory listing ({e}): is this a file's URI with a / added?"),
        )
    })?;
    Ok(listing
        .entries()
        .map(|e| OwnedEntry {
            name: e.name.to_owned(),
            kind: e.kind,
            size: e.size,
            mtime_ns: e.mtime_ns,
            target: e.target,
        })
        .collect())
}
