//! Store behaviour, each test run against a real SQLite file and against a real PostgreSQL
//! server (a fresh database per test; see testkit::postgres).

use super::*;

pub(super) fn new_user(name: &str, admin: bool) -> NewUser {
    NewUser { username: name.into(), display_name: name.into(), password_hash: "h".into(), is_admin: admin }
}

fn file_store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
    (dir, store)
}

/// Runs each behaviour test on both backends.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(#[test]
            fn $name() {
                let (_d, s) = super::file_store();
                super::$name(&s);
            })*
        }
        mod on_postgres {
            $(#[test]
            fn $name() {
                let s = super::pg_store();
                super::$name(&s);
            })*
        }
    };
}

on_both_backends!(
    usernames_are_unique,
    last_admin_cannot_be_removed_disabled_or_demoted,
    sessions_expire_and_are_scoped_to_their_owner,
    invites_work_once_and_expire,
    taken_username_does_not_burn_the_invite,
    setup_link_dies_once_an_admin_exists,
    contact_requests_accept_remove_and_block,
    directory_search_is_literal_and_skips_disabled,
    call_history_and_missed_calls,
    group_calls_are_in_the_history_of_the_members_rung_not_of_the_starter,
    direct_conversations_need_contacts_and_are_unique_per_pair,
    sends_are_deduplicated_by_client_id_and_ordered_by_seq,
    blocking_or_unfriending_stops_a_direct_conversation,
    only_the_sender_edits_or_deletes_and_changes_bump_rev,
    receipts_only_move_forward_and_drive_unread_counts,
    groups_show_members_only_what_came_after_they_joined,
    history_pages_backwards,
    attachments_are_readable_by_the_members_who_see_their_message_only,
    a_deleted_file_message_takes_its_record_with_it_and_retention_ends_old_ones,
    meetings_have_hosts_unique_codes_and_guests_who_wait_then_come_in_or_go,
    burnt_codes_stay_burnt_until_their_time,
    directory_accounts_follow_the_directory_but_never_take_over_local_ones,
    a_room_is_claimed_by_one_node_taken_over_only_from_a_gone_one_and_released,
);

fn pg_store() -> PgStore {
    let pg = testkit::postgres::shared().unwrap();
    PgStore::connect_postgres(&PgOptions { url: pg.fresh_database().unwrap(), ca_file: None, pool_size: 4 }).unwrap()
}

