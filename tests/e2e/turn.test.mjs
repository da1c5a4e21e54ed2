// Calls through the built-in TURN server: with `force_relay`, browsers may only use relay
// candidates, so media must flow through our relay (time-limited credentials from the server).
import assert from 'node:assert/strict';
import { test, useServerAndBrowser, befriend } from './harness.mjs';
import { waitMedia } from './media.mjs';

const env = useServerAndBrowser({ turn: 'force_relay = true' });

/** The local and remote candidate types of the page's selected candidate pair. */
function route(page) {
  return page.evaluate(async () => {
    const pc = window.mywebrtcCalls?.peerConnection;
    if (!pc) return null;
    const stats = await pc.getStats();
    let pair = null;
    stats.forEach((s) => { if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId); });
    if (!pair) return null;
    return { local: stats.get(pair.localCandidateId)?.candidateType, remote: stats.get(pair.remoteCandidateId)?.candidateType };
  });
}

test('ice-servers hands out our TURN server with time-limited credentials and the relay policy', async () => {
  const { page, context } = await env.server.userPage(env.browser, 'iris');
  const cfg = await page.evaluate(async () => (await fetch('/api/v1/ice-servers')).json());
  assert.equal(cfg.ice_transport_policy, 'relay');
  const ours = cfg.ice_servers[0];
  assert.ok(ours.urls.some((u) => u.startsWith('turn:127.0.0.1:') && u.endsWith('?transport=udp')), JSON.stringify(ours));
  // The test server's certificate is self-signed: browsers would refuse TURN over TLS.
  assert.ok(!ours.urls.some((u) => u.startsWith('turns:')), JSON.stringify(ours));
  const [expiry] = ours.username.split(':');
  assert.ok(Number(expiry) > Date.now() / 1000 && Number(expiry) === cfg.expires_at, JSON.stringify(cfg));
  await context.close();
});

test('a video call with relay-only ICE connects through our TURN and decodes audio and video', async () => {
  const alice = await env.server.userPage(env.browser, 'alma');
  const bob = await env.server.userPage(env.browser, 'bert');
  await befriend(alice.page, bob.page);
  // The ICE configuration is fetched at sign-in and kept while its credentials are young:
  // placing and answering the call fetch nothing.
  let fetches = 0;
  for (const p of [alice.page, bob.page]) {
    await p.waitForFunction(() => window.mywebrtcCalls.iceConfig.current() !== null);
    p.on('request', (r) => { if (r.url().endsWith('/api/v1/ice-servers')) fetches += 1; });
  }
  await alice.page.locator('#contact-list li[data-username="bert"] button.call-video').click();
  await bob.page.locator('#accept-video').click();
  const a = await waitMedia(alice.page);
  const b = await waitMedia(bob.page);
  assert.ok(a.frames > 0 && b.frames > 0, JSON.stringify({ a, b }));
  assert.equal(fetches, 0, 'the call used the configuration fetched ahead');
  for (const p of [alice.page, bob.page]) {
    assert.deepEqual(await route(p), { local: 'relay', remote: 'relay' });
    await p.locator('#call-route[data-relayed="true"]').waitFor({ timeout: 10_000 });
  }
  // The relayed media shows in the server's metrics.
  const metrics = await (await fetch(/** @type {string} */ (env.server.metricsUrl))).text();
  const value = (/** @type {string} */ name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1] ?? 0);
  assert.ok(value('mywebrtc_turn_allocations') >= 2, metrics);
  assert.ok(value('mywebrtc_turn_relayed_bytes_to_peers_total') > 10_000, metrics);
  assert.ok(value('mywebrtc_turn_relayed_bytes_to_clients_total') > 10_000, metrics);
  await alice.page.locator('#hangup').click();
  await bob.page.locator('#in-call').waitFor({ state: 'detached' });
  for (const p of [alice, bob]) await p.context.close();
});
