//! A volume's directory tree in the store: reading a path, and writing a changed tree back, new
//! listings from the changed entry up to the root (copy on write, as Fossil does: every listing
//! off the path is shared with the previous snapshot). Blocking: call it off the async threads.

use gofast_core::block::{BlockId, BlockRef, ScopeSecret};
use gofast_core::fs::{DirEntry, EntryKind, check_name, encode_listing};

use crate::dirs::{OwnedEntry, read_listing};
use crate::encode::encode_with_writer;
use crate::error::{Error, ErrorKind};
use crate::store::{BlockStore, PinReport, Writer};
use crate::tree_ids::{Leaves, TreeIds};

/// A path inside a volume, split into checked names; empty for the root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolPath(pub Vec<String>);

impl VolPath {
    /// Parses `/a/b/c` (the leading `/` optional; empty parts and a trailing `/` ignored).
    pub fn parse(text: &str) -> Result<VolPath, Error> {
        let mut parts = Vec::new();
        for part in text.split('/').filter(|p| !p.is_empty()) {
            check_name(part).map_err(|why| {
                Error::new(
                    ErrorKind::InvalidInput,
                    format!("{text:?} is not a volume path: {part:?} {why}"),
                )
            })?;
            parts.push(part.to_owned());
        }
        if parts.len() > crate::dirs::MAX_DEPTH {
            return Err(crate::dirs::too_deep());
        }
        Ok(VolPath(parts))
    }

    /// The last name (empty for the root).
    pub fn name(&self) -> String {
        self.0.last().cloned().unwrap_or_default()
    }

    /// The parent and the last name, unless this is the root.
    pub fn split_last(&self) -> Option<(&[String], &str)> {
        self.0
            .split_last()
            .map(|(last, parent)| (parent, last.as_str()))
    }
}

impl std::fmt::Display for VolPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return f.write_str("/");
        }
        for p in &self.0 {
            write!(f, "/{p}")?;
        }
        Ok(())
    }
}

/// Writes listings and files of one volume into one store batch, and remembers the root of each
/// (the new snapshot's pin walks their trees).
pub(super) struct TreeWriter<'s> {
    /// The store's batch.
    pub(super) writer: Writer,
    /// The volume's scope.
    pub(super) scope: &'s ScopeSecret,
    /// Roots of the listings and files written (their blocks possibly held already).
    roots: Vec<BlockRef>,
    /// The listings written in this batch, by root: the batch is not in the store until it is
    /// flushed, and an edit of several changes reads what the earlier ones wrote.
    pub(super) written: std::collections::HashMap<BlockId, Vec<OwnedEntry>>,
}

impl<'s> TreeWriter<'s> {
    /// A writer into `writer`'s batch, sealing in `scope`.
    pub(super) fn new(writer: Writer, scope: &'s ScopeSecret) -> Self {
        TreeWriter {
            writer,
            scope,
            roots: Vec::new(),
            written: std::collections::HashMap::new(),
        }
    }

    /// Once the batch is flushed: pins every block it wrote as `label`, with `root` (a snapshot
    /// that names them).
    pub(super) fn pin_written(
        &self,
        store: &BlockStore,
        label: &str,
        root: &BlockRef,
    ) -> Result<PinReport, Error> {
        // A file written twice (the same bytes at two paths) is walked once.
        let mut walked = std::collections::HashSet::new();
        let ids = self
            .roots
            .iter()
            .filter(|r| walked.insert(r.id))
            .flat_map(|r| TreeIds::new(store, r, Leaves::Trust))
            .map(|r| r.map_err(Error::from));
        store.try_pin(label, root, ids)
    }

    /// The listing under `root`: written in this batch, or from the store.
    pub(super) fn listing(
        &self,
        store: &BlockStore,
        root: &BlockRef,
    ) -> Result<Vec<OwnedEntry>, Error> {
        match self.written.get(&root.id) {
            Some(entries) => Ok(entries.clone()),
            None => read_listing(store, root),
        }
    }

    /// The entry at `path` under `root` (which may be of this batch).
    pub(super) fn lookup(
        &self,
        store: &BlockStore,
        root: &BlockRef,
        path: &VolPath,
    ) -> Result<OwnedEntry, Error> {
        lookup_with(root, path, |r| self.listing(store, r))
    }

    /// Writes a listing of `entries` (in any order; names must be distinct); returns its root
    /// and the data bytes beneath it.
    pub(super) fn write_listing(
        &mut self,
        entries: &[OwnedEntry],
    ) -> Result<(BlockRef, u64), Error> {
        let mut listed: Vec<DirEntry<'_>> = entries.iter().map(OwnedEntry::as_entry).collect();
        let bytes = encode_listing(&mut listed).map_err(|e| {
            Error::new(ErrorKind::InvalidInput, format!("a directory listing: {e}"))
        })?;
        let size = entries.iter().fold(0u64, |s, e| s.saturating_add(e.size));
        let encoded = encode_with_writer(
            &mut self.writer,
            self.scope,
            &bytes[..],
            std::path::Path::new("<listing>"),
            |_| {},
        )?;
        self.roots.push(encoded.root.clone());
        self.written.insert(encoded.root.id, entries.to_vec());
        Ok((encoded.root, size))
    }

