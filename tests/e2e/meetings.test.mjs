// Meetings and guests: a member creates a meeting, guests without an account come in by
// link (preview, lobby, admitted or rejected), a member joins by link, the host locks and
// ends it; two guests meet by the same code, and the used code is refused.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test, useServerAndBrowser, pageApi } from './harness.mjs';
import { roomDecoded } from './media.mjs';

const env = useServerAndBrowser();
/** Screenshots for docs/screenshots when E2E_SCREENSHOTS=1. */
const shots = process.env.E2E_SCREENSHOTS === '1' ? resolve(dirname(fileURLToPath(import.meta.url)), '../../docs/screenshots') : null;
if (shots) mkdirSync(shots, { recursive: true });
const shot = async (page, name) => { if (shots) await page.screenshot({ path: `${shots}/${name}.png` }); };

/** A browser context with no account, on `url`. */
async function stranger(url) {
  const context = await env.browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  await page.goto(url);
  return { context, page };
}

/** This page's participant id in its call. */
async function participantOf(page) {
  await page.waitForFunction(() => window.mywebrtcRooms?.current?.participant > 0, null, { timeout: 30_000 });
  return page.evaluate(() => window.mywebrtcRooms.current.participant);
}

/** Waits until `page` decodes video and audio from each of `others`, and keeps decoding. */
async function decodes(page, others) {
  const deadline = Date.now() + 45_000;
  let last;
  while (Date.now() < deadline) {
    last = await roomDecoded(page);
    if (others.every((p) => last[p]?.samples > 0 && last[p]?.frames > 0)) {
      await page.waitForTimeout(1500);
      const next = await roomDecoded(page);
      if (others.every((p) => next[p].samples > last[p].samples && next[p].frames > last[p].frames)) return;
    }
    await page.waitForTimeout(500);
  }
  assert.fail(`not decoding everyone (${others}): ${JSON.stringify(last)}`);
}

/** The host creates a meeting on the Meetings page; returns its link and code. */
async function createMeeting(host, title) {
  await host.locator('#nav-meetings').click();
  await host.locator('#meeting-title').fill(title);
  await host.locator('#meeting-create').click();
  const card = host.locator('article.meeting', { hasText: title });
  await card.waitFor();
  return {
    card,
    link: await card.locator('.meeting-link').getAttribute('href'),
    code: await card.locator('.meeting-code').textContent(),
  };
}

/** A guest on the link's preview screen gives a name and asks to join. */
async function askToJoin(page, name, shotName) {
  await page.locator('#guest-name').fill(name);
  // The preview shows the camera before anyone is asked.
  await page.waitForFunction(() => document.querySelector('#preview-video')?.videoWidth > 0, null, { timeout: 20_000 });
  if (shotName) await shot(page, shotName);
  await page.locator('#guest-join').click();
  await page.locator('#guest-lobby').waitFor();
}

test('a guest joins by link through the lobby, a member by link, all decode each other; the host ends it and the guest is out', async () => {
  const host = await env.server.userPage(env.browser, 'mhost');
  const member = await env.server.userPage(env.browser, 'mmember');
  const { card, link } = await createMeeting(host.page, 'Consultation');
  assert.match(link, /\/m\/[A-Za-z0-9_-]{22}$/);

  const guest = await stranger(link);
  await guest.page.locator('#guest-form').waitFor();
  await askToJoin(guest.page, 'Pat Guest', 'meeting-preview');
  await guest.page.locator('#guest-status', { hasText: 'Waiting for a host' }).waitFor();
  await shot(guest.page, 'meeting-lobby');
  // The host is told wherever they are: a notice, and the lobby on the Meetings page.
  const notice = host.page.locator('.lobby-notice', { hasText: 'Pat Guest (guest) is waiting' });
  await notice.waitFor();
  await card.locator('.meeting-lobby li', { hasText: 'Pat Guest' }).waitFor();
  await shot(host.page, 'meeting-host-lobby');
  await notice.locator('button.accept').click();
  await card.locator('.meeting-lobby li').waitFor({ state: 'detached' });
  await card.locator('.meeting-join').click();
  await host.page.locator('#room').waitFor();
  // Admitted: the guest's page joins the call by itself.
  await guest.page.locator('#room').waitFor({ timeout: 20_000 });
  const hp = await participantOf(host.page);
  const gp = await participantOf(guest.page);
  await decodes(host.page, [gp]);
  await decodes(guest.page, [hp]);
  // Everyone sees the guest marked as a guest.
  await host.page.locator('#room-people-toggle').click();
  await host.page.locator('#room-people', { hasText: 'Pat Guest (guest)' }).waitFor();

  // A member opens the link: straight in (no lobby), a third person on the SFU.
  await member.page.goto(link);
  await member.page.locator('#room').waitFor({ timeout: 20_000 });
  const mp = await participantOf(member.page);
  await decodes(member.page, [hp, gp]);
  await decodes(guest.page, [hp, mp]);
  // Names of people who came in after the page loaded the meeting are learnt.
  await host.page.locator('#room-grid', { hasText: 'mmember' }).waitFor();
  await shot(host.page, 'meeting');

  // The guest reloads the page: back in the meeting and its call, without the lobby.
  await guest.page.reload();
  await guest.page.locator('#room').waitFor({ timeout: 30_000 });
  const gp2 = await participantOf(guest.page);
  await decodes(host.page, [gp2]);
  await decodes(guest.page, [hp, mp]);

  // The guest writes in the meeting's chat; the host reads it beside the call.
  await guest.page.locator('#room-chat-toggle').click();
  await guest.page.locator('#room-chat-input').fill('hello from the guest');
  await guest.page.locator('#room-chat-send').click();
  await host.page.locator('#room-chat-toggle').click();
  await host.page.locator('#room-chat-log', { hasText: 'hello from the guest' }).waitFor();

  // From the call screen the host locks the meeting and then ends it: the guest is out and
  // told so; the member's call ends.
  await host.page.locator('#meeting-lock').click();
  await host.page.locator('#meeting-lock[aria-pressed="true"]').waitFor();
  const meetings = await pageApi(host.page, 'GET', '/meetings');
  assert.equal(meetings[0].access, 'locked');
  await host.page.locator('#meeting-end-all').click();
  await guest.page.locator('#guest-over', { hasText: 'The meeting has ended' }).waitFor();
  await member.page.waitForFunction(() => !window.mywebrtcRooms.current, null, { timeout: 20_000 });
  for (const c of [host, member, guest]) await c.context.close();
});

