//! Attachments against the real server: upload, delivery as a chat message, download by
//! members only, Range requests, limits and quota, hostile names and types, deletion with the
//! message, and what is left on disk after every refusal.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on what they set up

mod common;

use common::{befriend, send, start_with, Client, TestServer};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

async fn direct(a: &Client, b: &Client) -> i64 {
    let (st, v) = a.call("POST", "/api/v1/conversations", Some(json!({"kind": "direct", "user": b.id}))).await;
    assert!(st == 201 || st == 200, "{st} {v}");
    v["id"].as_i64().unwrap()
}

fn hex_sha256(b: &[u8]) -> String {
    Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

async fn upload(c: &Client, conv: i64, name: &str, mime: &str, body: Vec<u8>, client_id: &str) -> (u16, Value) {
    let q = [("name", name), ("client_id", client_id)];
    send(
        c.req("POST", &format!("/api/v1/conversations/{conv}/attachments"))
            .query(&q)
            .header("content-type", mime)
            .body(body),
    )
    .await
}

async fn get(c: &Client, id: &str, range: Option<&str>) -> reqwest::Response {
    let mut r = c.req("GET", &format!("/api/v1/attachments/{id}"));
    if let Some(range) = range {
        r = r.header("range", range);
    }
    r.send().await.unwrap()
}

/// Files under `attachments/` (stored and in progress), to see what a request left behind.
fn files_on_disk(s: &TestServer) -> Vec<String> {
    let mut out = Vec::new();
    for sub in ["files", "tmp"] {
        for e in std::fs::read_dir(s.dir().join("attachments").join(sub)).unwrap() {
            out.push(format!("{sub}/{}", e.unwrap().file_name().to_string_lossy()));
        }
    }
    out.sort();
    out
}

async fn three(tweak: impl FnOnce(&mut web::WebConfig)) -> (TestServer, Client, Client, Client) {
    let s = start_with(tweak).await;
    let alice = s.user("alice", false).await;
    let bob = s.user("bob", false).await;
    let mallory = s.user("mallory", false).await;
    befriend(&alice, &bob).await;
    (s, alice, bob, mallory)
}

#[tokio::test]
async fn an_upload_becomes_a_message_that_members_download_and_no_one_else() {
    let (s, alice, bob, mallory) = three(|_| {}).await;
    let conv = direct(&alice, &bob).await;
    let mut b = bob.ws().await;
    let content: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let (st, m) = upload(&alice, conv, "Q3 report.pdf", "application/pdf", content.clone(), "up-1").await;
    assert_eq!(st, 201, "{m}");
    assert_eq!((m["kind"].as_str(), m["text"].as_str()), (Some("file"), Some("Q3 report.pdf")));
    let att = &m["attachment"];
    assert_eq!(att["size"], 300_000);
    assert_eq!(att["sha256"], hex_sha256(&content));
    assert_eq!(att["preview"], false);
    let id = att["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 43);
    // Bob's device is told, as for any message.
    let ev = b.expect("chat_message").await;
    assert_eq!(ev["message"]["attachment"]["id"], id.as_str());

    // Bob downloads it whole: the bytes, as an attachment that nothing renders or sniffs.
    let r = get(&bob, &id, None).await;
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "application/octet-stream");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["accept-ranges"], "bytes");
    assert!(h["content-security-policy"].to_str().unwrap().contains("sandbox"));
    assert_eq!(h["content-disposition"], "attachment; filename=\"Q3 report.pdf\"; filename*=UTF-8''Q3%20report.pdf");
    assert_eq!(r.bytes().await.unwrap().as_ref(), content.as_slice());
    // The uploader too; mallory, not a member, gets the 404 of a file that does not exist,
    // as does anyone with a made-up or malformed id, and anyone not logged in.
    assert_eq!(get(&alice, &id, None).await.status(), 200);
    for (who, id) in [(&mallory, id.as_str()), (&bob, &"A".repeat(43)), (&bob, "..%2F..%2Fdb.sqlite"), (&bob, "x")] {
        let r = get(who, id, None).await;
        assert_eq!(r.status(), 404, "{id}");
        assert_eq!(r.json::<Value>().await.unwrap()["code"], "not_found");
    }
    assert_eq!(get(&s.client(), &id, None).await.status(), 401);
    // The history shows it like any message.
    let (_, page) = bob.call("GET", &format!("/api/v1/conversations/{conv}/messages"), None).await;
    assert_eq!(page["messages"][0]["attachment"]["name"], "Q3 report.pdf");
    // Mallory can neither post into the conversation nor learn that it exists.
    let (st, v) = upload(&mallory, conv, "x.txt", "text/plain", b"evil".to_vec(), "m-1").await;
    assert_eq!((st, v["code"].as_str()), (404, Some("not_found")));
    assert_eq!(files_on_disk(&s), [format!("files/{id}")]);
}

