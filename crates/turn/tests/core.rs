//! The sans-IO TURN core, driven deterministically: a simulated client builds requests with the
//! same codec the server uses, and every output is inspected.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on what they set up

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use turn::credentials::{issue, long_term_key, Credentials};
use turn::policy::PeerPolicy;
use turn::stun::{attr, method, Builder, Class, IntegrityKind, Message};
use turn::{Client, Config, Output, Server, Transport};

const REALM: &str = "test-realm";
const SECRET: &[u8] = b"shared-secret";
const UNIX: u64 = 1_800_000_000;

struct Sim {
    server: Server,
    now: Instant,
    client: Client,
    username: String,
    password: String,
    nonce: String,
    tid: u8,
    next_relay: u16,
}

fn config(policy: PeerPolicy) -> Config {
    let mut credentials = Credentials { secret: Some(SECRET.to_vec()), ..Default::default() };
    credentials.static_users.insert("static".into(), "pw".into());
    Config { realm: REALM.into(), policy, credentials, user_quota: 2, ..Config::default() }
}

fn client(port: u16, transport: Transport) -> Client {
    Client {
        transport,
        remote: SocketAddr::from(([198, 51, 100, 7], port)),
        local: "203.0.113.1:3478".parse().unwrap(),
    }
}

impl Sim {
    fn new(policy: PeerPolicy) -> Self {
        let (username, password) = issue(SECRET, "alice", UNIX, 3600);
        Self {
            server: Server::new(config(policy), b"seed", Duration::from_secs(600)),
            now: Instant::now(),
            client: client(5000, Transport::Udp),
            username,
            password,
            nonce: String::new(),
            tid: 0,
            next_relay: 40000,
        }
    }

    fn tid(&mut self) -> [u8; 12] {
        self.tid += 1;
        [self.tid; 12]
    }

    fn outputs(&mut self) -> Vec<Output> {
        let mut v = Vec::new();
        while let Some(o) = self.server.poll_output() {
            v.push(o);
        }
        v
    }

    /// Sends raw bytes from the client; binds relays the server asks for; returns what came back.
    fn send_raw(&mut self, data: &[u8]) -> Vec<Output> {
        self.server.client_packet(self.client, data, self.now, UNIX);
        let mut outs = self.outputs();
        while let Some(pos) = outs.iter().position(|o| matches!(o, Output::BindRelay { .. })) {
            let Output::BindRelay { alloc, .. } = outs.remove(pos) else { unreachable!() };
            self.next_relay += 1;
            let relay = SocketAddr::from(([203, 0, 113, 1], self.next_relay));
            self.server.relay_bound(alloc, Some(relay), self.now);
            outs.extend(self.outputs());
        }
        outs
    }

    /// The single response to the client, parsed into (class, error code, raw).
    fn response(outs: &[Output]) -> Vec<u8> {
        let mut r = outs.iter().filter_map(|o| match o {
            Output::ToClient { data, .. } => Some(data.clone()),
            _ => None,
        });
        let first = r.next().expect("a response");
        assert!(r.next().is_none(), "exactly one response: {outs:?}");
        first
    }

    /// Sends an authenticated request (getting a nonce first if needed); returns the response.
    fn request(&mut self, m: u16, add: impl Fn(Builder) -> Builder) -> Vec<u8> {
        if self.nonce.is_empty() {
            let tid = self.tid();
            let r = Self::response(&self.send_raw(&add(Builder::new(m, Class::Request, tid)).finish()));
            let msg = Message::parse(&r).unwrap();
            assert_eq!(code(&msg), Some(401));
            self.nonce = msg.text(attr::NONCE).unwrap().to_owned();
            assert_eq!(msg.text(attr::REALM), Some(REALM));
        }
        let key = long_term_key(&self.username, REALM, &self.password);
        let tid = self.tid();
        let b = add(Builder::new(m, Class::Request, tid))
            .attr(attr::USERNAME, self.username.as_bytes())
            .attr(attr::REALM, REALM.as_bytes())
            .attr(attr::NONCE, self.nonce.as_bytes())
            .integrity(IntegrityKind::Sha1, &key)
            .finish();
        Self::response(&self.send_raw(&b))
    }

