//! The room core driven by native str0m peers in memory, on a fake clock: joining,
//! publishing, receiving every other participant's media, leaving, removal, loss and
//! reordering between the peers and the room, ICE over TCP beside UDP, and hostile input.
//! The room's socket is a wildcard address announcing another one, as in a deployment that
//! listens on 0.0.0.0 (or behind NAT).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on what they set up

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sfu::{LeaveReason, ParticipantId, Room, RoomConfig, RoomOutput, Signal, TilePref};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, MediaKind, MediaTime, Mid, Rid, Simulcast, SimulcastLayer};
use str0m::net::{Protocol, Receive, TcpType};
use str0m::{Candidate, Event, Input, Output, Rtc};

/// The announced address (the candidates); the socket itself is bound to the wildcard.
const ROOM_ADDR: &str = "10.0.0.1:5000";
const ROOM_BIND: &str = "0.0.0.0:5000";

struct Client {
    id: ParticipantId,
    addr: SocketAddr,
    /// How it reaches the room: UDP, or TCP to the room's passive candidate.
    proto: Protocol,
    rtc: Rtc,
    pending: Option<SdpPendingOffer>,
    signals: Vec<Signal>,
    /// Frames received, by mid.
    received: HashMap<Mid, usize>,
    /// Sizes of the video frames received, in order.
    video_sizes: Vec<usize>,
    /// The first video frame received on each mid.
    first_video: HashMap<Mid, Vec<u8>>,
    /// Sends H.264 only (as some devices and encoders do); VP8 first otherwise.
    h264_only: bool,
    /// Publishes its video as three simulcast layers (`q`, `h`, `f`, as our browser client).
    simulcast: bool,
    /// Layers the room asked a keyframe of (answered with the next frame).
    keyframe_wanted: Vec<Option<Rid>>,
    keyframe_requests: usize,
    video_frames_sent: u64,
    /// Which participant each received mid belongs to (from the server's offers).
    owners: HashMap<String, ParticipantId>,
    audio: Option<Mid>,
    video: Option<Mid>,
    connected: bool,
}

/// The simulcast layers a simulcast publisher sends: rid and frame size (the largest spans
/// several packets).
const SIMULCAST: [(&str, usize); 3] = [("q", 300), ("h", 700), ("f", 2_500)];

struct World {
    now: Instant,
    room: Room,
    clients: Vec<Client>,
    /// Packets in flight: (to client index or None for the room, source, bytes).
    wire: VecDeque<(Option<usize>, SocketAddr, Vec<u8>)>,
    /// Drop every n-th datagram (0: none).
    drop_every: usize,
    /// Swap each pair of consecutive datagrams.
    reorder: bool,
    sent: usize,
}

/// An H.264 frame in Annex B: SPS, PPS and an IDR slice for a keyframe (as browsers send
/// them), one non-IDR slice otherwise; `len` bytes of slice.
fn h264_frame(key: bool, len: usize) -> Vec<u8> {
    let mut f = Vec::with_capacity(len + 32);
    if key {
        f.extend_from_slice(&[0, 0, 0, 1, 0x67, 0x42, 0xe0, 0x1f, 0x8c, 0x68, 0x05, 0x00]);
        f.extend_from_slice(&[0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80]);
    }
    f.extend_from_slice(&[0, 0, 0, 1, if key { 0x65 } else { 0x41 }]);
    f.resize(f.len() + len, 0x9a);
    f
}

/// Where an Annex B frame has a NAL unit of `nal_type` (after a 4-byte start code).
fn has_nal(frame: &[u8], nal_type: u8) -> bool {
    frame.windows(5).any(|w| w[..4] == [0, 0, 0, 1] && w[4] & 0x1f == nal_type)
}

fn crypto() -> Arc<str0m::crypto::CryptoProvider> {
    Arc::new(str0m::crypto::from_feature_flags())
}

