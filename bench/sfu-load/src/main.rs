//! Load generator for conference servers: ours (`mywebrtc serve`, its SFU) and Janus's
//! VideoRoom, driven alike by str0m peers that publish camera-like simulcast (three VP8
//! layers, about 1.7 Mbit/s) plus Opus, and subscribe.
//!
//! Scenarios:
//! - `fanout`: one publisher, N subscribers, for each N of `--subscribers`;
//! - `rooms`: `--rooms` rooms of `--size` people, everyone publishing and receiving everyone
//!   else in their room.
//!
//! For each step it prints: server CPU per delivered packet (every datagram the subscribers
//! received from the server), audio delivery (received / sent × subscribers: below 99 % is
//! more than 1 % loss), `on_time`: the share of the audio and of the video frames due
//! (50 and 30 per second per stream) that arrived within 400 ms, as a conversation needs (a
//! server that queues instead of dropping is caught by it; the lower of the two is shown), video frames per second per received stream, frame latency
//! p50/p99 (publisher write to subscriber read, one process, one clock), and the server's
//! RSS per participant. See bench/README.md.
//!
//! `--cpu-quota PCT` holds the server to PCT % of one core (a cgroup), so that the largest N
//! is found where the server, not the generator beside it, runs out.

mod cgroup;
mod janus;
mod ours;
mod peer;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use peer::Totals;

struct Args {
    target: String,
    scenario: String,
    server_bin: String,
    janus_port: u16,
    subscribers: Vec<usize>,
    rooms: usize,
    size: usize,
    secs: u64,
    warmup: u64,
    /// Run the server in this network namespace (the script creates it): Janus does not use
    /// loopback addresses for media, so both servers run behind the same veth pair.
    netns: Option<String>,
    server_ip: std::net::IpAddr,
    client_ip: std::net::IpAddr,
    interface: String,
    /// Hold the server to this percentage of one core.
    cpu_quota: Option<u32>,
    /// Ours: viewers' layers follow their bandwidth estimates (`--bandwidth-adaptation off`:
    /// the full layer for everyone, as Janus forwards).
    adapt: bool,
}

fn args() -> Result<Args> {
    let mut a = Args {
        target: "ours".into(),
        scenario: "fanout".into(),
        server_bin: "target/release/mywebrtc".into(),
        janus_port: 38088,
        subscribers: vec![10, 25, 50, 100],
        rooms: 10,
        size: 5,
        secs: 10,
        warmup: 4,
        netns: None,
        server_ip: [127, 0, 0, 1].into(),
        client_ip: [127, 0, 0, 1].into(),
        interface: "lo".into(),
        cpu_quota: None,
        adapt: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().context("missing value");
        match k.as_str() {
            "--target" => a.target = v()?,
            "--scenario" => a.scenario = v()?,
            "--server-bin" => a.server_bin = v()?,
            "--janus-port" => a.janus_port = v()?.parse()?,
            "--subscribers" => a.subscribers = v()?.split(',').map(str::parse).collect::<Result<_, _>>()?,
            "--rooms" => a.rooms = v()?.parse()?,
            "--size" => a.size = v()?.parse()?,
            "--secs" => a.secs = v()?.parse()?,
            "--warmup" => a.warmup = v()?.parse()?,
            "--netns" => a.netns = Some(v()?),
            "--server-ip" => a.server_ip = v()?.parse()?,
            "--client-ip" => a.client_ip = v()?.parse()?,
            "--interface" => a.interface = v()?,
            "--cpu-quota" => a.cpu_quota = Some(v()?.parse()?),
            "--bandwidth-adaptation" => a.adapt = v()? == "on",
            _ => bail!("unknown argument {k}"),
        }
    }
    Ok(a)
}

/// A server under test.
enum Server {
    Ours(ours::Ours),
    Janus(janus::Janus),
}

impl Server {
    fn pid(&self) -> u32 {
        match self {
            Server::Ours(o) => o.pid(),
            Server::Janus(j) => j.pid,
        }
    }
}

