//! The threads around the rooms: one UDP socket, a receiving thread that routes each
//! datagram to the worker owning its session, and worker threads that own rooms (spread by
//! room id), drive them and send what they produce. ICE over TCP, on the same port number,
//! feeds the same workers ([`crate::tcp`]).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, RwLock};
use std::thread;
use std::time::{Duration, Instant};

use str0m::net::Protocol;

use crate::room::{Room, RoomOutput};
use crate::stats::{Counters, SfuStats};
use crate::tcp::{TcpContext, TcpWriters};
use crate::{LeaveReason, Member, ParticipantId, RoomConfig, RoomId, SfuError, Signal, Source, TilePref, UserId};

/// Where the SFU listens and what it announces.
#[derive(Debug, Clone)]
pub struct SfuConfig {
    /// The media socket (one UDP port for every participant, and the same TCP port for ICE
    /// over TCP when `room.ice_tcp`).
    pub listen: SocketAddr,
    /// Addresses put in the ICE candidates (the public address behind NAT); empty: the
    /// listen address, or when that is unspecified, the address of the default route.
    pub announce: Vec<IpAddr>,
    /// Worker threads (rooms are spread over them); 0: one per core.
    pub workers: usize,
    /// Most ICE-over-TCP connections open at once (each has two threads); see
    /// [`DEFAULT_MAX_TCP_CONNECTIONS`].
    pub max_tcp_connections: usize,
    pub room: RoomConfig,
}

/// A request from signaling.
#[derive(Debug, Clone)]
pub enum Command {
    /// `who` (a participant of user `by`, an administrator when `admin`) acts on `target`.
    Moderate {
        room: RoomId,
        who: ParticipantId,
        by: UserId,
        admin: bool,
        target: ParticipantId,
        action: crate::Moderation,
    },
    Join {
        room: RoomId,
        who: ParticipantId,
        user: UserId,
    },
    Sdp {
        room: RoomId,
        who: ParticipantId,
        offer: bool,
        rev: u64,
        sdp: String,
        sources: HashMap<String, Source>,
    },
    Prefs {
        room: RoomId,
        who: ParticipantId,
        tiles: Vec<TilePref>,
    },
    State {
        room: RoomId,
        who: ParticipantId,
        muted: bool,
        camera_off: bool,
        hand: bool,
    },
    Leave {
        room: RoomId,
        who: ParticipantId,
        reason: LeaveReason,
    },
    /// A user is no longer a member of the conversation: out at once.
    RemoveUser {
        room: RoomId,
        user: UserId,
    },
}

/// What the SFU tells signaling.
#[derive(Debug, Clone, PartialEq)]
pub enum SfuEvent {
    Signal {
        room: RoomId,
        to: ParticipantId,
        signal: Signal,
    },
    /// A request failed (`request` is the signaling request id to answer).
    Failed {
        room: RoomId,
        to: ParticipantId,
        request: Option<u64>,
        error: SfuError,
    },
    /// A request without a reply of its own (leave, moderate) was carried out.
    Done {
        room: RoomId,
        to: ParticipantId,
        request: u64,
    },
    /// Who is in a room now (empty: the call is over).
    Members {
        room: RoomId,
        members: Vec<Member>,
    },
}

type Sink = Arc<dyn Fn(SfuEvent) + Send + Sync>;

pub(crate) enum WorkerMsg {
    Cmd(Command, Option<u64>),
    Packet { proto: Protocol, source: SocketAddr, data: Vec<u8>, ufrag: Option<String>, at: Instant },
}

/// Handle to the running SFU (cheap to clone).
#[derive(Clone)]
pub struct Sfu {
    workers: Vec<SyncSender<WorkerMsg>>,
    /// Each participant's room (a device is in at most one).
    rooms_of: Arc<Mutex<HashMap<ParticipantId, RoomId>>>,
    local: SocketAddr,
    candidates: Vec<SocketAddr>,
    counters: Arc<Counters>,
}

/// A connection per participant who cannot use UDP (browsers open one to the SFU).
pub const DEFAULT_MAX_TCP_CONNECTIONS: usize = 256;

