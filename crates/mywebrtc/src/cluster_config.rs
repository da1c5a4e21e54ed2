//! `[cluster]`: several nodes as one service, joined by a NATS bus, on one PostgreSQL.

use std::path::PathBuf;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// Empty: a single node. Otherwise the NATS server(s) the nodes share, e.g.
    /// `nats://nats1:4222,nats://nats2:4222` (`tls://` for TLS; `tls://user:password@host:4222`
    /// for a server that wants a password). Needs `[store] url` (every node on the same
    /// PostgreSQL database).
    pub nats_url: String,
    /// This node's name, unique in the cluster; empty: the machine's host name.
    pub node_name: String,
    /// NATS credentials file (`.creds`), if the NATS server asks for one.
    pub credentials_file: String,
    /// PEM of the CA of the NATS server's TLS certificate (turns TLS on), if not a system root.
    pub ca_file: String,
    /// Subjects on the bus start with this; several clusters may share one NATS.
    pub subject_prefix: String,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            nats_url: String::new(),
            node_name: String::new(),
            credentials_file: String::new(),
            ca_file: String::new(),
            subject_prefix: "mywebrtc".into(),
        }
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".into())
}

impl ClusterConfig {
    /// The web server's cluster settings; `None` on a single node. `postgres`: whether the
    /// store is PostgreSQL (a cluster needs one database for all nodes).
    pub fn resolve(&self, postgres: bool) -> Result<Option<web::cluster::ClusterConfig>> {
        if self.nats_url.is_empty() {
            return Ok(None);
        }
        if !postgres {
            bail!(
                "invalid configuration: key `cluster.nats_url`: a cluster needs every node on one PostgreSQL \
                 database; set `store.url` (see `mywebrtc copy-database` to move the SQLite file there)"
            );
        }
        let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        let node = if self.node_name.is_empty() { host_name() } else { self.node_name.clone() };
        if node.len() > 64 || !node.chars().all(valid) {
            bail!("invalid configuration: key `cluster.node_name`: {node:?}: use letters, digits, '-', '_', '.' (at most 64)");
        }
        if self.subject_prefix.is_empty() || !self.subject_prefix.chars().all(valid) {
            bail!("invalid configuration: key `cluster.subject_prefix`: {:?}", self.subject_prefix);
        }
        let path = |s: &str| (!s.is_empty()).then(|| PathBuf::from(s));
        Ok(Some(web::cluster::ClusterConfig {
            nats_url: self.nats_url.clone(),
            node,
            credentials_file: path(&self.credentials_file),
            ca_file: path(&self.ca_file),
            prefix: self.subject_prefix.clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_needs_postgresql_and_a_plain_node_name() {
        let mut c = ClusterConfig { nats_url: "nats://127.0.0.1:4222".into(), ..Default::default() };
        assert!(c.resolve(false).unwrap_err().to_string().contains("store.url"));
        c.node_name = "node 1".into();
        assert!(c.resolve(true).unwrap_err().to_string().contains("cluster.node_name"));
        c.node_name = "node-1".into();
        assert_eq!(c.resolve(true).unwrap().unwrap().node, "node-1");
        assert!(ClusterConfig::default().resolve(false).unwrap().is_none());
    }
}
