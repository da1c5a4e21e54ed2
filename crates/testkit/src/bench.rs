//! What every load generator in `bench/` needs: seeded accounts with sessions (logging in
//! thousands of users through argon2 would only measure password hashing), the server binary
//! started on that data directory, connections from chosen loopback sources, percentiles, RSS.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tokio::io::{AsyncBufReadExt, BufReader};

pub fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Creates users with a one-day session each, directly in the store.
pub struct Seeder {
    pub store: Box<dyn store::Store>,
    hash: String,
}

impl Seeder {
    /// Opens (creating) the database the server will use in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        Self::on(Box::new(store::SqliteStore::open(&dir.join("mywebrtc.sqlite"))?))
    }

    /// Seeds this store (e.g. a PostgreSQL database the server is then configured with).
    pub fn on(store: Box<dyn store::Store>) -> Result<Self> {
        let hash = auth::password::hash("load-test-password").map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Self { store, hash })
    }

    /// A new user and the session cookie (`name=value`) of a fresh session.
    pub fn user(&self, name: &str) -> Result<(i64, String)> {
        let now = unix_now();
        let u = self.store.create_user(
            &store::NewUser {
                username: name.to_owned(),
                display_name: name.to_owned(),
                password_hash: self.hash.clone(),
                is_admin: false,
            },
            now,
        )?;
        let token = auth::token::new_token();
        self.store.create_session(&store::NewSession {
            token_hash: auth::token::hash_token(&token),
            user_id: u.id,
            csrf_token: auth::token::new_token(),
            user_agent: "bench".into(),
            now,
            expires_at: now + 86400,
            absolute_expires_at: now + 86400,
        })?;
        Ok((u.id, format!("__Host-mwsession={token}")))
    }

    /// Makes two users contacts.
    pub fn befriend(&self, a: i64, b: i64) -> Result<()> {
        self.store.request_contact(a, b, unix_now())?;
        self.store.answer_request(b, a, true, unix_now())?;
        Ok(())
    }
}

/// The server binary, running on a data directory; killed (by PID) when dropped.
pub struct ServerProcess {
    pub child: tokio::process::Child,
    pub url: String,
    pub addr: SocketAddr,
    pub pid: u32,
    pub dir: PathBuf,
}

impl ServerProcess {
    /// Starts `bin serve` on `dir` with warn-level logs and `extra` appended to its config,
    /// and waits for its "listening on" line. Group calls listen on a free loopback port.
    pub async fn start(bin: &str, dir: &Path, extra: &str) -> Result<Self> {
        Self::start_with_sfu(bin, dir, &format!("[sfu]\nlisten = \"127.0.0.1:0\"\n{extra}")).await
    }

    /// [`ServerProcess::start`] with the caller's own `[sfu]` section in `extra`, listening on
    /// `ip`; `bin` may be a command line (e.g. `ip netns exec NS path/to/mywebrtc`).
    pub async fn start_with_sfu(bin: &str, dir: &Path, extra: &str) -> Result<Self> {
        Self::start_at(bin, dir, extra, "127.0.0.1").await
    }

    /// See [`ServerProcess::start_with_sfu`].
    pub async fn start_at(bin: &str, dir: &Path, extra: &str, ip: &str) -> Result<Self> {
        let config = dir.join("bench.toml");
        std::fs::write(
            &config,
            format!(
                "data_dir = {:?}\nlisten = \"{ip}:0\"\nhttp_redirect_listen = \"off\"\n[metrics]\nlisten = \"127.0.0.1:0\"\n[log]\nlevel = \"warn\"\n[turn]\nport = 0\ntls_port = 0\n{extra}\n",
                dir
            ),
        )?;
        let mut words = bin.split_whitespace();
        let program = words.next().context("empty server command")?;
        let mut child = tokio::process::Command::new(program)
            .args(words)
            .args(["--config", config.to_str().context("path")?, "serve"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {bin}"))?;
        let pid = child.id().context("server pid")?;
        let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
        let url = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(l) = lines.next_line().await? {
                if let Some(u) = l.split("listening on ").nth(1) {
                    return Ok(u.trim().to_owned());
                }
            }
            bail!("server exited")
        })
        .await??;
        let addr: SocketAddr = url.trim_start_matches("https://").parse()?;
        Ok(Self { child, url, addr, pid, dir: dir.to_owned() })
    }

    pub fn rss_kib(&self) -> Result<u64> {
        rss_kib(self.pid)
    }

    /// CPU time (user + system) the server has used so far, in seconds.
    pub fn cpu_secs(&self) -> Result<f64> {
        cpu_secs(self.pid)
    }

    /// Stops the server and removes its data directory.
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// A signaling connection from the loopback address `src`, after `hello`.
    pub async fn ws(&self, src: IpAddr, cookie: &str) -> Result<crate::ws::Ws> {
        ws_to(&self.url, src, cookie).await
    }
}

/// A signaling connection to the server at `url` (`https://ip:port`) from the local address
/// `src`, after `hello`.
pub async fn ws_to(url: &str, src: IpAddr, cookie: &str) -> Result<crate::ws::Ws> {
    let addr: SocketAddr = url.trim_start_matches("https://").parse()?;
    let sock = tokio::net::TcpSocket::new_v4()?;
    sock.bind(SocketAddr::new(src, 0))?;
    let tcp = sock.connect(addr).await?;
    let tls = crate::ws::insecure_tls();
    let mut ws = crate::ws::connect_over(tcp, &tls, url, Some(cookie), Some(url))
        .await
        .map_err(|s| anyhow::anyhow!("upgrade refused: {s}"))?;
    ws.hello().await;
    Ok(ws)
}

/// CPU time (user + system) a process has used so far, in seconds.
pub fn cpu_secs(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).context("stat")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).context("utime")?.parse::<f64>()? + f.get(12).context("stime")?.parse::<f64>()?;
    Ok(ticks / 100.0)
}

pub fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:").and_then(|v| v.split_whitespace().next()?.parse().ok()))
        .context("no VmRSS")
}

/// The `p` quantile (0..=1) of sorted values; NaN for none.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Sorts in place and returns (p50, p99, max).
pub fn summary(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(|x, y| x.partial_cmp(y).unwrap_or(std::cmp::Ordering::Equal));
    (percentile(values, 0.5), percentile(values, 0.99), values.last().copied().unwrap_or(f64::NAN))
}

/// Open-loop pacing: sleeps until the `k`-th slot of a schedule starting at `t0` with one
/// slot every `interval` (no catching up by bursting if the sender fell behind).
pub async fn wait_for_slot(t0: std::time::Instant, interval: Duration, k: usize) {
    let target = t0 + interval.mul_f64(k as f64);
    if let Some(wait) = target.checked_duration_since(std::time::Instant::now()) {
        tokio::time::sleep(wait).await;
    }
}
