//! The way in: a cheap, cloneable handle that sends commands to the node's task.

use std::net::SocketAddr;

use gofast_core::dht::Provider;
use gofast_core::identity::{DhtKey, PeerId};
use gofast_core::record::Record;
use tokio::sync::{mpsc, oneshot};

use super::config::BootstrapPeer;
use super::error::NodeError;
use crate::events::EventSender;

/// What a handle asks of the node's task.
pub(super) enum Command {
    AddPeer(BootstrapPeer, oneshot::Sender<Result<usize, NodeError>>),
    FindPeer(
        PeerId,
        oneshot::Sender<Result<Option<SocketAddr>, NodeError>>,
    ),
    /// Where a peer is known to be without asking anyone: its session's address, or the
    /// routing table's.
    KnownAddr(PeerId, oneshot::Sender<Option<SocketAddr>>),
    /// A DHT ping: the round trip if it answered in time.
    Ping(
        PeerId,
        oneshot::Sender<Result<Option<std::time::Duration>, NodeError>>,
    ),
    GetRecord(DhtKey, oneshot::Sender<Result<Option<Record>, NodeError>>),
    PutRecord(Box<Record>, oneshot::Sender<Result<PutReport, NodeError>>),
    AddProvider(Provider, oneshot::Sender<Result<PutReport, NodeError>>),
    GetProviders([u8; 32], oneshot::Sender<Result<Vec<Provider>, NodeError>>),
    Peers(oneshot::Sender<Vec<PeerInfo>>),
    Stats(oneshot::Sender<NetStats>),
    /// The store's verdict on a pushed block: answer its pusher.
    PushDone(PeerId, gofast_core::block::BlockId, bool),
    /// Send a record straight to a peer over its session.
    PushRecord(PeerId, Box<Record>, oneshot::Sender<Result<(), NodeError>>),
    /// Suspend (`true`) or resume (`false`).
    Suspend(bool, oneshot::Sender<()>),
    Shutdown,
}

/// How a put or provider announcement went: the closest peers' answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PutReport {
    /// Peers that stored it.
    pub stored: u8,
    /// Peers that refused it (they hold a newer record, or are full).
    pub refused: u8,
    /// Peers that did not answer.
    pub failed: u8,
}

/// A peer in the node's routing table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    /// Its identity.
    pub peer: PeerId,
    /// Where it was last heard from.
    pub addr: SocketAddr,
    /// Whether a session to it is open now.
    pub connected: bool,
}

/// Counters of the network side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Datagrams received.
    pub datagrams_in: u64,
    /// Datagrams sent.
    pub datagrams_out: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes sent.
    pub bytes_out: u64,
    /// Datagrams that no session took (not a first handshake message from a stranger, or refused
    /// by its session).
    pub garbage: u64,
    /// Handshakes from strangers dropped at the session or handshake bound.
    pub refused_handshakes: u64,
    /// Sessions whose handshake completed.
    pub handshakes: u64,
    /// Sessions open now.
    pub sessions: usize,
    /// Contacts in the routing table.
    pub contacts: usize,
    /// DHT messages received that did not decode.
    pub bad_messages: u64,
    /// Messages dropped because a session's queue was full.
    pub dropped_messages: u64,
    /// DHT requests left unanswered in client mode.
    pub requests_ignored: u64,
    /// Pushed blocks stored for their pushers.
    pub pushes_stored: u64,
    /// Pushed blocks refused (a pusher not accepted, a block not matching its id, a full queue, a
    /// failed store write).
    pub pushes_refused: u64,
    /// Records peers pushed that were handed on to the node.
    pub records_pushed_in: u64,
    /// Records peers pushed that were dropped (no one to take them, or a full queue).
    pub records_dropped: u64,
}

/// A handle to a running node. Clones talk to the same node; the node keeps running until
/// [`NodeHandle::shutdown`] or until every handle is dropped.
#[derive(Clone, Debug)]
pub struct NodeHandle {
    pub(super) tx: mpsc::Sender<Command>,
    pub(super) peer: PeerId,
    pub(super) addr: SocketAddr,
    pub(super) events: EventSender,
}

impl NodeHandle {
    /// The node's identity.
    pub fn peer_id(&self) -> PeerId {
        self.peer
    }

    /// The UDP address the node listens on (with the port the OS chose).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// This node as a bootstrap peer for others (`gfp1…@addr`).
    pub fn bootstrap_peer(&self) -> BootstrapPeer {
        BootstrapPeer {
            peer: Some(self.peer),
            addr: self.addr,
        }
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, NodeError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(make(tx))
            .await
            .map_err(|_| NodeError::Stopped)?;
        rx.await.map_err(|_| NodeError::Stopped)
    }

