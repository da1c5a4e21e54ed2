// 1:1 calls between real browsers with fake camera and microphone, through the real env.server.
import assert from 'node:assert/strict';
import { test, useServerAndBrowser, launchBrowser, befriend, waitForAsync } from './harness.mjs';
import { inbound, waitMedia } from './media.mjs';

const env = useServerAndBrowser({ config: '[signaling]\nring_timeout_secs = 6\n' });

let n = 0;
/** Fresh users that are contacts of each other. */
async function pair(...names) {
  n += 1;
  const pages = [];
  for (const name of names) pages.push(await env.server.userPage(env.browser, `${name}${n}`));
  for (let i = 1; i < pages.length; i++) await befriend(pages[0].page, pages[i].page);
  return pages;
}

/**
 * Waits for the notice a finished call leaves, with exactly `text`. (The notice goes away
 * after a few seconds: waiting for the text, not reading it after the notice appeared,
 * does not depend on how quickly this test gets to look on a loaded machine.)
 */
const endedWith = (page, text) => page.locator('#call-ended', { hasText: new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) }).waitFor({ timeout: 15_000 });

const callButton = (page, user, kind) => page.locator(`#contact-list li[data-username="${user}"] button.call-${kind}`);

test('video call: rings, connects, both sides decode audio and video, hang-up ends it on both', async () => {
  const [alice, bob] = await pair('alice', 'bob');
  const bobName = `bob${n}`;
  await callButton(alice.page, bobName, 'video').click();
  await alice.page.locator('#outgoing-call').waitFor();
  await bob.page.locator('#incoming-call').waitFor();
  assert.match(await bob.page.locator('#incoming-call .call-title').textContent(), /is calling/);
  await bob.page.locator('#accept-video').click();
  await alice.page.locator('#in-call').waitFor();
  await bob.page.locator('#in-call').waitFor();
  const a = await waitMedia(alice.page);
  const b = await waitMedia(bob.page);
  assert.ok(a.frames > 0 && b.frames > 0 && a.samples > 0 && b.samples > 0, JSON.stringify({ a, b }));
  await alice.page.locator('#call-state[data-state="connected"]').waitFor();
  // The call screen plays the other side's video (and with it the audio) and the self-view.
  for (const p of [alice.page, bob.page]) {
    await p.waitForFunction(() => {
      const v = /** @type {HTMLVideoElement} */ (document.querySelector('#remote-video'));
      const self = /** @type {HTMLVideoElement} */ (document.querySelector('#local-video'));
      return v && !v.paused && v.videoWidth > 0 && v.srcObject?.getAudioTracks().length === 1
        && self && !self.hidden && self.videoWidth > 0;
    });
  }
  await alice.page.locator('#call-route[data-relayed="false"]').waitFor({ timeout: 10_000 });

  for (const p of [alice.page, bob.page]) await p.evaluate(() => { window.callTracks = window.mywebrtcCalls.call.local.stream.getTracks(); });
  await bob.page.locator('#hangup').click();
  await bob.page.locator('#in-call').waitFor({ state: 'detached' });
  await endedWith(alice.page, 'Call ended');
  // connection closed and every track stopped on both sides: camera light off
  for (const p of [alice.page, bob.page]) {
    assert.equal(await p.evaluate(() => window.mywebrtcCalls.peerConnection), null);
    assert.equal(await p.evaluate(() => window.callTracks.map((t) => t.readyState).join()), 'ended,ended');
  }
  for (const p of [alice, bob]) await p.context.close();
});

