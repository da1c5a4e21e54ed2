//! Janus (Debian's `janus`) with its VideoRoom plugin, the reference SFU: started with a
//! configuration of our own (HTTP API on a loopback port, ICE-lite, loopback candidates
//! only, every other plugin and transport off), and each participant driven through the
//! HTTP API: a session, a publisher handle (`joinandconfigure` with our offer) and one
//! multistream subscriber handle for everyone else in the room.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

use crate::peer::{Peer, Totals};

const LIB: &str = "/usr/lib/x86_64-linux-gnu/janus";

pub struct Janus {
    child: tokio::process::Child,
    pub pid: u32,
    base: String,
    http: reqwest::Client,
    dir: PathBuf,
    client_ip: IpAddr,
}

impl Janus {
    /// Janus listening on `server_ip` (its HTTP API and media), run through `wrapper` (e.g.
    /// `ip netns exec NS`, empty for none), gathering candidates on `interface` only.
    pub async fn start(
        wrapper: &str,
        interface: &str,
        server_ip: IpAddr,
        client_ip: IpAddr,
        port: u16,
    ) -> Result<Janus> {
        let dir = std::env::temp_dir().join(format!("sfu-load-janus-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let off_plugins = [
            "audiobridge",
            "duktape",
            "echotest",
            "lua",
            "nosip",
            "recordplay",
            "sip",
            "streaming",
            "textroom",
            "videocall",
            "voicemail",
        ]
        .map(|p| format!("libjanus_{p}.so"))
        .join(",");
        let off_transports =
            ["mqtt", "nanomsg", "pfunix", "rabbitmq", "websockets"].map(|p| format!("libjanus_{p}.so")).join(",");
        std::fs::write(
            dir.join("janus.jcfg"),
            format!(
                r#"general: {{
  configs_folder = "{cfg}"
  plugins_folder = "{LIB}/plugins"
  transports_folder = "{LIB}/transports"
  events_folder = "{LIB}/events"
  loggers_folder = "{LIB}/loggers"
  debug_level = 2
  session_timeout = 120
}}
media: {{
  rtp_port_range = "30000-60000"
}}
nat: {{
  ice_lite = true
  ice_enforce_list = "{interface}"
  ignore_mdns = true
}}
plugins: {{ disable = "{off_plugins}" }}
transports: {{ disable = "{off_transports}" }}
events: {{ broadcast = false }}
"#,
                cfg = dir.display()
            ),
        )?;
        std::fs::write(
            dir.join("janus.transport.http.jcfg"),
            format!("general: {{\n  json = \"compact\"\n  base_path = \"/janus\"\n  http = true\n  port = {port}\n  ip = \"{server_ip}\"\n  https = false\n}}\nadmin: {{ admin_http = false }}\n"),
        )?;
        std::fs::write(dir.join("janus.plugin.videoroom.jcfg"), "general: {\n}\n")?;
        let mut words: Vec<String> = wrapper.split_whitespace().map(str::to_owned).collect();
        words.push("janus".into());
        let child = tokio::process::Command::new(&words[0])
            .args(&words[1..])
            .args(["-F", &dir.display().to_string(), "-C", &dir.join("janus.jcfg").display().to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting janus (apt-get install janus)")?;
        let pid = child.id().context("janus pid")?;
        let j = Janus {
            child,
            pid,
            base: format!("http://{server_ip}:{port}/janus"),
            http: reqwest::Client::new(),
            dir,
            client_ip,
        };
        for _ in 0..100 {
            if j.http.get(format!("{}/info", j.base)).send().await.is_ok() {
                return Ok(j);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("janus did not answer on port {port}")
    }

    async fn post(&self, path: &str, mut body: Value) -> Result<Value> {
        body["transaction"] = json!(format!("t{}", rand_tx()));
        let v: Value = self.http.post(format!("{}{path}", self.base)).json(&body).send().await?.json().await?;
        if v["janus"] == "error" {
            bail!("janus error: {v}");
        }
        Ok(v)
    }

    /// A session with one handle on the VideoRoom plugin.
    async fn session(&self) -> Result<(u64, u64)> {
        let s = self.post("", json!({"janus": "create"})).await?["data"]["id"].as_u64().context("session id")?;
        let h = self.handle(s).await?;
        Ok((s, h))
    }

    async fn handle(&self, session: u64) -> Result<u64> {
        let v =
            self.post(&format!("/{session}"), json!({"janus": "attach", "plugin": "janus.plugin.videoroom"})).await?;
        v["data"]["id"].as_u64().context("handle id")
    }

    /// Creates room `room` (no bitrate cap, VP8 and Opus).
    pub async fn create_room(&self, room: u64) -> Result<()> {
        let (s, h) = self.session().await?;
        let body = json!({"request": "create", "room": room, "publishers": 1000, "bitrate": 0, "videocodec": "vp8", "audiocodec": "opus", "notify_joining": false});
        let v = self.post(&format!("/{s}/{h}"), json!({"janus": "message", "body": body})).await?;
        if v["plugindata"]["data"]["videoroom"] != "created" {
            bail!("room not created: {v}");
        }
        Ok(())
    }

    /// Waits for the next event on a handle (long poll on the session).
    async fn event(&self, session: u64, handle: u64) -> Result<Value> {
        for _ in 0..50 {
            let v: Value = self.http.get(format!("{}/{session}?maxev=1", self.base)).send().await?.json().await?;
            if v["sender"].as_u64() == Some(handle) && (v["janus"] == "event" || v["jsep"].is_object()) {
                return Ok(v);
            }
        }
        bail!("no event from janus")
    }

    /// A publisher: joins `room` with our audio + simulcast offer. Returns its feed id.
    pub async fn publish(&self, room: u64, totals: Arc<Totals>) -> Result<JanusParticipant> {
        let (s, h) = self.session().await?;
        let peer = Peer::start(self.client_ip, totals).await?;
        let (sdp, pending) = peer.offer_publish(true)?;
        let body =
            json!({"request": "joinandconfigure", "ptype": "publisher", "room": room, "audio": true, "video": true});
        self.post(
            &format!("/{s}/{h}"),
            json!({"janus": "message", "body": body, "jsep": {"type": "offer", "sdp": sdp}}),
        )
        .await?;
        let ev = self.event(s, h).await?;
        let answer = ev["jsep"]["sdp"].as_str().ok_or_else(|| anyhow!("no answer: {ev}"))?;
        peer.accept_answer(pending, answer)?;
        let feed = ev["plugindata"]["data"]["id"].as_u64().context("publisher id")?;
        // Janus offers a feed to subscribers once its publisher's media is up.
        if let Err(e) = peer.wait_connected().await {
            bail!(
                "{e}; janus answer candidates: {:?}",
                answer
                    .lines()
                    .filter(|l| l.contains("candidate") || l.starts_with("c=") || l.contains("ice-lite"))
                    .collect::<Vec<_>>()
            );
        }
        Ok(JanusParticipant { peer, session: s, feed: Some(feed), keepalive: self.keepalive(s) })
    }

    /// A subscriber to `feeds` of `room` (one multistream handle).
    pub async fn subscribe(&self, room: u64, feeds: &[u64], totals: Arc<Totals>) -> Result<JanusParticipant> {
        let (s, h) = self.session().await?;
        let peer = Peer::start(self.client_ip, totals).await?;
        let streams: Vec<Value> = feeds.iter().map(|f| json!({"feed": f})).collect();
        let body = json!({"request": "join", "ptype": "subscriber", "room": room, "streams": streams});
        let mut ev = Value::Null;
        // A feed whose media just came up may not be offered yet ("no such feed"): retry.
        for _ in 0..40 {
            self.post(&format!("/{s}/{h}"), json!({"janus": "message", "body": body.clone()})).await?;
            ev = self.event(s, h).await?;
            if ev["plugindata"]["data"]["error_code"] != 428 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let offer = ev["jsep"]["sdp"].as_str().ok_or_else(|| anyhow!("no offer: {ev}"))?;
        let answer = peer.accept_offer(offer)?;
        self.post(
            &format!("/{s}/{h}"),
            json!({"janus": "message", "body": {"request": "start"}, "jsep": {"type": "answer", "sdp": answer}}),
        )
        .await?;
        Ok(JanusParticipant { peer, session: s, feed: None, keepalive: self.keepalive(s) })
    }

    /// Keeps a session alive (Janus ends sessions that stay silent).
    fn keepalive(&self, session: u64) -> tokio::task::JoinHandle<()> {
        let (http, url) = (self.http.clone(), format!("{}/{session}", self.base));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(20)).await;
                let _ = http.post(&url).json(&json!({"janus": "keepalive", "transaction": "k"})).send().await;
            }
        })
    }

    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn rand_tx() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    N.fetch_add(1, Ordering::Relaxed)
}

pub struct JanusParticipant {
    peer: Peer,
    #[allow(dead_code)]
    session: u64,
    pub feed: Option<u64>,
    keepalive: tokio::task::JoinHandle<()>,
}

impl JanusParticipant {
    pub async fn stop(self) {
        self.keepalive.abort();
        self.peer.stop().await;
    }
}
