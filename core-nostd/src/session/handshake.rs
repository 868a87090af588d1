//! The session's side of the Noise handshake: framing the messages, the payloads, identity checks,
//! the application's approval, retransmission and duplicates.

use crate::codec::{Reader, Writer};
use crate::crypto::hash::hash;
use crate::identity::PeerId;
use crate::noise::SplitKeys;
use crate::time::Instant;

use super::cipher::AeadProvider;
use super::error::{InputError, SetupError};
use super::event::{Event, Input};
use super::frame::{FrameType, MAX_HANDSHAKE_FRAME};
use super::hello::{HELLO_LEN, Hello, MAX_EARLY_DATA, decode_identity};
use super::keys::EpochSecret;
use super::machine::{Awaiting, Backoff, Handshake, Keys, OnApprove, Phase, Rekey, Session};

/// Room for a handshake payload: hello, identity, early data.
const MAX_PAYLOAD: usize = HELLO_LEN + 32 + MAX_EARLY_DATA;

impl<P: AeadProvider, const STREAMS: usize> Session<P, STREAMS> {
    /// Writes this side's next handshake message, framed, into `handshake_out`, and queues it.
    fn write_handshake(
        &mut self,
        hs: &mut Handshake,
        kind: FrameType,
        payload: &[u8],
    ) -> Result<(), SetupError> {
        let mut buf = [0u8; MAX_HANDSHAKE_FRAME];
        let (head, body) = buf.split_at_mut(1);
        if let Some(b) = head.first_mut() {
            *b = kind as u8;
        }
        let n = hs
            .write_message(payload, body)
            .map_err(SetupError::Handshake)?;
        self.handshake_out.clear();
        self.handshake_out
            .extend_from_slice(buf.get(..n + 1).unwrap_or(&[]))
            .map_err(|_| SetupError::EarlyDataTooLong)?;
        self.handshake_due = true;
        zeroize::Zeroize::zeroize(&mut buf);
        Ok(())
    }

    fn arm_handshake_timers(&mut self, now: Instant) {
        if self.handshake_deadline.is_none() {
            self.handshake_deadline = Some(now.saturating_add(self.config.handshake_timeout));
        }
    }

    pub(crate) fn start_initiator(
        &mut self,
        now: Instant,
        mut hs: Handshake,
        kind: FrameType,
        awaiting: Awaiting,
        early_data: &[u8],
    ) -> Result<(), SetupError> {
        if early_data.len() > MAX_EARLY_DATA {
            return Err(SetupError::EarlyDataTooLong);
        }
        let mut payload = [0u8; MAX_PAYLOAD];
        let mut w = Writer::new(&mut payload);
        let encoded = (|| {
            self.hello().encode(&mut w)?;
            if kind == FrameType::Ik1 {
                w.put_bytes(self.local.as_bytes())?;
                w.put_bytes(early_data)?;
            }
            Ok::<_, crate::codec::EncodeError>(w.position())
        })();
        let len = encoded.map_err(|_| SetupError::EarlyDataTooLong)?;
        self.write_handshake(&mut hs, kind, payload.get(..len).unwrap_or(&[]))?;
        zeroize::Zeroize::zeroize(&mut payload);
        self.arm_handshake_timers(now);
        if self.datagram() {
            self.handshake_retransmit = Some(Backoff::start(now, self.config.retransmit_interval));
        }
        self.phase = Phase::Handshaking { hs, awaiting };
        Ok(())
    }

    /// A handshake of `pattern` with this side's static key and a fresh ephemeral key; `rs` is the
    /// peer's static key where the pattern knows it beforehand.
    pub(crate) fn new_handshake(
        &mut self,
        pattern: &'static crate::noise::Pattern,
        rs: Option<crate::crypto::x25519::X25519Public>,
    ) -> Result<Handshake, crate::noise::NoiseError> {
        let e = self.rng.x25519();
        Handshake::new(
            pattern,
            self.initiator,
            super::machine::PROLOGUE,
            self.static_key.clone(),
            e,
            rs,
        )
    }

    /// Checks that the identity in a payload is the owner of the handshake's static key.
    fn check_identity(hs: &Handshake, peer: &PeerId) -> Result<(), InputError> {
        match hs.remote_static() {
            Some(rs) if rs == peer.x25519_public() => Ok(()),
            _ => Err(InputError::IdentityMismatch),
        }
    }