enum Participant {
    Ours(ours::Participant),
    Janus(janus::JanusParticipant),
}

impl Participant {
    async fn stop(self) {
        match self {
            Participant::Ours(p) => p.stop().await,
            Participant::Janus(p) => p.stop().await,
        }
    }
}

/// Brings up one room's people: `publishers` of them publish, `receivers` only receive
/// (everyone receives everyone else's media). Returns them and how many media streams each
/// subscriber receives in total (for the expected audio count).
async fn populate(
    server: &Server,
    room: usize,
    publishers: usize,
    receivers: usize,
    totals: &Arc<Totals>,
) -> Result<(Vec<Participant>, u64)> {
    let mut people = vec![];
    // Streams received: each publisher's audio reaches every other participant.
    let streams = (publishers * (publishers - 1) + publishers * receivers) as u64;
    match server {
        Server::Ours(o) => {
            for i in 0..publishers + receivers {
                people.push(Participant::Ours(o.join(room, i, i < publishers, totals.clone()).await?));
            }
        }
        Server::Janus(j) => {
            // A fresh room per step (rooms of earlier steps may still be winding down).
            static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1000);
            let id = NEXT.fetch_add(1, Ordering::Relaxed);
            j.create_room(id).await?;
            let mut feeds = vec![];
            for _ in 0..publishers {
                let p = j.publish(id, totals.clone()).await?;
                feeds.push(p.feed.context("feed")?);
                people.push(Participant::Janus(p));
            }
            // Publishers receive the others (one multistream subscription each), receivers all.
            for (k, _) in feeds.iter().enumerate().take(if publishers > 1 { publishers } else { 0 }) {
                let others: Vec<u64> = feeds.iter().enumerate().filter(|(x, _)| *x != k).map(|(_, f)| *f).collect();
                people.push(Participant::Janus(j.subscribe(id, &others, totals.clone()).await?));
            }
            for _ in 0..receivers {
                people.push(Participant::Janus(j.subscribe(id, &feeds, totals.clone()).await?));
            }
        }
    }
    Ok((people, streams))
}

