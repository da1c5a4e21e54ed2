//! The TURN core driven by arbitrary input: each chunk is a packet from one of a few clients
//! (UDP or TCP), a packet from a peer to a relay, a jump in time or a closed connection. One
//! client holds a valid allocation with a channel first, so the fuzzer reaches the relay paths.
#![no_main]
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use turn::credentials::{long_term_key, Credentials};
use turn::policy::PeerPolicy;
use turn::stun::{attr, method, Builder, Class, IntegrityKind, Message};
use turn::{Client, Config, Output, Server, Transport};

fn drain(s: &mut Server, now: Instant, relays: &mut Vec<SocketAddr>) -> Vec<Vec<u8>> {
    let mut to_client = Vec::new();
    while let Some(o) = s.poll_output() {
        match o {
            Output::BindRelay { alloc, .. } => {
                let r = SocketAddr::from(([203, 0, 113, 1], 40000 + relays.len() as u16));
                relays.push(r);
                s.relay_bound(alloc, Some(r), now);
            }
            Output::ToClient { data, .. } => to_client.push(data),
            _ => {}
        }
    }
    to_client
}

fuzz_target!(|data: &[u8]| {
    let mut credentials = Credentials::default();
    credentials.static_users.insert("u".into(), "p".into());
    let cfg = Config { credentials, policy: PeerPolicy { allow: vec!["127.0.0.0/8".parse().unwrap()] }, ..Config::default() };
    let mut s = Server::new(cfg, b"fuzz", Duration::from_secs(600));
    let mut now = Instant::now();
    let unix = 1_800_000_000;
    let mut relays = Vec::new();
    let clients: Vec<Client> = (0..4u16)
        .map(|i| Client {
            transport: if i % 2 == 0 { Transport::Udp } else { Transport::Tcp },
            remote: SocketAddr::from(([198, 51, 100, 1], 5000 + i)),
            local: "203.0.113.1:3478".parse().unwrap(),
        })
        .collect();
    // Client 0 allocates (getting a nonce first) and binds channel 0x4000 to 127.0.0.1:7000.
    let probe = Builder::new(method::ALLOCATE, Class::Request, [1; 12]).u32(attr::REQUESTED_TRANSPORT, 17 << 24).finish();
    s.client_packet(clients[0], &probe, now, unix);
    let nonce = drain(&mut s, now, &mut relays)
        .first()
        .and_then(|r| Message::parse(r).ok().and_then(|m| m.text(attr::NONCE).map(str::to_owned)))
        .unwrap_or_default();
    let key = long_term_key("u", "mywebrtc", "p");
    let signed = |b: Builder| {
        b.attr(attr::USERNAME, b"u").attr(attr::REALM, b"mywebrtc").attr(attr::NONCE, nonce.as_bytes()).integrity(IntegrityKind::Sha1, &key).finish()
    };
    s.client_packet(clients[0], &signed(Builder::new(method::ALLOCATE, Class::Request, [2; 12]).u32(attr::REQUESTED_TRANSPORT, 17 << 24)), now, unix);
    drain(&mut s, now, &mut relays);
    let peer: SocketAddr = "127.0.0.1:7000".parse().unwrap();
    s.client_packet(
        clients[0],
        &signed(Builder::new(method::CHANNEL_BIND, Class::Request, [3; 12]).u32(attr::CHANNEL_NUMBER, 0x4000 << 16).xor_address(attr::XOR_PEER_ADDRESS, peer)),
        now,
        unix,
    );
    drain(&mut s, now, &mut relays);

    for chunk in data.split(|b| *b == 0xfe) {
        let Some((&op, rest)) = chunk.split_first() else { continue };
        let c = clients[usize::from(op % 4)];
        match op >> 5 {
            0..=3 => s.client_packet(c, rest, now, unix),
            4 => {
                // A valid signed request around fuzzed attributes.
                let mut b = Builder::new(u16::from(op & 0x0f), Class::Request, [op; 12]);
                for a in rest.chunks(6) {
                    if a.len() >= 2 {
                        b = b.attr(u16::from_be_bytes([a[0], a[1]]), &a[2..]);
                    }
                }
                s.client_packet(c, &signed(b), now, unix);
            }
            5 => {
                if let Some(r) = relays.get(usize::from(op) % relays.len().max(1)) {
                    s.peer_packet(*r, peer, rest, now);
                }
            }
            6 => s.client_closed(c),
            _ => {
                now += Duration::from_secs(u64::from(rest.first().copied().unwrap_or(1)) * 10);
                s.handle_timeout(now);
            }
        }
        drain(&mut s, now, &mut relays);
    }
});
