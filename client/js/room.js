// @ts-check
/**
 * A group call: this tab's session with the conference server (SFU) of one conversation.
 *
 * One RTCPeerConnection to the server carries everything: we publish the microphone, the
 * camera as simulcast (three VP8 layers, `q`/`h`/`f`, lowest first) and, when sharing, the
 * screen; we receive every other participant's tracks. We offer what we publish; the server
 * offers what we receive (each offer says which participant and source each of its m-lines
 * carries) and we answer with its `rev`. When our offer and the server's cross, ours wins:
 * a server offer arriving while ours is outstanding is ignored, and the server offers its
 * changes again after answering ours (docs/protocol.md, "Group calls").
 *
 * Events: `change` (members, speaker, tracks, our own state), `ended` (detail: reason).
 */

import { getLocalMedia, stopAll } from './media.js';

/** The simulcast layers our camera sends (the server picks one per viewer and tile). */
export const SIMULCAST = [
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: 'f', maxBitrate: 1_500_000 },
];

/**
 * @typedef {{participant: number, user: number, muted: boolean, camera_off: boolean, hand: boolean,
 *   camera: MediaStream, screen: MediaStream|null, audio: MediaStream, lastSpoke: number,
 *   quality: Quality|null}} Participant
 * @typedef {{level: 'good'|'fair'|'poor', lossPct: number, jitterMs: number}} Quality
 */

/** How often the connection quality of each participant is measured. */
const QUALITY_EVERY_MS = 2000;

/**
 * @param {number} lossPct @param {number} jitterMs @param {number} packets received in the interval
 * @returns {'good'|'fair'|'poor'}
 */
export function qualityLevel(lossPct, jitterMs, packets) {
  if (packets === 0 || lossPct > 5 || jitterMs > 60) return 'poor';
  if (lossPct > 1 || jitterMs > 30) return 'fair';
  return 'good';
}

export class RoomCall extends EventTarget {
  /**
   * @param {import('./signaling.js').Signaling} sig
   * @param {import('./ice.js').IceConfig} iceConfig
   * @param {number} conv
   */
  constructor(sig, iceConfig, conv) {
    super();
    this.sig = sig;
    this.iceConfig = iceConfig;
    this.conv = conv;
    /** Our participant id (set by the welcome). */
    this.participant = 0;
    /** Everyone else. @type {Map<number, Participant>} */
    this.members = new Map();
    /** @type {number|null} */
    this.speaker = null;
    /** @type {RTCPeerConnection|null} */
    this.pc = null;
    /** @type {MediaStream|null} */
    this.local = null;
    /** @type {MediaStream|null} */
    this.screenStream = null;
    /** @type {RTCRtpTransceiver|null} */
    this.screenTx = null;
    this.muted = false;
    this.cameraOff = false;
    this.hand = false;
    /** What the server's m-lines carry, by mid. @type {Map<string, {participant: number, source: string}>} */
    this.tracks = new Map();
    /** Our offer is waiting for its answer. */
    this.offering = false;
    /** Another offer of ours is needed once the current one is answered. */
    this.offerAgain = false;
    /** @type {string|null} */
    this.problem = null;
    this.ended = false;
    this.starter = 0;
    this.maxVideoTiles = 9;
    /** @type {number|undefined} */
    this.qualityTimer = undefined;
    /** @type {Map<number, {lost: number, received: number, jitter: number}>} */
    this.lastCounts = new Map();
    /** Round trip to the server, in ms. */
    this.rttMs = NaN;
    this.listening = new AbortController();
  }

