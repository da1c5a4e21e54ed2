//! Calls re-established after a server restart: both sides must claim the same call.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on what they set up

mod common;

use std::time::Duration;

use common::World;
use proto::ws::{EndReason, ServerMessage, WsErrorCode};

const ALICE: i64 = 1;
const BOB: i64 = 2;
const MALLORY: i64 = 66;
/// Ids below this were handed out by the run before the restart.
const FIRST: u64 = 1_000;

fn restarted() -> World {
    World::with(hub::HubConfig { first_call_id: FIRST, ..common::test_config() })
}

fn claim(w: &mut World, conn: u64, call: u64, peer: i64, role: &str) {
    w.text(
        conn,
        &format!(r#"{{"type":"call_rejoin","id":9,"call_id":{call},"peer":{peer},"role":"{role}","media":"video"}}"#),
    );
}

fn rejoined(w: &World, conn: u64) -> bool {
    w.msgs(conn).iter().any(|m| matches!(m, ServerMessage::CallRejoined { call_id: 7, .. }))
}

fn ended(w: &World, conn: u64) -> Option<EndReason> {
    w.msgs(conn).iter().rev().find_map(|m| match m {
        ServerMessage::CallEnded { reason, .. } => Some(*reason),
        _ => None,
    })
}

fn error(w: &World, conn: u64) -> Option<WsErrorCode> {
    match w.last(conn) {
        Some(ServerMessage::Error { code, .. }) => Some(*code),
        _ => None,
    }
}

/// Lets `secs` pass while the sockets keep talking (as their keepalive does).
fn wait(w: &mut World, conns: &[u64], secs: u64) {
    for _ in 0..secs {
        w.advance(Duration::from_secs(1));
        for c in conns {
            w.input(hub::Input::Activity { conn: *c });
        }
    }
}

fn check(w: &World) {
    w.hub.check_invariants().unwrap();
}

#[test]
fn two_matching_claims_bring_the_call_back_and_hang_up_works_again() {
    let mut w = restarted();
    let a = w.connect(ALICE, &[BOB]);
    let b = w.connect(BOB, &[ALICE]);
    claim(&mut w, a, 7, BOB, "caller");
    assert!(matches!(w.last(a), Some(ServerMessage::Ok { id: 9 })), "waiting for bob");
    assert!(!rejoined(&w, a));
    claim(&mut w, b, 7, ALICE, "callee");
    assert!(rejoined(&w, a) && rejoined(&w, b));
    check(&w);
    // Signals flow again, and a hang-up reaches the other side and is recorded.
    w.text(a, r#"{"type":"call_signal","call_id":7,"data":{"candidate":"x"}}"#);
    assert!(matches!(w.last(b), Some(ServerMessage::CallSignal { call_id: 7, .. })));
    w.text(b, r#"{"type":"call_hangup","call_id":7}"#);
    assert_eq!(ended(&w, a), Some(EndReason::Hangup));
    assert_eq!(w.records.len(), 1);
    assert!(w.records[0].answered && w.records[0].caller == ALICE && w.records[0].callee == BOB);
    check(&w);
}

#[test]
fn a_claim_nobody_matches_ends_after_the_window() {
    let mut w = restarted();
    let a = w.connect(ALICE, &[BOB]);
    let b = w.connect(BOB, &[ALICE]);
    claim(&mut w, a, 7, BOB, "caller");
    wait(&mut w, &[a, b], proto::ws::REJOIN_WINDOW_SECS - 1);
    assert_eq!(ended(&w, a), None);
    wait(&mut w, &[a, b], 2);
    assert_eq!(ended(&w, a), Some(EndReason::ConnectionLost));
    assert!(w.records.is_empty());
    check(&w);
}

#[test]
fn claims_that_do_not_agree_make_no_call() {
    let mut w = restarted();
    let a = w.connect(ALICE, &[BOB, MALLORY]);
    let b = w.connect(BOB, &[ALICE, MALLORY]);
    let m = w.connect(MALLORY, &[ALICE, BOB]);
    // Same role on both sides, or other media: no call.
    claim(&mut w, a, 7, BOB, "caller");
    claim(&mut w, b, 7, ALICE, "caller");
    assert!(!rejoined(&w, a) && !rejoined(&w, b));
    // Mallory names bob for call 7; bob names alice; alice named bob: alice and bob meet,
    // mallory is in nothing.
    claim(&mut w, m, 7, BOB, "callee");
    claim(&mut w, b, 7, ALICE, "callee");
    assert!(rejoined(&w, a) && rejoined(&w, b));
    assert!(!rejoined(&w, m));
    wait(&mut w, &[a, b, m], proto::ws::REJOIN_WINDOW_SECS + 1);
    assert_eq!(ended(&w, m), Some(EndReason::ConnectionLost));
    assert_eq!(ended(&w, a), None, "the real call goes on");
    check(&w);
}

#[test]
fn calls_of_this_run_strangers_and_busy_devices_cannot_be_claimed() {
    let mut w = restarted();
    let a = w.connect(ALICE, &[BOB]);
    let m = w.connect(MALLORY, &[]);
    claim(&mut w, a, FIRST, BOB, "caller");
    assert_eq!(error(&w, a), Some(WsErrorCode::NoSuchCall), "an id of this run");
    claim(&mut w, m, 7, ALICE, "caller");
    assert_eq!(error(&w, m), Some(WsErrorCode::NotAllowed), "not a contact");
    claim(&mut w, a, 7, ALICE, "caller");
    assert_eq!(error(&w, a), Some(WsErrorCode::NotAllowed), "oneself");
    check(&w);
}

#[test]
fn a_device_that_leaves_withdraws_its_claim() {
    let mut w = restarted();
    let a = w.connect(ALICE, &[BOB]);
    let b = w.connect(BOB, &[ALICE]);
    claim(&mut w, a, 7, BOB, "caller");
    w.input(hub::Input::Closed { conn: a, clean: true });
    claim(&mut w, b, 7, ALICE, "callee");
    assert!(!rejoined(&w, b), "alice's device is gone");
    check(&w);
}