impl World {
    fn new(cfg: RoomConfig) -> World {
        let now = Instant::now();
        let addr: SocketAddr = ROOM_ADDR.parse().unwrap();
        World {
            now,
            room: Room::new(1, cfg, crypto(), ROOM_BIND.parse().unwrap(), vec![addr]),
            clients: vec![],
            wire: VecDeque::new(),
            drop_every: 0,
            reorder: false,
            sent: 0,
        }
    }

    /// A participant joins over UDP and offers to publish audio and video.
    fn join(&mut self, id: ParticipantId) -> usize {
        self.join_over(id, Protocol::Udp)
    }

    /// A participant joins over UDP or TCP (an active TCP candidate, as browsers have).
    fn join_over(&mut self, id: ParticipantId, proto: Protocol) -> usize {
        self.join_with(id, proto, false, false)
    }

    fn join_with(&mut self, id: ParticipantId, proto: Protocol, simulcast: bool, h264_only: bool) -> usize {
        self.room.join(id, id as i64 * 10, None, self.now).unwrap();
        let addr: SocketAddr = format!("10.0.1.{}:6000", id).parse().unwrap();
        let mut builder = Rtc::builder().set_crypto_provider(crypto());
        if h264_only {
            builder = builder.clear_codecs().enable_opus(true, false).enable_h264(true);
        }
        let mut rtc = builder.build(self.now);
        let candidate = match proto {
            Protocol::Udp => Candidate::host(addr, "udp").unwrap(),
            _ => Candidate::builder().tcp().host(addr).tcptype(TcpType::Active).build().unwrap(),
        };
        rtc.add_local_candidate(candidate);
        let mut api = rtc.sdp_api();
        let audio = api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
        let layers = simulcast.then(|| {
            let mut sim = Simulcast::new();
            for (rid, _) in SIMULCAST {
                sim.send.push(SimulcastLayer::new(rid));
            }
            sim
        });
        let video = api.add_media(MediaKind::Video, Direction::SendOnly, None, None, layers);
        let (offer, pending) = api.apply().unwrap();
        self.clients.push(Client {
            id,
            addr,
            proto,
            rtc,
            pending: Some(pending),
            signals: vec![],
            received: HashMap::new(),
            video_sizes: vec![],
            first_video: HashMap::new(),
            h264_only,
            simulcast,
            keyframe_wanted: vec![],
            keyframe_requests: 0,
            video_frames_sent: 0,
            owners: HashMap::new(),
            audio: Some(audio),
            video: Some(video),
            connected: false,
        });
        self.room.sdp(id, true, 0, &offer.to_sdp_string(), &HashMap::new(), self.now).unwrap();
        self.clients.len() - 1
    }

    fn index(&self, id: ParticipantId) -> usize {
        self.clients.iter().position(|c| c.id == id).unwrap()
    }

    fn send(&mut self, to: Option<usize>, from: SocketAddr, data: Vec<u8>) {
        self.sent += 1;
        if self.drop_every > 0 && self.sent.is_multiple_of(self.drop_every) {
            return;
        }
        if self.reorder && self.sent.is_multiple_of(2) {
            self.wire.push_front((to, from, data));
        } else {
            self.wire.push_back((to, from, data));
        }
    }

