//! One participant's WebRTC session with the SFU: a str0m [`Rtc`], the tracks it publishes,
//! the tracks it receives from the others, and the SDP negotiation between the two.
//!
//! Negotiation: the client offers what it publishes (at join, and when screen sharing
//! starts or stops); the server offers what the client should receive (when someone
//! publishes or leaves). Each server offer carries a revision; an answer only counts for the
//! offer still pending. When offers cross, the client's wins: accepting it invalidates the
//! server's pending offer, whose changes are offered again afterwards (the client ignores a
//! server offer that arrives while its own is outstanding).
//!
//! Media is forwarded packet by packet (str0m's RTP mode): a publisher's packet is handed to
//! each subscriber as it arrives, with its payload shared, not reassembled into a frame and
//! cut up again per subscriber. Each subscriber's outgoing track is renumbered
//! ([`crate::renumber`]) so that switching simulcast layers or pausing keeps it one stream.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::bwe::{Bitrate, BweKind};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::{Codec, PayloadParams};
use str0m::media::{Direction, KeyframeRequestKind, MediaKind, Mid, Pt, Rid};
use str0m::net::{Protocol, TcpType};
use str0m::rtp::{ExtensionValues, RtpPacket, RtpWrite, Ssrc, Vp8Descriptor};
use str0m::{Candidate, Event, IceConnectionState, Output, Rtc};

use crate::layers;
use crate::renumber::{Renumber, Vp8Ids};
use crate::{ParticipantId, Source, UserId};

/// Why a peer's session ended, as seen from its own connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PeerEnd {
    /// ICE never completed, or the path broke.
    MediaLost,
    /// The session failed (a malformed packet stream, a str0m error).
    Failed,
}

/// A track this peer publishes.
#[derive(Debug)]
pub(crate) struct TrackIn {
    pub mid: Mid,
    pub kind: MediaKind,
    pub source: Source,
    /// The payload parameters of the last payload type seen (looked up once per change).
    params: Option<PayloadParams>,
    /// Bytes seen per simulcast rank in the current measuring window, and the rates measured
    /// over the last complete one.
    bytes: [u64; 3],
    pub rates: [Option<u64>; 3],
    /// Whether frames without a rid arrive (no simulcast).
    pub plain: bool,
    window_start: Option<Instant>,
    last_keyframe_request: HashMap<Option<Rid>, Instant>,
}

impl TrackIn {
    fn new(mid: Mid, kind: MediaKind, source: Source) -> Self {
        Self {
            mid,
            kind,
            source,
            params: None,
            bytes: [0; 3],
            rates: [None; 3],
            plain: false,
            window_start: None,
            last_keyframe_request: HashMap::new(),
        }
    }

    fn count(&mut self, rid: Option<Rid>, len: usize, now: Instant) {
        const WINDOW: Duration = Duration::from_secs(1);
        let start = *self.window_start.get_or_insert(now);
        let elapsed = now.saturating_duration_since(start);
        if elapsed >= WINDOW {
            let ms = elapsed.as_millis().max(1) as u64;
            for (rate, bytes) in self.rates.iter_mut().zip(self.bytes.iter_mut()) {
                *rate = (*bytes > 0).then(|| *bytes * 8 * 1000 / ms);
                *bytes = 0;
            }
            self.window_start = Some(now);
        }
        match rid.as_deref().and_then(layers::rank) {
            Some(r) => self.bytes[r] += len as u64,
            None => self.plain = true,
        }
    }
}

/// A published track's measured rate per simulcast rank, and whether it also sends frames
/// without a rid (no simulcast).
pub(crate) type LayerRates = ([Option<u64>; 3], bool);

/// Where an outgoing track is in its negotiation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutState {
    ToOpen,
    Negotiating(Mid),
    Open(Mid),
    ToStop(Mid),
    NegotiatingStop(Mid),
}