test('the call connects while both sides\' devices are still starting; their media follows', async () => {
  const [alice, bob] = await pair('alice', 'bob');
  // Both cameras take as long as the test says: each getUserMedia waits for a release.
  for (const p of [alice.page, bob.page]) {
    await p.evaluate(() => {
      const md = navigator.mediaDevices;
      const start = md.getUserMedia.bind(md);
      const { promise, resolve } = Promise.withResolvers();
      window.releaseDevices = resolve;
      md.getUserMedia = async (c) => { await promise; return start(c); };
    });
  }
  await callButton(alice.page, `bob${n}`, 'video').click();
  await bob.page.locator('#accept-video').click();
  for (const p of [alice.page, bob.page]) {
    await p.waitForFunction(() => window.mywebrtcCalls.peerConnection?.connectionState === 'connected');
    assert.equal(await p.evaluate(() => window.mywebrtcCalls.call.local), null, 'devices not started yet');
    await p.locator('#call-state[data-state="connected"]').waitFor();
  }
  // Both sides said they will send audio and video, before they had the tracks.
  const sending = (p) => p.evaluate(() => window.mywebrtcCalls.peerConnection.getTransceivers().map((t) => t.currentDirection).sort().join());
  assert.equal(await sending(alice.page), 'sendrecv,sendrecv');
  assert.equal(await sending(bob.page), 'sendrecv,sendrecv');
  for (const p of [alice.page, bob.page]) await p.evaluate(() => window.releaseDevices());
  const a = await waitMedia(alice.page);
  const b = await waitMedia(bob.page);
  assert.ok(a.frames > 0 && b.frames > 0 && a.samples > 0 && b.samples > 0, JSON.stringify({ a, b }));
  await alice.page.locator('#local-video:not([hidden])').waitFor();
  await alice.page.locator('#hangup').click();
  for (const p of [alice, bob]) await p.context.close();
});

test('a call cancelled while the camera starts lets go of the camera as soon as it is up', async () => {
  const [alice, bob] = await pair('alice', 'bob');
  await alice.page.evaluate(() => {
    const md = navigator.mediaDevices;
    const start = md.getUserMedia.bind(md);
    const { promise, resolve } = Promise.withResolvers();
    window.releaseDevices = resolve;
    window.started = [];
    md.getUserMedia = async (c) => { await promise; const s = await start(c); window.started.push(s); return s; };
  });
  await callButton(alice.page, `bob${n}`, 'video').click();
  await bob.page.locator('#incoming-call').waitFor();
  await alice.page.locator('#cancel-call').click();
  await bob.page.locator('#incoming-call').waitFor({ state: 'detached' });
  await alice.page.evaluate(() => window.releaseDevices());
  await alice.page.waitForFunction(() => window.started.length === 1
    && window.started[0].getTracks().length === 2
    && window.started[0].getTracks().every((t) => t.readyState === 'ended'));
  assert.equal(await alice.page.evaluate(() => window.mywebrtcCalls.phase), 'idle');
  for (const p of [alice, bob]) await p.context.close();
});

test('a call that finds no network path ends with the same clear message on both sides, whichever gives up first', async () => {
  // One side's connect timer is short, the other's is far away: the side that gives up is
  // chosen by the test, not by which timer happens to fire first on a loaded machine.
  for (const quitter of ['caller', 'callee']) {
    const [alice, bob] = await pair('alice', 'bob');
    for (const [p, role] of [[alice.page, 'caller'], [bob.page, 'callee']]) {
      await p.evaluate((short) => {
        const calls = window.mywebrtcCalls;
        calls.connectTimeoutMs = short ? 1500 : 600_000;
        // No path at all: relayed candidates only, and no relay to gather them from.
        calls.iceConfig.get = async () => ({ iceServers: [], iceTransportPolicy: 'relay' });
      }, role === quitter);
    }
    await callButton(alice.page, `bob${n}`, 'video').click();
    await bob.page.locator('#accept-video').click();
    for (const p of [alice.page, bob.page]) {
      await endedWith(p, 'Could not connect: no network path between you.');
      assert.equal(await p.evaluate(() => window.mywebrtcCalls.phase), 'idle', quitter);
      assert.equal(await p.evaluate(() => window.mywebrtcCalls.peerConnection), null, quitter);
    }
    // The call history of both keeps why.
    for (const p of [alice.page, bob.page]) {
      const history = await p.evaluate(async () => (await fetch('/api/v1/calls')).json());
      assert.equal(history[0].reason, 'connect_failed', quitter);
    }
    for (const p of [alice, bob]) await p.context.close();
  }
});

