//! Meetings and guests through the real server: the lobby, what a guest session can reach
//! (every REST endpoint of the OpenAPI document and the signaling socket), guests put out
//! for good, meet-by-code, and guessing links and codes from one and from many addresses.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on what they set up

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use common::{start_with, with_sfu, Client, TestServer};
use serde_json::{json, Value};

async fn next_of(ws: &mut common::ws::Ws, ty: &str) -> Value {
    tokio::time::timeout(Duration::from_secs(10), ws.expect(ty)).await.unwrap()
}

/// A client without a session, sending from `from`.
fn anonymous(srv: &TestServer, from: Option<IpAddr>) -> Client {
    srv.client_from(from)
}

/// Posts to a `/meet/*` endpoint; on success the client holds the new guest session.
async fn enter(c: &mut Client, path: &str, body: Value) -> (u16, Value) {
    let resp = c.req("POST", path).json(&body).send().await.unwrap();
    let status = resp.status().as_u16();
    let cookie = common::session_cookie(&resp);
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    if let (200, Some(s)) = (status, v.get("session").filter(|s| !s.is_null())) {
        c.take_session(s, cookie);
    }
    (status, v)
}

fn link_token(m: &Value) -> String {
    m["link"].as_str().unwrap().trim_start_matches("/m/").to_owned()
}

