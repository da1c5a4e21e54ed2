// Group calls through our SFU, between real browsers with fake cameras and microphones.
import assert from 'node:assert/strict';
import { test, useServerAndBrowser, befriend, pageApi, openConversation, waitForAsync } from './harness.mjs';
import { roomDecoded, eventually } from './media.mjs';
import { blockUdpTo } from './firewall.mjs';

const env = useServerAndBrowser();

let n = 0;
/**
 * `count` fresh users, the first a contact of every other, all in one group conversation;
 * each page (a context of its own) has the group open in the chat view. The members at
 * `h264` publish their video as H.264 only.
 * @param {number} count
 * @param {{h264?: number[]}} [o]
 */
async function group(count, { h264 = [] } = {}) {
  n += 1;
  const pages = [];
  for (let i = 0; i < count; i++) {
    const o = h264.includes(i) ? { context: await h264OnlyContext() } : {};
    pages.push(await env.server.userPage(env.browser, `conf${n}u${i}`, o));
  }
  for (let i = 1; i < count; i++) await befriend(pages[0].page, pages[i].page);
  const ids = [];
  for (const p of pages) ids.push((await pageApi(p.page, 'GET', '/session')).user.id);
  const conv = await pageApi(pages[0].page, 'POST', '/conversations', { kind: 'group', name: `Team ${n}`, members: ids.slice(1) });
  for (const p of pages) await openConversation(p.page, conv.id);
  return { pages, ids, conv: conv.id };
}

/**
 * A context whose pages publish video as H.264 only, as some devices and encoders do: every
 * video transceiver the page adds prefers H.264 alone. What it receives is what the server
 * offers (it decodes VP8 too, as every browser does).
 */
async function h264OnlyContext() {
  const context = await env.browser.newContext({ ignoreHTTPSErrors: true });
  await context.addInitScript(() => {
    const add = RTCPeerConnection.prototype.addTransceiver;
    RTCPeerConnection.prototype.addTransceiver = function (trackOrKind, init) {
      const t = add.call(this, trackOrKind, init);
      const kind = typeof trackOrKind === 'string' ? trackOrKind : trackOrKind.kind;
      if (kind === 'video') {
        const caps = RTCRtpSender.getCapabilities('video')?.codecs ?? [];
        t.setCodecPreferences(caps.filter((c) => /^video\/(H264|rtx)$/i.test(c.mimeType)));
      }
      return t;
    };
  });
  return context;
}

/**
 * The video codecs `page` sends (`outbound`) or, from `participant`, decodes in its group
 * call, as mime types.
 * @param {import('playwright-core').Page} page
 * @param {number} [participant]
 * @returns {Promise<string[]>}
 */
function videoCodecs(page, participant) {
  return page.evaluate(async (who) => {
    const call = window.mywebrtcRooms.current;
    const stats = await call.pc.getStats();
    const codecs = new Set();
    stats.forEach((s) => {
      if (s.kind !== 'video') return;
      const used = who === null
        ? s.type === 'outbound-rtp' && s.framesEncoded > 0
        : s.type === 'inbound-rtp' && s.framesDecoded > 0 && call.tracks.get(s.mid)?.participant === who;
      if (used) codecs.add(stats.get(s.codecId)?.mimeType);
    });
    return [...codecs];
  }, participant ?? null);
}

/** Waits until `page` decodes video and audio from every participant in `others`. */
async function waitDecodesAll(page, others, { video = true } = {}) {
  const deadline = Date.now() + 45_000;
  let last;
  while (Date.now() < deadline) {
    last = await roomDecoded(page);
    const ok = others.every((p) => last[p] && last[p].samples > 0 && (!video || last[p].frames > 0));
    if (ok) {
      // And it keeps decoding (not one frame, then a frozen tile).
      const first = last;
      await page.waitForTimeout(1500);
      const next = await roomDecoded(page);
      if (others.every((p) => next[p].samples > first[p].samples && (!video || next[p].frames > first[p].frames))) return next;
    }
    await page.waitForTimeout(500);
  }
  assert.fail(`not decoding everyone (${others}): ${JSON.stringify(last)}`);
}

/** This page's participant id, once the server welcomed it into the call. */
async function participantOf(page) {
  await page.waitForFunction(() => window.mywebrtcRooms.current?.participant > 0, null, { timeout: 20_000 });
  return page.evaluate(() => window.mywebrtcRooms.current.participant);
}

