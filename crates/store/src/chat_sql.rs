//! Conversations, members and messages.
//!
//! Visibility rule: a member sees the messages after the point they joined (`joined_seq`), so
//! someone added to a group does not read what was said before. Outsiders see nothing: every
//! query that reads a conversation first looks up the caller's membership, and a missing
//! membership is indistinguishable from a missing conversation.

use crate::accounts_sql::{user_from_row_at, USER_COLS_U, USER_NCOLS};
use crate::contacts_sql::{are_contacts, blocked_either};
use crate::sql::{args, Conn, Row};
use crate::{
    ChatRefusal, ChatWrite, ChatWritten, ConversationKind, ConversationRow, MemberRow, MembershipChange, MessageKind,
    MessageRow, StoreError,
};

const MSG_COLS: &str = "id, conv_id, seq, rev, sender, client_id, kind, body, created_at, edited_at, deleted";

fn message_from_row(r: &Row) -> Result<MessageRow, StoreError> {
    Ok(MessageRow {
        id: r.int(0)?,
        conv: r.int(1)?,
        seq: r.int(2)?,
        rev: r.int(3)?,
        sender: r.opt_int(4)?,
        client_id: r.text(5)?,
        kind: MessageKind::parse(&r.text(6)?),
        body: r.text(7)?,
        created_at: r.int(8)?,
        edited_at: r.opt_int(9)?,
        deleted: r.bool(10)?,
    })
}