#[tokio::test]
async fn a_guest_waits_is_let_in_and_reaches_nothing_but_its_meeting() {
    let srv = start_with(|cfg| {
        with_sfu(cfg);
        cfg.turn = Some(web::TurnRest {
            secret: b"test secret".to_vec(),
            ttl: Duration::from_secs(24 * 3600),
            urls: vec!["turn:127.0.0.1:3478".into()],
        });
    })
    .await;
    let host = srv.user("host", false).await;
    let other = srv.user("other", false).await;
    common::befriend(&host, &other).await;
    let (_, group) = host
        .call("POST", "/api/v1/conversations", Some(json!({"kind": "group", "name": "G", "members": [other.id]})))
        .await;
    let (_, elsewhere) = host.call("POST", "/api/v1/meetings", Some(json!({"title": "Another"}))).await;
    let ends_at = web::unix_now() + 3600;
    let (st, m) =
        host.call("POST", "/api/v1/meetings", Some(json!({"title": "Consultation", "ends_at": ends_at}))).await;
    assert_eq!(st, 201, "{m}");
    assert_eq!((m["role"].as_str(), m["access"].as_str()), (Some("host"), Some("lobby")));
    let code = m["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 14, "1234-5678-9012");
    let (id, conv) = (m["id"].as_i64().unwrap(), m["conv"].as_i64().unwrap());
    let mut host_ws = host.ws().await;

    // A guest with a bad name is refused; with a good one waits, and the host hears of it.
    let mut g = anonymous(&srv, None);
    let (st, e) = enter(&mut g, "/api/v1/meet/join", json!({"link": link_token(&m), "name": "\u{202e}evil"})).await;
    assert_eq!((st, e["code"].as_str()), (422, Some("invalid_field")));
    let (st, joined) = enter(&mut g, "/api/v1/meet/join", json!({"code": code, "name": "Pat Guest"})).await;
    assert_eq!((st, joined["state"].as_str()), (200, Some("waiting")), "{joined}");
    assert_eq!(joined["meeting"]["code"], Value::Null, "only hosts see the code");
    assert_eq!(joined["session"]["account_source"], "guest");
    let lobby = next_of(&mut host_ws, "meeting_lobby").await;
    assert_eq!(
        (lobby["arrived"].as_i64(), lobby["waiting"][0]["display_name"].as_str()),
        (Some(g.id), Some("Pat Guest"))
    );
    let mut gws = g.ws().await;
    // Waiting is not in: no chat, no ICE servers, no call.
    assert_eq!(g.call("GET", &format!("/api/v1/conversations/{conv}"), None).await.1["code"], "guest_forbidden");
    assert_eq!(g.call("GET", "/api/v1/ice-servers", None).await.1["code"], "guest_forbidden");
    assert_eq!(g.call("GET", &format!("/api/v1/meetings/{id}"), None).await.1["role"], "waiting");
    // A guest's list is their meeting only (a reloaded page finds it there).
    let (_, mine) = g.call("GET", "/api/v1/meetings", None).await;
    assert_eq!((mine.as_array().map(Vec::len), mine[0]["id"].as_i64()), (Some(1), Some(id)));

    // Nobody but a host admits.
    let (st, _) = other.call("POST", &format!("/api/v1/meetings/{id}/guests/{}/admit", g.id), None).await;
    assert_eq!(st, 404);
    // A guest's own steps: its host is told they are not theirs (they know the meeting), a
    // stranger that there is no such meeting; a lobby guest cannot "accept" (not made by code).
    for step in ["accept", "decline", "leave"] {
        let (st, v) = host.call("POST", &format!("/api/v1/meetings/{id}/{step}"), None).await;
        assert_eq!((st, v["code"].as_str()), (403, Some("not_allowed")), "host {step}");
        let (st, _) = other.call("POST", &format!("/api/v1/meetings/{id}/{step}"), None).await;
        assert_eq!(st, 404, "stranger {step}");
    }
    let (st, v) = g.call("POST", &format!("/api/v1/meetings/{id}/accept"), None).await;
    assert_eq!((st, v["code"].as_str()), (409, Some("not_allowed")));
    let (st, _) = host.call("POST", &format!("/api/v1/meetings/{id}/guests/{}/admit", g.id), None).await;
    assert_eq!(st, 204);
    let admitted = next_of(&mut gws, "meeting_admitted").await;
    assert_eq!(admitted["conv"].as_i64(), Some(conv));
    let (st, _) = g.call("GET", &format!("/api/v1/conversations/{conv}"), None).await;
    assert_eq!(st, 200);
    let (_, list) = g.call("GET", "/api/v1/conversations", None).await;
    let ids: Vec<i64> = list.as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![conv], "a guest's list holds their meeting only");
    let (st, ice) = g.call("GET", "/api/v1/ice-servers", None).await;
    assert_eq!(st, 200, "{ice}");
    // The guest's relay credentials end with the meeting, not a day later as members' do.
    let expires = ice["expires_at"].as_i64().unwrap();
    assert!(expires <= ends_at && expires > ends_at - 60, "{expires} vs {ends_at}");
    // ...and are scoped: the TURN server relays them to the conference port only.
    let turn_user = ice["ice_servers"][0]["username"].as_str().unwrap();
    assert!(turn::credentials::is_scoped(turn_user), "{turn_user}");
    assert!(host.call("GET", "/api/v1/ice-servers", None).await.1["expires_at"].as_i64().unwrap() > ends_at + 3600);

    // Every REST endpoint outside the guest's few: 403 guest_forbidden, whatever it addresses.
    let (_, doc) = srv.client().call("GET", "/api/v1/openapi.json", None).await;
    let public = [
        "/session:post",
        "/register:post",
        "/invites/check:post",
        "/openapi.json:get",
        "/meet/join:post",
        "/meet/code:post",
        "/ws:get",
    ];
    let allowed = [
        "/session:get",
        "/session:delete",
        "/meetings:get",
        "/meetings/{id}:get",
        "/meetings/{id}/accept:post",
        "/meetings/{id}/decline:post",
        "/meetings/{id}/leave:post",
        "/ice-servers:get",
        "/attachments/limits:get",
        "/attachments/{id}:get",
        "/conversations:get",
        "/conversations/{id}:get",
        "/conversations/{id}/messages:get",
        "/conversations/{id}/messages:post",
        "/conversations/{id}/attachments:post",
    ];
    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        let p = path.trim_start_matches("/api/v1");
        for method in ops.as_object().unwrap().keys() {
            let key = format!("{p}:{method}");
            if public.contains(&key.as_str()) || !path.starts_with("/api/v1") {
                continue;
            }
            // Addressed at the guest's own meeting and conversation where it has an id, so
            // only the gate can be the reason to refuse.
            let own_id = if p.starts_with("/meetings") { id } else { conv };
            let url = path.replace("{id}", &own_id.to_string()).replace("{user_id}", &host.id.to_string());
            let body = json!({});
            if allowed.contains(&key.as_str()) {
                // The same endpoint about someone else's conversation or meeting is refused.
                let foreign = if p.starts_with("/meetings") { &elsewhere["id"] } else { &group["id"] };
                let foreign = foreign.as_i64().unwrap();
                if path.contains("{id}") && !p.starts_with("/attachments") {
                    let url = path.replace("{id}", &foreign.to_string());
                    let (st, e) = g.call(&method.to_uppercase(), &url, Some(body)).await;
                    assert_eq!((st, e["code"].as_str()), (403, Some("guest_forbidden")), "{key} elsewhere");
                }
                continue;
            }
            let (st, e) = g.call(&method.to_uppercase(), &url, Some(body)).await;
            assert_eq!((st, e["code"].as_str()), (403, Some("guest_forbidden")), "{key}: {e}");
            checked += 1;
        }
    }
    assert!(checked >= 30, "the matrix covered {checked} endpoints");

    // Over the socket: the meeting's chat works, anything else is refused.
    gws.send(json!({"type": "chat_send", "id": 1, "conv": conv, "client_id": "c1", "text": "hello"})).await;
    assert_eq!(next_of(&mut gws, "chat_ack").await["id"], 1);
    gws.send(json!({"type": "call_invite", "id": 2, "callee": host.id, "media": "audio"})).await;
    assert_eq!(next_of(&mut gws, "error").await["code"], "guest_forbidden");
    gws.send(json!({"type": "chat_send", "id": 3, "conv": group["id"], "client_id": "c2", "text": "x"})).await;
    assert_eq!(next_of(&mut gws, "error").await["code"], "guest_forbidden");
    // Guests are in nobody's directory.
    let (_, found) = host.call("GET", "/api/v1/directory?q=pat", None).await;
    assert_eq!(found.as_array().map(Vec::len), Some(0), "{found}");

    // The host removes the guest: the socket closes with 4007, the session is dead, and
    // admitting them again is refused.
    let (st, _) = host.call("DELETE", &format!("/api/v1/meetings/{id}/guests/{}", g.id), None).await;
    assert_eq!(st, 204);
    assert_eq!(tokio::time::timeout(Duration::from_secs(10), gws.close_code()).await.unwrap(), Some(4007));
    // The session now only learns that it is out: from its meeting, and on a new socket,
    // closed at once with the reason.
    assert_eq!(g.call("GET", &format!("/api/v1/meetings/{id}"), None).await.1["role"], "removed");
    assert_eq!(g.call("GET", &format!("/api/v1/conversations/{conv}"), None).await.1["code"], "guest_forbidden");
    assert_eq!(g.call("GET", "/api/v1/ice-servers", None).await.1["code"], "guest_forbidden");
    let mut again = common::ws::connect(&g.base, g.cookie.as_deref(), Some(&g.base)).await.unwrap();
    assert_eq!(tokio::time::timeout(Duration::from_secs(10), again.close_code()).await.unwrap(), Some(4007));
    let (st, _) = host.call("POST", &format!("/api/v1/meetings/{id}/guests/{}/admit", g.id), None).await;
    assert_eq!(st, 409);
}

