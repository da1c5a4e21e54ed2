//! The LDAP client: one short-lived connection per operation, each operation run as its own
//! task under the configured timeout (a stalled directory cannot hold a sign-in, and a
//! malformed answer that makes the LDAP library panic ends that task, not the server).

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ldap3::adapters::{EntriesOnly, PagedResults};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry};

use crate::config::DirectoryConfig;
use crate::entry::{self, AttributeNames, Attributes, DirectoryUser};
use crate::error::DirectoryError;
use crate::filter::{and_equals, escape_value};

/// LDAP result code for a refused bind.
const INVALID_CREDENTIALS: u32 = 49;
/// LDAP result code for a search base that does not exist.
const NO_SUCH_OBJECT: u32 = 32;
/// Entries per page of a full listing (below Active Directory's default MaxPageSize of 1000).
const PAGE_SIZE: i32 = 500;

#[derive(Clone)]
pub struct Directory {
    cfg: Arc<DirectoryConfig>,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The config's password prints as `<set>`.
        f.debug_struct("Directory").field("config", &self.cfg).finish()
    }
}

/// Which step an LDAP error happened in, to say what failed.
#[derive(Clone, Copy)]
enum Phase {
    Connect,
    ServiceBind,
    Search,
}

fn io_is_tls(e: &std::io::Error) -> Option<String> {
    let inner = e.get_ref()?;
    inner.downcast_ref::<rustls::Error>().map(|r| r.to_string())
}

fn classify(e: LdapError, phase: Phase, timeout: Duration) -> DirectoryError {
    match e {
        LdapError::Timeout { .. } => DirectoryError::Timeout(timeout.as_secs().max(1)),
        LdapError::Rustls { source } => DirectoryError::Tls(source.to_string()),
        LdapError::DNSName { source } => {
            DirectoryError::Tls(format!("the URL's host is not a valid TLS name: {source}"))
        }
        LdapError::Io { source } => match io_is_tls(&source) {
            Some(tls) => DirectoryError::Tls(tls),
            None if matches!(phase, Phase::Connect) => DirectoryError::Connect(source.to_string()),
            None => DirectoryError::Connect(format!("connection lost: {source}")),
        },
        LdapError::LdapResult { result } if matches!(phase, Phase::Connect) => {
            DirectoryError::Tls(format!("StartTLS refused by the server: {result}"))
        }
        LdapError::UrlParsing { .. } | LdapError::UnknownScheme(_) => DirectoryError::Config(e.to_string()),
        other => match phase {
            Phase::Connect => DirectoryError::Connect(other.to_string()),
            Phase::ServiceBind => DirectoryError::ServiceBind(other.to_string()),
            Phase::Search => DirectoryError::Search(other.to_string()),
        },
    }
}

