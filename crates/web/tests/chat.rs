//! Chat against the real server: delivery to every device, acknowledgement after storage,
//! deduplication, receipts, typing, offline catch-up, and every refusal an outsider meets.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on what they set up

mod common;

use common::{befriend, start, start_with, ws, Client, TestServer};
use serde_json::{json, Value};
use testkit::ws::Message;

async fn direct(a: &Client, b: &Client) -> i64 {
    let (st, v) = a.call("POST", "/api/v1/conversations", Some(json!({"kind": "direct", "user": b.id}))).await;
    assert!(st == 201 || st == 200, "{st} {v}");
    v["id"].as_i64().unwrap()
}

async fn group(owner: &Client, name: &str, members: &[&Client]) -> i64 {
    let ids: Vec<i64> = members.iter().map(|m| m.id).collect();
    let (st, v) =
        owner.call("POST", "/api/v1/conversations", Some(json!({"kind": "group", "name": name, "members": ids}))).await;
    assert_eq!(st, 201, "{v}");
    v["id"].as_i64().unwrap()
}

async fn say(w: &mut ws::Ws, id: u64, conv: i64, client_id: &str, text: &str) -> Value {
    w.send(json!({"type": "chat_send", "id": id, "conv": conv, "client_id": client_id, "text": text})).await;
    loop {
        let v = w.recv().await.expect("socket closed");
        if v["id"] == id && (v["type"] == "chat_ack" || v["type"] == "error") {
            return v;
        }
    }
}

async fn history(c: &Client, conv: i64, query: &str) -> (u16, Value) {
    c.call("GET", &format!("/api/v1/conversations/{conv}/messages{query}"), None).await
}

async fn pair() -> (TestServer, Client, Client) {
    let s = start().await;
    let alice = s.user("alice", false).await;
    let bob = s.user("bob", false).await;
    befriend(&alice, &bob).await;
    (s, alice, bob)
}

#[tokio::test]
async fn a_message_is_acknowledged_then_reaches_every_device_of_the_other_member() {
    let (s, alice, bob) = pair().await;
    let carol = s.user("carol", false).await;
    befriend(&alice, &carol).await;
    let conv = direct(&alice, &bob).await;
    let mut a = alice.ws().await;
    let mut b1 = bob.ws().await;
    let mut b2 = bob.ws().await;
    let mut c = carol.ws().await;

    let ack = say(&mut a, 1, conv, "m-1", "hello <b>bob</b>").await;
    assert_eq!(ack["type"], "chat_ack", "{ack}");
    assert_eq!(ack["message"]["seq"], 1);
    assert_eq!(ack["message"]["text"], "hello <b>bob</b>");
    for b in [&mut b1, &mut b2] {
        let m = b.expect("chat_message").await;
        assert_eq!(m["message"]["id"], ack["message"]["id"]);
        assert_eq!(m["message"]["sender"], alice.id);
    }
    c.quiet("chat_message", 300).await;

    // Bob reads it on one device: alice and bob's other device learn it.
    b1.send(json!({"type": "chat_receipt", "id": 5, "conv": conv, "read": 1})).await;
    assert_eq!(b1.expect("ok").await["id"], 5);
    let r = a.expect("chat_receipt").await;
    assert_eq!(
        (r["user"].as_i64(), r["read_seq"].as_i64(), r["delivered_seq"].as_i64()),
        (Some(bob.id), Some(1), Some(1))
    );
    assert_eq!(b2.expect("chat_receipt").await["read_seq"], 1);

    // Typing goes to the others, not numbered.
    a.send(json!({"type": "chat_typing", "conv": conv})).await;
    let t = b1.expect("chat_typing").await;
    assert_eq!((t["user"].as_i64(), t.get("seq")), (Some(alice.id), None));
}

