//! A real PostgreSQL server for the tests (Debian's `postgresql`): its own cluster in a
//! temporary directory (`initdb`), on a free loopback port, TCP only, trust authentication
//! for the local superuser `postgres`. Each test takes a fresh database of its own with
//! [`Postgres::fresh_database`], so tests of one binary share the server and still cannot
//! see each other's rows.
//!
//! PostgreSQL refuses to run as root: as root (CI) the cluster belongs to the `postgres`
//! system user the package creates, and the server runs as that user. The server is stopped
//! by its PID: on drop, and for the shared server of a test binary ([`shared`]) when the
//! binary exits.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use crate::process::{free_port, wait_listening};

pub struct Postgres {
    child: Option<Child>,
    pub port: u16,
    bin: PathBuf,
    user: Option<(u32, u32)>,
    /// PEM of the CA that signed the server's certificate, when it serves TLS.
    pub ca_file: Option<PathBuf>,
    /// Flushes commits to disk as a production server does (benchmarks); tests skip that.
    durable: bool,
    /// Addresses it listens on besides 127.0.0.1 (clients there are trusted too).
    also: Option<String>,
    /// Kept until the server stops (its data directory lives inside).
    _dir: tempfile::TempDir,
}

/// The newest installed server's `bin` directory.
fn bin_dir() -> Result<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| anyhow!("PostgreSQL is not installed (Debian package postgresql)"))?
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("postgres").exists())
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).ok_or_else(|| anyhow!("no PostgreSQL server under /usr/lib/postgresql"))
}

/// As root: the uid and gid of the `postgres` system user, to run the server as.
fn run_as() -> Result<Option<(u32, u32)>> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd")?;
    let line = passwd
        .lines()
        .find(|l| l.starts_with("postgres:"))
        .ok_or_else(|| anyhow!("running as root and there is no postgres user to run PostgreSQL as"))?;
    let f: Vec<&str> = line.split(':').collect();
    let (uid, gid) = (f.get(2).and_then(|v| v.parse().ok()), f.get(3).and_then(|v| v.parse().ok()));
    Ok(Some((uid.ok_or_else(|| anyhow!("bad passwd line"))?, gid.ok_or_else(|| anyhow!("bad passwd line"))?)))
}

fn command(bin: &Path, user: Option<(u32, u32)>) -> Command {
    let mut cmd = Command::new(bin);
    if let Some((uid, gid)) = user {
        cmd.uid(uid).gid(gid);
    }
    cmd
}

impl Postgres {
    /// Creates a cluster and starts its server.
    pub fn start() -> Result<Self> {
        Self::start_with(false, false)
    }

    /// As [`Postgres::start`] with PostgreSQL's production durability (`fsync`, full page
    /// writes, synchronous commit): for benchmarks that compare durable writes.
    pub fn start_durable() -> Result<Self> {
        Self::start_with(false, true)
    }

    /// As [`Postgres::start`], the server also offering TLS with a certificate for
    /// `localhost` and 127.0.0.1 from a CA of the test's own ([`Postgres::ca_file`]).
    pub fn start_tls() -> Result<Self> {
        Self::start_with(true, false)
    }

    /// As [`Postgres::start`], also listening on `ip` (an address of this machine, e.g. a
    /// test namespace's pair), where clients are trusted as on loopback.
    pub fn start_also_on(ip: &str) -> Result<Self> {
        let mut pg = Self::start_with(false, false)?;
        pg.stop();
        let hba = pg._dir.path().join("data").join("pg_hba.conf");
        let mut f = std::fs::OpenOptions::new().append(true).open(hba)?;
        // The test namespaces' range (`netns.rs`): their processes connect from there.
        std::io::Write::write_all(&mut f, b"\nhost all all 10.231.0.0/16 trust\n")?;
        pg.also = Some(ip.to_owned());
        pg.start_again()?;
        Ok(pg)
    }

    /// The URL of database `db` on this server at `ip` (see [`Postgres::start_also_on`]).
    pub fn url_at(&self, ip: &str, db: &str) -> String {
        format!("postgres://postgres@{ip}:{}/{db}?sslmode=disable", self.port)
    }

