// @ts-check
/** Contacts' presence as pushed by the server, and this tab's own presence. */

import { h } from './dom.js';

/** @typedef {'online'|'away'|'busy'|'dnd'|'offline'} Presence */

/** A tab without user input for this long shows as away. */
const IDLE_MS = 5 * 60 * 1000;

export const LABELS = /** @type {Record<Presence, string>} */ ({
  online: 'Online', away: 'Away', busy: 'In a call', dnd: 'Do not disturb', offline: 'Offline',
});

export class PresenceBook extends EventTarget {
  /** @param {import('./signaling.js').Signaling} sig */
  constructor(sig) {
    super();
    /** @type {Map<number, Presence>} */
    this.status = new Map();
    /** The status the user chose; "away" is also set while the tab is hidden. */
    /** @type {'online'|'away'|'dnd'} */
    this.chosen = 'online';
    this.sig = sig;
    sig.addEventListener('welcome', (e) => {
      const msg = /** @type {CustomEvent} */ (e).detail;
      this.status.clear();
      for (const p of msg.presence) this.status.set(p.user, p.status);
      this.changed();
      this.publish();
    });
    sig.addEventListener('presence', (e) => {
      const msg = /** @type {CustomEvent} */ (e).detail;
      this.status.set(msg.user, msg.status);
      this.changed(msg.user);
    });
    document.addEventListener('visibilitychange', () => this.publish());
    // Idle: no keyboard, pointer or touch input for IDLE_MS makes this tab away.
    this.lastInput = Date.now();
    this.idle = false;
    const onInput = () => {
      this.lastInput = Date.now();
      if (this.idle) { this.idle = false; this.publish(); }
    };
    for (const ev of ['keydown', 'pointerdown', 'pointermove', 'touchstart', 'wheel']) {
      window.addEventListener(ev, onInput, { passive: true });
    }
    setInterval(() => {
      if (!this.idle && Date.now() - this.lastInput > IDLE_MS) { this.idle = true; this.publish(); }
    }, 30_000);
  }

  /** @param {number} user @returns {Presence} */
  of(user) {
    return this.status.get(user) || 'offline';
  }

  /** @param {'online'|'away'|'dnd'} s */
  choose(s) {
    this.chosen = s;
    this.publish();
  }

  /** Tells the server this tab's presence: hidden tabs are away (unless do-not-disturb). */
  publish() {
    const inactive = document.visibilityState === 'hidden' || this.idle;
    const effective = this.chosen === 'online' && inactive ? 'away' : this.chosen;
    this.sig.setPresence(effective).catch(() => {});
  }

  /** @param {number} [user] */
  changed(user) {
    this.dispatchEvent(new CustomEvent('change', { detail: { user } }));
  }
}

/**
 * A presence dot with its status as accessible text.
 * @param {Presence} status
 */
export function dot(status) {
  return h('span', { class: `dot ${status}`, 'data-status': status, role: 'img', 'aria-label': LABELS[status], title: LABELS[status] });
}
