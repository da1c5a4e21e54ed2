//! Accounts, device sessions and invites.

use crate::sql::{args, Conn, Row};
use crate::{AccountSource, Invite, InviteKind, NewInvite, NewSession, NewUser, Session, StoreError, User};

pub(crate) const USER_COLS: &str = "id, username, display_name, password_hash, is_admin, disabled, created_at, source";
/// User columns qualified with the alias `u`.
pub(crate) const USER_COLS_U: &str =
    "u.id, u.username, u.display_name, u.password_hash, u.is_admin, u.disabled, u.created_at, u.source";
/// How many columns [`USER_COLS`] has (where a query's next columns start).
pub(crate) const USER_NCOLS: usize = 8;
const SESSION_COLS: &str =
    "id, user_id, csrf_token, user_agent, created_at, last_seen_at, expires_at, absolute_expires_at";
const SESSION_NCOLS: usize = 8;
const INVITE_COLS: &str = "id, kind, is_admin, created_by, created_at, expires_at, used_at";

pub(crate) fn user_from_row(r: &Row) -> Result<User, StoreError> {
    user_from_row_at(r, 0)
}

pub(crate) fn user_from_row_at(r: &Row, o: usize) -> Result<User, StoreError> {
    Ok(User {
        id: r.int(o)?,
        username: r.text(o + 1)?,
        display_name: r.text(o + 2)?,
        password_hash: r.text(o + 3)?,
        is_admin: r.bool(o + 4)?,
        disabled: r.bool(o + 5)?,
        created_at: r.int(o + 6)?,
        source: AccountSource::parse(&r.text(o + 7)?),
    })
}

fn session_from_row(r: &Row, o: usize) -> Result<Session, StoreError> {
    Ok(Session {
        id: r.int(o)?,
        user_id: r.int(o + 1)?,
        csrf_token: r.text(o + 2)?,
        user_agent: r.text(o + 3)?,
        created_at: r.int(o + 4)?,
        last_seen_at: r.int(o + 5)?,
        expires_at: r.int(o + 6)?,
        absolute_expires_at: r.int(o + 7)?,
    })
}

fn invite_from_row(r: &Row) -> Result<Invite, StoreError> {
    Ok(Invite {
        id: r.int(0)?,
        kind: InviteKind::parse(&r.text(1)?),
        is_admin: r.bool(2)?,
        created_by: r.opt_int(3)?,
        created_at: r.int(4)?,
        expires_at: r.int(5)?,
        used_at: r.opt_int(6)?,
    })
}

pub(crate) fn insert_user(c: &mut dyn Conn, user: &NewUser, now: i64) -> Result<User, StoreError> {
    let res = c.int(
        "INSERT INTO users (username, display_name, password_hash, is_admin, disabled, created_at)
         VALUES (?1, ?2, ?3, ?4, 0, ?5) RETURNING id",
        args![&user.username, &user.display_name, &user.password_hash, user.is_admin, now],
    );
    match res {
        Ok(id) => Ok(User {
            id,
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            password_hash: user.password_hash.clone(),
            is_admin: user.is_admin,
            disabled: false,
            created_at: now,
            source: AccountSource::Local,
        }),
        Err(e) if e.is_unique_violation() => Err(StoreError::UsernameTaken),
        Err(e) => Err(e),
    }
}

pub(crate) fn enabled_admins(c: &mut dyn Conn) -> Result<u64, StoreError> {
    Ok(c.int("SELECT COUNT(*) FROM users WHERE is_admin = 1 AND disabled = 0", args![])? as u64)
}

pub(crate) fn user_where(c: &mut dyn Conn, clause: &str, arg: crate::sql::Arg<'_>) -> Result<Option<User>, StoreError> {
    c.opt(&format!("SELECT {USER_COLS} FROM users WHERE {clause}"), &[arg])?.as_ref().map(user_from_row).transpose()
}

pub(crate) fn list_users(c: &mut dyn Conn) -> Result<Vec<User>, StoreError> {
    c.map(&format!("SELECT {USER_COLS} FROM users WHERE source != 'guest' ORDER BY username"), args![], user_from_row)
}

