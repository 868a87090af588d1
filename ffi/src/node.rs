//! The `Node` object: a whole gofast peer, started from a data directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use gofast_node::error::ErrorKind;
use gofast_node::net::BootstrapPeer;
use gofast_node::node::{Node as Inner, NodeOptions, parse_uri};

use crate::config::{GcResult, NodeConfig, PeerInfo, Pin, Stats};
use crate::error::{GofastError, invalid};
use crate::events::{EventListener, Subscription};
use crate::runtime::{run, runtime};
use crate::transfer::{ProgressListener, Throttle, Transfer, TransferResult};

/// What `add_bytes` made.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct AddResult {
    /// The URI that reads the data (`gofast:gfb1…`): a capability, share it only with those who
    /// may read.
    pub uri: String,
    /// Data bytes.
    pub size: u64,
    /// Distinct blocks made.
    pub blocks: u64,
    /// Peers that stored the provider record (0 with no peers, or while suspended).
    pub announced_to: u32,
}

/// Starts a node: makes its keys on first use of `config.data_dir`, opens its store, listens, and
/// joins through the bootstrap peers.
#[uniffi::export]
pub async fn start_node(config: NodeConfig) -> Result<Arc<Node>, GofastError> {
    let mut options = options(&config)?;
    run(async move {
        match Inner::init(&options.data_dir) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e.into()),
        }
        if config.cache_quota.is_none() {
            // The directory exists now: the quota follows the disk it is on, as for `gofast up`
            // (the store's default stays if the free space cannot be read).
            if let Ok(q) = gofast_node::store::cache_quota_for(&options.data_dir) {
                options.store.cache_quota = q;
            }
        }
        let inner = Inner::start(options).await?;
        Ok(Arc::new(Node {
            inner: Mutex::new(Some(Arc::new(inner))),
        }))
    })
    .await
}

/// The node's options from the foreign config, every field checked.
fn options(config: &NodeConfig) -> Result<NodeOptions, GofastError> {
    if config.data_dir.is_empty() {
        return Err(invalid("data_dir is empty: give the node's folder"));
    }
    let dir = PathBuf::from(&config.data_dir);
    let mut o = NodeOptions::new(&dir);
    if let Some(listen) = &config.listen {
        o.net.listen = listen.parse::<SocketAddr>().map_err(|_| {
            invalid(format!(
                "listen `{listen}` is not an address like 127.0.0.1:0"
            ))
        })?;
    }
    o.net.bootstrap = config
        .bootstrap
        .iter()
        .map(|b| {
            b.parse::<BootstrapPeer>()
                .map_err(|e| invalid(e.to_string()))
        })
        .collect::<Result<_, _>>()?;
    o.low_power = config.low_power;
    if let Some(q) = config.cache_quota {
        o.store.cache_quota = q;
    }
    Ok(o)
}

/// A running gofast peer. Stop it with [`Node::stop`]; after that every call fails with
/// `Stopped`.
#[derive(Debug, uniffi::Object)]
pub struct Node {
    inner: Mutex<Option<Arc<Inner>>>,
}

impl Node {
    pub(crate) fn inner(&self) -> Result<Arc<Inner>, GofastError> {
        self.inner
            .lock()
            .map_err(|_| GofastError::Internal("the node's lock was poisoned".into()))?
            .clone()
            .ok_or_else(|| GofastError::Stopped("the node was stopped".into()))
    }
}

fn uri_root(uri: &str) -> Result<gofast_node::node::RootUri, GofastError> {
    parse_uri(uri).map_err(GofastError::from)
}

#[uniffi::export]
impl Node {
    /// The node's identity (`gfp1…`).
    pub fn peer_id(&self) -> Result<String, GofastError> {
        Ok(self.inner()?.peer_id().to_string())
    }

    /// The address it listens on (UDP and TCP, `IP:PORT`).
    pub fn listen_address(&self) -> Result<String, GofastError> {
        Ok(self.inner()?.local_addr().to_string())
    }

    /// This node as a bootstrap peer for others: `gfp1…@IP:PORT`.
    pub fn bootstrap_address(&self) -> Result<String, GofastError> {
        Ok(self.inner()?.net().bootstrap_peer().to_string())
    }

