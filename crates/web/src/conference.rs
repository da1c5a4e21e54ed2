//! The conference server (crate `sfu`) wired to signaling: requests from the hub, after a
//! membership check in the store, go to the SFU; its events go back to the hub as numbered
//! pushes, and to every member of the conversation as `room_running` when the set of people
//! in the call changes. A call starting in a group rings its other members ([`GroupRings`]):
//! a decline stops the ring on all the member's devices, and a ring nobody answered is a
//! missed call in their history.

use std::collections::BTreeMap;
use std::sync::Arc;

use hub::{Input, RoomOp, RoomRequest};
use proto::ws::{
    ModerationAction, RoomLeaveReason, RoomMember, RoomTrack, SdpKind, ServerMessage, TrackSource, WsErrorCode,
};
use sfu::{Command, LeaveReason, Moderation, Sfu, SfuError, SfuEvent, Signal, Source, TilePref};
use tokio::sync::mpsc;

use crate::cluster::Bus;
use crate::group_ring::{GroupRings, RingEnded};
use crate::room_placement::Place;
use crate::signaling::HubHandle;

/// The running conference server.
pub struct Conference {
    sfu: Sfu,
    /// Users in each running call, as last reported by the SFU (for REST readers).
    running: std::sync::Mutex<std::collections::HashMap<i64, Vec<i64>>>,
    /// Who the starting group calls still ring.
    rings: std::sync::Mutex<GroupRings>,
    /// Calls that a rejoining participant is about to start again (after a server restart):
    /// they start without ringing. Forgotten after [`QUIET_FOR`] if that join never came.
    quiet: std::sync::Mutex<std::collections::HashMap<i64, std::time::Instant>>,
    /// The bus, when this node is one of a cluster: conferences may run on other nodes
    /// (`room_placement.rs`).
    cluster: std::sync::OnceLock<Bus>,
}

const QUIET_FOR: std::time::Duration = std::time::Duration::from_secs(30);

/// Starts the SFU's threads; its events reach the hub once [`Conference::bridge`] runs.
pub(crate) fn start(cfg: sfu::SfuConfig) -> std::io::Result<(Arc<Conference>, mpsc::UnboundedReceiver<SfuEvent>)> {
    let (tx, rx) = mpsc::unbounded_channel();
    let sink = Arc::new(move |e: SfuEvent| {
        let _ = tx.send(e);
    });
    let sfu = Sfu::start(cfg, sink)?;
    let conf = Conference {
        sfu,
        running: Default::default(),
        rings: Default::default(),
        quiet: Default::default(),
        cluster: Default::default(),
    };
    Ok((Arc::new(conf), rx))
}

impl Conference {
    /// The media socket's address.
    pub fn media_addr(&self) -> std::net::SocketAddr {
        self.sfu.local_addr()
    }

    /// This node is one of a cluster: conferences are placed over its nodes. The claims this
    /// node held before it (re)started are void.
    pub(crate) fn join_cluster(&self, bus: Bus, store: Arc<dyn store::Store>) {
        let node = bus.node().to_owned();
        if self.cluster.set(bus).is_ok() {
            tokio::task::spawn_blocking(move || {
                if let Err(e) = store.release_rooms_of(&node) {
                    tracing::warn!(error = %e, "cannot clear this node's old conference claims");
                }
            });
        }
    }

