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
    // 3: chat. Every change in a conversation (message, edit, delete, membership) takes the
    // next `last_seq`; a message's `seq` orders it, its `rev` says when it last changed, so a
    // device that reconnects asks for everything with `rev` above what it has.
    r#"
    CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        direct_key TEXT UNIQUE,
        created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
        created_at INTEGER NOT NULL,
        last_seq INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE conversation_members (
        conv_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        role TEXT NOT NULL DEFAULT 'member',
        joined_at INTEGER NOT NULL,
        joined_seq INTEGER NOT NULL DEFAULT 0,
        delivered_seq INTEGER NOT NULL DEFAULT 0,
        read_seq INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (conv_id, user_id)
    );
    CREATE INDEX conversation_members_user ON conversation_members(user_id);
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        conv_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        rev INTEGER NOT NULL,
        sender INTEGER REFERENCES users(id) ON DELETE SET NULL,
        client_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        edited_at INTEGER,
        deleted INTEGER NOT NULL DEFAULT 0,
        UNIQUE (conv_id, seq)
    );
    CREATE INDEX messages_rev ON messages(conv_id, rev);
    CREATE UNIQUE INDEX messages_client_id ON messages(conv_id, sender, client_id) WHERE kind = 'text';
    "#,
    // 4: attachments. The file lives on disk under its token; the row says who may read it
    // (the members of its conversation who see its message) and whose quota it counts
    // against. A row goes when its message is deleted or its retention ends; the file follows.
    r#"
    CREATE TABLE attachments (
        token TEXT PRIMARY KEY,
        conv_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        uploader INTEGER REFERENCES users(id) ON DELETE SET NULL,
        name TEXT NOT NULL,
        mime TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX attachments_uploader ON attachments(uploader);
    CREATE INDEX attachments_message ON attachments(message_id);
    CREATE INDEX attachments_created ON attachments(created_at);
    CREATE UNIQUE INDEX messages_client_id_file ON messages(conv_id, sender, client_id) WHERE kind = 'file';
    "#,
    // 5: accounts from an LDAP directory. `source` says who owns the account's password
    // ('local': argon2 hash here; 'directory': the directory, checked by binding). The sync
    // sets `directory_disabled` when it disables an account the directory no longer lets in,
    // so it re-enables only those, never one an administrator disabled here.
    r#"
    ALTER TABLE users ADD COLUMN source TEXT NOT NULL DEFAULT 'local';
    ALTER TABLE users ADD COLUMN directory_disabled INTEGER NOT NULL DEFAULT 0;
    "#,
    // 6: meetings and their guests. A meeting owns a conversation of kind 'meeting' (its
    // chat and its call; hosts have role 'host' there). Guests are accounts of source 'guest'
    // bound to one meeting; `state` says whether they wait, were let in or are out. A code
    // used by meet-by-code stays burnt for a day (only its hash is kept).
    r#"
    CREATE TABLE meetings (
        id INTEGER PRIMARY KEY,
        conv_id INTEGER NOT NULL UNIQUE REFERENCES conversations(id) ON DELETE CASCADE,
        link_token TEXT NOT NULL UNIQUE,
        code TEXT UNIQUE,
        title TEXT NOT NULL,
        created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
        created_at INTEGER NOT NULL,
        starts_at INTEGER,
        ends_at INTEGER NOT NULL,
        access TEXT NOT NULL,
        ended_at INTEGER,
        by_code INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX meetings_created_by ON meetings(created_by);
    CREATE TABLE meeting_guests (
        user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
        meeting_id INTEGER NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
        state TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX meeting_guests_meeting ON meeting_guests(meeting_id);
    CREATE TABLE burnt_codes (
        code_hash BLOB PRIMARY KEY,
        until INTEGER NOT NULL
    );
    "#,
    // 7: group calls in the call history: a member rung for a group call who missed or
    // declined it gets a row naming the call's conversation (the caller is who started it;
    // the starter's own history does not list these rows).
    r#"
    ALTER TABLE calls ADD COLUMN conv INTEGER REFERENCES conversations(id) ON DELETE SET NULL;
    "#,
    // 8: where each running conference is, when several nodes share the database: the node
    // named holds the room (placed on the least-loaded node by whoever started it). Only
    // meaningful while that node runs; a node that is gone loses its claims to the next join.
    r#"
    CREATE TABLE room_nodes (
        conv_id INTEGER PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
        node TEXT NOT NULL,
        since INTEGER NOT NULL
    );
    "#,
];
