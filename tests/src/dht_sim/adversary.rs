//! Adversarial nodes: they run the honest node (so that they sit in others' tables like anyone) and
//! lie in their answers.

use gofast_core::dht::{Body, DhtMessage, NodeInfo, Nodes};
use gofast_core::identity::{DhtKey, PeerId};

/// How an adversarial node lies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adversary {
    /// Answers nothing.
    Drop,
    /// Names the adversaries nearest the key instead of the honest peers it knows: an eclipse
    /// attempt on every lookup through it.
    Eclipse,
    /// As `Eclipse`, and serves the oldest version of a record it knows.
    Stale,
    /// As `Eclipse`, and serves records whose signatures do not verify.
    Forge,
}

impl Adversary {
    /// The four kinds, dealt in turn.
    pub const ALL: [Adversary; 4] = [
        Adversary::Drop,
        Adversary::Eclipse,
        Adversary::Stale,
        Adversary::Forge,
    ];
}

/// What an adversary sends instead of an honest answer.
pub(super) enum Lie {
    /// Nothing.
    Silence,
    /// This message.
    Message(Box<DhtMessage>),
    /// These bytes (a message that will not decode).
    Bytes(Vec<u8>),
}

/// The `n` adversaries nearest `target`, as answer entries.
pub(super) fn nearest_adversaries(
    adversaries: &[(DhtKey, PeerId, u32)],
    target: &DhtKey,
    n: usize,
) -> Nodes {
    let mut best: Vec<(&DhtKey, &PeerId, u32)> = Vec::with_capacity(n + 1);
    for (key, peer, addr) in adversaries {
        let d = key.distance(target);
        let pos = best
            .iter()
            .position(|(k, _, _)| d < k.distance(target))
            .unwrap_or(best.len());
        if pos < n {
            best.insert(pos, (key, peer, *addr));
            best.truncate(n);
        }
    }
    let mut nodes = Nodes::new();
    for (_, peer, addr) in best {
        let _ = nodes.push(NodeInfo {
            peer: *peer,
            addr: super::world::addr_bytes(addr),
        });
    }
    nodes
}

/// The key an answer is about, for the nodes it names.
pub(super) fn answer_key(request: &Body) -> Option<DhtKey> {
    match request {
        Body::FindNode { target } => Some(*target),
        Body::FindValue { key } => Some(*key),
        Body::GetProviders { root } => Some(gofast_core::dht::root_dht_key(root)),
        _ => None,
    }
}

/// What adversary `kind` sends instead of `answer` (to a request about `key`): `nearest` names the
/// adversaries nearest a key, `stale` is the oldest version of the record in question, if the
/// simulation published one.
pub(super) fn lie(
    kind: Adversary,
    answer: DhtMessage,
    key: Option<DhtKey>,
    nearest: impl FnOnce(&DhtKey) -> Nodes,
    stale: Option<&gofast_core::record::Record>,
) -> Lie {
    if kind == Adversary::Drop {
        return Lie::Silence;
    }
    let Some(key) = key else {
        // Pings and stores are answered honestly: the node stays in tables and looks useful.
        return Lie::Message(Box::new(answer));
    };
    let fake = nearest(&key);
    let request_id = answer.request_id;
    let body = match answer.body {
        Body::Nodes { .. } => Body::Nodes { nodes: fake },
        Body::Providers { .. } => Body::Providers {
            providers: heapless::Vec::new(),
            nodes: fake,
        },
        Body::Value { record, .. } => match kind {
            Adversary::Stale => Body::Value {
                record: stale.cloned().or(record),
                nodes: fake,
            },
            Adversary::Forge => {
                if let Some(r) = stale.cloned().or(record) {
                    // kind, request id, has_record, then the record: public key, salt, seq, value,
                    // signature. Flip the signature's first byte, which every receiver checks
                    // while decoding.
                    let sig_at = 1 + 8 + 1 + 32 + 1 + r.salt().len() + 8 + 2 + r.value().len();
                    let msg = DhtMessage {
                        request_id,
                        body: Body::Value {
                            record: Some(r),
                            nodes: fake,
                        },
                        client: false,
                    };
                    let mut bytes = gofast_core::codec::encode_to_vec(&msg);
                    if let Some(b) = bytes.get_mut(sig_at) {
                        *b ^= 0x40;
                    }
                    return Lie::Bytes(bytes);
                }
                Body::Value {
                    record: None,
                    nodes: fake,
                }
            }
            _ => Body::Value {
                record: None,
                nodes: fake,
            },
        },
        other => other,
    };
    Lie::Message(Box::new(DhtMessage {
        request_id,
        body,
        client: false,
    }))
}
