//! Running a fetch: connections to the providers, the plan of [`Fetch`], and the store.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use gofast_core::block::{BlockId, BlockRef};
use gofast_core::identity::{KeyPair, PeerId};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::BlockSource;
use super::conn::{self, ConnCommand, ConnEvent, Role};
use super::connections::Connections;
use super::delta::rebuild;
use super::fetch::{Accepted, Fetch, FetchError, FetchProgress};
use super::output::FileOutput;
use super::sink::Sink;
use crate::store::{BlockStore, Class};

/// Requests in flight per provider: enough to keep a loopback or LAN link busy, few enough that a
/// slow provider holds little. 16 blocks of ~39 KB (the default chunking's mean) are the ~640 KB
/// that 32 blocks of ~20 KB were before chunks averaged 32 KiB; on loopback 16 was faster than 32
/// and cost the provider less CPU (docs/BENCHMARKS.md).
pub(super) const WINDOW: usize = 16;

/// How a fetch went.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FetchReport {
    /// Blocks and bytes.
    pub progress: FetchProgress,
    /// Blocks each provider delivered.
    pub delivered: Vec<(PeerId, u64)>,
    /// Providers dropped for sending a wrong block.
    pub penalised: Vec<PeerId>,
    /// Providers whose connection was lost before the end.
    pub lost: Vec<PeerId>,
    /// Providers that could not be reached at all.
    pub unreached: Vec<PeerId>,
}

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum GetError {
    /// The plan could not go on.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The local store failed.
    #[error("the block store failed: {0}")]
    Store(#[from] crate::store::StoreError),
    /// Writing the file failed.
    #[error("writing the data: {0}")]
    Write(std::io::Error),
    /// A block the fetch stored is not in the store any more.
    #[error("block {0} was fetched but is not held")]
    NotHeld(BlockId),
    /// The root declares more data than the output takes.
    #[error("the data is {declared} bytes, more than the {max} accepted")]
    TooLarge {
        /// What the root declares.
        declared: u64,
        /// The output's bound.
        max: u64,
    },
}

/// Fetches every block of the tree under `root` that the store lacks from `providers`, several at
/// once, verifying each block before it is stored (as `class`). `progress` is called as blocks
/// arrive. The blocks are flushed to disk before this returns, also when it fails (a retry does
/// not fetch them again). A root that declares more than `max_size` data bytes fails the fetch as
/// soon as it is opened. With an `output`, the tree's data is written into it as the leaves
/// arrive (and from the store for what was held already), so that after a complete fetch only
/// [`FileOutput::finish`] is left to do. With a `base` (the older version of `root`, held here
/// whole, and the peer that made both), changed blocks are asked of that peer as deltas against
/// their older versions ([`Fetch::with_base`]).
#[allow(clippy::too_many_arguments)] // Each is a different thing the caller decides.
pub async fn fetch_tree(
    identity: Arc<KeyPair>,
    store: Arc<BlockStore>,
    root: BlockRef,
    providers: Vec<(PeerId, SocketAddr)>,
    class: Class,
    output: Option<Arc<FileOutput>>,
    max_size: u64,
    base: Option<(BlockRef, PeerId)>,
    progress: Box<dyn FnMut(FetchProgress) + Send>,
) -> Result<FetchReport, GetError> {
    let mut conns = Connections::new(identity, Arc::clone(&store));
    fetch_tree_over(
        &mut conns, store, root, providers, class, output, max_size, base, progress,
    )
    .await
}

/// [`fetch_tree`] over connections kept from earlier fetches (and kept for later ones): a
/// directory's get fetches every listing and file over the same connections.
#[allow(clippy::too_many_arguments)] // Each is a different thing the caller decides.
pub async fn fetch_tree_over(
    conns: &mut Connections,
    store: Arc<BlockStore>,
    root: BlockRef,
    providers: Vec<(PeerId, SocketAddr)>,
    class: Class,
    output: Option<Arc<FileOutput>>,
    max_size: u64,
    base: Option<(BlockRef, PeerId)>,
    // Boxed, not generic: a copy of this 21 KB state machine per caller's closure (nine of them)
    // cost the phone library 190 KB.
    mut progress: Box<dyn FnMut(FetchProgress) + Send>,
) -> Result<FetchReport, GetError> {
    let mut fetch = Fetch::new(root, WINDOW);
    if let Some((base, from)) = base {
        fetch = fetch.with_base(base, from);
    }
    let mut report = FetchReport::default();
    let sink = Sink::spawn(&store, class, output.clone());
    let result = run(
        conns,
        &store,
        &mut fetch,
        providers,
        max_size,
        &sink,
        output.is_some(),
        &mut report,
        &mut *progress,
    )
    .await;
    // The sink's error (a full disk, say) is the cause when both failed.
    sink.finish().await?;
    result?;
    let repeats = fetch.take_stored();
    report.progress = fetch.progress();
    report.delivered = fetch.delivered().collect();
    drop(fetch);
    // Every block is held now: the data of the repeated subtrees comes from the store.
    if let Some(out) = output.filter(|_| !repeats.is_empty()) {
        tokio::task::spawn_blocking(move || {
            repeats.iter().try_for_each(|p| out.write_stored(&store, p))
        })
        .await
        .map_err(|e| GetError::Write(std::io::Error::other(format!("writer: {e}"))))??;
    }
    Ok(report)
}

/// Fails once the root is open and declares more than `max` data bytes.
fn check_size(fetch: &Fetch, max: u64) -> Result<(), GetError> {
    match fetch.progress().total_data {
        Some(declared) if declared > max => Err(GetError::TooLarge { declared, max }),
        _ => Ok(()),
    }
}

/// The fetch loop: connections to the providers, requests as the plan allows, verified blocks to
/// the sink.
#[allow(clippy::too_many_arguments)]
async fn run(
    pool: &mut Connections,
    store: &Arc<BlockStore>,
    fetch: &mut Fetch,
    providers: Vec<(PeerId, SocketAddr)>,
    max_size: u64,
    sink: &Sink,
    writes_data: bool,
    report: &mut FetchReport,
    progress: &mut (dyn FnMut(FetchProgress) + Send),
) -> Result<(), GetError> {
    take_local(fetch, store, sink, writes_data).await?;
    check_size(fetch, max_size)?;
    if fetch.progress().blocks > 0 {
        // Not before anything is held: a progress line of nothing would take the place of the
        // first real one (the lines are throttled: the first goes out at once, the next 50 ms on).
        progress(fetch.progress());
    }
    if fetch.is_complete() {
        return Ok(());
    }
    pool.dial(&providers);
    // Connections an earlier fetch opened serve this one too.
    for peer in &pool.up {
        fetch.add_provider(*peer);
    }
    let result = loop {
        // Ask for what the plan allows: deltas of the tree's maker first.
        while let Some((peer, wants)) = fetch.next_delta_request() {
            let sent = pool
                .conns
                .get(&peer)
                .is_some_and(|tx| tx.try_send(ConnCommand::WantDelta(wants.clone())).is_ok());
            if !sent {
                // Asked again as plain wants (the provider may be gone: handled below).
                for w in &wants {
                    fetch.on_delta_failed(&peer, &w.target.id);
                }
                break;
            }
        }
        while let Some((peer, ids)) = fetch.next_request() {
            let sent = match pool.conns.get(&peer) {
                Some(tx) => tx.try_send(ConnCommand::Want(ids)).map_err(|e| match e {
                    mpsc::error::TrySendError::Full(_) => "its connection is not keeping up",
                    mpsc::error::TrySendError::Closed(_) => "its connection ended",
                }),
                None => Err("no connection"),
            };
            if let Err(reason) = sent {
                // The provider is as good as gone. Its connection's own end (if it comes) then
                // finds it removed already, so it is counted here.
                info!(%peer, reason, "provider lost; its blocks go to the others");
                report.lost.push(peer);
                fetch.remove_provider(&peer);
                pool.close(&peer);
            }
        }
        if fetch.is_complete() {
            break Ok(());
        }
        if pool.connecting.is_empty()
            && let Err(e) = fetch.check_stuck()
        {
            break Err(GetError::Fetch(e));
        }
        // The pool keeps a sender of its own: without connections no event can come.
        let ev = if pool.conns.is_empty() {
            None
        } else {
            pool.events.recv().await
        };
        let Some(ev) = ev else {
            break Err(GetError::Fetch(FetchError::NoProviders {
                missing: usize::MAX,
            }));
        };
        let (_, id, data, accepted) = match ev {
            ConnEvent::Block { peer, id, data } => {
                let accepted = fetch.on_block(&peer, &id, &data);
                (peer, id, data, accepted)
            }
            ConnEvent::Delta { peer, id, data } => {
                // Plaintext literals: wiped once used.
                let data = zeroize::Zeroizing::new(data);
                let Some((target, bases)) = fetch.on_delta(&peer, &id) else {
                    if fetch.asked_whole(&peer, &id) {
                        // A delta for a block asked for whole would leave it in flight for good.
                        warn!(%peer, "provider answered a want with a delta: dropped");
                        report.penalised.push(peer);
                        fetch.remove_provider(&peer);
                        pool.penalise(&peer);
                    }
                    continue;
                };
                match rebuild(|b| store.get(b).ok().flatten(), &target, &bases, &data) {
                    Ok(block) => {
                        let accepted = fetch.on_rebuilt(&peer, &id, &block);
                        (peer, id, block, accepted)
                    }
                    Err(e) => {
                        debug!(%peer, %id, error = %e, "a delta did not rebuild its block: asked for whole");
                        fetch.on_delta_failed(&peer, &id);
                        continue;
                    }
                }
            }
            ConnEvent::Up(peer) => {
                pool.connecting.remove(&peer);
                pool.up.insert(peer);
                debug!(%peer, "provider connected");
                fetch.add_provider(peer);
                continue;
            }
            ConnEvent::DontHave { peer, ids } => {
                fetch.on_dont_have(&peer, &ids);
                continue;
            }
            ConnEvent::Closed { peer, reason } => {
                if let Some(peer) = peer {
                    if pool.closed_by_us(&peer) {
                        // Dropped and counted already; its end must not touch a new connection.
                        continue;
                    }
                    if pool.connecting.remove(&peer) {
                        debug!(%peer, %reason, "provider not reached");
                        report.unreached.push(peer);
                    } else if fetch.providers().any(|p| *p == peer) {
                        info!(%peer, %reason, "provider lost; its blocks go to the others");
                        report.lost.push(peer);
                    }
                    // Otherwise it was dropped already (it sent a wrong block).
                    fetch.remove_provider(&peer);
                    pool.forget(&peer);
                }
                continue;
            }
        };
        match accepted {
            Ok(Accepted::Store(placement)) => {
                if let Err(e) = check_size(fetch, max_size) {
                    break Err(e);
                }
                let placements = if writes_data { placement } else { Vec::new() };
                if sink.put(id, data, placements).await.is_err() {
                    // The sink stopped on an error, which `finish` reports.
                    break Ok(());
                }
                // The children of a tree node just opened that are held here already.
                if let Err(e) = take_local(fetch, store, sink, writes_data).await {
                    break Err(e);
                }
                progress(fetch.progress());
            }
            Ok(Accepted::Unwanted) => {}
            Err(FetchError::WrongBlock { peer }) => {
                warn!(%peer, "provider sent a wrong block: dropped");
                report.penalised.push(peer);
                pool.penalise(&peer);
            }
            Err(e) => break Err(GetError::Fetch(e)),
        }
    };
    // The connections stay open for the pool's next fetch; dropping the pool closes them.
    result
}

/// Takes from the store what the plan found that is held here, until it finds no more; held
/// leaves go to the sink to be written into the file (if `writes_data`).
async fn take_local(
    fetch: &mut Fetch,
    store: &Arc<BlockStore>,
    sink: &Sink,
    writes_data: bool,
) -> Result<(), GetError> {
    loop {
        let local = Arc::clone(store);
        fetch.take_local(move |id| local.get(id).ok().flatten())?;
        let held = fetch.take_held();
        if held.is_empty() {
            return Ok(());
        }
        if writes_data && sink.write_held(held).await.is_err() {
            // The sink stopped on an error, which `finish` reports.
            return Err(GetError::Write(std::io::Error::other("the sink stopped")));
        }
    }
}

/// Exchange connections served at once; at the bound a new connection is closed at once (the
/// peer fetches from another provider or retries).
pub const MAX_SERVED_CONNECTIONS: usize = 256;

/// Accepts block-exchange connections and serves the store's blocks on each until it closes.
/// The connections belong to this future: dropping or aborting it closes every one of them.
/// While `paused` holds `true` (the node is suspended) every connection is cut and new ones wait
/// in the listener's backlog.
pub async fn serve(
    listener: TcpListener,
    identity: Arc<KeyPair>,
    store: Arc<dyn BlockSource>,
    mut paused: tokio::sync::watch::Receiver<bool>,
) {
    let mut conns = tokio::task::JoinSet::new();
    let mut watching = true;
    loop {
        let open = !*paused.borrow_and_update();
        if !open {
            conns.abort_all();
        }
        tokio::select! {
            changed = paused.changed(), if watching => {
                // Without a sender the state can no longer change.
                watching = changed.is_ok();
            }
            accepted = listener.accept(), if open => match accepted {
                Ok((tcp, from)) => {
                    if conns.len() >= MAX_SERVED_CONNECTIONS {
                        debug!(%from, "exchange connection refused: at the bound");
                        drop(tcp);
                        continue;
                    }
                    debug!(%from, "exchange connection");
                    let (identity, store) = (Arc::clone(&identity), Arc::clone(&store));
                    // Serving only: nothing to ask of the peer, so the command channel stays idle.
                    let (keep, rx) = mpsc::channel(1);
                    conns.spawn(async move {
                        let _keep = keep;
                        conn::run(tcp, Role::Accept, identity, store, None, rx).await
                    });
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off a little rather than spin.
                    warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}