#[tokio::test]
async fn rejected_locked_members_only_and_ended_meetings_keep_guests_out() {
    let srv = start_with(with_sfu).await;
    let host = srv.user("host", false).await;
    let member = srv.user("member", false).await;
    let (_, m) = host.call("POST", "/api/v1/meetings", Some(json!({}))).await;
    let (id, link) = (m["id"].as_i64().unwrap(), link_token(&m));

    let mut g = anonymous(&srv, None);
    enter(&mut g, "/api/v1/meet/join", json!({"link": link, "name": "Sam"})).await;
    let mut gws = g.ws().await;
    let (st, _) = host.call("POST", &format!("/api/v1/meetings/{id}/guests/{}/reject", g.id), None).await;
    assert_eq!(st, 204);
    assert_eq!(tokio::time::timeout(Duration::from_secs(10), gws.close_code()).await.unwrap(), Some(4007));
    assert_eq!(g.call("GET", &format!("/api/v1/meetings/{id}"), None).await.1["role"], "rejected");
    // Joining again with the same session makes a new guest who waits again: no way around
    // the lobby.
    let (st, again) = enter(&mut g, "/api/v1/meet/join", json!({"link": link, "name": "Sam"})).await;
    assert_eq!((st, again["state"].as_str()), (200, Some("waiting")));

    // Members come in by link without a lobby; the meeting lists them as members.
    let (st, j) = member.call("POST", "/api/v1/meet/join", Some(json!({"link": link}))).await;
    assert_eq!((st, j["state"].as_str(), j["meeting"]["role"].as_str()), (200, Some("joined"), Some("member")));

    // Members only: guests refused. Locked: everyone new refused.
    host.call("PATCH", &format!("/api/v1/meetings/{id}"), Some(json!({"access": "members"}))).await;
    let mut g2 = anonymous(&srv, None);
    let (st, e) = enter(&mut g2, "/api/v1/meet/join", json!({"link": link, "name": "Sam"})).await;
    assert_eq!((st, e["code"].as_str()), (403, Some("meeting_locked")));
    let (st, m2) = host.call("PATCH", &format!("/api/v1/meetings/{id}"), Some(json!({"access": "locked"}))).await;
    assert_eq!((st, m2["access"].as_str()), (200, Some("locked")));
    let late = srv.user("late", false).await;
    let (st, e) = late.call("POST", "/api/v1/meet/join", Some(json!({"link": link}))).await;
    assert_eq!((st, e["code"].as_str()), (403, Some("meeting_locked")));
    let (st, _) = member.call("PATCH", &format!("/api/v1/meetings/{id}"), Some(json!({"access": "lobby"}))).await;
    assert_eq!(st, 403, "members do not run the meeting");

    // Ending: the waiting guest is out, members are told, link and code are dead.
    host.call("PATCH", &format!("/api/v1/meetings/{id}"), Some(json!({"access": "lobby"}))).await;
    let mut g3 = anonymous(&srv, None);
    enter(&mut g3, "/api/v1/meet/join", json!({"link": link, "name": "Kim"})).await;
    let mut g3ws = g3.ws().await;
    let mut mws = member.ws().await;
    let (st, _) = host.call("POST", &format!("/api/v1/meetings/{id}/end"), None).await;
    assert_eq!(st, 204);
    assert_eq!(tokio::time::timeout(Duration::from_secs(10), g3ws.close_code()).await.unwrap(), Some(4007));
    assert_eq!(next_of(&mut mws, "meeting_ended").await["meeting"].as_i64(), Some(id));
    let mut g4 = anonymous(&srv, None);
    let (st, e) = enter(&mut g4, "/api/v1/meet/join", json!({"link": link, "name": "Kim"})).await;
    assert_eq!((st, e["code"].as_str()), (404, Some("no_such_meeting")));
    assert_eq!(host.call("GET", "/api/v1/meetings", None).await.1, json!([]));
}

