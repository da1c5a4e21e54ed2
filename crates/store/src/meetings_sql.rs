//! Meetings, their guests and burnt meet-by-code codes, on SQLite.

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};

use crate::sqlite::{is_unique_violation, user_from_row_at, SqliteStore, USER_COLS_U, USER_NCOLS};
use crate::{Guest, GuestState, Meeting, MeetingAccess, NewMeeting, StoreError};

const MEETING_COLS: &str = "id, conv_id, link_token, code, title, created_by, created_at, starts_at, ends_at, access, \
                            ended_at, by_code";

fn meeting_from_row(r: &Row<'_>) -> rusqlite::Result<Meeting> {
    let access: String = r.get(9)?;
    Ok(Meeting {
        id: r.get(0)?,
        conv: r.get(1)?,
        link_token: r.get(2)?,
        code: r.get(3)?,
        title: r.get(4)?,
        created_by: r.get(5)?,
        created_at: r.get(6)?,
        starts_at: r.get(7)?,
        ends_at: r.get(8)?,
        // Written only by this module: an unknown value is the safest reading.
        access: MeetingAccess::parse(&access).unwrap_or(MeetingAccess::Locked),
        ended_at: r.get(10)?,
        by_code: r.get(11)?,
    })
}

fn guest_from_row(r: &Row<'_>) -> rusqlite::Result<Guest> {
    let o = USER_NCOLS;
    Ok(Guest {
        user: user_from_row_at(r, 0)?,
        meeting: r.get(o)?,
        state: GuestState::parse(&r.get::<_, String>(o + 1)?),
        created_at: r.get(o + 2)?,
    })
}

fn meeting_where(conn: &Connection, clause: &str, p: impl rusqlite::Params) -> rusqlite::Result<Option<Meeting>> {
    conn.prepare_cached(&format!("SELECT {MEETING_COLS} FROM meetings WHERE {clause}"))?
        .query_row(p, meeting_from_row)
        .optional()
}

fn guest_in(conn: &Connection, user: i64) -> rusqlite::Result<Option<Guest>> {
    conn.prepare_cached(&format!(
        "SELECT {USER_COLS_U}, g.meeting_id, g.state, g.created_at FROM meeting_guests g JOIN users u ON u.id = g.user_id
         WHERE g.user_id = ?1"
    ))?
    .query_row([user], guest_from_row)
    .optional()
}

fn add_to_conversation(tx: &Transaction<'_>, conv: i64, user: i64, role: &str, now: i64) -> rusqlite::Result<()> {
    // A newcomer sees the meeting's chat from now on, as a member added to a group does.
    tx.execute(
        "INSERT OR IGNORE INTO conversation_members (conv_id, user_id, role, joined_at, joined_seq, delivered_seq, read_seq)
         SELECT ?1, ?2, ?3, ?4, last_seq, last_seq, last_seq FROM conversations WHERE id = ?1",
        params![conv, user, role, now],
    )?;
    Ok(())
}

/// Takes a guest out for good: out of the conversation, and their state says why. Their
/// session stays until it expires (with the meeting) so that a page that comes back can be
/// told it is out, and why; it reaches nothing else (the web crate's guest gate).
fn retire_guest(tx: &Transaction<'_>, user: i64, conv: i64, state: GuestState) -> rusqlite::Result<()> {
    tx.execute("UPDATE meeting_guests SET state = ?2 WHERE user_id = ?1", params![user, state.as_str()])?;
    tx.execute("DELETE FROM conversation_members WHERE conv_id = ?1 AND user_id = ?2", params![conv, user])?;
    Ok(())
}

