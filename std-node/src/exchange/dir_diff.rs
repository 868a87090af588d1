//! Fetching what changed in a directory tree: the listings and files of a new tree that an older
//! one, held whole, does not share. A subtree (or file) whose root is the same in both is skipped
//! without a look; within a changed file, the blocks already held are not fetched again. This is
//! how a volume's device takes in another's snapshot and how a pushed tree reaches its receiver
//! with only its changed chunks travelling.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use gofast_core::block::BlockRef;
use gofast_core::fs::EntryKind;
use gofast_core::identity::{KeyPair, PeerId};

use super::{FetchReport, fetch_tree};
use crate::dirs::{MAX_DEPTH, read_listing, too_deep};
use crate::error::{Error, ErrorKind};
use crate::store::{BlockStore, Class};

/// What a changed-tree fetch did.
#[derive(Clone, Debug, Default)]
pub struct DirFetch {
    /// The roots of every listing and file it walked (not those of the skipped subtrees): a walk
    /// of each lists their blocks.
    pub roots: Vec<BlockRef>,
    /// Blocks that came from providers (the rest were held).
    pub received: u64,
    /// Of those, blocks rebuilt from deltas.
    pub rebuilt: u64,
}

/// Fetches the directory tree under `root` from `providers`, except the subtrees it shares with
/// `compare` (a directory tree held whole). With `deltas_from` (the peer that made both trees), a
/// changed listing or file is asked of it as deltas against its version in `compare`.
pub async fn fetch_dir_changes(
    identity: &Arc<KeyPair>,
    store: &Arc<BlockStore>,
    root: &BlockRef,
    compare: Option<BlockRef>,
    providers: &[(PeerId, SocketAddr)],
    deltas_from: Option<PeerId>,
) -> Result<DirFetch, Error> {
    let mut out = DirFetch::default();
    let fetch = |root: BlockRef, old: Option<BlockRef>| {
        let fetched = fetch_tree(
            Arc::clone(identity),
            Arc::clone(store),
            root.clone(),
            providers.to_vec(),
            Class::Permanent,
            None,
            crate::node::MAX_GET_SIZE,
            old.zip(deltas_from),
            Box::new(|_| {}),
        );
        async move { Ok::<_, Error>((fetched.await?, root)) }
    };
    // Changed files are fetched several at once: each is a connection of its own, and most of a
    // small file's time is the connection's set-up.
    let mut files = tokio::task::JoinSet::new();
    let take = |out: &mut DirFetch, (report, root): (FetchReport, BlockRef)| {
        out.received += report.progress.received;
        out.rebuilt += report.progress.rebuilt;
        out.roots.push(root);
    };
    // Entries walked, bounded like every directory tree (a peer's tree may be anything).
    let mut entries = 0u64;
    let mut stack = vec![(root.clone(), compare, 0usize)];
    while let Some((dir, old, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        take(&mut out, fetch(dir.clone(), old.clone()).await?);
        let store = Arc::clone(store);
        let (new, old) = tokio::task::spawn_blocking(move || {
            let new = read_listing(&store, &dir)?;
            let old = old.map(|o| read_listing(&store, &o)).transpose()?;
            Ok::<_, Error>((new, old.unwrap_or_default()))
        })
        .await
        .map_err(|e| Error::new(ErrorKind::Internal, format!("reading listings: {e}")))??;
        crate::dirs::count_entries(&mut entries, new.len())?;
        let old: HashMap<&str, _> = old.iter().map(|e| (e.name.as_str(), e)).collect();
        for e in new {
            let before = old.get(e.name.as_str());
            if before.is_some_and(|b| b.target.id == e.target.id) {
                continue;
            }
            match e.kind {
                EntryKind::File => {
                    let old = before
                        .filter(|b| b.kind == EntryKind::File)
                        .map(|b| b.target.clone());
                    if files.len() >= FILES_AT_ONCE
                        && let Some(done) = files.join_next().await
                    {
                        take(&mut out, joined(done)?);
                    }
                    files.spawn(fetch(e.target, old));
                }
                EntryKind::Dir => stack.push((
                    e.target,
                    before
                        .filter(|b| b.kind == EntryKind::Dir)
                        .map(|b| b.target.clone()),
                    depth + 1,
                )),
            }
        }
    }
    while let Some(done) = files.join_next().await {
        take(&mut out, joined(done)?);
    }
    Ok(out)
}

/// Changed files fetched at once.
const FILES_AT_ONCE: usize = 8;

fn joined(
    done: Result<Result<(FetchReport, BlockRef), Error>, tokio::task::JoinError>,
) -> Result<(FetchReport, BlockRef), Error> {
    done.map_err(|e| Error::new(ErrorKind::Internal, format!("a file's fetch: {e}")))?
}
