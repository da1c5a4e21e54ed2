//! A conference room: its participants' sessions and the forwarding between them. Sans-IO:
//! packets and time go in, packets to send and signals for the clients come out; the
//! driver owns the socket and the clock.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::media::{KeyframeRequestKind, MediaKind};
use str0m::net::{Protocol, Receive};

use crate::peer::{LayerRates, OutState, Peer, PeerEnd, PeerEvent, TrackOut};
use crate::speaker::SpeakerDetector;
use crate::{LeaveReason, ParticipantId, RoomConfig, RoomId, SfuError, Signal, Source, TilePref, UserId};

/// What a room asks of its driver.
#[derive(Debug, PartialEq)]
pub enum RoomOutput {
    /// Send this packet from the media socket (UDP) or on the TCP connection from
    /// `destination` (ICE over TCP; the driver frames it).
    Transmit { proto: Protocol, destination: SocketAddr, contents: Vec<u8> },
    /// Tell a participant's client (over signaling).
    Signal { to: ParticipantId, signal: Signal },
    /// A participant is gone (left, removed, lost): the driver forgets its routing.
    Gone { participant: ParticipantId, ufrag: String },
}

/// One participant as the others see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub participant: ParticipantId,
    pub user: UserId,
    pub muted: bool,
    pub camera_off: bool,
    pub hand: bool,
}

pub struct Room {
    pub id: RoomId,
    cfg: RoomConfig,
    crypto: Arc<str0m::crypto::CryptoProvider>,
    local: SocketAddr,
    candidates: Vec<SocketAddr>,
    peers: Vec<Peer>,
    speaker: SpeakerDetector<ParticipantId>,
    out: VecDeque<RoomOutput>,
    next_layer_check: Option<Instant>,
    /// Who started the call (the first to join): a moderator, with administrators.
    starter: Option<UserId>,
}

