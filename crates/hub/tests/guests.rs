//! Guests' connections: only their meeting's chat and call get through; every other message
//! type is refused with `guest_forbidden` and reaches nothing; a guest put out is closed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on what they set up

mod common;

use common::World;
use hub::Input;
use proto::ws::{close, ServerMessage, WsErrorCode};

const HOST: i64 = 1;
const GUEST: i64 = 50;
const MEETING_CONV: i64 = 77;

/// One frame of every client message type, addressed to `conv` where it has one.
fn every_message(conv: i64) -> Vec<(&'static str, String)> {
    let c = conv;
    vec![
        ("set_presence", r#"{"type":"set_presence","id":1,"status":"away"}"#.to_owned()),
        ("call_invite", format!(r#"{{"type":"call_invite","id":1,"callee":{HOST},"media":"video"}}"#)),
        ("call_accept", r#"{"type":"call_accept","id":1,"call_id":1}"#.to_owned()),
        ("call_decline", r#"{"type":"call_decline","id":1,"call_id":1}"#.to_owned()),
        ("call_hangup", r#"{"type":"call_hangup","id":1,"call_id":1}"#.to_owned()),
        ("call_signal", r#"{"type":"call_signal","id":1,"call_id":1,"data":{}}"#.to_owned()),
        (
            "call_rejoin",
            format!(r#"{{"type":"call_rejoin","id":1,"call_id":1,"peer":{HOST},"role":"caller","media":"video"}}"#),
        ),
        (
            "file_offer",
            format!(r#"{{"type":"file_offer","id":1,"to":{HOST},"name":"a","size":1,"mime":"text/plain"}}"#),
        ),
        ("file_accept", r#"{"type":"file_accept","id":1,"transfer_id":1}"#.to_owned()),
        ("file_decline", r#"{"type":"file_decline","id":1,"transfer_id":1}"#.to_owned()),
        ("file_signal", r#"{"type":"file_signal","id":1,"transfer_id":1,"data":{}}"#.to_owned()),
        ("file_resume", r#"{"type":"file_resume","id":1,"transfer_id":1}"#.to_owned()),
        ("file_end", r#"{"type":"file_end","id":1,"transfer_id":1,"reason":"cancelled"}"#.to_owned()),
        ("chat_send", format!(r#"{{"type":"chat_send","id":1,"conv":{c},"client_id":"x1","text":"hi"}}"#)),
        ("chat_edit", format!(r#"{{"type":"chat_edit","id":1,"conv":{c},"message":1,"text":"hi"}}"#)),
        ("chat_delete", format!(r#"{{"type":"chat_delete","id":1,"conv":{c},"message":1}}"#)),
        ("chat_receipt", format!(r#"{{"type":"chat_receipt","id":1,"conv":{c},"delivered":1,"read":1}}"#)),
        ("chat_typing", format!(r#"{{"type":"chat_typing","conv":{c}}}"#)),
        ("room_join", format!(r#"{{"type":"room_join","id":1,"conv":{c}}}"#)),
        ("room_sdp", format!(r#"{{"type":"room_sdp","id":1,"conv":{c},"kind":"offer","sdp":"v=0"}}"#)),
        ("room_tiles", format!(r#"{{"type":"room_tiles","conv":{c},"tiles":[]}}"#)),
        ("room_state", format!(r#"{{"type":"room_state","conv":{c},"muted":true}}"#)),
        ("room_leave", format!(r#"{{"type":"room_leave","id":1,"conv":{c}}}"#)),
        ("room_moderate", format!(r#"{{"type":"room_moderate","id":1,"conv":{c},"participant":1,"action":"mute"}}"#)),
    ]
}

fn forbidden(m: Option<&ServerMessage>) -> bool {
    matches!(m, Some(ServerMessage::Error { code: WsErrorCode::GuestForbidden, .. }))
}

#[test]
fn a_guest_reaches_its_meetings_chat_and_call_and_nothing_else() {
    let mut w = World::new();
    let _host = w.connect(HOST, &[]);
    let g = w.connect_guest(GUEST, MEETING_CONV);
    assert!(matches!(w.msgs(g).first(), Some(ServerMessage::Welcome { .. })));
    w.text(g, r#"{"type":"ping","id":9}"#);
    assert!(matches!(w.last(g), Some(ServerMessage::Pong { id: Some(9) })));

    let mut own = 0;
    for (name, frame) in every_message(MEETING_CONV) {
        let (chat, rooms, seen) = (w.chat.len(), w.rooms.len(), w.msgs(g).len());
        w.text(g, &frame);
        let reached = w.chat.len() > chat || w.rooms.len() > rooms;
        let refused = w.msgs(g)[seen..].iter().any(|m| forbidden(Some(m)));
        if name.starts_with("chat_") || name.starts_with("room_") {
            assert!(reached && !refused, "{name} in the meeting is for the driver to check");
            own += 1;
        } else {
            assert!(refused && !reached, "{name} must be refused to a guest");
            assert_eq!(w.records.len(), 0);
        }
    }
    assert_eq!(own, 11);
    // The same messages about any other conversation are refused before they go anywhere.
    let (chat, rooms) = (w.chat.len(), w.rooms.len());
    for (name, frame) in every_message(MEETING_CONV + 1) {
        w.text(g, &frame);
        assert!(forbidden(w.last(g)), "{name} outside the meeting");
    }
    assert_eq!((w.chat.len(), w.rooms.len()), (chat, rooms));
}

#[test]
fn members_are_not_scoped_and_a_guest_put_out_is_closed_with_its_reason() {
    let mut w = World::new();
    let m = w.connect(HOST, &[]);
    w.text(m, r#"{"type":"set_presence","id":1,"status":"away"}"#);
    assert!(matches!(w.last(m), Some(ServerMessage::Ok { id: 1 })));
    let g = w.connect_guest(GUEST, MEETING_CONV);
    w.input(Input::GuestOut { user: GUEST, reason: "removed" });
    assert_eq!(w.closed.get(&g), Some(&close::MEETING_OVER));
    assert!(!w.closed.contains_key(&m));
}
