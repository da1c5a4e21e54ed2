//! Connections, devices, resume, heartbeats and timers. Calls are in `calls.rs`, presence and
//! relations in `presence.rs`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::time::Instant;

use proto::ws::{
    self, close, CallId, ClientMessage, ClientPresence, Presence, Resume, ServerMessage, TransferId, UserId,
    WsErrorCode,
};

use crate::bucket::Bucket;
use crate::io::{ChatOp, ConnId, DeviceId, GuestScope, Input, Output, Relations, RoomOp};
use crate::HubConfig;

pub(crate) struct Conn {
    pub user: UserId,
    pub session: i64,
    pub device: Option<DeviceId>,
    /// Relations loaded at open, used when `hello` loads the user.
    pub relations: Option<Relations>,
    /// A guest's connection: only this meeting's chat and call.
    pub guest: Option<GuestScope>,
    pub last_activity: Instant,
    pub bucket: Bucket,
}

pub(crate) struct Device {
    pub user: UserId,
    pub session: i64,
    pub conn: Option<ConnId>,
    pub token: String,
    pub status: ClientPresence,
    /// The call this device takes part in (as caller, or as the answering callee device).
    pub call: Option<CallId>,
    /// Sequence number of the last event pushed.
    pub seq: u64,
    /// Recent events, for replay on resume.
    pub backlog: VecDeque<(u64, ServerMessage)>,
    /// Bumped at every detach, so a stale grace timer is recognised.
    pub grace_gen: u64,
    /// A proxy for a device of another node (`remote_calls.rs`): (node, its device id).
    pub remote: Option<(String, DeviceId)>,
}

pub(crate) struct User {
    pub devices: Vec<DeviceId>,
    pub contacts: HashSet<UserId>,
    pub blocked: HashSet<UserId>,
    /// Last presence pushed to contacts.
    pub shown: Presence,
    /// Chat posting rate, shared by all the user's devices.
    pub chat_bucket: Bucket,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Timer {
    Ring(CallId),
    FileOffer(TransferId),
    FileResume(TransferId),
    Grace(DeviceId, u64),
    Sweep,
    /// The socket must have said hello by now.
    Hello(ConnId),
    /// A `call_rejoin` claim's window ends.
    Rejoin(CallId, UserId),
}

/// The signaling hub. See the crate documentation.
pub struct Hub {
    pub(crate) cfg: HubConfig,
    pub(crate) conns: HashMap<ConnId, Conn>,
    pub(crate) devices: HashMap<DeviceId, Device>,
    pub(crate) resume_tokens: HashMap<String, DeviceId>,
    pub(crate) users: HashMap<UserId, User>,
    pub(crate) calls: HashMap<CallId, crate::calls::Call>,
    pub(crate) transfers: HashMap<TransferId, crate::files::Transfer>,
    pub(crate) next_transfer: TransferId,
    timers: BinaryHeap<Reverse<(Instant, Timer)>>,
    sweep_scheduled: bool,
    pub(crate) out: VecDeque<Output>,
    pub(crate) next_device: DeviceId,
    pub(crate) next_call: CallId,
    new_token: Box<dyn FnMut() -> String + Send>,
    /// Running totals for metrics.
    pub(crate) totals: Totals,
    /// `call_rejoin` claims waiting for the other side's, by (call, claiming user).
    pub(crate) rejoins: HashMap<(CallId, UserId), crate::rejoin::PendingRejoin>,
    /// Presence on the other nodes of a cluster.
    pub(crate) remote: crate::cluster::Remote,
    /// Proxies for other nodes' devices in this node's calls, by (node, device there).
    pub(crate) proxies: HashMap<(String, DeviceId), DeviceId>,
    /// Calls held by another node that this node's devices take part in: (node, devices).
    pub(crate) remote_calls: HashMap<CallId, crate::remote_calls::RemoteCall>,
    /// Calls of this run that lost their other side's node: claimable with `call_rejoin`.
    pub(crate) reclaimable: HashSet<CallId>,
    /// Other nodes were heard of: this hub is one node of a cluster.
    pub(crate) clustered: bool,
    /// File transfers held by another node (the sender's) offered to this node's devices.
    pub(crate) remote_transfers: HashMap<TransferId, (String, Vec<DeviceId>)>,
    /// Such transfers whose device here went away: (node, its user, until when another
    /// device of that user may take them over).
    pub(crate) resumable: HashMap<TransferId, (String, UserId, Instant)>,
    /// This node's devices whose conference another node holds: (node, conversation).
    pub(crate) remote_rooms: HashMap<DeviceId, (String, i64)>,
    /// Nodes holding a proxy of a local device for a room (told when the device goes).
    pub(crate) room_nodes_told: HashMap<DeviceId, Vec<String>>,
    /// Proxies taking part in a conference this node holds.
    pub(crate) room_proxies: HashSet<DeviceId>,
}

/// Counts since start (metrics).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Totals {
    pub presence_changes: u64,
    pub calls_started: u64,
}