test('a rejected guest is turned away, a locked meeting refuses, a wrong code is a clear error', async () => {
  const host = await env.server.userPage(env.browser, 'rhost');
  const { card, link, code } = await createMeeting(host.page, 'Interview');
  // By code, typed on the start page.
  const guest = await stranger(env.server.url);
  await guest.page.locator('#meeting-code').fill(code.replaceAll('-', ' '));
  await guest.page.locator('#join-meeting-form button[type=submit]').click();
  await askToJoin(guest.page, 'Sam');
  const notice = host.page.locator('.lobby-notice', { hasText: 'Sam (guest)' });
  await notice.waitFor();
  await notice.locator('button.decline').click();
  await guest.page.locator('#guest-over', { hasText: 'The host did not let you in' }).waitFor();

  // Locked: nobody new; the guest is told before waiting anywhere.
  await card.locator('.meeting-access').selectOption('locked');
  await host.page.waitForFunction(() => document.querySelector('article.meeting .meeting-access')?.value === 'locked');
  const late = await stranger(link);
  await late.page.locator('#guest-name').fill('Late');
  await late.page.locator('#guest-join').click();
  await late.page.locator('#guest-form .error', { hasText: 'lets nobody new in' }).waitFor();
  // A code nobody has.
  const lost = await stranger(env.server.url);
  await lost.page.locator('#meeting-code').fill('0000-0000-0001');
  await lost.page.locator('#join-meeting-form button[type=submit]').click();
  await lost.page.locator('#guest-name').fill('Lost');
  await lost.page.locator('#guest-join').click();
  await lost.page.locator('#guest-form .error', { hasText: 'no meeting with this link or code' }).waitFor();
  for (const c of [host, guest, late, lost]) await c.context.close();
});

test('two guests type the same code, accept each other and talk; the used code is refused', async () => {
  const meet = async (name) => {
    const g = await stranger(env.server.url);
    await g.page.locator('#meet-code').fill('Harbour Blue 42');
    await g.page.locator('#meet-by-code-form button[type=submit]').click();
    await askToJoin(g.page, name);
    return g;
  };
  const ann = await meet('Ann');
  await ann.page.locator('#guest-status', { hasText: 'Waiting for the other person' }).waitFor();
  const ben = await meet('Ben');
  await ann.page.locator('#guest-status', { hasText: 'Ben typed the same code' }).waitFor();
  await ben.page.locator('#guest-status', { hasText: 'Ann typed the same code' }).waitFor();
  await ann.page.locator('#meet-accept').click();
  await ben.page.locator('#meet-accept').click();
  await ann.page.locator('#room').waitFor({ timeout: 20_000 });
  await ben.page.locator('#room').waitFor({ timeout: 20_000 });
  const ap = await participantOf(ann.page);
  const bp = await participantOf(ben.page);
  await decodes(ann.page, [bp]);
  await decodes(ben.page, [ap]);

  // A third person with the same code: used, refused.
  const cy = await stranger(env.server.url);
  await cy.page.locator('#meet-code').fill('harbourblue42');
  await cy.page.locator('#meet-by-code-form button[type=submit]').click();
  await cy.page.locator('#guest-name').fill('Cy');
  await cy.page.locator('#guest-join').click();
  await cy.page.locator('#guest-form .error', { hasText: 'used already' }).waitFor();

  // Ann leaves: a meeting of two is over for Ben too.
  await ann.page.locator('#room-leave').click();
  await ann.page.locator('#guest-over', { hasText: 'You left' }).waitFor();
  await ben.page.locator('#guest-over', { hasText: 'The meeting has ended' }).waitFor();
  for (const c of [ann, ben, cy]) await c.context.close();
});
