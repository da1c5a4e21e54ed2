// Regenerates docs/screenshots/*.png: the contact list, the incoming-call panel, the call
// screen, a shared screen, a chat and a file sent person to person (offer, progress,
// received), on desktop and phone sizes. Run: node tests/e2e/screenshots.mjs (after cargo build).
import { mkdirSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, launchBrowser, befriend } from './harness.mjs';

const out = resolve(dirname(fileURLToPath(import.meta.url)), '../../docs/screenshots');
mkdirSync(out, { recursive: true });
const server = await startServer();
const browser = await launchBrowser();
try {
  server.cli(['user', 'add', 'alice', '--display-name', 'Alice Martin', '--password-stdin'], 'correct horse battery\n');
  server.cli(['user', 'add', 'bob', '--display-name', 'Bob Keller', '--password-stdin'], 'correct horse battery\n');
  const alice = await server.userPage(browser, 'alice', { create: false });
  const bob = await server.userPage(browser, 'bob', { create: false });
  await alice.page.setViewportSize({ width: 1100, height: 680 });
  await bob.page.setViewportSize({ width: 390, height: 760 });
  await befriend(alice.page, bob.page);
  await alice.page.screenshot({ path: `${out}/contacts.png` });
  await alice.page.locator('#contact-list li[data-username="bob"] button.call-video').click();
  await bob.page.locator('#incoming-call').waitFor();
  await bob.page.screenshot({ path: `${out}/incoming-call-phone.png` });
  await bob.page.locator('#accept-video').click();
  await alice.page.locator('#call-state[data-state="connected"]').waitFor({ timeout: 20_000 });
  await alice.page.locator('#call-quality:not(:empty)').waitFor({ timeout: 10_000 });
  await alice.page.waitForTimeout(4500);
  await alice.page.screenshot({ path: `${out}/in-call.png` });
  await bob.page.screenshot({ path: `${out}/in-call-phone.png` });
  // Bob shares his screen: alice sees it large, his camera small.
  await bob.page.locator('#share-screen').click();
  await alice.page.waitForFunction(() => /** @type {HTMLVideoElement|null} */ (document.querySelector('#remote-screen'))?.videoWidth > 0, null, { timeout: 20_000 });
  await alice.page.waitForTimeout(1500);
  await alice.page.screenshot({ path: `${out}/screen-share.png` });
  await bob.page.locator('#share-screen').click();
  await alice.page.locator('#hangup').click();

  // Chat: a conversation with a link, an edited message and a read receipt; bob on a phone.
  await alice.page.locator('#contact-list li[data-username="bob"] button.chat-with').click();
  await alice.page.locator('#conversation').waitFor();
  const say = async (page, text) => {
    await page.locator('#message-input').fill(text);
    await page.locator('#message-input').press('Enter');
  };
  await say(alice.page, 'Morning Bob — the ward round moved to 9:30.');
  await say(alice.page, 'Agenda: https://intranet.example.org/rounds/ward-3');
  await bob.page.locator('#nav-chat').click();
  await bob.page.locator('#conversation-list li.conv button.conv-open').first().click();
  await say(bob.page, 'Thanks, I will be there. <b>No markup</b> is ever rendered.');
  await alice.page.locator('#messages li.msg:not(.mine)').waitFor();
  await say(alice.page, 'Great, see you then');
  await alice.page.locator('#messages li.msg.mine[data-state="read"]').nth(2).waitFor();
  await bob.page.locator('#message-input').pressSequentially('typing');
  await alice.page.waitForFunction(() => (document.querySelector('#typing')?.textContent || '') !== '');
  await alice.page.screenshot({ path: `${out}/chat.png` });
  await bob.page.screenshot({ path: `${out}/chat-phone.png` });

  // A file person to person: the offer on bob's phone, progress on alice's side, received.
  const size = 48 * 1024 * 1024;
  await alice.page.locator('#file-input').setInputFiles({ name: 'MRI series 2026-11-27.zip', mimeType: 'application/zip', buffer: Buffer.alloc(size, 7) });
  await bob.page.locator('#file-transfers li.offer').waitFor();
  await bob.page.screenshot({ path: `${out}/file-offer-phone.png` });
  await bob.page.locator('#file-transfers button.accept-file').click();
  await bob.page.waitForFunction((n) => window.mywebrtcFiles.list().at(-1)?.done > n, size / 3);
  await alice.page.waitForFunction(() => window.mywebrtcFiles.list().at(-1)?.rate > 0);
  await alice.page.screenshot({ path: `${out}/file-progress.png` });
  await bob.page.waitForFunction(() => window.mywebrtcFiles.list().at(-1)?.state === 'done', null, { timeout: 60_000 });
  await bob.page.screenshot({ path: `${out}/file-received-phone.png` });

  // A group call of four: the grid, the speaker view, a shared screen as the main tile, and
  // the room on a phone.
  const more = [];
  await alice.page.locator('#nav-home').click();
  for (const [name, display] of [['carol', 'Carol Nguyen'], ['dave', 'Dave Osei']]) {
    server.cli(['user', 'add', name, '--display-name', display, '--password-stdin'], 'correct horse battery\n');
    const p = await server.userPage(browser, name, { create: false });
    await p.page.setViewportSize({ width: 1100, height: 680 });
    await befriend(alice.page, p.page);
    more.push(p);
  }
  const ids = [];
  for (const p of [bob, ...more]) ids.push(await p.page.evaluate(async () => (await (await fetch('/api/v1/session')).json()).user.id));
  const conv = await alice.page.evaluate(async (members) => window.mywebrtcRooms && (await (async () => {
    const s = await (await fetch('/api/v1/session')).json();
    const r = await fetch('/api/v1/conversations', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrf_token }, body: JSON.stringify({ kind: 'group', name: 'Ward 3 team', members }) });
    return (await r.json()).id;
  })()), ids);
  await alice.page.reload();
  await alice.page.locator('#whoami').waitFor();
  await alice.page.evaluate((c) => window.mywebrtcRooms.join(c, true), conv);
  for (const p of [bob, ...more]) {
    await p.page.locator('#room-incoming').waitFor({ timeout: 20_000 });
    await p.page.locator('#room-join-video').click();
  }
  await alice.page.waitForFunction(() => [...document.querySelectorAll('#room-grid .tile video')].filter((v) => /** @type {HTMLVideoElement} */ (v).videoWidth > 0).length === 4, null, { timeout: 60_000 });
  await more[0].page.locator('#room-hand').click();
  await bob.page.locator('#room-mute').click();
  await alice.page.waitForTimeout(3000);
  await alice.page.screenshot({ path: `${out}/group-call.png` });
  await bob.page.screenshot({ path: `${out}/group-call-phone.png` });
  await alice.page.locator('#room-view').click();
  await alice.page.waitForTimeout(1000);
  await alice.page.screenshot({ path: `${out}/group-call-speaker.png` });
  await alice.page.locator('#room-view').click();
  await more[1].page.locator('#room-share').click();
  await alice.page.waitForFunction(() => /** @type {HTMLVideoElement|null} */ (document.querySelector('#room-screen-view'))?.videoWidth > 0, null, { timeout: 20_000 });
  await alice.page.waitForTimeout(1500);
  await alice.page.screenshot({ path: `${out}/group-call-screen-share.png` });
  console.log(`screenshots written to ${out}`);
} finally {
  await browser.close();
  await server.dispose();
}
