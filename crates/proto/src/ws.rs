//! The signaling protocol: versioned JSON over one WebSocket per browser tab at `/api/v1/ws`.
//!
//! Every frame is one JSON object with a `type`. Client requests may carry a numeric `id`;
//! the server's reply to that request carries the same `id` (`ok` or `error`, or a typed
//! reply). Server-pushed events carry a per-device sequence number `seq`, used to resume
//! after a short disconnect. docs/protocol.md describes every message with examples.

use serde::{Deserialize, Serialize};

use crate::chat::ChatMessage;

/// The protocol version this server speaks (sent in `hello`/`welcome`).
pub const PROTOCOL_VERSION: u32 = 1;
/// Largest frame the server accepts, in bytes.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Largest `data` of one `call_signal` (an SDP with many candidates fits easily).
pub const MAX_SIGNAL_BYTES: usize = 48 * 1024;
/// How many `call_signal`s the caller may send while the call still rings; the server keeps
/// them and hands them to the device that answers (an offer and its ICE candidates fit).
pub const MAX_HELD_SIGNALS: usize = 64;
/// Their total size, in bytes of JSON.
pub const MAX_HELD_SIGNAL_BYTES: usize = 96 * 1024;

pub type UserId = i64;
pub type CallId = u64;
/// A person-to-person file transfer, numbered by the server.
pub type TransferId = u64;

/// Longest file name in a `file_offer`, in bytes of UTF-8 (the receiver makes it safe to
/// show and save; the server only bounds it).
pub const MAX_FILE_NAME_BYTES: usize = 1024;
/// Longest type in a `file_offer`.
pub const MAX_FILE_MIME_BYTES: usize = 255;
/// Largest size a `file_offer` may announce: 2^53 bytes, the integers JavaScript counts
/// exactly (and far beyond any disk).
pub const MAX_FILE_SIZE: u64 = 1 << 53;
/// Offers and transfers one device may have open at once.
pub const MAX_TRANSFERS_PER_DEVICE: usize = 64;

/// What a user shows to their contacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    Offline,
    Away,
    Online,
    /// In a call (set by the server).
    Busy,
    /// Do not disturb: calls are refused.
    Dnd,
}

/// What a client may set for one of its connections; `busy` and `offline` are the server's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientPresence {
    Online,
    Away,
    Dnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Media {
    Audio,
    Video,
}

/// Why a call ended (or never started), as told to each side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// Either side hung up an established call.
    Hangup,
    /// The callee declined.
    Declined,
    /// The caller gave up before an answer.
    Cancelled,
    /// Nobody answered within the ring timeout.
    NoAnswer,
    /// The callee is in another call.
    Busy,
    /// The callee has no connected device, or is in do-not-disturb.
    Unavailable,
    /// Policy forbids this call (e.g. not contacts, or blocked).
    NotAllowed,
    /// A participant's device vanished and did not come back within the grace period.
    ConnectionLost,
    /// Told to a ringing device when another device of the same user answered.
    AnsweredElsewhere,
    /// The media path between the two devices never came up after the answer (no network
    /// path, e.g. both behind firewalls that block UDP and no relay reachable). Reported by
    /// the device that gave up first, through [`HangupReason`].
    ConnectFailed,
    /// The media path was up, broke, and an ICE restart did not bring it back in time.
    MediaLost,
}

/// Which end of a 1:1 call a device is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallRole {
    Caller,
    Callee,
}

/// How long a `call_rejoin` waits for the other side's claim.
pub const REJOIN_WINDOW_SECS: u64 = 60;

/// Why a device hangs up, when it is not simply the user's choice. Only what the server
/// cannot see by itself (the media path is peer to peer) and only for an established call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HangupReason {
    /// See [`EndReason::ConnectFailed`].
    ConnectFailed,
    /// See [`EndReason::MediaLost`].
    MediaLost,
}

