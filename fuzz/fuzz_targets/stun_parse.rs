//! The STUN codec on arbitrary bytes: parsing, every accessor, integrity checking and stream
//! framing must refuse garbage with an error, never panic; what parses must survive a rebuild.
#![no_main]
use libfuzzer_sys::fuzz_target;
use turn::stun::{self, attr, Message};

fuzz_target!(|data: &[u8]| {
    let _ = stun::frame_len(data);
    let _ = stun::parse_channel_data(data, true);
    let _ = stun::parse_channel_data(data, false);
    if let Ok(m) = Message::parse(data) {
        let _ = m.unknown_required();
        for t in [attr::XOR_PEER_ADDRESS, attr::XOR_MAPPED_ADDRESS, attr::XOR_RELAYED_ADDRESS] {
            let _ = m.xor_address(t);
        }
        let _ = m.u32_attr(attr::LIFETIME);
        let _ = m.text(attr::USERNAME);
        let _ = m.verify_integrity(b"key");
        let _ = m.all(attr::XOR_PEER_ADDRESS).count();
    }
});
