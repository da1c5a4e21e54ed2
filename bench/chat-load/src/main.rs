//! Chat load generator. Starts the real server binary on a seeded data directory, then
//!
//! 1. **ack latency**: `--clients` users, each in a direct conversation, send messages over
//!    their WebSockets at each total offered rate of `--rates` (msg/s) for `--secs`, on each
//!    database of `--stores` (`sqlite`, `postgres`: a PostgreSQL server the generator starts
//!    in a temporary directory with production durability); for each message it
//!    measures the time from sending `chat_send` to receiving its `chat_ack` (which the server
//!    sends only after the SQLite commit, synchronous=FULL), and reports p50/p99/max and the
//!    acknowledged rate;
//! 2. **group fan-out**: one member of a `--group`-member group posts at `--group-rate` msg/s;
//!    every other member's socket records arrival; it reports delivery latency p50/p99;
//! 3. **baseline, same run, same disk**: a raw SQLite file with the same pragmas (WAL,
//!    synchronous=FULL) committing one INSERT per transaction, one after the other: the
//!    latency of one durable write with nothing else in the way.
//!
//! Every loop is bounded in count and time; the server is stopped by its PID at the end.
//! Usage: see bench/README.md.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use testkit::bench::{summary, wait_for_slot, Seeder, ServerProcess};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

struct Args {
    server_bin: String,
    clients: usize,
    rates: Vec<u32>,
    stores: Vec<String>,
    secs: u64,
    group: usize,
    group_rate: u32,
    baseline_commits: usize,
}

fn args() -> Result<Args> {
    let mut a = Args {
        server_bin: "target/release/mywebrtc".into(),
        clients: 100,
        rates: vec![1000],
        stores: vec!["sqlite".into()],
        secs: 10,
        group: 100,
        group_rate: 20,
        baseline_commits: 2000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().with_context(|| format!("{k} needs a value"))?;
        match k.as_str() {
            "--server-bin" => a.server_bin = v,
            "--clients" => a.clients = v.parse()?,
            "--rate" | "--rates" => a.rates = v.split(',').map(str::parse).collect::<Result<_, _>>()?,
            "--stores" => a.stores = v.split(',').map(str::to_owned).collect(),
            "--secs" => a.secs = v.parse()?,
            "--group" => a.group = v.parse()?,
            "--group-rate" => a.group_rate = v.parse()?,
            "--baseline-commits" => a.baseline_commits = v.parse()?,
            _ => bail!("unknown option {k}"),
        }
    }
    if a.clients == 0 || a.group < 2 || a.rates.contains(&0) || a.group_rate == 0 || a.secs == 0 || a.secs > 300 {
        bail!("need --clients ≥ 1, --group ≥ 2, rates ≥ 1 and 1 ≤ --secs ≤ 300");
    }
    if let Some(s) = a.stores.iter().find(|s| !matches!(s.as_str(), "sqlite" | "postgres")) {
        bail!("unknown store {s:?} (sqlite or postgres)");
    }
    Ok(a)
}

struct Seeded {
    /// (cookie, direct conversation) per sending client.
    senders: Vec<(String, i64)>,
    /// Cookies of the group's members; the first one posts.
    group: Vec<String>,
    group_conv: i64,
}

fn seed(s: &Seeder, a: &Args) -> Result<Seeded> {
    let now = testkit::bench::unix_now();
    let (sink, _) = s.user("sink")?;
    let mut senders = Vec::with_capacity(a.clients);
    for i in 0..a.clients {
        let (id, cookie) = s.user(&format!("c{i}"))?;
        s.befriend(id, sink)?;
        let (conv, _) = s.store.direct_conversation(id, sink, now)?;
        senders.push((cookie, conv));
    }
    let members: Vec<(i64, String)> = (0..a.group).map(|i| s.user(&format!("g{i}"))).collect::<Result<_>>()?;
    let owner = members[0].0;
    for (m, _) in &members[1..] {
        s.befriend(owner, *m)?;
    }
    let ids: Vec<i64> = members[1..].iter().map(|(m, _)| *m).collect();
    let (group_conv, _) = s.store.create_group(owner, "bench", &ids, now)?;
    Ok(Seeded { senders, group: members.into_iter().map(|(_, c)| c).collect(), group_conv })
}

fn source(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + (i % 8) as u8))
}

