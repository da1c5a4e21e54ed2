//! One simulated participant: a str0m session on its own UDP socket, driven by a task. It
//! can publish camera-like simulcast (three VP8 layers, about 1.7 Mbit/s together) and Opus
//! audio, and counts what it receives: datagrams, frames, and each frame's latency (the
//! publisher writes its send time into the frame; all peers share this process's clock).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid, Rid, Simulcast, SimulcastLayer};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::net::UdpSocket;

/// Layers as our browser client sends them: rid, bytes per frame at 30 fps.
pub const LAYERS: [(&str, usize); 3] = [("q", 625), ("h", 2083), ("f", 4375)];
const FPS: u64 = 30;
const AUDIO_BYTES: usize = 80;
const KEYFRAME_EVERY: u64 = 90;
/// Where a frame carries its send time (after a VP8 key frame's header, see [`vp8_frame`]).
const STAMP: usize = 10;

/// A VP8 frame of `size` bytes that servers parsing VP8 (Janus looks for key frames to
/// switch simulcast layers) take for real: the frame tag, and for a key frame the start code
/// and dimensions; then the send time, then filler.
fn vp8_frame(size: usize, key: bool, width: u16, height: u16, stamp: [u8; 8]) -> Vec<u8> {
    let mut d = vec![0x42u8; size.max(STAMP + 8)];
    // Frame tag: key frame bit (0 = key), version 0, show_frame, a first-partition size.
    d[0] = if key { 0x10 } else { 0x11 };
    d[1] = 0x02;
    d[2] = 0x00;
    if key {
        d[3..6].copy_from_slice(&[0x9d, 0x01, 0x2a]);
        d[6..8].copy_from_slice(&width.to_le_bytes());
        d[8..10].copy_from_slice(&height.to_le_bytes());
    }
    d[STAMP..STAMP + 8].copy_from_slice(&stamp);
    d
}

fn epoch() -> Instant {
    static E: OnceLock<Instant> = OnceLock::new();
    *E.get_or_init(Instant::now)
}

/// One-way delay beyond which an audio frame counts as lost.
pub const LATE_MS: u64 = 400;

/// Counters over every peer of a run.
#[derive(Default)]
pub struct Totals {
    pub datagrams_in: AtomicU64,
    pub audio_frames: AtomicU64,
    /// Audio and video frames that arrived more than [`LATE_MS`] after they were sent: too
    /// late for a conversation (ITU-T G.114's limit; a jitter buffer would have dropped them).
    pub audio_late: AtomicU64,
    pub video_frames: AtomicU64,
    /// Bytes of video frames received: which layer a server forwards shows here (a server
    /// that drops to a lower layer delivers as many frames, with fewer bytes).
    pub video_bytes: AtomicU64,
    pub video_late: AtomicU64,
    pub connected: AtomicU64,
    /// Every 8th frame's latency, in microseconds (bounded).
    pub latencies: Mutex<Vec<u32>>,
    pub counting: AtomicBool,
}

impl Totals {
    fn frame(&self, kind: MediaKind, data: &[u8]) {
        if !self.counting.load(Ordering::Relaxed) {
            return;
        }
        let n = match kind {
            MediaKind::Audio => self.audio_frames.fetch_add(1, Ordering::Relaxed),
            MediaKind::Video => {
                self.video_bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
                self.video_frames.fetch_add(1, Ordering::Relaxed)
            }
        };
        if data.len() < STAMP + 8 {
            return;
        }
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&data[STAMP..STAMP + 8]);
        let sent = u64::from_be_bytes(ts);
        let now = epoch().elapsed().as_micros() as u64;
        if now.saturating_sub(sent) > LATE_MS * 1000 {
            match kind {
                MediaKind::Audio => self.audio_late.fetch_add(1, Ordering::Relaxed),
                MediaKind::Video => self.video_late.fetch_add(1, Ordering::Relaxed),
            };
        }
        if n % 8 == 0 {
            if let Ok(mut l) = self.latencies.lock() {
                if l.len() < 500_000 {
                    l.push(now.saturating_sub(sent).min(u32::MAX as u64) as u32);
                }
            }
        }
    }
}