    fn allocate(&mut self) -> SocketAddr {
        let r = self.request(method::ALLOCATE, |b| b.u32(attr::REQUESTED_TRANSPORT, 17 << 24));
        let m = Message::parse(&r).unwrap();
        assert_eq!(m.class, Class::Success, "allocate failed: {:?}", code(&m));
        let key = long_term_key(&self.username, REALM, &self.password);
        assert!(m.verify_integrity(&key).is_some(), "responses are signed");
        assert_eq!(m.xor_address(attr::XOR_MAPPED_ADDRESS), Some(self.client.remote));
        m.xor_address(attr::XOR_RELAYED_ADDRESS).unwrap()
    }
}

fn code(m: &Message<'_>) -> Option<u16> {
    let v = m.get(attr::ERROR_CODE)?;
    Some(u16::from(v[2]) * 100 + u16::from(v[3]))
}

fn code_of(raw: &[u8]) -> Option<u16> {
    code(&Message::parse(raw).unwrap())
}

fn loopback_allowed() -> PeerPolicy {
    PeerPolicy { allow: vec!["127.0.0.0/8".parse().unwrap()] }
}

#[test]
fn binding_reports_the_mapped_address_without_authentication() {
    let mut s = Sim::new(PeerPolicy::default());
    let req = Builder::new(method::BINDING, Class::Request, [9; 12]).finish();
    let r = Sim::response(&s.send_raw(&req));
    let m = Message::parse(&r).unwrap();
    assert_eq!((m.method, m.class), (method::BINDING, Class::Success));
    assert_eq!(m.xor_address(attr::XOR_MAPPED_ADDRESS), Some(s.client.remote));
    // No amplification: the answer to an unauthenticated request stays small.
    assert!(r.len() <= 2 * req.len() + 24, "{} bytes for a {}-byte request", r.len(), req.len());
}

#[test]
fn allocate_needs_valid_credentials_and_is_idempotent_per_transaction() {
    let mut s = Sim::new(PeerPolicy::default());
    let relay = s.allocate();
    assert_eq!(s.server.stats().allocations, 1);
    // Another Allocate from the same five-tuple with a new transaction: 437.
    let r = s.request(method::ALLOCATE, |b| b.u32(attr::REQUESTED_TRANSPORT, 17 << 24));
    assert_eq!(code_of(&r), Some(437));
    // A retransmission of the original transaction gets the original answer.
    let key = long_term_key(&s.username, REALM, &s.password);
    let again = Builder::new(method::ALLOCATE, Class::Request, [2; 12])
        .u32(attr::REQUESTED_TRANSPORT, 17 << 24)
        .attr(attr::USERNAME, s.username.as_bytes())
        .attr(attr::REALM, REALM.as_bytes())
        .attr(attr::NONCE, s.nonce.as_bytes())
        .integrity(IntegrityKind::Sha1, &key)
        .finish();
    let r = Sim::response(&s.send_raw(&again));
    assert_eq!(Message::parse(&r).unwrap().xor_address(attr::XOR_RELAYED_ADDRESS), Some(relay));
}