#[tokio::test]
async fn range_requests_resume_a_download() {
    let (_s, alice, bob, _m) = three(|_| {}).await;
    let conv = direct(&alice, &bob).await;
    let content: Vec<u8> = (0..1_000_000u32).map(|i| (i % 253) as u8).collect();
    let (_, m) = upload(&alice, conv, "big.bin", "application/octet-stream", content.clone(), "up-1").await;
    let id = m["attachment"]["id"].as_str().unwrap().to_owned();
    let r = get(&bob, &id, Some("bytes=400000-")).await;
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], "bytes 400000-999999/1000000");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &content[400_000..]);
    let r = get(&bob, &id, Some("bytes=10-19")).await;
    assert_eq!(r.headers()["content-length"], "10");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &content[10..20]);
    let r = get(&bob, &id, Some("bytes=-5")).await;
    assert_eq!(r.bytes().await.unwrap().as_ref(), &content[999_995..]);
    let r = get(&bob, &id, Some("bytes=1000000-")).await;
    assert_eq!(r.status(), 416);
    assert_eq!(r.headers()["content-range"], "bytes */1000000");
    // Several ranges, or nonsense: the whole file.
    for h in ["bytes=0-1,5-6", "bytes=x-y", "lines=1-2"] {
        let r = get(&bob, &id, Some(h)).await;
        assert_eq!(r.status(), 200, "{h}");
        assert_eq!(r.bytes().await.unwrap().len(), 1_000_000);
    }
    // If-Range with a stale validator restarts from zero; with the current one, resumes.
    let etag = get(&bob, &id, None).await.headers()["etag"].to_str().unwrap().to_owned();
    let stale =
        bob.req("GET", &format!("/api/v1/attachments/{id}")).header("range", "bytes=5-").header("if-range", "\"0\"");
    assert_eq!(stale.send().await.unwrap().status(), 200);
    let fresh =
        bob.req("GET", &format!("/api/v1/attachments/{id}")).header("range", "bytes=5-").header("if-range", etag);
    assert_eq!(fresh.send().await.unwrap().status(), 206);
}