test('the connect timeout counts from the answer, not from the ringing', async () => {
  const [alice, bob] = await pair('alice', 'bob');
  await alice.page.evaluate(() => { window.mywebrtcCalls.connectTimeoutMs = 1000; });
  await callButton(alice.page, `bob${n}`, 'video').click();
  await bob.page.locator('#incoming-call').waitFor();
  // It rings longer than the connect timeout (and shorter than the 6 s ring timeout).
  await bob.page.waitForTimeout(1500);
  assert.equal(await alice.page.evaluate(() => window.mywebrtcCalls.phase), 'outgoing');
  // From the answer on, the connection gets all the time a loaded machine may need: this
  // test is about the ringing, not about how fast a call connects.
  await alice.page.evaluate(() => { window.mywebrtcCalls.call.connectTimeoutMs = 600_000; });
  await bob.page.locator('#accept-video').click();
  const b = await waitMedia(bob.page);
  assert.ok(b.frames > 0, JSON.stringify(b));
  await alice.page.locator('#hangup').click();
  for (const p of [alice, bob]) await p.context.close();
});

test('a network change restarts ICE through the server and the media keeps flowing', async () => {
  const [alice, bob] = await pair('alice', 'bob');
  await callButton(alice.page, `bob${n}`, 'video').click();
  await bob.page.locator('#accept-video').click();
  await waitMedia(alice.page);
  await waitMedia(bob.page);
  const ufrag = (p) => p.evaluate(() => /a=ice-ufrag:(\S+)/.exec(window.mywebrtcCalls.peerConnection.localDescription.sdp)?.[1]);
  const before = { alice: await ufrag(alice.page), bob: await ufrag(bob.page) };
  // Either side may notice the change; here the callee, the polite side, which then offers.
  await bob.page.evaluate(() => window.dispatchEvent(new Event('online')));
  for (const [p, old] of [[alice.page, before.alice], [bob.page, before.bob]]) {
    await p.waitForFunction((u) => {
      const pc = window.mywebrtcCalls.peerConnection;
      return pc.signalingState === 'stable' && !pc.localDescription.sdp.includes(`a=ice-ufrag:${u}\r`);
    }, old);
  }
  const frames = (await inbound(alice.page)).frames;
  await waitForAsync(alice.page, async (f) => {
    let now = 0;
    (await window.mywebrtcCalls.peerConnection.getStats()).forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') now += s.framesDecoded || 0; });
    return now > f && window.mywebrtcCalls.peerConnection.connectionState === 'connected';
  }, frames);
  await alice.page.locator('#hangup').click();
  for (const p of [alice, bob]) await p.context.close();
});

