//! Signaling load generator. Starts the real server binary on a seeded data directory, then
//!
//! 1. opens `--idle` authenticated WebSocket connections (hello included) from several
//!    loopback source addresses and reports the server's RSS per connection;
//! 2. with `--watchers` users who each have all `--broadcasters` as contacts, makes the
//!    broadcasters toggle their presence at each offered rate in `--rates` (changes/s, for
//!    `--secs` each) and reports delivery latency p50/p99 from change to arrival at a watcher,
//!    and the delivered messages per second.
//!
//! With `--cluster`, the same over two nodes on PostgreSQL and NATS (`cluster.rs`), beside
//! one node on the same database, with 1:1 call setup on one node and across two.
//!
//! Every loop is bounded in count and time; servers are stopped by their PID at the end.
//! Usage: see bench/README.md.

mod calls;
mod cluster;
mod fanout;
mod idle;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use testkit::bench::{Seeder, ServerProcess};

#[derive(Clone)]
pub(crate) struct Args {
    server_bin: String,
    idle: usize,
    watchers: usize,
    broadcasters: usize,
    rates: Vec<u32>,
    secs: u64,
    sources: u8,
    cluster: bool,
    calls: usize,
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
        cluster: false,
        calls: 100,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        if k == "--cluster" {
            a.cluster = true;
            continue;
        }
        let v = it.next().with_context(|| format!("{k} needs a value"))?;
        match k.as_str() {
            "--server-bin" => a.server_bin = v,
            "--idle" => a.idle = v.parse()?,
            "--watchers" => a.watchers = v.parse()?,
            "--broadcasters" => a.broadcasters = v.parse()?,
            "--rates" => a.rates = v.split(',').map(str::parse).collect::<Result<_, _>>()?,
            "--secs" => a.secs = v.parse()?,
            "--sources" => a.sources = v.parse()?,
            "--calls" => a.calls = v.parse()?,
            _ => bail!("unknown option {k}"),
        }
    }
    Ok(a)
}

/// Session cookies of the seeded users.
pub(crate) struct Seeded {
    pub broadcasters: Vec<String>,
    pub watchers: Vec<String>,
    pub idle: Vec<String>,
    /// Two contacts who call each other (cluster mode).
    pub callers: Vec<(i64, String)>,
}

/// Seeds users, contacts and sessions directly into the store.
pub(crate) fn seed(s: &Seeder, a: &Args) -> Result<Seeded> {
    let broadcasters: Vec<(i64, String)> =
        (0..a.broadcasters).map(|i| s.user(&format!("b{i}"))).collect::<Result<_>>()?;
    let watchers: Vec<(i64, String)> = (0..a.watchers).map(|i| s.user(&format!("w{i}"))).collect::<Result<_>>()?;
    // Ten connections per user (the server allows 16 per account and per session).
    let idle_users = (a.idle / 10).max(1);
    let idle: Vec<(i64, String)> = (0..idle_users).map(|i| s.user(&format!("idle{i}"))).collect::<Result<_>>()?;
    for (b, _) in &broadcasters {
        for (w, _) in &watchers {
            s.befriend(*b, *w)?;
        }
    }
    let callers: Vec<(i64, String)> = (0..2).map(|i| s.user(&format!("caller{i}"))).collect::<Result<_>>()?;
    s.befriend(callers[0].0, callers[1].0)?;
    let cookies = |v: Vec<(i64, String)>| v.into_iter().map(|(_, c)| c).collect();
    Ok(Seeded { broadcasters: cookies(broadcasters), watchers: cookies(watchers), idle: cookies(idle), callers })
}

pub(crate) fn sources(a: &Args) -> Vec<IpAddr> {
    (0..a.sources).map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + i))).collect()
}

#[tokio::main]
async fn main() -> Result<()> {
    // Internal: a child process holding idle connections (see idle.rs).
    let argv: Vec<String> = std::env::args().collect();
    if let [_, flag, spec] = &argv[..] {
        if flag == "--idle-worker" {
            return idle::worker(spec).await;
        }
    }
    let a = args()?;
    if a.cluster {
        return cluster::run(&a).await;
    }
    let dir = std::env::temp_dir().join(format!("ws-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let seeded = seed(&Seeder::open(&dir)?, &a)?;
    let server = ServerProcess::start(&a.server_bin, &dir, "").await?;
    println!(
        "server {} (pid {}); idle={} watchers={} broadcasters={}",
        server.url, server.pid, a.idle, a.watchers, a.broadcasters
    );
    let sources = sources(&a);

    // --- 1. idle connections and RSS
    let held = idle::open_here(&server, &seeded.idle, a.idle, &sources).await?;

    // --- 2. presence fan-out
    let watchers = idle::connect_all(&[&server], &seeded.watchers, &sources).await?;
    let bcast = idle::connect_all(&[&server], &seeded.broadcasters, &sources).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    fanout::fanout(bcast, watchers, &a.rates, a.secs).await;
    drop(held);
    server.stop().await;
    Ok(())
}
