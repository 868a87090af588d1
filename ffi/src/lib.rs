//! `gofast-ffi`: a whole gofast peer for phone apps and scripts, through uniffi (proc-macros).
//!
//! Translation only: every call turns into a call on [`gofast_node::node::Node`], with its
//! arguments parsed and its errors mapped to the one small [`GofastError`]. Work runs on one tokio
//! runtime owned by this library ([`runtime`]); async functions are futures the foreign side
//! awaits, and they stop their work when it drops them. Long work ([`Node::add_file`],
//! [`Node::get_to_file`]) returns a [`Transfer`] that cancels when dropped. Panics never cross the
//! boundary: uniffi catches them in calls, the runtime catches them in tasks, and both arrive as
//! [`GofastError::Internal`] or the binding's own internal error.
//!
//! The generated Kotlin, Swift and Python live in `bindings/` (`cargo xtask bindings`).

uniffi::setup_scaffolding!("gofast");

mod config;
mod error;
mod events;
mod node;
mod runtime;
mod text;
mod transfer;
mod tree;
mod volume;

pub use config::{NodeConfig, PeerInfo, Pin, Stats};
pub use error::GofastError;
pub use events::{Event, EventListener, Subscription};
pub use node::{AddResult, Node, start_node};
pub use text::{UriInfo, parse_peer_id, parse_uri};
pub use transfer::{ProgressListener, Transfer, TransferResult};
pub use volume::{DirItem, SnapshotItem, SyncSummary, Volume, VolumeSummary};