    /// Carries out a request the hub accepted. Joining checks membership first (in the
    /// store, off the hub's task) and, on a cluster, where the conference runs: a request
    /// for a conference on another node goes back to the hub to be sent there. The rest only
    /// reaches a room the device is in.
    pub(crate) fn request(self: &Arc<Self>, req: RoomRequest, store: Arc<dyn store::Store>, hub: HubHandle) {
        let RoomRequest { conn, device, user, id, op, forwarded } = req;
        // Sent back to the hub when the conference is on another node (joins and declines
        // only: no other request is cloned, SDP included).
        let whole = move |op: RoomOp| RoomRequest { conn, device, user, id, op, forwarded };
        let cmd = match op {
            RoomOp::Join { conv, rejoin } => {
                let me = self.clone();
                tokio::spawn(async move {
                    // Only the member list: the whole conversation (last message, unread
                    // counts) is not needed to decide.
                    let s = store.clone();
                    let cluster = me.cluster.get().cloned();
                    let placed = tokio::task::spawn_blocking(move || -> Result<Option<Place>, store::StoreError> {
                        if !s.conversation_members(conv)?.contains(&user) {
                            return Ok(None);
                        }
                        match cluster {
                            Some(bus) => {
                                crate::room_placement::place(s.as_ref(), &bus, conv, crate::unix_now()).map(Some)
                            }
                            None => Ok(Some(Place::Here)),
                        }
                    })
                    .await;
                    match placed {
                        Ok(Ok(Some(Place::Here))) => {
                            if rejoin && me.local_users(conv).is_empty() {
                                if let Ok(mut q) = me.quiet.lock() {
                                    q.insert(conv, std::time::Instant::now());
                                }
                            }
                            if let Err(e) = me.sfu.command(Command::Join { room: conv, who: device, user }, id) {
                                fail(&hub, device, id, &e).await;
                            }
                        }
                        // A forwarded join is placed by the node that sent it: if the
                        // conference moved meanwhile, the client tries again.
                        Ok(Ok(Some(Place::On(node)))) if !forwarded => {
                            let req = whole(RoomOp::Join { conv, rejoin });
                            hub.input(Input::RoomElsewhere { node, req }).await;
                        }
                        Ok(Ok(None)) => {
                            let msg =
                                error(id, WsErrorCode::NoConversation, WsErrorCode::NoConversation.default_message());
                            hub.input(Input::Reply { device, msg: Box::new(msg) }).await;
                        }
                        _ => fail(&hub, device, id, &SfuError::Busy).await,
                    }
                });
                return;
            }
            RoomOp::Sdp { conv, offer, rev, sdp, sources } => {
                Command::Sdp { room: conv, who: device, offer, rev, sdp, sources: sources_of(sources) }
            }
            RoomOp::Tiles { conv, tiles } => Command::Prefs {
                room: conv,
                who: device,
                tiles: tiles
                    .iter()
                    .map(|t| TilePref { participant: t.participant, visible: t.visible, height: t.height })
                    .collect(),
            },
            RoomOp::State { conv, muted, camera_off, hand } => {
                Command::State { room: conv, who: device, muted, camera_off, hand }
            }
            RoomOp::Leave { conv } => Command::Leave { room: conv, who: device, reason: LeaveReason::Left },
            RoomOp::Decline { conv } => {
                let me = self.clone();
                tokio::spawn(async move {
                    // The ring lives where the conference runs.
                    if let (Some(bus), false) = (me.cluster.get().cloned(), forwarded) {
                        let s = store.clone();
                        let at =
                            tokio::task::spawn_blocking(move || crate::room_placement::holder(s.as_ref(), &bus, conv))
                                .await;
                        if let Ok(Ok(Place::On(node))) = at {
                            let req = whole(RoomOp::Decline { conv });
                            return hub.input(Input::RoomElsewhere { node, req }).await;
                        }
                    }
                    let ended = me.with_rings(|r| r.decline(conv, user, crate::unix_now())).flatten();
                    rings_ended(&hub, &store, ended.into_iter().collect()).await;
                    if let Some(id) = id {
                        hub.input(Input::Reply { device, msg: Box::new(ServerMessage::Ok { id }) }).await;
                    }
                });
                return;
            }
            RoomOp::Moderate { conv, target, action } => {
                // Administrators moderate any call: that is in the store, not in the room.
                let me = self.sfu.clone();
                let action = match action {
                    ModerationAction::Mute => Moderation::Mute,
                    ModerationAction::Remove => Moderation::Remove,
                };
                tokio::spawn(async move {
                    // So do a meeting's hosts, in their meeting.
                    let admin = tokio::task::spawn_blocking(move || -> Result<bool, store::StoreError> {
                        if store.user_by_id(user)?.is_some_and(|u| u.is_admin && !u.disabled) {
                            return Ok(true);
                        }
                        Ok(match store.meeting_by_conv(conv)? {
                            Some(m) => store.meeting_role(m.id, user)?.as_deref() == Some("host"),
                            None => false,
                        })
                    })
                    .await;
                    let admin = matches!(admin, Ok(Ok(true)));
                    let cmd = Command::Moderate { room: conv, who: device, by: user, admin, target, action };
                    if let Err(e) = me.command(cmd, id) {
                        fail(&hub, device, id, &e).await;
                    }
                });
                return;
            }
        };
        if let Err(e) = self.sfu.command(cmd, id) {
            tokio::spawn(async move { fail(&hub, device, id, &e).await });
        }
    }

