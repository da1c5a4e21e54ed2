// Chat between real browsers through the real server: offline delivery, receipts, typing,
// edit/delete, hostile text shown literally, groups with removal, and retry after a network cut.
import assert from 'node:assert/strict';
import { test, useServerAndBrowser, befriend, openConversation } from './harness.mjs';

const env = useServerAndBrowser();

const HOSTILE = [
  '<img src=x onerror="window.__pwned=1">',
  '<script>window.__pwned=2</script>',
  '[click](javascript:window.__pwned=3) javascript:window.__pwned=4',
  '\u202Eevil\u200B zero-width',
].join(' ');

/** Opens the chat with `username` from the contact list. */
async function chatWith(page, username) {
  await page.locator(`#contact-list li[data-username="${username}"] button.chat-with`).click();
  await page.locator('#conversation').waitFor();
}

/** Sends a message through the composer and waits until the server stored it. */
async function sendText(page, text) {
  const before = await page.locator('#messages li.msg.mine[data-msg-id]').count();
  await page.locator('#message-input').fill(text);
  await page.locator('#message-input').press('Enter');
  await page.waitForFunction((n) => document.querySelectorAll('#messages li.msg.mine[data-msg-id]').length > n, before);
}

const lastText = (page) => page.locator('#messages li.msg[data-msg-id] .text').last();

test('offline delivery, unread count, literal text, links, read receipt, typing, edit and delete', async () => {
  const alice = await env.server.userPage(env.browser, 'alice');
  const bob = await env.server.userPage(env.browser, 'bob');
  await befriend(alice.page, bob.page);
  await bob.context.close();

  await chatWith(alice.page, 'bob');
  await sendText(alice.page, HOSTILE);
  await sendText(alice.page, 'see https://example.org/a?b=1, then tell me');
  assert.equal(await alice.page.locator('#messages li.msg.mine').last().getAttribute('data-state'), 'stored');

  // Bob comes back later: the unread count shows before he opens anything.
  const bob2 = await env.server.userPage(env.browser, 'bob', { create: false });
  await bob2.page.locator('#unread-total:not([hidden])').waitFor();
  assert.equal(await bob2.page.locator('#unread-total').textContent(), '2');
  await bob2.page.waitForFunction(() => document.title.startsWith('(2)'));
  // Reaching his device counts as delivered, before he reads anything.
  await alice.page.locator('#messages li.msg.mine[data-state="delivered"]').nth(1).waitFor();
  await openConversation(bob2.page);
  await bob2.page.locator('#messages li.msg[data-msg-id]').nth(1).waitFor();

  // Shown literally, nothing ran; the http(s) URL is a link, the javascript: one is not.
  const texts = await bob2.page.locator('#messages li.msg[data-msg-id] .text').allTextContents();
  assert.deepEqual(texts, [HOSTILE, 'see https://example.org/a?b=1, then tell me']);
  assert.equal(await bob2.page.evaluate(() => /** @type {any} */ (window).__pwned), undefined);
  assert.equal(await bob2.page.locator('#messages img, #messages script').count(), 0);
  const links = await bob2.page.locator('#messages a').evaluateAll((as) => as.map((a) => /** @type {HTMLAnchorElement} */ (a).href));
  assert.deepEqual(links, ['https://example.org/a?b=1']);

  // Bob read them: alice's messages turn "read"; his unread count is gone.
  await alice.page.locator('#messages li.msg.mine[data-state="read"]').nth(1).waitFor();
  await bob2.page.locator('#unread-total[hidden]').waitFor({ state: 'attached' });

  // Typing, then a live reply.
  await bob2.page.locator('#message-input').pressSequentially('hm');
  await alice.page.waitForFunction(() => /bob is typing/i.test(document.querySelector('#typing')?.textContent || ''));
  await sendText(bob2.page, 'got it');
  await alice.page.waitForFunction(() => [...document.querySelectorAll('#messages .text')].some((t) => t.textContent === 'got it'));

  // Alice edits her link message and deletes the hostile one; bob sees both, live.
  const mine = alice.page.locator('#messages li.msg.mine[data-msg-id]');
  await mine.nth(1).locator('button.edit').click();
  await alice.page.locator('#messages .edit-input').fill('see https://example.org/b instead');
  await alice.page.locator('#messages button.save-edit').click();
  await mine.nth(0).locator('button.delete').click();
  await bob2.page.waitForFunction(() => [...document.querySelectorAll('#messages li.msg')].some((li) =>
    li.querySelector('.text')?.textContent === 'see https://example.org/b instead' && li.querySelector('.edited')));
  await bob2.page.locator('#messages li.msg.deleted').waitFor();
  assert.equal(await bob2.page.locator('#messages li.msg.deleted .text').textContent(), 'Message deleted');
  for (const p of [alice, bob2]) await p.context.close();
});