    pub(crate) fn handle_handshake<'a>(
        &mut self,
        now: Instant,
        kind: FrameType,
        frame: &'a mut [u8],
    ) -> Result<Input<'a>, InputError> {
        if frame.len() > MAX_HANDSHAKE_FRAME {
            return Err(InputError::TooLarge);
        }
        let digest = hash(frame);
        let is_duplicate = self.answered == Some(digest);
        let message = frame.get_mut(1..).unwrap_or(&mut []);

        match (&self.phase, kind) {
            (Phase::Listening, FrameType::Xx1) => {
                let mut hs = self
                    .new_handshake(&crate::noise::pattern::XX, None)
                    .map_err(InputError::Handshake)?;
                let range = hs.read_message(message).map_err(InputError::Handshake)?;
                let mut r = Reader::new(message.get(range).unwrap_or(&[]));
                let hello = Hello::decode(&mut r)?;
                r.finish()?;
                let mut payload = [0u8; MAX_PAYLOAD];
                let mut w = Writer::new(&mut payload);
                self.hello()
                    .encode(&mut w)
                    .and_then(|()| w.put_bytes(self.local.as_bytes()))
                    .map_err(|_| InputError::Unexpected)?;
                let len = w.position();
                self.write_handshake(&mut hs, FrameType::Xx2, payload.get(..len).unwrap_or(&[]))
                    .map_err(|_| InputError::Unexpected)?;
                self.peer_hello = Some(hello);
                self.answered = Some(digest);
                self.arm_handshake_timers(now);
                self.phase = Phase::Handshaking {
                    hs,
                    awaiting: Awaiting::Xx3,
                };
                Ok(Input::Nothing)
            }
            (Phase::Listening, FrameType::Ik1) => {
                let mut hs = self
                    .new_handshake(&crate::noise::pattern::IK, None)
                    .map_err(InputError::Handshake)?;
                let range = hs.read_message(message).map_err(InputError::Handshake)?;
                let start = range.start;
                let payload = message.get(range).unwrap_or(&[]);
                let mut r = Reader::new(payload);
                let hello = Hello::decode(&mut r)?;
                let peer = decode_identity(&mut r)?;
                Self::check_identity(&hs, &peer)?;
                let early_len = r.remaining();
                if early_len > MAX_EARLY_DATA {
                    return Err(InputError::TooLarge);
                }
                self.peer_hello = Some(hello);
                self.peer = Some(peer);
                self.answered = Some(digest);
                self.arm_handshake_timers(now);
                self.phase = Phase::AwaitingApproval {
                    hs,
                    on_approve: OnApprove::WriteIk2,
                };
                let early_start = start + HELLO_LEN + 32;
                let early_data = frame
                    .get(1 + early_start..1 + early_start + early_len)
                    .unwrap_or(&[]);
                Ok(Input::PeerIdentified { peer, early_data })
            }
            (
                Phase::Handshaking {
                    awaiting: Awaiting::Xx3,
                    ..
                },
                FrameType::Xx1,
            ) if is_duplicate => {
                self.handshake_due = true;
                Ok(Input::Nothing)
            }
            (Phase::Established, FrameType::Ik1) if is_duplicate => {
                // Our message 2 was lost; send it again while we still hold it.
                self.handshake_due = !self.handshake_out.is_empty();
                Ok(Input::Nothing)
            }
            (Phase::Established, FrameType::Xx3) if is_duplicate => {
                // Our confirmation was lost; the initiator repeats its last message.
                self.confirm_due = Some(false);
                Ok(Input::Nothing)
            }
            (Phase::Handshaking { hs, awaiting }, kind)
                if (*awaiting, kind) == (Awaiting::Xx2, FrameType::Xx2)
                    || (*awaiting, kind) == (Awaiting::Xx3, FrameType::Xx3)
                    || (*awaiting, kind) == (Awaiting::Ik2, FrameType::Ik2) =>
            {
                // Work on a copy, so that a forged or damaged message leaves the handshake as it was.
                let mut trial = hs.clone();
                let awaiting = *awaiting;
                let range = trial.read_message(message).map_err(InputError::Handshake)?;
                let mut r = Reader::new(message.get(range).unwrap_or(&[]));
                match awaiting {
                    Awaiting::Xx2 => {
                        let hello = Hello::decode(&mut r)?;
                        let peer = decode_identity(&mut r)?;
                        r.finish()?;
                        Self::check_identity(&trial, &peer)?;
                        self.peer_hello = Some(hello);
                        self.peer = Some(peer);
                        self.handshake_retransmit = None;
                        self.phase = Phase::AwaitingApproval {
                            hs: trial,
                            on_approve: OnApprove::WriteXx3,
                        };
                        Ok(Input::PeerIdentified {
                            peer,
                            early_data: &[],
                        })
                    }
                    Awaiting::Xx3 => {
                        let peer = decode_identity(&mut r)?;
                        r.finish()?;
                        Self::check_identity(&trial, &peer)?;
                        self.peer = Some(peer);
                        self.answered = Some(digest);
                        self.phase = Phase::AwaitingApproval {
                            hs: trial,
                            on_approve: OnApprove::FinishXx,
                        };
                        Ok(Input::PeerIdentified {
                            peer,
                            early_data: &[],
                        })
                    }
                    Awaiting::Ik2 => {
                        let hello = Hello::decode(&mut r)?;
                        r.finish()?;
                        self.peer_hello = Some(hello);
                        self.handshake_out.clear();
                        self.handshake_retransmit = None;
                        self.handshake_deadline = None;
                        let keys = trial.split().map_err(InputError::Handshake)?;
                        self.establish(now, keys);
                        Ok(Input::Nothing)
                    }
                }
            }
            _ => Err(InputError::Unexpected),
        }
    }

    /// Accepts the identified peer: the handshake goes on (or finishes).
    pub fn approve_peer(&mut self, now: Instant) -> Result<(), SetupError> {
        let phase = core::mem::replace(&mut self.phase, Phase::Closed);
        let Phase::AwaitingApproval { mut hs, on_approve } = phase else {
            self.phase = phase;
            return Err(SetupError::NothingToApprove);
        };
        match on_approve {
            OnApprove::WriteXx3 => {
                let identity = *self.local.as_bytes();
                self.write_handshake(&mut hs, FrameType::Xx3, &identity)?;
                // Repeated until the responder's first frame shows it arrived.
                if self.datagram() {
                    self.handshake_retransmit =
                        Some(Backoff::start(now, self.config.retransmit_interval));
                }
            }
            OnApprove::FinishXx => {
                self.handshake_out.clear();
                self.confirm_due = Some(false);
                self.handshake_retransmit = None;
                self.handshake_deadline = None;
            }
            OnApprove::WriteIk2 => {
                let mut payload = [0u8; HELLO_LEN];
                let mut w = Writer::new(&mut payload);
                self.hello()
                    .encode(&mut w)
                    .map_err(|_| SetupError::InvalidConfig)?;
                self.write_handshake(&mut hs, FrameType::Ik2, &payload)?;
                self.handshake_retransmit = None;
                self.handshake_deadline = None;
            }
        }
        let keys = hs.split().map_err(SetupError::Handshake)?;
        self.establish(now, keys);
        Ok(())
    }

    /// Refuses the identified peer: this handshake ends, nothing is sent, and the session closes.
    pub fn refuse_peer(&mut self) -> Result<(), SetupError> {
        if !matches!(self.phase, Phase::AwaitingApproval { .. }) {
            return Err(SetupError::NothingToApprove);
        }
        self.finish_close(super::event::CloseReason::Refused);
        Ok(())
    }

    /// Installs the transport keys of a finished handshake.
    fn establish(&mut self, now: Instant, split: SplitKeys) {
        let (send, recv) = if self.initiator {
            (split.initiator_to_responder, split.responder_to_initiator)
        } else {
            (split.responder_to_initiator, split.initiator_to_responder)
        };
        self.keys = Some(Keys {
            send: EpochSecret {
                epoch: 0,
                secret: send,
            },
            send_next: None,
            recv: EpochSecret {
                epoch: 0,
                secret: recv,
            },
            recv_prev: None,
        });
        self.static_key = None;
        if let Some(hello) = self.peer_hello {
            self.ciphers = self.hello().ciphers.intersect(hello.ciphers);
        }
        self.rekey = Rekey::Idle {
            next_at: now.saturating_add(self.config.rekey_interval),
        };
        self.phase = Phase::Established;
        if let Some(peer) = self.peer {
            self.push_event(Event::Established { peer });
        }
    }

    /// The first authenticated frame from the peer proves the handshake arrived: stop repeating it.
    pub(crate) fn handshake_confirmed(&mut self) {
        if self.initiator {
            self.handshake_out.clear();
            self.handshake_retransmit = None;
            self.handshake_deadline = None;
        } else {
            // The IK responder kept its message 2 for a repeated message 1; no longer needed. The
            // digest stays, so that a repeated XX message 3 still gets a confirm.
            self.handshake_out.clear();
        }
    }
}
