//! Conversations, members and messages on SQLite.
//!
//! Visibility rule: a member sees the messages after the point they joined (`joined_seq`), so
//! someone added to a group does not read what was said before. Outsiders see nothing: every
//! query that reads a conversation first looks up the caller's membership, and a missing
//! membership is indistinguishable from a missing conversation.

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};

use crate::contacts_sql::{are_contacts, blocked_either};
use crate::sqlite::{user_from_row_at, SqliteStore, USER_COLS_U, USER_NCOLS};
use crate::{
    ChatRefusal, ChatWrite, ChatWritten, ConversationKind, ConversationRow, MemberRow, MembershipChange, MessageKind,
    MessageRow, StoreError,
};

const MSG_COLS: &str = "id, conv_id, seq, rev, sender, client_id, kind, body, created_at, edited_at, deleted";

fn message_from_row(r: &Row<'_>) -> rusqlite::Result<MessageRow> {
    let kind: String = r.get(6)?;
    Ok(MessageRow {
        id: r.get(0)?,
        conv: r.get(1)?,
        seq: r.get(2)?,
        rev: r.get(3)?,
        sender: r.get(4)?,
        client_id: r.get(5)?,
        kind: MessageKind::parse(&kind),
        body: r.get(7)?,
        created_at: r.get(8)?,
        edited_at: r.get(9)?,
        deleted: r.get(10)?,
    })
}

/// The member's `joined_seq` (messages at or before it are hidden from them), if a member.
fn membership(conn: &Connection, conv: i64, user: i64) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT joined_seq FROM conversation_members WHERE conv_id = ?1 AND user_id = ?2")?
        .query_row(params![conv, user], |r| r.get(0))
        .optional()
}

fn member_ids(conn: &Connection, conv: i64) -> rusqlite::Result<Vec<i64>> {
    let mut stmt =
        conn.prepare_cached("SELECT user_id FROM conversation_members WHERE conv_id = ?1 ORDER BY user_id")?;
    let rows = stmt.query_map([conv], |r| r.get(0))?;
    rows.collect()
}

fn kind_of(conn: &Connection, conv: i64) -> rusqlite::Result<Option<ConversationKind>> {
    conn.prepare_cached("SELECT kind FROM conversations WHERE id = ?1")?
        .query_row([conv], |r| r.get::<_, String>(0))
        .optional()
        .map(|k| k.map(|k| ConversationKind::parse(&k)))
}

/// Takes the conversation's next sequence number.
fn next_seq(conn: &Connection, conv: i64) -> rusqlite::Result<i64> {
    conn.prepare_cached("UPDATE conversations SET last_seq = last_seq + 1 WHERE id = ?1 RETURNING last_seq")?
        .query_row([conv], |r| r.get(0))
}

fn message_by_id(conn: &Connection, conv: i64, id: i64) -> rusqlite::Result<Option<MessageRow>> {
    conn.prepare_cached(&format!("SELECT {MSG_COLS} FROM messages WHERE conv_id = ?1 AND id = ?2"))?
        .query_row(params![conv, id], message_from_row)
        .optional()
}

fn insert_message(
    conn: &Connection,
    conv: i64,
    sender: Option<i64>,
    client_id: &str,
    kind: MessageKind,
    body: &str,
    now: i64,
) -> rusqlite::Result<MessageRow> {
    let seq = next_seq(conn, conv)?;
    conn.prepare_cached(
        "INSERT INTO messages (conv_id, seq, rev, sender, client_id, kind, body, created_at)
         VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![conv, seq, sender, client_id, kind.as_str(), body, now])?;
    Ok(MessageRow {
        id: conn.last_insert_rowid(),
        conv,
        seq,
        rev: seq,
        sender,
        client_id: client_id.to_owned(),
        kind,
        body: body.to_owned(),
        created_at: now,
        edited_at: None,
        deleted: false,
    })
}

/// In a direct conversation both users must still be contacts and neither may block the other.
fn direct_allowed(conn: &Connection, conv: i64, user: i64) -> rusqlite::Result<bool> {
    if kind_of(conn, conv)? != Some(ConversationKind::Direct) {
        return Ok(true);
    }
    for other in member_ids(conn, conv)? {
        if other != user && (!are_contacts(conn, user, other)? || blocked_either(conn, user, other)?) {
            return Ok(false);
        }
    }
    Ok(true)
}

