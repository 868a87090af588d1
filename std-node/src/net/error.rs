//! What can go wrong when asking a node to do something.

/// Why a node operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The node has stopped (shut down, or its task ended).
    #[error("the node is not running")]
    Stopped,
    /// The node has as much work queued as it takes; try again after some finishes.
    #[error("the node is busy: too many operations in progress, try again shortly")]
    Busy,
    /// The node is suspended; resume it first.
    #[error("the node is suspended: resume it first")]
    Suspended,
    /// The node knows no address of this peer (no session, not in the routing table).
    #[error("no address is known for peer {0}")]
    UnknownPeer(gofast_core::identity::PeerId),
    /// A socket could not be opened or used.
    #[error("network error on {what}: {source}")]
    Io {
        /// What the node was doing.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}
