//! The conference room core against arbitrary input: datagrams on the media port (routed by
//! our STUN reader, then into a participant's session) and SDP from clients, offers and
//! answers. Nothing may panic; the room stays consistent. The room's socket is a wildcard
//! address announcing another, as deployments run it.
#![no_main]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use str0m::net::Protocol;

fn crypto() -> Arc<str0m::crypto::CryptoProvider> {
    static C: OnceLock<Arc<str0m::crypto::CryptoProvider>> = OnceLock::new();
    C.get_or_init(|| Arc::new(str0m::crypto::from_feature_flags())).clone()
}

fuzz_target!(|data: &[u8]| {
    let addr: SocketAddr = ([10, 0, 0, 1], 5000).into();
    let from: SocketAddr = ([10, 0, 0, 2], 6000).into();
    let mut now = Instant::now();
    let bind: SocketAddr = ([0, 0, 0, 0], 5000).into();
    let mut room = sfu::Room::new(1, sfu::RoomConfig::default(), crypto(), bind, vec![addr]);
    let _ = room.join(1, 10, None, now);
    let _ = room.join(2, 20, None, now);
    // The input is a sequence of chunks: a tag byte, a length byte, then that many bytes.
    let mut rest = data;
    while rest.len() >= 2 {
        let (tag, len) = (rest[0], rest[1] as usize);
        let body = &rest[2..(2 + len).min(rest.len())];
        rest = &rest[(2 + len).min(rest.len())..];
        match tag % 5 {
            0 => {
                let _ = sfu::stun_route::local_ufrag(body);
                // Datagrams, and frames of an ICE-over-TCP connection (the length byte picks).
                let proto = if len % 2 == 0 { Protocol::Udp } else { Protocol::Tcp };
                room.receive(1, proto, from, body, now);
            }
            1 => {
                let sdp = String::from_utf8_lossy(body);
                let _ = room.sdp(1, true, 0, &sdp, &HashMap::new(), now);
            }
            2 => {
                let sdp = String::from_utf8_lossy(body);
                let _ = room.sdp(2, false, u64::from(len as u8), &sdp, &HashMap::new(), now);
            }
            3 => {
                now += Duration::from_millis(u64::from(len as u8) * 10);
                room.handle_timeout(now);
            }
            _ => room.leave(1 + u64::from(len as u8 % 2), sfu::LeaveReason::Left),
        }
        // As the driver does after each batch: the sessions written to are polled.
        let _ = room.poll_timeout(now);
        while room.poll_output().is_some() {}
    }
});