    /// Writes a file's data; returns its root and size.
    pub(super) fn write_file(
        &mut self,
        input: impl std::io::Read,
        path: &std::path::Path,
        progress: impl FnMut(u64),
    ) -> Result<(BlockRef, u64), Error> {
        let encoded = encode_with_writer(&mut self.writer, self.scope, input, path, progress)?;
        self.roots.push(encoded.root.clone());
        Ok((encoded.root, encoded.size))
    }

    /// The tree under `root` with the entry at `path` replaced by `entry` (removed if `None`);
    /// directories on the way are made if missing. Returns the new root. `now_ns` is the new
    /// modification time of every directory changed.
    pub(super) fn replace(
        &mut self,
        store: &BlockStore,
        root: &BlockRef,
        path: &VolPath,
        entry: Option<OwnedEntry>,
        now_ns: i64,
    ) -> Result<BlockRef, Error> {
        let Some((parents, name)) = path.split_last() else {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "the root of a volume cannot be replaced or removed",
            ));
        };
        Ok(self
            .replace_in(store, Some(root), parents, name, entry, now_ns)?
            .0)
    }

    fn replace_in(
        &mut self,
        store: &BlockStore,
        dir: Option<&BlockRef>,
        parents: &[String],
        name: &str,
        entry: Option<OwnedEntry>,
        now_ns: i64,
    ) -> Result<(BlockRef, u64), Error> {
        let mut entries = match dir {
            Some(d) => self.listing(store, d)?,
            None => Vec::new(),
        };
        let at = |entries: &[OwnedEntry], n: &str| entries.iter().position(|e| e.name == n);
        match parents.split_first() {
            None => {
                let old = at(&entries, name);
                match (old, entry) {
                    (Some(i), Some(e)) => {
                        if let Some(slot) = entries.get_mut(i) {
                            *slot = e;
                        }
                    }
                    (None, Some(e)) => entries.push(e),
                    (Some(i), None) => {
                        entries.remove(i);
                    }
                    (None, None) => {
                        return Err(Error::new(
                            ErrorKind::NotFound,
                            format!("{name:?} does not exist"),
                        ));
                    }
                }
            }
            Some((first, rest)) => {
                let i = at(&entries, first);
                let sub = match i.and_then(|i| entries.get(i)) {
                    Some(e) if e.kind == EntryKind::Dir => Some(e.target.clone()),
                    Some(_) => {
                        return Err(Error::new(
                            ErrorKind::InvalidInput,
                            format!("{first:?} is a file, not a directory"),
                        ));
                    }
                    None if entry.is_none() => {
                        return Err(Error::new(
                            ErrorKind::NotFound,
                            format!("{first:?} does not exist"),
                        ));
                    }
                    None => None,
                };
                let (target, size) =
                    self.replace_in(store, sub.as_ref(), rest, name, entry, now_ns)?;
                let dir = OwnedEntry {
                    name: first.clone(),
                    kind: EntryKind::Dir,
                    size,
                    mtime_ns: now_ns,
                    target,
                };
                match i.and_then(|i| entries.get_mut(i)) {
                    Some(slot) => *slot = dir,
                    None => entries.push(dir),
                }
            }
        }
        self.write_listing(&entries)
    }
}

/// The entry at `path` under `root` (the root itself has none: an error).
pub(super) fn lookup(
    store: &BlockStore,
    root: &BlockRef,
    path: &VolPath,
) -> Result<OwnedEntry, Error> {
    lookup_with(root, path, |r| read_listing(store, r))
}

pub(super) fn lookup_with(
    root: &BlockRef,
    path: &VolPath,
    listing: impl Fn(&BlockRef) -> Result<Vec<OwnedEntry>, Error>,
) -> Result<OwnedEntry, Error> {
    let mut dir = root.clone();
    let mut found = None;
    for (depth, name) in path.0.iter().enumerate() {
        if let Some(prev) = &found {
            let prev: &OwnedEntry = prev;
            if prev.kind != EntryKind::Dir {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "{} is a file, not a directory",
                        VolPath(path.0[..depth].to_vec())
                    ),
                ));
            }
            dir = prev.target.clone();
        }
        let entries = listing(&dir)?;
        let entry = entries
            .into_iter()
            .find(|e| &e.name == name)
            .ok_or_else(|| Error::new(ErrorKind::NotFound, format!("{path} does not exist")))?;
        found = Some(entry);
    }
    found.ok_or_else(|| Error::new(ErrorKind::InvalidInput, "the root has no entry"))
}

/// The listing root of the directory at `path` under `root`.
pub(super) fn dir_at(
    store: &BlockStore,
    root: &BlockRef,
    path: &VolPath,
) -> Result<BlockRef, Error> {
    if path.0.is_empty() {
        return Ok(root.clone());
    }
    let e = lookup(store, root, path)?;
    if e.kind != EntryKind::Dir {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("{path} is a file, not a directory"),
        ));
    }
    Ok(e.target)
}
