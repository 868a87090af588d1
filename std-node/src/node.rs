//! A whole gofast peer: its keys, its block store, its UDP side (sessions and the DHT) and its TCP
//! side (block exchange), and what a person does with them: add, get, pin, look around.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gofast_core::block::{BlockId, BlockRef, read_tree};
use gofast_core::dht::Provider;
use gofast_core::fs::EntryKind;
use gofast_core::identity::{KeyPair, PeerId};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tracing::{debug, info};

use crate::dirs::{MAX_DEPTH, add_dir, count_entries, read_listing, system_time, too_deep};
use crate::encode::{Encoded, encode_into_store};
use crate::error::{Error, ErrorKind};
use crate::events::NodeEvent;
use crate::exchange::{
    Connections, FetchProgress, FetchReport, FileOutput, fetch_tree_over, serve,
};
use crate::keys::NodeKeys;
use crate::net::{NetStats, NodeConfig, NodeHandle, PeerInfo, spawn};
use crate::store::{BlockStore, Class, PinInfo, PinReport, StoreConfig, StoreStats};
pub(crate) use crate::tree_ids::Leaves;
use crate::tree_ids::{DirTreeIds, TreeIds};
use gofast_core::fs::MAX_LISTING_LEN;

/// How long a provider record announces a root (the DHT's default record lifetime).
pub const PROVIDER_TTL_SECS: u64 = 24 * 3600;
/// Largest file `get` writes (the tree's declared size is checked before any data is written).
pub const MAX_GET_SIZE: u64 = 1 << 40;
/// Attempts to find a port free for both UDP and TCP when the OS picks it.
const PORT_ATTEMPTS: usize = 16;

/// Where a node keeps its state and how it is set up.
#[derive(Clone, Debug)]
pub struct NodeOptions {
    /// The node's directory: keys, block store.
    pub data_dir: PathBuf,
    /// Network settings (listen address: UDP and TCP on the same port).
    pub net: NodeConfig,
    /// Block store settings.
    pub store: StoreConfig,
    /// How long this node's provider records last. Every pinned root is announced again each half
    /// of it, so a running node stays findable. Default [`PROVIDER_TTL_SECS`].
    pub provider_ttl: std::time::Duration,
    /// The low-power profile (phones on battery): DHT client mode (see
    /// [`NodeConfig::client_mode`]), no background dialling (pins are announced when added or
    /// fetched but not again on a timer; buckets are refreshed only by the node's own lookups).
    pub low_power: bool,
}

impl NodeOptions {
    /// Options for `data_dir` with every default.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        NodeOptions {
            data_dir: data_dir.into(),
            net: NodeConfig::default(),
            store: StoreConfig::default(),
            provider_ttl: std::time::Duration::from_secs(PROVIDER_TTL_SECS),
            low_power: false,
        }
    }
}

/// What `add` made.
#[derive(Clone, Debug)]
pub struct AddReport {
    /// The root: with its key, the capability to read the data.
    pub root: BlockRef,
    /// Data bytes.
    pub size: u64,
    /// Distinct blocks.
    pub blocks: u64,
    /// Peers that stored the provider record.
    pub announced_to: u8,
    /// Whether the root is a directory's (its URI ends with `/`).
    pub dir: bool,
    /// Files added (1 for a file).
    pub files: u64,
    /// What a directory add left out: symbolic links and special files.
    pub skipped: Vec<PathBuf>,
}

impl AddReport {
    /// The URI that names what was added: `gofast:gfb1…`, with a `/` for a directory.
    pub fn uri(&self) -> String {
        RootUri {
            root: self.root.clone(),
            dir: self.dir,
        }
        .to_string()
    }
}

/// What `get` did.
#[derive(Clone, Debug)]
pub struct GetReport {
    /// Data bytes written.
    pub size: u64,
    /// The fetch (empty when every block was held already). Its `ids` went to the pin: empty.
    pub fetch: FetchReport,
    /// Providers the DHT named.
    pub providers: usize,
}

/// A running node.
pub struct Node {
    keys: Arc<NodeKeys>,
    identity: Arc<KeyPair>,
    store: Arc<BlockStore>,
    net: NodeHandle,
    /// Taken by [`Node::shutdown`].
    serve: std::sync::Mutex<Option<JoinHandle<()>>>,
    /// Aborts the serving task (kept apart: it outlives the join handle taken at shutdown).
    serve_abort: tokio::task::AbortHandle,
    /// `true` while suspended: the block-exchange server cuts its connections and waits.
    serving_paused: tokio::sync::watch::Sender<bool>,
    /// Not running in the low-power profile.
    reannounce: Option<JoinHandle<()>>,
    provider_ttl_secs: u64,
    /// Rounds of re-announcing the pins that have finished.
    reannounced: tokio::sync::watch::Receiver<u64>,
    volumes: Arc<crate::volume::Volumes>,
    tree_pushes: Arc<crate::tree_push::TreePushes>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("peer", &self.net.peer_id())
            .field("addr", &self.net.local_addr())
            .finish_non_exhaustive()
    }
}

impl Node {
    /// Creates a node's keys in `data_dir` (which may exist but must not hold keys yet).
    pub fn init(data_dir: &Path) -> Result<PeerId, Error> {
        let keys = NodeKeys::create(data_dir)?;
        Ok(keys.identity().peer_id())
    }

