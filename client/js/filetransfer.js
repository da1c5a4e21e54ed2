// @ts-check
/**
 * Files sent person to person: the bytes go browser to browser over an RTCDataChannel
 * (through our TURN server when there is no direct path) and never touch the server. The
 * server only carries the offer, who takes it, and the connection's negotiation
 * (`file_offer`, `file_accept`, `file_signal`, `file_end`: docs/protocol.md).
 *
 * The receiver's device that accepts opens the connection (it makes the WebRTC offer) and
 * says from which byte it wants the file (`start`); the sender streams it from there. On the
 * channel, text messages are control, JSON (`start`, `ack`, `end`, `verified`, `mismatch`,
 * `cancel`), and binary messages are data: an 8-byte big-endian offset, then up to
 * 256 KiB − 8 bytes (a receiver takes any size up to what its SCTP allows).
 *
 * - Memory: the sender reads 1 MiB slices and queues at most a few MiB on the channel
 *   (backpressure through `bufferedAmountLowThreshold`); the receiver writes to disk as it
 *   goes (see filesink.js) and confirms what it wrote (`ack`), and the sender stays at most
 *   32 MiB ahead of that, so a slow disk cannot make the receiver queue the file in memory.
 *   Neither holds the file.
 * - Integrity: the sender's worker hashes the whole file (SHA-256), the receiver's hashes
 *   what it wrote; the file is offered for saving only if both match.
 * - Resume: when the connection breaks (network change, a reconnect of the signaling), the
 *   receiver opens a new one and asks from the byte after the last one it has; nothing is
 *   sent twice. After a reload of the receiving page (or a new signaling device), the new
 *   page takes the transfer over (`file_resume`) with what the old one wrote to disk: the
 *   transfers being received are listed in localStorage until they end.
 * - Several files: offered at once, sent one after the other.
 * - A hostile sender (more bytes than announced, data out of order, a wrong hash) ends the
 *   transfer with an error that says so, and what arrived is discarded.
 *
 * Events: `change` (a transfer was added, progressed or ended), `incoming` (detail: a new
 * offer to this device).
 */
import { openSink, clearStaleIncoming, diskSinks } from './filesink.js';
import { safeFileName } from './filename.js';
import { FileHasher } from './filehash.js';

/** Each data message starts with its offset in the file. */
const HEADER = 8;
/**
 * Payload of one data message: a message fills the 256 KiB Chromium's SCTP takes (fewer,
 * larger messages cost less CPU per byte, which on a small machine is the limit).
 */
const CHUNK = 256 * 1024 - HEADER;
/** Read from the file at once: whole messages' worth (about 1 MiB). */
const SLICE = 4 * CHUNK;
/** Stop queueing data on the channel above this many buffered bytes... */
const HIGH_WATER = 8 * 1024 * 1024;
/** ...and go on once it drained below this. */
const LOW_WATER = 2 * 1024 * 1024;
/** The receiver confirms what it wrote this often. */
const ACK_EVERY = 1024 * 1024;
/**
 * The sender stays at most this far ahead of what the receiver confirmed it wrote: a
 * receiver whose disk is slower than the network would otherwise hold the difference in
 * memory, up to the whole file (the channel itself has no flow control towards the page).
 */
const UNACKED_MAX = 32 * 1024 * 1024;
/** A broken transfer is retried this often, and given up after this long. */
const RETRY_MS = 1000;
/**
 * Progress (bytes done, speed) is told to the views at most this often. Each 256 KiB written
 * used to re-render the transfer list, over a hundred times a second, on the main thread the
 * DataChannel delivers to.
 */
const PROGRESS_MS = 250;
const GIVE_UP_MS = 120_000;