fn opt_message(c: &mut dyn Conn, sql: &str, args: &[crate::sql::Arg<'_>]) -> Result<Option<MessageRow>, StoreError> {
    c.opt(sql, args)?.as_ref().map(message_from_row).transpose()
}

/// The member's `joined_seq` (messages at or before it are hidden from them), if a member.
fn membership(c: &mut dyn Conn, conv: i64, user: i64) -> Result<Option<i64>, StoreError> {
    c.opt("SELECT joined_seq FROM conversation_members WHERE conv_id = ?1 AND user_id = ?2", args![conv, user])?
        .map(|r| r.int(0))
        .transpose()
}

pub(crate) fn member_ids(c: &mut dyn Conn, conv: i64) -> Result<Vec<i64>, StoreError> {
    c.ints("SELECT user_id FROM conversation_members WHERE conv_id = ?1 ORDER BY user_id", args![conv])
}

fn kind_of(c: &mut dyn Conn, conv: i64) -> Result<Option<ConversationKind>, StoreError> {
    c.opt("SELECT kind FROM conversations WHERE id = ?1", args![conv])?
        .map(|r| r.text(0).map(|k| ConversationKind::parse(&k)))
        .transpose()
}

/// Takes the conversation's next sequence number.
fn next_seq(c: &mut dyn Conn, conv: i64) -> Result<i64, StoreError> {
    c.int("UPDATE conversations SET last_seq = last_seq + 1 WHERE id = ?1 RETURNING last_seq", args![conv])
}

fn insert_message(
    c: &mut dyn Conn,
    conv: i64,
    sender: Option<i64>,
    client_id: &str,
    kind: MessageKind,
    body: &str,
    now: i64,
) -> Result<MessageRow, StoreError> {
    let seq = next_seq(c, conv)?;
    let id = c.int(
        "INSERT INTO messages (conv_id, seq, rev, sender, client_id, kind, body, created_at)
         VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
        args![conv, seq, sender, client_id, kind.as_str(), body, now],
    )?;
    Ok(MessageRow {
        id,
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
fn direct_allowed(c: &mut dyn Conn, conv: i64, user: i64) -> Result<bool, StoreError> {
    if kind_of(c, conv)? != Some(ConversationKind::Direct) {
        return Ok(true);
    }
    direct_partners_allow(c, conv, user)
}

/// [`direct_allowed`] for a conversation known to be direct, in one query (on PostgreSQL each
/// query is a network round trip on the chat path).
fn direct_partners_allow(c: &mut dyn Conn, conv: i64, user: i64) -> Result<bool, StoreError> {
    Ok(!c.exists(
        "SELECT 1 FROM conversation_members m WHERE m.conv_id = ?1 AND m.user_id != ?2 AND (
           NOT EXISTS (SELECT 1 FROM contacts WHERE user_id = ?2 AND contact_id = m.user_id)
           OR EXISTS (SELECT 1 FROM blocks WHERE (blocker = ?2 AND blocked = m.user_id)
                                              OR (blocker = m.user_id AND blocked = ?2)))",
        args![conv, user],
    )?)
}

/// Each member of a conversation with the `joined_seq` they joined at.
type Joined = Vec<(i64, i64)>;

/// The conversation's members with the point each joined, and its kind, in one query:
/// `None` if the conversation has no members (or does not exist).
fn members_and_kind(c: &mut dyn Conn, conv: i64) -> Result<Option<(Joined, ConversationKind)>, StoreError> {
    let rows = c.rows(
        "SELECT m.user_id, m.joined_seq, c.kind FROM conversation_members m JOIN conversations c ON c.id = m.conv_id
         WHERE m.conv_id = ?1 ORDER BY m.user_id",
        args![conv],
    )?;
    let Some(first) = rows.first() else { return Ok(None) };
    let kind = ConversationKind::parse(&first.text(2)?);
    let members = rows.iter().map(|r| Ok((r.int(0)?, r.int(1)?))).collect::<Result<_, StoreError>>()?;
    Ok(Some((members, kind)))
}

fn add_member_row(
    c: &mut dyn Conn,
    conv: i64,
    user: i64,
    owner: bool,
    joined_seq: i64,
    now: i64,
) -> Result<(), StoreError> {
    c.exec(
        "INSERT INTO conversation_members (conv_id, user_id, role, joined_at, joined_seq, delivered_seq, read_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?5)",
        args![conv, user, if owner { "owner" } else { "member" }, now, joined_seq],
    )?;
    Ok(())
}

fn username(c: &mut dyn Conn, user: i64) -> Result<Option<String>, StoreError> {
    c.opt("SELECT username FROM users WHERE id = ?1 AND disabled = 0", args![user])?.map(|r| r.text(0)).transpose()
}

fn apply_write(c: &mut dyn Conn, w: &ChatWrite, now: i64) -> Result<Result<ChatWritten, ChatRefusal>, StoreError> {
    match w {
        ChatWrite::Send { user, conv, client_id, text } => {
            post(c, *user, *conv, client_id, MessageKind::Text, text, now)
        }
        ChatWrite::SendFile { user, conv, client_id, body, file } => {
            let posted = post(c, *user, *conv, client_id, MessageKind::File, body, now)?;
            if let Ok(ChatWritten::Message { message, fresh: true, .. }) = &posted {
                crate::attachments_sql::insert(c, *conv, message.id, *user, file, now)?;
            }
            Ok(posted)
        }
        ChatWrite::Edit { user, conv, message, text } => change_own(c, *user, *conv, *message, Some(text), now),
        ChatWrite::Delete { user, conv, message } => change_own(c, *user, *conv, *message, None, now),
        ChatWrite::Receipt { user, conv, delivered, read } => {
            if membership(c, *conv, *user)?.is_none() {
                return Ok(Err(ChatRefusal::NoConversation));
            }
            let r = c.one(
                "SELECT m.delivered_seq, m.read_seq, c.last_seq FROM conversation_members m
                 JOIN conversations c ON c.id = m.conv_id WHERE m.conv_id = ?1 AND m.user_id = ?2",
                args![*conv, *user],
            )?;
            let (old_d, old_r, last) = (r.int(0)?, r.int(1)?, r.int(2)?);
            // Marks only move forward, never past the end, and reading implies delivery.
            let read_seq = old_r.max((*read).min(last));
            let delivered_seq = old_d.max((*delivered).min(last)).max(read_seq);
            let changed = (delivered_seq, read_seq) != (old_d, old_r);
            if changed {
                c.exec(
                    "UPDATE conversation_members SET delivered_seq = ?3, read_seq = ?4 WHERE conv_id = ?1 AND user_id = ?2",
                    args![*conv, *user, delivered_seq, read_seq],
                )?;
            }
            let members = member_ids(c, *conv)?;
            Ok(Ok(ChatWritten::Receipt { conv: *conv, user: *user, delivered_seq, read_seq, members, changed }))
        }
    }
}

/// Posts a member's message of `kind` (text or file), or finds the earlier copy of a retry.
fn post(
    c: &mut dyn Conn,
    user: i64,
    conv: i64,
    client_id: &str,
    kind: MessageKind,
    body: &str,
    now: i64,
) -> Result<Result<ChatWritten, ChatRefusal>, StoreError> {
    let Some((rows, conv_kind)) = members_and_kind(c, conv)? else { return Ok(Err(ChatRefusal::NoConversation)) };
    if !rows.iter().any(|(m, _)| *m == user) {
        return Ok(Err(ChatRefusal::NoConversation));
    }
    let members: Vec<i64> = rows.iter().map(|(m, _)| *m).collect();
    let earlier = opt_message(
        c,
        &format!("SELECT {MSG_COLS} FROM messages WHERE conv_id = ?1 AND sender = ?2 AND client_id = ?3 AND kind = ?4"),
        args![conv, user, client_id, kind.as_str()],
    )?;
    if let Some(message) = earlier {
        return Ok(Ok(ChatWritten::Message { message, members, fresh: false }));
    }
    if conv_kind == ConversationKind::Direct && !direct_partners_allow(c, conv, user)? {
        return Ok(Err(ChatRefusal::NotAllowed));
    }
    let message = insert_message(c, conv, Some(user), client_id, kind, body, now)?;
    // The sender has obviously read everything up to their own message.
    c.exec(
        "UPDATE conversation_members SET delivered_seq = ?3, read_seq = ?3 WHERE conv_id = ?1 AND user_id = ?2",
        args![conv, user, message.seq],
    )?;
    Ok(Ok(ChatWritten::Message { message, members, fresh: true }))
}

/// Edits (`text`) or deletes (`None`) the user's own message: text can be edited and deleted,
/// a file only deleted (its record goes with it; the file on disk follows, see
/// [`crate::Store::purge_attachments`]).
fn change_own(
    c: &mut dyn Conn,
    user: i64,
    conv: i64,
    id: i64,
    text: Option<&String>,
    now: i64,
) -> Result<Result<ChatWritten, ChatRefusal>, StoreError> {
    let Some(joined) = membership(c, conv, user)? else { return Ok(Err(ChatRefusal::NoConversation)) };
    let editable = |k: MessageKind| k == MessageKind::Text || (text.is_none() && k == MessageKind::File);
    let found =
        opt_message(c, &format!("SELECT {MSG_COLS} FROM messages WHERE conv_id = ?1 AND id = ?2"), args![conv, id])?;
    let Some(mut m) = found.filter(|m| m.seq > joined && editable(m.kind)) else {
        return Ok(Err(ChatRefusal::NoMessage));
    };
    if m.sender != Some(user) {
        return Ok(Err(ChatRefusal::NotYours));
    }
    if m.deleted {
        return Ok(Err(ChatRefusal::Deleted));
    }
    if text.is_some() && !direct_allowed(c, conv, user)? {
        return Ok(Err(ChatRefusal::NotAllowed));
    }
    m.rev = next_seq(c, conv)?;
    match text {
        Some(t) => {
            m.body = t.clone();
            m.edited_at = Some(now);
        }
        None => {
            m.body.clear();
            m.deleted = true;
            c.exec("DELETE FROM attachments WHERE message_id = ?1", args![m.id])?;
        }
    }
    c.exec(
        "UPDATE messages SET rev = ?2, body = ?3, edited_at = ?4, deleted = ?5 WHERE id = ?1",
        args![m.id, m.rev, &m.body, m.edited_at, m.deleted],
    )?;
    let members = member_ids(c, conv)?;
    Ok(Ok(ChatWritten::Message { message: m, members, fresh: true }))
}

pub(crate) fn conversation(c: &mut dyn Conn, conv: i64, viewer: i64) -> Result<Option<ConversationRow>, StoreError> {
    let Some(joined) = membership(c, conv, viewer)? else { return Ok(None) };
    let r = c.one("SELECT kind, name, created_at, last_seq FROM conversations WHERE id = ?1", args![conv])?;
    let (kind, name, created_at, last_seq) = (r.text(0)?, r.text(1)?, r.int(2)?, r.int(3)?);
    let members = c.map(
        &format!(
            "SELECT {USER_COLS_U}, m.role, m.delivered_seq, m.read_seq FROM conversation_members m
             JOIN users u ON u.id = m.user_id WHERE m.conv_id = ?1 ORDER BY m.joined_at, u.id"
        ),
        args![conv],
        |r| {
            Ok(MemberRow {
                user: user_from_row_at(r, 0)?,
                owner: r.text(USER_NCOLS)? == "owner",
                delivered_seq: r.int(USER_NCOLS + 1)?,
                read_seq: r.int(USER_NCOLS + 2)?,
            })
        },
    )?;
    let read_seq = members.iter().find(|m| m.user.id == viewer).map(|m| m.read_seq).unwrap_or(0);
    let unread = c.int(
        "SELECT COUNT(*) FROM messages WHERE conv_id = ?1 AND seq > ?2 AND kind IN ('text', 'file') AND deleted = 0
         AND (sender IS NULL OR sender != ?3)",
        args![conv, read_seq.max(joined), viewer],
    )?;
    let last_message = opt_message(
        c,
        &format!("SELECT {MSG_COLS} FROM messages WHERE conv_id = ?1 AND seq > ?2 ORDER BY seq DESC LIMIT 1"),
        args![conv, joined],
    )?;
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

fn require_group_member(c: &mut dyn Conn, conv: i64, user: i64) -> Result<(), StoreError> {
    if membership(c, conv, user)?.is_none() {
        return Err(StoreError::NotFound);
    }
    if kind_of(c, conv)? != Some(ConversationKind::Group) {
        return Err(StoreError::Forbidden);
    }
    Ok(())
}

pub(crate) fn chat_write(
    c: &mut dyn Conn,
    writes: &[ChatWrite],
    now: i64,
) -> Result<Vec<Result<ChatWritten, ChatRefusal>>, StoreError> {
    writes.iter().map(|w| apply_write(c, w, now)).collect()
}

pub(crate) fn direct_conversation(c: &mut dyn Conn, a: i64, b: i64, now: i64) -> Result<(i64, bool), StoreError> {
    if a == b || username(c, b)?.is_none() {
        return Err(StoreError::NotFound);
    }
    if blocked_either(c, a, b)? {
        return Err(StoreError::Blocked);
    }
    if !are_contacts(c, a, b)? {
        return Err(StoreError::NotContacts);
    }
    let key = format!("{}:{}", a.min(b), a.max(b));
    if let Some(r) = c.opt("SELECT id FROM conversations WHERE direct_key = ?1", args![&key])? {
        return Ok((r.int(0)?, false));
    }
    let id = c.int(
        "INSERT INTO conversations (kind, direct_key, created_by, created_at) VALUES ('direct', ?1, ?2, ?3) RETURNING id",
        args![&key, a, now],
    )?;
    add_member_row(c, id, a, false, 0, now)?;
    add_member_row(c, id, b, false, 0, now)?;
    Ok((id, true))
}

pub(crate) fn create_group(
    c: &mut dyn Conn,
    owner: i64,
    name: &str,
    members: &[i64],
    now: i64,
) -> Result<(i64, Vec<MessageRow>), StoreError> {
    let mut others: Vec<i64> = members.iter().copied().filter(|m| *m != owner).collect();
    others.sort_unstable();
    others.dedup();
    for &m in &others {
        if username(c, m)?.is_none() {
            return Err(StoreError::NotFound);
        }
        if blocked_either(c, owner, m)? || !are_contacts(c, owner, m)? {
            return Err(StoreError::NotContacts);
        }
    }
    let id = c.int(
        "INSERT INTO conversations (kind, name, created_by, created_at) VALUES ('group', ?1, ?2, ?3) RETURNING id",
        args![name, owner, now],
    )?;
    add_member_row(c, id, owner, true, 0, now)?;
    let mut log = vec![insert_message(c, id, Some(owner), "", MessageKind::Created, name, now)?];
    for m in others {
        add_member_row(c, id, m, false, 0, now)?;
        let name = username(c, m)?.unwrap_or_default();
        log.push(insert_message(c, id, Some(owner), "", MessageKind::Added, &name, now)?);
    }
    Ok((id, log))
}

pub(crate) fn rename_group(
    c: &mut dyn Conn,
    user: i64,
    conv: i64,
    name: &str,
    now: i64,
) -> Result<MembershipChange, StoreError> {
    require_group_member(c, conv, user)?;
    c.exec("UPDATE conversations SET name = ?2 WHERE id = ?1", args![conv, name])?;
    let message = insert_message(c, conv, Some(user), "", MessageKind::Renamed, name, now)?;
    Ok(MembershipChange { message, members: member_ids(c, conv)? })
}

pub(crate) fn add_member(
    c: &mut dyn Conn,
    user: i64,
    conv: i64,
    new: i64,
    now: i64,
) -> Result<MembershipChange, StoreError> {
    require_group_member(c, conv, user)?;
    let Some(name) = username(c, new)? else { return Err(StoreError::NotFound) };
    if blocked_either(c, user, new)? || !are_contacts(c, user, new)? {
        return Err(StoreError::NotContacts);
    }
    if membership(c, conv, new)?.is_some() {
        return Err(StoreError::Forbidden);
    }
    // The new member sees the conversation from the message announcing them.
    let last = c.int("SELECT last_seq FROM conversations WHERE id = ?1", args![conv])?;
    add_member_row(c, conv, new, false, last, now)?;
    let message = insert_message(c, conv, Some(user), "", MessageKind::Added, &name, now)?;
    Ok(MembershipChange { message, members: member_ids(c, conv)? })
}

fn role(c: &mut dyn Conn, conv: i64, user: i64) -> Result<Option<String>, StoreError> {
    c.opt("SELECT role FROM conversation_members WHERE conv_id = ?1 AND user_id = ?2", args![conv, user])?
        .map(|r| r.text(0))
        .transpose()
}

/// `user` removes `who` (only the owner may remove others) or leaves (`who == user`).
/// A leaving owner hands the group to the longest-standing member.
pub(crate) fn remove_member(
    c: &mut dyn Conn,
    user: i64,
    conv: i64,
    who: i64,
    now: i64,
) -> Result<MembershipChange, StoreError> {
    require_group_member(c, conv, user)?;
    let Some(who_role) = role(c, conv, who)? else { return Err(StoreError::NotFound) };
    if who != user && role(c, conv, user)?.as_deref() != Some("owner") {
        return Err(StoreError::Forbidden);
    }
    c.exec("DELETE FROM conversation_members WHERE conv_id = ?1 AND user_id = ?2", args![conv, who])?;
    if who_role == "owner" {
        c.exec(
            "UPDATE conversation_members SET role = 'owner' WHERE conv_id = ?1 AND user_id =
             (SELECT user_id FROM conversation_members WHERE conv_id = ?1 ORDER BY joined_at, user_id LIMIT 1)",
            args![conv],
        )?;
    }
    let message = if who == user {
        insert_message(c, conv, Some(user), "", MessageKind::Left, "", now)?
    } else {
        let name = c.one("SELECT username FROM users WHERE id = ?1", args![who])?.text(0)?;
        insert_message(c, conv, Some(user), "", MessageKind::Removed, &name, now)?
    };
    Ok(MembershipChange { message, members: member_ids(c, conv)? })
}

pub(crate) fn list_conversations(c: &mut dyn Conn, user: i64) -> Result<Vec<ConversationRow>, StoreError> {
    let ids = c.ints("SELECT conv_id FROM conversation_members WHERE user_id = ?1", args![user])?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(row) = conversation(c, id, user)? {
            out.push(row);
        }
    }
    // Most recently active first.
    out.sort_by_key(|c| std::cmp::Reverse((c.last_message.as_ref().map_or(c.created_at, |m| m.created_at), c.id)));
    Ok(out)
}

pub(crate) fn messages_before(
    c: &mut dyn Conn,
    user: i64,
    conv: i64,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<MessageRow>, StoreError> {
    let Some(joined) = membership(c, conv, user)? else { return Err(StoreError::NotFound) };
    let mut rows = c.map(
        &format!(
            "SELECT {MSG_COLS} FROM messages WHERE conv_id = ?1 AND seq > ?2 AND seq < ?3 ORDER BY seq DESC LIMIT ?4"
        ),
        args![conv, joined, before.unwrap_or(i64::MAX), limit],
        message_from_row,
    )?;
    rows.reverse();
    Ok(rows)
}

pub(crate) fn messages_changed_after(
    c: &mut dyn Conn,
    user: i64,
    conv: i64,
    after_rev: i64,
    limit: u32,
) -> Result<Vec<MessageRow>, StoreError> {
    let Some(joined) = membership(c, conv, user)? else { return Err(StoreError::NotFound) };
    c.map(
        &format!("SELECT {MSG_COLS} FROM messages WHERE conv_id = ?1 AND rev > ?2 AND seq > ?3 ORDER BY rev LIMIT ?4"),
        args![conv, after_rev, joined, limit],
        message_from_row,
    )
}
