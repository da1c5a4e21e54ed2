// @ts-check
/**
 * One 1:1 call's media: an RTCPeerConnection with the perfect-negotiation pattern (the callee
 * is the polite peer), so glare and later renegotiation (screen sharing) are safe.
 * Negotiation travels as `call_signal` data: `{description}`, `{candidate}`, and our own
 * `{mute: {audio, video}}` so the other side can show a muted state, and
 * `{screen: {stream}}` / `{screen: null}` when this side starts / stops sharing its screen
 * (`stream` is the id of the shared MediaStream, so the other side can tell the screen's
 * tracks from the camera's when they arrive).
 *
 * Screen sharing adds its own transceivers (video, and the tab's audio when the browser gives
 * it), send-only, beside the camera's, and removes them when it stops: a renegotiation each
 * way, which also gives an audio-only call (or a side without camera) a video path.
 *
 * The connection does not wait for the camera and microphone: each side negotiates one
 * transceiver per media kind with the direction it means to send, and the tracks go onto
 * those senders when the devices are up (`replaceTrack`, no renegotiation). A kind the devices
 * could not give is then renegotiated to receive-only. So the media path is set up while the
 * devices start, which on real hardware takes hundreds of milliseconds.
 *
 * Events: `state` (detail: RTCPeerConnectionState), `remote` (detail: MediaStream),
 * `screen` (detail: the other side's shared screen as a MediaStream, or null when it stopped),
 * `local-screen` (detail: this side's shared screen, or null),
 * `stats` (detail: {rttMs, lossPct, kbps, relayed}), `remote-mute` (detail: {audio, video}),
 * `failed` (detail: {@link FailReason}: the media path did not come up, or broke for good).
 */

import { stopAll } from './media.js';

/**
 * Why a call's media path failed; it travels with the hang-up so that the other side, whose
 * own timer may not have fired yet, shows the same explanation.
 * @typedef {'connect_failed'|'media_lost'} FailReason
 */

/** Give up if the media path is not up this long after the answer (or after it broke). */
export const CONNECT_TIMEOUT_MS = 30_000;

export class Call extends EventTarget {
  /**
   * @param {{sig: import('./signaling.js').Signaling, callId: number, role: 'caller'|'callee',
   *          peer: number, media: 'audio'|'video', rtcConfig: RTCConfiguration,
   *          sends: {audio: boolean, video: boolean}, connectTimeoutMs?: number}} o
   */
  constructor(o) {
    super();
    this.sig = o.sig;
    this.callId = o.callId;
    this.role = o.role;
    this.peer = o.peer;
    this.media = o.media;
    this.rtcConfig = o.rtcConfig;
    /** Camera and microphone, once started (see {@link attach}). @type {import('./media.js').LocalMedia|null} */
    this.local = null;
    /** The kinds this side sends; one its devices do not give is dropped when they are attached. */
    this.sends = { ...o.sends };
    this.connectTimeoutMs = o.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    this.polite = o.role === 'callee';
    /** @type {RTCPeerConnection|null} */
    this.pc = null;
    this.remote = new MediaStream();
    /**
     * The camera's and microphone's transceivers: the first of each kind, negotiated when the
     * call starts. Screen-sharing transceivers come and go beside them.
     * @type {{audio: RTCRtpTransceiver|null, video: RTCRtpTransceiver|null}}
     */
    this.main = { audio: null, video: null };
    /** This side's screen share while it lasts. @type {{stream: MediaStream, transceivers: RTCRtpTransceiver[]}|null} */
    this.screen = null;
    /** The id of the stream the other side said it shares, and its tracks as they arrive. */
    this.remoteScreenId = /** @type {string|null} */ (null);
    this.remoteScreen = new MediaStream();
    this.makingOffer = false;
    this.ignoreOffer = false;
    /** Signals are handled one after another, in arrival order. */
    this.queue = Promise.resolve();
    this.muted = { audio: false, video: false };
    /** @type {number|undefined} */ this.statsTimer = undefined;
    /** @type {number|undefined} */ this.connectTimer = undefined;
    this.connectedAt = 0;
    this.lastBytes = 0;
    this.lastStatsAt = 0;
    this.ended = false;
    /** Signals made before the call has an id (the caller's, while its invite travels). @type {any[]} */
    this.unsent = [];
    this.onOnline = () => this.pc?.restartIce();
  }

