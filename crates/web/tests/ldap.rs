//! Sign-in with a real OpenLDAP directory (`slapd` on free loopback ports, StartTLS and LDAPS
//! on a test CA), the sync, and a directory that goes away.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on what they set up

mod common;

use std::time::{Duration, Instant};

use common::{TestServer, PASSWORD};
use directory::{Directory, DirectoryConfig};
use serde_json::{json, Value};
use testkit::slapd::{password_of, Slapd, ADMINS_GROUP, BASE, SERVICE_DN, SERVICE_PW, USERS_GROUP};

fn directory(url: &str, slapd: &Slapd, sync: Duration, import: bool) -> Directory {
    Directory::new(DirectoryConfig {
        ca_file: Some(slapd.ca_file.clone()),
        access_group: Some(USERS_GROUP.to_owned()),
        admin_group: Some(ADMINS_GROUP.to_owned()),
        sync_interval: sync,
        timeout: Duration::from_secs(2),
        import_users: import,
        ..DirectoryConfig::new(url, SERVICE_DN, SERVICE_PW, &format!("ou=people,{BASE}"))
    })
    .unwrap()
}

struct Setup {
    server: TestServer,
    slapd: Slapd,
    _dir: tempfile::TempDir,
}

async fn setup(ldaps: bool, sync: Duration, import: bool) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let slapd = Slapd::start(dir.path()).unwrap();
    let url = if ldaps { slapd.ldaps_url.clone() } else { slapd.ldap_url.clone() };
    let d = directory(&url, &slapd, sync, import);
    let server = common::start_with(move |c| c.directory = Some(d)).await;
    Setup { server, slapd, _dir: dir }
}

async fn login(s: &TestServer, name: &str, pw: &str) -> (u16, Value, common::Client) {
    let mut c = s.client();
    let (st, v) = c.login(name, pw).await;
    (st, v, c)
}

