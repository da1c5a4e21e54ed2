//! A hub with a fake clock and helpers to speak the protocol to it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hub::{ConnId, Hub, HubConfig, Input, Output, Relations};
use proto::ws::{ServerMessage, UserId};

pub struct World {
    pub hub: Hub,
    pub now: Instant,
    /// Everything sent to each connection, in order.
    pub inbox: HashMap<ConnId, Vec<ServerMessage>>,
    pub closed: HashMap<ConnId, u16>,
    pub pings: usize,
    pub records: Vec<hub::CallRecord>,
    /// Chat requests handed to the driver.
    pub chat: Vec<hub::ChatRequest>,
    /// Conference requests handed to the driver.
    pub rooms: Vec<hub::RoomRequest>,
    /// Devices the hub reported gone for good.
    pub gone: Vec<hub::DeviceId>,
    /// What the hub published for the other nodes of a cluster.
    pub published: Vec<hub::NodeUser>,
    /// Messages for one other node (calls between nodes).
    pub to_nodes: Vec<(String, hub::NodeMsg)>,
    next_conn: ConnId,
}

pub fn test_config() -> HubConfig {
    HubConfig {
        ring_timeout: Duration::from_secs(45),
        resume_grace: Duration::from_secs(10),
        heartbeat_interval: Duration::from_secs(20),
        heartbeat_timeout: Duration::from_secs(50),
        ..HubConfig::default()
    }
}

impl World {
    pub fn new() -> Self {
        Self::with(test_config())
    }

    pub fn with(cfg: HubConfig) -> Self {
        let mut n = 0u64;
        let hub = Hub::new(
            cfg,
            Box::new(move || {
                n += 1;
                format!("token-{n}")
            }),
        );
        Self {
            hub,
            now: Instant::now(),
            inbox: HashMap::new(),
            closed: HashMap::new(),
            pings: 0,
            records: Vec::new(),
            chat: Vec::new(),
            rooms: Vec::new(),
            gone: Vec::new(),
            published: Vec::new(),
            to_nodes: Vec::new(),
            next_conn: 1,
        }
    }

    pub fn input(&mut self, i: Input) {
        self.hub.handle(i, self.now);
        self.drain();
    }

    pub fn drain(&mut self) {
        while let Some(o) = self.hub.poll_output() {
            match o {
                Output::Send { conn, msg } => self.inbox.entry(conn).or_default().push(msg),
                Output::Close { conn, code, .. } => {
                    self.closed.insert(conn, code);
                }
                Output::Ping { .. } => self.pings += 1,
                Output::CallFinished(r) => self.records.push(r),
                Output::Chat(r) => self.chat.push(r),
                Output::Room(r) => self.rooms.push(r),
                Output::DeviceGone { device } => self.gone.push(device),
                Output::LocalPresence { user, status, devices } => self.published.push((user, status, devices)),
                Output::ToNode { node, msg } => self.to_nodes.push((node, msg)),
            }
        }
    }

    pub fn advance(&mut self, d: Duration) {
        let target = self.now + d;
        while let Some(t) = self.hub.poll_timeout() {
            if t > target {
                break;
            }
            self.now = self.now.max(t);
            self.hub.handle_timeout(self.now);
            self.drain();
        }
        self.now = target;
    }

    /// Opens a socket for `user` (session = user id unless given) and says hello.
    pub fn connect(&mut self, user: UserId, contacts: &[UserId]) -> ConnId {
        self.connect_session(user, user, contacts)
    }

    pub fn connect_session(&mut self, user: UserId, session: i64, contacts: &[UserId]) -> ConnId {
        let conn = self.open(user, session, contacts);
        self.text(conn, r#"{"type":"hello","v":1}"#);
        conn
    }

    pub fn open(&mut self, user: UserId, session: i64, contacts: &[UserId]) -> ConnId {
        self.open_as(user, session, contacts, None)
    }

    /// A guest's connection, scoped to one meeting conversation.
    pub fn connect_guest(&mut self, user: UserId, conv: i64) -> ConnId {
        let conn = self.open_as(user, user, &[], Some(hub::GuestScope { conv }));
        self.text(conn, r#"{"type":"hello","v":1}"#);
        conn
    }

    fn open_as(&mut self, user: UserId, session: i64, contacts: &[UserId], guest: Option<hub::GuestScope>) -> ConnId {
        let conn = self.next_conn;
        self.next_conn += 1;
        self.input(Input::Open {
            conn,
            user,
            session,
            relations: Relations { contacts: contacts.to_vec(), blocked: vec![] },
            guest,
        });
        conn
    }

    pub fn text(&mut self, conn: ConnId, text: &str) {
        self.input(Input::Text { conn, text: text.to_owned() });
    }

    pub fn msgs(&self, conn: ConnId) -> &[ServerMessage] {
        self.inbox.get(&conn).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn last(&self, conn: ConnId) -> Option<&ServerMessage> {
        self.msgs(conn).last()
    }

    pub fn clear(&mut self) {
        self.inbox.clear();
    }

    /// The call id of the last call_incoming / call_ringing / call_ended seen by `conn`.
    pub fn call_id(&self, conn: ConnId) -> u64 {
        self.msgs(conn)
            .iter()
            .rev()
            .find_map(|m| match m {
                ServerMessage::CallIncoming { call_id, .. }
                | ServerMessage::CallRinging { call_id, .. }
                | ServerMessage::CallEnded { call_id, .. } => Some(*call_id),
                _ => None,
            })
            .expect("no call message")
    }

    pub fn resume_token(&self, conn: ConnId) -> String {
        self.msgs(conn)
            .iter()
            .find_map(|m| match m {
                ServerMessage::Welcome { resume_token, .. } => Some(resume_token.clone()),
                _ => None,
            })
            .expect("no welcome")
    }
}

/// The presence updates a connection received, in order.
pub fn presence_updates(w: &World, conn: ConnId) -> Vec<(UserId, proto::ws::Presence)> {
    w.msgs(conn)
        .iter()
        .filter_map(|m| match m {
            ServerMessage::Presence { user, status, .. } => Some((*user, *status)),
            _ => None,
        })
        .collect()
}