async fn step(
    server: &Server,
    a: &Args,
    label: &str,
    rooms: usize,
    publishers: usize,
    receivers: usize,
) -> Result<bool> {
    let totals = Arc::new(Totals::default());
    let rss0 = testkit::bench::rss_kib(server.pid()).unwrap_or(0);
    let mut people = vec![];
    let mut streams = 0;
    for r in 0..rooms {
        let (p, s) = populate(server, r, publishers, receivers, &totals).await?;
        people.extend(p);
        streams += s;
    }
    let participants = rooms * (publishers + receivers);
    tokio::time::sleep(Duration::from_secs(a.warmup)).await;
    totals.counting.store(true, Ordering::Relaxed);
    let (cpu0, in0, t0) =
        (testkit::bench::cpu_secs(server.pid())?, totals.datagrams_in.load(Ordering::Relaxed), Instant::now());
    tokio::time::sleep(Duration::from_secs(a.secs)).await;
    totals.counting.store(false, Ordering::Relaxed);
    let (cpu1, in1, secs) = (
        testkit::bench::cpu_secs(server.pid())?,
        totals.datagrams_in.load(Ordering::Relaxed),
        t0.elapsed().as_secs_f64(),
    );
    let rss1 = testkit::bench::rss_kib(server.pid()).unwrap_or(0);
    let packets = in1 - in0;
    let audio = totals.audio_frames.load(Ordering::Relaxed) as f64;
    let video = totals.video_frames.load(Ordering::Relaxed) as f64;
    let audio_late = totals.audio_late.load(Ordering::Relaxed) as f64;
    let video_late = totals.video_late.load(Ordering::Relaxed) as f64;
    let expected_audio = streams as f64 * 50.0 * secs;
    let delivery = if expected_audio > 0.0 { 100.0 * audio / expected_audio } else { 0.0 };
    let expected_video = streams as f64 * 30.0 * secs;
    let on_time = if expected_audio > 0.0 && expected_video > 0.0 {
        (100.0 * (audio - audio_late) / expected_audio).min(100.0 * (video - video_late) / expected_video)
    } else {
        0.0
    };
    let video_fps = if streams > 0 { video / streams as f64 / secs } else { 0.0 };
    let video_kbps = if streams > 0 {
        totals.video_bytes.load(Ordering::Relaxed) as f64 * 8.0 / 1000.0 / streams as f64 / secs
    } else {
        0.0
    };
    let mut lat: Vec<f64> =
        totals.latencies.lock().map(|l| l.iter().map(|x| *x as f64 / 1000.0).collect()).unwrap_or_default();
    let (p50, p99, _) = testkit::bench::summary(&mut lat);
    let cpu = cpu1 - cpu0;
    let per_packet_us = if packets > 0 { cpu * 1e6 / packets as f64 } else { f64::NAN };
    println!(
        "{label:9} {scenario:6} participants={participants:4} connected={conn:4} cpu={cpu_pct:5.1}% cpu_per_packet={per_packet_us:6.2}us packets/s={pps:8.0} audio_delivery={delivery:6.2}% on_time={on_time:6.2}% video_fps_per_stream={video_fps:5.1} video_kbps_per_stream={video_kbps:5.0} latency_ms p50={p50:6.2} p99={p99:7.2} rss_per_participant={rss_pp:6.0}KiB",
        scenario = a.scenario,
        conn = totals.connected.load(Ordering::Relaxed),
        cpu_pct = 100.0 * cpu / secs,
        pps = packets as f64 / secs,
        rss_pp = (rss1.saturating_sub(rss0)) as f64 / participants.max(1) as f64,
    );
    for p in people {
        p.stop().await;
    }
    // Let the server notice everyone left before the next step.
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Held: under 1 % loss, on time, and the full layer forwarded. A server that adapts to
    // its own congestion by sending subscribers a lower layer (ours does, from its bandwidth
    // estimate) delivers every frame with fewer bytes; that is not holding the load.
    let full_kbps = peer::LAYERS[2].1 as f64 * 8.0 * 30.0 / 1000.0;
    Ok(delivery >= 99.0 && on_time >= 99.0 && video_kbps >= 0.9 * full_kbps)
}

#[tokio::main]
async fn main() -> Result<()> {
    let a = args()?;
    let max_subs = a.subscribers.iter().copied().max().unwrap_or(1);
    let wrapper = a.netns.as_ref().map(|n| format!("ip netns exec {n}")).unwrap_or_default();
    let server = match a.target.as_str() {
        "ours" => {
            let (rooms, size) = if a.scenario == "fanout" { (1, max_subs + 1) } else { (a.rooms, a.size) };
            let bin = format!("{wrapper} {}", a.server_bin);
            Server::Ours(ours::Ours::start(&bin, rooms, size, a.server_ip, a.client_ip, a.adapt).await?)
        }
        "janus" => {
            Server::Janus(janus::Janus::start(&wrapper, &a.interface, a.server_ip, a.client_ip, a.janus_port).await?)
        }
        t => bail!("unknown target {t}"),
    };
    let label = if a.target == "ours" { "mywebrtc" } else { "janus" };
    let limit = match a.cpu_quota {
        Some(pct) => {
            println!("{label:9} held to {pct}% of one core");
            Some(cgroup::CpuLimit::apply(server.pid(), pct)?)
        }
        None => None,
    };
    let result = async {
        if a.scenario == "fanout" {
            let mut held = 0;
            for n in &a.subscribers {
                if step(&server, &a, label, 1, 1, *n).await? {
                    held = *n;
                } else {
                    break;
                }
            }
            println!("{label:9} fanout largest N with >= 99% of audio and video frames on time (400 ms) at the full layer: {held}");
        } else {
            step(&server, &a, label, a.rooms, a.size, 0).await?;
        }
        anyhow::Ok(())
    }
    .await;
    match server {
        Server::Ours(o) => o.server.stop().await,
        Server::Janus(j) => j.stop().await,
    }
    drop(limit);
    result
}