test('four people in a group call each decode the others\' video and audio; one leaves and rejoins', async () => {
  const { pages, conv } = await group(4);
  const [a, ...rest] = pages;
  await a.page.locator('#start-room').click();
  await a.page.locator('#room').waitFor();
  // Everyone else is rung: the incoming panel, with Join.
  for (const p of rest) {
    await p.page.locator('#room-incoming').waitFor();
    await p.page.locator('#room-join-video').click();
    await p.page.locator('#room').waitFor();
  }
  const ids = [];
  for (const p of pages) ids.push(await participantOf(p.page));
  for (let i = 0; i < pages.length; i++) {
    const others = ids.filter((_, j) => j !== i);
    await waitDecodesAll(pages[i].page, others);
  }
  // The grid shows a tile per other participant, with the video playing.
  for (const p of pages) {
    await p.page.waitForFunction(() => {
      const tiles = [...document.querySelectorAll('#room-grid .tile:not(.mine)')];
      return tiles.length === 3 && tiles.every((t) => /** @type {HTMLVideoElement} */ (t.querySelector('video')).videoWidth > 0);
    }, null, { timeout: 20_000 });
  }
  // Each tile says how well that person's media arrives (measured: good, fair or poor, as
  // a loaded machine makes it).
  for (const p of pages) {
    await p.page.waitForFunction(() => {
      const q = [...document.querySelectorAll('#room-grid .tile:not(.mine) .tile-quality')];
      return q.length === 3 && q.every((e) => ['good', 'fair', 'poor'].includes(e.getAttribute('data-level') || ''));
    }, null, { timeout: 20_000 });
  }
  // The conversation shows the call running with four in it (for a member not in it, the
  // Join button; for those in it, "you are in this call").
  await a.page.locator('#room-here').waitFor();

  // The last one leaves: the others stop seeing them; then they join again from the chat.
  const leaver = pages[3];
  await leaver.page.locator('#room-leave').click();
  await leaver.page.locator('#room').waitFor({ state: 'detached' });
  for (const p of pages.slice(0, 3)) {
    await p.page.waitForFunction(() => document.querySelectorAll('#room-grid .tile:not(.mine)').length === 2, null, { timeout: 20_000 });
  }
  await leaver.page.locator('#join-room', { hasText: '3 in it' }).click();
  await leaver.page.locator('#room').waitFor();
  const again = await participantOf(leaver.page);
  for (let i = 0; i < 3; i++) {
    await waitDecodesAll(pages[i].page, [again]);
  }
  await waitDecodesAll(leaver.page, ids.slice(0, 3));
  for (const p of pages) await p.context.close();
  // Everyone gone: the call is over for the conversation.
  void conv;
});

test('screen sharing in a group call reaches everyone at full width; the stop is seen', async () => {
  const { pages } = await group(3);
  const [a, b, c] = pages;
  await a.page.locator('#start-room').click();
  await a.page.locator('#room').waitFor();
  for (const p of [b, c]) {
    await p.page.locator('#room-join-audio').click();
    await p.page.locator('#room').waitFor();
  }
  const aId = await participantOf(a.page);
  await b.page.locator('#room-share').click();
  const bId = await participantOf(b.page);
  for (const p of [a, c]) {
    await p.page.locator('#room-screen-view:not([hidden])').waitFor({ timeout: 20_000 });
    await eventually(async () => (await roomDecoded(p.page))[bId]?.screenWidth > 0, { what: 'the shared screen decoded' });
  }
  // The group's chat beside the call: a message from the call reaches the others' call screens.
  await c.page.locator('#room-chat-toggle').click();
  await a.page.locator('#room-chat-toggle').click();
  await a.page.locator('#room-chat-input').fill('slides are up');
  await a.page.locator('#room-chat-send').click();
  await c.page.locator('#room-chat-log li', { hasText: 'slides are up' }).waitFor({ timeout: 15_000 });
  // Audio-only joiners still hear each other and the starter.
  await waitDecodesAll(c.page, [aId, bId], { video: false });
  await b.page.locator('#room-share').click();
  for (const p of [a, c]) await p.page.locator('#room-screen-view[hidden]').waitFor({ state: 'attached', timeout: 20_000 });
  for (const p of pages) await p.context.close();
});

