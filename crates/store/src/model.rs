//! Rows as the rest of the server sees them. Times are Unix seconds (UTC).

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub is_admin: bool,
    pub disabled: bool,
    pub created_at: i64,
    pub source: AccountSource,
}

/// Who owns an account's password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountSource {
    /// Created here; its password hash is stored here.
    Local,
    /// Comes from the LDAP directory: signs in by binding there, follows it in the sync.
    Directory,
    /// A meeting guest: no password, exists for one meeting (see [`Guest`]), never listed
    /// in the directory or the admin's user list.
    Guest,
}

impl AccountSource {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountSource::Local => "local",
            AccountSource::Directory => "directory",
            AccountSource::Guest => "guest",
        }
    }
    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "directory" => AccountSource::Directory,
            "guest" => AccountSource::Guest,
            _ => AccountSource::Local,
        }
    }
}

/// A directory user as the sync or a sign-in wants the account to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryAccount {
    pub username: String,
    pub display_name: String,
    pub is_admin: bool,
    /// Whether the directory lets them in; `false` disables the account and ends its sessions.
    pub active: bool,
}

/// What applying a [`DirectoryAccount`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectoryApplied {
    Created(User),
    /// Changed or not; `sessions_ended` when it was disabled now (its sockets must close).
    Updated {
        user: User,
        sessions_ended: bool,
    },
    /// No account, and none was to be created.
    Absent,
    /// The name belongs to a local account, which the directory never takes over.
    LocalAccount,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub is_admin: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: i64,
    pub user_id: i64,
    pub csrf_token: String,
    pub user_agent: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub absolute_expires_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    /// SHA-256 of the cookie token; the token itself is never stored.
    pub token_hash: Vec<u8>,
    pub user_id: i64,
    pub csrf_token: String,
    pub user_agent: String,
    pub now: i64,
    pub expires_at: i64,
    pub absolute_expires_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteKind {
    /// The first-admin link printed at start-up while no admin exists.
    Setup,
    /// A registration link created by an administrator.
    Registration,
}

impl InviteKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            InviteKind::Setup => "setup",
            InviteKind::Registration => "registration",
        }
    }
    pub(crate) fn parse(s: &str) -> Self {
        if s == "setup" {
            InviteKind::Setup
        } else {
            InviteKind::Registration
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    pub id: i64,
    pub kind: InviteKind,
    pub is_admin: bool,
    pub created_by: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct NewInvite {
    /// SHA-256 of the link token.
    pub token_hash: Vec<u8>,
    pub kind: InviteKind,
    pub is_admin: bool,
    pub created_by: Option<i64>,
    pub now: i64,
    pub expires_at: i64,
}

/// A user's contact list as they see it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactList {
    pub contacts: Vec<User>,
    /// Requests others sent to this user.
    pub incoming: Vec<User>,
    /// Requests this user sent, not yet answered.
    pub outgoing: Vec<User>,
    /// Users this user blocked.
    pub blocked: Vec<User>,
}

/// Ids of a user's contacts, and of users with a block in either direction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelationIds {
    pub contacts: Vec<i64>,
    pub blocked: Vec<i64>,
}

/// What a contact request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestOutcome {
    /// A request is now pending.
    Requested,
    /// The other side had already asked: they are now contacts.
    Accepted,
    /// They were contacts already.
    AlreadyContacts,
}

/// One entry of the call history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRow {
    pub id: i64,
    pub caller: Option<i64>,
    pub callee: Option<i64>,
    pub media: String,
    pub answered: bool,
    pub reason: String,
    pub started_at: i64,
    pub ring_secs: i64,
    pub talk_secs: i64,
    pub callee_seen: bool,
    /// For a group call: its conversation (the row is the callee's, a member who was rung;
    /// the caller started the call).
    pub conv: Option<i64>,
}

