//! Starting the independent servers the tests use (slapd, Pebble): a free loopback port to
//! give them, and waiting until they listen (or saying that they died at start).

use std::process::Child;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

/// A loopback port nothing listens on right now.
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Returns once `port` on 127.0.0.1 accepts connections; fails if `child` exits first or
/// nothing listens within 20 s.
pub fn wait_listening(port: u16, child: &mut Child, what: &str) -> Result<()> {
    wait_listening_at("127.0.0.1", port, child, what)
}

/// [`wait_listening`] on another address of this machine.
pub fn wait_listening_at(ip: &str, port: u16, child: &mut Child, what: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect((ip, port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            bail!("{what} exited at start: {status}");
        }
        if Instant::now() > deadline {
            bail!("{what} did not listen on port {port}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}
