//! `[sfu]`: the conference server for group calls.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

/// The media port when `listen` is not set.
pub const DEFAULT_PORT: u16 = 7882;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SfuConfig {
    /// Group calls on (the conference server runs in this process).
    pub enabled: bool,
    /// UDP address for all conference media (one port for every participant), and the same
    /// TCP port for ICE over TCP. Open both in the firewall. Empty: the web server's listen
    /// address, port 7882.
    pub listen: String,
    /// Addresses announced to browsers (the public address when behind NAT, e.g. a cloud
    /// machine's elastic IP); empty: the listen address, or the default route's address when
    /// listening on 0.0.0.0.
    pub announce: Vec<String>,
    /// Worker threads rooms are spread over; 0: one per core.
    pub workers: usize,
    /// Most people in one call.
    pub max_participants: usize,
    /// What one participant may send, in kbit/s (beyond it, packets are dropped).
    pub max_ingress_kbps: u64,
    /// A participant whose media is not connected after this many seconds is taken out.
    pub connect_timeout_secs: u64,
    /// Most video tiles a participant sees at once (the others as names; their video is not
    /// sent to them).
    pub max_video_tiles: u32,
    /// ICE over TCP on the media port, for browsers whose network blocks UDP (tried after UDP;
    /// TURN over TCP/TLS stays the last resort).
    pub tcp: bool,
    /// Most ICE-over-TCP connections open at once.
    pub max_tcp_connections: usize,
    /// Each viewer gets the simulcast layer that fits its bandwidth estimate (and its tile
    /// size); off, the tile size alone decides.
    pub bandwidth_adaptation: bool,
}

impl Default for SfuConfig {
    fn default() -> Self {
        let room = sfu::RoomConfig::default();
        Self {
            enabled: true,
            listen: String::new(),
            announce: vec![],
            workers: 0,
            max_participants: room.max_participants,
            max_ingress_kbps: room.max_ingress_bps / 1000,
            connect_timeout_secs: room.connect_timeout.as_secs(),
            max_video_tiles: room.max_video_tiles,
            tcp: room.ice_tcp,
            max_tcp_connections: sfu::DEFAULT_MAX_TCP_CONNECTIONS,
            bandwidth_adaptation: room.bandwidth_adaptation,
        }
    }
}

impl SfuConfig {
    /// The SFU's settings, or None when turned off. `web_ip`: the web server's listen
    /// address, the default for the media port's.
    pub fn resolve(&self, web_ip: IpAddr) -> anyhow::Result<Option<sfu::SfuConfig>> {
        if !self.enabled {
            return Ok(None);
        }
        let listen: SocketAddr = if self.listen.is_empty() {
            SocketAddr::new(web_ip, DEFAULT_PORT)
        } else {
            self.listen.parse().with_context(|| format!("invalid configuration: `sfu.listen` {:?}", self.listen))?
        };
        let announce = self
            .announce
            .iter()
            .map(|a| a.parse::<IpAddr>().with_context(|| format!("invalid configuration: `sfu.announce` entry {a:?}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        if self.max_participants < 2 || self.max_participants > 1000 {
            bail!("invalid configuration: `sfu.max_participants` must be 2 to 1000");
        }
        if self.max_ingress_kbps < 100 {
            bail!("invalid configuration: `sfu.max_ingress_kbps` must be at least 100");
        }
        if !(1..=49).contains(&self.max_video_tiles) {
            bail!("invalid configuration: `sfu.max_video_tiles` must be 1 to 49");
        }
        if !(1..=10_000).contains(&self.max_tcp_connections) {
            bail!("invalid configuration: `sfu.max_tcp_connections` must be 1 to 10000");
        }
        if self.connect_timeout_secs == 0 {
            bail!("invalid configuration: `sfu.connect_timeout_secs` must be at least 1");
        }
        Ok(Some(sfu::SfuConfig {
            listen,
            announce,
            workers: self.workers,
            max_tcp_connections: self.max_tcp_connections,
            room: sfu::RoomConfig {
                max_participants: self.max_participants,
                max_ingress_bps: self.max_ingress_kbps * 1000,
                connect_timeout: Duration::from_secs(self.connect_timeout_secs),
                max_video_tiles: self.max_video_tiles,
                ice_tcp: self.tcp,
                bandwidth_adaptation: self.bandwidth_adaptation,
                ..sfu::RoomConfig::default()
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn defaults_resolve_and_bad_values_are_named() {
        let c = SfuConfig::default().resolve(LOCAL).unwrap().unwrap();
        assert_eq!(c.listen, SocketAddr::new(LOCAL, 7882));
        assert!(c.room.ice_tcp, "ICE over TCP is on by default");
        assert_eq!(c.max_tcp_connections, sfu::DEFAULT_MAX_TCP_CONNECTIONS);
        let c = SfuConfig { tcp: false, ..SfuConfig::default() }.resolve(LOCAL).unwrap().unwrap();
        assert!(!c.room.ice_tcp);
        let e = SfuConfig { max_tcp_connections: 0, ..SfuConfig::default() }.resolve(LOCAL).unwrap_err();
        assert!(e.to_string().contains("max_tcp_connections"), "{e}");
        let c = SfuConfig { listen: "0.0.0.0:9000".into(), ..SfuConfig::default() }.resolve(LOCAL).unwrap().unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert!(SfuConfig { enabled: false, ..SfuConfig::default() }.resolve(LOCAL).unwrap().is_none());
        let e = SfuConfig { listen: "nope".into(), ..SfuConfig::default() }.resolve(LOCAL).unwrap_err();
        assert!(e.to_string().contains("sfu.listen"), "{e}");
        let e = SfuConfig { announce: vec!["x".into()], ..SfuConfig::default() }.resolve(LOCAL).unwrap_err();
        assert!(e.to_string().contains("sfu.announce"), "{e}");
        let e = SfuConfig { max_participants: 1, ..SfuConfig::default() }.resolve(LOCAL).unwrap_err();
        assert!(e.to_string().contains("max_participants"), "{e}");
    }
}
