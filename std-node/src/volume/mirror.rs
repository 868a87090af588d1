//! `gofast sync DIR VOLUME`: a local folder and a volume kept the same both ways, as Syncthing
//! users expect. A file-system watcher (`notify`) and the volume's own changes trigger a pass;
//! each pass compares the folder and the volume with what the last pass left (the base) and moves
//! each changed file the way it changed:
//!
//! - changed in the folder only: put in the volume (all of a pass's puts and removals are one
//!   snapshot); removed from the folder only: removed from the volume;
//! - changed in the volume only: written into the folder (through a temporary file renamed over
//!   the old, its modification time the volume's); removed from the volume only: removed here;
//! - changed on both sides: the newer keeps the name and the other is kept beside it as
//!   `<stem>.conflict-<device><.ext>`, as a merge does; an edit beats a removal.
//!
//! Files only: empty folders are not mirrored, symbolic links and special files are left alone,
//! and names the volume cannot hold (not UTF-8, or refused by the name rule) are skipped with a
//! warning. The base lives in memory: the first pass after a start takes a file that exists on both
//! sides with the same content as the same. A file whose size and time are what the last pass saw is
//! unchanged, unless that time lay within two seconds of the pass (it may have been written again in
//! the same tick of the file system's clock): then its content is compared.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use gofast_core::block::BlockRef;
use gofast_core::fs::EntryKind;
use gofast_core::fs::merge::conflict_name;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::snapshots::{self, now_ns};
use super::tree::{TreeWriter, VolPath};
use super::{Volumes, device_tag};
use crate::dirs::{OwnedEntry, racy_from_ns};
use crate::error::{Error, ErrorKind};
use crate::events::NodeEvent;
use crate::local_tree::{
    LocalSig, TEMP_PREFIX, local_path, no_link_on_the_way, remove_local, sig, tree_files,
    write_from_store,
};

/// How long a burst of file-system events is let settle before a pass.
pub(super) const SETTLE: Duration = Duration::from_millis(50);
/// Files one folder may hold for the mirror.
const MAX_FILES: usize = 1 << 20;

/// What one pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MirrorPass {
    /// Files put into the volume.
    pub uploaded: Vec<String>,
    /// Files written into the folder.
    pub downloaded: Vec<String>,
    /// Files removed from the volume.
    pub removed_remote: Vec<String>,
    /// Files removed from the folder.
    pub removed_local: Vec<String>,
    /// Paths changed on both sides: both versions kept.
    pub conflicts: Vec<String>,
}

