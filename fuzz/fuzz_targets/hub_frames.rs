//! The signaling decoder and hub driven by arbitrary bytes: a few users connect, and every
//! chunk of input becomes a frame, a disconnect, a resume or a jump in time. The hub must never
//! panic and must keep its invariants (`Hub::check_invariants`).
#![no_main]
use std::time::{Duration, Instant};

use hub::{Hub, HubConfig, Input, Relations};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut n = 0u64;
    let mut hub = Hub::new(HubConfig::default(), Box::new(move || {
        n += 1;
        format!("t{n}")
    }));
    let mut now = Instant::now();
    // four users, all contacts of each other, one socket each to start with; user 4 is a
    // meeting guest, scoped to conversation 1
    let guest = |u: i64| (u == 4).then_some(hub::GuestScope { conv: 1 });
    for u in 1..=4i64 {
        let contacts = (1..=4).filter(|c| *c != u).collect();
        let relations = Relations { contacts, blocked: vec![] };
        hub.handle(Input::Open { conn: u as u64, user: u, session: u, relations, guest: guest(u) }, now);
        hub.handle(Input::Text { conn: u as u64, text: r#"{"type":"hello","v":1}"#.into() }, now);
    }
    let mut next_conn = 5u64;
    for chunk in data.split(|b| *b == 0xff) {
        let Some((&op, rest)) = chunk.split_first() else { continue };
        let conn = u64::from(op % 8) + 1;
        match op >> 5 {
            0..=4 => {
                // a frame: the raw bytes if UTF-8, else a templated call message with fuzzed numbers
                let text = match std::str::from_utf8(rest) {
                    Ok(s) => s.to_owned(),
                    Err(_) => {
                        let call = rest.first().copied().unwrap_or(1) % 6;
                        let callee = rest.get(1).copied().unwrap_or(2) % 5;
                        match rest.len() % 11 {
                            7 => format!(r#"{{"type":"file_offer","id":3,"to":{callee},"name":"f","size":{call}}}"#),
                            8 => format!(r#"{{"type":"file_accept","transfer_id":{call}}}"#),
                            9 => format!(r#"{{"type":"file_signal","transfer_id":{call},"data":{{"x":1}}}}"#),
                            10 => format!(r#"{{"type":"file_end","transfer_id":{call},"reason":"completed"}}"#),
                            5 => format!(r#"{{"type":"chat_send","id":2,"conv":{call},"client_id":"c{callee}","text":"x"}}"#),
                            6 => format!(r#"{{"type":"chat_receipt","conv":{call},"read":{callee}}}"#),
                            0 => format!(r#"{{"type":"call_invite","id":1,"callee":{callee},"media":"video"}}"#),
                            1 => format!(r#"{{"type":"call_accept","call_id":{call}}}"#),
                            2 if callee % 2 == 0 => format!(r#"{{"type":"call_hangup","call_id":{call}}}"#),
                            2 => format!(r#"{{"type":"call_hangup","call_id":{call},"reason":"connect_failed"}}"#),
                            3 => format!(r#"{{"type":"call_signal","call_id":{call},"data":{{"x":1}}}}"#),
                            _ => format!(r#"{{"type":"call_decline","call_id":{call}}}"#),
                        }
                    }
                };
                hub.handle(Input::Text { conn, text }, now);
            }
            5 => hub.handle(Input::Closed { conn, clean: op & 1 == 0 }, now),
            6 => {
                let user = i64::from(op % 4) + 1;
                let c = next_conn;
                next_conn += 1;
                let relations = Relations::default();
                hub.handle(Input::Open { conn: c, user, session: user, relations, guest: guest(user) }, now);
                let token = String::from_utf8_lossy(rest).into_owned();
                let hello = serde_json::json!({"type": "hello", "v": 1, "resume": {"token": token, "last_seq": op}});
                hub.handle(Input::Text { conn: c, text: hello.to_string() }, now);
            }
            _ => {
                now += Duration::from_secs(u64::from(rest.first().copied().unwrap_or(1)));
                hub.handle_timeout(now);
            }
        }
        // Play the driver for chat: every accepted request comes back as a delivery to all.
        while let Some(out) = hub.poll_output() {
            if let hub::Output::Chat(req) = out {
                let reply = Some((req.conn, proto::ws::ServerMessage::Ok { id: req.id.unwrap_or(0) }));
                let event = hub::ChatEvent::Receipt { conv: 1, user: req.user, delivered_seq: 1, read_seq: 1 };
                hub.handle(Input::chat_deliver(reply, vec![1, 2, 3, 4], Some(req.conn), Some(event)), now);
            }
        }
        if let Err(e) = hub.check_invariants() {
            panic!("invariant broken: {e}");
        }
    }
});
