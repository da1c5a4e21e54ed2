//! What a directory entry says about a person: their account name, display name, e-mail,
//! whether the directory has disabled them, and whether they may sign in or administer.

use std::collections::{HashMap, HashSet};

/// Active Directory's `userAccountControl` bit for a disabled account.
const AD_ACCOUNTDISABLE: u64 = 0x2;
/// Operational attributes that mark an account disabled; asked for by name, since a search
/// for `*` does not return operational attributes.
pub const LOCK_ATTRIBUTES: [&str; 2] = ["pwdAccountLockedTime", "userAccountControl"];

/// A person as the directory describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryUser {
    pub dn: String,
    /// Canonical username (folded by the account rules).
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub standing: Standing,
    pub is_admin: bool,
}

/// Whether the directory lets this person use mywebrtc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Active,
    /// Locked or disabled in the directory (OpenLDAP ppolicy lock, AD ACCOUNTDISABLE).
    Disabled,
    /// Not a member of the group that may sign in.
    NotInAccessGroup,
}

impl Standing {
    pub fn is_active(self) -> bool {
        self == Standing::Active
    }
}

/// The attribute values of an entry, looked up case-insensitively (servers return the
/// schema's spelling, operators configure whatever case they like).
pub struct Attributes<'a>(pub &'a HashMap<String, Vec<String>>);

impl<'a> Attributes<'a> {
    pub fn first(&self, name: &str) -> Option<&'a str> {
        self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).and_then(|(_, v)| v.first()).map(String::as_str)
    }

    pub fn all(&self, name: &str) -> &'a [String] {
        self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map_or(&[], |(_, v)| v.as_slice())
    }
}

/// Whether the directory marks the entry disabled: any `pwdAccountLockedTime` (OpenLDAP
/// ppolicy; a lock with an expiry is treated as a lock, since the sync cannot know it ends),
/// or `userAccountControl` with ACCOUNTDISABLE (Active Directory). An unparsable
/// `userAccountControl` counts as disabled: failing closed.
pub fn is_disabled(attrs: &Attributes<'_>) -> bool {
    if attrs.first("pwdAccountLockedTime").is_some() {
        return true;
    }
    match attrs.first("userAccountControl") {
        None => false,
        Some(v) => v.trim().parse::<u64>().map_or(true, |flags| flags & AD_ACCOUNTDISABLE != 0),
    }
}

/// A DN compared the way servers usually write it back: case-insensitive, no blanks after
/// separators. (Good enough for group member lists written by the same server.)
pub fn normalize_dn(dn: &str) -> String {
    dn.split(',').map(|rdn| rdn.trim().to_ascii_lowercase()).collect::<Vec<_>>().join(",")
}

/// The member DNs listed in a group entry, or `None` when the server sent only part of them:
/// Active Directory answers a group of more than 1,500 members with `member;range=0-1499`
/// instead of `member`. Reading that as the whole list would make everyone else look like a
/// non-member (and the sync disable them), so a partial list is refused instead.
pub fn complete_members<'a>(attrs: &Attributes<'a>, attribute: &str) -> Option<&'a [String]> {
    let ranged = format!("{};range=", attribute.to_ascii_lowercase());
    if attrs.0.keys().any(|k| k.to_ascii_lowercase().starts_with(&ranged)) {
        return None;
    }
    Some(attrs.all(attribute))
}

/// Members of a group, as normalised DNs.
pub fn member_set(values: &[String]) -> HashSet<String> {
    values.iter().map(|v| normalize_dn(v)).collect()
}

/// Names of the configured attributes, for building a [`DirectoryUser`] from an entry.
pub struct AttributeNames<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub email: &'a str,
}

/// Why an entry cannot become an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryProblem {
    NoUsername,
    /// The directory's name breaks the account rules (e.g. spaces or non-ASCII letters).
    BadUsername(String),
}