/**
 * @typedef {'offering'|'offered'|'connecting'|'queued'|'sending'|'receiving'|'interrupted'|'verifying'|
 *   'done'|'failed'|'cancelled'|'declined'} State
 * @typedef {{id: number, dir: 'out'|'in', peer: number, name: string, size: number, mime: string,
 *   state: State, done: number, rate: number, error: string|null, sha256: string|null,
 *   resumedFrom: number, sentBytes: number, received: number, url: string|null,
 *   file: File|null, sink: import('./filesink.js').Sink|null, result: Blob|null,
 *   pc: RTCPeerConnection|null, dc: RTCDataChannel|null, hasher: FileHasher|null,
 *   queue: Promise<void>, run: number, startAt: number|null, lastAck: number, endHash: string|null,
 *   rateFrom: {t: number, bytes: number}, brokenSince: number, sinkName: string,
 *   ackWait: (() => void)|null}} Transfer
 * @typedef {{id: number, peer: number, name: string, size: number, mime: string, sink: string}} Kept
 */

/** Why the other side or the server ended a transfer, for people. */
export const FILE_END_TEXT = /** @type {Record<string, string>} */ ({
  declined: 'Declined', cancelled: 'Cancelled', completed: 'Sent', failed: 'Failed',
  unavailable: 'Not reachable right now', not_allowed: 'You cannot send files to this person',
  taken_elsewhere: 'Accepted on another device', connection_lost: 'The other device went away',
  expired: 'Nobody answered',
});

/** @param {RTCDataChannel} dc */
function drained(dc) {
  return new Promise((resolve) => {
    const go = () => {
      dc.removeEventListener('bufferedamountlow', go);
      dc.removeEventListener('close', go);
      resolve(undefined);
    };
    dc.addEventListener('bufferedamountlow', go);
    dc.addEventListener('close', go);
  });
}

/**
 * Reads a file from byte `from` on in slices of SLICE bytes (the last one shorter, then
 * empty ones), each in a buffer of its own (a slice moves to the hashing worker once sent).
 * A byte stream read into our buffers: in Chromium about three times faster than reading
 * each slice as a Blob (`file.slice(a, b).arrayBuffer()`): 512 MiB in 0.5–0.6 s against
 * 1.6–2.2 s (bench/file-transfer/read-file.mjs).
 * @param {Blob} file @param {number} from
 */
function sliceReader(file, from) {
  const reader = file.slice(from).stream().getReader({ mode: 'byob' });
  let ended = false;
  return {
    /** @returns {Promise<Uint8Array>} */
    async next() {
      let buf = new Uint8Array(SLICE);
      let filled = 0;
      while (filled < SLICE && !ended) {
        const { done, value } = await reader.read(buf.subarray(filled));
        // The buffer moved into the read and comes back as `value`'s.
        if (value) buf = new Uint8Array(value.buffer);
        if (done) ended = true;
        else filled += /** @type {Uint8Array} */ (value).byteLength;
      }
      return filled === SLICE ? buf : buf.slice(0, filled);
    },
    close() {
      reader.cancel().catch(() => {});
    },
  };
}

const FINAL = new Set(['done', 'failed', 'cancelled', 'declined']);

export class FileTransfers extends EventTarget {
  /**
   * @param {import('./signaling.js').Signaling} sig
   * @param {import('./ice.js').IceConfig} iceConfig the STUN/TURN servers (shared with calls)
   */
  constructor(sig, iceConfig) {
    super();
    this.sig = sig;
    this.iceConfig = iceConfig;
    /** @type {Map<number, Transfer>} */
    this.items = new Map();
    /** This user (from `welcome`), whose list of transfers being received is kept. @type {number|null} */
    this.me = null;
    /** A pending progress report (`progressed`). @type {ReturnType<typeof setTimeout>|0} */
    this.progressTimer = 0;
    sig.addEventListener('welcome', (e) => this.onWelcome(/** @type {CustomEvent} */ (e).detail));
    sig.addEventListener('file_incoming', (e) => this.onIncoming(/** @type {CustomEvent} */ (e).detail));
    sig.addEventListener('file_accepted', (e) => this.onAccepted(/** @type {CustomEvent} */ (e).detail));
    sig.addEventListener('file_signal', (e) => this.onSignal(/** @type {CustomEvent} */ (e).detail));
    sig.addEventListener('file_ended', (e) => this.onEnded(/** @type {CustomEvent} */ (e).detail));
    // The server no longer knows this device (it was away too long): what it sent is gone;
    // what it was receiving waits for it to take it over from this new device.
    sig.addEventListener('resync', () => {
      for (const t of this.items.values()) {
        if (FINAL.has(t.state)) continue;
        if (t.dir === 'in' && t.sink && t.state !== 'offered') this.takeOver(t);
        else this.close(t, 'failed', 'The connection to the server was lost.');
      }
    });
    window.addEventListener('online', () => this.retryBroken());
    clearStaleIncoming();
  }