/// Kinds of conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationKind {
    /// Between two contacts; exactly one per pair.
    Direct,
    /// Named, with an owner and any number of members.
    Group,
    /// A meeting's chat: its hosts, the members who joined by link and the admitted guests.
    Meeting,
}

impl ConversationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationKind::Direct => "direct",
            ConversationKind::Group => "group",
            ConversationKind::Meeting => "meeting",
        }
    }
    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "group" => ConversationKind::Group,
            "meeting" => ConversationKind::Meeting,
            _ => ConversationKind::Direct,
        }
    }
}

/// What a message row holds: text written by a member, or a record of a membership change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    Text,
    /// `body` is the group's name.
    Created,
    /// `body` is the new name.
    Renamed,
    /// `body` is the username of the member added.
    Added,
    /// `body` is the username of the member removed.
    Removed,
    /// The sender left.
    Left,
    /// A file uploaded to the conversation; `body` holds its description as JSON (made by the
    /// web layer), and an [`AttachmentRow`] the file's own record.
    File,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Text => "text",
            MessageKind::Created => "created",
            MessageKind::Renamed => "renamed",
            MessageKind::Added => "added",
            MessageKind::Removed => "removed",
            MessageKind::Left => "left",
            MessageKind::File => "file",
        }
    }
    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "created" => MessageKind::Created,
            "renamed" => MessageKind::Renamed,
            "added" => MessageKind::Added,
            "removed" => MessageKind::Removed,
            "left" => MessageKind::Left,
            "file" => MessageKind::File,
            _ => MessageKind::Text,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRow {
    pub id: i64,
    pub conv: i64,
    /// Position in the conversation.
    pub seq: i64,
    /// Conversation sequence number of the last change (creation, edit or deletion).
    pub rev: i64,
    pub sender: Option<i64>,
    pub client_id: String,
    pub kind: MessageKind,
    /// Empty once deleted.
    pub body: String,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRow {
    pub user: User,
    pub owner: bool,
    pub delivered_seq: i64,
    pub read_seq: i64,
}

/// A conversation as one of its members sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationRow {
    pub id: i64,
    pub kind: ConversationKind,
    pub name: String,
    pub created_at: i64,
    pub last_seq: i64,
    pub members: Vec<MemberRow>,
    /// Others' messages after this member's read mark.
    pub unread: i64,
    pub last_message: Option<MessageRow>,
}

/// One write of the chat path; a batch of them commits in one transaction (group commit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatWrite {
    /// Post a text message. `client_id` makes retries idempotent.
    Send {
        user: i64,
        conv: i64,
        client_id: String,
        text: String,
    },
    Edit {
        user: i64,
        conv: i64,
        message: i64,
        text: String,
    },
    Delete {
        user: i64,
        conv: i64,
        message: i64,
    },
    /// Post a file already stored on disk as a message of kind `file` with `body`, and record
    /// the file. Idempotent by `client_id` like `Send`: a retry gets the first message back
    /// (not fresh), and the caller then removes its own copy of the file.
    SendFile {
        user: i64,
        conv: i64,
        client_id: String,
        body: String,
        file: NewAttachment,
    },
    /// Move the user's delivered/read marks forward (never back; read implies delivered).
    Receipt {
        user: i64,
        conv: i64,
        delivered: i64,
        read: i64,
    },
}

/// What a successful chat write did; `members` are the conversation's members at commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatWritten {
    /// `fresh` is false when a retried send found its earlier copy.
    Message {
        message: MessageRow,
        members: Vec<i64>,
        fresh: bool,
    },
    Receipt {
        conv: i64,
        user: i64,
        delivered_seq: i64,
        read_seq: i64,
        members: Vec<i64>,
        changed: bool,
    },
}

/// Why a single chat write was refused; the rest of its batch is unaffected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatRefusal {
    /// No such conversation, or the user is not a member.
    NoConversation,
    /// A direct conversation whose two users are no longer contacts, or one blocked the other.
    NotAllowed,
    /// No such message in the conversation (or not visible to the user).
    NoMessage,
    /// Only the sender may edit or delete a message.
    NotYours,
    /// The message was deleted.
    Deleted,
}

