//! Answering other peers: their requests are queued as small entries and the answers built when
//! drained; the provider records this node holds for others.

use crate::dht::message::{Body, DhtMessage, NodeInfo, Nodes, StoreResult};
use crate::dht::store::make_room_for;
use crate::dht::{
    MAX_NODES, MAX_PROVIDERS, Provider, PutOutcome, RecordStore, StoreError, root_dht_key,
};
use crate::identity::{DhtKey, PeerId};
use crate::record::UpdateError;
use crate::time::{Duration, Instant};

use super::{Node, NodeAddress, Transmit};

/// What to answer, built when drained.
#[derive(Clone, Debug)]
pub(super) enum AnswerKind {
    Pong,
    Nodes { target: DhtKey },
    Value { key: DhtKey },
    Stored(StoreResult),
    Providers { root: [u8; 32] },
}

/// A queued answer.
#[derive(Clone, Debug)]
pub(super) struct Answer<A> {
    pub(super) peer: PeerId,
    pub(super) addr: A,
    pub(super) request_id: u64,
    pub(super) kind: AnswerKind,
}

/// A provider record held for others, until `until` (its own expiry or the node's limit).
#[derive(Clone, Debug)]
pub(super) struct StoredProvider {
    pub(super) key: DhtKey,
    pub(super) provider: Provider,
    pub(super) until: Instant,
}

impl<
    A: NodeAddress,
    S: RecordStore,
    const K: usize,
    const CAP: usize,
    const REPL: usize,
    const D: usize,
    const C: usize,
    const Q: usize,
    const P: usize,
    const PROV: usize,
> Node<A, S, K, CAP, REPL, D, C, Q, P, PROV>
{
    /// A request from `from`: the requester enters the table (Kademlia learns from every message)
    /// unless it is a DHT client, stores happen now, and the answer is queued.
    #[inline(never)]
    pub(super) fn serve(
        &mut self,
        now: Instant,
        (from, addr, client): (PeerId, A, bool),
        request_id: u64,
        body: &Body,
    ) {
        if !client {
            self.observe(from, addr.clone(), now);
        }
        let kind = match body {
            Body::Ping => AnswerKind::Pong,
            Body::FindNode { target } => AnswerKind::Nodes { target: *target },
            Body::FindValue { key } => AnswerKind::Value { key: *key },
            Body::GetProviders { root } => AnswerKind::Providers { root: *root },
            Body::Store { record } => {
                AnswerKind::Stored(match self.store.put(record.clone(), now) {
                    Ok(PutOutcome::Stored) => StoreResult::Stored,
                    Ok(PutOutcome::Replaced { .. }) => StoreResult::Replaced,
                    Ok(PutOutcome::Refreshed) => StoreResult::Refreshed,
                    Err(StoreError::Update(UpdateError::Conflict { .. })) => StoreResult::Conflict,
                    Err(StoreError::Update(_)) => StoreResult::Stale,
                    Err(StoreError::Full | StoreError::PublisherQuota) => StoreResult::Full,
                })
            }
            Body::AddProvider { provider } => {
                AnswerKind::Stored(self.hold_provider(provider.clone(), now))
            }
            // Answers are handled by the caller of this function.
            _ => return,
        };
        self.stats.served += 1;
        let answer = Answer {
            peer: from,
            addr,
            request_id,
            kind,
        };
        if self.answers.push_back(answer).is_err() {
            self.stats.answers_dropped += 1;
        }
    }

    /// Builds a queued answer from the node's state now. Out of line: its temporaries (a body, the
    /// closest contacts) leave the stack before the caller encodes the message.
    #[inline(never)]
    pub(super) fn build_answer(&mut self, answer: Answer<A>, now: Instant) -> Transmit<A> {
        let Answer {
            peer,
            addr,
            request_id,
            kind,
        } = answer;
        let body = match kind {
            AnswerKind::Pong => Body::Pong,
            AnswerKind::Nodes { target } => Body::Nodes {
                nodes: self.nodes_for(&target, &peer, now),
            },
            AnswerKind::Value { key } => Body::Value {
                record: self.store.get(&key).cloned(),
                nodes: self.nodes_for(&key, &peer, now),
            },
            AnswerKind::Stored(result) => Body::Stored { result },
            AnswerKind::Providers { root } => {
                let key = root_dht_key(&root);
                let mut providers: heapless::Vec<Provider, MAX_PROVIDERS> = heapless::Vec::new();
                for p in self
                    .providers
                    .iter()
                    .filter(|p| p.key == key && p.until > now)
                {
                    if providers.push(p.provider.clone()).is_err() {
                        break;
                    }
                }
                Body::Providers {
                    providers,
                    nodes: self.nodes_for(&key, &peer, now),
                }
            }
        };
        Transmit {
            peer,
            addr,
            message: DhtMessage {
                request_id,
                body,
                client: self.config.client,
            },
            query: None,
        }
    }

    /// The closest contacts to `target` for an answer to `asker`, who is left out.
    fn nodes_for(&self, target: &DhtKey, asker: &PeerId, now: Instant) -> Nodes {
        let mut nodes = Nodes::new();
        // A contact that failed its last request, or was not heard from for a refresh interval,
        // is not passed on: under churn it is likely gone, and the asker would wait on it in
        // vain. (This node keeps it until it fails; Kademlia keeps stale contacts.)
        let fit = |c: &crate::dht::Contact<A>| {
            c.peer != *asker
                && c.failures == 0
                && now.saturating_duration_since(c.last_seen) < self.config.refresh_interval
        };
        for c in self
            .table
            .closest_where::<MAX_NODES>(target, fit)
            .take(K.min(MAX_NODES))
        {
            let _ = nodes.push(NodeInfo {
                peer: c.peer,
                addr: c.addr.to_bytes(),
            });
        }
        nodes
    }

    /// Holds a provider record for others (already verified by decoding).
    pub(super) fn hold_provider(&mut self, provider: Provider, now: Instant) -> StoreResult {
        let unix_now = self.unix_now(now);
        if provider.is_expired(unix_now) {
            return StoreResult::Stale;
        }
        let left = Duration::from_secs(provider.expires().saturating_sub(unix_now));
        let until = now.saturating_add(left.min(self.config.provider_ttl));
        let key = provider.dht_key();
        self.providers.retain(|p| p.until > now);
        if let Some(held) = self
            .providers
            .iter_mut()
            .find(|p| p.key == key && p.provider.provider() == provider.provider())
        {
            if provider.expires() >= held.provider.expires() {
                held.provider = provider;
                held.until = until;
                return StoreResult::Refreshed;
            }
            return StoreResult::Stale;
        }
        let of_peer = self
            .providers
            .iter()
            .filter(|p| p.provider.provider() == provider.provider())
            .count();
        if of_peer >= self.config.max_providers_per_peer {
            return StoreResult::Full;
        }
        // As the record store: when full, keep what this node is responsible for.
        if !make_room_for(&mut self.providers, &key, &self.key, |p| &p.key) {
            return StoreResult::Full;
        }
        let _ = self.providers.push(StoredProvider {
            key,
            provider,
            until,
        });
        StoreResult::Stored
    }

    /// Drops provider records whose time is up.
    pub(super) fn expire_providers(&mut self, now: Instant) {
        self.providers.retain(|p| p.until > now);
    }

    /// Provider records held for others.
    pub fn providers_held(&self) -> usize {
        self.providers.len()
    }
}
