//! Who a peer is: an Ed25519 key pair. Its public key is the [`PeerId`]; the peer's place in the DHT is
//! a [`DhtKey`] derived from it with BLAKE3, so nobody picks their position freely (S/Kademlia).

mod dht_key;
mod keypair;
mod peer_id;

pub use dht_key::DhtKey;
pub use keypair::KeyPair;
pub use peer_id::{PEER_ID_PREFIX, PeerId, PeerIdParseError, ShortPeerId};
