// Files sent through the server (attachments) between real browsers: an offline recipient
// who downloads later, a group with an image preview, an outsider refused, the size limit
// named before anything is sent, cancel mid-way, drag and drop and paste.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test, useServerAndBrowser, befriend, pageApi, openConversation } from './harness.mjs';

const env = useServerAndBrowser({ config: '[attachments]\nmax_file_mb = 8\n' });

const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

/** A tiny real PNG (2×2, red), so a preview can be checked for decoded pixels. */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==',
  'base64',
);

/** Opens the direct chat with `username` from the contact list. */
async function chatWith(page, username) {
  await page.locator(`#contact-list li[data-username="${username}"] button.chat-with`).click();
  await page.locator('#conversation').waitFor();
}

/**
 * A user in the chat with a contact who is offline (so files go through the server as
 * attachments); returns the sender's page.
 */
async function senderToOfflineContact(sender, contact) {
  const a = await env.server.userPage(env.browser, sender);
  const b = await env.server.userPage(env.browser, contact);
  await befriend(a.page, b.page);
  await b.context.close();
  await chatWith(a.page, contact);
  return a;
}

/** Files stored on the server and uploads under way. */
function onServerDisk() {
  const out = [];
  for (const sub of ['files', 'tmp']) {
    for (const f of readdirSync(join(env.server.dataDir, 'attachments', sub))) out.push(`${sub}/${f}`);
  }
  return out;
}

/** Clicks a file link and returns the bytes the browser saved. */
async function download(page, link) {
  const [dl] = await Promise.all([page.waitForEvent('download'), link.click()]);
  return { name: dl.suggestedFilename(), bytes: readFileSync(await dl.path()) };
}

test('a file sent to an offline contact waits on the server; they download it later, byte for byte', async () => {
  const alice = await senderToOfflineContact('alice', 'bob');
  const content = randomBytes(3 * 1024 * 1024 + 17);
  await alice.page.locator('#file-input').setInputFiles({ name: 'scan 2026-11.pdf', mimeType: 'application/pdf', buffer: content });
  // While it travels: a progress row; once stored: a message with the file, the row gone.
  const mine = alice.page.locator('#messages li.msg.mine[data-msg-id] .file-link', { hasText: 'scan 2026-11.pdf' });
  await mine.waitFor();
  await alice.page.locator('#transfers li').waitFor({ state: 'detached' });
  assert.match(await alice.page.locator('#messages li.msg.mine .file-size').last().textContent(), /3\.0 MB/);

  const bob2 = await env.server.userPage(env.browser, 'bob', { create: false });
  await bob2.page.locator('#unread-total:not([hidden])').waitFor();
  await openConversation(bob2.page);
  const link = bob2.page.locator('#messages .file-link', { hasText: 'scan 2026-11.pdf' });
  await link.waitFor();
  const got = await download(bob2.page, link);
  assert.equal(got.name, 'scan 2026-11.pdf');
  assert.equal(got.bytes.length, content.length);
  assert.equal(sha256(got.bytes), sha256(content));
  // The sender deletes it: gone from bob's view and from the server's disk.
  const before = onServerDisk().length;
  await alice.page.locator('#messages li.msg.mine', { hasText: 'scan 2026-11.pdf' }).locator('button.delete').click();
  await bob2.page.locator('#messages li.msg.deleted', { hasText: 'File deleted' }).waitFor();
  await bob2.page.waitForFunction(() => !document.querySelector('#messages .file-link'));
  for (let i = 0; i < 100 && onServerDisk().length >= before; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(onServerDisk().length, before - 1);
  for (const p of [alice, bob2]) await p.context.close();
});

test('a picture dropped into a group shows as a preview to every member; an outsider cannot fetch it', async () => {
  const [carl, dana, erin, mallory] = [
    await env.server.userPage(env.browser, 'carl'),
    await env.server.userPage(env.browser, 'dana'),
    await env.server.userPage(env.browser, 'erin'),
    await env.server.userPage(env.browser, 'mallory'),
  ];
  await befriend(carl.page, dana.page);
  await befriend(carl.page, erin.page);
  await carl.page.locator('#nav-chat').click();
  await carl.page.locator('#new-group').click();
  await carl.page.locator('#group-name').fill('Ward 5');
  for (const u of ['dana', 'erin']) await carl.page.locator(`.group-members input[data-username="${u}"]`).check();
  await carl.page.locator('#create-group').click();
  await carl.page.locator('#conv-title', { hasText: 'Ward 5' }).waitFor();
  // Dropped onto the conversation, as from the desktop.
  await carl.page.evaluate((b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], 'wound.png', { type: 'image/png' }));
    const pane = /** @type {HTMLElement} */ (document.querySelector('#conversation'));
    pane.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
    pane.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, PNG.toString('base64'));
  let id = '';
  for (const p of [carl, dana, erin]) {
    if (p !== carl) {
      await openConversation(p.page, 'Ward 5');
    }
    await p.page.waitForFunction(() => {
      const img = /** @type {HTMLImageElement|null} */ (document.querySelector('#messages img.preview'));
      return img && img.complete && img.naturalWidth === 2;
    });
    id = (await p.page.locator('#messages .file-link').last().getAttribute('href')).split('/').pop();
  }
  // A pasted file goes the same way.
  await carl.page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['minutes of the meeting'], 'minutes.txt', { type: 'text/plain' }));
    const input = /** @type {HTMLElement} */ (document.querySelector('#message-input'));
    input.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
  });
  const minutes = erin.page.locator('#messages .file-link', { hasText: 'minutes.txt' });
  await minutes.waitFor();
  // The link's content as a member fetches it (the browser's download of a link is checked in
  // the first test: here the list re-renders while receipts arrive, see the closing note).
  const href = await minutes.getAttribute('href');
  assert.equal(await erin.page.evaluate(async (u) => (await fetch(u)).text(), href), 'minutes of the meeting');
  // Mallory is no member: the file does not exist for her.
  const status = await mallory.page.evaluate(async (i) => (await fetch(`/api/v1/attachments/${i}`)).status, id);
  assert.equal(status, 404);
  for (const p of [carl, dana, erin, mallory]) await p.context.close();
});