test('decline, cancel, no answer (missed call for the callee) and busy', async () => {
  const [alice, bob, carol] = await pair('alice', 'bob', 'carol');
  const bobName = `bob${n}`;
  const aliceName = `alice${n}`;
  // declined
  await callButton(alice.page, bobName, 'audio').click();
  await bob.page.locator('#decline-call').click();
  await endedWith(alice.page, 'Call declined');
  // cancelled by the caller
  await callButton(alice.page, bobName, 'audio').click();
  await bob.page.locator('#incoming-call').waitFor();
  await alice.page.locator('#cancel-call').click();
  await endedWith(bob.page, 'Caller hung up');
  // no answer within the (test) ring timeout of 6 s
  await bob.page.locator('#call-ended').waitFor({ state: 'detached' });
  await callButton(alice.page, bobName, 'video').click();
  await bob.page.locator('#incoming-call').waitFor();
  await endedWith(alice.page, 'No answer');
  await bob.page.locator('#incoming-call').waitFor({ state: 'detached' });
  // bob comes back later: a missed-call notice, and the history lists the calls
  await bob.page.reload();
  await bob.page.locator('#missed-calls').waitFor();
  assert.match(await bob.page.locator('#missed-calls').textContent(), /You missed 3 calls/);
  await bob.page.locator('#missed-calls a').click();
  await bob.page.locator('#call-history li.missed').first().waitFor();
  assert.equal(await bob.page.locator('#call-history li.missed').count(), 3);
  // busy: bob is in a call with alice when carol calls him
  await bob.page.getByRole('link', { name: 'Contacts' }).click();
  await befriend(carol.page, bob.page);
  await callButton(alice.page, bobName, 'audio').click();
  await bob.page.locator('#accept-audio').click();
  await waitMedia(alice.page, { video: false });
  await callButton(carol.page, bobName, 'audio').click();
  await endedWith(carol.page, 'Busy — in another call');
  await bob.page.waitForTimeout(300);
  assert.equal(await bob.page.locator('#incoming-call').count(), 0, 'bob was not disturbed');
  await alice.page.locator('#hangup').click();
  await bob.page.locator('#call-ended').waitFor();
  // bob's history shows his side of the calls with alice
  const history = await bob.page.evaluate(async () => (await fetch('/api/v1/calls')).json());
  assert.ok(history.some((c) => c.other?.username === aliceName && c.answered && c.direction === 'received'));
  for (const p of [alice, bob, carol]) await p.context.close();
});

test('two devices ring; accepting on one stops the other', async () => {
  const [alice, bob] = await pair('alice', 'bob');
  const bobName = `bob${n}`;
  const bob2 = await env.server.userPage(env.browser, bobName, { create: false });
  await bob2.page.locator('#connection[data-state="open"]').waitFor({ state: 'attached' });
  await callButton(alice.page, bobName, 'video').click();
  await bob.page.locator('#incoming-call').waitFor();
  await bob2.page.locator('#incoming-call').waitFor();
  const tone = (p) => p.page.evaluate(() => [window.mywebrtcCalls.tone.kind, window.mywebrtcCalls.tone.playing.length > 0]);
  // Both devices ring; the caller hears ringback.
  assert.deepEqual(await tone(bob), ['ring', true]);
  assert.deepEqual(await tone(bob2), ['ring', true]);
  await alice.page.waitForFunction(() => window.mywebrtcCalls.tone.kind === 'ringback');
  assert.deepEqual(await tone(alice), ['ringback', true]);
  await bob2.page.locator('#accept-video').click();
  await endedWith(bob.page, 'Answered on another device');
  await alice.page.locator('#in-call').waitFor();
  for (const p of [alice, bob, bob2]) assert.deepEqual(await tone(p), [null, false], 'every tone stops');
  assert.equal(await bob.page.locator('#in-call').count(), 0);
  await waitMedia(bob2.page);
  await alice.page.locator('#hangup').click();
  await bob2.page.locator('#in-call').waitFor({ state: 'detached' });
  for (const p of [alice, bob, bob2]) await p.context.close();
});

test('mute and camera-off disable the tracks and the other side is told', async () => {
  const [alice, bob] = await pair('alice', 'bob');
  await callButton(alice.page, `bob${n}`, 'video').click();
  await bob.page.locator('#accept-video').click();
  await waitMedia(alice.page);
  await alice.page.locator('#toggle-mic').click();
  await alice.page.locator('#toggle-camera').click();
  const enabled = await alice.page.evaluate(() =>
    window.mywebrtcCalls.call.local.stream.getTracks().map((t) => `${t.kind}:${t.enabled}`).sort().join(','));
  assert.equal(enabled, 'audio:false,video:false');
  await bob.page.locator('#remote-muted:not([hidden])').waitFor();
  assert.match(await bob.page.locator('#remote-muted').textContent(), /microphone off, camera off/);
  // Any later change of the call manager's state updates the call screen in place: what it
  // shows (the remote-mute line, the playing videos) stays.
  const video = await bob.page.locator('#remote-video').elementHandle();
  await bob.page.evaluate(() => window.mywebrtcCalls.changed());
  assert.ok(await bob.page.locator('#remote-muted').isVisible(), 'remote-mute line still shown');
  assert.match(await bob.page.locator('#remote-muted').textContent(), /microphone off, camera off/);
  assert.ok(await bob.page.evaluate((v) => v?.isConnected && document.querySelector('#remote-video') === v, video), 'same video element');
  await alice.page.locator('#toggle-mic').click();
  await bob.page.waitForFunction(() => !/microphone/.test(document.querySelector('#remote-muted')?.textContent || ''));
  await alice.page.locator('#hangup').click();
  for (const p of [alice, bob]) await p.context.close();
});

