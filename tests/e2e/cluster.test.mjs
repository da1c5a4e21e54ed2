// Two nodes of a cluster (testkit's cluster-fixture: a real PostgreSQL and a real NATS on free
// loopback ports): a user signed in on one node and a user signed in on the other become
// contacts, see each other online, chat, and call each other with video and audio decoded on
// both sides.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, startFixture, launchBrowser, befriend } from './harness.mjs';
import { waitMedia } from './media.mjs';

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
