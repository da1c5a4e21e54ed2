//! The sans-IO TURN server (RFC 8656 over RFC 8489). It owns no socket and reads no clock:
//! the driver feeds it packets from clients and peers with the current time, carries out the
//! [`Output`]s (packets to send, relay sockets to open or close), and calls
//! [`Server::handle_timeout`] at [`Server::poll_timeout`].
//!
//! Refusals follow the RFCs: a packet that is not STUN or ChannelData is dropped; a request
//! gets a specific error response; an indication or ChannelData that cannot be honoured is
//! dropped silently (there is nobody to tell).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::credentials::{CredentialError, Credentials};
use crate::nonce::{NonceCheck, Nonces};
use crate::policy::PeerPolicy;
use crate::stun::{self, attr, method, Builder, Class, IntegrityKind, Message};

/// How a client reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

/// The client side of a five-tuple: transport, client address, and our address it used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Client {
    pub transport: Transport,
    pub remote: SocketAddr,
    pub local: SocketAddr,
}

pub type AllocId = u64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send to a client over the transport it came on.
    ToClient { to: Client, data: Vec<u8> },
    /// Send from an allocation's relay socket to a peer.
    ToPeer { relay: SocketAddr, peer: SocketAddr, data: Vec<u8> },
    /// Open a relay socket (UDP, on the relay address, any port — an even one if `even`) and
    /// report it with [`Server::relay_bound`].
    BindRelay { alloc: AllocId, even: bool },
    /// Close this relay socket: its allocation is gone.
    ReleaseRelay { relay: SocketAddr },
}

#[derive(Debug, Clone)]
pub struct Config {
    pub realm: String,
    /// Allocation lifetime when the client asks for none (or less).
    pub default_lifetime: Duration,
    pub max_lifetime: Duration,
    pub permission_lifetime: Duration,
    pub channel_lifetime: Duration,
    /// Allocations one username may hold at once.
    pub user_quota: usize,
    /// Allocations in total.
    pub max_allocations: usize,
    /// Permissions (peer addresses) per allocation.
    pub max_permissions: usize,
    /// Relayed bytes per second per allocation (both directions), with a one-second burst.
    pub bandwidth_bytes_per_sec: u64,
    pub policy: PeerPolicy,
    pub credentials: Credentials,
    /// This server's own media addresses (the conference port): every allocation may relay
    /// to them whatever the policy says of their IP, and allocations of scoped credentials
    /// ([`crate::credentials::is_scoped`]) only to them, port included.
    pub scoped_peers: Vec<SocketAddr>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            realm: "mywebrtc".into(),
            default_lifetime: Duration::from_secs(600),
            max_lifetime: Duration::from_secs(3600),
            permission_lifetime: Duration::from_secs(300),
            channel_lifetime: Duration::from_secs(600),
            user_quota: 10,
            max_allocations: 10_000,
            max_permissions: 64,
            bandwidth_bytes_per_sec: 4 * 1024 * 1024,
            policy: PeerPolicy::default(),
            credentials: Credentials::default(),
            scoped_peers: Vec::new(),
        }
    }
}

struct Allocation {
    client: Client,
    username: String,
    key: Vec<u8>,
    integrity: IntegrityKind,
    /// `None` until the driver has bound the relay socket.
    relay: Option<SocketAddr>,
    expires: Instant,
    /// The Allocate request's transaction id and, once sent, its success response, so a
    /// retransmitted Allocate gets the same answer.
    allocate_tid: [u8; 12],
    allocate_response: Option<Vec<u8>>,
    /// Requested lifetime, answered once the relay is bound.
    lifetime: Duration,
    permissions: HashMap<IpAddr, Instant>,
    /// Made with a scoped credential: relays only to [`Config::scoped_peers`].
    scoped: bool,
    channels: HashMap<u16, (SocketAddr, Instant)>,
    peer_channel: HashMap<SocketAddr, u16>,
    tokens: f64,
    last_refill: Instant,
}

impl Allocation {
    fn permitted(&self, ip: IpAddr, now: Instant) -> bool {
        self.permissions.get(&ip).is_some_and(|t| *t > now)
    }

    /// Takes `bytes` from the bandwidth budget.
    fn spend(&mut self, bytes: usize, rate: u64, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last_refill).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate as f64).min(rate as f64);
        self.last_refill = now;
        if self.tokens >= bytes as f64 {
            self.tokens -= bytes as f64;
            true
        } else {
            false
        }
    }
}

