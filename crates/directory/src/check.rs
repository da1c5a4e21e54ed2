//! `mywebrtc ldap test [USER]`: each step of talking to the directory, and what failed.

use crate::client::Directory;
use crate::entry::Standing;

/// One step and its outcome.
#[derive(Debug, Clone)]
pub struct CheckStep {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    pub steps: Vec<CheckStep>,
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.steps.iter().all(|s| s.ok)
    }

    fn push(&mut self, name: &'static str, result: Result<String, String>) -> bool {
        let ok = result.is_ok();
        let detail = result.unwrap_or_else(|e| e);
        self.steps.push(CheckStep { name, ok, detail });
        ok
    }
}

impl std::fmt::Display for CheckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for s in &self.steps {
            writeln!(f, "{} {:<14} {}", if s.ok { "ok  " } else { "FAIL" }, s.name, s.detail)?;
        }
        Ok(())
    }
}

impl Directory {
    /// Runs the checks in order; stops at the first step the later ones depend on.
    pub async fn check(&self, user: Option<&str>) -> CheckReport {
        let mut r = CheckReport::default();
        let cfg = self.config();
        let tls = if cfg.is_ldaps() {
            "LDAPS"
        } else if cfg.uses_starttls() {
            "StartTLS"
        } else {
            "none (insecure = true: passwords cross the network in clear text)"
        };
        let ca = cfg.ca_file.as_ref().map_or("the system's CA store".to_owned(), |p| p.display().to_string());
        let connected = self.probe_service().await;
        let (connect, bind) = match &connected {
            Ok(()) => (Ok(format!("{} (TLS: {tls}; trusting {ca})", cfg.url)), Ok(format!("as {}", cfg.bind_dn))),
            Err(e) if e.is_unavailable() => (Err(e.to_string()), Err("not tried".to_owned())),
            Err(e) => (Ok(format!("{} (TLS: {tls}; trusting {ca})", cfg.url)), Err(e.to_string())),
        };
        if !r.push("connect + TLS", connect) | !r.push("service bind", bind) {
            return r;
        }
        let listing = self.list().await;
        let search = match &listing {
            Ok((people, skipped)) => Ok(format!(
                "{} people under {} match {}{}",
                people.len(),
                cfg.user_base,
                cfg.user_filter,
                if *skipped > 0 {
                    format!(" ({skipped} skipped: their names cannot be accounts)")
                } else {
                    String::new()
                }
            )),
            Err(e) => Err(e.to_string()),
        };
        r.push("search", search);
        for (name, group) in [("access group", &cfg.access_group), ("admin group", &cfg.admin_group)] {
            let outcome = match group {
                None => Ok("not configured".to_owned()),
                Some(g) => self.group_size(g).await.map(|n| format!("{g}: {n} members")).map_err(|e| e.to_string()),
            };
            r.push(name, outcome);
        }
        if let Some(u) = user {
            let outcome = match auth::normalize_username(u) {
                Err(e) => Err(format!("{u:?} cannot be a username here: {e}")),
                Ok(name) => match self.find(&name).await {
                    Ok(None) => Err(format!("no entry with {}={name} under {}", cfg.username_attribute, cfg.user_base)),
                    Ok(Some(p)) => {
                        let standing = match p.standing {
                            Standing::Active => "may sign in",
                            Standing::Disabled => "DISABLED in the directory",
                            Standing::NotInAccessGroup => "NOT in the access group",
                        };
                        let detail = format!(
                            "{} — \"{}\", {}, {}{}",
                            p.dn,
                            p.display_name,
                            p.email.as_deref().unwrap_or("no e-mail"),
                            standing,
                            if p.is_admin { ", admin" } else { "" }
                        );
                        if p.standing.is_active() {
                            Ok(detail)
                        } else {
                            Err(detail)
                        }
                    }
                    Err(e) => Err(e.to_string()),
                },
            };
            r.push("user", outcome);
        }
        r
    }
}