    fn start_with(tls: bool, durable: bool) -> Result<Self> {
        let bin = bin_dir()?;
        let user = run_as()?;
        let dir = tempfile::Builder::new().prefix("mywebrtc-pg-").tempdir()?;
        let data = dir.path().join("data");
        std::fs::create_dir(&data)?;
        if let Some((uid, gid)) = user {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
            std::os::unix::fs::chown(&data, Some(uid), Some(gid))?;
        }
        let out = command(&bin.join("initdb"), user)
            .args(["-D"])
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"])
            .output()
            .context("running initdb")?;
        if !out.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let ca_file = if tls {
            let ca = crate::pki::ca("postgres test CA")?;
            let (cert, key) = crate::pki::localhost_cert(&ca)?;
            let ca_file = dir.path().join("ca.pem");
            std::fs::write(&ca_file, ca.0.pem())?;
            std::fs::write(data.join("server.crt"), cert.pem())?;
            std::fs::write(data.join("server.key"), key.serialize_pem())?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(data.join("server.key"), std::fs::Permissions::from_mode(0o600))?;
            if let Some((uid, gid)) = user {
                for f in ["server.crt", "server.key"] {
                    std::os::unix::fs::chown(data.join(f), Some(uid), Some(gid))?;
                }
            }
            let mut conf = std::fs::OpenOptions::new().append(true).open(data.join("postgresql.conf"))?;
            std::io::Write::write_all(&mut conf, b"\nssl = on\n")?;
            Some(ca_file)
        } else {
            None
        };
        let mut pg = Self { child: None, port: free_port()?, bin, user, ca_file, durable, also: None, _dir: dir };
        pg.start_again()?;
        Ok(pg)
    }

    /// Starts the server (again, after [`Postgres::stop`]) on the same data and port, and
    /// returns once it accepts connections.
    pub fn start_again(&mut self) -> Result<()> {
        let data = self._dir.path().join("data");
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self._dir.path().join("postgres.log"))?;
        let listen = match &self.also {
            Some(ip) => format!("listen_addresses=127.0.0.1,{ip}"),
            None => "listen_addresses=127.0.0.1".to_owned(),
        };
        let mut child = command(&self.bin.join("postgres"), self.user)
            .arg("-D")
            .arg(&data)
            .args(["-p", &self.port.to_string(), "-c", &listen, "-c", "unix_socket_directories="])
            .args(["-c", "max_connections=300"])
            // A test server: nothing here must survive a power cut, so no flushes.
            .args(if self.durable { &[][..] } else { &["-c", "fsync=off", "-c", "full_page_writes=off"][..] })
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting postgres")?;
        if let Err(e) = wait_listening(self.port, &mut child, "postgres") {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(self._dir.path().join("postgres.log")).unwrap_or_default();
            bail!("{e}\n{log}");
        }
        self.child = Some(child);
        // Listening is not accepting yet (the server may still be starting up).
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Err(e) = self.execute("postgres", "SELECT 1") {
            if Instant::now() > deadline {
                bail!("postgres does not accept connections: {e}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// Stops the server (a fast shutdown: open connections are closed).
    pub fn stop(&mut self) {
        if let Some(child) = self.child.take() {
            stop(child.id());
        }
    }

    /// The URL of database `db` on this server.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}?sslmode=disable", self.port)
    }

    /// Runs `sql` (any number of statements) on database `db`. Works from any thread, an
    /// async test's included: the client runs on a runtime of its own, on a thread of its own.
    pub fn execute(&self, db: &str, sql: &str) -> Result<()> {
        let (url, sql) = (self.url(db), sql.to_owned());
        std::thread::spawn(move || -> Result<()> {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            rt.block_on(async {
                let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
                let driver = tokio::spawn(connection);
                client.batch_execute(&sql).await?;
                drop(client);
                let _ = driver.await;
                Ok(())
            })
        })
        .join()
        .map_err(|_| anyhow!("the database client thread panicked"))?
    }

    /// Creates an empty database of its own for one test; its URL.
    pub fn fresh_database(&self) -> Result<String> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!("t{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        self.execute("postgres", &format!("CREATE DATABASE {name}"))?;
        Ok(self.url(&name))
    }

    /// The server's PID (to stop it, or to kill it in a fault test).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

/// Stops the server by its PID: a fast shutdown (SIGINT), SIGKILL after 10 s.
fn stop(pid: u32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return };
    // SAFETY: kill and waitpid on our own child's PID.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut status = 0;
        // SAFETY: as above.
        let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if done != 0 {
            return;
        }
        if Instant::now() > deadline {
            // SAFETY: as above.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

static SHARED_PID: AtomicU32 = AtomicU32::new(0);
static SHARED_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

extern "C" fn stop_shared() {
    let pid = SHARED_PID.load(Ordering::SeqCst);
    if pid != 0 {
        stop(pid);
    }
    if let Some(dir) = SHARED_DIR.lock().ok().and_then(|mut d| d.take()) {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// One server for the whole test binary, started by the first test that asks and stopped
/// when the binary exits (statics are never dropped, so an exit handler does it).
pub fn shared() -> Result<&'static Postgres> {
    static SHARED: OnceLock<std::result::Result<Postgres, String>> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            let pg = Postgres::start().map_err(|e| format!("{e:#}"))?;
            SHARED_PID.store(pg.pid().unwrap_or(0), Ordering::SeqCst);
            if let Ok(mut d) = SHARED_DIR.lock() {
                *d = Some(pg._dir.path().to_owned());
            }
            // SAFETY: registering a plain extern "C" function.
            unsafe { libc::atexit(stop_shared) };
            Ok(pg)
        })
        .as_ref()
        .map_err(|e| anyhow!("{e}"))
}
