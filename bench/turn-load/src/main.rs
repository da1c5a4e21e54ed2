//! STUN/TURN load generator. It speaks to any server that accepts TURN REST API credentials
//! (`--secret`), so the same binary drives ours and coturn in the same run:
//!
//! - `stun`: `--sockets` UDP sockets each keep `--window` Binding requests in flight for
//!   `--secs`; reports answered requests per second.
//! - `relay`: creates `--allocations` allocations in pairs, each binding a channel to its
//!   partner's relay address; then, at each offered rate in `--rates` (packets/s in total,
//!   `--size`-byte payloads, for `--secs`), every client sends ChannelData to its partner
//!   through the server (client → relay → relay → client: two server hops). Reports delivered
//!   packets/s, Mbit/s, loss, and — with `--pid` — the server's CPU time per million
//!   delivered packets and its RSS.
//!
//! Every loop is bounded in count and time. Usage: see bench/turn-vs-coturn/run.sh.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tokio::net::UdpSocket;
use turn::credentials::{issue, long_term_key};
use turn::stun::{attr, channel_data, method, Builder, Class, IntegrityKind, Message};

struct Args {
    server: SocketAddr,
    secret: String,
    realm: String,
    mode: String,
    secs: u64,
    sockets: usize,
    window: usize,
    allocations: usize,
    rates: Vec<u64>,
    size: usize,
    pid: Option<u32>,
    label: String,
}

fn args() -> Result<Args> {
    let mut a = Args {
        server: "127.0.0.1:3478".parse()?,
        secret: String::new(),
        realm: "mywebrtc".into(),
        mode: "relay".into(),
        secs: 5,
        sockets: 16,
        window: 32,
        allocations: 1000,
        rates: vec![20_000, 50_000, 100_000],
        size: 160,
        pid: None,
        label: "server".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().with_context(|| format!("{k} needs a value"))?;
        match k.as_str() {
            "--server" => a.server = v.parse()?,
            "--secret" => a.secret = v,
            "--realm" => a.realm = v,
            "--mode" => a.mode = v,
            "--secs" => a.secs = v.parse()?,
            "--sockets" => a.sockets = v.parse()?,
            "--window" => a.window = v.parse()?,
            "--allocations" => a.allocations = v.parse()?,
            "--rates" => a.rates = v.split(',').map(str::parse).collect::<Result<_, _>>()?,
            "--size" => a.size = v.parse()?,
            "--pid" => a.pid = Some(v.parse()?),
            "--label" => a.label = v,
            _ => bail!("unknown option {k}"),
        }
    }
    if a.secs == 0 || a.secs > 120 || a.allocations < 2 || a.allocations > 10_000 || a.size > 1200 {
        bail!("need 1 ≤ --secs ≤ 120, 2 ≤ --allocations ≤ 10000, --size ≤ 1200");
    }
    Ok(a)
}

fn tid(n: u64) -> [u8; 12] {
    let mut t = [0u8; 12];
    t[..8].copy_from_slice(&n.to_be_bytes());
    t[8..].copy_from_slice(&std::process::id().to_be_bytes());
    t
}

/// Sends a request and waits (bounded) for the response with the same transaction id.
async fn transact(sock: &UdpSocket, server: SocketAddr, req: &[u8]) -> Result<Vec<u8>> {
    let want = &req[8..20];
    let mut buf = vec![0u8; 2048];
    for _ in 0..5 {
        sock.send_to(req, server).await?;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
        while let Ok(Ok((n, _))) = tokio::time::timeout_at(deadline, sock.recv_from(&mut buf)).await {
            if n >= 20 && &buf[8..20] == want {
                return Ok(buf[..n].to_vec());
            }
        }
    }
    bail!("no response from {server}")
}

fn error_code(m: &Message<'_>) -> Option<u16> {
    let v = m.get(attr::ERROR_CODE)?;
    Some(u16::from(*v.get(2)?) * 100 + u16::from(*v.get(3)?))
}

/// One client with an allocation.
struct Allocated {
    sock: Arc<UdpSocket>,
    relay: SocketAddr,
    user: String,
    key: Vec<u8>,
    nonce: String,
}

