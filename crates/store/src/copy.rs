//! Copying a whole database into an empty one, between backends in either direction: how
//! an installation moves from its SQLite file to PostgreSQL (`mywebrtc copy-database`).
//!
//! The source is read inside one transaction (a consistent snapshot; on SQLite it also holds
//! off writers), the target written inside one, so a failure leaves the target as empty as
//! it was. Rows keep their ids; PostgreSQL's identity sequences are moved past them after.

use crate::backend::Backend;
use crate::sql::{Arg, Conn, Row, Val};
use crate::{PgStore, SqlStore, SqliteStore, StoreError};

/// Every table, in an order that satisfies the foreign keys, with its columns and the order
/// to read it in (a table with an integer `id` is read in pages by id).
pub(crate) const TABLES: &[(&str, &str)] = &[
    ("users", "id, username, display_name, password_hash, is_admin, disabled, created_at, source, directory_disabled"),
    (
        "sessions",
        "id, token_hash, user_id, csrf_token, user_agent, created_at, last_seen_at, expires_at, absolute_expires_at",
    ),
    ("invites", "id, token_hash, kind, is_admin, created_by, created_at, expires_at, used_at, used_by"),
    ("contact_requests", "from_user, to_user, created_at"),
    ("contacts", "user_id, contact_id, since"),
    ("blocks", "blocker, blocked, created_at"),
    ("conversations", "id, kind, name, direct_key, created_by, created_at, last_seq"),
    ("conversation_members", "conv_id, user_id, role, joined_at, joined_seq, delivered_seq, read_seq"),
    ("messages", "id, conv_id, seq, rev, sender, client_id, kind, body, created_at, edited_at, deleted"),
    ("calls", "id, caller, callee, media, answered, reason, started_at, ring_secs, talk_secs, callee_seen, conv"),
    ("attachments", "token, conv_id, message_id, uploader, name, mime, size, sha256, created_at"),
    (
        "meetings",
        "id, conv_id, link_token, code, title, created_by, created_at, starts_at, ends_at, access, ended_at, by_code",
    ),
    ("meeting_guests", "user_id, meeting_id, state, created_at"),
    ("burnt_codes", "code_hash, until"),
];

/// Tables not copied: they describe running nodes, not the installation (the schema test
/// checks that every table is either copied or listed here).
#[cfg(test)]
pub(crate) const NOT_COPIED: &[&str] = &["room_nodes"];

/// Rows read per query when a table is read in pages.
const PAGE: i64 = 5000;

/// Rows copied, table by table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    pub tables: Vec<(String, u64)>,
}

/// A store on either backend, for the commands that need to know which (copying).
pub enum AnyStore {
    Sqlite(SqliteStore),
    Postgres(Box<PgStore>),
}

impl AnyStore {
    pub fn into_shared(self) -> std::sync::Arc<dyn crate::Store> {
        match self {
            AnyStore::Sqlite(s) => std::sync::Arc::new(s),
            AnyStore::Postgres(s) => std::sync::Arc::new(*s),
        }
    }

    pub fn as_store(&self) -> &dyn crate::Store {
        match self {
            AnyStore::Sqlite(s) => s,
            AnyStore::Postgres(s) => s.as_ref(),
        }
    }

    /// Copies everything in `self` into `target`, which must hold no rows.
    pub fn copy_into(&self, target: &AnyStore) -> Result<CopyReport, StoreError> {
        use AnyStore::*;
        match (self, target) {
            (Sqlite(a), Sqlite(b)) => copy(a, b),
            (Sqlite(a), Postgres(b)) => copy(a, b.as_ref()),
            (Postgres(a), Sqlite(b)) => copy(a.as_ref(), b),
            (Postgres(a), Postgres(b)) => copy(a.as_ref(), b.as_ref()),
        }
    }
}

/// All rows of `table` in key order, in pages where it has an integer `id`.
fn read_table(
    c: &mut dyn Conn,
    table: &str,
    cols: &str,
    mut each: impl FnMut(Row) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    if !cols.starts_with("id,") {
        let key = cols.split(',').take(2).collect::<Vec<_>>().join(",");
        for r in c.rows(&format!("SELECT {cols} FROM {table} ORDER BY {key}"), &[])? {
            each(r)?;
        }
        return Ok(());
    }
    let mut after = i64::MIN;
    loop {
        let rows = c.rows(
            &format!("SELECT {cols} FROM {table} WHERE id > ?1 ORDER BY id LIMIT ?2"),
            &[Arg::Int(after), Arg::Int(PAGE)],
        )?;
        let Some(last) = rows.last() else { return Ok(()) };
        after = last.int(0)?;
        let full = rows.len() as i64 == PAGE;
        for r in rows {
            each(r)?;
        }
        if !full {
            return Ok(());
        }
    }
}

fn arg(v: &Val) -> Arg<'_> {
    match v {
        Val::Null => Arg::Null,
        Val::Int(i) => Arg::Int(*i),
        Val::Text(t) => Arg::Text(t),
        Val::Bytes(b) => Arg::Bytes(b),
    }
}

fn copy<A: Backend, B: Backend>(from: &SqlStore<A>, to: &SqlStore<B>) -> Result<CopyReport, StoreError> {
    from.db.write(|src| {
        to.db.write(|dst| {
            for (table, _) in TABLES {
                if dst.exists(&format!("SELECT 1 FROM {table}"), &[])? {
                    return Err(StoreError::Open(format!(
                        "the target database is not empty (table {table} has rows): copy into a new, empty database"
                    )));
                }
            }
            let mut report = CopyReport { tables: Vec::new() };
            for (table, cols) in TABLES {
                let n = cols.split(',').count();
                let placeholders = (1..=n).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ");
                let insert = format!("INSERT INTO {table} ({cols}) VALUES ({placeholders})");
                let mut copied = 0u64;
                read_table(src, table, cols, |row| {
                    let args: Vec<Arg<'_>> = row.0.iter().map(arg).collect();
                    dst.exec(&insert, &args)?;
                    copied += 1;
                    Ok(())
                })?;
                report.tables.push((table.to_string(), copied));
            }
            if B::POSTGRES {
                move_sequences(dst)?;
            }
            Ok(report)
        })
    })
}

/// On PostgreSQL, moves each identity sequence past the copied ids (the next row must not
/// take one of them); on SQLite a new row id follows the largest anyway.
fn move_sequences(c: &mut dyn Conn) -> Result<(), StoreError> {
    for (table, _) in TABLES.iter().filter(|(_, cols)| cols.starts_with("id,")) {
        c.rows(
            &format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
            ),
            &[],
        )?;
    }
    Ok(())
}