/// Polls `check` until it holds; panics after `within`.
async fn eventually(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check() {
        assert!(Instant::now() < deadline, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn directory_users_sign_in_with_groups_as_roles_beside_local_accounts() {
    let t = setup(false, Duration::from_secs(3600), false).await;
    let s = &t.server;
    // A local account named like a directory entry stays local: its own password works,
    // the directory's does not.
    s.add_user("root", true);

    let (st, v, alice) = login(s, "alice", &password_of("alice")).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["user"]["display_name"], "Alice Archer");
    assert_eq!(v["user"]["is_admin"], false);
    assert_eq!(v["account_source"], "directory");
    // The account now exists here, without any password of its own.
    let stored = s.store.user_by_username("alice").unwrap().unwrap();
    assert_eq!(stored.source, store::AccountSource::Directory);
    assert!(stored.password_hash.is_empty());

    let (st, v, bob) = login(s, "bob", &password_of("bob")).await;
    assert_eq!((st, v["user"]["is_admin"].as_bool()), (200, Some(true)), "{v}");
    let (st, users) = bob.call("GET", "/api/v1/admin/users", None).await;
    assert_eq!(st, 200);
    let source = |n: &str| users.as_array().unwrap().iter().find(|u| u["username"] == n).map(|u| u["source"].clone());
    assert_eq!(source("alice"), Some(json!("directory")));
    assert_eq!(source("root"), Some(json!("local")));
    // Roles of directory accounts follow the directory.
    let (st, v) =
        bob.call("PATCH", &format!("/api/v1/admin/users/{}", alice.id), Some(json!({"is_admin": true}))).await;
    assert_eq!((st, v["code"].as_str()), (403, Some("managed_by_directory")), "{v}");

    // Password changes happen in the directory.
    let (st, v) = alice
        .call(
            "POST",
            "/api/v1/me/password",
            Some(json!({"current_password": password_of("alice"), "new_password": "a brand new one"})),
        )
        .await;
    assert_eq!((st, v["code"].as_str()), (403, Some("managed_by_directory")), "{v}");

    for (name, pw, status, code) in [
        ("alice", "wrong password", 401, "invalid_credentials"),
        ("alice", "", 401, "invalid_credentials"),
        ("nobody", "whatever it is", 401, "invalid_credentials"),
        ("carol", &password_of("carol") as &str, 403, "forbidden"),
        ("dave", &password_of("dave"), 403, "account_disabled"),
        ("root", &password_of("root"), 401, "invalid_credentials"),
    ] {
        let (st, v, _) = login(s, name, pw).await;
        assert_eq!((st, v["code"].as_str()), (status, Some(code)), "{name}: {v}");
    }
    let (st, _, _) = login(s, "root", PASSWORD).await;
    assert_eq!(st, 200, "the local account signs in with its own password");
    // Refused directory users got no usable account.
    assert!(s.store.user_by_username("carol").unwrap().is_none());
}

#[tokio::test]
async fn filter_injection_in_the_username_finds_nobody() {
    let t = setup(true, Duration::from_secs(3600), false).await;
    let pw = password_of("alice");
    for name in [
        "*",
        "ali*",
        "alice)(uid=*",
        "*)(|(uid=*",
        "alice\\",
        "alice\u{0}",
        "\u{0430}lice",
        "al\u{0456}ce",
        "ＡＬＩＣＥ*",
    ] {
        let (st, v, _) = login(&t.server, name, &pw).await;
        assert_eq!((st, v["code"].as_str()), (401, Some("invalid_credentials")), "{name:?}: {v}");
    }
    // Fullwidth letters fold (NFKC) to the plain name: that is alice herself, not an injection.
    let (st, _, _) = login(&t.server, "ＡＬＩＣＥ", &pw).await;
    assert_eq!(st, 200);
    assert_eq!(t.server.store.list_users().unwrap().len(), 1, "only alice got an account");
}

#[tokio::test]
async fn the_sync_follows_renames_and_removals_and_closes_their_sockets() {
    let t = setup(false, Duration::from_secs(1), false).await;
    let s = &t.server;
    let (st, _, erin) = login(s, "erin", &password_of("erin")).await;
    assert_eq!(st, 200);
    let mut ws = erin.ws().await;

    t.slapd.rename("erin", "Erin Evans-Smith").unwrap();
    let store = s.store.clone();
    eventually("the new display name synced", Duration::from_secs(30), || {
        store.user_by_username("erin").unwrap().is_some_and(|u| u.display_name == "Erin Evans-Smith")
    })
    .await;
    let (st, v) = erin.call("GET", "/api/v1/session", None).await;
    assert_eq!((st, v["user"]["display_name"].as_str()), (200, Some("Erin Evans-Smith")));

    // Leaving the access group: disabled here, sessions ended, the socket closed.
    t.slapd.remove_from_group("erin", USERS_GROUP).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let code = loop {
        if let Some(code) = ws.close_code().await {
            break code;
        }
        assert!(Instant::now() < deadline, "socket not closed");
    };
    assert_eq!(code, 4004);
    let (st, _) = erin.call("GET", "/api/v1/session", None).await;
    assert_eq!(st, 401);
    let (st, v, _) = login(s, "erin", &password_of("erin")).await;
    assert_eq!((st, v["code"].as_str()), (403, Some("forbidden")), "{v}");

    // Back in the group: the sync lets her in again.
    t.slapd.add_to_group("erin", USERS_GROUP).unwrap();
    eventually("re-enabled by the sync", Duration::from_secs(30), || {
        store.user_by_username("erin").unwrap().is_some_and(|u| !u.disabled)
    })
    .await;
    let (st, _, _) = login(s, "erin", &password_of("erin")).await;
    assert_eq!(st, 200);
}

#[tokio::test]
async fn the_sync_follows_locks_deletions_and_admin_group_changes() {
    let t = setup(true, Duration::from_secs(1), false).await;
    let s = &t.server;
    for name in ["alice", "bob", "frank"] {
        let (st, _, _) = login(s, name, &password_of(name)).await;
        assert_eq!(st, 200, "{name}");
    }
    let (_, _, alice) = login(s, "alice", &password_of("alice")).await;
    let (_, _, frank) = login(s, "frank", &password_of("frank")).await;
    let (mut alice_ws, mut frank_ws) = (alice.ws().await, frank.ws().await);
    t.slapd.lock("alice").unwrap();
    t.slapd.delete("frank").unwrap();
    // (A groupOfNames cannot be empty: someone else stays in it.)
    t.slapd.add_to_group("carol", ADMINS_GROUP).unwrap();
    t.slapd.remove_from_group("bob", ADMINS_GROUP).unwrap();
    let store = s.store.clone();
    let user = |n: &str| store.user_by_username(n).unwrap().unwrap();
    eventually("locked, deleted and demoted", Duration::from_secs(30), || {
        user("alice").disabled && user("frank").disabled && !user("bob").is_admin
    })
    .await;
    for ws in [&mut alice_ws, &mut frank_ws] {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(code) = ws.close_code().await {
                assert_eq!(code, 4004);
                break;
            }
            assert!(Instant::now() < deadline, "socket not closed");
        }
    }
    assert!(!user("bob").disabled, "demoted, still a member");
    let (st, v, _) = login(s, "alice", &password_of("alice")).await;
    assert_eq!((st, v["code"].as_str()), (403, Some("account_disabled")), "{v}");
    let (st, _, _) = login(s, "frank", &password_of("frank")).await;
    assert_eq!(st, 401, "no longer in the directory");
}

#[tokio::test]
async fn a_directory_outage_fails_directory_sign_ins_clearly_and_recovers() {
    let mut t = setup(true, Duration::from_secs(1), false).await;
    let s = &t.server;
    s.add_user("root", true);
    let (st, _, alice) = login(s, "alice", &password_of("alice")).await;
    assert_eq!(st, 200);

    for outage in ["stopped", "stalled"] {
        if outage == "stopped" {
            t.slapd.stop();
        } else {
            t.slapd.pause();
        }
        let (st, v, _) = login(s, "alice", &password_of("alice")).await;
        assert_eq!((st, v["code"].as_str()), (503, Some("directory_unavailable")), "{outage}: {v}");
        assert!(v["message"].as_str().unwrap().contains("cannot be reached"), "{v}");
        // Local accounts and running sessions keep working; failed syncs disable nobody.
        let (st, _, _) = login(s, "root", PASSWORD).await;
        assert_eq!(st, 200, "{outage}");
        tokio::time::sleep(Duration::from_secs(3)).await;
        let (st, _) = alice.call("GET", "/api/v1/session", None).await;
        assert_eq!(st, 200, "{outage}: the running session survives");
        if outage == "stopped" {
            t.slapd.restart().unwrap();
        } else {
            t.slapd.resume();
        }
        let (st, v, _) = login(s, "alice", &password_of("alice")).await;
        assert_eq!(st, 200, "recovered after {outage}: {v}");
    }
}

#[tokio::test]
async fn imported_users_can_be_found_before_they_first_sign_in() {
    let t = setup(false, Duration::from_secs(1), true).await;
    let s = &t.server;
    let me = s.user("localmember", false).await;
    let store = s.store.clone();
    eventually("frank imported", Duration::from_secs(30), || store.user_by_username("frank").unwrap().is_some()).await;
    let (st, found) = me.call("GET", "/api/v1/directory?q=fra", None).await;
    assert_eq!(st, 200);
    assert_eq!(found.as_array().unwrap().iter().filter(|u| u["display_name"] == "Frank Fisher").count(), 1, "{found}");
    // Not imported: not in the access group, or locked.
    assert!(store.user_by_username("carol").unwrap().is_none());
    assert!(store.user_by_username("dave").unwrap().is_none());
}

#[tokio::test]
async fn directory_sign_ins_are_rate_limited_like_local_ones() {
    let t = setup(false, Duration::from_secs(3600), false).await;
    let mut last = 0;
    for _ in 0..8 {
        let (st, _, _) = login(&t.server, "alice", "not her password").await;
        last = st;
        if st == 429 {
            break;
        }
    }
    assert_eq!(last, 429);
    // Throttled: even her right password is not tried against the directory now.
    let (st, _, _) = login(&t.server, "alice", &password_of("alice")).await;
    assert_eq!(st, 429);
}