    /// Starts the node of `options.data_dir` (made with [`Node::init`]) on the current tokio
    /// runtime: opens its store, listens on UDP and TCP, and joins through the bootstrap peers.
    pub async fn start(options: NodeOptions) -> Result<Node, Error> {
        let keys = Arc::new(NodeKeys::load(&options.data_dir)?);
        let identity = Arc::new(keys.identity());
        let store_dir = options.data_dir.join("store");
        let storage_key = keys.storage_key();
        let store_config = options.store.clone();
        let store = blocking("store", move || {
            BlockStore::open(&store_dir, &storage_key, store_config)
        })
        .await?;
        let store = Arc::new(store);
        // A cat's pin outlives it only if the node stopped while it was read.
        let leftover = Arc::clone(&store);
        blocking("pin", move || {
            for p in leftover.pins()? {
                if p.label.starts_with(CAT_PIN) {
                    leftover.unpin(&p.label)?;
                }
            }
            Ok::<_, crate::store::StoreError>(())
        })
        .await?;
        let mut net_config = options.net.clone();
        if options.low_power {
            net_config.client_mode = true;
            // Buckets are refreshed by the node's own lookups only.
            net_config.dht.refresh_interval = gofast_core::time::Duration::from_secs(u64::MAX);
        }
        // Blocks devices push (stream entries) go to the store through this queue.
        let pushed = if net_config.accept_pushes_from.is_empty() {
            None
        } else {
            let (tx, rx) = tokio::sync::mpsc::channel(crate::net::PUSH_QUEUE);
            net_config.push_sink = Some(tx);
            Some(rx)
        };
        // Records other devices push (volume heads and device lists) go to the volumes.
        let (record_tx, record_rx) = tokio::sync::mpsc::channel(crate::net::PUSHED_RECORD_QUEUE);
        net_config.record_sink = Some(record_tx);
        let (net, listener) = bind_both(&keys, &net_config).await?;
        let volumes = Arc::new(crate::volume::Volumes::new(
            options.data_dir.clone(),
            Arc::clone(&store),
            net.clone(),
            Arc::clone(&identity),
            net.events().clone(),
        ));
        let tree_pushes = Arc::new(crate::tree_push::TreePushes::new(
            options.data_dir.clone(),
            Arc::clone(&store),
            net.clone(),
            Arc::clone(&identity),
        )?);
        tokio::spawn(route_pushed_records(
            Arc::clone(&volumes),
            Arc::clone(&tree_pushes),
            record_rx,
        ));
        if !options.low_power {
            tokio::spawn(crate::volume::resync(Arc::downgrade(&volumes)));
        }
        if let Some(rx) = pushed {
            tokio::spawn(crate::streams::keep_pushed(
                rx,
                Arc::clone(&store),
                net.clone(),
                net.events().clone(),
            ));
        }
        let source: Arc<dyn crate::exchange::BlockSource> =
            Arc::new(crate::tree_push::NodeBlocks {
                store: Arc::clone(&store),
                made_by: gofast_core::block::ConvergenceKey::derive(&keys.scope()),
                pushes: Arc::downgrade(&tree_pushes),
            });
        let (serving_paused, paused) = tokio::sync::watch::channel(false);
        let serve = tokio::spawn(serve(listener, Arc::clone(&identity), source, paused));
        let provider_ttl_secs = options.provider_ttl.as_secs().max(1);
        let (rounds, reannounced) = tokio::sync::watch::channel(0);
        let reannounce = (!options.low_power).then(|| {
            tokio::spawn(reannounce_pins(
                net.clone(),
                Arc::clone(&identity),
                Arc::clone(&store),
                provider_ttl_secs,
                rounds,
            ))
        });
        info!(peer = %net.peer_id(), addr = %net.local_addr(), "node started");
        Ok(Node {
            keys,
            identity,
            store,
            net,
            serve_abort: serve.abort_handle(),
            serve: std::sync::Mutex::new(Some(serve)),
            serving_paused,
            reannounce,
            provider_ttl_secs,
            reannounced,
            volumes,
            tree_pushes,
        })
    }

    /// Rounds of announcing every pinned root again that have finished since the node started
    /// (watch it to wait for the next one).
    pub fn reannounce_rounds(&self) -> tokio::sync::watch::Receiver<u64> {
        self.reannounced.clone()
    }

    /// The newest `limit` readings of `publisher`'s stream `name` (a sensor's), oldest first: the
    /// head record from the DHT, the entries from this node's store (where the device pushed them),
    /// every signature, sequence number and link checked.
    pub async fn read_stream(
        &self,
        publisher: PeerId,
        name: &str,
        limit: usize,
    ) -> Result<crate::streams::StreamRead, Error> {
        crate::streams::read(&self.net, &self.store, publisher, name, limit).await
    }

    /// The node's volumes: the mutable file system its devices share.
    pub fn volumes(&self) -> &Arc<crate::volume::Volumes> {
        &self.volumes
    }

    /// The node's tree pushes: who may push here, and pushes under way.
    pub fn tree_pushes(&self) -> &Arc<crate::tree_push::TreePushes> {
        &self.tree_pushes
    }

