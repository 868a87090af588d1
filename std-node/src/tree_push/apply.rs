//! Writing a pushed (or pulled) tree into its folder: only the files whose size or modification
//! time differ from the tree's entry are written (each through a temporary file renamed over the
//! old, so a crash leaves the old file or the new); files the previous push brought that the new
//! tree no longer has are removed, unless they were changed here since. Files the folder's owner
//! put there themselves are left alone.

use std::collections::BTreeMap;
use std::path::Path;

use gofast_core::block::BlockRef;

use crate::error::{Error, ErrorKind};
use crate::local_tree::{
    LocalSig, TreeFile, local_path, no_link_on_the_way, remove_local, sig, tree_files,
    write_from_store,
};
use crate::store::BlockStore;

/// What writing a tree into its folder did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Files written (new or changed).
    pub written: u32,
    /// Data bytes written.
    pub bytes_written: u64,
    /// Files left as they were (already the tree's).
    pub unchanged: u32,
    /// Files removed (gone from the tree).
    pub removed: u32,
    /// Files gone from the tree but changed in the folder since the previous push: kept.
    pub kept: u32,
}

fn sig_of(f: &TreeFile) -> LocalSig {
    LocalSig {
        size: f.size,
        mtime_ns: f.mtime_ns,
    }
}

/// Makes the folder `dest` hold the tree under `root` (every block held); `previous` is the tree
/// the last push or pull into `dest` wrote (held whole), if any.
pub fn apply_tree(
    store: &BlockStore,
    root: &BlockRef,
    previous: Option<&BlockRef>,
    dest: &Path,
) -> Result<Applied, Error> {
    match std::fs::symlink_metadata(dest) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "{} is not a folder (a file or a link is in the way)",
                    dest.display()
                ),
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir(dest).map_err(|e| Error::file(dest, "create", &e))?;
        }
        Err(e) => return Err(Error::file(dest, "read", &e)),
    }
    let mut dirs = Vec::new();
    let files = tree_files(store, root, Some(&mut dirs))?;
    let mut old_dirs = Vec::new();
    let old: BTreeMap<String, TreeFile> = match previous {
        Some(p) => tree_files(store, p, Some(&mut old_dirs))?,
        None => BTreeMap::new(),
    };
    let mut done = Applied::default();
    // Removals first: a file may become a folder of the same name, or the other way round.
    for (path, before) in &old {
        if files.contains_key(path) {
            continue;
        }
        match sig(dest, path) {
            Some(now) if now == sig_of(before) => {
                remove_local(dest, path)?;
                done.removed += 1;
            }
            Some(_) => done.kept += 1,
            None => {}
        }
    }
    // Folders the new tree has no more, deepest first, if nothing is left in them.
    let kept_dirs: std::collections::HashSet<&String> = dirs.iter().collect();
    old_dirs.sort_by_key(|d| std::cmp::Reverse(d.matches('/').count()));
    for d in old_dirs.iter().filter(|d| !kept_dirs.contains(d)) {
        if no_link_on_the_way(dest, d).is_ok() {
            let _ = std::fs::remove_dir(local_path(dest, d));
        }
    }
    for d in &dirs {
        // The check looks at the folders on the way to `d`, and `d` itself is a folder on the way
        // to anything inside it.
        no_link_on_the_way(dest, &format!("{d}/-"))?;
        let at = local_path(dest, d);
        std::fs::create_dir_all(&at).map_err(|e| Error::file(&at, "create", &e))?;
    }
    for (path, f) in &files {
        if sig(dest, path) == Some(sig_of(f)) {
            done.unchanged += 1;
            continue;
        }
        write_from_store(store, &f.target, dest, path, f.mtime_ns)?;
        done.written += 1;
        done.bytes_written = done.bytes_written.saturating_add(f.size);
    }
    Ok(done)
}