  /**
   * Creates the peer connection: the caller's at once (its offer waits in {@link unsent} until
   * the call has an id), the callee's when the caller's offer arrives. The tracks join later.
   */
  open() {
    if (this.pc) return this.pc;
    // All media on one transport from the start: one set of candidates to gather and check
    // and one TURN allocation per server, instead of one per media kind until the answer.
    const pc = new RTCPeerConnection({ ...this.rtcConfig, bundlePolicy: 'max-bundle' });
    this.pc = pc;
    pc.onicecandidate = ({ candidate }) => this.signal({ candidate: candidate ? candidate.toJSON() : null });
    pc.onnegotiationneeded = async () => {
      try {
        this.makingOffer = true;
        await pc.setLocalDescription();
        this.signal({ description: pc.localDescription?.toJSON() });
      } catch (e) {
        console.warn('negotiation failed', e);
      } finally {
        this.makingOffer = false;
      }
    };
    pc.ontrack = ({ track, streams }) => {
      if (this.remoteScreenId && streams.some((st) => st.id === this.remoteScreenId)) {
        this.remoteScreen.addTrack(track);
        this.dispatchEvent(new CustomEvent('screen', { detail: this.remoteScreen }));
        return;
      }
      this.remote.addTrack(track);
      this.dispatchEvent(new CustomEvent('remote', { detail: this.remote }));
    };
    pc.onconnectionstatechange = () => {
      const st = pc.connectionState;
      if (st === 'connected') {
        clearTimeout(this.connectTimer);
        this.connectTimer = undefined;
        if (!this.connectedAt) this.connectedAt = Date.now();
      }
      // A broken path (network change, NAT rebinding): gather new candidates and renegotiate,
      // and end the call if that does not bring it back in time.
      if (st === 'failed') {
        pc.restartIce();
        if (this.connectedAt) this.expectConnection('media_lost');
      }
      this.dispatchEvent(new CustomEvent('state', { detail: st }));
    };
    // The caller opens the negotiation with one transceiver per kind of the call.
    if (this.role === 'caller') {
      this.main.audio = pc.addTransceiver('audio', { direction: this.sends.audio ? 'sendrecv' : 'recvonly' });
      if (this.media === 'video') this.main.video = pc.addTransceiver('video', { direction: this.sends.video ? 'sendrecv' : 'recvonly' });
    }
    this.useLocalTracks();
    this.statsTimer = setInterval(() => this.sampleStats(), 2000);
    window.addEventListener('online', this.onOnline);
    return pc;
  }

  /**
   * Starts the clock for the media path to come up (once the call is answered: a caller's
   * connection exists while it still rings); if it is not connected in time, `failed`.
   * @param {FailReason} [reason]
   */
  expectConnection(reason = 'connect_failed') {
    if (this.connectTimer !== undefined || this.ended) return;
    this.connectTimer = setTimeout(() => {
      this.connectTimer = undefined;
      if (this.pc?.connectionState !== 'connected') this.dispatchEvent(new CustomEvent('failed', { detail: reason }));
    }, this.connectTimeoutMs);
  }

  /**
   * Attaches the camera and microphone once they have started.
   * @param {import('./media.js').LocalMedia} local
   */
  attach(local) {
    if (this.local || this.ended) return;
    this.local = local;
    this.useLocalTracks();
  }

  /**
   * The transceiver of the call's own audio or video (camera and microphone, not a screen).
   * @param {'audio'|'video'} kind
   */
  transceiver(kind) {
    const t = this.main[kind];
    return t && t.direction !== 'stopped' ? t : null;
  }

