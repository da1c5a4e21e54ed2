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
        let mut n = Self { child: None, port: free_port()?, ip: ip.to_owned() };
        n.start_again()?;
        Ok(n)
    }

    /// `nats://IP:PORT`.
    pub fn url(&self) -> String {
        format!("nats://{}:{}", self.ip, self.port)
    }

    /// Starts the server (again, after [`Nats::stop`]) on the same port.
    pub fn start_again(&mut self) -> Result<()> {
        let mut child = Command::new(BIN)
            .args(["-a", &self.ip, "-p", &self.port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting nats-server")?;
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