/// Queue lengths: a worker this far behind drops packets (media recovers) and refuses
/// requests with [`SfuError::Busy`] rather than blocking signaling.
const PACKET_QUEUE: usize = 8192;

impl Sfu {
    /// Binds the socket and starts the threads. `sink` receives every event, from worker
    /// threads: it must not block.
    pub fn start(cfg: SfuConfig, sink: Sink) -> std::io::Result<Sfu> {
        let (socket, tcp) = bind(cfg.listen, cfg.room.ice_tcp)?;
        let local = socket.local_addr()?;
        let tcp_writers: TcpWriters = Arc::default();
        let candidates = candidate_addrs(local, &cfg.announce);
        let n = if cfg.workers == 0 { thread::available_parallelism().map_or(2, |n| n.get()) } else { cfg.workers };
        let crypto = Arc::new(str0m::crypto::from_feature_flags());
        let ufrags: Arc<RwLock<HashMap<String, usize>>> = Arc::default();
        let rooms_of: Arc<Mutex<HashMap<ParticipantId, RoomId>>> = Arc::default();
        let counters = Arc::new(Counters::new(n));
        let mut workers = vec![];
        for i in 0..n {
            let (tx, rx) = mpsc::sync_channel(PACKET_QUEUE);
            let w = Worker {
                index: i,
                socket: socket.try_clone()?,
                rooms: HashMap::new(),
                by_ufrag: HashMap::new(),
                by_addr: HashMap::new(),
                ufrags: ufrags.clone(),
                rooms_of: rooms_of.clone(),
                sink: sink.clone(),
                cfg: cfg.room.clone(),
                crypto: crypto.clone(),
                local,
                candidates: candidates.clone(),
                tcp: tcp_writers.clone(),
                counters: counters.clone(),
            };
            thread::Builder::new().name(format!("sfu-worker-{i}")).spawn(move || w.run(rx))?;
            workers.push(tx);
        }
        if let Some(listener) = tcp {
            let ctx = Arc::new(TcpContext {
                workers: workers.clone(),
                ufrags: ufrags.clone(),
                writers: tcp_writers,
                max_connections: cfg.max_tcp_connections,
                counters: counters.clone(),
            });
            thread::Builder::new().name("sfu-tcp-accept".into()).spawn(move || crate::tcp::serve(listener, ctx))?;
        }
        let recv_workers = workers.clone();
        let c = counters.clone();
        thread::Builder::new().name("sfu-recv".into()).spawn(move || receive(socket, recv_workers, ufrags, &c))?;
        // Addresses are not logged (IP addresses stay out of logs by default); the binary
        // prints the port on its console.
        tracing::info!(workers = n, candidates = candidates.len(), "conference media port ready");
        Ok(Sfu { workers, rooms_of, local, candidates, counters })
    }

    /// What the media path carried and holds (for metrics).
    pub fn stats(&self) -> SfuStats {
        self.counters.snapshot()
    }

    /// The media socket's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The addresses browsers are told to send media to (their ICE candidates).
    pub fn candidates(&self) -> &[SocketAddr] {
        &self.candidates
    }

    /// The room a participant is in.
    pub fn room_of(&self, who: ParticipantId) -> Option<RoomId> {
        self.rooms_of.lock().ok()?.get(&who).copied()
    }

    /// Hands a request to the room's worker. `request` is echoed in a failure event.
    pub fn command(&self, cmd: Command, request: Option<u64>) -> Result<(), SfuError> {
        let room = match &cmd {
            Command::Join { room, .. }
            | Command::Sdp { room, .. }
            | Command::Prefs { room, .. }
            | Command::State { room, .. }
            | Command::Moderate { room, .. }
            | Command::Leave { room, .. }
            | Command::RemoveUser { room, .. } => *room,
        };
        let w = &self.workers[worker_of(room, self.workers.len())];
        match w.try_send(WorkerMsg::Cmd(cmd, request)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => Err(SfuError::Busy),
        }
    }

