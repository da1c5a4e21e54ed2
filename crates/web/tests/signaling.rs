//! The signaling WebSocket against the real server: authentication and origin, presence,
//! contact events, every call outcome, authorization, hostile frames, heartbeats.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on what they set up

mod common;

use std::time::Duration;

use common::{befriend, start_with, ws, TestServer};
use serde_json::json;
use testkit::ws::Message;

/// Short ring timeout and grace period. The heartbeat stays long: a test client answers
/// pings only while it reads its socket.
async fn server() -> TestServer {
    server_with_heartbeat(Duration::from_secs(10)).await
}

async fn server_with_heartbeat(interval: Duration) -> TestServer {
    start_with(|c| {
        c.hub.ring_timeout = Duration::from_secs(2);
        c.hub.resume_grace = Duration::from_millis(800);
        c.hub.heartbeat_interval = interval;
        c.hub.heartbeat_timeout = interval * 3;
        c.session_recheck = Duration::from_millis(300);
    })
    .await
}

#[tokio::test]
async fn socket_needs_a_session_and_our_own_origin() {
    let s = server().await;
    let alice = s.user("alice", false).await;
    assert_eq!(ws::connect(&s.url, None, Some(&s.url)).await.err(), Some(401));
    assert_eq!(ws::connect(&s.url, alice.cookie.as_deref(), Some("https://evil.example")).await.err(), Some(403));
    assert_eq!(ws::connect(&s.url, alice.cookie.as_deref(), None).await.err(), Some(403));
    let mut w = ws::connect(&s.url, alice.cookie.as_deref(), Some(&s.url)).await.unwrap();
    w.send(json!({"type": "ping", "id": 1})).await;
    assert_eq!(w.recv().await.unwrap()["code"], "hello_required");
    let welcome = w.hello().await;
    assert_eq!(welcome["user"], alice.id);
    assert_eq!(welcome["v"], 1);
    assert!(welcome["resume_token"].as_str().unwrap().len() >= 32);
}

#[tokio::test]
async fn presence_is_seen_by_contacts_and_never_by_strangers() {
    let s = server().await;
    let alice = s.user("alice", false).await;
    let bob = s.user("bob", false).await;
    let carol = s.user("carol", false).await;
    befriend(&alice, &bob).await;
    let mut b = bob.ws().await;
    let mut c = carol.ws().await;
    let mut a = alice.ws().await;
    let p = b.expect("presence").await;
    assert_eq!((p["user"].as_i64(), p["status"].as_str()), (Some(alice.id), Some("online")));
    a.send(json!({"type": "set_presence", "status": "away", "id": 2})).await;
    assert_eq!(a.expect("ok").await["id"], 2);
    assert_eq!(b.expect("presence").await["status"], "away");
    // alice closes her tab: offline at once
    a.send_raw(Message::Close(None)).await;
    assert_eq!(b.expect("presence").await["status"], "offline");
    c.quiet("presence", 300).await;
    // a fresh socket's welcome carries the contacts' presence
    let mut a2 = alice.ws().await;
    drop(a2.stream.close(None).await);
    let mut b2 = ws::connect(&s.url, bob.cookie.as_deref(), Some(&s.url)).await.unwrap();
    let welcome = b2.hello().await;
    assert_eq!(welcome["presence"][0]["user"], alice.id);
}

