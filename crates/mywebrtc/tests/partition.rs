//! A partition: one node of two in a network namespace of the test's own, cut off from
//! NATS and PostgreSQL by nftables while its users stay connected to it, then joined again.
//! Meanwhile each side shows the other side's users offline, a chat send on the cut-off node
//! is refused with a retryable error (not lost, not half-done), the other node serves on;
//! afterwards presence agrees on both sides (no split brain) and every message is there once.
//! Needs root (CI runs as root), iproute2 and nftables.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on what they set up

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use testkit::bench::{Seeder, ServerProcess};

const BIN: &str = env!("CARGO_BIN_EXE_mywebrtc");

/// The first message `want` accepts within `secs` (other messages skipped).
async fn wait_for(ws: &mut testkit::ws::Ws, secs: u64, what: &str, want: impl Fn(&Value) -> bool) -> Value {
    ws.wait_for(Duration::from_secs(secs), want).await.unwrap_or_else(|| panic!("no {what} within {secs} s"))
}

fn presence(user: i64, status: &'static str) -> impl Fn(&Value) -> bool {
    move |v| v["type"] == "presence" && v["user"] == user && v["status"] == status
}

async fn send(ws: &mut testkit::ws::Ws, id: u64, conv: i64, client_id: &str, text: &str) {
    ws.send(json!({"type": "chat_send", "id": id, "conv": conv, "client_id": client_id, "text": text})).await;
}

/// The reply (ok with a message, or an error) to request `id`.
async fn reply_to(ws: &mut testkit::ws::Ws, id: u64, secs: u64) -> Value {
    wait_for(ws, secs, "a reply", |v| v["id"] == id && (v["type"] == "chat_ack" || v["type"] == "error")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_node_rejoins_without_split_brain_presence_or_duplicated_messages() {
    let ns = testkit::netns::Netns::create().expect("a network namespace (run as root)");
    let host = ns.host_ip.clone();
    let (pg, nats) = tokio::task::spawn_blocking(move || {
        let pg = testkit::postgres::Postgres::start_also_on(&host).unwrap();
        pg.execute("postgres", "CREATE DATABASE partition").unwrap();
        (pg, testkit::nats::Nats::start_on(&host).unwrap())
    })
    .await
    .unwrap();
    let db = pg.url_at(&ns.host_ip, "partition");
    let opts = store::PgOptions { url: db.clone(), ca_file: None, pool_size: 2 };
    let seeded = tokio::task::spawn_blocking(move || {
        let seeder = Seeder::on(Box::new(store::PgStore::connect_postgres(&opts).unwrap())).unwrap();
        let (alice, cookie_a) = seeder.user("alice").unwrap();
        let (bob, cookie_b) = seeder.user("bob").unwrap();
        seeder.befriend(alice, bob).unwrap();
        let (conv, _) = seeder.store.direct_conversation(alice, bob, testkit::bench::unix_now()).unwrap();
        (alice, cookie_a, bob, cookie_b, conv)
    });
    let (alice, cookie_a, bob, cookie_b, conv) = seeded.await.unwrap();
    let extra = |node: &str| {
        format!(
            "[store]\nurl = {db:?}\n[cluster]\nnats_url = {:?}\nnode_name = {node:?}\n[sfu]\nlisten = \"127.0.0.1:0\"\n",
            nats.url()
        )
    };
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let n1 = ServerProcess::start_at(BIN, d1.path(), &extra("n1"), "127.0.0.1").await.unwrap();
    let in_ns = format!("{} {BIN}", ns.exec());
    let n2 = ServerProcess::start_at(&in_ns, d2.path(), &extra("n2"), &ns.ns_ip).await.unwrap();

    // Alice on node 1, bob on node 2 (reached over the pair): each sees the other online.
    let mut wa = n1.ws("127.0.0.1".parse().unwrap(), &cookie_a).await.unwrap();
    let mut wb = n2.ws(ns.host_ip.parse().unwrap(), &cookie_b).await.unwrap();
    wait_for(&mut wa, 30, "bob online", presence(bob, "online")).await;

    // Cut node 2 off from NATS and PostgreSQL (its sockets stay up).
    ns.cut(&[nats.port, pg.port]).unwrap();
    // Each side stops hearing the other: their users show offline.
    wait_for(&mut wa, 60, "bob offline", presence(bob, "offline")).await;
    wait_for(&mut wb, 60, "alice offline", presence(alice, "offline")).await;
    // Node 2 cannot store bob's message: refused, to be sent again; node 1 stores alice's.
    send(&mut wb, 1, conv, "b-1", "from the island").await;
    let r = reply_to(&mut wb, 1, 90).await;
    assert_eq!((r["type"].as_str(), r["code"].as_str()), (Some("error"), Some("unavailable")), "{r}");
    send(&mut wa, 1, conv, "a-1", "from the mainland").await;
    assert_eq!(reply_to(&mut wa, 1, 30).await["type"], "chat_ack");

    // Joined again: both sides agree that both are online.
    ns.heal().unwrap();
    wait_for(&mut wa, 60, "bob online again", presence(bob, "online")).await;
    wait_for(&mut wb, 60, "alice online again", presence(alice, "online")).await;
    // Bob sends again with the same client id (a client does so until acknowledged), then one
    // more; alice gets each once.
    let mut sent = None;
    for attempt in 0..20 {
        send(&mut wb, 10 + attempt, conv, "b-1", "from the island").await;
        let r = reply_to(&mut wb, 10 + attempt, 60).await;
        if r["type"] == "chat_ack" {
            sent = Some(r);
            break;
        }
        assert_eq!(r["code"], "unavailable", "{r}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let b1 = sent.expect("bob's message stored once the database is back")["message"]["id"].clone();
    send(&mut wb, 40, conv, "b-2", "and again").await;
    assert_eq!(reply_to(&mut wb, 40, 30).await["type"], "chat_ack");
    // Alice's socket, read from where it was: bob's first message arrives once before his
    // second (both come from node 2 in order).
    let mut seen_b1 = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "bob's second message never reached alice");
        let Some(v) = wa.recv().await else { continue };
        if v["type"] != "chat_message" {
            continue;
        }
        if v["message"]["id"] == b1 {
            seen_b1 += 1;
        }
        if v["message"]["client_id"] == "b-2" {
            break;
        }
    }
    assert_eq!(seen_b1, 1, "bob's first message delivered once");

    // The history, read through either node: each message once.
    for (srv, cookie) in [(&n1, &cookie_a), (&n2, &cookie_b)] {
        let http = reqwest::Client::builder().danger_accept_invalid_certs(true).build().unwrap();
        let page: Value = http
            .get(format!("{}/api/v1/conversations/{conv}/messages", srv.url))
            .header("cookie", cookie.as_str())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut ids: Vec<&str> =
            page["messages"].as_array().unwrap().iter().filter_map(|m| m["client_id"].as_str()).collect();
        ids.sort_unstable();
        assert_eq!(ids, vec!["a-1", "b-1", "b-2"], "{page}");
    }
    n1.stop().await;
    n2.stop().await;
}
