//! Schema migrations, applied in order; `PRAGMA user_version` records how many ran.

pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: accounts, device sessions, invites
    r#"
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        display_name TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        is_admin INTEGER NOT NULL DEFAULT 0,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        token_hash BLOB NOT NULL UNIQUE,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        csrf_token TEXT NOT NULL,
        user_agent TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        absolute_expires_at INTEGER NOT NULL
    );
    CREATE INDEX sessions_user ON sessions(user_id);
    CREATE TABLE invites (
        id INTEGER PRIMARY KEY,
        token_hash BLOB NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        is_admin INTEGER NOT NULL DEFAULT 0,
        created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at INTEGER,
        used_by INTEGER REFERENCES users(id) ON DELETE SET NULL
    );
    "#,
    // 2: contacts, blocks, call history
    r#"
    CREATE TABLE contact_requests (
        from_user INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        to_user INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (from_user, to_user)
    );
    CREATE INDEX contact_requests_to ON contact_requests(to_user);
    -- accepted contacts, one row per direction
    CREATE TABLE contacts (
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        contact_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        since INTEGER NOT NULL,
        PRIMARY KEY (user_id, contact_id)
    );
    CREATE TABLE blocks (
        blocker INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        blocked INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (blocker, blocked)
    );
    CREATE INDEX blocks_blocked ON blocks(blocked);
    CREATE TABLE calls (
        id INTEGER PRIMARY KEY,
        caller INTEGER REFERENCES users(id) ON DELETE SET NULL,
        callee INTEGER REFERENCES users(id) ON DELETE SET NULL,
        media TEXT NOT NULL,
        answered INTEGER NOT NULL,
        reason TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        ring_secs INTEGER NOT NULL,
        talk_secs INTEGER NOT NULL,
        callee_seen INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX calls_caller ON calls(caller, started_at);
    CREATE INDEX calls_callee ON calls(callee, started_at);
    "#,
];
