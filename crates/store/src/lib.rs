//! Persistence for mywebrtc.
//!
//! One [`Store`] trait holds every query the server needs. [`SqlStore`] implements it once,
//! over a backend: [`SqliteStore`] on an embedded SQLite file (the default) and [`PgStore`] on
//! PostgreSQL (several nodes sharing one state). Every query is written once, in SQL both
//! databases read alike (see `sql`), so the two cannot drift apart; the same test suite runs
//! against both. Methods are synchronous and take the current time as an argument, so the
//! store never reads a clock itself: the async server calls them from blocking tasks (the
//! PostgreSQL driver blocks on its own runtime, which tokio refuses on an async thread).
//!
//! Durability: SQLite runs in WAL mode with `synchronous=FULL`, and PostgreSQL commits are
//! durable by default, so a write that returned `Ok` survives a `kill -9` or power loss;
//! callers acknowledge to clients only after that.

mod accounts_sql;
mod attachments_sql;
mod backend;
pub mod backup;
mod chat_sql;
mod contacts_sql;
mod copy;
mod directory_sql;
mod error;
mod meetings_sql;
mod model;
mod postgres;
mod rooms_sql;
mod schema;
mod sql;
mod sqlite;
mod store_impl;

pub use copy::{AnyStore, CopyReport};
pub use error::{DbErrorKind, StoreError};
pub use model::*;
pub use postgres::{PgDb, PgOptions, PgStore};
pub use sqlite::{SqliteDb, SqliteStore};

/// The schema version this program brings a database to (the number of migrations).
pub const SCHEMA_VERSION: usize = schema::MIGRATIONS.len();

/// The store on a database backend ([`SqliteDb`] or [`PgDb`]).
pub struct SqlStore<B> {
    db: B,
}

impl<B> SqlStore<B> {
    fn new(db: B) -> Self {
        Self { db }
    }
}

