//! Three-way merge of one directory: what two devices' versions of a directory become, against the
//! version both started from (`docs/spec/volume.md`, "Merging").
//!
//! The merge decides each name on its own:
//!
//! - changed on one side only (added, edited, removed): that side's change;
//! - changed the same way on both: that change;
//! - a directory changed differently on both: merged again, one level down ([`Merged::subdirs`]);
//! - edited on one side, removed on the other: the edit is kept (nothing written is lost) and
//!   reported;
//! - anything else changed differently on both (a true conflict): both versions are kept. The newer
//!   (by modification time, then by reference) keeps the name; the other is renamed
//!   `<stem>.conflict-<device><.ext>` after the device that wrote it, and reported.
//!
//! The result does not depend on which side is "ours": two devices merging the same pair of
//! versions get the same directory, so their merges agree instead of ping-ponging.

use alloc::string::String;
use alloc::vec::Vec;
use core::cmp::Ordering;

use super::dir::{DirEntry, EntryKind, MAX_NAME_LEN};
use crate::block::BlockRef;

/// One side of a merge: a version of the directory, and the device that wrote it (its short name,
/// used in conflict names: at most 32 bytes of `[0-9a-z]`).
#[derive(Clone, Copy, Debug)]
pub struct Side<'s, 'a> {
    /// The entries, sorted by name (as a decoded listing gives them).
    pub entries: &'s [DirEntry<'a>],
    /// The writer's short name.
    pub device: &'s str,
}

/// A subdirectory both sides changed: merge `ours` and `theirs` against `base` (empty when the
/// base had no directory of that name), then list the result under `name`.
#[derive(Clone, Debug)]
pub struct SubdirMerge<'a> {
    /// The directory's name.
    pub name: &'a str,
    /// The base's listing root, if the base had this directory.
    pub base: Option<BlockRef>,
    /// One side's version.
    pub ours: DirEntry<'a>,
    /// The other side's version.
    pub theirs: DirEntry<'a>,
}

/// What a merge had to decide for someone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Conflict {
    /// Both sides changed `name` differently: the older version is now `renamed_to`.
    BothChanged {
        /// The name both changed.
        name: String,
        /// Where the older version went.
        renamed_to: String,
    },
    /// One side edited `name`, the other removed it: the edit was kept.
    EditedAndRemoved {
        /// The name.
        name: String,
    },
}

/// The merged directory, for the caller to finish: [`Self::entries`] and [`Self::renamed`] are
/// final; every [`Self::subdirs`] entry still needs its own merge.
#[derive(Clone, Debug, Default)]
pub struct Merged<'a> {
    /// Entries that stay under their names.
    pub entries: Vec<DirEntry<'a>>,
    /// Losing versions of conflicts, with their new names.
    pub renamed: Vec<(String, DirEntry<'a>)>,
    /// Directories to merge one level down.
    pub subdirs: Vec<SubdirMerge<'a>>,
    /// What was decided, in name order.
    pub conflicts: Vec<Conflict>,
}

fn find<'e, 'a>(entries: &'e [DirEntry<'a>], name: &str) -> Option<&'e DirEntry<'a>> {
    entries
        .binary_search_by(|e| e.name.as_bytes().cmp(name.as_bytes()))
        .ok()
        .and_then(|i| entries.get(i))
}

/// The order that picks a conflict's winner: later modification wins, then the larger reference,
/// then the larger device name (so that it is total and the same from both sides).
fn newer(a: (&DirEntry<'_>, &str), b: (&DirEntry<'_>, &str)) -> bool {
    a.0.mtime_ns
        .cmp(&b.0.mtime_ns)
        .then_with(|| a.0.target.id.0.cmp(&b.0.target.id.0))
        .then_with(|| a.1.cmp(b.1))
        == Ordering::Greater
}