#[test]
fn wrong_password_stale_nonce_expired_credentials_and_quota_are_refused() {
    let mut s = Sim::new(PeerPolicy::default());
    s.password = "wrong".into();
    let r = s.request(method::ALLOCATE, |b| b.u32(attr::REQUESTED_TRANSPORT, 17 << 24));
    assert_eq!(code_of(&r), Some(401));
    assert!(Message::parse(&r).unwrap().get(attr::MESSAGE_INTEGRITY).is_none(), "no MAC with a key we doubt");

    let mut s = Sim::new(PeerPolicy::default());
    s.nonce = format!("{:016x}{}", 1u64, "0".repeat(24));
    let r = s.request(method::ALLOCATE, |b| b.u32(attr::REQUESTED_TRANSPORT, 17 << 24));
    assert_eq!(code_of(&r), Some(401), "a forged nonce");

    // A nonce from 11 minutes ago is stale: 438 with a fresh one.
    let mut s = Sim::new(PeerPolicy::default());
    s.nonce = turn::nonce::Nonces::new(b"seed", 600).issue(s.client.remote.ip(), UNIX - 700);
    let r = s.request(method::ALLOCATE, |b| b.u32(attr::REQUESTED_TRANSPORT, 17 << 24));
    assert_eq!(code_of(&r), Some(438));
    assert!(Message::parse(&r).unwrap().get(attr::NONCE).is_some());

    let mut s = Sim::new(PeerPolicy::default());
    (s.username, s.password) = issue(SECRET, "alice", UNIX - 7200, 3600);
    let r = s.request(method::ALLOCATE, |b| b.u32(attr::REQUESTED_TRANSPORT, 17 << 24));
    assert_eq!(code_of(&r), Some(401), "expired REST credentials");

    // Quota: two allocations per user (config), the third from a new port is refused.
    let mut s = Sim::new(PeerPolicy::default());
    s.allocate();
    s.client = client(5001, Transport::Udp);
    s.allocate();
    s.client = client(5002, Transport::Udp);
    let r = s.request(method::ALLOCATE, |b| b.u32(attr::REQUESTED_TRANSPORT, 17 << 24));
    assert_eq!(code_of(&r), Some(486));
}

#[test]
fn bad_requests_get_specific_errors() {
    let mut s = Sim::new(PeerPolicy::default());
    let r = s.request(method::ALLOCATE, |b| b.u32(attr::REQUESTED_TRANSPORT, 6 << 24));
    assert_eq!(code_of(&r), Some(442), "TCP relay not supported");
    let r = s.request(method::ALLOCATE, |b| b);
    assert_eq!(code_of(&r), Some(400), "no REQUESTED-TRANSPORT");
    let r = s.request(method::ALLOCATE, |b| b.u32(attr::REQUESTED_TRANSPORT, 17 << 24).attr(0x0031, b"????"));
    assert_eq!(code_of(&r), Some(420));
    let unknown = Message::parse(&r).unwrap().get(attr::UNKNOWN_ATTRIBUTES).unwrap().to_vec();
    assert_eq!(unknown, vec![0x00, 0x31]);
    let r =
        s.request(method::CREATE_PERMISSION, |b| b.xor_address(attr::XOR_PEER_ADDRESS, "192.0.2.1:1".parse().unwrap()));
    assert_eq!(code_of(&r), Some(437), "no allocation yet");
    let r = s.request(method::ALLOCATE, |b| {
        b.u32(attr::REQUESTED_TRANSPORT, 17 << 24).attr(attr::REQUESTED_ADDRESS_FAMILY, &[2, 0, 0, 0])
    });
    assert_eq!(code_of(&r), Some(440));
    // Garbage and responses are dropped without an answer.
    assert!(s.send_raw(&[0xde, 0xad, 0xbe, 0xef]).is_empty());
    let resp = Builder::new(method::BINDING, Class::Success, [1; 12]).finish();
    assert!(s.send_raw(&resp).is_empty());
    let mut truncated =
        Builder::new(method::BINDING, Class::Request, [1; 12]).attr(attr::SOFTWARE, b"abcd").finish_plain();
    truncated[22] = 0x10;
    assert!(s.send_raw(&truncated).is_empty());
}

#[test]
fn relay_to_private_addresses_is_refused_by_default() {
    let mut s = Sim::new(PeerPolicy::default());
    s.allocate();
    for peer in ["127.0.0.1:9", "10.0.0.1:9", "192.168.1.1:9", "169.254.0.1:9", "100.64.0.1:9"] {
        let r = s.request(method::CREATE_PERMISSION, |b| b.xor_address(attr::XOR_PEER_ADDRESS, peer.parse().unwrap()));
        assert_eq!(code_of(&r), Some(403), "{peer}");
        let r = s.request(method::CHANNEL_BIND, |b| {
            b.u32(attr::CHANNEL_NUMBER, 0x4000 << 16).xor_address(attr::XOR_PEER_ADDRESS, peer.parse().unwrap())
        });
        assert_eq!(code_of(&r), Some(403), "{peer}");
    }
}

