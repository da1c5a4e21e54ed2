//! Presence over the nodes of a cluster: this hub's devices and what other nodes say.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on what they set up

mod common;

use common::World;
use hub::Input;
use proto::ws::{Presence, ServerMessage};

const ALICE: i64 = 1;
const BOB: i64 = 2;

fn presence_updates(w: &World, conn: u64) -> Vec<(i64, Presence)> {
    w.msgs(conn)
        .iter()
        .filter_map(|m| match m {
            ServerMessage::Presence { user, status, .. } => Some((*user, *status)),
            _ => None,
        })
        .collect()
}

fn remote(w: &mut World, node: &str, user: i64, status: Presence) {
    w.input(Input::RemotePresence { node: node.into(), user, status });
}

#[test]
fn a_contact_on_another_node_shows_here_and_goes_when_its_node_does() {
    let mut w = World::new();
    let a = w.connect(ALICE, &[BOB]);
    assert_eq!(w.published, vec![(ALICE, Presence::Online)], "alice's own presence is published");
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
    assert_eq!(w.published.last(), Some(&(BOB, Presence::Offline)));
    // Then n2's list no longer has him: offline.
    w.input(Input::NodeState { node: "n2".into(), users: vec![(ALICE, Presence::Online)] });
    assert_eq!(presence_updates(&w, a).last(), Some(&(BOB, Presence::Offline)));
    // bob back on this node: online again, published again.
    let _b = w.connect_session(BOB, 21, &[ALICE]);
    assert_eq!(presence_updates(&w, a).last(), Some(&(BOB, Presence::Online)));
    assert_eq!(w.published.last(), Some(&(BOB, Presence::Online)));
    assert_eq!(w.hub.local_presence(), vec![(ALICE, Presence::Online), (BOB, Presence::Online)]);
}

#[test]
fn strangers_on_other_nodes_are_shown_to_nobody() {
    let mut w = World::new();
    let a = w.connect(ALICE, &[]);
    remote(&mut w, "n2", BOB, Presence::Online);
    assert!(presence_updates(&w, a).is_empty());
    w.hub.check_invariants().unwrap();
}