#[tokio::test]
async fn a_retried_send_is_stored_and_delivered_once() {
    let (_s, alice, bob) = pair().await;
    let conv = direct(&alice, &bob).await;
    let mut a = alice.ws().await;
    let mut b = bob.ws().await;
    let first = say(&mut a, 1, conv, "same-id", "once").await;
    // A new socket (as after a reconnect) retrying the same message.
    let mut a2 = alice.ws().await;
    let again = say(&mut a2, 2, conv, "same-id", "once").await;
    assert_eq!(first["message"], again["message"]);
    let _ = a.recv().await;
    assert_eq!(b.expect("chat_message").await["message"]["client_id"], "same-id");
    b.quiet("chat_message", 300).await;
    let (_, page) = history(&bob, conv, "").await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 1);
    // The REST twin deduplicates against the same key.
    let (st, v) = alice
        .call(
            "POST",
            &format!("/api/v1/conversations/{conv}/messages"),
            Some(json!({"client_id": "same-id", "text": "once"})),
        )
        .await;
    assert_eq!((st, &v["id"]), (200, &first["message"]["id"]));
}

#[tokio::test]
async fn an_offline_member_catches_up_in_order() {
    let (_s, alice, bob) = pair().await;
    let conv = direct(&alice, &bob).await;
    let mut a = alice.ws().await;
    for i in 1..=30 {
        assert_eq!(say(&mut a, i, conv, &format!("m{i}"), &format!("text {i}")).await["type"], "chat_ack");
    }
    let edit = json!({"type": "chat_edit", "id": 100, "conv": conv, "message": 1, "text": "edited"});
    // Message ids are global; find message 1's id from the history first.
    let (_, page) = history(&alice, conv, "?limit=1&before=2").await;
    let first_id = page["messages"][0]["id"].as_i64().unwrap();
    let mut edit = edit;
    edit["message"] = json!(first_id);
    a.send(edit).await;
    assert!(a.expect("chat_ack").await["message"]["edited_at"].is_i64());

    // Bob comes online: the list shows 30 unread; paging back gives everything once, in order.
    let (st, list) = bob.call("GET", "/api/v1/conversations", None).await;
    assert_eq!(st, 200);
    assert_eq!(list[0]["unread"], 30);
    assert_eq!(list[0]["last_message"]["text"], "text 30");
    let (_, newest) = history(&bob, conv, "?limit=20").await;
    assert_eq!(newest["more"], true);
    let seqs: Vec<i64> = newest["messages"].as_array().unwrap().iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (11..=30).collect::<Vec<_>>());
    let (_, older) = history(&bob, conv, "?limit=20&before=11").await;
    assert_eq!(older["more"], false);
    assert_eq!(older["messages"][0]["text"], "edited");
    // A device that had seen up to rev 25 gets 26..30 and the edit (rev 31), nothing else.
    let (_, changed) = history(&bob, conv, "?after=25").await;
    let revs: Vec<i64> = changed["messages"].as_array().unwrap().iter().map(|m| m["rev"].as_i64().unwrap()).collect();
    assert_eq!(revs, vec![26, 27, 28, 29, 30, 31]);
    assert_eq!(history(&bob, conv, "?after=1&before=3").await.0, 400);
    assert_eq!(history(&bob, conv, "?limit=abc").await.0, 400);
    // Outside what the API document declares (1–200): refused, naming the field.
    for outside in ["?limit=0", "?limit=201"] {
        let (st, v) = history(&bob, conv, outside).await;
        assert_eq!(
            (st, v["code"].as_str(), v["field"].as_str()),
            (422, Some("invalid_field"), Some("limit")),
            "{outside}"
        );
    }
    assert_eq!(history(&bob, conv, "?limit=200").await.0, 200);
}

