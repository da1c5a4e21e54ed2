//! Meetings, their guests and burnt meet-by-code codes.

use crate::accounts_sql::{user_from_row_at, USER_COLS_U, USER_NCOLS};
use crate::sql::{args, Arg, Conn, Row};
use crate::{Guest, GuestState, Meeting, MeetingAccess, NewMeeting, StoreError};

const MEETING_COLS: &str = "id, conv_id, link_token, code, title, created_by, created_at, starts_at, ends_at, access, \
                            ended_at, by_code";
const GUEST_SELECT: &str = "g.meeting_id, g.state, g.created_at FROM meeting_guests g JOIN users u ON u.id = g.user_id";

fn meeting_from_row(r: &Row) -> Result<Meeting, StoreError> {
    Ok(Meeting {
        id: r.int(0)?,
        conv: r.int(1)?,
        link_token: r.text(2)?,
        code: r.opt_text(3)?,
        title: r.text(4)?,
        created_by: r.opt_int(5)?,
        created_at: r.int(6)?,
        starts_at: r.opt_int(7)?,
        ends_at: r.int(8)?,
        // Written only by this module: an unknown value is the safest reading.
        access: MeetingAccess::parse(&r.text(9)?).unwrap_or(MeetingAccess::Locked),
        ended_at: r.opt_int(10)?,
        by_code: r.bool(11)?,
    })
}

fn guest_from_row(r: &Row) -> Result<Guest, StoreError> {
    let o = USER_NCOLS;
    Ok(Guest {
        user: user_from_row_at(r, 0)?,
        meeting: r.int(o)?,
        state: GuestState::parse(&r.text(o + 1)?),
        created_at: r.int(o + 2)?,
    })
}

pub(crate) fn meeting_where(c: &mut dyn Conn, clause: &str, a: &[Arg<'_>]) -> Result<Option<Meeting>, StoreError> {
    c.opt(&format!("SELECT {MEETING_COLS} FROM meetings WHERE {clause}"), a)?.as_ref().map(meeting_from_row).transpose()
}

pub(crate) fn guest(c: &mut dyn Conn, user: i64) -> Result<Option<Guest>, StoreError> {
    c.opt(&format!("SELECT {USER_COLS_U}, {GUEST_SELECT} WHERE g.user_id = ?1"), args![user])?
        .as_ref()
        .map(guest_from_row)
        .transpose()
}

fn add_to_conversation(c: &mut dyn Conn, conv: i64, user: i64, role: &str, now: i64) -> Result<(), StoreError> {
    // A newcomer sees the meeting's chat from now on, as a member added to a group does.
    c.exec(
        "INSERT INTO conversation_members (conv_id, user_id, role, joined_at, joined_seq, delivered_seq, read_seq)
         SELECT ?1, ?2, ?3, ?4, last_seq, last_seq, last_seq FROM conversations WHERE id = ?1
         ON CONFLICT DO NOTHING",
        args![conv, user, role, now],
    )?;
    Ok(())
}

/// Takes a guest out for good: out of the conversation, and their state says why. Their
/// session stays until it expires (with the meeting) so that a page that comes back can be
/// told it is out, and why; it reaches nothing else (the web crate's guest gate).
fn retire_guest(c: &mut dyn Conn, user: i64, conv: i64, state: GuestState) -> Result<(), StoreError> {
    c.exec("UPDATE meeting_guests SET state = ?2 WHERE user_id = ?1", args![user, state.as_str()])?;
    c.exec("DELETE FROM conversation_members WHERE conv_id = ?1 AND user_id = ?2", args![conv, user])?;
    Ok(())
}

pub(crate) fn create_meeting(c: &mut dyn Conn, m: &NewMeeting, now: i64) -> Result<Meeting, StoreError> {
    let conv = c.int(
        "INSERT INTO conversations (kind, name, created_by, created_at) VALUES ('meeting', ?1, ?2, ?3) RETURNING id",
        args![&m.title, m.created_by, now],
    )?;
    let res = c.int(
        "INSERT INTO meetings (conv_id, link_token, code, title, created_by, created_at, starts_at, ends_at,
                               access, by_code)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING id",
        args![
            conv,
            &m.link_token,
            &m.code,
            &m.title,
            m.created_by,
            now,
            m.starts_at,
            m.ends_at,
            m.access.as_str(),
            m.created_by.is_none()
        ],
    );
    let id = match res {
        Err(e) if e.is_unique_violation() => return Err(StoreError::CodeTaken),
        other => other?,
    };
    if let Some(host) = m.created_by {
        add_to_conversation(c, conv, host, "host", now)?;
    }
    meeting_where(c, "id = ?1", args![id])?.ok_or(StoreError::NotFound)
}

pub(crate) fn meetings_hosted_by(c: &mut dyn Conn, user: i64, now: i64) -> Result<Vec<Meeting>, StoreError> {
    c.map(
        &format!(
            "SELECT {MEETING_COLS} FROM meetings WHERE ended_at IS NULL AND ends_at > ?2 AND conv_id IN
             (SELECT conv_id FROM conversation_members WHERE user_id = ?1 AND role = 'host')
             ORDER BY COALESCE(starts_at, created_at), id"
        ),
        args![user, now],
        meeting_from_row,
    )
}

pub(crate) fn meetings_past_end(c: &mut dyn Conn, now: i64) -> Result<Vec<i64>, StoreError> {
    c.ints("SELECT id FROM meetings WHERE ended_at IS NULL AND ends_at <= ?1 ORDER BY id LIMIT 1000", args![now])
}

