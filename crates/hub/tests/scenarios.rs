//! Deterministic scenarios of the hub: presence, every call outcome, resume, abuse.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on what they set up

mod common;

use std::time::Duration;

use common::{presence_updates, World};
use hub::Input;
use proto::ws::{close, EndReason, Presence, ServerMessage, WsErrorCode};

const ALICE: i64 = 1;
const BOB: i64 = 2;
const CAROL: i64 = 3;
const MALLORY: i64 = 66;

fn ended(w: &World, conn: u64) -> Option<EndReason> {
    w.msgs(conn).iter().rev().find_map(|m| match m {
        ServerMessage::CallEnded { reason, .. } => Some(*reason),
        _ => None,
    })
}

/// The last call-related message a connection got.
fn last_call_msg(w: &World, conn: u64) -> Option<&ServerMessage> {
    w.msgs(conn).iter().rev().find(|m| {
        matches!(
            m,
            ServerMessage::CallIncoming { .. }
                | ServerMessage::CallRinging { .. }
                | ServerMessage::CallAccepted { .. }
                | ServerMessage::CallEnded { .. }
                | ServerMessage::CallSignal { .. }
        )
    })
}

fn error_code(w: &World, conn: u64) -> Option<WsErrorCode> {
    match w.last(conn) {
        Some(ServerMessage::Error { code, .. }) => Some(*code),
        _ => None,
    }
}

