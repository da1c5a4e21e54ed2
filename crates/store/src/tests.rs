//! Store behaviour against a real SQLite file.

use super::*;

fn new_user(name: &str, admin: bool) -> NewUser {
    NewUser { username: name.into(), display_name: name.into(), password_hash: "h".into(), is_admin: admin }
}

fn file_store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
    (dir, store)
}

#[test]
fn usernames_are_unique() {
    let (_d, s) = file_store();
    s.create_user(&new_user("alice", false), 1).unwrap();
    assert!(matches!(s.create_user(&new_user("alice", false), 2), Err(StoreError::UsernameTaken)));
}

#[test]
fn data_survives_reopen_and_migrations_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    {
        let s = SqliteStore::open(&path).unwrap();
        s.create_user(&new_user("bob", true), 5).unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    let bob = s.user_by_username("bob").unwrap().unwrap();
    assert!(bob.is_admin);
    assert_eq!(bob.created_at, 5);
}

#[test]
fn last_admin_cannot_be_removed_disabled_or_demoted() {
    let (_d, s) = file_store();
    let a = s.create_user(&new_user("root", true), 1).unwrap();
    let u = s.create_user(&new_user("user", false), 1).unwrap();
    assert!(matches!(s.delete_user(a.id), Err(StoreError::LastAdmin)));
    assert!(matches!(s.update_user_flags(a.id, Some(true), None), Err(StoreError::LastAdmin)));
    assert!(matches!(s.update_user_flags(a.id, None, Some(false)), Err(StoreError::LastAdmin)));
    // the refused change left nothing behind
    assert!(s.user_by_id(a.id).unwrap().unwrap().is_admin);
    // a regular user can go, and with a second admin the first can too
    s.delete_user(u.id).unwrap();
    let b = s.create_user(&new_user("root2", true), 1).unwrap();
    s.update_user_flags(a.id, Some(true), None).unwrap();
    assert!(matches!(s.delete_user(b.id), Err(StoreError::LastAdmin)));
}

#[test]
fn sessions_expire_and_are_scoped_to_their_owner() {
    let (_d, s) = file_store();
    let a = s.create_user(&new_user("a", false), 1).unwrap();
    let b = s.create_user(&new_user("b", false), 1).unwrap();
    let sid = s
        .create_session(&NewSession {
            token_hash: vec![1; 32],
            user_id: a.id,
            csrf_token: "c".into(),
            user_agent: "ua".into(),
            now: 10,
            expires_at: 100,
            absolute_expires_at: 200,
        })
        .unwrap();
    assert!(s.session_by_token_hash(&[1; 32], 50).unwrap().is_some());
    assert!(s.session_by_token_hash(&[1; 32], 100).unwrap().is_none(), "idle-expired");
    s.touch_session(sid, 90, 500).unwrap();
    let (sess, _) = s.session_by_token_hash(&[1; 32], 150).unwrap().unwrap();
    assert_eq!(sess.expires_at, 200, "sliding expiry is capped by the absolute one");
    assert!(!s.delete_session(b.id, sid).unwrap(), "b cannot end a's session");
    assert!(s.session_by_token_hash(&[1; 32], 150).unwrap().is_some());
    // disabling the user ends the session
    s.update_user_flags(a.id, Some(true), None).unwrap();
    assert!(s.session_by_token_hash(&[1; 32], 150).unwrap().is_none());
}

#[test]
fn invites_work_once_and_expire() {
    let (_d, s) = file_store();
    let inv = |h: u8, exp| NewInvite {
        token_hash: vec![h; 32],
        kind: InviteKind::Registration,
        is_admin: false,
        created_by: None,
        now: 0,
        expires_at: exp,
    };
    s.create_invite(&inv(1, 100)).unwrap();
    s.create_invite(&inv(2, 100)).unwrap();
    assert!(matches!(s.redeem_invite(&[2; 32], &new_user("late", false), 100), Err(StoreError::InviteInvalid)));
    let u = s.redeem_invite(&[1; 32], &new_user("x", true), 50).unwrap();
    assert!(!u.is_admin, "the invite, not the request, decides admin rights");
    assert!(matches!(s.redeem_invite(&[1; 32], &new_user("y", false), 51), Err(StoreError::InviteInvalid)));
    assert!(s.usable_invite(&[9; 32], 0).unwrap().is_none());
}

#[test]
fn taken_username_does_not_burn_the_invite() {
    let (_d, s) = file_store();
    s.create_user(&new_user("taken", false), 0).unwrap();
    s.create_invite(&NewInvite {
        token_hash: vec![3; 32],
        kind: InviteKind::Registration,
        is_admin: false,
        created_by: None,
        now: 0,
        expires_at: 100,
    })
    .unwrap();
    assert!(matches!(s.redeem_invite(&[3; 32], &new_user("taken", false), 1), Err(StoreError::UsernameTaken)));
    s.redeem_invite(&[3; 32], &new_user("free", false), 1).unwrap();
}