test('someone taken out of the group is out of its call at once; outsiders cannot join', async () => {
  const { pages, ids, conv } = await group(3);
  const [a, b, c] = pages;
  await a.page.locator('#start-room').click();
  for (const p of [b, c]) await p.page.locator('#room-join-video').click();
  const cId = await participantOf(c.page);
  await waitDecodesAll(a.page, [cId]);
  await pageApi(a.page, 'DELETE', `/conversations/${conv}/members/${ids[2]}`);
  await c.page.locator('#room-ended', { hasText: 'removed' }).waitFor({ timeout: 15_000 });
  await a.page.waitForFunction((who) => !window.mywebrtcRooms.current.members.has(who), cId, { timeout: 15_000 });
  // The removed member (and anyone else) is refused: not a member.
  const refused = await c.page.evaluate(async (conv) => {
    try {
      await window.mywebrtcRooms.sig.request({ type: 'room_join', conv });
      return 'joined';
    } catch (e) {
      return e.code;
    }
  }, conv);
  assert.equal(refused, 'no_conversation');
  for (const p of pages) await p.context.close();
});

test('a participant forced through our TURN relay still decodes everyone; a late member sees the running call', async () => {
  const { pages } = await group(3);
  const [a, b, c] = pages;
  // b may only use relayed candidates (as behind a firewall that blocks direct UDP).
  await b.page.evaluate(() => {
    const ice = window.mywebrtcRooms.iceConfig;
    const get = ice.get.bind(ice);
    ice.get = async () => ({ ...(await get()), iceTransportPolicy: 'relay' });
  });
  await a.page.locator('#start-room').click();
  await b.page.locator('#room-join-video').click();
  const [aId, bId] = [await participantOf(a.page), await participantOf(b.page)];
  await waitDecodesAll(b.page, [aId]);
  await waitDecodesAll(a.page, [bId]);
  const relayed = await b.page.evaluate(async () => {
    const stats = await window.mywebrtcRooms.current.pc.getStats();
    let pair;
    stats.forEach((s) => { if (s.type === 'transport') pair = stats.get(s.selectedCandidatePairId); });
    return pair && stats.get(pair.localCandidateId)?.candidateType;
  });
  assert.equal(relayed, 'relay');
  // c declined the ring, then reloads: the conversation still shows the call with 2 in it.
  await c.page.locator('#room-decline').click();
  await c.page.reload();
  await openConversation(c.page);
  await c.page.locator('#join-room', { hasText: '2 in it' }).click();
  const cId = await participantOf(c.page);
  await waitDecodesAll(c.page, [aId, bId]);
  await waitDecodesAll(b.page, [cId]);
  for (const p of pages) await p.context.close();
});

test('with UDP to the media port blocked by a firewall, browsers reach the SFU over TCP and decode each other', async () => {
  const port = Number(env.server.mediaAddr?.split(':').pop());
  assert.ok(port > 0, `the server printed its media port: ${env.server.mediaAddr}`);
  // Direct UDP and TURN's relayed UDP to the media port are both dropped: only ICE over TCP
  // to the SFU's passive candidate is left (with `[sfu] tcp = false` this test fails).
  const unblock = blockUdpTo(port);
  const { pages } = await group(2);
  try {
    const [a, b] = pages;
    await a.page.locator('#start-room').click();
    await b.page.locator('#room-incoming').waitFor();
    await b.page.locator('#room-join-video').click();
    const [aId, bId] = [await participantOf(a.page), await participantOf(b.page)];
    await waitDecodesAll(a.page, [bId]);
    await waitDecodesAll(b.page, [aId]);
    for (const p of pages) {
      const pair = await p.page.evaluate(async () => {
        const stats = await window.mywebrtcRooms.current.pc.getStats();
        let sel;
        stats.forEach((s) => { if (s.type === 'transport') sel = stats.get(s.selectedCandidatePairId); });
        const remote = sel && stats.get(sel.remoteCandidateId);
        return remote && { protocol: remote.protocol, port: remote.port, type: remote.candidateType };
      });
      assert.deepEqual(pair, { protocol: 'tcp', port, type: 'host' });
    }
  } finally {
    unblock();
    for (const p of pages) await p.context.close();
  }
});

