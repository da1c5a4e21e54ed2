//! Presence over the nodes of a cluster: this hub's devices and what other nodes say.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on what they set up

mod common;

use common::{presence_updates, World};
use hub::{Input, RoomOp};
use std::time::Duration;

use proto::ws::{Presence, ServerMessage};

const ALICE: i64 = 1;
const BOB: i64 = 2;

fn remote(w: &mut World, node: &str, user: i64, status: Presence) {
    w.input(Input::RemotePresence { node: node.into(), user, status, devices: vec![] });
}

#[test]
fn a_contact_on_another_node_shows_here_and_goes_when_its_node_does() {
    let mut w = World::new();
    let a = w.connect(ALICE, &[BOB]);
    assert_eq!(w.published.iter().map(|p| (p.0, p.1)).collect::<Vec<_>>(), vec![(ALICE, Presence::Online)]);
    remote(&mut w, "n2", BOB, Presence::Online);
    assert_eq!(presence_updates(&w, a), vec![(BOB, Presence::Online)]);
    // A second node with bob: no change to show; his away there neither (online wins).
    remote(&mut w, "n3", BOB, Presence::Away);
    remote(&mut w, "n2", BOB, Presence::Online);
    assert_eq!(presence_updates(&w, a).len(), 1);
    // n2 falls silent: bob is away (n3) now, then offline when n3 says so.
    w.input(Input::NodeGone { node: "n2".into() });
    assert_eq!(presence_updates(&w, a).last(), Some(&(BOB, Presence::Away)));
    w.input(Input::NodeState { node: "n3".into(), users: vec![] });
    assert_eq!(presence_updates(&w, a).last(), Some(&(BOB, Presence::Offline)));
    // A new device of alice learns bob's presence from the other nodes at welcome.
    remote(&mut w, "n2", BOB, Presence::Dnd);
    let a2 = w.connect_session(ALICE, 30, &[BOB]);
    match &w.msgs(a2)[0] {
        ServerMessage::Welcome { presence, .. } => assert_eq!(presence[0].status, Presence::Dnd),
        m => panic!("{m:?}"),
    }
}

#[test]
fn a_user_on_two_nodes_stays_online_when_one_device_leaves() {
    let mut w = World::new();
    let a = w.connect(ALICE, &[BOB]);
    let b = w.connect_session(BOB, 20, &[ALICE]);
    remote(&mut w, "n2", BOB, Presence::Online);
    assert_eq!(presence_updates(&w, a), vec![(BOB, Presence::Online)]);
    // bob's device here closes: still online on n2, nothing to tell; this node publishes
    // that bob is offline here.
    w.input(Input::Closed { conn: b, clean: true });
    assert_eq!(presence_updates(&w, a), vec![(BOB, Presence::Online)]);
    assert_eq!(w.published.last().map(|p| (p.0, p.1)), Some((BOB, Presence::Offline)));
    // Then n2's list no longer has him: offline.
    w.input(Input::NodeState { node: "n2".into(), users: vec![(ALICE, Presence::Online, vec![7])] });
    assert_eq!(presence_updates(&w, a).last(), Some(&(BOB, Presence::Offline)));
    // bob back on this node: online again, published again.
    let _b = w.connect_session(BOB, 21, &[ALICE]);
    assert_eq!(presence_updates(&w, a).last(), Some(&(BOB, Presence::Online)));
    assert_eq!(w.published.last().map(|p| (p.0, p.1)), Some((BOB, Presence::Online)));
    let listed: Vec<(i64, Presence)> = w.hub.local_presence().iter().map(|p| (p.0, p.1)).collect();
    assert_eq!(listed, vec![(ALICE, Presence::Online), (BOB, Presence::Online)]);
}

#[test]
fn strangers_on_other_nodes_are_shown_to_nobody() {
    let mut w = World::new();
    let a = w.connect(ALICE, &[]);
    remote(&mut w, "n2", BOB, Presence::Online);
    assert!(presence_updates(&w, a).is_empty());
    w.hub.check_invariants().unwrap();
}

/// Carries what each hub publishes or sends to the other, until both are quiet.
fn pump(n1: &mut World, n2: &mut World) {
    pump_all(&mut [n1, n2]);
}

