//! Contacts, blocks and call history.

use crate::accounts_sql::{user_from_row, USER_COLS_U};
use crate::sql::{args, Conn, Row};
use crate::{CallRow, ContactList, RelationIds, RequestOutcome, StoreError, User};

fn users(c: &mut dyn Conn, join: &str, user: i64) -> Result<Vec<User>, StoreError> {
    c.map(
        &format!("SELECT {USER_COLS_U} FROM users u JOIN {join} ORDER BY u.display_name, u.username"),
        args![user],
        user_from_row,
    )
}

pub(crate) fn blocked_either(c: &mut dyn Conn, a: i64, b: i64) -> Result<bool, StoreError> {
    c.exists(
        "SELECT 1 FROM blocks WHERE (blocker = ?1 AND blocked = ?2) OR (blocker = ?2 AND blocked = ?1)",
        args![a, b],
    )
}

pub(crate) fn are_contacts(c: &mut dyn Conn, a: i64, b: i64) -> Result<bool, StoreError> {
    c.exists("SELECT 1 FROM contacts WHERE user_id = ?1 AND contact_id = ?2", args![a, b])
}

fn unlink(c: &mut dyn Conn, a: i64, b: i64) -> Result<u64, StoreError> {
    c.exec(
        "DELETE FROM contact_requests WHERE (from_user = ?1 AND to_user = ?2) OR (from_user = ?2 AND to_user = ?1)",
        args![a, b],
    )?;
    c.exec(
        "DELETE FROM contacts WHERE (user_id = ?1 AND contact_id = ?2) OR (user_id = ?2 AND contact_id = ?1)",
        args![a, b],
    )
}

fn link(c: &mut dyn Conn, a: i64, b: i64, now: i64) -> Result<(), StoreError> {
    unlink(c, a, b)?;
    c.exec("INSERT INTO contacts (user_id, contact_id, since) VALUES (?1, ?2, ?3), (?2, ?1, ?3)", args![a, b, now])?;
    Ok(())
}

/// `%`, `_` and the escape character itself are literal in a search.
fn like_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}

pub(crate) fn search_users(c: &mut dyn Conn, query: &str, exclude: i64, limit: u32) -> Result<Vec<User>, StoreError> {
    // Both sides lower-cased: SQLite's LIKE ignores ASCII case, PostgreSQL's does not.
    let q = like_escape(&query.to_lowercase());
    c.map(
        &format!(
            "SELECT {USER_COLS_U} FROM users u WHERE u.disabled = 0 AND u.source != 'guest' AND u.id != ?1 AND
             (lower(u.username) LIKE CAST(?2 AS TEXT) || '%' ESCAPE '\\'
              OR lower(u.display_name) LIKE CAST(?2 AS TEXT) || '%' ESCAPE '\\'
              OR lower(u.display_name) LIKE '% ' || CAST(?2 AS TEXT) || '%' ESCAPE '\\')
             ORDER BY u.username LIMIT ?3"
        ),
        args![exclude, &q, limit],
        user_from_row,
    )
}

pub(crate) fn contact_list(c: &mut dyn Conn, user: i64) -> Result<ContactList, StoreError> {
    Ok(ContactList {
        contacts: users(c, "contacts c ON c.contact_id = u.id AND c.user_id = ?1", user)?,
        incoming: users(c, "contact_requests r ON r.from_user = u.id AND r.to_user = ?1", user)?,
        outgoing: users(c, "contact_requests r ON r.to_user = u.id AND r.from_user = ?1", user)?,
        blocked: users(c, "blocks b ON b.blocked = u.id AND b.blocker = ?1", user)?,
    })
}

pub(crate) fn relation_ids(c: &mut dyn Conn, user: i64) -> Result<RelationIds, StoreError> {
    Ok(RelationIds {
        contacts: c.ints("SELECT contact_id FROM contacts WHERE user_id = ?1", args![user])?,
        blocked: c.ints(
            "SELECT blocked FROM blocks WHERE blocker = ?1 UNION SELECT blocker FROM blocks WHERE blocked = ?1",
            args![user],
        )?,
    })
}