#[tokio::test]
async fn limits_quota_and_hostile_uploads_are_refused_and_leave_nothing() {
    let (s, alice, bob, _m) = three(|c| {
        c.attachments.max_file_bytes = 1000;
        c.attachments.quota_bytes = 2500;
    })
    .await;
    let conv = direct(&alice, &bob).await;
    let (st, lim) = alice.call("GET", "/api/v1/attachments/limits", None).await;
    assert_eq!(st, 200);
    assert_eq!(
        (lim["max_file_bytes"].as_u64(), lim["quota_bytes"].as_u64(), lim["used_bytes"].as_u64()),
        (Some(1000), Some(2500), Some(0))
    );

    // Over the file limit: refused on the Content-Length, before the body; the limit is named.
    let (st, v) = upload(&alice, conv, "big.bin", "application/octet-stream", vec![0; 1001], "a").await;
    assert_eq!((st, v["code"].as_str()), (413, Some("body_too_large")), "{v}");
    assert!(v["message"].as_str().unwrap().contains("at most"), "{v}");
    // Without a Content-Length (chunked), found out on the way.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..20).map(|_| Ok(vec![1u8; 100])).collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let r = alice
        .req("POST", &format!("/api/v1/conversations/{conv}/attachments"))
        .query(&[("name", "s.bin"), ("client_id", "b")])
        .header("content-type", "application/octet-stream")
        .body(body);
    let (st, v) = send(r).await;
    assert_eq!((st, v["code"].as_str()), (413, Some("body_too_large")), "{v}");
    // Wrong types: a form, none, garbage.
    for ct in ["multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "", "text", "a/b/c", "ü/x"] {
        let (st, v) = upload(&alice, conv, "f.txt", ct, b"hello".to_vec(), "c").await;
        assert_eq!((st, v["code"].as_str()), (415, Some("unsupported_media_type")), "{ct}: {v}");
    }
    // A bad client id.
    let (st, v) = upload(&alice, conv, "f.txt", "text/plain", b"hello".to_vec(), "no spaces").await;
    assert_eq!((st, v["field"].as_str()), (422, Some("client_id")));
    assert!(files_on_disk(&s).is_empty(), "{:?}", files_on_disk(&s));

    // Hostile names are made safe; a 0-byte file is a file.
    let hostile = format!("../../etc/{}\u{202E}fdp.exe\u{0}\n{}", "é", "x".repeat(1000));
    let (st, m) = upload(&alice, conv, &hostile, "application/pdf", vec![], "d").await;
    assert_eq!(st, 201, "{m}");
    let name = m["attachment"]["name"].as_str().unwrap();
    assert!(!name.contains(['/', '\u{202E}', '\0', '\n']) && name.chars().count() <= 200, "{name}");
    assert!(name.starts_with("éfdp.exe"), "{name}");
    assert_eq!(m["attachment"]["size"], 0);
    let id = m["attachment"]["id"].as_str().unwrap();
    let r = get(&bob, id, None).await;
    let cd = r.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert!(cd.starts_with("attachment; filename=\"_fdp.exe"), "{cd}");
    assert!(r.bytes().await.unwrap().is_empty());

    // The quota: two files of 1000 fit with the empty one, a third does not.
    for (i, cid) in ["e", "f"].iter().enumerate() {
        let (st, v) = upload(&alice, conv, &format!("{i}.bin"), "application/octet-stream", vec![7; 1000], cid).await;
        assert_eq!(st, 201, "{v}");
    }
    let (st, v) = upload(&alice, conv, "3.bin", "application/octet-stream", vec![7; 600], "g").await;
    assert_eq!((st, v["code"].as_str()), (413, Some("quota_exceeded")), "{v}");
    // Bob's quota is his own.
    let (st, _) = upload(&bob, conv, "b.bin", "application/octet-stream", vec![7; 600], "h").await;
    assert_eq!(st, 201);
    assert_eq!(files_on_disk(&s).iter().filter(|f| f.starts_with("tmp/")).count(), 0);
}

