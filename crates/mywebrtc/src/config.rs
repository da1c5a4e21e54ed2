//! Configuration: built-in defaults, overridden by `mywebrtc.toml`, then by `MYWEBRTC_*`
//! environment variables (`__` separates sections: `MYWEBRTC_TLS__CERT_FILE`), then by flags.
//! Any unknown key or bad value stops the start with a message naming the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Directory for the database, TLS certificate and other state.
    pub data_dir: PathBuf,
    /// HTTPS listen address.
    pub listen: String,
    /// Plain-HTTP listener that only redirects to HTTPS; empty or "off" disables it.
    pub http_redirect_listen: String,
    /// Public base URL for links (`https://chat.example.org`); empty: derived from `listen`.
    pub public_url: String,
    pub tls: TlsConfig,
    pub session: SessionConfig,
    pub log: LogConfig,
    pub limits: LimitsConfig,
    pub signaling: SignalingConfig,
    pub chat: ChatConfig,
    pub attachments: AttachmentsConfig,
    pub turn: crate::turn_service::TurnConfig,
    pub ldap: crate::ldap_config::LdapConfig,
    pub metrics: MetricsConfig,
    pub sfu: crate::sfu_config::SfuConfig,
    pub meetings: crate::meetings_config::MeetingsConfig,
    pub store: crate::store_config::StoreConfig,
    pub cluster: crate::cluster_config::ClusterConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Plain-HTTP listener of Prometheus metrics (`GET /metrics`); "off" disables it. Keep it
    /// on loopback or a private network: it is not authenticated.
    pub listen: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self { listen: "127.0.0.1:9464".into() }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttachmentsConfig {
    /// Where uploaded files are kept; empty: `data_dir/attachments`.
    pub dir: String,
    /// Largest file a member may upload, in MB (MiB).
    pub max_file_mb: u64,
    /// Most space one member's uploads may take together, in MB (MiB).
    pub quota_mb: u64,
    /// Files are deleted this many days after upload; 0 keeps them until their message is.
    pub retention_days: u64,
}