impl MirrorPass {
    /// Whether the pass moved anything.
    pub fn is_empty(&self) -> bool {
        self.uploaded.is_empty()
            && self.downloaded.is_empty()
            && self.removed_remote.is_empty()
            && self.removed_local.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Base {
    local: LocalSig,
    remote: BlockRef,
    /// The file's time lay within [`crate::dirs::RACY_WINDOW_SECS`] of the pass that saw it: it may have
    /// changed again since, within one tick of the file system's clock, keeping its size and
    /// time. The next pass compares its content instead of trusting them.
    racy: bool,
}

/// Every file under `dir`, by `/`-separated path.
fn scan_local(dir: &Path) -> Result<BTreeMap<String, LocalSig>, Error> {
    let mut out = BTreeMap::new();
    let mut stack = vec![(dir.to_path_buf(), String::new(), 0usize)];
    while let Some((at, prefix, depth)) = stack.pop() {
        if depth > crate::dirs::MAX_DEPTH {
            return Err(crate::dirs::too_deep());
        }
        let entries = std::fs::read_dir(&at).map_err(|e| Error::file(&at, "list", &e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::file(&at, "list", &e))?;
            let Ok(name) = entry.file_name().into_string() else {
                warn!(path = %entry.path().display(), "not UTF-8: not synced");
                continue;
            };
            if name.starts_with(TEMP_PREFIX) {
                continue;
            }
            if gofast_core::fs::check_name(&name).is_err() {
                warn!(path = %entry.path().display(), "a name a volume cannot hold: not synced");
                continue;
            }
            let path = format!("{prefix}/{name}");
            // Not followed: a link's target is not ours to mirror.
            let meta = std::fs::symlink_metadata(entry.path())
                .map_err(|e| Error::file(&entry.path(), "read", &e))?;
            if meta.is_dir() {
                stack.push((entry.path(), path, depth + 1));
            } else if meta.is_file() {
                out.insert(
                    path,
                    LocalSig {
                        size: meta.len(),
                        mtime_ns: crate::dirs::mtime_of(&meta),
                    },
                );
                if out.len() > MAX_FILES {
                    return Err(Error::new(
                        ErrorKind::InvalidInput,
                        format!("{} holds more than {MAX_FILES} files", dir.display()),
                    ));
                }
            }
        }
    }
    Ok(out)
}

/// `path` with its last name replaced by its conflict name for `device`.
fn conflict_path(path: &str, device: &str, taken: impl Fn(&str) -> bool) -> String {
    let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
    let renamed = conflict_name(name, device, |n| taken(&format!("{parent}/{n}")));
    format!("{parent}/{renamed}")
}

/// Whether the local file `path` holds exactly the data of `target` (every block held).
fn same_content(store: &crate::store::BlockStore, target: &BlockRef, path: &Path) -> bool {
    /// Takes the volume's data and compares it with the file's as it comes.
    struct Compare(std::io::BufReader<std::fs::File>);
    impl std::io::Write for Compare {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            let mut mine = vec![0u8; data.len()];
            std::io::Read::read_exact(&mut self.0, &mut mine)?;
            if mine == data {
                Ok(data.len())
            } else {
                Err(std::io::Error::other("differs"))
            }
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    let mut compare = Compare(std::io::BufReader::new(file));
    // Equal data, and nothing more in the file.
    crate::node::read_tree_from_store(store, target, super::MAX_READ, &mut compare).is_ok()
        && std::io::Read::read(&mut compare.0, &mut [0u8; 1]).is_ok_and(|n| n == 0)
}

impl Volumes {
    /// Keeps the folder `dir` and volume `name` the same both ways until the returned future is
    /// dropped; `on_pass` hears of every pass that moved something. Errors of a pass are logged
    /// and the mirror goes on; an error before the first pass (no such volume or folder) ends it.
    pub async fn mirror(
        self: &Arc<Self>,
        name: &str,
        dir: &Path,
        mut on_pass: impl FnMut(&MirrorPass),
    ) -> Result<(), Error> {
        let meta = std::fs::metadata(dir).map_err(|e| Error::file(dir, "read", &e))?;
        if !meta.is_dir() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("{} is not a folder", dir.display()),
            ));
        }
        let dir = std::fs::canonicalize(dir).map_err(|e| Error::file(dir, "resolve", &e))?;
        self.info(name).await?;
        let (tx, mut rx) = mpsc::channel::<()>(1);
        let notify_tx = tx.clone();
        let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if res.is_ok() {
                // A full channel means a pass is due already.
                let _ = notify_tx.try_send(());
            }
        })
        .map_err(|e| Error::new(ErrorKind::Io, format!("watching {}: {e}", dir.display())))?;
        notify::Watcher::watch(&mut watcher, &dir, notify::RecursiveMode::Recursive)
            .map_err(|e| Error::new(ErrorKind::Io, format!("watching {}: {e}", dir.display())))?;
        let mut events = self.events.subscribe();
        let volume = name.to_owned();
        let mut base: BTreeMap<String, Base> = BTreeMap::new();
        info!(volume = name, dir = %dir.display(), "folder sync started");
        loop {
            match self.mirror_pass(name, &dir, &mut base).await {
                Ok(pass) if !pass.is_empty() => {
                    info!(
                        volume = name,
                        up = pass.uploaded.len(),
                        down = pass.downloaded.len(),
                        removed_here = pass.removed_local.len(),
                        removed_there = pass.removed_remote.len(),
                        conflicts = pass.conflicts.len(),
                        "folder synced"
                    );
                    self.events.send(NodeEvent::FolderSynced {
                        volume: volume.clone(),
                        uploaded: pass.uploaded.len(),
                        downloaded: pass.downloaded.len(),
                        removed: pass.removed_local.len() + pass.removed_remote.len(),
                    });
                    on_pass(&pass);
                }
                Ok(_) => {}
                Err(e) => warn!(volume = name, error = %e, "a folder sync pass failed"),
            }
            // The next trigger: a change in the folder or in this volume (other events wait on).
            loop {
                tokio::select! {
                    got = rx.recv() => {
                        if got.is_none() {
                            return Ok(());
                        }
                        break;
                    }
                    ev = events.recv() => match ev {
                        Ok(NodeEvent::VolumeChanged { volume: v, .. }) if v == volume => break,
                        Ok(_) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => break,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return Ok(()),
                    },
                }
            }
            // Let a burst settle (a file being written fires many events), then take them all.
            tokio::time::sleep(SETTLE).await;
            while rx.try_recv().is_ok() {}
        }
    }

    /// One pass: compare, then move what changed; `base` becomes what the two sides now agree on.
    async fn mirror_pass(
        &self,
        name: &str,
        dir: &Path,
        base: &mut BTreeMap<String, Base>,
    ) -> Result<MirrorPass, Error> {
        let v = self.volume(name)?;
        let mut state = v.lock().await;
        let keys = state.keys();
        let head = state.head.clone();
        let me = device_tag(&self.identity.peer_id());
        let (store, d, old_base) = (Arc::clone(&self.store), dir.to_path_buf(), base.clone());
        let kept_base = base.clone();
        // Decide and do the folder's side (downloads, removals here) off the async threads.
        let (pass, puts, remote, seen_local, mut failed, racy_from) =
            tokio::task::spawn_blocking(move || {
                // A file whose time is this recent may change again unseen (see `Base::racy`).
                let racy_from = racy_from_ns(now_ns());
                let local = scan_local(&d)?;
                // The folder as this pass saw it and left it: the base takes these, not a later look,
                // so that a file written while the pass runs is still new to the next one.
                let mut seen_local = local.clone();
                let wrote = |seen: &mut BTreeMap<String, LocalSig>, path: &str| match sig(&d, path)
                {
                    Some(s) => {
                        seen.insert(path.to_owned(), s);
                    }
                    None => {
                        seen.remove(path);
                    }
                };
                // The remote side, and whom to name a remote version set aside after: the device of
                // the snapshot it came with (the volume does not record a file's writer).
                let (remote, remote_tag) = match &head {
                    Some(h) => {
                        let snap = snapshots::load(&store, &keys, h)?;
                        (
                            tree_files(&store, &snap.root, None)?,
                            device_tag(&snap.device),
                        )
                    }
                    None => (BTreeMap::new(), me.clone()),
                };
                let mut pass = MirrorPass::default();
                // The files to put; what to remove from the volume is `pass.removed_remote`.
                let mut puts: Vec<(String, PathBuf, i64)> = Vec::new();
                let mut paths: Vec<&String> = local
                    .keys()
                    .chain(remote.keys())
                    .chain(old_base.keys())
                    .collect();
                paths.sort();
                paths.dedup();
                let taken = |p: &str| local.contains_key(p) || remote.contains_key(p);
                // A path whose move fails is skipped (and keeps its old base, so the next pass tries
                // the same move again): one unreadable file must not stop, or loop, the others.
                let mut failed = Vec::new();
                for path in paths {
                    macro_rules! skip {
                    ($e:expr) => {
                        if let Err(e) = $e {
                            warn!(path = %path, error = %e, "folder sync: skipped");
                            failed.push(path.clone());
                            continue;
                        }
                    };
                }
                    let (l, r, b) = (local.get(path), remote.get(path), old_base.get(path));
                    let l_changed = match (b, l) {
                        (Some(b), Some(l)) if b.local == *l => {
                            b.racy && !same_content(&store, &b.remote, &local_path(&d, path))
                        }
                        (b, l) => b.map(|b| b.local) != l.copied(),
                    };
                    let r_changed = b.map(|b| b.remote.id) != r.map(|r| r.target.id);
                    let put = |puts: &mut Vec<(String, PathBuf, i64)>,
                               pass: &mut MirrorPass,
                               sig: &LocalSig| {
                        puts.push((path.clone(), local_path(&d, path), sig.mtime_ns));
                        pass.uploaded.push(path.clone());
                    };
                    match (l, r) {
                        (Some(l), Some(r))
                            if b.is_none()
                                && l.size == r.size
                                && same_content(&store, &r.target, &local_path(&d, path)) =>
                        {
                            // Both sides have it, alike: nothing to move.
                        }
                        (Some(l), _) if l_changed && !r_changed => put(&mut puts, &mut pass, l),
                        (None, Some(_)) if l_changed && !r_changed => {
                            pass.removed_remote.push(path.clone());
                        }
                        (_, Some(r)) if r_changed && !l_changed => {
                            skip!(write_from_store(&store, &r.target, &d, path, r.mtime_ns));
                            wrote(&mut seen_local, path);
                            pass.downloaded.push(path.clone());
                        }
                        (Some(_), None) if r_changed && !l_changed => {
                            skip!(remove_local(&d, path));
                            seen_local.remove(path);
                            pass.removed_local.push(path.clone());
                        }
                        (Some(l), None) => put(&mut puts, &mut pass, l),
                        (None, Some(r)) => {
                            skip!(write_from_store(&store, &r.target, &d, path, r.mtime_ns));
                            wrote(&mut seen_local, path);
                            pass.downloaded.push(path.clone());
                        }
                        (Some(l), Some(r)) if l_changed && r_changed => {
                            // Changed on both sides: the newer keeps the name, the other is kept
                            // beside it under a conflict name (in the folder and, next, the volume).
                            let local_wins = l.mtime_ns > r.mtime_ns;
                            let aside_tag = if local_wins { &remote_tag } else { &me };
                            let aside = conflict_path(path, aside_tag, taken);
                            if local_wins {
                                skip!(write_from_store(&store, &r.target, &d, &aside, r.mtime_ns));
                                put(&mut puts, &mut pass, l);
                            } else {
                                skip!(no_link_on_the_way(&d, path));
                                skip!(
                                    std::fs::rename(local_path(&d, path), local_path(&d, &aside))
                                        .map_err(|e| Error::file(
                                            &local_path(&d, path),
                                            "rename",
                                            &e
                                        ))
                                );
                                skip!(write_from_store(&store, &r.target, &d, path, r.mtime_ns));
                                wrote(&mut seen_local, path);
                                pass.downloaded.push(path.clone());
                            }
                            pass.conflicts.push(path.clone());
                        }
                        _ => {}
                    }
                }
                Ok::<_, Error>((pass, puts, remote, seen_local, failed, racy_from))
            })
            .await
            .map_err(|e| Error::new(ErrorKind::Internal, format!("folder sync task: {e}")))??;
        let mut remote_now: BTreeMap<String, BlockRef> = remote
            .iter()
            .map(|(p, r)| (p.clone(), r.target.clone()))
            .collect();
        if !puts.is_empty() || !pass.removed_remote.is_empty() {
            let note = format!(
                "sync {} (+{} -{})",
                dir.display(),
                pass.uploaded.len(),
                pass.removed_remote.len()
            );
            let removed = pass.removed_remote.clone();
            let made = self
                .commit(
                    &mut state,
                    &note,
                    Box::new(move |store, out, root| apply(store, out, root, &puts, &removed)),
                )
                .await;
            let made = match made {
                Ok(made) => made,
                Err(e) => {
                    // The folder's side of the pass happened: the base keeps it; the volume's
                    // side is tried again by the next pass.
                    warn!(volume = name, error = %e, "folder sync: the volume's changes failed");
                    failed.extend(pass.uploaded.iter().chain(&pass.removed_remote).cloned());
                    None
                }
            };
            // What the volume holds now, for the base.
            if let Some(snap) = made {
                let store = Arc::clone(&self.store);
                let root = snap.root.clone();
                remote_now = tokio::task::spawn_blocking(move || tree_files(&store, &root, None))
                    .await
                    .map_err(|e| {
                        Error::new(ErrorKind::Internal, format!("folder sync task: {e}"))
                    })??
                    .into_iter()
                    .map(|(p, r)| (p, r.target))
                    .collect();
            }
        }
        drop(state);
        // The new base: every path both sides hold now.
        base.clear();
        for (path, remote) in remote_now {
            if let Some(&local) = seen_local.get(&path) {
                let racy = local.mtime_ns >= racy_from;
                base.insert(
                    path,
                    Base {
                        local,
                        remote,
                        racy,
                    },
                );
            }
        }
        for path in failed {
            match kept_base.get(&path) {
                Some(b) => base.insert(path, b.clone()),
                None => base.remove(&path),
            };
        }
        debug!(volume = name, files = base.len(), "folder sync pass done");
        Ok(pass)
    }
}

