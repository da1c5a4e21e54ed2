// Files person to person between real browsers: browser to browser over a DataChannel,
// never through the server's disk. A 200 MB file hashed on both sides, the offer on every
// device taken on one, decline, cancel from each side, resume after a broken connection,
// relay-only through our TURN, from the call screen, and hostile senders.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, writeSync, closeSync, readFileSync, readdirSync, rmSync, createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, useServerAndBrowser, befriend } from './harness.mjs';
import { waitMedia } from './media.mjs';

const env = useServerAndBrowser();

const BIG = 200 * 1024 * 1024;
let dir = '';
/** A 200 MB file of random bytes on disk, and its SHA-256. */
const big = { path: '', sha256: '' };

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'mywebrtc-p2p-'));
  big.path = join(dir, 'big scan.bin');
  const fd = openSync(big.path, 'w');
  const hash = createHash('sha256');
  for (let written = 0; written < BIG; written += 4 * 1024 * 1024) {
    const chunk = randomBytes(4 * 1024 * 1024);
    hash.update(chunk);
    writeSync(fd, chunk);
  }
  closeSync(fd);
  big.sha256 = hash.digest('hex');
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** @param {string} path */
function sha256OfFile(path) {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path).on('data', (d) => h.update(d)).on('end', () => resolve(h.digest('hex'))).on('error', reject);
  });
}

let n = 0;
/** Fresh users who are contacts; each an open page. */
async function people(...names) {
  n += 1;
  const pages = [];
  for (const name of names) pages.push(await env.server.userPage(env.browser, `${name}${n}`));
  for (let i = 1; i < pages.length; i++) await befriend(pages[0].page, pages[i].page);
  return pages;
}

/** Opens the direct chat with `username` and sends files from it (as the Attach button does). */
async function sendFromChat(page, username, files) {
  await page.locator('#nav-home').click();
  await page.locator(`#contact-list li[data-username="${username}"] button.chat-with`).click();
  await page.locator('#conversation').waitFor();
  await page.locator('#file-input').setInputFiles(files);
}

/** The transfer state of the page's only (or newest) transfer. */
const newest = (page) => page.evaluate(() => {
  const all = window.mywebrtcFiles.list();
  const t = all[all.length - 1];
  return t && { id: t.id, state: t.state, done: t.done, size: t.size, error: t.error, sha256: t.sha256, resumedFrom: t.resumedFrom, sentBytes: t.sentBytes, name: t.name };
});

/** Waits until the page's newest transfer is in `state` (or ended otherwise: fails). */
async function waitState(page, state, timeout = 120_000) {
  await page.waitForFunction((s) => {
    const all = window.mywebrtcFiles.list();
    const t = all[all.length - 1];
    return t && (t.state === s || (['done', 'failed', 'cancelled', 'declined'].includes(t.state) && t.state !== s));
  }, state, { timeout, polling: 100 });
  const t = await newest(page);
  assert.equal(t.state, state, JSON.stringify(t));
  return t;
}

/** Waits until the newest transfer moved at least `bytes`. */
async function waitProgress(page, bytes) {
  await page.waitForFunction((b) => {
    const all = window.mywebrtcFiles.list();
    const t = all[all.length - 1];
    return t && (t.done >= b || ['done', 'failed', 'cancelled'].includes(t.state));
  }, bytes, { timeout: 60_000, polling: 50 });
}

/** Files left half-received in the page's origin-private file system. */
const incomingOnDisk = (page) => page.evaluate(async () => {
  const names = [];
  try {
    const d = await (await navigator.storage.getDirectory()).getDirectoryHandle('incoming');
    for await (const [name] of d.entries()) names.push(name);
  } catch { /* none */ }
  return names;
});

/** Waits (bounded) until nothing is left half-received; returns what is left. */
async function noIncoming(page) {
  let left = await incomingOnDisk(page);
  for (let i = 0; i < 100 && left.length; i++) {
    await page.waitForTimeout(100);
    left = await incomingOnDisk(page);
  }
  return left;
}

/** Saves a received file through the panel's Save link and returns its path. */
async function save(page) {
  const [dl] = await Promise.all([page.waitForEvent('download'), page.locator('#file-transfers a.save-file').last().click()]);
  return { name: dl.suggestedFilename(), path: await dl.path() };
}