    /// Pushes the folder `dir` to `to` as `name` (`gofast push`): adds it, reading only the files
    /// changed since the last push of `name` (all of them with `checksum`), pins it, offers it,
    /// and waits until the receiver has written it. `progress` gets the file bytes read so far.
    pub async fn push_tree(
        &self,
        dir: &Path,
        to: PeerId,
        name: &str,
        checksum: bool,
        progress: impl FnMut(u64) + Send + 'static,
    ) -> Result<PushReport, Error> {
        crate::tree_push::check_push_name(name)?;
        if to == self.peer_id() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "that is this node's own id: push to another peer",
            ));
        }
        let meta = std::fs::metadata(dir).map_err(|e| Error::file(dir, "read", &e))?;
        if !meta.is_dir() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("{} is not a folder: push a folder", dir.display()),
            ));
        }
        let label = crate::tree_push::sent_label(name);
        // The previous push of this name, and when it was made (for the quick check's racy window).
        let previous = if checksum {
            None
        } else {
            let (store, l) = (Arc::clone(&self.store), label.clone());
            blocking("pin", move || Ok::<_, Error>(store.pin_of(&l)?)).await?
        };
        let (store, scope, d) = (
            Arc::clone(&self.store),
            self.keys.scope(),
            dir.to_path_buf(),
        );
        let t = std::time::Instant::now();
        let added = blocking("push", move || {
            let earlier = previous.as_ref().map(|p| crate::dirs::EarlierAdd {
                root: &p.root,
                made_at: p.pinned_at,
            });
            let added = crate::dirs::add_dir_since(&store, &scope, &d, earlier, progress)?;
            let added_in = t.elapsed();
            // Pinned before it is offered: the receiver fetches from this pin.
            let root = added.encoded.root.clone();
            // Held: just added, or (files taken unread) held under the previous push's pin.
            pin_dir_tree(&store, &label, &root, Leaves::Trust)?;
            debug!(
                add_ms = added_in.as_millis(),
                pin_ms = (t.elapsed() - added_in).as_millis(),
                "push: tree added and pinned"
            );
            Ok::<_, Error>(added)
        })
        .await?;
        let offered = t.elapsed();
        let answer = self
            .tree_pushes
            .offer(to, name, &added.encoded.root)
            .await?;
        debug!(
            answered_ms = (t.elapsed() - offered).as_millis(),
            "push: the receiver answered"
        );
        Ok(PushReport {
            root: added.encoded.root,
            size: added.encoded.size,
            files: added.files,
            read: added.files - added.reused,
            skipped: added.skipped,
            answer,
        })
    }

    /// Makes the folder `dest` hold the directory tree `uri` names (`gofast pull`): fetches only
    /// what the tree last pulled into `dest` lacks, from `from` if given or else from the
    /// providers the DHT names, and writes only the files that differ. A file's URI is refused.
    pub async fn pull_tree(
        &self,
        uri: &RootUri,
        dest: &Path,
        from: Option<(PeerId, SocketAddr)>,
    ) -> Result<PullReport, Error> {
        if !uri.dir {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "that URI is a file's: pull takes a directory's (it ends with /); use `gofast get` for a file",
            ));
        }
        let root = &uri.root;
        let dest = absolute_dest(dest)?;
        let providers = match from {
            Some(p) => vec![p],
            None => self.providers_of(root).await?.0,
        };
        let label = crate::tree_push::pulled_label(&dest);
        // Refused before anything is fetched or written, not at the pin after.
        if label.len() > crate::store::MAX_LABEL_LEN {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("{}: the path is too long to pull into", dest.display()),
            ));
        }
        let (applied, received) = self
            .tree_pushes
            .write_tree(root, &label, &dest, &providers, None)
            .await?;
        Ok(PullReport { applied, received })
    }

    /// A new subscriber to the node's events (from now on; see [`NodeEvent`]).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<NodeEvent> {
        self.net.events().subscribe()
    }

    /// Suspends the node (a phone app going to the background): the network side reads, sends
    /// and times nothing (see [`NodeHandle::suspend`]) and the block-exchange server cuts its
    /// connections and accepts none. Fetches under way lose their providers and fail or wait;
    /// DHT operations asked for fail with [`ErrorKind::Busy`] until [`Node::resume`].
    pub async fn suspend(&self) -> Result<(), Error> {
        self.serving_paused.send_replace(true);
        Ok(self.net.suspend().await?)
    }

    /// Ends a suspend: traffic and timers again.
    pub async fn resume(&self) -> Result<(), Error> {
        self.net.resume().await?;
        self.serving_paused.send_replace(false);
        Ok(())
    }

    /// Whether the node is suspended.
    pub fn is_suspended(&self) -> bool {
        *self.serving_paused.borrow()
    }

    /// The node's identity.
    pub fn peer_id(&self) -> PeerId {
        self.net.peer_id()
    }

    /// The address it listens on (UDP for sessions and the DHT, TCP for block exchange).
    pub fn local_addr(&self) -> SocketAddr {
        self.net.local_addr()
    }

    /// The network side's handle (DHT queries, peers).
    pub fn net(&self) -> &NodeHandle {
        &self.net
    }

    /// The block store.
    pub fn store(&self) -> &Arc<BlockStore> {
        &self.store
    }

    /// A handle that stops this node serving blocks at once, every connection cut mid-transfer:
    /// what a provider that crashes looks like to the peers fetching from it.
    pub fn serving_abort_handle(&self) -> tokio::task::AbortHandle {
        self.serve_abort.clone()
    }

    /// Adds `path`, a file ([`Node::add_file`]) or a directory ([`Node::add_dir`]).
    pub async fn add_path(
        &self,
        path: &Path,
        progress: impl FnMut(u64) + Send + 'static,
    ) -> Result<AddReport, Error> {
        let meta = std::fs::metadata(path).map_err(|e| Error::file(path, "read", &e))?;
        if meta.is_dir() {
            self.add_dir(path, progress).await
        } else {
            self.add_file(path, progress).await
        }
    }

    /// Adds the directory at `path` and everything beneath it (symbolic links and special files
    /// are left out and listed in the report), pins the whole tree under the directory's name
    /// with a `/` and announces its root. `progress` gets the file bytes read so far.
    pub async fn add_dir(
        &self,
        path: &Path,
        progress: impl FnMut(u64) + Send + 'static,
    ) -> Result<AddReport, Error> {
        let label = format!("{}/", label_of(path, "dir"));
        let (store, scope, dir) = (
            Arc::clone(&self.store),
            self.keys.scope(),
            path.to_path_buf(),
        );
        let added = blocking("add", move || add_dir(&store, &scope, &dir, progress)).await?;
        let mut report = self.finish_add(&label, added.encoded, true).await?;
        report.dir = true;
        report.files = added.files;
        report.skipped = added.skipped;
        Ok(report)
    }

    /// Encrypts the file at `path` into blocks, stores them permanently, pins the tree under the
    /// file's name and announces the root in the DHT. `progress` gets the bytes read so far.
    pub async fn add_file(
        &self,
        path: &Path,
        progress: impl FnMut(u64) + Send + 'static,
    ) -> Result<AddReport, Error> {
        let meta = std::fs::metadata(path).map_err(|e| Error::file(path, "read", &e))?;
        if meta.is_dir() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("{} is a directory: add it with `add_dir`", path.display()),
            ));
        }
        let file = std::fs::File::open(path).map_err(|e| Error::file(path, "open", &e))?;
        let label = label_of(path, "file");
        let (store, scope) = (Arc::clone(&self.store), self.keys.scope());
        let path_buf = path.to_path_buf();
        let t = std::time::Instant::now();
        let encoded = blocking("add", move || {
            encode_into_store(&store, &scope, file, &path_buf, progress)
        })
        .await?;
        let encoded_in = t.elapsed();
        let report = self.finish_add(&label, encoded, false).await;
        debug!(
            encode_ms = encoded_in.as_millis(),
            pin_and_announce_ms = (t.elapsed() - encoded_in).as_millis(),
            "add finished"
        );
        report
    }

    /// Like [`Node::add_file`] for bytes in memory, pinned under `label`.
    pub async fn add_bytes(&self, label: &str, data: Vec<u8>) -> Result<AddReport, Error> {
        let (store, scope) = (Arc::clone(&self.store), self.keys.scope());
        let encoded = blocking("add", move || {
            encode_into_store(&store, &scope, &data[..], Path::new("<bytes>"), |_| {})
        })
        .await?;
        self.finish_add(label, encoded, false).await
    }

    /// Pins what an add wrote (a directory's tree if `dir`) and announces it.
    async fn finish_add(
        &self,
        label: &str,
        encoded: Encoded,
        dir: bool,
    ) -> Result<AddReport, Error> {
        let Encoded { root, size } = encoded;
        let (store, label_owned, root_c) =
            (Arc::clone(&self.store), label.to_owned(), root.clone());
        // Just written: the walk trusts the leaves.
        let blocks = blocking("pin", move || {
            let pinned = if dir {
                pin_dir_tree(&store, &label_owned, &root_c, Leaves::Trust)
            } else {
                pin_tree(&store, &label_owned, &root_c, Leaves::Trust)
            };
            pinned.map(|p| p.blocks)
        })
        .await?;
        // A suspended node sends nothing: the root is announced by the next round after resume
        // (or, in the low-power profile, when it is added or fetched again).
        let announced_to = if self.is_suspended() {
            0
        } else {
            self.announce(&root.id).await?
        };
        self.net.events().send(NodeEvent::Added {
            root: root.id,
            size,
        });
        Ok(AddReport {
            root,
            size,
            blocks,
            announced_to,
            dir: false,
            files: 1,
            skipped: Vec::new(),
        })
    }

    /// Announces in the DHT that this node provides the tree under `root`; returns how many peers
    /// stored the record.
    pub async fn announce(&self, root: &BlockId) -> Result<u8, Error> {
        announce(&self.net, &self.identity, root, self.provider_ttl_secs).await
    }

    /// Fetches the tree under `root` into the store (blocks this node lacks come from the
    /// providers the DHT names, several at once), pins it under `label`, and writes its data to
    /// `dest` (through a temporary file renamed at the end, so `dest` is never half-written).
    pub async fn get_to_file(
        &self,
        root: &BlockRef,
        label: &str,
        dest: &Path,
        progress: impl FnMut(FetchProgress) + Send + 'static,
    ) -> Result<GetReport, Error> {
        let t = std::time::Instant::now();
        if dest.is_dir() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "{} is a directory: give the path of the file to write",
                    dest.display()
                ),
            ));
        }
        // The data goes into `dest.partial` as the blocks arrive, renamed once complete and synced.
        let partial = partial_path(dest);
        let file = create_new(&partial)?;
        // Removed on every way out but success, a dropped (cancelled) call included: it holds
        // plaintext. (Created by this call, so it is ours to remove.)
        let mut partial_guard = RemoveOnDrop(Some(partial.clone()));
        let output = Arc::new(FileOutput::create(file, &partial));
        let written = async {
            let (fetch, providers) = self
                .fetch(
                    root,
                    label,
                    Some(Arc::clone(&output)),
                    MAX_GET_SIZE,
                    progress,
                )
                .await?;
            let fetched = t.elapsed();
            let size = fetch.progress.total_data.unwrap_or(0);
            complete_file(output, size).await?;
            std::fs::rename(&partial, dest).map_err(|e| Error::file(dest, "rename into", &e))?;
            Ok::<_, Error>((fetch, providers, size, fetched))
        }
        .await;
        let (fetch, providers, size, fetched) = written?;
        partial_guard.0 = None;
        debug!(
            fetch_ms = fetched.as_millis(),
            finish_ms = (t.elapsed() - fetched).as_millis(),
            blocks = fetch.progress.received,
            "get finished"
        );
        Ok(GetReport {
            size,
            fetch,
            providers,
        })
    }

    /// Fetches the directory under `root` (the root of its listing) with everything beneath it and
    /// writes it as the directory `dest` (through `dest.partial`, renamed when complete), pins the
    /// whole tree as `label` and provides it. `progress` gets the file bytes written so far and
    /// the total the top listing declares.
    pub async fn get_dir(
        &self,
        root: &BlockRef,
        label: &str,
        dest: &Path,
        progress: impl FnMut(u64, Option<u64>) + Send + 'static,
    ) -> Result<GetReport, Error> {
        if dest.exists() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("{} exists already: choose a new name", dest.display()),
            ));
        }
        let provisional = self.pin_provisional(label, root).await?;
        let (providers, named) = self.providers_of(root).await?;
        let partial = partial_path(dest);
        // Never deleted here: it may be left by an interrupted get (whose blocks are in the store
        // now, so a new get fetches nothing twice), but it may as well be someone's directory.
        std::fs::create_dir(&partial).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Error::new(
                    ErrorKind::AlreadyExists,
                    format!(
                        "{} exists (left by an interrupted get?): remove it or choose another name",
                        partial.display()
                    ),
                )
            } else {
                Error::file(&partial, "create", &e)
            }
        })?;
        let written = self
            .write_dir_tree(root, &partial, &providers, named, progress)
            .await;
        let (total, written) = match written {
            Ok(done) => done,
            Err(e) => {
                // Created by this call a moment ago, so it is ours to remove; the blocks fetched
                // so far stay in the store and are not fetched again.
                let _ = std::fs::remove_dir_all(&partial);
                return Err(e);
            }
        };
        std::fs::rename(&partial, dest).map_err(|e| Error::file(dest, "rename into", &e))?;
        self.pin_complete(&provisional, label, root, true).await?;
        if let Err(e) = self.announce(&root.id).await {
            debug!(error = %e, "announcing a fetched root failed");
        }
        Ok(GetReport {
            size: written,
            fetch: total,
            providers: named,
        })
    }

    /// Writes the directory tree under `root` into `partial` (an empty directory), fetching each
    /// listing and each file from `providers`; returns the fetches' report and the bytes written.
    async fn write_dir_tree(
        &self,
        root: &BlockRef,
        partial: &Path,
        providers: &[(PeerId, SocketAddr)],
        named: usize,
        progress: impl FnMut(u64, Option<u64>) + Send + 'static,
    ) -> Result<(FetchReport, u64), Error> {
        let progress = Arc::new(std::sync::Mutex::new(progress));
        // One connection per provider for the whole tree, not one per listing and file.
        let mut pool = self.connections();
        let mut total = FetchReport::default();
        let mut written = 0u64;
        let mut declared: Option<u64> = None;
        let mut entries = 0u64;
        // Directories still to write: their listing's root, where, how deep.
        let mut todo = vec![(root.clone(), partial.to_path_buf(), 0usize)];
        while let Some((listing_root, dir, depth)) = todo.pop() {
            let report = self
                .fetch_blocks(
                    &mut pool,
                    &listing_root,
                    providers,
                    named,
                    None,
                    MAX_LISTING_LEN as u64,
                    |_| {},
                )
                .await?;
            merge_reports(&mut total, report);
            let (store, r) = (Arc::clone(&self.store), listing_root.clone());
            let listing = blocking("read", move || read_listing(&store, &r)).await?;
            if depth == 0 {
                declared = Some(listing.iter().map(|e| e.size).fold(0, u64::saturating_add));
            }
            count_entries(&mut entries, listing.len())?;
            for e in listing {
                // The listing's decoder enforced the name rule: `name` cannot leave `dir`.
                let path = dir.join(&e.name);
                match e.kind {
                    EntryKind::Dir if depth >= MAX_DEPTH => return Err(too_deep()),
                    EntryKind::Dir => {
                        std::fs::create_dir(&path)
                            .map_err(|err| Error::file(&path, "create", &err))?;
                        todo.push((e.target, path, depth + 1));
                    }
                    EntryKind::File => {
                        let file = std::fs::File::create_new(&path)
                            .map_err(|err| Error::file(&path, "create", &err))?;
                        let output = Arc::new(FileOutput::create(file, &path));
                        let (base, shared) = (written, Arc::clone(&progress));
                        let report = self
                            .fetch_blocks(
                                &mut pool,
                                &e.target,
                                providers,
                                named,
                                Some(Arc::clone(&output)),
                                MAX_GET_SIZE - written.min(MAX_GET_SIZE),
                                move |p| {
                                    if let Ok(mut f) = shared.lock() {
                                        (*f)(base.saturating_add(p.bytes), declared);
                                    }
                                },
                            )
                            .await?;
                        let size = report.progress.total_data.unwrap_or(0);
                        merge_reports(&mut total, report);
                        let file = complete_file(output, size).await?;
                        if let Some(t) = system_time(e.mtime_ns) {
                            // Best effort: a file system without times still gets the data.
                            let _ = file.set_modified(t);
                        }
                        written = written.saturating_add(size);
                    }
                }
            }
        }
        Ok((total, written))
    }

    /// Fetches the tree under `root` into the store, pinned as `label` (unpin it when done with
    /// the data); returns the data's size. Read the data with [`Node::read_data`].
    pub async fn fetch_pinned(
        &self,
        root: &BlockRef,
        label: &str,
        progress: impl FnMut(FetchProgress) + Send + 'static,
    ) -> Result<u64, Error> {
        let (report, _) = self
            .fetch(root, label, None, MAX_GET_SIZE, progress)
            .await?;
        Ok(report.progress.total_data.unwrap_or(0))
    }

    /// Sends the data under `root` (every block of it held) to `out`, in order, in pieces of at
    /// most 256 KiB; returns the bytes sent. Fails if `out` is closed before the end.
    pub async fn read_data(
        &self,
        root: &BlockRef,
        out: tokio::sync::mpsc::Sender<Vec<u8>>,
    ) -> Result<u64, Error> {
        let (store, root) = (Arc::clone(&self.store), root.clone());
        blocking("read", move || {
            let mut w = ChannelWriter {
                out,
                piece: Vec::with_capacity(CHANNEL_PIECE),
            };
            let n = read_from_store(&store, &root, MAX_GET_SIZE, &mut w)?;
            w.flush()
                .map_err(|e| Error::new(ErrorKind::Io, format!("sending the data: {e}")))?;
            Ok::<_, Error>(n)
        })
        .await
    }

    /// Like [`Node::get_to_file`], into memory (at most `max` bytes).
    pub async fn get_bytes(
        &self,
        root: &BlockRef,
        label: &str,
        max: u64,
    ) -> Result<Vec<u8>, Error> {
        self.fetch(root, label, None, max, |_| {}).await?;
        let (store, root_c) = (Arc::clone(&self.store), root.clone());
        blocking("read", move || {
            let mut out = Vec::new();
            read_from_store(&store, &root_c, max, &mut out)?;
            Ok::<_, Error>(out)
        })
        .await
    }

    async fn fetch(
        &self,
        root: &BlockRef,
        label: &str,
        output: Option<Arc<FileOutput>>,
        max_size: u64,
        progress: impl FnMut(FetchProgress) + Send + 'static,
    ) -> Result<(FetchReport, usize), Error> {
        let provisional = self.pin_provisional(label, root).await?;
        let held = {
            let store = Arc::clone(&self.store);
            let id = root.id;
            blocking("store", move || store.has(&id)).await?
        };
        // Providers are looked up unless the root is here and the tree turns out to be whole; a
        // partial tree (left by an interrupted get) is completed from them.
        let progress = Arc::new(std::sync::Mutex::new(progress));
        let relay = || {
            let progress = Arc::clone(&progress);
            move |p: FetchProgress| {
                if let Ok(mut f) = progress.lock() {
                    (*f)(p);
                }
            }
        };
        let t = std::time::Instant::now();
        let mut pool = self.connections();
        let local = if held {
            Some(
                self.fetch_blocks(&mut pool, root, &[], 0, output.clone(), max_size, relay())
                    .await,
            )
        } else {
            None
        };
        let (report, named) = match local {
            Some(Ok(report)) => (report, 0),
            Some(Err(e)) if e.kind() != ErrorKind::NotFound => return Err(e),
            _ => {
                let (providers, named) = self.providers_of(root).await?;
                let report = self
                    .fetch_blocks(
                        &mut pool,
                        root,
                        &providers,
                        named,
                        output,
                        max_size,
                        relay(),
                    )
                    .await?;
                (report, named)
            }
        };
        debug!(
            fetch_tree_ms = t.elapsed().as_millis(),
            providers = named,
            "blocks fetched"
        );
        // Every block is here now (the fetch walked the whole tree): the pin takes them all, and
        // this node provides them too (so popular data spreads over the peers that fetched it).
        self.pin_complete(&provisional, label, root, false).await?;
        self.net.events().send(NodeEvent::Fetched {
            root: root.id,
            size: report.progress.total_data.unwrap_or(0),
        });
        if let Err(e) = self.announce(&root.id).await {
            debug!(error = %e, "announcing a fetched root failed");
        }
        Ok((report, named))
    }

    /// Pins `root` under an internal label for `label` before its blocks arrive: every block that
    /// arrives is then permanent from the start (a crowded cache cannot refuse it before it is
    /// read), and what arrived stays if the fetch fails, for a retry. The internal label is not
    /// announced, since the tree may not be whole. Returns that label.
    async fn pin_provisional(&self, label: &str, root: &BlockRef) -> Result<String, Error> {
        let provisional = format!("{INTERNAL_PIN}fetching/{label}");
        let (store, l, r) = (Arc::clone(&self.store), provisional.clone(), root.clone());
        blocking("pin", move || store.pin(&l, &r, [r.id])).await?;
        Ok(provisional)
    }

    /// The tree under `root` (a directory's if `dir`) is whole: pins it under `label` and drops
    /// the provisional pin.
    async fn pin_complete(
        &self,
        provisional: &str,
        label: &str,
        root: &BlockRef,
        dir: bool,
    ) -> Result<(), Error> {
        let (store, l, p, r) = (
            Arc::clone(&self.store),
            label.to_owned(),
            provisional.to_owned(),
            root.clone(),
        );
        blocking("pin", move || {
            // Every block was fetched or held: the walk trusts the leaves.
            if dir {
                pin_dir_tree(&store, &l, &r, Leaves::Trust)?;
            } else {
                pin_tree(&store, &l, &r, Leaves::Trust)?;
            }
            Ok::<_, Error>(store.unpin(&p).map(|_| ())?)
        })
        .await
    }

    /// The providers the DHT names for `root` that can be reached (this node left out), and how
    /// many it named.
    async fn providers_of(
        &self,
        root: &BlockRef,
    ) -> Result<(Vec<(PeerId, SocketAddr)>, usize), Error> {
        let records = self.net.get_providers(root.id.0).await?;
        let mut providers = Vec::new();
        for p in &records {
            if *p.provider() == self.peer_id() {
                continue;
            }
            if let Some(addr) = self.net.find_peer(*p.provider()).await? {
                providers.push((*p.provider(), addr));
            } else {
                debug!(provider = %p.provider(), "provider not found");
            }
        }
        Ok((providers, records.len()))
    }

    /// No connections yet, for fetches made one after another ([`Node::fetch_blocks`]).
    fn connections(&self) -> Connections {
        Connections::new(Arc::clone(&self.identity), Arc::clone(&self.store))
    }

    /// Fetches the tree under `root` from `providers` (`named` by the DHT) into the store, and
    /// into `output` if given, over `pool`, whose connections stay open for the caller's next
    /// fetch (a directory's get fetches every listing and file over the same ones).
    #[allow(clippy::too_many_arguments)]
    async fn fetch_blocks(
        &self,
        pool: &mut Connections,
        root: &BlockRef,
        providers: &[(PeerId, SocketAddr)],
        named: usize,
        output: Option<Arc<FileOutput>>,
        max_size: u64,
        progress: impl FnMut(FetchProgress) + Send + 'static,
    ) -> Result<FetchReport, Error> {
        fetch_tree_over(
            pool,
            Arc::clone(&self.store),
            root.clone(),
            providers.to_vec(),
            Class::Permanent,
            output,
            max_size,
            None,
            Box::new(progress),
        )
        .await
        .map_err(|e| match e {
            crate::exchange::GetError::Fetch(f) if named == 0 => Error::new(
                ErrorKind::NotFound,
                format!("no peer provides this root ({f})"),
            ),
            other => Error::from(other),
        })
    }

    /// Pins the tree under `root` as `label` (its blocks must be held: fetch them with `get`).
    pub async fn pin(&self, label: &str, root: &BlockRef) -> Result<u64, Error> {
        let (store, label, root) = (Arc::clone(&self.store), label.to_owned(), root.clone());
        blocking("pin", move || {
            Ok::<_, Error>(pin_tree(&store, &label, &root, Leaves::Check)?.blocks)
        })
        .await
    }

    /// Pins the directory under `root` (its listing's root) and everything beneath it as `label`.
    pub async fn pin_dir(&self, label: &str, root: &BlockRef) -> Result<u64, Error> {
        let (store, label, root) = (Arc::clone(&self.store), label.to_owned(), root.clone());
        blocking("pin", move || {
            Ok::<_, Error>(pin_dir_tree(&store, &label, &root, Leaves::Check)?.blocks)
        })
        .await
    }

    /// Removes the pin `label`; its blocks become collectable. Returns whether it existed.
    pub async fn unpin(&self, label: &str) -> Result<bool, Error> {
        let (store, label) = (Arc::clone(&self.store), label.to_owned());
        let r = blocking("unpin", move || store.unpin(&label)).await?;
        Ok(r.is_some())
    }

    /// The pins.
    pub async fn pins(&self) -> Result<Vec<PinInfo>, Error> {
        let store = Arc::clone(&self.store);
        blocking("store", move || store.pins()).await
    }

    /// What the store holds.
    pub async fn store_stats(&self) -> Result<StoreStats, Error> {
        let store = Arc::clone(&self.store);
        blocking("store", move || store.stats()).await
    }

    /// Collects garbage in the store (see [`BlockStore::gc`]).
    pub async fn gc(&self) -> Result<crate::store::GcReport, Error> {
        let store = Arc::clone(&self.store);
        blocking("gc", move || store.gc()).await
    }

    /// Counters of the network side.
    pub async fn net_stats(&self) -> Result<NetStats, Error> {
        Ok(self.net.stats().await?)
    }

    /// The peers in the routing table.
    pub async fn peers(&self) -> Result<Vec<PeerInfo>, Error> {
        Ok(self.net.peers().await?)
    }

    /// Stops the node: no new connections, sessions closed, the store flushed and closed.
    /// Work still under way on other references to the node fails with [`ErrorKind::Stopped`].
    /// Shutting down twice does nothing more.
    pub async fn shutdown(&self) -> Result<(), Error> {
        if let Some(r) = &self.reannounce {
            r.abort();
        }
        let serve = self.serve.lock().ok().and_then(|mut s| s.take());
        if let Some(serve) = serve {
            serve.abort();
            let _ = serve.await;
        }
        match self.net.shutdown().await {
            Ok(()) | Err(crate::net::NodeError::Stopped) => {}
            Err(e) => return Err(e.into()),
        }
        let store = Arc::clone(&self.store);
        blocking("store", move || store.persist_hits()).await?;
        Ok(())
    }
}