  /** Something a view shows changed (a state: at once). */
  changed() {
    clearTimeout(this.progressTimer);
    this.progressTimer = 0;
    this.dispatchEvent(new CustomEvent('change'));
  }

  /** Only progress changed: told with the next change, or within PROGRESS_MS. */
  progressed() {
    if (!this.progressTimer) this.progressTimer = setTimeout(() => this.changed(), PROGRESS_MS);
  }

  /** Transfers in the order they began. */
  list() {
    return [...this.items.values()];
  }

  /**
   * @param {number} id @param {'out'|'in'} dir @param {number} peer
   * @param {{name: string, size: number, mime: string}} f @param {State} state
   * @returns {Transfer}
   */
  add(id, dir, peer, f, state) {
    /** @type {Transfer} */
    const t = {
      id, dir, peer, name: safeFileName(f.name), size: f.size, mime: f.mime, state, done: 0, rate: 0,
      error: null, sha256: null, resumedFrom: 0, sentBytes: 0, received: 0, url: null, file: null, sink: null,
      result: null, pc: null, dc: null, hasher: null, queue: Promise.resolve(), run: 0, startAt: null,
      lastAck: 0, endHash: null, rateFrom: { t: 0, bytes: 0 }, brokenSince: 0, sinkName: '', ackWait: null,
    };
    this.items.set(id, t);
    return t;
  }

  // --- offering (sender)

  /**
   * Offers files to a contact. Returns the files that could not be offered because none of
   * their devices is connected (send those as attachments); throws for other refusals.
   * @param {number} peer @param {File[]} files @returns {Promise<File[]>}
   */
  async offer(peer, files) {
    /** @type {File[]} */
    const unreachable = [];
    for (const file of files) {
      const reply = await this.sig.request({
        type: 'file_offer', to: peer, name: safeFileName(file.name), size: file.size, mime: file.type || '',
      });
      if (reply.type === 'file_ended') {
        if (reply.reason === 'unavailable') unreachable.push(file);
        else throw new Error(FILE_END_TEXT[reply.reason] || reply.reason);
        continue;
      }
      const t = this.add(reply.transfer_id, 'out', peer, { name: file.name, size: file.size, mime: file.type }, 'offering');
      t.file = file;
      // Hashed off the main thread, while the other side decides and then as it is sent;
      // needed once the last byte is sent.
      t.hasher = new FileHasher(file);
      this.changed();
    }
    return unreachable;
  }

  /** @param {{transfer_id: number}} m */
  onAccepted(m) {
    const t = this.items.get(m.transfer_id);
    if (!t || t.dir !== 'out' || t.state !== 'offering') return;
    t.state = 'connecting';
    this.changed();
  }

  // --- receiving

  /** @param {{transfer_id: number, from: number, name: string, size: number, mime: string}} m */
  onIncoming(m) {
    if (this.items.has(m.transfer_id)) return;
    const t = this.add(m.transfer_id, 'in', m.from, m, 'offered');
    this.changed();
    this.dispatchEvent(new CustomEvent('incoming', { detail: t }));
  }

  /** Takes an offered file on this device and starts receiving it. @param {number} id */
  async accept(id) {
    const t = this.items.get(id);
    if (!t || t.dir !== 'in' || t.state !== 'offered') return;
    t.state = 'connecting';
    this.changed();
    try {
      t.sinkName = `${t.id}-${crypto.randomUUID()}`;
      t.sink = await openSink(t.sinkName);
      t.sink.onwritten = (n) => this.onWritten(t, n);
      await this.sig.request({ type: 'file_accept', transfer_id: id });
      if (t.sink.kind === 'disk') this.keep(t);
    } catch (e) {
      this.close(t, 'failed', e instanceof Error ? e.message : String(e));
      return;
    }
    await this.connect(t);
  }

