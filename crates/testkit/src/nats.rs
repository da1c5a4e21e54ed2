//! A real NATS server for the cluster tests (Debian's `nats-server`), on a free loopback
//! port, stopped by its PID on drop; it can be stopped and started again on the same port
//! (a NATS restart under running nodes).

use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::process::{free_port, wait_listening_at};

const BIN: &str = "/usr/sbin/nats-server";

pub struct Nats {
    child: Option<Child>,
    pub port: u16,
    /// The address it listens on.
    pub ip: String,
    /// With [`Nats::start_secure`]: TLS (certificate, key) and (user, password).
    secure: Option<Secure>,
}

/// What [`Nats::start_secure`] adds.
pub struct Secure {
    /// PEM of the CA that signed the server's certificate (for `[cluster] ca_file`).
    pub ca_file: std::path::PathBuf,
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
    pub user: String,
    pub password: String,
    _dir: tempfile::TempDir,
}

impl Nats {
    pub fn start() -> Result<Self> {
        Self::start_on("127.0.0.1")
    }

    /// A server listening on `ip` (an address of this machine, e.g. a test namespace's pair).
    pub fn start_on(ip: &str) -> Result<Self> {
        if !std::path::Path::new(BIN).exists() {
            bail!("nats-server is not installed (Debian package nats-server)");
        }
        let mut n = Self { child: None, port: free_port()?, ip: ip.to_owned(), secure: None };
        n.start_again()?;
        Ok(n)
    }

    /// A server on loopback that speaks TLS only (a certificate for 127.0.0.1 from a CA of
    /// the test's own) and wants a user and password.
    pub fn start_secure() -> Result<Self> {
        let dir = tempfile::Builder::new().prefix("mywebrtc-nats-").tempdir()?;
        let ca = crate::pki::ca("nats test CA")?;
        let (cert, key) = crate::pki::localhost_cert(&ca)?;
        let secure = Secure {
            ca_file: dir.path().join("ca.pem"),
            cert: dir.path().join("cert.pem"),
            key: dir.path().join("key.pem"),
            user: "mywebrtc".into(),
            password: "nats-pass-7f3a".into(),
            _dir: dir,
        };
        std::fs::write(&secure.ca_file, ca.0.pem())?;
        std::fs::write(&secure.cert, cert.pem())?;
        std::fs::write(&secure.key, key.serialize_pem())?;
        let mut n = Self { child: None, port: free_port()?, ip: "127.0.0.1".into(), secure: Some(secure) };
        n.start_again()?;
        Ok(n)
    }

    /// The TLS and credential files and names of [`Nats::start_secure`].
    pub fn secure(&self) -> Option<&Secure> {
        self.secure.as_ref()
    }

    /// `nats://IP:PORT`.
    pub fn url(&self) -> String {
        format!("nats://{}:{}", self.ip, self.port)
    }

    /// Starts the server (again, after [`Nats::stop`]) on the same port.
    pub fn start_again(&mut self) -> Result<()> {
        let mut cmd = Command::new(BIN);
        cmd.args(["-a", &self.ip, "-p", &self.port.to_string()]);
        if let Some(s) = &self.secure {
            cmd.arg("--tls").arg("--tlscert").arg(&s.cert).arg("--tlskey").arg(&s.key);
            cmd.args(["--user", &s.user, "--pass", &s.password]);
        }
        let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().context("starting nats-server")?;
        wait_listening_at(&self.ip, self.port, &mut child, "nats-server")?;
        self.child = Some(child);
        Ok(())
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.stop();
    }
}
