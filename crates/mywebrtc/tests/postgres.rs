//! The binary on PostgreSQL, as an operator moves an installation there: `copy-database`
//! from the SQLite file, `[store] url`, `migrate`, `serve`; a `kill -9` loses no
//! acknowledged message; the database password appears in no output.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on what they set up

mod common;

use common::*;

/// A database on a PostgreSQL server of this test's own; its URL carries a password (the
/// server trusts local connections and never asks for it) that no output may show.
fn database(pg: &testkit::postgres::Postgres) -> String {
    let url = pg.fresh_database().unwrap();
    url.replace("postgres://postgres@", "postgres://postgres:hunter2@")
}

fn with_store(cfg: &std::path::Path, url: &str) {
    let mut text = std::fs::read_to_string(cfg).unwrap();
    text.push_str(&format!("[store]\nurl = {url:?}\n"));
    std::fs::write(cfg, text).unwrap();
}

#[tokio::test]
async fn an_installation_moves_from_sqlite_to_postgresql_and_goes_on_there() {
    let pg = testkit::postgres::shared().unwrap();
    let url = database(pg);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    assert!(cli(&cfg, &["user", "add", "alice", "--admin", "--password-stdin"], &format!("{PASSWORD}\n")).0);

    let (ok, out, err) = cli(&cfg, &["copy-database", &url], "");
    assert!(ok, "{out}{err}");
    assert!(out.contains("users") && out.contains("1 rows"), "{out}");
    // Into a database that has rows already: refused.
    let (ok, out2, err2) = cli(&cfg, &["copy-database", &url], "");
    assert!(!ok && err2.contains("not empty"), "{out2}{err2}");

    with_store(&cfg, &url);
    let (ok, mig, mig_err) = cli(&cfg, &["migrate"], "");
    assert!(ok && mig.contains("schema version"), "{mig}{mig_err}");
    let (ok, _, backup_err) = cli(&cfg, &["backup", dir.path().join("b.sqlite").to_str().unwrap()], "");
    assert!(!ok && backup_err.contains("pg_dump"), "{backup_err}");

    let server = start(&cfg);
    assert!(server.stdout.contains("database: postgres://postgres:***@"), "{}", server.stdout);
    let (status, _, me) = login(&server.url, "alice", PASSWORD).await;
    assert_eq!(status, 200, "the copied account signs in on PostgreSQL: {me}");
    // Accounts made now live in PostgreSQL next to the copied one.
    assert!(cli(&cfg, &["user", "add", "bob", "--password-stdin"], &format!("{PASSWORD}\n")).0);
    assert_eq!(login(&server.url, "bob", PASSWORD).await.0, 200);

    for text in [&out, &err, &out2, &err2, &mig, &mig_err, &backup_err, &server.stdout] {
        assert!(!text.contains("hunter2"), "the database password leaked: {text}");
    }
}

#[tokio::test]
async fn acknowledged_chat_messages_survive_kill_9_on_postgresql() {
    let pg = testkit::postgres::shared().unwrap();
    let dir = tempfile::tempdir().unwrap();
    chat_survives_kill_9(dir.path(), &format!("[store]\nurl = {:?}\n", database(pg))).await;
}

#[tokio::test]
async fn a_node_killed_under_chat_load_loses_nothing_acknowledged_and_another_node_serves_on() {
    let pg = testkit::postgres::shared().unwrap();
    let nats = tokio::task::spawn_blocking(|| testkit::nats::Nats::start().unwrap()).await.unwrap();
    let db = database(pg);
    let extra =
        |node: &str| format!("[store]\nurl = {db:?}\n[cluster]\nnats_url = {:?}\nnode_name = {node:?}\n", nats.url());
    let (dir1, dir2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let cfg2 = config(dir2.path());
    let mut text = std::fs::read_to_string(&cfg2).unwrap();
    text.push_str(&format!("[chat]\nrate_per_sec = 10000\nburst = 10000\n{}", extra("n2")));
    std::fs::write(&cfg2, text).unwrap();
    let node2 = start(&cfg2);
    // The clients write through node 1, which dies with kill -9 mid-load; they go on through
    // node 2, where every acknowledged message is there once and the retries add nothing.
    chat_survives_kill_9_on(dir1.path(), &extra("n1"), Some(node2)).await;
}