  // --- taking a transfer over after a reload

  /** @param {{user: number}} m */
  onWelcome(m) {
    const first = this.me === null;
    this.me = m.user;
    if (first) this.restore();
  }

  get keptKey() {
    return `mywebrtc.incoming.${this.me}`;
  }

  /** @returns {Kept[]} */
  kept() {
    try {
      const v = JSON.parse(localStorage.getItem(this.keptKey) || '[]');
      return Array.isArray(v) ? v : [];
    } catch {
      return [];
    }
  }

  /** @param {Kept[]} list */
  saveKept(list) {
    try {
      localStorage.setItem(this.keptKey, JSON.stringify(list));
    } catch {
      // Storage full or off: a reload then cannot resume, the transfer itself goes on.
    }
  }

  /** Notes a transfer being received to disk, so a reloaded page can take it over. @param {Transfer} t */
  keep(t) {
    if (this.me === null) return;
    const list = this.kept().filter((k) => k.id !== t.id);
    list.push({ id: t.id, peer: t.peer, name: t.name, size: t.size, mime: t.mime, sink: t.sinkName });
    this.saveKept(list);
  }

  /** @param {number} id */
  forgetKept(id) {
    if (this.me === null) return;
    const list = this.kept();
    if (list.some((k) => k.id === id)) this.saveKept(list.filter((k) => k.id !== id));
  }

  /** After a page load: the transfers an earlier page of this browser was receiving. */
  async restore() {
    if (!diskSinks()) return;
    for (const k of this.kept()) {
      if (this.items.has(k.id)) continue;
      const t = this.add(k.id, 'in', k.peer, k, 'interrupted');
      t.sinkName = k.sink;
      // The earlier page's disk worker may still hold the file open for a moment after the
      // reload (an access handle locks it): try again a few times before giving up on it.
      for (let attempt = 0; attempt < 20 && !t.sink; attempt++) {
        try {
          t.sink = await openSink(k.sink, true);
        } catch {
          await new Promise((r) => setTimeout(r, 250));
        }
      }
      if (!t.sink) {
        this.forgetKept(k.id);
        this.items.delete(k.id);
        continue;
      }
      t.sink.onwritten = (n) => this.onWritten(t, n);
      t.received = t.sink.written;
      t.done = t.sink.written;
      this.changed();
      this.takeOver(t);
    }
  }

  /**
   * Asks the server to let this device go on receiving a transfer another device (an earlier
   * page, or this page's signaling before it was replaced) had accepted, then reconnects.
   * @param {Transfer} t
   */
  async takeOver(t) {
    this.dropConnection(t);
    t.state = 'interrupted';
    t.brokenSince = Date.now();
    this.changed();
    try {
      await this.sig.request({ type: 'file_resume', transfer_id: t.id });
    } catch (e) {
      const why = /** @type {any} */ (e).code === 'no_such_transfer' ? 'The sender is no longer sending this file.' : String(e instanceof Error ? e.message : e);
      return this.close(t, 'failed', why);
    }
    this.retry(t);
  }

  /** @param {number} id */
  async decline(id) {
    const t = this.items.get(id);
    if (!t || t.state !== 'offered') return;
    this.close(t, 'declined', null);
    await this.sig.request({ type: 'file_decline', transfer_id: id }).catch(() => {});
  }

  /**
   * The receiver's side of a connection: a new one for the transfer, with the channel, and
   * the WebRTC offer. Also how a broken transfer is resumed.
   * @param {Transfer} t
   */
  async connect(t) {
    this.dropConnection(t);
    const rtc = await this.iceConfig.get();
    if (FINAL.has(t.state)) return;
    const pc = this.newConnection(t, rtc);
    const dc = pc.createDataChannel('file', { ordered: true });
    this.useChannel(t, dc);
    await pc.setLocalDescription();
    this.signal(t, { description: pc.localDescription?.toJSON() });
  }

