//! The DHT's requests and answers: PING, FIND_NODE, FIND_VALUE, STORE, ADD_PROVIDER, GET_PROVIDERS.
//!
//! Each is one top-level message (type `Dht`, behind the codec's header) carrying a request id that
//! the answer repeats. Every list and field is bounded; records and provider records verify while
//! they decode. They travel inside secure sessions (`docs/spec/dht.md`).

use crate::codec::{
    Decode, DecodeError, Encode, EncodeError, Message, MessageType, Reader, Writer,
};
use crate::identity::{DhtKey, PeerId};
use crate::record::{MAX_RECORD_LEN, Record};

use super::provider::{PROVIDER_LEN, Provider};

/// Most peers in one answer (Kademlia's k on std).
pub const MAX_NODES: usize = 20;
/// Most provider records in one answer.
pub const MAX_PROVIDERS: usize = 20;
/// Longest transport address of a peer (opaque to the core; IPv6 and port take 18).
pub const MAX_ADDR_LEN: usize = 32;
/// Longest encoded DHT message, header included.
pub const MAX_DHT_MESSAGE_LEN: usize = 2
    + 1
    + 8
    + 1
    + MAX_PROVIDERS * PROVIDER_LEN
    + 1
    + MAX_NODES * (32 + 1 + MAX_ADDR_LEN)
    + MAX_RECORD_LEN;

/// A peer and where to reach it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    /// The peer.
    pub peer: PeerId,
    /// Its transport address, as the node layer encodes it.
    pub addr: heapless::Vec<u8, MAX_ADDR_LEN>,
}

/// A list of peers in an answer.
pub type Nodes = heapless::Vec<NodeInfo, MAX_NODES>;

/// What a storer did with a STORE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum StoreResult {
    /// Stored in a new slot.
    Stored = 0,
    /// Replaced a lower sequence.
    Replaced = 1,
    /// Already held; expiry extended.
    Refreshed = 2,
    /// Refused: the storer holds a higher sequence.
    Stale = 3,
    /// Refused: the storer holds another value at this sequence.
    Conflict = 4,
    /// Refused: the storer is full of records closer to it.
    Full = 5,
}

/// The body of a DHT message.
// The answers with lists are large (a few KiB); without `alloc` they cannot be boxed, and a message is
// decoded once into a buffer the caller owns.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// Are you there?
    Ping,
    /// Yes.
    Pong,
    /// Which peers do you know closest to `target`?
    FindNode {
        /// The key looked up.
        target: DhtKey,
    },
    /// The answer to `FindNode`.
    Nodes {
        /// The closest peers the answerer knows.
        nodes: Nodes,
    },
    /// Do you hold the record in slot `key`? If not, which peers are closer?
    FindValue {
        /// The slot key.
        key: DhtKey,
    },
    /// The answer to `FindValue`: the record if held, and closer peers.
    Value {
        /// The record held, if any.
        record: Option<Record>,
        /// The closest peers the answerer knows.
        nodes: Nodes,
    },
    /// Please store this record.
    Store {
        /// The record (verified on decode).
        record: Record,
    },
    /// The answer to `Store`.
    Stored {
        /// What happened.
        result: StoreResult,
    },
    /// Please store this provider record.
    AddProvider {
        /// The provider record (verified on decode).
        provider: Provider,
    },
    /// Who holds the blocks under `root`?
    GetProviders {
        /// The root block id.
        root: [u8; 32],
    },
    /// The answer to `GetProviders`.
    Providers {
        /// Provider records held for the root.
        providers: heapless::Vec<Provider, MAX_PROVIDERS>,
        /// The closest peers the answerer knows.
        nodes: Nodes,
    },
}

/// A DHT request or answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DhtMessage {
    /// Chosen by the requester; the answer carries the same id.
    pub request_id: u64,
    /// The request or answer.
    pub body: Body,
    /// The sender is a DHT client ([`CLIENT_FLAG`] on the wire): it holds no records for others and
    /// may not be reachable, so receivers keep it out of their routing tables and never name it.
    pub client: bool,
}

/// The bit of the `kind` byte that marks a message from a DHT client.
pub const CLIENT_FLAG: u8 = 0x80;

