//! [`Store`] on an embedded SQLite file.
//!
//! One connection behind a mutex: SQLite serialises writers anyway, and the server's
//! queries are short. Other processes (the admin CLI while the server runs) open the same
//! file; WAL mode and a busy timeout let them take turns.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};

use crate::schema::MIGRATIONS;
use crate::{
    AccountSource, AttachmentRow, CallRow, ChatRefusal, ChatWrite, ChatWritten, ContactList, ConversationRow, Invite,
    InviteKind, MembershipChange, MessageRow, NewInvite, NewSession, NewUser, RelationIds, RequestOutcome, Session,
    Store, StoreError, User,
};

pub struct SqliteStore {
    conn: Mutex<Connection>,
}

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

pub(crate) fn user_from_row(r: &Row<'_>) -> rusqlite::Result<User> {
    user_from_row_at(r, 0)
}

fn session_from_row(r: &Row<'_>, offset: usize) -> rusqlite::Result<Session> {
    Ok(Session {
        id: r.get(offset)?,
        user_id: r.get(offset + 1)?,
        csrf_token: r.get(offset + 2)?,
        user_agent: r.get(offset + 3)?,
        created_at: r.get(offset + 4)?,
        last_seen_at: r.get(offset + 5)?,
        expires_at: r.get(offset + 6)?,
        absolute_expires_at: r.get(offset + 7)?,
    })
}

fn invite_from_row(r: &Row<'_>) -> rusqlite::Result<Invite> {
    let kind: String = r.get(1)?;
    Ok(Invite {
        id: r.get(0)?,
        kind: InviteKind::parse(&kind),
        is_admin: r.get(2)?,
        created_by: r.get(3)?,
        created_at: r.get(4)?,
        expires_at: r.get(5)?,
        used_at: r.get(6)?,
    })
}

pub(crate) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
}

fn insert_user(tx: &Connection, user: &NewUser, now: i64) -> Result<User, StoreError> {
    let res = tx.execute(
        "INSERT INTO users (username, display_name, password_hash, is_admin, disabled, created_at)
         VALUES (?1, ?2, ?3, ?4, 0, ?5)",
        params![user.username, user.display_name, user.password_hash, user.is_admin, now],
    );
    match res {
        Ok(_) => Ok(User {
            id: tx.last_insert_rowid(),
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            password_hash: user.password_hash.clone(),
            is_admin: user.is_admin,
            disabled: false,
            created_at: now,
            source: AccountSource::Local,
        }),
        Err(e) if is_unique_violation(&e) => Err(StoreError::UsernameTaken),
        Err(e) => Err(e.into()),
    }
}

fn enabled_admins(conn: &Connection) -> rusqlite::Result<u64> {
    conn.query_row("SELECT COUNT(*) FROM users WHERE is_admin = 1 AND disabled = 0", [], |r| r.get(0))
}