  /** @param {Transfer} t @param {RTCConfiguration} rtc */
  newConnection(t, rtc) {
    const pc = new RTCPeerConnection({ ...rtc, bundlePolicy: 'max-bundle' });
    t.pc = pc;
    pc.onicecandidate = ({ candidate }) => {
      if (t.pc === pc) this.signal(t, { candidate: candidate ? candidate.toJSON() : null });
    };
    pc.onconnectionstatechange = () => {
      if (t.pc === pc && pc.connectionState === 'failed') this.broken(t);
    };
    return pc;
  }

  /** @param {Transfer} t @param {any} data */
  signal(t, data) {
    this.sig.send({ type: 'file_signal', transfer_id: t.id, data });
  }

  /** @param {{transfer_id: number, data: any}} m */
  onSignal(m) {
    const t = this.items.get(m.transfer_id);
    if (!t || FINAL.has(t.state)) return;
    t.queue = t.queue.then(() => this.applySignal(t, m.data)).catch((e) => console.warn('file signal failed', e));
  }

  /** @param {Transfer} t @param {any} data */
  async applySignal(t, data) {
    if (data?.description?.type === 'offer' && t.dir === 'out') {
      // The receiver (re)connects: a fresh connection replaces any broken one.
      this.dropConnection(t);
      const pc = this.newConnection(t, await this.iceConfig.get());
      pc.ondatachannel = (e) => this.useChannel(t, e.channel);
      await pc.setRemoteDescription(data.description);
      await pc.setLocalDescription();
      this.signal(t, { description: pc.localDescription?.toJSON() });
    } else if (data?.description?.type === 'answer' && t.dir === 'in' && t.pc) {
      await t.pc.setRemoteDescription(data.description);
    } else if (data && 'candidate' in data && t.pc) {
      await t.pc.addIceCandidate(data.candidate || undefined).catch(() => {});
    }
  }

  /** @param {Transfer} t @param {RTCDataChannel} dc */
  useChannel(t, dc) {
    t.dc = dc;
    dc.binaryType = 'arraybuffer';
    dc.bufferedAmountLowThreshold = LOW_WATER;
    dc.onopen = () => {
      if (t.dc !== dc || t.dir !== 'in') return;
      // Where to (re)start: everything handed to the disk so far will be written.
      t.state = 'receiving';
      t.brokenSince = 0;
      if (t.received > 0) t.resumedFrom = t.received;
      t.rateFrom = { t: performance.now(), bytes: t.received };
      dc.send(JSON.stringify({ t: 'start', offset: t.received }));
      this.changed();
    };
    dc.onclose = () => {
      if (t.dc === dc) this.broken(t);
    };
    dc.onmessage = (e) => {
      if (t.dc !== dc) return;
      if (typeof e.data === 'string') this.onControl(t, e.data);
      else if (t.dir === 'in') this.onData(t, /** @type {ArrayBuffer} */ (e.data));
      else this.fail(t, 'The receiver sent data; only the sender may.');
    };
  }

  /** @param {Transfer} t @param {string} raw */
  onControl(t, raw) {
    /** @type {any} */
    let m;
    try {
      m = JSON.parse(raw);
    } catch {
      m = null;
    }
    if (!m || typeof m.t !== 'string') return this.fail(t, 'The other side sent something that is not part of the protocol.');
    const isOffset = (/** @type {unknown} */ v) => Number.isSafeInteger(v) && /** @type {number} */ (v) >= 0 && /** @type {number} */ (v) <= t.size;
    if (m.t === 'cancel') return this.close(t, 'cancelled', 'Cancelled by the other side.');
    if (t.dir === 'out') {
      if (m.t === 'start' && isOffset(m.offset)) return this.startSending(t, m.offset);
      if (m.t === 'ack' && isOffset(m.offset)) {
        t.done = Math.max(t.done, m.offset);
        t.ackWait?.();
        this.measure(t, t.done);
        return this.progressed();
      }
      if (m.t === 'verified') {
        t.done = t.size;
        return this.close(t, 'done', null);
      }
      if (m.t === 'mismatch') return this.close(t, 'failed', 'The receiver got different content (SHA-256 mismatch).');
    } else if (m.t === 'end' && typeof m.sha256 === 'string' && /^[0-9a-f]{64}$/.test(m.sha256)) {
      if (t.received !== t.size) return this.fail(t, `The sender ended after ${t.received} of ${t.size} bytes.`);
      t.endHash = m.sha256;
      t.state = 'verifying';
      this.changed();
      return this.maybeVerify(t);
    }
    this.fail(t, 'The other side sent something that is not part of the protocol.');
  }