impl From<HangupReason> for EndReason {
    fn from(r: HangupReason) -> Self {
        match r {
            HangupReason::ConnectFailed => EndReason::ConnectFailed,
            HangupReason::MediaLost => EndReason::MediaLost,
        }
    }
}

/// Why a person-to-person transfer ended (or never started), as told to each side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileEndReason {
    /// The receiver declined the offer.
    Declined,
    /// Either side cancelled.
    Cancelled,
    /// The receiver has the whole file and its SHA-256 matched.
    Completed,
    /// The transfer failed (e.g. the content did not match its SHA-256, or the receiver
    /// could not store it); the receiver discarded what it had.
    Failed,
    /// The receiver has no connected device: send the file as an attachment instead.
    Unavailable,
    /// Policy forbids it (not contacts, or blocked).
    NotAllowed,
    /// To the receiver's other devices, when one of them accepted.
    TakenElsewhere,
    /// A device of the transfer vanished and did not come back within the grace period (for
    /// the receiving device: no other device of the receiver took the transfer over).
    ConnectionLost,
    /// Nobody accepted or declined the offer in time.
    Expired,
}

/// How a device may end a transfer itself with `file_end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileEndClaim {
    Cancelled,
    Completed,
    Failed,
}

impl From<FileEndClaim> for FileEndReason {
    fn from(c: FileEndClaim) -> Self {
        match c {
            FileEndClaim::Cancelled => FileEndReason::Cancelled,
            FileEndClaim::Completed => FileEndReason::Completed,
            FileEndClaim::Failed => FileEndReason::Failed,
        }
    }
}