#[test]
fn setup_link_dies_once_an_admin_exists() {
    let (_d, s) = file_store();
    s.create_invite(&NewInvite {
        token_hash: vec![7; 32],
        kind: InviteKind::Setup,
        is_admin: true,
        created_by: None,
        now: 0,
        expires_at: 100,
    })
    .unwrap();
    assert!(s.usable_invite(&[7; 32], 1).unwrap().is_some());
    s.create_user(&new_user("cli-admin", true), 1).unwrap();
    assert!(s.usable_invite(&[7; 32], 1).unwrap().is_none());
}

#[test]
fn contact_requests_accept_remove_and_block() {
    let (_d, s) = file_store();
    let a = s.create_user(&new_user("ann", false), 0).unwrap().id;
    let b = s.create_user(&new_user("ben", false), 0).unwrap().id;
    let c = s.create_user(&new_user("cat", false), 0).unwrap().id;
    assert_eq!(s.request_contact(a, b, 1).unwrap(), RequestOutcome::Requested);
    assert_eq!(s.request_contact(a, b, 1).unwrap(), RequestOutcome::Requested, "idempotent");
    assert_eq!(s.contact_list(b).unwrap().incoming[0].id, a);
    assert_eq!(s.contact_list(a).unwrap().outgoing[0].id, b);
    assert!(matches!(s.answer_request(a, b, true, 2), Err(StoreError::NotFound)), "only the addressee answers");
    s.answer_request(b, a, true, 2).unwrap();
    assert_eq!(s.relation_between(a, b).unwrap(), (true, false));
    assert_eq!(s.relation_ids(b).unwrap().contacts, vec![a]);
    assert_eq!(s.request_contact(b, a, 3).unwrap(), RequestOutcome::AlreadyContacts);
    // crossing requests become a contact at once
    s.request_contact(a, c, 3).unwrap();
    assert_eq!(s.request_contact(c, a, 4).unwrap(), RequestOutcome::Accepted);
    // block: removes the contact, forbids new requests either way
    s.block(b, a, 5).unwrap();
    assert_eq!(s.relation_between(a, b).unwrap(), (false, true));
    assert!(matches!(s.request_contact(a, b, 6), Err(StoreError::Blocked)));
    assert!(matches!(s.request_contact(b, a, 6), Err(StoreError::Blocked)));
    assert_eq!(s.relation_ids(a).unwrap().blocked, vec![b]);
    assert_eq!(s.contact_list(b).unwrap().blocked[0].id, a);
    assert!(s.unblock(b, a).unwrap());
    assert!(s.remove_contact(a, c).unwrap());
    assert!(!s.remove_contact(a, c).unwrap());
    assert!(matches!(s.request_contact(a, a, 7), Err(StoreError::NotFound)));
    assert!(matches!(s.request_contact(a, 999, 7), Err(StoreError::NotFound)));
}

#[test]
fn directory_search_is_literal_and_skips_disabled() {
    let (_d, s) = file_store();
    let me = s.create_user(&new_user("me", false), 0).unwrap().id;
    s.create_user(&NewUser { display_name: "Alice Smith".into(), ..new_user("alice", false) }, 0).unwrap();
    let off = s.create_user(&new_user("alicia", false), 0).unwrap();
    s.create_user(&new_user("a_b", false), 0).unwrap();
    s.update_user_flags(off.id, Some(true), None).unwrap();
    let names = |q: &str| s.search_users(q, me, 20).unwrap().into_iter().map(|u| u.username).collect::<Vec<_>>();
    assert_eq!(names("ali"), vec!["alice"]);
    assert_eq!(names("smi"), vec!["alice"], "word in the display name");
    assert_eq!(names("a_"), vec!["a_b"], "underscore is literal");
    assert!(names("%").is_empty());
    assert!(names("me").is_empty(), "never yourself");
}

#[test]
fn call_history_and_missed_calls() {
    let (_d, s) = file_store();
    let a = s.create_user(&new_user("ann", false), 0).unwrap().id;
    let b = s.create_user(&new_user("ben", false), 0).unwrap().id;
    let row = |answered, started_at| CallRow {
        id: 0,
        caller: Some(a),
        callee: Some(b),
        media: "video".into(),
        answered,
        reason: "no_answer".into(),
        started_at,
        ring_secs: 45,
        talk_secs: 0,
        callee_seen: false,
    };
    s.record_call(&row(false, 10)).unwrap();
    s.record_call(&row(true, 20)).unwrap();
    let calls = s.list_calls(b, 10).unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].started_at, 20, "newest first");
    assert_eq!(s.mark_missed_seen(b).unwrap(), 1);
    assert_eq!(s.mark_missed_seen(b).unwrap(), 0);
    assert_eq!(s.mark_missed_seen(a).unwrap(), 0, "the caller missed nothing");
}