  /** @param {Transfer} t @param {ArrayBuffer} buf */
  onData(t, buf) {
    if (t.state !== 'receiving') return;
    if (buf.byteLength <= HEADER) return this.fail(t, 'The sender sent a malformed piece of data.');
    const view = new DataView(buf);
    const at = view.getUint32(0) * 2 ** 32 + view.getUint32(4);
    const len = buf.byteLength - HEADER;
    if (at !== t.received) return this.fail(t, 'The sender sent data out of order.');
    if (t.received + len > t.size) return this.fail(t, 'The sender sent more than the size it announced.');
    t.received += len;
    t.sink?.write(buf, HEADER);
  }

  /** The disk has `n` bytes: confirm to the sender now and then, and verify at the end. @param {Transfer} t @param {number} n */
  onWritten(t, n) {
    // Writes queued before a cancel still complete in the worker; they no longer count.
    if (t.state !== 'receiving' && t.state !== 'verifying') return;
    t.done = n;
    this.measure(t, n);
    if ((n - t.lastAck >= ACK_EVERY || n === t.size) && t.dc?.readyState === 'open') {
      t.lastAck = n;
      t.dc.send(JSON.stringify({ t: 'ack', offset: n }));
    }
    this.progressed();
    this.maybeVerify(t);
  }

  /** @param {Transfer} t */
  async maybeVerify(t) {
    const sink = t.sink;
    if (t.state !== 'verifying' || !sink || sink.written !== t.size || !t.endHash) return;
    const expected = t.endHash;
    t.endHash = null;
    let result;
    try {
      result = await sink.finish();
    } catch (e) {
      return this.fail(t, `The file could not be stored: ${e instanceof Error ? e.message : e}`);
    }
    if (result.sha256 !== expected) {
      t.dc?.send(JSON.stringify({ t: 'mismatch' }));
      await sink.discard();
      t.sink = null;
      this.sig.request({ type: 'file_end', transfer_id: t.id, reason: 'failed' }).catch(() => {});
      return this.close(t, 'failed', 'The file arrived damaged (SHA-256 mismatch) and was discarded.');
    }
    t.sha256 = result.sha256;
    t.result = result.file;
    t.url = URL.createObjectURL(result.file);
    if (t.dc?.readyState === 'open') t.dc.send(JSON.stringify({ t: 'verified' }));
    this.sig.request({ type: 'file_end', transfer_id: t.id, reason: 'completed' }).catch(() => {});
    this.close(t, 'done', null);
  }

  // --- sending

  /**
   * The receiver asked for the file from `offset`. One file is sent at a time: the others
   * wait their turn (`queued`).
   * @param {Transfer} t @param {number} offset
   */
  startSending(t, offset) {
    t.startAt = offset;
    if (offset > 0) t.resumedFrom = offset;
    t.done = Math.max(t.done, offset);
    const busy = this.list().some((x) => x !== t && x.dir === 'out' && x.state === 'sending');
    if (busy) {
      t.state = 'queued';
      this.changed();
      return;
    }
    this.pump(t);
  }