/// What the hub holds now and has done since start, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HubStats {
    pub connections: usize,
    pub devices: usize,
    pub online_users: usize,
    pub active_calls: usize,
    pub presence_changes: u64,
    pub calls_started: u64,
}

impl Hub {
    /// `new_token` makes unguessable resume tokens (the hub has no randomness of its own).
    pub fn new(cfg: HubConfig, new_token: Box<dyn FnMut() -> String + Send>) -> Self {
        let first_call_id = cfg.first_call_id;
        Self {
            cfg,
            conns: HashMap::new(),
            devices: HashMap::new(),
            resume_tokens: HashMap::new(),
            users: HashMap::new(),
            calls: HashMap::new(),
            transfers: HashMap::new(),
            next_transfer: 1,
            timers: BinaryHeap::new(),
            sweep_scheduled: false,
            out: VecDeque::new(),
            next_device: 1,
            next_call: first_call_id,
            new_token,
            totals: Totals::default(),
            rejoins: HashMap::new(),
            remote: crate::cluster::Remote::default(),
            proxies: HashMap::new(),
            remote_calls: HashMap::new(),
            reclaimable: HashSet::new(),
            remote_transfers: HashMap::new(),
            resumable: HashMap::new(),
            clustered: false,
            remote_rooms: HashMap::new(),
            room_nodes_told: HashMap::new(),
            room_proxies: HashSet::new(),
        }
    }

