//! The embedded database: one SQLite file.
//!
//! One connection behind a mutex: SQLite serialises writers anyway, and the server's
//! queries are short. Other processes (the admin CLI while the server runs) open the same
//! file; WAL mode and a busy timeout let them take turns.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::Connection;

use crate::backend::Backend;
use crate::schema::MIGRATIONS;
use crate::sql::{Conn, SqliteConn};
use crate::{SqlStore, StoreError};

/// A SQLite file (or a private in-memory database) as the store's backend.
pub struct SqliteDb {
    conn: Mutex<Connection>,
}

/// The store on SQLite, the embedded default.
pub type SqliteStore = SqlStore<SqliteDb>;

impl SqlStore<SqliteDb> {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Open(format!("{}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path)?;
        Ok(SqlStore::new(SqliteDb::init(conn)?))
    }

    /// A private in-memory database, for tests.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Ok(SqlStore::new(SqliteDb::init(Connection::open_in_memory()?)?))
    }
}

impl SqliteDb {
    fn init(mut conn: Connection) -> Result<Self, StoreError> {
        conn.busy_timeout(Duration::from_secs(10))?;
        // WAL: readers never block the writer, and the CLI can work while the server runs.
        // synchronous=FULL: a commit is on disk before it returns, so acknowledged data survives a crash.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let version: usize = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > MIGRATIONS.len() {
            return Err(StoreError::Open(format!(
                "the database has schema version {version}, newer than this program's {}: use a newer mywebrtc",
                MIGRATIONS.len()
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i + 1)?;
            tracing::info!(migration = i + 1, "applied database migration");
        }
        tx.commit()?;
        Ok(Self { conn: Mutex::new(conn) })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions roll
        // back on drop), so a poisoned lock is safe to keep using.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Backend for SqliteDb {
    const POSTGRES: bool = false;

    fn read<T>(&self, mut f: impl FnMut(&mut dyn Conn) -> Result<T, StoreError>) -> Result<T, StoreError> {
        f(&mut SqliteConn(&self.lock()))
    }

    fn write<T>(&self, mut f: impl FnMut(&mut dyn Conn) -> Result<T, StoreError>) -> Result<T, StoreError> {
        // IMMEDIATE takes the write lock at BEGIN: the file's one writer at a time, so the
        // transaction never has to be run again.
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let out = f(&mut SqliteConn(&tx))?;
        tx.commit()?;
        Ok(out)
    }
}
