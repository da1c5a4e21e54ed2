//! Person-to-person file offers: every device of the receiver is told, one takes it, the two
//! devices talk, either ends it; outsiders and garbage change nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on what they set up

mod common;

use std::time::Duration;

use common::World;
use hub::{HubConfig, Input};
use proto::ws::{FileEndReason, ServerMessage, WsErrorCode};

const ALICE: i64 = 1;
const BOB: i64 = 2;
const MALLORY: i64 = 66;

fn offer(w: &mut World, conn: u64, to: i64) {
    w.text(
        conn,
        &format!(
            r#"{{"type":"file_offer","id":1,"to":{to},"name":"report.pdf","size":1234,"mime":"application/pdf"}}"#
        ),
    );
}

fn ended(w: &World, conn: u64) -> Option<FileEndReason> {
    w.msgs(conn).iter().rev().find_map(|m| match m {
        ServerMessage::FileEnded { reason, .. } => Some(*reason),
        _ => None,
    })
}

fn transfer_id(w: &World, conn: u64) -> u64 {
    w.msgs(conn)
        .iter()
        .rev()
        .find_map(|m| match m {
            ServerMessage::FileIncoming { transfer_id, .. }
            | ServerMessage::FileOffered { transfer_id, .. }
            | ServerMessage::FileEnded { transfer_id, .. } => Some(*transfer_id),
            _ => None,
        })
        .expect("no transfer seen")
}

fn error_code(w: &World, conn: u64) -> Option<WsErrorCode> {
    match w.last(conn) {
        Some(ServerMessage::Error { code, .. }) => Some(*code),
        _ => None,
    }
}

