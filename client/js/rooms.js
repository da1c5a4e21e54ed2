// @ts-check
/**
 * Group calls as the app sees them: which conversations have a call running (and who is
 * in it), the call this tab is in, and the "a call started" ring for conversations we are
 * a member of (declined for all our devices at once: the server says `room_ring_ended`).
 * Events: `change`, `missed` (a group call rang out: the call history has it).
 */

import { RoomCall } from './room.js';
import { stopAll } from './media.js';

/** How long a started call rings on the members' devices (as long as the server's ring). */
export const RING_MS = 30_000;

export class RoomManager extends EventTarget {
  /**
   * @param {import('./signaling.js').Signaling} sig
   * @param {import('./ice.js').IceConfig} iceConfig
   * @param {number} me
   */
  constructor(sig, iceConfig, me) {
    super();
    this.sig = sig;
    this.iceConfig = iceConfig;
    this.me = me;
    /** Users in each conversation's running call. @type {Map<number, number[]>} */
    this.running = new Map();
    /** @type {RoomCall|null} */
    this.current = null;
    /** A call that started in one of our conversations, ringing here. @type {{conv: number, by: number}|null} */
    this.ringing = null;
    /** @type {number|undefined} */
    this.ringTimer = undefined;
    /** @type {string|null} */
    this.notice = null;
    /** Conversations with a `room_running` event since the last fresh connection. @type {Set<number>} */
    this.heard = new Set();
    /** Sessions re-established by themselves (server restart, network change): for tests. */
    this.rejoins = 0;
    sig.addEventListener('room_running', (e) => this.onRunning(/** @type {CustomEvent} */ (e).detail));
    sig.addEventListener('room_ring_ended', (e) => {
      const m = /** @type {{conv: number, reason: string}} */ (/** @type {CustomEvent} */ (e).detail);
      if (this.ringing?.conv === m.conv) this.stopRinging();
      if (m.reason === 'missed') this.dispatchEvent(new Event('missed'));
    });
    sig.addEventListener('resync', () => {
      this.heard.clear();
      // A fresh connection means the server lost this device (it restarted, or we were
      // away too long): our seat in the call is gone. Take it again.
      if (this.current && !this.current.ended && this.current.participant) this.rejoin(this.current);
    });
  }

  /**
   * Joins the same call again with a new session, keeping camera and microphone on.
   * @param {RoomCall} old
   */
  rejoin(old) {
    const video = (old.local?.getVideoTracks().length || 0) > 0;
    const media = old.local;
    old.end('rejoin', true);
    this.rejoins += 1;
    this.join(old.conv, video, media);
  }

  /**
   * Calls already running when the conversations were loaded (events only tell changes);
   * an event heard since wins over the loaded list.
   * @param {Iterable<{id: number, call?: number[]}>} conversations
   */
  seed(conversations) {
    let changed = false;
    for (const c of conversations) {
      if (this.heard.has(c.id)) continue;
      const users = c.call || [];
      if (users.length) this.running.set(c.id, users); else this.running.delete(c.id);
      changed = true;
    }
    if (changed) this.changed();
  }

  /** @param {{conv: number, users: number[], started?: boolean}} m */
  onRunning(m) {
    this.heard.add(m.conv);
    const before = this.running.get(m.conv) || [];
    if (m.users.length) this.running.set(m.conv, m.users);
    else this.running.delete(m.conv);
    // The server says when a call starts: our list may have loaded it just before the event.
    const started = m.started ?? (before.length === 0 && m.users.length > 0);
    const inIt = this.current?.conv === m.conv || m.users.includes(this.me);
    if (started && !inIt && !this.current) {
      this.ringing = { conv: m.conv, by: m.users[0] };
      clearTimeout(this.ringTimer);
      // Rung out: the server ends the ring too (a missed call in the history).
      this.ringTimer = setTimeout(() => this.stopRinging(), RING_MS);
    }
    if (this.ringing?.conv === m.conv && (m.users.length === 0 || inIt)) this.ringing = null;
    this.changed();
  }

  /**
   * Starts or joins the call of a conversation.
   * @param {number} conv @param {boolean} video @param {MediaStream|null} [reuse] see RoomCall.join
   * @param {number} [attempt] how many times the media path broke and was taken up again
   */
  async join(conv, video = true, reuse = null, attempt = 0) {
    if (this.current) {
      if (this.current.conv === conv) return;
      this.current.leave();
    }
    this.ringing = null;
    this.notice = null;
    const call = new RoomCall(this.sig, this.iceConfig, conv);
    this.current = call;
    call.addEventListener('change', () => this.changed());
    call.addEventListener('ended', (e) => {
      const reason = /** @type {CustomEvent} */ (e).detail;
      if (this.current !== call) return;
      // The media path broke (a network change, the server restarting): try again once
      // signaling is back, a few times, before giving up.
      if (reason === 'media_lost' && attempt < 3) {
        this.current = null;
        this.retry(conv, video, call.local, attempt + 1);
        return;
      }
      this.current = null;
      if (reason === 'rejoin') return;
      stopAll(call.local);
      this.notice = reason === 'left' ? null
        : reason === 'removed' ? 'You were removed from the call'
          : 'The connection to the call was lost';
      this.changed();
    });
    this.changed();
    try {
      // Joining right after the page loaded (a meeting link) may come before the socket is up.
      await this.sig.opened();
      await call.join({ video }, reuse);
    } catch (e) {
      call.end('failed');
      this.notice = `Could not join the call: ${e instanceof Error ? e.message : e}`;
      this.changed();
    }
  }

  /**
   * Joins again after the media path broke, once signaling is up.
   * @param {number} conv @param {boolean} video @param {MediaStream|null} media @param {number} attempt
   */
  async retry(conv, video, media, attempt) {
    this.rejoins += 1;
    this.changed();
    // Signaling may be reconnecting too (a restarting server): wait for it, a minute at most.
    for (let i = 0; i < 120 && this.sig.state !== 'open'; i++) await new Promise((r) => setTimeout(r, 500));
    if (this.current) return;
    if (this.sig.state !== 'open') {
      stopAll(media);
      this.notice = 'The connection to the call was lost';
      this.changed();
      return;
    }
    await this.join(conv, video, media, attempt);
  }

  /** Declines the ringing call: it stops ringing on all our devices. */
  decline() {
    const conv = this.ringing?.conv;
    this.stopRinging();
    // The ring stopped here already; another device keeps ringing if this is lost.
    if (conv !== undefined) this.sig.request({ type: 'room_decline', conv }).catch(() => {});
  }

  stopRinging() {
    clearTimeout(this.ringTimer);
    this.ringing = null;
    this.changed();
  }

  leave() {
    this.current?.leave();
  }

  changed() {
    this.dispatchEvent(new Event('change'));
  }
}