    /// Joins the network through `address` (`gfp1…@IP:PORT` or `IP:PORT`); returns how many
    /// peers the join found. `Network` if nobody answered there.
    pub async fn add_peer(&self, address: String) -> Result<u32, GofastError> {
        let inner = self.inner()?;
        let peer = address
            .parse::<BootstrapPeer>()
            .map_err(|e| invalid(e.to_string()))?;
        run(async move {
            let found = inner.net().add_peer(peer).await?;
            if found == 0 {
                return Err(GofastError::Network(format!(
                    "no gofast node answered at {}",
                    peer.addr
                )));
            }
            Ok(u32::try_from(found).unwrap_or(u32::MAX))
        })
        .await
    }

    /// Encrypts `data` into blocks, pins it under `label` and announces it.
    pub async fn add_bytes(&self, label: String, data: Vec<u8>) -> Result<AddResult, GofastError> {
        let inner = self.inner()?;
        run(async move {
            let r = inner.add_bytes(&label, data).await?;
            Ok(AddResult {
                uri: r.uri(),
                size: r.size,
                blocks: r.blocks,
                announced_to: u32::from(r.announced_to),
            })
        })
        .await
    }

    /// Adds the file or directory at `path` (pinned under its name, announced). Returns at once;
    /// the transfer reports progress (bytes read) to `listener`.
    pub fn add_file(
        &self,
        path: String,
        listener: Option<Arc<dyn ProgressListener>>,
    ) -> Result<Arc<Transfer>, GofastError> {
        let inner = self.inner()?;
        let total = std::fs::metadata(&path).ok().map(|m| m.len());
        let work = runtime()?.spawn(async move {
            let mut throttle = listener.map(Throttle::new);
            let r = inner
                .add_path(Path::new(&path), move |done| {
                    if let Some(t) = throttle.as_mut() {
                        t.report(done, total);
                    }
                })
                .await?;
            Ok(TransferResult {
                uri: r.uri(),
                size: r.size,
                blocks: r.blocks,
            })
        });
        Ok(Arc::new(Transfer::new(work)))
    }

    /// Fetches the data of `uri` (from the providers the DHT names, every block verified), pins it
    /// under `label` and returns it; `InvalidInput` if it is larger than `max_size`.
    pub async fn get_bytes(
        &self,
        uri: String,
        label: String,
        max_size: u64,
    ) -> Result<Vec<u8>, GofastError> {
        let inner = self.inner()?;
        let root = uri_root(&uri)?;
        if root.dir {
            return Err(invalid(
                "that URI names a directory: fetch it with get_to_file",
            ));
        }
        run(async move { Ok(inner.get_bytes(&root.root, &label, max_size).await?) }).await
    }