  /**
   * Puts the local tracks on the senders, and turns a kind the devices did not give into
   * receive-only (which renegotiates if it was already offered or answered as sending).
   */
  useLocalTracks() {
    const local = this.local;
    if (!this.pc || !local) return;
    for (const kind of /** @type {const} */ (['audio', 'video'])) {
      const t = this.transceiver(kind);
      if (!t) continue;
      const track = kind === 'audio' ? local.stream.getAudioTracks()[0] : local.stream.getVideoTracks()[0];
      if (this.sends[kind] && track) {
        if (t.sender.track !== track) t.sender.replaceTrack(track).catch((e) => console.warn('replaceTrack failed', e));
      } else {
        this.sends[kind] = false;
        if (t.direction === 'sendrecv') t.direction = 'recvonly';
      }
    }
  }

  /**
   * Gives a caller's Call the id the server assigned to the invite and sends what the
   * connection produced before it was known.
   * @param {number} callId
   */
  bind(callId) {
    this.callId = callId;
    for (const data of this.unsent.splice(0)) this.signal(data);
  }

  /** @param {any} data */
  signal(data) {
    if (this.ended) return;
    if (!this.callId) this.unsent.push(data);
    else this.sig.send({ type: 'call_signal', call_id: this.callId, data });
  }

  /** Handles `call_signal` data from the other side. @param {any} data */
  receive(data) {
    this.queue = this.queue.then(() => this.onSignal(data)).catch((e) => console.warn('signal failed', e));
  }

  /** @param {any} data */
  async onSignal(data) {
    if (this.ended) return;
    if (data.mute) {
      this.dispatchEvent(new CustomEvent('remote-mute', { detail: data.mute }));
      return;
    }
    if ('screen' in data) {
      this.onRemoteScreen(typeof data.screen?.stream === 'string' ? data.screen.stream : null);
      return;
    }
    const pc = this.open();
    if (data.description) {
      const d = data.description;
      const collision = d.type === 'offer' && (this.makingOffer || pc.signalingState !== 'stable');
      this.ignoreOffer = !this.polite && collision;
      if (this.ignoreOffer) return;
      await pc.setRemoteDescription(d);
      // The callee's camera and microphone transceivers are those of the caller's first offer.
      if (!this.main.audio && !this.main.video) {
        for (const t of pc.getTransceivers()) {
          const kind = /** @type {'audio'|'video'} */ (t.receiver.track.kind);
          if (!this.main[kind]) this.main[kind] = t;
        }
      }
      if (d.type === 'offer') {
        // The answer says what this side sends, whether or not its devices are up yet.
        for (const kind of /** @type {const} */ (['audio', 'video'])) {
          const t = this.transceiver(kind);
          if (t) t.direction = this.sends[kind] ? 'sendrecv' : 'recvonly';
        }
        this.useLocalTracks();
        await pc.setLocalDescription();
        this.signal({ description: pc.localDescription?.toJSON() });
      }
    } else if ('candidate' in data) {
      try {
        await pc.addIceCandidate(data.candidate || undefined);
      } catch (e) {
        if (!this.ignoreOffer) throw e;
      }
    }
  }

