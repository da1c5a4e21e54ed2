//! Several nodes as one service: the bus between them (NATS).
//!
//! Each node publishes on `<prefix>.event` what its hub must tell users wherever they are
//! connected — its users' presence and devices, 1:1 call events between its devices and
//! another node's (addressed to that node), chat deliveries (messages, receipts, typing), contact
//! changes, ended sessions, sign-in outcomes (each node's login backoff counts every node's
//! failures) — and every `STATE_EVERY` its whole presence list and load on
//! `<prefix>.state` (a heartbeat: a node not heard of for `NODE_TIMEOUT` is gone, and its
//! users' presence with it; a node that stops gracefully says so, `Leaving`, and stops its
//! heartbeat, so the others act at once). Each node feeds what the others publish into its
//! own hub as inputs. The database (PostgreSQL) is the truth; the bus only carries who must
//! be told what now, so a lost message costs a late presence update (repaired by the next
//! list) or a live chat event (the device catches up from the store when it next
//! reconnects).
//!
//! When NATS is unreachable a node goes on serving its own sockets; it reconnects by itself
//! and the periodic lists bring presence back in line.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use auth::ratelimit::LoginLimiter;
use futures_util::StreamExt;
use hub::{ChatEvent, HubStats, Input};
use proto::ws::{ContactEvent, Presence, ServerMessage, UserId};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// How often a node publishes its list (and so says it is alive).
pub const STATE_EVERY: Duration = Duration::from_secs(2);
/// A node not heard of for this long is gone.
pub const NODE_TIMEOUT: Duration = Duration::from_secs(7);

/// `[cluster]` as the web server needs it.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// `nats://host:4222` (or `tls://`), several separated by commas.
    pub nats_url: String,
    /// This node's name, unique in the cluster.
    pub node: String,
    /// NATS credentials file (`.creds`: JWT and NKey seed), if the server wants one.
    pub credentials_file: Option<PathBuf>,
    /// PEM of the CA of NATS's TLS certificate, if not a system root.
    pub ca_file: Option<PathBuf>,
    /// Subjects start with this (several clusters may share one NATS).
    pub prefix: String,
}

/// What this node's hub does now, in every node's list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeLoad {
    pub connections: usize,
    pub online_users: usize,
    pub active_calls: usize,
    /// Devices in the conferences this node holds (what places new rooms elsewhere).
    #[serde(default)]
    pub room_participants: usize,
}

impl From<HubStats> for NodeLoad {
    fn from(s: HubStats) -> Self {
        Self {
            connections: s.connections,
            online_users: s.online_users,
            active_calls: s.active_calls,
            room_participants: 0,
        }
    }
}

impl NodeLoad {
    /// Orders nodes for a new conference: fewest people in rooms, then fewest sockets.
    fn room_cost(&self) -> (usize, usize) {
        (self.room_participants, self.connections)
    }
}

/// Where a new conference goes: the least-loaded of `nodes` (ties: the first name).
pub(crate) fn least_loaded(nodes: &[(String, NodeLoad)]) -> Option<&str> {
    nodes.iter().min_by(|a, b| (a.1.room_cost(), &a.0).cmp(&(b.1.room_cost(), &b.0))).map(|(n, _)| n.as_str())
}

/// What this node knows of the others from the bus: who is alive with what load, and the
/// conferences they hold (from their `room_running` events).
#[derive(Default)]
pub(crate) struct View {
    nodes: Mutex<HashMap<String, (Instant, NodeLoad)>>,
    /// Nodes that said they were leaving: what they still send as they close (their users'
    /// presence) does not count as alive; a heartbeat does (the node started again).
    left: Mutex<HashSet<String>>,
    mine: Mutex<NodeLoad>,
    calls: Mutex<HashMap<i64, CallElsewhere>>,
}

/// A conference another node holds.
#[derive(Debug, Clone)]
struct CallElsewhere {
    node: String,
    /// Who is in it.
    users: Vec<UserId>,
    /// The conversation's members (told when it ends with its node).
    members: Vec<UserId>,
}