/// Messages from client to server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// First frame on a new socket.
    Hello {
        /// Protocol version the client speaks.
        v: u32,
        /// To continue an earlier device after a disconnect.
        #[serde(default)]
        resume: Option<Resume>,
    },
    /// Application-level keepalive; answered with `pong`.
    Ping {
        #[serde(default)]
        id: Option<u64>,
    },
    /// Set this connection's presence.
    SetPresence {
        #[serde(default)]
        id: Option<u64>,
        status: ClientPresence,
    },
    /// Call a user. Replied to with `call_ringing` (or `call_ended` with a reason).
    CallInvite {
        #[serde(default)]
        id: Option<u64>,
        callee: UserId,
        media: Media,
    },
    /// Accept a ringing call on this device.
    CallAccept {
        #[serde(default)]
        id: Option<u64>,
        call_id: CallId,
    },
    /// Decline a ringing call (for all of the callee's devices).
    CallDecline {
        #[serde(default)]
        id: Option<u64>,
        call_id: CallId,
    },
    /// End a call: cancels it while ringing (caller), hangs up when established.
    CallHangup {
        #[serde(default)]
        id: Option<u64>,
        call_id: CallId,
        /// Why, when the media path failed rather than a person hanging up; the other side is
        /// told this reason instead of `hangup`. Ignored while the call still rings.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<HangupReason>,
    },
    /// After the server restarted (a fresh `welcome` while this device's call still has
    /// media): "I was in call `call_id` with `peer`, as `role`". The server re-establishes
    /// the call only when the peer's device claims the same call with the roles reversed
    /// (within [`REJOIN_WINDOW_SECS`]); until then this device waits. Replied to with
    /// `call_rejoined`, or `call_ended` (`connection_lost`) when the other side does not
    /// claim it in time, or an error (`no_such_call`: the call is from this server's own run
    /// and ended; `already_in_call`; `not_allowed`).
    CallRejoin {
        #[serde(default)]
        id: Option<u64>,
        call_id: CallId,
        peer: UserId,
        role: CallRole,
        media: Media,
    },
    /// Relay WebRTC negotiation (SDP, ICE candidate, ...) to the other device of the call.
    /// `data` is opaque to the server and at most [`MAX_SIGNAL_BYTES`].
    CallSignal {
        #[serde(default)]
        id: Option<u64>,
        call_id: CallId,
        data: serde_json::Value,
    },
    /// Post a message. Stored durably before the `chat_ack` reply; retrying with the same
    /// `client_id` never creates a second copy.
    ChatSend {
        #[serde(default)]
        id: Option<u64>,
        conv: i64,
        client_id: String,
        text: String,
    },
    /// Replace the text of one of your own messages. Replied to with `chat_ack`.
    ChatEdit {
        #[serde(default)]
        id: Option<u64>,
        conv: i64,
        message: i64,
        text: String,
    },
    /// Delete one of your own messages. Replied to with `chat_ack`.
    ChatDelete {
        #[serde(default)]
        id: Option<u64>,
        conv: i64,
        message: i64,
    },
    /// Move your delivered and/or read marks forward (a `seq` of the conversation).
    ChatReceipt {
        #[serde(default)]
        id: Option<u64>,
        conv: i64,
        #[serde(default)]
        delivered: i64,
        #[serde(default)]
        read: i64,
    },
    /// You are typing in a conversation (send at most every few seconds while typing).
    ChatTyping { conv: i64 },
    /// Offer a file to a user, person to person: every device of theirs is told
    /// (`file_incoming`). Replied to with `file_offered` (or `file_ended` with a reason, e.g.
    /// `unavailable` when they have no connected device).
    FileOffer {
        #[serde(default)]
        id: Option<u64>,
        to: UserId,
        name: String,
        size: u64,
        #[serde(default)]
        mime: String,
    },
    /// Take an offered file on this device (the receiver's other devices are told
    /// `taken_elsewhere`; the sender `file_accepted`).
    FileAccept {
        #[serde(default)]
        id: Option<u64>,
        transfer_id: TransferId,
    },
    /// Refuse an offered file (for all of the receiver's devices).
    FileDecline {
        #[serde(default)]
        id: Option<u64>,
        transfer_id: TransferId,
    },
    /// Relay negotiation data to the other device of an accepted transfer (at most
    /// [`MAX_SIGNAL_BYTES`], opaque to the server).
    FileSignal {
        #[serde(default)]
        id: Option<u64>,
        transfer_id: TransferId,
        data: serde_json::Value,
    },
    /// Take over an accepted transfer whose receiving device went away (a page reload): from
    /// another device of the same receiver, within the resume grace. The device then opens a
    /// new connection and asks for the file from what it already has.
    FileResume {
        #[serde(default)]
        id: Option<u64>,
        transfer_id: TransferId,
    },
    /// End a transfer: cancel it (either side, any time), or report its outcome (receiver).
    FileEnd {
        #[serde(default)]
        id: Option<u64>,
        transfer_id: TransferId,
        reason: FileEndClaim,
    },
    /// Join the call of a conversation you are a member of (starting it if none runs):
    /// this device becomes a participant of the conference. Replied to with `room_welcome`;
    /// then offer what you publish with `room_sdp`.
    RoomJoin {
        #[serde(default)]
        id: Option<u64>,
        conv: i64,
        /// You were in this call a moment ago (the server restarted, or your media path
        /// broke): if it has to start again, it starts without ringing the members.
        #[serde(default)]
        rejoin: bool,
    },
    /// WebRTC negotiation with the conference server: your offer (what you publish; answered
    /// with a `room_sdp` answer) or your answer to its offer `rev`. At most
    /// [`MAX_SIGNAL_BYTES`] of SDP.
    RoomSdp {
        #[serde(default)]
        id: Option<u64>,
        conv: i64,
        kind: SdpKind,
        /// For an answer: the `rev` of the offer answered.
        #[serde(default)]
        rev: u64,
        sdp: String,
        /// What your offer's m-lines carry when it is not the default (`camera` for video,
        /// `microphone` for audio), by mid: `screen`, `screen_audio`.
        #[serde(default)]
        sources: std::collections::BTreeMap<String, TrackSource>,
    },
    /// How you show the others' video: off-screen tiles are not sent, small tiles get a
    /// smaller layer. Participants not listed keep their last setting (default: visible,
    /// large).
    RoomTiles { conv: i64, tiles: Vec<RoomTile> },
    /// Your microphone, camera and hand, shown to the others (`room_member`).
    RoomState {
        conv: i64,
        #[serde(default)]
        muted: bool,
        #[serde(default)]
        camera_off: bool,
        #[serde(default)]
        hand: bool,
    },
    /// Mute or remove a participant: for the person who started the call and administrators
    /// (`not_allowed` for anyone else). A muted participant's audio is not forwarded until
    /// they unmute themselves.
    RoomModerate {
        #[serde(default)]
        id: Option<u64>,
        conv: i64,
        participant: u64,
        action: ModerationAction,
    },
    /// Leave the conference.
    RoomLeave {
        #[serde(default)]
        id: Option<u64>,
        conv: i64,
    },
    /// You will not join the call that is ringing you (`room_running` with `started`): it
    /// stops ringing on all your devices (`room_ring_ended`) and your call history says you
    /// declined. Replied to with `ok` (also when nothing was ringing any more).
    RoomDecline {
        #[serde(default)]
        id: Option<u64>,
        conv: i64,
    },
}

