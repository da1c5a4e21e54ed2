// Account journeys in a real browser against the real env.server.
import assert from 'node:assert/strict';
import { test, useServerAndBrowser, login, register, PASSWORD } from './harness.mjs';

const env = useServerAndBrowser();

async function freshPage() {
  const context = await env.browser.newContext({ ignoreHTTPSErrors: true });
  return { context, page: await context.newPage() };
}

test('first-admin bootstrap link creates an admin once, then is dead', async () => {
  assert.ok(env.server.setupUrl, 'a fresh server prints a setup link');
  const { context, page } = await freshPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  await page.goto(env.server.setupUrl);
  await page.getByRole('heading', { name: 'Create the first administrator' }).waitFor();
  await register(page, 'Root', PASSWORD, 'The Admin');
  await page.locator('#whoami').waitFor();
  assert.equal(await page.locator('#whoami').textContent(), 'The Admin');
  assert.equal(new URL(page.url()).pathname, '/', 'the token is gone from the address bar');
  await page.getByRole('link', { name: 'Admin' }).waitFor();
  assert.deepEqual(errors, []);

  const second = await freshPage();
  await second.page.goto(env.server.setupUrl);
  await second.page.locator('#invite-invalid').waitFor();
  await context.close();
  await second.context.close();
});

test('admin creates a user on the admin page; the user logs in; wrong password shows an error', async () => {
  env.server.addUser('boss', { admin: true });
  const admin = await env.server.userPage(env.browser, 'boss', { create: false });
  await admin.page.getByRole('link', { name: 'Admin' }).click();
  await admin.page.locator('#new-username').fill('Carol');
  await admin.page.locator('#new-display').fill('Carol Doe');
  await admin.page.locator('#new-password').fill(PASSWORD);
  await admin.page.locator('#create-user-form button[type=submit]').click();
  await admin.page.locator('tr[data-username="carol"]').waitFor();

  const { context, page } = await freshPage();
  await page.goto(env.server.url);
  await login(page, 'carol', 'not the password');
  const alert = page.locator('#login-form [role=alert]');
  await alert.waitFor();
  assert.equal(await alert.textContent(), 'Wrong username or password.');
  await login(page, 'carol', PASSWORD);
  await page.locator('#whoami').waitFor();
  assert.equal(await page.locator('#whoami').textContent(), 'Carol Doe');
  assert.equal(await page.getByRole('link', { name: 'Admin' }).count(), 0, 'members see no admin page');
  await context.close();
  await admin.context.close();
});

test('logout ends the session for good', async () => {
  const { context, page } = await env.server.userPage(env.browser, 'dave');
  await page.locator('#logout').click();
  await page.locator('#login-form').waitFor();
  await page.reload();
  await page.locator('#login-form').waitFor();
  const status = await page.evaluate(async () => (await fetch('/api/v1/session')).status);
  assert.equal(status, 401);
  await context.close();
});

test('invite link registers a new member once; a used or expired link is refused', async () => {
  env.server.addUser('inviter', { admin: true });
  const admin = await env.server.userPage(env.browser, 'inviter', { create: false });
  await admin.page.getByRole('link', { name: 'Admin' }).click();
  await admin.page.locator('#invite-form button[type=submit]').click();
  const url = await admin.page.locator('#invite-url').inputValue();
  assert.match(url, /\/invite#[A-Za-z0-9_-]{43}$/);

  const guest = await freshPage();
  await guest.page.goto(url);
  await guest.page.getByRole('heading', { name: 'Create your account' }).waitFor();
  await register(guest.page, 'erin');
  await guest.page.locator('#whoami').waitFor();
  assert.equal(await guest.page.getByRole('link', { name: 'Admin' }).count(), 0);

  const again = await freshPage();
  await again.page.goto(url);
  await again.page.locator('#invite-invalid').waitFor();

  const shortLived = env.server.cli(['invite', 'create', '--expires-in', '1s']);
  await new Promise((r) => setTimeout(r, 2100));
  await again.page.goto(shortLived);
  await again.page.reload();
  await again.page.locator('#invite-invalid').waitFor();
  for (const p of [admin, guest, again]) await p.context.close();
});

test('devices: a session signed out from another device is gone; password change signs out the rest', async () => {
  const a = await env.server.userPage(env.browser, 'frank');
  const b = await env.server.userPage(env.browser, 'frank', { create: false });
  await a.page.getByRole('link', { name: 'Devices' }).click();
  await a.page.locator('#device-list li').nth(1).waitFor();
  assert.equal(await a.page.locator('#device-list li').count(), 2);
  await a.page.locator('#device-list li button.danger').click();
  await a.page.waitForFunction(() => document.querySelectorAll('#device-list li').length === 1);
  await b.page.reload();
  await b.page.locator('#login-form').waitFor();

  const c = await env.server.userPage(env.browser, 'frank', { create: false });
  await a.page.getByRole('link', { name: 'Password' }).click();
  await a.page.locator('#pw-current').fill(PASSWORD);
  await a.page.locator('#pw-new').fill('a brand new secret');
  await a.page.locator('#pw-new2').fill('a brand new secret');
  await a.page.locator('#password-form button[type=submit]').click();
  await a.page.locator('#password-form .ok').waitFor();
  await c.page.reload();
  await c.page.locator('#login-form').waitFor();
  await login(c.page, 'frank', 'a brand new secret');
  await c.page.locator('#whoami').waitFor();
  for (const p of [a, b, c]) await p.context.close();
});

test('a disabled account is signed out and cannot log in', async () => {
  env.server.addUser('boss2', { admin: true });
  const admin = await env.server.userPage(env.browser, 'boss2', { create: false });
  const user = await env.server.userPage(env.browser, 'gina');
  await admin.page.getByRole('link', { name: 'Admin' }).click();
  await admin.page.locator('tr[data-username="gina"] button.toggle').click();
  await admin.page.waitForFunction(() => document.querySelector('tr[data-username="gina"] td.state')?.textContent === 'disabled');
  await user.page.reload();
  await user.page.locator('#login-form').waitFor();
  await login(user.page, 'gina', PASSWORD);
  const alert = user.page.locator('#login-form [role=alert]');
  await alert.waitFor();
  assert.match(await alert.textContent(), /disabled/);
  for (const p of [admin, user]) await p.context.close();
});

test('pages carry a strict CSP and no inline script runs', async () => {
  const { context, page } = await freshPage();
  const resp = await page.goto(env.server.url);
  const csp = resp.headers()['content-security-policy'];
  // Own scripts only, no eval and no inline script; WebAssembly may be compiled (the hash of
  // file transfers), from our own files like everything else.
  assert.match(csp, /script-src 'self' 'wasm-unsafe-eval';/);
  assert.doesNotMatch(csp, /'unsafe-eval'|'unsafe-inline'/);
  assert.match(csp, /frame-ancestors 'none'/);
  const violations = [];
  page.on('console', (m) => { if (/Content Security Policy/.test(m.text())) violations.push(m.text()); });
  await page.locator('#login-form').waitFor();
  assert.deepEqual(violations, []);
  await context.close();
});