#[tokio::test]
async fn contact_changes_are_pushed_and_blocking_cuts_everything() {
    let s = server().await;
    let alice = s.user("alice", false).await;
    let bob = s.user("bob", false).await;
    let mut b = bob.ws().await;
    let mut a = alice.ws().await;
    let (st, _) = alice.call("POST", "/api/v1/contacts/requests", Some(json!({"user_id": bob.id}))).await;
    assert_eq!(st, 200);
    let ev = b.expect("contacts_changed").await;
    assert_eq!((ev["user"].as_i64(), ev["event"].as_str()), (Some(alice.id), Some("request_received")));
    let (st, _) = bob.call("POST", &format!("/api/v1/contacts/requests/{}/accept", alice.id), None).await;
    assert_eq!(st, 204);
    assert_eq!(a.expect("contacts_changed").await["event"], "request_accepted");
    assert_eq!(a.expect("presence").await["status"], "online");
    let (_, list) = alice.call("GET", "/api/v1/contacts", None).await;
    assert_eq!(list["contacts"][0]["username"], "bob");

    // bob blocks alice: she is told the contact is gone, sees no presence, cannot call or re-ask
    let (st, _) = bob.call("PUT", &format!("/api/v1/blocks/{}", alice.id), None).await;
    assert_eq!(st, 204);
    assert_eq!(a.expect("contacts_changed").await["event"], "removed");
    b.send(json!({"type": "set_presence", "status": "dnd"})).await;
    a.quiet("presence", 300).await;
    a.send(json!({"type": "call_invite", "id": 5, "callee": bob.id, "media": "audio"})).await;
    assert_eq!(a.expect("call_ended").await["reason"], "not_allowed");
    b.quiet("call_incoming", 300).await;
    let (st, v) = alice.call("POST", "/api/v1/contacts/requests", Some(json!({"user_id": bob.id}))).await;
    assert_eq!((st, v["code"].as_str()), (403, Some("not_allowed")));
    // directory search finds people but never yourself
    let (_, found) = alice.call("GET", "/api/v1/directory?q=bo", None).await;
    assert_eq!(found[0]["username"], "bob");
    let (_, found) = alice.call("GET", "/api/v1/directory?q=ali", None).await;
    assert_eq!(found.as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn a_call_rings_every_device_is_answered_on_one_and_relays_only_between_the_two() {
    let s = server().await;
    let alice = s.user("alice", false).await;
    let bob = s.user("bob", false).await;
    let mut bob2 = s.client();
    bob2.login("bob", common::PASSWORD).await;
    let carol = s.user("carol", false).await;
    befriend(&alice, &bob).await;
    befriend(&carol, &alice).await;
    let mut b1 = bob.ws().await;
    let mut b2 = bob2.ws().await;
    let mut c = carol.ws().await;
    let mut a = alice.ws().await;

    a.send(json!({"type": "call_invite", "id": 1, "callee": bob.id, "media": "video"})).await;
    let ringing = a.expect("call_ringing").await;
    assert_eq!(ringing["id"], 1);
    let call = ringing["call_id"].as_u64().unwrap();
    for b in [&mut b1, &mut b2] {
        let inc = b.expect("call_incoming").await;
        assert_eq!((inc["caller"].as_i64(), inc["media"].as_str()), (Some(alice.id), Some("video")));
    }
    b2.send(json!({"type": "call_accept", "id": 2, "call_id": call})).await;
    assert_eq!(b2.expect("ok").await["id"], 2);
    a.expect("call_accepted").await;
    assert_eq!(b1.expect("call_ended").await["reason"], "answered_elsewhere");

    // carol (alice's contact, not in the call) cannot inject anything
    for msg in [
        json!({"type": "call_signal", "id": 7, "call_id": call, "data": {"sdp": "evil"}}),
        json!({"type": "call_accept", "id": 8, "call_id": call}),
        json!({"type": "call_hangup", "id": 9, "call_id": call}),
    ] {
        c.send(msg).await;
        assert_eq!(c.expect("error").await["code"], "no_such_call");
    }
    a.send(json!({"type": "call_signal", "call_id": call, "data": {"type": "offer", "sdp": "v=0"}})).await;
    let sig = b2.expect("call_signal").await;
    assert_eq!(sig["data"]["sdp"], "v=0", "the real offer arrives; carol's never did");
    b2.send(json!({"type": "call_signal", "call_id": call, "data": {"type": "answer", "sdp": "v=0 answer"}})).await;
    assert_eq!(a.expect("call_signal").await["data"]["type"], "answer");
    b1.quiet("call_signal", 200).await;
    // busy for anyone else
    c.send(json!({"type": "call_invite", "id": 3, "callee": alice.id, "media": "audio"})).await;
    assert_eq!(c.expect("call_ended").await["reason"], "busy");
    b2.send(json!({"type": "call_hangup", "call_id": call})).await;
    assert_eq!(a.expect("call_ended").await["reason"], "hangup");

    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, history) = alice.call("GET", "/api/v1/calls", None).await;
    let entries = history.as_array().unwrap();
    assert!(entries
        .iter()
        .any(|e| e["direction"] == "placed" && e["answered"] == true && e["other"]["username"] == "bob"));
    assert!(entries.iter().any(|e| e["direction"] == "received" && e["reason"] == "busy" && e["missed"] == true));
}

#[tokio::test]
async fn declined_cancelled_and_unanswered_calls() {
    let s = server().await;
    let alice = s.user("alice", false).await;
    let bob = s.user("bob", false).await;
    befriend(&alice, &bob).await;
    let mut a = alice.ws().await;
    let mut b = bob.ws().await;
    let invite = async |a: &mut ws::Ws, b: &mut ws::Ws| {
        a.send(json!({"type": "call_invite", "callee": bob.id, "media": "audio"})).await;
        b.expect("call_incoming").await["call_id"].as_u64().unwrap()
    };
    let call = invite(&mut a, &mut b).await;
    b.send(json!({"type": "call_decline", "call_id": call})).await;
    assert_eq!(a.expect("call_ended").await["reason"], "declined");

    let call = invite(&mut a, &mut b).await;
    a.send(json!({"type": "call_hangup", "call_id": call})).await;
    assert_eq!(b.expect("call_ended").await["reason"], "cancelled");

    invite(&mut a, &mut b).await;
    assert_eq!(a.expect("call_ended").await["reason"], "no_answer");
    assert_eq!(b.expect("call_ended").await["reason"], "no_answer");

    // bob offline: unavailable, and a missed call waits for him
    b.send_raw(Message::Close(None)).await;
    a.send(json!({"type": "call_invite", "callee": bob.id, "media": "video"})).await;
    assert_eq!(a.expect("call_ended").await["reason"], "unavailable");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, history) = bob.call("GET", "/api/v1/calls", None).await;
    let unseen_missed =
        history.as_array().unwrap().iter().filter(|e| e["missed"] == true && e["seen"] == false).count();
    assert_eq!(unseen_missed, 4, "{history}");
    let (st, _) = bob.call("POST", "/api/v1/calls/missed/seen", None).await;
    assert_eq!(st, 204);
    let (_, history) = bob.call("GET", "/api/v1/calls", None).await;
    assert!(history.as_array().unwrap().iter().all(|e| e["seen"] == true));
}

