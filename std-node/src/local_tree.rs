//! A directory tree in the store and its copy in a local folder: listing a tree's files, and
//! writing or removing one file of the copy safely (through a temporary file renamed over the old,
//! never through a symbolic link). Shared by the folder mirror (`gofast sync`) and by tree pushes
//! and pulls (`gofast push`, `gofast pull`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gofast_core::block::BlockRef;
use gofast_core::fs::EntryKind;

use crate::dirs::read_listing;
use crate::error::{Error, ErrorKind};

/// What temporary files of downloads start with (never synced, never pushed).
pub(crate) const TEMP_PREFIX: &str = ".gofast-sync-";

/// What a quick check compares of a local file: its size and modification time (as rsync does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LocalSig {
    /// Bytes.
    pub(crate) size: u64,
    /// Modification time, ns since the Unix epoch.
    pub(crate) mtime_ns: i64,
}

/// A file of a tree in the store, as its listing names it.
#[derive(Clone, Debug)]
pub(crate) struct TreeFile {
    /// Bytes.
    pub(crate) size: u64,
    /// Modification time, ns since the Unix epoch.
    pub(crate) mtime_ns: i64,
    /// Its data's root.
    pub(crate) target: BlockRef,
}

/// Every file of the directory tree under `root` (every block held), by `/`-separated path; the
/// directories go to `dirs` if given, parents before children.
pub(crate) fn tree_files(
    store: &crate::store::BlockStore,
    root: &BlockRef,
    mut dirs: Option<&mut Vec<String>>,
) -> Result<BTreeMap<String, TreeFile>, Error> {
    let mut out = BTreeMap::new();
    let mut entries = 0u64;
    let mut stack = vec![(root.clone(), String::new(), 0usize)];
    while let Some((dir, prefix, depth)) = stack.pop() {
        if depth > crate::dirs::MAX_DEPTH {
            return Err(crate::dirs::too_deep());
        }
        let listing = read_listing(store, &dir)?;
        crate::dirs::count_entries(&mut entries, listing.len())?;
        for e in listing {
            let path = format!("{prefix}/{}", e.name);
            match e.kind {
                EntryKind::Dir => {
                    if let Some(dirs) = dirs.as_deref_mut() {
                        dirs.push(path.clone());
                    }
                    stack.push((e.target, path, depth + 1));
                }
                EntryKind::File => {
                    out.insert(
                        path,
                        TreeFile {
                            size: e.size,
                            mtime_ns: e.mtime_ns,
                            target: e.target,
                        },
                    );
                }
            }
        }
    }
    Ok(out)
}

/// The local file of tree path `path` under `dir`.
pub(crate) fn local_path(dir: &Path, path: &str) -> PathBuf {
    let mut p = dir.to_path_buf();
    for part in path.split('/').filter(|s| !s.is_empty()) {
        p.push(part);
    }
    p
}

/// Refuses `path` under `dir` if a folder on the way is a symbolic link: writes and removals stay
/// inside the folder, never through a link out of it.
pub(crate) fn no_link_on_the_way(dir: &Path, path: &str) -> Result<(), Error> {
    let mut at = dir.to_path_buf();
    let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    for part in parts.iter().take(parts.len().saturating_sub(1)) {
        at.push(part);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!("{} is a symbolic link: not followed", at.display()),
                ));
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    Ok(())
}

/// Writes the data of `target` to the file of `path` under `dir` (through a temporary file beside
/// it, renamed over), with modification time `mtime_ns`.
pub(crate) fn write_from_store(
    store: &crate::store::BlockStore,
    target: &BlockRef,
    dir: &Path,
    path: &str,
    mtime_ns: i64,
) -> Result<(), Error> {
    no_link_on_the_way(dir, path)?;
    let dest = &local_path(dir, path);
    let parent = dest.parent().ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("{} has no folder", dest.display()),
        )
    })?;
    std::fs::create_dir_all(parent).map_err(|e| Error::file(parent, "create", &e))?;
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = parent.join(format!("{TEMP_PREFIX}{name}"));
    let mut file = std::fs::File::create(&temp).map_err(|e| Error::file(&temp, "create", &e))?;
    let written =
        crate::node::read_tree_from_store(store, target, crate::node::MAX_GET_SIZE, &mut file)
            .and_then(|_| file.sync_all().map_err(|e| Error::file(&temp, "write", &e)));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    if let Some(t) = crate::dirs::system_time(mtime_ns) {
        let _ = file.set_modified(t);
    }
    drop(file);
    std::fs::rename(&temp, dest).map_err(|e| Error::file(dest, "replace", &e))
}

/// Removes the local file `path` and the folders it leaves empty (up to `dir`).
pub(crate) fn remove_local(dir: &Path, path: &str) -> Result<(), Error> {
    no_link_on_the_way(dir, path)?;
    let file = local_path(dir, path);
    match std::fs::remove_file(&file) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::file(&file, "remove", &e)),
    }
    let mut at = file.parent().map(Path::to_path_buf);
    while let Some(d) = at {
        if d == dir || std::fs::remove_dir(&d).is_err() {
            break;
        }
        at = d.parent().map(Path::to_path_buf);
    }
    Ok(())
}

/// The quick-check signature of the regular file `path` under `dir` (`None`: no such file).
pub(crate) fn sig(dir: &Path, path: &str) -> Option<LocalSig> {
    std::fs::symlink_metadata(local_path(dir, path))
        .ok()
        .filter(std::fs::Metadata::is_file)
        .map(|m| LocalSig {
            size: m.len(),
            mtime_ns: crate::dirs::mtime_of(&m),
        })
}
