//! Chat: conversations and messages, as REST bodies and inside WebSocket events.
//!
//! Each conversation numbers its changes (`seq`): a new message takes the next number as its
//! `seq` and `rev`; an edit or deletion gives the message a new `rev`. A client keeps the
//! highest `rev` it has per conversation and, after a gap, asks for everything above it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ws::UserId;

/// Largest message text, in bytes of UTF-8.
pub const MAX_TEXT_BYTES: usize = 16 * 1024;
/// Longest client-generated message id.
pub const MAX_CLIENT_ID_BYTES: usize = 64;
/// Most messages one history request returns.
pub const MAX_PAGE: u32 = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConversationKind {
    Direct,
    Group,
    /// A meeting's chat (see `GET /api/v1/meetings/{id}`).
    Meeting,
}

/// `text` is written by a member; `file` is a file a member posted (see `attachment`; `text`
/// holds its name); the others record membership changes, with `text` holding the group name
/// (`created`, `renamed`) or the username concerned (`added`, `removed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Text,
    Created,
    Renamed,
    Added,
    Removed,
    Left,
    File,
}

/// A file posted to a conversation, downloadable by its members at
/// `GET /api/v1/attachments/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Attachment {
    /// Unguessable id (43 characters of base64url).
    pub id: String,
    /// The file's name, made safe (no path, no control or text-direction characters).
    pub name: String,
    /// In bytes.
    pub size: i64,
    /// The type the uploader declared; the download is served as this type only for image
    /// previews (`preview`), otherwise as `application/octet-stream`.
    pub mime: String,
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
    /// An image the client may show as a preview.
    pub preview: bool,
}

/// `GET /api/v1/attachments/limits`: what an upload may be, and how much of the quota is used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AttachmentLimits {
    pub max_file_bytes: u64,
    pub quota_bytes: u64,
    pub used_bytes: u64,
    /// Files are deleted this many days after upload (`null`: kept until their message is).
    pub retention_days: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChatMessage {
    pub id: i64,
    pub conv: i64,
    /// Position in the conversation.
    pub seq: i64,
    /// When it last changed (creation, edit, deletion), on the conversation's sequence.
    pub rev: i64,
    /// `null` once the sender's account is deleted.
    pub sender: Option<UserId>,
    /// The id the sender's client chose (used to deduplicate retries).
    pub client_id: String,
    pub kind: MessageKind,
    /// Plain text, never markup. Empty once deleted.
    pub text: String,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub deleted: bool,
    /// For `kind: file` (until deleted): the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<Box<Attachment>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConversationMember {
    pub user: UserId,
    pub username: String,
    pub display_name: String,
    pub owner: bool,
    /// The member has received messages up to this `seq`.
    pub delivered_seq: i64,
    /// The member has read messages up to this `seq`.
    pub read_seq: i64,
}

/// A conversation as the caller sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Conversation {
    pub id: i64,
    pub kind: ConversationKind,
    /// Empty for direct conversations.
    pub name: String,
    pub created_at: i64,
    /// The conversation's latest sequence number.
    pub last_seq: i64,
    pub members: Vec<ConversationMember>,
    /// Others' messages after the caller's read mark.
    pub unread: i64,
    pub last_message: Option<ChatMessage>,
    /// Who is in the conversation's running group call (empty: none runs); kept current by
    /// `room_running` events.
    #[serde(default)]
    pub call: Vec<UserId>,
}

/// `POST /api/v1/conversations`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum NewConversation {
    /// The conversation with one contact (returned if it exists).
    Direct { user: UserId },
    /// A group with some of the caller's contacts; the caller owns it.
    Group {
        #[schema(schema_with = crate::schemas::name)]
        name: String,
        members: Vec<UserId>,
    },
}

/// `PATCH /api/v1/conversations/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameConversation {
    #[schema(schema_with = crate::schemas::name)]
    pub name: String,
}

/// `POST /api/v1/conversations/{id}/members`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    pub user: UserId,
}

/// `POST /api/v1/conversations/{id}/messages`: the REST twin of `chat_send`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostMessage {
    #[schema(schema_with = crate::schemas::client_id)]
    pub client_id: String,
    /// Not empty or only spaces; at most 16 KiB of UTF-8; no control characters but newline
    /// and tab.
    #[schema(pattern = r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x08\x0B-\x1F\x7F-\x9F]*$")]
    pub text: String,
}

/// A page of history.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MessagePage {
    /// Oldest first (for `before`), or in the order of their changes (for `after`).
    pub messages: Vec<ChatMessage>,
    /// More are available beyond this page.
    pub more: bool,
}

/// Why a message text or client id was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextError {
    Empty,
    TooLarge,
    ControlCharacters,
    BadClientId,
}

impl TextError {
    pub fn message(self) -> &'static str {
        match self {
            TextError::Empty => "message text is empty",
            TextError::TooLarge => "message text is larger than 16 KiB",
            TextError::ControlCharacters => "message text contains control characters",
            TextError::BadClientId => "client_id must be 1-64 characters of A-Z a-z 0-9 - _",
        }
    }
}

/// Message text is shown literally, so any Unicode is fine (emoji, right-to-left, zero-width
/// joiners), except control characters other than newline and tab, which no keyboard makes.
pub fn validate_text(text: &str) -> Result<(), TextError> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(TextError::TooLarge);
    }
    if text.trim().is_empty() {
        return Err(TextError::Empty);
    }
    if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(TextError::ControlCharacters);
    }
    Ok(())
}

pub fn validate_client_id(id: &str) -> Result<(), TextError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_CLIENT_ID_BYTES
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(TextError::BadClientId)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_rules() {
        assert_eq!(validate_text("<img src=x onerror=alert(1)>"), Ok(()));
        assert_eq!(validate_text("\u{202E}evil\u{200B}"), Ok(()));
        assert_eq!(validate_text("line\nline\ttab"), Ok(()));
        assert_eq!(validate_text(&"😀".repeat(MAX_TEXT_BYTES / 4)), Ok(()));
        assert_eq!(validate_text(&"😀".repeat(MAX_TEXT_BYTES / 4 + 1)), Err(TextError::TooLarge));
        assert_eq!(validate_text(" \n "), Err(TextError::Empty));
        assert_eq!(validate_text("a\u{0}b"), Err(TextError::ControlCharacters));
        assert_eq!(validate_text("a\u{1b}[31m"), Err(TextError::ControlCharacters));
        assert_eq!(validate_client_id("m-1_x"), Ok(()));
        assert_eq!(validate_client_id(""), Err(TextError::BadClientId));
        assert_eq!(validate_client_id("a b"), Err(TextError::BadClientId));
        assert_eq!(validate_client_id(&"a".repeat(65)), Err(TextError::BadClientId));
    }
}