#[tokio::test]
async fn deleting_the_message_deletes_the_file_and_images_are_previews() {
    let (s, alice, bob, _m) = three(|_| {}).await;
    let conv = direct(&alice, &bob).await;
    let png = b"\x89PNG\r\n\x1a\n-not-really".to_vec();
    let (_, m) = upload(&alice, conv, "cat.png", "image/png", png.clone(), "p").await;
    assert_eq!(m["attachment"]["preview"], true);
    let id = m["attachment"]["id"].as_str().unwrap().to_owned();
    let r = get(&bob, &id, None).await;
    assert_eq!(r.headers()["content-type"], "image/png");
    // Anything that could run as a page or script is served as plain bytes.
    for (i, mime) in ["text/html", "image/svg+xml", "application/javascript", "text/xml"].iter().enumerate() {
        let (_, m) = upload(&alice, conv, "x", mime, b"<script>alert(1)</script>".to_vec(), &format!("s{i}")).await;
        assert_eq!(m["attachment"]["preview"], false, "{mime}");
        let r = get(&bob, m["attachment"]["id"].as_str().unwrap(), None).await;
        assert_eq!(r.headers()["content-type"], "application/octet-stream", "{mime}");
    }
    // A retried upload (same client id) returns the first message and stores nothing more.
    let before = files_on_disk(&s).len();
    let (st, again) = upload(&alice, conv, "cat.png", "image/png", png, "p").await;
    assert_eq!((st, again["id"].clone()), (200, m["id"].clone()));
    assert_eq!(files_on_disk(&s).len(), before);

    // Only the sender deletes it; then it is gone for everyone, and from the disk.
    let mut a = alice.ws().await;
    a.send(json!({"type": "chat_delete", "id": 3, "conv": conv, "message": m["id"]})).await;
    let ack = a.expect("chat_ack").await;
    assert_eq!(ack["message"]["deleted"], true);
    assert!(ack["message"].get("attachment").is_none());
    assert_eq!(get(&bob, &id, None).await.status(), 404);
    let path = s.dir().join("attachments/files").join(&id);
    for _ in 0..100 {
        if !path.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(!path.exists(), "the file went with its message");
    let (_, lim) = alice.call("GET", "/api/v1/attachments/limits", None).await;
    assert_eq!(lim["used_bytes"].as_u64(), Some(25 * 4));
}

#[tokio::test]
async fn the_openapi_document_lists_the_attachment_endpoints() {
    let (_s, alice, _b, _m) = three(|_| {}).await;
    let (_, doc) = alice.call("GET", "/api/v1/openapi.json", None).await;
    for p in ["/api/v1/conversations/{id}/attachments", "/api/v1/attachments/{id}", "/api/v1/attachments/limits"] {
        assert!(doc["paths"].get(p).is_some(), "{p}");
    }
}

#[tokio::test]
async fn files_are_deleted_when_their_retention_ends() {
    let (s, alice, bob, _m) = three(|c| {
        c.attachments.retention = Some(std::time::Duration::from_secs(1));
        c.attachments.sweep_every = std::time::Duration::from_millis(200);
    })
    .await;
    let conv = direct(&alice, &bob).await;
    let (_, m) = upload(&alice, conv, "old.txt", "text/plain", b"soon gone".to_vec(), "r").await;
    let id = m["attachment"]["id"].as_str().unwrap().to_owned();
    assert_eq!(get(&bob, &id, None).await.status(), 200);
    // Bounded wait: retention 1 s, counted in whole seconds, and a sweep every 200 ms.
    let mut gone = false;
    for _ in 0..100 {
        if get(&bob, &id, None).await.status() == 404 && files_on_disk(&s).is_empty() {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(gone, "still there: {:?}", files_on_disk(&s));
    // The message stays (it says a file was sent); its quota use is gone.
    let (_, page) = bob.call("GET", &format!("/api/v1/conversations/{conv}/messages"), None).await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 1);
    let (_, lim) = alice.call("GET", "/api/v1/attachments/limits", None).await;
    assert_eq!(lim["used_bytes"].as_u64(), Some(0));
}

#[tokio::test]
async fn a_client_that_goes_away_mid_upload_leaves_nothing_behind() {
    let (s, alice, bob, _m) = three(|_| {}).await;
    let conv = direct(&alice, &bob).await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    let req = alice
        .req("POST", &format!("/api/v1/conversations/{conv}/attachments"))
        .query(&[("name", "cut.bin"), ("client_id", "cut")])
        .header("content-type", "application/octet-stream")
        .body(reqwest::Body::wrap_stream(stream));
    let pending = tokio::spawn(req.send());
    for _ in 0..16 {
        tx.send(Ok(vec![3u8; 64 * 1024])).await.unwrap();
    }
    let mut seen = false;
    for _ in 0..200 {
        if !files_on_disk(&s).is_empty() {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(seen, "the upload reached the disk");
    // The client gives up: its connection goes away without finishing the body.
    pending.abort();
    drop(tx);
    let mut left = files_on_disk(&s);
    for _ in 0..200 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        left = files_on_disk(&s);
    }
    assert!(left.is_empty(), "{left:?}");
    let (_, page) = bob.call("GET", &format!("/api/v1/conversations/{conv}/messages"), None).await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 0);
}