fn usable_invite_in(conn: &Connection, token_hash: &[u8], now: i64) -> Result<Option<Invite>, StoreError> {
    let invite = conn
        .query_row(
            &format!("SELECT {INVITE_COLS} FROM invites WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2"),
            params![token_hash, now],
            invite_from_row,
        )
        .optional()?;
    match invite {
        // A setup link only creates the first admin; once any admin exists it is dead.
        Some(i) if i.kind == InviteKind::Setup && enabled_admins(conn)? > 0 => Ok(None),
        other => Ok(other),
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Open(format!("{}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path)?;
        Self::init(conn)
    }

    /// A private in-memory database, for tests.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<Self, StoreError> {
        conn.busy_timeout(Duration::from_secs(10))?;
        // WAL: readers never block the writer, and the CLI can work while the server runs.
        // synchronous=FULL: a commit is on disk before it returns, so acknowledged data survives a crash.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let version: usize = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i + 1)?;
            tracing::info!(migration = i + 1, "applied database migration");
        }
        tx.commit()?;
        Ok(Self { conn: Mutex::new(conn) })
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions roll
        // back on drop), so a poisoned lock is safe to keep using.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn write_tx<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

impl Store for SqliteStore {
    fn create_meeting(&self, meeting: &crate::NewMeeting, now: i64) -> Result<crate::Meeting, StoreError> {
        self.create_meeting_impl(meeting, now)
    }
    fn meeting(&self, id: i64) -> Result<Option<crate::Meeting>, StoreError> {
        self.meeting_impl(id)
    }
    fn meeting_by_conv(&self, conv: i64) -> Result<Option<crate::Meeting>, StoreError> {
        self.meeting_by_conv_impl(conv)
    }
    fn meeting_by_link(&self, token: &str) -> Result<Option<crate::Meeting>, StoreError> {
        self.meeting_by_link_impl(token)
    }
    fn meeting_by_code(&self, code: &str) -> Result<Option<crate::Meeting>, StoreError> {
        self.meeting_by_code_impl(code)
    }
    fn meetings_hosted_by(&self, user: i64, now: i64) -> Result<Vec<crate::Meeting>, StoreError> {
        self.meetings_hosted_by_impl(user, now)
    }
    fn meetings_past_end(&self, now: i64) -> Result<Vec<i64>, StoreError> {
        self.meetings_past_end_impl(now)
    }
    fn meeting_role(&self, meeting: i64, user: i64) -> Result<Option<String>, StoreError> {
        self.meeting_role_impl(meeting, user)
    }
    fn meeting_hosts(&self, meeting: i64) -> Result<Vec<i64>, StoreError> {
        self.meeting_hosts_impl(meeting)
    }
    fn join_meeting(&self, meeting: i64, user: i64, now: i64) -> Result<crate::Meeting, StoreError> {
        self.join_meeting_impl(meeting, user, now)
    }
    fn set_meeting_access(&self, meeting: i64, access: crate::MeetingAccess) -> Result<crate::Meeting, StoreError> {
        self.set_meeting_access_impl(meeting, access)
    }
    fn end_meeting(&self, meeting: i64, now: i64) -> Result<Vec<i64>, StoreError> {
        self.end_meeting_impl(meeting, now)
    }
    fn create_guest(
        &self,
        meeting: i64,
        username: &str,
        display_name: &str,
        now: i64,
    ) -> Result<crate::Guest, StoreError> {
        self.create_guest_impl(meeting, username, display_name, now)
    }
    fn guest(&self, user: i64) -> Result<Option<crate::Guest>, StoreError> {
        self.guest_impl(user)
    }
    fn guests_of(&self, meeting: i64) -> Result<Vec<crate::Guest>, StoreError> {
        self.guests_of_impl(meeting)
    }
    fn set_guest_state(&self, user: i64, state: crate::GuestState, now: i64) -> Result<crate::Guest, StoreError> {
        self.set_guest_state_impl(user, state, now)
    }
    fn burn_code(&self, code_hash: &[u8], until: i64, now: i64) -> Result<(), StoreError> {
        self.burn_code_impl(code_hash, until, now)
    }
    fn code_burnt(&self, code_hash: &[u8], now: i64) -> Result<bool, StoreError> {
        self.code_burnt_impl(code_hash, now)
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.conn().query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }

    fn create_user(&self, user: &NewUser, now: i64) -> Result<User, StoreError> {
        self.write_tx(|tx| insert_user(tx, user, now))
    }

    fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        Ok(self
            .conn()
            .query_row(&format!("SELECT {USER_COLS} FROM users WHERE id = ?1"), [id], user_from_row)
            .optional()?)
    }

    fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        Ok(self
            .conn()
            .query_row(&format!("SELECT {USER_COLS} FROM users WHERE username = ?1"), [username], user_from_row)
            .optional()?)
    }

    fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare(&format!("SELECT {USER_COLS} FROM users WHERE source != 'guest' ORDER BY username"))?;
        let rows = stmt.query_map([], user_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn set_password_hash(&self, id: i64, password_hash: &str) -> Result<(), StoreError> {
        let n = self.conn().execute("UPDATE users SET password_hash = ?1 WHERE id = ?2", params![password_hash, id])?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    fn update_user_flags(&self, id: i64, disabled: Option<bool>, is_admin: Option<bool>) -> Result<User, StoreError> {
        self.write_tx(|tx| {
            let user = tx
                .query_row(&format!("SELECT {USER_COLS} FROM users WHERE id = ?1"), [id], user_from_row)
                .optional()?
                .ok_or(StoreError::NotFound)?;
            let disabled = disabled.unwrap_or(user.disabled);
            let is_admin = is_admin.unwrap_or(user.is_admin);
            tx.execute("UPDATE users SET disabled = ?1, is_admin = ?2 WHERE id = ?3", params![disabled, is_admin, id])?;
            if user.is_admin && !user.disabled && (disabled || !is_admin) && enabled_admins(tx)? == 0 {
                return Err(StoreError::LastAdmin);
            }
            if disabled {
                tx.execute("DELETE FROM sessions WHERE user_id = ?1", [id])?;
            }
            Ok(User { disabled, is_admin, ..user })
        })
    }

    fn delete_user(&self, id: i64) -> Result<(), StoreError> {
        self.write_tx(|tx| {
            let user = tx
                .query_row(&format!("SELECT {USER_COLS} FROM users WHERE id = ?1"), [id], user_from_row)
                .optional()?
                .ok_or(StoreError::NotFound)?;
            if user.is_admin && !user.disabled && enabled_admins(tx)? <= 1 {
                return Err(StoreError::LastAdmin);
            }
            tx.execute("DELETE FROM users WHERE id = ?1", [id])?;
            Ok(())
        })
    }

    fn count_enabled_admins(&self) -> Result<u64, StoreError> {
        Ok(enabled_admins(&self.conn())?)
    }

    fn create_session(&self, s: &NewSession) -> Result<i64, StoreError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, user_agent, created_at, last_seen_at, expires_at, absolute_expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7)",
            params![s.token_hash, s.user_id, s.csrf_token, s.user_agent, s.now, s.expires_at, s.absolute_expires_at],
        )?;
        Ok(conn.last_insert_rowid())
    }

    fn session_by_token_hash(&self, token_hash: &[u8], now: i64) -> Result<Option<(Session, User)>, StoreError> {
        let sql = format!(
            "SELECT s.{}, u.{} FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND s.absolute_expires_at > ?2 AND u.disabled = 0",
            SESSION_COLS.replace(", ", ", s."),
            USER_COLS.replace(", ", ", u."),
        );
        Ok(self
            .conn()
            .query_row(&sql, params![token_hash, now], |r| {
                Ok((session_from_row(r, 0)?, user_from_row_at(r, SESSION_NCOLS)?))
            })
            .optional()?)
    }

    fn touch_session(&self, id: i64, now: i64, expires_at: i64) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE sessions SET last_seen_at = ?1, expires_at = MIN(?2, absolute_expires_at) WHERE id = ?3",
            params![now, expires_at, id],
        )?;
        Ok(())
    }

    fn list_sessions(&self, user_id: i64, now: i64) -> Result<Vec<Session>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {SESSION_COLS} FROM sessions WHERE user_id = ?1 AND expires_at > ?2 ORDER BY last_seen_at DESC"
        ))?;
        let rows = stmt.query_map(params![user_id, now], |r| session_from_row(r, 0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn live_sessions(&self, ids: &[i64], now: i64) -> Result<Vec<i64>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id = ?1 AND s.expires_at > ?2 AND s.absolute_expires_at > ?2 AND u.disabled = 0",
        )?;
        let mut live = Vec::new();
        for id in ids {
            if stmt.exists(params![id, now])? {
                live.push(*id);
            }
        }
        Ok(live)
    }

    fn delete_session(&self, user_id: i64, session_id: i64) -> Result<bool, StoreError> {
        let n =
            self.conn().execute("DELETE FROM sessions WHERE id = ?1 AND user_id = ?2", params![session_id, user_id])?;
        Ok(n > 0)
    }

    fn delete_sessions_of_user(&self, user_id: i64, keep: Option<i64>) -> Result<u64, StoreError> {
        let n =
            self.conn().execute("DELETE FROM sessions WHERE user_id = ?1 AND id IS NOT ?2", params![user_id, keep])?;
        Ok(n as u64)
    }

    fn create_invite(&self, i: &NewInvite) -> Result<i64, StoreError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO invites (token_hash, kind, is_admin, created_by, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![i.token_hash, i.kind.as_str(), i.is_admin, i.created_by, i.now, i.expires_at],
        )?;
        Ok(conn.last_insert_rowid())
    }

    fn usable_invite(&self, token_hash: &[u8], now: i64) -> Result<Option<Invite>, StoreError> {
        usable_invite_in(&self.conn(), token_hash, now)
    }

    fn redeem_invite(&self, token_hash: &[u8], user: &NewUser, now: i64) -> Result<User, StoreError> {
        self.write_tx(|tx| {
            let invite = usable_invite_in(tx, token_hash, now)?.ok_or(StoreError::InviteInvalid)?;
            let user = insert_user(tx, &NewUser { is_admin: invite.is_admin, ..user.clone() }, now)?;
            tx.execute(
                "UPDATE invites SET used_at = ?1, used_by = ?2 WHERE id = ?3",
                params![now, user.id, invite.id],
            )?;
            Ok(user)
        })
    }

    fn list_invites(&self) -> Result<Vec<Invite>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {INVITE_COLS} FROM invites WHERE kind = 'registration' ORDER BY created_at DESC"
        ))?;
        let rows = stmt.query_map([], invite_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn delete_setup_invites(&self) -> Result<(), StoreError> {
        self.conn().execute("DELETE FROM invites WHERE kind = 'setup' AND used_at IS NULL", [])?;
        Ok(())
    }

    fn search_users(&self, query: &str, exclude: i64, limit: u32) -> Result<Vec<User>, StoreError> {
        self.search_users_impl(query, exclude, limit)
    }
    fn contact_list(&self, user: i64) -> Result<ContactList, StoreError> {
        self.contact_list_impl(user)
    }
    fn relation_ids(&self, user: i64) -> Result<RelationIds, StoreError> {
        self.relation_ids_impl(user)
    }
    fn relation_between(&self, a: i64, b: i64) -> Result<(bool, bool), StoreError> {
        self.relation_between_impl(a, b)
    }
    fn request_contact(&self, from: i64, to: i64, now: i64) -> Result<RequestOutcome, StoreError> {
        self.request_contact_impl(from, to, now)
    }
    fn answer_request(&self, to: i64, from: i64, accept: bool, now: i64) -> Result<(), StoreError> {
        self.answer_request_impl(to, from, accept, now)
    }
    fn cancel_request(&self, from: i64, to: i64) -> Result<bool, StoreError> {
        self.cancel_request_impl(from, to)
    }
    fn remove_contact(&self, user: i64, other: i64) -> Result<bool, StoreError> {
        self.remove_contact_impl(user, other)
    }
    fn block(&self, user: i64, other: i64, now: i64) -> Result<(), StoreError> {
        self.block_impl(user, other, now)
    }
    fn unblock(&self, user: i64, other: i64) -> Result<bool, StoreError> {
        self.unblock_impl(user, other)
    }
    fn record_call(&self, call: &CallRow) -> Result<i64, StoreError> {
        self.record_call_impl(call)
    }
    fn list_calls(&self, user: i64, limit: u32) -> Result<Vec<CallRow>, StoreError> {
        self.list_calls_impl(user, limit)
    }
    fn mark_missed_seen(&self, user: i64) -> Result<u64, StoreError> {
        self.mark_missed_seen_impl(user)
    }

    fn chat_write(&self, writes: &[ChatWrite], now: i64) -> Result<Vec<Result<ChatWritten, ChatRefusal>>, StoreError> {
        self.chat_write_impl(writes, now)
    }
    fn conversation_members(&self, conv: i64) -> Result<Vec<i64>, StoreError> {
        self.conversation_members_impl(conv)
    }
    fn direct_conversation(&self, a: i64, b: i64, now: i64) -> Result<(i64, bool), StoreError> {
        self.direct_conversation_impl(a, b, now)
    }
    fn create_group(
        &self,
        owner: i64,
        name: &str,
        members: &[i64],
        now: i64,
    ) -> Result<(i64, Vec<MessageRow>), StoreError> {
        self.create_group_impl(owner, name, members, now)
    }
    fn rename_group(&self, user: i64, conv: i64, name: &str, now: i64) -> Result<MembershipChange, StoreError> {
        self.rename_group_impl(user, conv, name, now)
    }
    fn add_member(&self, user: i64, conv: i64, new: i64, now: i64) -> Result<MembershipChange, StoreError> {
        self.add_member_impl(user, conv, new, now)
    }
    fn remove_member(&self, user: i64, conv: i64, who: i64, now: i64) -> Result<MembershipChange, StoreError> {
        self.remove_member_impl(user, conv, who, now)
    }
    fn list_conversations(&self, user: i64) -> Result<Vec<ConversationRow>, StoreError> {
        self.list_conversations_impl(user)
    }
    fn conversation(&self, user: i64, conv: i64) -> Result<Option<ConversationRow>, StoreError> {
        self.conversation_impl(user, conv)
    }
    fn messages_before(
        &self,
        user: i64,
        conv: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<MessageRow>, StoreError> {
        self.messages_before_impl(user, conv, before, limit)
    }
    fn messages_changed_after(
        &self,
        user: i64,
        conv: i64,
        after_rev: i64,
        limit: u32,
    ) -> Result<Vec<MessageRow>, StoreError> {
        self.messages_changed_after_impl(user, conv, after_rev, limit)
    }

    fn attachment_for(&self, user: i64, token: &str) -> Result<Option<AttachmentRow>, StoreError> {
        self.attachment_for_impl(user, token)
    }
    fn attachment_usage(&self, user: i64) -> Result<i64, StoreError> {
        self.attachment_usage_impl(user)
    }
    fn attachment_exists(&self, token: &str) -> Result<bool, StoreError> {
        self.attachment_exists_impl(token)
    }
    fn purge_attachments(&self, created_before: i64) -> Result<Vec<String>, StoreError> {
        self.purge_attachments_impl(created_before)
    }

    fn apply_directory_account(
        &self,
        account: &crate::DirectoryAccount,
        create: bool,
        now: i64,
    ) -> Result<crate::DirectoryApplied, StoreError> {
        self.apply_directory_account_sql(account, create, now)
    }
}

pub(crate) fn user_from_row_at(r: &Row<'_>, o: usize) -> rusqlite::Result<User> {
    Ok(User {
        id: r.get(o)?,
        username: r.get(o + 1)?,
        display_name: r.get(o + 2)?,
        password_hash: r.get(o + 3)?,
        is_admin: r.get(o + 4)?,
        disabled: r.get(o + 5)?,
        created_at: r.get(o + 6)?,
        source: AccountSource::parse(&r.get::<_, String>(o + 7)?),
    })
}