/// A track this peer receives: another participant's [`TrackIn`].
#[derive(Debug)]
pub(crate) struct TrackOut {
    pub origin: ParticipantId,
    pub origin_mid: Mid,
    pub kind: MediaKind,
    pub source: Source,
    pub state: OutState,
    /// The simulcast layer being forwarded (None until the first keyframe of the target).
    pub current: Option<Option<Rid>>,
    /// The layer the policy wants.
    pub target: Option<Rid>,
    /// Not forwarded: the tile is off screen.
    pub paused: bool,
    /// Highest layer rank the tile needs.
    pub cap: usize,
    /// This subscriber's numbering of the track.
    pub renumber: Renumber,
    /// The publisher's payload type and ours for it (looked up once per change).
    pub pt: Option<(Pt, Pt)>,
}

impl TrackOut {
    pub fn new(origin: ParticipantId, origin_mid: Mid, kind: MediaKind, source: Source) -> Self {
        let clock = if kind == MediaKind::Audio { 48_000 } else { 90_000 };
        Self {
            origin,
            origin_mid,
            kind,
            source,
            state: OutState::ToOpen,
            current: None,
            target: None,
            paused: false,
            cap: 2,
            renumber: Renumber::new(clock),
            pt: None,
        }
    }

    /// Stops forwarding until the next start (a keyframe for video): a pause, or a
    /// moderator's mute.
    pub fn halt(&mut self) {
        self.current = None;
        self.renumber.stop();
    }

    pub fn mid(&self) -> Option<Mid> {
        match self.state {
            OutState::ToOpen => None,
            OutState::Negotiating(m) | OutState::Open(m) | OutState::ToStop(m) | OutState::NegotiatingStop(m) => {
                Some(m)
            }
        }
    }
}

/// What a peer's session produced for the rest of the room.
#[derive(Debug)]
pub(crate) enum PeerEvent {
    Transmit {
        proto: Protocol,
        destination: SocketAddr,
        contents: Vec<u8>,
    },
    /// A new published track.
    TrackOpen {
        mid: Mid,
        kind: MediaKind,
        source: Source,
    },
    /// A published track stopped (renegotiated away).
    TrackClosed {
        mid: Mid,
    },
    Rtp(Box<Incoming>),
    /// The peer's browser wants a keyframe of a track it receives from `origin`.
    Keyframe {
        origin: ParticipantId,
        origin_mid: Mid,
        rid: Option<Rid>,
        kind: KeyframeRequestKind,
    },
    Connected,
}

/// A media packet from a publisher, with what forwarding needs to know of it.
#[derive(Debug)]
pub(crate) struct Incoming {
    pub mid: Mid,
    pub rid: Option<Rid>,
    pub kind: MediaKind,
    pub params: Option<PayloadParams>,
    /// Its VP8 payload descriptor (VP8 video), if it parses.
    pub vp8: Option<Vp8Descriptor>,
    /// The first packet of a keyframe (VP8 or H.264).
    pub keyframe: bool,
    pub packet: RtpPacket,
}

/// Our client's description of one outgoing track in a server offer: which participant's,
/// and what it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackInfo {
    pub mid: String,
    pub participant: ParticipantId,
    pub kind: &'static str,
    pub source: Source,
}

pub(crate) struct Peer {
    pub id: ParticipantId,
    pub user: UserId,
    pub rtc: Rtc,
    pub ufrag: String,
    pub joined_at: Instant,
    pub connected: bool,
    pub ended: Option<PeerEnd>,
    pending: Option<(u64, SdpPendingOffer)>,
    rev: u64,
    /// Sources the client declared for its mids (`screen`), applied when the track appears.
    declared: HashMap<String, Source>,
    pub tracks_in: Vec<TrackIn>,
    pub tracks_out: Vec<TrackOut>,
    /// The incoming streams seen, by SSRC: which track and layer each carries.
    rx_streams: Vec<(Ssrc, Mid, Option<Rid>)>,
    /// TWCC estimate of what can be sent to this peer.
    pub estimate: Option<u64>,
    /// Ingress budget (bytes), refilled over time: a peer sending far more than any camera
    /// has its excess dropped before decryption.
    ingress_tokens: f64,
    ingress_at: Instant,
    ingress_rate: f64,
    pub dropped_ingress: u64,
    pub muted: bool,
    pub camera_off: bool,
    pub hand: bool,
    /// A moderator muted this participant: its audio is not forwarded until it unmutes.
    pub muted_by_moderator: bool,
    /// Events found outside `poll_output` (see [`Peer::accept_offer`]), given out by the next poll.
    queued: Vec<PeerEvent>,
    /// Its session had input since it was last polled until quiet (see `Room::drive`).
    pub dirty: bool,
    /// When its session next needs time (as of its last poll).
    pub next_timeout: Instant,
    /// The time its session was last given (str0m's clock: what it sends is stamped with it).
    clock: Instant,
    /// Its session estimates the bandwidth to it (`bandwidth_adaptation`): the estimate
    /// steers its layers, and its clock is kept closer (see [`Peer::advance`]).
    estimating: bool,
}

