//! Merging two versions of a volume's tree against their common ancestor's, directory by
//! directory, with the core's `merge_dir` (`docs/spec/volume.md`, "Merging"). Every listing of the
//! three trees must be held; the merged listings are written through a [`TreeWriter`].

use gofast_core::block::BlockRef;
use gofast_core::fs::DirEntry;
use gofast_core::fs::merge::{Conflict, Side, merge_dir};

use super::tree::{TreeWriter, VolPath};
use crate::dirs::{OwnedEntry, read_listing};
use crate::error::Error;
use crate::store::BlockStore;

/// A conflict the merge resolved, with where it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeConflict {
    /// The directory it is in.
    pub dir: String,
    /// What was decided.
    pub conflict: Conflict,
}

/// One side of a tree merge: its root listing and its writer's short name.
pub(super) struct TreeSide<'a> {
    /// The root listing.
    pub(super) root: &'a BlockRef,
    /// The device's short name (in conflict names).
    pub(super) device: &'a str,
}

/// Merges `ours` and `theirs` against `base` (`None`: an empty tree); returns the merged root and
/// every conflict it resolved.
pub(super) fn merge_trees(
    store: &BlockStore,
    out: &mut TreeWriter<'_>,
    base: Option<&BlockRef>,
    ours: TreeSide<'_>,
    theirs: TreeSide<'_>,
) -> Result<(BlockRef, Vec<MergeConflict>), Error> {
    let mut conflicts = Vec::new();
    let (root, _) = merge_in(
        store,
        out,
        base,
        &ours,
        &theirs,
        &mut VolPath(Vec::new()),
        &mut conflicts,
    )?;
    Ok((root, conflicts))
}

fn borrowed(entries: &[OwnedEntry]) -> Vec<DirEntry<'_>> {
    let mut v: Vec<DirEntry<'_>> = entries.iter().map(OwnedEntry::as_entry).collect();
    v.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    v
}

fn owned(name: &str, e: &DirEntry<'_>) -> OwnedEntry {
    OwnedEntry {
        name: name.to_owned(),
        kind: e.kind,
        size: e.size,
        mtime_ns: e.mtime_ns,
        target: e.target.clone(),
    }
}

fn merge_in(
    store: &BlockStore,
    out: &mut TreeWriter<'_>,
    base: Option<&BlockRef>,
    ours: &TreeSide<'_>,
    theirs: &TreeSide<'_>,
    path: &mut VolPath,
    conflicts: &mut Vec<MergeConflict>,
) -> Result<(BlockRef, u64), Error> {
    if path.0.len() > crate::dirs::MAX_DEPTH {
        return Err(crate::dirs::too_deep());
    }
    let base_entries = match base {
        Some(b) => read_listing(store, b)?,
        None => Vec::new(),
    };
    let (our_entries, their_entries) = (
        read_listing(store, ours.root)?,
        read_listing(store, theirs.root)?,
    );
    let (b, o, t) = (
        borrowed(&base_entries),
        borrowed(&our_entries),
        borrowed(&their_entries),
    );
    let merged = merge_dir(
        &b,
        Side {
            entries: &o,
            device: ours.device,
        },
        Side {
            entries: &t,
            device: theirs.device,
        },
    );
    let mut result: Vec<OwnedEntry> = merged.entries.iter().map(|e| owned(e.name, e)).collect();
    result.extend(merged.renamed.iter().map(|(n, e)| owned(n, e)));
    for sub in &merged.subdirs {
        path.0.push(sub.name.to_owned());
        let (root, size) = merge_in(
            store,
            out,
            sub.base.as_ref(),
            &TreeSide {
                root: &sub.ours.target,
                device: ours.device,
            },
            &TreeSide {
                root: &sub.theirs.target,
                device: theirs.device,
            },
            path,
            conflicts,
        )?;
        path.0.pop();
        result.push(OwnedEntry {
            name: sub.name.to_owned(),
            kind: gofast_core::fs::EntryKind::Dir,
            size,
            mtime_ns: sub.ours.mtime_ns.max(sub.theirs.mtime_ns),
            target: root,
        });
    }
    conflicts.extend(merged.conflicts.into_iter().map(|conflict| MergeConflict {
        dir: path.to_string(),
        conflict,
    }));
    out.write_listing(&result)
}
