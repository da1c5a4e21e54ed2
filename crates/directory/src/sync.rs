//! What a sync changes: the directory's people against the accounts here. Pure; the server's
//! sync task applies the plan through the store and closes the sockets of whoever it disabled.

use std::collections::{HashMap, HashSet};

use store::{AccountSource, DirectoryAccount, User};

use crate::entry::DirectoryUser;

/// The changes of one sync.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Accounts to bring in line, with whether to create them if missing.
    pub apply: Vec<(DirectoryAccount, bool)>,
    /// Directory names held by local accounts (left alone; worth a warning).
    pub conflicts: Vec<String>,
    /// The listing was empty while directory accounts are active: nobody was disabled, since
    /// an empty answer is far more often a wrong `user_base`/`user_filter` than everyone leaving.
    pub suspicious_empty: bool,
}

/// The account a directory user should have.
pub fn account_of(p: &DirectoryUser) -> DirectoryAccount {
    DirectoryAccount {
        username: p.username.clone(),
        display_name: p.display_name.clone(),
        is_admin: p.is_admin && p.standing.is_active(),
        active: p.standing.is_active(),
    }
}

/// Compares the directory's listing with the accounts here. `import` creates accounts for
/// active directory users who never signed in.
pub fn plan(people: &[DirectoryUser], accounts: &[User], import: bool) -> Plan {
    let by_name: HashMap<&str, &User> = accounts.iter().map(|u| (u.username.as_str(), u)).collect();
    let mut out = Plan::default();
    let mut listed = HashSet::new();
    for p in people {
        listed.insert(p.username.as_str());
        let want = account_of(p);
        match by_name.get(p.username.as_str()) {
            None if import && want.active => out.apply.push((want, true)),
            None => {}
            Some(u) if u.source == AccountSource::Local => out.conflicts.push(p.username.clone()),
            Some(u)
                if u.display_name != want.display_name || u.is_admin != want.is_admin || u.disabled == want.active =>
            {
                out.apply.push((want, false));
            }
            Some(_) => {}
        }
    }
    let gone: Vec<&User> = accounts
        .iter()
        .filter(|u| u.source == AccountSource::Directory && !u.disabled && !listed.contains(u.username.as_str()))
        .collect();
    if people.is_empty() && !gone.is_empty() {
        out.suspicious_empty = true;
        return out;
    }
    for u in gone {
        out.apply.push((
            DirectoryAccount {
                username: u.username.clone(),
                display_name: u.display_name.clone(),
                is_admin: false,
                active: false,
            },
            false,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Standing;

    fn person(name: &str, display: &str, standing: Standing, admin: bool) -> DirectoryUser {
        DirectoryUser {
            dn: format!("uid={name},dc=x"),
            username: name.into(),
            display_name: display.into(),
            email: None,
            standing,
            is_admin: admin,
        }
    }

    fn account(id: i64, name: &str, display: &str, source: AccountSource, disabled: bool) -> User {
        User {
            id,
            username: name.into(),
            display_name: display.into(),
            password_hash: String::new(),
            is_admin: false,
            disabled,
            created_at: 0,
            source,
        }
    }

    #[test]
    fn renames_disables_removes_and_leaves_local_accounts_alone() {
        let people = vec![
            person("alice", "Alice New", Standing::Active, false),
            person("dave", "Dave", Standing::Disabled, true),
            person("root", "Root", Standing::Active, true),
            person("frank", "Frank", Standing::Active, false),
            person("gina", "Gina", Standing::NotInAccessGroup, false),
        ];
        let accounts = vec![
            account(1, "alice", "Alice Old", AccountSource::Directory, false),
            account(2, "dave", "Dave", AccountSource::Directory, false),
            account(3, "root", "root", AccountSource::Local, false),
            account(4, "erin", "Erin", AccountSource::Directory, false),
            account(5, "old", "Old", AccountSource::Directory, true),
        ];
        let p = plan(&people, &accounts, false);
        let names: Vec<(&str, bool, bool)> =
            p.apply.iter().map(|(a, create)| (a.username.as_str(), a.active, *create)).collect();
        assert_eq!(names, vec![("alice", true, false), ("dave", false, false), ("erin", false, false)]);
        assert!(!p.apply[1].0.is_admin, "a disabled admin is no admin");
        assert_eq!(p.conflicts, vec!["root".to_owned()]);
        // Import creates the active ones who never signed in, not the others.
        let p = plan(&people, &accounts, true);
        assert!(p.apply.iter().any(|(a, create)| a.username == "frank" && *create));
        assert!(!p.apply.iter().any(|(a, _)| a.username == "gina"));
    }

    #[test]
    fn nothing_changes_when_all_agree() {
        let people = vec![person("alice", "Alice", Standing::Active, false)];
        let accounts = vec![account(1, "alice", "Alice", AccountSource::Directory, false)];
        assert_eq!(plan(&people, &accounts, true), Plan::default());
    }

    #[test]
    fn an_empty_listing_disables_nobody() {
        let accounts = vec![account(1, "alice", "Alice", AccountSource::Directory, false)];
        let p = plan(&[], &accounts, false);
        assert!(p.suspicious_empty);
        assert!(p.apply.is_empty());
    }
}
