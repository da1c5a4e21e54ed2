//! A real ACME server for the certificate tests: Pebble (Debian's `pebble`), with
//! `pebble-challtestsrv` as its DNS (every name resolves to 127.0.0.1), on free loopback
//! ports, its HTTPS on a test CA; it validates HTTP-01 and TLS-ALPN-01 challenges on the
//! ports the test gives it (the server under test's). Stopped by PID on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::process::{free_port, wait_listening};

pub struct Pebble {
    children: Vec<Child>,
    /// `https://127.0.0.1:PORT/dir`.
    pub directory_url: String,
    /// PEM of the CA of Pebble's own HTTPS (trust it to talk ACME).
    pub ca_file: PathBuf,
    /// `https://127.0.0.1:PORT/roots/0`: the root that signs what Pebble issues.
    pub roots_url: String,
}

impl Pebble {
    /// Starts Pebble in `dir`; it validates HTTP-01 on `http_port` and TLS-ALPN-01 on `tls_port`.
    pub fn start(dir: &Path, http_port: u16, tls_port: u16) -> Result<Self> {
        if !Path::new("/usr/bin/pebble").exists() {
            bail!("pebble is not installed (Debian package pebble)");
        }
        let ca = crate::pki::ca("pebble test HTTPS CA")?;
        let (leaf, key) = crate::pki::localhost_cert(&ca)?;
        std::fs::write(dir.join("ca.pem"), ca.0.pem())?;
        std::fs::write(dir.join("cert.pem"), leaf.pem())?;
        std::fs::write(dir.join("key.pem"), key.serialize_pem())?;

        let (acme_port, mgmt_port, dns_port, dns_mgmt) = (free_port()?, free_port()?, free_port()?, free_port()?);
        let mut children = Vec::new();
        let mut dns = Command::new("/usr/bin/pebble-challtestsrv")
            .args(["-dns01", &format!("127.0.0.1:{dns_port}"), "-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-management", &format!("127.0.0.1:{dns_mgmt}"), "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting pebble-challtestsrv")?;
        wait_listening(dns_mgmt, &mut dns, "pebble-challtestsrv")?;
        children.push(dns);
        let config = serde_json::json!({
            "pebble": {
                "listenAddress": format!("127.0.0.1:{acme_port}"),
                "managementListenAddress": format!("127.0.0.1:{mgmt_port}"),
                "certificate": dir.join("cert.pem"),
                "privateKey": dir.join("key.pem"),
                "httpPort": http_port,
                "tlsPort": tls_port,
                "ocspResponderURL": "",
                "externalAccountBindingRequired": false
            }
        });
        std::fs::write(dir.join("pebble.json"), serde_json::to_vec_pretty(&config)?)?;
        let mut pebble = Command::new("/usr/bin/pebble")
            .arg("-config")
            .arg(dir.join("pebble.json"))
            .args(["-dnsserver", &format!("127.0.0.1:{dns_port}")])
            // No artificial validation delays, no random nonce rejections: the test is about
            // our client, not about its patience.
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting pebble")?;
        let started = wait_listening(acme_port, &mut pebble, "pebble");
        children.push(pebble);
        let me = Self {
            children,
            directory_url: format!("https://127.0.0.1:{acme_port}/dir"),
            ca_file: dir.join("ca.pem"),
            roots_url: format!("https://127.0.0.1:{mgmt_port}/roots/0"),
        };
        started?;
        Ok(me)
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
