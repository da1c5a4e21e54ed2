//! The directory's pure rules on arbitrary input: a typed username escaped into a search
//! filter, a configured filter checked, and a directory entry (lines `attribute: value`)
//! turned into a person with a standing.
#![no_main]
use std::collections::{HashMap, HashSet};

use directory::entry::{self, AttributeNames, Attributes};
use directory::filter;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let escaped = filter::escape_value(&text);
    assert!(escaped.is_ascii() && !escaped.contains(['*', '(', ')', '\0']));
    assert!(filter::is_well_formed(&filter::and_equals("(objectClass=person)", "uid", &text)));
    let _ = filter::is_well_formed(&text);
    let _ = filter::is_attribute_name(&text);

    let mut attrs: HashMap<String, Vec<String>> = HashMap::new();
    for line in text.lines() {
        if let Some((k, v)) = line.split_once(':') {
            attrs.entry(k.trim().to_owned()).or_default().push(v.trim().to_owned());
        }
    }
    let dn = text.lines().next().unwrap_or("");
    let members: HashSet<String> = entry::member_set(&text.lines().map(str::to_owned).collect::<Vec<_>>());
    let names = AttributeNames { username: "uid", display_name: "cn", email: "mail" };
    if let Ok(p) = entry::person(dn, &Attributes(&attrs), &names, Some(&members), Some(&members)) {
        assert!(auth::normalize_username(&p.username).as_deref() == Ok(p.username.as_str()));
        assert!(!p.display_name.is_empty());
    }
});
