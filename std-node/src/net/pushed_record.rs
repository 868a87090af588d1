//! Pushed records: a peer sends a signed record straight over its session, unasked, to a peer it
//! knows wants it (`docs/spec/record.md`, "Pushed records"). A volume's device tells the others of
//! its new head this way, at once, instead of leaving them to find it in the DHT. The record's
//! signature is checked when it is decoded; what it means is the receiver's business.

use gofast_core::identity::PeerId;
use gofast_core::record::Record;

/// Pushed records waiting for the node to look at them. At the bound a push is dropped (and
/// counted): the record is in the DHT too, where the receiver finds it when it next looks.
pub const PUSHED_RECORD_QUEUE: usize = 64;

/// A record a peer pushed.
#[derive(Clone, Debug)]
pub struct PushedRecord {
    /// The session's peer (not necessarily the record's signer).
    pub from: PeerId,
    /// The record, its signature checked.
    pub record: Record,
}
