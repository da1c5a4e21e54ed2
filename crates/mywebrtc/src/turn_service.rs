//! The built-in STUN/TURN server: its `[turn]` configuration, its shared secret (generated
//! once and kept in the data directory), and starting it next to the web server.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TurnConfig {
    /// Run the built-in STUN/TURN server.
    pub enabled: bool,
    /// IP address to listen on; empty: the web server's listen address.
    pub listen_ip: String,
    /// Port for STUN/TURN over UDP and TCP (0: any free port).
    pub port: u16,
    /// Port for TURN over TLS (0: any free port). For firewalls that only let HTTPS out,
    /// run it on 443 of a second address (see docs/operations.md).
    pub tls_port: u16,
    pub udp: bool,
    pub tcp: bool,
    pub tls: bool,
    /// Address relay sockets bind to; empty: `listen_ip`.
    pub relay_ip: String,
    /// Public address to announce for relays behind a 1:1 NAT; empty: the relay address.
    pub external_ip: String,
    /// Host name (or address) put in the URLs handed to browsers; empty: public_url's host.
    pub host: String,
    pub realm: String,
    /// Shared secret of the TURN REST API scheme; empty: generated into `data_dir/turn-secret`.
    /// Give the same value to an external coturn (`static-auth-secret`) to use it instead.
    pub secret: String,
    /// Lifetime of the credentials handed to a browser.
    pub credential_ttl_secs: u64,
    /// Allocations one user may hold at once.
    pub user_quota: usize,
    /// Relay bandwidth per allocation, kbit/s.
    pub bandwidth_kbit: u64,
    /// Peer networks relays may reach although they are loopback/private (CIDR). Empty by
    /// default: nobody can use the relay to reach into the server's own network.
    pub allow_peers: Vec<String>,
    /// Calls always go through the relay: peers never learn each other's IP addresses.
    pub force_relay: bool,
}

impl Default for TurnConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen_ip: String::new(),
            port: 3478,
            tls_port: 5349,
            udp: true,
            tcp: true,
            tls: true,
            relay_ip: String::new(),
            external_ip: String::new(),
            host: String::new(),
            realm: "mywebrtc".into(),
            secret: String::new(),
            credential_ttl_secs: 12 * 3600,
            user_quota: 10,
            bandwidth_kbit: 32_000,
            allow_peers: Vec::new(),
            force_relay: false,
        }
    }
}

fn ip(key: &str, v: &str) -> Result<Option<IpAddr>> {
    if v.is_empty() {
        return Ok(None);
    }
    v.parse().map(Some).with_context(|| format!("invalid configuration: key `turn.{key}`: {v:?} is not an IP address"))
}

impl TurnConfig {
    pub fn validate(&self) -> Result<()> {
        ip("listen_ip", &self.listen_ip)?;
        ip("relay_ip", &self.relay_ip)?;
        ip("external_ip", &self.external_ip)?;
        for c in &self.allow_peers {
            c.parse::<turn::policy::Cidr>()
                .map_err(|e| anyhow::anyhow!("invalid configuration: key `turn.allow_peers`: {e}"))?;
        }
        if !(60..=7 * 86400).contains(&self.credential_ttl_secs) {
            bail!("invalid configuration: key `turn.credential_ttl_secs` must be 60 to 604800");
        }
        if self.user_quota == 0 || self.bandwidth_kbit == 0 {
            bail!("invalid configuration: `turn.user_quota` and `turn.bandwidth_kbit` must be above 0");
        }
        if self.realm.is_empty() || self.realm.len() > 64 {
            bail!("invalid configuration: key `turn.realm` must be 1 to 64 characters");
        }
        Ok(())
    }
}

/// The secret from the config, or the one kept in the data directory (created on first start).
fn secret(cfg: &TurnConfig, data_dir: &Path) -> Result<Vec<u8>> {
    if !cfg.secret.is_empty() {
        return Ok(cfg.secret.as_bytes().to_vec());
    }
    let path = data_dir.join("turn-secret");
    if let Ok(s) = std::fs::read_to_string(&path) {
        if s.trim().len() >= 32 {
            return Ok(s.trim().as_bytes().to_vec());
        }
    }
    let s = auth::token::new_token();
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    web::write_private_file(&path, s.as_bytes())?;
    Ok(s.into_bytes())
}

