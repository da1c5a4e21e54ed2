//! Username and display-name rules.
//!
//! Usernames are what people type to log in and search: after Unicode NFKC folding and
//! lowercasing they must be plain ASCII (`a-z 0-9 . _ -`), so no two accounts can look alike
//! through homoglyphs (Cyrillic "а" vs Latin "a") or invisible characters.
//! Display names may use any script, but not characters that hide or reorder text
//! (bidirectional overrides, zero-width characters, control characters), which are the
//! usual tools for impersonation in a contact list.

use std::fmt;

use unicode_normalization::UnicodeNormalization;

pub const USERNAME_MIN: usize = 2;
pub const USERNAME_MAX: usize = 32;
pub const DISPLAY_NAME_MAX: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    UsernameLength,
    UsernameCharacters,
    UsernameStart,
    DisplayNameEmpty,
    DisplayNameLength,
    DisplayNameInvisible,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let msg = match self {
            NameError::UsernameLength => "username must be 2 to 32 characters long",
            NameError::UsernameCharacters => "username may contain only letters a-z, digits, '.', '_' and '-'",
            NameError::UsernameStart => "username must start and end with a letter or digit",
            NameError::DisplayNameEmpty => "display name must not be empty",
            NameError::DisplayNameLength => "display name must be at most 64 characters long",
            NameError::DisplayNameInvisible => {
                "display name must not contain control, zero-width or text-direction characters"
            }
        };
        f.write_str(msg)
    }
}

impl std::error::Error for NameError {}

/// Folds a typed username to its canonical form, or says why it is not acceptable.
pub fn normalize_username(raw: &str) -> Result<String, NameError> {
    let folded: String = raw.trim().nfkc().flat_map(char::to_lowercase).collect();
    let len = folded.chars().count();
    if !(USERNAME_MIN..=USERNAME_MAX).contains(&len) {
        return Err(NameError::UsernameLength);
    }
    if !folded.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')) {
        return Err(NameError::UsernameCharacters);
    }
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !edge_ok(folded.chars().next()) || !edge_ok(folded.chars().last()) {
        return Err(NameError::UsernameStart);
    }
    Ok(folded)
}

/// Characters that are invisible or change how surrounding text is displayed.
fn is_deceptive(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}'                // soft hyphen
            | '\u{034F}'              // combining grapheme joiner
            | '\u{061C}'              // arabic letter mark
            | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' // hangul fillers
            | '\u{180E}'              // mongolian vowel separator
            | '\u{200B}'..='\u{200F}' // zero-width space/joiners, LRM, RLM
            | '\u{2028}'..='\u{202E}' // line/paragraph separators, bidi embeddings and overrides
            | '\u{2060}'..='\u{206F}' // word joiner, invisible operators, bidi isolates
            | '\u{FEFF}'              // zero-width no-break space
            | '\u{FFF9}'..='\u{FFFB}' // interlinear annotations
            | '\u{E0000}'..='\u{E007F}' // tag characters
        )
}

/// Normalises a display name (NFC, trimmed, inner whitespace collapsed) or refuses it.
pub fn normalize_display_name(raw: &str) -> Result<String, NameError> {
    let nfc: String = raw.nfc().collect();
    if nfc.chars().any(is_deceptive) {
        return Err(NameError::DisplayNameInvisible);
    }
    let collapsed = nfc.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.is_empty() {
        return Err(NameError::DisplayNameEmpty);
    }
    if collapsed.chars().count() > DISPLAY_NAME_MAX {
        return Err(NameError::DisplayNameLength);
    }
    Ok(collapsed)
}

/// Longest file name kept, in characters.
pub const FILE_NAME_MAX: usize = 200;