/// A membership change and the system message that records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipChange {
    pub message: MessageRow,
    /// Members after the change.
    pub members: Vec<i64>,
}

/// A file to record with its message ([`ChatWrite::SendFile`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttachment {
    /// Random, unguessable; names the file on disk and in download URLs.
    pub token: String,
    pub name: String,
    pub mime: String,
    pub size: i64,
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
}

/// A stored file, as the download and the clean-up see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentRow {
    pub token: String,
    pub conv: i64,
    pub message: i64,
    pub uploader: Option<i64>,
    pub name: String,
    pub mime: String,
    pub size: i64,
    pub sha256: String,
    pub created_at: i64,
}

/// Who may come into a meeting without being let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeetingAccess {
    /// Members of the organisation only; no guests.
    Members,
    /// Members come in; guests wait in the lobby until a host admits them (the default).
    Lobby,
    /// Nobody new comes in.
    Locked,
}

impl MeetingAccess {
    pub fn as_str(self) -> &'static str {
        match self {
            MeetingAccess::Members => "members",
            MeetingAccess::Lobby => "lobby",
            MeetingAccess::Locked => "locked",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "members" => Some(MeetingAccess::Members),
            "lobby" => Some(MeetingAccess::Lobby),
            "locked" => Some(MeetingAccess::Locked),
            _ => None,
        }
    }
}

/// A meeting: a conversation (kind `meeting`) reachable by an unguessable link and, while it
/// is live, a short code; or the private meeting of two people who met by the same code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meeting {
    pub id: i64,
    pub conv: i64,
    pub link_token: String,
    /// `None` once it ended (codes are reused) and for meetings made by meet-by-code.
    pub code: Option<String>,
    pub title: String,
    pub created_by: Option<i64>,
    pub created_at: i64,
    pub starts_at: Option<i64>,
    pub ends_at: i64,
    pub access: MeetingAccess,
    pub ended_at: Option<i64>,
    /// Made by two people typing the same code (no host; both must accept).
    pub by_code: bool,
}

impl Meeting {
    /// Whether people can still come in at `now` (not ended, not past its end).
    pub fn live(&self, now: i64) -> bool {
        self.ended_at.is_none() && now < self.ends_at
    }
}

#[derive(Debug, Clone)]
pub struct NewMeeting {
    pub title: String,
    pub link_token: String,
    pub code: Option<String>,
    /// Becomes its first host (`None`: meet-by-code, no host).
    pub created_by: Option<i64>,
    pub starts_at: Option<i64>,
    pub ends_at: i64,
    pub access: MeetingAccess,
}

/// Where a guest stands in their meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestState {
    /// In the lobby.
    Waiting,
    /// Let in: a member of the meeting's conversation.
    Admitted,
    /// Turned away in the lobby.
    Rejected,
    /// Taken out by a host after admission.
    Removed,
    /// Left, or the meeting ended.
    Gone,
}

impl GuestState {
    pub fn as_str(self) -> &'static str {
        match self {
            GuestState::Waiting => "waiting",
            GuestState::Admitted => "admitted",
            GuestState::Rejected => "rejected",
            GuestState::Removed => "removed",
            GuestState::Gone => "gone",
        }
    }
    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "waiting" => GuestState::Waiting,
            "admitted" => GuestState::Admitted,
            "rejected" => GuestState::Rejected,
            "removed" => GuestState::Removed,
            _ => GuestState::Gone,
        }
    }
    /// Whether the guest may still act (wait or take part).
    pub fn active(self) -> bool {
        matches!(self, GuestState::Waiting | GuestState::Admitted)
    }
}

/// A guest: an account of source [`AccountSource::Guest`] bound to one meeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guest {
    pub user: User,
    pub meeting: i64,
    pub state: GuestState,
    pub created_at: i64,
}