test('audio-only call sends no video', async () => {
  const [alice, bob] = await pair('alice', 'bob');
  await callButton(alice.page, `bob${n}`, 'audio').click();
  await bob.page.locator('#accept-audio').click();
  const got = await waitMedia(bob.page, { video: false });
  assert.equal(got.videoInbound, 0);
  for (const p of [alice, bob]) {
    const sendingVideo = await p.page.evaluate(() =>
      window.mywebrtcCalls.peerConnection.getTransceivers().filter((t) => t.sender.track?.kind === 'video').length);
    assert.equal(sendingVideo, 0);
  }
  await alice.page.locator('#hangup').click();
  for (const p of [alice, bob]) await p.context.close();
});

test('a device whose camera and microphone are refused answers receive-only and still sees and hears', async () => {
  const refused = await launchBrowser({ grantMedia: false });
  try {
    n += 1;
    const alice = await env.server.userPage(env.browser, `alice${n}`);
    const bob = await env.server.userPage(refused, `bob${n}`);
    await befriend(alice.page, bob.page);
    await callButton(alice.page, `bob${n}`, 'video').click();
    await bob.page.locator('#accept-video').click();
    await bob.page.locator('#in-call').waitFor();
    // The notice appears in the call screen once the refused device start is known.
    await bob.page.locator('#call-notice').waitFor({ state: 'visible' });
    assert.match(await bob.page.locator('#call-notice').textContent(), /permission refused|no camera/);
    const b = await waitMedia(bob.page);
    assert.ok(b.frames > 0, 'sees alice');
    const sent = await bob.page.evaluate(() => window.mywebrtcCalls.call.local.stream.getTracks().length);
    assert.equal(sent, 0, 'sends nothing');
    // and has told alice so: the call is renegotiated to receive-only on bob's side
    await bob.page.waitForFunction(() => window.mywebrtcCalls.peerConnection.getTransceivers()
      .every((t) => t.currentDirection === 'recvonly'));
    // the rest of the app keeps working
    assert.equal(await bob.page.locator('#contact-list li.contact').count(), 1);
    await alice.page.locator('#hangup').click();
    await bob.page.locator('#in-call').waitFor({ state: 'detached' });
    for (const p of [alice, bob]) await p.context.close();
  } finally {
    await refused.close();
  }
});