#[tokio::test]
async fn two_people_meet_by_the_same_code_and_the_code_is_burnt() {
    let srv = start_with(with_sfu).await;
    let mut a = anonymous(&srv, None);
    let (st, e) = enter(&mut a, "/api/v1/meet/code", json!({"code": "abc", "name": "Ann"})).await;
    assert_eq!((st, e["field"].as_str()), (422, Some("code")));
    let (st, first) = enter(&mut a, "/api/v1/meet/code", json!({"code": "Blue Harbour 42", "name": "Ann"})).await;
    assert_eq!((st, first["state"].as_str(), first["window_secs"].as_u64()), (200, Some("waiting"), Some(100)));
    let mut aws = a.ws().await;
    let mut b = anonymous(&srv, None);
    let (st, second) = enter(&mut b, "/api/v1/meet/code", json!({"code": "blue-harbour-42", "name": "Ben"})).await;
    assert_eq!((st, second["state"].as_str(), second["peer"].as_str()), (200, Some("matched"), Some("Ann")));
    let id = second["meeting"]["id"].as_i64().unwrap();
    assert_eq!(first["meeting"]["id"].as_i64(), Some(id));
    let matched = next_of(&mut aws, "meeting_matched").await;
    assert_eq!(matched["peer"], "Ben");
    let mut bws = b.ws().await;

    // Both accept: both are in, and can talk in the meeting's conversation.
    assert_eq!(a.call("POST", &format!("/api/v1/meetings/{id}/accept"), None).await.0, 204);
    assert_eq!(b.call("POST", &format!("/api/v1/meetings/{id}/accept"), None).await.0, 204);
    let conv = next_of(&mut aws, "meeting_admitted").await["conv"].as_i64().unwrap();
    assert_eq!(next_of(&mut bws, "meeting_admitted").await["conv"].as_i64(), Some(conv));
    bws.send(json!({"type": "room_join", "id": 1, "conv": conv})).await;
    assert_eq!(next_of(&mut bws, "room_welcome").await["id"], 1);

    // A third person with the used code: refused, for a day.
    let mut c = anonymous(&srv, None);
    let (st, e) = enter(&mut c, "/api/v1/meet/code", json!({"code": "BLUEHARBOUR42", "name": "Cy"})).await;
    assert_eq!((st, e["code"].as_str()), (410, Some("code_used")));

    // Declining ends it for both.
    let mut d = anonymous(&srv, None);
    enter(&mut d, "/api/v1/meet/code", json!({"code": "other-code-7", "name": "Dee"})).await;
    let mut dws = d.ws().await;
    let mut e2 = anonymous(&srv, None);
    let (_, m) = enter(&mut e2, "/api/v1/meet/code", json!({"code": "other-code-7", "name": "Eve"})).await;
    let id2 = m["meeting"]["id"].as_i64().unwrap();
    next_of(&mut dws, "meeting_matched").await;
    assert_eq!(e2.call("POST", &format!("/api/v1/meetings/{id2}/decline"), None).await.0, 204);
    assert_eq!(tokio::time::timeout(Duration::from_secs(10), dws.close_code()).await.unwrap(), Some(4007));
}

