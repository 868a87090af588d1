//! Noise's HandshakeState (Noise §5.3): runs a [`Pattern`] message by message.

use crate::crypto::SecretBytes;
use crate::crypto::x25519::{X25519Public, X25519Secret};

use super::{
    DH_LEN, HASH_LEN, MAX_MESSAGE_LEN, NoiseError, NoiseHash, Pattern, SymmetricState, Token,
};

/// Longest protocol name accepted ("Noise_" + pattern + "_25519_ChaChaPoly_" + hash).
const MAX_NAME_LEN: usize = 64;

/// The result of a finished handshake.
#[derive(Debug)]
pub struct SplitKeys {
    /// The key of the initiator→responder direction.
    pub initiator_to_responder: SecretBytes<32>,
    /// The key of the responder→initiator direction.
    pub responder_to_initiator: SecretBytes<32>,
    /// The handshake hash, a unique name of this handshake's transcript.
    pub handshake_hash: [u8; HASH_LEN],
}

/// One side of a handshake in progress.
pub struct HandshakeState<H> {
    symmetric: SymmetricState<H>,
    pattern: &'static Pattern,
    initiator: bool,
    s: Option<X25519Secret>,
    e: Option<X25519Secret>,
    rs: Option<X25519Public>,
    re: Option<X25519Public>,
    next_message: usize,
}

impl<H> Clone for HandshakeState<H> {
    fn clone(&self) -> Self {
        HandshakeState {
            symmetric: self.symmetric.clone(),
            pattern: self.pattern,
            initiator: self.initiator,
            s: self.s.clone(),
            e: self.e.clone(),
            rs: self.rs,
            re: self.re,
            next_message: self.next_message,
        }
    }
}

/// Writes `Noise_<pattern>_25519_ChaChaPoly_<hash>` into `buf`; returns its length.
fn protocol_name<H: NoiseHash>(
    pattern: &Pattern,
    buf: &mut [u8; MAX_NAME_LEN],
) -> Result<usize, NoiseError> {
    let parts: [&str; 4] = ["Noise_", pattern.name, "_25519_ChaChaPoly_", H::NAME];
    let mut len = 0;
    for part in parts {
        let end = len + part.len();
        buf.get_mut(len..end)
            .ok_or(NoiseError::NameTooLong)?
            .copy_from_slice(part.as_bytes());
        len = end;
    }
    Ok(len)
}

impl<H: NoiseHash> HandshakeState<H> {
    /// Initialize(): starts a handshake.
    ///
    /// `s` is this side's static key (needed when the pattern sends or pre-knows it), `e` its
    /// ephemeral key for this handshake (fresh from a CSPRNG; a fixed one only in test vectors), and
    /// `rs` the peer's static key when the pattern says it is known beforehand.
    pub fn new(
        pattern: &'static Pattern,
        initiator: bool,
        prologue: &[u8],
        s: Option<X25519Secret>,
        e: X25519Secret,
        rs: Option<X25519Public>,
    ) -> Result<Self, NoiseError> {
        let mut name = [0u8; MAX_NAME_LEN];
        let name_len = protocol_name::<H>(pattern, &mut name)?;
        let mut symmetric = SymmetricState::<H>::new(name.get(..name_len).unwrap_or(&[]));
        symmetric.mix_hash(prologue);

        let (own_known, peer_known) = if initiator {
            (
                pattern.initiator_static_known,
                pattern.responder_static_known,
            )
        } else {
            (
                pattern.responder_static_known,
                pattern.initiator_static_known,
            )
        };
        let sends_static = pattern
            .messages
            .iter()
            .enumerate()
            .any(|(i, m)| i.is_multiple_of(2) == initiator && m.contains(&Token::S));
        if (own_known || sends_static) && s.is_none() {
            return Err(NoiseError::MissingKey);
        }
        if peer_known && rs.is_none() {
            return Err(NoiseError::MissingKey);
        }
        // Pre-messages are hashed initiator's first, then responder's (Noise §7.1).
        let own_public = s.as_ref().map(X25519Secret::public_key);
        let (init_pre, resp_pre) = if initiator {
            (own_public, rs)
        } else {
            (rs, own_public)
        };
        if pattern.initiator_static_known {
            let key = init_pre.ok_or(NoiseError::MissingKey)?;
            symmetric.mix_hash(&key.0);
        }
        if pattern.responder_static_known {
            let key = resp_pre.ok_or(NoiseError::MissingKey)?;
            symmetric.mix_hash(&key.0);
        }
        Ok(HandshakeState {
            symmetric,
            pattern,
            initiator,
            s,
            e: Some(e),
            rs: if peer_known { rs } else { None },
            re: None,
            next_message: 0,
        })
    }

    /// Whether the next message is this side's to write.
    pub fn is_my_turn(&self) -> bool {
        !self.is_finished() && self.next_message.is_multiple_of(2) == self.initiator
    }

    /// Whether all messages of the pattern have been written or read.
    pub fn is_finished(&self) -> bool {
        self.next_message >= self.pattern.messages.len()
    }

    /// The peer's static key, once known.
    pub fn remote_static(&self) -> Option<X25519Public> {
        self.rs
    }

    /// The handshake hash so far (channel binding once finished).
    pub fn handshake_hash(&self) -> [u8; HASH_LEN] {
        self.symmetric.handshake_hash()
    }