#[test]
fn an_offer_reaches_every_device_and_is_taken_on_one() {
    let mut w = World::new();
    let a = w.connect(ALICE, &[BOB]);
    let b1 = w.connect(BOB, &[ALICE]);
    let b2 = w.connect(BOB, &[ALICE]);
    offer(&mut w, a, BOB);
    let t = transfer_id(&w, a);
    assert!(matches!(w.last(a), Some(ServerMessage::FileOffered { id: Some(1), to: BOB, .. })));
    for b in [b1, b2] {
        match w.last(b) {
            Some(ServerMessage::FileIncoming { transfer_id, from, name, size, mime, .. }) => {
                assert_eq!(
                    (*transfer_id, *from, name.as_str(), *size, mime.as_str()),
                    (t, ALICE, "report.pdf", 1234, "application/pdf")
                );
            }
            other => panic!("{other:?}"),
        }
    }
    // Nothing is relayed before someone takes it.
    w.text(a, &format!(r#"{{"type":"file_signal","id":2,"transfer_id":{t},"data":{{}}}}"#));
    assert_eq!(error_code(&w, a), Some(WsErrorCode::InvalidState));
    w.text(b2, &format!(r#"{{"type":"file_accept","id":3,"transfer_id":{t}}}"#));
    assert!(matches!(w.last(b2), Some(ServerMessage::Ok { id: 3 })));
    assert!(matches!(w.last(a), Some(ServerMessage::FileAccepted { transfer_id, .. }) if *transfer_id == t));
    assert_eq!(ended(&w, b1), Some(FileEndReason::TakenElsewhere));
    // The second device is out: it cannot take it any more, nor talk into it.
    w.text(b1, &format!(r#"{{"type":"file_accept","id":4,"transfer_id":{t}}}"#));
    assert_eq!(error_code(&w, b1), Some(WsErrorCode::NoSuchTransfer));
    w.text(b2, &format!(r#"{{"type":"file_accept","id":4,"transfer_id":{t}}}"#));
    assert_eq!(error_code(&w, b2), Some(WsErrorCode::InvalidState));
    // Negotiation flows between the two devices, both ways.
    w.clear();
    w.text(b2, &format!(r#"{{"type":"file_signal","transfer_id":{t},"data":{{"description":"offer"}}}}"#));
    assert!(matches!(w.last(a), Some(ServerMessage::FileSignal { data, .. }) if data["description"] == "offer"));
    w.text(a, &format!(r#"{{"type":"file_signal","transfer_id":{t},"data":{{"description":"answer"}}}}"#));
    assert!(matches!(w.last(b2), Some(ServerMessage::FileSignal { data, .. }) if data["description"] == "answer"));
    assert!(w.msgs(b1).is_empty());
    // The receiver reports the outcome; the sender is told; the transfer is gone.
    w.text(b2, &format!(r#"{{"type":"file_end","id":5,"transfer_id":{t},"reason":"completed"}}"#));
    assert_eq!(ended(&w, a), Some(FileEndReason::Completed));
    w.text(a, &format!(r#"{{"type":"file_end","id":6,"transfer_id":{t},"reason":"cancelled"}}"#));
    assert_eq!(error_code(&w, a), Some(WsErrorCode::NoSuchTransfer));
}

#[test]
fn decline_cancel_expiry_and_vanishing_devices_end_it_for_everyone() {
    let mut w = World::with(HubConfig { file_offer_timeout: Duration::from_secs(30), ..common::test_config() });
    let a = w.connect(ALICE, &[BOB]);
    let b1 = w.connect(BOB, &[ALICE]);
    let b2 = w.connect(BOB, &[ALICE]);
    // Declined on one device: the sender and the other device are told.
    offer(&mut w, a, BOB);
    let t = transfer_id(&w, a);
    w.text(b1, &format!(r#"{{"type":"file_decline","transfer_id":{t}}}"#));
    assert_eq!(ended(&w, a), Some(FileEndReason::Declined));
    assert_eq!(ended(&w, b2), Some(FileEndReason::Declined));
    // Cancelled by the sender before anyone answered.
    offer(&mut w, a, BOB);
    w.text(a, &format!(r#"{{"type":"file_end","transfer_id":{},"reason":"cancelled"}}"#, transfer_id(&w, a)));
    assert_eq!(ended(&w, b1), Some(FileEndReason::Cancelled));
    assert_eq!(ended(&w, b2), Some(FileEndReason::Cancelled));
    // A sender cannot claim an outcome for a file nobody took.
    offer(&mut w, a, BOB);
    let t = transfer_id(&w, a);
    w.text(a, &format!(r#"{{"type":"file_end","id":7,"transfer_id":{t},"reason":"completed"}}"#));
    assert_eq!(error_code(&w, a), Some(WsErrorCode::InvalidState));
    // Nobody answers: it expires.
    w.advance(Duration::from_secs(31));
    assert_eq!(ended(&w, a), Some(FileEndReason::Expired));
    assert_eq!(ended(&w, b1), Some(FileEndReason::Expired));
    // Cancelled mid-transfer by the receiver.
    offer(&mut w, a, BOB);
    let t = transfer_id(&w, a);
    w.text(b1, &format!(r#"{{"type":"file_accept","transfer_id":{t}}}"#));
    w.text(b1, &format!(r#"{{"type":"file_end","transfer_id":{t},"reason":"cancelled"}}"#));
    assert_eq!(ended(&w, a), Some(FileEndReason::Cancelled));
    // The sender's device vanishes mid-transfer (after the resume grace).
    offer(&mut w, a, BOB);
    let t = transfer_id(&w, a);
    w.text(b2, &format!(r#"{{"type":"file_accept","transfer_id":{t}}}"#));
    w.input(Input::Closed { conn: a, clean: false });
    w.advance(Duration::from_secs(11));
    assert_eq!(ended(&w, b2), Some(FileEndReason::ConnectionLost));
}

#[test]
fn a_device_that_resumes_in_time_keeps_its_transfer() {
    let mut w = World::new();
    let a = w.connect(ALICE, &[BOB]);
    let b = w.connect(BOB, &[ALICE]);
    offer(&mut w, a, BOB);
    let t = transfer_id(&w, a);
    w.text(b, &format!(r#"{{"type":"file_accept","transfer_id":{t}}}"#));
    let token = w.resume_token(b);
    w.input(Input::Closed { conn: b, clean: false });
    w.advance(Duration::from_secs(5));
    let b2 = w.open(BOB, BOB, &[ALICE]);
    w.text(b2, &format!(r#"{{"type":"hello","v":1,"resume":{{"token":"{token}","last_seq":0}}}}"#));
    w.clear();
    w.text(a, &format!(r#"{{"type":"file_signal","transfer_id":{t},"data":{{"resume":1}}}}"#));
    assert!(matches!(w.last(b2), Some(ServerMessage::FileSignal { .. })));
}

#[test]
fn offers_need_a_contact_who_is_online_and_sane_fields() {
    let mut w = World::new();
    let a = w.connect(ALICE, &[BOB]);
    let m = w.connect(MALLORY, &[]);
    offer(&mut w, a, BOB);
    assert_eq!(ended(&w, a), Some(FileEndReason::Unavailable), "bob has no device: send it as an attachment");
    offer(&mut w, m, ALICE);
    assert_eq!(ended(&w, m), Some(FileEndReason::NotAllowed), "not a contact");
    offer(&mut w, a, ALICE);
    assert_eq!(ended(&w, a), Some(FileEndReason::NotAllowed), "not to oneself");
    let _b = w.connect(BOB, &[ALICE]);
    let long = "x".repeat(1025);
    for (frame, code) in [
        (format!(r#"{{"type":"file_offer","id":9,"to":{BOB},"name":"{long}","size":1}}"#), WsErrorCode::TooLarge),
        (format!(r#"{{"type":"file_offer","id":9,"to":{BOB},"name":"","size":1}}"#), WsErrorCode::TooLarge),
        (
            format!(r#"{{"type":"file_offer","id":9,"to":{BOB},"name":"x","size":9007199254740993}}"#),
            WsErrorCode::TooLarge,
        ),
        (format!(r#"{{"type":"file_offer","id":9,"to":{BOB},"name":"x","size":-1}}"#), WsErrorCode::BadMessage),
        (format!(r#"{{"type":"file_offer","id":9,"to":{BOB},"name":"x"}}"#), WsErrorCode::BadMessage),
        (r#"{"type":"file_end","id":9,"transfer_id":1,"reason":"declined"}"#.to_owned(), WsErrorCode::BadMessage),
        (r#"{"type":"file_accept","id":9,"transfer_id":424242}"#.to_owned(), WsErrorCode::NoSuchTransfer),
    ] {
        w.text(a, &frame);
        assert_eq!(error_code(&w, a), Some(code), "{frame}");
    }
    // An outsider cannot take, end or talk into someone else's transfer.
    offer(&mut w, a, BOB);
    let t = transfer_id(&w, a);
    for req in [
        format!(r#"{{"type":"file_accept","id":5,"transfer_id":{t}}}"#),
        format!(r#"{{"type":"file_decline","id":5,"transfer_id":{t}}}"#),
        format!(r#"{{"type":"file_end","id":5,"transfer_id":{t},"reason":"cancelled"}}"#),
        format!(r#"{{"type":"file_signal","id":5,"transfer_id":{t},"data":{{}}}}"#),
    ] {
        w.text(m, &req);
        assert_eq!(error_code(&w, m), Some(WsErrorCode::NoSuchTransfer), "{req}");
    }
    // One device may not flood offers.
    let mut refused = 0;
    for _ in 0..70 {
        offer(&mut w, a, BOB);
        if error_code(&w, a) == Some(WsErrorCode::RateLimited) {
            refused += 1;
        }
    }
    assert!(refused > 0);
}

#[test]
fn a_reloaded_receiver_takes_its_transfer_over_from_a_new_device() {
    let mut w = World::with(HubConfig { file_resume_grace: Duration::from_secs(30), ..common::test_config() });
    let a = w.connect(ALICE, &[BOB]);
    let b = w.connect(BOB, &[ALICE]);
    let m = w.connect(MALLORY, &[ALICE, BOB]);
    offer(&mut w, a, BOB);
    let t = transfer_id(&w, a);
    w.text(b, &format!(r#"{{"type":"file_accept","transfer_id":{t}}}"#));
    // Bob reloads the page: his device ends at once (a clean close), the transfer waits.
    w.input(Input::Closed { conn: b, clean: true });
    assert_eq!(ended(&w, a), None, "the sender is not told: it waits for a new connection");
    let b2 = w.connect(BOB, &[ALICE]);
    // Nobody else may take it; the new device of the receiver may, once.
    w.text(m, &format!(r#"{{"type":"file_resume","id":1,"transfer_id":{t}}}"#));
    assert_eq!(error_code(&w, m), Some(WsErrorCode::NoSuchTransfer));
    w.text(a, &format!(r#"{{"type":"file_resume","id":1,"transfer_id":{t}}}"#));
    assert_eq!(error_code(&w, a), Some(WsErrorCode::NoSuchTransfer), "not the sender either");
    w.text(b2, &format!(r#"{{"type":"file_resume","id":2,"transfer_id":{t}}}"#));
    assert!(matches!(w.last(b2), Some(ServerMessage::Ok { id: 2 })));
    w.text(b2, &format!(r#"{{"type":"file_resume","id":3,"transfer_id":{t}}}"#));
    assert_eq!(error_code(&w, b2), Some(WsErrorCode::InvalidState));
    w.clear();
    w.text(b2, &format!(r#"{{"type":"file_signal","transfer_id":{t},"data":{{"description":"offer"}}}}"#));
    assert!(matches!(w.last(a), Some(ServerMessage::FileSignal { .. })));

    // If no device comes back in time, the sender is told.
    w.input(Input::Closed { conn: b2, clean: true });
    w.advance(Duration::from_secs(29));
    assert_eq!(ended(&w, a), None);
    w.advance(Duration::from_secs(2));
    assert_eq!(ended(&w, a), Some(FileEndReason::ConnectionLost));
}