impl View {
    fn heard(&self, node: &str, load: Option<NodeLoad>) {
        {
            let mut left = lock(&self.left);
            if left.contains(node) {
                if load.is_none() {
                    return;
                }
                left.remove(node);
            }
        }
        let mut nodes = lock(&self.nodes);
        let entry = nodes.entry(node.to_owned()).or_insert_with(|| (Instant::now(), NodeLoad::default()));
        entry.0 = Instant::now();
        if let Some(l) = load {
            entry.1 = l;
        }
    }

    /// Nodes not heard of for [`NODE_TIMEOUT`], forgotten with the calls they held; for
    /// each such call, the `room_running` that says it ended, for its members.
    fn expire(&self, now: Instant) -> (Vec<String>, Vec<Input>) {
        let gone: Vec<String> = {
            let mut nodes = lock(&self.nodes);
            let gone: Vec<String> = nodes
                .iter()
                .filter(|(_, (at, _))| now.duration_since(*at) > NODE_TIMEOUT)
                .map(|(n, _)| n.clone())
                .collect();
            for n in &gone {
                nodes.remove(n);
            }
            gone
        };
        self.forget(gone)
    }

    /// `node` said it is leaving: gone now, as [`View::expire`] finds a silent one.
    fn leave(&self, node: &str) -> (Vec<String>, Vec<Input>) {
        lock(&self.left).insert(node.to_owned());
        let known = lock(&self.nodes).remove(node).is_some();
        self.forget(if known { vec![node.to_owned()] } else { Vec::new() })
    }

    /// The calls `gone` held are forgotten; for each, the `room_running` that says it ended.
    fn forget(&self, gone: Vec<String>) -> (Vec<String>, Vec<Input>) {
        let mut ended = Vec::new();
        let mut calls = lock(&self.calls);
        calls.retain(|conv, c| {
            if !gone.contains(&c.node) {
                return true;
            }
            let msg = ServerMessage::RoomRunning { seq: 0, conv: *conv, users: vec![], started: false };
            ended.push(Input::Push { devices: vec![], users: c.members.clone(), msg: Box::new(msg) });
            false
        });
        (gone, ended)
    }

