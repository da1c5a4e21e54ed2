// @ts-check
/**
 * Files sent to a conversation through the server (attachments): for a recipient who is
 * offline, and for groups. One upload at a time, the rest queued; each with progress, speed,
 * time left and cancel. A file over the server's limit is refused before anything is sent.
 * The server posts the message itself once the file is stored; it then arrives like any
 * other message (`chat_message`).
 *
 * Events: `change` (the list of transfers changed or progressed).
 */
import { api, getCsrfToken } from './api.js';
import { formatBytes } from './dom.js';
import { newClientId } from './chat.js';

/**
 * @typedef {{id: string, conv: number, name: string, size: number, sent: number,
 *   state: 'queued'|'sending'|'done'|'failed'|'cancelled', error: string|null,
 *   startedAt: number, rate: number}} Upload
 */
/** @typedef {{max_file_bytes: number, quota_bytes: number, used_bytes: number, retention_days: number|null}} Limits */

export class Uploads extends EventTarget {
  constructor() {
    super();
    /** @type {Upload[]} */
    this.items = [];
    /** @type {Map<string, File>} */
    this.files = new Map();
    /** @type {XMLHttpRequest|null} */
    this.xhr = null;
    /** @type {Limits|null} */
    this.limits = null;
  }

  changed() {
    this.dispatchEvent(new CustomEvent('change'));
  }

  /** The server's limits (fetched once, refreshed after each upload). */
  async getLimits() {
    if (!this.limits) this.limits = await api('GET', '/attachments/limits');
    return /** @type {Limits} */ (this.limits);
  }

  /**
   * Queues files for a conversation. Throws, naming the limit, if one is too large; then
   * none of them is queued.
   * @param {number} conv @param {File[]} files
   */
  async add(conv, files) {
    const limits = await this.getLimits();
    const tooBig = files.find((f) => f.size > limits.max_file_bytes);
    if (tooBig) {
      throw new Error(`“${tooBig.name}” is ${formatBytes(tooBig.size)}; files can be at most ${formatBytes(limits.max_file_bytes)} on this server.`);
    }
    for (const f of files) {
      const id = newClientId();
      this.files.set(id, f);
      this.items.push({ id, conv, name: f.name || 'file', size: f.size, sent: 0, state: 'queued', error: null, startedAt: 0, rate: 0 });
    }
    this.changed();
    this.next();
  }

  /** The transfers to show for a conversation (finished ones disappear). @param {number} conv */
  of(conv) {
    return this.items.filter((u) => u.conv === conv && u.state !== 'done' && u.state !== 'cancelled');
  }

  /** @param {string} id */
  cancel(id) {
    const u = this.items.find((x) => x.id === id);
    if (!u) return;
    if (u.state === 'sending') this.xhr?.abort();
    if (u.state === 'queued' || u.state === 'sending' || u.state === 'failed') this.finish(u, 'cancelled', null);
  }

  /** @param {Upload} u @param {Upload['state']} state @param {string|null} error */
  finish(u, state, error) {
    u.state = state;
    u.error = error;
    if (state !== 'failed') this.files.delete(u.id);
    if (state === 'done' || state === 'cancelled') this.items = this.items.filter((x) => x !== u);
    this.changed();
  }

  /** Starts the next queued upload unless one is running. */
  next() {
    if (this.items.some((u) => u.state === 'sending')) return;
    const u = this.items.find((x) => x.state === 'queued');
    const file = u && this.files.get(u.id);
    if (!u || !file) return;
    u.state = 'sending';
    u.startedAt = performance.now();
    const xhr = new XMLHttpRequest();
    this.xhr = xhr;
    const q = new URLSearchParams({ name: u.name, client_id: u.id });
    xhr.open('POST', `/api/v1/conversations/${u.conv}/attachments?${q}`);
    xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
    const csrf = getCsrfToken();
    if (csrf) xhr.setRequestHeader('X-CSRF-Token', csrf);
    xhr.upload.onprogress = (e) => {
      u.sent = e.loaded;
      const secs = (performance.now() - u.startedAt) / 1000;
      u.rate = secs > 0 ? e.loaded / secs : 0;
      this.changed();
    };
    const done = () => {
      this.xhr = null;
      this.limits = null;
      this.next();
    };
    xhr.onload = () => {
      if (xhr.status === 200 || xhr.status === 201) {
        this.finish(u, 'done', null);
      } else {
        let message = `upload failed (${xhr.status})`;
        try { message = JSON.parse(xhr.responseText).message || message; } catch { /* not JSON */ }
        this.finish(u, 'failed', message);
      }
      done();
    };
    xhr.onerror = () => { this.finish(u, 'failed', 'the connection to the server broke off'); done(); };
    xhr.onabort = () => done();
    xhr.send(file);
    this.changed();
  }

  /** Puts a failed upload back in the queue. @param {string} id */
  retry(id) {
    const u = this.items.find((x) => x.id === id);
    if (!u || u.state !== 'failed' || !this.files.has(id)) return;
    u.state = 'queued';
    u.sent = 0;
    u.error = null;
    this.changed();
    this.next();
  }
}
