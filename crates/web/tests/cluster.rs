//! Two nodes on one PostgreSQL database, joined by a real NATS server: users connected to
//! different nodes see each other's presence, chat with receipts and typing, a session ended
//! on one node closes its socket on the other, the bus survives a NATS restart, and a node
//! that goes away takes its users' presence with it; a group call with members on both nodes
//! runs on one of them, and starts again on the other when its node goes away.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on what they set up

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

fn node_config(name: &str, nats: &str) -> impl FnOnce(&mut web::WebConfig) + Send + 'static {
    node_config_with(name, nats, None)
}

fn node_config_with(
    name: &str,
    nats: &str,
    ca_file: Option<std::path::PathBuf>,
) -> impl FnOnce(&mut web::WebConfig) + Send + 'static {
    let cluster = web::cluster::ClusterConfig {
        nats_url: nats.to_owned(),
        node: name.to_owned(),
        credentials_file: None,
        ca_file,
        prefix: "test".into(),
    };
    move |cfg: &mut web::WebConfig| {
        cfg.cluster = Some(cluster);
        with_sfu(cfg);
    }
}

async fn node(name: &str, db: &str, nats: &str) -> TestServer {
    node_with(db, node_config(name, nats)).await
}

async fn node_with(db: &str, tweak: impl FnOnce(&mut web::WebConfig) + Send + 'static) -> TestServer {
    let url = db.to_owned();
    let store = tokio::task::spawn_blocking(move || {
        store::PgStore::connect_postgres(&store::PgOptions { url, ca_file: None, pool_size: 4 }).unwrap()
    })
    .await
    .unwrap();
    start_killable(tempfile::tempdir().unwrap(), Arc::new(store), tweak).await
}

/// A NATS server of its own and two nodes on a fresh database of the shared PostgreSQL.
async fn two_nodes() -> (testkit::nats::Nats, TestServer, TestServer) {
    let nats = tokio::task::spawn_blocking(|| testkit::nats::Nats::start().unwrap()).await.unwrap();
    let db = testkit::postgres::shared().unwrap().fresh_database().unwrap();
    let n1 = node("n1", &db, &nats.url()).await;
    let n2 = node("n2", &db, &nats.url()).await;
    (nats, n1, n2)
}

/// Waits until `ws` has been told that `user` shows `status` (in its welcome, or later).
async fn until_presence(ws: &mut testkit::ws::Ws, welcome: &Value, user: i64, status: &str) {
    let listed =
        welcome["presence"].as_array().into_iter().flatten().any(|p| p["user"] == user && p["status"] == status);
    if listed {
        return;
    }
    loop {
        let v = ws.expect("presence").await;
        if v["user"] == user && v["status"] == status {
            return;
        }
    }
}

async fn client_on(server: &TestServer, name: &str) -> Client {
    let mut c = server.client();
    assert_eq!(c.login(name, PASSWORD).await.0, 200);
    c
}

async fn ws_of(c: &Client) -> (testkit::ws::Ws, Value) {
    let mut w = testkit::ws::connect(&c.base, c.cookie.as_deref(), Some(&c.base)).await.unwrap();
    let welcome = w.hello().await;
    (w, welcome)
}

/// Two friends, `a` signed in through node `na` and `b` through `nb`, each with a socket;
/// `a`'s socket has seen `b` online, so `b`'s device is known on `a`'s node.
struct Friends {
    b: Client,
    wa: testkit::ws::Ws,
    wb: testkit::ws::Ws,
}

async fn friends_across(na: &TestServer, a: &str, nb: &TestServer, b: &str) -> Friends {
    na.add_user(a, false);
    na.add_user(b, false);
    let (a, b) = (client_on(na, a).await, client_on(nb, b).await);
    befriend(&a, &b).await;
    let (mut wa, welcome) = ws_of(&a).await;
    let (wb, _) = ws_of(&b).await;
    until_presence(&mut wa, &welcome, b.id, "online").await;
    Friends { b, wa, wb }
}