    fn call_running(&self, node: &str, conv: i64, users: &[UserId], members: &[UserId]) {
        let mut calls = lock(&self.calls);
        if users.is_empty() {
            if calls.get(&conv).is_some_and(|c| c.node == node) {
                calls.remove(&conv);
            }
        } else {
            calls.insert(
                conv,
                CallElsewhere { node: node.to_owned(), users: users.to_vec(), members: members.to_vec() },
            );
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Everything on the bus.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum BusMsg {
    Presence {
        node: String,
        user: UserId,
        status: Presence,
        /// The user's devices on that node (what a call to them rings there).
        devices: Vec<hub::DeviceId>,
    },
    State {
        node: String,
        users: Vec<hub::NodeUser>,
        load: NodeLoad,
    },
    /// For one node only: a 1:1 call between its devices and the sender's.
    Direct {
        node: String,
        to: String,
        msg: hub::NodeMsg,
    },
    Chat {
        node: String,
        to: Vec<UserId>,
        event: ChatEvent,
    },
    Relation {
        node: String,
        a: UserId,
        b: UserId,
        contacts: bool,
        blocked: bool,
        event_for_a: Option<ContactEvent>,
        event_for_b: Option<ContactEvent>,
    },
    SessionsEnded {
        node: String,
        user: UserId,
        only: Option<i64>,
        keep: Option<i64>,
    },
    /// An event for every device of these users (on every node): a conference started,
    /// changed or ended, a ring ended.
    Push {
        node: String,
        users: Vec<UserId>,
        msg: ServerMessage,
    },
    /// A meeting's guest is out: their sockets close on every node.
    GuestOut {
        node: String,
        user: UserId,
        reason: String,
    },
    /// A user is out of a conversation: out of its conference, wherever it runs.
    RemoveUser {
        node: String,
        conv: i64,
        user: UserId,
    },
    /// A sign-in attempt's outcome, for every node's login backoff.
    Login {
        node: String,
        account: String,
        ip: std::net::IpAddr,
        ok: bool,
    },
    /// The node stops (a graceful shutdown): gone now, not after [`NODE_TIMEOUT`] of silence,
    /// so no conference is placed on it and the calls and rooms it held move at once.
    Leaving {
        node: String,
    },
}

impl BusMsg {
    fn node(&self) -> &str {
        match self {
            BusMsg::Presence { node, .. }
            | BusMsg::State { node, .. }
            | BusMsg::Direct { node, .. }
            | BusMsg::Chat { node, .. }
            | BusMsg::Relation { node, .. }
            | BusMsg::SessionsEnded { node, .. }
            | BusMsg::Push { node, .. }
            | BusMsg::RemoveUser { node, .. }
            | BusMsg::GuestOut { node, .. }
            | BusMsg::Login { node, .. }
            | BusMsg::Leaving { node } => node,
        }
    }

    /// The same change for another node's hub, if this input is one the others must hear.
    pub(crate) fn relayed(node: &str, input: &Input) -> Option<BusMsg> {
        let node = node.to_owned();
        Some(match input {
            Input::ChatDeliver(d) => {
                let event = d.event.clone()?;
                if d.to.is_empty() {
                    return None;
                }
                BusMsg::Chat { node, to: d.to.clone(), event }
            }
            Input::RelationChanged { a, b, contacts, blocked, event_for_a, event_for_b } => BusMsg::Relation {
                node,
                a: *a,
                b: *b,
                contacts: *contacts,
                blocked: *blocked,
                event_for_a: *event_for_a,
                event_for_b: *event_for_b,
            },
            Input::SessionsEnded { user, only, keep } => {
                BusMsg::SessionsEnded { node, user: *user, only: *only, keep: *keep }
            }
            Input::GuestOut { user, reason } => BusMsg::GuestOut { node, user: *user, reason: (*reason).to_owned() },
            // Events for users (not for one device of this node's conference).
            Input::Push { devices, users, msg } if devices.is_empty() && !users.is_empty() => {
                BusMsg::Push { node, users: users.clone(), msg: (**msg).clone() }
            }
            _ => return None,
        })
    }

    /// What this node does with another node's message.
    pub(crate) fn into_remote(self) -> Option<Remote> {
        Some(match self {
            BusMsg::RemoveUser { conv, user, .. } => Remote::RemoveUser { conv, user },
            m => Remote::Hub(m.into_input()?),
        })
    }

    /// The input this node's hub takes for another node's message.
    pub(crate) fn into_input(self) -> Option<Input> {
        Some(match self {
            BusMsg::Presence { node, user, status, devices } => Input::RemotePresence { node, user, status, devices },
            BusMsg::Direct { node, msg, .. } => Input::FromNode { node, msg },
            BusMsg::State { node, users, .. } => Input::NodeState { node, users },
            BusMsg::Chat { to, event, .. } => Input::chat_deliver(None, to, None, Some(event)),
            BusMsg::Relation { a, b, contacts, blocked, event_for_a, event_for_b, .. } => {
                Input::RelationChanged { a, b, contacts, blocked, event_for_a, event_for_b }
            }
            BusMsg::SessionsEnded { user, only, keep, .. } => Input::SessionsEnded { user, only, keep },
            BusMsg::Push { users, msg, .. } => Input::Push { devices: vec![], users, msg: Box::new(msg) },
            BusMsg::GuestOut { user, reason, .. } => Input::GuestOut { user, reason: guest_out_reason(&reason) },
            BusMsg::Login { .. } | BusMsg::RemoveUser { .. } | BusMsg::Leaving { .. } => return None,
        })
    }
}

/// What the bus brings to this node.
#[derive(Debug)]
pub(crate) enum Remote {
    /// For the hub.
    Hub(Input),
    /// For the conference server, if it holds that conversation's call.
    RemoveUser { conv: i64, user: UserId },
}

/// The close reason of a guest put out on another node (one of the reasons this program
/// gives; anything else reads as "removed").
fn guest_out_reason(reason: &str) -> &'static str {
    ["ended", "declined", "nobody_came", "rejected", "removed", "left"]
        .into_iter()
        .find(|r| *r == reason)
        .unwrap_or("removed")
}

/// This node's end of the bus: cheap to clone, never blocks (a full queue drops, counted).
#[derive(Clone)]
pub struct Bus {
    node: String,
    out: mpsc::Sender<BusMsg>,
    /// Set by [`Bus::leave`]: no more heartbeats. A lock, not an atomic flag: a heartbeat
    /// checked before the flag was set must not be queued after the `Leaving` message (the
    /// others would take the node as alive again).
    leaving: Arc<Mutex<bool>>,
    pub(crate) stats: Arc<BusStats>,
    view: Arc<View>,
}

/// What the bus did, for metrics.
#[derive(Debug, Default)]
pub struct BusStats {
    /// Other nodes heard recently.
    pub nodes: AtomicU64,
    /// 1 while connected to NATS.
    pub connected: AtomicU64,
    pub sent: AtomicU64,
    pub received: AtomicU64,
    pub dropped: AtomicU64,
}

/// Messages waiting to go out; beyond it (NATS unreachable for long) they are dropped and
/// the periodic lists repair presence.
const OUT_QUEUE: usize = 64 * 1024;

impl Bus {
    /// Starts the node's bus task; what other nodes publish arrives on the returned receiver
    /// as hub inputs, and their sign-in outcomes go into `limiter`.
    pub(crate) fn start(cfg: ClusterConfig, limiter: Arc<Mutex<LoginLimiter>>) -> (Bus, mpsc::Receiver<Remote>) {
        let (out, out_rx) = mpsc::channel(OUT_QUEUE);
        let (in_tx, in_rx) = mpsc::channel(OUT_QUEUE);
        let stats = Arc::new(BusStats::default());
        let view = Arc::new(View::default());
        let bus = Bus {
            node: cfg.node.clone(),
            out,
            leaving: Arc::new(Mutex::new(false)),
            stats: stats.clone(),
            view: view.clone(),
        };
        tokio::spawn(run(cfg, out_rx, in_tx, limiter, stats, view));
        (bus, in_rx)
    }

    /// The nodes alive now with their load, this one included.
    pub(crate) fn live_nodes(&self) -> Vec<(String, NodeLoad)> {
        let mut all: Vec<(String, NodeLoad)> =
            lock(&self.view.nodes).iter().map(|(n, (_, l))| (n.clone(), *l)).collect();
        all.push((self.node.clone(), *lock(&self.view.mine)));
        all
    }

    /// Who is in `conv`'s conference, if another node holds one.
    pub(crate) fn users_in_call_elsewhere(&self, conv: i64) -> Option<Vec<UserId>> {
        lock(&self.view.calls).get(&conv).map(|c| c.users.clone())
    }

    /// `user` is out of `conv`: the node holding its conference takes them out.
    pub(crate) fn publish_remove_user(&self, conv: i64, user: UserId) {
        self.send(BusMsg::RemoveUser { node: self.node.clone(), conv, user });
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    fn send(&self, msg: BusMsg) {
        if self.out.try_send(msg).is_err() {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("cluster bus queue full: a message to the other nodes was dropped");
        }
    }

    pub(crate) fn publish_login(&self, account: &str, ip: std::net::IpAddr, ok: bool) {
        self.send(BusMsg::Login { node: self.node.clone(), account: account.to_owned(), ip, ok });
    }

    pub(crate) fn publish_presence(&self, user: UserId, status: Presence, devices: Vec<hub::DeviceId>) {
        self.send(BusMsg::Presence { node: self.node.clone(), user, status, devices });
    }

    pub(crate) fn send_to_node(&self, to: String, msg: hub::NodeMsg) {
        self.send(BusMsg::Direct { node: self.node.clone(), to, msg });
    }

    pub(crate) fn publish_state(&self, users: Vec<hub::NodeUser>, load: NodeLoad) {
        *lock(&self.view.mine) = load;
        let leaving = lock(&self.leaving);
        if !*leaving {
            self.send(BusMsg::State { node: self.node.clone(), users, load });
        }
    }

    /// This node stops: the others are told now and hear no heartbeat from it again, so they
    /// place no conference here and move the calls and rooms it holds, rather than waiting
    /// [`NODE_TIMEOUT`] after it is gone (while it drains, its load looks like none at all).
    pub(crate) fn leave(&self) {
        let mut leaving = lock(&self.leaving);
        *leaving = true;
        self.send(BusMsg::Leaving { node: self.node.clone() });
    }

    /// Tells the other nodes about a change this node's hub was told of, if they must hear it.
    pub(crate) fn relay(&self, input: &Input) {
        if let Some(msg) = BusMsg::relayed(&self.node, input) {
            self.send(msg);
        }
    }
}

/// Connects to NATS as `name` with the configured credentials and CA.
async fn connect(cfg: &ClusterConfig, name: String, keep_trying: bool) -> Result<async_nats::Client, String> {
    // A NATS server cut off by the network is found out within seconds (two pings
    // unanswered), and the node reconnects, rather than after minutes.
    let mut opts = async_nats::ConnectOptions::new().name(name).ping_interval(Duration::from_secs(5));
    if keep_trying {
        // A node starts even while NATS is away, and never gives up on it.
        opts = opts.retry_on_initial_connect().max_reconnects(None);
    }
    if let Some(creds) = &cfg.credentials_file {
        opts = opts.credentials_file(creds).await.map_err(|e| format!("NATS credentials {}: {e}", creds.display()))?;
    }
    if let Some(ca) = &cfg.ca_file {
        opts = opts.add_root_certificates(ca.clone()).require_tls(true);
    }
    let mut addrs: Vec<async_nats::ServerAddr> = Vec::new();
    for u in cfg.nats_url.split(',').map(str::trim).filter(|u| !u.is_empty()) {
        // (Not echoing the URL: it may carry a password.)
        addrs.push(u.parse().map_err(|e| format!("NATS: an address in `cluster.nats_url` is not valid: {e}"))?);
    }
    // A user and password in the URL (`tls://user:password@host:4222`): the client library
    // parses them but does not send them by itself.
    if let Some(a) = addrs.iter().find(|a| a.has_user_pass()) {
        let (user, password) =
            (a.username().unwrap_or_default().to_owned(), a.password().unwrap_or_default().to_owned());
        opts = opts.user_and_password(user, password);
    }
    opts.connect(addrs).await.map_err(|e| format!("NATS: {e}"))
}

async fn run(
    cfg: ClusterConfig,
    mut out: mpsc::Receiver<BusMsg>,
    to_node: mpsc::Sender<Remote>,
    limiter: Arc<Mutex<LoginLimiter>>,
    stats: Arc<BusStats>,
    view: Arc<View>,
) {
    let client = match connect(&cfg, format!("mywebrtc {}", cfg.node), true).await {
        Ok(c) => c,
        Err(e) => return tracing::error!(error = %e, "cluster bus not started"),
    };
    let all = format!("{}.>", cfg.prefix);
    let mut sub = match client.subscribe(all).await {
        Ok(s) => s,
        Err(e) => return tracing::error!(error = %e, "cannot subscribe to the cluster bus"),
    };
    let (event_subject, state_subject) = (format!("{}.event", cfg.prefix), format!("{}.state", cfg.prefix));
    let mut check = tokio::time::interval(STATE_EVERY);
    loop {
        tokio::select! {
            msg = out.recv() => {
                let Some(msg) = msg else { break };
                let subject = if matches!(msg, BusMsg::State { .. }) { &state_subject } else { &event_subject };
                match serde_json::to_vec(&msg) {
                    // While NATS is away the client buffers; errors mean the buffer is full.
                    Ok(bytes) => match client.publish(subject.clone(), bytes.into()).await {
                        Ok(()) => {
                            stats.sent.fetch_add(1, Ordering::Relaxed);
                            if matches!(msg, BusMsg::Leaving { .. }) {
                                // Out before the process ends, not left in the client's buffer.
                                let _ = tokio::time::timeout(Duration::from_secs(2), client.flush()).await;
                            }
                        }
                        Err(e) => {
                            stats.dropped.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(error = %e, "cannot publish on the cluster bus");
                        }
                    },
                    Err(e) => tracing::error!(error = %e, "cannot encode a bus message"),
                }
            }
            m = sub.next() => {
                let Some(m) = m else { break };
                let msg: BusMsg = match serde_json::from_slice(&m.payload) {
                    Ok(msg) => msg,
                    Err(e) => {
                        stats.dropped.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(error = %e, subject = %m.subject, "ignoring a malformed bus message");
                        continue;
                    }
                };
                if msg.node() == cfg.node || matches!(&msg, BusMsg::Direct { to, .. } if *to != cfg.node) {
                    continue;
                }
                stats.received.fetch_add(1, Ordering::Relaxed);
                let load = match &msg {
                    BusMsg::State { load, .. } => Some(*load),
                    _ => None,
                };
                if let BusMsg::Leaving { node } = &msg {
                    tracing::info!(node = %node, "cluster node leaving");
                    let (gone, calls_ended) = view.leave(node);
                    if !tell_gone(&to_node, gone, calls_ended).await {
                        break;
                    }
                    continue;
                }
                view.heard(msg.node(), load);
                if let BusMsg::Push { node, users, msg: ServerMessage::RoomRunning { conv, users: in_call, .. } } = &msg {
                    view.call_running(node, *conv, in_call, users);
                }
                if let BusMsg::Login { account, ip, ok, .. } = &msg {
                    let mut l = limiter.lock().unwrap_or_else(|p| p.into_inner());
                    if *ok {
                        l.record_success(account);
                    } else {
                        l.record_failure(account, *ip, Instant::now());
                    }
                    continue;
                }
                if let Some(remote) = msg.into_remote() {
                    if to_node.send(remote).await.is_err() {
                        break;
                    }
                }
            }
            _ = check.tick() => {
                let up = client.connection_state() == async_nats::connection::State::Connected;
                stats.connected.store(u64::from(up), Ordering::Relaxed);
                let (gone, calls_ended) = view.expire(Instant::now());
                stats.nodes.store(lock(&view.nodes).len() as u64, Ordering::Relaxed);
                for node in &gone {
                    tracing::info!(node = %node, "cluster node gone silent");
                }
                if !tell_gone(&to_node, gone, calls_ended).await {
                    return;
                }
            }
        }
    }
}

/// Tells the hub that `gone` are gone and which of their calls ended; false if the hub is.
async fn tell_gone(to_node: &mpsc::Sender<Remote>, gone: Vec<String>, calls_ended: Vec<Input>) -> bool {
    let gone = gone.into_iter().map(|node| Input::NodeGone { node });
    for input in gone.chain(calls_ended) {
        if to_node.send(Remote::Hub(input)).await.is_err() {
            return false;
        }
    }
    true
}

/// One node as `mywebrtc cluster status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatus {
    pub node: String,
    pub load: NodeLoad,
}

/// Listens to the bus for `listen` (longer than [`STATE_EVERY`]) and lists the nodes heard.
pub async fn cluster_status(cfg: &ClusterConfig, listen: Duration) -> Result<Vec<NodeStatus>, String> {
    let client = connect(cfg, "mywebrtc cluster status".into(), false).await?;
    let mut sub = client.subscribe(format!("{}.state", cfg.prefix)).await.map_err(|e| format!("NATS: {e}"))?;
    let mut nodes: HashMap<String, NodeLoad> = HashMap::new();
    let deadline = tokio::time::Instant::now() + listen;
    while let Ok(Some(m)) = tokio::time::timeout_at(deadline, sub.next()).await {
        if let Ok(BusMsg::State { node, load, .. }) = serde_json::from_slice(&m.payload) {
            nodes.insert(node, load);
        }
    }
    let mut list: Vec<NodeStatus> = nodes.into_iter().map(|(node, load)| NodeStatus { node, load }).collect();
    list.sort_by(|a, b| a.node.cmp(&b.node));
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relayed_inputs_come_back_as_the_same_inputs_and_replies_stay_local() {
        let input = Input::SessionsEnded { user: 4, only: Some(9), keep: None };
        let msg = BusMsg::relayed("n1", &input).unwrap();
        let wire = serde_json::to_vec(&msg).unwrap();
        let back: BusMsg = serde_json::from_slice(&wire).unwrap();
        assert_eq!(back, msg);
        assert!(matches!(back.into_input(), Some(Input::SessionsEnded { user: 4, only: Some(9), keep: None })));
        // A reply to this node's own connection is not for the others.
        let reply_only = Input::chat_deliver(Some((1, proto::ws::ServerMessage::Ok { id: 1 })), vec![], None, None);
        assert!(BusMsg::relayed("n1", &reply_only).is_none());
        assert!(BusMsg::relayed("n1", &Input::Activity { conn: 1 }).is_none());
    }

    #[test]
    fn the_fuzz_entry_drives_a_call_between_a_local_and_a_remote_device() {
        // The seed of the `cluster_bus` fuzz target, and some garbage around it.
        let seed = concat!(
            r#"{"type":"presence","node":"n2","user":2,"status":"online","devices":[5]}"#,
            "\n",
            r#"{"type":"call_invite","id":1,"callee":3,"media":"video"}"#,
            "\n",
            r#"{"type":"presence","node":"n2","user":3,"status":"online","devices":[5,6]}"#,
            "\n",
            r#"{"type":"call_invite","id":1,"callee":3,"media":"video"}"#,
            "\n",
            r#"{"type":"direct","node":"n2","to":"me","msg":{"kind":"room","device":5,"user":3,"id":4,"op":{"op":"join","conv":9,"rejoin":false}}}"#,
            "\n",
            r#"{"type":"direct","node":"n2","to":"me","msg":{"kind":"device_gone","device":5}}"#,
            "\n\u{0}\u{ff}{\n",
            r#"{"type":"state","node":"n2","users":[],"load":{"connections":0,"online_users":0,"active_calls":0}}"#,
            "\n",
            r#"{"type":"leaving","node":"n2"}"#,
        );
        crate::fuzzing::cluster_bus(seed.as_bytes());
        crate::fuzzing::cluster_bus(b"\xff\n{}\n[]");
    }

    #[test]
    fn a_new_conference_goes_to_the_node_with_fewest_people_in_rooms_then_fewest_sockets() {
        let load = |room_participants, connections| NodeLoad { connections, room_participants, ..NodeLoad::default() };
        let nodes =
            vec![("n1".to_owned(), load(12, 5)), ("n2".to_owned(), load(3, 900)), ("n3".to_owned(), load(3, 40))];
        assert_eq!(least_loaded(&nodes), Some("n3"));
        let tie = vec![("n2".to_owned(), load(0, 0)), ("n1".to_owned(), load(0, 0))];
        assert_eq!(least_loaded(&tie), Some("n1"));
        assert_eq!(least_loaded(&[]), None);
        // A node of an older version says nothing of rooms: counted as none.
        let old: NodeLoad = serde_json::from_str(r#"{"connections":1,"online_users":1,"active_calls":0}"#).unwrap();
        assert_eq!(old.room_participants, 0);
    }

    #[test]
    fn conference_events_for_users_cross_and_one_devices_events_do_not_and_a_gone_nodes_calls_end() {
        let running = ServerMessage::RoomRunning { seq: 0, conv: 7, users: vec![1, 2], started: true };
        let for_users = Input::Push { devices: vec![], users: vec![1, 2, 3], msg: Box::new(running) };
        let msg = BusMsg::relayed("n1", &for_users).unwrap();
        let back: BusMsg = serde_json::from_slice(&serde_json::to_vec(&msg).unwrap()).unwrap();
        assert!(
            matches!(back.clone().into_remote(), Some(Remote::Hub(Input::Push { users, .. })) if users == vec![1, 2, 3])
        );
        let speaker = ServerMessage::RoomSpeaker { seq: 0, conv: 7, participant: 4 };
        let for_device = Input::Push { devices: vec![4], users: vec![], msg: Box::new(speaker) };
        assert!(BusMsg::relayed("n1", &for_device).is_none());
        // What the receiving node remembers of that call, and forgets with its node.
        let view = View::default();
        view.heard("n1", None);
        view.call_running("n1", 7, &[1, 2], &[1, 2, 3]);
        assert_eq!(lock(&view.calls).get(&7).map(|c| c.users.clone()), Some(vec![1, 2]));
        let (gone, ended) = view.expire(Instant::now() + NODE_TIMEOUT + Duration::from_secs(1));
        assert_eq!(gone, vec!["n1".to_owned()]);
        match &ended[..] {
            [Input::Push { users, msg, .. }] => {
                assert_eq!(users, &vec![1, 2, 3]);
                assert!(matches!(**msg, ServerMessage::RoomRunning { conv: 7, ref users, .. } if users.is_empty()));
            }
            e => panic!("{e:?}"),
        }
        assert!(lock(&view.calls).is_empty());
        let out = BusMsg::relayed("n2", &Input::GuestOut { user: 9, reason: "rejected" }).unwrap();
        assert!(matches!(out.into_input(), Some(Input::GuestOut { user: 9, reason: "rejected" })));
        let odd = BusMsg::GuestOut { node: "n2".into(), user: 9, reason: "\u{202e}whatever".into() };
        assert!(matches!(odd.into_input(), Some(Input::GuestOut { reason: "removed", .. })));
        let removal = BusMsg::RemoveUser { node: "n2".into(), conv: 7, user: 2 };
        assert!(matches!(removal.into_remote(), Some(Remote::RemoveUser { conv: 7, user: 2 })));
    }

    #[test]
    fn a_leaving_node_is_gone_at_once_its_last_words_do_not_bring_it_back_and_a_heartbeat_does() {
        let view = View::default();
        let load = NodeLoad { connections: 3, ..NodeLoad::default() };
        view.heard("n1", Some(load));
        view.heard("n2", Some(load));
        view.call_running("n1", 7, &[1], &[1, 2]);
        let alive = |v: &View| {
            let mut n: Vec<String> = lock(&v.nodes).keys().cloned().collect();
            n.sort();
            n
        };
        // Gone without waiting for NODE_TIMEOUT, with the call it held.
        let (gone, ended) = view.leave("n1");
        assert_eq!(gone, vec!["n1".to_owned()]);
        assert!(matches!(&ended[..], [Input::Push { users, .. }] if *users == vec![1, 2]), "{ended:?}");
        assert_eq!(alive(&view), vec!["n2".to_owned()]);
        // Its users' presence going offline as its sockets close does not count as alive.
        view.heard("n1", None);
        assert_eq!(alive(&view), vec!["n2".to_owned()]);
        // Said twice (or by a node never heard): nothing more to end.
        let (gone, ended) = view.leave("n1");
        assert!(gone.is_empty() && ended.is_empty());
        // Started again: its heartbeat counts.
        view.heard("n1", Some(load));
        assert_eq!(alive(&view), vec!["n1".to_owned(), "n2".to_owned()]);
        view.heard("n1", None);
        assert_eq!(alive(&view), vec!["n1".to_owned(), "n2".to_owned()]);
        // On the wire, and for the hub nothing by itself (the driver says NodeGone).
        let wire = serde_json::to_vec(&BusMsg::Leaving { node: "n1".into() }).unwrap();
        assert_eq!(wire, br#"{"type":"leaving","node":"n1"}"#);
        assert!(serde_json::from_slice::<BusMsg>(&wire).unwrap().into_remote().is_none());
    }

    #[test]
    fn after_leave_a_node_sends_no_heartbeat_but_still_its_events() {
        let (out, mut sent) = mpsc::channel(16);
        let bus = Bus {
            node: "n1".into(),
            out,
            leaving: Arc::new(Mutex::new(false)),
            stats: Arc::new(BusStats::default()),
            view: Arc::new(View::default()),
        };
        bus.publish_state(vec![], NodeLoad::default());
        bus.leave();
        bus.publish_state(vec![], NodeLoad::default());
        bus.publish_presence(4, Presence::Offline, vec![]);
        let mut kinds = Vec::new();
        while let Ok(m) = sent.try_recv() {
            kinds.push(serde_json::to_value(&m).unwrap()["type"].as_str().unwrap().to_owned());
        }
        assert_eq!(kinds, ["state", "leaving", "presence"]);
    }

    #[test]
    fn garbage_on_the_bus_is_refused_by_the_decoder() {
        for bad in [&b"{}"[..], b"null", b"{\"type\":\"presence\",\"node\":1}", b"\xff\xfe", b"{\"type\":\"nuke\"}"] {
            assert!(serde_json::from_slice::<BusMsg>(bad).is_err());
        }
    }
}
