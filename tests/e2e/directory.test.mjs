// Sign-in with the organisation's directory: a real OpenLDAP (started by testkit's
// ldap-fixture on free loopback ports, StartTLS on a test CA), a directory user signing in
// through the login page and calling a local user.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test, startServer, startFixture, launchBrowser, login, befriend, pageApi } from './harness.mjs';
import { waitMedia } from './media.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const FIXTURE = process.env.E2E_LDAP_FIXTURE || resolve(here, '../../target/debug/ldap-fixture');

/** @type {any} */
const env = {};

before(async () => {
  env.ldapDir = mkdtempSync(join(tmpdir(), 'mywebrtc-ldap-'));
  // The fixture runs slapd until its stdin closes.
  env.fixture = await startFixture(FIXTURE, [env.ldapDir]);
  const info = env.fixture.info;
  env.server = await startServer({
    config: `[ldap]
url = ${JSON.stringify(info.ldap_url)}
ca_file = ${JSON.stringify(info.ca_file)}
bind_dn = ${JSON.stringify(info.service_dn)}
bind_password = ${JSON.stringify(info.service_pw)}
user_base = ${JSON.stringify(`ou=people,${info.base}`)}
access_group = ${JSON.stringify(info.users_group)}
admin_group = ${JSON.stringify(info.admins_group)}
`,
  });
  env.browser = await launchBrowser();
});

after(async () => {
  await env.browser?.close();
  await env.server?.dispose();
  await env.fixture?.stop();
  if (env.ldapDir) rmSync(env.ldapDir, { recursive: true, force: true });
});

/** A browser context on the login page. */
async function loginPage() {
  const context = await env.browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  await page.goto(env.server.url);
  await page.locator('#login-form').waitFor();
  return { context, page };
}

test('a directory user signs in through the login page and calls a local user', async () => {
  const local = await env.server.userPage(env.browser, 'localcarl');
  const { context, page } = await loginPage();

  // A wrong directory password gets the usual answer.
  await login(page, 'alice', 'not-her-password');
  await page.locator('#login-form [role=alert]', { hasText: 'Wrong username or password.' }).waitFor();
  await login(page, 'alice', 'alice-directory-pw');
  await page.locator('#whoami').waitFor();
  assert.match(await page.locator('#whoami').textContent(), /Alice Archer/);
  // Her password belongs to the directory: the password page says so instead of a form.
  await page.locator('#nav-password').click();
  await page.locator('#password-managed').waitFor();
  assert.equal(await page.locator('#pw-current').count(), 0);
  await page.locator('#nav-home').click();

  await befriend(page, local.page);
  await page.locator('#contact-list li[data-username="localcarl"] button.call-video').click();
  await local.page.locator('#incoming-call').waitFor();
  assert.match(await local.page.locator('#incoming-call .call-title').textContent(), /Alice Archer/);
  await local.page.locator('#accept-video').click();
  const a = await waitMedia(page);
  const b = await waitMedia(local.page);
  assert.ok(a.frames > 0 && b.frames > 0 && a.samples > 0 && b.samples > 0, JSON.stringify({ a, b }));
  await local.page.locator('#hangup').click();
  await page.locator('#in-call').waitFor({ state: 'detached' });
  await context.close();
  await local.context.close();
});

test('the directory decides who gets in and who is admin; the admin page shows where accounts come from', async () => {
  const { context, page } = await loginPage();
  await login(page, 'carol', 'carol-directory-pw');
  await page.locator('#login-form [role=alert]', { hasText: 'not permitted to use this service' }).waitFor();

  await login(page, 'bob', 'bob-directory-pw');
  await page.locator('#nav-admin').click();
  await page.locator('#user-rows tr[data-username="alice"]').waitFor();
  assert.equal(await page.locator('#user-rows tr[data-username="alice"] td.source').textContent(), 'directory');
  assert.equal(await page.locator('#user-rows tr[data-username="localcarl"] td.source').textContent(), 'local');
  const me = await pageApi(page, 'GET', '/session');
  assert.equal(me.account_source, 'directory');
  assert.equal(me.user.is_admin, true);
  await context.close();
});