    /// Runs the world for `d` of fake time, publishers sending a frame of each kind every 20 ms.
    fn run(&mut self, d: Duration, publish: bool) {
        let end = self.now + d;
        let mut next_frame = self.now;
        let mut frame_no: u32 = 0;
        while self.now < end {
            if publish && self.now >= next_frame {
                frame_no += 1;
                for c in self.clients.iter_mut().filter(|c| c.connected) {
                    for (mid, kind) in [(c.audio, MediaKind::Audio), (c.video, MediaKind::Video)] {
                        let Some(mid) = mid else { continue };
                        let Some(w) = c.rtc.writer(mid) else { continue };
                        let Some(pt) = w.payload_params().next().map(|p| p.pt()) else { continue };
                        let (rate, len) = if kind == MediaKind::Audio { (48_000, 80) } else { (90_000, 1200) };
                        let time = MediaTime::new(
                            frame_no as u64 * rate / 50,
                            str0m::media::Frequency::new(rate as u32).unwrap(),
                        );
                        if kind == MediaKind::Video && c.simulcast {
                            // Every layer, its own size; a keyframe first and when asked.
                            for (rid, size) in SIMULCAST {
                                let rid = Rid::from(rid);
                                let key = c.video_frames_sent == 0 || c.keyframe_wanted.contains(&Some(rid));
                                let mut data = vec![0x42u8; size];
                                data[0] = if key { 0x10 } else { 0x11 };
                                if let Some(w) = c.rtc.writer(mid) {
                                    w.rid(rid).write(pt, self.now, time, data).unwrap();
                                }
                            }
                            c.keyframe_wanted.clear();
                            c.video_frames_sent += 1;
                            continue;
                        }
                        if kind == MediaKind::Video && c.h264_only {
                            // A keyframe every 25 frames and when asked.
                            let key = frame_no % 25 == 1 || !c.keyframe_wanted.is_empty();
                            c.keyframe_wanted.clear();
                            let w = c.rtc.writer(mid).unwrap();
                            w.write(pt, self.now, time, h264_frame(key, len)).unwrap();
                            continue;
                        }
                        // A VP8 key frame tag every 25 frames (bit 0 clear), delta frames otherwise.
                        let mut data = vec![0x42u8; len];
                        data[0] = if frame_no % 25 == 1 { 0x10 } else { 0x11 };
                        let w = if kind == MediaKind::Audio { w.audio_level(-20, true) } else { w };
                        w.write(pt, self.now, time, data).unwrap();
                    }
                }
                next_frame = self.now + Duration::from_millis(20);
            }
            self.pump();
            self.now += Duration::from_millis(5);
            for c in &mut self.clients {
                c.rtc.handle_input(Input::Timeout(self.now)).unwrap();
            }
            self.room.handle_timeout(self.now);
            self.pump();
        }
    }

    /// Carries datagrams and signals until everything is quiet.
    fn pump(&mut self) {
        let room_addr: SocketAddr = ROOM_ADDR.parse().unwrap();
        for _ in 0..10_000 {
            let mut progress = false;
            // Clients' output.
            for i in 0..self.clients.len() {
                loop {
                    let out = self.clients[i].rtc.poll_output().unwrap();
                    match out {
                        Output::Timeout(_) => break,
                        Output::Transmit(t) => {
                            let from = self.clients[i].addr;
                            assert_eq!(t.proto, self.clients[i].proto, "a client sends on its own transport");
                            self.send(None, from, t.contents.to_vec());
                        }
                        Output::Event(e) => {
                            let c = &mut self.clients[i];
                            match e {
                                Event::Connected => c.connected = true,
                                Event::MediaData(d) => {
                                    *c.received.entry(d.mid).or_default() += 1;
                                    if c.rtc.media(d.mid).is_some_and(|m| m.kind() == MediaKind::Video) {
                                        c.video_sizes.push(d.data.len());
                                        c.first_video.entry(d.mid).or_insert_with(|| d.data.to_vec());
                                    }
                                }
                                Event::KeyframeRequest(r) => {
                                    c.keyframe_requests += 1;
                                    c.keyframe_wanted.push(r.rid);
                                }
                                _ => {}
                            }
                        }
                    }
                    progress = true;
                }
            }
            // Room output.
            let _ = self.room.poll_timeout(self.now);
            while let Some(o) = self.room.poll_output() {
                progress = true;
                match o {
                    RoomOutput::Transmit { proto, destination, contents } => {
                        if let Some(i) = self.clients.iter().position(|c| c.addr == destination) {
                            assert_eq!(proto, self.clients[i].proto, "the room answers on the transport used");
                            self.send(Some(i), room_addr, contents);
                        }
                    }
                    RoomOutput::Signal { to, signal } => {
                        if let Some(i) = self.clients.iter().position(|c| c.id == to) {
                            self.clients[i].signals.push(signal.clone());
                            self.on_signal(i, signal);
                        }
                    }
                    RoomOutput::Gone { .. } => {}
                }
            }
            // The wire.
            while let Some((to, from, data)) = self.wire.pop_front() {
                progress = true;
                match to {
                    None => {
                        let Some(c) = self.clients.iter().find(|c| c.addr == from) else { continue };
                        let (id, proto) = (c.id, c.proto);
                        self.room.receive(id, proto, from, &data, self.now);
                    }
                    Some(i) => {
                        let c = &mut self.clients[i];
                        let input = Input::Receive(
                            self.now,
                            Receive {
                                proto: c.proto,
                                source: from,
                                destination: c.addr,
                                contents: data.as_slice().try_into().unwrap(),
                            },
                        );
                        c.rtc.handle_input(input).unwrap();
                    }
                }
            }
            if !progress {
                return;
            }
        }
        panic!("the world never went quiet");
    }