    /// The next output to carry out, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When [`Hub::handle_timeout`] should be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((t, _))| *t)
    }

    /// Number of open connections (for metrics).
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// Current sizes and running totals, for metrics.
    pub fn stats(&self) -> HubStats {
        HubStats {
            connections: self.conns.len(),
            devices: self.devices.len(),
            online_users: self.users.len(),
            active_calls: self.calls.len(),
            presence_changes: self.totals.presence_changes,
            calls_started: self.totals.calls_started,
        }
    }

    /// Number of users with at least one device.
    pub fn online_users(&self) -> usize {
        self.users.len()
    }

    /// The presence a user currently shows to contacts (over every node of a cluster).
    pub fn presence_of(&self, user: UserId) -> Presence {
        match self.users.get(&user) {
            Some(u) => u.shown,
            None => self.remote.shown.get(&user).copied().unwrap_or(Presence::Offline),
        }
    }

    /// Every (user, session) with an open connection or a device, for re-validation.
    pub fn sessions(&self) -> Vec<(UserId, i64)> {
        let mut all: Vec<(UserId, i64)> = self
            .conns
            .values()
            .map(|c| (c.user, c.session))
            .chain(self.devices.values().filter(|d| d.remote.is_none()).map(|d| (d.user, d.session)))
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    pub(crate) fn schedule(&mut self, at: Instant, t: Timer) {
        self.timers.push(Reverse((at, t)));
    }

    pub fn handle(&mut self, input: Input, now: Instant) {
        if matches!(
            input,
            Input::RemotePresence { .. } | Input::NodeState { .. } | Input::NodeGone { .. } | Input::FromNode { .. }
        ) {
            self.clustered = true;
        }
        match input {
            Input::Open { conn, user, session, relations, guest } => {
                let (of_user, of_session) = self
                    .conns
                    .values()
                    .fold((0, 0), |(u, s), c| (u + usize::from(c.user == user), s + usize::from(c.session == session)));
                if of_user >= self.cfg.max_sockets_per_user || of_session >= self.cfg.max_sockets_per_session {
                    self.out.push_back(Output::Close {
                        conn,
                        code: close::TOO_MANY_SOCKETS,
                        reason: "too many connections for this account",
                    });
                    return;
                }
                self.schedule(now + self.cfg.hello_timeout, Timer::Hello(conn));
                self.conns.insert(
                    conn,
                    Conn {
                        user,
                        session,
                        device: None,
                        relations: Some(relations),
                        guest,
                        last_activity: now,
                        bucket: Bucket::new(self.cfg.rate_burst, now),
                    },
                );
                if !self.sweep_scheduled {
                    self.sweep_scheduled = true;
                    self.schedule(now + self.cfg.heartbeat_interval, Timer::Sweep);
                }
            }
            Input::Text { conn, text } => self.on_text(conn, &text, now),
            Input::Binary { conn } => {
                if self.touch(conn, now) {
                    self.reply_error(conn, None, WsErrorCode::BadMessage, "binary frames are not part of the protocol");
                }
            }
            Input::Activity { conn } => {
                self.touch(conn, now);
            }
            Input::Closed { conn, clean } => self.drop_conn(conn, clean, now),
            Input::Overflow { conn } => {
                self.out.push_back(Output::Close { conn, code: close::TOO_SLOW, reason: "client too slow" });
                self.drop_conn(conn, false, now);
            }
            Input::RelationChanged { a, b, contacts, blocked, event_for_a, event_for_b } => {
                self.relation_changed(a, b, contacts, blocked, event_for_a, event_for_b);
            }
            Input::SessionsEnded { user, only, keep } => self.sessions_ended(user, only, keep, now),
            Input::GuestOut { user, reason } => self.close_user(user, None, None, close::MEETING_OVER, reason, now),
            Input::ChatDeliver(d) => {
                let d = *d;
                self.chat_deliver(d.reply, &d.to, d.except, d.event)
            }
            Input::Push { devices, users, msg } => self.room_push(&devices, &users, *msg),
            Input::Reply { device, msg } => self.reply_to_device(device, *msg),
            Input::RemotePresence { node, user, status, devices } => self.remote_presence(&node, user, status, devices),
            Input::NodeState { node, users } => self.node_state(&node, users),
            Input::NodeGone { node } => {
                self.node_state(&node, Vec::new());
                self.node_calls_gone(&node, now);
                self.node_rooms_gone(&node);
            }
            Input::RoomElsewhere { node, req } => self.room_elsewhere(node, req),
            Input::FromNode { node, msg } => self.node_message(&node, msg, now),
        }
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, t))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            match t {
                Timer::Ring(call) => self.ring_timeout(call, now),
                Timer::FileOffer(t) => self.file_offer_timeout(t, now),
                Timer::FileResume(t) => self.file_resume_timeout(t, now),
                Timer::Grace(dev, gen) => {
                    let expired = self.devices.get(&dev).is_some_and(|d| d.conn.is_none() && d.grace_gen == gen);
                    if expired {
                        self.remove_device(dev, now);
                    }
                }
                Timer::Sweep => self.sweep(now),
                Timer::Rejoin(call, user) => self.rejoin_timeout(call, user, now),
                Timer::Hello(conn) => {
                    if self.conns.get(&conn).is_some_and(|c| c.device.is_none()) {
                        self.out.push_back(Output::Close { conn, code: close::HELLO_TIMEOUT, reason: "no hello" });
                        self.drop_conn(conn, false, now);
                    }
                }
            }
        }
    }

    /// Heartbeat: ping every connection, close those silent for too long.
    fn sweep(&mut self, now: Instant) {
        let timeout = self.cfg.heartbeat_timeout;
        let (mut dead, mut alive) = (Vec::new(), Vec::new());
        for (id, c) in &self.conns {
            if now.saturating_duration_since(c.last_activity) >= timeout {
                dead.push(*id);
            } else {
                alive.push(*id);
            }
        }
        for conn in dead {
            self.out.push_back(Output::Close { conn, code: close::HEARTBEAT_TIMEOUT, reason: "heartbeat timeout" });
            self.drop_conn(conn, false, now);
        }
        for conn in alive {
            self.out.push_back(Output::Ping { conn });
        }
        if self.conns.is_empty() {
            self.sweep_scheduled = false;
        } else {
            self.schedule(now + self.cfg.heartbeat_interval, Timer::Sweep);
        }
    }

    /// Records life on a connection; false if it is unknown.
    fn touch(&mut self, conn: ConnId, now: Instant) -> bool {
        match self.conns.get_mut(&conn) {
            Some(c) => {
                c.last_activity = now;
                true
            }
            None => false,
        }
    }

    fn on_text(&mut self, conn: ConnId, text: &str, now: Instant) {
        let (rate, burst, strikes_max) = (self.cfg.rate_per_sec, self.cfg.rate_burst, self.cfg.rate_strikes_to_close);
        let Some(c) = self.conns.get_mut(&conn) else { return };
        c.last_activity = now;
        if !c.bucket.take(rate, burst, now) {
            if c.bucket.strikes >= strikes_max {
                self.out.push_back(Output::Close { conn, code: close::POLICY, reason: "rate limit exceeded" });
                self.drop_conn(conn, true, now);
            } else {
                self.reply_error(conn, None, WsErrorCode::RateLimited, WsErrorCode::RateLimited.default_message());
            }
            return;
        }
        let msg = match ws::decode_client(text) {
            Ok(m) => m,
            Err(e) => return self.reply_error(conn, e.id, e.code, &e.message),
        };
        let device = c.device;
        if let Some(scope) = c.guest {
            if !crate::guests::may(&msg, scope) {
                return self.reply_error(
                    conn,
                    msg.id(),
                    WsErrorCode::GuestForbidden,
                    WsErrorCode::GuestForbidden.default_message(),
                );
            }
        }
        if let Some(dev) = device {
            if self.forward_call_request(dev, &msg) || self.forward_transfer_request(dev, &msg) {
                return;
            }
        }
        match (msg, device) {
            (ClientMessage::Hello { v, resume }, None) => self.hello(conn, v, resume, now),
            (m @ ClientMessage::Hello { .. }, Some(_)) | (m, None) => {
                self.reply_error(conn, m.id(), WsErrorCode::HelloRequired, WsErrorCode::HelloRequired.default_message())
            }
            (ClientMessage::Ping { id }, Some(_)) => self.reply(conn, ServerMessage::Pong { id }),
            (ClientMessage::SetPresence { id, status }, Some(dev)) => {
                if let Some(d) = self.devices.get_mut(&dev) {
                    d.status = status;
                    let user = d.user;
                    self.refresh_presence(user);
                }
                self.reply_ok(conn, id);
            }
            (ClientMessage::CallInvite { id, callee, media }, Some(dev)) => {
                self.call_invite(dev, id, callee, media, now)
            }
            (ClientMessage::CallAccept { id, call_id }, Some(dev)) => self.call_accept(dev, id, call_id, now),
            (ClientMessage::CallDecline { id, call_id }, Some(dev)) => self.call_decline(dev, id, call_id, now),
            (ClientMessage::CallHangup { id, call_id, reason }, Some(dev)) => {
                self.call_hangup(dev, id, call_id, reason, now)
            }
            (ClientMessage::CallSignal { id, call_id, data }, Some(dev)) => self.call_signal(dev, id, call_id, data),
            (ClientMessage::CallRejoin { id, call_id, peer, role, media }, Some(dev)) => {
                self.call_rejoin(dev, id, call_id, peer, role, media, now)
            }
            (ClientMessage::ChatSend { id, conv, client_id, text }, Some(dev)) => {
                self.chat_request(dev, id, ChatOp::Send { conv, client_id, text }, now)
            }
            (ClientMessage::ChatEdit { id, conv, message, text }, Some(dev)) => {
                self.chat_request(dev, id, ChatOp::Edit { conv, message, text }, now)
            }
            (ClientMessage::ChatDelete { id, conv, message }, Some(dev)) => {
                self.chat_request(dev, id, ChatOp::Delete { conv, message }, now)
            }
            (ClientMessage::ChatReceipt { id, conv, delivered, read }, Some(dev)) => {
                self.chat_request(dev, id, ChatOp::Receipt { conv, delivered, read }, now)
            }
            (ClientMessage::ChatTyping { conv }, Some(dev)) => {
                self.chat_request(dev, None, ChatOp::Typing { conv }, now)
            }
            (ClientMessage::FileOffer { id, to, name, size, mime }, Some(dev)) => {
                self.file_offer(dev, id, crate::files::Offer { to, name, size, mime }, now)
            }
            (ClientMessage::FileAccept { id, transfer_id }, Some(dev)) => self.file_accept(dev, id, transfer_id),
            (ClientMessage::FileDecline { id, transfer_id }, Some(dev)) => self.file_decline(dev, id, transfer_id),
            (ClientMessage::FileSignal { id, transfer_id, data }, Some(dev)) => {
                self.file_signal(dev, id, transfer_id, data)
            }
            (ClientMessage::FileResume { id, transfer_id }, Some(dev)) => self.file_resume(dev, id, transfer_id),
            (ClientMessage::FileEnd { id, transfer_id, reason }, Some(dev)) => {
                self.file_end(dev, id, transfer_id, reason)
            }
            (ClientMessage::RoomJoin { id, conv, rejoin }, Some(dev)) => {
                self.room_request(dev, id, RoomOp::Join { conv, rejoin })
            }
            (ClientMessage::RoomSdp { id, conv, kind, rev, sdp, sources }, Some(dev)) => {
                let offer = kind == ws::SdpKind::Offer;
                self.room_request(dev, id, RoomOp::Sdp { conv, offer, rev, sdp, sources })
            }
            (ClientMessage::RoomTiles { conv, tiles }, Some(dev)) => {
                self.room_request(dev, None, RoomOp::Tiles { conv, tiles })
            }
            (ClientMessage::RoomState { conv, muted, camera_off, hand }, Some(dev)) => {
                self.room_request(dev, None, RoomOp::State { conv, muted, camera_off, hand })
            }
            (ClientMessage::RoomLeave { id, conv }, Some(dev)) => self.room_request(dev, id, RoomOp::Leave { conv }),
            (ClientMessage::RoomDecline { id, conv }, Some(dev)) => {
                self.room_request(dev, id, RoomOp::Decline { conv })
            }
            (ClientMessage::RoomModerate { id, conv, participant, action }, Some(dev)) => {
                self.room_request(dev, id, RoomOp::Moderate { conv, target: participant, action })
            }
        }
    }

    fn hello(&mut self, conn: ConnId, v: u32, resume: Option<Resume>, now: Instant) {
        if v != ws::PROTOCOL_VERSION {
            self.reply_error(
                conn,
                None,
                WsErrorCode::UnsupportedVersion,
                &format!("this server speaks protocol version {}", ws::PROTOCOL_VERSION),
            );
            self.out.push_back(Output::Close { conn, code: close::UNSUPPORTED_VERSION, reason: "unsupported version" });
            self.drop_conn(conn, true, now);
            return;
        }
        let Some(c) = self.conns.get_mut(&conn) else { return };
        let (user, session) = (c.user, c.session);
        let relations = c.relations.take().unwrap_or_default();
        // What local contacts were shown while the user had no device here (on another node).
        let shown_elsewhere = self.remote.shown.remove(&user).unwrap_or(Presence::Offline);
        self.users.entry(user).or_insert_with(|| User {
            devices: Vec::new(),
            contacts: relations.contacts.iter().copied().collect(),
            blocked: relations.blocked.iter().copied().collect(),
            shown: shown_elsewhere,
            chat_bucket: Bucket::new(self.cfg.chat_burst, now),
        });

        // Resume an earlier device of the same session, if the token matches.
        let resumable = resume.as_ref().and_then(|r| {
            let dev = *self.resume_tokens.get(&r.token)?;
            let d = self.devices.get(&dev)?;
            (d.user == user && d.session == session).then_some((dev, r.last_seq))
        });
        if let Some((dev, last_seq)) = resumable {
            if let Some(old) = self.devices.get(&dev).and_then(|d| d.conn) {
                if old != conn {
                    self.out.push_back(Output::Close {
                        conn: old,
                        code: close::SESSION_ENDED,
                        reason: "resumed on another connection",
                    });
                    self.conns.remove(&old);
                }
            }
            if let Some(c) = self.conns.get_mut(&conn) {
                c.device = Some(dev);
            }
            let Some(d) = self.devices.get_mut(&dev) else { return };
            d.conn = Some(conn);
            d.grace_gen += 1;
            let welcome = self.welcome(user, dev, true);
            self.reply(conn, welcome);
            self.replay(dev, conn, last_seq);
            return;
        }

        let dev = self.next_device;
        self.next_device += 1;
        let token = (self.new_token)();
        self.resume_tokens.insert(token.clone(), dev);
        self.devices.insert(
            dev,
            Device {
                user,
                session,
                conn: Some(conn),
                token,
                status: ClientPresence::Online,
                call: None,
                seq: 0,
                backlog: VecDeque::new(),
                grace_gen: 0,
                remote: None,
            },
        );
        if let Some(c) = self.conns.get_mut(&conn) {
            c.device = Some(dev);
        }
        if let Some(u) = self.users.get_mut(&user) {
            u.devices.push(dev);
        }
        let welcome = self.welcome(user, dev, false);
        self.reply(conn, welcome);
        self.refresh_presence(user);
    }

    fn welcome(&self, user: UserId, dev: DeviceId, resumed: bool) -> ServerMessage {
        let resume_token = self.devices.get(&dev).map(|d| d.token.clone()).unwrap_or_default();
        ServerMessage::Welcome {
            v: ws::PROTOCOL_VERSION,
            user,
            device: dev,
            resume_token,
            resumed,
            heartbeat_secs: self.cfg.heartbeat_interval.as_secs(),
            presence: self.contact_presence(user),
        }
    }

    /// Sends the events after `last_seq`, or `resync` if some are no longer buffered.
    fn replay(&mut self, dev: DeviceId, conn: ConnId, last_seq: u64) {
        let Some(d) = self.devices.get(&dev) else { return };
        let oldest = d.backlog.front().map(|(s, _)| *s).unwrap_or(d.seq + 1);
        if last_seq > d.seq || oldest > last_seq + 1 {
            let seq = d.seq;
            self.reply(conn, ServerMessage::Resync { seq });
            return;
        }
        let missed: Vec<ServerMessage> =
            d.backlog.iter().filter(|(s, _)| *s > last_seq).map(|(_, m)| m.clone()).collect();
        for msg in missed {
            self.out.push_back(Output::Send { conn, msg });
        }
    }

    /// Forgets a connection. Its device is removed at once (`clean`) or after the grace period.
    pub(crate) fn drop_conn(&mut self, conn: ConnId, clean: bool, now: Instant) {
        let Some(c) = self.conns.remove(&conn) else { return };
        let Some(dev) = c.device else { return };
        let Some(d) = self.devices.get_mut(&dev) else { return };
        if d.conn != Some(conn) {
            return;
        }
        d.conn = None;
        if clean {
            self.remove_device(dev, now);
        } else {
            d.grace_gen += 1;
            let gen = d.grace_gen;
            self.schedule(now + self.cfg.resume_grace, Timer::Grace(dev, gen));
        }
    }

    pub(crate) fn remove_device(&mut self, dev: DeviceId, now: Instant) {
        self.device_leaves_calls(dev, now);
        self.device_leaves_remote_calls(dev, now);
        self.device_leaves_remote_room(dev);
        self.device_leaves_transfers(dev, now);
        self.device_leaves_rejoins(dev);
        let Some(d) = self.devices.remove(&dev) else { return };
        self.out.push_back(Output::DeviceGone { device: dev });
        self.resume_tokens.remove(&d.token);
        if let Some(c) = d.conn {
            self.conns.remove(&c);
        }
        let gone = match self.users.get_mut(&d.user) {
            Some(u) => {
                u.devices.retain(|x| *x != dev);
                u.devices.is_empty()
            }
            None => false,
        };
        self.refresh_presence(d.user);
        if gone {
            if let Some(u) = self.users.remove(&d.user) {
                // Still online on another node: what local contacts see stays as shown.
                if u.shown != Presence::Offline {
                    self.remote.shown.insert(d.user, u.shown);
                }
            }
        }
    }

    fn sessions_ended(&mut self, user: UserId, only: Option<i64>, keep: Option<i64>, now: Instant) {
        self.close_user(user, only, keep, close::SESSION_ENDED, "session ended", now);
    }

    /// Closes the user's sockets (those of session `only`, or all but `keep`) for good.
    fn close_user(
        &mut self,
        user: UserId,
        only: Option<i64>,
        keep: Option<i64>,
        code: u16,
        reason: &'static str,
        now: Instant,
    ) {
        let matches = |s: i64| only.is_none_or(|o| o == s) && keep != Some(s);
        let devs: Vec<DeviceId> =
            self.devices.iter().filter(|(_, d)| d.user == user && matches(d.session)).map(|(id, _)| *id).collect();
        for dev in devs {
            if let Some(conn) = self.devices.get(&dev).and_then(|d| d.conn) {
                self.out.push_back(Output::Close { conn, code, reason });
            }
            self.remove_device(dev, now);
        }
        let conns: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.user == user && c.device.is_none() && matches(c.session))
            .map(|(id, _)| *id)
            .collect();
        for conn in conns {
            self.out.push_back(Output::Close { conn, code, reason });
            self.conns.remove(&conn);
        }
    }

    // --- sending

    /// Pushes an event to a device: numbered, kept for replay, sent if connected.
    pub(crate) fn push(&mut self, dev: DeviceId, make: impl FnOnce(u64) -> ServerMessage) {
        if self.devices.get(&dev).is_some_and(|d| d.remote.is_some()) {
            // Another node's device: that node numbers it.
            self.send_to_proxy(dev, make(0));
            return;
        }
        let cap = self.cfg.replay_buffer;
        let Some(d) = self.devices.get_mut(&dev) else { return };
        d.seq += 1;
        let msg = make(d.seq);
        if let Some(conn) = d.conn {
            self.out.push_back(Output::Send { conn, msg: msg.clone() });
        }
        d.backlog.push_back((d.seq, msg));
        while d.backlog.len() > cap {
            d.backlog.pop_front();
        }
    }

    pub(crate) fn reply(&mut self, conn: ConnId, msg: ServerMessage) {
        self.out.push_back(Output::Send { conn, msg });
    }

    pub(crate) fn reply_ok(&mut self, conn: ConnId, id: Option<u64>) {
        if let Some(id) = id {
            self.reply(conn, ServerMessage::Ok { id });
        }
    }

    pub(crate) fn reply_error(&mut self, conn: ConnId, id: Option<u64>, code: WsErrorCode, message: &str) {
        self.reply(conn, ServerMessage::Error { id, code, message: message.to_owned() });
    }

    /// Reply to the device's current connection (requests always come from a connected device).
    pub(crate) fn device_conn(&self, dev: DeviceId) -> Option<ConnId> {
        self.devices.get(&dev).and_then(|d| d.conn)
    }
}