/// Why a group call stopped ringing you.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RingEnd {
    /// You declined it (on this or another of your devices).
    Declined,
    /// You did not join within the ring time (or the call ended first): it is a missed call
    /// in your history.
    Missed,
}

/// What a moderator does to a participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModerationAction {
    Mute,
    Remove,
}

/// Which half of an SDP exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SdpKind {
    Offer,
    Answer,
}

/// What a conference track carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackSource {
    Microphone,
    Camera,
    Screen,
    ScreenAudio,
}

/// One participant's tile on a client's screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomTile {
    pub participant: u64,
    pub visible: bool,
    /// CSS pixels.
    pub height: u32,
}

/// A participant of a conference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomMember {
    /// The participant (its device), as named in tracks and events.
    pub participant: u64,
    pub user: UserId,
    #[serde(default)]
    pub muted: bool,
    #[serde(default)]
    pub camera_off: bool,
    #[serde(default)]
    pub hand: bool,
}

/// One track the conference server sends you, as described with its offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomTrack {
    pub mid: String,
    pub participant: u64,
    pub kind: String,
    pub source: TrackSource,
}

/// Why you are out of a conference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomLeaveReason {
    Left,
    /// A moderator removed you, or you are no longer a member of the conversation.
    Removed,
    /// Your media connection never came up, or broke.
    MediaLost,
    Failed,
}

/// Sent in `hello` to continue a device after a short disconnect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resume {
    pub token: String,
    /// The highest `seq` the client received.
    pub last_seq: u64,
}

impl ClientMessage {
    /// The request id, if the client sent one.
    pub fn id(&self) -> Option<u64> {
        match self {
            ClientMessage::Hello { .. } => None,
            ClientMessage::Ping { id }
            | ClientMessage::SetPresence { id, .. }
            | ClientMessage::CallInvite { id, .. }
            | ClientMessage::CallAccept { id, .. }
            | ClientMessage::CallDecline { id, .. }
            | ClientMessage::CallHangup { id, .. }
            | ClientMessage::CallSignal { id, .. }
            | ClientMessage::CallRejoin { id, .. }
            | ClientMessage::ChatSend { id, .. }
            | ClientMessage::ChatEdit { id, .. }
            | ClientMessage::ChatDelete { id, .. }
            | ClientMessage::ChatReceipt { id, .. }
            | ClientMessage::FileOffer { id, .. }
            | ClientMessage::FileAccept { id, .. }
            | ClientMessage::FileDecline { id, .. }
            | ClientMessage::FileSignal { id, .. }
            | ClientMessage::FileResume { id, .. }
            | ClientMessage::FileEnd { id, .. }
            | ClientMessage::RoomJoin { id, .. }
            | ClientMessage::RoomSdp { id, .. }
            | ClientMessage::RoomLeave { id, .. }
            | ClientMessage::RoomDecline { id, .. }
            | ClientMessage::RoomModerate { id, .. } => *id,
            ClientMessage::ChatTyping { .. } | ClientMessage::RoomTiles { .. } | ClientMessage::RoomState { .. } => {
                None
            }
        }
    }
}