    /// A signaling device is gone: it leaves its room.
    pub fn device_gone(&self, who: ParticipantId) {
        if let Some(room) = self.room_of(who) {
            let _ = self.command(Command::Leave { room, who, reason: LeaveReason::MediaLost }, None);
        }
    }
}

/// The UDP socket, and with ICE over TCP a TCP listener on the same port number. With an
/// ephemeral port (0) the number the UDP socket got may be taken for TCP: then both are
/// bound again.
fn bind(listen: SocketAddr, tcp: bool) -> std::io::Result<(UdpSocket, Option<TcpListener>)> {
    let mut attempt = 0;
    loop {
        let udp = UdpSocket::bind(listen)?;
        if !tcp {
            return Ok((udp, None));
        }
        let port = udp.local_addr()?.port();
        match TcpListener::bind(SocketAddr::new(listen.ip(), port)) {
            Ok(l) => return Ok((udp, Some(l))),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && listen.port() == 0 && attempt < 20 => {
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

fn worker_of(room: RoomId, n: usize) -> usize {
    (room.unsigned_abs() % n.max(1) as u64) as usize
}

/// The addresses to announce: the configured ones with the socket's port, else the socket's
/// own address, else (bound to 0.0.0.0) the address of the default route.
fn candidate_addrs(local: SocketAddr, announce: &[IpAddr]) -> Vec<SocketAddr> {
    if !announce.is_empty() {
        return announce.iter().map(|ip| SocketAddr::new(*ip, local.port())).collect();
    }
    if !local.ip().is_unspecified() {
        return vec![local];
    }
    // Connecting a UDP socket sends nothing; it only asks the kernel for a route.
    let probe = UdpSocket::bind("0.0.0.0:0").and_then(|s| s.connect("192.0.2.1:9").map(|_| s));
    match probe.and_then(|s| s.local_addr()) {
        Ok(a) => vec![SocketAddr::new(a.ip(), local.port())],
        Err(_) => vec![SocketAddr::new(IpAddr::from([127, 0, 0, 1]), local.port())],
    }
}

/// The receiving thread: routes each datagram to its worker.
fn receive(
    socket: UdpSocket,
    workers: Vec<SyncSender<WorkerMsg>>,
    ufrags: Arc<RwLock<HashMap<String, usize>>>,
    counters: &Counters,
) {
    /// Remembered source addresses; the map is cleared when it reaches this (addresses
    /// re-learn from the next connectivity check, which browsers send every few seconds).
    const MAX_ADDRS: usize = 65_536;
    let mut by_addr: HashMap<SocketAddr, usize> = HashMap::new();
    let mut buf = vec![0u8; 2048];
    loop {
        let (n, source) = match socket.recv_from(&mut buf) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // ICMP errors from earlier sends (connection refused) surface here on Linux.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => continue,
            Err(e) => {
                tracing::error!(error = %e, "media socket failed");
                return;
            }
        };
        let data = &buf[..n];
        counters.received(n);
        let ufrag = crate::stun_route::local_ufrag(data).map(str::to_owned);
        let worker = match &ufrag {
            Some(u) => {
                let w = ufrags.read().ok().and_then(|m| m.get(u).copied());
                if let Some(w) = w {
                    if by_addr.len() >= MAX_ADDRS {
                        by_addr.clear();
                    }
                    by_addr.insert(source, w);
                }
                w
            }
            None => by_addr.get(&source).copied(),
        };
        let Some(w) = worker else { continue };
        let msg = WorkerMsg::Packet { proto: Protocol::Udp, source, data: data.to_vec(), ufrag, at: Instant::now() };
        // A full queue drops the packet: media tolerates loss, signaling must not wait.
        if workers[w].try_send(msg).is_err() {
            counters.drop_one();
        }
    }
}

struct Worker {
    index: usize,
    socket: UdpSocket,
    rooms: HashMap<RoomId, Room>,
    by_ufrag: HashMap<String, (RoomId, ParticipantId)>,
    by_addr: HashMap<SocketAddr, (RoomId, ParticipantId)>,
    ufrags: Arc<RwLock<HashMap<String, usize>>>,
    rooms_of: Arc<Mutex<HashMap<ParticipantId, RoomId>>>,
    sink: Sink,
    cfg: RoomConfig,
    crypto: Arc<str0m::crypto::CryptoProvider>,
    local: SocketAddr,
    candidates: Vec<SocketAddr>,
    tcp: TcpWriters,
    counters: Arc<Counters>,
}

impl Worker {
    fn run(mut self, rx: Receiver<WorkerMsg>) {
        loop {
            // One pass over the rooms: those whose timers are due run them, and every room
            // says when it next needs to (polling a room walks all its sessions: once a turn).
            let now = Instant::now();
            let mut next = now + Duration::from_secs(1);
            for room in self.rooms.values_mut() {
                let mut due = room.poll_timeout(now);
                if due <= now {
                    room.handle_timeout(now);
                    due = room.poll_timeout(now);
                }
                next = next.min(due);
            }
            self.flush();
            let wait = next.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
            match rx.recv_timeout(wait) {
                Ok(msg) => {
                    self.handle(msg);
                    // Take what else is queued before polling timers again (bounded, so
                    // timers still run under a flood).
                    for msg in rx.try_iter().take(256) {
                        self.handle(msg);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            // What the messages produced goes out before the next pass.
            self.flush();
        }
    }

    fn handle(&mut self, msg: WorkerMsg) {
        match msg {
            WorkerMsg::Packet { proto, source, data, ufrag, at } => {
                let target = match ufrag {
                    Some(u) => {
                        let t = self.by_ufrag.get(&u).copied();
                        if let Some(t) = t {
                            self.by_addr.insert(source, t);
                        }
                        t
                    }
                    None => self.by_addr.get(&source).copied(),
                };
                let Some((room, who)) = target else { return };
                if let Some(r) = self.rooms.get_mut(&room) {
                    r.receive(who, proto, source, &data, at);
                }
            }
            WorkerMsg::Cmd(cmd, request) => self.command(cmd, request),
        }
    }

    fn command(&mut self, cmd: Command, request: Option<u64>) {
        let now = Instant::now();
        // Joins and SDP are answered by the room's own signals.
        let acknowledged = matches!(cmd, Command::Leave { .. } | Command::Moderate { .. });
        let (room, who, result) = match cmd {
            Command::Join { room, who, user } => (room, who, self.join(room, who, user, request, now)),
            Command::Moderate { room, who, by, admin, target, action } => {
                let r = match self.rooms.get_mut(&room) {
                    // Moderators act from inside the call.
                    Some(r) if r.has(who) => r.moderate(by, admin, target, action),
                    _ => Err(SfuError::NotInRoom),
                };
                (room, who, r)
            }
            Command::State { room, who, muted, camera_off, hand } => {
                if let Some(r) = self.rooms.get_mut(&room) {
                    r.state(who, muted, camera_off, hand);
                }
                (room, who, Ok(()))
            }
            Command::Sdp { room, who, offer, rev, sdp, sources } => {
                let r = match self.rooms.get_mut(&room) {
                    Some(r) => r.sdp(who, offer, rev, &sdp, &sources, now),
                    None => Err(SfuError::NotInRoom),
                };
                (room, who, r)
            }
            Command::Prefs { room, who, tiles } => {
                if let Some(r) = self.rooms.get_mut(&room) {
                    r.prefs(who, &tiles, now);
                }
                (room, who, Ok(()))
            }
            Command::Leave { room, who, reason } => {
                let r = match self.rooms.get_mut(&room) {
                    Some(r) if r.has(who) => {
                        r.leave(who, reason);
                        Ok(())
                    }
                    _ => Err(SfuError::NotInRoom),
                };
                (room, who, r)
            }
            Command::RemoveUser { room, user } => {
                if let Some(r) = self.rooms.get_mut(&room) {
                    r.remove_user(user);
                }
                return;
            }
        };
        match (result, request) {
            (Err(error), _) => (self.sink)(SfuEvent::Failed { room, to: who, request, error }),
            (Ok(()), Some(request)) if acknowledged => (self.sink)(SfuEvent::Done { room, to: who, request }),
            _ => {}
        }
    }

    fn join(
        &mut self,
        room: RoomId,
        who: ParticipantId,
        user: UserId,
        request: Option<u64>,
        now: Instant,
    ) -> Result<(), SfuError> {
        {
            let mut rooms_of = self.rooms_of.lock().map_err(|_| SfuError::Busy)?;
            match rooms_of.get(&who) {
                Some(r) if *r == room => return Err(SfuError::AlreadyJoined),
                Some(_) => return Err(SfuError::InAnotherRoom),
                None => {}
            }
            rooms_of.insert(who, room);
        }
        let (cfg, crypto, local, cands) = (&self.cfg, &self.crypto, self.local, &self.candidates);
        let r = self
            .rooms
            .entry(room)
            .or_insert_with(|| Room::new(room, cfg.clone(), crypto.clone(), local, cands.clone()));
        match r.join(who, user, request, now) {
            Ok(ufrag) => {
                if let Ok(mut m) = self.ufrags.write() {
                    m.insert(ufrag.clone(), self.index);
                }
                self.by_ufrag.insert(ufrag, (room, who));
                let members = r.members();
                (self.sink)(SfuEvent::Members { room, members });
                Ok(())
            }
            Err(e) => {
                if let Ok(mut m) = self.rooms_of.lock() {
                    m.remove(&who);
                }
                if r.is_empty() {
                    self.rooms.remove(&room);
                }
                Err(e)
            }
        }
    }

    /// Sends what the rooms produced and forgets who is gone.
    fn flush(&mut self) {
        let mut emptied = vec![];
        for (id, room) in &mut self.rooms {
            let mut changed = false;
            while let Some(o) = room.poll_output() {
                match o {
                    RoomOutput::Transmit { proto: Protocol::Udp, destination, contents } => {
                        match self.socket.send_to(&contents, destination) {
                            Ok(n) => self.counters.sent(n),
                            Err(e) => tracing::trace!(error = %e, "media send failed"),
                        }
                    }
                    RoomOutput::Transmit { destination, contents, .. } => {
                        // Over TCP: to the connection's writer; a full queue (a slow link)
                        // or a closed connection drops the packet.
                        let writer = self.tcp.read().ok().and_then(|w| w.get(&destination).cloned());
                        if let (Some(w), Some(f)) = (writer, crate::tcp::frame(&contents)) {
                            match w.try_send(f) {
                                Ok(()) => self.counters.sent(contents.len()),
                                Err(_) => self.counters.drop_one(),
                            }
                        }
                    }
                    RoomOutput::Signal { to, signal } => (self.sink)(SfuEvent::Signal { room: *id, to, signal }),
                    RoomOutput::Gone { participant, ufrag } => {
                        changed = true;
                        self.by_ufrag.remove(&ufrag);
                        self.by_addr.retain(|_, (_, p)| *p != participant);
                        if let Ok(mut m) = self.ufrags.write() {
                            m.remove(&ufrag);
                        }
                        if let Ok(mut m) = self.rooms_of.lock() {
                            m.remove(&participant);
                        }
                    }
                }
            }
            if changed {
                (self.sink)(SfuEvent::Members { room: *id, members: room.members() });
            }
            if room.is_empty() {
                emptied.push(*id);
            }
        }
        for id in emptied {
            self.rooms.remove(&id);
        }
        let participants = self.rooms.values().map(Room::len).sum();
        self.counters.hold(self.index, self.rooms.len(), participants);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_spread_over_workers() {
        assert_eq!(worker_of(5, 2), 1);
        assert_eq!(worker_of(-5, 2), 1);
        assert_eq!(worker_of(7, 0), 0);
    }

    #[test]
    fn announced_addresses_take_the_socket_port() {
        let local: SocketAddr = "0.0.0.0:4000".parse().unwrap();
        let a = candidate_addrs(local, &["203.0.113.5".parse().unwrap()]);
        assert_eq!(a, vec!["203.0.113.5:4000".parse().unwrap()]);
        let l: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        assert_eq!(candidate_addrs(l, &[]), vec![l]);
        let d = candidate_addrs(local, &[]);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].port(), 4000);
    }
}