function serverAttachments() {
  const out = [];
  for (const sub of ['files', 'tmp']) {
    try { out.push(...readdirSync(join(env.server.dataDir, 'attachments', sub))); } catch { /* none */ }
  }
  return out;
}

test('a 200 MB file goes browser to browser, offered on every device and taken on one, verified on both sides', async () => {
  const [alice, bob] = await people('alice', 'bob');
  const bob2 = await env.server.userPage(env.browser, `bob${n}`, { create: false });
  await bob2.page.locator('#connection[data-state="open"]').waitFor({ state: 'attached' });
  await sendFromChat(alice.page, `bob${n}`, big.path);
  // Both of bob's devices are asked; he takes it on the second.
  for (const p of [bob.page, bob2.page]) {
    await p.locator('#file-transfers li.offer', { hasText: 'big scan.bin' }).waitFor();
    assert.match(await p.locator('#file-transfers li.offer').textContent(), /wants to send you big scan\.bin.*200 MB/);
  }
  await bob2.page.locator('#file-transfers button.accept-file').click();
  await bob.page.locator('#file-transfers li.offer').waitFor({ state: 'detached' });
  assert.equal(await bob.page.evaluate(() => window.mywebrtcFiles.list().length), 0, 'taken elsewhere: gone from the first device');
  // Progress shows on both sides while it runs.
  await waitProgress(bob2.page, 16 * 1024 * 1024);
  const got = await waitState(bob2.page, 'done', 180_000);
  const sent = await waitState(alice.page, 'done');
  assert.equal(got.sha256, big.sha256, 'the receiver hashed what it wrote');
  assert.equal(sent.sha256, big.sha256, 'the sender hashed what it read');
  assert.equal(got.done, BIG);
  assert.ok(sent.sentBytes === BIG, `nothing sent twice: ${sent.sentBytes}`);
  const file = await save(bob2.page);
  assert.equal(file.name, 'big scan.bin');
  assert.equal(await sha256OfFile(file.path), big.sha256);
  assert.deepEqual(serverAttachments(), [], 'the bytes never touched the server');
  for (const p of [alice, bob, bob2]) await p.context.close();
});

test('decline; cancel mid-way by the sender and by the receiver leaves nothing behind', async () => {
  const [alice, bob] = await people('alice', 'bob');
  // Declined.
  await sendFromChat(alice.page, `bob${n}`, { name: 'small.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
  await bob.page.locator('#file-transfers button.decline-file').click();
  await waitState(alice.page, 'declined');
  await alice.page.locator('#file-transfers li', { hasText: 'declined' }).waitFor();
  // Cancelled by each side in turn, once data flows.
  for (const who of ['sender', 'receiver']) {
    await alice.page.locator('#file-input').setInputFiles(big.path);
    await bob.page.locator('#file-transfers button.accept-file').click();
    await waitProgress(bob.page, 4 * 1024 * 1024);
    const page = who === 'sender' ? alice.page : bob.page;
    const id = (await newest(page)).id;
    await page.locator(`#file-transfers li[data-transfer-id="${id}"] button.cancel`).click();
    const other = who === 'sender' ? bob.page : alice.page;
    const t = await waitState(other, 'cancelled');
    assert.match(t.error, /Cancelled by the other side/);
    assert.equal((await newest(page)).state, 'cancelled');
    assert.deepEqual(await noIncoming(bob.page), [], `what arrived was discarded (${who})`);
  }
  for (const p of [alice, bob]) await p.context.close();
});

test('a transfer broken mid-way resumes from what the receiver has, not from zero', async () => {
  const [alice, bob] = await people('alice', 'bob');
  await sendFromChat(alice.page, `bob${n}`, big.path);
  await bob.page.locator('#file-transfers button.accept-file').click();
  await waitProgress(bob.page, 30 * 1024 * 1024);
  // The network changes: the transfer's connection breaks (the signaling socket, over TCP,
  // survives, as it does a short blip; a lost socket resumes within the grace period).
  const id = (await newest(bob.page)).id;
  await bob.page.evaluate((i) => window.mywebrtcFiles.breakConnection(i), id);
  const got = await waitState(bob.page, 'done', 180_000);
  const sent = await waitState(alice.page, 'done');
  assert.ok(got.resumedFrom >= 30 * 1024 * 1024, JSON.stringify(got));
  assert.equal(sent.resumedFrom, got.resumedFrom, 'the sender went on from where the receiver was');
  // Only what was in flight when it broke is sent twice (at most the channel's buffer).
  assert.ok(sent.sentBytes - BIG < 32 * 1024 * 1024, `sent ${sent.sentBytes}`);
  assert.equal(got.sha256, big.sha256);
  assert.equal(await sha256OfFile((await save(bob.page)).path), big.sha256);
  for (const p of [alice, bob]) await p.context.close();
});

test('a receiver who reloads the page mid-transfer takes it over and resumes from what is on disk', async () => {
  const [alice, bob] = await people('alice', 'bob');
  await sendFromChat(alice.page, `bob${n}`, big.path);
  await bob.page.locator('#file-transfers button.accept-file').click();
  await waitProgress(bob.page, 40 * 1024 * 1024);
  await bob.page.reload();
  await bob.page.locator('#whoami').waitFor();
  // The new page finds what the old one was receiving, takes it over and goes on.
  await bob.page.waitForFunction(() => window.mywebrtcFiles?.list().length > 0);
  const got = await waitState(bob.page, 'done', 180_000);
  const sent = await waitState(alice.page, 'done');
  assert.ok(got.resumedFrom >= 40 * 1024 * 1024, JSON.stringify(got));
  assert.equal(sent.resumedFrom, got.resumedFrom);
  assert.equal(got.sha256, big.sha256, 'the hash covers what the first page wrote too');
  assert.equal(await sha256OfFile((await save(bob.page)).path), big.sha256);
  assert.equal(await bob.page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('mywebrtc.incoming')).map((k) => localStorage.getItem(k)).join()), '[]',
    'nothing left to resume');
  for (const p of [alice, bob]) await p.context.close();
});

