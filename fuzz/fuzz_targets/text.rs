//! The text forms of peer ids and block references. Anything accepted prints back as the canonical
//! (lowercase) form of the input.
#![no_main]

use gofast_core::block::BlockRef;
use gofast_core::identity::PeerId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = text.parse::<PeerId>() {
        assert_eq!(p.to_string(), text.to_ascii_lowercase());
    }
    if let Ok(r) = text.parse::<BlockRef>() {
        assert_eq!(
            r.display_capability().to_string(),
            text.to_ascii_lowercase()
        );
    }
});
