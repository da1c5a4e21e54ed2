//! One participant's WebRTC session with the SFU: a str0m [`Rtc`], the tracks it publishes,
//! the tracks it receives from the others, and the SDP negotiation between the two.
//!
//! Negotiation: the client offers what it publishes (at join, and when screen sharing
//! starts or stops); the server offers what the client should receive (when someone
//! publishes or leaves). Each server offer carries a revision; an answer only counts for the
//! offer still pending. When offers cross, the client's wins: accepting it invalidates the
//! server's pending offer, whose changes are offered again afterwards (the client ignores a
//! server offer that arrives while its own is outstanding).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::bwe::{Bitrate, BweKind};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, KeyframeRequestKind, MediaData, MediaKind, Mid, Rid};
use str0m::net::{Protocol, TcpType};
use str0m::{Candidate, Event, IceConnectionState, Output, Rtc};

use crate::layers;
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
}

impl TrackOut {
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
    Media(Box<MediaData>),
    /// The peer's browser wants a keyframe of a track it receives from `origin`.
    Keyframe {
        origin: ParticipantId,
        origin_mid: Mid,
        rid: Option<Rid>,
        kind: KeyframeRequestKind,
    },
    Connected,
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
}

impl Peer {
    pub fn new(id: ParticipantId, user: UserId, rtc: Rtc, ufrag: String, now: Instant, ingress_bps: u64) -> Self {
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
        now: Instant,
    ) -> (Rtc, String) {
        let creds = str0m::IceCreds::new();
        let ufrag = creds.ufrag.clone();
        let mut rtc = Rtc::builder()
            .set_ice_lite(true)
            .set_local_ice_credentials(creds)
            .set_crypto_provider(crypto.clone())
            .enable_bwe(Some(Bitrate::kbps(1_000)))
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
            Event::MediaData(data) => {
                let Some(t) = self.tracks_in.iter_mut().find(|t| t.mid == data.mid) else { return };
                t.count(data.rid, data.data.len(), now);
                if !data.contiguous && t.kind == MediaKind::Video {
                    let (mid, rid) = (data.mid, data.rid);
                    self.request_keyframe(mid, rid, KeyframeRequestKind::Fir, now);
                }
                out.push(PeerEvent::Media(Box::new(data)));
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
        if let Some(mut w) = self.rtc.writer(mid) {
            if let Err(e) = w.request_keyframe(rid, kind) {
                tracing::debug!(participant = self.id, error = %e, "keyframe request refused");
            }
        }
    }

    /// Forwards a frame from another participant's track, if this peer receives it and the
    /// frame is of the layer it gets. Returns a keyframe request to make of the publisher
    /// when this subscriber waits for one to switch layers.
    pub fn forward(&mut self, origin: ParticipantId, data: &MediaData) -> Option<Option<Rid>> {
        let t = self
            .tracks_out
            .iter_mut()
            .find(|t| t.origin == origin && t.origin_mid == data.mid && matches!(t.state, OutState::Open(_)))?;
        if t.paused {
            return None;
        }
        let mid = t.mid()?;
        let mut want_keyframe = None;
        if t.kind == MediaKind::Video && data.rid.is_some() {
            if t.current == Some(t.target) && data.rid != t.target {
                return None;
            }
            if t.current != Some(t.target) {
                // Switching (or starting): wait for a keyframe of the target layer; until then
                // keep forwarding the current one.
                if data.rid == t.target && data.is_keyframe() {
                    t.current = Some(t.target);
                } else {
                    if data.rid == t.target {
                        want_keyframe = Some(t.target);
                    }
                    if t.current != Some(data.rid) {
                        return want_keyframe;
                    }
                }
            }
        } else if t.current.is_none() {
            t.current = Some(data.rid);
        }
        let writer = self.rtc.writer(mid)?;
        let pt = writer.match_params(data.params)?;
        self.dirty = true;
        if let Err(e) = writer.write(pt, data.network_time, data.time, data.data.clone()) {
            tracing::debug!(participant = self.id, error = %e, "write failed");
        }
        want_keyframe
    }

    /// Re-chooses the layer of every simulcast track this peer receives, from its estimate
    /// and tile sizes. `rates` gives each origin track's measured layer rates.
    pub fn choose_layers(&mut self, rates: &dyn Fn(ParticipantId, Mid) -> Option<LayerRates>) {
        let audio = self.tracks_out.iter().filter(|t| t.kind == MediaKind::Audio).count();
        let video = self.tracks_out.iter().filter(|t| t.kind == MediaKind::Video && !t.paused).count();
        let budget = layers::video_budget(self.estimate.unwrap_or(1_000_000), audio, video);
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
        let wanted: u64 = self.tracks_out.len() as u64 * 1_500_000;
        self.dirty = true;
        self.rtc.bwe().set_bitrate(Bitrate::kbps(300), Bitrate::bps(wanted.max(1_000_000)));
    }
}