/// A contact's presence, as pushed to a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactPresence {
    pub user: UserId,
    pub status: Presence,
}

/// Messages from server to client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Reply to `hello`.
    Welcome {
        v: u32,
        user: UserId,
        /// This device's id (stable across resumes).
        device: u64,
        /// Present it in a later `hello` to resume this device.
        resume_token: String,
        /// True if an earlier device was resumed (missed events follow, in order).
        resumed: bool,
        /// Seconds between server heartbeats; the client should reconnect after ~2 missed.
        heartbeat_secs: u64,
        /// Current presence of every contact.
        presence: Vec<ContactPresence>,
    },
    /// Resume was not possible (too late, or too much missed): state was sent fresh in
    /// `welcome`; the client must reload anything else it caches (call state, history).
    Resync { seq: u64 },
    /// Success reply to a request without a more specific reply.
    Ok { id: u64 },
    /// Failure reply to a request (or, without `id`, to an unparseable frame).
    Error {
        #[serde(skip_serializing_if = "Option::is_none", default)]
        id: Option<u64>,
        code: WsErrorCode,
        message: String,
    },
    Pong {
        #[serde(skip_serializing_if = "Option::is_none", default)]
        id: Option<u64>,
    },
    /// A contact's presence changed.
    Presence { seq: u64, user: UserId, status: Presence },
    /// Contact list changed (request received, accepted, removed, blocked): reload it.
    ContactsChanged { seq: u64, user: UserId, event: ContactEvent },
    /// Reply to `call_invite`: the callee's devices are ringing.
    CallRinging {
        seq: u64,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        id: Option<u64>,
        call_id: CallId,
        callee: UserId,
        media: Media,
    },
    /// To every device of the callee.
    CallIncoming { seq: u64, call_id: CallId, caller: UserId, media: Media },
    /// To the caller: the callee accepted on one device; start negotiating (the caller offers).
    CallAccepted { seq: u64, call_id: CallId },
    /// To either side: the call is over (or never started).
    CallEnded {
        seq: u64,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        id: Option<u64>,
        call_id: CallId,
        reason: EndReason,
    },
    /// Relayed negotiation data from the other side.
    CallSignal { seq: u64, call_id: CallId, data: serde_json::Value },
    /// To both devices of a call re-established after a server restart (`call_rejoin`): the
    /// call is known to the server again (hang-up, signals, ICE restarts work as before).
    CallRejoined {
        seq: u64,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        id: Option<u64>,
        call_id: CallId,
    },
    /// Reply to `chat_send`, `chat_edit` and `chat_delete`: the message as stored (durably).
    ChatAck {
        #[serde(skip_serializing_if = "Option::is_none", default)]
        id: Option<u64>,
        message: ChatMessage,
    },
    /// A message was posted, edited or deleted (all three carry the message's current state;
    /// merge by `message.id`). Also records membership changes (`message.kind`).
    ChatMessage { seq: u64, message: ChatMessage },
    /// A member's delivered/read marks moved.
    ChatReceipt { seq: u64, conv: i64, user: UserId, delivered_seq: i64, read_seq: i64 },
    /// A member is typing (not numbered, not replayed: it only matters now).
    ChatTyping { conv: i64, user: UserId },
    /// You left or were removed from a conversation: forget it.
    ChatRemoved { seq: u64, conv: i64 },
    /// Reply to `file_offer`: the receiver's devices have been told.
    FileOffered {
        seq: u64,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        id: Option<u64>,
        transfer_id: TransferId,
        to: UserId,
    },
    /// To every device of the receiver: a file is offered.
    FileIncoming { seq: u64, transfer_id: TransferId, from: UserId, name: String, size: u64, mime: String },
    /// To the sender: the receiver took the file on one device, which now opens the
    /// connection (it sends the offer in `file_signal`).
    FileAccepted { seq: u64, transfer_id: TransferId },
    /// Relayed negotiation data from the other device of the transfer.
    FileSignal { seq: u64, transfer_id: TransferId, data: serde_json::Value },
    /// To either side: the transfer is over (or never started).
    FileEnded {
        seq: u64,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        id: Option<u64>,
        transfer_id: TransferId,
        reason: FileEndReason,
    },
    /// Reply to `room_join`: you are in; who else is.
    RoomWelcome {
        seq: u64,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        id: Option<u64>,
        conv: i64,
        /// You, as the others see you.
        participant: u64,
        members: Vec<RoomMember>,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        speaker: Option<u64>,
        /// Who started the call: with administrators, the one who may mute and remove others.
        starter: UserId,
        /// Most video tiles to show at once; the others show as names (hide their tiles with
        /// `room_tiles` so their video is not sent).
        max_video_tiles: u32,
    },
    /// Someone joined the conference you are in.
    RoomJoined { seq: u64, conv: i64, member: RoomMember },
    /// Someone left it.
    RoomLeft { seq: u64, conv: i64, participant: u64 },
    /// You are out of the conference.
    RoomRemoved { seq: u64, conv: i64, reason: RoomLeaveReason },
    /// From the conference server: an answer to your offer, or an offer (answer it with
    /// revision `rev`) with what each of its tracks carries.
    RoomSdp {
        seq: u64,
        conv: i64,
        kind: SdpKind,
        rev: u64,
        sdp: String,
        #[serde(default)]
        tracks: Vec<RoomTrack>,
    },
    /// The active speaker changed.
    RoomSpeaker { seq: u64, conv: i64, participant: u64 },
    /// A participant's microphone, camera or hand changed.
    RoomMemberState { seq: u64, conv: i64, participant: u64, muted: bool, camera_off: bool, hand: bool },
    /// A moderator muted you: your microphone is not forwarded until you unmute.
    RoomModeratorMuted { seq: u64, conv: i64, by: UserId },
    /// To every member of a conversation: its call runs with these people in it (empty: the
    /// call is over). `started`: this is the call starting (nobody was in it): ring.
    RoomRunning {
        seq: u64,
        conv: i64,
        users: Vec<UserId>,
        #[serde(default)]
        started: bool,
    },
    /// To all your devices: the group call of `conv` stopped ringing you (you joined: see
    /// `room_running`; otherwise `reason`).
    RoomRingEnded { seq: u64, conv: i64, reason: RingEnd },
    /// To a meeting's hosts: who waits in its lobby now. `arrived`: the guest who just came
    /// (play a sound, show a notice); `null` when someone left the lobby or was let in.
    MeetingLobby {
        seq: u64,
        meeting: i64,
        title: String,
        waiting: Vec<crate::meetings::GuestInfo>,
        arrived: Option<UserId>,
    },
    /// To a guest: you are in (a host admitted you, or both accepted a meet-by-code
    /// meeting). Join the call with `room_join` on `conv`.
    MeetingAdmitted { seq: u64, meeting: i64, conv: i64 },
    /// Meet-by-code: someone typed the same code. Both see the other's name and accept
    /// (`POST /api/v1/meetings/{id}/accept`) or decline.
    MeetingMatched { seq: u64, meeting: i64, peer: String },
    /// To the meeting's members: it was ended (by a host, its last host leaving, or its time).
    MeetingEnded { seq: u64, meeting: i64, conv: i64 },
}

