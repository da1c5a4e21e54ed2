//! The real binary as an operator uses it: start, admin CLI while it runs, kill -9 and restart.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on what they set up

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn acknowledged_account_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let server = start(&cfg);
    assert!(server.stdout.contains("/setup#"), "fresh server prints a setup link:\n{}", server.stdout);
    assert!(cli(&cfg, &["user", "add", "root", "--admin", "--password-stdin"], &format!("{PASSWORD}\n")).0);
    let (st, http, me) = login(&server.url, "root", PASSWORD).await;
    assert_eq!(st, 200);
    let csrf = me["csrf_token"].as_str().unwrap().to_owned();

    let mut server = server;
    let mut created = Vec::new();
    for i in 0..5 {
        let name = format!("durable{i}");
        let resp = http
            .post(format!("{}/api/v1/admin/users", server.url))
            .header("x-csrf-token", &csrf)
            .json(&json!({"username": name, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        created.push(name);
    }
    // SIGKILL right after the last 201: no chance to flush anything.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(server);

    let server = start(&cfg);
    assert!(!server.stdout.contains("/setup#"), "an admin exists, so no setup link");
    for name in &created {
        let (st, _, _) = login(&server.url, name, PASSWORD).await;
        assert_eq!(st, 200, "{name} lost after kill -9");
    }
}

#[tokio::test]
async fn admin_cli_works_while_the_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let server = start(&cfg);

    let (ok, out, _) =
        cli(&cfg, &["user", "add", "Zoe", "--display-name", "Zoë Z", "--password-stdin"], &format!("{PASSWORD}\n"));
    assert!(ok);
    assert!(out.contains("created user zoe"), "{out}");
    let (ok, _, err) = cli(&cfg, &["user", "add", "zoe", "--password-stdin"], &format!("{PASSWORD}\n"));
    assert!(!ok && err.contains("already taken"), "{err}");
    let (ok, _, err) = cli(&cfg, &["user", "add", "bad name!", "--password-stdin"], &format!("{PASSWORD}\n"));
    assert!(!ok && err.contains("username may contain only"), "{err}");
    let (ok, _, err) = cli(&cfg, &["user", "add", "weak", "--password-stdin"], "short\n");
    assert!(!ok && err.contains("at least 8"), "{err}");

    let (st, zoe, _) = login(&server.url, "zoe", PASSWORD).await;
    assert_eq!(st, 200);
    let (ok, out, _) = cli(&cfg, &["user", "list"], "");
    assert!(ok && out.contains("zoe") && out.contains("Zoë Z"), "{out}");

    // passwd signs the user out everywhere
    let (ok, _, _) = cli(&cfg, &["user", "passwd", "zoe", "--password-stdin"], "a new password\n");
    assert!(ok);
    let st = zoe.get(format!("{}/api/v1/session", server.url)).send().await.unwrap().status();
    assert_eq!(st, 401);
    assert_eq!(login(&server.url, "zoe", PASSWORD).await.0, 401);
    assert_eq!(login(&server.url, "zoe", "a new password").await.0, 200);

    assert!(cli(&cfg, &["user", "disable", "zoe"], "").0);
    assert_eq!(login(&server.url, "zoe", "a new password").await.0, 403);
    assert!(cli(&cfg, &["user", "enable", "zoe"], "").0);
    assert_eq!(login(&server.url, "zoe", "a new password").await.0, 200);
    assert!(cli(&cfg, &["user", "delete", "zoe"], "").0);
    assert_eq!(login(&server.url, "zoe", "a new password").await.0, 401);
    let (ok, _, err) = cli(&cfg, &["user", "delete", "zoe"], "");
    assert!(!ok && err.contains("no user named"), "{err}");

    // invite links from the CLI point at the configured public URL
    // (First line: top-level keys must come before any [section].)
    std::fs::write(&cfg, format!("public_url = {:?}\n{}", server.url, std::fs::read_to_string(&cfg).unwrap())).unwrap();
    let (ok, out, _) = cli(&cfg, &["invite", "create", "--expires-in", "10m"], "");
    assert!(ok && out.trim().starts_with(&format!("{}/invite#", server.url)), "{out}");
    let (ok, _, err) = cli(&cfg, &["invite", "create", "--expires-in", "40d"], "");
    assert!(!ok && err.contains("30d"), "{err}");
}

#[test]
fn invalid_configuration_fails_at_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "listen = \"not an address\"\n").unwrap();
    let out = Command::new(BIN).args(["--config", cfg.to_str().unwrap(), "serve"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`listen`"), "{err}");

    std::fs::write(&cfg, "[session]\nidle_hourz = 3\n").unwrap();
    let out = Command::new(BIN).args(["--config", cfg.to_str().unwrap(), "serve"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("idle_hourz"), "{err}");

    let out = Command::new(BIN)
        .args(["--config", cfg.to_str().unwrap(), "serve"])
        .env("MYWEBRTC_LOG__FORMAT", "xml")
        .output()
        .unwrap();
    assert!(!out.status.success());

    // unrelated MYWEBRTC_* variables in the environment do not stop the server...
    let good = dir.path().join("good.toml");
    std::fs::write(&good, format!("data_dir = {:?}\n", dir.path().join("d"))).unwrap();
    let out = Command::new(BIN)
        .args(["--config", good.to_str().unwrap(), "user", "list"])
        .env("MYWEBRTC_SOMETHING_ELSE", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // ...but a misspelt key inside a known section does
    let out = Command::new(BIN)
        .args(["--config", good.to_str().unwrap(), "user", "list"])
        .env("MYWEBRTC_TLS__CERTFILE", "x")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("tls.certfile"), "{err}");
}

#[test]
fn no_secret_or_address_in_logs() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let mut server = start_with(&cfg, "debug", Stdio::piped());
    let url = server.url.clone();
    let setup = server.stdout.lines().find(|l| l.contains("/setup#")).unwrap().trim().to_owned();
    let token = setup.rsplit_once('#').unwrap().1.to_owned();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let turn_credential = rt.block_on(async {
        let http = reqwest::Client::builder().danger_accept_invalid_certs(true).cookie_store(true).build().unwrap();
        let r = http
            .post(format!("{url}/api/v1/register"))
            .json(&json!({"token": token, "username": "root", "password": "secret-password-123"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        // TURN credentials are handed out, and the TURN server is spoken to.
        let ice: Value = http.get(format!("{url}/api/v1/ice-servers")).send().await.unwrap().json().await.unwrap();
        let turn_credential = ice["ice_servers"][0]["credential"].as_str().unwrap().to_owned();
        let r = http
            .post(format!("{url}/api/v1/session"))
            .json(&json!({"username": "root", "password": "wrong-password-456"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        turn_credential
    });
    let turn_port: u16 = server
        .stdout
        .lines()
        .find_map(|l| l.split("udp 127.0.0.1:").nth(1)?.split(',').next()?.parse().ok())
        .expect("the TURN server's UDP port is printed");
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(std::time::Duration::from_secs(2))).unwrap();
    let mut binding = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42];
    binding.extend_from_slice(&[7; 12]);
    let mut allocate = binding.clone();
    allocate[1] = 0x03;
    let mut buf = [0u8; 512];
    for req in [&binding, &allocate] {
        udp.send_to(req, ("127.0.0.1", turn_port)).unwrap();
        assert!(udp.recv_from(&mut buf).unwrap().0 >= 20, "TURN answers");
    }
    let turn_secret = std::fs::read_to_string(dir.path().join("data/turn-secret")).unwrap();
    // SIGTERM for a graceful stop, then read everything it logged.
    let _ = Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status();
    let mut logs = String::new();
    server.child.stderr.take().unwrap().read_to_string(&mut logs).unwrap();
    let _ = server.child.wait();
    assert!(logs.contains("request"), "request logs expected:\n{logs}");
    assert!(!logs.contains('\x1b'), "no colour codes when standard error is not a terminal");
    for secret in
        [token.as_str(), "secret-password-123", "wrong-password-456", "127.0.0.1", &turn_credential, turn_secret.trim()]
    {
        assert!(!logs.contains(secret), "{secret:?} leaked into logs:\n{logs}");
    }
}

#[tokio::test]
async fn acknowledged_chat_messages_survive_kill_9_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    chat_survives_kill_9(dir.path(), "").await;
}

/// Files in `data/attachments/<sub>`.
fn attachment_files(dir: &Path, sub: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("data/attachments").join(sub))
        .map(|d| d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[tokio::test]
async fn an_upload_cut_by_kill_9_leaves_nothing_and_stored_files_stay_intact() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let mut server = start(&cfg);
    let url = server.url.clone();
    let (alice, conv) = two_contacts_in_a_conversation(&cfg, &url).await;
    let http = reqwest::Client::builder().danger_accept_invalid_certs(true).build().unwrap();
    let upload = |body: reqwest::Body, cid: &str| {
        http.post(format!("{url}/api/v1/conversations/{conv}/attachments"))
            .query(&[("name", "f.bin"), ("client_id", cid)])
            .header("cookie", &alice.0)
            .header("x-csrf-token", &alice.1)
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
    };

    // One file stored and acknowledged...
    let kept: Vec<u8> = (0..200_000u32).map(|i| (i % 241) as u8).collect();
    let resp = upload(kept.clone().into(), "kept").await.unwrap();
    assert_eq!(resp.status(), 201);
    let kept_id = resp.json::<Value>().await.unwrap()["attachment"]["id"].as_str().unwrap().to_owned();

    // ...and one under way: 4 MB sent, then the client waits; the server dies meanwhile.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    let pending = tokio::spawn(upload(reqwest::Body::wrap_stream(stream), "cut"));
    for _ in 0..64 {
        tx.send(Ok(vec![9u8; 64 * 1024])).await.unwrap();
    }
    let part_size = || -> u64 {
        std::fs::read_dir(dir.path().join("data/attachments/tmp"))
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while part_size() < 1024 * 1024 {
        assert!(std::time::Instant::now() < deadline, "the upload never reached the server's disk");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(attachment_files(dir.path(), "tmp").len(), 1, "an upload under way is in tmp/ only");
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(server);
    drop(tx);
    let _ = pending.await;

    let server = start(&cfg);
    let url = server.url.clone();
    // Nothing of the cut upload is left, not even in tmp/; the stored file is there, whole.
    assert!(attachment_files(dir.path(), "tmp").is_empty(), "{:?}", attachment_files(dir.path(), "tmp"));
    assert_eq!(attachment_files(dir.path(), "files"), std::slice::from_ref(&kept_id));
    let bob = session(&url, "bob").await;
    let (_, page) = rest(&url, "GET", &format!("/api/v1/conversations/{conv}/messages"), &bob, None).await;
    let msgs = page["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 1, "{page}");
    assert_eq!(msgs[0]["client_id"], "kept");
    let got = http
        .get(format!("{url}/api/v1/attachments/{kept_id}"))
        .header("cookie", &bob.0)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.as_ref(), kept.as_slice());
    use sha2::Digest;
    let hex: String = sha2::Sha256::digest(&kept).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(msgs[0]["attachment"]["sha256"], hex);
}