impl Body {
    /// Whether this is a request (answered by its receiver), as opposed to an answer.
    pub fn is_request(&self) -> bool {
        matches!(
            self,
            Body::Ping
                | Body::FindNode { .. }
                | Body::FindValue { .. }
                | Body::Store { .. }
                | Body::AddProvider { .. }
                | Body::GetProviders { .. }
        )
    }
}

fn kind(body: &Body) -> u8 {
    match body {
        Body::Ping => 1,
        Body::Pong => 2,
        Body::FindNode { .. } => 3,
        Body::Nodes { .. } => 4,
        Body::FindValue { .. } => 5,
        Body::Value { .. } => 6,
        Body::Store { .. } => 7,
        Body::Stored { .. } => 8,
        Body::AddProvider { .. } => 9,
        Body::GetProviders { .. } => 10,
        Body::Providers { .. } => 11,
    }
}

fn nodes_len(nodes: &Nodes) -> usize {
    1 + nodes.iter().map(|n| 32 + 1 + n.addr.len()).sum::<usize>()
}

fn encode_nodes(nodes: &Nodes, w: &mut Writer<'_>) -> Result<(), EncodeError> {
    // A heapless list holds at most MAX_NODES (20), so the count fits a byte.
    w.put_u8(u8::try_from(nodes.len()).unwrap_or(u8::MAX))?;
    for n in nodes {
        w.put_bytes(n.peer.as_bytes())?;
        w.put_bytes_u8_len(&n.addr, MAX_ADDR_LEN)?;
    }
    Ok(())
}

fn decode_nodes(r: &mut Reader<'_>) -> Result<Nodes, DecodeError> {
    let count = r.count_u8("dht.nodes", MAX_NODES)?;
    let mut nodes = Nodes::new();
    for _ in 0..count {
        let peer = PeerId::decode(r)?;
        let addr = r.bytes_u8_len("dht.node.addr", MAX_ADDR_LEN)?;
        let addr = heapless::Vec::from_slice(addr).map_err(|_| DecodeError::LengthTooLarge {
            field: "dht.node.addr",
            max: MAX_ADDR_LEN,
            found: addr.len(),
        })?;
        // Room was checked by the count.
        let _ = nodes.push(NodeInfo { peer, addr });
    }
    Ok(nodes)
}

impl Encode for DhtMessage {
    fn encoded_len(&self) -> usize {
        1 + 8
            + match &self.body {
                Body::Ping | Body::Pong => 0,
                Body::FindNode { .. } | Body::FindValue { .. } | Body::GetProviders { .. } => 32,
                Body::Nodes { nodes } => nodes_len(nodes),
                Body::Value { record, nodes } => {
                    1 + record.as_ref().map_or(0, Encode::encoded_len) + nodes_len(nodes)
                }
                Body::Store { record } => record.encoded_len(),
                Body::Stored { .. } => 1,
                Body::AddProvider { .. } => PROVIDER_LEN,
                Body::Providers { providers, nodes } => {
                    1 + providers.len() * PROVIDER_LEN + nodes_len(nodes)
                }
            }
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_u8(kind(&self.body) | if self.client { CLIENT_FLAG } else { 0 })?;
        w.put_u64(self.request_id)?;
        match &self.body {
            Body::Ping | Body::Pong => Ok(()),
            Body::FindNode { target: key } | Body::FindValue { key } => w.put_bytes(&key.0),
            Body::GetProviders { root } => w.put_bytes(root),
            Body::Nodes { nodes } => encode_nodes(nodes, w),
            Body::Value { record, nodes } => {
                match record {
                    Some(r) => {
                        w.put_u8(1)?;
                        r.encode(w)?;
                    }
                    None => w.put_u8(0)?,
                }
                encode_nodes(nodes, w)
            }
            Body::Store { record } => record.encode(w),
            Body::Stored { result } => w.put_u8(*result as u8),
            Body::AddProvider { provider } => provider.encode(w),
            Body::Providers { providers, nodes } => {
                w.put_u8(u8::try_from(providers.len()).unwrap_or(u8::MAX))?;
                for p in providers {
                    p.encode(w)?;
                }
                encode_nodes(nodes, w)
            }
        }
    }
}