#[tokio::test]
async fn guessing_codes_from_one_or_many_addresses_is_refused_and_the_server_keeps_serving() {
    let srv = start_with(|cfg| {
        with_sfu(cfg);
        // A small global budget, so the test reaches it with few requests.
        cfg.meetings.guesses.global_per_minute = 40;
    })
    .await;
    let host = srv.user("host", false).await;
    let (_, m) = host.call("POST", "/api/v1/meetings", Some(json!({}))).await;
    let real = m["code"].as_str().unwrap().replace('-', "");
    // Wrong codes: never the real one (change its last digit).
    let wrong = |i: u32| {
        let mut c: Vec<u8> = format!("{:012}", (u64::from(i) * 7_919) % 1_000_000_000_000).into_bytes();
        if c == real.as_bytes() {
            c[11] = if c[11] == b'9' { b'0' } else { c[11] + 1 };
        }
        String::from_utf8(c).unwrap()
    };

    // One address: its free failures, then refused without looking (429), never a success.
    let one = anonymous(&srv, Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))));
    let mut statuses = Vec::new();
    for i in 0..14 {
        let (st, _) = one.call("POST", "/api/v1/meet/join", Some(json!({"code": wrong(i), "name": "X"}))).await;
        statuses.push(st);
    }
    // (Ten failures are free; the eleventh attempt is still looked at, then backoff.)
    assert_eq!(&statuses[..11], &[404; 11]);
    assert!(statuses[11..].iter().all(|&s| s == 429), "{statuses:?}");

    // Many addresses together: the global budget runs out, then everyone is refused.
    let mut tasks = Vec::new();
    for n in 0..60u8 {
        let c = anonymous(&srv, Some(IpAddr::V4(Ipv4Addr::new(127, 0, 1, n + 1))));
        let code = wrong(1000 + u32::from(n));
        tasks.push(tokio::spawn(async move {
            c.call("POST", "/api/v1/meet/join", Some(json!({"code": code, "name": "X"}))).await.0
        }));
    }
    let mut got = Vec::new();
    for t in tasks {
        got.push(t.await.unwrap());
    }
    assert!(got.iter().all(|&s| s == 404 || s == 429), "{got:?}");
    let refused = got.iter().filter(|&&s| s == 429).count();
    assert!(refused >= 25, "the global budget (40, 11 spent) refused only {refused} of 60");
    // Meanwhile the server serves everyone else.
    assert_eq!(host.call("GET", "/api/v1/meetings", None).await.0, 200);
    assert_eq!(srv.client().call("GET", "/healthz", None).await.0, 200);
}