    /// What the media path carried and holds (for metrics).
    pub fn stats(&self) -> sfu::SfuStats {
        self.sfu.stats()
    }

    /// Where browsers send conference media (the SFU's ICE candidates).
    pub fn candidates(&self) -> Vec<std::net::SocketAddr> {
        self.sfu.candidates().to_vec()
    }

    /// Who is in a conversation's running call (on this node or, in a cluster, another).
    pub fn users_in(&self, conv: i64) -> Vec<i64> {
        let here = self.local_users(conv);
        if !here.is_empty() {
            return here;
        }
        self.cluster.get().and_then(|b| b.users_in_call_elsewhere(conv)).unwrap_or_default()
    }

    /// Who is in a conversation's call on this node.
    fn local_users(&self, conv: i64) -> Vec<i64> {
        self.running.lock().ok().and_then(|m| m.get(&conv).cloned()).unwrap_or_default()
    }

    fn set_running(&self, conv: i64, users: &[i64]) {
        if let Ok(mut m) = self.running.lock() {
            if users.is_empty() {
                m.remove(&conv);
            } else {
                m.insert(conv, users.to_vec());
            }
        }
    }

    /// Whether a call starting now was started again by a rejoin (so it does not ring).
    fn quiet_start(&self, conv: i64) -> bool {
        let Ok(mut q) = self.quiet.lock() else { return false };
        q.retain(|_, at| at.elapsed() < QUIET_FOR);
        q.remove(&conv).is_some()
    }

    fn with_rings<T>(&self, f: impl FnOnce(&mut GroupRings) -> T) -> Option<T> {
        self.rings.lock().ok().map(|mut r| f(&mut r))
    }

    /// A device is gone for good: it leaves its conference.
    pub(crate) fn device_gone(&self, device: u64) {
        self.sfu.device_gone(device);
    }

    /// A user is no longer a member of the conversation: out of its call at once, on
    /// whichever node it runs.
    pub fn remove_user(&self, conv: i64, user: i64) {
        self.remove_user_here(conv, user);
        if let Some(bus) = self.cluster.get() {
            bus.publish_remove_user(conv, user);
        }
    }

    /// [`Conference::remove_user`] for a call on this node.
    pub(crate) fn remove_user_here(&self, conv: i64, user: i64) {
        let _ = self.sfu.command(Command::RemoveUser { room: conv, user }, None);
    }
}

/// Rings that ended without the member joining: the call history records it, then their
/// devices stop ringing (a client told "missed" finds the call in its history).
async fn rings_ended(hub: &HubHandle, store: &Arc<dyn store::Store>, ended: Vec<RingEnded>) {
    if ended.is_empty() {
        return;
    }
    let store = store.clone();
    let rows: Vec<store::CallRow> = ended
        .iter()
        .map(|e| store::CallRow {
            id: 0,
            caller: Some(e.starter),
            callee: Some(e.user),
            media: "group".into(),
            answered: false,
            reason: match e.how {
                proto::ws::RingEnd::Declined => "declined",
                proto::ws::RingEnd::Missed => "missed",
            }
            .into(),
            started_at: e.started_at,
            ring_secs: e.ring_secs,
            talk_secs: 0,
            // A decline was the member's own act: nothing to notice.
            callee_seen: e.how == proto::ws::RingEnd::Declined,
            conv: Some(e.conv),
        })
        .collect();
    let _ = tokio::task::spawn_blocking(move || {
        for row in rows {
            if let Err(e) = store.record_call(&row) {
                tracing::error!(error = %e, "cannot record a group call in the history");
            }
        }
    })
    .await;
    for e in ended {
        let msg = ServerMessage::RoomRingEnded { seq: 0, conv: e.conv, reason: e.how };
        hub.input(Input::Push { devices: vec![], users: vec![e.user], msg: Box::new(msg) }).await;
    }
}