fn invite(w: &mut World, conn: u64, callee: i64) {
    w.text(conn, &format!(r#"{{"type":"call_invite","id":1,"callee":{callee},"media":"video"}}"#));
}

#[test]
fn presence_reaches_contacts_only_and_aggregates_devices() {
    let mut w = World::new();
    let a = w.connect(ALICE, &[BOB]);
    let stranger = w.connect(MALLORY, &[]);
    let b1 = w.connect_session(BOB, 20, &[ALICE]);
    assert_eq!(presence_updates(&w, a), vec![(BOB, Presence::Online)]);
    assert!(presence_updates(&w, stranger).is_empty(), "strangers see nothing");
    // bob's welcome lists alice online
    match &w.msgs(b1)[0] {
        ServerMessage::Welcome { presence, .. } => assert_eq!(presence[0].status, Presence::Online),
        m => panic!("{m:?}"),
    }
    // a second device: still online, no new update
    let b2 = w.connect_session(BOB, 21, &[ALICE]);
    w.text(b1, r#"{"type":"set_presence","status":"away"}"#);
    assert_eq!(presence_updates(&w, a).len(), 1, "one device away, the other online: online");
    w.text(b2, r#"{"type":"set_presence","id":4,"status":"away"}"#);
    assert_eq!(w.last(b2), Some(&ServerMessage::Ok { id: 4 }));
    assert_eq!(presence_updates(&w, a).last(), Some(&(BOB, Presence::Away)));
    w.text(b2, r#"{"type":"set_presence","status":"dnd"}"#);
    assert_eq!(presence_updates(&w, a).last(), Some(&(BOB, Presence::Dnd)));
    // clean close of both: offline at once
    w.input(Input::Closed { conn: b1, clean: true });
    w.input(Input::Closed { conn: b2, clean: true });
    assert_eq!(presence_updates(&w, a).last(), Some(&(BOB, Presence::Offline)));
    assert!(presence_updates(&w, stranger).is_empty());
}

#[test]
fn killed_connection_goes_offline_after_heartbeat_timeout_and_grace() {
    let mut w = World::new();
    let a = w.connect(ALICE, &[BOB]);
    let _b = w.connect(BOB, &[ALICE]);
    // alice keeps answering pings; bob's socket is silently dead
    for _ in 0..3 {
        w.advance(Duration::from_secs(20));
        w.input(Input::Activity { conn: a });
    }
    assert!(w.pings > 0);
    assert_eq!(presence_updates(&w, a).last(), Some(&(BOB, Presence::Online)), "still within grace");
    w.advance(Duration::from_secs(20));
    assert_eq!(presence_updates(&w, a).last(), Some(&(BOB, Presence::Offline)));
    assert_eq!(w.closed.get(&_b), Some(&close::HEARTBEAT_TIMEOUT));
    assert!(!w.closed.contains_key(&a));
}

/// alice calls bob, who is signed in on two devices; both ring.
fn alice_calls_bob_on_two_devices() -> (World, u64, u64, u64, u64) {
    let mut w = World::new();
    let a = w.connect(ALICE, &[BOB]);
    let b1 = w.connect_session(BOB, 20, &[ALICE]);
    let b2 = w.connect_session(BOB, 21, &[ALICE]);
    invite(&mut w, a, BOB);
    let call = w.call_id(a);
    (w, a, b1, b2, call)
}

#[test]
fn caller_signals_while_ringing_reach_only_the_answering_device() {
    let (mut w, a, b1, b2, call) = alice_calls_bob_on_two_devices();
    w.clear();
    // The caller's offer and candidates, prepared while it rings, are kept by the server.
    w.text(a, &format!(r#"{{"type":"call_signal","id":5,"call_id":{call},"data":{{"sdp":"offer"}}}}"#));
    assert_eq!(w.last(a), Some(&ServerMessage::Ok { id: 5 }));
    w.text(a, &format!(r#"{{"type":"call_signal","call_id":{call},"data":{{"candidate":"c1"}}}}"#));
    assert!(w.msgs(b1).is_empty() && w.msgs(b2).is_empty(), "nothing reaches a ringing device");
    // A ringing device cannot send before it answers.
    w.text(b1, &format!(r#"{{"type":"call_signal","id":6,"call_id":{call},"data":{{}}}}"#));
    assert_eq!(error_code(&w, b1), Some(WsErrorCode::InvalidState));
    w.clear();
    // b2 answers: its ok, then what was held, in order; b1 only hears it was answered elsewhere.
    w.text(b2, &format!(r#"{{"type":"call_accept","id":9,"call_id":{call}}}"#));
    let got: Vec<_> = w
        .msgs(b2)
        .iter()
        .map(|m| match m {
            ServerMessage::Ok { id } => format!("ok {id}"),
            ServerMessage::CallSignal { data, .. } => data.to_string(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(got, ["ok 9", r#"{"sdp":"offer"}"#, r#"{"candidate":"c1"}"#]);
    assert_eq!(ended(&w, b1), Some(EndReason::AnsweredElsewhere));
    assert!(!w.msgs(b1).iter().any(|m| matches!(m, ServerMessage::CallSignal { .. })));
    assert!(matches!(last_call_msg(&w, a), Some(ServerMessage::CallAccepted { .. })));
    // From now on signals are relayed directly; nothing is held any more.
    w.clear();
    w.text(a, &format!(r#"{{"type":"call_signal","call_id":{call},"data":{{"candidate":"c2"}}}}"#));
    assert_eq!(w.msgs(b2).len(), 1);
}

#[test]
fn held_signals_are_bounded() {
    let mut w = World::new();
    let a = w.connect(ALICE, &[BOB]);
    let b = w.connect(BOB, &[ALICE]);
    invite(&mut w, a, BOB);
    let call = w.call_id(a);
    for i in 0..proto::ws::MAX_HELD_SIGNALS {
        w.text(a, &format!(r#"{{"type":"call_signal","id":{i},"call_id":{call},"data":{{"candidate":"c{i}"}}}}"#));
        assert!(matches!(w.last(a), Some(ServerMessage::Ok { .. })), "{i}: {:?}", w.last(a));
    }
    w.text(a, &format!(r#"{{"type":"call_signal","id":999,"call_id":{call},"data":{{"candidate":"one too many"}}}}"#));
    assert_eq!(error_code(&w, a), Some(WsErrorCode::TooLarge));
    // The byte budget holds too: a fresh call, a few near-maximal signals.
    w.text(a, &format!(r#"{{"type":"call_hangup","call_id":{call}}}"#));
    invite(&mut w, a, BOB);
    let call = w.call_id(a);
    let big = "x".repeat(proto::ws::MAX_SIGNAL_BYTES - 64);
    let fits = proto::ws::MAX_HELD_SIGNAL_BYTES / (proto::ws::MAX_SIGNAL_BYTES - 50);
    for i in 0..fits {
        w.text(a, &format!(r#"{{"type":"call_signal","id":{i},"call_id":{call},"data":{{"sdp":"{big}"}}}}"#));
        assert!(matches!(w.last(a), Some(ServerMessage::Ok { .. })), "{i}: {:?}", w.last(a));
    }
    w.text(a, &format!(r#"{{"type":"call_signal","id":77,"call_id":{call},"data":{{"sdp":"{big}"}}}}"#));
    assert_eq!(error_code(&w, a), Some(WsErrorCode::TooLarge));
    // the callee still gets exactly what was accepted
    w.clear();
    w.text(b, &format!(r#"{{"type":"call_accept","call_id":{call}}}"#));
    assert_eq!(w.msgs(b).iter().filter(|m| matches!(m, ServerMessage::CallSignal { .. })).count(), fits);
}

#[test]
fn ringing_on_every_device_accept_on_one() {
    let (mut w, a, b1, b2, call) = alice_calls_bob_on_two_devices();
    assert!(matches!(last_call_msg(&w, a), Some(ServerMessage::CallRinging { id: Some(1), .. })));
    for b in [b1, b2] {
        assert!(matches!(last_call_msg(&w, b), Some(ServerMessage::CallIncoming { caller: ALICE, .. })));
    }
    w.text(b2, &format!(r#"{{"type":"call_accept","id":9,"call_id":{call}}}"#));
    assert_eq!(w.last(b2), Some(&ServerMessage::Ok { id: 9 }));
    assert!(matches!(last_call_msg(&w, a), Some(ServerMessage::CallAccepted { .. })));
    assert_eq!(ended(&w, b1), Some(EndReason::AnsweredElsewhere));
    // the other device cannot take it any more
    w.text(b1, &format!(r#"{{"type":"call_accept","id":10,"call_id":{call}}}"#));
    assert_eq!(error_code(&w, b1), Some(WsErrorCode::InvalidState));
    assert_eq!(w.hub.presence_of(BOB), Presence::Busy);

    // signaling flows only between a and b2
    w.clear();
    w.text(a, &format!(r#"{{"type":"call_signal","call_id":{call},"data":{{"sdp":"offer"}}}}"#));
    assert!(matches!(last_call_msg(&w, b2), Some(ServerMessage::CallSignal { .. })));
    assert!(w.msgs(b1).is_empty());
    w.text(b2, &format!(r#"{{"type":"call_signal","call_id":{call},"data":{{"sdp":"answer"}}}}"#));
    assert!(matches!(last_call_msg(&w, a), Some(ServerMessage::CallSignal { .. })));
    w.text(b1, &format!(r#"{{"type":"call_signal","id":3,"call_id":{call},"data":{{}}}}"#));
    assert_eq!(error_code(&w, b1), Some(WsErrorCode::NoSuchCall));

    w.advance(Duration::from_secs(30));
    w.text(b2, &format!(r#"{{"type":"call_hangup","call_id":{call}}}"#));
    assert_eq!(ended(&w, a), Some(EndReason::Hangup));
    let rec = w.records.last().unwrap();
    assert!(rec.answered && rec.talk == Duration::from_secs(30));
    assert_eq!(w.hub.presence_of(BOB), Presence::Online);
    assert_eq!(w.hub.presence_of(ALICE), Presence::Online);
}

#[test]
fn every_unanswered_outcome() {
    // declined
    let mut w = World::new();
    let a = w.connect(ALICE, &[BOB]);
    let b = w.connect(BOB, &[ALICE]);
    invite(&mut w, a, BOB);
    let call = w.call_id(b);
    w.text(b, &format!(r#"{{"type":"call_decline","call_id":{call}}}"#));
    assert_eq!(ended(&w, a), Some(EndReason::Declined));
    // cancelled by the caller
    invite(&mut w, a, BOB);
    let call = w.call_id(b);
    w.text(a, &format!(r#"{{"type":"call_hangup","call_id":{call}}}"#));
    assert_eq!(ended(&w, b), Some(EndReason::Cancelled));
    // no answer
    invite(&mut w, a, BOB);
    w.advance(Duration::from_secs(44));
    assert!(matches!(last_call_msg(&w, b), Some(ServerMessage::CallIncoming { .. })));
    w.advance(Duration::from_secs(1));
    assert_eq!(ended(&w, a), Some(EndReason::NoAnswer));
    assert_eq!(ended(&w, b), Some(EndReason::NoAnswer));
    let missed = w.records.iter().filter(|r| !r.answered && r.callee == BOB).count();
    assert_eq!(missed, 3);
    // busy: bob is in a call with carol
    let c = w.connect(CAROL, &[BOB]);
    w.relation(BOB, CAROL);
    invite(&mut w, c, BOB);
    let call = w.call_id(b);
    w.text(b, &format!(r#"{{"type":"call_accept","call_id":{call}}}"#));
    invite(&mut w, a, BOB);
    assert_eq!(ended(&w, a), Some(EndReason::Busy));
    assert_eq!(w.records.last().unwrap().reason, EndReason::Busy);
    // unavailable: offline callee
    let d = w.connect(4, &[5]);
    invite(&mut w, d, 5);
    assert_eq!(ended(&w, d), Some(EndReason::Unavailable));
    // not allowed: not a contact
    invite(&mut w, d, ALICE);
    assert_eq!(ended(&w, d), Some(EndReason::NotAllowed));
}

#[test]
fn a_failed_media_path_is_told_to_the_other_side_and_recorded() {
    for (why, reason) in [("connect_failed", EndReason::ConnectFailed), ("media_lost", EndReason::MediaLost)] {
        // Either side may give up first: the other is told why, and the record keeps it.
        for callee_gives_up in [false, true] {
            let mut w = World::new();
            let a = w.connect(ALICE, &[BOB]);
            let b = w.connect(BOB, &[ALICE]);
            invite(&mut w, a, BOB);
            let call = w.call_id(b);
            w.text(b, &format!(r#"{{"type":"call_accept","call_id":{call}}}"#));
            let (quitter, other) = if callee_gives_up { (b, a) } else { (a, b) };
            w.clear();
            w.text(quitter, &format!(r#"{{"type":"call_hangup","id":4,"call_id":{call},"reason":"{why}"}}"#));
            assert_eq!(ended(&w, other), Some(reason));
            assert_eq!(ended(&w, quitter), None, "the side that gave up already knows");
            assert_eq!(w.records.last().unwrap().reason, reason);
            // The other side's timer fires a moment later: the call is gone, nothing changes.
            w.text(other, &format!(r#"{{"type":"call_hangup","id":5,"call_id":{call},"reason":"{why}"}}"#));
            assert_eq!(error_code(&w, other), Some(WsErrorCode::NoSuchCall));
            assert_eq!(w.records.len(), 1);
        }
    }
}

#[test]
fn a_media_reason_does_not_count_while_it_rings() {
    let mut w = World::new();
    let a = w.connect(ALICE, &[BOB]);
    let b = w.connect(BOB, &[ALICE]);
    invite(&mut w, a, BOB);
    let call = w.call_id(b);
    // Nothing was negotiated yet, so it is what it looks like: the caller cancelled.
    w.text(a, &format!(r#"{{"type":"call_hangup","call_id":{call},"reason":"connect_failed"}}"#));
    assert_eq!(ended(&w, b), Some(EndReason::Cancelled));
    // A reason the protocol does not know is a bad message, and ends nothing.
    invite(&mut w, a, BOB);
    let call = w.call_id(b);
    for why in [r#""hangup""#, r#""no_answer""#, r#""""#, "1", "{}"] {
        w.text(a, &format!(r#"{{"type":"call_hangup","id":6,"call_id":{call},"reason":{why}}}"#));
        assert_eq!(error_code(&w, a), Some(WsErrorCode::BadMessage), "{why}");
    }
    assert!(matches!(last_call_msg(&w, b), Some(ServerMessage::CallIncoming { .. })));
}

#[test]
fn a_device_lost_mid_call_ends_it_after_the_grace_period_unless_it_resumes() {
    let mut w = World::new();
    let a = w.connect(ALICE, &[BOB]);
    let b = w.connect(BOB, &[ALICE]);
    invite(&mut w, a, BOB);
    let call = w.call_id(b);
    w.text(b, &format!(r#"{{"type":"call_accept","call_id":{call}}}"#));
    let token = w.resume_token(b);
    let last_seq =
        w.msgs(b).iter().filter_map(|m| serde_json::to_value(m).ok()?.get("seq")?.as_u64()).max().unwrap_or(0);
    // bob's network drops; alice sends a candidate meanwhile
    w.input(Input::Closed { conn: b, clean: false });
    w.text(a, &format!(r#"{{"type":"call_signal","call_id":{call},"data":{{"candidate":"x"}}}}"#));
    w.advance(Duration::from_secs(5));
    // bob comes back on a new socket and resumes: he gets the candidate he missed
    let b2 = w.open(BOB, BOB, &[ALICE]);
    w.text(b2, &format!(r#"{{"type":"hello","v":1,"resume":{{"token":"{token}","last_seq":{last_seq}}}}}"#));
    assert!(matches!(w.msgs(b2)[0], ServerMessage::Welcome { resumed: true, .. }));
    assert!(matches!(w.msgs(b2)[1], ServerMessage::CallSignal { .. }), "only the missed event: {:?}", w.msgs(b2));
    assert_eq!(w.msgs(b2).len(), 2);
    assert_eq!(ended(&w, a), None, "the call survived the blip");
    // now bob vanishes for good
    w.input(Input::Closed { conn: b2, clean: false });
    w.advance(Duration::from_secs(11));
    assert_eq!(ended(&w, a), Some(EndReason::ConnectionLost));
    assert_eq!(w.hub.presence_of(BOB), Presence::Offline);
}

#[test]
fn resume_too_late_or_foreign_token_starts_fresh() {
    let mut w = World::new();
    let b = w.connect(BOB, &[ALICE]);
    let token = w.resume_token(b);
    w.input(Input::Closed { conn: b, clean: false });
    w.advance(Duration::from_secs(11));
    let b2 = w.open(BOB, BOB, &[ALICE]);
    w.text(b2, &format!(r#"{{"type":"hello","v":1,"resume":{{"token":"{token}","last_seq":0}}}}"#));
    assert!(matches!(w.msgs(b2)[0], ServerMessage::Welcome { resumed: false, .. }));
    // mallory cannot take over bob's device with his token
    let token = w.resume_token(b2);
    let m = w.open(MALLORY, 99, &[]);
    w.text(m, &format!(r#"{{"type":"hello","v":1,"resume":{{"token":"{token}","last_seq":0}}}}"#));
    assert!(matches!(w.msgs(m)[0], ServerMessage::Welcome { resumed: false, user: MALLORY, .. }));
    assert!(!w.closed.contains_key(&b2));
}

#[test]
fn replay_gap_too_large_asks_for_resync() {
    let mut cfg = common::test_config();
    cfg.replay_buffer = 2;
    let mut w = World::with(cfg);
    let a = w.connect(ALICE, &[BOB]);
    let token = w.resume_token(a);
    w.input(Input::Closed { conn: a, clean: false });
    for i in 0..3 {
        let b = w.connect_session(BOB, 100 + i, &[ALICE]);
        w.input(Input::Closed { conn: b, clean: true });
    }
    let a2 = w.open(ALICE, ALICE, &[BOB]);
    w.text(a2, &format!(r#"{{"type":"hello","v":1,"resume":{{"token":"{token}","last_seq":0}}}}"#));
    assert!(matches!(w.msgs(a2)[1], ServerMessage::Resync { seq: 6 }), "{:?}", w.msgs(a2));
}

#[test]
fn outsiders_cannot_touch_a_call() {
    let mut w = World::new();
    let a = w.connect(ALICE, &[BOB]);
    let b = w.connect(BOB, &[ALICE]);
    let m = w.connect(MALLORY, &[ALICE, BOB]);
    invite(&mut w, a, BOB);
    let call = w.call_id(b);
    for req in ["call_accept", "call_decline", "call_hangup"] {
        w.text(m, &format!(r#"{{"type":"{req}","id":5,"call_id":{call}}}"#));
        assert_eq!(error_code(&w, m), Some(WsErrorCode::NoSuchCall), "{req}");
    }
    w.text(b, &format!(r#"{{"type":"call_accept","call_id":{call}}}"#));
    w.clear();
    w.text(m, &format!(r#"{{"type":"call_signal","id":6,"call_id":{call},"data":{{"sdp":"evil"}}}}"#));
    assert_eq!(error_code(&w, m), Some(WsErrorCode::NoSuchCall));
    assert!(w.msgs(a).is_empty() && w.msgs(b).is_empty(), "nothing reached the participants");
}

#[test]
fn garbage_frames_get_errors_and_change_nothing() {
    let mut w = World::new();
    let pre = w.open(ALICE, 1, &[]);
    w.text(pre, r#"{"type":"ping","id":1}"#);
    assert_eq!(error_code(&w, pre), Some(WsErrorCode::HelloRequired));
    w.text(pre, r#"{"type":"hello","v":2}"#);
    assert_eq!(w.closed.get(&pre), Some(&close::UNSUPPORTED_VERSION));

    let a = w.connect(ALICE, &[BOB]);
    for (frame, code) in [
        ("{", WsErrorCode::InvalidJson),
        ("\u{0}\u{1}", WsErrorCode::InvalidJson),
        (r#"{"type":"nope","id":3}"#, WsErrorCode::BadMessage),
        (r#"{"type":"call_invite","callee":-1}"#, WsErrorCode::BadMessage),
        (r#"{"type":"call_accept","call_id":"1 OR 1=1"}"#, WsErrorCode::BadMessage),
        (r#"{"type":"hello","v":1}"#, WsErrorCode::HelloRequired),
        (r#"{"type":"call_hangup","call_id":18446744073709551615}"#, WsErrorCode::NoSuchCall),
    ] {
        w.text(a, frame);
        assert_eq!(error_code(&w, a), Some(code), "{frame}");
    }
    w.input(Input::Binary { conn: a });
    assert_eq!(error_code(&w, a), Some(WsErrorCode::BadMessage));
    w.text(a, r#"{"type":"ping","id":77}"#);
    assert_eq!(w.last(a), Some(&ServerMessage::Pong { id: Some(77) }));
    assert!(!w.closed.contains_key(&a));
}

#[test]
fn flooding_is_rate_limited_then_closed() {
    let mut w = World::new();
    let a = w.connect(ALICE, &[]);
    let mut limited = 0;
    for _ in 0..500 {
        w.text(a, r#"{"type":"ping"}"#);
        if error_code(&w, a) == Some(WsErrorCode::RateLimited) {
            limited += 1;
        }
        if w.closed.contains_key(&a) {
            break;
        }
    }
    assert!(limited > 0);
    assert_eq!(w.closed.get(&a), Some(&close::POLICY));
}

#[test]
fn blocking_and_removal_stop_presence_and_calls() {
    let mut w = World::new();
    let a = w.connect(ALICE, &[BOB]);
    let b = w.connect(BOB, &[ALICE]);
    w.input(Input::RelationChanged {
        a: BOB,
        b: ALICE,
        contacts: false,
        blocked: true,
        event_for_a: None,
        event_for_b: Some(proto::ws::ContactEvent::Removed),
    });
    assert!(matches!(w.last(a), Some(ServerMessage::ContactsChanged { user: BOB, .. })));
    w.clear();
    w.text(b, r#"{"type":"set_presence","status":"away"}"#);
    assert!(presence_updates(&w, a).is_empty());
    invite(&mut w, a, BOB);
    assert_eq!(ended(&w, a), Some(EndReason::NotAllowed));
    assert!(w.msgs(b).is_empty(), "the blocker is not even rung");
}

#[test]
fn ended_sessions_are_closed() {
    let mut w = World::new();
    let a1 = w.connect_session(ALICE, 10, &[]);
    let a2 = w.connect_session(ALICE, 11, &[]);
    w.input(Input::SessionsEnded { user: ALICE, only: None, keep: Some(11) });
    assert_eq!(w.closed.get(&a1), Some(&close::SESSION_ENDED));
    assert!(!w.closed.contains_key(&a2));
    w.input(Input::SessionsEnded { user: ALICE, only: Some(11), keep: None });
    assert_eq!(w.closed.get(&a2), Some(&close::SESSION_ENDED));
    assert_eq!(w.hub.presence_of(ALICE), Presence::Offline);
}

trait Relate {
    fn relation(&mut self, a: i64, b: i64);
}

impl Relate for World {
    fn relation(&mut self, a: i64, b: i64) {
        self.input(Input::RelationChanged {
            a,
            b,
            contacts: true,
            blocked: false,
            event_for_a: Some(proto::ws::ContactEvent::RequestAccepted),
            event_for_b: Some(proto::ws::ContactEvent::RequestAccepted),
        });
    }
}

#[test]
fn a_socket_without_hello_is_closed_after_the_hello_timeout() {
    let mut w = World::new();
    let silent = w.open(1, 1, &[]);
    let talking = w.connect(2, &[]);
    w.advance(Duration::from_secs(9));
    assert!(w.closed.is_empty());
    w.advance(Duration::from_secs(2));
    assert_eq!(w.closed.get(&silent), Some(&proto::ws::close::HELLO_TIMEOUT));
    assert!(!w.closed.contains_key(&talking), "a socket that said hello stays");
}

#[test]
fn sockets_per_user_and_per_session_are_limited() {
    let mut w =
        World::with(hub::HubConfig { max_sockets_per_user: 4, max_sockets_per_session: 3, ..common::test_config() });
    let same_session: Vec<_> = (0..4).map(|_| w.connect_session(1, 10, &[])).collect();
    assert_eq!(w.closed.get(&same_session[3]), Some(&proto::ws::close::TOO_MANY_SOCKETS));
    assert!(same_session[..3].iter().all(|c| !w.closed.contains_key(c)));
    let other_session = w.connect_session(1, 11, &[]);
    assert!(!w.closed.contains_key(&other_session), "the user's fourth socket");
    let fifth = w.connect_session(1, 12, &[]);
    assert_eq!(w.closed.get(&fifth), Some(&proto::ws::close::TOO_MANY_SOCKETS));
    // Another user is not affected; a closed socket frees its place.
    let other_user = w.connect(2, &[]);
    assert!(!w.closed.contains_key(&other_user));
    w.input(hub::Input::Closed { conn: same_session[0], clean: true });
    let again = w.connect_session(1, 10, &[]);
    assert!(!w.closed.contains_key(&again));
}
