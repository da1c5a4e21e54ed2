// The person-to-person transfer's handling of what arrives on the data channel, fed with
// random and hostile input (bounded: a fixed number of cases from a fixed seed): it never
// throws, never takes more than the announced size, never accepts out-of-order data, and
// ends a transfer it cannot make sense of as failed with an explanation.
import { test } from 'node:test';
import assert from 'node:assert/strict';

globalThis.window ??= /** @type {any} */ (new EventTarget());
const { FileTransfers } = await import('../../client/js/filetransfer.js');

/** A small deterministic PRNG (mulberry32), so a failure can be reproduced. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function fakeSig() {
  const sig = /** @type {any} */ (new EventTarget());
  sig.state = 'open';
  sig.sent = [];
  sig.send = (m) => sig.sent.push(m);
  sig.request = async (m) => { sig.sent.push(m); return { type: 'ok' }; };
  return sig;
}

/** A transfer in progress on a fake channel and a fake disk. */
function setup(dir, size) {
  const files = new FileTransfers(fakeSig(), /** @type {any} */ ({ get: async () => ({ iceServers: [] }) }));
  const t = files.add(1, dir, 2, { name: 'f.bin', size, mime: '' }, dir === 'in' ? 'receiving' : 'sending');
  t.dc = /** @type {any} */ ({ readyState: 'open', sent: [], send(m) { this.sent.push(m); }, close() { this.readyState = 'closed'; } });
  t.sink = /** @type {any} */ ({ written: 0, write(d) { this.written += d.byteLength; }, discard: async () => {}, finish: async () => ({ file: null, sha256: 'x' }) });
  t.file = /** @type {any} */ ({ size, slice: () => ({ arrayBuffer: async () => new ArrayBuffer(0) }) });
  return { files, t };
}

const CONTROL = ['start', 'ack', 'end', 'verified', 'mismatch', 'cancel', 'bogus', '', null, 7];
const VALUES = [0, 1, -1, 1.5, 2 ** 53, 2 ** 60, Number.NaN, 'x', null, {}, [], true, 'a'.repeat(64), '0'.repeat(64)];

function randomControl(r) {
  if (r() < 0.2) return Array.from({ length: Math.floor(r() * 40) }, () => String.fromCharCode(Math.floor(r() * 128))).join('');
  const m = /** @type {any} */ ({ t: CONTROL[Math.floor(r() * CONTROL.length)] });
  if (r() < 0.7) m.offset = VALUES[Math.floor(r() * VALUES.length)];
  if (r() < 0.4) m.sha256 = VALUES[Math.floor(r() * VALUES.length)];
  return JSON.stringify(m);
}

test('the receiver survives random control messages and data, and keeps its invariants', () => {
  const r = rng(12345);
  for (let run = 0; run < 400; run++) {
    const size = Math.floor(r() * 300_000);
    const { files, t } = setup('in', size);
    for (let i = 0; i < 40 && t.state === 'receiving'; i++) {
      if (r() < 0.5) {
        files.onControl(t, randomControl(r));
      } else {
        const len = Math.floor(r() * 70_000);
        const buf = new ArrayBuffer(len);
        const view = new DataView(buf);
        if (len >= 8) {
          // Mostly the next expected offset, sometimes anything.
          const at = r() < 0.8 ? t.received : Math.floor(r() * 2 ** 32);
          view.setUint32(0, Math.floor(at / 2 ** 32));
          view.setUint32(4, at >>> 0);
        }
        const before = t.received;
        files.onData(t, buf);
        if (t.state === 'receiving') assert.equal(t.received, before + len - 8);
      }
      assert.ok(t.received <= size, `received ${t.received} of ${size}`);
      assert.ok(t.sink === null || t.sink.written <= size);
      if (t.state === 'failed') assert.ok(typeof t.error === 'string' && t.error.length > 0);
      assert.notEqual(t.state, 'done', 'never done without a verified hash');
    }
  }
});

test('the sender survives random control messages and only serves offsets inside the file', () => {
  const r = rng(777);
  for (let run = 0; run < 400; run++) {
    const size = Math.floor(r() * 300_000);
    const { files, t } = setup('out', size);
    /** @type {number[]} */
    const starts = [];
    files.pump = async (x) => { starts.push(/** @type {number} */ (x.startAt)); };
    for (let i = 0; i < 40 && !['failed', 'cancelled', 'done'].includes(t.state); i++) {
      files.onControl(t, randomControl(r));
      assert.ok(t.done >= 0 && t.done <= size, `done ${t.done} of ${size}`);
      if (t.state === 'failed') assert.ok(typeof t.error === 'string' && t.error.length > 0);
    }
    for (const s of starts) assert.ok(Number.isSafeInteger(s) && s >= 0 && s <= size, `start at ${s} of ${size}`);
  }
});