pub struct Peer {
    pub rtc: Arc<Mutex<Rtc>>,
    /// The published audio and video mids, once offered.
    mids: Arc<Mutex<Option<(Mid, Mid)>>>,
    stop: Arc<AtomicBool>,
    /// ICE and DTLS are up.
    pub connected: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Peer {
    /// A peer on a fresh loopback socket (a full ICE agent: against ICE-lite servers, ours
    /// and Janus configured so, it is the controlling side).
    pub async fn start(ip: std::net::IpAddr, totals: Arc<Totals>) -> Result<Peer> {
        let sock = UdpSocket::bind(SocketAddr::new(ip, 0)).await?;
        let local = sock.local_addr()?;
        let mut rtc = Rtc::builder().set_rtp_mode(false).build(Instant::now());
        rtc.add_local_candidate(Candidate::host(local, "udp").map_err(|e| anyhow!("{e}"))?);
        let rtc = Arc::new(Mutex::new(rtc));
        let mids: Arc<Mutex<Option<(Mid, Mid)>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let connected = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(drive(rtc.clone(), sock, local, mids.clone(), totals, stop.clone(), connected.clone()));
        Ok(Peer { rtc, mids, stop, connected, task })
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Rtc>> {
        self.rtc.lock().map_err(|_| anyhow!("peer poisoned"))
    }

    /// An offer publishing audio and three-layer simulcast video. `high_first`: list the
    /// layers highest first in the SDP (Janus reads the first rid as the best layer, as its
    /// own client sends them; our server and Chrome list them lowest first).
    pub fn offer_publish(&self, high_first: bool) -> Result<(String, SdpPendingOffer)> {
        let mut rtc = self.lock()?;
        let mut api = rtc.sdp_api();
        let audio = api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
        let mut sim = Simulcast::new();
        for (rid, _) in LAYERS {
            sim.send.push(SimulcastLayer::new(rid));
        }
        if high_first {
            sim.send.reverse();
        }
        let video = api.add_media(MediaKind::Video, Direction::SendOnly, None, None, Some(sim));
        let (offer, pending) = api.apply().ok_or_else(|| anyhow!("nothing to offer"))?;
        if let Ok(mut m) = self.mids.lock() {
            *m = Some((audio, video));
        }
        Ok((offer.to_sdp_string(), pending))
    }

    /// A receive-only offer (one audio m-line), as our client sends without devices.
    pub fn offer_receive(&self) -> Result<(String, SdpPendingOffer)> {
        let mut rtc = self.lock()?;
        let mut api = rtc.sdp_api();
        api.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
        let (offer, pending) = api.apply().ok_or_else(|| anyhow!("nothing to offer"))?;
        Ok((offer.to_sdp_string(), pending))
    }

    pub fn accept_answer(&self, pending: SdpPendingOffer, sdp: &str) -> Result<()> {
        let answer = SdpAnswer::from_sdp_string(sdp).map_err(|e| anyhow!("answer: {e}"))?;
        self.lock()?.sdp_api().accept_answer(pending, answer).map_err(|e| anyhow!("answer: {e}"))
    }

    pub fn accept_offer(&self, sdp: &str) -> Result<String> {
        let offer = SdpOffer::from_sdp_string(sdp).map_err(|e| anyhow!("offer: {e}"))?;
        let answer = self.lock()?.sdp_api().accept_offer(offer).map_err(|e| anyhow!("offer: {e}"))?;
        Ok(answer.to_sdp_string())
    }

    /// Waits (10 s at most) until the session is connected.
    pub async fn wait_connected(&self) -> Result<()> {
        for _ in 0..200 {
            if self.connected.load(Ordering::Relaxed) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(anyhow!("peer did not connect"))
    }

    pub async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
    }
}

/// What a publishing peer sends next.
struct Publisher {
    next: Instant,
    frame: u64,
    keyframe: bool,
}

async fn drive(
    rtc: Arc<Mutex<Rtc>>,
    sock: UdpSocket,
    local: SocketAddr,
    mids: Arc<Mutex<Option<(Mid, Mid)>>>,
    totals: Arc<Totals>,
    stop: Arc<AtomicBool>,
    up: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 2048];
    let mut publisher = Publisher { next: Instant::now(), frame: 0, keyframe: true };
    let mut connected = false;
    let mut out: Vec<(SocketAddr, Vec<u8>)> = vec![];
    while !stop.load(Ordering::Relaxed) {
        let timeout = {
            let Ok(mut rtc) = rtc.lock() else { return };
            let mut timeout = Instant::now() + Duration::from_millis(100);
            loop {
                match rtc.poll_output() {
                    Ok(Output::Timeout(t)) => {
                        timeout = timeout.min(t);
                        break;
                    }
                    Ok(Output::Transmit(t)) => out.push((t.destination, t.contents.to_vec())),
                    Ok(Output::Event(e)) => match e {
                        Event::Connected => {
                            connected = true;
                            up.store(true, Ordering::Relaxed);
                            totals.connected.fetch_add(1, Ordering::Relaxed);
                        }
                        Event::MediaData(d) => {
                            let kind = rtc.media(d.mid).map(|m| m.kind()).unwrap_or(MediaKind::Video);
                            totals.frame(kind, &d.data);
                        }
                        Event::KeyframeRequest(_) => publisher.keyframe = true,
                        _ => {}
                    },
                    Err(_) => return,
                }
            }
            timeout
        };
        for (dest, data) in out.drain(..) {
            let _ = sock.send_to(&data, dest).await;
        }
        let publishing = connected && mids.lock().ok().and_then(|m| *m).is_some();
        let wake = if publishing { timeout.min(publisher.next) } else { timeout };
        tokio::select! {
            r = sock.recv_from(&mut buf) => {
                let Ok((n, source)) = r else { continue };
                totals.datagrams_in.fetch_add(1, Ordering::Relaxed);
                let Ok(contents) = buf[..n].try_into() else { continue };
                let Ok(mut rtc) = rtc.lock() else { return };
                let input = Input::Receive(Instant::now(), Receive { proto: Protocol::Udp, source, destination: local, contents });
                if rtc.handle_input(input).is_err() {
                    return;
                }
            }
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {
                let now = Instant::now();
                let Ok(mut rtc) = rtc.lock() else { return };
                if rtc.handle_input(Input::Timeout(now)).is_err() {
                    return;
                }
                if publishing && now >= publisher.next {
                    if let Some((audio, video)) = mids.lock().ok().and_then(|m| *m) {
                        publish(&mut rtc, audio, video, &mut publisher, now);
                    }
                }
            }
        }
    }
}

/// One 33 ms step: a video frame on each layer, and audio at 50 per second (every 20 ms,
/// sent here in pairs or singles to keep one timer).
fn publish(rtc: &mut Rtc, audio: Mid, video: Mid, p: &mut Publisher, now: Instant) {
    p.frame += 1;
    p.next += Duration::from_millis(1000 / FPS);
    if p.next < now {
        p.next = now + Duration::from_millis(1000 / FPS);
    }
    let stamp = (epoch().elapsed().as_micros() as u64).to_be_bytes();
    let key = p.keyframe || p.frame % KEYFRAME_EVERY == 1;
    p.keyframe = false;
    let vtime = MediaTime::new(p.frame * 90_000 / FPS, Frequency::NINETY_KHZ);
    for (i, (rid, size)) in LAYERS.into_iter().enumerate() {
        let Some(w) = rtc.writer(video) else { return };
        let Some(pt) = w.payload_params().find(|x| x.spec().codec == Codec::Vp8).map(|x| x.pt()) else { return };
        let scale = 4 >> i; // q: 1/4, h: 1/2, f: full of 1280x720
        let data = vp8_frame(size, key, 1280 / scale, 720 / scale, stamp);
        let _ = w.rid(Rid::from(rid)).write(pt, now, vtime, data);
    }
    // Audio: 50 frames per second against 30 video steps: 5 audio frames per 3 steps.
    let audio_frames = if p.frame.is_multiple_of(3) { 1 } else { 2 };
    for i in 0..audio_frames {
        let Some(w) = rtc.writer(audio) else { return };
        let Some(pt) = w.payload_params().find(|x| x.spec().codec == Codec::Opus).map(|x| x.pt()) else { return };
        let n = p.frame * 5 / 3 + i;
        let atime = MediaTime::new(n * 960, Frequency::FORTY_EIGHT_KHZ);
        let mut data = vec![0x11u8; AUDIO_BYTES];
        data[STAMP..STAMP + 8].copy_from_slice(&stamp);
        let _ = w.audio_level(-30, true).write(pt, now, atime, data);
    }
}
