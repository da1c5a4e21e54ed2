//! Online backup and restore of the SQLite database.
//!
//! A backup is `VACUUM INTO` on a connection of its own: one read transaction over the WAL
//! database, so it is a consistent snapshot holding every transaction committed before it
//! started — every acknowledged chat message — while the server keeps writing. It is written
//! under a temporary name, flushed, checked (`PRAGMA integrity_check`) and only then renamed
//! into place, so a crash mid-backup never leaves a file that looks complete.
//!
//! A restore only runs while no server holds the data directory (the caller checks its lock),
//! refuses a backup that fails its integrity check or comes from a newer schema, and refuses
//! to replace a database with activity after the backup's unless forced. The database it
//! replaces is kept beside it.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::schema::MIGRATIONS;
use crate::StoreError;

/// What a backup file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupInfo {
    pub bytes: u64,
    pub schema_version: usize,
    /// Unix time of the newest recorded activity (message, account, call, sign-in).
    pub last_activity: i64,
    /// The sum of the highest row ids of the growing tables: breaks ties within one second
    /// (a database that went on after a backup has a higher one).
    pub high_water: i64,
    pub users: i64,
    pub messages: i64,
}

fn fail(msg: impl Into<String>) -> StoreError {
    StoreError::Backup(msg.into())
}

fn open_read_only(path: &Path) -> Result<Connection, StoreError> {
    if !path.is_file() {
        return Err(fail(format!("{} does not exist", path.display())));
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(conn)
}

/// The newest time anything happened in the database.
fn last_activity(conn: &Connection) -> Result<i64, StoreError> {
    let sql = "SELECT MAX(t) FROM (
        SELECT MAX(created_at) AS t FROM users
        UNION ALL SELECT MAX(MAX(created_at), COALESCE(MAX(edited_at), 0)) FROM messages
        UNION ALL SELECT MAX(started_at) FROM calls
        UNION ALL SELECT MAX(last_seen_at) FROM sessions)";
    Ok(conn.query_row(sql, [], |r| r.get::<_, Option<i64>>(0))?.unwrap_or(0))
}

fn high_water(conn: &Connection) -> Result<i64, StoreError> {
    let sql = "SELECT COALESCE((SELECT MAX(id) FROM users), 0) + COALESCE((SELECT MAX(id) FROM messages), 0)
        + COALESCE((SELECT MAX(id) FROM sessions), 0) + COALESCE((SELECT MAX(id) FROM calls), 0)";
    Ok(conn.query_row(sql, [], |r| r.get(0))?)
}

impl BackupInfo {
    /// Whether `self` (a database) has activity the backup `other` lacks.
    pub fn is_newer_than(&self, other: &BackupInfo) -> bool {
        (self.last_activity, self.high_water) > (other.last_activity, other.high_water)
    }
}

/// Checks a database file and says what it holds.
pub fn inspect(path: &Path) -> Result<BackupInfo, StoreError> {
    let conn = open_read_only(path)?;
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if check != "ok" {
        return Err(fail(format!("{} fails SQLite's integrity check: {check}", path.display())));
    }
    let schema_version: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if schema_version == 0 {
        return Err(fail(format!("{} is not a mywebrtc database", path.display())));
    }
    if schema_version > MIGRATIONS.len() {
        return Err(fail(format!(
            "{} has schema version {schema_version}, newer than this mywebrtc ({}): use a newer mywebrtc",
            path.display(),
            MIGRATIONS.len()
        )));
    }
    let count = |table: &str| conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get::<_, i64>(0));
    Ok(BackupInfo {
        bytes: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        schema_version,
        last_activity: last_activity(&conn)?,
        high_water: high_water(&conn)?,
        users: count("users")?,
        messages: count("messages")?,
    })
}

fn sync_dir(dir: &Path) {
    // Makes the rename durable; not every filesystem allows opening a directory.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Copies the live database at `db` into `dest` (which must not exist) as one consistent
/// snapshot, while other connections keep writing.
pub fn backup(db: &Path, dest: &Path) -> Result<BackupInfo, StoreError> {
    if dest.exists() {
        return Err(fail(format!("{} exists already; choose a new file name", dest.display())));
    }
    let dir = parent_of(dest);
    let tmp = dir.join(format!(
        ".{}.partial",
        dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "backup".into())
    ));
    let _ = std::fs::remove_file(&tmp);
    let src = open_read_only(db)?;
    let tmp_str = tmp.to_str().ok_or_else(|| fail(format!("{} is not a UTF-8 path", tmp.display())))?;
    src.execute("VACUUM INTO ?1", [tmp_str])?;
    drop(src);
    let result = (|| {
        std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(|e| fail(format!("flushing the backup: {e}")))?;
        let info = inspect(&tmp)?;
        std::fs::rename(&tmp, dest).map_err(|e| fail(format!("moving the backup into place: {e}")))?;
        sync_dir(&dir);
        Ok(info)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    pub info: BackupInfo,
    /// Where the replaced database was kept (none if there was none).
    pub previous: Option<PathBuf>,
}

/// Puts the backup at `from` in place of the database at `db`. The server must be stopped
/// (the caller holds the data directory's lock). Without `force`, refuses when the current
/// database has activity after the backup's newest.
pub fn restore(from: &Path, db: &Path, force: bool, now: i64) -> Result<Restored, StoreError> {
    let info = inspect(from)?;
    if db.exists() && !force {
        // An unreadable current database counts as newer: never replaced silently.
        let newer = inspect(db).map(|current| current.is_newer_than(&info)).unwrap_or(true);
        if newer {
            return Err(fail(
                "the current database has activity newer than the backup; restoring would lose it. \
                 Use --force to restore anyway (the current database is kept beside it)",
            ));
        }
    }
    let dir = parent_of(db);
    std::fs::create_dir_all(&dir).map_err(|e| fail(format!("{}: {e}", dir.display())))?;
    let name = db.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "mywebrtc.sqlite".into());
    let tmp = dir.join(format!(".{name}.restoring"));
    std::fs::copy(from, &tmp).map_err(|e| fail(format!("copying the backup: {e}")))?;
    std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(|e| fail(format!("flushing: {e}")))?;
    let previous = if db.exists() {
        // A clean copy of the current database (its WAL folded in) is kept.
        let keep = dir.join(format!("{name}.before-restore-{now}"));
        backup(db, &keep)?;
        Some(keep)
    } else {
        None
    };
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.join(format!("{name}{suffix}")));
    }
    std::fs::rename(&tmp, db).map_err(|e| fail(format!("moving the backup into place: {e}")))?;
    sync_dir(&dir);
    Ok(Restored { info, previous })
}
