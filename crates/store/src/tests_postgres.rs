//! What only PostgreSQL has to prove: several nodes writing at once, a server restart, its
//! migrations; and moving a whole installation between the two backends.

use std::sync::Arc;

use super::tests::{new_meeting, new_user, send, send_file, sent, session_for, three_friends};
use super::*;
use crate::backend::Backend;
use crate::sql::{args, Row};

fn pg_at(url: &str) -> PgStore {
    PgStore::connect_postgres(&PgOptions { url: url.into(), ca_file: None, pool_size: 4 }).unwrap()
}

/// Two stores on one fresh database: two nodes sharing it.
fn two_nodes() -> (PgStore, PgStore) {
    let url = testkit::postgres::shared().unwrap().fresh_database().unwrap();
    (pg_at(&url), pg_at(&url))
}

#[test]
fn concurrent_sends_from_two_nodes_into_one_conversation_all_land_in_order() {
    let (n1, n2) = two_nodes();
    let (a, b, _c, _m) = three_friends(&n1);
    let (conv, _) = n1.direct_conversation(a, b, 1).unwrap();
    let (n1, n2) = (Arc::new(n1), Arc::new(n2));
    let writers: Vec<_> = [(n1.clone(), a, "a"), (n2.clone(), b, "b")]
        .into_iter()
        .map(|(node, user, tag)| {
            std::thread::spawn(move || {
                for i in 0..40 {
                    let w =
                        [send(user, conv, &format!("{tag}{i}"), "hi"), send(user, conv, &format!("{tag}{i}x"), "hi")];
                    for r in node.chat_write(&w, 2).unwrap() {
                        sent(&r);
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    // Every acknowledged message is there once, numbered 1..=160 without gap or repeat,
    // although each write took the conversation's next number on whichever node it ran.
    let msgs = n2.messages_before(a, conv, None, 1000).unwrap();
    assert_eq!(msgs.len(), 160);
    let seqs: Vec<i64> = msgs.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=160).collect::<Vec<_>>());
}

#[test]
fn two_nodes_cannot_together_remove_the_last_admins() {
    // Each node disables "the other" admin at the same moment; read-committed transactions
    // would both see two admins and leave none. Serializable ones let only one through.
    for round in 0..5 {
        let (n1, n2) = two_nodes();
        let x = n1.create_user(&new_user("x", true), 1).unwrap().id;
        let y = n1.create_user(&new_user("y", true), 1).unwrap().id;
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let (b1, b2) = (barrier.clone(), barrier);
        let t1 = std::thread::spawn(move || {
            b1.wait();
            n1.update_user_flags(x, Some(true), None).map(|_| ())
        });
        let t2 = std::thread::spawn(move || {
            b2.wait();
            let r = n2.update_user_flags(y, Some(true), None).map(|_| ());
            (r, n2)
        });
        let r1 = t1.join().unwrap();
        let (r2, n2) = t2.join().unwrap();
        assert!(r1.is_ok() || r2.is_ok(), "round {round}: one of them goes through");
        assert!(n2.count_enabled_admins().unwrap() >= 1, "round {round}: {r1:?} {r2:?} left no admin");
    }
}

#[test]
fn a_restarted_database_is_reconnected_and_an_outage_is_a_retryable_error() {
    let mut pg = testkit::postgres::Postgres::start().unwrap();
    let url = pg.fresh_database().unwrap();
    let s = pg_at(&url);
    let a = s.create_user(&new_user("a", false), 1).unwrap();
    pg.stop();
    let down = s.user_by_id(a.id).unwrap_err();
    assert!(down.is_retryable(), "{down:?}");
    pg.start_again().unwrap();
    // Every pooled connection broke; each is replaced when next used.
    for _ in 0..8 {
        assert_eq!(s.user_by_id(a.id).unwrap().unwrap().username, "a");
    }
}

#[test]
fn migrations_run_once_and_a_newer_schema_is_refused() {
    let url = testkit::postgres::shared().unwrap().fresh_database().unwrap();
    let s = pg_at(&url);
    s.create_user(&new_user("kept", false), 1).unwrap();
    drop(s);
    let s = pg_at(&url);
    assert!(s.user_by_username("kept").unwrap().is_some());
    let db = url.rsplit('/').next().unwrap().split('?').next().unwrap();
    testkit::postgres::shared().unwrap().execute(db, "UPDATE schema_version SET version = version + 1").unwrap();
    let err = PgStore::connect_postgres(&PgOptions { url, ca_file: None, pool_size: 1 }).err().unwrap();
    assert!(err.to_string().contains("newer than this program"), "{err}");
}

/// A database with something in every table.
fn fill(s: &dyn Store) {
    let (a, b, c, mallory) = three_friends(s);
    let (direct, _) = s.direct_conversation(a, b, 2).unwrap();
    s.chat_write(&[send(a, direct, "1", "hello"), send(b, direct, "2", "hi ✓")], 3).unwrap();
    let (group, _) = s.create_group(a, "Ward 3", &[b, c], 3).unwrap();
    sent(&s.chat_write(&[send_file(a, group, "f", "tok1", 1234)], 4).unwrap()[0]);
    s.create_session(&session_for(a)).unwrap();
    s.create_invite(&NewInvite {
        token_hash: vec![9; 32],
        kind: InviteKind::Registration,
        is_admin: false,
        created_by: Some(a),
        now: 1,
        expires_at: 100,
    })
    .unwrap();
    assert_eq!(s.request_contact(mallory, a, 5).unwrap(), RequestOutcome::Requested);
    let d = s.create_user(&new_user("dora", false), 1).unwrap().id;
    s.block(d, c, 6).unwrap();
    s.record_call(&CallRow {
        id: 0,
        caller: Some(a),
        callee: Some(b),
        media: "video".into(),
        answered: true,
        reason: "hangup".into(),
        started_at: 7,
        ring_secs: 2,
        talk_secs: 30,
        callee_seen: true,
        conv: None,
    })
    .unwrap();
    let m = s.create_meeting(&new_meeting(Some(a), "123456789012", "link1"), 8).unwrap();
    s.create_guest(m.id, "guest~x", "Visitor", 9).unwrap();
    s.burn_code(&[7; 32], 500, 10).unwrap();
}

fn dump<B: Backend>(s: &SqlStore<B>) -> Vec<(String, Vec<Row>)> {
    crate::copy::TABLES
        .iter()
        .map(|(t, cols)| {
            let rows = s.db.read(|c| c.rows(&format!("SELECT {cols} FROM {t} ORDER BY 1, 2"), args![])).unwrap();
            (t.to_string(), rows)
        })
        .collect()
}

fn same(a: &[(String, Vec<Row>)], b: &[(String, Vec<Row>)]) {
    for ((t, ra), (_, rb)) in a.iter().zip(b) {
        assert_eq!(ra.len(), rb.len(), "rows of {t}");
        for (x, y) in ra.iter().zip(rb) {
            assert_eq!(x.0, y.0, "a row of {t}");
        }
    }
}

#[test]
fn a_whole_installation_moves_from_sqlite_to_postgres_and_back_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let lite = SqliteStore::open(&dir.path().join("a.sqlite")).unwrap();
    fill(&lite);
    let pg = pg_at(&testkit::postgres::shared().unwrap().fresh_database().unwrap());
    let (lite, pg) = (AnyStore::Sqlite(lite), AnyStore::Postgres(Box::new(pg)));
    let report = lite.copy_into(&pg).unwrap();
    assert!(report.tables.iter().all(|(_, n)| *n > 0), "every table had rows: {report:?}");
    let (AnyStore::Sqlite(l), AnyStore::Postgres(p)) = (&lite, &pg) else { unreachable!() };
    same(&dump(l), &dump(p));
    // New rows on PostgreSQL take ids after the copied ones.
    let max_user = l.list_users().unwrap().iter().map(|u| u.id).max().unwrap();
    assert!(pg.as_store().create_user(&new_user("newcomer", false), 20).unwrap().id > max_user);
    // A second copy into a database with rows is refused, and changes nothing.
    let err = lite.copy_into(&pg).unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
    // And back into a new SQLite file.
    let back = AnyStore::Sqlite(SqliteStore::open(&dir.path().join("b.sqlite")).unwrap());
    pg.copy_into(&back).unwrap();
    let AnyStore::Sqlite(b) = &back else { unreachable!() };
    same(&dump(p), &dump(b));
}

#[test]
fn the_copy_knows_every_table_and_column_of_the_schema() {
    let s = SqliteStore::open_in_memory().unwrap();
    let tables: Vec<String> = s
        .db
        .read(|c| c.map("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name", args![], |r| r.text(0)))
        .unwrap();
    let mut known: Vec<&str> = crate::copy::TABLES.iter().map(|(t, _)| *t).collect();
    known.extend(crate::copy::NOT_COPIED);
    known.sort_unstable();
    assert_eq!(tables, known, "a migration added a table the copy does not know");
    for (t, cols) in crate::copy::TABLES {
        let mut have: Vec<String> =
            s.db.read(|c| c.map(&format!("SELECT name FROM pragma_table_info('{t}')"), args![], |r| r.text(0)))
                .unwrap();
        let mut listed: Vec<String> = cols.split(',').map(|c| c.trim().to_string()).collect();
        have.sort();
        listed.sort();
        assert_eq!(have, listed, "columns of {t}");
    }
}

#[test]
fn tls_to_the_database_checks_its_certificate() {
    let pg = testkit::postgres::Postgres::start_tls().unwrap();
    let url = pg.fresh_database().unwrap().replace("sslmode=disable", "sslmode=require");
    let opts = |ca_file| PgOptions { url: url.clone(), ca_file, pool_size: 1 };
    // Trusting the CA that signed it: the connection is encrypted.
    let s = PgStore::connect_postgres(&opts(pg.ca_file.clone())).unwrap();
    let ssl =
        s.db.read(|c| {
            c.int("SELECT CASE WHEN ssl THEN 1 ELSE 0 END FROM pg_stat_ssl WHERE pid = pg_backend_pid()", args![])
        })
        .unwrap();
    assert_eq!(ssl, 1);
    // Without that CA (the system's roots only), the certificate is refused.
    let err = PgStore::connect_postgres(&opts(None)).err().unwrap();
    assert!(err.to_string().to_lowercase().contains("certificate"), "{err}");
}