#[test]
fn send_and_data_indications_need_a_permission() {
    let mut s = Sim::new(loopback_allowed());
    let relay = s.allocate();
    let peer: SocketAddr = "127.0.0.1:7000".parse().unwrap();
    let send = |b: Builder| b.xor_address(attr::XOR_PEER_ADDRESS, peer).attr(attr::DATA, b"hello peer").finish();
    // Before CreatePermission: dropped.
    assert!(s.send_raw(&send(Builder::new(method::SEND, Class::Indication, [7; 12]))).is_empty());
    s.server.peer_packet(relay, peer, b"early", s.now);
    assert!(s.outputs().is_empty());

    let r = s.request(method::CREATE_PERMISSION, |b| b.xor_address(attr::XOR_PEER_ADDRESS, peer));
    assert_eq!(Message::parse(&r).unwrap().class, Class::Success);
    let outs = s.send_raw(&send(Builder::new(method::SEND, Class::Indication, [8; 12])));
    assert_eq!(outs, vec![Output::ToPeer { relay, peer, data: b"hello peer".to_vec() }]);
    s.server.peer_packet(relay, peer, b"hello client", s.now);
    let back = Sim::response(&s.outputs());
    let m = Message::parse(&back).unwrap();
    assert_eq!((m.method, m.class), (method::DATA, Class::Indication));
    assert_eq!(m.get(attr::DATA), Some(&b"hello client"[..]));
    assert_eq!(m.xor_address(attr::XOR_PEER_ADDRESS), Some(peer));
    // Permissions are by IP: another port of the same host passes, another host does not.
    s.server.peer_packet(relay, "127.0.0.1:7001".parse().unwrap(), b"x", s.now);
    assert_eq!(s.outputs().len(), 1);
    s.server.peer_packet(relay, "127.0.0.2:7000".parse().unwrap(), b"x", s.now);
    assert!(s.outputs().is_empty());
    // After five minutes the permission is gone.
    s.now += Duration::from_secs(301);
    s.server.peer_packet(relay, peer, b"late", s.now);
    assert!(s.outputs().is_empty());
}

#[test]
fn channels_carry_data_both_ways_and_unbound_channels_are_dropped() {
    let mut s = Sim::new(loopback_allowed());
    let relay = s.allocate();
    let peer: SocketAddr = "127.0.0.1:7000".parse().unwrap();
    let r = s.request(method::CHANNEL_BIND, |b| {
        b.u32(attr::CHANNEL_NUMBER, 0x4001 << 16).xor_address(attr::XOR_PEER_ADDRESS, peer)
    });
    assert_eq!(Message::parse(&r).unwrap().class, Class::Success);
    let outs = s.send_raw(&turn::stun::channel_data(0x4001, b"via channel", false));
    assert_eq!(outs, vec![Output::ToPeer { relay, peer, data: b"via channel".to_vec() }]);
    assert!(s.send_raw(&turn::stun::channel_data(0x4002, b"unbound", false)).is_empty());
    // The same ChannelData from another five-tuple (no allocation there) goes nowhere.
    let stranger = client(5999, Transport::Udp);
    s.server.client_packet(stranger, &turn::stun::channel_data(0x4001, b"spoof", false), s.now, UNIX);
    assert!(s.outputs().is_empty());
    s.server.peer_packet(relay, peer, b"reply", s.now);
    assert_eq!(Sim::response(&s.outputs()), turn::stun::channel_data(0x4001, b"reply", false));
    // The same channel for another peer, or another channel for this peer: 400.
    let r = s.request(method::CHANNEL_BIND, |b| {
        b.u32(attr::CHANNEL_NUMBER, 0x4001 << 16).xor_address(attr::XOR_PEER_ADDRESS, "127.0.0.2:1".parse().unwrap())
    });
    assert_eq!(code_of(&r), Some(400));
    let r = s.request(method::CHANNEL_BIND, |b| {
        b.u32(attr::CHANNEL_NUMBER, 0x4003 << 16).xor_address(attr::XOR_PEER_ADDRESS, peer)
    });
    assert_eq!(code_of(&r), Some(400));
    let r = s.request(method::CHANNEL_BIND, |b| {
        b.u32(attr::CHANNEL_NUMBER, 0x3000 << 16).xor_address(attr::XOR_PEER_ADDRESS, peer)
    });
    assert_eq!(code_of(&r), Some(400), "channel number out of range");
}