    /// Fetches `uri` into the file (or, for a directory URI, the new directory) `dest`, pinned
    /// under `dest`'s name. Returns at once; the transfer reports progress to `listener`. `dest`
    /// appears only when complete.
    pub fn get_to_file(
        &self,
        uri: String,
        dest: String,
        listener: Option<Arc<dyn ProgressListener>>,
    ) -> Result<Arc<Transfer>, GofastError> {
        let inner = self.inner()?;
        let root = uri_root(&uri)?;
        let dest = PathBuf::from(dest);
        let label = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| invalid(format!("{} is not a file name", dest.display())))?;
        let work = runtime()?.spawn(async move {
            let mut throttle = listener.map(Throttle::new);
            let report = if root.dir {
                inner
                    .get_dir(
                        &root.root,
                        &format!("{label}/"),
                        &dest,
                        move |done, total| {
                            if let Some(t) = throttle.as_mut() {
                                t.report(done, total);
                            }
                        },
                    )
                    .await?
            } else {
                inner
                    .get_to_file(&root.root, &label, &dest, move |p| {
                        if let Some(t) = throttle.as_mut() {
                            t.report(p.bytes, p.total_data);
                        }
                    })
                    .await?
            };
            Ok(TransferResult {
                uri,
                size: report.size,
                blocks: report.fetch.progress.received,
            })
        });
        Ok(Arc::new(Transfer::new(work)))
    }

    /// Pins the tree of `uri` (held already: fetch it first) under `label`; returns its blocks.
    /// `NotFound` if a block is missing.
    pub async fn pin(&self, label: String, uri: String) -> Result<u64, GofastError> {
        let inner = self.inner()?;
        let root = uri_root(&uri)?;
        run(async move {
            Ok(if root.dir {
                inner.pin_dir(&label, &root.root).await?
            } else {
                inner.pin(&label, &root.root).await?
            })
        })
        .await
    }

    /// Removes the pin `label` (its blocks become collectable). `NotFound` if there is none.
    pub async fn unpin(&self, label: String) -> Result<(), GofastError> {
        let inner = self.inner()?;
        run(async move {
            if inner.unpin(&label).await? {
                Ok(())
            } else {
                Err(GofastError::NotFound(format!("no pin is labelled {label}")))
            }
        })
        .await
    }

    /// The pins (the node's own internal ones left out).
    pub async fn pins(&self) -> Result<Vec<Pin>, GofastError> {
        let inner = self.inner()?;
        run(async move {
            Ok(inner
                .pins()
                .await?
                .into_iter()
                .filter(|p| !p.label.starts_with(gofast_node::node::INTERNAL_PIN))
                .map(|p| Pin {
                    uri: gofast_node::node::RootUri {
                        root: p.root,
                        dir: p.label.ends_with('/'),
                    }
                    .to_string(),
                    label: p.label,
                    blocks: p.blocks,
                })
                .collect())
        })
        .await
    }

    /// Collects garbage: blocks no pin holds become cache, the cache is trimmed to its quota and
    /// mostly empty arena files are compacted.
    pub async fn gc(&self) -> Result<GcResult, GofastError> {
        let inner = self.inner()?;
        run(async move {
            let r = inner.gc().await?;
            Ok(GcResult {
                demoted: r.demoted,
                evicted_blocks: r.evicted_blocks,
                evicted_bytes: r.evicted_bytes,
                reclaimed_bytes: r.reclaimed_bytes,
            })
        })
        .await
    }

    /// The peers in the routing table.
    pub async fn peers(&self) -> Result<Vec<PeerInfo>, GofastError> {
        let inner = self.inner()?;
        run(async move {
            Ok(inner
                .peers()
                .await?
                .into_iter()
                .map(|p| PeerInfo {
                    peer: p.peer.to_string(),
                    address: p.addr.to_string(),
                    connected: p.connected,
                })
                .collect())
        })
        .await
    }

    /// Counters of the network side and the store.
    pub async fn stats(&self) -> Result<Stats, GofastError> {
        let inner = self.inner()?;
        run(async move {
            let n = inner.net_stats().await?;
            let s = inner.store_stats().await?;
            Ok(Stats {
                datagrams_in: n.datagrams_in,
                datagrams_out: n.datagrams_out,
                bytes_in: n.bytes_in,
                bytes_out: n.bytes_out,
                sessions: n.sessions as u64,
                contacts: n.contacts as u64,
                permanent_blocks: s.permanent.blocks,
                permanent_bytes: s.permanent.bytes,
                cache_blocks: s.cache.blocks,
                cache_bytes: s.cache.bytes,
                pins: s.pins,
                suspended: inner.is_suspended(),
            })
        })
        .await
    }

    /// Sends the node's events to `listener` until the subscription is closed or dropped.
    pub fn subscribe(
        &self,
        listener: Arc<dyn EventListener>,
    ) -> Result<Arc<Subscription>, GofastError> {
        let inner = self.inner()?;
        Ok(Arc::new(Subscription::start(
            runtime()?,
            inner.subscribe(),
            listener,
        )))
    }

    /// The app goes to the background: no traffic, no timers, the block server closed; DHT
    /// operations fail with `Busy` until [`Node::resume`].
    pub async fn suspend(&self) -> Result<(), GofastError> {
        let inner = self.inner()?;
        run(async move { Ok(inner.suspend().await?) }).await
    }

    /// Back to the foreground.
    pub async fn resume(&self) -> Result<(), GofastError> {
        let inner = self.inner()?;
        run(async move { Ok(inner.resume().await?) }).await
    }

    /// Whether the node is suspended.
    pub fn is_suspended(&self) -> Result<bool, GofastError> {
        Ok(self.inner()?.is_suspended())
    }

    /// Stops the node: sessions closed, the store flushed. Transfers under way fail; every later
    /// call fails with `Stopped`. Stopping twice does nothing.
    pub async fn stop(&self) -> Result<(), GofastError> {
        let taken = self
            .inner
            .lock()
            .map_err(|_| GofastError::Internal("the node's lock was poisoned".into()))?
            .take();
        match taken {
            Some(inner) => run(async move { Ok(inner.shutdown().await?) }).await,
            None => Ok(()),
        }
    }
}