  /** @param {Transfer} t */
  async pump(t) {
    const dc = t.dc;
    const file = t.file;
    const from = t.startAt;
    if (!dc || !file || from === null) return;
    t.startAt = null;
    const run = ++t.run;
    t.state = 'sending';
    t.rateFrom = { t: performance.now(), bytes: t.done };
    this.changed();
    const live = () => t.run === run && t.dc === dc && dc.readyState === 'open' && t.state === 'sending';
    // One message buffer for the whole run: send() copies what it is given before it returns.
    const msg = new Uint8Array(HEADER + CHUNK);
    const view = new DataView(msg.buffer);
    const reader = sliceReader(file, from);
    // The next slice is read while this one is sent: a read is a round trip to the browser
    // process, which the channel's buffer then need not wait for.
    const readNext = () => {
      const reading = reader.next();
      reading.catch(() => {});
      return reading;
    };
    let next = from < t.size ? readNext() : null;
    try {
      for (let at = from; at < t.size;) {
        const slice = /** @type {Uint8Array} */ (await next);
        if (slice.length === 0) throw new Error('the file is shorter than when it was offered');
        if (at + slice.length < t.size) next = readNext();
        for (let o = 0; o < slice.length; o += CHUNK) {
          if (dc.bufferedAmount > HIGH_WATER) await drained(dc);
          while (live() && at + o - t.done >= UNACKED_MAX) await this.nextAck(t);
          if (!live()) return;
          const piece = slice.subarray(o, o + CHUNK);
          view.setUint32(0, Math.floor((at + o) / 2 ** 32));
          view.setUint32(4, (at + o) >>> 0);
          msg.set(piece, HEADER);
          dc.send(piece.length === CHUNK ? msg : msg.subarray(0, HEADER + piece.length));
          t.sentBytes += piece.length;
        }
        // Sent: the same bytes are hashed next (they move to the hashing worker, which
        // leaves `slice` empty here).
        const n = slice.length;
        t.hasher?.piece(at, /** @type {ArrayBuffer} */ (slice.buffer));
        at += n;
      }
      if (!t.hasher) throw new Error('the file is no longer hashed');
      t.sha256 = await t.hasher.finish();
      if (!live()) return;
      dc.send(JSON.stringify({ t: 'end', sha256: t.sha256, size: t.size }));
      t.state = 'verifying';
      this.changed();
    } catch (e) {
      if (live()) this.fail(t, `Could not read or send the file: ${e instanceof Error ? e.message : e}`);
    } finally {
      reader.close();
      this.nextQueued();
    }
  }

  /**
   * Resolves at the receiver's next `ack`, or when the connection is dropped.
   * @param {Transfer} t @returns {Promise<void>}
   */
  nextAck(t) {
    return new Promise((resolve) => {
      t.ackWait = () => {
        t.ackWait = null;
        resolve();
      };
    });
  }

  nextQueued() {
    if (this.list().some((x) => x.dir === 'out' && x.state === 'sending')) return;
    const next = this.list().find((x) => x.dir === 'out' && x.state === 'queued');
    if (next) this.pump(next);
  }

  /** @param {Transfer} t @param {number} bytes */
  measure(t, bytes) {
    const now = performance.now();
    if (!t.rateFrom.t) t.rateFrom = { t: now, bytes };
    const secs = (now - t.rateFrom.t) / 1000;
    if (secs > 0.5) t.rate = (bytes - t.rateFrom.bytes) / secs;
  }

  // --- breaking, resuming, ending

  /**
   * The connection broke mid-transfer. The receiver reconnects (now and then, while the
   * server is reachable) and resumes from what it has; the sender waits for that.
   * @param {Transfer} t
   */
  broken(t) {
    // Verifying needs no connection: the receiver has every byte, and the sender learns the
    // outcome from the server (`file_ended`) if the channel is gone by then.
    if (!['connecting', 'sending', 'receiving', 'queued'].includes(t.state)) return;
    this.dropConnection(t);
    t.state = 'interrupted';
    t.rate = 0;
    t.brokenSince = t.brokenSince || Date.now();
    this.changed();
    this.nextQueued();
    if (t.dir === 'in') setTimeout(() => this.retry(t), RETRY_MS);
  }