fn load_roots(path: &std::path::Path) -> Result<rustls::RootCertStore, DirectoryError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let bad = |m: String| DirectoryError::Config(format!("ldap.ca_file {}: {m}", path.display()));
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))? {
        roots.add(cert.map_err(|e| bad(e.to_string()))?).map_err(|e| bad(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(bad("holds no certificate".into()));
    }
    Ok(roots)
}

impl Directory {
    /// Checks the configuration and loads the CA file.
    pub fn new(cfg: DirectoryConfig) -> Result<Self, DirectoryError> {
        cfg.validate()?;
        let tls = match &cfg.ca_file {
            Some(path) => {
                let provider = Arc::new(rustls::crypto::ring::default_provider());
                let config = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(|e| DirectoryError::Config(e.to_string()))?
                    .with_root_certificates(load_roots(path)?)
                    .with_no_client_auth();
                Some(Arc::new(config))
            }
            // ldap3 then trusts the system's CA store.
            None => None,
        };
        Ok(Self { cfg: Arc::new(cfg), tls })
    }

    pub fn config(&self) -> &DirectoryConfig {
        &self.cfg
    }

    /// Runs `op` as its own task, bounded by `limit`.
    async fn bounded<T: Send + 'static>(
        &self,
        limit: Duration,
        op: impl Future<Output = Result<T, DirectoryError>> + Send + 'static,
    ) -> Result<T, DirectoryError> {
        let task = tokio::spawn(tokio::time::timeout(limit, op));
        match task.await {
            Ok(Ok(result)) => result,
            Ok(Err(_elapsed)) => Err(DirectoryError::Timeout(limit.as_secs().max(1))),
            Err(join) => Err(DirectoryError::Search(format!("the directory's answer could not be read ({join})"))),
        }
    }

    /// A connection with TLS as configured (LDAPS, or StartTLS on `ldap://`).
    async fn connect(cfg: &DirectoryConfig, tls: Option<Arc<rustls::ClientConfig>>) -> Result<Ldap, DirectoryError> {
        let mut settings = LdapConnSettings::new().set_conn_timeout(cfg.timeout).set_starttls(cfg.uses_starttls());
        if let Some(tls) = tls {
            settings = settings.set_config(tls);
        }
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &cfg.url)
            .await
            .map_err(|e| classify(e, Phase::Connect, cfg.timeout))?;
        // The connection's driver lives at most a little longer than any operation on it.
        let life = cfg.timeout * 12;
        tokio::spawn(async move {
            let _ = tokio::time::timeout(life, conn.drive()).await;
        });
        ldap.with_timeout(cfg.timeout);
        Ok(ldap)
    }

    /// A connection bound as the service account.
    async fn service(cfg: &DirectoryConfig, tls: Option<Arc<rustls::ClientConfig>>) -> Result<Ldap, DirectoryError> {
        let mut ldap = Self::connect(cfg, tls).await?;
        let res = ldap
            .simple_bind(&cfg.bind_dn, &cfg.bind_password.0)
            .await
            .map_err(|e| classify(e, Phase::ServiceBind, cfg.timeout))?;
        if res.rc != 0 {
            return Err(DirectoryError::ServiceBind(format!("result code {} {}", res.rc, res.text)));
        }
        Ok(ldap)
    }

    fn user_attributes(cfg: &DirectoryConfig) -> Vec<String> {
        let mut attrs =
            vec![cfg.username_attribute.clone(), cfg.display_name_attribute.clone(), cfg.email_attribute.clone()];
        attrs.extend(entry::LOCK_ATTRIBUTES.iter().map(|s| (*s).to_owned()));
        attrs
    }

    /// The one entry whose username attribute equals `username`.
    async fn find_entry(
        ldap: &mut Ldap,
        cfg: &DirectoryConfig,
        username: &str,
    ) -> Result<Option<SearchEntry>, DirectoryError> {
        let filter = and_equals(&cfg.user_filter, &cfg.username_attribute, username);
        let res = ldap
            .search(&cfg.user_base, Scope::Subtree, &filter, Self::user_attributes(cfg))
            .await
            .map_err(|e| classify(e, Phase::Search, cfg.timeout))?;
        let (entries, result) = (res.0, res.1);
        if result.rc != 0 {
            return Err(DirectoryError::Search(format!("{} (base {:?})", result, cfg.user_base)));
        }
        match entries.len() {
            0 => Ok(None),
            1 => Ok(entries.into_iter().next().map(SearchEntry::construct)),
            n => Err(DirectoryError::Ambiguous(n)),
        }
    }

    /// Whether `dn` is listed in `group` (asked of the server, so large groups need no paging).
    async fn is_member(ldap: &mut Ldap, cfg: &DirectoryConfig, group: &str, dn: &str) -> Result<bool, DirectoryError> {
        let filter = format!("({}={})", cfg.group_member_attribute, escape_value(dn));
        Ok(!Self::read_group(ldap, cfg, group, &filter, "1.1").await?.is_empty())
    }

    /// The group's entry if it matches `filter` (base scope), with attribute `attr`; an error
    /// if the group does not exist.
    async fn read_group(
        ldap: &mut Ldap,
        cfg: &DirectoryConfig,
        group: &str,
        filter: &str,
        attr: &str,
    ) -> Result<Vec<ldap3::ResultEntry>, DirectoryError> {
        let res = ldap
            .search(group, Scope::Base, filter, vec![attr])
            .await
            .map_err(|e| classify(e, Phase::Search, cfg.timeout))?;
        match res.1.rc {
            0 => Ok(res.0),
            NO_SUCH_OBJECT => Err(DirectoryError::Search(format!("group {group:?} does not exist"))),
            _ => Err(DirectoryError::Search(format!("{} (group {group:?})", res.1))),
        }
    }

    /// The member DNs of a group (normalised), or an error if it does not exist.
    async fn group_members(
        ldap: &mut Ldap,
        cfg: &DirectoryConfig,
        group: &str,
    ) -> Result<HashSet<String>, DirectoryError> {
        let attr = cfg.group_member_attribute.clone();
        let found = Self::read_group(ldap, cfg, group, "(objectClass=*)", &attr).await?;
        let Some(entry) = found.into_iter().next().map(SearchEntry::construct) else { return Ok(HashSet::new()) };
        match entry::complete_members(&Attributes(&entry.attrs), &attr) {
            Some(members) => Ok(entry::member_set(members)),
            None => Err(DirectoryError::Search(format!(
                "group {group:?} is too large to be read in one piece (Active Directory's ranged \
                 retrieval, over 1,500 members), which this version does not do yet; nobody was \
                 changed. Keep the group under 1,500 members for now"
            ))),
        }
    }

    /// Describes one entry, asking the server about its group memberships.
    async fn describe(
        ldap: &mut Ldap,
        cfg: &DirectoryConfig,
        e: &SearchEntry,
    ) -> Result<DirectoryUser, DirectoryError> {
        let key = entry::normalize_dn(&e.dn);
        let mut sets = Vec::new();
        for group in [&cfg.access_group, &cfg.admin_group] {
            sets.push(match group {
                Some(g) => Some(if Self::is_member(ldap, cfg, g, &e.dn).await? {
                    HashSet::from([key.clone()])
                } else {
                    HashSet::new()
                }),
                None => None,
            });
        }
        let names = AttributeNames {
            username: &cfg.username_attribute,
            display_name: &cfg.display_name_attribute,
            email: &cfg.email_attribute,
        };
        entry::person(&e.dn, &Attributes(&e.attrs), &names, sets[0].as_ref(), sets[1].as_ref())
            .map_err(|p| DirectoryError::Search(format!("entry {:?} cannot be an account: {p:?}", e.dn)))
    }

    /// Checks a password by binding as the user, then says who they are and whether they
    /// may sign in. The caller decides what to do with their [`crate::Standing`]. An empty
    /// password is refused without asking (it would be an anonymous bind).
    pub async fn authenticate(&self, username: &str, password: &str) -> Result<DirectoryUser, DirectoryError> {
        if password.is_empty() {
            return Err(DirectoryError::InvalidCredentials);
        }
        let (cfg, tls) = (self.cfg.clone(), self.tls.clone());
        let (username, password) = (username.to_owned(), password.to_owned());
        self.bounded(self.cfg.timeout, async move {
            let mut ldap = Self::service(&cfg, tls.clone()).await?;
            let found = Self::find_entry(&mut ldap, &cfg, &username).await?;
            let entry = found.ok_or(DirectoryError::InvalidCredentials)?;
            let mut as_user = Self::connect(&cfg, tls).await?;
            match as_user.simple_bind(&entry.dn, &password).await {
                Ok(r) if r.rc == 0 => {}
                Ok(r) if r.rc == INVALID_CREDENTIALS => return Err(DirectoryError::InvalidCredentials),
                Ok(r) => return Err(DirectoryError::Search(format!("user bind: {r}"))),
                Err(e) => return Err(classify(e, Phase::Search, cfg.timeout)),
            }
            let _ = as_user.unbind().await;
            let person = Self::describe(&mut ldap, &cfg, &entry).await?;
            let _ = ldap.unbind().await;
            Ok(person)
        })
        .await
    }

    /// Looks a user up without their password (`ldap test`).
    pub async fn find(&self, username: &str) -> Result<Option<DirectoryUser>, DirectoryError> {
        let (cfg, tls) = (self.cfg.clone(), self.tls.clone());
        let username = username.to_owned();
        self.bounded(self.cfg.timeout, async move {
            let mut ldap = Self::service(&cfg, tls).await?;
            match Self::find_entry(&mut ldap, &cfg, &username).await? {
                None => Ok(None),
                Some(e) => Ok(Some(Self::describe(&mut ldap, &cfg, &e).await?)),
            }
        })
        .await
    }

    /// Everyone `user_filter` finds under `user_base` (paged), with their standing, and how
    /// many entries were skipped because their name cannot be an account.
    pub async fn list(&self) -> Result<(Vec<DirectoryUser>, usize), DirectoryError> {
        let (cfg, tls) = (self.cfg.clone(), self.tls.clone());
        // A full listing of a large directory takes longer than one sign-in.
        self.bounded(self.cfg.timeout * 10, async move {
            let mut ldap = Self::service(&cfg, tls).await?;
            let access = match &cfg.access_group {
                Some(g) => Some(Self::group_members(&mut ldap, &cfg, g).await?),
                None => None,
            };
            let admins = match &cfg.admin_group {
                Some(g) => Some(Self::group_members(&mut ldap, &cfg, g).await?),
                None => None,
            };
            let adapters: Vec<Box<dyn ldap3::adapters::Adapter<_, _>>> =
                vec![Box::new(EntriesOnly::new()), Box::new(PagedResults::new(PAGE_SIZE))];
            let mut stream = ldap
                .streaming_search_with(
                    adapters,
                    &cfg.user_base,
                    Scope::Subtree,
                    &cfg.user_filter,
                    Self::user_attributes(&cfg),
                )
                .await
                .map_err(|e| classify(e, Phase::Search, cfg.timeout))?;
            let names = AttributeNames {
                username: &cfg.username_attribute,
                display_name: &cfg.display_name_attribute,
                email: &cfg.email_attribute,
            };
            let (mut people, mut skipped) = (Vec::new(), 0usize);
            while let Some(raw) = stream.next().await.map_err(|e| classify(e, Phase::Search, cfg.timeout))? {
                let e = SearchEntry::construct(raw);
                match entry::person(&e.dn, &Attributes(&e.attrs), &names, access.as_ref(), admins.as_ref()) {
                    Ok(p) => people.push(p),
                    Err(_) => skipped += 1,
                }
            }
            let result = stream.finish().await;
            if result.rc != 0 {
                return Err(DirectoryError::Search(format!("{} (base {:?})", result, cfg.user_base)));
            }
            let _ = ldap.unbind().await;
            Ok((people, skipped))
        })
        .await
    }

    /// Connects (with TLS), binds as the service account and unbinds: the first steps of `ldap test`.
    pub(crate) async fn probe_service(&self) -> Result<(), DirectoryError> {
        let (cfg, tls) = (self.cfg.clone(), self.tls.clone());
        self.bounded(self.cfg.timeout, async move {
            let mut ldap = Self::service(&cfg, tls).await?;
            let _ = ldap.unbind().await;
            Ok(())
        })
        .await
    }

    /// The member count of a group (`ldap test`).
    pub(crate) async fn group_size(&self, group: &str) -> Result<usize, DirectoryError> {
        let (cfg, tls) = (self.cfg.clone(), self.tls.clone());
        let group = group.to_owned();
        self.bounded(self.cfg.timeout, async move {
            let mut ldap = Self::service(&cfg, tls).await?;
            Ok(Self::group_members(&mut ldap, &cfg, &group).await?.len())
        })
        .await
    }
}
