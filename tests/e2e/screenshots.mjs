// Regenerates docs/screenshots/*.png: the contact list, the incoming-call panel and the call
// screen, on desktop and phone sizes. Run: node tests/e2e/screenshots.mjs (after cargo build).
import { mkdirSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, launchBrowser, befriend } from './harness.mjs';

const out = resolve(dirname(fileURLToPath(import.meta.url)), '../../docs/screenshots');
mkdirSync(out, { recursive: true });
const server = await startServer();
const browser = await launchBrowser();
try {
  server.cli(['user', 'add', 'alice', '--display-name', 'Alice Martin', '--password-stdin'], 'correct horse battery\n');
  server.cli(['user', 'add', 'bob', '--display-name', 'Bob Keller', '--password-stdin'], 'correct horse battery\n');
  const alice = await server.userPage(browser, 'alice', { create: false });
  const bob = await server.userPage(browser, 'bob', { create: false });
  await alice.page.setViewportSize({ width: 1100, height: 680 });
  await bob.page.setViewportSize({ width: 390, height: 760 });
  await befriend(alice.page, bob.page);
  await alice.page.screenshot({ path: `${out}/contacts.png` });
  await alice.page.locator('#contact-list li[data-username="bob"] button.call-video').click();
  await bob.page.locator('#incoming-call').waitFor();
  await bob.page.screenshot({ path: `${out}/incoming-call-phone.png` });
  await bob.page.locator('#accept-video').click();
  await alice.page.locator('#call-state[data-state="connected"]').waitFor({ timeout: 20_000 });
  await alice.page.locator('#call-quality:not(:empty)').waitFor({ timeout: 10_000 });
  await alice.page.waitForTimeout(4500);
  await alice.page.screenshot({ path: `${out}/in-call.png` });
  await bob.page.screenshot({ path: `${out}/in-call-phone.png` });
  await alice.page.locator('#hangup').click();
  console.log(`screenshots written to ${out}`);
} finally {
  await browser.close();
  await server.dispose();
}