#[tokio::test]
async fn outsiders_are_refused_everywhere() {
    let (s, alice, bob) = pair().await;
    let mallory = s.user("mallory", false).await;
    let conv = direct(&alice, &bob).await;
    let mut a = alice.ws().await;
    let ack = say(&mut a, 1, conv, "secret", "for bob only").await;
    let msg_id = ack["message"]["id"].as_i64().unwrap();
    let mut m = mallory.ws().await;

    // REST reads and writes.
    assert_eq!(history(&mallory, conv, "").await.0, 404);
    assert_eq!(mallory.call("GET", &format!("/api/v1/conversations/{conv}"), None).await.0, 404);
    let post = json!({"client_id": "x", "text": "hi"});
    assert_eq!(mallory.call("POST", &format!("/api/v1/conversations/{conv}/messages"), Some(post)).await.0, 404);
    assert_eq!(
        mallory.call("PATCH", &format!("/api/v1/conversations/{conv}"), Some(json!({"name": "x"}))).await.0,
        404
    );
    let add = json!({"user": mallory.id});
    assert_eq!(mallory.call("POST", &format!("/api/v1/conversations/{conv}/members"), Some(add)).await.0, 404);
    let (_, list) = mallory.call("GET", "/api/v1/conversations", None).await;
    assert_eq!(list, json!([]));
    // Not a contact: no direct conversation with alice.
    let (st, v) =
        mallory.call("POST", "/api/v1/conversations", Some(json!({"kind": "direct", "user": alice.id}))).await;
    assert_eq!((st, v["code"].as_str()), (403, Some("not_allowed")));

    // WebSocket writes, edits, deletes, receipts, typing.
    assert_eq!(say(&mut m, 2, conv, "y", "let me in").await["code"], "no_conversation");
    m.send(json!({"type": "chat_edit", "id": 3, "conv": conv, "message": msg_id, "text": "pwned"})).await;
    assert_eq!(m.expect("error").await["code"], "no_conversation");
    m.send(json!({"type": "chat_delete", "id": 4, "conv": conv, "message": msg_id})).await;
    assert_eq!(m.expect("error").await["code"], "no_conversation");
    m.send(json!({"type": "chat_receipt", "id": 5, "conv": conv, "read": 1})).await;
    assert_eq!(m.expect("error").await["code"], "no_conversation");
    let mut b = bob.ws().await;
    m.send(json!({"type": "chat_typing", "conv": conv})).await;
    b.quiet("chat_typing", 300).await;
    // Bob is a member but the message is alice's.
    b.send(json!({"type": "chat_edit", "id": 6, "conv": conv, "message": msg_id, "text": "pwned"})).await;
    assert_eq!(b.expect("error").await["code"], "no_such_message");
    let (_, page) = history(&bob, conv, "").await;
    assert_eq!(page["messages"][0]["text"], "for bob only");
}

#[tokio::test]
async fn a_block_stops_messages_and_a_removed_member_stops_receiving_at_once() {
    let s = start().await;
    let alice = s.user("alice", false).await;
    let bob = s.user("bob", false).await;
    let carol = s.user("carol", false).await;
    befriend(&alice, &bob).await;
    befriend(&alice, &carol).await;
    let g = group(&alice, "team", &[&bob, &carol]).await;
    let d = direct(&alice, &bob).await;
    let mut a = alice.ws().await;
    let mut c = carol.ws().await;

    assert_eq!(say(&mut a, 1, g, "g1", "hi team").await["type"], "chat_ack");
    assert_eq!(c.expect("chat_message").await["message"]["text"], "hi team");
    let (st, _) = alice.call("DELETE", &format!("/api/v1/conversations/{g}/members/{}", carol.id), None).await;
    assert_eq!(st, 204);
    assert_eq!(c.expect("chat_removed").await["conv"], g);
    assert_eq!(say(&mut a, 2, g, "g2", "carol is gone").await["type"], "chat_ack");
    c.quiet("chat_message", 400).await;
    assert_eq!(history(&carol, g, "").await.0, 404);
    // Only the owner removes others.
    let (st, v) = bob.call("DELETE", &format!("/api/v1/conversations/{g}/members/{}", alice.id), None).await;
    assert_eq!((st, v["code"].as_str()), (403, Some("forbidden")));

    let (st, _) = bob.call("PUT", &format!("/api/v1/blocks/{}", alice.id), None).await;
    assert_eq!(st, 204);
    let refused = say(&mut a, 3, d, "d1", "are you there?").await;
    assert_eq!(refused["code"], "not_allowed");
}

