//! PostgreSQL as the store's database, for several nodes sharing one state.
//!
//! A small pool of connections (each with its own prepared statements); a broken connection
//! is dropped and the next call connects again, so a database restart costs the calls made
//! while it was down, not the node. Writes run as SERIALIZABLE transactions and are run
//! again when PostgreSQL reports a conflict with a concurrent one: the same guarantee as
//! SQLite's one writer at a time (the last-admin check, a conversation's sequence numbers),
//! with writers on several nodes. TLS follows the URL's `sslmode` (`disable`, `prefer`,
//! `require`), the server's certificate checked against the system's roots and an optional
//! CA file.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::Duration;

use futures_executor::block_on;
use tokio_postgres::{Client, IsolationLevel};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::backend::Backend;
use crate::schema::MIGRATIONS;
use crate::sql::postgres_conn::StatementCache;
use crate::sql::{Conn, PgConn};
use crate::{DbErrorKind, SqlStore, StoreError};

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// `postgres://user:password@host:port/dbname?sslmode=require` (libpq's URL form).
    pub url: String,
    /// PEM file with the CA that signed the database server's certificate, when it is not one
    /// of the system's roots.
    pub ca_file: Option<std::path::PathBuf>,
    /// Connections kept open.
    pub pool_size: usize,
}

struct Pooled {
    client: Client,
    cache: StatementCache,
}

