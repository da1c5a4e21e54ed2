//! The task that owns the hub and carries out its outputs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use hub::{CallRecord, ConnId, Hub, HubConfig, Input, Output};
use tokio::sync::{mpsc, watch};

use crate::chat::{queue_full_reply, ChatQueue, Job, Origin};

/// What a connection's writer receives.
#[derive(Debug)]
pub(crate) enum Outbound {
    Text(String),
    Ping,
}

/// The writer side of one connection, as the hub task holds it.
pub(crate) struct ConnSink {
    pub tx: mpsc::Sender<Outbound>,
    /// Set to a close code to make the writer send a Close frame and stop.
    pub close: watch::Sender<Option<(u16, &'static str)>>,
}

pub(crate) enum Cmd {
    Open {
        conn: ConnId,
        user: i64,
        session: i64,
        relations: hub::Relations,
        guest: Option<hub::GuestScope>,
        sink: ConnSink,
    },
    Input(Input),
    /// Close every socket with "restarting, come back" and refuse new ones (shutdown).
    Shutdown {
        done: tokio::sync::oneshot::Sender<()>,
    },
}

/// Cheap to clone; sends inputs to the hub task.
#[derive(Clone)]
pub struct HubHandle {
    tx: mpsc::Sender<Cmd>,
    next_conn: Arc<std::sync::atomic::AtomicU64>,
}

impl HubHandle {
    pub(crate) fn new_conn_id(&self) -> ConnId {
        self.next_conn.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) async fn cmd(&self, cmd: Cmd) {
        // Only fails once the hub task is gone (shutdown); nothing is left to tell then.
        let _ = self.tx.send(cmd).await;
    }

    /// Tells the hub about a change made elsewhere (REST handlers).
    pub async fn input(&self, input: Input) {
        self.cmd(Cmd::Input(input)).await;
    }

    /// Closes every socket with "restarting" once everything queued before went out, and
    /// refuses new ones from then on (shutdown).
    pub(crate) async fn close_all_restarting(&self) {
        let (done, closed) = tokio::sync::oneshot::channel();
        self.cmd(Cmd::Shutdown { done }).await;
        let _ = closed.await;
    }