#[tokio::test]
async fn hostile_payloads_are_stored_literally_or_refused_with_a_reason() {
    let (_s, alice, bob) = pair().await;
    let conv = direct(&alice, &bob).await;
    let mut a = alice.ws().await;
    let nasty = "<img src=x onerror=alert(1)> <a href=\"javascript:alert(2)\">x</a> \u{202E}gnp.exe \u{200B}";
    let ack = say(&mut a, 1, conv, "n1", nasty).await;
    assert_eq!(ack["message"]["text"], nasty);
    let emoji = "😀".repeat(4096);
    assert_eq!(say(&mut a, 2, conv, "n2", &emoji).await["type"], "chat_ack");
    let too_big = say(&mut a, 3, conv, "n3", &format!("{emoji}!")).await;
    assert_eq!(too_big["code"], "too_large");
    assert_eq!(say(&mut a, 4, conv, "n4", "").await["code"], "bad_message");
    assert_eq!(say(&mut a, 5, conv, "bad id!", "x").await["code"], "bad_message");
    a.send(json!({"type": "chat_send", "id": 6, "conv": conv, "text": "no client id"})).await;
    assert_eq!(a.expect("error").await["code"], "bad_message");
    let (st, v) = alice
        .call(
            "POST",
            &format!("/api/v1/conversations/{conv}/messages"),
            Some(json!({"client_id": "r1", "text": format!("{emoji}!")})),
        )
        .await;
    assert_eq!((st, v["code"].as_str()), (413, Some("body_too_large")));
    let (st, v) = alice
        .call(
            "POST",
            &format!("/api/v1/conversations/{conv}/messages"),
            Some(json!({"client_id": "r1", "text": "a\u{0}b"})),
        )
        .await;
    assert_eq!((st, v["field"].as_str()), (422, Some("text")));
    let (st, _) = alice
        .call("POST", "/api/v1/conversations", Some(json!({"kind": "group", "name": "\u{202E}x", "members": []})))
        .await;
    assert_eq!(st, 422);

    // Invalid UTF-8 in a text frame ends that socket; nothing stored is lost.
    let mut raw = alice.ws().await;
    raw.send_raw(invalid_utf8_text_frame()).await;
    assert!(raw.close_code().await.is_some());
    let (_, page) = history(&bob, conv, "").await;
    let texts: Vec<&str> = page["messages"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert_eq!(texts, [nasty, emoji.as_str()]);
}

/// A text frame whose payload is not UTF-8, built at the frame level.
fn invalid_utf8_text_frame() -> Message {
    use testkit::ws::frame::{
        coding::{Data, OpCode},
        Frame,
    };
    Message::Frame(Frame::message(vec![0x7b, 0xff, 0xfe, 0x7d], OpCode::Data(Data::Text), true))
}

#[tokio::test]
async fn rest_posting_has_a_rate_limit() {
    let s = start_with(|c| {
        c.hub.chat_rate_per_sec = 1.0;
        c.hub.chat_burst = 3.0;
    })
    .await;
    let alice = s.user("alice", false).await;
    let bob = s.user("bob", false).await;
    befriend(&alice, &bob).await;
    let conv = direct(&alice, &bob).await;
    let mut statuses = Vec::new();
    for i in 0..5 {
        let body = json!({"client_id": format!("r{i}"), "text": "x"});
        statuses.push(alice.call("POST", &format!("/api/v1/conversations/{conv}/messages"), Some(body)).await.0);
    }
    assert_eq!(statuses, [201, 201, 201, 429, 429]);
}