    fn on_signal(&mut self, i: usize, signal: Signal) {
        let c = &mut self.clients[i];
        match signal {
            Signal::Answer { sdp } => {
                let answer = SdpAnswer::from_sdp_string(&sdp).unwrap();
                let pending = c.pending.take().expect("an answer to a pending offer");
                c.rtc.sdp_api().accept_answer(pending, answer).unwrap();
            }
            Signal::Offer { rev, sdp, tracks } => {
                let offer = SdpOffer::from_sdp_string(&sdp).unwrap();
                let answer = c.rtc.sdp_api().accept_offer(offer).unwrap();
                for t in tracks {
                    c.owners.insert(t.mid.clone(), t.participant);
                }
                let id = c.id;
                self.room.sdp(id, false, rev, &answer.to_sdp_string(), &HashMap::new(), self.now).unwrap();
            }
            _ => {}
        }
    }

    /// Frames client `i` received from participant `from`, per kind (audio, video).
    fn frames_from(&self, i: usize, from: ParticipantId) -> (usize, usize) {
        let c = &self.clients[i];
        let mut r = (0, 0);
        for (mid, n) in &c.received {
            if c.owners.get(&mid.to_string()) != Some(&from) {
                continue;
            }
            match c.rtc.media(*mid).map(|m| m.kind()) {
                Some(MediaKind::Audio) => r.0 += n,
                Some(MediaKind::Video) => r.1 += n,
                None => {}
            }
        }
        r
    }
}

#[test]
fn three_participants_receive_each_others_audio_and_video() {
    let mut w = World::new(RoomConfig::default());
    for id in 1..=3 {
        w.join(id);
    }
    w.run(Duration::from_secs(3), true);
    for i in 0..3 {
        assert!(w.clients[i].connected, "client {i} connected");
        for from in 1..=3u64 {
            if from == w.clients[i].id {
                assert_eq!(w.frames_from(i, from), (0, 0), "nobody receives their own media");
                continue;
            }
            let (a, v) = w.frames_from(i, from);
            assert!(a > 50 && v > 50, "client {i} from {from}: audio {a}, video {v}");
        }
    }
    // Everyone learned who joined.
    let joined: Vec<ParticipantId> = w.clients[0]
        .signals
        .iter()
        .filter_map(|s| match s {
            Signal::Joined(m) => Some(m.participant),
            _ => None,
        })
        .collect();
    assert_eq!(joined, vec![2, 3]);
}

#[test]
fn a_participant_over_tcp_and_others_over_udp_receive_each_other() {
    let mut w = World::new(RoomConfig::default());
    w.join(1);
    w.join_over(2, Protocol::Tcp);
    w.join(3);
    w.run(Duration::from_secs(3), true);
    for i in 0..3 {
        assert!(w.clients[i].connected, "client {i} connected");
        for from in (1..=3u64).filter(|f| *f != w.clients[i].id) {
            let (a, v) = w.frames_from(i, from);
            assert!(a > 50 && v > 50, "client {i} from {from}: audio {a}, video {v}");
        }
    }
}

