use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Where the TLS certificate comes from.
#[derive(Debug, Clone)]
pub enum TlsSource {
    /// PEM files supplied by the operator (e.g. from their CA or an ACME client).
    Files { cert: PathBuf, key: PathBuf },
    /// A self-signed certificate generated on first start and kept in this directory.
    SelfSigned { dir: PathBuf, extra_names: Vec<String> },
    /// Certificates from an ACME CA, renewed in the background.
    Acme(crate::acme::AcmeConfig),
}

/// Everything the web server needs to know; built by the binary from file, env and flags.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// HTTPS listen address; port 0 picks a free port (tests).
    pub listen: SocketAddr,
    /// Optional plain-HTTP listener that only redirects to HTTPS.
    pub http_redirect_listen: Option<SocketAddr>,
    /// Public base URL (`https://host:port`) used in printed and returned links.
    /// `None`: derived from the bound HTTPS address.
    pub public_url: Option<String>,
    pub tls: TlsSource,
    /// A session ends after this long without use...
    pub session_idle: Duration,
    /// ...and after this long in any case.
    pub session_max: Duration,
    /// Lifetime of the first-admin setup link.
    pub setup_link_ttl: Duration,
    /// Largest accepted request body for the JSON API.
    pub max_body_bytes: usize,
    /// Whether request logs may include the client address (off by default: privacy).
    pub log_client_ip: bool,
    /// Signaling: ring timeout, resume grace, heartbeats, call policy.
    pub hub: hub::HubConfig,
    /// Whether members may search the whole directory for people to add.
    pub directory_search: bool,
    /// How often the sessions behind open WebSockets are re-checked against the store
    /// (catches sessions ended by the admin CLI or by expiry).
    pub session_recheck: Duration,
    /// ICE servers handed to browsers for calls (none by default: fine on one network;
    /// the built-in TURN server will add its own with time-limited credentials).
    pub ice_servers: Vec<proto::rest::IceServer>,
    /// The built-in (or an external, coturn-compatible) TURN server's shared secret and URLs:
    /// each logged-in user gets time-limited credentials for it.
    pub turn: Option<TurnRest>,
    /// Calls always go through the TURN relay (peers never see each other's addresses).
    pub force_relay: bool,
    /// Files posted to conversations: where they live, how large, for how long.
    pub attachments: AttachmentConfig,
    /// Request budgets of the endpoints that create or search.
    pub budgets: crate::budget::BudgetRates,
    /// The organisation's LDAP directory, when its accounts may sign in.
    pub directory: Option<directory::Directory>,
    /// The conference server (group calls); None: off.
    pub sfu: Option<sfu::SfuConfig>,
    pub meetings: MeetingsConfig,
    /// Several nodes as one service (the NATS bus); None: a single node.
    pub cluster: Option<crate::cluster::ClusterConfig>,
}

/// Limits and place of attachments (files uploaded to a conversation).
/// Meetings, guests and meet-by-code (`[meetings]`).
#[derive(Debug, Clone)]
pub struct MeetingsConfig {
    /// People without an account may join meetings as guests (through the lobby).
    pub guests: bool,
    /// The start page's meet-by-code mode.
    pub meet_by_code: bool,
    /// How long the first person at a code waits for the second.
    pub code_window: Duration,
    /// How long a used meet-by-code code stays burnt.
    pub code_burn: Duration,
    /// Longest meeting (from its start); also the default end.
    pub max_duration: Duration,
    /// A meeting ends for everyone when its last host leaves its call...
    pub end_when_hosts_leave: bool,
    /// ...and has not come back within this time (a reload, a network change).
    pub host_grace: Duration,
    /// Every attempt with a link or code takes at least this long, found or not, so timing
    /// does not tell a live code from a dead one.
    pub attempt_floor: Duration,
    pub guesses: meetings::GuessPolicy,
    /// How often meetings whose time ran out are ended.
    pub sweep_every: Duration,
}

impl Default for MeetingsConfig {
    fn default() -> Self {
        Self {
            guests: true,
            meet_by_code: true,
            code_window: Duration::from_secs(100),
            code_burn: Duration::from_secs(24 * 3600),
            max_duration: Duration::from_secs(24 * 3600),
            end_when_hosts_leave: true,
            host_grace: Duration::from_secs(60),
            attempt_floor: Duration::from_millis(300),
            guesses: meetings::GuessPolicy::default(),
            sweep_every: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone)]
pub struct AttachmentConfig {
    /// Directory of the files (`files/` for stored ones, `tmp/` for uploads under way).
    pub dir: PathBuf,
    /// Largest file.
    pub max_file_bytes: u64,
    /// Most bytes one user's stored uploads may take together.
    pub quota_bytes: u64,
    /// Files are deleted this long after upload (`None`: kept until their message is deleted).
    pub retention: Option<Duration>,
    /// How often expired and orphaned files are looked for.
    pub sweep_every: Duration,
}

/// Time-limited TURN credentials in the "TURN REST API" scheme.
#[derive(Clone)]
pub struct TurnRest {
    pub secret: Vec<u8>,
    pub ttl: Duration,
    /// `stun:`, `turn:` and `turns:` URLs of the server.
    pub urls: Vec<String>,
}

impl std::fmt::Debug for TurnRest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnRest").field("secret", &"<set>").field("ttl", &self.ttl).field("urls", &self.urls).finish()
    }
}

impl WebConfig {
    /// Defaults for a given listen address and data directory (used by tests and the binary).
    pub fn with_defaults(listen: SocketAddr, data_dir: &std::path::Path) -> Self {
        Self {
            listen,
            http_redirect_listen: None,
            public_url: None,
            tls: TlsSource::SelfSigned { dir: data_dir.join("tls"), extra_names: Vec::new() },
            session_idle: Duration::from_secs(14 * 24 * 3600),
            session_max: Duration::from_secs(90 * 24 * 3600),
            setup_link_ttl: Duration::from_secs(3600),
            max_body_bytes: 64 * 1024,
            log_client_ip: false,
            hub: hub::HubConfig::default(),
            directory_search: true,
            session_recheck: Duration::from_secs(30),
            ice_servers: Vec::new(),
            turn: None,
            force_relay: false,
            attachments: AttachmentConfig {
                dir: data_dir.join("attachments"),
                max_file_bytes: 100 * 1024 * 1024,
                quota_bytes: 2 * 1024 * 1024 * 1024,
                retention: None,
                sweep_every: Duration::from_secs(600),
            },
            budgets: crate::budget::BudgetRates::default(),
            directory: None,
            cluster: None,
            sfu: None,
            meetings: MeetingsConfig::default(),
        }
    }
}
