//! Search filters built from what a user typed (RFC 4515).
//!
//! A typed username is first folded by the account rules (`auth::normalize_username`: plain
//! ASCII letters, digits, `.`, `_`, `-`), which already leaves no filter syntax in it; the
//! value is escaped anyway, so this module stays safe whatever calls it.

/// Escapes a value for use inside a filter: `*`, `(`, `)`, `\`, NUL and every non-ASCII
/// byte become `\XX`.
pub fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'*' | b'(' | b')' | b'\\' | 0 | 0x80..=0xff => out.push_str(&format!("\\{b:02x}")),
            _ => out.push(char::from(b)),
        }
    }
    out
}

/// `(&<base filter>(<attribute>=<escaped value>))`.
pub fn and_equals(base_filter: &str, attribute: &str, value: &str) -> String {
    format!("(&{base_filter}({attribute}={}))", escape_value(value))
}

/// Whether a configured filter is one parenthesised expression with balanced parentheses
/// (caught at start-up rather than as a failed search at the first sign-in).
pub fn is_well_formed(filter: &str) -> bool {
    let f = filter.trim();
    if !f.starts_with('(') || !f.ends_with(')') {
        return false;
    }
    let mut depth = 0i32;
    let mut escaped = false;
    for (i, c) in f.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                // The outer expression closes only at the very end.
                if depth < 0 || (depth == 0 && i != f.len() - 1) {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0 && !escaped
}

/// Whether a configured attribute name is a plain name or OID (nothing a filter could hide in).
pub fn is_attribute_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == ';')
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_filter_metacharacter() {
        assert_eq!(escape_value("alice"), "alice");
        assert_eq!(escape_value("*"), "\\2a");
        assert_eq!(escape_value("a)(uid=*"), "a\\29\\28uid=\\2a");
        assert_eq!(escape_value("x\\y"), "x\\5cy");
        assert_eq!(escape_value("nul\0"), "nul\\00");
        // Cyrillic "а" (U+0430) is two bytes in UTF-8, both escaped.
        assert_eq!(escape_value("\u{430}"), "\\d0\\b0");
    }

    #[test]
    fn builds_an_and_filter() {
        assert_eq!(and_equals("(objectClass=person)", "uid", "a*"), "(&(objectClass=person)(uid=a\\2a))");
    }

    #[test]
    fn recognises_well_formed_filters() {
        assert!(is_well_formed("(objectClass=inetOrgPerson)"));
        assert!(is_well_formed("(&(objectClass=user)(!(cn=a\\29b)))"));
        assert!(!is_well_formed("objectClass=user"));
        assert!(!is_well_formed("(a=b)(c=d)"));
        assert!(!is_well_formed("((a=b)"));
        assert!(!is_well_formed("(a=b))"));
        assert!(!is_well_formed("(a=b\\)"));
    }

    #[test]
    fn attribute_names() {
        assert!(is_attribute_name("sAMAccountName"));
        assert!(is_attribute_name("1.2.840.113556.1.4.8"));
        assert!(!is_attribute_name("uid)(x"));
        assert!(!is_attribute_name(""));
        assert!(!is_attribute_name("-x"));
    }

    proptest::proptest! {
        /// Whatever is typed, the escaped value holds no byte that could end or widen the
        /// equality assertion it sits in.
        #[test]
        fn escaped_values_hold_no_filter_syntax(s in ".*") {
            let e = escape_value(&s);
            proptest::prop_assert!(!e.contains(['*', '(', ')', '\0']));
            proptest::prop_assert!(e.is_ascii());
            // Every backslash starts a two-digit hex escape.
            let b = e.as_bytes();
            for (i, c) in b.iter().enumerate() {
                if *c == b'\\' {
                    proptest::prop_assert!(i + 2 < b.len() + 1 && b.get(i + 1).is_some_and(u8::is_ascii_hexdigit));
                }
            }
            proptest::prop_assert!(is_well_formed(&and_equals("(objectClass=x)", "uid", &s)));
        }
    }
}