fn usernames_are_unique(s: &dyn Store) {
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

fn last_admin_cannot_be_removed_disabled_or_demoted(s: &dyn Store) {
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

fn sessions_expire_and_are_scoped_to_their_owner(s: &dyn Store) {
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

fn invites_work_once_and_expire(s: &dyn Store) {
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

fn taken_username_does_not_burn_the_invite(s: &dyn Store) {
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

fn setup_link_dies_once_an_admin_exists(s: &dyn Store) {
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

fn contact_requests_accept_remove_and_block(s: &dyn Store) {
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

fn directory_search_is_literal_and_skips_disabled(s: &dyn Store) {
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

fn call_history_and_missed_calls(s: &dyn Store) {
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
        conv: None,
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

fn group_calls_are_in_the_history_of_the_members_rung_not_of_the_starter(s: &dyn Store) {
    let (a, b, c, _) = three_friends(s);
    let (g, _) = s.create_group(a, "Team", &[b, c], 5).unwrap();
    for (callee, reason) in [(b, "missed"), (c, "declined")] {
        s.record_call(&CallRow {
            id: 0,
            caller: Some(a),
            callee: Some(callee),
            media: "group".into(),
            answered: false,
            reason: reason.into(),
            started_at: 10,
            ring_secs: 30,
            talk_secs: 0,
            callee_seen: reason == "declined",
            conv: Some(g),
        })
        .unwrap();
    }
    assert!(s.list_calls(a, 10).unwrap().is_empty(), "one row per member rung: not the starter's");
    let mine = s.list_calls(b, 10).unwrap();
    assert_eq!((mine.len(), mine[0].conv, mine[0].reason.as_str()), (1, Some(g), "missed"));
    assert_eq!(s.mark_missed_seen(b).unwrap(), 1);
    assert_eq!(s.mark_missed_seen(c).unwrap(), 0, "a declined call was seen");
}

// --- chat

pub(super) fn three_friends(s: &dyn Store) -> (i64, i64, i64, i64) {
    let ids: Vec<i64> = ["alice", "bob", "carol", "mallory"]
        .iter()
        .map(|n| s.create_user(&new_user(n, false), 1).unwrap().id)
        .collect();
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    for (x, y) in [(a, b), (a, c), (b, c)] {
        s.request_contact(x, y, 1).unwrap();
        s.answer_request(y, x, true, 1).unwrap();
    }
    (a, b, c, ids[3])
}

pub(super) fn send(user: i64, conv: i64, client_id: &str, text: &str) -> ChatWrite {
    ChatWrite::Send { user, conv, client_id: client_id.into(), text: text.into() }
}

pub(super) fn sent(r: &Result<ChatWritten, ChatRefusal>) -> (MessageRow, bool) {
    match r {
        Ok(ChatWritten::Message { message, fresh, .. }) => (message.clone(), *fresh),
        other => panic!("expected a message, got {other:?}"),
    }
}

fn direct_conversations_need_contacts_and_are_unique_per_pair(s: &dyn Store) {
    let (a, b, _c, m) = three_friends(s);
    let (conv, created) = s.direct_conversation(a, b, 2).unwrap();
    assert!(created);
    assert_eq!(s.direct_conversation(b, a, 3).unwrap(), (conv, false));
    assert!(matches!(s.direct_conversation(a, m, 2), Err(StoreError::NotContacts)));
    assert!(matches!(s.direct_conversation(a, a, 2), Err(StoreError::NotFound)));
    assert!(matches!(s.direct_conversation(a, 999, 2), Err(StoreError::NotFound)));
    assert_eq!(s.conversation_members(conv).unwrap(), vec![a, b]);
}

fn sends_are_deduplicated_by_client_id_and_ordered_by_seq(s: &dyn Store) {
    let (a, b, _c, m) = three_friends(s);
    let (conv, _) = s.direct_conversation(a, b, 2).unwrap();
    let out = s
        .chat_write(&[send(a, conv, "c1", "hi"), send(b, conv, "c1", "hello"), send(a, conv, "c1", "hi (retry)")], 3)
        .unwrap();
    let (m1, fresh1) = sent(&out[0]);
    let (m2, _) = sent(&out[1]);
    let (m3, fresh3) = sent(&out[2]);
    assert!(fresh1 && !fresh3);
    assert_eq!(m3, m1, "a retry returns the stored original");
    assert_eq!((m1.seq, m2.seq), (1, 2));
    // Outsiders can neither write nor read.
    let out = s.chat_write(&[send(m, conv, "x", "let me in")], 4).unwrap();
    assert_eq!(out[0], Err(ChatRefusal::NoConversation));
    assert!(matches!(s.messages_before(m, conv, None, 10), Err(StoreError::NotFound)));
    assert!(s.conversation(m, conv).unwrap().is_none());
    let all = s.messages_before(b, conv, None, 10).unwrap();
    assert_eq!(all.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(), ["hi", "hello"]);
}

fn blocking_or_unfriending_stops_a_direct_conversation(s: &dyn Store) {
    let (a, b, c, _m) = three_friends(s);
    let (conv, _) = s.direct_conversation(a, b, 2).unwrap();
    s.block(b, a, 3).unwrap();
    assert_eq!(s.chat_write(&[send(a, conv, "1", "x")], 4).unwrap()[0], Err(ChatRefusal::NotAllowed));
    assert!(matches!(s.direct_conversation(a, b, 4), Err(StoreError::Blocked)));
    let (conv2, _) = s.direct_conversation(a, c, 2).unwrap();
    s.remove_contact(c, a).unwrap();
    assert_eq!(s.chat_write(&[send(a, conv2, "1", "x")], 4).unwrap()[0], Err(ChatRefusal::NotAllowed));
    // History stays readable for the members.
    assert!(s.messages_before(a, conv2, None, 10).unwrap().is_empty());
}

fn only_the_sender_edits_or_deletes_and_changes_bump_rev(s: &dyn Store) {
    let (a, b, _c, _m) = three_friends(s);
    let (conv, _) = s.direct_conversation(a, b, 2).unwrap();
    let (m1, _) = sent(&s.chat_write(&[send(a, conv, "1", "typo")], 3).unwrap()[0]);
    let (m2, _) = sent(&s.chat_write(&[send(b, conv, "2", "answer")], 3).unwrap()[0]);
    let out = s
        .chat_write(
            &[
                ChatWrite::Edit { user: b, conv, message: m1.id, text: "hijack".into() },
                ChatWrite::Edit { user: a, conv, message: m1.id, text: "fixed".into() },
                ChatWrite::Delete { user: b, conv, message: m2.id },
                ChatWrite::Delete { user: b, conv, message: m2.id },
                ChatWrite::Edit { user: a, conv, message: 9999, text: "?".into() },
            ],
            5,
        )
        .unwrap();
    assert_eq!(out[0], Err(ChatRefusal::NotYours));
    let (edited, _) = sent(&out[1]);
    assert_eq!((edited.body.as_str(), edited.edited_at, edited.seq, edited.rev), ("fixed", Some(5), 1, 3));
    let (deleted, _) = sent(&out[2]);
    assert!(deleted.deleted && deleted.body.is_empty());
    assert_eq!(out[3], Err(ChatRefusal::Deleted));
    assert_eq!(out[4], Err(ChatRefusal::NoMessage));
    // A device that had seen rev 2 catches up with both changes, in order.
    let changed = s.messages_changed_after(b, conv, 2, 100).unwrap();
    assert_eq!(changed.iter().map(|m| (m.id, m.rev)).collect::<Vec<_>>(), [(m1.id, 3), (m2.id, 4)]);
}

fn receipts_only_move_forward_and_drive_unread_counts(s: &dyn Store) {
    let (a, b, _c, _m) = three_friends(s);
    let (conv, _) = s.direct_conversation(a, b, 2).unwrap();
    let writes: Vec<ChatWrite> = (0..5).map(|i| send(a, conv, &i.to_string(), "m")).collect();
    s.chat_write(&writes, 3).unwrap();
    assert_eq!(s.conversation(b, conv).unwrap().unwrap().unread, 5);
    assert_eq!(s.conversation(a, conv).unwrap().unwrap().unread, 0);
    let out = s
        .chat_write(
            &[
                ChatWrite::Receipt { user: b, conv, delivered: 5, read: 3 },
                ChatWrite::Receipt { user: b, conv, delivered: 1, read: 1 },
                ChatWrite::Receipt { user: b, conv, delivered: 99, read: 0 },
            ],
            4,
        )
        .unwrap();
    let marks: Vec<(i64, i64, bool)> = out
        .iter()
        .map(|r| match r {
            Ok(ChatWritten::Receipt { delivered_seq, read_seq, changed, .. }) => (*delivered_seq, *read_seq, *changed),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(marks, [(5, 3, true), (5, 3, false), (5, 3, false)]);
    assert_eq!(s.conversation(b, conv).unwrap().unwrap().unread, 2);
}

fn groups_show_members_only_what_came_after_they_joined(s: &dyn Store) {
    let (a, b, c, m) = three_friends(s);
    assert!(matches!(s.create_group(a, "g", &[b, m], 2), Err(StoreError::NotContacts)));
    let (g, log) = s.create_group(a, "team", &[b], 2).unwrap();
    assert_eq!(log.iter().map(|m| m.kind).collect::<Vec<_>>(), [MessageKind::Created, MessageKind::Added]);
    s.chat_write(&[send(a, g, "1", "before carol")], 3).unwrap();
    // Bob may add his contact carol; mallory (nobody's contact) cannot be added.
    let change = s.add_member(b, g, c, 4).unwrap();
    assert_eq!(change.members, vec![a, b, c]);
    assert!(matches!(s.add_member(b, g, m, 4), Err(StoreError::NotContacts)));
    assert!(matches!(s.add_member(m, g, m, 4), Err(StoreError::NotFound)));
    assert!(matches!(s.add_member(a, g, c, 4), Err(StoreError::Forbidden)), "already a member");
    s.chat_write(&[send(a, g, "2", "after carol")], 5).unwrap();
    let seen: Vec<String> = s.messages_before(c, g, None, 50).unwrap().into_iter().map(|m| m.body).collect();
    assert_eq!(seen, ["carol", "after carol"]);
    // Only the owner removes others; anyone may leave; a leaving owner hands over.
    assert!(matches!(s.remove_member(b, g, c, 6), Err(StoreError::Forbidden)));
    s.remove_member(a, g, c, 6).unwrap();
    assert!(matches!(s.messages_before(c, g, None, 50), Err(StoreError::NotFound)));
    assert_eq!(s.chat_write(&[send(c, g, "3", "still here?")], 7).unwrap()[0], Err(ChatRefusal::NoConversation));
    let change = s.remove_member(a, g, a, 8).unwrap();
    assert_eq!(change.members, vec![b]);
    let conv = s.conversation(b, g).unwrap().unwrap();
    assert!(conv.members[0].owner);
    let renamed = s.rename_group(b, g, "new name", 9).unwrap();
    assert_eq!(renamed.message.kind, MessageKind::Renamed);
    assert_eq!(s.conversation(b, g).unwrap().unwrap().name, "new name");
    let (direct, _) = s.direct_conversation(a, b, 9).unwrap();
    assert!(matches!(s.rename_group(a, direct, "x", 9), Err(StoreError::Forbidden)));
}

fn history_pages_backwards(s: &dyn Store) {
    let (a, b, _c, _m) = three_friends(s);
    let (conv, _) = s.direct_conversation(a, b, 2).unwrap();
    let writes: Vec<ChatWrite> = (1..=25).map(|i| send(a, conv, &i.to_string(), &format!("m{i}"))).collect();
    s.chat_write(&writes, 3).unwrap();
    let page1 = s.messages_before(b, conv, None, 10).unwrap();
    assert_eq!((page1[0].seq, page1[9].seq), (16, 25));
    let page2 = s.messages_before(b, conv, Some(16), 10).unwrap();
    assert_eq!((page2[0].seq, page2[9].seq), (6, 15));
    let page3 = s.messages_before(b, conv, Some(6), 10).unwrap();
    assert_eq!(page3.len(), 5);
    let list = s.list_conversations(b).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].last_message.as_ref().map(|m| m.body.as_str()), Some("m25"));
}

pub(super) fn send_file(user: i64, conv: i64, client_id: &str, token: &str, size: i64) -> ChatWrite {
    ChatWrite::SendFile {
        user,
        conv,
        client_id: client_id.into(),
        body: format!(r#"{{"token":"{token}"}}"#),
        file: NewAttachment {
            token: token.into(),
            name: "report.pdf".into(),
            mime: "application/pdf".into(),
            size,
            sha256: "00".repeat(32),
        },
    }
}

fn attachments_are_readable_by_the_members_who_see_their_message_only(s: &dyn Store) {
    let (a, b, c, m) = three_friends(s);
    let (g, _) = s.create_group(a, "team", &[b], 2).unwrap();
    let out = s.chat_write(&[send_file(a, g, "f1", "tok1", 1000), send_file(m, g, "f2", "tok2", 5)], 3).unwrap();
    let (msg, fresh) = sent(&out[0]);
    assert!(fresh && msg.kind == MessageKind::File);
    assert_eq!(out[1], Err(ChatRefusal::NoConversation), "an outsider cannot post a file");
    assert!(!s.attachment_exists("tok2").unwrap(), "nothing recorded for the refused one");
    for user in [a, b] {
        let f = s.attachment_for(user, "tok1").unwrap().unwrap();
        assert_eq!((f.conv, f.message, f.uploader, f.size), (g, msg.id, Some(a), 1000));
    }
    assert_eq!(s.attachment_for(m, "tok1").unwrap(), None, "not a member");
    // Carol joins later: she does not see what was posted before, file included.
    s.add_member(a, g, c, 4).unwrap();
    assert_eq!(s.attachment_for(c, "tok1").unwrap(), None);
    // A file counts as unread like a text.
    assert_eq!(s.conversation(b, g).unwrap().unwrap().unread, 1);
    assert_eq!(s.attachment_usage(a).unwrap(), 1000);
    // A retry of the same upload finds the first message; the record is not doubled.
    let (again, fresh) = sent(&s.chat_write(&[send_file(a, g, "f1", "tok3", 1000)], 5).unwrap()[0]);
    assert!(!fresh && again.id == msg.id);
    assert!(!s.attachment_exists("tok3").unwrap());
    assert_eq!(s.attachment_usage(a).unwrap(), 1000);
    // A removed member loses access.
    s.remove_member(a, g, b, 6).unwrap();
    assert_eq!(s.attachment_for(b, "tok1").unwrap(), None);
}

fn a_deleted_file_message_takes_its_record_with_it_and_retention_ends_old_ones(s: &dyn Store) {
    let (a, b, _c, _m) = three_friends(s);
    let (conv, _) = s.direct_conversation(a, b, 2).unwrap();
    let out = s.chat_write(&[send_file(a, conv, "f1", "old", 10), send_file(a, conv, "f2", "new", 20)], 3).unwrap();
    let (old, _) = sent(&out[0]);
    // Only the sender deletes; a file cannot be edited.
    let out = s
        .chat_write(
            &[
                ChatWrite::Delete { user: b, conv, message: old.id },
                ChatWrite::Edit { user: a, conv, message: old.id, text: "x".into() },
                ChatWrite::Delete { user: a, conv, message: old.id },
            ],
            4,
        )
        .unwrap();
    assert_eq!(out[0], Err(ChatRefusal::NotYours));
    assert_eq!(out[1], Err(ChatRefusal::NoMessage));
    assert!(sent(&out[2]).0.deleted);
    assert!(!s.attachment_exists("old").unwrap());
    assert_eq!(s.attachment_for(b, "old").unwrap(), None);
    assert_eq!(s.attachment_usage(a).unwrap(), 20);
    // Retention: files uploaded before the cut-off go.
    s.chat_write(&[send_file(a, conv, "f3", "newer", 30)], 100).unwrap();
    assert_eq!(s.purge_attachments(50).unwrap(), vec!["new".to_owned()]);
    assert!(s.attachment_exists("newer").unwrap());
    assert_eq!(s.attachment_usage(a).unwrap(), 30);
}

pub(super) fn session_for(user_id: i64) -> NewSession {
    NewSession {
        token_hash: vec![user_id as u8; 32],
        user_id,
        csrf_token: "c".into(),
        user_agent: "t".into(),
        now: 1,
        expires_at: 100,
        absolute_expires_at: 100,
    }
}

fn dir_acc(name: &str, display: &str, admin: bool, active: bool) -> DirectoryAccount {
    DirectoryAccount { username: name.into(), display_name: display.into(), is_admin: admin, active }
}

fn directory_accounts_follow_the_directory_but_never_take_over_local_ones(s: &dyn Store) {
    let local = s.create_user(&new_user("root", true), 1).unwrap();
    // A directory entry named like a local account never touches it.
    assert_eq!(
        s.apply_directory_account(&dir_acc("root", "Impostor", true, true), true, 2).unwrap(),
        DirectoryApplied::LocalAccount
    );
    assert_eq!(s.user_by_id(local.id).unwrap().unwrap().display_name, "root");
    // Not created unless asked, nor when inactive.
    assert_eq!(
        s.apply_directory_account(&dir_acc("alice", "A", false, true), false, 2).unwrap(),
        DirectoryApplied::Absent
    );
    assert_eq!(
        s.apply_directory_account(&dir_acc("alice", "A", false, false), true, 2).unwrap(),
        DirectoryApplied::Absent
    );
    let DirectoryApplied::Created(alice) =
        s.apply_directory_account(&dir_acc("alice", "A", false, true), true, 2).unwrap()
    else {
        panic!("not created")
    };
    assert_eq!(alice.source, AccountSource::Directory);
    assert!(alice.password_hash.is_empty(), "no password is kept for a directory account");
    // Renamed and promoted by the directory.
    let got = s.apply_directory_account(&dir_acc("alice", "Alice B", true, true), false, 3).unwrap();
    assert!(
        matches!(&got, DirectoryApplied::Updated { user, sessions_ended: false } if user.display_name == "Alice B" && user.is_admin)
    );
    // Disabled by the directory: sessions end, once.
    let sid = s.create_session(&session_for(alice.id)).unwrap();
    let got = s.apply_directory_account(&dir_acc("alice", "Alice B", false, false), false, 4).unwrap();
    assert!(matches!(got, DirectoryApplied::Updated { sessions_ended: true, .. }));
    assert!(s.live_sessions(&[sid], 5).unwrap().is_empty());
    let got = s.apply_directory_account(&dir_acc("alice", "Alice B", false, false), false, 4).unwrap();
    assert!(matches!(got, DirectoryApplied::Updated { sessions_ended: false, .. }));
    // Let in again by the directory: enabled again.
    let got = s.apply_directory_account(&dir_acc("alice", "Alice B", false, true), false, 5).unwrap();
    assert!(matches!(&got, DirectoryApplied::Updated { user, .. } if !user.disabled));
    // Disabled here by an administrator: the directory does not re-enable it.
    s.update_user_flags(alice.id, Some(true), None).unwrap();
    let got = s.apply_directory_account(&dir_acc("alice", "Alice C", false, true), false, 6).unwrap();
    assert!(matches!(&got, DirectoryApplied::Updated { user, .. } if user.disabled && user.display_name == "Alice C"));
    // The source survives a reload from the database.
    assert_eq!(s.user_by_username("alice").unwrap().unwrap().source, AccountSource::Directory);
    assert_eq!(s.user_by_username("root").unwrap().unwrap().source, AccountSource::Local);
}

#[test]
fn backup_is_a_checked_snapshot_and_restore_refuses_to_lose_newer_data() {
    let (dir, s) = file_store();
    let db = dir.path().join("db.sqlite");
    s.create_user(&new_user("alice", true), 100).unwrap();
    let copy = dir.path().join("copy.sqlite");
    let info = backup::backup(&db, &copy).unwrap();
    assert_eq!((info.users, info.last_activity), (1, 100));
    assert!(matches!(backup::backup(&db, &copy), Err(StoreError::Backup(_))), "never overwrites");
    // Newer activity after the backup: restore refuses unless forced.
    s.create_user(&new_user("bob", false), 200).unwrap();
    drop(s);
    let err = backup::restore(&copy, &db, false, 300).unwrap_err().to_string();
    assert!(err.contains("newer") && err.contains("--force"), "{err}");
    let done = backup::restore(&copy, &db, true, 300).unwrap();
    let kept = done.previous.unwrap();
    assert_eq!(backup::inspect(&kept).unwrap().users, 2, "the replaced database is kept");
    let s = SqliteStore::open(&db).unwrap();
    assert!(s.user_by_username("bob").unwrap().is_none());
    assert!(s.user_by_username("alice").unwrap().is_some());
    // Garbage is refused before anything is touched.
    let junk = dir.path().join("junk.sqlite");
    std::fs::write(&junk, b"not a database at all, just some bytes").unwrap();
    assert!(backup::restore(&junk, &db, true, 400).is_err());
    assert!(s.user_by_username("alice").unwrap().is_some());
}

pub(super) fn new_meeting(host: Option<i64>, code: &str, link: &str) -> NewMeeting {
    NewMeeting {
        title: "Ward round".into(),
        link_token: link.into(),
        code: Some(code.into()),
        created_by: host,
        starts_at: None,
        ends_at: 1_000,
        access: MeetingAccess::Lobby,
    }
}

fn meetings_have_hosts_unique_codes_and_guests_who_wait_then_come_in_or_go(s: &dyn Store) {
    let host = s.create_user(&new_user("host", false), 1).unwrap();
    let m = s.create_meeting(&new_meeting(Some(host.id), "123456789012", "link-a"), 10).unwrap();
    assert!(m.live(10) && !m.live(1_000) && !m.by_code);
    assert!(matches!(
        s.create_meeting(&new_meeting(Some(host.id), "123456789012", "link-b"), 10),
        Err(StoreError::CodeTaken)
    ));
    assert_eq!(s.meeting_by_code("123456789012").unwrap().unwrap().id, m.id);
    assert_eq!(s.meeting_by_link("link-a").unwrap().unwrap().id, m.id);
    assert_eq!(s.meeting_role(m.id, host.id).unwrap().as_deref(), Some("host"));
    assert_eq!(s.meetings_hosted_by(host.id, 10).unwrap().len(), 1);
    assert!(s.meetings_past_end(999).unwrap().is_empty());
    assert_eq!(s.meetings_past_end(1_000).unwrap(), vec![m.id]);
    assert_eq!(s.conversation_members(m.conv).unwrap(), vec![host.id]);

    let g = s.create_guest(m.id, "guest~1", "Pat", 11).unwrap();
    assert_eq!(g.state, GuestState::Waiting);
    assert_eq!(g.user.source, AccountSource::Guest);
    // Guests are nobody's contacts and never found in the directory or the admin's list.
    assert!(s.search_users("pat", host.id, 10).unwrap().is_empty());
    assert!(s.list_users().unwrap().iter().all(|u| u.id != g.user.id));
    assert!(matches!(s.request_contact(host.id, g.user.id, 12), Err(StoreError::NotFound)));
    assert!(!s.conversation_members(m.conv).unwrap().contains(&g.user.id), "waiting is not in");

    let g = s.set_guest_state(g.user.id, GuestState::Admitted, 12).unwrap();
    assert_eq!(g.state, GuestState::Admitted);
    assert!(s.conversation_members(m.conv).unwrap().contains(&g.user.id));
    assert_eq!(s.meeting_role(m.id, g.user.id).unwrap().as_deref(), Some("guest"));

    // A removed guest is out for good: no membership, no way back in; the session only
    // lets the page learn that.
    let sid = s
        .create_session(&NewSession {
            token_hash: vec![7; 32],
            user_id: g.user.id,
            csrf_token: "c".into(),
            user_agent: "t".into(),
            now: 12,
            expires_at: 500,
            absolute_expires_at: 500,
        })
        .unwrap();
    assert!(sid > 0);
    s.set_guest_state(g.user.id, GuestState::Removed, 13).unwrap();
    assert_eq!(s.guest(g.user.id).unwrap().unwrap().state, GuestState::Removed);
    assert!(!s.conversation_members(m.conv).unwrap().contains(&g.user.id));
    assert!(matches!(s.set_guest_state(g.user.id, GuestState::Admitted, 14), Err(StoreError::Forbidden)));

    // Ending puts every guest still there out and frees the code.
    let w = s.create_guest(m.id, "guest~2", "Sam", 15).unwrap();
    let member = s.create_user(&new_user("member", false), 1).unwrap();
    s.join_meeting(m.id, member.id, 15).unwrap();
    assert_eq!(s.meeting_role(m.id, member.id).unwrap().as_deref(), Some("member"));
    assert_eq!(s.end_meeting(m.id, 16).unwrap(), vec![w.user.id]);
    assert_eq!(s.guest(w.user.id).unwrap().unwrap().state, GuestState::Gone);
    assert!(s.meeting_by_code("123456789012").unwrap().is_none());
    let ended = s.meeting(m.id).unwrap().unwrap();
    assert!(!ended.live(16) && ended.code.is_none());
    assert!(s.meetings_hosted_by(host.id, 16).unwrap().is_empty());
    s.create_meeting(&new_meeting(Some(host.id), "123456789012", "link-c"), 17).unwrap();
}

fn burnt_codes_stay_burnt_until_their_time(s: &dyn Store) {
    s.burn_code(b"h1", 100, 0).unwrap();
    assert!(s.code_burnt(b"h1", 99).unwrap());
    assert!(!s.code_burnt(b"h1", 100).unwrap());
    assert!(!s.code_burnt(b"h2", 0).unwrap());
}

fn a_room_is_claimed_by_one_node_taken_over_only_from_a_gone_one_and_released(s: &dyn Store) {
    let (a, b, c, _) = three_friends(s);
    let (g, _) = s.create_group(a, "Ward", &[b, c], 1).unwrap();
    assert_eq!(s.room_node(g).unwrap(), None);
    assert_eq!(s.claim_room(g, "n1", None, 2).unwrap(), "n1");
    // Another node learns who won; it cannot take over a node it does not name as gone.
    assert_eq!(s.claim_room(g, "n2", None, 3).unwrap(), "n1");
    assert_eq!(s.claim_room(g, "n2", Some("n3"), 3).unwrap(), "n1");
    assert_eq!(s.room_node(g).unwrap().as_deref(), Some("n1"));
    // n1 is gone: n2 takes over; n3, also seeing n1 gone, learns n2 won.
    assert_eq!(s.claim_room(g, "n2", Some("n1"), 4).unwrap(), "n2");
    assert_eq!(s.claim_room(g, "n3", Some("n1"), 4).unwrap(), "n2");
    // Only the holder's release counts.
    s.release_room(g, "n3").unwrap();
    assert_eq!(s.room_node(g).unwrap().as_deref(), Some("n2"));
    s.release_room(g, "n2").unwrap();
    assert_eq!(s.room_node(g).unwrap(), None);
    // A node starting afresh drops whatever it held; a conversation deleted takes its claim.
    s.claim_room(g, "n2", None, 5).unwrap();
    assert_eq!(s.release_rooms_of("n2").unwrap(), 1);
    assert_eq!(s.room_node(g).unwrap(), None);
}
