//! The signaling frame decoder on arbitrary bytes: an error or a message, never a panic; and a
//! decoded message re-encodes to something that decodes to the same message.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(m) = proto::ws::decode_client(s) {
        let again = serde_json::to_string(&m).expect("encodable");
        assert_eq!(proto::ws::decode_client(&again).ok(), Some(m));
    }
});