pub(crate) fn request_contact(c: &mut dyn Conn, from: i64, to: i64, now: i64) -> Result<RequestOutcome, StoreError> {
    let target = c.opt("SELECT disabled FROM users WHERE id = ?1 AND source != 'guest'", args![to])?;
    let enabled = match target {
        Some(r) => !r.bool(0)?,
        None => false,
    };
    if from == to || !enabled {
        return Err(StoreError::NotFound);
    }
    if blocked_either(c, from, to)? {
        return Err(StoreError::Blocked);
    }
    if are_contacts(c, from, to)? {
        return Ok(RequestOutcome::AlreadyContacts);
    }
    if c.exists("SELECT 1 FROM contact_requests WHERE from_user = ?1 AND to_user = ?2", args![to, from])? {
        link(c, from, to, now)?;
        return Ok(RequestOutcome::Accepted);
    }
    c.exec(
        "INSERT INTO contact_requests (from_user, to_user, created_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        args![from, to, now],
    )?;
    Ok(RequestOutcome::Requested)
}

pub(crate) fn answer_request(c: &mut dyn Conn, to: i64, from: i64, accept: bool, now: i64) -> Result<(), StoreError> {
    if c.exec("DELETE FROM contact_requests WHERE from_user = ?1 AND to_user = ?2", args![from, to])? == 0 {
        return Err(StoreError::NotFound);
    }
    if accept {
        link(c, from, to, now)?;
    }
    Ok(())
}

pub(crate) fn cancel_request(c: &mut dyn Conn, from: i64, to: i64) -> Result<bool, StoreError> {
    Ok(c.exec("DELETE FROM contact_requests WHERE from_user = ?1 AND to_user = ?2", args![from, to])? > 0)
}

pub(crate) fn remove_contact(c: &mut dyn Conn, user: i64, other: i64) -> Result<bool, StoreError> {
    Ok(c.exec(
        "DELETE FROM contacts WHERE (user_id = ?1 AND contact_id = ?2) OR (user_id = ?2 AND contact_id = ?1)",
        args![user, other],
    )? > 0)
}

pub(crate) fn block(c: &mut dyn Conn, user: i64, other: i64, now: i64) -> Result<(), StoreError> {
    if user == other || !c.exists("SELECT 1 FROM users WHERE id = ?1", args![other])? {
        return Err(StoreError::NotFound);
    }
    unlink(c, user, other)?;
    c.exec(
        "INSERT INTO blocks (blocker, blocked, created_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        args![user, other, now],
    )?;
    Ok(())
}

pub(crate) fn unblock(c: &mut dyn Conn, user: i64, other: i64) -> Result<bool, StoreError> {
    Ok(c.exec("DELETE FROM blocks WHERE blocker = ?1 AND blocked = ?2", args![user, other])? > 0)
}

pub(crate) fn record_call(c: &mut dyn Conn, call: &CallRow) -> Result<i64, StoreError> {
    c.int(
        "INSERT INTO calls (caller, callee, media, answered, reason, started_at, ring_secs, talk_secs, callee_seen, conv)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING id",
        args![
            call.caller,
            call.callee,
            &call.media,
            call.answered,
            &call.reason,
            call.started_at,
            call.ring_secs,
            call.talk_secs,
            call.callee_seen,
            call.conv
        ],
    )
}

fn call_from_row(r: &Row) -> Result<CallRow, StoreError> {
    Ok(CallRow {
        id: r.int(0)?,
        caller: r.opt_int(1)?,
        callee: r.opt_int(2)?,
        media: r.text(3)?,
        answered: r.bool(4)?,
        reason: r.text(5)?,
        started_at: r.int(6)?,
        ring_secs: r.int(7)?,
        talk_secs: r.int(8)?,
        callee_seen: r.bool(9)?,
        conv: r.opt_int(10)?,
    })
}

pub(crate) fn list_calls(c: &mut dyn Conn, user: i64, limit: u32) -> Result<Vec<CallRow>, StoreError> {
    c.map(
        "SELECT id, caller, callee, media, answered, reason, started_at, ring_secs, talk_secs, callee_seen, conv
         FROM calls WHERE (caller = ?1 AND conv IS NULL) OR callee = ?1
         ORDER BY started_at DESC, id DESC LIMIT ?2",
        args![user, limit],
        call_from_row,
    )
}

pub(crate) fn mark_missed_seen(c: &mut dyn Conn, user: i64) -> Result<u64, StoreError> {
    c.exec("UPDATE calls SET callee_seen = 1 WHERE callee = ?1 AND answered = 0 AND callee_seen = 0", args![user])
}
