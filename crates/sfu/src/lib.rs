//! Conferences: a selective forwarding unit built on str0m.
//!
//! Each participant has one WebRTC session with the server ([`peer`]): it publishes its
//! microphone, its camera as simulcast (up to three VP8 layers; H.264 from publishers that
//! send nothing else) and, when sharing, its
//! screen; it receives every other participant's tracks. A [`Room`] forwards frames between
//! its participants' sessions, choosing per subscriber and per tile the simulcast layer that
//! fits its bandwidth estimate and tile size (switching on keyframes, which it asks the
//! publisher for), and detects the active speaker from the audio levels in the packets.
//!
//! Like the signaling hub, the room is sans-IO: packets and time in, packets and signals
//! out; tests drive it with native str0m peers and a fake clock. The [`driver`] is thin: one
//! UDP socket for all media (and the same TCP port for browsers that cannot use UDP),
//! packets routed to the worker thread that owns the room (by the ICE username of the first
//! STUN request from an address, then by address), rooms spread over the workers so one busy
//! room does not stall the others.

pub mod driver;
pub mod layers;
mod peer;
pub mod renumber;
mod room;
pub mod speaker;
mod stats;
pub mod stun_route;
pub mod tcp;

use std::time::Duration;

pub use driver::{Command, Sfu, SfuConfig, SfuEvent, DEFAULT_MAX_TCP_CONNECTIONS};
pub use peer::TrackInfo;
pub use room::{Member, Room, RoomOutput};
pub use stats::SfuStats;

/// A room is a conversation's call: numbered by the conversation.
pub type RoomId = i64;
/// A participant is one device of a user (its signaling device id).
pub type ParticipantId = u64;
pub type UserId = i64;

/// What a published track carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    Microphone,
    Camera,
    Screen,
    /// Audio of a shared tab.
    ScreenAudio,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Microphone => "microphone",
            Source::Camera => "camera",
            Source::Screen => "screen",
            Source::ScreenAudio => "screen_audio",
        }
    }
}

/// Why a participant was taken out of a room (told to it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaveReason {
    /// It asked to leave.
    Left,
    /// A moderator removed it, or it is no longer a member of the conversation.
    Removed,
    /// Its media path never came up, or broke.
    MediaLost,
    /// Its session failed.
    Failed,
}

/// How a client shows one participant's video.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TilePref {
    pub participant: ParticipantId,
    /// Off screen: not forwarded at all.
    pub visible: bool,
    /// Height in CSS pixels.
    pub height: u32,
}

/// What the SFU tells one participant's client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// Reply to a join (signaling request `request`): who is there.
    Welcome {
        request: Option<u64>,
        members: Vec<Member>,
        speaker: Option<ParticipantId>,
        starter: UserId,
        /// Most video tiles a client shows at once (the others as names, their video not sent).
        max_video_tiles: u32,
    },
    /// Someone joined.
    Joined(Member),
    /// Someone left (or was removed, or lost).
    Left { participant: ParticipantId },
    /// You are out of the room.
    Removed { reason: LeaveReason },
    /// Answer to your offer.
    Answer { sdp: String },
    /// New tracks for you (or tracks gone): answer with revision `rev`.
    Offer { rev: u64, sdp: String, tracks: Vec<TrackInfo> },
    /// The active speaker changed.
    Speaker { participant: ParticipantId },
    /// A participant's microphone, camera or hand changed.
    MemberState(Member),
    /// A moderator muted you: your audio is not forwarded until you unmute (`room_state`).
    MutedByModerator { by: UserId },
}

/// What a moderator (the person who started the call, or an administrator) may do to a
/// participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moderation {
    Mute,
    Remove,
}

/// Limits of one room.
#[derive(Debug, Clone)]
pub struct RoomConfig {
    pub max_participants: usize,
    /// What one participant may send, in bits per second; the excess is dropped.
    pub max_ingress_bps: u64,
    /// A participant whose media path is not up by then is taken out.
    pub connect_timeout: Duration,
    /// The active speaker changes at most this often.
    pub speaker_dwell: Duration,
    /// Most video tiles a client shows at once (told to clients in the welcome).
    pub max_video_tiles: u32,
    /// Also offer ICE over TCP (passive candidates on the media port), for networks that
    /// block UDP; the driver then listens on TCP as well.
    pub ice_tcp: bool,
    /// Choose each viewer's simulcast layer from its bandwidth estimate as well as its tile
    /// size. Off: the tile size alone decides (for a LAN, or to measure forwarding alone),
    /// and sessions run no estimator (see `Peer::build_rtc`), which costs less CPU.
    pub bandwidth_adaptation: bool,
}

impl Default for RoomConfig {
    fn default() -> Self {
        Self {
            max_participants: 50,
            max_ingress_bps: 12_000_000,
            connect_timeout: Duration::from_secs(20),
            speaker_dwell: Duration::from_millis(1500),
            max_video_tiles: 9,
            ice_tcp: true,
            bandwidth_adaptation: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SfuError {
    #[error("malformed SDP: {0}")]
    BadSdp(String),
    #[error("already in this room")]
    AlreadyJoined,
    #[error("this device is in another call")]
    InAnotherRoom,
    #[error("not in this room")]
    NotInRoom,
    #[error("the room is full ({0} participants)")]
    RoomFull(usize),
    #[error("the conference server is busy; try again")]
    Busy,
    #[error("only the person who started the call, or an administrator, can do this")]
    NotModerator,
}