async fn allocate(a: &Args, i: usize, seq: &AtomicU64) -> Result<Allocated> {
    let sock = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
    let (user, pass) = issue(a.secret.as_bytes(), &format!("bench{i}"), unix_now(), 3600);
    let key = long_term_key(&user, &a.realm, &pass);
    let probe = Builder::new(method::ALLOCATE, Class::Request, tid(seq.fetch_add(1, Ordering::Relaxed)))
        .u32(attr::REQUESTED_TRANSPORT, 17 << 24)
        .finish();
    let r = transact(&sock, a.server, &probe).await?;
    let m = Message::parse(&r).map_err(|e| anyhow::anyhow!("bad response: {e}"))?;
    let nonce = m.text(attr::NONCE).context("no nonce in the 401")?.to_owned();
    let req = Builder::new(method::ALLOCATE, Class::Request, tid(seq.fetch_add(1, Ordering::Relaxed)))
        .u32(attr::REQUESTED_TRANSPORT, 17 << 24)
        .attr(attr::USERNAME, user.as_bytes())
        .attr(attr::REALM, a.realm.as_bytes())
        .attr(attr::NONCE, nonce.as_bytes())
        .integrity(IntegrityKind::Sha1, &key)
        .finish();
    let r = transact(&sock, a.server, &req).await?;
    let m = Message::parse(&r).map_err(|e| anyhow::anyhow!("bad response: {e}"))?;
    if m.class != Class::Success {
        bail!("allocation {i} refused: {:?}", error_code(&m));
    }
    let relay = m.xor_address(attr::XOR_RELAYED_ADDRESS).context("no relayed address")?;
    Ok(Allocated { sock, relay, user, key, nonce })
}