/// Ends the rings that lasted their time, every few seconds while any rings.
async fn ring_sweeper(conf: Arc<Conference>, hub: HubHandle, store: Arc<dyn store::Store>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
    loop {
        tick.tick().await;
        let ended = conf.with_rings(|r| r.expire(crate::unix_now()));
        rings_ended(&hub, &store, ended.unwrap_or_default()).await;
    }
}

async fn fail(hub: &HubHandle, device: u64, id: Option<u64>, e: &SfuError) {
    let code = match e {
        SfuError::BadSdp(_) => WsErrorCode::BadSdp,
        SfuError::NotInRoom => WsErrorCode::NoSuchRoom,
        SfuError::RoomFull(_) => WsErrorCode::NotAllowed,
        SfuError::AlreadyJoined => WsErrorCode::InvalidState,
        SfuError::InAnotherRoom => WsErrorCode::AlreadyInCall,
        SfuError::Busy => WsErrorCode::Unavailable,
        SfuError::NotModerator => WsErrorCode::NotAllowed,
    };
    hub.input(Input::Reply { device, msg: Box::new(error(id, code, &e.to_string())) }).await;
}

fn error(id: Option<u64>, code: WsErrorCode, message: &str) -> ServerMessage {
    ServerMessage::Error { id, code, message: message.to_owned() }
}

fn sources_of(s: BTreeMap<String, TrackSource>) -> std::collections::HashMap<String, Source> {
    s.into_iter()
        .map(|(mid, src)| {
            let src = match src {
                TrackSource::Microphone => Source::Microphone,
                TrackSource::Camera => Source::Camera,
                TrackSource::Screen => Source::Screen,
                TrackSource::ScreenAudio => Source::ScreenAudio,
            };
            (mid, src)
        })
        .collect()
}

fn source(s: Source) -> TrackSource {
    match s {
        Source::Microphone => TrackSource::Microphone,
        Source::Camera => TrackSource::Camera,
        Source::Screen => TrackSource::Screen,
        Source::ScreenAudio => TrackSource::ScreenAudio,
    }
}

fn member(m: &sfu::Member) -> RoomMember {
    RoomMember { participant: m.participant, user: m.user, muted: m.muted, camera_off: m.camera_off, hand: m.hand }
}

/// The client message for a signal (numbered by the hub).
fn message(conv: i64, to: u64, signal: Signal) -> ServerMessage {
    match signal {
        Signal::Welcome { request, members, speaker, starter, max_video_tiles } => ServerMessage::RoomWelcome {
            seq: 0,
            id: request,
            conv,
            participant: to,
            members: members.iter().map(member).collect(),
            speaker,
            starter,
            max_video_tiles,
        },
        Signal::Joined(m) => ServerMessage::RoomJoined { seq: 0, conv, member: member(&m) },
        Signal::Left { participant } => ServerMessage::RoomLeft { seq: 0, conv, participant },
        Signal::Removed { reason } => ServerMessage::RoomRemoved {
            seq: 0,
            conv,
            reason: match reason {
                LeaveReason::Left => RoomLeaveReason::Left,
                LeaveReason::Removed => RoomLeaveReason::Removed,
                LeaveReason::MediaLost => RoomLeaveReason::MediaLost,
                LeaveReason::Failed => RoomLeaveReason::Failed,
            },
        },
        Signal::Answer { sdp } => {
            ServerMessage::RoomSdp { seq: 0, conv, kind: SdpKind::Answer, rev: 0, sdp, tracks: vec![] }
        }
        Signal::Offer { rev, sdp, tracks } => ServerMessage::RoomSdp {
            seq: 0,
            conv,
            kind: SdpKind::Offer,
            rev,
            sdp,
            tracks: tracks
                .into_iter()
                .map(|t| RoomTrack {
                    mid: t.mid,
                    participant: t.participant,
                    kind: t.kind.to_owned(),
                    source: source(t.source),
                })
                .collect(),
        },
        Signal::Speaker { participant } => ServerMessage::RoomSpeaker { seq: 0, conv, participant },
        Signal::MutedByModerator { by } => ServerMessage::RoomModeratorMuted { seq: 0, conv, by },
        Signal::MemberState(m) => ServerMessage::RoomMemberState {
            seq: 0,
            conv,
            participant: m.participant,
            muted: m.muted,
            camera_off: m.camera_off,
            hand: m.hand,
        },
    }
}