impl ServerMessage {
    /// The same event numbered `seq` (events built outside the hub carry 0 until it numbers
    /// them for the device they go to).
    pub fn numbered(mut self, n: u64) -> Self {
        match &mut self {
            ServerMessage::RoomWelcome { seq, .. }
            | ServerMessage::RoomJoined { seq, .. }
            | ServerMessage::RoomLeft { seq, .. }
            | ServerMessage::RoomRemoved { seq, .. }
            | ServerMessage::RoomSdp { seq, .. }
            | ServerMessage::RoomSpeaker { seq, .. }
            | ServerMessage::RoomMemberState { seq, .. }
            | ServerMessage::RoomRunning { seq, .. }
            | ServerMessage::RoomRingEnded { seq, .. }
            | ServerMessage::MeetingLobby { seq, .. }
            | ServerMessage::MeetingAdmitted { seq, .. }
            | ServerMessage::MeetingMatched { seq, .. }
            | ServerMessage::MeetingEnded { seq, .. }
            | ServerMessage::RoomModeratorMuted { seq, .. }
            | ServerMessage::ChatMessage { seq, .. } => *seq = n,
            _ => {}
        }
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactEvent {
    RequestReceived,
    RequestAccepted,
    RequestDeclined,
    Removed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WsErrorCode {
    /// The frame is not valid JSON.
    InvalidJson,
    /// Valid JSON of the wrong shape (unknown type, missing or unknown field, wrong type).
    BadMessage,
    /// `hello` must come first, exactly once.
    HelloRequired,
    /// `hello.v` is not supported; the socket is closed.
    UnsupportedVersion,
    /// The call does not exist or the sender is not a participant.
    NoSuchCall,
    /// The file transfer does not exist or the sender is not part of it.
    NoSuchTransfer,
    /// The request does not fit the call's state (e.g. accept after it ended).
    InvalidState,
    /// This device is already in a call.
    AlreadyInCall,
    /// Too many messages; slow down.
    RateLimited,
    /// A field is too large (e.g. `call_signal.data`, a chat text over 16 KiB).
    TooLarge,
    /// No such conversation, or you are not a member.
    NoConversation,
    /// Not allowed (e.g. messaging someone who is no longer a contact or blocked you).
    NotAllowed,
    /// No such message, or not yours to change, or already deleted.
    NoSuchMessage,
    /// The server could not store the message; retry with the same `client_id`.
    Unavailable,
    /// Not in that conference (join first), or it is full, or the request does not fit it.
    NoSuchRoom,
    /// The SDP could not be used.
    BadSdp,
    /// Guests may only use their meeting's chat and call.
    GuestForbidden,
}

impl WsErrorCode {
    pub fn default_message(self) -> &'static str {
        match self {
            WsErrorCode::InvalidJson => "frame is not valid JSON",
            WsErrorCode::BadMessage => "message has an unknown type or wrong fields",
            WsErrorCode::HelloRequired => "send hello first, once",
            WsErrorCode::UnsupportedVersion => "unsupported protocol version",
            WsErrorCode::NoSuchCall => "no such call, or you are not in it",
            WsErrorCode::NoSuchTransfer => "no such file transfer, or you are not part of it",
            WsErrorCode::InvalidState => "the call is not in a state that allows this",
            WsErrorCode::AlreadyInCall => "this device is already in a call",
            WsErrorCode::RateLimited => "too many messages; slow down",
            WsErrorCode::TooLarge => "message field too large",
            WsErrorCode::NoConversation => "no such conversation, or you are not a member",
            WsErrorCode::NotAllowed => "not allowed",
            WsErrorCode::NoSuchMessage => "no such message, or it is not yours to change",
            WsErrorCode::Unavailable => "could not store the message; retry with the same client_id",
            WsErrorCode::NoSuchRoom => "not in that conference",
            WsErrorCode::BadSdp => "the SDP could not be used",
            WsErrorCode::GuestForbidden => "guests may only use their meeting's chat and call",
        }
    }
}

/// WebSocket close codes the server uses (4000–4999 are application-defined).
pub mod close {
    /// Protocol version not supported.
    pub const UNSUPPORTED_VERSION: u16 = 4000;
    /// No frame (or pong) within the heartbeat timeout.
    pub const HEARTBEAT_TIMEOUT: u16 = 4001;
    /// The client did not read fast enough; its queue overflowed.
    pub const TOO_SLOW: u16 = 4002;
    /// Persistent abuse (rate limit exceeded far beyond the burst).
    pub const POLICY: u16 = 4003;
    /// The session was ended (logout, account disabled) or replaced by a resume elsewhere.
    pub const SESSION_ENDED: u16 = 4004;
    /// No `hello` within the hello timeout (10 s) after the socket opened.
    pub const HELLO_TIMEOUT: u16 = 4005;
    /// The account (or session) has the configured most sockets open already.
    pub const TOO_MANY_SOCKETS: u16 = 4006;
    /// A guest is out of their meeting; the reason says why: `rejected`, `removed`, `ended`,
    /// `declined` (meet-by-code), `nobody_came` (meet-by-code window over), `left`.
    pub const MEETING_OVER: u16 = 4007;
    /// The server is shutting down; reconnect later.
    pub const GOING_AWAY: u16 = 1001;
    /// The server is restarting (SIGTERM, upgrade): reconnect and resume; it will be back.
    pub const SERVICE_RESTART: u16 = 1012;
    /// The frame was larger than [`super::MAX_FRAME_BYTES`].
    pub const TOO_BIG: u16 = 1009;
}

/// Why a frame could not be decoded, with the request id if one could be read.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeError {
    pub id: Option<u64>,
    pub code: WsErrorCode,
    pub message: String,
}

/// Decodes one text frame. Errors keep the request `id` when the frame has a readable one,
/// so the client can match the error to its request.
pub fn decode_client(frame: &str) -> Result<ClientMessage, DecodeError> {
    if frame.len() > MAX_FRAME_BYTES {
        return Err(DecodeError { id: None, code: WsErrorCode::TooLarge, message: "frame too large".into() });
    }
    let value: serde_json::Value = serde_json::from_str(frame).map_err(|e| DecodeError {
        id: None,
        code: WsErrorCode::InvalidJson,
        message: e.to_string(),
    })?;
    let id = value.get("id").and_then(serde_json::Value::as_u64);
    serde_json::from_value(value).map_err(|e| DecodeError { id, code: WsErrorCode::BadMessage, message: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_requests_and_reports_errors_with_their_id() {
        let m = decode_client(r#"{"type":"call_invite","id":7,"callee":3,"media":"video"}"#).unwrap();
        assert_eq!(m, ClientMessage::CallInvite { id: Some(7), callee: 3, media: Media::Video });
        assert_eq!(m.id(), Some(7));
        let e = decode_client(r#"{"type":"call_invite","id":8,"callee":"x","media":"video"}"#).unwrap_err();
        assert_eq!((e.id, e.code), (Some(8), WsErrorCode::BadMessage));
        let e = decode_client(r#"{"type":"launch_missiles","id":9}"#).unwrap_err();
        assert_eq!((e.id, e.code), (Some(9), WsErrorCode::BadMessage));
        let e = decode_client(r#"{"type":"ping","id":1,"extra":1}"#).unwrap_err();
        assert_eq!(e.code, WsErrorCode::BadMessage);
        assert_eq!(decode_client("{").unwrap_err().code, WsErrorCode::InvalidJson);
        assert_eq!(decode_client("[]").unwrap_err().code, WsErrorCode::BadMessage);
        assert_eq!(decode_client("null").unwrap_err().code, WsErrorCode::BadMessage);
    }

    #[test]
    fn server_messages_have_the_documented_shape() {
        let m = ServerMessage::Presence { seq: 4, user: 2, status: Presence::Busy };
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"type":"presence","seq":4,"user":2,"status":"busy"}"#);
        let m = ServerMessage::Error { id: Some(3), code: WsErrorCode::NoSuchCall, message: "x".into() };
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"type":"error","id":3,"code":"no_such_call","message":"x"}"#
        );
    }
}