async fn channel_bind(a: &Args, c: &Allocated, peer: SocketAddr, seq: &AtomicU64) -> Result<()> {
    let req = Builder::new(method::CHANNEL_BIND, Class::Request, tid(seq.fetch_add(1, Ordering::Relaxed)))
        .u32(attr::CHANNEL_NUMBER, 0x4000 << 16)
        .xor_address(attr::XOR_PEER_ADDRESS, peer)
        .attr(attr::USERNAME, c.user.as_bytes())
        .attr(attr::REALM, a.realm.as_bytes())
        .attr(attr::NONCE, c.nonce.as_bytes())
        .integrity(IntegrityKind::Sha1, &c.key)
        .finish();
    let r = transact(&c.sock, a.server, &req).await?;
    let m = Message::parse(&r).map_err(|e| anyhow::anyhow!("bad response: {e}"))?;
    if m.class != Class::Success {
        bail!("channel bind refused: {:?}", error_code(&m));
    }
    Ok(())
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

struct Usage {
    cpu: f64,
    at: Instant,
}

fn usage(pid: Option<u32>) -> Option<Usage> {
    Some(Usage { cpu: testkit::bench::cpu_secs(pid?).ok()?, at: Instant::now() })
}

/// Closed loop on one thread with batched I/O (recvmmsg/sendmmsg), so the generator costs
/// far less per request than a server does: each socket keeps `--window` requests in flight
/// and sends a new one for every answer.
fn stun(a: &Args) -> Result<()> {
    use turn::udp_batch::{self, RecvBatch};
    let socks: Vec<std::net::UdpSocket> = (0..a.sockets)
        .map(|_| {
            let s = std::net::UdpSocket::bind("127.0.0.1:0")?;
            s.set_nonblocking(true)?;
            Ok(s)
        })
        .collect::<std::io::Result<_>>()?;
    // A Binding request without FINGERPRINT, so only the transaction id changes.
    let template = Builder::new(method::BINDING, Class::Request, [0; 12]).finish_plain();
    let mut n = 0u64;
    let mut next_req = |count: usize| -> Vec<Vec<u8>> {
        (0..count)
            .map(|_| {
                n += 1;
                let mut r = template.clone();
                r[8..16].copy_from_slice(&n.to_be_bytes());
                r
            })
            .collect()
    };
    let send = |s: &std::net::UdpSocket, reqs: &[Vec<u8>]| {
        let refs: Vec<(SocketAddr, &[u8])> = reqs.iter().map(|r| (a.server, r.as_slice())).collect();
        udp_batch::send(s, &refs)
    };
    let mut outstanding = vec![0usize; socks.len()];
    let mut last_answer = vec![Instant::now(); socks.len()];
    let mut batch = RecvBatch::default();
    let before = usage(a.pid);
    let start = Instant::now();
    let stop = start + Duration::from_secs(a.secs);
    let mut answered = 0u64;
    while Instant::now() < stop {
        let mut idle = true;
        for (i, s) in socks.iter().enumerate() {
            // Top up a window that lost requests (or was never filled).
            if outstanding[i] == 0 || last_answer[i].elapsed() > Duration::from_millis(100) {
                let sent = send(s, &next_req(a.window))?;
                outstanding[i] = sent;
                last_answer[i] = Instant::now();
            }
            let Ok(k) = udp_batch::recv(s, &mut batch, false) else { continue };
            if k == 0 {
                continue;
            }
            idle = false;
            // Count only well-formed Binding success responses carrying our address.
            let me = s.local_addr()?;
            answered += batch
                .iter()
                .filter(|(_, d)| {
                    Message::parse(d).is_ok_and(|m| {
                        m.method == method::BINDING
                            && m.class == Class::Success
                            && m.xor_address(attr::XOR_MAPPED_ADDRESS) == Some(me)
                    })
                })
                .count() as u64;
            last_answer[i] = Instant::now();
            outstanding[i] = outstanding[i].saturating_sub(k) + send(s, &next_req(k))?;
        }
        if idle {
            std::thread::yield_now();
        }
    }
    let span = start.elapsed().as_secs_f64();
    let rate = answered as f64 / span;
    let cpu = match (before, usage(a.pid)) {
        (Some(b), Some(e)) => format!(
            "{:.0}% CPU, {:.2} CPU-s per million, RSS {} KiB",
            100.0 * (e.cpu - b.cpu) / e.at.duration_since(b.at).as_secs_f64(),
            (e.cpu - b.cpu) * 1e6 / answered.max(1) as f64,
            a.pid.and_then(|p| testkit::bench::rss_kib(p).ok()).unwrap_or(0)
        ),
        _ => String::new(),
    };
    println!("{:<10} STUN binding: {:>9.0} answered/s  {cpu}", a.label, rate);
    Ok(())
}

async fn relay(a: &Args) -> Result<()> {
    let seq = AtomicU64::new(1);
    let t0 = Instant::now();
    let mut clients = Vec::with_capacity(a.allocations);
    for i in 0..a.allocations / 2 * 2 {
        clients.push(allocate(a, i, &seq).await.with_context(|| format!("allocation {i}"))?);
    }
    for i in 0..clients.len() {
        let peer = clients[i ^ 1].relay;
        channel_bind(a, &clients[i], peer, &seq).await?;
    }
    let rss = a.pid.and_then(|p| testkit::bench::rss_kib(p).ok()).unwrap_or(0);
    println!(
        "{:<10} {} allocations with channels set up in {:.1} s (server RSS {} KiB)",
        a.label,
        clients.len(),
        t0.elapsed().as_secs_f64(),
        rss
    );
    let received = Arc::new(AtomicU64::new(0));
    let mut readers = Vec::new();
    for c in &clients {
        let (sock, received) = (c.sock.clone(), received.clone());
        readers.push(tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            while let Ok((n, _)) = sock.recv_from(&mut buf).await {
                if n >= 4 && buf[0] & 0xC0 == 0x40 {
                    received.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let payload = vec![0x5au8; a.size];
    let packet = channel_data(0x4000, &payload, false);
    println!(
        "{:<10} {:>12} {:>12} {:>10} {:>8} {:>8} {:>16} {:>10}",
        a.label, "offered pps", "relayed pps", "Mbit/s", "loss %", "CPU %", "CPU-s/M packets", "RSS KiB"
    );
    for &rate in &a.rates {
        let before = usage(a.pid);
        received.store(0, Ordering::Relaxed);
        let total = rate * a.secs;
        // Paced in 1 ms slices, round-robin over the clients.
        let start = Instant::now();
        let per_ms = (rate as f64 / 1000.0).max(1.0);
        let mut sent = 0u64;
        let mut next = 0usize;
        while sent < total {
            let due = ((start.elapsed().as_secs_f64() * 1000.0 + 1.0) * per_ms) as u64;
            while sent < due.min(total) {
                let c = &clients[next];
                next = (next + 1) % clients.len();
                let _ = c.sock.try_send_to(&packet, a.server);
                sent += 1;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
            if start.elapsed() > Duration::from_secs(a.secs * 3) {
                break;
            }
        }
        let send_span = start.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let got = received.load(Ordering::Relaxed);
        let after = usage(a.pid);
        let pps = got as f64 / send_span;
        let (cpu_pct, per_m) = match (&before, &after) {
            (Some(b), Some(e)) => {
                let cpu = e.cpu - b.cpu;
                (100.0 * cpu / e.at.duration_since(b.at).as_secs_f64(), cpu * 1e6 / got.max(1) as f64)
            }
            _ => (f64::NAN, f64::NAN),
        };
        let rss = a.pid.and_then(|p| testkit::bench::rss_kib(p).ok()).unwrap_or(0);
        println!(
            "{:<10} {:>12} {:>12.0} {:>10.1} {:>8.2} {:>8.0} {:>16.2} {:>10}",
            a.label,
            rate,
            pps,
            pps * a.size as f64 * 8.0 / 1e6,
            100.0 * (sent.saturating_sub(got)) as f64 / sent.max(1) as f64,
            cpu_pct,
            per_m,
            rss
        );
    }
    for r in readers {
        r.abort();
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let a = args()?;
    match a.mode.as_str() {
        "stun" => stun(&a),
        "relay" => relay(&a).await,
        m => bail!("unknown mode {m} (stun or relay)"),
    }
}