/// Every query of the server, over whatever database backs it.
pub trait Store: Send + Sync + 'static {
    /// Cheap round-trip to the database, for readiness checks.
    fn ping(&self) -> Result<(), StoreError>;

    /// How many chat writers may commit at once to good effect: one on SQLite (one writer at
    /// a time), several on PostgreSQL (commits wait on round trips others can overlap).
    fn write_lanes(&self) -> usize {
        1
    }

    // --- users
    /// Fails with [`StoreError::UsernameTaken`] if the (normalised) name exists.
    fn create_user(&self, user: &NewUser, now: i64) -> Result<User, StoreError>;
    fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError>;
    fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError>;
    fn list_users(&self) -> Result<Vec<User>, StoreError>;
    fn set_password_hash(&self, id: i64, password_hash: &str) -> Result<(), StoreError>;
    /// Changes the flags given; refuses with [`StoreError::LastAdmin`] to leave no enabled admin.
    /// Disabling a user also ends all their sessions.
    fn update_user_flags(&self, id: i64, disabled: Option<bool>, is_admin: Option<bool>) -> Result<User, StoreError>;
    /// Deletes the user and their sessions; refuses with [`StoreError::LastAdmin`].
    fn delete_user(&self, id: i64) -> Result<(), StoreError>;
    fn count_enabled_admins(&self) -> Result<u64, StoreError>;

    // --- sessions (one per logged-in device)
    fn create_session(&self, session: &NewSession) -> Result<i64, StoreError>;
    /// The unexpired session with this token hash and its (enabled) user.
    fn session_by_token_hash(&self, token_hash: &[u8], now: i64) -> Result<Option<(Session, User)>, StoreError>;
    /// Records activity and slides the idle expiry forward (never past `absolute_expires_at`).
    fn touch_session(&self, id: i64, now: i64, expires_at: i64) -> Result<(), StoreError>;
    fn list_sessions(&self, user_id: i64, now: i64) -> Result<Vec<Session>, StoreError>;
    /// Deletes one of `user_id`'s sessions; `false` if it was not theirs or did not exist.
    fn delete_session(&self, user_id: i64, session_id: i64) -> Result<bool, StoreError>;
    /// Of the given session ids, those still valid (unexpired, account enabled).
    fn live_sessions(&self, ids: &[i64], now: i64) -> Result<Vec<i64>, StoreError>;
    /// Ends every session of the user except `keep`.
    fn delete_sessions_of_user(&self, user_id: i64, keep: Option<i64>) -> Result<u64, StoreError>;

    // --- invites (registration links and the first-admin setup link)
    fn create_invite(&self, invite: &NewInvite) -> Result<i64, StoreError>;
    /// The invite if it is unused and unexpired (and, for a setup link, no admin exists yet).
    fn usable_invite(&self, token_hash: &[u8], now: i64) -> Result<Option<Invite>, StoreError>;
    /// Atomically burns the invite and creates the account it grants.
    /// Fails with [`StoreError::InviteInvalid`] if the invite is not usable.
    fn redeem_invite(&self, token_hash: &[u8], user: &NewUser, now: i64) -> Result<User, StoreError>;
    fn list_invites(&self) -> Result<Vec<Invite>, StoreError>;
    /// Removes unused setup links, so only the newest printed one works.
    fn delete_setup_invites(&self) -> Result<(), StoreError>;

    // --- directory and contacts
    /// Enabled users whose username or display name starts with `query` (case-insensitive),
    /// or contains it as a word, except `exclude`.
    fn search_users(&self, query: &str, exclude: i64, limit: u32) -> Result<Vec<User>, StoreError>;
    fn contact_list(&self, user: i64) -> Result<ContactList, StoreError>;
    fn relation_ids(&self, user: i64) -> Result<RelationIds, StoreError>;
    /// `(are_contacts, blocked_either_way)` between two users.
    fn relation_between(&self, a: i64, b: i64) -> Result<(bool, bool), StoreError>;
    /// Sends a contact request; if `to` had asked `from` already, they become contacts.
    /// [`StoreError::Blocked`] if either blocked the other, [`StoreError::NotFound`] if `to`
    /// does not exist or is disabled.
    fn request_contact(&self, from: i64, to: i64, now: i64) -> Result<RequestOutcome, StoreError>;
    /// `to` answers `from`'s request. [`StoreError::NotFound`] if there is none.
    fn answer_request(&self, to: i64, from: i64, accept: bool, now: i64) -> Result<(), StoreError>;
    /// Withdraws `from`'s own pending request. `false` if there was none.
    fn cancel_request(&self, from: i64, to: i64) -> Result<bool, StoreError>;
    /// Ends a contact relation (both directions). `false` if they were not contacts.
    fn remove_contact(&self, user: i64, other: i64) -> Result<bool, StoreError>;
    /// `user` blocks `other`: contacts and requests between them are removed.
    fn block(&self, user: i64, other: i64, now: i64) -> Result<(), StoreError>;
    fn unblock(&self, user: i64, other: i64) -> Result<bool, StoreError>;

    // --- call history
    fn record_call(&self, call: &CallRow) -> Result<i64, StoreError>;
    /// Calls the user placed or received, newest first.
    fn list_calls(&self, user: i64, limit: u32) -> Result<Vec<CallRow>, StoreError>;
    /// Marks the user's missed calls as seen; returns how many were unseen.
    fn mark_missed_seen(&self, user: i64) -> Result<u64, StoreError>;

    // --- chat
    /// Applies chat writes in one transaction, so one disk flush covers the whole batch
    /// (group commit). Each write is checked on its own (membership, contacts, ownership) and
    /// refused without affecting the others; an `Err` means nothing was written.
    fn chat_write(&self, writes: &[ChatWrite], now: i64) -> Result<Vec<Result<ChatWritten, ChatRefusal>>, StoreError>;
    /// The conversation's members (empty if it does not exist).
    fn conversation_members(&self, conv: i64) -> Result<Vec<i64>, StoreError>;
    /// The direct conversation between two contacts, created if needed (`true` if new).
    /// [`StoreError::NotContacts`], [`StoreError::Blocked`] or [`StoreError::NotFound`] otherwise.
    fn direct_conversation(&self, a: i64, b: i64, now: i64) -> Result<(i64, bool), StoreError>;
    /// Creates a group owned by `owner` with some of their contacts; returns its id and the
    /// system messages recording its creation. [`StoreError::NotContacts`] if a member is not
    /// a contact of the owner.
    fn create_group(
        &self,
        owner: i64,
        name: &str,
        members: &[i64],
        now: i64,
    ) -> Result<(i64, Vec<MessageRow>), StoreError>;
    /// Any member may rename a group. [`StoreError::NotFound`] for outsiders,
    /// [`StoreError::Forbidden`] for a direct conversation.
    fn rename_group(&self, user: i64, conv: i64, name: &str, now: i64) -> Result<MembershipChange, StoreError>;
    /// Any member may add one of their contacts.
    fn add_member(&self, user: i64, conv: i64, new: i64, now: i64) -> Result<MembershipChange, StoreError>;
    /// The owner removes a member, or a member leaves (`who == user`).
    fn remove_member(&self, user: i64, conv: i64, who: i64, now: i64) -> Result<MembershipChange, StoreError>;
    /// The user's conversations, most recently active first.
    fn list_conversations(&self, user: i64) -> Result<Vec<ConversationRow>, StoreError>;
    /// One conversation, if the user is a member.
    fn conversation(&self, user: i64, conv: i64) -> Result<Option<ConversationRow>, StoreError>;
    /// Up to `limit` messages before `before` (a seq; `None`: the newest), oldest first.
    /// [`StoreError::NotFound`] unless the user is a member.
    fn messages_before(
        &self,
        user: i64,
        conv: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<MessageRow>, StoreError>;
    /// Messages created or changed after `after_rev`, in the order of those changes (for a
    /// device catching up). [`StoreError::NotFound`] unless the user is a member.
    fn messages_changed_after(
        &self,
        user: i64,
        conv: i64,
        after_rev: i64,
        limit: u32,
    ) -> Result<Vec<MessageRow>, StoreError>;

    // --- attachments (files posted with `ChatWrite::SendFile`)
    /// The file if `user` may read it: a member of its conversation who sees its message
    /// (posted after they joined, not deleted). `None` for anyone else, as for no such file.
    fn attachment_for(&self, user: i64, token: &str) -> Result<Option<AttachmentRow>, StoreError>;
    /// Bytes of the user's uploads still stored (their quota use).
    fn attachment_usage(&self, user: i64) -> Result<i64, StoreError>;
    /// Whether a file with this token is recorded (a file on disk without a record is garbage:
    /// its message was deleted, its retention ended, or the server stopped mid-upload).
    fn attachment_exists(&self, token: &str) -> Result<bool, StoreError>;
    /// Ends the retention of files uploaded before `created_before`: their records go (the
    /// messages stay, their download is then 404); returns their tokens.
    fn purge_attachments(&self, created_before: i64) -> Result<Vec<String>, StoreError>;

    // --- accounts from the LDAP directory
    /// Brings a directory user's account in line with the directory: creates it (when
    /// `create` and the user is active), updates display name and admin flag, disables it
    /// (ending its sessions) or re-enables one the directory had disabled. Never touches a
    /// local account of the same name, and never re-enables an account an administrator
    /// disabled here. The directory decides alone, so this may remove the last admin.
    fn apply_directory_account(
        &self,
        account: &DirectoryAccount,
        create: bool,
        now: i64,
    ) -> Result<DirectoryApplied, StoreError>;

    // --- meetings and guests
    /// Creates a meeting with its conversation; `created_by` becomes its first host.
    /// [`StoreError::CodeTaken`] if the code or link token is in use.
    fn create_meeting(&self, meeting: &NewMeeting, now: i64) -> Result<Meeting, StoreError>;
    fn meeting(&self, id: i64) -> Result<Option<Meeting>, StoreError>;
    fn meeting_by_conv(&self, conv: i64) -> Result<Option<Meeting>, StoreError>;
    fn meeting_by_link(&self, token: &str) -> Result<Option<Meeting>, StoreError>;
    /// The meeting that has not ended with this code.
    fn meeting_by_code(&self, code: &str) -> Result<Option<Meeting>, StoreError>;
    /// Live meetings the user hosts, soonest first.
    fn meetings_hosted_by(&self, user: i64, now: i64) -> Result<Vec<Meeting>, StoreError>;
    /// Meetings not ended yet whose time ran out by `now` (for the sweeper to end them).
    fn meetings_past_end(&self, now: i64) -> Result<Vec<i64>, StoreError>;
    /// The user's role in the meeting's conversation (`host`, `member`, `guest`), if any.
    fn meeting_role(&self, meeting: i64, user: i64) -> Result<Option<String>, StoreError>;
    fn meeting_hosts(&self, meeting: i64) -> Result<Vec<i64>, StoreError>;
    /// A member comes in (by link): a member of its conversation from now on.
    fn join_meeting(&self, meeting: i64, user: i64, now: i64) -> Result<Meeting, StoreError>;
    fn set_meeting_access(&self, meeting: i64, access: MeetingAccess) -> Result<Meeting, StoreError>;
    /// Ends it: no code any more, and every guest still in or waiting is out (`gone`).
    /// Returns those guests' user ids.
    fn end_meeting(&self, meeting: i64, now: i64) -> Result<Vec<i64>, StoreError>;
    /// A guest account waiting in the meeting's lobby.
    fn create_guest(&self, meeting: i64, username: &str, display_name: &str, now: i64) -> Result<Guest, StoreError>;
    /// The guest record of a guest account.
    fn guest(&self, user: i64) -> Result<Option<Guest>, StoreError>;
    fn guests_of(&self, meeting: i64) -> Result<Vec<Guest>, StoreError>;
    /// Admits a waiting guest (into the conversation) or puts one out (rejected, removed,
    /// gone: out of the conversation; their session then only learns that). [`StoreError::Forbidden`]
    /// for a guest who is out already: coming back takes a new guest and a new admission.
    fn set_guest_state(&self, user: i64, state: GuestState, now: i64) -> Result<Guest, StoreError>;
    /// Records a used meet-by-code code (by hash) until `until`.
    fn burn_code(&self, code_hash: &[u8], until: i64, now: i64) -> Result<(), StoreError>;
    fn code_burnt(&self, code_hash: &[u8], now: i64) -> Result<bool, StoreError>;

    // --- conferences on several nodes
    /// The node holding `conv`'s running conference, if one claimed it.
    fn room_node(&self, conv: i64) -> Result<Option<String>, StoreError>;
    /// Claims `conv`'s conference for `node` unless another node holds it; a claim of
    /// `replacing` (a node known gone) is taken over. Returns the holder afterwards: of two
    /// nodes claiming at once, one wins and both learn which.
    fn claim_room(&self, conv: i64, node: &str, replacing: Option<&str>, now: i64) -> Result<String, StoreError>;
    /// Gives up `node`'s claim on `conv` (its conference ended there).
    fn release_room(&self, conv: i64, node: &str) -> Result<(), StoreError>;
    /// Gives up all of `node`'s claims (it starts afresh); how many it had.
    fn release_rooms_of(&self, node: &str) -> Result<u64, StoreError>;
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_postgres;
