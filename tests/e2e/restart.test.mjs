// A restart of the server — a crash (kill -9) or an upgrade (SIGTERM) — does not end a
// running 1:1 call: the media is peer to peer and keeps flowing, both tabs reconnect and
// claim the call back, and the call works as before afterwards.
import assert from 'node:assert/strict';
import { test, useServerAndBrowser, befriend, waitStatus } from './harness.mjs';
import { inbound, waitMedia, roomDecoded, eventually } from './media.mjs';

const env = useServerAndBrowser();

/** Waits until the page's inbound counters have gone past `before`. */
async function keepsDecoding(page, before) {
  const deadline = Date.now() + 30_000;
  let now;
  while (Date.now() < deadline) {
    now = await inbound(page);
    if (now && now.frames > before.frames && now.samples > before.samples) return now;
    await page.waitForTimeout(250);
  }
  assert.fail(`media stopped: before ${JSON.stringify(before)}, now ${JSON.stringify(now)}`);
}

test('a video call keeps running through a kill -9 and a SIGTERM restart; hang-up, chat and presence work afterwards', async () => {
  const alice = await env.server.userPage(env.browser, 'alice');
  const bob = await env.server.userPage(env.browser, 'bob');
  await befriend(alice.page, bob.page);
  await alice.page.locator('#contact-list li[data-username="bob"] button.call-video').click();
  await bob.page.locator('#accept-video').click();
  await waitMedia(alice.page);
  await waitMedia(bob.page);

  let restarts = 0;
  for (const kill9 of [true, false]) {
    const before = [await inbound(alice.page), await inbound(bob.page)];
    await env.server.restart({ kill9 });
    restarts += 1;
    // Both tabs reconnect by themselves and the server takes the call back from both claims.
    for (const p of [alice.page, bob.page]) {
      await p.waitForFunction((n) => window.mywebrtcCalls.rejoins === n, restarts, { timeout: 60_000 });
      assert.equal(await p.evaluate(() => window.mywebrtcCalls.phase), 'active');
    }
    // The media never stopped.
    await keepsDecoding(alice.page, before[0]);
    await keepsDecoding(bob.page, before[1]);
  }

  // Hang-up goes through the restarted server and ends the call on both sides.
  await alice.page.locator('#hangup').click();
  await bob.page.locator('#in-call').waitFor({ state: 'detached' });
  await alice.page.locator('#in-call').waitFor({ state: 'detached' });
  // Presence and chat work as before.
  await waitStatus(alice.page, 'bob', 'online');
  await waitStatus(bob.page, 'alice', 'online');
  const sent = await alice.page.evaluate(async (peer) => {
    const s = await (await fetch('/api/v1/session')).json();
    const headers = { 'content-type': 'application/json', 'x-csrf-token': s.csrf_token };
    const conv = await (await fetch('/api/v1/conversations', { method: 'POST', headers, body: JSON.stringify({ kind: 'direct', user: peer }) })).json();
    const r = await fetch(`/api/v1/conversations/${conv.id}/messages`, { method: 'POST', headers, body: JSON.stringify({ client_id: 'after-restart', text: 'still here' }) });
    return r.status;
  }, await bob.page.evaluate(async () => (await (await fetch('/api/v1/session')).json()).user.id));
  assert.equal(sent, 201);
  for (const p of [alice, bob]) await p.context.close();
});

test('a group call comes back by itself after a kill -9 and a SIGTERM restart', async () => {
  const names = ['gc1', 'gc2', 'gc3'];
  const pages = [];
  for (const n of names) pages.push(await env.server.userPage(env.browser, n));
  for (const p of pages.slice(1)) await befriend(pages[0].page, p.page);
  const ids = [];
  for (const p of pages) ids.push(await p.page.evaluate(async () => (await (await fetch('/api/v1/session')).json()).user.id));
  const conv = await pages[0].page.evaluate(async (members) => {
    const s = await (await fetch('/api/v1/session')).json();
    const r = await fetch('/api/v1/conversations', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrf_token }, body: JSON.stringify({ kind: 'group', name: 'Crew', members }) });
    return (await r.json()).id;
  }, ids.slice(1));
  for (const p of pages) await p.page.evaluate((conv) => window.mywebrtcRooms.join(conv, true), conv);
  /** Every tab decodes video and audio from the two others. */
  const everyoneDecodes = async () => {
    for (const p of pages) {
      await eventually(async () => {
        const others = await p.page.evaluate(() => [...(window.mywebrtcRooms.current?.members.keys() || [])]);
        const d = await roomDecoded(p.page);
        return others.length === 2 && others.every((id) => d[id]?.frames > 0 && d[id]?.samples > 0);
      }, { timeout: 60_000, what: 'media from everyone' });
    }
  };
  await everyoneDecodes();
  let restarts = 0;
  for (const kill9 of [true, false]) {
    await env.server.restart({ kill9 });
    restarts += 1;
    // Every tab takes its seat again by itself, and media flows between all three again.
    for (const p of pages) await p.page.waitForFunction((n) => window.mywebrtcRooms.rejoins >= n && window.mywebrtcRooms.current?.participant > 0, restarts, { timeout: 60_000 });
    await everyoneDecodes();
  }
  const d = await roomDecoded(pages[0].page);
  const st = await pages[0].page.evaluate(() => ({ rejoins: window.mywebrtcRooms.rejoins, notice: window.mywebrtcRooms.notice, cur: !!window.mywebrtcRooms.current, sig: window.mywebrtcRooms.sig.state }));
  assert.equal(Object.keys(d).length, 2, JSON.stringify({ d, st }));
  for (const p of pages) await p.context.close();
});
