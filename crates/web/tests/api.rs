//! The REST API over real HTTPS against a real SQLite file: hostile input, CSRF, cookies,
//! rate limiting, authorization.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on what they set up

mod common;

use common::{send, start, PASSWORD};
use serde_json::json;

#[tokio::test]
async fn hostile_bodies_get_specific_4xx_errors() {
    let s = start().await;
    let c = s.client();
    let post = |body: Vec<u8>, ct: &'static str| c.req("POST", "/api/v1/session").header("content-type", ct).body(body);

    let (st, v) = send(post(b"{\"username\":".to_vec(), "application/json")).await;
    assert_eq!((st, v["code"].as_str()), (400, Some("invalid_json")));

    let (st, v) = send(post(b"{\"username\":\"a\xff\xfe\",\"password\":\"x\"}".to_vec(), "application/json")).await;
    assert_eq!((st, v["code"].as_str()), (400, Some("invalid_json")), "invalid UTF-8");

    let (st, v) = send(post(br#"{"username":1,"password":"x"}"#.to_vec(), "application/json")).await;
    assert_eq!((st, v["code"].as_str()), (422, Some("invalid_body")), "wrong type");

    let (st, v) = send(post(br#"{"username":"a","password":"x","is_admin":true}"#.to_vec(), "application/json")).await;
    assert_eq!((st, v["code"].as_str()), (422, Some("invalid_body")), "unknown field");
    assert!(v["message"].as_str().unwrap().contains("is_admin"));

    let (st, v) = send(post(br#"{"username":"a","password":"x"}"#.to_vec(), "text/plain")).await;
    assert_eq!((st, v["code"].as_str()), (415, Some("unsupported_media_type")));

    let huge = format!(r#"{{"username":"a","password":"{}"}}"#, "x".repeat(200_000));
    let (st, v) = send(post(huge.into_bytes(), "application/json")).await;
    assert_eq!((st, v["code"].as_str()), (413, Some("body_too_large")));

    let (st, v) = send(post(b"[]".to_vec(), "application/json")).await;
    assert_eq!((st, v["code"].as_str()), (422, Some("invalid_body")));

    for name in ["x' OR '1'='1", "admin'--", "<script>alert(1)</script>", "\u{0}", "ａｄｍｉｎ"] {
        let (st, v) = c.call("POST", "/api/v1/session", Some(json!({"username": name, "password": "whatever1"}))).await;
        assert_eq!((st, v["code"].as_str()), (401, Some("invalid_credentials")), "{name:?}");
    }

    let (st, v) = c.call("GET", "/api/v1/nope", None).await;
    assert_eq!((st, v["code"].as_str()), (404, Some("no_route")));
    let (st, v) = c.call("PUT", "/api/v1/session", None).await;
    assert_eq!((st, v["code"].as_str()), (405, Some("no_route")));
    let (st, _) = c.call("GET", "/readyz", None).await;
    assert_eq!(st, 200, "server still healthy after all of that");
}

#[tokio::test]
async fn injection_strings_in_names_are_refused_or_stored_literally() {
    let s = start().await;
    let admin = s.user("root", true).await;
    let (st, v) = admin
        .call(
            "POST",
            "/api/v1/admin/users",
            Some(json!({"username": "bob'; DROP TABLE users;--", "password": PASSWORD})),
        )
        .await;
    assert_eq!((st, v["code"].as_str(), v["field"].as_str()), (422, Some("invalid_field"), Some("username")));

    let evil = "<img src=x onerror=alert(1)>";
    let (st, v) = admin
        .call(
            "POST",
            "/api/v1/admin/users",
            Some(json!({"username": "eve", "display_name": evil, "password": PASSWORD})),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["display_name"], evil, "stored literally; the client renders it as text");

    let (st, v) = admin
        .call(
            "POST",
            "/api/v1/admin/users",
            Some(json!({"username": "mallory", "display_name": "adm\u{202E}nimda", "password": PASSWORD})),
        )
        .await;
    assert_eq!((st, v["field"].as_str()), (422, Some("display_name")));

    let (st, v) =
        admin.call("POST", "/api/v1/admin/users", Some(json!({"username": "EVE", "password": PASSWORD}))).await;
    assert_eq!((st, v["code"].as_str()), (409, Some("username_taken")), "usernames are case-folded");
    let (st, v) =
        admin.call("POST", "/api/v1/admin/users", Some(json!({"username": "weak", "password": "short"}))).await;
    assert_eq!((st, v["field"].as_str()), (422, Some("password")));
}

#[tokio::test]
async fn session_cookie_is_hardened_and_csrf_is_enforced() {
    let s = start().await;
    s.add_user("alice", false);
    let mut c = s.client();
    let resp = c
        .req("POST", "/api/v1/session")
        .json(&json!({"username": "Alice", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attr in ["__Host-mwsession=", "HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie} lacks {attr}");
    }
    let csp = resp.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"));
    let body: serde_json::Value = resp.json().await.unwrap();
    let token = body["csrf_token"].as_str().unwrap().to_owned();

    // state-changing request without the CSRF token
    let change = json!({"current_password": PASSWORD, "new_password": "another secret"});
    let (st, v) = c.call("POST", "/api/v1/me/password", Some(change.clone())).await;
    assert_eq!((st, v["code"].as_str()), (403, Some("csrf_failed")));
    // with a wrong one
    c.csrf = Some("x".repeat(43));
    let (st, _) = c.call("POST", "/api/v1/me/password", Some(change.clone())).await;
    assert_eq!(st, 403);
    // with the right token but from a foreign origin
    c.csrf = Some(token.clone());
    let (st, v) =
        send(c.req("POST", "/api/v1/me/password").header("origin", "https://evil.example").json(&change)).await;
    assert_eq!((st, v["code"].as_str()), (403, Some("csrf_failed")));
    let (st, _) = send(c.req("POST", "/api/v1/me/password").header("sec-fetch-site", "cross-site").json(&change)).await;
    assert_eq!(st, 403);
    // the genuine request
    let (st, _) = c.call("POST", "/api/v1/me/password", Some(change)).await;
    assert_eq!(st, 204);
    let (st, _) = c.login("alice", "another secret").await;
    assert_eq!(st, 200);
}

#[tokio::test]
async fn login_is_rate_limited_per_account_with_backoff() {
    let s = start().await;
    s.add_user("target", false);
    let mut c = s.client();
    for i in 0..6 {
        let (st, _) = c.login("target", &format!("guess-{i}")).await;
        assert_eq!(st, 401, "attempt {i}");
    }
    let resp = c
        .req("POST", "/api/v1/session")
        .json(&json!({"username": "target", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().contains_key("retry-after"));
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["code"], "rate_limited");
    assert!(v["retry_after_secs"].as_u64().unwrap() >= 1);
    // another account is not locked by this one's failures
    s.add_user("bystander", false);
    let (st, _) = c.login("bystander", PASSWORD).await;
    assert_eq!(st, 200);
}

#[tokio::test]
async fn authorization_is_checked_on_every_action() {
    let s = start().await;
    let anon = s.client();
    let member = s.user("member", false).await;
    let other = s.user("other", false).await;
    let admin = s.user("boss", true).await;

    for (m, p) in [("GET", "/api/v1/session"), ("GET", "/api/v1/sessions"), ("GET", "/api/v1/admin/users")] {
        let (st, v) = anon.call(m, p, None).await;
        assert_eq!((st, v["code"].as_str()), (401, Some("unauthenticated")), "{m} {p}");
    }
    let (st, v) = member.call("GET", "/api/v1/admin/users", None).await;
    assert_eq!((st, v["code"].as_str()), (403, Some("forbidden")));
    let (st, _) = member.call("POST", "/api/v1/admin/invites", Some(json!({}))).await;
    assert_eq!(st, 403);
    let (st, _) = member
        .call("POST", "/api/v1/admin/users", Some(json!({"username": "x2", "password": PASSWORD, "is_admin": true})))
        .await;
    assert_eq!(st, 403);

    // member cannot end other's session
    let (_, sessions) = other.call("GET", "/api/v1/sessions", None).await;
    let other_sid = sessions[0]["id"].as_i64().unwrap();
    let (st, _) = member.call("DELETE", &format!("/api/v1/sessions/{other_sid}"), None).await;
    assert_eq!(st, 404);
    let (st, _) = other.call("GET", "/api/v1/session", None).await;
    assert_eq!(st, 200);

    // the last admin cannot be disabled or demoted
    let (_, me) = admin.call("GET", "/api/v1/session", None).await;
    let admin_id = me["user"]["id"].as_i64().unwrap();
    let (st, v) =
        admin.call("PATCH", &format!("/api/v1/admin/users/{admin_id}"), Some(json!({"disabled": true}))).await;
    assert_eq!((st, v["code"].as_str()), (409, Some("last_admin")));

    // disabling a member ends their sessions at once
    let (_, me) = other.call("GET", "/api/v1/session", None).await;
    let other_id = me["user"]["id"].as_i64().unwrap();
    let (st, _) =
        admin.call("PATCH", &format!("/api/v1/admin/users/{other_id}"), Some(json!({"disabled": true}))).await;
    assert_eq!(st, 200);
    let (st, _) = other.call("GET", "/api/v1/session", None).await;
    assert_eq!(st, 401);
    let mut again = s.client();
    let (st, v) = again.login("other", PASSWORD).await;
    assert_eq!((st, v["code"].as_str()), (403, Some("account_disabled")));
    let (st, _) = admin.call("DELETE", &format!("/api/v1/admin/users/{other_id}"), None).await;
    assert_eq!(st, 204);
    let (st, _) = admin.call("DELETE", &format!("/api/v1/admin/users/{other_id}"), None).await;
    assert_eq!(st, 404);
}

#[tokio::test]
async fn invites_from_the_api_register_once() {
    let s = start().await;
    let admin = s.user("root", true).await;
    let (st, v) = admin.call("POST", "/api/v1/admin/invites", Some(json!({"expires_in_hours": 0}))).await;
    assert_eq!((st, v["field"].as_str()), (422, Some("expires_in_hours")));
    let (st, v) = admin.call("POST", "/api/v1/admin/invites", Some(json!({"expires_in_hours": 2}))).await;
    assert_eq!(st, 201);
    let url = v["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/invite#", s.url)));
    let token = url.rsplit_once('#').unwrap().1;

    let c = s.client();
    let (st, v) = c.call("POST", "/api/v1/invites/check", Some(json!({"token": token}))).await;
    assert_eq!((st, v["kind"].as_str()), (200, Some("registration")));
    let (st, v) = c
        .call("POST", "/api/v1/register", Some(json!({"token": token, "username": "Newbie", "password": PASSWORD})))
        .await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["user"]["username"], "newbie");
    assert_eq!(v["user"]["is_admin"], false);
    let (st, _) = c.call("GET", "/api/v1/session", None).await;
    assert_eq!(st, 200, "registration logs in");
    let (st, v) = s
        .client()
        .call("POST", "/api/v1/register", Some(json!({"token": token, "username": "second", "password": PASSWORD})))
        .await;
    assert_eq!((st, v["code"].as_str()), (410, Some("invite_invalid")));
    // What was typed is judged first, whatever the link: the form's mistake is named.
    let (st, v) = s
        .client()
        .call("POST", "/api/v1/register", Some(json!({"token": token, "username": "x", "password": PASSWORD})))
        .await;
    assert_eq!((st, v["field"].as_str()), (422, Some("username")));
    let (st, _) = s.client().call("POST", "/api/v1/invites/check", Some(json!({"token": "forged"}))).await;
    assert_eq!(st, 410);
    let (_, list) = admin.call("GET", "/api/v1/admin/invites", None).await;
    assert!(list[0]["used_at"].is_i64());
}

#[tokio::test]
async fn openapi_document_lists_every_endpoint() {
    let s = start().await;
    let (st, v) = s.client().call("GET", "/api/v1/openapi.json", None).await;
    assert_eq!(st, 200);
    let paths = v["paths"].as_object().unwrap();
    for p in [
        "/api/v1/session",
        "/api/v1/sessions",
        "/api/v1/sessions/{id}",
        "/api/v1/me/password",
        "/api/v1/register",
        "/api/v1/invites/check",
        "/api/v1/admin/users",
        "/api/v1/admin/users/{id}",
        "/api/v1/admin/invites",
        "/healthz",
        "/readyz",
    ] {
        assert!(paths.contains_key(p), "{p} missing from OpenAPI");
    }
    assert!(v["components"]["schemas"]["ErrorCode"].is_object());
}

#[tokio::test]
async fn plain_http_only_redirects() {
    let s = common::start_with(|c| c.http_redirect_listen = Some("127.0.0.1:0".parse().unwrap())).await;
    let addr = s.redirect.unwrap();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let resp = http.get(format!("http://{addr}/admin?x=1")).send().await.unwrap();
    assert_eq!(resp.status(), 308);
    assert_eq!(resp.headers()["location"], format!("{}/admin?x=1", s.url));
    let resp = http.post(format!("http://{addr}/api/v1/session")).body("{}").send().await.unwrap();
    assert_eq!(resp.status(), 308, "no API over plain HTTP");
}

async fn turn_urls_of(s: &common::TestServer) -> Vec<String> {
    let u = s.user("iceuser", false).await;
    let (st, v) = u.call("GET", "/api/v1/ice-servers", None).await;
    assert_eq!(st, 200);
    v["ice_servers"][0]["urls"].as_array().unwrap().iter().map(|u| u.as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn turns_urls_are_offered_only_with_a_real_certificate() {
    let turn = web::TurnRest {
        secret: b"s".to_vec(),
        ttl: std::time::Duration::from_secs(600),
        urls: vec!["turn:127.0.0.1:3478?transport=udp".into(), "turns:127.0.0.1:5349?transport=tcp".into()],
    };
    let t = turn.clone();
    let self_signed = common::start_with(move |c| c.turn = Some(t)).await;
    let urls = turn_urls_of(&self_signed).await;
    assert!(urls.iter().any(|u| u.starts_with("turn:")) && !urls.iter().any(|u| u.starts_with("turns:")), "{urls:?}");

    // The operator's own certificate (here one made for the test): turns: is offered.
    let dir = tempfile::tempdir().unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.key_pair.serialize_pem()).unwrap();
    let files = common::start_with(move |c| {
        c.turn = Some(turn);
        c.tls = web::TlsSource::Files { cert, key };
    })
    .await;
    let urls = turn_urls_of(&files).await;
    assert!(urls.iter().any(|u| u.starts_with("turns:")), "{urls:?}");
}

#[tokio::test]
async fn creating_and_searching_endpoints_are_rate_limited_per_session() {
    let s = common::start_with(|c| {
        c.budgets = web::BudgetRates {
            session_per_sec: 0.5,
            session_burst: 5.0,
            address_per_sec: 1000.0,
            address_burst: 1000.0,
        }
    })
    .await;
    let a = s.user("alice", false).await;
    let b = s.user("bob", false).await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(a.call("GET", "/api/v1/directory?q=bo", None).await);
    }
    assert!(statuses[..5].iter().all(|(st, _)| *st == 200), "{statuses:?}");
    let (st, v) = &statuses[5];
    assert_eq!((*st, v["code"].as_str()), (429, Some("rate_limited")), "{v}");
    assert!(v["retry_after_secs"].as_u64().is_some_and(|s| s >= 1), "{v}");
    // The same budget covers the other creating endpoints; another session has its own.
    for path in ["/api/v1/ice-servers"] {
        assert_eq!(a.call("GET", path, None).await.0, 429);
    }
    let (st, _) = a.call("POST", "/api/v1/contacts/requests", Some(json!({"user_id": b.id}))).await;
    assert_eq!(st, 429);
    assert_eq!(b.call("GET", "/api/v1/directory?q=al", None).await.0, 200);
    // Reading is not budgeted.
    assert_eq!(a.call("GET", "/api/v1/contacts", None).await.0, 200);
}

#[tokio::test]
async fn the_address_budget_covers_all_sessions_from_one_address() {
    let s = common::start_with(|c| {
        c.budgets = web::BudgetRates {
            session_per_sec: 1000.0,
            session_burst: 1000.0,
            address_per_sec: 0.5,
            address_burst: 4.0,
        }
    })
    .await;
    let a = s.user("alice", false).await;
    let b = s.user("bob", false).await;
    for _ in 0..2 {
        assert_eq!(a.call("GET", "/api/v1/ice-servers", None).await.0, 200);
        assert_eq!(b.call("GET", "/api/v1/ice-servers", None).await.0, 200);
    }
    assert_eq!(b.call("GET", "/api/v1/ice-servers", None).await.0, 429);
}

#[tokio::test]
async fn unparsable_path_and_query_parameters_get_json_errors() {
    let s = start().await;
    let a = s.user("alice", false).await;
    for path in [
        "/api/v1/conversations/abc",
        "/api/v1/conversations/99999999999999999999999/messages",
        "/api/v1/calls?limit=many",
    ] {
        let (st, v) = a.call("GET", path, None).await;
        assert_eq!(st, 400, "{path}: {v}");
        assert!(matches!(v["code"].as_str(), Some("invalid_field" | "invalid_body")), "{path}: {v}");
    }
}

#[test]
fn every_operation_declares_the_shared_error_statuses() {
    let doc: serde_json::Value = serde_json::from_str(&web::openapi_json()).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let statuses: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
            let has = |s: &str| statuses.iter().any(|k| *k == s);
            if path.starts_with("/api/v1/")
                && !matches!(path.as_str(), "/api/v1/session" | "/api/v1/register" | "/api/v1/invites/check")
            {
                assert!(has("401"), "{method} {path} lacks 401");
            }
            if method != "get" {
                assert!(has("403"), "{method} {path} lacks 403");
            }
            if op.get("requestBody").is_some() {
                for s in ["400", "413", "415", "422"] {
                    assert!(has(s), "{method} {path} lacks {s}");
                }
            }
            if path.contains('{') {
                assert!(has("400"), "{method} {path} lacks 400");
            }
        }
    }
}