impl Default for AttachmentsConfig {
    fn default() -> Self {
        Self { dir: String::new(), max_file_mb: 100, quota_mb: 2048, retention_days: 0 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChatConfig {
    /// Sustained chat posts (messages, edits, deletions) per second per user...
    pub rate_per_sec: f64,
    /// ...with bursts up to this many.
    pub burst: f64,
}

impl Default for ChatConfig {
    fn default() -> Self {
        let hub = web::HubConfig::default();
        Self { rate_per_sec: hub.chat_rate_per_sec, burst: hub.chat_burst }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignalingConfig {
    /// Seconds a call rings before it counts as missed.
    pub ring_timeout_secs: u64,
    /// Seconds a broken connection's device (and its call) waits for the tab to reconnect.
    pub resume_grace_secs: u64,
    /// Seconds between heartbeats; a connection silent for 2.5 heartbeats is dropped.
    pub heartbeat_secs: u64,
    /// Only contacts may call each other.
    pub calls_only_between_contacts: bool,
    /// Members may search the whole directory for people to add.
    pub directory_search: bool,
    /// Extra STUN/TURN servers for calls, e.g. `[{ urls = ["stun:stun.example.org:3478"] }]`.
    pub ice_servers: Vec<IceServerConfig>,
    /// Most signaling sockets one user may have open at once (all devices together)...
    pub max_sockets_per_user: usize,
    /// ...and one signed-in browser.
    pub max_sockets_per_session: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IceServerConfig {
    pub urls: Vec<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub credential: Option<String>,
}

impl Default for SignalingConfig {
    fn default() -> Self {
        Self {
            ring_timeout_secs: 45,
            resume_grace_secs: 15,
            heartbeat_secs: 20,
            calls_only_between_contacts: true,
            directory_search: true,
            ice_servers: Vec::new(),
            max_sockets_per_user: 16,
            max_sockets_per_session: 16,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain; with `key_file`. Empty: self-signed certificate in `data_dir/tls`.
    pub cert_file: String,
    pub key_file: String,
    /// Extra host names or IP addresses for the self-signed certificate.
    pub extra_names: Vec<String>,
    /// Names of a certificate from an ACME CA (Let's Encrypt); empty: no ACME.
    pub acme_domains: Vec<String>,
    /// Contact URLs for the CA, e.g. `["mailto:admin@example.org"]`.
    pub acme_contact: Vec<String>,
    /// The CA's ACME directory.
    pub acme_directory: String,
    /// `tls-alpn-01` (on the HTTPS port) or `http-01` (on the plain-HTTP listener, port 80).
    pub acme_challenge: String,
    /// PEM of a CA to trust for the ACME server itself (a private CA); empty: the web PKI.
    pub acme_ca_file: String,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            cert_file: String::new(),
            key_file: String::new(),
            extra_names: Vec::new(),
            acme_domains: Vec::new(),
            acme_contact: Vec::new(),
            acme_directory: "https://acme-v02.api.letsencrypt.org/directory".into(),
            acme_challenge: "tls-alpn-01".into(),
            acme_ca_file: String::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    pub idle_hours: u64,
    pub max_days: u64,
    pub setup_link_minutes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// tracing filter, e.g. "info" or "web=debug,info"; RUST_LOG overrides it.
    pub level: String,
    /// "text" or "json".
    pub format: String,
    /// Include client IP addresses in request logs (off: privacy by default).
    pub client_ip: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    pub max_body_bytes: usize,
    /// Requests per second (sustained, and burst) one signed-in browser may make to the
    /// endpoints that create or search: contact requests, directory search, invites, ICE
    /// credentials, new conversations...
    pub session_per_sec: f64,
    pub session_burst: f64,
    /// ...and one client address (all its browsers together).
    pub address_per_sec: f64,
    pub address_burst: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            listen: "127.0.0.1:8443".into(),
            http_redirect_listen: "127.0.0.1:8080".into(),
            public_url: String::new(),
            tls: TlsConfig::default(),
            session: SessionConfig::default(),
            log: LogConfig::default(),
            limits: LimitsConfig::default(),
            signaling: SignalingConfig::default(),
            chat: ChatConfig::default(),
            attachments: AttachmentsConfig::default(),
            turn: crate::turn_service::TurnConfig::default(),
            ldap: crate::ldap_config::LdapConfig::default(),
            metrics: MetricsConfig::default(),
            sfu: crate::sfu_config::SfuConfig::default(),
            meetings: crate::meetings_config::MeetingsConfig::default(),
            store: crate::store_config::StoreConfig::default(),
            cluster: crate::cluster_config::ClusterConfig::default(),
        }
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self { idle_hours: 14 * 24, max_days: 90, setup_link_minutes: 60 }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { level: "info".into(), format: "text".into(), client_ip: false }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let b = web::BudgetRates::default();
        Self {
            max_body_bytes: 64 * 1024,
            session_per_sec: b.session_per_sec,
            session_burst: b.session_burst,
            address_per_sec: b.address_per_sec,
            address_burst: b.address_burst,
        }
    }
}

/// Values given as command-line flags (highest precedence). Only set fields override.
#[derive(Debug, Default, Serialize)]
pub struct FlagOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_redirect_listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
}

pub const DEFAULT_FILE: &str = "mywebrtc.toml";

const TOP_LEVEL_KEYS: &[&str] = &[
    "data_dir",
    "listen",
    "http_redirect_listen",
    "public_url",
    "tls",
    "session",
    "log",
    "limits",
    "signaling",
    "chat",
    "attachments",
    "turn",
    "ldap",
    "metrics",
    "sfu",
    "meetings",
];

impl Config {
    /// Loads the layered configuration. `file`: an explicit path must exist; without one,
    /// `./mywebrtc.toml` is read if present.
    pub fn load(file: Option<&Path>, flags: FlagOverrides) -> Result<Self> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(p) => {
                if !p.exists() {
                    bail!("configuration file {} does not exist", p.display());
                }
                fig = fig.merge(Toml::file_exact(p));
            }
            None if Path::new(DEFAULT_FILE).exists() => fig = fig.merge(Toml::file_exact(DEFAULT_FILE)),
            None => {}
        }
        // Unrelated MYWEBRTC_* variables (e.g. of test tools) are ignored; within a known
        // section every key must exist.
        let env = Env::prefixed("MYWEBRTC_").split("__").filter(|k| {
            let top = k.as_str().split('.').next().unwrap_or("");
            TOP_LEVEL_KEYS.iter().any(|t| top.eq_ignore_ascii_case(t))
        });
        fig = fig.merge(env).merge(Serialized::defaults(flags));
        let cfg: Config = fig.extract().map_err(|e| anyhow::anyhow!("invalid configuration: {}", describe(e)))?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<()> {
        self.listen_addr()?;
        self.redirect_addr()?;
        self.metrics_addr()?;
        if !self.public_url.is_empty() && !self.public_url.starts_with("https://") {
            bail!("invalid configuration: key `public_url`: must start with https:// (got {:?})", self.public_url);
        }
        let tls = &self.tls;
        if !tls.acme_domains.is_empty() {
            if !tls.cert_file.is_empty() {
                bail!("invalid configuration: set `tls.cert_file` or `tls.acme_domains`, not both");
            }
            if !tls.acme_directory.starts_with("https://") {
                bail!("invalid configuration: key `tls.acme_directory`: must be an https:// URL");
            }
            match tls.acme_challenge.as_str() {
                "tls-alpn-01" => {}
                "http-01" if self.redirect_addr()?.is_some() => {}
                "http-01" => bail!(
                    "invalid configuration: `tls.acme_challenge = \"http-01\"` needs `http_redirect_listen` (port 80)"
                ),
                other => bail!(
                    "invalid configuration: key `tls.acme_challenge`: \"tls-alpn-01\" or \"http-01\", not {other:?}"
                ),
            }
        }
        if self.tls.cert_file.is_empty() != self.tls.key_file.is_empty() {
            bail!("invalid configuration: keys `tls.cert_file` and `tls.key_file` must be set together");
        }
        if self.session.idle_hours == 0 || self.session.max_days == 0 || self.session.setup_link_minutes == 0 {
            bail!("invalid configuration: `session.idle_hours`, `session.max_days` and `session.setup_link_minutes` must be at least 1");
        }
        if !(1024..=16 * 1024 * 1024).contains(&self.limits.max_body_bytes) {
            bail!("invalid configuration: key `limits.max_body_bytes`: must be between 1024 and 16777216");
        }
        let l = &self.limits;
        let rate_ok = |r: f64, b: f64| r > 0.0 && r <= 1e6 && (1.0..=1e6).contains(&b);
        if !rate_ok(l.session_per_sec, l.session_burst) || !rate_ok(l.address_per_sec, l.address_burst) {
            bail!("invalid configuration: `limits.*_per_sec` must be above 0 and `limits.*_burst` at least 1 (both at most 1000000)");
        }
        let sig = &self.signaling;
        for s in &sig.ice_servers {
            if s.urls.is_empty()
                || !s.urls.iter().all(|u| u.starts_with("stun:") || u.starts_with("turn:") || u.starts_with("turns:"))
            {
                bail!("invalid configuration: `signaling.ice_servers`: every entry needs urls starting with stun:, turn: or turns:");
            }
        }
        if !(1..=600).contains(&sig.ring_timeout_secs)
            || !(1..=600).contains(&sig.resume_grace_secs)
            || !(1..=300).contains(&sig.heartbeat_secs)
        {
            bail!("invalid configuration: `signaling.ring_timeout_secs` and `signaling.resume_grace_secs` must be 1-600, `signaling.heartbeat_secs` 1-300");
        }
        if !(1..=1000).contains(&sig.max_sockets_per_user) || !(1..=1000).contains(&sig.max_sockets_per_session) {
            bail!("invalid configuration: `signaling.max_sockets_per_user` and `signaling.max_sockets_per_session` must be 1-1000");
        }
        self.turn.validate()?;
        self.ldap.directory()?;
        let chat = &self.chat;
        if !(chat.rate_per_sec > 0.0 && chat.rate_per_sec <= 1e6 && chat.burst >= 1.0 && chat.burst <= 1e6) {
            bail!("invalid configuration: `chat.rate_per_sec` must be above 0 and `chat.burst` at least 1 (both at most 1000000)");
        }
        let att = &self.attachments;
        if !(1..=1024 * 1024).contains(&att.max_file_mb) || att.quota_mb < att.max_file_mb || att.quota_mb > 1 << 30 {
            bail!("invalid configuration: `attachments.max_file_mb` must be 1-1048576 and `attachments.quota_mb` at least as large (at most 1073741824)");
        }
        if att.retention_days > 100 * 365 {
            bail!("invalid configuration: key `attachments.retention_days`: at most 36500 (0 keeps files)");
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            bail!("invalid configuration: key `log.format`: must be \"text\" or \"json\" (got {:?})", self.log.format);
        }
        Ok(())
    }

    pub fn listen_addr(&self) -> Result<SocketAddr> {
        self.listen.parse().with_context(|| {
            format!("invalid configuration: key `listen`: {:?} is not an address like 127.0.0.1:8443", self.listen)
        })
    }

    pub fn redirect_addr(&self) -> Result<Option<SocketAddr>> {
        match self.http_redirect_listen.as_str() {
            "" | "off" => Ok(None),
            s => s.parse().map(Some).with_context(|| {
                format!("invalid configuration: key `http_redirect_listen`: {s:?} is not an address like 127.0.0.1:8080 (or \"off\")")
            }),
        }
    }

    pub fn metrics_addr(&self) -> Result<Option<SocketAddr>> {
        match self.metrics.listen.as_str() {
            "" | "off" => Ok(None),
            s => s.parse().map(Some).with_context(|| {
                format!("invalid configuration: key `metrics.listen`: {s:?} is not an address like 127.0.0.1:9464 (or \"off\")")
            }),
        }
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("mywebrtc.sqlite")
    }

    /// The configured database (`[store]`).
    pub fn database(&self) -> Result<crate::store_config::Location> {
        self.store.location(&self.data_dir)
    }

    /// Where attachments are kept.
    pub fn attachments_dir(&self) -> PathBuf {
        if self.attachments.dir.is_empty() {
            self.data_dir.join("attachments")
        } else {
            PathBuf::from(&self.attachments.dir)
        }
    }

    /// The public URL for links printed by the CLI (the server derives it from the bound port).
    pub fn public_url(&self) -> Result<String> {
        Ok(if self.public_url.is_empty() {
            web::derive_public_url(self.listen_addr()?)
        } else {
            self.public_url.clone()
        })
    }

    pub fn web_config(&self) -> Result<web::WebConfig> {
        let mut w = web::WebConfig::with_defaults(self.listen_addr()?, &self.data_dir);
        w.http_redirect_listen = self.redirect_addr()?;
        w.public_url = (!self.public_url.is_empty()).then(|| self.public_url.clone());
        if !self.tls.acme_domains.is_empty() {
            let t = &self.tls;
            w.tls = web::TlsSource::Acme(web::acme::AcmeConfig {
                domains: t.acme_domains.clone(),
                contact: t.acme_contact.clone(),
                directory_url: t.acme_directory.clone(),
                ca_file: (!t.acme_ca_file.is_empty()).then(|| PathBuf::from(&t.acme_ca_file)),
                challenge: if t.acme_challenge == "http-01" {
                    web::acme::Challenge::Http01
                } else {
                    web::acme::Challenge::TlsAlpn01
                },
                dir: self.data_dir.join("acme"),
                renew_before: Duration::from_secs(30 * 86400),
                check_every: Duration::from_secs(12 * 3600),
                retry_after: Duration::from_secs(60),
            });
        } else if !self.tls.cert_file.is_empty() {
            w.tls = web::TlsSource::Files {
                cert: self.tls.cert_file.clone().into(),
                key: self.tls.key_file.clone().into(),
            };
        } else {
            let mut extra = self.tls.extra_names.clone();
            if let Some(host) = self.public_url.strip_prefix("https://").and_then(|r| r.split(['/', ':']).next()) {
                extra.push(host.to_owned());
            }
            w.tls = web::TlsSource::SelfSigned { dir: self.data_dir.join("tls"), extra_names: extra };
        }
        w.session_idle = Duration::from_secs(self.session.idle_hours * 3600);
        w.session_max = Duration::from_secs(self.session.max_days * 86400);
        w.setup_link_ttl = Duration::from_secs(self.session.setup_link_minutes * 60);
        w.max_body_bytes = self.limits.max_body_bytes;
        let l = &self.limits;
        w.budgets = web::BudgetRates {
            session_per_sec: l.session_per_sec,
            session_burst: l.session_burst,
            address_per_sec: l.address_per_sec,
            address_burst: l.address_burst,
        };
        w.log_client_ip = self.log.client_ip;
        let sig = &self.signaling;
        w.hub.ring_timeout = Duration::from_secs(sig.ring_timeout_secs);
        w.hub.resume_grace = Duration::from_secs(sig.resume_grace_secs);
        w.hub.heartbeat_interval = Duration::from_secs(sig.heartbeat_secs);
        w.hub.heartbeat_timeout = Duration::from_millis(sig.heartbeat_secs * 2500);
        w.hub.calls_only_between_contacts = sig.calls_only_between_contacts;
        w.hub.max_sockets_per_user = sig.max_sockets_per_user;
        w.hub.max_sockets_per_session = sig.max_sockets_per_session;
        w.hub.chat_rate_per_sec = self.chat.rate_per_sec;
        w.hub.chat_burst = self.chat.burst;
        w.force_relay = self.turn.enabled && self.turn.force_relay;
        w.directory_search = sig.directory_search;
        let att = &self.attachments;
        w.attachments.dir = self.attachments_dir();
        w.attachments.max_file_bytes = att.max_file_mb * 1024 * 1024;
        w.attachments.quota_bytes = att.quota_mb * 1024 * 1024;
        w.attachments.retention = web::retention_days(att.retention_days);
        w.ice_servers = sig
            .ice_servers
            .iter()
            .map(|s| proto::rest::IceServer {
                urls: s.urls.clone(),
                username: s.username.clone(),
                credential: s.credential.clone(),
            })
            .collect();
        w.directory = self.ldap.directory()?;
        w.sfu = self.sfu.resolve(w.listen.ip())?;
        w.meetings = self.meetings.resolve()?;
        let postgres = matches!(self.database()?, crate::store_config::Location::Postgres(_));
        w.cluster = self.cluster.resolve(postgres)?;
        Ok(w)
    }
}

/// figment's errors, one line each, with the key path and where the value came from.
fn describe(e: figment::Error) -> String {
    e.into_iter()
        .map(|e| {
            let key = if e.path.is_empty() { String::new() } else { format!("key `{}`: ", e.path.join(".")) };
            let from = e.metadata.as_ref().map(|m| format!(" (from {})", m.name)).unwrap_or_default();
            format!("{key}{}{from}", e.kind)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_str(toml: &str) -> Result<Config> {
        let dir = tempfile::tempdir()?;
        let p = dir.path().join("c.toml");
        std::fs::write(&p, toml)?;
        Config::load(Some(&p), FlagOverrides::default())
    }

    #[test]
    fn defaults_are_valid() {
        let c = load_str("").unwrap();
        assert_eq!(c.listen, "127.0.0.1:8443");
        assert_eq!(c.public_url().unwrap(), "https://127.0.0.1:8443");
    }

    #[test]
    fn errors_name_the_key() {
        let e = load_str("listen = 5").unwrap_err().to_string();
        assert!(e.contains("key `listen`"), "{e}");
        let e = load_str("listen = \"nonsense\"").unwrap_err().to_string();
        assert!(e.contains("key `listen`"), "{e}");
        let e = load_str("[session]\nidle_hours = \"x\"").unwrap_err().to_string();
        assert!(e.contains("session.idle_hours"), "{e}");
        let e = load_str("lisen = \"127.0.0.1:1\"").unwrap_err().to_string();
        assert!(e.contains("lisen"), "{e}");
        let e = load_str("public_url = \"http://x\"").unwrap_err().to_string();
        assert!(e.contains("public_url"), "{e}");
        let e = load_str("[tls]\ncert_file = \"a.pem\"").unwrap_err().to_string();
        assert!(e.contains("tls.key_file"), "{e}");
    }

    #[test]
    fn flags_override_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "listen = \"127.0.0.1:1000\"\nhttp_redirect_listen = \"off\"").unwrap();
        let c = Config::load(Some(&p), FlagOverrides { listen: Some("127.0.0.1:2000".into()), ..Default::default() })
            .unwrap();
        assert_eq!(c.listen, "127.0.0.1:2000");
        assert_eq!(c.redirect_addr().unwrap(), None);
    }

    #[test]
    fn the_documented_example_is_valid() {
        let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../mywebrtc.example.toml");
        Config::load(Some(Path::new(example)), FlagOverrides::default()).unwrap();
    }
}
