//! The plain records that cross the boundary: how a node is set up, and what it reports.

/// How a node is set up. Only `data_dir` is required.
#[derive(Clone, Debug, uniffi::Record)]
pub struct NodeConfig {
    /// The node's folder: its keys and block store (made on first start; app-private storage on a
    /// phone).
    pub data_dir: String,
    /// UDP and TCP address to listen on, `IP:PORT`. Default `127.0.0.1:0` (loopback, a port the
    /// OS picks); `0.0.0.0:PORT` to be reachable from other machines.
    #[uniffi(default = None)]
    pub listen: Option<String>,
    /// Peers to join through: `gfp1…@IP:PORT` (or just `IP:PORT`).
    #[uniffi(default = [])]
    pub bootstrap: Vec<String>,
    /// The low-power profile: DHT client mode, no background dialling (see the node's docs).
    #[uniffi(default = false)]
    pub low_power: bool,
    /// Most bytes of other people's blocks to cache. Default: a tenth of the free disk space
    /// (at least 64 MiB).
    #[uniffi(default = None)]
    pub cache_quota: Option<u64>,
}

/// A pin: a tree kept permanently under a label.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Pin {
    /// Its label.
    pub label: String,
    /// The URI of its root (`gofast:gfb1…`; with a `/` for a directory).
    pub uri: String,
    /// Blocks it holds.
    pub blocks: u64,
}

/// A peer in the routing table.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct PeerInfo {
    /// Its identity (`gfp1…`).
    pub peer: String,
    /// Where it was last heard from (`IP:PORT`).
    pub address: String,
    /// Whether a session to it is open now.
    pub connected: bool,
}

/// Counters of a node.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Stats {
    /// Datagrams received.
    pub datagrams_in: u64,
    /// Datagrams sent.
    pub datagrams_out: u64,
    /// Bytes received over UDP.
    pub bytes_in: u64,
    /// Bytes sent over UDP.
    pub bytes_out: u64,
    /// Sessions open now.
    pub sessions: u64,
    /// Contacts in the routing table.
    pub contacts: u64,
    /// Blocks kept permanently (pinned).
    pub permanent_blocks: u64,
    /// Their bytes.
    pub permanent_bytes: u64,
    /// Blocks cached for others.
    pub cache_blocks: u64,
    /// Their bytes.
    pub cache_bytes: u64,
    /// Pins.
    pub pins: u64,
    /// Whether the node is suspended.
    pub suspended: bool,
}

/// What a garbage collection did.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct GcResult {
    /// Permanent blocks no pin held for a whole gc interval, now cache (evictable).
    pub demoted: u64,
    /// Cache blocks evicted to meet the quota.
    pub evicted_blocks: u64,
    /// Their bytes.
    pub evicted_bytes: u64,
    /// Disk bytes given back (arenas compacted or deleted).
    pub reclaimed_bytes: u64,
}