impl SqliteStore {
    pub(crate) fn create_meeting_impl(&self, m: &NewMeeting, now: i64) -> Result<Meeting, StoreError> {
        self.write_tx(|tx| {
            tx.execute(
                "INSERT INTO conversations (kind, name, created_by, created_at) VALUES ('meeting', ?1, ?2, ?3)",
                params![m.title, m.created_by, now],
            )?;
            let conv = tx.last_insert_rowid();
            let res = tx.execute(
                "INSERT INTO meetings (conv_id, link_token, code, title, created_by, created_at, starts_at, ends_at,
                                       access, by_code)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    conv,
                    m.link_token,
                    m.code,
                    m.title,
                    m.created_by,
                    now,
                    m.starts_at,
                    m.ends_at,
                    m.access.as_str(),
                    m.created_by.is_none()
                ],
            );
            match res {
                Err(e) if is_unique_violation(&e) => return Err(StoreError::CodeTaken),
                other => other?,
            };
            let id = tx.last_insert_rowid();
            if let Some(host) = m.created_by {
                add_to_conversation(tx, conv, host, "host", now)?;
            }
            meeting_where(tx, "id = ?1", [id])?.ok_or(StoreError::NotFound)
        })
    }

    pub(crate) fn meeting_impl(&self, id: i64) -> Result<Option<Meeting>, StoreError> {
        Ok(meeting_where(&self.conn(), "id = ?1", [id])?)
    }

    pub(crate) fn meeting_by_conv_impl(&self, conv: i64) -> Result<Option<Meeting>, StoreError> {
        Ok(meeting_where(&self.conn(), "conv_id = ?1", [conv])?)
    }

    pub(crate) fn meeting_by_link_impl(&self, token: &str) -> Result<Option<Meeting>, StoreError> {
        Ok(meeting_where(&self.conn(), "link_token = ?1", [token])?)
    }

    pub(crate) fn meeting_by_code_impl(&self, code: &str) -> Result<Option<Meeting>, StoreError> {
        Ok(meeting_where(&self.conn(), "code = ?1 AND ended_at IS NULL", [code])?)
    }

    pub(crate) fn meetings_hosted_by_impl(&self, user: i64, now: i64) -> Result<Vec<Meeting>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {MEETING_COLS} FROM meetings WHERE ended_at IS NULL AND ends_at > ?2 AND conv_id IN
             (SELECT conv_id FROM conversation_members WHERE user_id = ?1 AND role = 'host')
             ORDER BY COALESCE(starts_at, created_at), id"
        ))?;
        let rows = stmt.query_map(params![user, now], meeting_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub(crate) fn meetings_past_end_impl(&self, now: i64) -> Result<Vec<i64>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT id FROM meetings WHERE ended_at IS NULL AND ends_at <= ?1 ORDER BY id LIMIT 1000",
        )?;
        let rows = stmt.query_map([now], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub(crate) fn meeting_role_impl(&self, meeting: i64, user: i64) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT cm.role FROM conversation_members cm JOIN meetings m ON m.conv_id = cm.conv_id
                 WHERE m.id = ?1 AND cm.user_id = ?2",
            )?
            .query_row(params![meeting, user], |r| r.get(0))
            .optional()?)
    }

    pub(crate) fn meeting_hosts_impl(&self, meeting: i64) -> Result<Vec<i64>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT cm.user_id FROM conversation_members cm JOIN meetings m ON m.conv_id = cm.conv_id
             WHERE m.id = ?1 AND cm.role = 'host' ORDER BY cm.user_id",
        )?;
        let rows = stmt.query_map([meeting], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub(crate) fn join_meeting_impl(&self, meeting: i64, user: i64, now: i64) -> Result<Meeting, StoreError> {
        self.write_tx(|tx| {
            let m = meeting_where(tx, "id = ?1", [meeting])?.ok_or(StoreError::NotFound)?;
            add_to_conversation(tx, m.conv, user, "member", now)?;
            Ok(m)
        })
    }

    pub(crate) fn set_meeting_access_impl(&self, meeting: i64, access: MeetingAccess) -> Result<Meeting, StoreError> {
        self.write_tx(|tx| {
            tx.execute("UPDATE meetings SET access = ?2 WHERE id = ?1", params![meeting, access.as_str()])?;
            meeting_where(tx, "id = ?1", [meeting])?.ok_or(StoreError::NotFound)
        })
    }

    pub(crate) fn end_meeting_impl(&self, meeting: i64, now: i64) -> Result<Vec<i64>, StoreError> {
        self.write_tx(|tx| {
            let m = meeting_where(tx, "id = ?1", [meeting])?.ok_or(StoreError::NotFound)?;
            tx.execute(
                "UPDATE meetings SET ended_at = COALESCE(ended_at, ?2), code = NULL WHERE id = ?1",
                params![meeting, now],
            )?;
            let guests: Vec<i64> = tx
                .prepare_cached(
                    "SELECT user_id FROM meeting_guests WHERE meeting_id = ?1 AND state IN ('waiting', 'admitted')",
                )?
                .query_map([meeting], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for &g in &guests {
                retire_guest(tx, g, m.conv, GuestState::Gone)?;
            }
            Ok(guests)
        })
    }

    pub(crate) fn create_guest_impl(
        &self,
        meeting: i64,
        username: &str,
        display_name: &str,
        now: i64,
    ) -> Result<Guest, StoreError> {
        self.write_tx(|tx| {
            let res = tx.execute(
                "INSERT INTO users (username, display_name, password_hash, is_admin, disabled, created_at, source)
                 VALUES (?1, ?2, '', 0, 0, ?3, 'guest')",
                params![username, display_name, now],
            );
            match res {
                Err(e) if is_unique_violation(&e) => return Err(StoreError::UsernameTaken),
                other => other?,
            };
            let user = tx.last_insert_rowid();
            tx.execute(
                "INSERT INTO meeting_guests (user_id, meeting_id, state, created_at) VALUES (?1, ?2, 'waiting', ?3)",
                params![user, meeting, now],
            )?;
            guest_in(tx, user)?.ok_or(StoreError::NotFound)
        })
    }

    pub(crate) fn guest_impl(&self, user: i64) -> Result<Option<Guest>, StoreError> {
        Ok(guest_in(&self.conn(), user)?)
    }

    pub(crate) fn guests_of_impl(&self, meeting: i64) -> Result<Vec<Guest>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {USER_COLS_U}, g.meeting_id, g.state, g.created_at FROM meeting_guests g JOIN users u ON u.id = g.user_id
             WHERE g.meeting_id = ?1 ORDER BY g.created_at, g.user_id"
        ))?;
        let rows = stmt.query_map([meeting], guest_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub(crate) fn set_guest_state_impl(&self, user: i64, state: GuestState, now: i64) -> Result<Guest, StoreError> {
        self.write_tx(|tx| {
            let g = guest_in(tx, user)?.ok_or(StoreError::NotFound)?;
            if !g.state.active() {
                // Out is out: a rejected or removed guest needs a new admission as a new guest.
                return Err(StoreError::Forbidden);
            }
            let m = meeting_where(tx, "id = ?1", [g.meeting])?.ok_or(StoreError::NotFound)?;
            match state {
                GuestState::Waiting => return Err(StoreError::Forbidden),
                GuestState::Admitted => {
                    tx.execute("UPDATE meeting_guests SET state = 'admitted' WHERE user_id = ?1", [user])?;
                    add_to_conversation(tx, m.conv, user, "guest", now)?;
                }
                out => retire_guest(tx, user, m.conv, out)?,
            }
            guest_in(tx, user)?.ok_or(StoreError::NotFound)
        })
    }

    pub(crate) fn burn_code_impl(&self, code_hash: &[u8], until: i64, now: i64) -> Result<(), StoreError> {
        self.write_tx(|tx| {
            tx.execute("DELETE FROM burnt_codes WHERE until <= ?1", [now])?;
            tx.execute(
                "INSERT INTO burnt_codes (code_hash, until) VALUES (?1, ?2)
                 ON CONFLICT (code_hash) DO UPDATE SET until = MAX(until, excluded.until)",
                params![code_hash, until],
            )?;
            Ok(())
        })
    }

    pub(crate) fn code_burnt_impl(&self, code_hash: &[u8], now: i64) -> Result<bool, StoreError> {
        Ok(self
            .conn()
            .prepare_cached("SELECT 1 FROM burnt_codes WHERE code_hash = ?1 AND until > ?2")?
            .query_row(params![code_hash, now], |_| Ok(()))
            .optional()?
            .is_some())
    }
}