/// Counters for metrics and benchmarks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
    pub allocations: usize,
    pub relayed_to_peers: u64,
    pub relayed_to_clients: u64,
    /// Payload bytes relayed each way.
    pub bytes_to_peers: u64,
    pub bytes_to_clients: u64,
    pub dropped: u64,
}

pub struct Server {
    cfg: Config,
    nonces: Nonces,
    allocations: HashMap<AllocId, Allocation>,
    by_client: HashMap<Client, AllocId>,
    by_relay: HashMap<SocketAddr, AllocId>,
    per_user: HashMap<String, usize>,
    timers: BinaryHeap<Reverse<(Instant, AllocId)>>,
    out: VecDeque<Output>,
    next_id: AllocId,
    stats: Stats,
}

/// What authentication of a request found.
enum Auth {
    Ok {
        username: String,
        key: Vec<u8>,
        kind: IntegrityKind,
    },
    /// Answer this (already built) error response.
    Refused(Vec<u8>),
}

impl Server {
    /// `nonce_seed`: random bytes, fresh at every start.
    pub fn new(cfg: Config, nonce_seed: &[u8], nonce_ttl: Duration) -> Self {
        Self {
            nonces: Nonces::new(nonce_seed, nonce_ttl.as_secs()),
            cfg,
            allocations: HashMap::new(),
            by_client: HashMap::new(),
            by_relay: HashMap::new(),
            per_user: HashMap::new(),
            timers: BinaryHeap::new(),
            out: VecDeque::new(),
            next_id: 1,
            stats: Stats::default(),
        }
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((t, _))| *t)
    }

    pub fn stats(&self) -> Stats {
        Stats { allocations: self.allocations.len(), ..self.stats }
    }

    /// Expires allocations whose lifetime ran out.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, id))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            // A refresh pushed a later entry; this one is stale unless the allocation is due.
            if self.allocations.get(&id).is_some_and(|a| a.expires <= now) {
                self.remove(id);
            }
        }
    }

    /// A TCP or TLS connection closed: its allocation goes with it (RFC 8656 §3.1).
    pub fn client_closed(&mut self, client: Client) {
        if let Some(id) = self.by_client.get(&client).copied() {
            self.remove(id);
        }
    }

    fn remove(&mut self, id: AllocId) {
        let Some(a) = self.allocations.remove(&id) else { return };
        self.by_client.remove(&a.client);
        if let Some(r) = a.relay {
            self.by_relay.remove(&r);
            self.out.push_back(Output::ReleaseRelay { relay: r });
        }
        if let Some(n) = self.per_user.get_mut(&a.username) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_user.remove(&a.username);
            }
        }
    }

    /// The driver bound (or failed to bind) the relay socket of a pending allocation.
    pub fn relay_bound(&mut self, id: AllocId, relay: Option<SocketAddr>, now: Instant) {
        let Some(a) = self.allocations.get_mut(&id) else {
            // The allocation vanished meanwhile (client closed): give the socket back.
            if let Some(r) = relay {
                self.out.push_back(Output::ReleaseRelay { relay: r });
            }
            return;
        };
        let (client, tid, key, kind) = (a.client, a.allocate_tid, a.key.clone(), a.integrity);
        let Some(r) = relay else {
            let resp = error(method::ALLOCATE, tid, 508, "Insufficient Capacity").integrity(kind, &key).finish();
            self.out.push_back(Output::ToClient { to: client, data: resp });
            self.remove(id);
            return;
        };
        a.relay = Some(r);
        a.expires = now + a.lifetime;
        let resp = Builder::new(method::ALLOCATE, Class::Success, tid)
            .xor_address(attr::XOR_RELAYED_ADDRESS, r)
            .u32(attr::LIFETIME, a.lifetime.as_secs() as u32)
            .xor_address(attr::XOR_MAPPED_ADDRESS, client.remote)
            .integrity(kind, &key)
            .finish();
        a.allocate_response = Some(resp.clone());
        let expires = a.expires;
        self.by_relay.insert(r, id);
        self.timers.push(Reverse((expires, id)));
        self.out.push_back(Output::ToClient { to: client, data: resp });
    }

    /// A packet from a client (one datagram, or one framed message from a stream).
    pub fn client_packet(&mut self, from: Client, data: &[u8], now: Instant, unix: u64) {
        if stun::is_channel_data(data) {
            return self.client_channel_data(from, data, now);
        }
        let Ok(msg) = Message::parse(data) else {
            self.stats.dropped += 1;
            return;
        };
        match msg.class {
            Class::Request => self.request(from, &msg, now, unix),
            Class::Indication if msg.method == method::SEND => self.send_indication(from, &msg, now),
            // Responses and other indications are not for a server.
            _ => self.stats.dropped += 1,
        }
    }

    /// A datagram arrived on an allocation's relay socket from `peer`.
    pub fn peer_packet(&mut self, relay: SocketAddr, peer: SocketAddr, data: &[u8], now: Instant) {
        let rate = self.cfg.bandwidth_bytes_per_sec;
        let Some(id) = self.by_relay.get(&relay).copied() else { return };
        let Some(a) = self.allocations.get_mut(&id) else { return };
        let outside = a.scoped && !self.cfg.scoped_peers.contains(&peer);
        if outside || !a.permitted(peer.ip(), now) || !a.spend(data.len(), rate, now) {
            self.stats.dropped += 1;
            return;
        }
        let stream = a.client.transport != Transport::Udp;
        let packet = match a.peer_channel.get(&peer).copied() {
            Some(ch) if a.channels.get(&ch).is_some_and(|(_, t)| *t > now) => stun::channel_data(ch, data, stream),
            _ => Builder::new(method::DATA, Class::Indication, random_tid(data, now))
                .xor_address(attr::XOR_PEER_ADDRESS, peer)
                .attr(attr::DATA, data)
                .finish_plain(),
        };
        self.stats.relayed_to_clients += 1;
        self.stats.bytes_to_clients += data.len() as u64;
        self.out.push_back(Output::ToClient { to: a.client, data: packet });
    }

    fn client_channel_data(&mut self, from: Client, data: &[u8], now: Instant) {
        let rate = self.cfg.bandwidth_bytes_per_sec;
        let exact = from.transport == Transport::Udp;
        let forwarded = (|| {
            let (ch, payload) = stun::parse_channel_data(data, exact)?;
            let id = self.by_client.get(&from)?;
            let a = self.allocations.get_mut(id)?;
            let relay = a.relay?;
            let (peer, until) = a.channels.get(&ch).copied()?;
            if until <= now || !a.spend(payload.len(), rate, now) {
                return None;
            }
            Some(Output::ToPeer { relay, peer, data: payload.to_vec() })
        })();
        self.forward(forwarded);
    }

    fn send_indication(&mut self, from: Client, msg: &Message<'_>, now: Instant) {
        let rate = self.cfg.bandwidth_bytes_per_sec;
        let forwarded = (|| {
            let peer = msg.xor_address(attr::XOR_PEER_ADDRESS)?;
            let payload = msg.get(attr::DATA)?;
            let id = self.by_client.get(&from)?;
            let a = self.allocations.get_mut(id)?;
            let relay = a.relay?;
            let outside = a.scoped && !self.cfg.scoped_peers.contains(&peer);
            if outside || !a.permitted(peer.ip(), now) || !a.spend(payload.len(), rate, now) {
                return None;
            }
            Some(Output::ToPeer { relay, peer, data: payload.to_vec() })
        })();
        self.forward(forwarded);
    }

    /// Queues a packet for a peer, or counts it as dropped.
    fn forward(&mut self, to_peer: Option<Output>) {
        match to_peer {
            Some(o) => {
                self.stats.relayed_to_peers += 1;
                if let Output::ToPeer { data, .. } = &o {
                    self.stats.bytes_to_peers += data.len() as u64;
                }
                self.out.push_back(o);
            }
            None => self.stats.dropped += 1,
        }
    }

    fn reply(&mut self, to: Client, data: Vec<u8>) {
        self.out.push_back(Output::ToClient { to, data });
    }

    fn request(&mut self, from: Client, msg: &Message<'_>, now: Instant, unix: u64) {
        let tid = msg.transaction_id;
        let unknown = msg.unknown_required();
        if !unknown.is_empty() {
            let list: Vec<u8> = unknown.iter().flat_map(|t| t.to_be_bytes()).collect();
            let resp = error(msg.method, tid, 420, "Unknown Attribute").attr(attr::UNKNOWN_ATTRIBUTES, &list).finish();
            return self.reply(from, resp);
        }
        if msg.method == method::BINDING {
            return self.reply(from, binding_success(tid, from.remote));
        }
        if !matches!(msg.method, method::ALLOCATE | method::REFRESH | method::CREATE_PERMISSION | method::CHANNEL_BIND)
        {
            return self.reply(from, error(msg.method, tid, 400, "Bad Request").finish());
        }
        let (username, key, kind) = match self.authenticate(from, msg, unix) {
            Auth::Ok { username, key, kind } => (username, key, kind),
            Auth::Refused(resp) => return self.reply(from, resp),
        };
        // Requests on an existing allocation must come from the user who made it.
        if let Some(a) = self.by_client.get(&from).and_then(|id| self.allocations.get(id)) {
            if a.username != username {
                let resp = error(msg.method, tid, 441, "Wrong Credentials").integrity(kind, &key).finish();
                return self.reply(from, resp);
            }
        }
        let result = match msg.method {
            method::ALLOCATE => self.allocate(from, msg, &username, &key, kind, now),
            method::REFRESH => self.refresh(from, msg, now),
            method::CREATE_PERMISSION => self.create_permission(from, msg, now),
            _ => self.channel_bind(from, msg, now),
        };
        match result {
            // Allocate answers later (once the relay socket is bound) or from its cache.
            Ok(None) => {}
            Ok(Some(b)) => self.reply(from, b.integrity(kind, &key).finish()),
            Err((code, reason)) => {
                self.reply(from, error(msg.method, tid, code, reason).integrity(kind, &key).finish())
            }
        }
    }

    fn authenticate(&self, from: Client, msg: &Message<'_>, unix: u64) -> Auth {
        let tid = msg.transaction_id;
        let realm = self.cfg.realm.as_str();
        let challenge = |code: u16, reason: &str| {
            Auth::Refused(
                error(msg.method, tid, code, reason)
                    .attr(attr::REALM, realm.as_bytes())
                    .attr(attr::NONCE, self.nonces.issue(from.remote.ip(), unix).as_bytes())
                    .finish(),
            )
        };
        let has_integrity =
            msg.get(attr::MESSAGE_INTEGRITY).is_some() || msg.get(attr::MESSAGE_INTEGRITY_SHA256).is_some();
        if !has_integrity {
            return challenge(401, "Unauthorized");
        }
        let (Some(username), Some(nonce), Some(req_realm)) =
            (msg.text(attr::USERNAME), msg.text(attr::NONCE), msg.text(attr::REALM))
        else {
            return Auth::Refused(error(msg.method, tid, 400, "Bad Request").finish());
        };
        match self.nonces.check(nonce, from.remote.ip(), unix) {
            NonceCheck::Valid => {}
            NonceCheck::Stale => return challenge(438, "Stale Nonce"),
            NonceCheck::Invalid => return challenge(401, "Unauthorized"),
        }
        if req_realm != realm {
            return challenge(401, "Unauthorized");
        }
        let key = match self.cfg.credentials.key(username, realm, unix) {
            Ok(k) => k,
            Err(CredentialError::Unknown | CredentialError::Expired) => return challenge(401, "Unauthorized"),
        };
        match msg.verify_integrity(&key) {
            Some(kind) => Auth::Ok { username: username.to_owned(), key, kind },
            None => challenge(401, "Unauthorized"),
        }
    }

    fn lifetime(&self, msg: &Message<'_>) -> Duration {
        let asked = msg.u32_attr(attr::LIFETIME).map(|s| Duration::from_secs(u64::from(s)));
        asked.unwrap_or(self.cfg.default_lifetime).clamp(self.cfg.default_lifetime, self.cfg.max_lifetime)
    }

    fn allocate(
        &mut self,
        from: Client,
        msg: &Message<'_>,
        username: &str,
        key: &[u8],
        kind: IntegrityKind,
        now: Instant,
    ) -> Result<Option<Builder>, (u16, &'static str)> {
        if let Some(a) = self.by_client.get(&from).and_then(|id| self.allocations.get(id)) {
            if a.allocate_tid == msg.transaction_id {
                // A retransmission: the same answer again (or nothing yet, if still binding).
                if let Some(r) = a.allocate_response.clone() {
                    self.reply(from, r);
                }
                return Ok(None);
            }
            return Err((437, "Allocation Mismatch"));
        }
        match msg.u32_attr(attr::REQUESTED_TRANSPORT) {
            None => return Err((400, "Bad Request")),
            Some(v) if v >> 24 != 17 => return Err((442, "Unsupported Transport Protocol")),
            Some(_) => {}
        }
        // EVEN-PORT is honoured; reserving the next port as well (R bit, RESERVATION-TOKEN) is not.
        let even = match msg.get(attr::EVEN_PORT) {
            None => false,
            Some(v) if v.first().is_some_and(|b| b & 0x80 == 0) => true,
            Some(_) => return Err((508, "Insufficient Capacity")),
        };
        if msg.get(attr::RESERVATION_TOKEN).is_some() {
            return Err((508, "Insufficient Capacity"));
        }
        if let Some(f) = msg.get(attr::REQUESTED_ADDRESS_FAMILY) {
            if f.first() != Some(&0x01) {
                return Err((440, "Address Family not Supported"));
            }
        }
        if self.per_user.get(username).copied().unwrap_or(0) >= self.cfg.user_quota {
            return Err((486, "Allocation Quota Reached"));
        }
        if self.allocations.len() >= self.cfg.max_allocations {
            return Err((508, "Insufficient Capacity"));
        }
        let id = self.next_id;
        self.next_id += 1;
        let lifetime = self.lifetime(msg);
        self.allocations.insert(
            id,
            Allocation {
                client: from,
                username: username.to_owned(),
                key: key.to_vec(),
                integrity: kind,
                relay: None,
                expires: now + lifetime,
                allocate_tid: msg.transaction_id,
                allocate_response: None,
                lifetime,
                permissions: HashMap::new(),
                scoped: crate::credentials::is_scoped(username),
                channels: HashMap::new(),
                peer_channel: HashMap::new(),
                tokens: self.cfg.bandwidth_bytes_per_sec as f64,
                last_refill: now,
            },
        );
        self.by_client.insert(from, id);
        *self.per_user.entry(username.to_owned()).or_default() += 1;
        // Until the relay is bound, the allocation still expires if the driver never answers.
        self.timers.push(Reverse((now + lifetime, id)));
        self.out.push_back(Output::BindRelay { alloc: id, even });
        Ok(None)
    }

    fn allocation(&mut self, from: Client) -> Result<(AllocId, &mut Allocation), (u16, &'static str)> {
        let id = *self.by_client.get(&from).ok_or((437, "Allocation Mismatch"))?;
        let a = self.allocations.get_mut(&id).ok_or((437, "Allocation Mismatch"))?;
        if a.relay.is_none() {
            return Err((437, "Allocation Mismatch"));
        }
        Ok((id, a))
    }

    fn refresh(
        &mut self,
        from: Client,
        msg: &Message<'_>,
        now: Instant,
    ) -> Result<Option<Builder>, (u16, &'static str)> {
        let asked_zero = msg.u32_attr(attr::LIFETIME) == Some(0);
        let lifetime = self.lifetime(msg);
        let (id, a) = self.allocation(from)?;
        let tid = msg.transaction_id;
        if asked_zero {
            self.remove(id);
            return Ok(Some(Builder::new(method::REFRESH, Class::Success, tid).u32(attr::LIFETIME, 0)));
        }
        a.expires = now + lifetime;
        self.timers.push(Reverse((now + lifetime, id)));
        Ok(Some(Builder::new(method::REFRESH, Class::Success, tid).u32(attr::LIFETIME, lifetime.as_secs() as u32)))
    }

    /// Checks a peer address against the policy and the relay's family; a scoped
    /// allocation may only name this server's own media addresses.
    fn check_peer(&self, peer: SocketAddr, scoped: bool) -> Result<(), (u16, &'static str)> {
        if !peer.is_ipv4() {
            return Err((443, "Peer Address Family Mismatch"));
        }
        if self.cfg.scoped_peers.contains(&peer) {
            return Ok(());
        }
        if scoped || !self.cfg.policy.permits(peer.ip()) {
            return Err((403, "Forbidden"));
        }
        Ok(())
    }

    fn scoped(&self, from: Client) -> bool {
        self.by_client.get(&from).and_then(|id| self.allocations.get(id)).is_some_and(|a| a.scoped)
    }

    fn create_permission(
        &mut self,
        from: Client,
        msg: &Message<'_>,
        now: Instant,
    ) -> Result<Option<Builder>, (u16, &'static str)> {
        let peers: Vec<SocketAddr> = msg
            .all(attr::XOR_PEER_ADDRESS)
            .map(|v| stun::decode_xor_address(v, &msg.transaction_id).ok_or((400, "Bad Request")))
            .collect::<Result<_, _>>()?;
        if peers.is_empty() {
            return Err((400, "Bad Request"));
        }
        let scoped = self.scoped(from);
        for p in &peers {
            self.check_peer(*p, scoped)?;
        }
        let (until, max) = (now + self.cfg.permission_lifetime, self.cfg.max_permissions);
        let (_, a) = self.allocation(from)?;
        a.permissions.retain(|_, t| *t > now);
        let new = peers.iter().filter(|p| !a.permissions.contains_key(&p.ip())).count();
        if a.permissions.len() + new > max {
            return Err((508, "Insufficient Capacity"));
        }
        for p in peers {
            a.permissions.insert(p.ip(), until);
        }
        Ok(Some(Builder::new(method::CREATE_PERMISSION, Class::Success, msg.transaction_id)))
    }

    fn channel_bind(
        &mut self,
        from: Client,
        msg: &Message<'_>,
        now: Instant,
    ) -> Result<Option<Builder>, (u16, &'static str)> {
        let ch = msg.u32_attr(attr::CHANNEL_NUMBER).map(|v| (v >> 16) as u16).ok_or((400, "Bad Request"))?;
        if !(stun::CHANNEL_MIN..=stun::CHANNEL_MAX).contains(&ch) {
            return Err((400, "Bad Request"));
        }
        let peer = msg.xor_address(attr::XOR_PEER_ADDRESS).ok_or((400, "Bad Request"))?;
        self.check_peer(peer, self.scoped(from))?;
        let (perm_until, ch_until, max) =
            (now + self.cfg.permission_lifetime, now + self.cfg.channel_lifetime, self.cfg.max_permissions);
        let (_, a) = self.allocation(from)?;
        // A channel is bound to one peer, and a peer to one channel, for the channel's life.
        if let Some((p, t)) = a.channels.get(&ch) {
            if *p != peer && *t > now {
                return Err((400, "Bad Request"));
            }
        }
        if let Some(c) = a.peer_channel.get(&peer) {
            if *c != ch && a.channels.get(c).is_some_and(|(_, t)| *t > now) {
                return Err((400, "Bad Request"));
            }
        }
        if !a.permissions.contains_key(&peer.ip()) && a.permissions.len() >= max {
            return Err((508, "Insufficient Capacity"));
        }
        if let Some((old, _)) = a.channels.insert(ch, (peer, ch_until)) {
            if old != peer {
                a.peer_channel.remove(&old);
            }
        }
        a.peer_channel.insert(peer, ch);
        a.permissions.insert(peer.ip(), perm_until);
        Ok(Some(Builder::new(method::CHANNEL_BIND, Class::Success, msg.transaction_id)))
    }
}

