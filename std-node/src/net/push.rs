//! Pushed blocks: a device that cannot serve its own blocks (a sensor) sends them unasked over its
//! session to a node that keeps them for it (`docs/spec/exchange.md`, "Pushed blocks"). The network
//! task checks who pushes and that the block is what it claims, hands it to the node's store through
//! a bounded channel, and answers `Have` once the store has it or `DontHave` when it will not.

use gofast_core::block::{BlockId, verify};
use gofast_core::codec::encode_message;
use gofast_core::exchange::ExchangeMessage;
use gofast_core::identity::PeerId;
use tokio::sync::mpsc;

/// Blocks waiting for the store. At the bound a push is refused (`DontHave`): the device tries
/// again with its next entry.
pub const PUSH_QUEUE: usize = 64;

/// A pushed block the network task accepted, for the store.
#[derive(Debug)]
pub struct PushedBlock {
    /// Who pushed it.
    pub peer: PeerId,
    /// Its id (checked: the data hashes to it).
    pub id: BlockId,
    /// Its ciphertext.
    pub data: Vec<u8>,
}

/// Whether a push is taken: from an accepted peer, hashing to its id, with room in the queue.
pub(super) fn take(
    sink: Option<&mpsc::Sender<PushedBlock>>,
    accepted: &[PeerId],
    peer: PeerId,
    id: BlockId,
    data: &[u8],
) -> bool {
    let Some(sink) = sink else {
        return false;
    };
    accepted.contains(&peer)
        && verify(&id, data).is_ok()
        && sink
            .try_send(PushedBlock {
                peer,
                id,
                data: data.to_vec(),
            })
            .is_ok()
}

/// The answer to a push: `Have [id]` when stored, `DontHave [id]` when not.
pub(super) fn answer(id: BlockId, stored: bool) -> Option<Vec<u8>> {
    let mut ids = heapless::Vec::new();
    ids.push(id).ok()?;
    let msg = if stored {
        ExchangeMessage::Have { ids }
    } else {
        ExchangeMessage::DontHave { ids }
    };
    let mut buf = vec![0u8; 64];
    let n = encode_message(&msg, &mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}
