//! Group calls through the real WebSocket driver and the real SFU threads: who may join,
//! garbage and misdirected requests, a flood of joins, and removal from the conversation.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on what they set up

mod common;

use std::time::Duration;

use common::{befriend, start_with, with_sfu};
use serde_json::{json, Value};

/// The next message of type `ty`, skipping others (a bounded wait).
async fn next_of(ws: &mut common::ws::Ws, ty: &str) -> Value {
    tokio::time::timeout(Duration::from_secs(10), ws.expect(ty)).await.unwrap()
}

/// The error reply with request id `id`.
async fn error_for(ws: &mut common::ws::Ws, id: u64) -> String {
    loop {
        let m = next_of(ws, "error").await;
        if m["id"] == id {
            return m["code"].as_str().unwrap().to_owned();
        }
    }
}

#[tokio::test]
async fn members_join_others_are_refused_and_garbage_gets_clear_errors() {
    let srv = start_with(with_sfu).await;
    let alice = srv.user("alice", false).await;
    let bob = srv.user("bob", false).await;
    let eve = srv.user("eve", false).await;
    befriend(&alice, &bob).await;
    let (st, conv) = alice
        .call("POST", "/api/v1/conversations", Some(json!({"kind": "group", "name": "G", "members": [bob.id]})))
        .await;
    assert_eq!(st, 201);
    let conv = conv["id"].as_i64().unwrap();

    // Not a member: refused, nothing joined.
    let mut e = eve.ws().await;
    e.send(json!({"type": "room_join", "id": 1, "conv": conv})).await;
    assert_eq!(error_for(&mut e, 1).await, "no_conversation");
    // SDP for a call one is not in.
    e.send(json!({"type": "room_sdp", "id": 2, "conv": conv, "kind": "offer", "sdp": "v=0"})).await;
    assert_eq!(error_for(&mut e, 2).await, "no_such_room");

    // A member joins; the conversation's members hear the call started.
    let mut a = alice.ws().await;
    let mut b = bob.ws().await;
    a.send(json!({"type": "room_join", "id": 1, "conv": conv})).await;
    let w = next_of(&mut a, "room_welcome").await;
    assert_eq!((w["id"].as_u64(), w["starter"].as_i64()), (Some(1), Some(alice.id)));
    let running = next_of(&mut b, "room_running").await;
    assert_eq!(running["users"], json!([alice.id]));
    let (_, list) = bob.call("GET", "/api/v1/conversations", None).await;
    assert_eq!(list[0]["call"], json!([alice.id]));
    // Joining twice, garbage SDP, a made-up answer: each a specific error.
    a.send(json!({"type": "room_join", "id": 2, "conv": conv})).await;
    assert_eq!(error_for(&mut a, 2).await, "invalid_state");
    a.send(json!({"type": "room_sdp", "id": 3, "conv": conv, "kind": "offer", "sdp": "v=0\r\nnot an offer"})).await;
    assert_eq!(error_for(&mut a, 3).await, "bad_sdp");
    a.send(json!({"type": "room_sdp", "id": 4, "conv": conv, "kind": "answer", "rev": 77, "sdp": "\u{0}\u{1}"})).await;
    assert_eq!(error_for(&mut a, 4).await, "bad_sdp");
    // Only the starter (or an admin) moderates.
    b.send(json!({"type": "room_join", "id": 5, "conv": conv})).await;
    let bw = next_of(&mut b, "room_welcome").await;
    let alice_p = w["participant"].as_u64().unwrap();
    let bob_p = bw["participant"].as_u64().unwrap();
    b.send(json!({"type": "room_moderate", "id": 6, "conv": conv, "participant": alice_p, "action": "remove"})).await;
    assert_eq!(error_for(&mut b, 6).await, "not_allowed");

    // Bob taken out of the conversation: out of the call at once.
    let (st, _) = alice.call("DELETE", &format!("/api/v1/conversations/{conv}/members/{}", bob.id), None).await;
    assert_eq!(st, 204);
    let removed = next_of(&mut b, "room_removed").await;
    assert_eq!(removed["reason"], "removed");
    let left = next_of(&mut a, "room_left").await;
    assert_eq!(left["participant"].as_u64(), Some(bob_p));
    b.send(json!({"type": "room_join", "id": 7, "conv": conv})).await;
    assert_eq!(error_for(&mut b, 7).await, "no_conversation");
}

#[tokio::test]
async fn a_flood_of_joins_is_bounded_and_the_server_stays_responsive() {
    let srv = start_with(with_sfu).await;
    let mallory = srv.user("mallory", false).await;
    let carol = srv.user("carol", false).await;
    let mut m = mallory.ws().await;
    // 1,000 joins as fast as the socket takes them, to conversations that do not exist.
    for i in 0..1000u64 {
        m.send_raw(common::ws::Message::Text(
            json!({"type": "room_join", "id": i + 10, "conv": 100_000 + i}).to_string().into(),
        ))
        .await;
    }
    // Every request is answered with an error (none joins), the rate limit cuts in, and the
    // abuser's socket is closed once it keeps going far past it.
    let mut codes = std::collections::BTreeMap::<String, usize>::new();
    let mut closed = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(5), m.next_frame()).await {
            Ok(Some(common::ws::Frame::Text(v))) => {
                assert_ne!(v["type"], "room_welcome", "{v}");
                if v["type"] == "error" {
                    *codes.entry(v["code"].as_str().unwrap_or("").to_owned()).or_default() += 1;
                }
            }
            Ok(Some(common::ws::Frame::Close(code))) => {
                closed = Some(code);
                break;
            }
            _ => break,
        }
    }
    assert!(codes.get("rate_limited").copied().unwrap_or(0) > 0, "{codes:?}");
    assert!(codes.get("no_conversation").copied().unwrap_or(0) > 0, "{codes:?}");
    assert_eq!(closed, Some(proto::ws::close::POLICY), "{codes:?}");
    // Someone else is served as usual meanwhile.
    let mut c = carol.ws().await;
    c.send(json!({"type": "ping", "id": 1})).await;
    let pong = next_of(&mut c, "pong").await;
    assert_eq!(pong["id"], 1);
}