impl Hub {
    /// Checks the hub's internal consistency; used by property tests and fuzzing.
    /// - a device is in at most one call, and that call names it;
    /// - every call's caller device (and answering device) points back at it;
    /// - connections, devices and users agree on each other;
    /// - a proxy (another node's device) is kept only while a call, transfer or room has it.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        use crate::calls::CallState;
        for (id, d) in &self.devices {
            // A device in a call another node holds (it answered there) is checked by that node.
            let held_elsewhere = |c: &CallId| self.remote_calls.get(c).is_some_and(|rc| rc.devices.contains(id));
            if let Some(call) = d.call.filter(|c| !held_elsewhere(c)) {
                let c = self.calls.get(&call).ok_or(format!("device {id} in vanished call {call}"))?;
                let in_it = c.caller_dev == *id || matches!(c.state, CallState::Active(x) if x == *id);
                if !in_it {
                    return Err(format!("device {id} claims call {call} it is not in"));
                }
            }
            if let Some(conn) = d.conn {
                if self.conns.get(&conn).and_then(|c| c.device) != Some(*id) {
                    return Err(format!("device {id} and conn {conn} disagree"));
                }
            }
            if d.remote.is_some() {
                let used = self.calls.values().any(|c| c.participant(*id))
                    || self.transfers.values().any(|t| t.involves(*id))
                    || self.room_proxies.contains(id);
                if !used {
                    return Err(format!("proxy {id} in no call, transfer or room"));
                }
                continue;
            }
            if !self.users.get(&d.user).is_some_and(|u| u.devices.contains(id)) {
                return Err(format!("device {id} missing from its user"));
            }
            if self.resume_tokens.get(&d.token) != Some(id) {
                return Err(format!("device {id} has no resume token entry"));
            }
        }
        for (id, c) in &self.calls {
            if self.devices.get(&c.caller_dev).and_then(|d| d.call) != Some(*id) {
                return Err(format!("call {id}: caller device not in it"));
            }
            match &c.state {
                CallState::Active(d) => {
                    if self.devices.get(d).and_then(|x| x.call) != Some(*id) {
                        return Err(format!("call {id}: answering device not in it"));
                    }
                    if c.caller_dev == *d {
                        return Err(format!("call {id}: device calls itself"));
                    }
                }
                CallState::Ringing(devs, _) => {
                    if devs.is_empty() {
                        return Err(format!("call {id} rings nowhere"));
                    }
                    if devs.iter().any(|d| self.devices.get(d).map(|x| x.user) != Some(c.callee)) {
                        return Err(format!("call {id} rings a device not of the callee"));
                    }
                }
            }
        }
        // Person-to-person transfers name only devices that exist, and never one twice.
        for (id, t) in &self.transfers {
            use crate::files::TransferState;
            if !self.devices.contains_key(&t.sender_dev) {
                return Err(format!("transfer {id}: sender device gone"));
            }
            match &t.state {
                TransferState::Offered(devs) => {
                    if devs.is_empty() || devs.iter().any(|d| !self.devices.contains_key(d) || *d == t.sender_dev) {
                        return Err(format!("transfer {id} offered to no device, a vanished one or its sender"));
                    }
                }
                TransferState::Accepted(d) => {
                    if !self.devices.contains_key(d) || *d == t.sender_dev {
                        return Err(format!("transfer {id}: receiving device gone, or the sender itself"));
                    }
                }
                TransferState::Detached { .. } => {}
            }
        }
        for (id, u) in &self.users {
            if u.devices.is_empty() {
                return Err(format!("user {id} loaded without devices"));
            }
        }
        Ok(())
    }
}