pub(crate) fn set_password_hash(c: &mut dyn Conn, id: i64, password_hash: &str) -> Result<(), StoreError> {
    if c.exec("UPDATE users SET password_hash = ?1 WHERE id = ?2", args![password_hash, id])? == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(crate) fn update_user_flags(
    c: &mut dyn Conn,
    id: i64,
    disabled: Option<bool>,
    is_admin: Option<bool>,
) -> Result<User, StoreError> {
    let user = user_where(c, "id = ?1", id.into())?.ok_or(StoreError::NotFound)?;
    let disabled = disabled.unwrap_or(user.disabled);
    let is_admin = is_admin.unwrap_or(user.is_admin);
    c.exec("UPDATE users SET disabled = ?1, is_admin = ?2 WHERE id = ?3", args![disabled, is_admin, id])?;
    if user.is_admin && !user.disabled && (disabled || !is_admin) && enabled_admins(c)? == 0 {
        return Err(StoreError::LastAdmin);
    }
    if disabled {
        c.exec("DELETE FROM sessions WHERE user_id = ?1", args![id])?;
    }
    Ok(User { disabled, is_admin, ..user })
}

pub(crate) fn delete_user(c: &mut dyn Conn, id: i64) -> Result<(), StoreError> {
    let user = user_where(c, "id = ?1", id.into())?.ok_or(StoreError::NotFound)?;
    if user.is_admin && !user.disabled && enabled_admins(c)? <= 1 {
        return Err(StoreError::LastAdmin);
    }
    c.exec("DELETE FROM users WHERE id = ?1", args![id])?;
    Ok(())
}

pub(crate) fn create_session(c: &mut dyn Conn, s: &NewSession) -> Result<i64, StoreError> {
    c.int(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, user_agent, created_at, last_seen_at, expires_at, absolute_expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7) RETURNING id",
        args![&s.token_hash, s.user_id, &s.csrf_token, &s.user_agent, s.now, s.expires_at, s.absolute_expires_at],
    )
}

pub(crate) fn session_by_token_hash(
    c: &mut dyn Conn,
    token_hash: &[u8],
    now: i64,
) -> Result<Option<(Session, User)>, StoreError> {
    let sql = format!(
        "SELECT s.{}, u.{} FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND s.absolute_expires_at > ?2 AND u.disabled = 0",
        SESSION_COLS.replace(", ", ", s."),
        USER_COLS.replace(", ", ", u."),
    );
    match c.opt(&sql, args![token_hash, now])? {
        Some(r) => Ok(Some((session_from_row(&r, 0)?, user_from_row_at(&r, SESSION_NCOLS)?))),
        None => Ok(None),
    }
}

pub(crate) fn touch_session(c: &mut dyn Conn, id: i64, now: i64, expires_at: i64) -> Result<(), StoreError> {
    c.exec(
        "UPDATE sessions SET last_seen_at = ?1,
         expires_at = CASE WHEN ?2 < absolute_expires_at THEN ?2 ELSE absolute_expires_at END WHERE id = ?3",
        args![now, expires_at, id],
    )?;
    Ok(())
}

pub(crate) fn list_sessions(c: &mut dyn Conn, user_id: i64, now: i64) -> Result<Vec<Session>, StoreError> {
    c.map(
        &format!(
            "SELECT {SESSION_COLS} FROM sessions WHERE user_id = ?1 AND expires_at > ?2 ORDER BY last_seen_at DESC"
        ),
        args![user_id, now],
        |r| session_from_row(r, 0),
    )
}

pub(crate) fn live_sessions(c: &mut dyn Conn, ids: &[i64], now: i64) -> Result<Vec<i64>, StoreError> {
    let mut live = Vec::new();
    for &id in ids {
        if c.exists(
            "SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id = ?1 AND s.expires_at > ?2 AND s.absolute_expires_at > ?2 AND u.disabled = 0",
            args![id, now],
        )? {
            live.push(id);
        }
    }
    Ok(live)
}

pub(crate) fn create_invite(c: &mut dyn Conn, i: &NewInvite) -> Result<i64, StoreError> {
    c.int(
        "INSERT INTO invites (token_hash, kind, is_admin, created_by, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
        args![&i.token_hash, i.kind.as_str(), i.is_admin, i.created_by, i.now, i.expires_at],
    )
}

pub(crate) fn usable_invite(c: &mut dyn Conn, token_hash: &[u8], now: i64) -> Result<Option<Invite>, StoreError> {
    let invite = c
        .opt(
            &format!("SELECT {INVITE_COLS} FROM invites WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2"),
            args![token_hash, now],
        )?
        .as_ref()
        .map(invite_from_row)
        .transpose()?;
    match invite {
        // A setup link only creates the first admin; once any admin exists it is dead.
        Some(i) if i.kind == InviteKind::Setup && enabled_admins(c)? > 0 => Ok(None),
        other => Ok(other),
    }
}

pub(crate) fn redeem_invite(c: &mut dyn Conn, token_hash: &[u8], user: &NewUser, now: i64) -> Result<User, StoreError> {
    let invite = usable_invite(c, token_hash, now)?.ok_or(StoreError::InviteInvalid)?;
    let user = insert_user(c, &NewUser { is_admin: invite.is_admin, ..user.clone() }, now)?;
    c.exec("UPDATE invites SET used_at = ?1, used_by = ?2 WHERE id = ?3", args![now, user.id, invite.id])?;
    Ok(user)
}

pub(crate) fn list_invites(c: &mut dyn Conn) -> Result<Vec<Invite>, StoreError> {
    c.map(
        &format!("SELECT {INVITE_COLS} FROM invites WHERE kind = 'registration' ORDER BY created_at DESC"),
        args![],
        invite_from_row,
    )
}
