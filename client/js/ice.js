// @ts-check
/**
 * The RTCPeerConnection configuration (STUN/TURN servers) from `GET /api/v1/ice-servers`,
 * kept ready so that placing or answering a call never waits for it.
 *
 * The TURN credentials in it expire (`expires_at`), so a configuration is reused only while
 * it is young — at most half its remaining lifetime when fetched, and never more than
 * {@link MAX_REUSE_MS} — and is fetched again in the background before that runs out.
 */

import { api } from './api.js';

/** Longest a fetched configuration is reused, whatever its credentials' lifetime. */
const MAX_REUSE_MS = 10 * 60_000;

/** @type {RTCConfiguration} */
const NONE = { iceServers: [] };

export class IceConfig {
  /** @param {() => Promise<any>} [fetchConfig] */
  constructor(fetchConfig = () => api('GET', '/ice-servers')) {
    this.fetchConfig = fetchConfig;
    /** @type {RTCConfiguration|null} */
    this.config = null;
    /** `performance.now()` until which {@link config} may be used. */
    this.freshUntil = 0;
    /** @type {Promise<RTCConfiguration>|null} */
    this.inFlight = null;
    /** @type {number|undefined} */
    this.renewTimer = undefined;
    this.stopped = false;
  }

  /** The configuration if it is fresh, else null (then {@link get} fetches one). */
  current() {
    return this.config && performance.now() < this.freshUntil ? this.config : null;
  }

  /**
   * A fresh configuration: the kept one, or a new fetch. Never fails: without the server's
   * answer a call still works on one network (host candidates only).
   * @returns {Promise<RTCConfiguration>}
   */
  get() {
    const fresh = this.current();
    return fresh ? Promise.resolve(fresh) : this.refresh();
  }

  /** Fetches anew (one request at a time); the kept configuration serves until it returns. */
  refresh() {
    this.inFlight ??= this.fetch().finally(() => { this.inFlight = null; });
    return this.inFlight;
  }

  /** @returns {Promise<RTCConfiguration>} */
  async fetch() {
    try {
      const c = await this.fetchConfig();
      /** @type {RTCConfiguration} */
      const config = {
        iceServers: c.ice_servers,
        iceTransportPolicy: c.ice_transport_policy === 'relay' ? 'relay' : 'all',
      };
      // The server's clock says when the credentials expire; measured against ours, half of
      // what is left leaves room for a moderate clock difference and a long call setup.
      const left = typeof c.expires_at === 'number' ? c.expires_at * 1000 - Date.now() : MAX_REUSE_MS * 2;
      const reuse = Math.max(0, Math.min(MAX_REUSE_MS, left / 2));
      this.config = config;
      this.freshUntil = performance.now() + reuse;
      this.scheduleRenewal(reuse);
      return config;
    } catch {
      return NONE;
    }
  }

  /**
   * Fetches again shortly before the kept configuration goes stale, so it is ready when a
   * call comes. A configuration that cannot be reused (credentials about to expire) is not
   * renewed on a timer: the next call fetches its own.
   * @param {number} reuse
   */
  scheduleRenewal(reuse) {
    clearTimeout(this.renewTimer);
    if (this.stopped || reuse < 10_000) return;
    this.renewTimer = setTimeout(() => this.refresh(), reuse - 5_000);
  }

  /** Stops renewing (the page is leaving the app). */
  stop() {
    this.stopped = true;
    clearTimeout(this.renewTimer);
  }
}