test('a group of three; a removed member stops receiving', async () => {
  const [carl, dana, erin] = [
    await env.server.userPage(env.browser, 'carl'),
    await env.server.userPage(env.browser, 'dana'),
    await env.server.userPage(env.browser, 'erin'),
  ];
  await befriend(carl.page, dana.page);
  await befriend(carl.page, erin.page);
  await carl.page.locator('#nav-chat').click();
  await carl.page.locator('#new-group').click();
  await carl.page.locator('#group-name').fill('Ward 3 <b>night</b>');
  for (const u of ['dana', 'erin']) await carl.page.locator(`.group-members input[data-username="${u}"]`).check();
  await carl.page.locator('#create-group').click();
  await carl.page.locator('#conv-title', { hasText: 'Ward 3 <b>night</b>' }).waitFor();
  await sendText(carl.page, 'handover at 7');

  for (const p of [dana, erin]) {
    await openConversation(p.page, 'Ward 3');
    await p.page.waitForFunction(() => [...document.querySelectorAll('#messages .text')].some((t) => t.textContent === 'handover at 7'));
  }
  // A member who does not own the group has no "Remove people", and nothing in its place.
  assert.equal(await dana.page.locator('#remove-member').count(), 0);
  assert.doesNotMatch(await dana.page.locator('#leave-group').locator('..').textContent(), /null/);
  await sendText(erin.page, 'ok from erin');
  await dana.page.waitForFunction(() => [...document.querySelectorAll('#messages .text')].some((t) => t.textContent === 'ok from erin'));
  // The owner removes erin: her list loses the group at once, and she gets nothing more.
  await carl.page.locator('#remove-member').click();
  await carl.page.locator('#member-picker').selectOption({ label: 'erin' });
  await carl.page.locator('#member-picker-ok').click();
  await erin.page.waitForFunction(() => !document.querySelector('#conversation-list li.conv'));
  await sendText(carl.page, 'after erin left');
  await dana.page.waitForFunction(() => [...document.querySelectorAll('#messages .text')].some((t) => t.textContent === 'after erin left'));
  const erinSaw = await erin.page.evaluate(() => document.body.textContent || '');
  assert.ok(!erinSaw.includes('after erin left'));
  for (const p of [carl, dana, erin]) await p.context.close();
});

test('a message written while the network is down is sent once it is back, exactly once', async () => {
  const fay = await env.server.userPage(env.browser, 'fay');
  const gus = await env.server.userPage(env.browser, 'gus');
  await befriend(fay.page, gus.page);
  await chatWith(fay.page, 'gus');
  await gus.page.locator('#nav-chat').click();

  // Offline blocks new connections; the open socket is then cut as a network loss would.
  await fay.context.setOffline(true);
  await fay.page.evaluate(() => /** @type {any} */ (window).mywebrtcCalls.sig.ws.close(4999, 'test: network lost'));
  await fay.page.locator('#connection:not([data-state="open"])').waitFor({ state: 'attached' });
  await fay.page.locator('#message-input').fill('written offline');
  await fay.page.locator('#message-input').press('Enter');
  await fay.page.locator('#messages li.msg.pending[data-state="sending"]').waitFor();
  await fay.context.setOffline(false);
  await fay.page.locator('#messages li.msg.mine[data-msg-id]').waitFor();
  assert.equal(await fay.page.locator('#messages li.msg.pending').count(), 0);

  await openConversation(gus.page);
  await gus.page.waitForFunction(() => [...document.querySelectorAll('#messages .text')].some((t) => t.textContent === 'written offline'));
  const copies = await gus.page.locator('#messages .text', { hasText: 'written offline' }).count();
  assert.equal(copies, 1);
  for (const p of [fay, gus]) await p.context.close();
});