/// A PostgreSQL database as the store's backend.
pub struct PgDb {
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    slots: Vec<Mutex<Option<Pooled>>>,
    next: AtomicUsize,
    /// Drives the connections (one thread); `None` only while dropping.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for PgDb {
    fn drop(&mut self) {
        // Dropping a runtime waits for its tasks, which tokio refuses on an async thread.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// The store on PostgreSQL.
pub type PgStore = SqlStore<PgDb>;

/// Serializable transactions that conflicted are run again this many times at most.
const WRITE_ATTEMPTS: u32 = 30;
/// Key of the advisory lock that lets one node at a time bring the schema up to date.
const MIGRATION_LOCK: i64 = 0x6d79_7765_6272_7463; // "mywebrtc"

impl SqlStore<PgDb> {
    /// Connects, brings the schema up to date (one node at a time), and keeps a pool.
    pub fn connect_postgres(opts: &PgOptions) -> Result<Self, StoreError> {
        let db = PgDb::new(opts)?;
        db.migrate()?;
        Ok(SqlStore::new(db))
    }
}

fn tls(ca_file: Option<&Path>) -> Result<MakeRustlsConnect, StoreError> {
    let mut roots = rustls::RootCertStore::empty();
    // Unreadable system roots are not fatal: a CA file may be all this deployment needs.
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = ca_file {
        use rustls::pki_types::pem::PemObject;
        let certs = rustls::pki_types::CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| StoreError::Open(format!("database CA file {}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(StoreError::Open(format!("database CA file {} holds no certificate", path.display())));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| StoreError::Open(format!("database CA file {}: {e}", path.display())))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Open(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

impl PgDb {
    fn new(opts: &PgOptions) -> Result<Self, StoreError> {
        let mut config: tokio_postgres::Config =
            opts.url.parse().map_err(|e| StoreError::Open(format!("database URL: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        // A database cut off by the network (not refusing, just silent) fails a query within
        // seconds instead of the kernel's quarter of an hour: unacknowledged data times out,
        // and idle connections are probed.
        config.tcp_user_timeout(Duration::from_secs(15));
        config.keepalives(true).keepalives_idle(Duration::from_secs(30));
        config.application_name("mywebrtc");
        let slots = (0..opts.pool_size.max(1)).map(|_| Mutex::new(None)).collect();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("mywebrtc-postgres")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Open(format!("database runtime: {e}")))?;
        Ok(Self {
            config,
            tls: tls(opts.ca_file.as_deref())?,
            slots,
            next: AtomicUsize::new(0),
            runtime: Some(runtime),
        })
    }

    fn connect(&self) -> Result<Pooled, StoreError> {
        let rt = self.runtime.as_ref().ok_or_else(|| StoreError::db_other("database closed".into()))?;
        let (config, tls) = (self.config.clone(), self.tls.clone());
        let connecting = rt.spawn(async move {
            let (client, connection) = config.connect(tls).await?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::warn!(error = %e, "database connection ended");
                }
            });
            Ok::<_, tokio_postgres::Error>(client)
        });
        let client = block_on(connecting).map_err(|e| StoreError::db_other(format!("connecting: {e}")))??;
        Ok(Pooled { client, cache: StatementCache::default() })
    }

    /// A free connection slot, or (all busy) the next one in turn.
    fn slot(&self) -> MutexGuard<'_, Option<Pooled>> {
        let n = self.slots.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        for i in 0..n {
            match self.slots[(start + i) % n].try_lock() {
                Ok(g) => return g,
                Err(TryLockError::Poisoned(p)) => return p.into_inner(),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        // A panic while holding a connection leaves at worst an open transaction, which the
        // driver rolls back when it is next used or dropped.
        self.slots[start].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on a pooled connection. A connection that broke while it sat in the pool (the
    /// database restarted) is only found out by using it: when `f` fails that way before
    /// anything reached the database ([`Failed::Early`]), it runs once more on a new one.
    fn with_client<T>(&self, mut f: impl FnMut(&mut Pooled) -> Result<T, Failed>) -> Result<T, StoreError> {
        let mut slot = self.slot();
        let reused = matches!(&*slot, Some(p) if !p.client.is_closed());
        let pooled = match slot.take() {
            Some(p) if !p.client.is_closed() => slot.insert(p),
            _ => slot.insert(self.connect()?),
        };
        let out = match f(pooled) {
            Err(Failed::Early(e)) if reused && is_unavailable(&e) => {
                *slot = None;
                f(slot.insert(self.connect()?))
            }
            other => other,
        };
        let out = out.map_err(Failed::into_inner);
        if out.as_ref().err().is_some_and(is_unavailable) {
            // The connection broke: the next call on this slot connects again.
            *slot = None;
        }
        out
    }

    fn migrate(&self) -> Result<(), StoreError> {
        self.with_client(|p| Self::migrate_on(&mut p.client).map_err(Failed::Early))
    }

    fn migrate_on(client: &mut Client) -> Result<(), StoreError> {
        {
            let tx = block_on(client.transaction())?;
            block_on(tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]))?;
            block_on(tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)"))?;
            let version = match block_on(tx.query_opt("SELECT version FROM schema_version", &[]))? {
                Some(r) => r.try_get::<_, i64>(0)?,
                None => {
                    block_on(tx.execute("INSERT INTO schema_version (version) VALUES (0)", &[]))?;
                    0
                }
            };
            let version = usize::try_from(version).unwrap_or(usize::MAX);
            if version > MIGRATIONS.len() {
                return Err(StoreError::Open(format!(
                    "the database has schema version {version}, newer than this program's {}: use a newer mywebrtc",
                    MIGRATIONS.len()
                )));
            }
            for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
                block_on(tx.batch_execute(&postgres_ddl(sql)))?;
                block_on(tx.execute("UPDATE schema_version SET version = $1", &[&((i + 1) as i64)]))?;
                tracing::info!(migration = i + 1, "applied database migration");
            }
            block_on(tx.commit())?;
            Ok(())
        }
    }
}

/// How a call on a connection failed: before anything reached the database (safe to run
/// again on another connection), or after.
enum Failed {
    Early(StoreError),
    Late(StoreError),
}

impl Failed {
    fn into_inner(self) -> StoreError {
        match self {
            Failed::Early(e) | Failed::Late(e) => e,
        }
    }
}

fn is_unavailable(e: &StoreError) -> bool {
    matches!(e, StoreError::Db { kind: DbErrorKind::Unavailable, .. })
}

impl Backend for PgDb {
    const POSTGRES: bool = true;

    /// Half the pool: the other half stays free for reads and REST calls.
    fn write_lanes(&self) -> usize {
        (self.slots.len() / 2).max(1)
    }

    fn read<T>(&self, mut f: impl FnMut(&mut dyn Conn) -> Result<T, StoreError>) -> Result<T, StoreError> {
        // A read changes nothing: whenever it failed, it can run again.
        self.with_client(|p| f(&mut PgConn { client: &p.client, cache: &mut p.cache }).map_err(Failed::Early))
    }

    fn write<T>(&self, f: impl FnMut(&mut dyn Conn) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.transaction(IsolationLevel::Serializable, f)
    }

    fn write_locked<T>(&self, f: impl FnMut(&mut dyn Conn) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.transaction(IsolationLevel::ReadCommitted, f)
    }
}

impl PgDb {
    /// Runs `f` in a transaction, again when PostgreSQL reports a conflict (serialization
    /// failure, deadlock) with a concurrent one.
    fn transaction<T>(
        &self,
        isolation: IsolationLevel,
        mut f: impl FnMut(&mut dyn Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut attempt = 0;
        loop {
            let out = self.with_client(|p| {
                let begin = block_on(p.client.build_transaction().isolation_level(isolation).start());
                let tx = begin.map_err(|e| Failed::Early(e.into()))?;
                // On an error the transaction is dropped, which rolls it back.
                let v = f(&mut PgConn { client: &tx, cache: &mut p.cache }).map_err(Failed::Late)?;
                block_on(tx.commit()).map_err(|e| Failed::Late(e.into()))?;
                Ok(v)
            });
            match out {
                Err(StoreError::Db { kind: DbErrorKind::Conflict, .. }) if attempt < WRITE_ATTEMPTS => {
                    attempt += 1;
                    // Spread the retries of conflicting writers apart.
                    std::thread::sleep(Duration::from_millis(u64::from(attempt.min(10))));
                }
                other => return other,
            }
        }
    }
}

/// The schema's SQLite DDL in PostgreSQL's words: `id INTEGER PRIMARY KEY` (SQLite's row id)
/// becomes an identity column, integers are 64-bit, blobs are `BYTEA`. Everything else in
/// the migrations is written in SQL both read alike, so there is one list of migrations.
pub(crate) fn postgres_ddl(sqlite: &str) -> String {
    let mut out = String::with_capacity(sqlite.len() + 64);
    let mut rest = sqlite;
    while let Some(at) = rest.find("INTEGER") {
        let (before, after) = rest.split_at(at);
        out.push_str(before);
        let after = &after["INTEGER".len()..];
        let column_is_id = before.trim_end().rsplit(|c: char| c.is_whitespace() || c == '(').next() == Some("id")
            && before.ends_with(' ');
        if column_is_id && after.starts_with(" PRIMARY KEY") {
            out.push_str("BIGINT GENERATED BY DEFAULT AS IDENTITY");
        } else {
            out.push_str("BIGINT");
        }
        rest = after;
    }
    out.push_str(rest);
    out.replace(" BLOB", " BYTEA")
}

#[cfg(test)]
mod tests {
    use super::postgres_ddl;

    #[test]
    fn ddl_turns_row_ids_into_identity_columns_and_nothing_else() {
        let sql = "CREATE TABLE t (\n id INTEGER PRIMARY KEY,\n user_id INTEGER PRIMARY KEY REFERENCES u(id),\n \
                   n INTEGER NOT NULL DEFAULT 0,\n h BLOB NOT NULL UNIQUE\n);";
        assert_eq!(
            postgres_ddl(sql),
            "CREATE TABLE t (\n id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,\n user_id BIGINT PRIMARY KEY \
             REFERENCES u(id),\n n BIGINT NOT NULL DEFAULT 0,\n h BYTEA NOT NULL UNIQUE\n);"
        );
    }
}