#[tokio::test]
async fn users_on_two_nodes_see_and_write_each_other_as_on_one() {
    let (mut nats, n1, n2) = two_nodes().await;
    n1.add_user("alice", false);
    n1.add_user("bob", false);
    let alice = client_on(&n1, "alice").await;
    let bob = client_on(&n2, "bob").await;
    befriend(&alice, &bob).await;
    let (st, conv) = alice.call("POST", "/api/v1/conversations", Some(json!({"kind": "direct", "user": bob.id}))).await;
    assert_eq!(st, 201);
    let conv = conv["id"].as_i64().unwrap();

    let (mut wa, welcome_a) = ws_of(&alice).await;
    let (mut wb, welcome_b) = ws_of(&bob).await;
    until_presence(&mut wa, &welcome_a, bob.id, "online").await;
    until_presence(&mut wb, &welcome_b, alice.id, "online").await;

    // Chat from node 1 reaches node 2; the receipt and typing come back.
    wa.send(json!({"type": "chat_send", "id": 1, "conv": conv, "client_id": "c1", "text": "hello from n1"})).await;
    let seq = wa.expect("chat_ack").await["message"]["seq"].as_i64().unwrap();
    let m = wb.expect("chat_message").await;
    assert_eq!(m["message"]["text"], "hello from n1");
    wb.send(json!({"type": "chat_receipt", "id": 7, "conv": conv, "read": seq})).await;
    let r = wa.expect("chat_receipt").await;
    assert_eq!((r["user"].as_i64(), r["read_seq"].as_i64()), (Some(bob.id), Some(seq)));
    wb.send(json!({"type": "chat_typing", "conv": conv})).await;
    assert_eq!(wa.expect("chat_typing").await["user"], bob.id);

    // Both nodes in the cluster's list.
    let cfg = web::cluster::ClusterConfig {
        nats_url: nats.url(),
        node: "status".into(),
        credentials_file: None,
        ca_file: None,
        prefix: "test".into(),
    };
    let nodes = web::cluster::cluster_status(&cfg, Duration::from_secs(5)).await.unwrap();
    let names: Vec<&str> = nodes.iter().map(|n| n.node.as_str()).collect();
    assert_eq!(names, ["n1", "n2"]);
    assert!(nodes.iter().all(|n| n.load.connections >= 1), "{nodes:?}");

    // Each node's metrics show the other node and a connected bus (published every 2 s).
    let mut seen = false;
    for _ in 0..50 {
        let text = n1.metrics.render();
        if text.contains("mywebrtc_cluster_nodes 1") && text.contains("mywebrtc_cluster_bus_connected 1") {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(seen, "{}", n1.metrics.render());

    // NATS restarts under both nodes: the bus comes back by itself.
    let _nats = tokio::task::spawn_blocking(move || {
        nats.stop();
        nats.start_again().unwrap();
        nats
    })
    .await
    .unwrap();
    wa.send(json!({"type": "chat_send", "id": 2, "conv": conv, "client_id": "c2", "text": "after the restart"})).await;
    wa.expect("chat_ack").await;
    let mut got = None;
    for _ in 0..6 {
        // Bounded: a message sent while the client reconnected is delivered once it has.
        if let Some(v) = wb.recv().await {
            if v["type"] == "chat_message" {
                got = Some(v);
                break;
            }
        }
    }
    let got = got.expect("the message after the NATS restart reached node 2");
    assert_eq!(got["message"]["text"], "after the restart");

    // Password guessing spread over the nodes meets one backoff: five free failures on node 1,
    // then node 2 refuses the account within fewer tries than its own five free ones.
    let guess = |server: &TestServer| {
        let c = server.client();
        async move {
            let r = c.req("POST", "/api/v1/session").json(&json!({"username": "alice", "password": "wrong guess"}));
            send(r).await.0
        }
    };
    for _ in 0..5 {
        assert_eq!(guess(&n1).await, 401);
    }
    let mut refused = false;
    for _ in 0..4 {
        match guess(&n2).await {
            429 => {
                refused = true;
                break;
            }
            st => assert_eq!(st, 401),
        }
    }
    assert!(refused, "node 2 knew of node 1's failures");

    // Alice signs out through node 2 (her session works on every node; behind a load balancer
    // both have the same origin, here each its own): her socket on node 1 closes.
    let resp = alice
        .http
        .delete(format!("{}/api/v1/session", n2.url))
        .header("origin", &n2.url)
        .header("x-csrf-token", alice.csrf.clone().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert!(wa.close_code().await.is_some(), "alice's socket on node 1 was closed");

    // Bob leaves node 2 for good: node 1 tells nobody (alice is gone) but forgets him.
    drop(wb);
    drop(n2);
    drop(n1);
}

#[tokio::test]
async fn a_node_that_goes_away_takes_its_users_presence_with_it() {
    let (nats, n1, mut n2) = two_nodes().await;
    let Friends { b: dave, wa: mut wc, wb: _wd, .. } = friends_across(&n1, "carol", &n2, "dave").await;
    // Node 2 stops without a word (killed): node 1 stops hearing it and, after the node
    // timeout, shows dave offline.
    n2.kill();
    let offline = wc
        .wait_for(Duration::from_secs(30), |v| v["type"] == "presence" && v["user"] == dave.id)
        .await
        .is_some_and(|v| v["status"] == "offline");
    assert!(offline, "dave shown offline once his node went away");
    drop(nats);
}

#[tokio::test]
async fn a_call_from_one_node_rings_and_connects_a_device_on_the_other() {
    let (_nats, n1, n2) = two_nodes().await;
    // Frank's device on node 2 must be known on node 1 before it can ring there.
    let Friends { b: frank, wa: mut we, wb: mut wf, .. } = friends_across(&n1, "erin", &n2, "frank").await;

    we.send(json!({"type": "call_invite", "id": 1, "callee": frank.id, "media": "video"})).await;
    let call = we.expect("call_ringing").await["call_id"].as_u64().unwrap();
    assert_eq!(wf.expect("call_incoming").await["call_id"].as_u64(), Some(call));
    we.send(json!({"type": "call_signal", "call_id": call, "data": {"sdp": "offer"}})).await;
    wf.send(json!({"type": "call_accept", "id": 2, "call_id": call})).await;
    we.expect("call_accepted").await;
    assert_eq!(wf.expect("call_signal").await["data"]["sdp"], "offer");
    wf.send(json!({"type": "call_signal", "call_id": call, "data": {"sdp": "answer"}})).await;
    assert_eq!(we.expect("call_signal").await["data"]["sdp"], "answer");
    we.send(json!({"type": "call_hangup", "id": 3, "call_id": call})).await;
    assert_eq!(wf.expect("call_ended").await["reason"], "hangup");
    // The call is in the callee's history, read through the other node (one database; the
    // record is written just after the hang-up, so look a few times).
    let mut listed = Value::Null;
    for _ in 0..50 {
        let (st, calls) = frank.call("GET", "/api/v1/calls", None).await;
        assert_eq!(st, 200);
        if calls.as_array().is_some_and(|c| !c.is_empty()) {
            listed = calls;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(listed[0]["answered"], true, "{listed}");
    assert_eq!(listed[0]["other"]["username"], "erin");
}

/// The next message of type `ty`, waiting longer than a node takes to be found gone.
async fn next_of(ws: &mut testkit::ws::Ws, ty: &str) -> Value {
    ws.wait_for(Duration::from_secs(30), |v| v["type"] == ty).await.unwrap_or_else(|| panic!("no {ty}"))
}

#[tokio::test]
async fn a_group_call_with_members_on_two_nodes_runs_on_one_and_moves_when_it_dies() {
    group_call_on_two_nodes_moves_when_its_node_goes(Departure::Killed).await;
}

#[tokio::test]
async fn a_group_call_on_a_node_shut_down_moves_as_the_node_says_it_leaves() {
    group_call_on_two_nodes_moves_when_its_node_goes(Departure::ShutDown).await;
}

/// How a node goes away.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Departure {
    /// As in a crash: the others find it gone when it has been silent for the node timeout.
    Killed,
    /// Gracefully (SIGTERM): it says it is leaving and its heartbeat stops. (In this test
    /// process its hub and bus go on running: only that tells the others it is gone.)
    ShutDown,
}

async fn group_call_on_two_nodes_moves_when_its_node_goes(departure: Departure) {
    let (_nats, n1, mut n2) = two_nodes().await;
    for name in ["gina", "hank", "iris"] {
        n1.add_user(name, false);
    }
    let gina = client_on(&n1, "gina").await;
    let hank = client_on(&n2, "hank").await;
    let iris = client_on(&n2, "iris").await;
    befriend(&gina, &hank).await;
    befriend(&gina, &iris).await;
    let (st, conv) = gina
        .call(
            "POST",
            "/api/v1/conversations",
            Some(json!({"kind": "group", "name": "Ward", "members": [hank.id, iris.id]})),
        )
        .await;
    assert_eq!(st, 201);
    let conv = conv["id"].as_i64().unwrap();
    let (mut wg, welcome_g) = ws_of(&gina).await;
    let (mut wh, _) = ws_of(&hank).await;
    let (mut wi, _) = ws_of(&iris).await;
    // The call is placed on node 2 (as if it were the least loaded), though gina, who
    // starts it, is connected to node 1.
    let s = n1.store.clone();
    tokio::task::spawn_blocking(move || s.claim_room(conv, "n2", None, web::unix_now()).unwrap()).await.unwrap();
    // Node 1 must have heard of node 2 to send anything there (hank's presence is news from it).
    until_presence(&mut wg, &welcome_g, hank.id, "online").await;

    wg.send(json!({"type": "room_join", "id": 1, "conv": conv})).await;
    let w = next_of(&mut wg, "room_welcome").await;
    assert_eq!((w["id"].as_u64(), w["starter"].as_i64()), (Some(1), Some(gina.id)));
    // Members on both nodes hear it started (and ring).
    let running = next_of(&mut wh, "room_running").await;
    assert_eq!((running["users"].clone(), running["started"].clone()), (json!([gina.id]), json!(true)));
    next_of(&mut wi, "room_running").await;
    // Iris declines on node 2: her ring ends there.
    wi.send(json!({"type": "room_decline", "id": 2, "conv": conv})).await;
    assert_eq!(next_of(&mut wi, "room_ring_ended").await["reason"], "declined");
    // Hank joins on node 2: the same room, with gina in it; gina is told.
    wh.send(json!({"type": "room_join", "id": 3, "conv": conv})).await;
    let w = next_of(&mut wh, "room_welcome").await;
    let members: Vec<i64> = w["members"].as_array().unwrap().iter().map(|m| m["user"].as_i64().unwrap()).collect();
    assert_eq!(members, vec![gina.id], "{w}");
    assert_eq!(next_of(&mut wg, "room_joined").await["member"]["user"], hank.id);
    // Either node answers who is in the call.
    for c in [&gina, &iris] {
        let mut seen = Value::Null;
        for _ in 0..50 {
            let (_, list) = c.call("GET", &format!("/api/v1/conversations/{conv}"), None).await;
            seen = list["call"].clone();
            if seen.as_array().is_some_and(|a| a.len() == 2) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(seen.as_array().map(Vec::len), Some(2), "{seen}");
    }
    // Gina's state reaches the room on node 2 and comes back to hank.
    wg.send(json!({"type": "room_state", "conv": conv, "muted": true, "camera_off": false, "hand": true})).await;
    let st = next_of(&mut wh, "room_member_state").await;
    assert_eq!((st["muted"].clone(), st["hand"].clone()), (json!(true), json!(true)));
    // Hank is taken out of the conversation through node 1: out of the call on node 2.
    let (st, _) = gina.call("DELETE", &format!("/api/v1/conversations/{conv}/members/{}", hank.id), None).await;
    assert_eq!(st, 204);
    assert_eq!(next_of(&mut wh, "room_removed").await["reason"], "removed");
    assert!(next_of(&mut wg, "room_left").await["participant"].is_u64());

    // Node 2 goes: gina's call there is lost; her client joins again, on node 1 now.
    match departure {
        Departure::Killed => n2.kill(),
        Departure::ShutDown => n2.shutdown(),
    }
    assert_eq!(next_of(&mut wg, "room_removed").await["reason"], "media_lost");
    wg.send(json!({"type": "room_join", "id": 4, "conv": conv, "rejoin": true})).await;
    let w = next_of(&mut wg, "room_welcome").await;
    assert_eq!(w["id"].as_u64(), Some(4));
    let s = n1.store.clone();
    let holder = tokio::task::spawn_blocking(move || s.room_node(conv).unwrap()).await.unwrap();
    assert_eq!(holder.as_deref(), Some("n1"));
}

#[tokio::test]
async fn a_file_offered_from_one_node_is_accepted_on_the_other_and_its_signals_cross() {
    let (_nats, n1, n2) = two_nodes().await;
    let Friends { b: mike, wa: mut wl, wb: mut wm, .. } = friends_across(&n1, "lena", &n2, "mike").await;
    wl.send(json!({"type": "file_offer", "id": 1, "to": mike.id, "name": "scan.pdf", "size": 4096, "mime": "application/pdf"}))
        .await;
    let t = next_of(&mut wm, "file_incoming").await;
    assert_eq!(t["name"], "scan.pdf");
    let t = t["transfer_id"].as_u64().unwrap();
    wm.send(json!({"type": "file_accept", "id": 2, "transfer_id": t})).await;
    next_of(&mut wl, "file_accepted").await;
    wl.send(json!({"type": "file_signal", "transfer_id": t, "data": {"sdp": "offer"}})).await;
    assert_eq!(next_of(&mut wm, "file_signal").await["data"]["sdp"], "offer");
    wm.send(json!({"type": "file_end", "id": 3, "transfer_id": t, "reason": "completed"})).await;
    assert_eq!(next_of(&mut wl, "file_ended").await["reason"], "completed");
}

#[tokio::test]
async fn three_nodes_one_group_call_with_a_participant_arriving_through_each() {
    let nats = tokio::task::spawn_blocking(|| testkit::nats::Nats::start().unwrap()).await.unwrap();
    let db = testkit::postgres::shared().unwrap().fresh_database().unwrap();
    let nodes =
        [node("n1", &db, &nats.url()).await, node("n2", &db, &nats.url()).await, node("n3", &db, &nats.url()).await];
    for name in ["nora", "omar", "pia"] {
        nodes[0].add_user(name, false);
    }
    let nora = client_on(&nodes[0], "nora").await;
    let omar = client_on(&nodes[1], "omar").await;
    let pia = client_on(&nodes[2], "pia").await;
    befriend(&nora, &omar).await;
    befriend(&nora, &pia).await;
    let (st, conv) = nora
        .call(
            "POST",
            "/api/v1/conversations",
            Some(json!({"kind": "group", "name": "Three", "members": [omar.id, pia.id]})),
        )
        .await;
    assert_eq!(st, 201);
    let conv = conv["id"].as_i64().unwrap();
    let (mut wn, welcome_n) = ws_of(&nora).await;
    let (mut wo, _) = ws_of(&omar).await;
    let (mut wp, _) = ws_of(&pia).await;
    // Node 1 hears both others (their users' presence).
    until_presence(&mut wn, &welcome_n, omar.id, "online").await;
    until_presence(&mut wn, &welcome_n, pia.id, "online").await;
    let mut participants = Vec::new();
    for (i, ws) in [&mut wn, &mut wo, &mut wp].into_iter().enumerate() {
        ws.send(json!({"type": "room_join", "id": 10 + i, "conv": conv})).await;
        let w = next_of(ws, "room_welcome").await;
        // Everyone who joined before is in the welcome: one call, wherever it runs.
        let before: Vec<u64> =
            w["members"].as_array().unwrap().iter().map(|m| m["participant"].as_u64().unwrap()).collect();
        assert_eq!(before, participants, "{w}");
        participants.push(w["participant"].as_u64().unwrap());
    }
    // The first two hear the third arrive.
    for ws in [&mut wn, &mut wo] {
        loop {
            let j = next_of(ws, "room_joined").await;
            if j["member"]["participant"].as_u64() == participants.last().copied() {
                break;
            }
        }
    }
    // One node holds it; the store says which, and it is one of the three.
    let s = nodes[0].store.clone();
    let holder = tokio::task::spawn_blocking(move || s.room_node(conv).unwrap()).await.unwrap();
    assert!(matches!(holder.as_deref(), Some("n1" | "n2" | "n3")), "{holder:?}");
}

#[tokio::test]
async fn nodes_join_a_bus_that_wants_tls_and_a_password_and_a_wrong_password_stays_out() {
    let nats = tokio::task::spawn_blocking(|| testkit::nats::Nats::start_secure().unwrap()).await.unwrap();
    let sec = nats.secure().unwrap();
    let url = |password: &str| format!("tls://{}:{password}@127.0.0.1:{}", sec.user, nats.port);
    let db = testkit::postgres::shared().unwrap().fresh_database().unwrap();
    let ca = Some(sec.ca_file.clone());
    // Without the CA, or with a wrong password: refused, with a clear error.
    let probe = |password: &str, ca_file: Option<std::path::PathBuf>| web::cluster::ClusterConfig {
        nats_url: url(password),
        node: "probe".into(),
        credentials_file: None,
        ca_file,
        prefix: "test".into(),
    };
    let wrong = web::cluster::cluster_status(&probe("wrong", ca.clone()), Duration::from_secs(1)).await.unwrap_err();
    assert!(wrong.contains("authorization"), "{wrong}");
    let untrusted =
        web::cluster::cluster_status(&probe(&sec.password, None), Duration::from_secs(1)).await.unwrap_err();
    assert!(!untrusted.contains(&sec.password), "{untrusted}");
    let n1 = node_with(&db, node_config_with("n1", &url(&sec.password), ca.clone())).await;
    let n2 = node_with(&db, node_config_with("n2", &url(&sec.password), ca.clone())).await;
    let n3 = node_with(&db, node_config_with("n3", &url("wrong"), ca)).await;
    // Over TLS with the password: the two nodes hear each other.
    let Friends { wa: _wq, wb: _wr, .. } = friends_across(&n1, "quinn", &n2, "rosa").await;
    // Node 1 hears exactly one other node, and node 3 (refused) none, connected to nothing.
    let mut settled = false;
    for _ in 0..50 {
        let (t1, t3) = (n1.metrics.render(), n3.metrics.render());
        if t1.contains("mywebrtc_cluster_nodes 1") && t3.contains("mywebrtc_cluster_bus_connected 0") {
            settled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(settled, "{}\n{}", n1.metrics.render(), n3.metrics.render());
    assert!(n3.metrics.render().contains("mywebrtc_cluster_nodes 0"));
}
