// @ts-check
/**
 * Group calls as the app sees them: which conversations have a call running (and who is
 * in it), the call this tab is in, and the "a call started" ring for conversations we are
 * a member of. Events: `change`.
 */

import { RoomCall } from './room.js';

/** How long a started call rings on the members' devices. */
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
    sig.addEventListener('room_running', (e) => this.onRunning(/** @type {CustomEvent} */ (e).detail));
    sig.addEventListener('resync', () => this.heard.clear());
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

  /** @param {{conv: number, users: number[]}} m */
  onRunning(m) {
    this.heard.add(m.conv);
    const before = this.running.get(m.conv) || [];
    if (m.users.length) this.running.set(m.conv, m.users);
    else this.running.delete(m.conv);
    const started = before.length === 0 && m.users.length > 0;
    const inIt = this.current?.conv === m.conv || m.users.includes(this.me);
    if (started && !inIt && !this.current) {
      this.ringing = { conv: m.conv, by: m.users[0] };
      clearTimeout(this.ringTimer);
      this.ringTimer = setTimeout(() => this.decline(), RING_MS);
    }
    if (this.ringing?.conv === m.conv && (m.users.length === 0 || inIt)) this.ringing = null;
    this.changed();
  }

  /**
   * Starts or joins the call of a conversation.
   * @param {number} conv @param {boolean} video
   */
  async join(conv, video = true) {
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
      if (this.current === call) this.current = null;
      this.notice = reason === 'left' ? null
        : reason === 'removed' ? 'You were removed from the call'
          : 'The connection to the call was lost';
      this.changed();
    });
    this.changed();
    try {
      await call.join({ video });
    } catch (e) {
      call.end('failed');
      this.notice = `Could not join the call: ${e instanceof Error ? e.message : e}`;
      this.changed();
    }
  }

  decline() {
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
