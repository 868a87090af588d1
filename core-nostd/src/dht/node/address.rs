//! How a node's transport address travels in DHT answers: bytes the core does not interpret.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::dht::MAX_ADDR_LEN;

/// A transport address the DHT can hand to other peers. The node layer picks the type (a socket
/// address on std, a simulator's index in tests); the core stores and forwards it.
pub trait NodeAddress: Clone {
    /// The address as answer bytes (at most [`MAX_ADDR_LEN`]).
    fn to_bytes(&self) -> heapless::Vec<u8, MAX_ADDR_LEN>;
    /// The address from answer bytes; `None` refuses them (the peer is then left out).
    fn from_bytes(bytes: &[u8]) -> Option<Self>;
}

/// IPv4: address and port, 6 bytes; IPv6: 18 bytes. Ports big-endian, as on the wire of IP.
impl NodeAddress for SocketAddr {
    fn to_bytes(&self) -> heapless::Vec<u8, MAX_ADDR_LEN> {
        let mut out = heapless::Vec::new();
        // Both forms fit MAX_ADDR_LEN (32).
        match self.ip() {
            IpAddr::V4(ip) => {
                let _ = out.extend_from_slice(&ip.octets());
            }
            IpAddr::V6(ip) => {
                let _ = out.extend_from_slice(&ip.octets());
            }
        }
        let _ = out.extend_from_slice(&self.port().to_be_bytes());
        out
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        match bytes.len() {
            6 => {
                let ip: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
                let port: [u8; 2] = bytes.get(4..)?.try_into().ok()?;
                Some(SocketAddr::new(
                    IpAddr::V4(Ipv4Addr::from(ip)),
                    u16::from_be_bytes(port),
                ))
            }
            18 => {
                let ip: [u8; 16] = bytes.get(..16)?.try_into().ok()?;
                let port: [u8; 2] = bytes.get(16..)?.try_into().ok()?;
                Some(SocketAddr::new(
                    IpAddr::V6(Ipv6Addr::from(ip)),
                    u16::from_be_bytes(port),
                ))
            }
            _ => None,
        }
    }
}
