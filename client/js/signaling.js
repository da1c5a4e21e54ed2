// @ts-check
/**
 * The signaling connection: one WebSocket per tab to /api/v1/ws (protocol in docs/protocol.md).
 * Says hello, resumes its device after a network blip (missed events are replayed), reconnects
 * with backoff, and notices a dead server through its own keepalive. Every server message is
 * dispatched as an event named after its `type`; `detail` is the message.
 */

const PROTOCOL_VERSION = 1;

export class Signaling extends EventTarget {
  constructor() {
    super();
    /** @type {WebSocket|null} */
    this.ws = null;
    /** @type {string|null} */
    this.resumeToken = null;
    this.lastSeq = 0;
    this.nextId = 1;
    /** @type {Map<number, {resolve: (v:any)=>void, reject: (e:any)=>void, timer: number}>} */
    this.pending = new Map();
    this.backoffMs = 500;
    this.stopped = false;
    this.heartbeatMs = 20000;
    /** @type {number|undefined} */
    this.keepalive = undefined;
    this.lastHeard = Date.now();
    /** @type {'connecting'|'open'|'closed'} */
    this.state = 'closed';
  }

  start() {
    this.stopped = false;
    this.open();
  }

  /** Closes for good (logout, page leaving). */
  stop() {
    this.stopped = true;
    clearInterval(this.keepalive);
    this.ws?.close(1000, 'bye');
    this.ws = null;
  }

  open() {
    this.setState('connecting');
    const ws = new WebSocket(`wss://${location.host}/api/v1/ws`);
    this.ws = ws;
    ws.onopen = () => {
      /** @type {any} */
      const hello = { type: 'hello', v: PROTOCOL_VERSION };
      if (this.resumeToken) hello.resume = { token: this.resumeToken, last_seq: this.lastSeq };
      ws.send(JSON.stringify(hello));
    };
    ws.onmessage = (ev) => this.onMessage(ev.data);
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      clearInterval(this.keepalive);
      for (const [, p] of this.pending) { clearTimeout(p.timer); p.reject(new Error('connection lost')); }
      this.pending.clear();
      this.setState('closed');
      if (ev.code === 4007) {
        // A guest is out of their meeting; the reason says why (rejected, removed, ended...).
        this.stopped = true;
        this.dispatchEvent(new CustomEvent('meeting_over', { detail: ev.reason }));
        return;
      }
      if (ev.code === 4004 || ev.code === 4000) {
        this.stopped = true;
        this.dispatchEvent(new CustomEvent('session_ended', { detail: { code: ev.code } }));
        return;
      }
      if (this.stopped) return;
      const delay = this.backoffMs;
      this.backoffMs = Math.min(this.backoffMs * 2, 10000);
      setTimeout(() => { if (!this.stopped) this.open(); }, delay + Math.random() * 250);
    };
  }

  /** @param {'connecting'|'open'|'closed'} s */
  setState(s) {
    this.state = s;
    this.dispatchEvent(new CustomEvent('state', { detail: s }));
  }

  /** @param {string} data */
  onMessage(data) {
    this.lastHeard = Date.now();
    /** @type {any} */
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (typeof msg.seq === 'number' && msg.seq > this.lastSeq) this.lastSeq = msg.seq;
    if (msg.type === 'welcome') {
      const fresh = !msg.resumed;
      this.resumeToken = msg.resume_token;
      if (fresh) this.lastSeq = 0;
      this.heartbeatMs = (msg.heartbeat_secs || 20) * 1000;
      this.backoffMs = 500;
      this.startKeepalive();
      this.setState('open');
      if (fresh) this.dispatchEvent(new CustomEvent('resync', { detail: msg }));
    }
    if (msg.type === 'resync') {
      this.dispatchEvent(new CustomEvent('resync', { detail: msg }));
    }
    if (typeof msg.id === 'number' && this.pending.has(msg.id)) {
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (p) {
        clearTimeout(p.timer);
        if (msg.type === 'error') p.reject(Object.assign(new Error(msg.message), { code: msg.code }));
        else p.resolve(msg);
      }
    }
    this.dispatchEvent(new CustomEvent(msg.type, { detail: msg }));
  }

  /** Our own keepalive: a server that stops answering is a dead connection. */
  startKeepalive() {
    clearInterval(this.keepalive);
    this.keepalive = setInterval(() => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
      if (Date.now() - this.lastHeard > this.heartbeatMs * 2.5) {
        this.ws.close(4001, 'server silent');
        return;
      }
      this.send({ type: 'ping' });
    }, this.heartbeatMs);
  }

  /** @param {object} msg */
  send(msg) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  /**
   * Resolves once the socket is open (at once if it is), or after `ms` whatever the state:
   * requests sent before would be dropped.
   * @param {number} [ms]
   * @returns {Promise<void>}
   */
  opened(ms = 30000) {
    if (this.state === 'open') return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => { clearTimeout(timer); this.removeEventListener('state', onState); resolve(); };
      const onState = () => { if (this.state === 'open') done(); };
      const timer = setTimeout(done, ms);
      this.addEventListener('state', onState);
    });
  }

  /**
   * Sends a request and resolves with its reply (rejects on `error` or after 10 s).
   * @param {object} msg
   * @returns {Promise<any>}
   */
  request(msg) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.pending.delete(id); reject(new Error('no reply')); }, 10000);
      this.pending.set(id, { resolve, reject, timer });
      this.send({ ...msg, id });
    });
  }

  /** @param {'online'|'away'|'dnd'} status */
  setPresence(status) {
    return this.request({ type: 'set_presence', status });
  }
}
