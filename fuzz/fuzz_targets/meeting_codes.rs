//! Meeting codes and meet-by-code keys as typed by anyone: never panics; a code that reads
//! back is 12 digits and reads back the same when formatted; a key's hash ignores case,
//! spaces and dashes (within the cap on what is typed, which counts spaces too: padding a
//! key that is just under it may make it too long, never another key).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Some(code) = meetings::normalize_meeting_code(s) {
        assert_eq!(code.len(), meetings::codes::CODE_DIGITS);
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
        let shown = meetings::codes::format_meeting_code(&code);
        assert_eq!(meetings::normalize_meeting_code(&shown).as_deref(), Some(code.as_str()));
    }
    if let Ok(h) = meetings::meet_key(s) {
        if s.is_ascii() {
            assert_eq!(meetings::meet_key(&s.to_ascii_uppercase()), Ok(h));
            let padded = meetings::meet_key(&format!(" {} ", s.replace(' ', "-")));
            assert!(padded == Ok(h) || padded == Err(meetings::KeyError::TooLong), "{padded:?}");
        }
    }
});