    fn dh(&self, token: Token) -> Result<SecretBytes<32>, NoiseError> {
        let (local, remote) = match (token, self.initiator) {
            (Token::Ee, _) => (&self.e, &self.re),
            (Token::Ss, _) => (&self.s, &self.rs),
            (Token::Es, true) | (Token::Se, false) => (&self.e, &self.rs),
            (Token::Es, false) | (Token::Se, true) => (&self.s, &self.re),
            (Token::E | Token::S, _) => return Err(NoiseError::WrongTurn),
        };
        let (Some(local), Some(remote)) = (local, remote) else {
            return Err(NoiseError::MissingKey);
        };
        local
            .diffie_hellman(remote)
            .map_err(|_| NoiseError::NonContributory)
    }

    fn current_tokens(&self) -> Result<&'static [Token], NoiseError> {
        self.pattern
            .messages
            .get(self.next_message)
            .copied()
            .ok_or(NoiseError::WrongTurn)
    }

    /// WriteMessage(payload): writes the next handshake message into `out`; returns its length.
    pub fn write_message(&mut self, payload: &[u8], out: &mut [u8]) -> Result<usize, NoiseError> {
        if !self.is_my_turn() {
            return Err(NoiseError::WrongTurn);
        }
        let tokens = self.current_tokens()?;
        let out = match out.get_mut(..MAX_MESSAGE_LEN) {
            Some(limited) => limited,
            None => out,
        };
        let mut pos = 0;
        for &token in tokens {
            match token {
                Token::E => {
                    let public = self.e.as_ref().ok_or(NoiseError::MissingKey)?.public_key();
                    put(out, &mut pos, &public.0)?;
                    self.symmetric.mix_hash(&public.0);
                }
                Token::S => {
                    let public = self.s.as_ref().ok_or(NoiseError::MissingKey)?.public_key();
                    let start = pos;
                    put(out, &mut pos, &public.0)?;
                    let field = out.get_mut(start..).ok_or(NoiseError::BufferTooSmall)?;
                    pos = start + self.symmetric.encrypt_and_hash(field, DH_LEN)?;
                }
                dh => {
                    let shared = self.dh(dh)?;
                    self.symmetric.mix_key(shared.expose());
                }
            }
        }
        let start = pos;
        put(out, &mut pos, payload)?;
        let field = out.get_mut(start..).ok_or(NoiseError::BufferTooSmall)?;
        pos = start + self.symmetric.encrypt_and_hash(field, payload.len())?;
        self.next_message += 1;
        Ok(pos)
    }

    /// ReadMessage(message): reads the peer's next message, decrypting in place; returns the range of
    /// `message` that holds the payload. On error this state is spoiled: keep a clone to go on from.
    pub fn read_message(
        &mut self,
        message: &mut [u8],
    ) -> Result<core::ops::Range<usize>, NoiseError> {
        if self.is_finished() || self.is_my_turn() {
            return Err(NoiseError::WrongTurn);
        }
        if message.len() > MAX_MESSAGE_LEN {
            return Err(NoiseError::BufferTooSmall);
        }
        let tokens = self.current_tokens()?;
        let mut pos = 0;
        for &token in tokens {
            match token {
                Token::E => {
                    let re = take_key(message, pos)?;
                    pos += DH_LEN;
                    self.symmetric.mix_hash(&re.0);
                    self.re = Some(re);
                }
                Token::S => {
                    let len = if self.symmetric.has_key() {
                        DH_LEN + super::TAG_LEN
                    } else {
                        DH_LEN
                    };
                    let field = message
                        .get_mut(pos..pos + len)
                        .ok_or(NoiseError::Truncated)?;
                    self.symmetric.decrypt_and_hash(field)?;
                    let rs = take_key(message, pos)?;
                    pos += len;
                    self.rs = Some(rs);
                }
                dh => {
                    let shared = self.dh(dh)?;
                    self.symmetric.mix_key(shared.expose());
                }
            }
        }
        let field = message.get_mut(pos..).ok_or(NoiseError::Truncated)?;
        let len = self.symmetric.decrypt_and_hash(field)?;
        self.next_message += 1;
        Ok(pos..pos + len)
    }

    /// Split(): the transport keys, once the last message is written or read. Consumes the state, so
    /// that the chaining key and the ephemeral and static secrets are wiped.
    pub fn split(self) -> Result<SplitKeys, NoiseError> {
        if !self.is_finished() {
            return Err(NoiseError::WrongTurn);
        }
        let handshake_hash = self.symmetric.handshake_hash();
        let (initiator_to_responder, responder_to_initiator) = self.symmetric.split();
        Ok(SplitKeys {
            initiator_to_responder,
            responder_to_initiator,
            handshake_hash,
        })
    }
}

fn put(out: &mut [u8], pos: &mut usize, bytes: &[u8]) -> Result<(), NoiseError> {
    let end = pos
        .checked_add(bytes.len())
        .ok_or(NoiseError::BufferTooSmall)?;
    out.get_mut(*pos..end)
        .ok_or(NoiseError::BufferTooSmall)?
        .copy_from_slice(bytes);
    *pos = end;
    Ok(())
}

fn take_key(message: &[u8], pos: usize) -> Result<X25519Public, NoiseError> {
    let bytes: [u8; DH_LEN] = message
        .get(pos..pos + DH_LEN)
        .and_then(|b| b.try_into().ok())
        .ok_or(NoiseError::Truncated)?;
    Ok(X25519Public(bytes))
}

impl<H> core::fmt::Debug for HandshakeState<H> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HandshakeState")
            .field("pattern", &self.pattern.name)
            .field("initiator", &self.initiator)
            .field("next_message", &self.next_message)
            .finish_non_exhaustive()
    }
}