/// A subscriber's clock, with a bandwidth estimate: the estimator reads its send times (and
/// groups them in 5 ms bursts, so a millisecond off is small).
const CLOCK_SLACK_ESTIMATING: Duration = Duration::from_millis(1);
/// Without one, the clock only stamps RTCP sender reports (lip sync: 10 ms is far below
/// what anyone notices) and schedules the session's own timers, which run when due anyway.
/// Moving it runs every timer check of the session: 13 % of the SFU's CPU under load when
/// done for each forwarded packet (bench/README.md, part (c)).
const CLOCK_SLACK: Duration = Duration::from_millis(10);

impl Peer {
    /// `estimating`: its session estimates the bandwidth to it (see [`Peer::build_rtc`]).
    pub fn new(
        id: ParticipantId,
        user: UserId,
        rtc: Rtc,
        ufrag: String,
        now: Instant,
        ingress_bps: u64,
        estimating: bool,
    ) -> Self {
        let rate = ingress_bps as f64 / 8.0;
        Self {
            id,
            user,
            rtc,
            ufrag,
            joined_at: now,
            connected: false,
            ended: None,
            pending: None,
            rev: 0,
            declared: HashMap::new(),
            tracks_in: vec![],
            tracks_out: vec![],
            rx_streams: vec![],
            estimate: None,
            ingress_tokens: rate,
            ingress_at: now,
            ingress_rate: rate,
            dropped_ingress: 0,
            muted: false,
            camera_off: false,
            hand: false,
            muted_by_moderator: false,
            queued: vec![],
            dirty: true,
            next_timeout: now,
            clock: now,
            estimating,
        }
    }

    pub fn member(&self) -> crate::Member {
        crate::Member {
            participant: self.id,
            user: self.user,
            muted: self.muted,
            camera_off: self.camera_off,
            hand: self.hand,
        }
    }

    /// Builds the str0m session of a new participant, with the shared media addresses as its
    /// host candidates (UDP, and passive TCP when `tcp`: browsers that cannot send UDP connect
    /// to it, RFC 6544) and its own ICE credentials (they route incoming packets to it).
    pub fn build_rtc(
        candidates: &[SocketAddr],
        tcp: bool,
        crypto: &std::sync::Arc<str0m::crypto::CryptoProvider>,
        estimating: bool,
        now: Instant,
    ) -> (Rtc, String) {
        let creds = str0m::IceCreds::new();
        let ufrag = creds.ufrag.clone();
        // Packets are forwarded as they are (RTP mode), so the room must understand their
        // payload: Opus (without RED), and VP8, which every browser sends and our client
        // publishes as simulcast, before H.264, for publishers that send nothing else (some
        // devices and encoders); every browser decodes both. Keyframes are found in VP8's
        // payload descriptor or in H.264's NAL unit types (`h264_starts_keyframe`).
        let mut rtc = Rtc::builder()
            .set_ice_lite(true)
            .set_local_ice_credentials(creds)
            .set_crypto_provider(crypto.clone())
            .set_rtp_mode(true)
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            .enable_h264(true)
            // Without bandwidth adaptation nothing reads the estimate: no estimator, no
            // probing, no pacer (a tenth of the SFU's CPU under load, bench/README.md).
            .enable_bwe(estimating.then_some(Bitrate::kbps(1_000)))
            .build(now);
        for addr in candidates {
            if let Ok(c) = Candidate::host(*addr, "udp") {
                rtc.add_local_candidate(c);
            }
            if tcp {
                if let Ok(c) = Candidate::builder().tcp().host(*addr).tcptype(TcpType::Passive).build() {
                    rtc.add_local_candidate(c);
                }
            }
        }
        (rtc, ufrag)
    }