/// Signs and stores a provider record for `root` lasting `ttl_secs`; returns how many peers stored it.
async fn announce(
    net: &NodeHandle,
    identity: &KeyPair,
    root: &BlockId,
    ttl_secs: u64,
) -> Result<u8, Error> {
    let expires = unix_now().saturating_add(ttl_secs);
    let provider = Provider::sign(identity, root.0, expires)
        .map_err(|e| Error::new(ErrorKind::Internal, format!("signing: {e:?}")))?;
    let report = net.add_provider(provider).await?;
    Ok(report.stored)
}

/// Announces every pinned root again each half of the records' lifetime, for as long as the node
/// runs: provider records expire, and a node that keeps data must stay findable. The first round
/// comes soon after start (a node that restarts often, or was off for a day, is findable again at
/// once); the rounds start on a fixed beat, whatever each takes; a few roots are announced at a
/// time, so a node with many pins neither takes forever nor floods the DHT.
async fn reannounce_pins(
    net: NodeHandle,
    identity: Arc<KeyPair>,
    store: Arc<BlockStore>,
    ttl_secs: u64,
    rounds: tokio::sync::watch::Sender<u64>,
) {
    let every = std::time::Duration::from_secs(ttl_secs).div_f64(2.0);
    let first = every.min(FIRST_ANNOUNCE_AFTER);
    let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + first, every);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        beat.tick().await;
        let pins = {
            let store = Arc::clone(&store);
            match tokio::task::spawn_blocking(move || store.pins()).await {
                Ok(Ok(pins)) => pins,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "listing the pins to announce them failed");
                    continue;
                }
                Err(_) => continue,
            }
        };
        // Internal pins (a cat being read, a fetch under way) name roots that may not be whole.
        let mut roots: Vec<BlockId> = pins
            .iter()
            .filter(|p| !p.label.starts_with(INTERNAL_PIN))
            .map(|p| p.root.id)
            .collect();
        roots.sort_by_key(|id| id.0);
        roots.dedup();
        let mut stored = 0usize;
        let mut running = tokio::task::JoinSet::new();
        for &root in &roots {
            if running.len() >= ANNOUNCES_AT_ONCE
                && let Some(Ok(true)) = running.join_next().await
            {
                stored += 1;
            }
            let (net, identity) = (net.clone(), Arc::clone(&identity));
            running.spawn(async move {
                match announce(&net, &identity, &root, ttl_secs).await {
                    Ok(n) => n > 0,
                    Err(e) => {
                        debug!(error = %e, "announcing a pin again failed");
                        false
                    }
                }
            });
        }
        while let Some(done) = running.join_next().await {
            stored += usize::from(matches!(done, Ok(true)));
        }
        debug!(roots = roots.len(), stored, "pins announced again");
        rounds.send_modify(|n| *n += 1);
    }
}