test('relay-only: the transfer goes through our TURN server', async () => {
  const [alice, bob] = await people('alice', 'bob');
  for (const p of [alice.page, bob.page]) {
    await p.evaluate(async () => {
      const cfg = await (await fetch('/api/v1/ice-servers')).json();
      const servers = cfg.ice_servers.map((s) => ({ urls: s.urls.filter((u) => u.startsWith('turn:')), username: s.username, credential: s.credential }))
        .filter((s) => s.urls.length);
      window.mywebrtcFiles.iceConfig = { get: async () => ({ iceServers: servers, iceTransportPolicy: 'relay' }) };
    });
  }
  const content = randomBytes(24 * 1024 * 1024);
  await sendFromChat(alice.page, `bob${n}`, { name: 'relayed.bin', mimeType: 'application/octet-stream', buffer: content });
  await bob.page.locator('#file-transfers button.accept-file').click();
  await waitState(bob.page, 'receiving');
  // While it runs, the path in use is a relay on both ends.
  const route = await bob.page.evaluate(async () => {
    const t = window.mywebrtcFiles.list().at(-1);
    const stats = await t.pc.getStats();
    const byId = new Map();
    stats.forEach((s) => byId.set(s.id, s));
    let pair = null;
    stats.forEach((s) => { if (s.type === 'transport' && s.selectedCandidatePairId) pair = byId.get(s.selectedCandidatePairId); });
    return pair && [byId.get(pair.localCandidateId).candidateType, byId.get(pair.remoteCandidateId).candidateType];
  });
  assert.deepEqual(route, ['relay', 'relay']);
  const got = await waitState(bob.page, 'done');
  assert.equal(got.sha256, createHash('sha256').update(content).digest('hex'));
  for (const p of [alice, bob]) await p.context.close();
});

test('a file sent from the call screen reaches the other side during the call', async () => {
  const [alice, bob] = await people('alice', 'bob');
  await alice.page.locator(`#contact-list li[data-username="bob${n}"] button.call-video`).click();
  await bob.page.locator('#accept-video').click();
  await waitMedia(bob.page);
  await alice.page.locator('#call-file-input').setInputFiles({ name: 'ecg.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4 test') });
  // The offer shows over bob's call screen.
  await bob.page.locator('#file-transfers button.accept-file').click();
  const got = await waitState(bob.page, 'done');
  assert.equal(got.name, 'ecg.pdf');
  assert.equal(readFileSync((await save(bob.page)).path, 'utf8'), '%PDF-1.4 test');
  assert.ok(await bob.page.locator('#in-call').isVisible(), 'still in the call');
  await alice.page.locator('#hangup').click();
  for (const p of [alice, bob]) await p.context.close();
});