test('a group call rings every device: a decline stops it on all of them; who did not answer finds a missed call', async () => {
  const { pages } = await group(3);
  const [a, b, c] = pages;
  // b is also signed in on a second device.
  const bName = (await pageApi(b.page, 'GET', '/session')).user.username;
  const b2 = await env.server.userPage(env.browser, bName, { create: false });
  await a.page.locator('#start-room').click();
  await a.page.locator('#room').waitFor();
  for (const p of [b.page, b2.page, c.page]) await p.locator('#room-incoming').waitFor();
  await b.page.locator('#room-decline').click();
  // The other device of b stops ringing because the server says so (its own ring lasts 30 s).
  await b2.page.locator('#room-incoming').waitFor({ state: 'detached' });
  assert.equal(await c.page.locator('#room-incoming').count(), 1, 'c still rings');
  // The call ends while c's ring runs: c missed it, and is told so at once.
  await a.page.locator('#room-leave').click();
  await c.page.locator('#room-incoming').waitFor({ state: 'detached' });
  const banner = c.page.locator('#missed-calls');
  await banner.waitFor();
  assert.match(await banner.textContent(), /You missed 1 call from .* \(Team \d+\)/);
  await banner.locator('a').click();
  const entry = c.page.locator('#call-history li.missed');
  await entry.waitFor();
  assert.match(await entry.textContent(), /Team \d+.*Missed group call from/);
  // b declined: listed, not as missed.
  await b2.page.goto(new URL('/calls', env.server.url).href);
  const declined = b2.page.locator('#call-history li[data-reason="declined"]');
  await declined.waitFor();
  assert.equal(await declined.evaluate((li) => li.classList.contains('missed')), false);
  for (const p of [...pages, b2]) await p.context.close();
});

/** Audio samples this page decoded from `who`'s packets (see `roomDecoded`'s `heard`). */
const heardFrom = async (page, who) => (await roomDecoded(page))[who]?.heard ?? 0;

test('the person who started the call mutes and removes others; nobody else can', async () => {
  const { pages } = await group(3);
  const [a, b, c] = pages;
  await a.page.locator('#start-room').click();
  for (const p of [b, c]) await p.page.locator('#room-join-audio').click();
  const [bId, cId] = [await participantOf(b.page), await participantOf(c.page)];
  await waitDecodesAll(a.page, [bId, cId], { video: false });
  // b did not start the call: refused by the server.
  const refused = await b.page.evaluate((who) => window.mywebrtcRooms.current.moderate(who, 'remove').then(() => 'done', (e) => e.code), cId);
  assert.equal(refused, 'not_allowed');
  // a mutes b from the people list: b is told, its microphone is off, and the server stops
  // forwarding its audio (not only the client's good will).
  await a.page.locator('#room-people-toggle').click();
  await a.page.locator(`#room-people li[data-participant="${bId}"] .moderate-mute`).click();
  await b.page.locator('#room-mute[aria-pressed="true"]').waitFor();
  await a.page.locator(`#room-people li[data-participant="${bId}"]`, { hasText: '(muted)' }).waitFor();
  // What was in flight when the mute took effect still plays out (longer on a loaded
  // machine): the received audio must come to a stop, i.e. hold still for 1.5 s, soon.
  let before = 0;
  await eventually(async () => {
    before = await heardFrom(a.page, bId);
    await a.page.waitForTimeout(1500);
    return (await heardFrom(a.page, bId)) === before;
  }, { timeout: 20_000, what: 'no audio forwarded from a muted participant' });
  // b unmutes itself: its audio flows again.
  await b.page.locator('#room-mute').click();
  await eventually(async () => (await heardFrom(a.page, bId)) > before + 4800, { timeout: 15_000, what: 'audio after the unmute' });
  // a removes c.
  await a.page.locator(`#room-people li[data-participant="${cId}"] .moderate-remove`).click();
  await c.page.locator('#room-ended', { hasText: 'removed' }).waitFor({ timeout: 15_000 });
  await b.page.waitForFunction((who) => !window.mywebrtcRooms.current.members.has(who), cId, { timeout: 15_000 });
  for (const p of pages) await p.context.close();
});

/** Width and decoded frames of the camera video this page receives from `who`. */
const cameraFrom = async (page, who) => {
  const d = (await roomDecoded(page))[who];
  return { width: d?.width ?? 0, frames: d?.frames ?? 0 };
};