/// When the first round of announcing the pins again comes after start (later rounds: each half
/// of the records' lifetime).
const FIRST_ANNOUNCE_AFTER: std::time::Duration = std::time::Duration::from_secs(30);
/// Provider records announced at once by a round.
const ANNOUNCES_AT_ONCE: usize = 8;
/// Labels of pins the node makes for itself start with this; they are not announced.
pub const INTERNAL_PIN: &str = ".gofast/";
/// The first 12 hex digits of a block id: how people name a snapshot or a root in output.
pub fn short_id(id: &BlockId) -> String {
    hex::encode(id.0.get(..6).unwrap_or_default())
}

/// Labels of the pins that hold a `cat`'s blocks while they are read (removed at start).
pub const CAT_PIN: &str = ".gofast/cat/";

/// Binds UDP and TCP on one port. With port 0 the OS picks the UDP port and TCP takes the same
/// one, trying again if TCP finds it taken.
async fn bind_both(
    keys: &NodeKeys,
    config: &NodeConfig,
) -> Result<(NodeHandle, TcpListener), Error> {
    let mut last = None;
    for _ in 0..PORT_ATTEMPTS {
        let listener = TcpListener::bind(config.listen).await.map_err(|e| {
            Error::new(ErrorKind::Io, format!("binding TCP {}: {e}", config.listen))
        })?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::new(ErrorKind::Io, format!("reading the TCP address: {e}")))?;
        let mut net_config = config.clone();
        net_config.listen = addr;
        match spawn(keys.identity(), net_config).await {
            Ok(handle) => return Ok((handle, listener)),
            // Taken for UDP: with an OS-chosen port, try another.
            Err(e) if config.listen.port() == 0 => last = Some(e),
            Err(e) => return Err(e.into()),
        }
    }
    Err(last.map_or_else(
        || {
            Error::new(
                ErrorKind::Io,
                "no port free for both UDP and TCP".to_owned(),
            )
        },
        Error::from,
    ))
}