test('switching camera and microphone mid-call replaces the tracks; the other side keeps decoding; the speaker choice applies', async () => {
  // Three fake cameras: Chromium's second fake camera is a depth camera (16-bit grey) that
  // no video encoder takes, so a call switched to it sends nothing; the third is an ordinary one.
  const cams = await launchBrowser({ devices: 3 });
  try {
    n += 1;
    const alice = await env.server.userPage(cams, `alice${n}`);
    const bob = await env.server.userPage(env.browser, `bob${n}`);
    await befriend(alice.page, bob.page);
    await callButton(alice.page, `bob${n}`, 'video').click();
    await bob.page.locator('#accept-video').click();
    await waitMedia(bob.page);
    const sending = (kind) => alice.page.evaluate((k) => window.mywebrtcCalls.peerConnection.getSenders()
      .find((s) => s.track?.kind === k)?.track?.label, kind);
    assert.equal(await sending('video'), 'fake_device_0');
    const camera = alice.page.locator('#in-call select[aria-label="Camera"]');
    assert.equal(await camera.locator('option').count(), 3);
    await camera.selectOption({ index: 2 });
    await alice.page.waitForFunction(() => window.mywebrtcCalls.peerConnection.getSenders()
      .some((s) => s.track?.kind === 'video' && s.track.label === 'fake_device_2'));
    const mic = alice.page.locator('#in-call select[aria-label="Microphone"]');
    const micLabel = await mic.locator('option').nth(2).textContent();
    await mic.selectOption({ index: 2 });
    await alice.page.waitForFunction((l) => window.mywebrtcCalls.peerConnection.getSenders()
      .some((s) => s.track?.kind === 'audio' && s.track.label === l), micLabel);
    // Bob keeps receiving: more frames and samples after the switch, with no renegotiation needed.
    const before = await inbound(bob.page);
    await waitForAsync(bob.page, async ([f, a]) => {
      let frames = 0; let samples = 0;
      (await window.mywebrtcCalls.peerConnection.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') frames += s.framesDecoded || 0;
        if (s.type === 'inbound-rtp' && s.kind === 'audio') samples += s.totalSamplesReceived || 0;
      });
      return frames > f + 10 && samples > a;
    }, [before.frames, before.samples], { timeout: 15_000 });
    // The replaced devices were released: only one camera and one microphone track is live.
    const live = await alice.page.evaluate(() => window.mywebrtcCalls.call.local.stream.getTracks()
      .filter((t) => t.readyState === 'live').map((t) => t.kind).sort());
    assert.deepEqual(live, ['audio', 'video']);
    // The speaker choice routes the call's sound (the remote video element) to that output.
    const speaker = alice.page.locator('#in-call select[aria-label="Speaker"]');
    const outputs = await speaker.locator('option').evaluateAll((os) => os.map((o) => /** @type {HTMLOptionElement} */ (o).value));
    assert.ok(outputs.length >= 2, JSON.stringify(outputs));
    await speaker.selectOption({ index: 1 });
    await alice.page.waitForFunction((id) => /** @type {any} */ (document.querySelector('#remote-video')).sinkId === id, outputs[1]);
    await alice.page.locator('#hangup').click();
    for (const p of [alice, bob]) await p.context.close();
  } finally {
    await cams.close();
  }
});

/** In the page: what it decodes of the other side's shared screen, per getStats. */
async function screenInbound() {
  const call = window.mywebrtcCalls.call;
  const id = call?.remoteScreen.getVideoTracks()[0]?.id;
  const out = { frames: 0, width: 0, audioTracks: call?.remoteScreen.getAudioTracks().length ?? 0 };
  if (!id) return out;
  (await call.pc.getStats()).forEach((s) => {
    if (s.type === 'inbound-rtp' && s.trackIdentifier === id) { out.frames = s.framesDecoded || 0; out.width = s.frameWidth || 0; }
  });
  return out;
}

/** Waits until `page` has decoded more than `after` frames of the other side's shared screen. */
async function screenFrames(page, after = 0) {
  const deadline = Date.now() + 20_000;
  let last;
  while (Date.now() < deadline) {
    last = await page.evaluate(screenInbound);
    if (last.frames > after) return last;
    await page.waitForTimeout(200);
  }
  assert.fail(`screen frames not decoded beyond ${after}: ${JSON.stringify(last)}`);
}

/**
 * Shares alice's screen from the call screen's button and checks bob gets it as the screen
 * (large, decoded, full resolution), beside the call's own media; then the browser's own stop
 * control ends it, and bob's screen tile goes.
 */