/// Carries what each hub publishes (to all the others) or sends to one other, until all are
/// quiet; the hubs are nodes n1, n2, ... in order.
fn pump_all(w: &mut [&mut World]) {
    let name = |i: usize| format!("n{}", i + 1);
    for _ in 0..100 {
        let mut moved = false;
        for from in 0..w.len() {
            let published = std::mem::take(&mut w[from].published);
            let direct = std::mem::take(&mut w[from].to_nodes);
            moved |= !published.is_empty() || !direct.is_empty();
            for to in (0..w.len()).filter(|t| *t != from) {
                for (user, status, devices) in &published {
                    let (user, status, devices) = (*user, *status, devices.clone());
                    w[to].input(Input::RemotePresence { node: name(from), user, status, devices });
                }
            }
            for (node, msg) in direct {
                let to = (0..w.len()).find(|i| name(*i) == node).expect("a known node");
                w[to].input(Input::FromNode { node: name(from), msg });
            }
        }
        if !moved {
            return;
        }
    }
    panic!("the hubs never went quiet");
}

fn call_id_of(w: &World, conn: u64) -> u64 {
    w.msgs(conn)
        .iter()
        .find_map(|m| match m {
            ServerMessage::CallIncoming { call_id, .. } | ServerMessage::CallRinging { call_id, .. } => Some(*call_id),
            _ => None,
        })
        .expect("a call")
}

fn ended_reason(w: &World, conn: u64) -> Option<proto::ws::EndReason> {
    w.msgs(conn).iter().rev().find_map(|m| match m {
        ServerMessage::CallEnded { reason, .. } => Some(*reason),
        _ => None,
    })
}