#[tokio::test]
async fn a_started_group_call_rings_a_decline_stops_every_device_and_the_unanswered_miss_it() {
    let srv = start_with(with_sfu).await;
    let alice = srv.user("alice", false).await;
    let bob = srv.user("bob", false).await;
    let carol = srv.user("carol", false).await;
    let eve = srv.user("eve", false).await;
    befriend(&alice, &bob).await;
    befriend(&alice, &carol).await;
    let (_, g) = alice
        .call(
            "POST",
            "/api/v1/conversations",
            Some(json!({"kind": "group", "name": "Ward 3", "members": [bob.id, carol.id]})),
        )
        .await;
    let conv = g["id"].as_i64().unwrap();
    let mut a = alice.ws().await;
    let (mut b1, mut b2) = (bob.ws().await, bob.ws().await);
    let mut c = carol.ws().await;
    let mut e = eve.ws().await;

    a.send(json!({"type": "room_join", "id": 1, "conv": conv})).await;
    next_of(&mut a, "room_welcome").await;
    for ws in [&mut b1, &mut b2, &mut c] {
        let r = next_of(ws, "room_running").await;
        assert_eq!((r["users"].clone(), r["started"].as_bool()), (json!([alice.id]), Some(true)));
    }
    // Someone outside the group declining changes nothing (and learns nothing).
    e.send(json!({"type": "room_decline", "id": 3, "conv": conv})).await;
    assert_eq!(next_of(&mut e, "ok").await["id"], 3);
    // Bob declines on one device: every device of his stops ringing.
    b1.send(json!({"type": "room_decline", "id": 7, "conv": conv})).await;
    for ws in [&mut b1, &mut b2] {
        let ended = next_of(ws, "room_ring_ended").await;
        assert_eq!((ended["conv"].as_i64(), ended["reason"].as_str()), (Some(conv), Some("declined")));
    }
    // Carol does nothing; the call ends before her ring does: she missed it.
    a.send(json!({"type": "room_leave", "id": 2, "conv": conv})).await;
    let ended = next_of(&mut c, "room_ring_ended").await;
    assert_eq!(ended["reason"], "missed");

    let (_, mine) = carol.call("GET", "/api/v1/calls", None).await;
    let m = &mine.as_array().unwrap()[0];
    assert_eq!(
        (m["media"].as_str(), m["conv"].as_i64(), m["conv_name"].as_str(), m["other"]["id"].as_i64()),
        (Some("group"), Some(conv), Some("Ward 3"), Some(alice.id))
    );
    assert_eq!(
        (m["missed"].as_bool(), m["seen"].as_bool(), m["reason"].as_str()),
        (Some(true), Some(false), Some("missed"))
    );
    let (_, bobs) = bob.call("GET", "/api/v1/calls", None).await;
    let d = &bobs.as_array().unwrap()[0];
    assert_eq!((d["reason"].as_str(), d["missed"].as_bool()), (Some("declined"), Some(false)), "{bobs}");
    assert_eq!(bobs.as_array().unwrap().len(), 1, "declined once, recorded once");
    for who in [&alice, &eve] {
        let (_, h) = who.call("GET", "/api/v1/calls", None).await;
        assert_eq!(h, json!([]), "the starter and outsiders have no group call rows");
    }
}

#[tokio::test]
async fn a_call_started_again_by_a_rejoin_does_not_ring() {
    let srv = start_with(with_sfu).await;
    let alice = srv.user("alice", false).await;
    let bob = srv.user("bob", false).await;
    befriend(&alice, &bob).await;
    let (_, g) = alice
        .call("POST", "/api/v1/conversations", Some(json!({"kind": "group", "name": "G", "members": [bob.id]})))
        .await;
    let conv = g["id"].as_i64().unwrap();
    let (mut a, mut b) = (alice.ws().await, bob.ws().await);
    // As after a server restart: alice was in the call and comes back first.
    a.send(json!({"type": "room_join", "id": 1, "conv": conv, "rejoin": true})).await;
    next_of(&mut a, "room_welcome").await;
    let r = next_of(&mut b, "room_running").await;
    assert_eq!((r["users"].clone(), r["started"].as_bool()), (json!([alice.id]), Some(false)));
    a.send(json!({"type": "room_leave", "id": 2, "conv": conv})).await;
    let r = next_of(&mut b, "room_running").await;
    assert_eq!(r["users"], json!([]));
    // A later start rings as usual.
    a.send(json!({"type": "room_join", "id": 3, "conv": conv})).await;
    let r = next_of(&mut b, "room_running").await;
    assert_eq!(r["started"].as_bool(), Some(true));
    a.send(json!({"type": "room_leave", "id": 4, "conv": conv})).await;
    assert_eq!(next_of(&mut b, "room_ring_ended").await["reason"], "missed");
    let (_, h) = bob.call("GET", "/api/v1/calls", None).await;
    assert_eq!(h.as_array().unwrap().len(), 1, "only the call that rang is a missed call: {h}");
}