    /// Hands the session a datagram, at `now` or, if it already saw a later time (a packet
    /// queued while the worker ran timers), at that: its clock never goes back.
    pub fn receive(&mut self, input: str0m::net::Receive<'_>, now: Instant) {
        self.clock = self.clock.max(now);
        if let Err(e) = self.rtc.handle_input(str0m::Input::Receive(self.clock, input)) {
            tracing::debug!(participant = self.id, error = %e, "packet refused");
        }
    }

    /// Moves the session's clock to `now` (running the timers that are due). Forwarded
    /// packets are stamped with the session's clock when polled: a clock left at the
    /// subscriber's last own input makes its bandwidth estimate see delays that are not
    /// there. Less than the slack behind is left alone (each call runs every timer check).
    pub fn advance(&mut self, now: Instant, force: bool) {
        let slack = if self.estimating { CLOCK_SLACK_ESTIMATING } else { CLOCK_SLACK };
        if now <= self.clock || (!force && now.saturating_duration_since(self.clock) < slack) {
            return;
        }
        self.clock = now;
        if let Err(e) = self.rtc.handle_input(str0m::Input::Timeout(now)) {
            tracing::debug!(participant = self.id, error = %e, "timeout handling failed");
        }
    }

    /// Whether a packet of `len` bytes fits the ingress budget (and takes it).
    pub fn admit(&mut self, len: usize, now: Instant) -> bool {
        let dt = now.saturating_duration_since(self.ingress_at).as_secs_f64();
        self.ingress_at = now;
        // Two seconds of burst: keyframes are large.
        self.ingress_tokens = (self.ingress_tokens + dt * self.ingress_rate).min(self.ingress_rate * 2.0);
        if self.ingress_tokens >= len as f64 {
            self.ingress_tokens -= len as f64;
            true
        } else {
            self.dropped_ingress += 1;
            false
        }
    }

    /// The client's offer: answered at once. Cancels a pending server offer (see the module
    /// documentation).
    pub fn accept_offer(&mut self, sdp: &str, sources: &HashMap<String, Source>) -> Result<String, crate::SfuError> {
        let offer = SdpOffer::from_sdp_string(sdp).map_err(|e| crate::SfuError::BadSdp(e.to_string()))?;
        self.declared.extend(sources.iter().map(|(k, v)| (k.clone(), *v)));
        let answer = self.rtc.sdp_api().accept_offer(offer).map_err(|e| crate::SfuError::BadSdp(e.to_string()))?;
        self.pending = None;
        for t in &mut self.tracks_out {
            match t.state {
                OutState::Negotiating(_) => t.state = OutState::ToOpen,
                OutState::NegotiatingStop(m) => t.state = OutState::ToStop(m),
                _ => {}
            }
        }
        // A track the client stopped (its m-line rejected, e.g. screen sharing ended) raises
        // no str0m event: find it here, so the others stop receiving it.
        let rtc = &self.rtc;
        let stopped: Vec<Mid> = self
            .tracks_in
            .iter()
            .filter(|t| rtc.media(t.mid).is_none_or(|m| m.disabled() || !m.direction().is_receiving()))
            .map(|t| t.mid)
            .collect();
        tracing::debug!(participant = self.id, ?stopped, tracks = self.tracks_in.len(), "offer accepted");
        self.tracks_in.retain(|t| !stopped.contains(&t.mid));
        self.rx_streams.retain(|(_, mid, _)| !stopped.contains(mid));
        self.queued.extend(stopped.into_iter().map(|mid| PeerEvent::TrackClosed { mid }));
        Ok(answer.to_sdp_string())
    }