fn host_of(public_url: &str) -> String {
    let rest = public_url.trim_start_matches("https://").trim_start_matches("http://");
    let authority = rest.split('/').next().unwrap_or(rest);
    if let Some(v6) = authority.strip_prefix('[') {
        return format!("[{}]", v6.split(']').next().unwrap_or(v6));
    }
    authority.rsplit_once(':').map_or(authority, |(h, _)| h).to_owned()
}

/// Starts the TURN server; returns what the web server needs to hand out credentials.
pub async fn start(
    cfg: &TurnConfig,
    data_dir: &Path,
    web_listen: SocketAddr,
    public_url: &str,
    tls: Arc<rustls::ServerConfig>,
    media_peers: Vec<SocketAddr>,
) -> Result<(turn::driver::TurnService, web::TurnRest)> {
    let listen_ip = ip("listen_ip", &cfg.listen_ip)?.unwrap_or(web_listen.ip());
    let relay_ip = ip("relay_ip", &cfg.relay_ip)?.unwrap_or(listen_ip);
    let advertised_ip = ip("external_ip", &cfg.external_ip)?;
    if relay_ip.is_unspecified() && advertised_ip.is_none() {
        bail!("invalid configuration: the TURN relay listens on {relay_ip}; set `turn.relay_ip` or `turn.external_ip` to the address peers can reach");
    }
    let secret = secret(cfg, data_dir)?;
    let credentials = turn::credentials::Credentials { secret: Some(secret.clone()), ..Default::default() };
    let policy = turn::policy::PeerPolicy { allow: cfg.allow_peers.iter().filter_map(|c| c.parse().ok()).collect() };
    let core = turn::Config {
        realm: cfg.realm.clone(),
        user_quota: cfg.user_quota,
        bandwidth_bytes_per_sec: cfg.bandwidth_kbit * 1000 / 8,
        policy,
        credentials,
        // The conference port: relayed to for everyone, and the only peer of meeting guests.
        scoped_peers: media_peers,
        ..turn::Config::default()
    };
    let seed = auth::token::new_token();
    let server = turn::Server::new(core, seed.as_bytes(), Duration::from_secs(600));
    let at = |port: u16| SocketAddr::new(listen_ip, port);
    let listeners = turn::driver::Listeners {
        udp: cfg.udp.then(|| at(cfg.port)),
        tcp: cfg.tcp.then(|| at(cfg.port)),
        tls: cfg.tls.then(|| (at(cfg.tls_port), tls)),
        relay_ip,
        advertised_ip,
    };
    let service = turn::driver::start(server, listeners).await.with_context(|| {
        format!("cannot start the TURN server on {listen_ip} (ports {} and {})", cfg.port, cfg.tls_port)
    })?;
    let host = if cfg.host.is_empty() { host_of(public_url) } else { cfg.host.clone() };
    let b = service.bound;
    let mut urls = Vec::new();
    if let Some(u) = b.udp {
        urls.push(format!("stun:{host}:{}", u.port()));
        urls.push(format!("turn:{host}:{}?transport=udp", u.port()));
    }
    if let Some(t) = b.tcp {
        urls.push(format!("turn:{host}:{}?transport=tcp", t.port()));
    }
    if let Some(t) = b.tls {
        urls.push(format!("turns:{host}:{}?transport=tcp", t.port()));
    }
    let rest = web::TurnRest { secret, ttl: Duration::from_secs(cfg.credential_ttl_secs), urls };
    Ok((service, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_is_taken_from_the_public_url() {
        assert_eq!(host_of("https://chat.example.org"), "chat.example.org");
        assert_eq!(host_of("https://127.0.0.1:8443"), "127.0.0.1");
        assert_eq!(host_of("https://[::1]:8443/x"), "[::1]");
    }
}
