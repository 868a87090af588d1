//! The control socket's tree requests (`gofast push`, `gofast pull`, `gofast push-allow`),
//! translated to [`crate::node::Node`] and [`crate::tree_push::TreePushes`] and their answers to
//! JSON. Nothing here decides anything.

use std::net::SocketAddr;
use std::path::PathBuf;

use gofast_core::identity::PeerId;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{Error, ErrorKind};
use crate::net::BootstrapPeer;
use crate::node::{Node, parse_uri};

/// A tree request. (`Pull` carries a URI, a read capability: `Debug` leaves it out.)
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TreeRequest {
    /// Push a folder to a peer.
    Push {
        /// The folder (absolute).
        dir: PathBuf,
        /// `gfp1…` or `gfp1…@IP:PORT`.
        peer: String,
        /// The name it lands under at the receiver.
        name: String,
        /// Read every file, not only those whose size or time changed.
        checksum: bool,
    },
    /// Make a folder hold a directory tree.
    Pull {
        /// `gofast:gfb1…/`.
        uri: String,
        /// The folder (absolute).
        dir: PathBuf,
        /// `gfp1…@IP:PORT` to fetch from instead of the DHT's providers.
        from: Option<String>,
    },
    /// Let a peer push into a folder.
    Allow {
        /// `gfp1…`.
        peer: String,
        /// The folder (absolute).
        dir: PathBuf,
    },
    /// Stop taking a peer's pushes.
    Disallow {
        /// `gfp1…`.
        peer: String,
    },
    /// The peers that may push here.
    Allowed,
}

impl std::fmt::Debug for TreeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TreeRequest::Push {
                dir, peer, name, ..
            } => f
                .debug_struct("Push")
                .field("dir", dir)
                .field("peer", peer)
                .field("name", name)
                .finish_non_exhaustive(),
            TreeRequest::Pull { dir, .. } => f
                .debug_struct("Pull")
                .field("dir", dir)
                .finish_non_exhaustive(),
            TreeRequest::Allow { peer, dir } => f
                .debug_struct("Allow")
                .field("peer", peer)
                .field("dir", dir)
                .finish(),
            TreeRequest::Disallow { peer } => {
                f.debug_struct("Disallow").field("peer", peer).finish()
            }
            TreeRequest::Allowed => f.write_str("Allowed"),
        }
    }
}

fn peer_id(text: &str) -> Result<PeerId, Error> {
    text.parse().map_err(|e| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("{text:?} is not a peer id ({e}); they start with gfp1"),
        )
    })
}

/// The peer `text` names, reached: `gfp1…@IP:PORT` (contacted now) or `gfp1…` (found in the DHT
/// unless a session is open).
pub async fn reach(node: &Node, text: &str) -> Result<(PeerId, SocketAddr), Error> {
    let net = node.net();
    if text.contains('@') {
        let peer: BootstrapPeer = text
            .parse()
            .map_err(|e| Error::new(ErrorKind::InvalidInput, format!("{text:?}: {e}")))?;
        let id = peer.peer.ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidInput,
                "give the peer's id too: gfp1…@IP:PORT",
            )
        })?;
        let addr = peer.addr;
        net.add_peer(peer).await?;
        return Ok((id, addr));
    }
    let id = peer_id(text)?;
    if let Some(addr) = net.known_addr(id).await? {
        return Ok((id, addr));
    }
    let addr = net.find_peer(id).await?.ok_or_else(|| {
        Error::new(
            ErrorKind::NotFound,
            format!("peer {id} was not found in the DHT: give its address too, as {id}@IP:PORT"),
        )
    })?;
    net.add_peer(BootstrapPeer {
        peer: Some(id),
        addr,
    })
    .await?;
    Ok((id, addr))
}

/// Serves one tree request; `progress` gets the bytes read so far (a push's add).
pub async fn handle(
    node: &Node,
    request: TreeRequest,
    progress: impl FnMut(u64) + Send + 'static,
) -> Result<Value, Error> {
    match request {
        TreeRequest::Push {
            dir,
            peer,
            name,
            checksum,
        } => {
            let (to, _) = reach(node, &peer).await?;
            let r = node.push_tree(&dir, to, &name, checksum, progress).await?;
            Ok(json!({
                "root": crate::node::short_id(&r.root.id),
                "size": r.size,
                "files": r.files,
                "read": r.read,
                "skipped": r.skipped.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
                "written": r.answer.written,
                "removed": r.answer.removed,
                "kept": r.answer.kept,
                "blocks_fetched": r.answer.received,
            }))
        }
        TreeRequest::Pull { uri, dir, from } => {
            let uri = parse_uri(&uri)?;
            let from = match from {
                Some(text) => Some(reach(node, &text).await?),
                None => None,
            };
            let r = node.pull_tree(&uri, &dir, from).await?;
            Ok(json!({
                "written": r.applied.written,
                "bytes_written": r.applied.bytes_written,
                "unchanged": r.applied.unchanged,
                "removed": r.applied.removed,
                "kept": r.applied.kept,
                "blocks_fetched": r.received,
            }))
        }
        TreeRequest::Allow { peer, dir } => {
            let id = peer_id(&peer)?;
            let dir = node.tree_pushes().allow(id, &dir)?;
            Ok(json!({ "peer": id.to_string(), "dir": dir.display().to_string() }))
        }
        TreeRequest::Disallow { peer } => {
            let id = peer_id(&peer)?;
            if node.tree_pushes().disallow(&id)? {
                Ok(json!({ "peer": id.to_string() }))
            } else {
                Err(Error::new(
                    ErrorKind::NotFound,
                    format!("{id} may not push here anyway"),
                ))
            }
        }
        TreeRequest::Allowed => Ok(Value::Array(
            node.tree_pushes()
                .allowed()
                .into_iter()
                .map(|(p, d)| json!({ "peer": p.to_string(), "dir": d.display().to_string() }))
                .collect(),
        )),
    }
}