    /// [`HubHandle::input`] from a plain thread (the chat writer).
    pub(crate) fn blocking_input(&self, input: Input) {
        let _ = self.tx.blocking_send(Cmd::Input(input));
    }
}

/// The close code and reason of a server that stops: reconnect, it will be back.
const RESTARTING: (u16, &str) = (proto::ws::close::SERVICE_RESTART, "server restarting; reconnect");

/// Per-connection outbound queue length: a client this far behind is cut off.
pub(crate) const CONN_QUEUE: usize = 512;

/// Starts the hub task. Finished calls are persisted through `store`.
pub(crate) fn spawn_hub(
    cfg: HubConfig,
    session_recheck: std::time::Duration,
    store: Arc<dyn store::Store>,
    chat: ChatQueue,
    metrics: crate::metrics::MetricsHandle,
    conference: Option<Arc<crate::conference::Conference>>,
    cluster: Option<(crate::cluster::Bus, mpsc::Receiver<crate::cluster::Remote>)>,
) -> HubHandle {
    let (tx, rx) = mpsc::channel(16 * 1024);
    // Call ids of this run start above any an earlier run handed out (milliseconds since the
    // epoch, times 1000: a thousand calls per millisecond before ids could meet, and still
    // below 2^53 for JavaScript until the 23rd century), so calls claimed back after a
    // restart (`call_rejoin`) are told apart from calls of this run.
    let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let mut cfg = cfg;
    cfg.first_call_id = cfg.first_call_id.max(millis.saturating_mul(1000));
    let hub = Hub::new(cfg, Box::new(auth::token::new_token));
    let handle = HubHandle { tx, next_conn: Arc::new(std::sync::atomic::AtomicU64::new(1)) };
    let (cluster, remote) = cluster.unzip();
    let deps = Deps { store, chat, metrics, conference, me: handle.clone(), cluster };
    tokio::spawn(run(hub, rx, remote, session_recheck, deps));
    handle
}

/// Runs the hub. Every `session_recheck` the sessions behind open sockets are checked against
/// the store, so sessions ended where the hub cannot hear it (admin CLI, expiry) close too.
async fn run(
    mut hub: Hub,
    mut rx: mpsc::Receiver<Cmd>,
    mut remote: Option<mpsc::Receiver<crate::cluster::Remote>>,
    session_recheck: std::time::Duration,
    deps: Deps,
) {
    let mut sinks: HashMap<ConnId, ConnSink> = HashMap::new();
    let mut draining = false;
    let mut session_check = tokio::time::interval(session_recheck);
    session_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut state_tick = tokio::time::interval(crate::cluster::STATE_EVERY);
    state_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let deadline = hub.poll_timeout().map(tokio::time::Instant::from_std);
        tokio::select! {
            cmd = rx.recv() => {
                let Some(cmd) = cmd else { break };
                let now = Instant::now();
                match cmd {
                    Cmd::Open { sink, .. } if draining => {
                        let _ = sink.close.send(Some(RESTARTING));
                    }
                    Cmd::Open { conn, user, session, relations, guest, sink } => {
                        sinks.insert(conn, sink);
                        hub.handle(Input::Open { conn, user, session, relations, guest }, now);
                    }
                    Cmd::Shutdown { done } => {
                        // Everything queued before this (chat acknowledgements included) went
                        // out above; the sockets close after it, so clients reconnect to the
                        // next server and resend whatever they have not seen acknowledged.
                        carry_out(&mut hub, &mut sinks, &deps);
                        draining = true;
                        for sink in sinks.values() {
                            let _ = sink.close.send(Some(RESTARTING));
                        }
                        let _ = done.send(());
                    }
                    Cmd::Input(input) => {
                        if let Input::Closed { conn, .. } = &input {
                            sinks.remove(conn);
                        }
                        if let Some(bus) = &deps.cluster {
                            bus.relay(&input);
                        }
                        hub.handle(input, now);
                    }
                }
            }
            Some(remote) = next_remote(&mut remote) => match remote {
                crate::cluster::Remote::Hub(input) => hub.handle(input, Instant::now()),
                crate::cluster::Remote::RemoveUser { conv, user } => {
                    if let Some(conf) = &deps.conference {
                        conf.remove_user_here(conv, user);
                    }
                }
            },
            _ = state_tick.tick(), if deps.cluster.is_some() => {
                if let Some(bus) = &deps.cluster {
                    let mut load: crate::cluster::NodeLoad = hub.stats().into();
                    load.room_participants = deps.conference.as_ref().map_or(0, |c| c.stats().participants as usize);
                    bus.publish_state(hub.local_presence(), load);
                }
            }
            _ = sleep_until(deadline) => hub.handle_timeout(Instant::now()),
            _ = session_check.tick() => check_sessions(hub.sessions(), deps.store.clone(), deps.me.clone()),
        }
        carry_out(&mut hub, &mut sinks, &deps);
        deps.metrics.publish_hub(hub.stats());
    }
}

