//! `mywebrtc backup` while the server runs and writes chat, and `mywebrtc restore`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on what they set up

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use store::Store;

/// Client ids of the messages of `conv` in the database file `db` (opened on a copy, so the
/// file itself is not touched).
fn messages_in(db: &std::path::Path, user: i64, conv: i64) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.sqlite");
    std::fs::copy(db, &copy).unwrap();
    let s = store::SqliteStore::open(&copy).unwrap();
    s.messages_before(user, conv, None, 100_000).unwrap().into_iter().map(|m| m.client_id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_chat_load_holds_every_acknowledged_message_and_restores() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, mut server, alice, conv) = chat_server(dir.path(), "").await;
    let url = server.url.clone();

    // A writer posts messages one after another and records each acknowledgement (201).
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (acked, stop, url, alice) = (acked.clone(), stop.clone(), url.clone(), alice.clone());
        tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(120);
            for i in 0..20_000 {
                if stop.load(Ordering::Relaxed) || Instant::now() > deadline {
                    break;
                }
                let id = format!("m{i}");
                let body = json!({"client_id": id, "text": format!("message {i}")});
                let (st, _) =
                    rest(&url, "POST", &format!("/api/v1/conversations/{conv}/messages"), &alice, Some(body)).await;
                assert_eq!(st, 201);
                acked.lock().unwrap().push(id);
            }
        })
    };
    let wait_for = |n: usize| {
        let acked = acked.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            while acked.lock().unwrap().len() < n {
                assert!(Instant::now() < deadline, "the writer is stuck");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    wait_for(50).await;
    let before: Vec<String> = acked.lock().unwrap().clone();
    let backup_file = dir.path().join("backup.sqlite");
    let (ok, out, err) = {
        let (cfg, file) = (cfg.clone(), backup_file.clone());
        tokio::task::spawn_blocking(move || cli(&cfg, &["backup", file.to_str().unwrap()], "")).await.unwrap()
    };
    assert!(ok, "{out}{err}");
    assert!(out.contains("integrity check ok"), "{out}");
    // The writer kept going during and after the backup.
    wait_for(before.len() + 30).await;
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    let all: Vec<String> = acked.lock().unwrap().clone();

    let in_backup = messages_in(&backup_file, alice.2, conv);
    let in_backup_set: HashSet<&String> = in_backup.iter().collect();
    for id in &before {
        assert!(in_backup_set.contains(id), "{id} was acknowledged before the backup started but is not in it");
    }
    assert!(in_backup.len() < all.len(), "messages after the backup are not in it");
    assert_eq!(store::backup::inspect(&backup_file).unwrap().messages, in_backup.len() as i64);
    // Never overwrites.
    let (ok, _, err) = cli(&cfg, &["backup", backup_file.to_str().unwrap()], "");
    assert!(!ok && err.contains("exists already"), "{err}");

    // Restore: refused while the server runs, then refused because the database is newer.
    let (ok, out, err) = cli(&cfg, &["restore", backup_file.to_str().unwrap()], "");
    assert!(!ok && err.contains("server is running"), "ok={ok} out={out} err={err}");
    let _ = std::process::Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status();
    server.child.wait().unwrap();
    drop(server);
    let (ok, _, err) = cli(&cfg, &["restore", backup_file.to_str().unwrap()], "");
    assert!(!ok && err.contains("--force"), "{err}");
    let (ok, out, err) = cli(&cfg, &["restore", "--force", backup_file.to_str().unwrap()], "");
    assert!(ok, "{out}{err}");
    assert!(out.contains("kept as"), "{out}");

    // The server starts on the restored database, which holds exactly the backup's messages.
    let server = start(&cfg);
    let url = server.url.clone();
    let bob = session(&url, "bob").await;
    let (st, page) = rest(&url, "GET", &format!("/api/v1/conversations/{conv}/messages?limit=200"), &bob, None).await;
    assert_eq!(st, 200);
    let newest: Vec<&str> =
        page["messages"].as_array().unwrap().iter().map(|m| m["client_id"].as_str().unwrap()).collect();
    assert_eq!(newest.last().copied(), in_backup.last().map(String::as_str));
    drop(server);
}

#[test]
fn a_second_server_on_the_same_data_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let _server = start(&cfg);
    let out = std::process::Command::new(BIN).args(["--config", cfg.to_str().unwrap(), "serve"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("a mywebrtc server is running on the data directory"), "{err}");
}
