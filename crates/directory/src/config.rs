//! The `[ldap]` settings, checked once at start-up.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::DirectoryError;
use crate::filter::{is_attribute_name, is_well_formed};

/// A password that never shows up in `Debug` output (configs are logged at start-up).
#[derive(Clone, Default)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "<empty>" } else { "<set>" })
    }
}

#[derive(Debug, Clone)]
pub struct DirectoryConfig {
    /// `ldaps://host:636`, or `ldap://host:389` (StartTLS unless `insecure`).
    pub url: String,
    /// Allows `ldap://` without StartTLS: passwords then cross the network in clear text.
    pub insecure: bool,
    /// PEM file of the CA(s) that signed the directory's certificate; `None`: the system's.
    pub ca_file: Option<PathBuf>,
    /// The service account that searches the directory.
    pub bind_dn: String,
    pub bind_password: Secret,
    /// Where people are searched (subtree).
    pub user_base: String,
    /// Which entries are people, e.g. `(objectClass=inetOrgPerson)`.
    pub user_filter: String,
    pub username_attribute: String,
    pub display_name_attribute: String,
    pub email_attribute: String,
    /// DN of the group whose members may sign in; `None`: everyone `user_filter` finds.
    pub access_group: Option<String>,
    /// DN of the group whose members are administrators here.
    pub admin_group: Option<String>,
    /// The group attribute that lists member DNs (`member` for groupOfNames and AD groups,
    /// `uniqueMember` for groupOfUniqueNames).
    pub group_member_attribute: String,
    pub sync_interval: Duration,
    /// Bound on every directory operation (connect, TLS, bind, search) as a whole.
    pub timeout: Duration,
    /// Create accounts at each sync for every member of the access group, so they can be
    /// found and added as contacts before they first sign in.
    pub import_users: bool,
}

impl DirectoryConfig {
    /// Settings for a directory with the common OpenLDAP schema (`inetOrgPerson`: `uid`, `cn`,
    /// `mail`; `groupOfNames` groups), no groups configured, the system's CAs, a 5 s timeout
    /// and a sync every 5 minutes; change the fields that differ.
    pub fn new(url: &str, bind_dn: &str, bind_password: &str, user_base: &str) -> Self {
        Self {
            url: url.to_owned(),
            insecure: false,
            ca_file: None,
            bind_dn: bind_dn.to_owned(),
            bind_password: Secret(bind_password.to_owned()),
            user_base: user_base.to_owned(),
            user_filter: "(objectClass=inetOrgPerson)".to_owned(),
            username_attribute: "uid".to_owned(),
            display_name_attribute: "cn".to_owned(),
            email_attribute: "mail".to_owned(),
            access_group: None,
            admin_group: None,
            group_member_attribute: "member".to_owned(),
            sync_interval: Duration::from_secs(300),
            timeout: Duration::from_secs(5),
            import_users: false,
        }
    }

    /// Whether the URL uses LDAPS (TLS from the first byte).
    pub fn is_ldaps(&self) -> bool {
        self.url.to_ascii_lowercase().starts_with("ldaps://")
    }

    /// Whether StartTLS is used (`ldap://` and not `insecure`).
    pub fn uses_starttls(&self) -> bool {
        !self.is_ldaps() && !self.insecure
    }

    /// Refuses settings that cannot work or would be unsafe, naming the setting.
    pub fn validate(&self) -> Result<(), DirectoryError> {
        let bad = |m: String| Err(DirectoryError::Config(m));
        let lower = self.url.to_ascii_lowercase();
        if !(lower.starts_with("ldaps://") || lower.starts_with("ldap://")) {
            return bad(format!("ldap.url must start with ldaps:// or ldap://, not {:?}", self.url));
        }
        if self.bind_dn.trim().is_empty() || self.bind_password.0.is_empty() {
            return bad("ldap.bind_dn and ldap.bind_password (or bind_password_file) are required: \
                        anonymous searches are not supported"
                .into());
        }
        if self.user_base.trim().is_empty() {
            return bad("ldap.user_base is required".into());
        }
        if !is_well_formed(&self.user_filter) {
            return bad(format!(
                "ldap.user_filter must be one parenthesised filter, e.g. (objectClass=inetOrgPerson), not {:?}",
                self.user_filter
            ));
        }
        for (key, v) in [
            ("username_attribute", &self.username_attribute),
            ("display_name_attribute", &self.display_name_attribute),
            ("email_attribute", &self.email_attribute),
            ("group_member_attribute", &self.group_member_attribute),
        ] {
            if !is_attribute_name(v) {
                return bad(format!("ldap.{key} is not an attribute name: {v:?}"));
            }
        }
        if self.timeout.is_zero() || self.sync_interval.is_zero() {
            return bad("ldap.timeout_secs and ldap.sync_interval_secs must be above 0".into());
        }
        if let Some(ca) = &self.ca_file {
            if !ca.is_file() {
                return bad(format!("ldap.ca_file {} does not exist", ca.display()));
            }
        }
        Ok(())
    }
}