#[test]
fn over_tcp_channel_data_is_padded() {
    let mut s = Sim::new(loopback_allowed());
    s.client = client(6000, Transport::Tcp);
    let relay = s.allocate();
    let peer: SocketAddr = "127.0.0.1:7000".parse().unwrap();
    s.request(method::CHANNEL_BIND, |b| {
        b.u32(attr::CHANNEL_NUMBER, 0x4000 << 16).xor_address(attr::XOR_PEER_ADDRESS, peer)
    });
    s.server.peer_packet(relay, peer, b"abcde", s.now);
    assert_eq!(Sim::response(&s.outputs()).len(), 12);
    // Closing the connection frees the allocation.
    s.server.client_closed(s.client);
    assert_eq!(s.outputs(), vec![Output::ReleaseRelay { relay }]);
    assert_eq!(s.server.stats().allocations, 0);
}

#[test]
fn refresh_extends_or_ends_and_allocations_expire() {
    let mut s = Sim::new(PeerPolicy::default());
    let relay = s.allocate();
    let r = s.request(method::REFRESH, |b| b.u32(attr::LIFETIME, 1200));
    assert_eq!(Message::parse(&r).unwrap().u32_attr(attr::LIFETIME), Some(1200));
    s.now += Duration::from_secs(700);
    s.server.handle_timeout(s.now);
    assert_eq!(s.server.stats().allocations, 1, "refreshed past the first expiry");
    s.now += Duration::from_secs(600);
    s.server.handle_timeout(s.now);
    assert_eq!(s.outputs(), vec![Output::ReleaseRelay { relay }]);
    assert_eq!(s.server.stats().allocations, 0);

    let mut s = Sim::new(PeerPolicy::default());
    let relay = s.allocate();
    let r = s.request(method::REFRESH, |b| b.u32(attr::LIFETIME, 0));
    assert_eq!(Message::parse(&r).unwrap().class, Class::Success);
    s.server.handle_timeout(s.now);
    assert!(s.outputs().is_empty());
    assert_eq!(s.server.stats().allocations, 0);
    let _ = relay;
}

#[test]
fn another_user_cannot_use_an_allocation() {
    let mut s = Sim::new(PeerPolicy::default());
    s.allocate();
    s.username = "static".into();
    s.password = "pw".into();
    let r = s.request(method::REFRESH, |b| b.u32(attr::LIFETIME, 600));
    assert_eq!(code_of(&r), Some(441));
}

#[test]
fn bandwidth_cap_drops_the_excess() {
    let mut cfg = config(loopback_allowed());
    cfg.bandwidth_bytes_per_sec = 1000;
    let mut s = Sim::new(loopback_allowed());
    s.server = Server::new(cfg, b"seed", Duration::from_secs(600));
    let relay = s.allocate();
    let peer: SocketAddr = "127.0.0.1:7000".parse().unwrap();
    s.request(method::CREATE_PERMISSION, |b| b.xor_address(attr::XOR_PEER_ADDRESS, peer));
    let mut passed = 0;
    for _ in 0..10 {
        s.server.peer_packet(relay, peer, &[0u8; 300], s.now);
        passed += s.outputs().len();
    }
    assert_eq!(passed, 3, "1000 bytes of budget let three 300-byte packets through");
    s.now += Duration::from_secs(1);
    s.server.peer_packet(relay, peer, &[0u8; 300], s.now);
    assert_eq!(s.outputs().len(), 1, "the budget refills");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]
    /// Arbitrary bytes, or a valid header with arbitrary attributes, never panic the server.
    #[test]
    fn arbitrary_packets_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300), tweak in any::<u8>()) {
        let mut s = Sim::new(loopback_allowed());
        s.allocate();
        s.send_raw(&data);
        let mut framed = Builder::new(method::ALLOCATE, Class::Request, [tweak; 12]).finish_plain();
        framed.extend_from_slice(&data[..data.len() / 4 * 4]);
        let len = (framed.len() - 20) as u16;
        framed[2..4].copy_from_slice(&len.to_be_bytes());
        s.send_raw(&framed);
        s.server.peer_packet("203.0.113.1:40001".parse().unwrap(), "127.0.0.1:1".parse().unwrap(), &data, s.now);
        s.server.handle_timeout(s.now + Duration::from_secs(u64::from(tweak) * 30));
        let _ = s.outputs();
    }
}

