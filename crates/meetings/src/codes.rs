//! Meeting codes, link tokens and meet-by-code keys.
//!
//! A meeting's code is 12 decimal digits (about 40 bits), shown as `1234-5678-9012` so it
//! can be read out on the phone; its link carries a 128-bit token. A meet-by-code key is
//! whatever the two people agreed on, folded so that case, spaces and dashes do not matter,
//! and kept only as a hash. docs/operations.md has the arithmetic on guessing them.

use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

/// Digits in a meeting code.
pub const CODE_DIGITS: usize = 12;
/// Shortest meet-by-code key accepted, in characters after folding.
pub const KEY_MIN: usize = 6;
/// Longest meet-by-code key accepted, in characters after folding.
pub const KEY_MAX: usize = 64;

/// A fresh meeting code, 12 digits, uniformly random.
pub fn new_meeting_code() -> String {
    // Rejection sampling keeps every digit uniform (256 is not a multiple of 10).
    let mut out = String::with_capacity(CODE_DIGITS);
    while out.len() < CODE_DIGITS {
        for b in auth::token::random_bytes::<16>() {
            if b < 250 && out.len() < CODE_DIGITS {
                out.push(char::from(b'0' + b % 10));
            }
        }
    }
    out
}

/// A fresh link token: 128 random bits, base64url (22 characters).
pub fn new_link_token() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(auth::token::random_bytes::<16>())
}

/// The canonical form of a typed meeting code (digits only, 12 of them), or `None`.
/// Spaces, dashes and dots between digit groups are ignored.
pub fn normalize_meeting_code(raw: &str) -> Option<String> {
    if raw.len() > 64 {
        return None;
    }
    let digits: String = raw.chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '\u{a0}')).collect();
    (digits.len() == CODE_DIGITS && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// Formats a 12-digit code for reading out: `1234-5678-9012`.
pub fn format_meeting_code(code: &str) -> String {
    let b = code.as_bytes();
    if b.len() != CODE_DIGITS {
        return code.to_owned();
    }
    b.chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join("-")
}

/// Why a meet-by-code key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    TooShort,
    TooLong,
    /// Something other than letters and digits (after dropping spaces, dashes and dots).
    Characters,
}

impl KeyError {
    pub fn message(self) -> String {
        match self {
            KeyError::TooShort => format!("the code must have at least {KEY_MIN} letters or digits"),
            KeyError::TooLong => format!("the code may have at most {KEY_MAX} letters or digits"),
            KeyError::Characters => "the code may only hold letters and digits".to_owned(),
        }
    }
}

/// Folds a meet-by-code key (NFKC, lowercase, no spaces, dashes or dots) and hashes it: the
/// server never keeps the key itself, only this hash (for the rendezvous and the burnt list).
pub fn meet_key(raw: &str) -> Result<[u8; 32], KeyError> {
    if raw.len() > KEY_MAX * 8 {
        return Err(KeyError::TooLong);
    }
    let folded: String = raw
        .nfkc()
        .flat_map(char::to_lowercase)
        .filter(|c| !(c.is_whitespace() || matches!(c, '-' | '.' | '_')))
        .collect();
    let n = folded.chars().count();
    if !folded.chars().all(char::is_alphanumeric) {
        return Err(KeyError::Characters);
    }
    if n < KEY_MIN {
        return Err(KeyError::TooShort);
    }
    if n > KEY_MAX {
        return Err(KeyError::TooLong);
    }
    let mut h = Sha256::new();
    h.update(b"mywebrtc meet-by-code v1\0");
    h.update(folded.as_bytes());
    Ok(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meeting_codes_are_twelve_uniform_digits_and_read_back_however_typed() {
        let c = new_meeting_code();
        assert_eq!(c.len(), 12);
        assert_eq!(normalize_meeting_code(&format_meeting_code(&c)).as_deref(), Some(c.as_str()));
        assert_eq!(normalize_meeting_code(" 1234 5678-9012 ").as_deref(), Some("123456789012"));
        for bad in ["", "12345678901", "1234567890123", "12345678901a", "١٢٣٤٥٦٧٨٩٠١٢", &"1".repeat(1000)] {
            assert_eq!(normalize_meeting_code(bad), None, "{bad:?}");
        }
        // Every digit turns up in the first position over many codes (no modulo bias to zero).
        let firsts: std::collections::HashSet<char> =
            (0..400).filter_map(|_| new_meeting_code().chars().next()).collect();
        assert_eq!(firsts.len(), 10);
    }

    #[test]
    fn link_tokens_are_128_bits_base64url() {
        let t = new_link_token();
        assert_eq!(t.len(), 22);
        assert!(t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_ne!(t, new_link_token());
    }

    #[test]
    fn meet_keys_fold_case_and_separators_and_refuse_short_or_odd_ones() {
        assert_eq!(meet_key("Blue-Harbour 42"), meet_key("blueharbour42"));
        assert_ne!(meet_key("blueharbour42"), meet_key("blueharbour43"));
        assert_eq!(meet_key("abc12"), Err(KeyError::TooShort));
        assert_eq!(meet_key(&"a".repeat(65)), Err(KeyError::TooLong));
        assert_eq!(meet_key(&"a".repeat(100_000)), Err(KeyError::TooLong));
        assert_eq!(meet_key("abc/def/ghi"), Err(KeyError::Characters));
        assert_eq!(meet_key("abc\u{202e}defgh"), Err(KeyError::Characters));
        assert!(meet_key("Zürich-Bahnhof").is_ok());
    }
}