test('hostile senders: a wrong hash, more bytes than announced, data out of order; hostile names shown safe', async () => {
  const [alice, bob] = await people('alice', 'bob');
  // The sender's client is replaced by a hostile one, step by step.
  const cases = [
    ['wrong hash', /damaged \(SHA-256 mismatch\)/, () => {
      const f = window.mywebrtcFiles;
      const real = f.pump.bind(f);
      f.pump = (t) => { t.hasher.finish = async () => '0'.repeat(64); return real(t); };
    }],
    ['too long', /more than the size it announced/, () => {
      const f = window.mywebrtcFiles;
      f.pump = async (t) => {
        t.state = 'sending';
        // Well-formed pieces up to the announced size, then 10 bytes beyond it.
        const piece = (at, len) => {
          const msg = new Uint8Array(8 + len);
          new DataView(msg.buffer).setUint32(4, at);
          t.dc.send(msg);
        };
        let at = 0;
        for (; at < t.size; at += Math.min(65536, t.size - at)) piece(at, Math.min(65536, t.size - at));
        piece(at, 10);
      };
    }],
    ['out of order', /out of order/, () => {
      const f = window.mywebrtcFiles;
      f.pump = async (t) => {
        t.state = 'sending';
        const msg = new Uint8Array(8 + 100);
        new DataView(msg.buffer).setUint32(4, 1000);
        t.dc.send(msg);
      };
    }],
  ];
  for (const [name, expected, hostile] of cases) {
    await alice.page.evaluate(hostile);
    await sendFromChat(alice.page, `bob${n}`, { name: `${name}.bin`, mimeType: 'application/octet-stream', buffer: randomBytes(300 * 1024) });
    await bob.page.locator('#file-transfers button.accept-file').last().click();
    const t = await waitState(bob.page, 'failed');
    assert.match(t.error, expected, name);
    assert.deepEqual(await noIncoming(bob.page), [], `${name}: nothing kept`);
    await alice.page.evaluate(() => { delete window.mywebrtcFiles.pump; });
  }
  // A hostile client offers a name with a path, control and text-direction characters,
  // 900 characters long: the receiver shows (and would save) it made safe.
  const evil = `../../etc/x\u202Egnp.exe\u0007${'y'.repeat(900)}.txt`;
  const bobId = await bob.page.evaluate(async () => (await (await fetch('/api/v1/session')).json()).user.id);
  await alice.page.evaluate(([to, name]) => window.mywebrtcCalls.sig.request({ type: 'file_offer', to, name, size: 0, mime: 'text/plain' }), [bobId, evil]);
  const offer = bob.page.locator('#file-transfers li.offer .transfer-name');
  await offer.waitFor();
  const shown = await offer.textContent();
  assert.ok(!shown.includes('/') && !shown.includes('\u202E') && !shown.includes('\u0007') && [...shown].length <= 200, shown);
  assert.ok(shown.startsWith('xgnp.exe') && shown.endsWith('.txt'), shown);
  await bob.page.locator('#file-transfers button.decline-file').click();
  // An empty file with a 1,000-character name: offered made safe, arrives as 0 bytes.
  await sendFromChat(alice.page, `bob${n}`, { name: `${'z'.repeat(1000)}.log`, mimeType: 'text/plain', buffer: Buffer.alloc(0) });
  await bob.page.locator('#file-transfers button.accept-file').click();
  const empty = await waitState(bob.page, 'done');
  assert.equal(empty.size, 0, 'a 0-byte file arrives as such');
  const saved = await save(bob.page);
  assert.equal([...saved.name].length, 200);
  assert.ok(saved.name.endsWith('.log'), saved.name);
  assert.equal(readFileSync(saved.path).length, 0);
  for (const p of [alice, bob]) await p.context.close();
});
