//! Prometheus metrics scraped from their own listener and parsed, during a call and a chat.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on what they set up

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::befriend;
use serde_json::json;

/// Parses the text exposition format strictly: every sample line is `name{labels} value`
/// with a number, and every sample belongs to a family declared by `# TYPE`.
fn parse(text: &str) -> HashMap<String, f64> {
    let mut types: Vec<String> = Vec::new();
    let mut samples = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            types.push(rest.split_whitespace().next().unwrap().to_owned());
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("bad line {line:?}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in {line:?}"));
        let name = series.split('{').next().unwrap();
        assert!(
            types.iter().any(|t| name == t || name.strip_prefix(t.as_str()).is_some_and(|s| s.starts_with('_'))),
            "{name} has no # TYPE"
        );
        samples.insert(series.to_owned(), value);
    }
    samples
}

async fn scrape(addr: std::net::SocketAddr) -> HashMap<String, f64> {
    let text = reqwest::get(format!("http://{addr}/metrics")).await.unwrap().text().await.unwrap();
    parse(&text)
}

/// Scrapes until `check` holds (the hub publishes its figures as it works).
async fn scrape_until(
    addr: std::net::SocketAddr,
    what: &str,
    check: impl Fn(&HashMap<String, f64>) -> bool,
) -> HashMap<String, f64> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let m = scrape(addr).await;
        if check(&m) {
            return m;
        }
        assert!(Instant::now() < deadline, "{what}: {m:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn metrics_follow_a_call_and_a_chat() {
    let s = common::start_with(common::with_sfu).await;
    // (The binary feeds this from its TURN server.)
    s.metrics.set_turn_source(web::metrics::TurnFigures::default);
    let (addr, _task) = web::metrics::serve("127.0.0.1:0".parse().unwrap(), s.metrics.clone()).await.unwrap();
    let alice = s.user("alice", false).await;
    let bob = s.user("bob", false).await;
    befriend(&alice, &bob).await;
    let mut a = alice.ws().await;
    let mut b = bob.ws().await;
    let get = |m: &HashMap<String, f64>, k: &str| m.get(k).copied().unwrap_or(0.0);
    scrape_until(addr, "two sockets", |m| get(m, "mywebrtc_ws_connections") == 2.0).await;

    a.send(json!({"type": "call_invite", "id": 1, "callee": bob.id, "media": "audio"})).await;
    let call = a.expect("call_ringing").await["call_id"].as_u64().unwrap();
    b.expect("call_incoming").await;
    b.send(json!({"type": "call_accept", "id": 2, "call_id": call})).await;
    a.expect("call_accepted").await;
    let m = scrape_until(addr, "a call running", |m| get(m, "mywebrtc_active_calls") == 1.0).await;
    assert_eq!(get(&m, "mywebrtc_calls_started_total"), 1.0);
    assert!(get(&m, "mywebrtc_presence_changes_total") >= 2.0, "both came online");
    assert_eq!(get(&m, "mywebrtc_online_users"), 2.0);

    let (st, conv) = alice.call("POST", "/api/v1/conversations", Some(json!({"kind": "direct", "user": bob.id}))).await;
    assert_eq!(st, 201);
    let conv = conv["id"].as_i64().unwrap();
    let (st, _) = alice
        .call("POST", &format!("/api/v1/conversations/{conv}/messages"), Some(json!({"client_id": "m1", "text": "hi"})))
        .await;
    assert_eq!(st, 201);

    // A group call: the conference figures follow it.
    let (_, g) = alice
        .call("POST", "/api/v1/conversations", Some(json!({"kind": "group", "name": "G", "members": [bob.id]})))
        .await;
    a.send(json!({"type": "room_join", "id": 9, "conv": g["id"]})).await;
    a.expect("room_welcome").await;
    let m = scrape_until(addr, "a group call", |m| get(m, "mywebrtc_sfu_participants") == 1.0).await;
    assert_eq!(get(&m, "mywebrtc_sfu_rooms"), 1.0);
    assert_eq!(get(&m, "mywebrtc_sfu_tcp_connections"), 0.0);
    a.send(json!({"type": "room_leave", "id": 10, "conv": g["id"]})).await;
    scrape_until(addr, "the group call over", |m| get(m, "mywebrtc_sfu_rooms") == 0.0).await;

    a.send(json!({"type": "call_hangup", "id": 3, "call_id": call})).await;
    b.expect("call_ended").await;
    let m = scrape_until(addr, "the call ended", |m| get(m, "mywebrtc_active_calls") == 0.0).await;
    assert_eq!(get(&m, r#"mywebrtc_calls_ended_total{reason="hangup",answered="true"}"#), 1.0, "{m:?}");
    assert_eq!(get(&m, "mywebrtc_call_setup_seconds_count"), 1.0);
    assert!(get(&m, "mywebrtc_chat_writes_total") >= 1.0);
    assert!(get(&m, "mywebrtc_chat_commit_seconds_count") >= 1.0);
    assert!(get(&m, "mywebrtc_store_query_seconds_count") >= 1.0);
    let posted =
        r#"mywebrtc_http_requests_total{route="/api/v1/conversations/{id}/messages",method="POST",status="201"}"#;
    assert_eq!(get(&m, posted), 1.0, "{m:?}");
    assert!(get(&m, r#"mywebrtc_http_request_duration_seconds_count{route="/api/v1/session"}"#) >= 2.0);
    assert!(get(&m, "process_resident_memory_bytes") > 0.0);
    assert!(get(&m, "process_open_fds") > 0.0);
    // Unknown paths do not make new series: they count as "other".
    let _ = alice.call("GET", "/api/v1/no/such/path/123456", None).await;
    let text = reqwest::get(format!("http://{addr}/metrics")).await.unwrap().text().await.unwrap();
    let m = parse(&text);
    assert!(!m.keys().any(|k| k.contains("no/such")), "raw paths never become labels");
    assert!(get(&m, r#"mywebrtc_http_requests_total{route="other",method="GET",status="404"}"#) >= 1.0, "{m:?}");
    check_dashboard(&text);
}

/// Every series the Grafana dashboard in docs/ queries exists in `text`.
fn check_dashboard(text: &str) {
    let families: Vec<&str> =
        text.lines().filter_map(|l| l.strip_prefix("# TYPE ")?.split_whitespace().next()).collect();
    let dashboard =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/grafana-dashboard.json")).unwrap();
    let _: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
    let mut checked = 0;
    for start in
        dashboard.match_indices("mywebrtc_").map(|(i, _)| i).chain(dashboard.match_indices("process_").map(|(i, _)| i))
    {
        let name: String = dashboard[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if name == "mywebrtc_" || dashboard[..start].ends_with("\"uid\": \"") {
            continue;
        }
        let known = families
            .iter()
            .any(|f| name == *f || ["_total", "_bucket", "_count", "_sum"].iter().any(|s| name == format!("{f}{s}")));
        assert!(known, "the dashboard queries {name}, which the server does not export");
        checked += 1;
    }
    assert!(checked > 15);
}