    /// The client's answer to our offer `rev`. An answer to an offer that is no longer
    /// pending (it crossed with the client's own) is ignored.
    pub fn accept_answer(&mut self, rev: u64, sdp: &str) -> Result<(), crate::SfuError> {
        let answer = SdpAnswer::from_sdp_string(sdp).map_err(|e| crate::SfuError::BadSdp(e.to_string()))?;
        let Some((pending_rev, pending)) = self.pending.take() else { return Ok(()) };
        if pending_rev != rev {
            self.pending = Some((pending_rev, pending));
            return Ok(());
        }
        self.rtc.sdp_api().accept_answer(pending, answer).map_err(|e| crate::SfuError::BadSdp(e.to_string()))?;
        for t in &mut self.tracks_out {
            if let OutState::Negotiating(m) = t.state {
                t.state = OutState::Open(m);
            }
        }
        self.tracks_out.retain(|t| !matches!(t.state, OutState::NegotiatingStop(_)));
        Ok(())
    }

    /// Offers the outgoing tracks that changed, if no offer is pending. Returns the offer and
    /// what each of its outgoing tracks carries.
    pub fn negotiate(&mut self) -> Option<(u64, String, Vec<TrackInfo>)> {
        if self.pending.is_some() || !self.connected {
            return None;
        }
        // Called after every packet: most of the time there is nothing to negotiate.
        if !self.tracks_out.iter().any(|t| matches!(t.state, OutState::ToOpen | OutState::ToStop(_))) {
            return None;
        }
        let mut change = self.rtc.sdp_api();
        for t in &mut self.tracks_out {
            match t.state {
                OutState::ToOpen => {
                    let stream = format!("p{}", t.origin);
                    let mid = change.add_media(t.kind, Direction::SendOnly, Some(stream), None, None);
                    t.state = OutState::Negotiating(mid);
                }
                OutState::ToStop(mid) => {
                    change.stop_media(mid);
                    t.state = OutState::NegotiatingStop(mid);
                }
                _ => {}
            }
        }
        if !change.has_changes() {
            return None;
        }
        let (offer, pending) = change.apply()?;
        self.dirty = true;
        tracing::debug!(participant = self.id, "offering track changes");
        self.rev += 1;
        self.pending = Some((self.rev, pending));
        let tracks = self
            .tracks_out
            .iter()
            .filter_map(|t| match t.state {
                OutState::Negotiating(m) | OutState::Open(m) => Some(TrackInfo {
                    mid: m.to_string(),
                    participant: t.origin,
                    kind: if t.kind == MediaKind::Audio { "audio" } else { "video" },
                    source: t.source,
                }),
                _ => None,
            })
            .collect();
        Some((self.rev, offer.to_sdp_string(), tracks))
    }

    /// Polls the session until it only waits for time; returns (and keeps) its next timeout.
    pub fn poll(&mut self, now: Instant, out: &mut Vec<PeerEvent>) -> Instant {
        let t = self.poll_until_quiet(now, out);
        self.next_timeout = t;
        t
    }

