//! Chat routing through the hub: validation and rate before storage, fan-out after it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on what they set up

mod common;

use common::World;
use hub::{ChatEvent, ChatOp, HubConfig, Input};
use proto::chat::{ChatMessage, MessageKind, MAX_TEXT_BYTES};
use proto::ws::{ServerMessage, WsErrorCode};

const ALICE: i64 = 1;
const BOB: i64 = 2;
const CAROL: i64 = 3;

fn message(conv: i64, seq: i64, sender: i64, text: &str) -> ChatMessage {
    ChatMessage {
        id: seq,
        conv,
        seq,
        rev: seq,
        sender: Some(sender),
        client_id: format!("c{seq}"),
        kind: MessageKind::Text,
        text: text.into(),
        created_at: 1,
        edited_at: None,
        deleted: false,
        attachment: None,
    }
}

fn last_error(w: &World, conn: u64) -> Option<(Option<u64>, WsErrorCode)> {
    match w.last(conn) {
        Some(ServerMessage::Error { id, code, .. }) => Some((*id, *code)),
        _ => None,
    }
}

#[test]
fn a_well_formed_send_goes_to_the_driver_with_its_sender() {
    let mut w = World::new();
    let a = w.connect(ALICE, &[BOB]);
    w.text(a, r#"{"type":"chat_send","id":4,"conv":9,"client_id":"m-1","text":"<b>hi</b>"}"#);
    assert_eq!(w.chat.len(), 1);
    let r = &w.chat[0];
    assert_eq!((r.conn, r.user, r.id), (a, ALICE, Some(4)));
    assert_eq!(r.op, ChatOp::Send { conv: 9, client_id: "m-1".into(), text: "<b>hi</b>".into() });
}

#[test]
fn bad_texts_are_refused_before_storage() {
    let mut w = World::new();
    let a = w.connect(ALICE, &[]);
    let big = "x".repeat(MAX_TEXT_BYTES + 1);
    w.text(a, &format!(r#"{{"type":"chat_send","id":1,"conv":1,"client_id":"a","text":"{big}"}}"#));
    assert_eq!(last_error(&w, a), Some((Some(1), WsErrorCode::TooLarge)));
    w.text(a, r#"{"type":"chat_send","id":2,"conv":1,"client_id":"a","text":"   "}"#);
    assert_eq!(last_error(&w, a), Some((Some(2), WsErrorCode::BadMessage)));
    w.text(a, r#"{"type":"chat_send","id":3,"conv":1,"client_id":"no spaces","text":"x"}"#);
    assert_eq!(last_error(&w, a), Some((Some(3), WsErrorCode::BadMessage)));
    w.text(a, r#"{"type":"chat_edit","id":4,"conv":1,"message":1,"text":"a\u0000b"}"#);
    assert_eq!(last_error(&w, a), Some((Some(4), WsErrorCode::BadMessage)));
    w.text(a, r#"{"type":"chat_send","id":5,"conv":"1","client_id":"a","text":"x"}"#);
    assert_eq!(last_error(&w, a), Some((Some(5), WsErrorCode::BadMessage)));
    assert!(w.chat.is_empty());
}

#[test]
fn chat_before_hello_is_refused() {
    let mut w = World::new();
    let a = w.open(ALICE, 1, &[]);
    w.text(a, r#"{"type":"chat_send","id":1,"conv":1,"client_id":"a","text":"x"}"#);
    assert_eq!(last_error(&w, a), Some((Some(1), WsErrorCode::HelloRequired)));
    assert!(w.chat.is_empty());
}

#[test]
fn posting_rate_is_per_user_across_devices() {
    let mut w = World::with(HubConfig { chat_rate_per_sec: 1.0, chat_burst: 3.0, ..common::test_config() });
    let a1 = w.connect(ALICE, &[]);
    let a2 = w.connect(ALICE, &[]);
    for (i, conn) in [a1, a2, a1].into_iter().enumerate() {
        w.text(conn, &format!(r#"{{"type":"chat_send","id":{i},"conv":1,"client_id":"m{i}","text":"x"}}"#));
    }
    w.text(a2, r#"{"type":"chat_send","id":9,"conv":1,"client_id":"m9","text":"x"}"#);
    assert_eq!(w.chat.len(), 3);
    assert_eq!(last_error(&w, a2), Some((Some(9), WsErrorCode::RateLimited)));
    // Receipts and typing are not posts.
    w.text(a2, r#"{"type":"chat_receipt","conv":1,"read":3}"#);
    w.text(a2, r#"{"type":"chat_typing","conv":1}"#);
    assert_eq!(w.chat.len(), 5);
    w.advance(std::time::Duration::from_secs(1));
    w.text(a2, r#"{"type":"chat_send","id":10,"conv":1,"client_id":"m10","text":"x"}"#);
    assert_eq!(w.chat.len(), 6);
}

#[test]
fn delivery_reaches_every_member_device_but_the_sender_connection() {
    let mut w = World::new();
    let a1 = w.connect(ALICE, &[BOB]);
    let a2 = w.connect(ALICE, &[BOB]);
    let b = w.connect(BOB, &[ALICE]);
    let c = w.connect(CAROL, &[]);
    let m = message(5, 1, ALICE, "hello");
    let before: Vec<usize> = [a1, a2, b, c].iter().map(|x| w.msgs(*x).len()).collect();
    w.input(Input::chat_deliver(
        Some((a1, ServerMessage::ChatAck { id: Some(7), message: m.clone() })),
        vec![ALICE, BOB],
        Some(a1),
        Some(ChatEvent::Message(m.clone())),
    ));
    assert!(matches!(w.last(a1), Some(ServerMessage::ChatAck { id: Some(7), .. })));
    assert_eq!(w.msgs(a1).len(), before[0] + 1, "the sender's connection gets only the ack");
    assert!(matches!(w.last(a2), Some(ServerMessage::ChatMessage { message, .. }) if *message == m));
    assert!(matches!(w.last(b), Some(ServerMessage::ChatMessage { message, .. }) if *message == m));
    assert_eq!(w.msgs(c).len(), before[3], "a non-member hears nothing");
}

#[test]
fn chat_events_are_replayed_on_resume_but_typing_is_not() {
    let mut w = World::new();
    let b = w.connect(BOB, &[ALICE]);
    let (token, last_seq) = match w.msgs(b).first() {
        Some(ServerMessage::Welcome { resume_token, .. }) => (resume_token.clone(), 0),
        other => panic!("{other:?}"),
    };
    w.input(Input::Closed { conn: b, clean: false });
    w.input(Input::chat_deliver(None, vec![BOB], None, Some(ChatEvent::Typing { conv: 5, user: ALICE })));
    w.input(Input::chat_deliver(
        None,
        vec![BOB],
        None,
        Some(ChatEvent::Message(message(5, 1, ALICE, "while you were away"))),
    ));
    let b2 = w.open(BOB, BOB, &[ALICE]);
    w.text(b2, &format!(r#"{{"type":"hello","v":1,"resume":{{"token":"{token}","last_seq":{last_seq}}}}}"#));
    let got: Vec<&ServerMessage> = w
        .msgs(b2)
        .iter()
        .filter(|m| !matches!(m, ServerMessage::Welcome { .. } | ServerMessage::Presence { .. }))
        .collect();
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(matches!(got[0], ServerMessage::ChatMessage { message, .. } if message.text == "while you were away"));
}