#[test]
fn a_call_rings_devices_on_two_nodes_is_answered_on_one_and_signals_cross() {
    let (mut n1, mut n2) = (World::new(), World::new());
    let a = n1.connect(ALICE, &[BOB]);
    let b1 = n1.connect_session(BOB, 20, &[ALICE]);
    let b2 = n2.connect_session(BOB, 21, &[ALICE]);
    pump(&mut n1, &mut n2);
    n1.text(a, r#"{"type":"call_invite","id":1,"callee":2,"media":"video"}"#);
    pump(&mut n1, &mut n2);
    let call = call_id_of(&n1, a);
    assert_eq!(call_id_of(&n1, b1), call, "bob's device on node 1 rings");
    assert_eq!(call_id_of(&n2, b2), call, "bob's device on node 2 rings");
    // alice's offer while it rings is kept for whichever device answers.
    n1.text(a, &format!(r#"{{"type":"call_signal","call_id":{call},"data":{{"sdp":"offer"}}}}"#));
    n2.text(b2, &format!(r#"{{"type":"call_accept","id":5,"call_id":{call}}}"#));
    pump(&mut n1, &mut n2);
    assert!(n2.msgs(b2).contains(&ServerMessage::Ok { id: 5 }), "{:?}", n2.msgs(b2));
    assert!(n1.msgs(a).iter().any(|m| matches!(m, ServerMessage::CallAccepted { .. })));
    assert_eq!(ended_reason(&n1, b1), Some(proto::ws::EndReason::AnsweredElsewhere));
    let got_offer =
        n2.msgs(b2).iter().any(|m| matches!(m, ServerMessage::CallSignal { data, .. } if data["sdp"] == "offer"));
    assert!(got_offer, "the held offer reached the answering device on node 2");
    // Events on node 2 are numbered by node 2, in order.
    let seqs: Vec<u64> = n2.msgs(b2).iter().filter_map(|m| serde_json::to_value(m).ok()?["seq"].as_u64()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    // Signals both ways, then bob hangs up from node 2.
    n2.text(b2, &format!(r#"{{"type":"call_signal","call_id":{call},"data":{{"sdp":"answer"}}}}"#));
    pump(&mut n1, &mut n2);
    assert!(n1.msgs(a).iter().any(|m| matches!(m, ServerMessage::CallSignal { data, .. } if data["sdp"] == "answer")));
    assert_eq!(n2.hub.presence_of(BOB), Presence::Busy, "bob is busy in a call node 1 holds");
    n2.text(b2, &format!(r#"{{"type":"call_hangup","id":6,"call_id":{call}}}"#));
    pump(&mut n1, &mut n2);
    assert_eq!(ended_reason(&n1, a), Some(proto::ws::EndReason::Hangup));
    assert_eq!(n1.records.len(), 1);
    assert!(n1.records[0].answered);
    assert_eq!(n2.hub.presence_of(BOB), Presence::Online);
    n1.hub.check_invariants().unwrap();
    n2.hub.check_invariants().unwrap();
}

#[test]
fn a_callee_whose_only_device_on_another_node_goes_away_leaves_the_call_unavailable() {
    let (mut n1, mut n2) = (World::new(), World::new());
    let a = n1.connect(ALICE, &[BOB]);
    let b2 = n2.connect_session(BOB, 21, &[ALICE]);
    pump(&mut n1, &mut n2);
    n1.text(a, r#"{"type":"call_invite","id":1,"callee":2,"media":"audio"}"#);
    pump(&mut n1, &mut n2);
    assert!(n2.msgs(b2).iter().any(|m| matches!(m, ServerMessage::CallIncoming { .. })));
    n2.input(Input::Closed { conn: b2, clean: true });
    pump(&mut n1, &mut n2);
    assert_eq!(ended_reason(&n1, a), Some(proto::ws::EndReason::Unavailable));
    n1.hub.check_invariants().unwrap();
    n2.hub.check_invariants().unwrap();
}

#[test]
fn an_unanswered_call_stops_ringing_on_the_other_node_and_a_stranger_cannot_steer_it() {
    let (mut n1, mut n2) = (World::new(), World::new());
    let a = n1.connect(ALICE, &[BOB]);
    let b2 = n2.connect_session(BOB, 21, &[ALICE]);
    let m = n2.connect(66, &[]);
    pump(&mut n1, &mut n2);
    n1.text(a, r#"{"type":"call_invite","id":1,"callee":2,"media":"audio"}"#);
    pump(&mut n1, &mut n2);
    let call = call_id_of(&n2, b2);
    // Another user on node 2 knows the call id: their requests go nowhere.
    n2.text(m, &format!(r#"{{"type":"call_accept","id":9,"call_id":{call}}}"#));
    pump(&mut n1, &mut n2);
    assert!(matches!(n2.last(m), Some(ServerMessage::Error { .. })));
    assert!(!n1.msgs(a).iter().any(|m| matches!(m, ServerMessage::CallAccepted { .. })));
    n1.advance(Duration::from_secs(46));
    pump(&mut n1, &mut n2);
    assert_eq!(ended_reason(&n2, b2), Some(proto::ws::EndReason::NoAnswer));
    n1.hub.check_invariants().unwrap();
    n2.hub.check_invariants().unwrap();
}

#[test]
fn a_device_joins_a_room_another_node_holds_and_its_events_come_back_numbered_here() {
    let (mut n1, mut n2) = (World::new(), World::new());
    let a = n1.connect(ALICE, &[]);
    n1.text(a, r#"{"type":"room_join","id":5,"conv":9}"#);
    // The driver decides where the room is: n2 holds it.
    let req = n1.rooms.pop().expect("a join for the driver");
    assert!(!req.forwarded);
    n1.input(Input::RoomElsewhere { node: "n2".into(), req });
    pump(&mut n1, &mut n2);
    // n2's conference gets the join as a proxy's, marked as forwarded.
    let join = n2.rooms.pop().expect("the join on n2");
    assert!(join.forwarded && join.user == ALICE && join.id == Some(5));
    assert_eq!(join.op, RoomOp::Join { conv: 9, rejoin: false });
    let proxy = join.device;
    // What n2's conference answers and pushes reaches alice's device here, numbered here.
    n2.input(Input::Reply { device: proxy, msg: Box::new(ServerMessage::Ok { id: 5 }) });
    let speaker = ServerMessage::RoomSpeaker { seq: 0, conv: 9, participant: proxy };
    n2.input(Input::Push { devices: vec![proxy], users: vec![], msg: Box::new(speaker) });
    pump(&mut n1, &mut n2);
    let got = n1.msgs(a);
    assert!(got.contains(&ServerMessage::Ok { id: 5 }), "{got:?}");
    let seq = got.iter().find_map(|m| match m {
        ServerMessage::RoomSpeaker { seq, .. } => Some(*seq),
        _ => None,
    });
    assert!(seq.is_some_and(|s| s > 0), "{got:?}");
    // Later requests about that room go straight to n2, without asking the driver again.
    n1.text(a, r#"{"type":"room_state","conv":9,"muted":true,"camera_off":false,"hand":false}"#);
    assert!(n1.rooms.is_empty());
    pump(&mut n1, &mut n2);
    assert_eq!(
        n2.rooms.pop().map(|r| (r.device, r.op)),
        Some((proxy, RoomOp::State { conv: 9, muted: true, camera_off: false, hand: false }))
    );
    // Another conversation's request is this node's driver's to place.
    n1.text(a, r#"{"type":"room_leave","id":6,"conv":10}"#);
    assert_eq!(n1.rooms.pop().map(|r| r.op), Some(RoomOp::Leave { conv: 10 }));
    // Joining room 9 again: placed anew; this time the driver keeps it here (n2's room
    // ended meanwhile), so the device's next request about it stays here too.
    n1.text(a, r#"{"type":"room_join","id":7,"conv":9}"#);
    assert!(matches!(n1.rooms.pop().map(|r| r.op), Some(RoomOp::Join { conv: 9, .. })));
    n1.text(a, r#"{"type":"room_state","conv":9,"muted":false,"camera_off":false,"hand":false}"#);
    assert!(matches!(n1.rooms.pop().map(|r| r.op), Some(RoomOp::State { conv: 9, .. })));
    pump(&mut n1, &mut n2);
    assert!(n2.rooms.is_empty());
    // The device goes for good: n2's conference is told its proxy is gone.
    n1.input(Input::Closed { conn: a, clean: true });
    pump(&mut n1, &mut n2);
    assert_eq!(n2.gone, vec![proxy]);
    n1.hub.check_invariants().unwrap();
    n2.hub.check_invariants().unwrap();
}

/// Alice, on n1, joined room 4, which n2 holds: the two nodes, her connection, her proxy on n2.
fn alice_in_a_room_on_n2() -> (World, World, u64, u64) {
    let (mut n1, mut n2) = (World::new(), World::new());
    let a = n1.connect(ALICE, &[]);
    n1.text(a, r#"{"type":"room_join","id":1,"conv":4}"#);
    let req = n1.rooms.pop().unwrap();
    n1.input(Input::RoomElsewhere { node: "n2".into(), req });
    pump(&mut n1, &mut n2);
    let proxy = n2.rooms.pop().unwrap().device;
    (n1, n2, a, proxy)
}

#[test]
fn a_room_whose_node_falls_silent_is_lost_for_its_devices_and_a_silent_nodes_proxies_leave() {
    let (mut n1, mut n2, a, proxy) = alice_in_a_room_on_n2();
    // n1 hears nothing from n2 any more: alice's client is told its media path is lost (and
    // joins again, which places the room anew).
    n1.input(Input::NodeGone { node: "n2".into() });
    assert!(n1.msgs(a).iter().any(|m| matches!(
        m,
        ServerMessage::RoomRemoved { conv: 4, reason: proto::ws::RoomLeaveReason::MediaLost, .. }
    )));
    n1.text(a, r#"{"type":"room_sdp","id":2,"conv":4,"kind":"offer","rev":1,"sdp":"v=0"}"#);
    assert_eq!(n1.rooms.len(), 1, "no longer forwarded to the silent node");
    // n2 hears nothing from n1: alice's proxy leaves the room there.
    n2.input(Input::NodeGone { node: "n1".into() });
    assert_eq!(n2.gone, vec![proxy]);
    n1.hub.check_invariants().unwrap();
    n2.hub.check_invariants().unwrap();
}

#[test]
fn a_proxy_removed_from_its_room_is_forgotten_on_both_sides() {
    let (mut n1, mut n2, a, proxy) = alice_in_a_room_on_n2();
    let removed = ServerMessage::RoomRemoved { seq: 0, conv: 4, reason: proto::ws::RoomLeaveReason::Removed };
    n2.input(Input::Push { devices: vec![proxy], users: vec![], msg: Box::new(removed) });
    pump(&mut n1, &mut n2);
    assert!(n1.msgs(a).iter().any(|m| matches!(m, ServerMessage::RoomRemoved { conv: 4, .. })));
    // A later request about room 4 is placed by the driver again, not sent to n2.
    n1.text(a, r#"{"type":"room_leave","id":2,"conv":4}"#);
    assert_eq!(n1.rooms.len(), 1);
    // n2 forgot the proxy: a reply to it goes nowhere, and the device going away is no news.
    n1.input(Input::Closed { conn: a, clean: true });
    pump(&mut n1, &mut n2);
    assert!(n2.gone.is_empty());
    n2.hub.check_invariants().unwrap();
}

/// Alice on n1 calls bob on n2; bob answers: an active call n1 holds.
fn call_across(n1: &mut World, n2: &mut World) -> (u64, u64, u64) {
    let a = n1.connect(ALICE, &[BOB]);
    let b = n2.connect_session(BOB, 21, &[ALICE]);
    pump(n1, n2);
    n1.text(a, r#"{"type":"call_invite","id":1,"callee":2,"media":"video"}"#);
    pump(n1, n2);
    let call = call_id_of(n1, a);
    n2.text(b, &format!(r#"{{"type":"call_accept","id":5,"call_id":{call}}}"#));
    pump(n1, n2);
    assert!(n1.msgs(a).iter().any(|m| matches!(m, ServerMessage::CallAccepted { .. })));
    (a, b, call)
}

fn rejoined(w: &World, conn: u64, call: u64) -> bool {
    w.msgs(conn).iter().any(|m| matches!(m, ServerMessage::CallRejoined { call_id, .. } if *call_id == call))
}

#[test]
fn a_call_whose_holder_dies_is_claimed_back_on_the_callees_node_when_the_caller_reconnects_there() {
    let (mut n1, mut n2) = (World::new(), World::new());
    let (_a, b, call) = call_across(&mut n1, &mut n2);
    // n1 dies. Bob's device waits for alice to claim the call (media still flows between them).
    n2.input(Input::NodeGone { node: "n1".into() });
    assert_eq!(ended_reason(&n2, b), None, "not ended while alice may come back");
    // Alice's tab reconnects to n2 (a fresh device) and claims the call as after a restart.
    let a2 = n2.connect_session(ALICE, 31, &[BOB]);
    n2.text(
        a2,
        &format!(r#"{{"type":"call_rejoin","id":7,"call_id":{call},"peer":2,"role":"caller","media":"video"}}"#),
    );
    assert!(rejoined(&n2, a2, call) && rejoined(&n2, b, call));
    // The call is n2's now: signals pass, a hang-up ends it for both and records it.
    n2.text(a2, &format!(r#"{{"type":"call_signal","call_id":{call},"data":{{"ice":"x"}}}}"#));
    assert!(n2.msgs(b).iter().any(|m| matches!(m, ServerMessage::CallSignal { data, .. } if data["ice"] == "x")));
    n2.text(b, &format!(r#"{{"type":"call_hangup","id":8,"call_id":{call}}}"#));
    assert_eq!(ended_reason(&n2, a2), Some(proto::ws::EndReason::Hangup));
    assert_eq!(n2.records.len(), 1);
    n2.hub.check_invariants().unwrap();
}

#[test]
fn a_call_whose_callees_node_dies_waits_for_the_callee_on_the_callers_node_then_ends_if_none_comes() {
    let (mut n1, mut n2) = (World::new(), World::new());
    let (a, _b, call) = call_across(&mut n1, &mut n2);
    n1.input(Input::NodeGone { node: "n2".into() });
    assert_eq!(ended_reason(&n1, a), None);
    assert_eq!(n1.hub.presence_of(ALICE), Presence::Online, "not busy while waiting");
    // Bob reconnects on n1 and claims it: re-established on n1.
    let b2 = n1.connect_session(BOB, 32, &[ALICE]);
    n1.text(
        b2,
        &format!(r#"{{"type":"call_rejoin","id":7,"call_id":{call},"peer":1,"role":"callee","media":"video"}}"#),
    );
    assert!(rejoined(&n1, a, call) && rejoined(&n1, b2, call));
    assert_eq!(n1.hub.presence_of(ALICE), Presence::Busy);
    n1.hub.check_invariants().unwrap();

    // Another call, whose callee never comes back: it ends when the rejoin window closes.
    let (mut m1, mut m2) = (World::new(), World::new());
    let (a, _b, call) = call_across(&mut m1, &mut m2);
    m1.input(Input::NodeGone { node: "n2".into() });
    // (alice's socket stays alive meanwhile)
    for _ in 0..=proto::ws::REJOIN_WINDOW_SECS / 5 {
        m1.advance(Duration::from_secs(5));
        m1.input(Input::Activity { conn: a });
    }
    assert_eq!(ended_reason(&m1, a), Some(proto::ws::EndReason::ConnectionLost));
    // And this run's call, once ended, cannot be claimed again.
    let b3 = m1.connect_session(BOB, 33, &[ALICE]);
    m1.text(
        b3,
        &format!(r#"{{"type":"call_rejoin","id":9,"call_id":{call},"peer":1,"role":"callee","media":"video"}}"#),
    );
    assert!(m1
        .msgs(b3)
        .iter()
        .any(|m| matches!(m, ServerMessage::Error { id: Some(9), code: proto::ws::WsErrorCode::NoSuchCall, .. })));
    m1.hub.check_invariants().unwrap();
}

#[test]
fn a_call_still_ringing_on_a_node_that_dies_stops_ringing_there() {
    let (mut n1, mut n2) = (World::new(), World::new());
    let a = n1.connect(ALICE, &[BOB]);
    let b = n2.connect_session(BOB, 21, &[ALICE]);
    pump(&mut n1, &mut n2);
    n1.text(a, r#"{"type":"call_invite","id":1,"callee":2,"media":"audio"}"#);
    pump(&mut n1, &mut n2);
    // The caller's node dies: bob's device stops ringing.
    n2.input(Input::NodeGone { node: "n1".into() });
    assert_eq!(ended_reason(&n2, b), Some(proto::ws::EndReason::ConnectionLost));
    // The callee's node dies instead (seen from n1): nothing rings any more, the caller hears so.
    n1.input(Input::NodeGone { node: "n2".into() });
    assert_eq!(ended_reason(&n1, a), Some(proto::ws::EndReason::Unavailable));
    n1.hub.check_invariants().unwrap();
    n2.hub.check_invariants().unwrap();
}

fn file_end_reason(w: &World, conn: u64) -> Option<proto::ws::FileEndReason> {
    w.msgs(conn).iter().rev().find_map(|m| match m {
        ServerMessage::FileEnded { reason, .. } => Some(*reason),
        _ => None,
    })
}

#[test]
fn a_file_offered_to_devices_on_two_nodes_is_taken_on_one_and_its_signals_cross() {
    let (mut n1, mut n2) = (World::new(), World::new());
    let a = n1.connect(ALICE, &[BOB]);
    let b1 = n1.connect_session(BOB, 20, &[ALICE]);
    let b2 = n2.connect_session(BOB, 21, &[ALICE]);
    pump(&mut n1, &mut n2);
    n1.text(a, r#"{"type":"file_offer","id":1,"to":2,"name":"scan.pdf","size":1234,"mime":"application/pdf"}"#);
    pump(&mut n1, &mut n2);
    let incoming = |w: &World, c: u64| {
        w.msgs(c).iter().find_map(|m| match m {
            ServerMessage::FileIncoming { transfer_id, name, .. } => Some((*transfer_id, name.clone())),
            _ => None,
        })
    };
    let (t, name) = incoming(&n2, b2).expect("offered on node 2");
    assert_eq!((incoming(&n1, b1).map(|x| x.0), name.as_str()), (Some(t), "scan.pdf"));
    // Taken on node 2: node 1's device of bob stops showing it; the sender hears it.
    n2.text(b2, &format!(r#"{{"type":"file_accept","id":3,"transfer_id":{t}}}"#));
    pump(&mut n1, &mut n2);
    assert!(n2.msgs(b2).contains(&ServerMessage::Ok { id: 3 }), "{:?}", n2.msgs(b2));
    assert!(n1.msgs(a).iter().any(|m| matches!(m, ServerMessage::FileAccepted { .. })));
    assert_eq!(file_end_reason(&n1, b1), Some(proto::ws::FileEndReason::TakenElsewhere));
    // Signals both ways, then the receiver says it is complete.
    n1.text(a, &format!(r#"{{"type":"file_signal","transfer_id":{t},"data":{{"sdp":"offer"}}}}"#));
    n2.text(b2, &format!(r#"{{"type":"file_signal","transfer_id":{t},"data":{{"sdp":"answer"}}}}"#));
    pump(&mut n1, &mut n2);
    assert!(n2.msgs(b2).iter().any(|m| matches!(m, ServerMessage::FileSignal { data, .. } if data["sdp"] == "offer")));
    assert!(n1.msgs(a).iter().any(|m| matches!(m, ServerMessage::FileSignal { data, .. } if data["sdp"] == "answer")));
    n2.text(b2, &format!(r#"{{"type":"file_end","id":5,"transfer_id":{t},"reason":"completed"}}"#));
    pump(&mut n1, &mut n2);
    assert_eq!(file_end_reason(&n1, a), Some(proto::ws::FileEndReason::Completed));
    n1.hub.check_invariants().unwrap();
    n2.hub.check_invariants().unwrap();
}

#[test]
fn a_file_offer_held_by_a_node_that_dies_ends_for_the_devices_it_was_offered_to() {
    let (mut n1, mut n2) = (World::new(), World::new());
    let a = n1.connect(ALICE, &[BOB]);
    let b = n2.connect_session(BOB, 21, &[ALICE]);
    pump(&mut n1, &mut n2);
    n1.text(a, r#"{"type":"file_offer","id":1,"to":2,"name":"x.txt","size":10,"mime":"text/plain"}"#);
    pump(&mut n1, &mut n2);
    n2.input(Input::NodeGone { node: "n1".into() });
    assert_eq!(file_end_reason(&n2, b), Some(proto::ws::FileEndReason::ConnectionLost));
    // And seen from the sender's node: the only device it was offered to is gone.
    n1.input(Input::NodeGone { node: "n2".into() });
    assert_eq!(file_end_reason(&n1, a), Some(proto::ws::FileEndReason::Unavailable));
    n1.hub.check_invariants().unwrap();
    n2.hub.check_invariants().unwrap();
}

/// Alice's tab claims `call` (as its caller) back on `w`.
fn claim_as_caller(w: &mut World, conn: u64, call: u64) {
    w.text(
        conn,
        &format!(r#"{{"type":"call_rejoin","id":7,"call_id":{call},"peer":2,"role":"caller","media":"video"}}"#),
    );
}

#[test]
fn a_call_whose_holder_dies_is_claimed_back_when_the_caller_reconnects_to_a_third_node() {
    let (mut n1, mut n2, mut n3) = (World::new(), World::new(), World::new());
    let (_a, b, call) = call_across(&mut n1, &mut n2);
    pump_all(&mut [&mut n1, &mut n2, &mut n3]);
    // n1 dies (n2 and n3 stop hearing it). Bob's device on n2 waits for alice's claim.
    n2.input(Input::NodeGone { node: "n1".into() });
    n3.input(Input::NodeGone { node: "n1".into() });
    // Alice's tab reconnects to n3 and claims the call; the claims meet across n2 and n3 and
    // the call is re-established on n3, the caller's node, with bob's device as a proxy.
    let a3 = n3.connect_session(ALICE, 31, &[BOB]);
    pump_all(&mut [&mut n1, &mut n2, &mut n3]);
    claim_as_caller(&mut n3, a3, call);
    pump_all(&mut [&mut n1, &mut n2, &mut n3]);
    assert!(rejoined(&n3, a3, call), "{:?}", n3.msgs(a3));
    assert!(rejoined(&n2, b, call), "{:?}", n2.msgs(b));
    assert_eq!(n2.hub.presence_of(BOB), Presence::Busy);
    // The call works across n3 and n2, and its window passing ends nothing.
    n2.text(b, &format!(r#"{{"type":"call_signal","call_id":{call},"data":{{"ice":"y"}}}}"#));
    pump_all(&mut [&mut n1, &mut n2, &mut n3]);
    assert!(n3.msgs(a3).iter().any(|m| matches!(m, ServerMessage::CallSignal { data, .. } if data["ice"] == "y")));
    for _ in 0..=proto::ws::REJOIN_WINDOW_SECS / 5 {
        for (w, c) in [(&mut n2, b), (&mut n3, a3)] {
            w.advance(Duration::from_secs(5));
            w.input(Input::Activity { conn: c });
        }
        pump_all(&mut [&mut n1, &mut n2, &mut n3]);
    }
    assert_eq!(ended_reason(&n2, b), None);
    n3.text(a3, &format!(r#"{{"type":"call_hangup","id":8,"call_id":{call}}}"#));
    pump_all(&mut [&mut n1, &mut n2, &mut n3]);
    assert_eq!(ended_reason(&n2, b), Some(proto::ws::EndReason::Hangup));
    assert_eq!(n2.hub.presence_of(BOB), Presence::Online);
    for w in [&n2, &n3] {
        w.hub.check_invariants().unwrap();
    }
}

#[test]
fn claims_meet_on_a_third_node_whichever_comes_first() {
    let (mut n1, mut n2, mut n3) = (World::new(), World::new(), World::new());
    let (_a, b, call) = call_across(&mut n1, &mut n2);
    pump_all(&mut [&mut n1, &mut n2, &mut n3]);
    // Alice is back on n3 and claims before n2 has noticed n1 is gone.
    n3.input(Input::NodeGone { node: "n1".into() });
    let a3 = n3.connect_session(ALICE, 31, &[BOB]);
    pump_all(&mut [&mut n1, &mut n2, &mut n3]);
    claim_as_caller(&mut n3, a3, call);
    pump_all(&mut [&mut n1, &mut n2, &mut n3]);
    assert!(!rejoined(&n3, a3, call));
    // Then n2 notices: bob's side claims, and meets alice's claim on n3.
    n2.input(Input::NodeGone { node: "n1".into() });
    pump_all(&mut [&mut n1, &mut n2, &mut n3]);
    assert!(rejoined(&n3, a3, call) && rejoined(&n2, b, call));
    n2.hub.check_invariants().unwrap();
    n3.hub.check_invariants().unwrap();
}

#[test]
fn a_transfer_held_on_another_node_is_taken_over_by_the_receivers_new_device_and_by_nobody_else() {
    let (mut n1, mut n2) = (World::new(), World::new());
    let a = n1.connect(ALICE, &[BOB]);
    let b = n2.connect_session(BOB, 21, &[ALICE]);
    let m = n2.connect(3, &[]);
    pump(&mut n1, &mut n2);
    n1.text(a, r#"{"type":"file_offer","id":1,"to":2,"name":"big.iso","size":1000000,"mime":""}"#);
    pump(&mut n1, &mut n2);
    let t = n2
        .msgs(b)
        .iter()
        .find_map(|m| match m {
            ServerMessage::FileIncoming { transfer_id, .. } => Some(*transfer_id),
            _ => None,
        })
        .unwrap();
    n2.text(b, &format!(r#"{{"type":"file_accept","id":2,"transfer_id":{t}}}"#));
    pump(&mut n1, &mut n2);
    // Bob reloads the page: his device goes, the transfer waits for another of his devices.
    n2.input(Input::Closed { conn: b, clean: true });
    pump(&mut n1, &mut n2);
    assert_eq!(file_end_reason(&n1, a), None);
    // Mallory, on the same node, cannot take it.
    n2.text(m, &format!(r#"{{"type":"file_resume","id":3,"transfer_id":{t}}}"#));
    pump(&mut n1, &mut n2);
    assert!(n2.msgs(m).iter().any(|x| matches!(x, ServerMessage::Error { id: Some(3), .. })), "{:?}", n2.msgs(m));
    // Bob's new page takes it over, and the sender's signals reach it.
    let b2 = n2.connect_session(BOB, 22, &[ALICE]);
    n2.text(b2, &format!(r#"{{"type":"file_resume","id":4,"transfer_id":{t}}}"#));
    pump(&mut n1, &mut n2);
    assert!(n2.msgs(b2).contains(&ServerMessage::Ok { id: 4 }), "{:?}", n2.msgs(b2));
    n1.text(a, &format!(r#"{{"type":"file_signal","transfer_id":{t},"data":{{"resume_at":4096}}}}"#));
    pump(&mut n1, &mut n2);
    assert!(n2
        .msgs(b2)
        .iter()
        .any(|x| matches!(x, ServerMessage::FileSignal { data, .. } if data["resume_at"] == 4096)));
    n1.hub.check_invariants().unwrap();
    n2.hub.check_invariants().unwrap();
}