    fn poll_until_quiet(&mut self, now: Instant, out: &mut Vec<PeerEvent>) -> Instant {
        out.append(&mut self.queued);
        loop {
            if !self.rtc.is_alive() {
                self.ended.get_or_insert(PeerEnd::MediaLost);
                return now + Duration::from_secs(1);
            }
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => return t,
                Ok(Output::Transmit(t)) => out.push(PeerEvent::Transmit {
                    proto: t.proto,
                    destination: t.destination,
                    contents: t.contents.to_vec(),
                }),
                Ok(Output::Event(e)) => self.event(e, now, out),
                Err(e) => {
                    tracing::debug!(participant = self.id, error = %e, "session failed");
                    self.ended = Some(PeerEnd::Failed);
                    self.rtc.disconnect();
                }
            }
        }
    }

    fn event(&mut self, e: Event, now: Instant, out: &mut Vec<PeerEvent>) {
        match e {
            Event::Connected => {
                self.connected = true;
                out.push(PeerEvent::Connected);
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                self.ended = Some(PeerEnd::MediaLost);
                self.rtc.disconnect();
            }
            Event::MediaAdded(m) if m.direction.is_receiving() => {
                let source = self.declared.get(&m.mid.to_string()).copied().unwrap_or(match m.kind {
                    MediaKind::Audio => Source::Microphone,
                    MediaKind::Video => Source::Camera,
                });
                self.tracks_in.push(TrackIn::new(m.mid, m.kind, source));
                out.push(PeerEvent::TrackOpen { mid: m.mid, kind: m.kind, source });
            }
            Event::MediaChanged(m) => {
                let known = self.tracks_in.iter().any(|t| t.mid == m.mid);
                if known && !m.direction.is_receiving() {
                    self.tracks_in.retain(|t| t.mid != m.mid);
                    out.push(PeerEvent::TrackClosed { mid: m.mid });
                }
            }
            Event::RtpPacket(packet) => {
                let Some((mid, rid)) = self.rx_stream(packet.header.ssrc) else { return };
                let Some(t) = self.tracks_in.iter_mut().find(|t| t.mid == mid) else { return };
                t.count(rid, packet.payload.len(), now);
                let pt = packet.header.payload_type;
                if t.params.is_none_or(|p| p.pt() != pt) {
                    t.params = self.rtc.codec_config().find(|p| p.pt() == pt).copied();
                }
                let (vp8, keyframe) = match (t.kind, t.params.map(|p| p.spec().codec)) {
                    (MediaKind::Video, Some(Codec::Vp8)) => {
                        let d = Vp8Descriptor::parse(&packet.payload).ok();
                        (d, d.is_some_and(|d| d.starts_keyframe(&packet.payload)))
                    }
                    (MediaKind::Video, Some(Codec::H264)) => (None, h264_starts_keyframe(&packet.payload)),
                    _ => (None, false),
                };
                out.push(PeerEvent::Rtp(Box::new(Incoming {
                    mid,
                    rid,
                    kind: t.kind,
                    params: t.params,
                    vp8,
                    keyframe,
                    packet,
                })));
            }
            Event::KeyframeRequest(req) => {
                let Some(t) = self.tracks_out.iter().find(|t| t.mid() == Some(req.mid)) else { return };
                out.push(PeerEvent::Keyframe {
                    origin: t.origin,
                    origin_mid: t.origin_mid,
                    rid: t.current.flatten(),
                    kind: req.kind,
                });
            }
            Event::EgressBitrateEstimate(BweKind::Twcc { estimate, .. }) => {
                self.estimate = Some(estimate.as_u64());
            }
            _ => {}
        }
    }

    /// The track and layer an incoming SSRC carries (str0m maps it from the SDP and the
    /// mid/rid header extensions; kept here to spare the lookup per packet).
    fn rx_stream(&mut self, ssrc: Ssrc) -> Option<(Mid, Option<Rid>)> {
        if let Some((_, mid, rid)) = self.rx_streams.iter().find(|(s, ..)| *s == ssrc) {
            return Some((*mid, *rid));
        }
        let mut api = self.rtc.direct_api();
        let s = api.stream_rx(&ssrc)?;
        let found = (s.mid(), s.rid());
        // Bounded: a few tracks of three layers each; a sender inventing SSRCs is looked up.
        if self.rx_streams.len() < 32 {
            self.rx_streams.push((ssrc, found.0, found.1));
        }
        Some(found)
    }

    /// Asks this publisher for a keyframe of one of its tracks, at most once per 500 ms per
    /// layer (every subscriber switching at once must not flood the publisher).
    pub fn request_keyframe(&mut self, mid: Mid, rid: Option<Rid>, kind: KeyframeRequestKind, now: Instant) {
        let Some(t) = self.tracks_in.iter_mut().find(|t| t.mid == mid) else { return };
        if t.last_keyframe_request
            .get(&rid)
            .is_some_and(|at| now.saturating_duration_since(*at) < Duration::from_millis(500))
        {
            return;
        }
        t.last_keyframe_request.insert(rid, now);
        // The request is input to this session: poll it.
        self.dirty = true;
        match self.rtc.direct_api().stream_rx_by_mid(mid, rid) {
            Some(s) => s.request_keyframe(kind),
            None => tracing::debug!(participant = self.id, "keyframe request for a stream not received"),
        }
    }

    /// Forwards a packet of another participant's track, if this peer receives it and the
    /// packet is of the layer it gets. Returns a keyframe request to make of the publisher
    /// when this subscriber waits for one (to switch layers, or to start).
    ///
    /// Video starts, and switches layer, on the first packet of a keyframe; until the
    /// target layer's keyframe comes, the current layer goes on. Audio starts anywhere.
    pub fn forward(&mut self, origin: ParticipantId, inc: &Incoming) -> Option<Option<Rid>> {
        let t = self
            .tracks_out
            .iter_mut()
            .find(|t| t.origin == origin && t.origin_mid == inc.mid && matches!(t.state, OutState::Open(_)))?;
        if t.paused {
            t.halt();
            return None;
        }
        let packet = &inc.packet;
        let ids = vp8_ids(inc.vp8.as_ref(), &packet.payload);
        let (seq, ts, at) = (*packet.seq_no, packet.header.timestamp, packet.timestamp);
        let mut want_keyframe = None;
        if t.kind == MediaKind::Audio {
            if t.current.is_none() {
                t.current = Some(inc.rid);
                t.renumber.start(seq, ts, ids, at);
            }
        } else {
            // Without simulcast the only layer is `None`.
            let target = if inc.rid.is_some() { t.target } else { None };
            if t.current != Some(target) {
                if inc.rid == target && inc.keyframe {
                    t.current = Some(target);
                    t.renumber.start(seq, ts, ids, at);
                } else if inc.rid == target {
                    want_keyframe = Some(target);
                }
            }
            if t.current != Some(inc.rid) {
                return want_keyframe;
            }
        }
        let mapped = t.renumber.map(seq, ts, ids, at)?;
        let in_pt = packet.header.payload_type;
        let pt = match t.pt {
            Some((i, o)) if i == in_pt => o,
            _ => {
                let o = self.rtc.codec_config().match_params(inc.params?)?.pt();
                t.pt = Some((in_pt, o));
                o
            }
        };
        let mid = t.mid()?;
        let video = t.kind == MediaKind::Video;
        let ext = ExtensionValues {
            audio_level: packet.header.ext_vals.audio_level,
            voice_activity: packet.header.ext_vals.voice_activity,
            video_orientation: packet.header.ext_vals.video_orientation,
            ..Default::default()
        };
        let mut write = RtpWrite::new(pt, mapped.seq.into(), mapped.timestamp, at, packet.payload.clone())
            .marker(packet.header.marker)
            .nackable(video)
            .ext_vals(ext);
        if let Some(d) = &inc.vp8 {
            let mut patch = d.patch();
            if let Some(p) = mapped.picture_id {
                patch = patch.picture_id(p);
            }
            if let Some(x) = mapped.tl0_pic_idx {
                patch = patch.tl0_pic_idx(x);
            }
            if let Ok(p) = patch.build() {
                write = write.vp8_patch(p);
            }
        }
        let mut api = self.rtc.direct_api();
        let stream = api.stream_tx_by_mid(mid, None)?;
        // The publisher's browser paced these packets already; pacing them again per
        // subscriber only delays them (the estimate still steers the layer choice).
        stream.set_unpaced(true);
        stream.write_rtp(write);
        self.dirty = true;
        want_keyframe
    }

    /// Stops forwarding a track of `origin` (its audio, muted by a moderator): forwarding
    /// starts a new run when it resumes, so the subscriber sees no gap.
    pub fn halt(&mut self, origin: ParticipantId, origin_mid: Mid) {
        for t in self.tracks_out.iter_mut().filter(|t| t.origin == origin && t.origin_mid == origin_mid) {
            t.halt();
        }
    }

    /// Re-chooses the layer of every simulcast track this peer receives, from its estimate
    /// and tile sizes (the tile sizes alone when not `estimating`). `rates` gives each origin
    /// track's measured layer rates.
    pub fn choose_layers(&mut self, rates: &dyn Fn(ParticipantId, Mid) -> Option<LayerRates>) {
        let audio = self.tracks_out.iter().filter(|t| t.kind == MediaKind::Audio).count();
        let video = self.tracks_out.iter().filter(|t| t.kind == MediaKind::Video && !t.paused).count();
        let estimate = if self.estimating { self.estimate.unwrap_or(1_000_000) } else { u64::MAX };
        let budget = layers::video_budget(estimate, audio, video);
        for t in self.tracks_out.iter_mut().filter(|t| t.kind == MediaKind::Video) {
            let Some((r, plain)) = rates(t.origin, t.origin_mid) else { continue };
            if plain && r.iter().all(Option::is_none) {
                t.target = None;
                continue;
            }
            // Screen shares keep resolution: the full layer whatever the tile.
            let cap = if t.source == Source::Screen { 2 } else { t.cap };
            if let Some(i) = layers::choose(&r, budget, cap) {
                t.target = Some(Rid::from(layers::RIDS[i]));
            }
        }
        self.dirty = true;
        if self.estimating {
            let wanted: u64 = self.tracks_out.len() as u64 * 1_500_000;
            self.rtc.bwe().set_bitrate(Bitrate::kbps(300), Bitrate::bps(wanted.max(1_000_000)));
        }
    }
}

