//! Username and display-name normalisation: never panics, and is idempotent.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(u) = auth::normalize_username(s) {
        assert_eq!(auth::normalize_username(&u).as_deref(), Ok(u.as_str()));
        assert!(u.is_ascii());
    }
    if let Ok(d) = auth::normalize_display_name(s) {
        assert_eq!(auth::normalize_display_name(&d).as_deref(), Ok(d.as_str()));
    }
});