impl<'a> Decode<'a> for DhtMessage {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        decode_dht::<true>(r)
    }
}

/// A DHT message as a node that holds no records decodes it ([`DhtConfig::client`]'s profile on a
/// microcontroller): a message that carries a record or provider records (a `Value` with its record,
/// `Store`, `AddProvider`, `Providers` with any) is refused as [`DecodeError::InvalidValue`]
/// instead of decoded. Such a node then links neither their decoders nor signature verification,
/// and a peer that honours [`DhtMessage::client`] never sends it those.
///
/// [`DhtConfig::client`]: crate::dht::DhtConfig::client
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordlessDhtMessage(pub DhtMessage);

impl<'a> Decode<'a> for RecordlessDhtMessage {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        decode_dht::<false>(r).map(RecordlessDhtMessage)
    }
}

impl Encode for RecordlessDhtMessage {
    fn encoded_len(&self) -> usize {
        self.0.encoded_len()
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.0.encode(w)
    }
}

impl Message for RecordlessDhtMessage {
    const TYPE: MessageType = MessageType::Dht;
}

/// What a record-less decoder says of a message that carries records.
const CARRIES_RECORDS: DecodeError = DecodeError::InvalidValue {
    field: "dht.kind",
    reason: "carries records, which this node does not decode",
};

/// A DHT message; with `RECORDS` false, those that carry records are refused (see
/// [`RecordlessDhtMessage`]). Inlined into both, so each keeps only the arms it decodes.
#[inline(always)]
fn decode_dht<const RECORDS: bool>(r: &mut Reader<'_>) -> Result<DhtMessage, DecodeError> {
    let tag = r.u8()?;
    let client = tag & CLIENT_FLAG != 0;
    let request_id = r.u64()?;
    let body = match tag & !CLIENT_FLAG {
        1 => Body::Ping,
        2 => Body::Pong,
        3 => Body::FindNode {
            target: DhtKey(r.array()?),
        },
        4 => Body::Nodes {
            nodes: decode_nodes(r)?,
        },
        5 => Body::FindValue {
            key: DhtKey(r.array()?),
        },
        6 => {
            let record = match r.u8()? {
                0 => None,
                1 if !RECORDS => return Err(CARRIES_RECORDS),
                1 => Some(Record::decode(r)?),
                other => {
                    return Err(DecodeError::InvalidTag {
                        field: "dht.value.has_record",
                        tag: other,
                    });
                }
            };
            Body::Value {
                record,
                nodes: decode_nodes(r)?,
            }
        }
        7 | 9 if !RECORDS => return Err(CARRIES_RECORDS),
        7 => Body::Store {
            record: Record::decode(r)?,
        },
        8 => Body::Stored {
            result: match r.u8()? {
                0 => StoreResult::Stored,
                1 => StoreResult::Replaced,
                2 => StoreResult::Refreshed,
                3 => StoreResult::Stale,
                4 => StoreResult::Conflict,
                5 => StoreResult::Full,
                other => {
                    return Err(DecodeError::InvalidTag {
                        field: "dht.stored.result",
                        tag: other,
                    });
                }
            },
        },
        9 => Body::AddProvider {
            provider: Provider::decode(r)?,
        },
        10 => Body::GetProviders { root: r.array()? },
        11 => {
            let count = r.count_u8("dht.providers", MAX_PROVIDERS)?;
            if !RECORDS && count > 0 {
                return Err(CARRIES_RECORDS);
            }
            let mut providers = heapless::Vec::new();
            for _ in 0..count {
                let _ = providers.push(Provider::decode(r)?);
            }
            Body::Providers {
                providers,
                nodes: decode_nodes(r)?,
            }
        }
        other => {
            return Err(DecodeError::InvalidTag {
                field: "dht.kind",
                tag: other,
            });
        }
    };
    Ok(DhtMessage {
        request_id,
        body,
        client,
    })
}

impl Message for DhtMessage {
    const TYPE: MessageType = MessageType::Dht;
}
