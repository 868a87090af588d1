//! The connections of one get to its providers, kept across the fetches it makes:
//! [`Connections`].

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;

use gofast_core::identity::{KeyPair, PeerId};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::BlockSource;
use super::conn::{self, ConnCommand, ConnEvent, Role};
use crate::store::BlockStore;

/// Commands waiting for one connection. Each carries at least one request in flight, so with room
/// for a window's worth (and a few more: the deltas', the close) a send never finds the queue full.
/// A full queue counts as a provider that is not keeping up and drops it: with 64 places and a
/// window of 128 that dropped the only provider of a fetch on loopback.
const COMMANDS: usize = super::get::WINDOW + 8;
/// Time allowed for a TCP connection to a provider.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// Events from connections waiting for the fetch.
const EVENT_QUEUE: usize = 256;

/// Connections to providers (a TCP connection and a Noise session each), kept from one fetch to
/// the next: a directory's get fetches each listing and each file as a tree of its own, and a
/// connection per tree cost about 2.5 ms per small file (`docs/BENCHMARKS.md`). Dropping it
/// closes every connection.
///
/// Fetches use it one at a time. A block or an answer that arrives for an earlier fetch is not
/// in the next one's plan, which ignores it.
pub struct Connections {
    identity: Arc<KeyPair>,
    store: Arc<BlockStore>,
    /// Kept for the connections dialled next; also why `events` never ends on its own.
    events_tx: mpsc::Sender<ConnEvent>,
    pub(super) events: mpsc::Receiver<ConnEvent>,
    pub(super) conns: HashMap<PeerId, mpsc::Sender<ConnCommand>>,
    /// Dialled, session not up yet.
    pub(super) connecting: HashSet<PeerId>,
    /// Session up: a provider for every fetch that follows.
    pub(super) up: HashSet<PeerId>,
    /// Providers dropped for a wrong answer: not dialled again by this pool's fetches.
    penalised: HashSet<PeerId>,
    /// Connections this side closed whose end has not been reported yet. Their peers are not
    /// dialled again until it is: the old connection's end would otherwise be taken for the new
    /// one's.
    closing: HashSet<PeerId>,
}

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connections")
            .field("open", &self.conns.len())
            .field("up", &self.up.len())
            .finish_non_exhaustive()
    }
}

impl Connections {
    /// No connections yet: the fetches dial their providers as they need them.
    pub fn new(identity: Arc<KeyPair>, store: Arc<BlockStore>) -> Connections {
        let (events_tx, events) = mpsc::channel(EVENT_QUEUE);
        Connections {
            identity,
            store,
            events_tx,
            events,
            conns: HashMap::new(),
            connecting: HashSet::new(),
            up: HashSet::new(),
            penalised: HashSet::new(),
            closing: HashSet::new(),
        }
    }

    /// Dials each of `providers` not connected (or being connected) yet, except this node, the
    /// providers it penalised and those whose closed connection has not ended yet.
    pub(super) fn dial(&mut self, providers: &[(PeerId, SocketAddr)]) {
        for &(peer, addr) in providers {
            if self.conns.contains_key(&peer)
                || peer == self.identity.peer_id()
                || self.penalised.contains(&peer)
                || self.closing.contains(&peer)
            {
                continue;
            }
            let (cmd_tx, cmd_rx) = mpsc::channel(COMMANDS);
            self.conns.insert(peer, cmd_tx);
            self.connecting.insert(peer);
            let (identity, store) = (Arc::clone(&self.identity), Arc::clone(&self.store));
            let ev_tx = self.events_tx.clone();
            tokio::spawn(async move {
                let reason =
                    match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
                        Ok(Ok(tcp)) => {
                            let source: Arc<dyn BlockSource> = store;
                            conn::run(tcp, Role::Dial(peer), identity, source, Some(ev_tx), cmd_rx)
                                .await;
                            return;
                        }
                        Ok(Err(e)) => format!("connect to {addr}: {e}"),
                        Err(_) => format!("connect to {addr}: timed out"),
                    };
                let _ = ev_tx
                    .send(ConnEvent::Closed {
                        peer: Some(peer),
                        reason,
                    })
                    .await;
            });
        }
    }

    /// Forgets `peer`'s connection (it ended, or was dropped): the next fetch dials it again if
    /// it is a provider of that one.
    pub(super) fn forget(&mut self, peer: &PeerId) {
        self.conns.remove(peer);
        self.connecting.remove(peer);
        self.up.remove(peer);
    }

    /// Closes the connection of `peer`, which sent a wrong answer, for good: the pool's later
    /// fetches do not ask it either.
    pub(super) fn penalise(&mut self, peer: &PeerId) {
        self.penalised.insert(*peer);
        self.close(peer);
    }

    /// Closes `peer`'s connection and forgets it.
    pub(super) fn close(&mut self, peer: &PeerId) {
        if let Some(tx) = self.conns.get(peer) {
            let _ = tx.try_send(ConnCommand::Close);
            self.closing.insert(*peer);
        }
        self.forget(peer);
    }

    /// Whether the end of `peer`'s connection, just reported, is that of one this side closed
    /// (which is then done with).
    pub(super) fn closed_by_us(&mut self, peer: &PeerId) -> bool {
        self.closing.remove(peer)
    }
}

impl Drop for Connections {
    fn drop(&mut self) {
        for tx in self.conns.values() {
            let _ = tx.try_send(ConnCommand::Close);
        }
    }
}
