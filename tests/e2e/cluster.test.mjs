// Two nodes of a cluster (testkit's cluster-fixture: a real PostgreSQL and a real NATS on free
// loopback ports): a user signed in on one node and a user signed in on the other become
// contacts, see each other online, chat, and call each other with video and audio decoded on
// both sides; a group call with people on both nodes, in which everyone decodes everyone, and
// which starts again on the surviving node when the node holding it is killed; a 1:1 call
// through load balancers that outlives the node holding it, killed or stopped for an upgrade.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test, startServer, startFixture, launchBrowser, befriend, pageApi, openConversation, login } from './harness.mjs';
import { waitMedia, roomDecoded, eventually, inbound } from './media.mjs';
import { startBalancer } from './balancer.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const FIXTURE = process.env.E2E_CLUSTER_FIXTURE || resolve(here, '../../target/debug/cluster-fixture');

/** @type {any} */
const env = {};

before(async () => {
  env.fixture = await startFixture(FIXTURE);
  const info = env.fixture.info;
  const node = (name) => `[store]\nurl = ${JSON.stringify(info.db_url)}\n[cluster]\nnats_url = ${JSON.stringify(info.nats_url)}\nnode_name = "${name}"\n`;
  env.n1 = await startServer({ config: node('n1') });
  env.n2 = await startServer({ config: node('n2') });
  env.browser = await launchBrowser();
});

after(async () => {
  await env.browser?.close();
  await env.n1?.dispose();
  await env.n2?.dispose();
  await env.fixture?.stop();
});

test('users on two nodes see each other online, chat, and call with video and audio decoded on both sides', async () => {
  const alice = await env.n1.userPage(env.browser, 'alice');
  // Accounts live in the one database: bob is created through node 2's CLI and signs in there.
  const bob = await env.n2.userPage(env.browser, 'bob');
  await befriend(alice.page, bob.page);

  await alice.page.locator('#contact-list li[data-username="bob"] button.call-video').click();
  await bob.page.locator('#incoming-call').waitFor();
  await bob.page.locator('#accept-video').click();
  await alice.page.locator('#in-call').waitFor();
  await bob.page.locator('#in-call').waitFor();
  const a = await waitMedia(alice.page);
  const b = await waitMedia(bob.page);
  assert.ok(a.frames > 0 && b.frames > 0 && a.samples > 0 && b.samples > 0, JSON.stringify({ a, b }));
  await alice.page.locator('#hangup').click();
  await bob.page.locator('#in-call').waitFor({ state: 'detached' });

  // A chat message from node 1 appears on node 2, delivered there and marked so on node 1.
  await alice.page.locator('#contact-list li[data-username="bob"] button.chat-with').click();
  await alice.page.locator('#conversation').waitFor();
  await alice.page.locator('#message-input').fill('hello across nodes');
  await alice.page.locator('#message-input').press('Enter');
  await bob.page.locator('#contact-list li[data-username="alice"] button.chat-with').click();
  await bob.page.locator('#messages li.msg[data-msg-id] .text', { hasText: 'hello across nodes' }).waitFor();
  await alice.page.locator('#messages li.msg.mine[data-state="delivered"], #messages li.msg.mine[data-state="read"]').first().waitFor();
  for (const p of [alice, bob]) await p.context.close();
});

/** This page's participant id in its group call, once welcomed (a new one after a rejoin). */
async function participantOf(page, not = 0) {
  await page.waitForFunction((n) => (window.mywebrtcRooms.current?.participant ?? 0) > 0
    && window.mywebrtcRooms.current.participant !== n, not, { timeout: 60_000 });
  return page.evaluate(() => window.mywebrtcRooms.current.participant);
}

/** Waits until `page` decodes video and audio from each of `others` (participant ids). */
function decodesAll(page, others) {
  return eventually(async () => {
    const d = await roomDecoded(page);
    return others.every((p) => d[p] && d[p].frames > 0 && d[p].samples > 0) && d;
  }, { timeout: 60_000, what: `decoding ${others}` });
}

