//! Block exchange: how peers ask each other for blocks and send them.
//!
//! So far: the wire messages ([`ExchangeMessage`], `docs/spec/exchange.md`). A peer asks for blocks by
//! id (`Want`), asks who holds them (`WantHave`), withdraws a request (`Cancel`), and answers with the
//! block (`Block`), with what it holds (`Have`) or with what it does not (`DontHave`). A peer that
//! holds an older version of a block may ask its maker for the new one as a delta (`WantDelta`,
//! answered by `Delta`). Answers are
//! matched by block id, not by a request id: a block is its own proof of what it answers, since its id
//! is the hash of its bytes. Which blocks to ask whom for, and when to give up, is the caller's; the
//! messages travel inside secure sessions like the DHT's.

mod message;

pub use message::{
    BLOCK_MESSAGE_HEADER_LEN, DeltaWant, ExchangeMessage, MAX_DELTA_BASES, MAX_DELTA_WANTS,
    MAX_EXCHANGE_MESSAGE_LEN, MAX_IDS, encode_block_header,
};
