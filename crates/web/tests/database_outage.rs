//! PostgreSQL goes away under a running server and comes back: calls that need it are
//! refused with a clear, retryable error (REST 503 `database_unavailable` with Retry-After;
//! a chat send `unavailable`, to be retried with the same client_id), sockets stay open, and
//! everything works again once the database is back, without a restart of the node.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on what they set up

mod common;

use std::sync::Arc;

use common::*;
use serde_json::json;

#[tokio::test]
async fn a_database_outage_is_a_clear_retryable_error_and_service_resumes_by_itself() {
    let mut pg = tokio::task::spawn_blocking(|| testkit::postgres::Postgres::start().unwrap()).await.unwrap();
    let url = pg.fresh_database().unwrap();
    let store = tokio::task::spawn_blocking(move || {
        store::PgStore::connect_postgres(&store::PgOptions { url, ca_file: None, pool_size: 4 }).unwrap()
    })
    .await
    .unwrap();
    let server = start_on(tempfile::tempdir().unwrap(), Arc::new(store), |_| {}).await;
    let alice = server.user("alice", false).await;
    let bob = server.user("bob", false).await;
    befriend(&alice, &bob).await;
    let (st, conv) = alice.call("POST", "/api/v1/conversations", Some(json!({"kind": "direct", "user": bob.id}))).await;
    assert_eq!(st, 201);
    let conv = conv["id"].as_i64().unwrap();
    let mut ws = alice.ws().await;

    let pg = tokio::task::spawn_blocking(move || {
        pg.stop();
        pg
    })
    .await
    .unwrap();
    let resp = alice.req("GET", "/api/v1/contacts").send().await.unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "2");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "database_unavailable", "{body}");
    ws.send(json!({"type": "chat_send", "id": 1, "conv": conv, "client_id": "m1", "text": "are you there?"})).await;
    let err = ws.expect("error").await;
    assert_eq!(err["code"], "unavailable", "{err}");

    let mut pg = pg;
    let pg = tokio::task::spawn_blocking(move || {
        pg.start_again().unwrap();
        pg
    })
    .await
    .unwrap();
    // The same socket, the same message again: stored once, acknowledged.
    ws.send(json!({"type": "chat_send", "id": 2, "conv": conv, "client_id": "m1", "text": "are you there?"})).await;
    assert_eq!(ws.expect("chat_ack").await["message"]["client_id"], "m1");
    let (st, page) = bob.call("GET", &format!("/api/v1/conversations/{conv}/messages"), None).await;
    assert_eq!(st, 200);
    assert_eq!(page["messages"].as_array().unwrap().len(), 1);
    drop(server);
    drop(pg);
}
