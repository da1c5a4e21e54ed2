//! Signaling load generator. Starts the real server binary on a seeded data directory, then
//!
//! 1. opens `--idle` authenticated WebSocket connections (hello included) from several
//!    loopback source addresses and reports the server's RSS per connection;
//! 2. with `--watchers` users who each have all `--broadcasters` as contacts, makes the
//!    broadcasters toggle their presence at each offered rate in `--rates` (changes/s, for
//!    `--secs` each) and reports delivery latency p50/p99 from change to arrival at a watcher,
//!    and the delivered messages per second.
//!
//! Every loop is bounded in count and time; the server is stopped by its PID at the end.
//! Usage: see bench/README.md.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use futures_util::StreamExt;
use serde_json::{json, Value};
use testkit::bench::{rss_kib, summary, wait_for_slot, Seeder, ServerProcess};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

struct Args {
    server_bin: String,
    idle: usize,
    watchers: usize,
    broadcasters: usize,
    rates: Vec<u32>,
    secs: u64,
    sources: u8,
}

fn args() -> Result<Args> {
    let mut a = Args {
        server_bin: "target/release/mywebrtc".into(),
        idle: 10_000,
        watchers: 1000,
        broadcasters: 40,
        rates: vec![100, 300, 1000],
        secs: 5,
        sources: 8,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().with_context(|| format!("{k} needs a value"))?;
        match k.as_str() {
            "--server-bin" => a.server_bin = v,
            "--idle" => a.idle = v.parse()?,
            "--watchers" => a.watchers = v.parse()?,
            "--broadcasters" => a.broadcasters = v.parse()?,
            "--rates" => a.rates = v.split(',').map(str::parse).collect::<Result<_, _>>()?,
            "--secs" => a.secs = v.parse()?,
            "--sources" => a.sources = v.parse()?,
            _ => bail!("unknown option {k}"),
        }
    }
    Ok(a)
}

/// Seeds users, contacts and sessions directly into the store; returns session cookies.
fn seed(dir: &std::path::Path, a: &Args) -> Result<(Vec<String>, Vec<String>, Vec<String>)> {
    let s = Seeder::open(dir)?;
    let broadcasters: Vec<(i64, String)> =
        (0..a.broadcasters).map(|i| s.user(&format!("b{i}"))).collect::<Result<_>>()?;
    let watchers: Vec<(i64, String)> = (0..a.watchers).map(|i| s.user(&format!("w{i}"))).collect::<Result<_>>()?;
    let idle_users = (a.idle / 50).max(1);
    let idle: Vec<(i64, String)> = (0..idle_users).map(|i| s.user(&format!("idle{i}"))).collect::<Result<_>>()?;
    for (b, _) in &broadcasters {
        for (w, _) in &watchers {
            s.befriend(*b, *w)?;
        }
    }
    let cookies = |v: Vec<(i64, String)>| v.into_iter().map(|(_, c)| c).collect();
    Ok((cookies(broadcasters), cookies(watchers), cookies(idle)))
}

