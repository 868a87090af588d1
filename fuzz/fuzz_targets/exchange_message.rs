//! The block-exchange messages: what decodes encodes back to the same bytes, and a Block's header
//! written alone, followed by its data, is the whole message.
#![no_main]

use gofast_core::codec::{decode_exact, decode_message, encode_to_vec};
use gofast_core::exchange::{BLOCK_MESSAGE_HEADER_LEN, ExchangeMessage, encode_block_header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = decode_message::<ExchangeMessage<'_>>(data) {
        assert_eq!(encode_to_vec(&m), &data[2..]);
        if let ExchangeMessage::Block { id, data: block } = m {
            let mut header = [0u8; BLOCK_MESSAGE_HEADER_LEN];
            assert_eq!(
                encode_block_header(&id, block.len(), &mut header),
                Ok(BLOCK_MESSAGE_HEADER_LEN)
            );
            assert_eq!(&data[..BLOCK_MESSAGE_HEADER_LEN], header);
        }
    }
    if let Ok(m) = decode_exact::<ExchangeMessage<'_>>(data) {
        assert_eq!(encode_to_vec(&m), data);
    }
});