/// The next message from the other nodes (never, on a single node).
async fn next_remote(remote: &mut Option<mpsc::Receiver<crate::cluster::Remote>>) -> Option<crate::cluster::Remote> {
    match remote {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// What the hub task hands its outputs to.
struct Deps {
    store: Arc<dyn store::Store>,
    chat: ChatQueue,
    metrics: crate::metrics::MetricsHandle,
    conference: Option<Arc<crate::conference::Conference>>,
    /// The task's own handle (for work it spawns that reports back).
    me: HubHandle,
    /// The bus to the other nodes, when this node is one of a cluster.
    cluster: Option<crate::cluster::Bus>,
}

fn carry_out(hub: &mut Hub, sinks: &mut HashMap<ConnId, ConnSink>, deps: &Deps) {
    let Deps { store, chat, metrics, conference, me, cluster } = deps;
    loop {
        let mut overflowed = Vec::new();
        while let Some(out) = hub.poll_output() {
            match out {
                Output::Send { conn, msg } => {
                    let Some(sink) = sinks.get(&conn) else { continue };
                    let text = match serde_json::to_string(&msg) {
                        Ok(t) => t,
                        Err(e) => {
                            tracing::error!(error = %e, "cannot encode a server message");
                            continue;
                        }
                    };
                    if let Err(mpsc::error::TrySendError::Full(_)) = sink.tx.try_send(Outbound::Text(text)) {
                        overflowed.push(conn);
                    }
                }
                Output::Ping { conn } => {
                    if let Some(sink) = sinks.get(&conn) {
                        let _ = sink.tx.try_send(Outbound::Ping);
                    }
                }
                Output::Close { conn, code, reason } => {
                    if let Some(sink) = sinks.remove(&conn) {
                        let _ = sink.close.send(Some((code, reason)));
                    }
                }
                Output::CallFinished(record) => {
                    metrics.metrics.call_finished(&record);
                    persist_call(store.clone(), record)
                }
                Output::Chat(req) => {
                    let job =
                        Job { user: req.user, op: req.op.into(), origin: Origin::Ws { conn: req.conn, id: req.id } };
                    if chat.try_send(job).is_err() {
                        hub.handle(queue_full_reply(req.conn, req.id), Instant::now());
                    }
                }
                Output::Room(req) => match conference {
                    Some(conf) => conf.request(req, store.clone(), me.clone()),
                    None => {
                        let msg = proto::ws::ServerMessage::Error {
                            id: req.id,
                            code: proto::ws::WsErrorCode::NotAllowed,
                            message: "group calls are turned off on this server".into(),
                        };
                        hub.handle(Input::Reply { device: req.device, msg: Box::new(msg) }, Instant::now());
                    }
                },
                Output::DeviceGone { device } => {
                    if let Some(conf) = conference {
                        conf.device_gone(device);
                    }
                }
                Output::LocalPresence { user, status, devices } => {
                    if let Some(bus) = cluster {
                        bus.publish_presence(user, status, devices);
                    }
                }
                Output::ToNode { node, msg } => {
                    if let Some(bus) = cluster {
                        bus.send_to_node(node, msg);
                    }
                }
            }
        }
        if overflowed.is_empty() {
            break;
        }
        for conn in overflowed {
            tracing::info!("closing a connection whose client does not keep up");
            hub.handle(Input::Overflow { conn }, Instant::now());
        }
    }
}

/// Tells the hub about sessions that are no longer valid in the store.
fn check_sessions(sessions: Vec<(i64, i64)>, store: Arc<dyn store::Store>, hub: HubHandle) {
    if sessions.is_empty() {
        return;
    }
    tokio::spawn(async move {
        let ids: Vec<i64> = sessions.iter().map(|(_, s)| *s).collect();
        let now = crate::unix_now();
        let live = match tokio::task::spawn_blocking(move || store.live_sessions(&ids, now)).await {
            Ok(Ok(live)) => live,
            _ => return,
        };
        for (user, session) in sessions {
            if !live.contains(&session) {
                hub.input(Input::SessionsEnded { user, only: Some(session), keep: None }).await;
            }
        }
    });
}

fn persist_call(store: Arc<dyn store::Store>, r: CallRecord) {
    let now = crate::unix_now();
    let total = (r.ring + r.talk).as_secs() as i64;
    let row = store::CallRow {
        id: 0,
        caller: Some(r.caller),
        callee: Some(r.callee),
        media: serde_json::to_value(r.media).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
        answered: r.answered,
        reason: serde_json::to_value(r.reason).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
        started_at: now - total,
        ring_secs: r.ring.as_secs() as i64,
        talk_secs: r.talk.as_secs() as i64,
        callee_seen: false,
        conv: None,
    };
    tokio::task::spawn_blocking(move || {
        if let Err(e) = store.record_call(&row) {
            tracing::error!(error = %e, "cannot record a call in the history");
        }
    });
}