pub(crate) fn meeting_role(c: &mut dyn Conn, meeting: i64, user: i64) -> Result<Option<String>, StoreError> {
    c.opt(
        "SELECT cm.role FROM conversation_members cm JOIN meetings m ON m.conv_id = cm.conv_id
         WHERE m.id = ?1 AND cm.user_id = ?2",
        args![meeting, user],
    )?
    .map(|r| r.text(0))
    .transpose()
}

pub(crate) fn meeting_hosts(c: &mut dyn Conn, meeting: i64) -> Result<Vec<i64>, StoreError> {
    c.ints(
        "SELECT cm.user_id FROM conversation_members cm JOIN meetings m ON m.conv_id = cm.conv_id
         WHERE m.id = ?1 AND cm.role = 'host' ORDER BY cm.user_id",
        args![meeting],
    )
}

pub(crate) fn join_meeting(c: &mut dyn Conn, meeting: i64, user: i64, now: i64) -> Result<Meeting, StoreError> {
    let m = meeting_where(c, "id = ?1", args![meeting])?.ok_or(StoreError::NotFound)?;
    add_to_conversation(c, m.conv, user, "member", now)?;
    Ok(m)
}

pub(crate) fn set_meeting_access(c: &mut dyn Conn, meeting: i64, access: MeetingAccess) -> Result<Meeting, StoreError> {
    c.exec("UPDATE meetings SET access = ?2 WHERE id = ?1", args![meeting, access.as_str()])?;
    meeting_where(c, "id = ?1", args![meeting])?.ok_or(StoreError::NotFound)
}

pub(crate) fn end_meeting(c: &mut dyn Conn, meeting: i64, now: i64) -> Result<Vec<i64>, StoreError> {
    let m = meeting_where(c, "id = ?1", args![meeting])?.ok_or(StoreError::NotFound)?;
    c.exec("UPDATE meetings SET ended_at = COALESCE(ended_at, ?2), code = NULL WHERE id = ?1", args![meeting, now])?;
    let guests = c.ints(
        "SELECT user_id FROM meeting_guests WHERE meeting_id = ?1 AND state IN ('waiting', 'admitted') ORDER BY user_id",
        args![meeting],
    )?;
    for &g in &guests {
        retire_guest(c, g, m.conv, GuestState::Gone)?;
    }
    Ok(guests)
}

pub(crate) fn create_guest(
    c: &mut dyn Conn,
    meeting: i64,
    username: &str,
    display_name: &str,
    now: i64,
) -> Result<Guest, StoreError> {
    let res = c.int(
        "INSERT INTO users (username, display_name, password_hash, is_admin, disabled, created_at, source)
         VALUES (?1, ?2, '', 0, 0, ?3, 'guest') RETURNING id",
        args![username, display_name, now],
    );
    let user = match res {
        Err(e) if e.is_unique_violation() => return Err(StoreError::UsernameTaken),
        other => other?,
    };
    c.exec(
        "INSERT INTO meeting_guests (user_id, meeting_id, state, created_at) VALUES (?1, ?2, 'waiting', ?3)",
        args![user, meeting, now],
    )?;
    guest(c, user)?.ok_or(StoreError::NotFound)
}

pub(crate) fn guests_of(c: &mut dyn Conn, meeting: i64) -> Result<Vec<Guest>, StoreError> {
    c.map(
        &format!("SELECT {USER_COLS_U}, {GUEST_SELECT} WHERE g.meeting_id = ?1 ORDER BY g.created_at, g.user_id"),
        args![meeting],
        guest_from_row,
    )
}

pub(crate) fn set_guest_state(c: &mut dyn Conn, user: i64, state: GuestState, now: i64) -> Result<Guest, StoreError> {
    let g = guest(c, user)?.ok_or(StoreError::NotFound)?;
    if !g.state.active() {
        // Out is out: a rejected or removed guest needs a new admission as a new guest.
        return Err(StoreError::Forbidden);
    }
    let m = meeting_where(c, "id = ?1", args![g.meeting])?.ok_or(StoreError::NotFound)?;
    match state {
        GuestState::Waiting => return Err(StoreError::Forbidden),
        GuestState::Admitted => {
            c.exec("UPDATE meeting_guests SET state = 'admitted' WHERE user_id = ?1", args![user])?;
            add_to_conversation(c, m.conv, user, "guest", now)?;
        }
        out => retire_guest(c, user, m.conv, out)?,
    }
    guest(c, user)?.ok_or(StoreError::NotFound)
}

pub(crate) fn burn_code(c: &mut dyn Conn, code_hash: &[u8], until: i64, now: i64) -> Result<(), StoreError> {
    c.exec("DELETE FROM burnt_codes WHERE until <= ?1", args![now])?;
    c.exec(
        "INSERT INTO burnt_codes (code_hash, until) VALUES (?1, ?2)
         ON CONFLICT (code_hash) DO UPDATE SET until =
           CASE WHEN excluded.until > burnt_codes.until THEN excluded.until ELSE burnt_codes.until END",
        args![code_hash, until],
    )?;
    Ok(())
}

pub(crate) fn code_burnt(c: &mut dyn Conn, code_hash: &[u8], now: i64) -> Result<bool, StoreError> {
    c.exists("SELECT 1 FROM burnt_codes WHERE code_hash = ?1 AND until > ?2", args![code_hash, now])
}
