//! Handshake patterns (Noise §7) as data, so that one interpreter runs them all.

/// A token of a message pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Token {
    /// The sender's ephemeral public key.
    E,
    /// The sender's static public key (encrypted once a key is mixed in).
    S,
    /// DH(ephemeral, ephemeral).
    Ee,
    /// DH(initiator ephemeral, responder static).
    Es,
    /// DH(initiator static, responder ephemeral).
    Se,
    /// DH(static, static).
    Ss,
}

/// A two-party handshake pattern: which static keys are known beforehand, then the messages, the
/// first from the initiator and alternating after.
#[derive(Debug)]
pub struct Pattern {
    /// The pattern's name in the protocol name, for example `"XX"`.
    pub name: &'static str,
    /// `-> s` in the pre-messages: the responder knows the initiator's static key.
    pub initiator_static_known: bool,
    /// `<- s` in the pre-messages: the initiator knows the responder's static key.
    pub responder_static_known: bool,
    /// The message patterns.
    pub messages: &'static [&'static [Token]],
}

/// XX: mutual authentication, no prior knowledge. gofast's first contact.
pub const XX: Pattern = Pattern {
    name: "XX",
    initiator_static_known: false,
    responder_static_known: false,
    messages: &[
        &[Token::E],
        &[Token::E, Token::Ee, Token::S, Token::Es],
        &[Token::S, Token::Se],
    ],
};

/// IK: the initiator knows the responder's static key; one round trip, first payload encrypted.
pub const IK: Pattern = Pattern {
    name: "IK",
    initiator_static_known: false,
    responder_static_known: true,
    messages: &[
        &[Token::E, Token::Es, Token::S, Token::Ss],
        &[Token::E, Token::Ee, Token::Se],
    ],
};

/// NN: no static keys (tests only: it authenticates nobody).
pub const NN: Pattern = Pattern {
    name: "NN",
    initiator_static_known: false,
    responder_static_known: false,
    messages: &[&[Token::E], &[Token::E, Token::Ee]],
};

/// NK: known responder, anonymous initiator.
pub const NK: Pattern = Pattern {
    name: "NK",
    initiator_static_known: false,
    responder_static_known: true,
    messages: &[&[Token::E, Token::Es], &[Token::E, Token::Ee]],
};

/// KK: both static keys known beforehand.
pub const KK: Pattern = Pattern {
    name: "KK",
    initiator_static_known: true,
    responder_static_known: true,
    messages: &[
        &[Token::E, Token::Es, Token::Ss],
        &[Token::E, Token::Ee, Token::Se],
    ],
};

/// XK: known responder, initiator's identity sent in the third message.
pub const XK: Pattern = Pattern {
    name: "XK",
    initiator_static_known: false,
    responder_static_known: true,
    messages: &[
        &[Token::E, Token::Es],
        &[Token::E, Token::Ee],
        &[Token::S, Token::Se],
    ],
};