fn add_member_row(
    conn: &Connection,
    conv: i64,
    user: i64,
    owner: bool,
    joined_seq: i64,
    now: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO conversation_members (conv_id, user_id, role, joined_at, joined_seq, delivered_seq, read_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?5)",
        params![conv, user, if owner { "owner" } else { "member" }, now, joined_seq],
    )?;
    Ok(())
}

fn username(conn: &Connection, user: i64) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT username FROM users WHERE id = ?1 AND disabled = 0", [user], |r| r.get(0)).optional()
}

fn apply_write(tx: &Transaction<'_>, w: &ChatWrite, now: i64) -> Result<Result<ChatWritten, ChatRefusal>, StoreError> {
    match w {
        ChatWrite::Send { user, conv, client_id, text } => {
            post(tx, *user, *conv, client_id, MessageKind::Text, text, now)
        }
        ChatWrite::SendFile { user, conv, client_id, body, file } => {
            let posted = post(tx, *user, *conv, client_id, MessageKind::File, body, now)?;
            if let Ok(ChatWritten::Message { message, fresh: true, .. }) = &posted {
                crate::attachments_sql::insert(tx, *conv, message.id, *user, file, now)?;
            }
            Ok(posted)
        }
        ChatWrite::Edit { user, conv, message, text } => change_own(tx, *user, *conv, *message, Some(text), now),
        ChatWrite::Delete { user, conv, message } => change_own(tx, *user, *conv, *message, None, now),
        ChatWrite::Receipt { user, conv, delivered, read } => {
            if membership(tx, *conv, *user)?.is_none() {
                return Ok(Err(ChatRefusal::NoConversation));
            }
            let (old_d, old_r, last): (i64, i64, i64) = tx
                .prepare_cached(
                    "SELECT m.delivered_seq, m.read_seq, c.last_seq FROM conversation_members m
                     JOIN conversations c ON c.id = m.conv_id WHERE m.conv_id = ?1 AND m.user_id = ?2",
                )?
                .query_row(params![conv, user], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            // Marks only move forward, never past the end, and reading implies delivery.
            let read_seq = old_r.max((*read).min(last));
            let delivered_seq = old_d.max((*delivered).min(last)).max(read_seq);
            let changed = (delivered_seq, read_seq) != (old_d, old_r);
            if changed {
                tx.prepare_cached(
                    "UPDATE conversation_members SET delivered_seq = ?3, read_seq = ?4 WHERE conv_id = ?1 AND user_id = ?2",
                )?
                .execute(params![conv, user, delivered_seq, read_seq])?;
            }
            let members = member_ids(tx, *conv)?;
            Ok(Ok(ChatWritten::Receipt { conv: *conv, user: *user, delivered_seq, read_seq, members, changed }))
        }
    }
}

/// Posts a member's message of `kind` (text or file), or finds the earlier copy of a retry.
fn post(
    tx: &Transaction<'_>,
    user: i64,
    conv: i64,
    client_id: &str,
    kind: MessageKind,
    body: &str,
    now: i64,
) -> Result<Result<ChatWritten, ChatRefusal>, StoreError> {
    if membership(tx, conv, user)?.is_none() {
        return Ok(Err(ChatRefusal::NoConversation));
    }
    let earlier = tx
        .prepare_cached(&format!(
            "SELECT {MSG_COLS} FROM messages WHERE conv_id = ?1 AND sender = ?2 AND client_id = ?3 AND kind = ?4"
        ))?
        .query_row(params![conv, user, client_id, kind.as_str()], message_from_row)
        .optional()?;
    let members = member_ids(tx, conv)?;
    if let Some(message) = earlier {
        return Ok(Ok(ChatWritten::Message { message, members, fresh: false }));
    }
    if !direct_allowed(tx, conv, user)? {
        return Ok(Err(ChatRefusal::NotAllowed));
    }
    let message = insert_message(tx, conv, Some(user), client_id, kind, body, now)?;
    // The sender has obviously read everything up to their own message.
    tx.prepare_cached(
        "UPDATE conversation_members SET delivered_seq = ?3, read_seq = ?3 WHERE conv_id = ?1 AND user_id = ?2",
    )?
    .execute(params![conv, user, message.seq])?;
    Ok(Ok(ChatWritten::Message { message, members, fresh: true }))
}

/// Edits (`text`) or deletes (`None`) the user's own message: text can be edited and deleted,
/// a file only deleted (its record goes with it; the file on disk follows, see
/// [`crate::Store::purge_attachments`]).
fn change_own(
    tx: &Transaction<'_>,
    user: i64,
    conv: i64,
    id: i64,
    text: Option<&String>,
    now: i64,
) -> Result<Result<ChatWritten, ChatRefusal>, StoreError> {
    let Some(joined) = membership(tx, conv, user)? else { return Ok(Err(ChatRefusal::NoConversation)) };
    let editable = |k: MessageKind| k == MessageKind::Text || (text.is_none() && k == MessageKind::File);
    let Some(mut m) = message_by_id(tx, conv, id)?.filter(|m| m.seq > joined && editable(m.kind)) else {
        return Ok(Err(ChatRefusal::NoMessage));
    };
    if m.sender != Some(user) {
        return Ok(Err(ChatRefusal::NotYours));
    }
    if m.deleted {
        return Ok(Err(ChatRefusal::Deleted));
    }
    if text.is_some() && !direct_allowed(tx, conv, user)? {
        return Ok(Err(ChatRefusal::NotAllowed));
    }
    m.rev = next_seq(tx, conv)?;
    match text {
        Some(t) => {
            m.body = t.clone();
            m.edited_at = Some(now);
        }
        None => {
            m.body.clear();
            m.deleted = true;
            tx.prepare_cached("DELETE FROM attachments WHERE message_id = ?1")?.execute([m.id])?;
        }
    }
    tx.prepare_cached("UPDATE messages SET rev = ?2, body = ?3, edited_at = ?4, deleted = ?5 WHERE id = ?1")?
        .execute(params![m.id, m.rev, m.body, m.edited_at, m.deleted])?;
    let members = member_ids(tx, conv)?;
    Ok(Ok(ChatWritten::Message { message: m, members, fresh: true }))
}

fn conversation_row(conn: &Connection, conv: i64, viewer: i64) -> Result<Option<ConversationRow>, StoreError> {
    let Some(joined) = membership(conn, conv, viewer)? else { return Ok(None) };
    let (kind, name, created_at, last_seq): (String, String, i64, i64) = conn
        .prepare_cached("SELECT kind, name, created_at, last_seq FROM conversations WHERE id = ?1")?
        .query_row([conv], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {USER_COLS_U}, m.role, m.delivered_seq, m.read_seq FROM conversation_members m
         JOIN users u ON u.id = m.user_id WHERE m.conv_id = ?1 ORDER BY m.joined_at, u.id"
    ))?;
    let members = stmt
        .query_map([conv], |r| {
            Ok(MemberRow {
                user: user_from_row_at(r, 0)?,
                owner: r.get::<_, String>(USER_NCOLS)? == "owner",
                delivered_seq: r.get(USER_NCOLS + 1)?,
                read_seq: r.get(USER_NCOLS + 2)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let read_seq = members.iter().find(|m| m.user.id == viewer).map(|m| m.read_seq).unwrap_or(0);
    let unread: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM messages WHERE conv_id = ?1 AND seq > ?2 AND kind IN ('text', 'file') AND deleted = 0
             AND (sender IS NULL OR sender != ?3)",
        )?
        .query_row(params![conv, read_seq.max(joined), viewer], |r| r.get(0))?;
    let last_message = conn
        .prepare_cached(&format!(
            "SELECT {MSG_COLS} FROM messages WHERE conv_id = ?1 AND seq > ?2 ORDER BY seq DESC LIMIT 1"
        ))?
        .query_row(params![conv, joined], message_from_row)
        .optional()?;
    Ok(Some(ConversationRow {
        id: conv,
        kind: ConversationKind::parse(&kind),
        name,
        created_at,
        last_seq,
        members,
        unread,
        last_message,
    }))
}

fn require_group_member(conn: &Connection, conv: i64, user: i64) -> Result<(), StoreError> {
    if membership(conn, conv, user)?.is_none() {
        return Err(StoreError::NotFound);
    }
    if kind_of(conn, conv)? != Some(ConversationKind::Group) {
        return Err(StoreError::Forbidden);
    }
    Ok(())
}

impl SqliteStore {
    pub(crate) fn chat_write_impl(
        &self,
        writes: &[ChatWrite],
        now: i64,
    ) -> Result<Vec<Result<ChatWritten, ChatRefusal>>, StoreError> {
        self.write_tx(|tx| writes.iter().map(|w| apply_write(tx, w, now)).collect())
    }

    pub(crate) fn conversation_members_impl(&self, conv: i64) -> Result<Vec<i64>, StoreError> {
        Ok(member_ids(&self.conn(), conv)?)
    }

    pub(crate) fn direct_conversation_impl(&self, a: i64, b: i64, now: i64) -> Result<(i64, bool), StoreError> {
        self.write_tx(|tx| {
            if a == b || username(tx, b)?.is_none() {
                return Err(StoreError::NotFound);
            }
            if blocked_either(tx, a, b)? {
                return Err(StoreError::Blocked);
            }
            if !are_contacts(tx, a, b)? {
                return Err(StoreError::NotContacts);
            }
            let key = format!("{}:{}", a.min(b), a.max(b));
            let existing: Option<i64> =
                tx.query_row("SELECT id FROM conversations WHERE direct_key = ?1", [&key], |r| r.get(0)).optional()?;
            if let Some(id) = existing {
                return Ok((id, false));
            }
            tx.execute(
                "INSERT INTO conversations (kind, direct_key, created_by, created_at) VALUES ('direct', ?1, ?2, ?3)",
                params![key, a, now],
            )?;
            let id = tx.last_insert_rowid();
            add_member_row(tx, id, a, false, 0, now)?;
            add_member_row(tx, id, b, false, 0, now)?;
            Ok((id, true))
        })
    }

    pub(crate) fn create_group_impl(
        &self,
        owner: i64,
        name: &str,
        members: &[i64],
        now: i64,
    ) -> Result<(i64, Vec<MessageRow>), StoreError> {
        self.write_tx(|tx| {
            let mut others: Vec<i64> = members.iter().copied().filter(|m| *m != owner).collect();
            others.sort_unstable();
            others.dedup();
            for m in &others {
                if username(tx, *m)?.is_none() {
                    return Err(StoreError::NotFound);
                }
                if blocked_either(tx, owner, *m)? || !are_contacts(tx, owner, *m)? {
                    return Err(StoreError::NotContacts);
                }
            }
            tx.execute(
                "INSERT INTO conversations (kind, name, created_by, created_at) VALUES ('group', ?1, ?2, ?3)",
                params![name, owner, now],
            )?;
            let id = tx.last_insert_rowid();
            add_member_row(tx, id, owner, true, 0, now)?;
            let mut log = vec![insert_message(tx, id, Some(owner), "", MessageKind::Created, name, now)?];
            for m in others {
                add_member_row(tx, id, m, false, 0, now)?;
                let name = username(tx, m)?.unwrap_or_default();
                log.push(insert_message(tx, id, Some(owner), "", MessageKind::Added, &name, now)?);
            }
            Ok((id, log))
        })
    }

    pub(crate) fn rename_group_impl(
        &self,
        user: i64,
        conv: i64,
        name: &str,
        now: i64,
    ) -> Result<MembershipChange, StoreError> {
        self.write_tx(|tx| {
            require_group_member(tx, conv, user)?;
            tx.execute("UPDATE conversations SET name = ?2 WHERE id = ?1", params![conv, name])?;
            let message = insert_message(tx, conv, Some(user), "", MessageKind::Renamed, name, now)?;
            Ok(MembershipChange { message, members: member_ids(tx, conv)? })
        })
    }

    pub(crate) fn add_member_impl(
        &self,
        user: i64,
        conv: i64,
        new: i64,
        now: i64,
    ) -> Result<MembershipChange, StoreError> {
        self.write_tx(|tx| {
            require_group_member(tx, conv, user)?;
            let Some(name) = username(tx, new)? else { return Err(StoreError::NotFound) };
            if blocked_either(tx, user, new)? || !are_contacts(tx, user, new)? {
                return Err(StoreError::NotContacts);
            }
            if membership(tx, conv, new)?.is_some() {
                return Err(StoreError::Forbidden);
            }
            // The new member sees the conversation from the message announcing them.
            let last: i64 = tx.query_row("SELECT last_seq FROM conversations WHERE id = ?1", [conv], |r| r.get(0))?;
            add_member_row(tx, conv, new, false, last, now)?;
            let message = insert_message(tx, conv, Some(user), "", MessageKind::Added, &name, now)?;
            Ok(MembershipChange { message, members: member_ids(tx, conv)? })
        })
    }

    /// `user` removes `who` (only the owner may remove others) or leaves (`who == user`).
    /// A leaving owner hands the group to the longest-standing member.
    pub(crate) fn remove_member_impl(
        &self,
        user: i64,
        conv: i64,
        who: i64,
        now: i64,
    ) -> Result<MembershipChange, StoreError> {
        self.write_tx(|tx| {
            require_group_member(tx, conv, user)?;
            let role = |u: i64| -> rusqlite::Result<Option<String>> {
                tx.query_row(
                    "SELECT role FROM conversation_members WHERE conv_id = ?1 AND user_id = ?2",
                    params![conv, u],
                    |r| r.get(0),
                )
                .optional()
            };
            let Some(who_role) = role(who)? else { return Err(StoreError::NotFound) };
            if who != user && role(user)?.as_deref() != Some("owner") {
                return Err(StoreError::Forbidden);
            }
            tx.execute("DELETE FROM conversation_members WHERE conv_id = ?1 AND user_id = ?2", params![conv, who])?;
            if who_role == "owner" {
                tx.execute(
                    "UPDATE conversation_members SET role = 'owner' WHERE conv_id = ?1 AND user_id =
                     (SELECT user_id FROM conversation_members WHERE conv_id = ?1 ORDER BY joined_at, user_id LIMIT 1)",
                    [conv],
                )?;
            }
            let message = if who == user {
                insert_message(tx, conv, Some(user), "", MessageKind::Left, "", now)?
            } else {
                let name =
                    tx.query_row("SELECT username FROM users WHERE id = ?1", [who], |r| r.get::<_, String>(0))?;
                insert_message(tx, conv, Some(user), "", MessageKind::Removed, &name, now)?
            };
            Ok(MembershipChange { message, members: member_ids(tx, conv)? })
        })
    }

    pub(crate) fn list_conversations_impl(&self, user: i64) -> Result<Vec<ConversationRow>, StoreError> {
        let conn = self.conn();
        let ids: Vec<i64> = conn
            .prepare_cached("SELECT conv_id FROM conversation_members WHERE user_id = ?1")?
            .query_map([user], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(c) = conversation_row(&conn, id, user)? {
                out.push(c);
            }
        }
        // Most recently active first.
        out.sort_by_key(|c| std::cmp::Reverse((c.last_message.as_ref().map_or(c.created_at, |m| m.created_at), c.id)));
        Ok(out)
    }

    pub(crate) fn conversation_impl(&self, user: i64, conv: i64) -> Result<Option<ConversationRow>, StoreError> {
        conversation_row(&self.conn(), conv, user)
    }

    pub(crate) fn messages_before_impl(
        &self,
        user: i64,
        conv: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<MessageRow>, StoreError> {
        let conn = self.conn();
        let Some(joined) = membership(&conn, conv, user)? else { return Err(StoreError::NotFound) };
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {MSG_COLS} FROM messages WHERE conv_id = ?1 AND seq > ?2 AND seq < ?3 ORDER BY seq DESC LIMIT ?4"
        ))?;
        let mut rows: Vec<MessageRow> = stmt
            .query_map(params![conv, joined, before.unwrap_or(i64::MAX), limit], message_from_row)?
            .collect::<Result<_, _>>()?;
        rows.reverse();
        Ok(rows)
    }

    pub(crate) fn messages_changed_after_impl(
        &self,
        user: i64,
        conv: i64,
        after_rev: i64,
        limit: u32,
    ) -> Result<Vec<MessageRow>, StoreError> {
        let conn = self.conn();
        let Some(joined) = membership(&conn, conv, user)? else { return Err(StoreError::NotFound) };
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {MSG_COLS} FROM messages WHERE conv_id = ?1 AND rev > ?2 AND seq > ?3 ORDER BY rev LIMIT ?4"
        ))?;
        let rows = stmt.query_map(params![conv, after_rev, joined, limit], message_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
