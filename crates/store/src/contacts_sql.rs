//! Contacts, blocks and call history on SQLite.

use rusqlite::{params, Connection, OptionalExtension};

use crate::sqlite::{user_from_row, SqliteStore, USER_COLS_U};
use crate::{CallRow, ContactList, RelationIds, RequestOutcome, StoreError, User};

fn users(conn: &Connection, sql: &str, user: i64) -> Result<Vec<User>, StoreError> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([user], user_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn blocked_either(conn: &Connection, a: i64, b: i64) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM blocks WHERE (blocker = ?1 AND blocked = ?2) OR (blocker = ?2 AND blocked = ?1))",
        params![a, b],
        |r| r.get(0),
    )
}

pub(crate) fn are_contacts(conn: &Connection, a: i64, b: i64) -> rusqlite::Result<bool> {
    conn.query_row("SELECT EXISTS(SELECT 1 FROM contacts WHERE user_id = ?1 AND contact_id = ?2)", params![a, b], |r| {
        r.get(0)
    })
}

fn unlink(conn: &Connection, a: i64, b: i64) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM contact_requests WHERE (from_user = ?1 AND to_user = ?2) OR (from_user = ?2 AND to_user = ?1)",
        params![a, b],
    )?;
    conn.execute(
        "DELETE FROM contacts WHERE (user_id = ?1 AND contact_id = ?2) OR (user_id = ?2 AND contact_id = ?1)",
        params![a, b],
    )
}

