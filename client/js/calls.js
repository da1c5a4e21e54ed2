// @ts-check
/**
 * The 1:1 call lifecycle of this tab over signaling: place, ring, accept, decline, cancel,
 * hang up, and the media of the accepted call (a {@link Call}). The UI listens to `change`.
 */

import { Call, CONNECT_TIMEOUT_MS } from './call.js';
import { IceConfig } from './ice.js';
import { getLocalMedia, stopAll } from './media.js';
import { Tone } from './ring.js';

/** @typedef {'idle'|'outgoing'|'incoming'|'active'} Phase */

export const END_TEXT = /** @type {Record<string, string>} */ ({
  hangup: 'Call ended', declined: 'Call declined', cancelled: 'Caller hung up', no_answer: 'No answer',
  busy: 'Busy — in another call', unavailable: 'Not reachable right now', not_allowed: 'You cannot call this person',
  connection_lost: 'Connection lost', answered_elsewhere: 'Answered on another device', failed: 'Call failed',
  connect_failed: 'Could not connect: no network path between you.',
  media_lost: 'The connection was lost and could not be restored.',
});

export class CallManager extends EventTarget {
  /** @param {import('./signaling.js').Signaling} sig */
  constructor(sig) {
    super();
    this.sig = sig;
    /** @type {Phase} */
    this.phase = 'idle';
    /** @type {Call|null} */
    this.call = null;
    /** @type {{callId: number, peer: number, media: 'audio'|'video'}|null} */
    this.current = null;
    /** Signals that arrived before this tab's Call object existed. @type {any[]} */
    this.early = [];
    /** @type {string|null} */
    this.notice = null;
    /** An accept is under way (a second click must not answer twice). */
    this.accepting = false;
    this.tone = new Tone();
    /** STUN/TURN servers, fetched ahead so that calling and answering wait for nothing. */
    this.iceConfig = new IceConfig();
    this.iceConfig.get();
    /** How long a call may take to connect before it ends with a message. */
    this.connectTimeoutMs = CONNECT_TIMEOUT_MS;

    sig.addEventListener('call_incoming', (e) => this.onIncoming(/** @type {CustomEvent} */ (e).detail));
    sig.addEventListener('call_accepted', (e) => this.onAccepted(/** @type {CustomEvent} */ (e).detail));
    sig.addEventListener('call_signal', (e) => this.onSignal(/** @type {CustomEvent} */ (e).detail));
    sig.addEventListener('call_ended', (e) => this.onEnded(/** @type {CustomEvent} */ (e).detail));
    sig.addEventListener('resync', (e) => this.onResync(/** @type {CustomEvent} */ (e).detail));
    /** How often this tab's call was re-established after a server restart (diagnostics, tests). */
    this.rejoins = 0;
    sig.addEventListener('call_rejoined', (e) => {
      if (this.current?.callId !== /** @type {CustomEvent} */ (e).detail.call_id) return;
      this.rejoins += 1;
      this.changed();
    });
  }

  changed() {
    this.dispatchEvent(new CustomEvent('change'));
  }

  /**
   * Calls a contact.
   * @param {number} peer @param {'audio'|'video'} media
   */
  async start(peer, media) {
    if (this.phase !== 'idle') return;
    this.phase = 'outgoing';
    this.notice = null;
    const cur = { callId: 0, peer, media };
    this.current = cur;
    this.changed();
    const sends = { audio: true, video: media === 'video' };
    const devices = getLocalMedia(sends);
    const rtcConfig = await this.iceConfig.get();
    if (this.current !== cur) {
      // Cancelled at once: let go of the devices as soon as they are up.
      stopAll((await devices).stream);
      return;
    }
    // The connection is prepared while the devices start, the invite travels and the call
    // rings: its offer and candidates wait in the Call until the call has an id, then the
    // server keeps them and hands them to the device that answers, together with its accept.
    const call = this.newCall('caller', sends, rtcConfig);
    this.call = call;
    call.open();
    this.useDevices(cur, call, devices);
    try {
      const reply = await this.sig.request({ type: 'call_invite', callee: peer, media });
      if (this.current !== cur) {
        // Cancelled while the invite travelled: the call now exists on the server; end it.
        if (reply.type === 'call_ringing') this.sig.request({ type: 'call_hangup', call_id: reply.call_id }).catch(() => {});
        return;
      }
      if (reply.type === 'call_ended') {
        this.finish(reply.reason);
        return;
      }
      cur.callId = reply.call_id;
      call.bind(reply.call_id);
      this.tone.start('ringback');
      this.changed();
    } catch (e) {
      if (this.current === cur) this.finish('failed', e instanceof Error ? e.message : String(e));
    }
  }

  /** @param {{call_id: number, caller: number, media: 'audio'|'video'}} m */
  onIncoming(m) {
    if (this.phase !== 'idle') return;
    this.phase = 'incoming';
    this.notice = null;
    this.current = { callId: m.call_id, peer: m.caller, media: m.media };
    // Normally kept fresh already; if not, fetched while it rings.
    this.iceConfig.get();
    this.changed();
    // An answer given at once (by a listener of `change`) leaves nothing to ring for.
    if (this.phase === 'incoming' && !this.accepting) this.tone.start('ring');
  }

  /** Answers the ringing call; `withVideo` false answers a video call with audio only. */
  async accept(withVideo = true) {
    if (this.phase !== 'incoming' || !this.current || this.accepting) return;
    const cur = this.current;
    this.accepting = true;
    this.tone.stop();
    // Say yes at once. The server answers with the caller's offer and candidates; the
    // connection answers them while the camera and microphone start.
    const accepted = this.sig.request({ type: 'call_accept', call_id: cur.callId }).then(() => null, (e) => e);
    const sends = { audio: true, video: withVideo && cur.media === 'video' };
    const devices = getLocalMedia(sends);
    const rtcConfig = await this.iceConfig.get();
    if (this.current !== cur) {
      stopAll((await devices).stream);
      return;
    }
    this.accepting = false;
    const call = this.activate(sends, rtcConfig);
    this.useDevices(cur, call, devices);
    const refused = await accepted;
    if (refused && this.current === cur) this.finish('failed', refused instanceof Error ? refused.message : String(refused));
  }