/// Builds the person from an entry. Group sets are `None` when no such group is configured
/// (then everyone the user filter finds may sign in, and nobody is admin by directory).
pub fn person(
    dn: &str,
    attrs: &Attributes<'_>,
    names: &AttributeNames<'_>,
    access: Option<&HashSet<String>>,
    admins: Option<&HashSet<String>>,
) -> Result<DirectoryUser, EntryProblem> {
    let raw = attrs.first(names.username).ok_or(EntryProblem::NoUsername)?;
    let username = auth::normalize_username(raw).map_err(|e| EntryProblem::BadUsername(e.to_string()))?;
    let display_name = attrs
        .first(names.display_name)
        .and_then(|d| auth::normalize_display_name(d).ok())
        .unwrap_or_else(|| username.clone());
    let email = attrs.first(names.email).map(str::to_owned);
    let key = normalize_dn(dn);
    let standing = if is_disabled(attrs) {
        Standing::Disabled
    } else if access.is_some_and(|members| !members.contains(&key)) {
        Standing::NotInAccessGroup
    } else {
        Standing::Active
    };
    let is_admin = admins.is_some_and(|members| members.contains(&key));
    Ok(DirectoryUser { dn: dn.to_owned(), username, display_name, email, standing, is_admin })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> HashMap<String, Vec<String>> {
        let mut m: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in pairs {
            m.entry((*k).to_owned()).or_default().push((*v).to_owned());
        }
        m
    }

    const NAMES: AttributeNames<'static> = AttributeNames { username: "uid", display_name: "cn", email: "mail" };

    #[test]
    fn disabled_markers() {
        assert!(!is_disabled(&Attributes(&attrs(&[("uid", "a")]))));
        assert!(is_disabled(&Attributes(&attrs(&[("pwdAccountLockedTime", "000001010000Z")]))));
        assert!(is_disabled(&Attributes(&attrs(&[("USERACCOUNTCONTROL", "514")]))));
        assert!(!is_disabled(&Attributes(&attrs(&[("userAccountControl", "512")]))));
        assert!(is_disabled(&Attributes(&attrs(&[("userAccountControl", "garbage")]))));
    }

    #[test]
    fn standing_from_groups_and_locks() {
        let access = member_set(&["uid=ann, ou=People,dc=x".to_owned()]);
        let admins = member_set(&["UID=ANN,ou=people,dc=x".to_owned()]);
        let a = attrs(&[("uid", "Ann"), ("cn", "Anna A"), ("mail", "a@x")]);
        let p = person("uid=ann,ou=people,dc=x", &Attributes(&a), &NAMES, Some(&access), Some(&admins)).unwrap();
        assert_eq!(p.username, "ann");
        assert_eq!(p.display_name, "Anna A");
        assert_eq!(p.standing, Standing::Active);
        assert!(p.is_admin);
        let p = person("uid=b,ou=people,dc=x", &Attributes(&a), &NAMES, Some(&access), None).unwrap();
        assert_eq!(p.standing, Standing::NotInAccessGroup);
        assert!(!p.is_admin);
        let locked = attrs(&[("uid", "ann"), ("pwdAccountLockedTime", "20260101000000Z")]);
        let p = person("uid=ann,ou=people,dc=x", &Attributes(&locked), &NAMES, Some(&access), None).unwrap();
        assert_eq!(p.standing, Standing::Disabled);
        assert_eq!(p.display_name, "ann", "falls back to the username");
        // No access group configured: everyone the filter finds.
        let p = person("uid=z,dc=x", &Attributes(&a), &NAMES, None, None).unwrap();
        assert_eq!(p.standing, Standing::Active);
    }

    #[test]
    fn a_ranged_member_list_is_not_taken_for_the_whole_group() {
        let whole = attrs(&[("member", "uid=a,dc=x"), ("member", "uid=b,dc=x")]);
        assert_eq!(complete_members(&Attributes(&whole), "member").map(<[String]>::len), Some(2));
        let ranged = attrs(&[("member;range=0-1499", "uid=a,dc=x")]);
        assert_eq!(complete_members(&Attributes(&ranged), "member"), None);
        let empty = attrs(&[]);
        assert_eq!(complete_members(&Attributes(&empty), "member").map(<[String]>::len), Some(0));
    }

    #[test]
    fn entries_that_cannot_be_accounts() {
        let none = attrs(&[("cn", "x")]);
        assert_eq!(person("cn=x", &Attributes(&none), &NAMES, None, None), Err(EntryProblem::NoUsername));
        let spaced = attrs(&[("uid", "john smith")]);
        assert!(matches!(person("cn=x", &Attributes(&spaced), &NAMES, None, None), Err(EntryProblem::BadUsername(_))));
        // A display name with a bidi override is not taken over as is.
        let bidi = attrs(&[("uid", "eve"), ("cn", "Eve\u{202E}nimda")]);
        assert_eq!(person("cn=x", &Attributes(&bidi), &NAMES, None, None).unwrap().display_name, "eve");
    }
}
