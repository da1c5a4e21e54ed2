//! Session-cookie extraction from arbitrary Cookie header bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(token) = web::fuzzing::session_token_from_cookie_header(data) {
        assert!(!token.is_empty() && token.len() <= 128);
    }
});