/// Merges one directory. `base` is the version both sides started from (empty if none).
pub fn merge_dir<'a>(
    base: &[DirEntry<'a>],
    ours: Side<'_, 'a>,
    theirs: Side<'_, 'a>,
) -> Merged<'a> {
    let mut names: Vec<&'a str> = base
        .iter()
        .chain(ours.entries)
        .chain(theirs.entries)
        .map(|e| e.name)
        .collect();
    names.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    names.dedup();

    let mut out = Merged::default();
    let mut losers: Vec<(&'a str, DirEntry<'a>, String)> = Vec::new();
    for name in names {
        let b = find(base, name);
        let o = find(ours.entries, name);
        let t = find(theirs.entries, name);
        if o == t || t == b {
            out.entries.extend(o.cloned());
        } else if o == b {
            out.entries.extend(t.cloned());
        } else {
            match (o, t) {
                (Some(o), Some(t)) if o.kind == EntryKind::Dir && t.kind == EntryKind::Dir => {
                    out.subdirs.push(SubdirMerge {
                        name,
                        base: b
                            .filter(|b| b.kind == EntryKind::Dir)
                            .map(|b| b.target.clone()),
                        ours: o.clone(),
                        theirs: t.clone(),
                    });
                }
                (Some(o), Some(t)) => {
                    let (win, lose, loser_device) = if newer((o, ours.device), (t, theirs.device)) {
                        (o, t, theirs.device)
                    } else {
                        (t, o, ours.device)
                    };
                    out.entries.push(win.clone());
                    losers.push((name, lose.clone(), String::from(loser_device)));
                }
                (Some(kept), None) | (None, Some(kept)) => {
                    out.entries.push(kept.clone());
                    out.conflicts.push(Conflict::EditedAndRemoved {
                        name: String::from(name),
                    });
                }
                (None, None) => {}
            }
        }
    }
    // Renamed last, so that a conflict name never takes a name the merge keeps.
    for (name, entry, device) in losers {
        let renamed_to = conflict_name(name, &device, |n| {
            find(&out.entries, n).is_some()
                || out.subdirs.iter().any(|s| s.name == n)
                || out.renamed.iter().any(|(r, _)| r == n)
        });
        out.conflicts.push(Conflict::BothChanged {
            name: String::from(name),
            renamed_to: renamed_to.clone(),
        });
        out.renamed.push((renamed_to, entry));
    }
    out.conflicts
        .sort_by(|a, b| conflict_key(a).cmp(conflict_key(b)));
    out
}

fn conflict_key(c: &Conflict) -> &[u8] {
    match c {
        Conflict::BothChanged { name, .. } | Conflict::EditedAndRemoved { name } => name.as_bytes(),
    }
}

/// `<stem>.conflict-<device>[-n]<.ext>`, not taken, at most [`MAX_NAME_LEN`] bytes (the stem is
/// shortened if it must be). The extension is what follows the last dot, unless the name starts
/// with its only dot (`.profile` has none).
pub fn conflict_name(name: &str, device: &str, taken: impl Fn(&str) -> bool) -> String {
    let (stem, ext) = match name.rfind('.') {
        // An extension too long to keep beside the tag is left in the stem (and shortened).
        Some(i) if i > 0 && name.len() - i < MAX_NAME_LEN / 2 => name.split_at(i),
        _ => (name, ""),
    };
    let mut n = 1u32;
    loop {
        let mut tag = String::from(".conflict-");
        tag.push_str(device);
        if n > 1 {
            tag.push('-');
            push_decimal(&mut tag, n);
        }
        let room = MAX_NAME_LEN.saturating_sub(tag.len() + ext.len());
        let mut cut = stem.len().min(room);
        while !stem.is_char_boundary(cut) {
            cut -= 1;
        }
        let mut candidate = String::from(stem.get(..cut).unwrap_or(""));
        candidate.push_str(&tag);
        candidate.push_str(ext);
        if !taken(&candidate) {
            return candidate;
        }
        n += 1;
    }
}

fn push_decimal(s: &mut String, mut n: u32) {
    let mut digits = [0u8; 10];
    let mut len = 0;
    while let Some(d) = digits.get_mut(len) {
        *d = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for d in digits.iter().take(len).rev() {
        s.push(char::from(*d));
    }
}