/// Why reading a tree from the store stopped.
#[derive(Debug)]
enum ReadFail {
    Store(crate::store::StoreError),
    Missing(BlockId),
    Write(std::io::Error),
}

impl std::fmt::Display for ReadFail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadFail::Store(e) => write!(f, "{e}"),
            ReadFail::Missing(id) => write!(f, "block {id} is not in the store"),
            ReadFail::Write(e) => write!(f, "{e}"),
        }
    }
}

fn held(store: &BlockStore, id: &BlockId) -> Result<Vec<u8>, ReadFail> {
    store
        .get(id)
        .map_err(ReadFail::Store)?
        .ok_or(ReadFail::Missing(*id))
}

/// Pins the tree under `root` as `label`: its ids come from a walk of the stored tree as the pin
/// takes them, its data leaves checked or trusted as `leaves` says.
pub(crate) fn pin_tree(
    store: &BlockStore,
    label: &str,
    root: &BlockRef,
    leaves: Leaves,
) -> Result<PinReport, Error> {
    let ids = TreeIds::new(store, root, leaves).map(|r| r.map_err(Error::from));
    store.try_pin(label, root, ids)
}

/// Pins the directory under `root` (its listing's root) and everything beneath it as `label`,
/// like [`pin_tree`].
pub(crate) fn pin_dir_tree(
    store: &BlockStore,
    label: &str,
    root: &BlockRef,
    leaves: Leaves,
) -> Result<PinReport, Error> {
    let ids = DirTreeIds::new(store, std::slice::from_ref(root), leaves);
    store.try_pin(label, root, ids)
}