    /// Joins the network through `peer`: contacts it, then looks up this node's own key. Returns
    /// how many peers the lookup found.
    pub async fn add_peer(&self, peer: BootstrapPeer) -> Result<usize, NodeError> {
        self.ask(|tx| Command::AddPeer(peer, tx)).await?
    }

    /// Tells the pusher of block `id` whether the store kept it (the node's store does this after
    /// each [`PushedBlock`](super::PushedBlock)).
    pub async fn push_done(
        &self,
        peer: PeerId,
        id: gofast_core::block::BlockId,
        stored: bool,
    ) -> Result<(), NodeError> {
        self.tx
            .send(Command::PushDone(peer, id, stored))
            .await
            .map_err(|_| NodeError::Stopped)
    }

    /// Sends `record` straight to `peer` over its session (opened first if there is none, at the
    /// address its session or the routing table has): `docs/spec/record.md`, "Pushed records".
    /// Returns once it is queued; nothing answers it. [`NodeError::UnknownPeer`] when no address of
    /// the peer is known (find it first with [`Self::find_peer`]).
    pub async fn push_record(&self, peer: PeerId, record: Record) -> Result<(), NodeError> {
        self.ask(|tx| Command::PushRecord(peer, Box::new(record), tx))
            .await?
    }

    /// Where `peer` is known to be, without a lookup: the address of its session if there is
    /// one, else the routing table's. `None` if neither knows it (then [`Self::find_peer`]).
    pub async fn known_addr(&self, peer: PeerId) -> Result<Option<SocketAddr>, NodeError> {
        self.ask(|tx| Command::KnownAddr(peer, tx)).await
    }

    /// Finds where `peer` is.
    pub async fn find_peer(&self, peer: PeerId) -> Result<Option<SocketAddr>, NodeError> {
        self.ask(|tx| Command::FindPeer(peer, tx)).await?
    }

    /// Sends `peer` a DHT ping over its session (opened first if there is none, at the address its
    /// session or the routing table has). The round trip when it answered in time, `None` when it
    /// did not; [`NodeError::UnknownPeer`] when no address of it is known.
    pub async fn ping(&self, peer: PeerId) -> Result<Option<std::time::Duration>, NodeError> {
        self.ask(|tx| Command::Ping(peer, tx)).await?
    }

    /// The newest valid record in slot `key`, if the network holds one.
    pub async fn get_record(&self, key: DhtKey) -> Result<Option<Record>, NodeError> {
        self.ask(|tx| Command::GetRecord(key, tx)).await?
    }

    /// Stores `record` at the peers closest to its slot.
    pub async fn put_record(&self, record: Record) -> Result<PutReport, NodeError> {
        self.ask(|tx| Command::PutRecord(Box::new(record), tx))
            .await?
    }

    /// Announces a provider record at the peers closest to its root.
    pub async fn add_provider(&self, provider: Provider) -> Result<PutReport, NodeError> {
        self.ask(|tx| Command::AddProvider(provider, tx)).await?
    }

    /// The unexpired providers of `root` the network knows.
    pub async fn get_providers(&self, root: [u8; 32]) -> Result<Vec<Provider>, NodeError> {
        self.ask(|tx| Command::GetProviders(root, tx)).await?
    }

    /// The peers in the routing table.
    pub async fn peers(&self) -> Result<Vec<PeerInfo>, NodeError> {
        self.ask(Command::Peers).await
    }

    /// Counters of the network side.
    pub async fn stats(&self) -> Result<NetStats, NodeError> {
        self.ask(Command::Stats).await
    }

    /// Where the network side reports its events ([`NodeEvent`](crate::events::NodeEvent)s); the
    /// node's other parts report through it too.
    pub fn events(&self) -> &EventSender {
        &self.events
    }

    /// Suspends the network side (a phone app going to the background): no datagram is read or
    /// sent and no timer runs, so the radio can sleep; sessions stay as they are (a peer that
    /// gives up on one is answered with a new handshake after [`NodeHandle::resume`]). DHT
    /// operations asked for while suspended fail with [`NodeError::Suspended`]; those under way
    /// wait. Suspending a suspended node does nothing.
    pub async fn suspend(&self) -> Result<(), NodeError> {
        self.ask(|tx| Command::Suspend(true, tx)).await
    }

    /// Ends a suspend: timers run again (those that fell due meanwhile at once: request timeouts,
    /// rekeys, idle sessions closed) and datagrams flow.
    pub async fn resume(&self) -> Result<(), NodeError> {
        self.ask(|tx| Command::Suspend(false, tx)).await
    }

    /// Stops the node: sessions are closed and the task ends.
    pub async fn shutdown(&self) -> Result<(), NodeError> {
        self.tx
            .send(Command::Shutdown)
            .await
            .map_err(|_| NodeError::Stopped)
    }
}