  /**
   * Shares a screen, window or tab (the browser asks which), with the tab's audio when the
   * browser offers it. Ends by {@link stopScreen}, or by the browser's own stop control.
   */
  async shareScreen() {
    const pc = this.pc;
    if (this.screen || !pc || this.ended) return;
    const stream = await navigator.mediaDevices.getDisplayMedia({
      video: { frameRate: { ideal: 15, max: 30 } },
      audio: true,
    });
    if (this.ended || this.screen || this.pc !== pc) {
      stopAll(stream);
      return;
    }
    // Text must stay readable: "detail" makes the encoder keep the resolution and give up
    // frame rate when bandwidth is short (a camera would do the opposite).
    for (const t of stream.getVideoTracks()) t.contentHint = 'detail';
    // Said before the offer that carries the tracks, on the same ordered channel, so the
    // other side knows them for the screen when they arrive.
    this.signal({ screen: { stream: stream.id } });
    const transceivers = stream.getTracks().map((track) => pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] }));
    this.screen = { stream, transceivers };
    // The browser's own "Stop sharing" ends the track.
    stream.getVideoTracks()[0]?.addEventListener('ended', () => this.stopScreen());
    this.dispatchEvent(new CustomEvent('local-screen', { detail: stream }));
  }

  /** Stops sharing the screen and tells the other side. */
  stopScreen() {
    const share = this.screen;
    if (!share) return;
    this.screen = null;
    for (const t of share.transceivers) {
      if (this.pc && t.direction !== 'stopped') t.stop();
    }
    stopAll(share.stream);
    this.signal({ screen: null });
    this.dispatchEvent(new CustomEvent('local-screen', { detail: null }));
  }

  /**
   * The other side started sharing (the id of its screen's stream), or stopped (null).
   * @param {string|null} streamId
   */
  onRemoteScreen(streamId) {
    this.remoteScreenId = streamId;
    if (this.remoteScreen.getTracks().length === 0) return;
    // The tracks of a finished share end with their transceivers; a new share gets a new stream.
    this.remoteScreen.getTracks().forEach((t) => t.stop());
    this.remoteScreen = new MediaStream();
    this.dispatchEvent(new CustomEvent('screen', { detail: null }));
  }

  /** @param {'audio'|'video'} kind @param {boolean} muted */
  setMuted(kind, muted) {
    this.muted[kind] = muted;
    const stream = this.local?.stream;
    const tracks = !stream ? [] : kind === 'audio' ? stream.getAudioTracks() : stream.getVideoTracks();
    tracks.forEach((t) => { t.enabled = !muted; });
    this.signal({ mute: this.muted });
  }

  /**
   * Uses another camera or microphone without renegotiating.
   * @param {'audio'|'video'} kind @param {string} deviceId
   */
  async switchDevice(kind, deviceId) {
    const fresh = await navigator.mediaDevices.getUserMedia(kind === 'audio'
      ? { audio: { deviceId: { exact: deviceId } } } : { video: { deviceId: { exact: deviceId } } });
    const track = kind === 'audio' ? fresh.getAudioTracks()[0] : fresh.getVideoTracks()[0];
    const sender = this.transceiver(kind)?.sender;
    if (!track || !sender?.track) {
      track?.stop();
      return;
    }
    const old = sender.track;
    track.enabled = !this.muted[kind];
    await sender.replaceTrack(track);
    if (old) { this.local?.stream.removeTrack(old); old.stop(); }
    this.local?.stream.addTrack(track);
  }

  async sampleStats() {
    const pc = this.pc;
    if (!pc || pc.connectionState !== 'connected') return;
    const report = await pc.getStats();
    let rttMs = NaN; let lost = 0; let received = 0; let bytes = 0; let relayed = false;
    /** @type {Map<string, any>} */
    const byId = new Map();
    report.forEach((s) => byId.set(s.id, s));
    report.forEach((s) => {
      if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') {
        if (typeof s.currentRoundTripTime === 'number') rttMs = s.currentRoundTripTime * 1000;
        const localCand = byId.get(s.localCandidateId);
        const remoteCand = byId.get(s.remoteCandidateId);
        relayed = localCand?.candidateType === 'relay' || remoteCand?.candidateType === 'relay';
      }
      if (s.type === 'inbound-rtp') {
        lost += s.packetsLost || 0;
        received += s.packetsReceived || 0;
        bytes += s.bytesReceived || 0;
      }
    });
    const now = performance.now();
    const kbps = this.lastStatsAt ? ((bytes - this.lastBytes) * 8) / (now - this.lastStatsAt) : 0;
    this.lastBytes = bytes;
    this.lastStatsAt = now;
    const lossPct = received + lost > 0 ? (100 * lost) / (received + lost) : 0;
    this.dispatchEvent(new CustomEvent('stats', { detail: { rttMs, lossPct, kbps, relayed } }));
  }

  /** Releases everything: connection, timers, camera and microphone. */
  close() {
    this.ended = true;
    clearInterval(this.statsTimer);
    clearTimeout(this.connectTimer);
    window.removeEventListener('online', this.onOnline);
    this.pc?.close();
    this.pc = null;
    stopAll(this.local?.stream);
    stopAll(this.screen?.stream);
    this.screen = null;
    this.remote.getTracks().forEach((t) => t.stop());
    this.remoteScreen.getTracks().forEach((t) => t.stop());
  }
}