/// Phase 1: offered load over many clients; returns ack latencies (ms) and refusals.
async fn ack_latency(
    server: &ServerProcess,
    a: &Args,
    rate: u32,
    senders: &[(String, i64)],
) -> Result<(Vec<f64>, usize, f64)> {
    let sent_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let acked: Arc<Mutex<Vec<f64>>> = Arc::default();
    let refused: Arc<Mutex<usize>> = Arc::default();
    let mut sinks = Vec::new();
    let mut readers = Vec::new();
    for (i, (cookie, _)) in senders.iter().enumerate() {
        let ws = server.ws(source(i), cookie).await?;
        let (tx, mut rx) = ws.stream.split();
        sinks.push(tx);
        let (sent_at, acked, refused) = (sent_at.clone(), acked.clone(), refused.clone());
        readers.push(tokio::spawn(async move {
            while let Some(Ok(m)) = rx.next().await {
                let Message::Text(t) = m else { continue };
                let now = Instant::now();
                let v: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
                if v["type"] == "chat_ack" {
                    let id = v["message"]["client_id"].as_str().unwrap_or_default();
                    if let Some(t0) = sent_at.lock().await.get(id) {
                        acked.lock().await.push(now.duration_since(*t0).as_secs_f64() * 1000.0);
                    }
                } else if v["type"] == "error" {
                    *refused.lock().await += 1;
                }
            }
        }));
    }
    let total = (u64::from(rate) * a.secs) as usize;
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
    let t0 = Instant::now();
    for k in 0..total {
        wait_for_slot(t0, interval, k).await;
        let ci = k % senders.len();
        let client_id = format!("r{rate}k{k}");
        let frame = json!({"type": "chat_send", "conv": senders[ci].1, "client_id": client_id, "text": format!("load message {k}")});
        sent_at.lock().await.insert(client_id, Instant::now());
        sinks[ci].send(Message::Text(frame.to_string().into())).await?;
    }
    // Wait (bounded) for the acknowledgements still in flight.
    let deadline = Instant::now() + Duration::from_secs(10);
    while acked.lock().await.len() + *refused.lock().await < total && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let span = t0.elapsed().as_secs_f64();
    for r in readers {
        r.abort();
    }
    let lat = std::mem::take(&mut *acked.lock().await);
    let refused = *refused.lock().await;
    Ok((lat, refused, span))
}