/// A file name from a user's device made safe to store, show and save: the last path
/// component only (no `/` or `\\`), no control, invisible or text-direction characters,
/// no leading dots, none of the characters Windows forbids, whitespace collapsed, at most
/// [`FILE_NAME_MAX`] characters with the extension kept. Never empty ("file").
pub fn sanitize_file_name(raw: &str) -> String {
    let nfc: String = raw.nfc().collect();
    let last = nfc.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .filter(|c| !is_deceptive(*c))
        .map(|c| if matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*') { '_' } else { c })
        .collect();
    let collapsed = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    let name = collapsed.trim_start_matches(['.', ' ']).trim_end_matches(['.', ' ']);
    if name.is_empty() {
        return "file".to_owned();
    }
    if name.chars().count() <= FILE_NAME_MAX {
        return name.to_owned();
    }
    // Keep a short extension, so the saved file still opens with the right program.
    let ext = name.rsplit_once('.').map(|(_, e)| e).filter(|e| !e.is_empty() && e.chars().count() <= 16);
    match ext {
        Some(ext) => {
            let stem: String = name.chars().take(FILE_NAME_MAX - ext.chars().count() - 1).collect();
            format!("{}.{ext}", stem.trim_end_matches(['.', ' ']))
        }
        None => name.chars().take(FILE_NAME_MAX).collect::<String>().trim_end_matches(['.', ' ']).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn file_names_are_made_safe() {
        assert_eq!(sanitize_file_name("report.pdf"), "report.pdf");
        assert_eq!(sanitize_file_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_file_name("C:\\Users\\me\\notes.txt"), "notes.txt");
        assert_eq!(sanitize_file_name("evil\u{202E}gnp.exe"), "evilgnp.exe");
        assert_eq!(sanitize_file_name("a\u{0}b\nc\u{7}.txt"), "abc.txt");
        assert_eq!(sanitize_file_name(".htaccess"), "htaccess");
        assert_eq!(sanitize_file_name(".."), "file");
        assert_eq!(sanitize_file_name(""), "file");
        assert_eq!(sanitize_file_name("a<b>:c|d?*.txt"), "a_b__c_d__.txt");
        assert_eq!(sanitize_file_name("  two   words .txt "), "two words .txt");
        let long = format!("{}.tar.gz", "x".repeat(1000));
        let s = sanitize_file_name(&long);
        assert_eq!(s.chars().count(), FILE_NAME_MAX);
        assert!(s.ends_with("xxx.gz"), "{s}");
    }

    #[test]
    fn usernames_fold_to_ascii_lowercase() {
        assert_eq!(normalize_username("  Alice.Smith ").unwrap(), "alice.smith");
        // fullwidth letters fold under NFKC
        assert_eq!(normalize_username("ＢＯＢ").unwrap(), "bob");
    }

    #[test]
    fn confusable_and_hostile_usernames_are_refused() {
        for bad in [
            "аlice", /* cyrillic a */
            "al\u{200B}ice",
            "a",
            "-bob",
            "bob.",
            "x'; DROP TABLE users;--",
            "<script>",
            "",
        ] {
            assert!(normalize_username(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(normalize_username(&"a".repeat(33)), Err(NameError::UsernameLength));
    }

    #[test]
    fn display_names_keep_scripts_but_not_tricks() {
        assert_eq!(normalize_display_name("  Zoë   Müller ").unwrap(), "Zoë Müller");
        assert_eq!(normalize_display_name("Иван").unwrap(), "Иван");
        assert_eq!(normalize_display_name("evil\u{202E}gnp.exe"), Err(NameError::DisplayNameInvisible));
        assert_eq!(normalize_display_name("a\u{200D}b"), Err(NameError::DisplayNameInvisible));
        assert_eq!(normalize_display_name("   "), Err(NameError::DisplayNameEmpty));
        assert_eq!(normalize_display_name("\u{E0041}"), Err(NameError::DisplayNameInvisible));
    }

    proptest! {
        #[test]
        fn file_names_are_always_safe_and_idempotent(s in "\\PC{0,400}") {
            let f = sanitize_file_name(&s);
            prop_assert!(!f.is_empty() && f.chars().count() <= FILE_NAME_MAX);
            prop_assert!(!f.contains(['/', '\\']) && !f.starts_with('.') && !f.chars().any(is_deceptive));
            prop_assert_eq!(sanitize_file_name(&f), f.clone());
        }

        #[test]
        fn normalisation_never_panics_and_is_idempotent(s in "\\PC*") {
            if let Ok(u) = normalize_username(&s) {
                prop_assert_eq!(normalize_username(&u), Ok(u.clone()));
            }
            if let Ok(d) = normalize_display_name(&s) {
                prop_assert_eq!(normalize_display_name(&d), Ok(d.clone()));
            }
        }
    }
}