/// Adds `from`'s blocks, deliveries and troubles to `into`.
fn merge_reports(into: &mut FetchReport, from: FetchReport) {
    let (a, b) = (&mut into.progress, from.progress);
    a.blocks += b.blocks;
    a.bytes += b.bytes;
    a.received += b.received;
    for (peer, n) in from.delivered {
        match into.delivered.iter_mut().find(|(p, _)| *p == peer) {
            Some((_, m)) => *m += n,
            None => into.delivered.push((peer, n)),
        }
    }
    for (list, more) in [
        (&mut into.penalised, from.penalised),
        (&mut into.lost, from.lost),
        (&mut into.unreached, from.unreached),
    ] {
        for p in more {
            if !list.contains(&p) {
                list.push(p);
            }
        }
    }
}

/// The last component of `path` as a pin label, or `fallback`.
fn label_of(path: &Path, fallback: &str) -> String {
    path.file_name()
        .map_or_else(|| fallback.to_owned(), |n| n.to_string_lossy().into_owned())
}

/// Writes the data of the tree under `root` (every block held) to `out`; at most `max` bytes.
pub(crate) fn read_tree_from_store(
    store: &BlockStore,
    root: &BlockRef,
    max: u64,
    out: &mut impl Write,
) -> Result<u64, Error> {
    read_from_store(store, root, max, out)
}

fn read_from_store(
    store: &BlockStore,
    root: &BlockRef,
    max: u64,
    out: &mut impl Write,
) -> Result<u64, Error> {
    read_tree(
        root,
        max,
        |id| held(store, id),
        |data| out.write_all(data).map_err(ReadFail::Write),
    )
    .map_err(read_error)
}

