//! Folders to and from peers (`gofast push`/`pull`) on `Node`. Translation only: each call is one
//! call on `gofast_node`.

use std::path::PathBuf;

use crate::error::{GofastError, invalid};
use crate::node::Node;
use crate::runtime::run;

/// What a push did, on both sides.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct PushSummary {
    /// Files in the pushed folder.
    pub files: u64,
    /// Of those, files read (changed since the last push of that name).
    pub read: u64,
    /// Data bytes in the folder.
    pub size: u64,
    /// Files the receiver wrote.
    pub written: u32,
    /// Files the receiver removed (gone from the folder).
    pub removed: u32,
    /// Files the receiver kept although gone from the folder (changed there).
    pub kept: u32,
    /// Blocks the receiver fetched.
    pub blocks_fetched: u64,
}

/// What a pull did.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct PullSummary {
    /// Files written.
    pub written: u32,
    /// Files already as the tree has them.
    pub unchanged: u32,
    /// Files removed (gone from the tree).
    pub removed: u32,
    /// Blocks fetched.
    pub blocks_fetched: u64,
}

#[uniffi::export]
impl Node {
    /// Pushes the folder `dir` to `peer` (`gfp1…@IP:PORT`, or `gfp1…` to find it in the DHT) as
    /// `name`: only the files changed since the last push of `name` are read, only the chunks the
    /// peer lacks travel. The peer must allow this node first (`allow_pushes`).
    pub async fn push_folder(
        &self,
        dir: String,
        peer: String,
        name: String,
    ) -> Result<PushSummary, GofastError> {
        let inner = self.inner()?;
        run(async move {
            let (to, _) = gofast_node::tree_control::reach(&inner, &peer).await?;
            let r = inner
                .push_tree(&PathBuf::from(dir), to, &name, false, |_| {})
                .await?;
            Ok(PushSummary {
                files: r.files,
                read: r.read,
                size: r.size,
                written: r.answer.written,
                removed: r.answer.removed,
                kept: r.answer.kept,
                blocks_fetched: r.answer.received,
            })
        })
        .await
    }

    /// Makes the folder `dir` hold the directory tree `uri` (`gofast:gfb1…/`), fetching only what
    /// changed since the last pull into it, from the DHT's providers.
    pub async fn pull_folder(&self, uri: String, dir: String) -> Result<PullSummary, GofastError> {
        let inner = self.inner()?;
        let parsed = gofast_node::node::parse_uri(&uri).map_err(|e| invalid(e.message()))?;
        run(async move {
            let r = inner.pull_tree(&parsed, &PathBuf::from(dir), None).await?;
            Ok(PullSummary {
                written: r.applied.written,
                unchanged: r.applied.unchanged,
                removed: r.applied.removed,
                blocks_fetched: r.received,
            })
        })
        .await
    }

    /// Lets `peer` (`gfp1…`) push folders into `dir` (each push into `dir/<name>`).
    pub async fn allow_pushes(&self, peer: String, dir: String) -> Result<(), GofastError> {
        let inner = self.inner()?;
        let id: gofast_core::identity::PeerId = peer
            .parse()
            .map_err(|e| invalid(format!("peer {peer:?}: {e}")))?;
        run(async move {
            Ok(inner
                .tree_pushes()
                .allow(id, &PathBuf::from(dir))
                .map(|_| ())?)
        })
        .await
    }
}