#[test]
fn scoped_credentials_relay_only_to_the_servers_own_media_port_which_everyone_may_reach() {
    // The conference port on a private address: refused by the default policy, but it is
    // this server's own, so every allocation may relay there.
    let sfu: SocketAddr = "10.0.0.5:7882".parse().unwrap();
    let scoped_config = |mut c: Config| {
        c.scoped_peers = vec![sfu];
        c
    };
    let mut member = Sim::new(PeerPolicy::default());
    member.server = Server::new(scoped_config(config(PeerPolicy::default())), b"seed", Duration::from_secs(600));
    member.allocate();
    let r = member.request(method::CREATE_PERMISSION, |b| b.xor_address(attr::XOR_PEER_ADDRESS, sfu));
    assert_eq!(Message::parse(&r).unwrap().class, Class::Success);
    let r = member
        .request(method::CREATE_PERMISSION, |b| b.xor_address(attr::XOR_PEER_ADDRESS, "10.0.0.6:9".parse().unwrap()));
    assert_eq!(code_of(&r), Some(403), "other private addresses stay refused");

    // A scoped credential (a meeting guest's): the media port and nothing else, not even a
    // public address or another port of the same host.
    let mut guest = Sim::new(PeerPolicy::default());
    guest.server = Server::new(scoped_config(config(PeerPolicy::default())), b"seed", Duration::from_secs(600));
    (guest.username, guest.password) = issue(SECRET, "scoped~42", UNIX, 3600);
    assert!(turn::credentials::is_scoped(&guest.username) && !turn::credentials::is_scoped(&member.username));
    let relay = guest.allocate();
    for peer in ["198.51.100.20:3478", "10.0.0.5:22"] {
        let peer: SocketAddr = peer.parse().unwrap();
        let r = guest.request(method::CREATE_PERMISSION, |b| b.xor_address(attr::XOR_PEER_ADDRESS, peer));
        assert_eq!(code_of(&r), Some(403), "{peer}");
        let r = guest.request(method::CHANNEL_BIND, |b| {
            b.u32(attr::CHANNEL_NUMBER, 0x4000 << 16).xor_address(attr::XOR_PEER_ADDRESS, peer)
        });
        assert_eq!(code_of(&r), Some(403), "{peer}");
    }
    let r = guest.request(method::CREATE_PERMISSION, |b| b.xor_address(attr::XOR_PEER_ADDRESS, sfu));
    assert_eq!(Message::parse(&r).unwrap().class, Class::Success);
    let send = |peer: SocketAddr, tid: [u8; 12]| {
        Builder::new(method::SEND, Class::Indication, tid)
            .xor_address(attr::XOR_PEER_ADDRESS, peer)
            .attr(attr::DATA, b"x")
            .finish()
    };
    assert_eq!(guest.send_raw(&send(sfu, [9; 12])).len(), 1);
    // The permission is for the host, but a scoped allocation still reaches only the port.
    assert!(guest.send_raw(&send("10.0.0.5:22".parse().unwrap(), [10; 12])).is_empty());
    guest.server.peer_packet(relay, "10.0.0.5:22".parse().unwrap(), b"x", guest.now);
    assert!(guest.outputs().is_empty());
    guest.server.peer_packet(relay, sfu, b"x", guest.now);
    assert_eq!(guest.outputs().len(), 1);
}