/// Carries the SFU's events to the hub, in order (one task, so `room_running` never goes
/// back in time).
pub(crate) async fn bridge(
    conf: Arc<Conference>,
    mut rx: mpsc::UnboundedReceiver<SfuEvent>,
    wiring: crate::meetings::Wiring,
    end_without_hosts: Option<std::time::Duration>,
) {
    let (hub, store) = (wiring.hub.clone(), wiring.store.clone());
    tokio::spawn(ring_sweeper(conf.clone(), hub.clone(), store.clone()));
    while let Some(e) = rx.recv().await {
        match e {
            SfuEvent::Signal { room, to, signal } => {
                let msg = message(room, to, signal);
                hub.input(Input::Push { devices: vec![to], users: vec![], msg: Box::new(msg) }).await;
            }
            SfuEvent::Failed { to, request, error, .. } => fail(&hub, to, request, &error).await,
            SfuEvent::Done { to, request, .. } => {
                hub.input(Input::Reply { device: to, msg: Box::new(ServerMessage::Ok { id: request }) }).await;
            }
            SfuEvent::Members { room, members } => {
                let mut users: Vec<i64> = members.iter().map(|m| m.user).collect();
                users.sort_unstable();
                users.dedup();
                let before = conf.local_users(room);
                // Said in the event: a client that loaded the running calls (GET /conversations)
                // just before it would otherwise take the start for a change and never ring.
                let started = before.is_empty() && !users.is_empty() && !conf.quiet_start(room);
                conf.set_running(room, &users);
                if let (Some(bus), true) = (conf.cluster.get(), users.is_empty()) {
                    // Ended here: the next join places it anew.
                    let (s, node) = (store.clone(), bus.node().to_owned());
                    tokio::task::spawn_blocking(move || {
                        if let Err(e) = s.release_room(room, &node) {
                            tracing::warn!(error = %e, "cannot release a conference claim");
                        }
                    });
                }
                if before != users {
                    // Ending a meeting talks to the SFU and the hub, which feed this loop: not inline.
                    let (w, now) = (wiring.clone(), users.clone());
                    tokio::spawn(async move { w.call_changed(room, before, now, end_without_hosts).await });
                }
                let s = store.clone();
                let starter = users.first().copied();
                let conv = tokio::task::spawn_blocking(move || -> Result<_, store::StoreError> {
                    let members = s.conversation_members(room)?;
                    // Only groups ring with a record (a meeting's call is joined by its link).
                    let group = match (started, starter) {
                        (true, Some(u)) => {
                            s.conversation(u, room)?.is_some_and(|c| c.kind == store::ConversationKind::Group)
                        }
                        _ => false,
                    };
                    Ok((members, group))
                });
                let Ok(Ok((of_conv, group))) = conv.await else {
                    continue;
                };
                let now = crate::unix_now();
                let ended = conf.with_rings(|r| match starter {
                    Some(s) if started && group => r.start(room, s, &of_conv, now),
                    _ => r.in_call(room, &users, now),
                });
                rings_ended(&hub, &store, ended.unwrap_or_default()).await;
                let msg = ServerMessage::RoomRunning { seq: 0, conv: room, users, started };
                hub.input(Input::Push { devices: vec![], users: of_conv, msg: Box::new(msg) }).await;
            }
        }
    }
}
