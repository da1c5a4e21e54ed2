//! Our server: accounts seeded in the store, one group conversation per room, the binary
//! started with its limits loosened for the benchmark, and each participant speaking our
//! signaling protocol (room_join, room_sdp) over its own WebSocket.

use std::net::IpAddr;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::json;
use testkit::bench::{Seeder, ServerProcess};
use testkit::ws::Frame;

use crate::peer::{Peer, Totals};

pub struct Ours {
    pub server: ServerProcess,
    /// Per room: its conversation and the members' session cookies.
    rooms: Vec<(i64, Vec<String>)>,
    client_ip: IpAddr,
}

/// The benchmark's configuration: conference limits out of the way (room size, what one
/// participant may send), so the figures measure forwarding, not policy.
const LOOSENED: &str = "max_participants = 1000\nmax_ingress_kbps = 100000\n";

impl Ours {
    /// Seeds `rooms` groups of `size` members and starts the server.
    /// `server_ip`: where the server listens (web and media); `client_ip`: where the peers
    /// and WebSockets connect from.
    /// `adapt`: choose viewers' layers from their bandwidth estimates (`[sfu]
    /// bandwidth_adaptation`); off, every viewer gets the full layer, as from Janus.
    pub async fn start(
        bin: &str,
        rooms: usize,
        size: usize,
        server_ip: IpAddr,
        client_ip: IpAddr,
        adapt: bool,
    ) -> Result<Ours> {
        let dir = std::env::temp_dir().join(format!("sfu-load-{}-{}", std::process::id(), testkit::bench::unix_now()));
        std::fs::create_dir_all(&dir)?;
        let seeder = Seeder::open(&dir)?;
        let mut out = vec![];
        for r in 0..rooms {
            let mut ids = vec![];
            let mut cookies = vec![];
            for i in 0..size {
                let (id, cookie) = seeder.user(&format!("r{r}u{i}"))?;
                ids.push(id);
                cookies.push(cookie);
            }
            for other in &ids[1..] {
                seeder.befriend(ids[0], *other)?;
            }
            let (conv, _) =
                seeder.store.create_group(ids[0], &format!("room {r}"), &ids[1..], testkit::bench::unix_now())?;
            out.push((conv, cookies));
        }
        drop(seeder);
        let sfu = format!("[sfu]\nlisten = \"{server_ip}:0\"\n{LOOSENED}bandwidth_adaptation = {adapt}\n");
        let server = ServerProcess::start_at(bin, &dir, &sfu, &server_ip.to_string()).await?;
        Ok(Ours { server, rooms: out, client_ip })
    }

    /// Participant `i` of room `r` joins: publishing (audio + simulcast) or receive-only.
    pub async fn join(&self, r: usize, i: usize, publish: bool, totals: Arc<Totals>) -> Result<Participant> {
        let (conv, cookies) = self.rooms.get(r).context("room")?;
        let cookie = cookies.get(i).context("member")?;
        let mut ws = self.server.ws(self.client_ip, cookie).await?;
        ws.send(json!({"type": "room_join", "id": 1, "conv": conv})).await;
        let welcome = ws.expect("room_welcome").await;
        if welcome["participant"].as_u64().is_none() {
            bail!("not welcomed: {welcome}");
        }
        let peer = Peer::start(self.client_ip, totals).await?;
        let (sdp, pending) = if publish { peer.offer_publish(false)? } else { peer.offer_receive()? };
        ws.send(json!({"type": "room_sdp", "conv": conv, "kind": "offer", "sdp": sdp})).await;
        let conv = *conv;
        let peer = Arc::new(peer);
        let p = peer.clone();
        // Signaling for the rest of the session: our offer's answer, then the server's offers.
        let task = tokio::spawn(async move {
            let mut pending = Some(pending);
            while let Some(Frame::Text(m)) = ws.next_frame().await {
                if m["type"] != "room_sdp" {
                    continue;
                }
                let sdp = m["sdp"].as_str().unwrap_or_default();
                if m["kind"] == "answer" {
                    if let Some(pending) = pending.take() {
                        if let Err(e) = p.accept_answer(pending, sdp) {
                            eprintln!("answer refused: {e}");
                        }
                    }
                } else if pending.is_none() {
                    match p.accept_offer(sdp) {
                        Ok(answer) => {
                            ws.send(json!({"type": "room_sdp", "conv": conv, "kind": "answer", "rev": m["rev"], "sdp": answer})).await
                        }
                        Err(e) => eprintln!("offer refused: {e}"),
                    }
                }
            }
        });
        Ok(Participant { peer, task })
    }

    pub fn pid(&self) -> u32 {
        self.server.pid
    }
}

pub struct Participant {
    peer: Arc<Peer>,
    task: tokio::task::JoinHandle<()>,
}

impl Participant {
    pub async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
        match Arc::try_unwrap(self.peer) {
            Ok(peer) => peer.stop().await,
            Err(_) => eprintln!("{}", anyhow!("peer still shared")),
        }
    }
}