fn binding_success(tid: [u8; 12], mapped: SocketAddr) -> Vec<u8> {
    Builder::new(method::BINDING, Class::Success, tid).xor_address(attr::XOR_MAPPED_ADDRESS, mapped).finish()
}

/// The answer to a Binding request, which needs no state: drivers answer these without
/// taking the lock around the [`Server`]. `None` for anything else (including a Binding
/// request the server must refuse, e.g. with unknown comprehension-required attributes).
pub fn stateless_binding(from: SocketAddr, data: &[u8]) -> Option<Vec<u8>> {
    if data.len() < stun::HEADER_LEN || data[..2] != stun::message_type(method::BINDING, Class::Request).to_be_bytes() {
        return None;
    }
    let msg = Message::parse(data).ok()?;
    msg.unknown_required().is_empty().then(|| binding_success(msg.transaction_id, from))
}

fn error(m: u16, tid: [u8; 12], code: u16, reason: &str) -> Builder {
    Builder::new(m, Class::Error, tid).error(code, reason)
}

/// Transaction ids of Data indications only need to differ; no security rests on them.
fn random_tid(data: &[u8], now: Instant) -> [u8; 12] {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    data.len().hash(&mut h);
    now.hash(&mut h);
    let a = h.finish().to_be_bytes();
    let mut t = [0u8; 12];
    t[..8].copy_from_slice(&a);
    t
}
