// Contacts and live presence between real browsers, through the real env.server.
import assert from 'node:assert/strict';
import { test, useServerAndBrowser, waitStatus } from './harness.mjs';

const env = useServerAndBrowser();

/** The presence dot of `username` in `page`'s contact list. */
const dotOf = (page, username) => page.locator(`#contact-list li[data-username="${username}"] .dot`);


test('a contact request is pushed live; once accepted both see each other online, strangers see nothing', async () => {
  const alice = await env.server.userPage(env.browser, 'alice');
  const bob = await env.server.userPage(env.browser, 'bob');
  const carol = await env.server.userPage(env.browser, 'carol');
  for (const p of [alice, bob, carol]) await p.page.locator('#connection[data-state="open"]').waitFor({ state: 'attached' });

  await alice.page.locator('#directory-search').fill('bo');
  await alice.page.locator('#search-results li[data-username="bob"] button').click();
  await alice.page.locator('#outgoing-requests li[data-username="bob"]').waitFor();

  // bob did not reload: the request arrives over the WebSocket
  await bob.page.locator('#incoming-requests li[data-username="alice"] button.primary').click();
  await waitStatus(bob.page, 'alice', 'online');
  await waitStatus(alice.page, 'bob', 'online');

  // bob steps away, then goes do-not-disturb: alice sees both
  await bob.page.locator('#my-status').selectOption('away');
  await waitStatus(alice.page, 'bob', 'away');
  await bob.page.locator('#my-status').selectOption('dnd');
  await waitStatus(alice.page, 'bob', 'dnd');
  assert.match(await alice.page.locator('#contact-list li[data-username="bob"] .status-text').textContent(), /Do not disturb/);

  // carol is no contact of theirs: her list stays empty and she learnt nothing
  assert.equal(await carol.page.locator('#contact-list li.contact').count(), 0);

  // bob closes his tab: alice sees him offline
  await bob.context.close();
  await waitStatus(alice.page, 'bob', 'offline');
  // and a second tab of alice shows the same
  const alice2 = await env.server.userPage(env.browser, 'alice', { create: false });
  await waitStatus(alice2.page, 'bob', 'offline');
  assert.equal(await dotOf(alice2.page, 'bob').getAttribute('aria-label'), 'Offline');
  for (const p of [alice, alice2, carol]) await p.context.close();
});

test('blocking removes the contact on both sides, live', async () => {
  env.server.addUser('dora');
  env.server.addUser('ed');
  const dora = await env.server.userPage(env.browser, 'dora', { create: false });
  const ed = await env.server.userPage(env.browser, 'ed', { create: false });
  await dora.page.locator('#directory-search').fill('ed');
  await dora.page.locator('#search-results li[data-username="ed"] button').click();
  await ed.page.locator('#incoming-requests li[data-username="dora"] button.primary').click();
  await waitStatus(dora.page, 'ed', 'online');
  await ed.page.locator('#contact-list li[data-username="dora"] button.danger').click();
  await ed.page.locator('#blocked-list li[data-username="dora"]').waitFor();
  await dora.page.waitForFunction(() => !document.querySelector('#contact-list li[data-username="ed"]'));
  for (const p of [dora, ed]) await p.context.close();
});

test('a display name with markup is shown as text, never run', async () => {
  const evil = '<img src=x onerror="window.__pwned=1">';
  env.server.cli(['user', 'add', 'mallory', '--display-name', evil, '--password-stdin'], 'correct horse battery\n');
  const viewer = await env.server.userPage(env.browser, 'victor');
  await viewer.page.locator('#directory-search').fill('mallory');
  const row = viewer.page.locator('#search-results li[data-username="mallory"] strong');
  await row.waitFor();
  assert.equal(await row.textContent(), evil);
  assert.equal(await viewer.page.evaluate(() => window.__pwned), undefined);
  assert.equal(await viewer.page.locator('#search-results img').count(), 0);
  await viewer.context.close();
});