// It kills node 1 (the next test starts it again).
test('a group call with people on two nodes: everyone decodes everyone; killed with its node, it starts again on the other', async () => {
  const gina = await env.n1.userPage(env.browser, 'gina');
  const hank = await env.n2.userPage(env.browser, 'hank');
  const iris = await env.n2.userPage(env.browser, 'iris');
  await befriend(gina.page, hank.page);
  await befriend(gina.page, iris.page);
  const ids = [];
  for (const p of [hank, iris]) ids.push((await pageApi(p.page, 'GET', '/session')).user.id);
  const conv = await pageApi(gina.page, 'POST', '/conversations', { kind: 'group', name: 'Across', members: ids });
  for (const p of [gina, hank, iris]) await openConversation(p.page, conv.id);
  // Gina starts it on node 1; hank and iris, on node 2, are rung there and join.
  await gina.page.locator('#start-room').click();
  await gina.page.locator('#room').waitFor();
  for (const p of [hank, iris]) {
    await p.page.locator('#room-incoming').waitFor();
    await p.page.locator('#room-join-video').click();
    await p.page.locator('#room').waitFor();
  }
  const [g, h, i] = [await participantOf(gina.page), await participantOf(hank.page), await participantOf(iris.page)];
  await decodesAll(gina.page, [h, i]);
  await decodesAll(hank.page, [g, i]);
  await decodesAll(iris.page, [g, h]);

  // The call runs on node 1: the least loaded when it started (one socket against two).
  await eventually(async () => /^mywebrtc_sfu_participants 3(\.0)?$/m.test(await (await fetch(env.n1.metricsUrl)).text()),
    { what: 'the call on node 1' });
  // Kill node 1: hank and iris, connected to node 2, join again by themselves, there, and
  // decode each other again.
  await env.n1.kill9();
  const [h2, i2] = [await participantOf(hank.page, h), await participantOf(iris.page, i)];
  await decodesAll(hank.page, [i2]);
  await decodesAll(iris.page, [h2]);
  await eventually(async () => /^mywebrtc_sfu_participants 2(\.0)?$/m.test(await (await fetch(env.n2.metricsUrl)).text()),
    { what: 'the call on node 2' });
  for (const p of [gina, hank, iris]) await p.context.close();
});

/** A new browser context signed in as `name` through `url` (a balancer). */
async function pageVia(url, name) {
  const context = await env.browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  await page.goto(url);
  await login(page, name);
  await page.locator('#whoami').waitFor();
  return { context, page };
}

/** Whether a node's metrics say it hears `n` other nodes. */
async function hears(server, n) {
  return new RegExp(`^mywebrtc_cluster_nodes ${n}(\\.0)?$`, 'm').test(await (await fetch(server.metricsUrl)).text());
}

for (const [how, caller, callee] of [['killed', 'jack', 'kate'], ['stopped', 'liam', 'mona']]) {
  test(`a 1:1 call through load balancers keeps its media when the node holding it is ${how}, and is re-attached on the other`, async () => {
    // Node 1 is back (the previous test killed it); both nodes hear each other.
    await env.n1.restart();
    await eventually(async () => await hears(env.n1, 1) && hears(env.n2, 1), { what: 'the two nodes hearing each other' });
    // Two balancers in front of the same two nodes, preferring one each (a node that is down
    // is skipped): the caller's tab lands on node 1, the callee's on node 2.
    const lb1 = await startBalancer(() => [env.n1.url, env.n2.url]);
    const lb2 = await startBalancer(() => [env.n2.url, env.n1.url]);
    env.n1.addUser(caller);
    env.n1.addUser(callee);
    const a = await pageVia(lb1.url, caller);
    const b = await pageVia(lb2.url, callee);
    await befriend(a.page, b.page);
    // The call is held by node 1, the caller's.
    await a.page.locator(`#contact-list li[data-username="${callee}"] button.call-video`).click();
    await b.page.locator('#accept-video').click();
    await waitMedia(a.page);
    await waitMedia(b.page);

    const before = [await inbound(a.page), await inbound(b.page)];
    // Killed, node 2 finds node 1 gone when it falls silent; stopped (SIGTERM, as for an
    // upgrade), node 1 says it is leaving before it closes its sockets.
    if (how === 'killed') await env.n1.kill9();
    else await env.n1.stop();
    // The caller's tab reconnects through its balancer, to node 2 now, and claims the call
    // back; the callee's node, finding node 1 gone, claims it for them: the call is
    // re-attached there.
    for (const p of [a.page, b.page]) {
      await p.waitForFunction(() => window.mywebrtcCalls.rejoins === 1, null, { timeout: 60_000 });
      assert.equal(await p.evaluate(() => window.mywebrtcCalls.phase), 'active');
    }
    // The media never stopped.
    for (const [i, p] of [a.page, b.page].entries()) {
      await eventually(async () => {
        const now = await inbound(p);
        return now && now.frames > before[i].frames && now.samples > before[i].samples;
      }, { what: 'media still decoded' });
    }
    // The re-attached call works: the callee hangs up on node 2, the caller's side ends.
    await b.page.locator('#hangup').click();
    await a.page.locator('#in-call').waitFor({ state: 'detached' });
    for (const p of [a, b]) await p.context.close();
    await lb1.close();
    await lb2.close();
  });
}