  /** @param {Transfer} t */
  async retry(t) {
    if (t.state !== 'interrupted' || t.dir !== 'in') return;
    if (Date.now() - t.brokenSince > GIVE_UP_MS) {
      this.sig.request({ type: 'file_end', transfer_id: t.id, reason: 'failed' }).catch(() => {});
      return this.close(t, 'failed', 'The connection could not be restored.');
    }
    if (this.sig.state === 'open') {
      t.state = 'connecting';
      this.changed();
      await this.connect(t).catch(() => {});
      // If this attempt does not open in time, the next one replaces it.
      setTimeout(() => {
        if (t.state === 'connecting' && t.dc?.readyState !== 'open') {
          t.state = 'interrupted';
          this.retry(t);
        }
      }, 10_000);
      return;
    }
    setTimeout(() => this.retry(t), RETRY_MS);
  }

  retryBroken() {
    for (const t of this.items.values()) if (t.state === 'interrupted' && t.dir === 'in') this.retry(t);
  }

  /** Ends a transfer from this side. @param {number} id */
  async cancel(id) {
    const t = this.items.get(id);
    if (!t || FINAL.has(t.state)) return;
    if (t.dc?.readyState === 'open') t.dc.send(JSON.stringify({ t: 'cancel' }));
    const offered = t.state === 'offered';
    this.close(t, offered ? 'declined' : 'cancelled', null);
    await this.sig.request({ type: offered ? 'file_decline' : 'file_end', transfer_id: id, ...(offered ? {} : { reason: 'cancelled' }) })
      .catch(() => {});
  }

  /** A protocol violation or local failure: tell the other side and stop. @param {Transfer} t @param {string} why */
  fail(t, why) {
    if (FINAL.has(t.state)) return;
    if (t.dc?.readyState === 'open') t.dc.send(JSON.stringify({ t: 'cancel' }));
    this.sig.request({ type: 'file_end', transfer_id: t.id, reason: 'failed' }).catch(() => {});
    this.close(t, 'failed', why);
  }

  /** @param {{transfer_id: number, reason: string}} m */
  onEnded(m) {
    const t = this.items.get(m.transfer_id);
    if (!t || FINAL.has(t.state)) return;
    if (m.reason === 'taken_elsewhere') {
      this.items.delete(t.id);
      this.changed();
      return;
    }
    if (m.reason === 'completed') {
      t.done = t.size;
      return this.close(t, 'done', null);
    }
    const state = m.reason === 'declined' ? 'declined' : m.reason === 'cancelled' ? 'cancelled' : 'failed';
    const text = m.reason === 'cancelled' ? 'Cancelled by the other side.' : (FILE_END_TEXT[m.reason] || m.reason);
    this.close(t, state, state === 'declined' ? null : text);
  }

  /** Closes the connection of a transfer (not the transfer). @param {Transfer} t */
  dropConnection(t) {
    const { pc, dc } = t;
    t.pc = null;
    t.dc = null;
    // A sender waiting for an ack sees the connection gone and stops.
    t.ackWait?.();
    dc?.close();
    pc?.close();
  }

  /**
   * Final state: releases the connection, and what was received unless it is complete.
   * @param {Transfer} t @param {State} state @param {string|null} error
   */
  close(t, state, error) {
    t.state = state;
    t.error = error;
    this.forgetKept(t.id);
    t.rate = 0;
    t.run += 1;
    this.dropConnection(t);
    // Done: it closed itself with its answer; otherwise it stops here.
    t.hasher?.close();
    if (state !== 'done' && t.sink) {
      t.sink.discard();
      t.sink = null;
    }
    t.file = null;
    this.changed();
    this.nextQueued();
  }

  /** Removes a finished transfer from the list (and its received file from memory and disk). @param {number} id */
  dismiss(id) {
    const t = this.items.get(id);
    if (!t || !FINAL.has(t.state)) return;
    if (t.url) URL.revokeObjectURL(t.url);
    t.sink?.discard();
    this.items.delete(id);
    this.changed();
  }

  /** For tests: breaks a transfer's connection as a network change would. @param {number} id */
  breakConnection(id) {
    const t = this.items.get(id);
    if (t) this.broken(t);
  }
}