fn link(conn: &Connection, a: i64, b: i64, now: i64) -> rusqlite::Result<()> {
    unlink(conn, a, b)?;
    conn.execute(
        "INSERT INTO contacts (user_id, contact_id, since) VALUES (?1, ?2, ?3), (?2, ?1, ?3)",
        params![a, b, now],
    )?;
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

impl SqliteStore {
    pub(crate) fn search_users_impl(&self, query: &str, exclude: i64, limit: u32) -> Result<Vec<User>, StoreError> {
        let q = like_escape(&query.to_lowercase());
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {USER_COLS_U} FROM users u WHERE u.disabled = 0 AND u.source != 'guest' AND u.id != ?1 AND
             (u.username LIKE ?2 || '%' ESCAPE '\\' OR lower(u.display_name) LIKE ?2 || '%' ESCAPE '\\'
              OR lower(u.display_name) LIKE '% ' || ?2 || '%' ESCAPE '\\')
             ORDER BY u.username LIMIT ?3"
        ))?;
        let rows = stmt.query_map(params![exclude, q, limit], user_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub(crate) fn contact_list_impl(&self, user: i64) -> Result<ContactList, StoreError> {
        let conn = self.conn();
        let q =
            |join: &str| format!("SELECT {USER_COLS_U} FROM users u JOIN {join} ORDER BY u.display_name, u.username");
        Ok(ContactList {
            contacts: users(&conn, &q("contacts c ON c.contact_id = u.id AND c.user_id = ?1"), user)?,
            incoming: users(&conn, &q("contact_requests r ON r.from_user = u.id AND r.to_user = ?1"), user)?,
            outgoing: users(&conn, &q("contact_requests r ON r.to_user = u.id AND r.from_user = ?1"), user)?,
            blocked: users(&conn, &q("blocks b ON b.blocked = u.id AND b.blocker = ?1"), user)?,
        })
    }

    pub(crate) fn relation_ids_impl(&self, user: i64) -> Result<RelationIds, StoreError> {
        let conn = self.conn();
        let ids = |sql: &str| -> Result<Vec<i64>, StoreError> {
            let mut stmt = conn.prepare(sql)?;
            let rows = stmt.query_map([user], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        };
        Ok(RelationIds {
            contacts: ids("SELECT contact_id FROM contacts WHERE user_id = ?1")?,
            blocked: ids(
                "SELECT blocked FROM blocks WHERE blocker = ?1 UNION SELECT blocker FROM blocks WHERE blocked = ?1",
            )?,
        })
    }

    pub(crate) fn relation_between_impl(&self, a: i64, b: i64) -> Result<(bool, bool), StoreError> {
        let conn = self.conn();
        Ok((are_contacts(&conn, a, b)?, blocked_either(&conn, a, b)?))
    }

    pub(crate) fn request_contact_impl(&self, from: i64, to: i64, now: i64) -> Result<RequestOutcome, StoreError> {
        self.write_tx(|tx| {
            let target: Option<bool> = tx
                .query_row("SELECT disabled FROM users WHERE id = ?1 AND source != 'guest'", [to], |r| r.get(0))
                .optional()?;
            if from == to || target != Some(false) {
                return Err(StoreError::NotFound);
            }
            if blocked_either(tx, from, to)? {
                return Err(StoreError::Blocked);
            }
            if are_contacts(tx, from, to)? {
                return Ok(RequestOutcome::AlreadyContacts);
            }
            let they_asked: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM contact_requests WHERE from_user = ?1 AND to_user = ?2)",
                params![to, from],
                |r| r.get(0),
            )?;
            if they_asked {
                link(tx, from, to, now)?;
                return Ok(RequestOutcome::Accepted);
            }
            tx.execute(
                "INSERT OR IGNORE INTO contact_requests (from_user, to_user, created_at) VALUES (?1, ?2, ?3)",
                params![from, to, now],
            )?;
            Ok(RequestOutcome::Requested)
        })
    }

    pub(crate) fn answer_request_impl(&self, to: i64, from: i64, accept: bool, now: i64) -> Result<(), StoreError> {
        self.write_tx(|tx| {
            let n =
                tx.execute("DELETE FROM contact_requests WHERE from_user = ?1 AND to_user = ?2", params![from, to])?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            if accept {
                link(tx, from, to, now)?;
            }
            Ok(())
        })
    }

    pub(crate) fn cancel_request_impl(&self, from: i64, to: i64) -> Result<bool, StoreError> {
        let n = self
            .conn()
            .execute("DELETE FROM contact_requests WHERE from_user = ?1 AND to_user = ?2", params![from, to])?;
        Ok(n > 0)
    }

    pub(crate) fn remove_contact_impl(&self, user: i64, other: i64) -> Result<bool, StoreError> {
        self.write_tx(|tx| {
            let n = tx.execute(
                "DELETE FROM contacts WHERE (user_id = ?1 AND contact_id = ?2) OR (user_id = ?2 AND contact_id = ?1)",
                params![user, other],
            )?;
            Ok(n > 0)
        })
    }

    pub(crate) fn block_impl(&self, user: i64, other: i64, now: i64) -> Result<(), StoreError> {
        self.write_tx(|tx| {
            let exists: bool =
                tx.query_row("SELECT EXISTS(SELECT 1 FROM users WHERE id = ?1)", [other], |r| r.get(0))?;
            if !exists || user == other {
                return Err(StoreError::NotFound);
            }
            unlink(tx, user, other)?;
            tx.execute(
                "INSERT OR IGNORE INTO blocks (blocker, blocked, created_at) VALUES (?1, ?2, ?3)",
                params![user, other, now],
            )?;
            Ok(())
        })
    }

    pub(crate) fn unblock_impl(&self, user: i64, other: i64) -> Result<bool, StoreError> {
        let n = self.conn().execute("DELETE FROM blocks WHERE blocker = ?1 AND blocked = ?2", params![user, other])?;
        Ok(n > 0)
    }

    pub(crate) fn record_call_impl(&self, c: &CallRow) -> Result<i64, StoreError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO calls (caller, callee, media, answered, reason, started_at, ring_secs, talk_secs, callee_seen, conv)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                c.caller,
                c.callee,
                c.media,
                c.answered,
                c.reason,
                c.started_at,
                c.ring_secs,
                c.talk_secs,
                c.callee_seen,
                c.conv
            ],
        )?;
        Ok(conn.last_insert_rowid())
    }

    pub(crate) fn list_calls_impl(&self, user: i64, limit: u32) -> Result<Vec<CallRow>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, caller, callee, media, answered, reason, started_at, ring_secs, talk_secs, callee_seen, conv
             FROM calls WHERE (caller = ?1 AND conv IS NULL) OR callee = ?1
             ORDER BY started_at DESC, id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![user, limit], |r| {
            Ok(CallRow {
                id: r.get(0)?,
                caller: r.get(1)?,
                callee: r.get(2)?,
                media: r.get(3)?,
                answered: r.get(4)?,
                reason: r.get(5)?,
                started_at: r.get(6)?,
                ring_secs: r.get(7)?,
                talk_secs: r.get(8)?,
                callee_seen: r.get(9)?,
                conv: r.get(10)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub(crate) fn mark_missed_seen_impl(&self, user: i64) -> Result<u64, StoreError> {
        let n = self.conn().execute(
            "UPDATE calls SET callee_seen = 1 WHERE callee = ?1 AND answered = 0 AND callee_seen = 0",
            [user],
        )?;
        Ok(n as u64)
    }
}