/// Phase 2: one member posts to the group; every other member records arrival.
async fn fan_out(server: &ServerProcess, a: &Args, members: &[String], conv: i64) -> Result<(Vec<f64>, usize)> {
    let sent_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let arrivals: Arc<Mutex<Vec<f64>>> = Arc::default();
    let mut readers = Vec::new();
    for (i, cookie) in members.iter().enumerate().skip(1) {
        let mut ws = server.ws(source(i), cookie).await?;
        let (sent_at, arrivals) = (sent_at.clone(), arrivals.clone());
        readers.push(tokio::spawn(async move {
            while let Some(Ok(m)) = ws.stream.next().await {
                let Message::Text(t) = m else { continue };
                let now = Instant::now();
                let v: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
                if v["type"] == "chat_message" {
                    let id = v["message"]["client_id"].as_str().unwrap_or_default();
                    if let Some(t0) = sent_at.lock().await.get(id) {
                        arrivals.lock().await.push(now.duration_since(*t0).as_secs_f64() * 1000.0);
                    }
                }
            }
        }));
    }
    let mut poster = server.ws(source(0), &members[0]).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let total = (u64::from(a.group_rate) * a.secs) as usize;
    let interval = Duration::from_secs_f64(1.0 / f64::from(a.group_rate));
    let t0 = Instant::now();
    for k in 0..total {
        wait_for_slot(t0, interval, k).await;
        let client_id = format!("g{k}");
        sent_at.lock().await.insert(client_id.clone(), Instant::now());
        poster.send(json!({"type": "chat_send", "conv": conv, "client_id": client_id, "text": "to the group"})).await;
    }
    let expected = total * (members.len() - 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while arrivals.lock().await.len() < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for r in readers {
        r.abort();
    }
    let lat = std::mem::take(&mut *arrivals.lock().await);
    Ok((lat, expected))
}

/// Phase 3: one durable INSERT per transaction on a raw SQLite file, like the server's pragmas.
fn baseline(dir: &std::path::Path, commits: usize) -> Result<Vec<f64>> {
    let conn = rusqlite::Connection::open(dir.join("baseline.sqlite"))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch("CREATE TABLE m (id INTEGER PRIMARY KEY, conv INTEGER, body TEXT)")?;
    let mut lat = Vec::with_capacity(commits);
    for k in 0..commits {
        let t0 = Instant::now();
        conn.execute(
            "INSERT INTO m (conv, body) VALUES (?1, ?2)",
            rusqlite::params![k as i64 % 100, format!("load message {k}")],
        )?;
        lat.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(lat)
}

/// One database's figures.
struct Figures {
    store: String,
    /// Per offered rate: (rate, latencies, refused, span, server CPU seconds).
    acks: Vec<(u32, Vec<f64>, usize, f64, f64)>,
    fan: Vec<f64>,
    expected: usize,
}

async fn measure(a: &Args, kind: &str) -> Result<Figures> {
    let dir = std::env::temp_dir().join(format!("chat-load-{kind}-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    // PostgreSQL: a server of our own with production durability, the node configured for it.
    let (pg, store_cfg) = if kind == "postgres" {
        let pg = tokio::task::spawn_blocking(testkit::postgres::Postgres::start_durable).await??;
        let url = pg.fresh_database()?;
        (Some(pg), format!("[store]\nurl = {url:?}\n"))
    } else {
        (None, String::new())
    };
    let seeder = match &pg {
        Some(pg) => {
            let opts = store::PgOptions { url: pg.url(&pg_db_name(&store_cfg)), ca_file: None, pool_size: 2 };
            Seeder::on(Box::new(store::PgStore::connect_postgres(&opts)?))?
        }
        None => Seeder::open(&dir)?,
    };
    let seeded = seed(&seeder, a)?;
    drop(seeder);
    // The offered load is far above a person's posting rate: lift the per-user limit.
    let extra = format!("[chat]\nrate_per_sec = 100000\nburst = 100000\n{store_cfg}");
    let server = ServerProcess::start(&a.server_bin, &dir, &extra).await?;
    println!("{kind}: server {} (pid {}); {} clients, {} s per rate", server.url, server.pid, a.clients, a.secs);
    let mut acks = Vec::new();
    for &rate in &a.rates {
        let cpu0 = server.cpu_secs()?;
        let (lat, refused, span) = ack_latency(&server, a, rate, &seeded.senders).await?;
        acks.push((rate, lat, refused, span, server.cpu_secs()? - cpu0));
    }
    let (fan, expected) = fan_out(&server, a, &seeded.group, seeded.group_conv).await?;
    server.stop().await;
    drop(pg);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Figures { store: kind.to_owned(), acks, fan, expected })
}

/// The database name in a `[store] url = "postgres://…/NAME?…"` line.
fn pg_db_name(store_cfg: &str) -> String {
    store_cfg.rsplit('/').next().unwrap_or_default().split('?').next().unwrap_or_default().to_owned()
}

#[tokio::main]
async fn main() -> Result<()> {
    let a = args()?;
    let mut all = Vec::new();
    for kind in &a.stores {
        all.push(measure(&a, kind).await?);
    }

    let base_dir = std::env::temp_dir().join(format!("chat-load-base-{}", std::process::id()));
    std::fs::create_dir_all(&base_dir)?;
    let mut base = baseline(&base_dir, a.baseline_commits)?;
    let _ = std::fs::remove_dir_all(&base_dir);
    let (b50, b99, bmax) = summary(&mut base);

    println!();
    println!("{:<72} {:>9} {:>9} {:>9} {:>12}", "", "p50 ms", "p99 ms", "max ms", "rate");
    for f in &mut all {
        for (rate, lat, refused, span, cpu) in &mut f.acks {
            let acked = lat.len();
            let offered = (u64::from(*rate) * a.secs) as usize;
            let (p50, p99, max) = summary(lat);
            println!(
                "{:<72} {:>9.2} {:>9.2} {:>9.2} {:>8.0} msg/s",
                format!("{}: chat_send -> chat_ack at {rate}/s ({acked}/{offered} acked, {refused} refused)", f.store),
                p50,
                p99,
                max,
                acked as f64 / *span
            );
            println!("{:<72} {:.0} µs of server CPU per message", "", *cpu * 1e6 / acked.max(1) as f64);
        }
        let delivered = f.fan.len();
        let (f50, f99, fmax) = summary(&mut f.fan);
        println!(
            "{:<72} {:>9.2} {:>9.2} {:>9.2} {:>8.0} deliveries/s",
            format!("{}: group of {}: post -> arrival at each member ({delivered}/{})", f.store, a.group, f.expected),
            f50,
            f99,
            fmax,
            f64::from(a.group_rate) * (a.group - 1) as f64
        );
    }
    println!(
        "{:<72} {:>9.2} {:>9.2} {:>9.2} {:>8.0} msg/s",
        format!("baseline: raw SQLite INSERT+COMMIT, one at a time ({})", base.len()),
        b50,
        b99,
        bmax,
        base.len() as f64 / (base.iter().sum::<f64>() / 1000.0)
    );
    Ok(())
}
