//! What goes into and comes out of the hub.

use std::time::Duration;

use proto::chat::ChatMessage;
use proto::ws::{CallId, EndReason, Media, ServerMessage, UserId};

/// A WebSocket, numbered by the driver.
pub type ConnId = u64;
/// A tab's logical presence, numbered by the hub; survives reconnects.
pub type DeviceId = u64;

/// A user's relations, loaded from the store by the driver when a connection opens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Relations {
    /// Accepted contacts: they see each other's presence.
    pub contacts: Vec<UserId>,
    /// Users with a block in either direction: no calls, no presence.
    pub blocked: Vec<UserId>,
}

/// A guest's connection may only use this conversation (their meeting's chat and call).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestScope {
    pub conv: i64,
}

#[derive(Debug, Clone)]
pub enum Input {
    /// An authenticated WebSocket opened (the driver checked session and origin).
    /// The hub waits for its `hello`.
    Open { conn: ConnId, user: UserId, session: i64, relations: Relations, guest: Option<GuestScope> },
    /// A text frame arrived.
    Text { conn: ConnId, text: String },
    /// A binary frame arrived (not part of the protocol).
    Binary { conn: ConnId },
    /// A pong (or any sign of life not carrying a message).
    Activity { conn: ConnId },
    /// The socket is gone. `clean`: the client closed it deliberately (tab closed, logout);
    /// otherwise the device waits `resume_grace` for a resume.
    Closed { conn: ConnId, clean: bool },
    /// The driver could not deliver to this connection (queue full): treated as broken.
    Overflow { conn: ConnId },
    /// Two users' relation changed in the store (contact request, accept, remove, block).
    RelationChanged {
        a: UserId,
        b: UserId,
        contacts: bool,
        blocked: bool,
        /// Event to tell `a` about `b`, and `b` about `a`.
        event_for_a: Option<proto::ws::ContactEvent>,
        event_for_b: Option<proto::ws::ContactEvent>,
    },
    /// A guest is out of their meeting (rejected, removed, meeting over): their sockets
    /// close with [`proto::ws::close::MEETING_OVER`] and this reason.
    GuestOut { user: UserId, reason: &'static str },
    /// Sessions ended (logout, revoke, password change, account disabled): close their sockets.
    /// `only`: just this session; `keep`: all of the user's sessions except this one.
    SessionsEnded { user: UserId, only: Option<i64>, keep: Option<i64> },
    /// A chat change was stored (or refused): `reply` goes to the requesting connection,
    /// `event` to every device of the users in `to`, except the connection `except`.
    ChatDeliver(Box<ChatDelivery>),
    /// An event made outside the hub (the conference server): numbered and pushed to these
    /// devices, and to every device of these users.
    Push { devices: Vec<DeviceId>, users: Vec<UserId>, msg: Box<ServerMessage> },
    /// A reply (not numbered, not replayed) to a device's current connection.
    Reply { device: DeviceId, msg: Box<ServerMessage> },
    /// Another node of the cluster says how `user` shows on its devices, and which they are
    /// (see `cluster.rs`).
    RemotePresence { node: String, user: UserId, status: proto::ws::Presence, devices: Vec<DeviceId> },
    /// Another node's whole list of users, how they show there and on which devices
    /// (periodic; repairs lost updates). Users it does not list are offline on it.
    NodeState { node: String, users: Vec<crate::NodeUser> },
    /// Another node about a 1:1 call between its devices and this node's (`remote_calls.rs`).
    FromNode { node: String, msg: NodeMsg },
    /// A node fell silent (or left): its users are offline on it.
    NodeGone { node: String },
    /// The conference of this request runs on another node (the driver found or placed it
    /// there): the request goes there, and so do the device's later requests about it.
    RoomElsewhere { node: String, req: RoomRequest },
}

/// See [`Input::ChatDeliver`].
#[derive(Debug, Clone)]
pub struct ChatDelivery {
    pub reply: Option<(ConnId, ServerMessage)>,
    pub to: Vec<UserId>,
    pub except: Option<ConnId>,
    pub event: Option<ChatEvent>,
}

impl Input {
    /// A [`Input::ChatDeliver`].
    pub fn chat_deliver(
        reply: Option<(ConnId, ServerMessage)>,
        to: Vec<UserId>,
        except: Option<ConnId>,
        event: Option<ChatEvent>,
    ) -> Self {
        Input::ChatDeliver(Box::new(ChatDelivery { reply, to, except, event }))
    }
}

/// A chat request the hub accepted (well-formed, within rate) for the driver to carry out.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    pub conn: ConnId,
    pub user: UserId,
    /// The request id, for the reply.
    pub id: Option<u64>,
    pub op: ChatOp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatOp {
    Send { conv: i64, client_id: String, text: String },
    Edit { conv: i64, message: i64, text: String },
    Delete { conv: i64, message: i64 },
    Receipt { conv: i64, delivered: i64, read: i64 },
    Typing { conv: i64 },
}

/// A conference request the hub accepted (well-formed, within rate) for the driver: it
/// checks membership in the store and hands it to the conference server.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomRequest {
    pub conn: ConnId,
    /// The participant: one device is in at most one conference.
    pub device: DeviceId,
    pub user: UserId,
    pub id: Option<u64>,
    pub op: RoomOp,
    /// From a device of another node, which sent it here because this node holds the room.
    pub forwarded: bool,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum RoomOp {
    Join {
        conv: i64,
        /// Back after a restart or a broken media path: a call that starts again by it
        /// does not ring.
        rejoin: bool,
    },
    Sdp {
        conv: i64,
        offer: bool,
        rev: u64,
        sdp: String,
        sources: std::collections::BTreeMap<String, proto::ws::TrackSource>,
    },
    Tiles {
        conv: i64,
        tiles: Vec<proto::ws::RoomTile>,
    },
    State {
        conv: i64,
        muted: bool,
        camera_off: bool,
        hand: bool,
    },
    Leave {
        conv: i64,
    },
    /// Not joining the call that rings this user.
    Decline {
        conv: i64,
    },
    Moderate {
        conv: i64,
        target: u64,
        action: proto::ws::ModerationAction,
    },
}

impl RoomOp {
    /// The conversation whose call this is about.
    pub fn conv(&self) -> i64 {
        match self {
            RoomOp::Join { conv, .. }
            | RoomOp::Sdp { conv, .. }
            | RoomOp::Tiles { conv, .. }
            | RoomOp::State { conv, .. }
            | RoomOp::Leave { conv }
            | RoomOp::Decline { conv }
            | RoomOp::Moderate { conv, .. } => *conv,
        }
    }
}

/// What to push to the members of a conversation (also carried as it is between the nodes of
/// a cluster).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
// Tagged `event`: a message's own fields include `kind`.
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ChatEvent {
    Message(ChatMessage),
    Receipt {
        conv: i64,
        user: UserId,
        delivered_seq: i64,
        read_seq: i64,
    },
    Typing {
        conv: i64,
        user: UserId,
    },
    /// To a member who left or was removed.
    Removed {
        conv: i64,
    },
}

/// How a call went, for the call history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    pub call_id: CallId,
    pub caller: UserId,
    pub callee: UserId,
    pub media: Media,
    /// Whether it was answered.
    pub answered: bool,
    pub reason: EndReason,
    /// From invite to answer (or to the end, if never answered).
    pub ring: Duration,
    /// From answer to end.
    pub talk: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Write this message to the connection.
    Send { conn: ConnId, msg: ServerMessage },
    /// Send a WebSocket ping (heartbeat).
    Ping { conn: ConnId },
    /// Close the connection with this code; the hub has already forgotten it.
    Close { conn: ConnId, code: u16, reason: &'static str },
    /// A call is over: persist it in the call history.
    CallFinished(CallRecord),
    /// Store (or, for typing, check) this chat request, then answer with [`Input::ChatDeliver`].
    Chat(ChatRequest),
    /// Carry out this conference request; results come back as [`Input::Push`] and
    /// [`Input::Reply`].
    Room(RoomRequest),
    /// A device is gone for good (closed, or its resume grace ran out): it leaves any
    /// conference.
    DeviceGone { device: DeviceId },
    /// The user's presence (or devices) on this node alone changed: tell the other nodes of a
    /// cluster (nothing to do on a single node).
    LocalPresence { user: UserId, status: proto::ws::Presence, devices: Vec<DeviceId> },
    /// Tell one other node of the cluster about a call between its devices and ours.
    ToNode { node: String, msg: NodeMsg },
}

/// Between the node that holds a 1:1 call (the caller's) or a conference and a node with
/// devices taking part in it: the holder treats those devices as its own, through this.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NodeMsg {
    /// For a device of the receiving node: an event of a call the sending node holds.
    ToDevice { device: DeviceId, msg: ServerMessage },
    /// From a device of the sending node, about a call the receiving node holds.
    FromDevice { device: DeviceId, msg: proto::ws::ClientMessage },
    /// A device of the sending node is gone: it leaves the receiving node's calls and rooms.
    DeviceGone { device: DeviceId },
    /// From a device of the sending node, about a conference the receiving node holds.
    Room { device: DeviceId, user: UserId, id: Option<u64>, op: RoomOp },
    /// A device of the sending node claims a 1:1 call back (`call_rejoin`) whose other side
    /// has devices on the receiving node (`rejoin.rs`).
    Rejoin { device: DeviceId, user: UserId, call_id: CallId, peer: UserId, role: proto::ws::CallRole, media: Media },
}