async function shareAndStop(alice, bob) {
  await alice.page.locator('#share-screen').click();
  await alice.page.locator('#sharing-notice:not([hidden])').waitFor();
  assert.equal(await alice.page.locator('#share-screen').textContent(), 'Stop sharing');
  assert.equal(await alice.page.evaluate(() => window.mywebrtcCalls.call.screen.stream.getVideoTracks()[0].contentHint), 'detail');
  await bob.page.locator('#remote-screen:not([hidden])').waitFor();
  // Frames decoded on bob's side, at the resolution the screen was captured in (1280 wide
  // for Chromium's fake capture): resolution is kept over frame rate.
  await waitForAsync(bob.page, async () => {
    const v = /** @type {HTMLVideoElement} */ (document.querySelector('#remote-screen'));
    return v && !v.paused && v.videoWidth === 1280;
  }, null, { timeout: 20_000 });
  const seen = await screenFrames(bob.page);
  assert.equal(seen.width, 1280, JSON.stringify(seen));
  assert.equal(seen.audioTracks, 1, 'the tab audio came along');
  // Still decoding as time passes.
  await screenFrames(bob.page, seen.frames + 5);
  // The receiver can switch between fit and fill.
  await bob.page.locator('#screen-fit').click();
  assert.equal(await bob.page.locator('#remote-screen').evaluate((v) => getComputedStyle(v).objectFit), 'cover');
  await bob.page.locator('#screen-fit').click();
  assert.equal(await bob.page.locator('#remote-screen').evaluate((v) => getComputedStyle(v).objectFit), 'contain');

  // The browser's own "Stop sharing" control ends the captured track (a track stopped by the
  // page itself fires no `ended`; the browser's control does, as here).
  await alice.page.evaluate(() => {
    const t = window.mywebrtcCalls.call.screen.stream.getVideoTracks()[0];
    t.stop();
    t.dispatchEvent(new Event('ended'));
  });
  await alice.page.locator('#sharing-notice[hidden]').waitFor({ state: 'attached' });
  assert.equal(await alice.page.locator('#share-screen').textContent(), 'Share screen');
  await bob.page.locator('#remote-screen[hidden]').waitFor({ state: 'attached' });
  // Every capture track is released, and the screen's transceivers are gone on both sides.
  assert.equal(await alice.page.evaluate(() => window.mywebrtcCalls.call.screen), null);
  for (const p of [alice.page, bob.page]) {
    await p.waitForFunction(() => {
      const { pc, main } = window.mywebrtcCalls.call;
      return pc.signalingState === 'stable' && pc.getTransceivers()
        .every((t) => t === main.audio || t === main.video || t.currentDirection === 'stopped');
    });
  }
}

test('screen sharing in a video call: shown large on the other side, decoded, stopped from the browser\'s control', async () => {
  const [alice, bob] = await pair('alice', 'bob');
  await callButton(alice.page, `bob${n}`, 'video').click();
  await bob.page.locator('#accept-video').click();
  await waitMedia(alice.page);
  await waitMedia(bob.page);
  await shareAndStop(alice, bob);
  // The camera video kept flowing throughout and still does.
  const before = (await inbound(bob.page)).frames;
  await waitForAsync(bob.page, async (f) => {
    let frames = 0;
    (await window.mywebrtcCalls.peerConnection.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video' && s.trackIdentifier === window.mywebrtcCalls.call.remote.getVideoTracks()[0]?.id) frames = s.framesDecoded || 0;
    });
    return frames > f;
  }, before);
  // The other side can share next (the callee, the polite peer), and the first again.
  await shareAndStop(bob, alice);
  await alice.page.locator('#hangup').click();
  for (const p of [alice, bob]) await p.context.close();
});

test('screen sharing in an audio-only call adds a video path for the screen', async () => {
  const [alice, bob] = await pair('alice', 'bob');
  await callButton(alice.page, `bob${n}`, 'audio').click();
  await bob.page.locator('#accept-audio').click();
  await waitMedia(bob.page, { video: false });
  await waitMedia(alice.page, { video: false });
  // The callee shares: it has no camera in this call at all.
  await shareAndStop(bob, alice);
  const got = await inbound(alice.page);
  assert.ok(got.samples > 0, JSON.stringify(got));
  await alice.page.locator('#hangup').click();
  for (const p of [alice, bob]) await p.context.close();
});
