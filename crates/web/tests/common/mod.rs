//! A real server on a free port with a real SQLite file (or, with
//! `MYWEBRTC_TEST_STORE=postgres`, a fresh database on a real PostgreSQL server), and HTTPS
//! clients for it.

#![allow(dead_code)]

pub use testkit::ws;

use std::sync::Arc;

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{json, Value};
use store::Store;

pub const PASSWORD: &str = "correct horse battery";

/// Turns group calls on, the conference media port on a free loopback port.
pub fn with_sfu(cfg: &mut web::WebConfig) {
    cfg.sfu = Some(sfu::SfuConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        announce: vec![],
        workers: 2,
        max_tcp_connections: sfu::DEFAULT_MAX_TCP_CONNECTIONS,
        // These tests speak signaling only: no participant ever brings its media up, and one
        // that has not within the connect timeout (20 s) leaves as `media_lost`. A slow,
        // loaded machine can reach that mid-test, so the tests wait far longer than they run.
        room: sfu::RoomConfig { connect_timeout: std::time::Duration::from_secs(600), ..sfu::RoomConfig::default() },
    });
}

pub struct TestServer {
    pub url: String,
    pub store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub redirect: Option<std::net::SocketAddr>,
    pub metrics: web::metrics::MetricsHandle,
    /// The runtime of a server started by [`start_killable`].
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// The store the test server runs on: SQLite unless `MYWEBRTC_TEST_STORE=postgres`.
pub fn test_store(dir: &std::path::Path) -> Arc<dyn Store> {
    if std::env::var("MYWEBRTC_TEST_STORE").as_deref() == Ok("postgres") {
        let url = testkit::postgres::shared().unwrap().fresh_database().unwrap();
        let opts = store::PgOptions { url, ca_file: None, pool_size: 4 };
        return Arc::new(store::PgStore::connect_postgres(&opts).unwrap());
    }
    Arc::new(store::SqliteStore::open(&dir.join("db.sqlite")).unwrap())
}

pub async fn start() -> TestServer {
    start_with(|_| {}).await
}

pub async fn start_with(tweak: impl FnOnce(&mut web::WebConfig)) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let store = test_store(dir.path());
    start_on(dir, store, tweak).await
}

/// A server on this store (its files in `dir`).
pub async fn start_on(
    dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    tweak: impl FnOnce(&mut web::WebConfig),
) -> TestServer {
    let mut cfg = web::WebConfig::with_defaults("127.0.0.1:0".parse().unwrap(), dir.path());
    tweak(&mut cfg);
    let server = web::Server::bind(cfg, store.clone()).unwrap();
    let url = server.public_url().to_owned();
    let redirect = server.http_redirect_addr();
    let metrics = server.metrics();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    TestServer { url, store, _dir: dir, stop: Some(tx), redirect, metrics, runtime: None }
}

/// A server as [`start_on`], on a runtime of its own, so that [`TestServer::kill`] can stop
/// it the way a crash or a power cut does (after a graceful shutdown its tasks, the hub and
/// the cluster bus among them, go on running in the test's runtime).
pub async fn start_killable(
    dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    tweak: impl FnOnce(&mut web::WebConfig) + Send + 'static,
) -> TestServer {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut server = rt.spawn(start_on(dir, store, tweak)).await.unwrap();
    server.runtime = Some(rt);
    server
}

impl TestServer {
    /// Starts the server's shutdown (what SIGTERM does in the binary).
    pub fn shutdown(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }

    /// Stops a server started by [`start_killable`] at once, as a crash does: every task of
    /// it ends where it is, nothing is drained, nobody is told (its sockets just close).
    pub fn kill(&mut self) {
        let rt = self.runtime.take().expect("kill needs a server of start_killable");
        // Dropped unsent: a graceful shutdown would start on the runtime that is going away.
        self.stop.take();
        rt.shutdown_background();
    }

    /// The server's data directory.
    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    pub fn add_user(&self, name: &str, admin: bool) -> store::User {
        let new = auth::prepare_new_user(name, None, PASSWORD, admin).unwrap();
        self.store.create_user(&new, web::unix_now()).unwrap()
    }

    /// A client with its own cookie jar, not logged in. Sends the same-origin `Origin`
    /// header a browser would.
    pub fn client(&self) -> Client {
        self.client_from(None)
    }

    /// A client as [`TestServer::client`], connecting from `from` (any 127.0.0.0/8 address
    /// works on Linux), to stand for many different addresses.
    pub fn client_from(&self, from: Option<std::net::IpAddr>) -> Client {
        let mut headers = HeaderMap::new();
        headers.insert("origin", HeaderValue::from_str(&self.url).unwrap());
        let mut b = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .cookie_store(true)
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none());
        if let Some(a) = from {
            b = b.local_address(a);
        }
        Client { http: b.build().unwrap(), base: self.url.clone(), csrf: None, cookie: None, id: 0 }
    }

    /// A logged-in client for a new account.
    pub async fn user(&self, name: &str, admin: bool) -> Client {
        self.add_user(name, admin);
        let mut c = self.client();
        let (status, _) = c.login(name, PASSWORD).await;
        assert_eq!(status, 200);
        c
    }
}

pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub csrf: Option<String>,
    /// `name=value` of the session cookie, for WebSocket clients.
    pub cookie: Option<String>,
    pub id: i64,
}

impl Client {
    pub async fn login(&mut self, name: &str, password: &str) -> (u16, Value) {
        let resp = self
            .req("POST", "/api/v1/session")
            .json(&json!({"username": name, "password": password}))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let cookie = session_cookie(&resp);
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        if status == 200 {
            self.take_session(&v, cookie);
        }
        (status, v)
    }

    /// Holds the session of a `SessionInfo` answer and its cookie (`name=value`).
    pub fn take_session(&mut self, info: &Value, cookie: Option<String>) {
        self.csrf = info["csrf_token"].as_str().map(str::to_owned);
        self.cookie = cookie;
        self.id = info["user"]["id"].as_i64().unwrap_or(0);
    }

    /// A signaling socket with this client's session, same-origin, after `hello`.
    pub async fn ws(&self) -> ws::Ws {
        let mut w = ws::connect(&self.base, self.cookie.as_deref(), Some(&self.base)).await.unwrap();
        w.hello().await;
        w
    }

    pub fn req(&self, method: &str, path: &str) -> reqwest::RequestBuilder {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut r = self.http.request(m, format!("{}{}", self.base, path));
        if let Some(t) = &self.csrf {
            r = r.header("x-csrf-token", t);
        }
        r
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self.req(method, path);
        if let Some(b) = body {
            r = r.json(&b);
        }
        send(r).await
    }
}

/// `name=value` of the cookie a response sets, if any.
pub fn session_cookie(resp: &reqwest::Response) -> Option<String> {
    resp.headers().get("set-cookie").and_then(|v| v.to_str().ok()).and_then(|v| v.split(';').next()).map(str::to_owned)
}

pub async fn send(r: reqwest::RequestBuilder) -> (u16, Value) {
    let resp = r.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let v = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    (status, v)
}

/// Makes `a` and `b` contacts (a asks, b accepts).
pub async fn befriend(a: &Client, b: &Client) {
    let (st, v) = a.call("POST", "/api/v1/contacts/requests", Some(json!({"user_id": b.id}))).await;
    assert_eq!((st, v["state"].as_str()), (200, Some("requested")));
    let (st, _) = b.call("POST", &format!("/api/v1/contacts/requests/{}/accept", a.id), None).await;
    assert_eq!(st, 204);
}
