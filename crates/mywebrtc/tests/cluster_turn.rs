//! TURN credentials handed out by one node work on every node of a cluster: the nodes share
//! `[turn] secret` (the TURN REST scheme: a credential is an HMAC of its expiry and user name,
//! checked without any shared state), so a relay through another node's TURN server carries
//! packets both ways; a server with another secret refuses the same credential. The client is
//! coturn's `turnutils_uclient` (Debian `coturn`), an independent implementation.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on what they set up

mod common;

use common::*;
use serde_json::Value;

/// A node's config with this TURN secret; relaying to loopback allowed (the test's peers
/// live there).
fn node(dir: &std::path::Path, secret: &str) -> std::path::PathBuf {
    let cfg = config(dir);
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    // `[turn]` is the config's last section.
    text.push_str(&format!("secret = {secret:?}\nallow_peers = [\"127.0.0.0/8\"]\n"));
    std::fs::write(&cfg, text).unwrap();
    cfg
}

fn turn_port(server: &Running) -> u16 {
    server
        .stdout
        .lines()
        .find_map(|l| l.split("udp 127.0.0.1:").nth(1)?.split(',').next()?.parse().ok())
        .expect("the TURN server's UDP port is printed")
}

/// (sent, received) of a `turnutils_uclient` run through `port` with these credentials.
async fn relay(port: u16, user: &str, password: &str) -> (u64, u64, String) {
    let args: Vec<String> =
        ["-c", "-y", "-m", "2", "-n", "30", "-l", "160", "-u", user, "-w", password, "-e", "127.0.0.1", "-p"]
            .iter()
            .map(|s| s.to_string())
            .chain([port.to_string(), "127.0.0.1".into()])
            .collect();
    let out = tokio::task::spawn_blocking(move || {
        let out =
            std::process::Command::new("turnutils_uclient").args(&args).output().expect("turnutils_uclient (coturn)");
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    })
    .await
    .unwrap();
    let grab = |key: &str| {
        out.lines().rev().find_map(|l| l.split(key).nth(1)?.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
    };
    (grab("tot_send_msgs=").unwrap_or(0), grab("tot_recv_msgs=").unwrap_or(0), out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_credential_from_one_node_relays_through_another_and_not_through_a_stranger() {
    let (d1, d2, d3) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let shared = "one long random string the nodes share";
    let (c1, c2, c3) = (node(d1.path(), shared), node(d2.path(), shared), node(d3.path(), "another installation's"));
    let (n1, n2, n3) = (start(&c1), start(&c2), start(&c3));
    assert!(cli(&c1, &["user", "add", "alice", "--password-stdin"], &format!("{PASSWORD}\n")).0);
    let (st, http, _) = login(&n1.url, "alice", PASSWORD).await;
    assert_eq!(st, 200);
    let ice: Value = http.get(format!("{}/api/v1/ice-servers", n1.url)).send().await.unwrap().json().await.unwrap();
    let turn =
        ice["ice_servers"].as_array().unwrap().iter().find(|s| s["credential"].is_string()).expect("a TURN entry");
    let (user, password) = (turn["username"].as_str().unwrap(), turn["credential"].as_str().unwrap());
    // Node 1's credential, on node 2's TURN server: relayed both ways.
    let (sent, received, out) = relay(turn_port(&n2), user, password).await;
    assert_eq!((sent, received), (60, 60), "{out}");
    // On a server with another secret: refused.
    let (_, received, out) = relay(turn_port(&n3), user, password).await;
    assert_eq!(received, 0, "{out}");
    assert!(out.contains("401") || out.contains("Cannot complete Allocation"), "{out}");
}
