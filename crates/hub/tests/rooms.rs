//! Conference routing through the hub: requests checked and handed to the driver, events
//! from the conference server numbered, delivered and replayed, devices that go away reported.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on what they set up

mod common;

use std::time::Duration;

use common::World;
use hub::{Input, RoomOp};
use proto::ws::{RoomMember, ServerMessage, WsErrorCode, MAX_SIGNAL_BYTES};

const ALICE: i64 = 1;
const BOB: i64 = 2;

fn device_of(w: &World, conn: u64) -> u64 {
    match w.msgs(conn).iter().find(|m| matches!(m, ServerMessage::Welcome { .. })) {
        Some(ServerMessage::Welcome { device, .. }) => *device,
        _ => panic!("no welcome"),
    }
}

#[test]
fn room_requests_go_to_the_driver_with_device_and_user() {
    let mut w = World::new();
    let a = w.connect(ALICE, &[]);
    let dev = device_of(&w, a);
    w.text(a, r#"{"type":"room_join","id":3,"conv":77}"#);
    w.text(a, r#"{"type":"room_sdp","id":4,"conv":77,"kind":"offer","sdp":"v=0","sources":{"2":"screen"}}"#);
    w.text(a, r#"{"type":"room_tiles","conv":77,"tiles":[{"participant":9,"visible":false,"height":120}]}"#);
    w.text(a, r#"{"type":"room_state","conv":77,"muted":true}"#);
    w.text(a, r#"{"type":"room_leave","id":5,"conv":77}"#);
    let ops: Vec<_> = w.rooms.iter().map(|r| (r.device, r.user, r.id, r.op.clone())).collect();
    assert_eq!(ops.len(), 5);
    assert!(ops.iter().all(|(d, u, _, _)| *d == dev && *u == ALICE));
    assert_eq!(ops[0].3, RoomOp::Join { conv: 77, rejoin: false });
    assert!(matches!(&ops[1].3, RoomOp::Sdp { conv: 77, offer: true, sources, .. } if sources.len() == 1));
    assert!(matches!(&ops[3].3, RoomOp::State { muted: true, camera_off: false, hand: false, .. }));
    assert_eq!(ops[4].3, RoomOp::Leave { conv: 77 });
}

#[test]
fn oversized_and_malformed_room_requests_are_refused_here() {
    let mut w = World::new();
    let a = w.connect(ALICE, &[]);
    let sdp = "x".repeat(MAX_SIGNAL_BYTES + 1);
    let frame = serde_json::json!({"type":"room_sdp","id":1,"conv":1,"kind":"offer","sdp":sdp}).to_string();
    w.text(a, &frame);
    assert!(matches!(w.last(a), Some(ServerMessage::Error { id: Some(1), code: WsErrorCode::TooLarge, .. })));
    let tiles: Vec<_> =
        (0..101).map(|i| serde_json::json!({"participant": i, "visible": true, "height": 100})).collect();
    w.text(a, &serde_json::json!({"type":"room_tiles","conv":1,"tiles":tiles}).to_string());
    assert!(matches!(w.last(a), Some(ServerMessage::Error { code: WsErrorCode::TooLarge, .. })));
    for bad in [
        r#"{"type":"room_sdp","id":2,"conv":1,"kind":"pranswer","sdp":""}"#,
        r#"{"type":"room_join","id":2,"conv":"x"}"#,
        r#"{"type":"room_tiles","conv":1,"tiles":[{"participant":1}]}"#,
        r#"{"type":"room_sdp","id":2,"conv":1,"kind":"offer","sdp":"","sources":{"0":"webcam"}}"#,
    ] {
        w.text(a, bad);
        assert!(matches!(w.last(a), Some(ServerMessage::Error { code: WsErrorCode::BadMessage, .. })), "{bad}");
    }
    assert!(w.rooms.is_empty());
}

#[test]
fn conference_events_are_numbered_and_replayed_after_a_resume() {
    let mut w = World::new();
    let a = w.connect(ALICE, &[]);
    let b = w.connect(BOB, &[]);
    let dev = device_of(&w, a);
    let token = w.resume_token(a);
    let joined = ServerMessage::RoomJoined {
        seq: 0,
        conv: 5,
        member: RoomMember { participant: 9, user: BOB, muted: false, camera_off: false, hand: false },
    };
    w.input(Input::Push { devices: vec![dev], users: vec![], msg: Box::new(joined) });
    let seq = match w.last(a) {
        Some(ServerMessage::RoomJoined { seq, .. }) => *seq,
        m => panic!("{m:?}"),
    };
    assert!(seq > 0);
    // A blip: the next event waits in the backlog and comes with the resume.
    w.input(Input::Closed { conn: a, clean: false });
    let running = ServerMessage::RoomRunning { seq: 0, conv: 5, users: vec![ALICE, BOB], started: true };
    w.input(Input::Push { devices: vec![], users: vec![ALICE, BOB], msg: Box::new(running) });
    assert!(matches!(w.last(b), Some(ServerMessage::RoomRunning { .. })));
    let a2 = w.open(ALICE, ALICE, &[]);
    w.text(a2, &format!(r#"{{"type":"hello","v":1,"resume":{{"token":"{token}","last_seq":{seq}}}}}"#));
    assert!(w.msgs(a2).iter().any(|m| matches!(m, ServerMessage::RoomRunning { seq: s, .. } if *s == seq + 1)));
    // Replies are not numbered and go to the current connection only.
    let err = ServerMessage::Error { id: Some(7), code: WsErrorCode::NoSuchRoom, message: "x".into() };
    w.input(Input::Reply { device: dev, msg: Box::new(err) });
    assert!(matches!(w.last(a2), Some(ServerMessage::Error { id: Some(7), .. })));
}

#[test]
fn a_device_gone_for_good_is_reported_once_its_grace_ends() {
    let mut w = World::new();
    let a = w.connect(ALICE, &[]);
    let dev = device_of(&w, a);
    w.input(Input::Closed { conn: a, clean: false });
    assert!(w.gone.is_empty(), "a blip keeps the device (and its conference seat)");
    w.advance(Duration::from_secs(11));
    assert_eq!(w.gone, vec![dev]);
    let b = w.connect(BOB, &[]);
    let dev_b = device_of(&w, b);
    w.input(Input::Closed { conn: b, clean: true });
    assert_eq!(w.gone, vec![dev, dev_b]);
}