#[test]
fn without_ice_tcp_a_tcp_only_participant_never_connects() {
    let mut w = World::new(RoomConfig { ice_tcp: false, ..RoomConfig::default() });
    w.join(1);
    w.join_over(2, Protocol::Tcp);
    w.run(Duration::from_secs(3), true);
    assert!(w.clients[0].connected);
    assert!(!w.clients[1].connected, "no passive TCP candidate was offered");
}

#[test]
fn a_late_joiner_gets_what_is_already_published() {
    let mut w = World::new(RoomConfig::default());
    w.join(1);
    w.join(2);
    w.run(Duration::from_secs(1), true);
    let late = w.join(3);
    w.pump();
    match &w.clients[late].signals[0] {
        Signal::Welcome { members, max_video_tiles, starter, .. } => {
            assert_eq!(members.len(), 2);
            assert_eq!(*max_video_tiles, RoomConfig::default().max_video_tiles);
            assert_eq!(*starter, 10, "the first to join started the call");
        }
        s => panic!("first signal {s:?}"),
    }
    w.run(Duration::from_secs(2), true);
    for from in [1, 2] {
        let (a, v) = w.frames_from(late, from);
        assert!(a > 20 && v > 20, "from {from}: {a} {v}");
    }
}

#[test]
fn leaving_and_removal_stop_the_forwarding() {
    let mut w = World::new(RoomConfig::default());
    for id in 1..=3 {
        w.join(id);
    }
    w.run(Duration::from_secs(2), true);
    w.room.leave(2, LeaveReason::Left);
    w.run(Duration::from_millis(500), true);
    let before = w.frames_from(0, 2);
    w.run(Duration::from_secs(1), true);
    assert_eq!(w.frames_from(0, 2), before, "nothing from a leaver");
    assert!(w.clients[0].signals.contains(&Signal::Left { participant: 2 }));
    // The server renegotiated the leaver's tracks away on the others.
    let offers = w.clients[0].signals.iter().filter(|s| matches!(s, Signal::Offer { .. })).count();
    assert!(offers >= 2, "{offers}");

    // Removal by user (taken out of the conversation): told, and gone at once.
    w.room.remove_user(30);
    w.run(Duration::from_millis(100), true);
    assert!(w.clients[w.index(3)].signals.contains(&Signal::Removed { reason: LeaveReason::Removed }));
    assert_eq!(w.room.members().len(), 1);
    let before = w.frames_from(0, 3);
    w.run(Duration::from_secs(1), true);
    assert_eq!(w.frames_from(0, 3), before);
}

#[test]
fn media_survives_loss_and_reordering() {
    let mut w = World::new(RoomConfig::default());
    w.drop_every = 13;
    w.reorder = true;
    w.join(1);
    w.join(2);
    // Connecting takes a varying time under loss (the DTLS handshake retransmits with
    // backoff, and the sessions' random ids decide which datagrams are the dropped ones):
    // measure from when media first arrives (at most 30 s of fake time).
    for _ in 0..60 {
        w.run(Duration::from_millis(500), true);
        let (a, v) = w.frames_from(1, 1);
        if a > 0 && v > 0 {
            break;
        }
    }
    let (a0, v0) = w.frames_from(1, 1);
    assert!(a0 > 0 && v0 > 0, "never connected: audio {a0}, video {v0}");
    w.run(Duration::from_secs(2), true);
    let (a, v) = w.frames_from(1, 1);
    // 2 s: 100 audio and 100 video frames sent; one datagram in 13 lost on the way in and
    // one in 13 on the way out, and neighbours swapped: most of it arrives.
    assert!(a - a0 > 50 && v - v0 > 40, "in 2 s: audio {}, video {}", a - a0, v - v0);
}

#[test]
fn a_participant_that_never_connects_is_taken_out() {
    let cfg = RoomConfig { connect_timeout: Duration::from_secs(2), ..RoomConfig::default() };
    let mut w = World::new(cfg);
    w.join(1);
    // Participant 2 joins on the server but its client never sends anything.
    w.room.join(2, 20, None, w.now).unwrap();
    w.run(Duration::from_secs(3), true);
    assert_eq!(w.room.members().iter().map(|m| m.participant).collect::<Vec<_>>(), vec![1]);
}