impl Room {
    /// `local` is the media socket's address (the destination of what arrives);
    /// `candidates` the addresses announced to clients.
    pub fn new(
        id: RoomId,
        cfg: RoomConfig,
        crypto: Arc<str0m::crypto::CryptoProvider>,
        local: SocketAddr,
        candidates: Vec<SocketAddr>,
    ) -> Self {
        Self {
            id,
            speaker: SpeakerDetector::new(cfg.speaker_dwell),
            cfg,
            crypto,
            local,
            candidates,
            peers: vec![],
            out: VecDeque::new(),
            next_layer_check: None,
            starter: None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    /// Participants in the room.
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    pub fn members(&self) -> Vec<Member> {
        self.peers.iter().map(|p| p.member()).collect()
    }

    pub fn has(&self, who: ParticipantId) -> bool {
        self.peers.iter().any(|p| p.id == who)
    }

    /// Adds a participant. Returns its ICE ufrag (the driver routes packets by it).
    /// `request` is the signaling request to answer with the welcome.
    pub fn join(
        &mut self,
        who: ParticipantId,
        user: UserId,
        request: Option<u64>,
        now: Instant,
    ) -> Result<String, SfuError> {
        if self.has(who) {
            return Err(SfuError::AlreadyJoined);
        }
        if self.peers.len() >= self.cfg.max_participants {
            return Err(SfuError::RoomFull(self.cfg.max_participants));
        }
        let estimating = self.cfg.bandwidth_adaptation;
        let (rtc, ufrag) = Peer::build_rtc(&self.candidates, self.cfg.ice_tcp, &self.crypto, estimating, now);
        let mut peer = Peer::new(who, user, rtc, ufrag.clone(), now, self.cfg.max_ingress_bps, estimating);
        // Everything already published in the room, to be offered once connected.
        for other in &self.peers {
            for t in &other.tracks_in {
                peer.tracks_out.push(TrackOut::new(other.id, t.mid, t.kind, t.source));
            }
        }
        let members = self.members();
        for m in &members {
            self.out.push_back(RoomOutput::Signal { to: m.participant, signal: Signal::Joined(peer.member()) });
        }
        let starter = *self.starter.get_or_insert(user);
        self.out.push_back(RoomOutput::Signal {
            to: who,
            signal: Signal::Welcome {
                request,
                members,
                speaker: self.speaker.current(),
                starter,
                max_video_tiles: self.cfg.max_video_tiles,
            },
        });
        self.peers.push(peer);
        Ok(ufrag)
    }

    /// Removes a participant; the others stop receiving its tracks.
    pub fn leave(&mut self, who: ParticipantId, reason: LeaveReason) {
        let Some(i) = self.peers.iter().position(|p| p.id == who) else { return };
        let mut peer = self.peers.remove(i);
        peer.rtc.disconnect();
        self.speaker.remove(who);
        for p in &mut self.peers {
            for t in &mut p.tracks_out {
                if t.origin == who {
                    close_out(t);
                }
            }
            p.tracks_out.retain(|t| t.state != OutState::ToOpen || t.origin != who);
        }
        if reason != LeaveReason::Left {
            self.out.push_back(RoomOutput::Signal { to: who, signal: Signal::Removed { reason } });
        }
        for p in &self.peers {
            self.out.push_back(RoomOutput::Signal { to: p.id, signal: Signal::Left { participant: who } });
        }
        self.out.push_back(RoomOutput::Gone { participant: who, ufrag: peer.ufrag });
    }

    /// Removes every participant of `user` (taken out of the conversation).
    pub fn remove_user(&mut self, user: UserId) {
        let ids: Vec<ParticipantId> = self.peers.iter().filter(|p| p.user == user).map(|p| p.id).collect();
        for id in ids {
            self.leave(id, LeaveReason::Removed);
        }
    }

    /// A client's SDP: its offer is answered, its answer completes our offer.
    pub fn sdp(
        &mut self,
        who: ParticipantId,
        offer: bool,
        rev: u64,
        sdp: &str,
        sources: &HashMap<String, Source>,
        now: Instant,
    ) -> Result<(), SfuError> {
        let p = self.peers.iter_mut().find(|p| p.id == who).ok_or(SfuError::NotInRoom)?;
        if offer {
            let answer = p.accept_offer(sdp, sources)?;
            self.out.push_back(RoomOutput::Signal { to: who, signal: Signal::Answer { sdp: answer } });
        } else {
            p.accept_answer(rev, sdp)?;
        }
        self.drive(now);
        Ok(())
    }

    /// A moderator acts on a participant. `by` must have started the call, or be an
    /// administrator (`admin`, checked by the caller against the store).
    pub fn moderate(
        &mut self,
        by: UserId,
        admin: bool,
        target: ParticipantId,
        action: crate::Moderation,
    ) -> Result<(), SfuError> {
        if !admin && self.starter != Some(by) {
            return Err(SfuError::NotModerator);
        }
        if !self.has(target) {
            return Err(SfuError::NotInRoom);
        }
        match action {
            crate::Moderation::Remove => self.leave(target, LeaveReason::Removed),
            crate::Moderation::Mute => {
                let Some(p) = self.peers.iter_mut().find(|p| p.id == target) else { return Err(SfuError::NotInRoom) };
                // Enforced here, not only asked of the client: its audio stops being forwarded.
                p.muted_by_moderator = true;
                p.muted = true;
                let m = p.member();
                self.out.push_back(RoomOutput::Signal { to: target, signal: Signal::MutedByModerator { by } });
                for p in &self.peers {
                    self.out.push_back(RoomOutput::Signal { to: p.id, signal: Signal::MemberState(m.clone()) });
                }
            }
        }
        Ok(())
    }

    /// A participant's microphone, camera and hand, told to everyone. Unmuting lifts a
    /// moderator's mute (the person chose to speak again).
    pub fn state(&mut self, who: ParticipantId, muted: bool, camera_off: bool, hand: bool) {
        let Some(p) = self.peers.iter_mut().find(|p| p.id == who) else { return };
        (p.muted, p.camera_off, p.hand) = (muted, camera_off, hand);
        if !muted {
            p.muted_by_moderator = false;
        }
        let m = p.member();
        for p in &self.peers {
            self.out.push_back(RoomOutput::Signal { to: p.id, signal: Signal::MemberState(m.clone()) });
        }
    }

    /// Which tiles a client shows, and how large.
    pub fn prefs(&mut self, who: ParticipantId, tiles: &[TilePref], now: Instant) {
        let Some(p) = self.peers.iter_mut().find(|p| p.id == who) else { return };
        for t in p.tracks_out.iter_mut().filter(|t| t.kind == MediaKind::Video) {
            if let Some(pref) = tiles.iter().find(|x| x.participant == t.origin) {
                t.paused = !pref.visible;
                t.cap = crate::layers::cap_for_tile(pref.height);
            }
        }
        self.next_layer_check = Some(now);
        self.drive(now);
    }

    /// A packet for `who` (the driver routed it by ICE credentials or source address), from
    /// the UDP socket or a TCP connection.
    pub fn receive(&mut self, who: ParticipantId, proto: Protocol, source: SocketAddr, contents: &[u8], now: Instant) {
        let destination = self.destination_for(source);
        let Some(p) = self.peers.iter_mut().find(|p| p.id == who) else { return };
        if !p.admit(contents.len(), now) {
            return;
        }
        let Ok(contents) = contents.try_into() else { return };
        p.receive(Receive { proto, source, destination, contents }, now);
        // Only this session had input, and it is polled at once (str0m holds one received
        // media packet until polled). What it gives the others (media, keyframe requests)
        // marks them for polling, which waits for `poll_timeout`: the driver calls it after
        // a batch of packets, so a subscriber's session is polled once for all the packets
        // written to it meanwhile (a video frame is several), not once per packet; the busier
        // the room, the larger the batches. (Polling every session for every packet made
        // each subscriber's feedback cost as much as the room is large.)
        let mut events = vec![];
        p.dirty = false;
        p.poll(now, &mut events);
        if !events.is_empty() {
            self.apply(events.into_iter().map(|e| (who, e)).collect(), now);
        }
    }

    /// The address a packet from `source` was sent to, as ICE knows it: one of our candidates.
    /// str0m only answers checks that arrive on a candidate's address, but the socket may be
    /// bound to a wildcard or a private address behind NAT while the candidates are the
    /// announced ones; the browser sent to the announced address of its own family.
    fn destination_for(&self, source: SocketAddr) -> SocketAddr {
        let v4 = source.ip().to_canonical().is_ipv4();
        self.candidates.iter().find(|c| c.is_ipv4() == v4).copied().unwrap_or(self.local)
    }

    /// Advances time.
    /// Only the sessions whose time has come get it (each has its own timers: pacing,
    /// feedback, consent); the room's own checks run with them.
    pub fn handle_timeout(&mut self, now: Instant) {
        for p in self.peers.iter_mut().filter(|p| p.next_timeout <= now) {
            p.advance(now, true);
            p.dirty = true;
        }
        self.drive_dirty(now);
    }

    pub fn poll_output(&mut self) -> Option<RoomOutput> {
        self.out.pop_front()
    }

    /// When the room next needs [`Room::handle_timeout`]. Sessions that had input since
    /// they were last polled are polled first (and what they produce is carried on), so
    /// every session's own next timeout is known; a session that was never polled is due at
    /// once. Call it after each batch of input: it is what sends forwarded media.
    pub fn poll_timeout(&mut self, now: Instant) -> Instant {
        // Sessions touched after the last poll (layer choice, a new offer) are polled first.
        if self.peers.iter().any(|p| p.dirty) {
            self.drive_dirty(now);
        }
        let t = self.next_layer_check.unwrap_or(now + Duration::from_secs(1));
        self.peers.iter().map(|p| p.next_timeout).fold(t, Instant::min)
    }

    /// Polls every session until quiet (after input that may touch any of them: time, SDP,
    /// preferences, a member leaving).
    fn drive(&mut self, now: Instant) {
        for p in &mut self.peers {
            p.dirty = true;
        }
        self.drive_dirty(now);
    }

    /// Polls the sessions that had input until quiet, carrying what one produces to the others
    /// (which then had input too).
    fn drive_dirty(&mut self, now: Instant) {
        for _ in 0..64 {
            let mut events: Vec<(ParticipantId, PeerEvent)> = vec![];
            for p in self.peers.iter_mut().filter(|p| p.dirty) {
                p.dirty = false;
                p.advance(now, false);
                let mut ev = vec![];
                p.poll(now, &mut ev);
                events.extend(ev.into_iter().map(|e| (p.id, e)));
            }
            if events.is_empty() {
                break;
            }
            self.apply(events, now);
        }
        self.check_ended(now);
        self.check_layers(now);
        self.negotiate();
    }

    fn apply(&mut self, events: Vec<(ParticipantId, PeerEvent)>, now: Instant) {
        for (from, e) in events {
            match e {
                PeerEvent::Transmit { proto, destination, contents } => {
                    self.out.push_back(RoomOutput::Transmit { proto, destination, contents })
                }
                PeerEvent::Connected => {}
                PeerEvent::TrackOpen { mid, kind, source } => {
                    for p in self.peers.iter_mut().filter(|p| p.id != from) {
                        p.tracks_out.push(TrackOut::new(from, mid, kind, source));
                        p.dirty = true;
                    }
                    self.next_layer_check = Some(now);
                }
                PeerEvent::TrackClosed { mid } => {
                    for p in self.peers.iter_mut() {
                        p.dirty = true;
                        for t in p.tracks_out.iter_mut().filter(|t| t.origin == from && t.origin_mid == mid) {
                            close_out(t);
                        }
                        p.tracks_out
                            .retain(|t| !(t.origin == from && t.origin_mid == mid && t.state == OutState::ToOpen));
                    }
                }
                PeerEvent::Rtp(inc) => {
                    let audio = inc.kind == MediaKind::Audio;
                    if let (Some(level), true) = (inc.packet.header.ext_vals.audio_level, audio) {
                        if let Some(speaker) = self.speaker.level(from, level, now) {
                            for p in &self.peers {
                                self.out.push_back(RoomOutput::Signal {
                                    to: p.id,
                                    signal: Signal::Speaker { participant: speaker },
                                });
                            }
                        }
                    }
                    let silenced = audio && self.peers.iter().any(|p| p.id == from && p.muted_by_moderator);
                    let mut wanted = vec![];
                    for p in self.peers.iter_mut().filter(|p| p.id != from) {
                        if silenced {
                            p.halt(from, inc.mid);
                            continue;
                        }
                        // (A peer it writes to is marked for polling.)
                        if let Some(rid) = p.forward(from, &inc) {
                            if !wanted.contains(&rid) {
                                wanted.push(rid);
                            }
                        }
                    }
                    if let Some(publisher) = self.peers.iter_mut().find(|p| p.id == from) {
                        for rid in wanted {
                            publisher.request_keyframe(inc.mid, rid, KeyframeRequestKind::Pli, now);
                        }
                    }
                }
                PeerEvent::Keyframe { origin, origin_mid, rid, kind } => {
                    if let Some(publisher) = self.peers.iter_mut().find(|p| p.id == origin) {
                        publisher.request_keyframe(origin_mid, rid, kind, now);
                    }
                }
            }
        }
    }

    /// Sessions that failed, or never connected in time, leave the room.
    fn check_ended(&mut self, now: Instant) {
        let timeout = self.cfg.connect_timeout;
        let ended: Vec<(ParticipantId, PeerEnd)> = self
            .peers
            .iter()
            .filter_map(|p| {
                let never = !p.connected && now.saturating_duration_since(p.joined_at) >= timeout;
                p.ended.or(never.then_some(PeerEnd::MediaLost)).map(|e| (p.id, e))
            })
            .collect();
        for (who, end) in ended {
            let reason = match end {
                PeerEnd::MediaLost => LeaveReason::MediaLost,
                PeerEnd::Failed => LeaveReason::Failed,
            };
            self.leave(who, reason);
        }
    }

    /// Every half second: each subscriber's layers from the current estimates.
    fn check_layers(&mut self, now: Instant) {
        if self.next_layer_check.is_some_and(|t| t > now) {
            return;
        }
        self.next_layer_check = Some(now + Duration::from_millis(500));
        let rates: HashMap<(ParticipantId, str0m::media::Mid), LayerRates> = self
            .peers
            .iter()
            .flat_map(|p| p.tracks_in.iter().map(move |t| ((p.id, t.mid), (t.rates, t.plain))))
            .collect();
        for p in &mut self.peers {
            p.choose_layers(&|o, m| rates.get(&(o, m)).copied());
        }
    }

    fn negotiate(&mut self) {
        for p in &mut self.peers {
            if let Some((rev, sdp, tracks)) = p.negotiate() {
                self.out.push_back(RoomOutput::Signal { to: p.id, signal: Signal::Offer { rev, sdp, tracks } });
            }
        }
    }
}

fn close_out(t: &mut TrackOut) {
    t.state = match t.state {
        OutState::Open(m) | OutState::Negotiating(m) => OutState::ToStop(m),
        s => s,
    };
}
