//! Attachments: the record of each uploaded file, who may read it, and what counts against
//! whose quota. The bytes live on disk (the web layer's job); the row is the truth about
//! whether a file exists, so a file without a row is garbage.

use crate::sql::{args, Conn, Row};
use crate::{AttachmentRow, NewAttachment, StoreError};

const COLS: &str = "a.token, a.conv_id, a.message_id, a.uploader, a.name, a.mime, a.size, a.sha256, a.created_at";

fn from_row(r: &Row) -> Result<AttachmentRow, StoreError> {
    Ok(AttachmentRow {
        token: r.text(0)?,
        conv: r.int(1)?,
        message: r.int(2)?,
        uploader: r.opt_int(3)?,
        name: r.text(4)?,
        mime: r.text(5)?,
        size: r.int(6)?,
        sha256: r.text(7)?,
        created_at: r.int(8)?,
    })
}

/// Records the file of a message just posted (same transaction as the message).
pub(crate) fn insert(
    c: &mut dyn Conn,
    conv: i64,
    message: i64,
    uploader: i64,
    f: &NewAttachment,
    now: i64,
) -> Result<(), StoreError> {
    c.exec(
        "INSERT INTO attachments (token, conv_id, message_id, uploader, name, mime, size, sha256, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        args![&f.token, conv, message, uploader, &f.name, &f.mime, f.size, &f.sha256, now],
    )?;
    Ok(())
}

/// The file if `user` may read it. A member sees the files of the messages they see: posted
/// after they joined, not deleted.
pub(crate) fn visible_to(c: &mut dyn Conn, user: i64, token: &str) -> Result<Option<AttachmentRow>, StoreError> {
    c.opt(
        &format!(
            "SELECT {COLS} FROM attachments a
             JOIN messages m ON m.id = a.message_id
             JOIN conversation_members cm ON cm.conv_id = a.conv_id AND cm.user_id = ?1
             WHERE a.token = ?2 AND m.deleted = 0 AND m.seq > cm.joined_seq"
        ),
        args![user, token],
    )?
    .as_ref()
    .map(from_row)
    .transpose()
}

pub(crate) fn usage(c: &mut dyn Conn, user: i64) -> Result<i64, StoreError> {
    // CAST: PostgreSQL sums BIGINTs as NUMERIC.
    c.int("SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM attachments WHERE uploader = ?1", args![user])
}

pub(crate) fn exists(c: &mut dyn Conn, token: &str) -> Result<bool, StoreError> {
    c.exists("SELECT 1 FROM attachments WHERE token = ?1", args![token])
}

pub(crate) fn purge(c: &mut dyn Conn, created_before: i64) -> Result<Vec<String>, StoreError> {
    c.map("DELETE FROM attachments WHERE created_at < ?1 RETURNING token", args![created_before], |r| r.text(0))
}