#[test]
fn hostile_input_is_refused_and_harms_nobody() {
    let cfg = RoomConfig { max_participants: 3, ..RoomConfig::default() };
    let mut w = World::new(cfg);
    w.join(1);
    w.join(2);
    w.run(Duration::from_secs(1), true);
    let from_addr: SocketAddr = "10.0.1.1:6000".parse().unwrap();
    // Garbage, truncated STUN/DTLS/RTP, in the session of participant 1.
    for junk in
        [vec![], vec![0u8; 3], vec![0x80; 1500], vec![22, 254, 253, 0, 0], vec![0, 1, 0, 255, 0x21, 0x12, 0xa4, 0x42]]
    {
        w.room.receive(1, Protocol::Udp, from_addr, &junk, w.now);
    }
    // Malformed SDP in both directions, and answers nobody asked for.
    assert!(matches!(
        w.room.sdp(1, true, 0, "v=0\r\nthis is not sdp", &HashMap::new(), w.now),
        Err(sfu::SfuError::BadSdp(_))
    ));
    assert!(matches!(w.room.sdp(1, false, 99, "garbage", &HashMap::new(), w.now), Err(sfu::SfuError::BadSdp(_))));
    assert_eq!(w.room.sdp(9, true, 0, "x", &HashMap::new(), w.now), Err(sfu::SfuError::NotInRoom));
    // Limits.
    assert_eq!(w.room.join(1, 10, None, w.now), Err(sfu::SfuError::AlreadyJoined));
    w.room.join(3, 30, None, w.now).unwrap();
    assert_eq!(w.room.join(4, 40, None, w.now), Err(sfu::SfuError::RoomFull(3)));
    let before = w.frames_from(1, 1);
    w.run(Duration::from_secs(1), true);
    let after = w.frames_from(1, 1);
    assert!(after.0 > before.0 + 20 && after.1 > before.1 + 20, "{before:?} {after:?}");
}

#[test]
fn a_flooding_publisher_is_bounded() {
    let cfg = RoomConfig { max_ingress_bps: 400_000, ..RoomConfig::default() };
    let mut w = World::new(cfg);
    w.join(1);
    w.join(2);
    w.run(Duration::from_secs(1), true);
    // 50 Mbit/s of junk for one second from participant 1's address, in 1 ms steps.
    let from_addr: SocketAddr = "10.0.1.1:6000".parse().unwrap();
    for _ in 0..1000 {
        for _ in 0..5 {
            w.room.receive(1, Protocol::Udp, from_addr, &[0x80u8; 1250], w.now);
        }
        w.now += Duration::from_millis(1);
    }
    w.room.handle_timeout(w.now);
    let before = w.frames_from(0, 2);
    w.run(Duration::from_secs(1), true);
    let after = w.frames_from(0, 2);
    assert!(after.0 > before.0 + 20, "the room still forwards the other participant: {before:?} {after:?}");
}

#[test]
fn a_track_the_publisher_stops_is_stopped_for_everyone() {
    let mut w = World::new(RoomConfig::default());
    w.join(1);
    w.join(2);
    w.run(Duration::from_secs(1), true);
    // Participant 1 adds a screen track, then stops it.
    let i = w.index(1);
    let mut api = w.clients[i].rtc.sdp_api();
    let screen = api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
    let (offer, pending) = api.apply().unwrap();
    w.clients[i].pending = Some(pending);
    let sources = HashMap::from([(screen.to_string(), sfu::Source::Screen)]);
    w.room.sdp(1, true, 0, &offer.to_sdp_string(), &sources, w.now).unwrap();
    w.run(Duration::from_secs(1), false);
    let listed = |w: &World| -> Vec<sfu::Source> {
        let last = w.clients[1].signals.iter().rev().find_map(|s| match s {
            Signal::Offer { tracks, .. } => Some(tracks.clone()),
            _ => None,
        });
        last.unwrap_or_default().iter().map(|t| t.source).collect()
    };
    assert!(listed(&w).contains(&sfu::Source::Screen), "{:?}", listed(&w));
    let mut api = w.clients[i].rtc.sdp_api();
    api.stop_media(screen);
    let (offer, pending) = api.apply().unwrap();
    w.clients[i].pending = Some(pending);
    w.room.sdp(1, true, 0, &offer.to_sdp_string(), &HashMap::new(), w.now).unwrap();
    w.run(Duration::from_secs(1), false);
    assert!(!listed(&w).contains(&sfu::Source::Screen), "{:?}", listed(&w));
}

