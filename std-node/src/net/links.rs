//! The sessions of one node, one per remote UDP address, with their waiting messages and the
//! bounds on both.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

use gofast_core::identity::PeerId;
use gofast_core::session::{Session, StreamId};
use gofast_core::time::Instant;

use crate::aead::RingAead;

/// Streams one session holds: the DHT's in each direction, and room for the block exchange.
pub(super) const STREAMS: usize = 8;

/// A session as the node runs it.
pub(super) type NodeSession = Session<RingAead, STREAMS>;

/// One remote address's session.
pub(super) struct Link {
    pub(super) session: NodeSession,
    /// The identity dialled (IK) or proved by the handshake.
    pub(super) peer: Option<PeerId>,
    /// This side's stream for DHT messages, opened on first use after the handshake.
    pub(super) dht_stream: Option<StreamId>,
    /// Encoded messages waiting for the handshake or for flow-control credit, oldest first.
    pub(super) waiting: VecDeque<Vec<u8>>,
    /// The last application traffic either way (idle sessions are closed).
    pub(super) last_active: Instant,
    /// Whether this side dialled.
    pub(super) dialled: bool,
    /// The session's next timer as last scheduled.
    pub(super) wake: Option<Instant>,
}

impl Link {
    pub(super) fn new(session: NodeSession, peer: Option<PeerId>, now: Instant) -> Self {
        let dialled = session.is_initiator();
        Link {
            session,
            peer,
            dht_stream: None,
            waiting: VecDeque::new(),
            last_active: now,
            dialled,
            wake: None,
        }
    }

    /// Still in its handshake.
    pub(super) fn handshaking(&self) -> bool {
        !self.session.is_established() && self.session.close_reason().is_none()
    }
}

/// A new handshake from an address that has an established session. It runs beside that session
/// and replaces it only once it proves fresh key material, so a replayed or spoofed first message
/// cannot tear an honest session down.
pub(super) struct Challenger {
    pub(super) session: NodeSession,
    /// Opened with IK: it replaces the session on its first data frame (an IK first message can be
    /// replayed, so its completion proves nothing). Opened with XX: on completion (the third
    /// message answers this side's fresh ephemeral key).
    pub(super) ik: bool,
    /// The identity it proved, once it did.
    pub(super) peer: Option<PeerId>,
    /// When it started (it is dropped if it has not won within a while).
    pub(super) since: Instant,
}

/// Every session, by remote address.
#[derive(Default)]
pub(super) struct Links {
    map: HashMap<SocketAddr, Link>,
    /// At most one challenger per address with a session.
    challengers: HashMap<SocketAddr, Challenger>,
}

impl Links {
    pub(super) fn len(&self) -> usize {
        self.map.len()
    }

    pub(super) fn handshaking(&self) -> usize {
        self.map.values().filter(|l| l.handshaking()).count()
    }

    pub(super) fn get_mut(&mut self, addr: &SocketAddr) -> Option<&mut Link> {
        self.map.get_mut(addr)
    }

    pub(super) fn get(&self, addr: &SocketAddr) -> Option<&Link> {
        self.map.get(addr)
    }

    pub(super) fn contains(&self, addr: &SocketAddr) -> bool {
        self.map.contains_key(addr)
    }

    pub(super) fn insert(&mut self, addr: SocketAddr, link: Link) -> Option<Link> {
        self.map.insert(addr, link)
    }

    pub(super) fn remove(&mut self, addr: &SocketAddr) -> Option<Link> {
        self.challengers.remove(addr);
        self.map.remove(addr)
    }

    pub(super) fn challengers(&self) -> usize {
        self.challengers.len()
    }

    pub(super) fn challenger_mut(&mut self, addr: &SocketAddr) -> Option<&mut Challenger> {
        self.challengers.get_mut(addr)
    }

    /// Sets the challenger of `addr` (replacing an earlier one).
    pub(super) fn challenge(&mut self, addr: SocketAddr, challenger: Challenger) {
        self.challengers.insert(addr, challenger);
    }

    pub(super) fn remove_challenger(&mut self, addr: &SocketAddr) -> Option<Challenger> {
        self.challengers.remove(addr)
    }

    /// Drops the challengers that started before `cutoff` without winning.
    pub(super) fn expire_challengers(&mut self, cutoff: Instant) {
        self.challengers.retain(|_, c| c.since >= cutoff);
    }

    /// The address of the session with `peer` (where it speaks from now), if there is one. A
    /// peer that restarted on another port may have a stale session at its old address too: the
    /// established session heard from last wins.
    pub(super) fn addr_of(&self, peer: &PeerId) -> Option<SocketAddr> {
        self.map
            .iter()
            .filter(|(_, l)| l.peer.as_ref() == Some(peer))
            .max_by_key(|(_, l)| (l.session.is_established(), l.last_active))
            .map(|(a, _)| *a)
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&SocketAddr, &Link)> {
        self.map.iter()
    }

    /// The address of the session with the oldest application traffic (the one a new dial
    /// replaces when the table is full).
    pub(super) fn least_recently_active(&self) -> Option<SocketAddr> {
        self.map
            .iter()
            .min_by_key(|(_, l)| l.last_active)
            .map(|(a, _)| *a)
    }

    /// Addresses of sessions idle since before `cutoff`, or closed.
    pub(super) fn idle_or_closed(&self, cutoff: Instant) -> Vec<SocketAddr> {
        self.map
            .iter()
            .filter(|(_, l)| l.last_active < cutoff || l.session.close_reason().is_some())
            .map(|(a, _)| *a)
            .collect()
    }
}
