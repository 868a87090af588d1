//! How a node is set up: where it listens, whom it asks first, and its limits.

use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;

use gofast_core::dht::DhtConfig;
use gofast_core::identity::PeerId;

/// A node's settings. The default listens on 127.0.0.1 with a port the OS picks: a node is only
/// reachable from other machines when asked to be.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// The UDP address to listen on.
    pub listen: SocketAddr,
    /// Peers to join the network through.
    pub bootstrap: Vec<BootstrapPeer>,
    /// Bounds on every table and queue.
    pub limits: Limits,
    /// The DHT's parameters (its `unix_at_zero` is set from the OS clock when the node starts).
    pub dht: DhtConfig,
    /// DHT client mode: the node asks but does not answer other peers' DHT requests, so it stores
    /// nobody's records and is not worth routing through. Its DHT messages carry the client flag
    /// (`DhtConfig::client`), so peers keep it out of their tables. For phones on battery and
    /// metered links.
    pub client_mode: bool,
    /// Peers whose pushed blocks the node keeps (the devices it hosts, `docs/spec/exchange.md`);
    /// everyone else's pushes are refused.
    pub accept_pushes_from: Vec<PeerId>,
    /// Where accepted pushed blocks go (`Node::start` sets it to its store's; without it every
    /// push is refused).
    pub push_sink: Option<tokio::sync::mpsc::Sender<super::PushedBlock>>,
    /// Where records peers push go (`Node::start` sets it to its volumes'); without it they are
    /// dropped.
    pub record_sink: Option<tokio::sync::mpsc::Sender<super::PushedRecord>>,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            bootstrap: Vec::new(),
            limits: Limits::default(),
            dht: DhtConfig::default(),
            client_mode: false,
            accept_pushes_from: Vec::new(),
            push_sink: None,
            record_sink: None,
        }
    }
}

/// Bounds, each with its policy when reached (see the field docs).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Sessions held at once. At the bound a new dial closes the least recently active session;
    /// a stranger's handshake is dropped.
    pub max_sessions: usize,
    /// Sessions still in their handshake. At the bound new inbound handshakes are dropped (a flood
    /// of first messages cannot fill the session table).
    pub max_handshakes: usize,
    /// Encoded messages waiting on one session (for its handshake or for flow-control credit). At
    /// the bound the newest is dropped; the DHT treats it as a lost request.
    pub max_waiting_per_session: usize,
    /// Operations waiting for a free DHT query slot. At the bound callers get [`NodeError::Busy`].
    ///
    /// [`NodeError::Busy`]: super::NodeError::Busy
    pub max_deferred: usize,
    /// Commands queued from handles before callers wait (backpressure).
    pub command_queue: usize,
    /// A session without application traffic for this long is closed.
    pub idle_timeout: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_sessions: 4096,
            max_handshakes: 256,
            max_waiting_per_session: 64,
            max_deferred: 256,
            command_queue: 256,
            idle_timeout: std::time::Duration::from_secs(300),
        }
    }
}

/// A peer to join through: an address, and its identity if known (`gfp1…@127.0.0.1:4000`).
/// Without the identity the first contact learns it (Noise XX); with it, the handshake proves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootstrapPeer {
    /// The identity expected at `addr`, if known.
    pub peer: Option<PeerId>,
    /// Its UDP address.
    pub addr: SocketAddr,
}

/// Why a bootstrap peer's text did not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BootstrapPeerError {
    /// The address part is not `IP:PORT`.
    #[error("`{0}` is not an address like 127.0.0.1:4000 or [::1]:4000")]
    Address(String),
    /// The identity part is not a peer id.
    #[error("`{0}` is not a peer id (they start with gfp1)")]
    Peer(String),
}

impl FromStr for BootstrapPeer {
    type Err = BootstrapPeerError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (peer, addr) = match s.rsplit_once('@') {
            Some((p, a)) => (
                Some(
                    p.parse::<PeerId>()
                        .map_err(|_| BootstrapPeerError::Peer(p.to_owned()))?,
                ),
                a,
            ),
            None => (None, s),
        };
        let addr = addr
            .parse::<SocketAddr>()
            .map_err(|_| BootstrapPeerError::Address(addr.to_owned()))?;
        Ok(BootstrapPeer { peer, addr })
    }
}

impl std::fmt::Display for BootstrapPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.peer {
            Some(p) => write!(f, "{p}@{}", self.addr),
            None => write!(f, "{}", self.addr),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gofast_core::crypto::SecretBytes;
    use gofast_core::identity::KeyPair;

    #[test]
    fn bootstrap_peers_parse_with_and_without_identity() {
        let id = KeyPair::from_seed(&SecretBytes::new([3; 32])).peer_id();
        let with: BootstrapPeer = format!("{id}@127.0.0.1:4000").parse().unwrap();
        assert_eq!(with.peer, Some(id));
        assert_eq!(with.to_string(), format!("{id}@127.0.0.1:4000"));
        let without: BootstrapPeer = "[::1]:9".parse().unwrap();
        assert_eq!(without.peer, None);
        assert!(matches!(
            "gfp1nope@127.0.0.1:1".parse::<BootstrapPeer>(),
            Err(BootstrapPeerError::Peer(_))
        ));
        assert!(matches!(
            "localhost".parse::<BootstrapPeer>(),
            Err(BootstrapPeerError::Address(_))
        ));
    }
}