#[test]
fn the_starter_or_an_admin_mutes_and_removes_others_and_nobody_else_can() {
    let mut w = World::new(RoomConfig::default());
    for id in 1..=3 {
        w.join(id);
    }
    w.run(Duration::from_secs(2), true);
    // Participant 2 (user 20) did not start the call: refused.
    assert_eq!(w.room.moderate(20, false, 3, sfu::Moderation::Mute), Err(sfu::SfuError::NotModerator));
    assert_eq!(w.room.moderate(10, false, 9, sfu::Moderation::Mute), Err(sfu::SfuError::NotInRoom));
    // The starter (user 10) mutes 3: its audio stops reaching the others, its video does not.
    w.room.moderate(10, false, 3, sfu::Moderation::Mute).unwrap();
    w.run(Duration::from_millis(200), true);
    let before = w.frames_from(1, 3);
    w.run(Duration::from_secs(1), true);
    let after = w.frames_from(1, 3);
    assert_eq!(after.0, before.0, "no audio from a muted participant");
    assert!(after.1 > before.1 + 20, "video still flows");
    assert!(w.clients[w.index(3)].signals.contains(&Signal::MutedByModerator { by: 10 }));
    // Unmuting themselves lifts it.
    w.room.state(3, false, false, false);
    w.run(Duration::from_secs(1), true);
    assert!(w.frames_from(1, 3).0 > after.0 + 20);
    // An administrator (not the starter) removes 3.
    w.room.moderate(20, true, 3, sfu::Moderation::Remove).unwrap();
    w.run(Duration::from_millis(100), true);
    assert!(w.clients[w.index(3)].signals.contains(&Signal::Removed { reason: LeaveReason::Removed }));
    assert_eq!(w.room.members().len(), 2);
}

#[test]
fn an_h264_only_publisher_is_seen_by_everyone_from_a_keyframe_while_the_others_keep_vp8() {
    let mut w = World::new(RoomConfig::default());
    w.join(1);
    w.join_with(2, Protocol::Udp, false, true);
    w.run(Duration::from_secs(1), true);
    // A late joiner, mid-way between the H.264 publisher's keyframes.
    let late = w.join(3);
    w.run(Duration::from_millis(1_130), true);
    for (to, from) in [(0, 2), (late, 2), (late, 1), (0, 3)] {
        let (a, v) = w.frames_from(to, from);
        assert!(a > 20 && v > 20, "{to} from {from}: {a} audio, {v} video frames");
    }
    // This one decodes H.264 only (a browser decodes VP8 too: the Chromium journey): the
    // others' audio reaches it, their VP8 cannot.
    for from in [1, 3] {
        let (a, v) = w.frames_from(1, from);
        assert!(a > 20 && v == 0, "from {from}: {a} audio, {v} video frames");
    }
    let first_from = |w: &World, i: usize, from: ParticipantId| {
        let c = &w.clients[i];
        let mid = c.first_video.keys().find(|m| c.owners.get(&m.to_string()) == Some(&from)).unwrap();
        c.first_video[mid].clone()
    };
    // What the others get of 2 is its H.264, and they start on a keyframe (SPS, PPS, IDR).
    for i in [0, late] {
        let f = first_from(&w, i, 2);
        assert!(has_nal(&f, 7) && has_nal(&f, 8) && has_nal(&f, 5), "{i}: first frame from 2 {:?}", &f[..16]);
    }
    // The others still publish VP8, preferred when offered.
    for i in [0, late] {
        let c = &mut w.clients[i];
        let codec = c.rtc.writer(c.video.unwrap()).unwrap().payload_params().next().unwrap().spec().codec;
        assert_eq!(codec, str0m::format::Codec::Vp8, "{i} sends");
    }
}