test('a file over the limit is refused before anything is sent, naming the limit', async () => {
  // Gus is offline, so the file would go through the server (person to person has no limit).
  const fay = await senderToOfflineContact('fay', 'gus');
  let uploads = 0;
  fay.page.on('request', (r) => { if (r.url().includes('/attachments?')) uploads += 1; });
  await fay.page.locator('#file-input').setInputFiles({ name: 'huge.iso', mimeType: 'application/octet-stream', buffer: Buffer.alloc(9 * 1024 * 1024) });
  await fay.page.locator('#chat .error', { hasText: 'at most 8.0 MB' }).waitFor();
  assert.equal(uploads, 0);
  assert.equal(await fay.page.locator('#transfers li').count(), 0);
  await fay.context.close();
});

test('an upload cancelled mid-way leaves no message and nothing on the server', async () => {
  const hal = await senderToOfflineContact('hal', 'ida');
  // A slow uplink, so the upload is still under way when cancelled.
  const cdp = await hal.context.newCDPSession(hal.page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 256 * 1024 });
  const before = onServerDisk();
  await hal.page.locator('#file-input').setInputFiles({ name: 'video.mp4', mimeType: 'video/mp4', buffer: randomBytes(6 * 1024 * 1024) });
  const row = hal.page.locator('#transfers li[data-status="uploading…"]');
  await row.waitFor();
  await hal.page.waitForFunction(() => {
    const bar = /** @type {HTMLProgressElement|null} */ (document.querySelector('#transfers progress'));
    return bar && bar.value > 0;
  });
  assert.match(await row.locator('.transfer-detail').textContent(), /% · .*\/s · .* left/);
  await row.locator('button.cancel').click();
  await hal.page.locator('#transfers li').waitFor({ state: 'detached' });
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  // The server dropped what it had received; no message was posted.
  for (let i = 0; i < 100 && onServerDisk().length !== before.length; i++) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(onServerDisk(), before);
  const convs = await pageApi(hal.page, 'GET', '/conversations');
  assert.ok(convs.every((c) => !c.last_message || c.last_message.kind !== 'file'), JSON.stringify(convs));
  await hal.context.close();
});