#[tokio::test]
async fn hostile_frames_get_errors_and_do_not_disturb_others() {
    let s = server().await;
    let alice = s.user("alice", false).await;
    let bob = s.user("bob", false).await;
    befriend(&alice, &bob).await;
    let mut b = bob.ws().await;
    let mut a = alice.ws().await;
    b.expect("presence").await;
    for (frame, code) in [
        ("{not json", "invalid_json"),
        (r#"{"type":"call_invite","id":4,"callee":"bob","media":"video"}"#, "bad_message"),
        (r#"{"type":"become_admin","id":5}"#, "bad_message"),
        (r#"{"type":"call_accept","id":6,"call_id":424242}"#, "no_such_call"),
        (r#"{"type":"ping","id":7,"user":1}"#, "bad_message"),
    ] {
        a.send_raw(Message::Text(frame.into())).await;
        let e = a.expect("error").await;
        assert_eq!(e["code"], code, "{frame}");
    }
    a.send_raw(Message::Binary(vec![0, 1, 2].into())).await;
    assert_eq!(a.expect("error").await["code"], "bad_message");
    a.send(json!({"type": "ping", "id": 9})).await;
    assert_eq!(a.expect("pong").await["id"], 9, "still served");
    // a frame over 64 KiB closes only this socket, with 1009
    let huge = format!(r#"{{"type":"ping","pad":"{}"}}"#, "x".repeat(100_000));
    a.send_raw(Message::Text(huge.into())).await;
    let code = a.close_code().await;
    assert!(code == Some(1009) || code.is_none(), "{code:?}");
    // bob is fine and learns alice went (after the grace period, since that was not a clean close)
    b.send(json!({"type": "ping", "id": 1})).await;
    assert_eq!(b.expect("pong").await["id"], 1);
    assert_eq!(b.expect("presence").await["status"], "offline");
}

#[tokio::test]
async fn a_killed_connection_is_detected_by_heartbeat_and_goes_offline() {
    let s = server_with_heartbeat(Duration::from_millis(500)).await;
    let alice = s.user("alice", false).await;
    let bob = s.user("bob", false).await;
    befriend(&alice, &bob).await;
    let mut b = bob.ws().await;
    let a = alice.ws().await;
    assert_eq!(b.expect("presence").await["status"], "online");
    // alice's process freezes: her socket stays open but never answers pings again
    let frozen = a;
    let start = std::time::Instant::now();
    assert_eq!(b.expect("presence").await["status"], "offline");
    assert!(start.elapsed() >= Duration::from_millis(1500), "not before the heartbeat timeout");
    drop(frozen);
}

#[tokio::test]
async fn logout_and_disabling_close_the_socket() {
    let s = server().await;
    let alice = s.user("alice", false).await;
    let admin = s.user("root", true).await;
    let mut a = alice.ws().await;
    let (st, _) = alice.call("DELETE", "/api/v1/session", None).await;
    assert_eq!(st, 204);
    assert_eq!(a.close_code().await, Some(4004));

    let mut again = s.client();
    again.login("alice", common::PASSWORD).await;
    let mut a = again.ws().await;
    let (st, _) =
        admin.call("PATCH", &format!("/api/v1/admin/users/{}", again.id), Some(json!({"disabled": true}))).await;
    assert_eq!(st, 200);
    assert_eq!(a.close_code().await, Some(4004));
}

#[tokio::test]
async fn resume_after_a_network_blip_replays_missed_events() {
    let s = server().await;
    let alice = s.user("alice", false).await;
    let bob = s.user("bob", false).await;
    befriend(&alice, &bob).await;
    let mut a = ws::connect(&s.url, alice.cookie.as_deref(), Some(&s.url)).await.unwrap();
    let welcome = a.hello().await;
    let token = welcome["resume_token"].as_str().unwrap().to_owned();
    let seen = a.seq;
    drop(a); // TCP gone without a close frame
    let mut b = bob.ws().await;
    b.send(json!({"type": "set_presence", "status": "away"})).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut a = ws::connect(&s.url, alice.cookie.as_deref(), Some(&s.url)).await.unwrap();
    a.send(json!({"type": "hello", "v": 1, "resume": {"token": token, "last_seq": seen}})).await;
    let w = a.expect("welcome").await;
    assert_eq!(w["resumed"], true);
    let p = a.expect("presence").await;
    assert_eq!(p["status"], "online", "the missed events, in order");
    assert_eq!(a.expect("presence").await["status"], "away");
}

#[tokio::test]
async fn sessions_ended_behind_the_servers_back_close_their_sockets() {
    // What `mywebrtc user disable` does from another process: change the database only.
    let s = server().await;
    let alice = s.user("alice", false).await;
    let mut a = alice.ws().await;
    store::Store::update_user_flags(s.store.as_ref(), alice.id, Some(true), None).unwrap();
    assert_eq!(a.close_code().await, Some(4004));
}

#[tokio::test]
async fn a_stopping_server_commits_what_it_took_then_says_restarting() {
    let mut s = server().await;
    let alice = s.user("alice", false).await;
    let bob = s.user("bob", false).await;
    common::befriend(&alice, &bob).await;
    let (_, conv) = alice.call("POST", "/api/v1/conversations", Some(json!({"kind": "direct", "user": bob.id}))).await;
    let conv = conv["id"].as_i64().unwrap();
    let mut a = alice.ws().await;
    for i in 0..40 {
        a.send(json!({"type": "chat_send", "id": i, "conv": conv, "client_id": format!("c{i}"), "text": "hi"})).await;
    }
    // Once the first is acknowledged, the server is told to stop with the rest in flight.
    let first = a.expect("chat_ack").await;
    s.shutdown();
    let mut acked = vec![first["message"]["client_id"].as_str().unwrap().to_owned()];
    let code = loop {
        match tokio::time::timeout(std::time::Duration::from_secs(10), a.next_frame()).await {
            Ok(Some(ws::Frame::Text(v))) if v["type"] == "chat_ack" => {
                acked.push(v["message"]["client_id"].as_str().unwrap().to_owned())
            }
            Ok(Some(ws::Frame::Text(_))) => {}
            Ok(Some(ws::Frame::Close(code))) => break code,
            other => panic!("no close frame: {other:?}"),
        }
    };
    assert_eq!(code, 1012, "restarting: come back");
    // Everything acknowledged is stored.
    let stored: Vec<String> =
        s.store.messages_before(alice.id, conv, None, 100).unwrap().into_iter().map(|m| m.client_id).collect();
    for id in &acked {
        assert!(stored.contains(id), "{id} acknowledged but not stored");
    }
}

#[tokio::test]
async fn sockets_are_limited_per_session_and_must_say_hello() {
    let s = start_with(|c| {
        c.hub.max_sockets_per_session = 2;
        c.hub.hello_timeout = Duration::from_millis(500);
    })
    .await;
    let alice = s.user("alice", false).await;
    let _first = alice.ws().await;
    let _second = alice.ws().await;
    let mut third = ws::connect(&s.url, alice.cookie.as_deref(), Some(&s.url)).await.unwrap();
    assert_eq!(third.close_code().await, Some(proto::ws::close::TOO_MANY_SOCKETS));
    // Another browser of the same user has its own session and room.
    let mut other = s.client();
    other.login("alice", common::PASSWORD).await;
    let mut silent = ws::connect(&s.url, other.cookie.as_deref(), Some(&s.url)).await.unwrap();
    // Says nothing: closed after the hello timeout.
    assert_eq!(silent.close_code().await, Some(proto::ws::close::HELLO_TIMEOUT));
}
