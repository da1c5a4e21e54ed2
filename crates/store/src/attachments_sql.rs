//! Attachments on SQLite: the record of each uploaded file, who may read it, and what counts
//! against whose quota. The bytes live on disk (the web layer's job); the row is the truth
//! about whether a file exists, so a file without a row is garbage.

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};

use crate::sqlite::SqliteStore;
use crate::{AttachmentRow, NewAttachment, StoreError};

const COLS: &str = "a.token, a.conv_id, a.message_id, a.uploader, a.name, a.mime, a.size, a.sha256, a.created_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<AttachmentRow> {
    Ok(AttachmentRow {
        token: r.get(0)?,
        conv: r.get(1)?,
        message: r.get(2)?,
        uploader: r.get(3)?,
        name: r.get(4)?,
        mime: r.get(5)?,
        size: r.get(6)?,
        sha256: r.get(7)?,
        created_at: r.get(8)?,
    })
}

/// Records the file of a message just posted (same transaction as the message).
pub(crate) fn insert(
    tx: &Transaction<'_>,
    conv: i64,
    message: i64,
    uploader: i64,
    f: &NewAttachment,
    now: i64,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO attachments (token, conv_id, message_id, uploader, name, mime, size, sha256, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![f.token, conv, message, uploader, f.name, f.mime, f.size, f.sha256, now])?;
    Ok(())
}

fn visible_to(conn: &Connection, user: i64, token: &str) -> rusqlite::Result<Option<AttachmentRow>> {
    // A member sees the files of the messages they see: posted after they joined, not deleted.
    conn.prepare_cached(&format!(
        "SELECT {COLS} FROM attachments a
         JOIN messages m ON m.id = a.message_id
         JOIN conversation_members cm ON cm.conv_id = a.conv_id AND cm.user_id = ?1
         WHERE a.token = ?2 AND m.deleted = 0 AND m.seq > cm.joined_seq"
    ))?
    .query_row(params![user, token], from_row)
    .optional()
}

impl SqliteStore {
    pub(crate) fn attachment_for_impl(&self, user: i64, token: &str) -> Result<Option<AttachmentRow>, StoreError> {
        Ok(visible_to(&self.conn(), user, token)?)
    }

    pub(crate) fn attachment_usage_impl(&self, user: i64) -> Result<i64, StoreError> {
        Ok(self
            .conn()
            .prepare_cached("SELECT COALESCE(SUM(size), 0) FROM attachments WHERE uploader = ?1")?
            .query_row([user], |r| r.get(0))?)
    }

    pub(crate) fn attachment_exists_impl(&self, token: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn()
            .prepare_cached("SELECT 1 FROM attachments WHERE token = ?1")?
            .query_row([token], |_| Ok(()))
            .optional()?
            .is_some())
    }

    pub(crate) fn purge_attachments_impl(&self, created_before: i64) -> Result<Vec<String>, StoreError> {
        self.write_tx(|tx| {
            let mut stmt = tx.prepare_cached("DELETE FROM attachments WHERE created_at < ?1 RETURNING token")?;
            let tokens = stmt.query_map([created_before], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
            Ok(tokens)
        })
    }
}
