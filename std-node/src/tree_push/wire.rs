//! The two records of a tree push (`docs/spec/tree-push.md`), sent straight over the session as
//! pushed records and never stored or forwarded: the offer (pusher → receiver, salt
//! `tree-push/<name>`) and the answer (receiver → pusher, salt `tree-pushed/<name>`).

use gofast_core::block::{BlockId, BlockRef};

use crate::error::{Error, ErrorKind};

/// Salt prefix of an offer.
pub(crate) const OFFER_SALT: &str = "tree-push/";
/// Salt prefix of an answer.
pub(crate) const ANSWER_SALT: &str = "tree-pushed/";
/// Longest push name, in bytes (the salt holds at most 64).
pub const MAX_PUSH_NAME: usize = 48;
/// Longest message an answer carries, in bytes.
const MAX_MESSAGE: usize = 400;
const VERSION: u8 = 1;
/// An offer's version since deltas: version 1 and a flags byte.
const OFFER_VERSION: u8 = 2;
const OFFER_LEN: usize = 1 + 8 + 32 + 32;
const ANSWER_HEADER_LEN: usize = 1 + 8 + 32 + 1 + 4 + 4 + 4 + 8 + 2;

/// A push's name: one folder name (the rule of directory entries), at most [`MAX_PUSH_NAME`] bytes.
pub fn check_push_name(name: &str) -> Result<(), Error> {
    if name.len() > MAX_PUSH_NAME {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "push name {name:?} is longer than {MAX_PUSH_NAME} bytes: choose a shorter one with --as"
            ),
        ));
    }
    gofast_core::fs::check_name(name).map_err(|reason| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("push name {name:?}: {reason}"),
        )
    })
}

/// The name in a salt with `prefix`, if it is one and the name is valid.
pub(crate) fn name_of(salt: &[u8], prefix: &str) -> Option<String> {
    let name = std::str::from_utf8(salt.strip_prefix(prefix.as_bytes())?).ok()?;
    check_push_name(name).ok()?;
    Some(name.to_owned())
}

/// An offer's flag: the pusher answers delta requests for this push (`docs/spec/exchange.md`).
const SERVES_DELTAS: u8 = 1;

/// The offer's value: the push's id (random; re-sent offers of one push share it), the root of
/// the pushed tree's top listing (its key included: the receiver reads the tree with it), and
/// (from version 2) flags: this node serves the push's changed blocks as deltas.
pub(crate) fn encode_offer(push: u64, root: &BlockRef) -> zeroize::Zeroizing<Vec<u8>> {
    let mut v = zeroize::Zeroizing::new(Vec::with_capacity(OFFER_LEN + 1));
    v.push(OFFER_VERSION);
    v.extend_from_slice(&push.to_le_bytes());
    v.extend_from_slice(&*zeroize::Zeroizing::new(root.to_bytes()));
    v.push(SERVES_DELTAS);
    v
}

/// Decodes an offer's value: the push's id, the root, and whether the pusher serves deltas (a
/// version 1 offer, from a node before deltas, does not).
pub(crate) fn decode_offer(value: &[u8]) -> Option<(u64, BlockRef, bool)> {
    let deltas = match (value.first(), value.len()) {
        (Some(&VERSION), OFFER_LEN) => false,
        (Some(&OFFER_VERSION), n) if n == OFFER_LEN + 1 => {
            value.last().is_some_and(|f| f & SERVES_DELTAS != 0)
        }
        _ => return None,
    };
    let push = u64::from_le_bytes(value.get(1..9)?.try_into().ok()?);
    let bytes = zeroize::Zeroizing::new(<[u8; 64]>::try_from(value.get(9..OFFER_LEN)?).ok()?);
    Some((push, BlockRef::from_bytes(&bytes), deltas))
}

/// Where a push stands, as its receiver tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushStatus {
    /// Taken: the receiver is fetching and writing.
    Working = 1,
    /// Written.
    Done = 2,
    /// The receiver takes no pushes from this peer.
    Refused = 3,
    /// The receiver tried and failed (the message says why).
    Failed = 4,
    /// The receiver is busy (too many pushes at once, or one of the same name still running).
    Busy = 5,
}

/// The receiver's answer to an offer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Answer {
    /// The push answered.
    pub(crate) push: u64,
    /// The root offered.
    pub(crate) root: BlockId,
    pub(crate) status: PushStatus,
    /// Files written into the receiver's copy.
    pub(crate) written: u32,
    /// Files removed from it (gone from the pushed tree).
    pub(crate) removed: u32,
    /// Files gone from the pushed tree but changed at the receiver since, so kept.
    pub(crate) kept: u32,
    /// Blocks the receiver fetched (the rest it held).
    pub(crate) received: u64,
    /// For people (a failure's reason).
    pub(crate) message: String,
}

