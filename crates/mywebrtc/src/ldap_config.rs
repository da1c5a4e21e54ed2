//! The `[ldap]` section: sign-in with the organisation's directory (off while `url` is empty).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LdapConfig {
    /// `ldaps://dc.example.org` or `ldap://ldap.example.org` (StartTLS); empty: no directory.
    pub url: String,
    /// Allow `ldap://` without StartTLS (passwords in clear text on the network).
    pub insecure: bool,
    /// PEM file of the CA that signed the directory's certificate; empty: the system's CAs.
    pub ca_file: String,
    /// The service account that searches the directory.
    pub bind_dn: String,
    pub bind_password: String,
    /// Read the service password from this file instead (first line; keeps it out of the config).
    pub bind_password_file: String,
    pub user_base: String,
    pub user_filter: String,
    pub username_attribute: String,
    pub display_name_attribute: String,
    pub email_attribute: String,
    /// DN of the group whose members may sign in; empty: everyone `user_filter` finds.
    pub access_group: String,
    /// DN of the group whose members are administrators.
    pub admin_group: String,
    pub group_member_attribute: String,
    pub sync_interval_secs: u64,
    pub timeout_secs: u64,
    /// Create accounts for every member of the access group at each sync (so they can be
    /// found in the directory search and added as contacts before they first sign in).
    pub import_users: bool,
}

impl Default for LdapConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            insecure: false,
            ca_file: String::new(),
            bind_dn: String::new(),
            bind_password: String::new(),
            bind_password_file: String::new(),
            user_base: String::new(),
            user_filter: "(objectClass=inetOrgPerson)".into(),
            username_attribute: "uid".into(),
            display_name_attribute: "cn".into(),
            email_attribute: "mail".into(),
            access_group: String::new(),
            admin_group: String::new(),
            group_member_attribute: "member".into(),
            sync_interval_secs: 300,
            timeout_secs: 5,
            import_users: false,
        }
    }
}

impl std::fmt::Debug for LdapConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapConfig")
            .field("url", &self.url)
            .field("bind_dn", &self.bind_dn)
            .field("bind_password", &if self.bind_password.is_empty() { "<empty>" } else { "<set>" })
            .field("user_base", &self.user_base)
            .field("access_group", &self.access_group)
            .field("admin_group", &self.admin_group)
            .finish_non_exhaustive()
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.trim().is_empty()).then(|| s.trim().to_owned())
}

impl LdapConfig {
    pub fn enabled(&self) -> bool {
        !self.url.trim().is_empty()
    }

    /// The directory client, or `None` when no directory is configured.
    pub fn directory(&self) -> Result<Option<directory::Directory>> {
        if !self.enabled() {
            return Ok(None);
        }
        if !self.bind_password.is_empty() && !self.bind_password_file.is_empty() {
            bail!("invalid configuration: set `ldap.bind_password` or `ldap.bind_password_file`, not both");
        }
        let password = if self.bind_password_file.is_empty() {
            self.bind_password.clone()
        } else {
            let text = std::fs::read_to_string(&self.bind_password_file)
                .with_context(|| format!("reading ldap.bind_password_file {}", self.bind_password_file))?;
            text.lines().next().unwrap_or("").to_owned()
        };
        if !(1..=300).contains(&self.timeout_secs) || !(10..=7 * 86400).contains(&self.sync_interval_secs) {
            bail!("invalid configuration: `ldap.timeout_secs` must be 1-300 and `ldap.sync_interval_secs` 10-604800");
        }
        let cfg = directory::DirectoryConfig {
            url: self.url.trim().to_owned(),
            insecure: self.insecure,
            ca_file: non_empty(&self.ca_file).map(PathBuf::from),
            bind_dn: self.bind_dn.clone(),
            bind_password: directory::Secret(password),
            user_base: self.user_base.clone(),
            user_filter: self.user_filter.clone(),
            username_attribute: self.username_attribute.clone(),
            display_name_attribute: self.display_name_attribute.clone(),
            email_attribute: self.email_attribute.clone(),
            access_group: non_empty(&self.access_group),
            admin_group: non_empty(&self.admin_group),
            group_member_attribute: self.group_member_attribute.clone(),
            sync_interval: Duration::from_secs(self.sync_interval_secs),
            timeout: Duration::from_secs(self.timeout_secs),
            import_users: self.import_users,
        };
        directory::Directory::new(cfg).map(Some).map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))
    }
}