for (const codec of ['VP8', 'H264']) {
  test(`simulcast (${codec}): a small tile gets a small layer, a large one the full layer, a hidden one nothing`, async () => {
    // The H.264 publisher's layers switch on keyframes found in its NAL units.
    const { pages } = await group(2, { h264: codec === 'H264' ? [0] : [] });
    const [a, b] = pages;
    await a.page.locator('#start-room').click();
    await b.page.locator('#room-join-video').click();
    const aId = await participantOf(a.page);
    await waitDecodesAll(b.page, [aId]);
    assert.deepEqual(await videoCodecs(b.page, aId), [`video/${codec}`]);
    // a publishes simulcast (three layers of its 1280x720 camera; a loaded machine may make
    // Chrome drop the top one or scale them down, so the test compares widths, not sizes).
    await waitForAsync(a.page, async () => {
      let layers = 0;
      (await window.mywebrtcRooms.current.pc.getStats()).forEach((s) => { if (s.type === 'outbound-rtp' && s.kind === 'video' && s.framesEncoded > 0) layers += 1; });
      return layers >= 2;
    }, null, { timeout: 30_000 });
    const tile = (height, visible = true) => b.page.evaluate(([who, height, visible]) =>
      window.mywebrtcRooms.current.setTiles([{ participant: who, visible, height }]), [aId, height, visible]);
    /** Waits until the width b receives of a's camera is within [min, max]; returns it. */
    const widthWithin = (min, max) => eventually(async () => {
      const { width } = await cameraFrom(b.page, aId);
      return width >= min && width <= max ? width : 0;
    }, { what: `a width within ${min}..${max}` });
    await tile(120);
    const small = await widthWithin(1, 320);
    await tile(720);
    const large = await widthWithin(small * 2, 100_000);
    assert.ok(large >= small * 2, `${small} → ${large}`);
    // Off screen: not sent at all (decoded frames stop), and back when visible again.
    await tile(720, false);
    await b.page.waitForTimeout(1000);
    const paused = await cameraFrom(b.page, aId);
    await b.page.waitForTimeout(1500);
    assert.equal((await cameraFrom(b.page, aId)).frames, paused.frames, 'no video for a hidden tile');
    await tile(360);
    await eventually(async () => (await cameraFrom(b.page, aId)).frames > paused.frames + 10, { what: 'video once the tile shows again' });
    for (const p of pages) await p.context.close();
  });
}

test('a participant whose browser publishes H.264 only is seen by the others, and sees their VP8', async () => {
  const { pages } = await group(3, { h264: [1] });
  const [a, b, c] = pages;
  await a.page.locator('#start-room').click();
  for (const p of [b, c]) {
    await p.page.locator('#room-incoming').waitFor();
    await p.page.locator('#room-join-video').click();
  }
  const ids = [];
  for (const p of pages) ids.push(await participantOf(p.page));
  for (let i = 0; i < pages.length; i++) await waitDecodesAll(pages[i].page, ids.filter((_, j) => j !== i));
  // b sends H.264 and the others decode it as such; they still send VP8 (preferred), which
  // b decodes.
  assert.deepEqual(await videoCodecs(b.page), ['video/H264']);
  for (const p of [a, c]) {
    assert.deepEqual(await videoCodecs(p.page), ['video/VP8']);
    assert.deepEqual(await videoCodecs(p.page, ids[1]), ['video/H264']);
  }
  assert.deepEqual(await videoCodecs(b.page, ids[0]), ['video/VP8']);
  for (const p of pages) await p.context.close();
});

test('a 1:1 call grows to three: both move to a group call, the third is rung and joins', async () => {
  n += 1;
  const pages = [];
  for (const name of ['alice', 'bob', 'carol']) pages.push(await env.server.userPage(env.browser, `grow${n}${name}`));
  const [a, b, c] = pages;
  await befriend(a.page, b.page);
  await befriend(a.page, c.page);
  await a.page.locator(`#contact-list li[data-username="grow${n}bob"] button.call-video`).click();
  await b.page.locator('#accept-video').click();
  await a.page.locator('#call-state[data-state="connected"]').waitFor({ timeout: 20_000 });
  await a.page.locator('#add-to-call').click();
  await a.page.locator('#add-person-pick').selectOption({ label: `grow${n}carol` });
  await a.page.locator('#add-person-ok').click();
  // Both move to the group call; the 1:1 call ends once the group call carries the media.
  for (const p of [a, b]) {
    await p.page.locator('#room').waitFor({ timeout: 20_000 });
    await p.page.locator('#in-call').waitFor({ state: 'detached', timeout: 30_000 });
  }
  await c.page.locator('#room-incoming').waitFor({ timeout: 20_000 });
  await c.page.locator('#room-join-video').click();
  const ids = [];
  for (const p of pages) ids.push(await participantOf(p.page));
  for (let i = 0; i < 3; i++) await waitDecodesAll(pages[i].page, ids.filter((_, j) => j !== i));
  for (const p of pages) await p.context.close();
});