#[tokio::main]
async fn main() -> Result<()> {
    let a = args()?;
    let dir = std::env::temp_dir().join(format!("ws-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (bcookies, wcookies, icookies) = seed(&dir, &a)?;
    let server = ServerProcess::start(&a.server_bin, &dir, "").await?;
    let (url, pid) = (server.url.clone(), server.pid);
    let sources: Vec<IpAddr> = (0..a.sources).map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + i))).collect();
    println!("server {url} (pid {pid}); idle={} watchers={} broadcasters={}", a.idle, a.watchers, a.broadcasters);

    // --- 1. idle connections and RSS
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss0 = rss_kib(pid)?;
    let mut idle = Vec::with_capacity(a.idle);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(900);
    let mut failures = 0usize;
    for chunk in (0..a.idle).collect::<Vec<_>>().chunks(200) {
        if Instant::now() > deadline {
            println!("idle: stopped at the 15-minute bound");
            break;
        }
        let opens = chunk.iter().map(|i| {
            let cookie = icookies[i % icookies.len()].clone();
            let src = sources[i % sources.len()];
            let server = &server;
            async move { server.ws(src, &cookie).await }
        });
        for r in futures_util::future::join_all(opens).await {
            match r {
                Ok(ws) => idle.push(ws),
                Err(_) => failures += 1,
            }
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss1 = rss_kib(pid)?;
    let n = idle.len().max(1);
    println!(
        "idle connections: {} open ({} failed) in {:.1} s; server RSS {} KiB -> {} KiB: {:.1} KiB per connection",
        idle.len(),
        failures,
        started.elapsed().as_secs_f64(),
        rss0,
        rss1,
        (rss1.saturating_sub(rss0)) as f64 / n as f64
    );

    // --- 2. presence fan-out
    let mut watchers = Vec::new();
    for (i, c) in wcookies.iter().enumerate() {
        watchers.push(server.ws(sources[i % sources.len()], c).await?);
    }
    let mut bcast = Vec::new();
    for (i, c) in bcookies.iter().enumerate() {
        bcast.push(server.ws(sources[i % sources.len()], c).await?);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Each watcher records when it received the k-th presence change of each broadcaster.
    type Arrivals = Arc<Mutex<Vec<HashMap<i64, Vec<Instant>>>>>;
    let arrivals: Arrivals = Arc::new(Mutex::new(vec![HashMap::new(); watchers.len()]));
    let mut readers = Vec::new();
    for (wi, mut w) in watchers.into_iter().enumerate() {
        let arrivals = arrivals.clone();
        readers.push(tokio::spawn(async move {
            while let Some(Ok(m)) = w.stream.next().await {
                if let Message::Text(t) = m {
                    let now = Instant::now();
                    let v: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
                    if v["type"] == "presence" {
                        let user = v["user"].as_i64().unwrap_or(0);
                        arrivals.lock().await[wi].entry(user).or_default().push(now);
                    }
                }
            }
        }));
    }
    // When each broadcaster sent its k-th change. Broadcasters were seeded first, in order,
    // so sorting a watcher's senders by user id gives the broadcaster index.
    let mut sent: Vec<Vec<Instant>> = vec![Vec::new(); bcast.len()];
    // Let the readers take in what arrived before the measurement (broadcasters coming online).
    tokio::time::sleep(Duration::from_millis(1000)).await;
    println!("presence fan-out to {} watchers (each change is delivered {} times):", a.watchers, a.watchers);
    println!("{:>14} {:>12} {:>12} {:>12} {:>16}", "offered ch/s", "changes", "p50 ms", "p99 ms", "delivered msg/s");
    let mut toggle = false;
    for &rate in &a.rates {
        for s in sent.iter_mut() {
            s.clear();
        }
        for w in arrivals.lock().await.iter_mut() {
            w.clear();
        }
        let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
        let total = (u64::from(rate) * a.secs) as usize;
        let t0 = Instant::now();
        for k in 0..total {
            wait_for_slot(t0, interval, k).await;
            let bi = k % bcast.len();
            if bi == 0 {
                toggle = !toggle;
            }
            let status = if toggle { "away" } else { "online" };
            sent[bi].push(Instant::now());
            bcast[bi].send(json!({"type": "set_presence", "status": status})).await;
        }
        let elapsed_send = t0.elapsed();
        tokio::time::sleep(Duration::from_secs(3)).await;
        // Match the k-th arrival at each watcher with the k-th change of that broadcaster.
        let arr = arrivals.lock().await;
        let mut lat = Vec::new();
        let mut delivered = 0usize;
        let mut last = t0;
        for w in arr.iter() {
            let mut users: Vec<&i64> = w.keys().collect();
            users.sort();
            for (bi, u) in users.into_iter().enumerate() {
                let times = &w[u];
                for (k, t) in times.iter().enumerate() {
                    if let Some(s) = sent.get(bi).and_then(|s| s.get(k)) {
                        lat.push(t.duration_since(*s).as_secs_f64() * 1000.0);
                    }
                    delivered += 1;
                    last = last.max(*t);
                }
            }
        }
        let (p50, p99, _) = summary(&mut lat);
        let span = last.duration_since(t0).max(elapsed_send).as_secs_f64();
        println!("{:>14} {:>12} {:>12.2} {:>12.2} {:>16.0}", rate, total, p50, p99, delivered as f64 / span);
    }
    for r in readers {
        r.abort();
    }
    drop(idle);
    server.stop().await;
    Ok(())
}