impl Answer {
    /// An answer with no counts.
    pub(crate) fn bare(
        push: u64,
        root: BlockId,
        status: PushStatus,
        message: impl Into<String>,
    ) -> Self {
        Answer {
            push,
            root,
            status,
            written: 0,
            removed: 0,
            kept: 0,
            received: 0,
            message: message.into(),
        }
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut cut = self.message.len().min(MAX_MESSAGE);
        while !self.message.is_char_boundary(cut) {
            cut -= 1;
        }
        let message = self.message.get(..cut).unwrap_or("");
        let mut v = Vec::with_capacity(ANSWER_HEADER_LEN + message.len());
        v.push(VERSION);
        v.extend_from_slice(&self.push.to_le_bytes());
        v.extend_from_slice(&self.root.0);
        v.push(self.status as u8);
        v.extend_from_slice(&self.written.to_le_bytes());
        v.extend_from_slice(&self.removed.to_le_bytes());
        v.extend_from_slice(&self.kept.to_le_bytes());
        v.extend_from_slice(&self.received.to_le_bytes());
        v.extend_from_slice(&(message.len() as u16).to_le_bytes());
        v.extend_from_slice(message.as_bytes());
        v
    }

    pub(crate) fn decode(value: &[u8]) -> Option<Answer> {
        if value.first() != Some(&VERSION) {
            return None;
        }
        let u32_at = |at: usize| -> Option<u32> {
            Some(u32::from_le_bytes(value.get(at..at + 4)?.try_into().ok()?))
        };
        let push = u64::from_le_bytes(value.get(1..9)?.try_into().ok()?);
        let root = BlockId(value.get(9..41)?.try_into().ok()?);
        let status = match *value.get(41)? {
            1 => PushStatus::Working,
            2 => PushStatus::Done,
            3 => PushStatus::Refused,
            4 => PushStatus::Failed,
            5 => PushStatus::Busy,
            _ => return None,
        };
        let received = u64::from_le_bytes(value.get(54..62)?.try_into().ok()?);
        let len = usize::from(u16::from_le_bytes(value.get(62..64)?.try_into().ok()?));
        if len > MAX_MESSAGE || value.len() != ANSWER_HEADER_LEN + len {
            return None;
        }
        let message = std::str::from_utf8(value.get(ANSWER_HEADER_LEN..)?).ok()?;
        Some(Answer {
            push,
            root,
            status,
            written: u32_at(42)?,
            removed: u32_at(46)?,
            kept: u32_at(50)?,
            received,
            message: message.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_answer_round_trips() {
        let a = Answer {
            push: 0x0102_0304_0506_0708,
            root: BlockId([7; 32]),
            status: PushStatus::Failed,
            written: 3,
            removed: 1,
            kept: 2,
            received: 99,
            message: "the disk is full".into(),
        };
        assert_eq!(Answer::decode(&a.encode()), Some(a));
    }

    #[test]
    fn an_offer_round_trips_and_names_are_checked() {
        let root = BlockRef::from_bytes(&[3; 64]);
        assert_eq!(
            decode_offer(&encode_offer(9, &root)),
            Some((9, root.clone(), true))
        );
        // An offer of a node before deltas (version 1, no flags) is read, without deltas.
        let mut v1 = encode_offer(9, &root).to_vec();
        v1[0] = 1;
        v1.pop();
        assert_eq!(decode_offer(&v1), Some((9, root, false)));
        v1.push(1);
        assert_eq!(decode_offer(&v1), None, "version 1 has no flags");
        assert_eq!(
            name_of(b"tree-push/photos", OFFER_SALT).as_deref(),
            Some("photos")
        );
        assert_eq!(name_of(b"tree-push/..", OFFER_SALT), None);
        assert_eq!(name_of(b"tree-push/a/b", OFFER_SALT), None);
        assert_eq!(name_of(b"tree-pushed/photos", OFFER_SALT), None);
        assert!(check_push_name(&"x".repeat(MAX_PUSH_NAME + 1)).is_err());
    }

    proptest! {
        /// Whatever a peer sends, decoding answers or refuses; it never panics.
        #[test]
        fn decoders_take_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = decode_offer(&bytes);
            if let Some(a) = Answer::decode(&bytes) {
                prop_assert_eq!(Answer::decode(&a.encode()), Some(a));
            }
        }
    }
}