  async decline() {
    if (this.phase !== 'incoming' || !this.current) return;
    const id = this.current.callId;
    this.finish('declined', null, false);
    await this.sig.request({ type: 'call_decline', call_id: id }).catch(() => {});
  }

  /** Cancels an outgoing call or hangs up an active one. */
  async hangup() {
    const id = this.current?.callId;
    this.finish('hangup', null, false);
    if (id) await this.sig.request({ type: 'call_hangup', call_id: id }).catch(() => {});
  }

  /** @param {{call_id: number}} m */
  onAccepted(m) {
    if (this.phase !== 'outgoing' || this.current?.callId !== m.call_id || !this.call) return;
    this.tone.stop();
    this.phase = 'active';
    this.call.expectConnection();
    this.changed();
  }

  /**
   * Hands the camera and microphone to the call once they have started; if the call is over
   * by then (cancelled, declined, answered elsewhere), they stop at once.
   * @param {{callId: number}} cur @param {Call} call @param {Promise<import('./media.js').LocalMedia>} devices
   */
  async useDevices(cur, call, devices) {
    const local = await devices;
    if (this.current !== cur || call.ended) {
      stopAll(local.stream);
      return;
    }
    this.notice = local.problem;
    call.attach(local);
    this.changed();
  }

  /**
   * @param {'caller'|'callee'} role @param {{audio: boolean, video: boolean}} sends
   * @param {RTCConfiguration} rtcConfig
   */
  newCall(role, sends, rtcConfig) {
    const cur = /** @type {{callId: number, peer: number, media: 'audio'|'video'}} */ (this.current);
    const call = new Call({
      sig: this.sig, callId: cur.callId, role, peer: cur.peer, media: cur.media, rtcConfig, sends,
      connectTimeoutMs: this.connectTimeoutMs,
    });
    call.addEventListener('failed', (e) => this.hangupWith(/** @type {CustomEvent} */ (e).detail));
    return call;
  }

  /**
   * The callee's side once accepted: its connection opens with the caller's offer.
   * @param {{audio: boolean, video: boolean}} sends @param {RTCConfiguration} rtcConfig
   */
  activate(sends, rtcConfig) {
    const call = this.newCall('callee', sends, rtcConfig);
    this.call = call;
    call.expectConnection();
    this.phase = 'active';
    for (const data of this.early.splice(0)) call.receive(data);
    this.changed();
    return call;
  }

  /**
   * Hangs up because the media path failed; the reason goes with the hang-up, so both sides
   * show the same explanation whichever of their timers fired first.
   * @param {import('./call.js').FailReason} reason
   */
  async hangupWith(reason) {
    const id = this.current?.callId;
    this.finish(reason);
    if (id) await this.sig.request({ type: 'call_hangup', call_id: id, reason }).catch(() => {});
  }

  /**
   * The server does not know this device any more: it restarted, or this tab was away too
   * long. A ringing call is over. An established call's media is peer to peer and may well
   * still flow: after a fresh `welcome` the call is claimed back (`call_rejoin`); the server
   * re-establishes it once the other side claims it too, or ends it (`call_ended`) when the
   * other side does not come back.
   * @param {any} m the fresh `welcome`, or the server's `resync`
   */
  async onResync(m) {
    if (this.phase === 'idle') return;
    const cur = this.current;
    const call = this.call;
    if (m?.type !== 'welcome' || this.phase !== 'active' || !cur?.callId || !call || call.ended) {
      this.finish('connection_lost');
      return;
    }
    try {
      await this.sig.request({ type: 'call_rejoin', call_id: cur.callId, peer: cur.peer, role: call.role, media: cur.media });
    } catch {
      if (this.current === cur) this.finish('connection_lost');
    }
  }

  /** @param {{call_id: number, data: any}} m */
  onSignal(m) {
    if (!this.current || this.current.callId !== m.call_id) return;
    // The other side added a third person: the call moves to that group's conference.
    if (typeof m.data?.move_to_room === 'number') {
      this.dispatchEvent(new CustomEvent('move', { detail: m.data.move_to_room }));
      return;
    }
    if (this.call) this.call.receive(m.data);
    else this.early.push(m.data);
  }

  /**
   * Asks the other side to move with us to the group call of `conv` (see `move`).
   * @param {number} conv
   */
  moveToRoom(conv) {
    this.call?.signal({ move_to_room: conv });
  }

  /** @param {{call_id: number, reason: string}} m */
  onEnded(m) {
    if (!this.current) return;
    // The reply to our own invite carries the call id before we stored it.
    if (this.current.callId && this.current.callId !== m.call_id) return;
    this.finish(m.reason);
  }

  /**
   * Back to idle, releasing everything.
   * @param {string} reason @param {string|null} [message] @param {boolean} [show]
   */
  finish(reason, message = null, show = true) {
    this.tone.stop();
    this.accepting = false;
    // Closing the call stops its devices; ones still starting stop when they arrive (useDevices).
    this.call?.close();
    this.call = null;
    this.early = [];
    this.current = null;
    this.phase = 'idle';
    this.notice = show || message ? (message || END_TEXT[reason] || reason) : null;
    this.changed();
  }

  /** For diagnostics and tests: the active RTCPeerConnection, if any. */
  get peerConnection() {
    return this.call?.pc || null;
  }
}