/// Applies a pass's puts and removals to the tree under `root`.
fn apply(
    store: &crate::store::BlockStore,
    out: &mut TreeWriter<'_>,
    root: &BlockRef,
    puts: &[(String, PathBuf, i64)],
    removed: &[String],
) -> Result<BlockRef, Error> {
    let mut root = root.clone();
    for (path, local, mtime_ns) in puts {
        let vp = VolPath::parse(path)?;
        let file = match std::fs::File::open(local) {
            Ok(f) => f,
            // Gone since the scan: the next pass sees it removed.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::file(local, "open", &e)),
        };
        let (target, size) = out.write_file(file, local, |_| {})?;
        if let Ok(old) = out.lookup(store, &root, &vp)
            && old.kind == EntryKind::Dir
        {
            // A folder in the volume where the file is here: the file waits for it to go.
            warn!(path = %vp, "a file where the volume has a folder: not synced");
            continue;
        }
        let name = vp.name();
        let entry = OwnedEntry {
            name,
            kind: EntryKind::File,
            size,
            mtime_ns: *mtime_ns,
            target,
        };
        root = out.replace(store, &root, &vp, Some(entry), now_ns())?;
    }
    for path in removed {
        let mut vp = VolPath::parse(path)?;
        match out.replace(store, &root, &vp, None, now_ns()) {
            Ok(r) => root = r,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        }
        // Folders the removal left empty go too (the mirror keeps files, not empty folders).
        while vp.0.len() > 1 {
            vp.0.pop();
            let dir = out.lookup(store, &root, &vp)?;
            if dir.kind != EntryKind::Dir || !out.listing(store, &dir.target)?.is_empty() {
                break;
            }
            root = out.replace(store, &root, &vp, None, now_ns())?;
        }
    }
    Ok(root)
}
