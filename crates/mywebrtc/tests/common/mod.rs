//! The real binary as an operator runs it: a config file in a temporary directory, `serve`
//! started and stopped by PID, the admin CLI beside it, and REST calls as a browser makes them.

#![allow(dead_code)] // each test file uses its own part
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on what they set up

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

pub const BIN: &str = env!("CARGO_BIN_EXE_mywebrtc");
pub const PASSWORD: &str = "correct horse battery";

pub struct Running {
    pub child: Child,
    pub url: String,
    pub stdout: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn config(dir: &Path) -> PathBuf {
    let p = dir.join("test.toml");
    std::fs::write(
        &p,
        format!(
            "data_dir = {:?}\nlisten = \"127.0.0.1:0\"\nhttp_redirect_listen = \"off\"\n[metrics]\nlisten = \"127.0.0.1:0\"\n[sfu]\nlisten = \"127.0.0.1:0\"\n[turn]\nport = 0\ntls_port = 0\n",
            dir.join("data")
        ),
    )
    .unwrap();
    p
}

/// Starts `serve` and reads its stdout up to the "listening on" line (the last it prints).
/// `stderr` decides where the logs go (`Stdio::piped()` to read them after the child exits).
// The child moves into `Running`, whose Drop kills and waits for it.
#[allow(clippy::zombie_processes)]
pub fn start_with(cfg: &Path, rust_log: &str, stderr: Stdio) -> Running {
    let mut child = Command::new(BIN)
        .args(["--config", cfg.to_str().unwrap(), "serve"])
        .env("RUST_LOG", rust_log)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut stdout = String::new();
    loop {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap_or(0) == 0 {
            let _ = child.kill();
            let _ = child.wait();
            panic!("server exited before listening: {stdout}");
        }
        stdout.push_str(&line);
        if let Some(url) = line.trim().split("listening on ").nth(1) {
            return Running { child, url: url.to_owned(), stdout };
        }
    }
}

pub fn start(cfg: &Path) -> Running {
    start_with(cfg, "warn", Stdio::null())
}

pub fn cli(cfg: &Path, args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(cfg)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

pub async fn login(url: &str, name: &str, password: &str) -> (u16, reqwest::Client, Value) {
    let http = reqwest::Client::builder().danger_accept_invalid_certs(true).cookie_store(true).build().unwrap();
    let resp = http
        .post(format!("{url}/api/v1/session"))
        .json(&json!({"username": name, "password": password}))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let v = resp.json().await.unwrap_or(Value::Null);
    (status, http, v)
}

/// Logs in and returns the session cookie (`name=value`), the CSRF token and the user id.
pub async fn session(url: &str, name: &str) -> (String, String, i64) {
    let http = reqwest::Client::builder().danger_accept_invalid_certs(true).build().unwrap();
    let resp = http
        .post(format!("{url}/api/v1/session"))
        .json(&json!({"username": name, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let v: Value = resp.json().await.unwrap();
    (cookie, v["csrf_token"].as_str().unwrap().to_owned(), v["user"]["id"].as_i64().unwrap())
}

pub async fn rest(
    url: &str,
    method: &str,
    path: &str,
    who: &(String, String, i64),
    body: Option<Value>,
) -> (u16, Value) {
    let http = reqwest::Client::builder().danger_accept_invalid_certs(true).build().unwrap();
    let mut r = http
        .request(method.parse().unwrap(), format!("{url}{path}"))
        .header("cookie", &who.0)
        .header("x-csrf-token", &who.1)
        .header("origin", url);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Creates alice and bob through the CLI, makes them contacts and opens their conversation:
/// alice's session and the conversation's id.
pub async fn two_contacts_in_a_conversation(cfg: &Path, url: &str) -> ((String, String, i64), i64) {
    for name in ["alice", "bob"] {
        assert!(cli(cfg, &["user", "add", name, "--password-stdin"], &format!("{PASSWORD}\n")).0);
    }
    let alice = session(url, "alice").await;
    let bob = session(url, "bob").await;
    assert_eq!(rest(url, "POST", "/api/v1/contacts/requests", &alice, Some(json!({"user_id": bob.2}))).await.0, 200);
    assert_eq!(rest(url, "POST", &format!("/api/v1/contacts/requests/{}/accept", alice.2), &bob, None).await.0, 204);
    let (st, conv) =
        rest(url, "POST", "/api/v1/conversations", &alice, Some(json!({"kind": "direct", "user": bob.2}))).await;
    assert_eq!(st, 201);
    (alice, conv["id"].as_i64().unwrap())
}

/// A server whose chat rate limit is lifted (the tests pipeline more than a person's burst),
/// with alice and bob as contacts in a conversation: the server, alice's session and the
/// conversation's id.
pub async fn chat_server(dir: &Path, extra: &str) -> (PathBuf, Running, (String, String, i64), i64) {
    let cfg = config(dir);
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str("[chat]\nrate_per_sec = 10000\nburst = 10000\n");
    text.push_str(extra);
    std::fs::write(&cfg, text).unwrap();
    let server = start(&cfg);
    let url = server.url.clone();
    let (alice, conv) = two_contacts_in_a_conversation(&cfg, &url).await;
    (cfg, server, alice, conv)
}

/// Pipelined chat sends, the server killed with `kill -9` halfway through the
/// acknowledgements: after a restart every acknowledged message is there exactly once, in
/// order, and the client's retries add nothing twice. `extra` is appended to the config.
pub async fn chat_survives_kill_9(dir: &Path, extra: &str) {
    chat_survives_kill_9_on(dir, extra, None).await
}

/// [`chat_survives_kill_9`]; with `survivor` (another node of a cluster, already running),
/// the clients go on there instead of waiting for a restart.
pub async fn chat_survives_kill_9_on(dir: &Path, extra: &str, survivor: Option<Running>) {
    let (cfg, mut server, alice, conv) = chat_server(dir, extra).await;
    let url = server.url.clone();

    // Three sockets pipeline 40 messages each; the server is killed as soon as half of all
    // acknowledgements have arrived, while the rest are still in flight.
    const SOCKETS: usize = 3;
    const PER_SOCKET: usize = 40;
    let mut sockets = Vec::new();
    for s in 0..SOCKETS {
        let mut w = testkit::ws::connect(&url, Some(&alice.0), Some(&url)).await.unwrap();
        w.hello().await;
        for i in 0..PER_SOCKET {
            let id = format!("s{s}-m{i}");
            w.send(json!({"type": "chat_send", "id": i, "conv": conv, "client_id": id, "text": format!("text {id}")}))
                .await;
        }
        sockets.push(w);
    }
    let mut acked: Vec<String> = Vec::new();
    'read: loop {
        for w in sockets.iter_mut() {
            let v = w.recv().await.expect("socket ended before the kill");
            if v["type"] == "chat_ack" {
                acked.push(v["message"]["client_id"].as_str().unwrap().to_owned());
                if acked.len() >= SOCKETS * PER_SOCKET / 2 {
                    break 'read;
                }
            }
        }
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(server);

    let server = match survivor {
        Some(other) => other,
        None => start(&cfg),
    };
    let url = server.url.clone();
    let bob = session(&url, "bob").await;
    let (st, page) = rest(&url, "GET", &format!("/api/v1/conversations/{conv}/messages?limit=200"), &bob, None).await;
    assert_eq!(st, 200);
    let stored: Vec<String> =
        page["messages"].as_array().unwrap().iter().map(|m| m["client_id"].as_str().unwrap().to_owned()).collect();
    for id in &acked {
        assert_eq!(stored.iter().filter(|s| *s == id).count(), 1, "acknowledged {id} must be there exactly once");
    }
    let seqs: Vec<i64> = page["messages"].as_array().unwrap().iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "no gaps or repeats in the order");

    // The client retries everything it had sent: nothing is duplicated, all arrive.
    let alice = session(&url, "alice").await;
    let mut w = testkit::ws::connect(&url, Some(&alice.0), Some(&url)).await.unwrap();
    w.hello().await;
    for s in 0..SOCKETS {
        for i in 0..PER_SOCKET {
            let id = format!("s{s}-m{i}");
            w.send(json!({"type": "chat_send", "conv": conv, "client_id": id, "text": format!("text {id}")})).await;
            assert_eq!(w.expect("chat_ack").await["message"]["client_id"], id);
        }
    }
    let (_, page) = rest(&url, "GET", &format!("/api/v1/conversations/{conv}/messages?limit=200"), &bob, None).await;
    assert_eq!(page["messages"].as_array().unwrap().len(), SOCKETS * PER_SOCKET);
}
