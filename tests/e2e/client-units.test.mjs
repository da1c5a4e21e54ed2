// Unit tests of client modules that need no browser: the incremental SHA-256 against
// Node's, the file-name rules against the server's examples, the person-to-person sender's
// flow control (how far it runs ahead of the receiver's acks), and a conversation's history
// and the conversation list keeping what arrives while they load.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSha256, useSha256Module } from '../../client/js/sha256.js';
import { safeFileName } from '../../client/js/filename.js';

// Node cannot fetch the module next to sha256.js as a browser does: hand it over.
useSha256Module(await WebAssembly.compile(readFileSync(new URL('../../client/js/sha256.wasm', import.meta.url))));

test('SHA-256 in pieces of any size equals the one-shot hash', async () => {
  for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 100_000]) {
    const data = randomBytes(n);
    for (const piece of [1, 7, 64, 1000, 1 << 20]) {
      const h = await createSha256();
      for (let i = 0; i < n; i += piece) h.update(data.subarray(i, i + piece));
      assert.equal(h.hex(), createHash('sha256').update(data).digest('hex'), `${n} bytes in pieces of ${piece}`);
    }
  }
  // More than the module's input area (1 MiB) at once, and pieces that straddle it.
  const big = randomBytes(3 * 1048576 + 17);
  for (const piece of [big.length, 999_999, 1048576 + 5]) {
    const h = await createSha256();
    for (let i = 0; i < big.length; i += piece) h.update(big.subarray(i, i + piece));
    assert.equal(h.hex(), createHash('sha256').update(big).digest('hex'), `3 MiB in pieces of ${piece}`);
  }
  assert.equal((await createSha256()).update(new TextEncoder().encode('abc')).hex(), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

test('file names are made safe by the same rules as the server', () => {
  assert.equal(safeFileName('report.pdf'), 'report.pdf');
  assert.equal(safeFileName('../../etc/passwd'), 'passwd');
  assert.equal(safeFileName('C:\\Users\\me\\notes.txt'), 'notes.txt');
  assert.equal(safeFileName('evil\u202Egnp.exe'), 'evilgnp.exe');
  assert.equal(safeFileName('a\u0000b\nc\u0007.txt'), 'abc.txt');
  assert.equal(safeFileName('.htaccess'), 'htaccess');
  assert.equal(safeFileName('..'), 'file');
  assert.equal(safeFileName(''), 'file');
  assert.equal(safeFileName('a<b>:c|d?*.txt'), 'a_b__c_d__.txt');
  assert.equal(safeFileName('  two   words .txt '), 'two words .txt');
  const long = safeFileName(`${'x'.repeat(1000)}.tar.gz`);
  assert.equal([...long].length, 200);
  assert.ok(long.endsWith('xxx.gz'));
});

test('a sender stays at most 32 MiB ahead of what the receiver confirmed, and stops when the connection goes', async () => {
  globalThis.window ??= /** @type {any} */ (new EventTarget());
  const { FileTransfers } = await import('../../client/js/filetransfer.js');
  const MiB = 1048576;
  const size = 100 * MiB;
  const sig = /** @type {any} */ (new EventTarget());
  sig.send = () => {};
  sig.request = async () => ({ type: 'ok' });
  const files = new FileTransfers(sig, /** @type {any} */ ({ get: async () => ({ iceServers: [] }) }));
  const t = files.add(1, 'out', 2, { name: 'f.bin', size, mime: '' }, 'connecting');
  t.file = /** @type {any} */ (new Blob([new Uint8Array(size)]));
  t.hasher = /** @type {any} */ ({ piece() {}, finish: async () => '0'.repeat(64), close() {} });
  /** Payload bytes sent (each data message has an 8-byte offset first). */
  let sent = 0;
  t.dc = /** @type {any} */ ({
    readyState: 'open', bufferedAmount: 0,
    send(/** @type {any} */ m) { if (typeof m !== 'string') sent += m.byteLength - 8; },
    close() { this.readyState = 'closed'; }, addEventListener() {}, removeEventListener() {},
  });
  // Lets the sender run (it awaits its file reads) until it waits for an ack; bounded (30 s,
  // far more than reading 48 MiB from memory takes even on a loaded machine).
  const untilWaiting = async () => {
    for (let i = 0; i < 3000 && !t.ackWait; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(t.ackWait, `the sender waits for an ack (sent ${sent} bytes)`);
  };
  const piece = 256 * 1024 - 8;

  files.onControl(t, JSON.stringify({ t: 'start', offset: 0 }));
  await untilWaiting();
  assert.ok(sent > 32 * MiB - piece && sent <= 32 * MiB + piece, `no ack yet: ${sent} bytes sent`);
  // An ack of 16 MiB lets it go 16 MiB further.
  files.onControl(t, JSON.stringify({ t: 'ack', offset: 16 * MiB }));
  await untilWaiting();
  assert.ok(sent > 48 * MiB - piece && sent <= 48 * MiB + piece, `after an ack of 16 MiB: ${sent} bytes sent`);
  // Cancelled while waiting: the sender stops there.
  const before = sent;
  await files.cancel(1);
  for (let i = 0; i < 100; i++) await new Promise((r) => setImmediate(r));
  assert.equal(t.state, 'cancelled');
  assert.equal(t.ackWait, null);
  assert.equal(sent, before);
});

/**
 * A ChatStore of user 1 as in a page (window, a visible document and localStorage faked for
 * Node), on a fake signaling connection that is open and acknowledges with `ack`, while
 * `fetch` (the REST API) is `fetch`; `body` runs with it, and the real fetch is put back.
 * @param {(url: string) => Promise<Response>} fetch
 * @param {(chat: import('../../client/js/chat.js').ChatStore) => Promise<void>} body
 * @param {() => Promise<any>} [ack]
 */
async function withChat(fetch, body, ack = async () => ({ type: 'ok' })) {
  globalThis.window ??= /** @type {any} */ (new EventTarget());
  globalThis.document ??= /** @type {any} */ (Object.assign(new EventTarget(), { hidden: false }));
  const stored = new Map();
  globalThis.localStorage ??= /** @type {any} */ ({ getItem: (k) => stored.get(k) ?? null, setItem: (k, v) => stored.set(k, v) });
  const { ChatStore } = await import('../../client/js/chat.js');
  const sig = /** @type {any} */ (Object.assign(new EventTarget(), { state: 'open', send() {}, request: ack }));
  const realFetch = globalThis.fetch;
  globalThis.fetch = /** @type {any} */ (fetch);
  try {
    await body(new ChatStore(sig, 1));
  } finally {
    globalThis.fetch = realFetch;
  }
}

/** A text message of conversation 7 whose id, seq and rev are `id`. */
const textOf = (/** @type {number} */ id, /** @type {number} */ sender, /** @type {string} */ text) =>
  ({ id, conv: 7, seq: id, rev: id, sender, client_id: `c${id}`, kind: 'text', text, created_at: id, edited_at: null, deleted: false });

test('a message sent or received while a conversation\'s first page loads is in its history', async () => {
  // The first page's fetch is held until the test lets it answer: the page was read before
  // the two new messages were stored, so it has only the older one.
  /** @type {((v: unknown) => void)[]} */
  const held = [];
  const asked = [];
  const fetch = async (/** @type {string} */ url) => {
    asked.push(url);
    await new Promise((r) => held.push(r));
    return new Response(JSON.stringify({ messages: [textOf(1, 2, 'older')], more: false }), { status: 200 });
  };
  const ack = async () => ({ type: 'chat_ack', message: textOf(3, 1, 'mine, just sent') });
  await withChat(fetch, async (chat) => {
    chat.conversations.set(7, /** @type {any} */ ({ id: 7, kind: 'direct', members: [{ user: 1 }, { user: 2 }], unread: 0, last_message: null, last_seq: 0 }));
    chat.active = 7;
    const opened = chat.open(7);
    // While it loads: another's message is pushed, mine is acknowledged.
    chat.onMessage(/** @type {any} */ (textOf(2, 2, 'theirs, just pushed')));
    chat.send(7, 'mine, just sent');
    for (let i = 0; i < 20 && chat.outbox.length; i++) await new Promise((r) => setImmediate(r));
    assert.equal(chat.outbox.length, 0, 'my message is acknowledged');
    // A second open while the first loads waits for it, and asks nothing more.
    const again = chat.open(7);
    for (const release of held) release(undefined);
    await Promise.all([opened, again]);
    assert.deepEqual(chat.messagesOf(7).map((m) => m.text), ['older', 'theirs, just pushed', 'mine, just sent']);
    assert.equal(asked.length, 1);
    assert.equal(chat.histories.get(7)?.loading, null);
  }, ack);
});

test('the conversation list read while a message arrives does not undo it', async () => {
  const message = textOf(5, 2, 'new');
  // The server's conversation as it is when a list is read.
  /** @type {any} */
  let last = null;
  const conv = () => ({ id: 7, kind: 'direct', name: '', created_at: 1, last_seq: last ? 5 : 0, members: [{ user: 1, delivered_seq: 0, read_seq: 0 }, { user: 2, delivered_seq: 0, read_seq: 0 }], unread: last ? 1 : 0, last_message: last });
  /** @type {((v: unknown) => void)[]} */
  const held = [];
  let reads = 0;
  const fetch = async () => {
    reads += 1;
    const snapshot = conv();
    // The first read is held, as a slow answer is.
    if (reads === 1) await new Promise((r) => held.push(r));
    return new Response(JSON.stringify([snapshot]), { status: 200 });
  };
  await withChat(fetch, async (chat) => {
    chat.conversations.set(7, /** @type {any} */ (conv()));
    const loading = chat.loadList();
    for (let i = 0; i < 20 && held.length === 0; i++) await new Promise((r) => setImmediate(r));
    // Stored, then pushed, while the list (read before it) is on its way.
    last = message;
    chat.onMessage(/** @type {any} */ (message));
    for (const release of held) release(undefined);
    await loading;
    assert.equal(chat.conversations.get(7)?.last_message?.text, 'new');
    assert.equal(chat.conversations.get(7)?.unread, 1);
    assert.equal(reads, 2, 'read again once');
  });
});