#[test]
fn a_subscriber_switches_simulcast_layers_on_keyframes_it_asks_for() {
    let mut w = World::new(RoomConfig::default());
    w.join_with(1, Protocol::Udp, true, false);
    w.join(2);
    // Layer rates are measured over a second before any layer is chosen.
    w.run(Duration::from_secs(3), true);
    let sizes = |w: &World| w.clients[1].video_sizes.clone();
    let before = sizes(&w);
    assert!(before.len() > 50, "video arrives: {} frames", before.len());
    let requests_before = w.clients[0].keyframe_requests;
    // A thumbnail: the quarter layer is enough.
    w.room.prefs(2, &[TilePref { participant: 1, visible: true, height: 120 }], w.now);
    w.run(Duration::from_secs(2), true);
    let small = sizes(&w)[before.len()..].to_vec();
    assert_eq!(small.last(), Some(&300), "the thumbnail gets the quarter layer: {small:?}");
    assert!(small.len() > 80, "no pause at the switch: {} frames in 2 s", small.len());
    assert!(w.clients[0].keyframe_requests > requests_before, "the switch asked the publisher for a keyframe");
    // Large again: back to the full layer, still one unbroken stream for the subscriber.
    let n = sizes(&w).len();
    w.room.prefs(2, &[TilePref { participant: 1, visible: true, height: 720 }], w.now);
    w.run(Duration::from_secs(2), true);
    let large = sizes(&w)[n..].to_vec();
    assert_eq!(large.last(), Some(&2_500), "the large tile gets the full layer: {large:?}");
    assert!(large.len() > 80, "no pause at the switch: {} frames in 2 s", large.len());
    // Off screen: nothing; back on screen: frames again (from a keyframe).
    w.room.prefs(2, &[TilePref { participant: 1, visible: false, height: 720 }], w.now);
    w.run(Duration::from_millis(500), true);
    let n = sizes(&w).len();
    w.run(Duration::from_secs(1), true);
    assert_eq!(sizes(&w).len(), n, "a paused tile gets nothing");
    w.room.prefs(2, &[TilePref { participant: 1, visible: true, height: 720 }], w.now);
    w.run(Duration::from_secs(1), true);
    assert!(sizes(&w).len() > n + 30, "a resumed tile gets frames again");
}

#[test]
fn without_bandwidth_adaptation_the_tile_alone_picks_the_layer() {
    // No estimator runs, and subscribers' clocks move in coarser steps: media still flows,
    // and no estimate holds the full layer back (with one, the 1 Mbit/s starting estimate
    // gives the half layer).
    let mut w = World::new(RoomConfig { bandwidth_adaptation: false, ..RoomConfig::default() });
    w.join_with(1, Protocol::Udp, true, false);
    w.join(2);
    w.run(Duration::from_secs(3), true);
    let (audio, video) = w.frames_from(1, 1);
    assert!(audio > 100 && video > 50, "audio {audio}, video {video} frames");
    let sizes = |w: &World| w.clients[1].video_sizes.clone();
    let before = sizes(&w);
    assert_eq!(before.last(), Some(&2_500), "the full layer at once: {before:?}");
    // The tile still decides: a thumbnail gets the quarter layer, without a pause.
    w.room.prefs(2, &[TilePref { participant: 1, visible: true, height: 120 }], w.now);
    w.run(Duration::from_secs(2), true);
    let small = sizes(&w)[before.len()..].to_vec();
    assert_eq!(small.last(), Some(&300), "the thumbnail gets the quarter layer: {small:?}");
    assert!(small.len() > 80, "no pause at the switch: {} frames in 2 s", small.len());
}
