//! Records, bare and behind the message header. Whatever decodes must re-encode to the same bytes (the
//! encoding is canonical) and carry a signature that verifies.
#![no_main]

use gofast_core::codec::{
    decode_exact, decode_message, encode_message, encode_to_vec, message_len,
};
use gofast_core::record::Record;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = decode_exact::<Record>(data) {
        assert_eq!(encode_to_vec(&r), data);
        assert_eq!(
            r.check_update(&r),
            Err(gofast_core::record::UpdateError::Duplicate)
        );
    }
    if let Ok(r) = decode_message::<Record>(data) {
        let mut out = vec![0u8; message_len(&r)];
        let n = encode_message(&r, &mut out).expect("encode");
        assert_eq!(&out[..n], data);
    }
});
