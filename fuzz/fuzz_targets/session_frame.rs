//! The session's frame decoders: data frame headers, control messages, and the byte-stream deframer.
#![no_main]

use gofast_core::session::{Control, DataHeader, Deframer, MAX_CONTROL_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = DataHeader::decode(data) {
        // What decodes re-encodes to the same header bytes.
        assert_eq!(&h.encode()[..], &data[..h.encode().len()]);
    }
    if let Ok(c) = Control::decode(data) {
        let mut buf = [0u8; MAX_CONTROL_LEN];
        let n = c
            .encode(&mut buf)
            .expect("a decoded control message re-encodes");
        assert_eq!(&buf[..n], data);
    }
    // The deframer over a small buffer, fed in pieces of every size the input suggests.
    let step = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let mut d = Deframer::new([0u8; 256]);
    let mut rest = data;
    let mut frames = 0usize;
    'feed: while !rest.is_empty() {
        let n = d.push(&rest[..step.min(rest.len())]);
        rest = &rest[n..];
        loop {
            match d.next_frame() {
                Ok(Some(f)) => {
                    assert!(!f.is_empty() && f.len() <= 252);
                    frames += 1;
                }
                Ok(None) => break,
                Err(_) => break 'feed,
            }
        }
        if n == 0 {
            break;
        }
    }
    assert!(frames <= data.len() / 5 + 1);
});