fn read_error(e: gofast_core::block::ReadError<ReadFail>) -> Error {
    use gofast_core::block::ReadError;
    match e {
        ReadError::Fetch(ReadFail::Store(s)) | ReadError::Output(ReadFail::Store(s)) => s.into(),
        ReadError::Fetch(ReadFail::Missing(id)) | ReadError::Output(ReadFail::Missing(id)) => {
            Error::new(
                ErrorKind::NotFound,
                format!("block {id} of the tree is not held: fetch it with `gofast get`"),
            )
        }
        ReadError::Fetch(ReadFail::Write(e)) | ReadError::Output(ReadFail::Write(e)) => {
            Error::new(ErrorKind::Io, format!("writing the data: {e}"))
        }
        ReadError::TooLarge { declared, max } => Error::new(
            ErrorKind::InvalidInput,
            format!("the data is {declared} bytes, more than the {max} accepted"),
        ),
        other => Error::new(ErrorKind::Corrupt, other.to_string()),
    }
}

/// Bytes [`ChannelWriter`] gathers before it sends them on.
const CHANNEL_PIECE: usize = 256 << 10;

/// Writes into a bounded channel in pieces, waiting while it is full (on a blocking thread).
struct ChannelWriter {
    out: tokio::sync::mpsc::Sender<Vec<u8>>,
    piece: Vec<u8>,
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = buf.len().min(CHANNEL_PIECE - self.piece.len());
        self.piece
            .extend_from_slice(buf.get(..n).unwrap_or_default());
        if self.piece.len() >= CHANNEL_PIECE {
            self.flush()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.piece.is_empty() {
            return Ok(());
        }
        let piece = std::mem::replace(&mut self.piece, Vec::with_capacity(CHANNEL_PIECE));
        self.out.blocking_send(piece).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the reader went away")
        })
    }
}

/// Creates `path` for writing; an existing file is an error that says what to do (it may be left
/// by an interrupted get, or be someone's file: it is not overwritten).
fn create_new(path: &Path) -> Result<std::fs::File, Error> {
    std::fs::File::create_new(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            Error::new(
                ErrorKind::AlreadyExists,
                format!(
                    "{} exists (left by an interrupted get?): remove it or choose another name",
                    path.display()
                ),
            )
        } else {
            Error::file(path, "create", &e)
        }
    })
}

/// A fetched file whose every byte is written: its length set and synced (on a blocking thread).
async fn complete_file(output: Arc<FileOutput>, size: u64) -> Result<std::fs::File, Error> {
    let output = Arc::try_unwrap(output).map_err(|_| {
        Error::new(
            ErrorKind::Internal,
            "the fetched file is still being written",
        )
    })?;
    blocking("write", move || output.finish(size)).await
}

/// `dest` with `.partial` appended: where a get writes until the data is complete.
/// Removes the file it names when dropped, unless emptied first.
struct RemoveOnDrop(Option<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn partial_path(dest: &Path) -> PathBuf {
    let mut partial = dest.as_os_str().to_owned();
    partial.push(".partial");
    PathBuf::from(partial)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The text form of a file's root for people and scripts: `gofast:gfb1…`.
pub fn root_uri(root: &BlockRef) -> String {
    format!("gofast:{}", root.display_capability())
}

/// What a `gofast:` URI names: a file's root, or (with a trailing `/`) a directory's.
#[derive(Clone, PartialEq, Eq)]
pub struct RootUri {
    /// The root: with its key, the capability to read.
    pub root: BlockRef,
    /// Whether it is a directory's listing root.
    pub dir: bool,
}

impl std::fmt::Debug for RootUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key stays out of logs.
        f.debug_struct("RootUri")
            .field("id", &self.root.id)
            .field("dir", &self.dir)
            .finish()
    }
}

impl std::fmt::Display for RootUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&root_uri(&self.root))?;
        if self.dir {
            f.write_str("/")?;
        }
        Ok(())
    }
}

/// Parses `gofast:gfb1…` (a file), `gofast:gfb1…/` (a directory), or either without `gofast:`.
pub fn parse_uri(text: &str) -> Result<RootUri, Error> {
    let t = text.trim();
    let t = t.strip_prefix("gofast:").unwrap_or(t);
    let (t, dir) = match t.strip_suffix('/') {
        Some(t) => (t, true),
        None => (t, false),
    };
    let root = t.parse::<BlockRef>().map_err(|_| {
        Error::new(
            ErrorKind::InvalidInput,
            "not a gofast root: expected gofast:gfb1… as `gofast add` prints it".to_owned(),
        )
    })?;
    Ok(RootUri { root, dir })
}

/// Parses a file's URI (see [`parse_uri`]); a directory's is refused with a hint.
pub fn parse_root_uri(text: &str) -> Result<BlockRef, Error> {
    let uri = parse_uri(text)?;
    if uri.dir {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "this URI names a directory (it ends with /): `gofast get` writes it out",
        ));
    }
    Ok(uri.root)
}

/// Runs `f` (store or file work) on a blocking thread; a task that panicked is an internal error.
pub(crate) async fn blocking<T: Send + 'static, E: Into<Error> + Send + 'static>(
    what: &str,
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::new(ErrorKind::Internal, format!("{what} task: {e}")))?
        .map_err(Into::into)
}

/// What a push did, on both sides.
#[derive(Debug)]
pub struct PushReport {
    /// The pushed tree's top listing.
    pub root: BlockRef,
    /// Data bytes in it.
    pub size: u64,
    /// Files in it.
    pub files: u64,
    /// Of those, the files read (changed since the last push, or all of them the first time).
    pub read: u64,
    /// What was left out: symbolic links and special files.
    pub skipped: Vec<PathBuf>,
    /// What the receiver did.
    pub answer: crate::tree_push::PushAnswer,
}

/// What a pull did.
#[derive(Clone, Copy, Debug)]
pub struct PullReport {
    /// What was written into the folder.
    pub applied: crate::tree_push::Applied,
    /// Blocks fetched (the rest were held).
    pub received: u64,
}

/// `dest` made absolute (its folder must exist; `dest` itself need not).
fn absolute_dest(dest: &Path) -> Result<PathBuf, Error> {
    let name = dest.file_name().ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("{}: give a folder to pull into", dest.display()),
        )
    })?;
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let parent = std::fs::canonicalize(parent).map_err(|e| Error::file(parent, "resolve", &e))?;
    Ok(parent.join(name))
}

/// Hands each pushed record to whom it is for: a tree push's offers and answers to the tree
/// pushes, the rest (heads and device lists) to the volumes. Runs until the network task drops
/// its sender.
async fn route_pushed_records(
    volumes: Arc<crate::volume::Volumes>,
    pushes: Arc<crate::tree_push::TreePushes>,
    mut pushed: tokio::sync::mpsc::Receiver<crate::net::PushedRecord>,
) {
    while let Some(p) = pushed.recv().await {
        if crate::tree_push::TreePushes::is_push_record(&p.record) {
            pushes.on_pushed(p);
        } else {
            volumes.on_pushed(p).await;
        }
    }
}