  /**
   * Joins the call (starting it if none runs) and publishes microphone and camera.
   * `reuse`: the camera and microphone of an earlier session of this call (a rejoin), kept
   * running so the user sees no gap in their own devices.
   * @param {{video: boolean}} want @param {MediaStream|null} [reuse]
   */
  async join(want, reuse = null) {
    const { signal } = this.listening;
    /** @param {string} type @param {(m: any) => void} fn */
    const on = (type, fn) => this.sig.addEventListener(type, (e) => {
      const m = /** @type {CustomEvent} */ (e).detail;
      if (m.conv === this.conv && !this.ended) fn(m);
    }, { signal });
    on('room_joined', (m) => { this.addMember(m.member); this.changed(); });
    on('room_left', (m) => { this.members.delete(m.participant); this.changed(); });
    // A lost media path may be taken up again (RoomManager retries): keep the devices on.
    on('room_removed', (m) => this.end(m.reason, m.reason === 'media_lost'));
    on('room_sdp', (m) => this.onSdp(m).catch((e) => this.fail(e)));
    on('room_speaker', (m) => {
      this.speaker = m.participant;
      const p = this.members.get(m.participant);
      if (p) p.lastSpoke = Date.now();
      this.changed();
    });
    on('room_moderator_muted', () => {
      // The server already stopped forwarding our audio; the microphone follows.
      this.muted = true;
      this.local?.getAudioTracks().forEach((t) => { t.enabled = false; });
      this.problem = 'A moderator muted you';
      this.changed();
    });
    on('room_member_state', (m) => {
      const p = this.members.get(m.participant);
      if (p) Object.assign(p, { muted: m.muted, camera_off: m.camera_off, hand: m.hand });
      this.changed();
    });

    const [media, config] = await Promise.all([
      reuse ? { stream: reuse, problem: null } : getLocalMedia({ audio: true, video: want.video }),
      this.iceConfig.get(),
    ]);
    this.local = media.stream;
    this.problem = media.problem;
    // A rejoin (server restart, broken media path) that starts the call again does not ring.
    const welcome = await this.sig.request({ type: 'room_join', conv: this.conv, ...(reuse ? { rejoin: true } : {}) });
    this.participant = welcome.participant;
    /** Who started the call (with administrators, may mute and remove others). */
    this.starter = welcome.starter;
    /** Most video tiles to show (the server's setting). */
    this.maxVideoTiles = welcome.max_video_tiles || 9;
    for (const m of welcome.members) if (m.participant !== this.participant) this.addMember(m);
    this.speaker = welcome.speaker ?? null;

    const pc = new RTCPeerConnection({ ...config, bundlePolicy: 'max-bundle' });
    this.pc = pc;
    const audio = media.stream.getAudioTracks()[0];
    if (audio) pc.addTransceiver(audio, { direction: 'sendonly', streams: [media.stream] });
    const video = media.stream.getVideoTracks()[0];
    if (video) {
      video.contentHint = 'motion';
      pc.addTransceiver(video, { direction: 'sendonly', streams: [media.stream], sendEncodings: SIMULCAST });
    }
    pc.ontrack = (ev) => this.onTrack(ev);
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'failed') this.end('media_lost', true);
      this.changed();
    };
    // Receive-only (no microphone, no camera) still needs an offer: the server answers it
    // and offers the others' tracks afterwards.
    if (!audio && !video) pc.addTransceiver('audio', { direction: 'recvonly' });
    await this.offer();
    this.qualityTimer = setInterval(() => this.measure().catch(() => {}), QUALITY_EVERY_MS);
    this.changed();
  }

  /**
   * Each participant's connection quality as it reaches us: packet loss and jitter of what
   * we receive from them over the last interval (their uplink and our downlink together),
   * and our own connection to the server (`this.quality`).
   */
  async measure() {
    const pc = this.pc;
    if (!pc || pc.connectionState !== 'connected') return;
    /** @type {Map<number, {lost: number, received: number, jitter: number}>} */
    const now = new Map();
    let rttMs = NaN;
    const report = await pc.getStats();
    report.forEach((s) => {
      if (s.type === 'candidate-pair' && s.nominated && typeof s.currentRoundTripTime === 'number') rttMs = s.currentRoundTripTime * 1000;
      if (s.type !== 'inbound-rtp') return;
      const info = this.tracks.get(s.mid);
      if (!info) return;
      const o = now.get(info.participant) || { lost: 0, received: 0, jitter: 0 };
      o.lost += s.packetsLost || 0;
      o.received += s.packetsReceived || 0;
      o.jitter = Math.max(o.jitter, (s.jitter || 0) * 1000);
      now.set(info.participant, o);
    });
    for (const [id, cur] of now) {
      const p = this.members.get(id);
      if (!p) continue;
      const before = this.lastCounts.get(id) || { lost: 0, received: 0, jitter: 0 };
      const lost = Math.max(0, cur.lost - before.lost);
      const got = Math.max(0, cur.received - before.received);
      const lossPct = lost + got > 0 ? (100 * lost) / (lost + got) : 0;
      p.quality = { lossPct, jitterMs: cur.jitter, level: qualityLevel(lossPct, cur.jitter, got) };
    }
    this.lastCounts = now;
    this.rttMs = rttMs;
    this.changed();
  }

  /** @param {any} m */
  addMember(m) {
    this.members.set(m.participant, {
      participant: m.participant, user: m.user, muted: !!m.muted, camera_off: !!m.camera_off, hand: !!m.hand,
      camera: new MediaStream(), screen: null, audio: new MediaStream(), lastSpoke: 0, quality: null,
    });
  }

  /** Sends our offer (what we publish), or remembers to once the current one is answered. */
  async offer() {
    const pc = this.pc;
    if (!pc || this.ended) return;
    if (this.offering || pc.signalingState !== 'stable') {
      this.offerAgain = true;
      return;
    }
    this.offering = true;
    this.offerAgain = false;
    await pc.setLocalDescription(await pc.createOffer());
    /** @type {Record<string, string>} */
    const sources = {};
    if (this.screenTx?.mid) sources[this.screenTx.mid] = 'screen';
    this.sig.send({ type: 'room_sdp', conv: this.conv, kind: 'offer', sdp: pc.localDescription?.sdp, sources });
  }

  /** @param {any} m */
  async onSdp(m) {
    const pc = this.pc;
    if (!pc) return;
    if (m.kind === 'answer') {
      if (pc.signalingState !== 'have-local-offer') return;
      await pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
      this.offering = false;
      if (this.offerAgain) await this.offer();
      return;
    }
    // The server's offer crossed ours: ignore it, the server offers again after our answer.
    if (pc.signalingState !== 'stable' || this.offering) return;
    /** @type {Set<string>} */
    const listed = new Set();
    for (const t of m.tracks) {
      this.tracks.set(t.mid, { participant: t.participant, source: t.source });
      listed.add(t.mid);
    }
    await pc.setRemoteDescription({ type: 'offer', sdp: m.sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    this.sig.send({ type: 'room_sdp', conv: this.conv, kind: 'answer', rev: m.rev, sdp: pc.localDescription?.sdp });
    // Tracks the offer no longer lists were stopped (their publisher stopped sharing, or left).
    for (const tx of pc.getTransceivers()) {
      const mid = tx.mid;
      if (!mid || listed.has(mid) || !this.tracks.has(mid)) continue;
      const info = this.tracks.get(mid);
      this.tracks.delete(mid);
      const p = info && this.members.get(info.participant);
      const track = tx.receiver.track;
      if (!p) continue;
      if (p.screen?.getTracks().includes(track)) p.screen = null;
      if (p.camera.getTracks().includes(track)) p.camera.removeTrack(track);
      if (p.audio.getTracks().includes(track)) p.audio.removeTrack(track);
    }
    this.changed();
    if (this.offerAgain) await this.offer();
  }

  /** @param {RTCTrackEvent} ev */
  onTrack(ev) {
    const info = this.tracks.get(ev.transceiver.mid || '');
    const p = info && this.members.get(info.participant);
    if (!info || !p) return;
    const track = ev.track;
    if (info.source === 'screen') {
      p.screen = new MediaStream([track]);
    } else if (track.kind === 'video') {
      p.camera.getVideoTracks().forEach((t) => p.camera.removeTrack(t));
      p.camera.addTrack(track);
    } else {
      p.audio.addTrack(track);
    }
    // A track the server stopped (its publisher stopped sharing, or left) ends here.
    track.addEventListener('ended', () => {
      if (p.screen?.getTracks().includes(track)) p.screen = null;
      this.changed();
    });
    this.changed();
  }

  /**
   * Mutes or removes someone (the starter and administrators; the server checks).
   * @param {number} participant @param {'mute'|'remove'} action
   */
  moderate(participant, action) {
    return this.sig.request({ type: 'room_moderate', conv: this.conv, participant, action });
  }

  setMuted(/** @type {boolean} */ muted) {
    if (!muted && this.problem === 'A moderator muted you') this.problem = null;
    this.muted = muted;
    this.local?.getAudioTracks().forEach((t) => { t.enabled = !muted; });
    this.sendState();
  }

  setCameraOff(/** @type {boolean} */ off) {
    this.cameraOff = off;
    this.local?.getVideoTracks().forEach((t) => { t.enabled = !off; });
    this.sendState();
  }

  setHand(/** @type {boolean} */ up) {
    this.hand = up;
    this.sendState();
  }

  sendState() {
    this.sig.send({ type: 'room_state', conv: this.conv, muted: this.muted, camera_off: this.cameraOff, hand: this.hand });
    this.changed();
  }

  /** Shares the screen (a separate track, resolution over frame rate). */
  async shareScreen() {
    if (!this.pc || this.screenTx) return;
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { max: 15 } }, audio: false });
    const track = stream.getVideoTracks()[0];
    if (!track) return;
    track.contentHint = 'detail';
    this.screenStream = stream;
    this.screenTx = this.pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    const params = this.screenTx.sender.getParameters();
    params.degradationPreference = 'maintain-resolution';
    await this.screenTx.sender.setParameters(params).catch(() => {});
    // The browser's own "Stop sharing" control ends the track.
    track.addEventListener('ended', () => this.stopScreen());
    await this.offer();
    this.changed();
  }

  async stopScreen() {
    const tx = this.screenTx;
    if (!tx) return;
    this.screenTx = null;
    stopAll(this.screenStream);
    this.screenStream = null;
    if (!this.ended && this.pc && this.pc.signalingState !== 'closed') {
      tx.stop();
      await this.offer();
    }
    this.changed();
  }

  /**
   * Which tiles show video, and how large (the server sends nothing for hidden ones and a
   * smaller layer for small ones).
   * @param {{participant: number, visible: boolean, height: number}[]} tiles
   */
  setTiles(tiles) {
    this.sig.send({ type: 'room_tiles', conv: this.conv, tiles });
  }

  leave() {
    if (this.ended) return;
    this.sig.request({ type: 'room_leave', conv: this.conv }).catch(() => {});
    this.end('left');
  }

  /** @param {unknown} e */
  fail(e) {
    this.problem = e instanceof Error ? e.message : String(e);
    this.changed();
  }

  /**
   * Ends this session. `keepMedia`: the camera and microphone stay on for the next session of
   * the same call (a rejoin).
   * @param {string} reason @param {boolean} [keepMedia]
   */
  end(reason, keepMedia = false) {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.qualityTimer);
    this.listening.abort();
    if (!keepMedia) stopAll(this.local);
    stopAll(this.screenStream);
    this.pc?.close();
    this.dispatchEvent(new CustomEvent('ended', { detail: reason }));
  }

  changed() {
    this.dispatchEvent(new Event('change'));
  }
}