/// Whether an H.264 packet (RFC 6184: one NAL unit, a STAP-A or an FU-A) is where a
/// subscriber can start: the sequence parameter set that precedes an IDR picture, or the IDR
/// picture itself when the encoder sent no SPS with it (the decoder has one from before).
/// Browsers send SPS and PPS with every IDR, aggregated in one packet or just before it, so
/// starting at the SPS the subscriber gets all three.
pub(crate) fn h264_starts_keyframe(payload: &[u8]) -> bool {
    const SPS: u8 = 7;
    str0m::format::detect_h264_nalu(payload, SPS) || str0m::format::detect_h264_keyframe(payload)
}

/// The VP8 descriptor's numbering fields, as [`Renumber`] takes them. The picture id's
/// width is its first byte's M bit (RFC 7741 4.2: the id follows the two leading bytes).
fn vp8_ids(d: Option<&Vp8Descriptor>, payload: &[u8]) -> Vp8Ids {
    let long = payload.get(2).is_some_and(|b| b & 0x80 != 0);
    Vp8Ids {
        picture_id: d.and_then(|d| d.picture_id().map(|p| (p, long))),
        tl0_pic_idx: d.and_then(Vp8Descriptor::tl0_pic_idx),
    }
}

#[cfg(test)]
mod tests {
    use super::h264_starts_keyframe;