#[tokio::test]
async fn a_meeting_whose_time_ran_out_ends_and_its_guests_are_out() {
    let srv = start_with(|cfg| {
        with_sfu(cfg);
        cfg.meetings.sweep_every = Duration::from_millis(200);
    })
    .await;
    let host = srv.user("host", false).await;
    let ends_at = web::unix_now() + 2;
    let (_, m) = host.call("POST", "/api/v1/meetings", Some(json!({"ends_at": ends_at}))).await;
    let mut g = anonymous(&srv, None);
    let (st, _) = enter(&mut g, "/api/v1/meet/join", json!({"link": link_token(&m), "name": "Pat"})).await;
    assert_eq!(st, 200);
    let mut gws = g.ws().await;
    assert_eq!(tokio::time::timeout(Duration::from_secs(20), gws.close_code()).await.unwrap(), Some(4007));
    assert!(srv.store.meeting(m["id"].as_i64().unwrap()).unwrap().unwrap().ended_at.is_some());
}

#[tokio::test]
async fn a_meeting_ends_when_its_last_host_leaves_the_call_and_does_not_come_back() {
    let srv = start_with(|cfg| {
        with_sfu(cfg);
        // Long beside the one round trip a quick return takes, even on a loaded machine.
        cfg.meetings.host_grace = Duration::from_secs(2);
    })
    .await;
    let host = srv.user("host", false).await;
    let (_, m) = host.call("POST", "/api/v1/meetings", Some(json!({}))).await;
    let conv = m["conv"].as_i64().unwrap();
    let mut g = anonymous(&srv, None);
    enter(&mut g, "/api/v1/meet/join", json!({"link": link_token(&m), "name": "Pat"})).await;
    let mut gws = g.ws().await;
    let mut hws = host.ws().await;
    // The host comes and goes quickly (a reload): the meeting goes on.
    hws.send(json!({"type": "room_join", "id": 1, "conv": conv})).await;
    next_of(&mut hws, "room_welcome").await;
    hws.send(json!({"type": "room_leave", "id": 2, "conv": conv})).await;
    next_of(&mut hws, "room_running").await;
    hws.send(json!({"type": "room_join", "id": 3, "conv": conv})).await;
    next_of(&mut hws, "room_welcome").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(srv.store.meeting(m["id"].as_i64().unwrap()).unwrap().unwrap().ended_at.is_none());
    // The host leaves for good: after the grace, over for everyone.
    hws.send(json!({"type": "room_leave", "id": 4, "conv": conv})).await;
    assert_eq!(tokio::time::timeout(Duration::from_secs(20), gws.close_code()).await.unwrap(), Some(4007));
    assert_eq!(next_of(&mut hws, "meeting_ended").await["conv"].as_i64(), Some(conv));
}
