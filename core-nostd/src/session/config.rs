//! What a session is configured with, and the two profiles.

use crate::time::Duration;

use super::cipher::CipherSet;

/// How frames travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Framing {
    /// Each frame is one datagram (UDP): loss, duplication and reordering are tolerated, and
    /// handshake and control messages are retransmitted on timers.
    Datagram,
    /// Frames follow each other on a reliable byte stream (TCP), each behind a 4-byte length prefix.
    ByteStream,
}

/// Session parameters. Both ends may differ; what matters to the peer travels in the handshake.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    /// How frames travel.
    pub framing: Framing,
    /// Ciphers to offer besides ChaCha20-Poly1305 (which is always offered); limited to what the
    /// provider implements.
    pub ciphers: CipherSet,
    /// Longest payload of a frame this side accepts, and sends (the peer's limit, learned in the
    /// handshake, may lower what it sends); from [`super::MIN_FRAME_PAYLOAD`] to
    /// [`super::MAX_FRAME_PAYLOAD`].
    pub max_frame_payload: u32,
    /// Frames the peer may send on a stream ahead of this side's credit updates.
    pub stream_window: u16,
    /// Time between rekeys (WireGuard rekeys every 120 s; gofast's default is 30 s).
    pub rekey_interval: Duration,
    /// Frames sent on one stream in one epoch after which a rekey starts.
    pub rekey_after_frames: u64,
    /// Frames sent on one stream in one epoch after which sending waits for the rekey to finish.
    pub max_frames_per_epoch: u64,
    /// How long an old epoch's receive keys stay after the peer moved on, for reordered frames.
    pub key_grace: Duration,
    /// Time allowed for a handshake.
    pub handshake_timeout: Duration,
    /// Time allowed for a rekey to complete before the session is given up.
    pub rekey_timeout: Duration,
    /// First retransmission delay of handshake and control messages (datagrams only); doubles on
    /// each retry.
    pub retransmit_interval: Duration,
}

impl Default for Config {
    /// The std profile: UDP, 16 KiB frames, a window of 64 frames per stream, rekey every 30 s or
    /// 2^16 frames per stream.
    fn default() -> Self {
        Config {
            framing: Framing::Datagram,
            ciphers: CipherSet::CHACHA_ONLY.with(super::CipherId::Aes256Gcm),
            max_frame_payload: 16 * 1024,
            stream_window: 64,
            rekey_interval: Duration::from_secs(30),
            rekey_after_frames: 1 << 16,
            max_frames_per_epoch: 1 << 17,
            key_grace: Duration::from_secs(3),
            handshake_timeout: Duration::from_secs(10),
            rekey_timeout: Duration::from_secs(15),
            retransmit_interval: Duration::from_millis(250),
        }
    }
}

impl Config {
    /// The microcontroller profile: ChaCha20-Poly1305 only, 1 KiB frames, a window of 4 frames,
    /// rekey every 60 s or 4096 frames. Pair it with a small `STREAMS` capacity.
    pub fn small() -> Self {
        Config {
            ciphers: CipherSet::CHACHA_ONLY,
            max_frame_payload: 1024,
            stream_window: 4,
            rekey_interval: Duration::from_secs(60),
            rekey_after_frames: 4096,
            max_frames_per_epoch: 8192,
            ..Config::default()
        }
    }

    /// The same configuration with byte-stream framing.
    #[must_use]
    pub fn with_framing(mut self, framing: Framing) -> Self {
        self.framing = framing;
        self
    }
}