    #[test]
    fn h264_keyframes_start_at_the_sps_or_an_idr_and_nowhere_else() {
        // One NAL unit: SPS (7) and IDR (5) start; PPS (8) and a non-IDR slice (1) do not.
        assert!(h264_starts_keyframe(&[0x67, 0x42, 0xe0, 0x1f]));
        assert!(h264_starts_keyframe(&[0x65, 0x88, 0x84]));
        assert!(!h264_starts_keyframe(&[0x68, 0xce, 0x3c, 0x80]));
        assert!(!h264_starts_keyframe(&[0x41, 0x9a, 0x00]));
        // STAP-A (24) of SPS, PPS and IDR, as browsers send them: starts.
        let stap = [0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce, 0x00, 0x02, 0x65, 0x88];
        assert!(h264_starts_keyframe(&stap));
        // FU-A (28) of an IDR: its first fragment starts, a later one does not.
        assert!(h264_starts_keyframe(&[0x7c, 0x85, 0x88, 0x84]));
        assert!(!h264_starts_keyframe(&[0x7c, 0x05, 0x88, 0x84]));
        assert!(!h264_starts_keyframe(&[0x7c, 0x81, 0x9a]));
        // Garbage: a STAP-A whose lengths run past the end, truncated units, nothing.
        for bad in [&[][..], &[0x78], &[0x78, 0xff, 0xff, 0x67], &[0x7c], &[0x00], &[0x1f, 0x67]] {
            assert!(!h264_starts_keyframe(bad), "{bad:?}");
        }
    }
}
