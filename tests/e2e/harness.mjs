// @ts-check
/**
 * End-to-end harness: starts the real mywebrtc binary on a free port with a throw-away data
 * directory, and drives Debian's Chromium through playwright-core. Every later feature's
 * browser tests build on this: `server.userPage(browser, name)` gives a logged-in page for
 * a fresh account, so N users are N calls.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { test as nodeTest, before, after } from 'node:test';

const here = dirname(fileURLToPath(import.meta.url));
export const BIN = process.env.E2E_SERVER_BIN || resolve(here, '../../target/debug/mywebrtc');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const PASSWORD = 'correct horse battery';

/** Flags this machine needs; fake devices stand in for camera and microphone. */
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--disable-quic', '--no-first-run',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
];

/** Every browser launched here, and every profile's context: what a failure report shows. */
const browsers = new Set();
/** @type {Set<import('playwright-core').BrowserContext>} */
const profiles = new Set();
/** Each page's last console warnings and errors, and uncaught exceptions. @type {WeakMap<import('playwright-core').Page, string[]>} */
const pageLogs = new WeakMap();

/** Keeps the last console warnings and errors of every page of `context`. @param {import('playwright-core').BrowserContext} context */
function watchContext(context) {
  const watch = (/** @type {import('playwright-core').Page} */ page) => {
    /** @type {string[]} */
    const log = [];
    pageLogs.set(page, log);
    const keep = (/** @type {string} */ line) => {
      log.push(line.slice(0, 300));
      if (log.length > 12) log.shift();
    };
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') keep(`${m.type()}: ${m.text()}`); });
    page.on('pageerror', (e) => keep(`uncaught: ${e.message}`));
  };
  context.pages().forEach(watch);
  context.on('page', watch);
}

/**
 * What every open page shows, for a failed test: its address, who is signed in, the start of
 * its text, its last console warnings and errors. On CI the output is all there is to go by.
 * @param {string} name the failed test
 */
async function reportPages(name) {
  const contexts = [...browsers].flatMap((b) => b.contexts()).concat([...profiles]);
  const pages = contexts.flatMap((c) => c.pages());
  if (pages.length === 0) return;
  const lines = [`--- ${pages.length} open page(s) when "${name}" failed ---`];
  for (const [i, page] of pages.entries()) {
    const look = page.evaluate(() => ({
      who: document.querySelector('#whoami')?.textContent ?? '',
      text: (document.body?.innerText ?? '').replace(/\s+/g, ' ').slice(0, 600),
    }));
    const state = await Promise.race([look, new Promise((r) => setTimeout(() => r(null), 2_000))]).catch(() => null);
    lines.push(`[${i + 1}] ${page.url()} ${state ? `signed in: "${state.who}"` : '(not answering)'}`);
    if (state) lines.push(`  text: ${state.text}`);
    for (const l of pageLogs.get(page) ?? []) lines.push(`  ${l}`);
  }
  console.error(lines.join('\n'));
}

/**
 * node:test's `test`, which on a failure first prints what the open pages show
 * (`reportPages`), then fails as the test did.
 * @param {string} name
 * @param {(t: import('node:test').TestContext) => Promise<void>|void} fn
 */
export function test(name, fn) {
  return nodeTest(name, async (t) => {
    try {
      await fn(t);
    } catch (e) {
      await reportPages(name).catch(() => {});
      throw e;
    }
  });
}

/**
 * @param {{ grantMedia?: boolean, devices?: number }} [o] grantMedia false: camera/microphone
 *   requests are refused, as when a user denies the permission prompt. devices: how many fake
 *   cameras and microphones the browser has (default 1).
 */
export async function launchBrowser(o = {}) {
  let args = o.grantMedia === false ? CHROMIUM_ARGS.filter((a) => a !== '--use-fake-ui-for-media-stream') : CHROMIUM_ARGS;
  if (o.devices) {
    args = args.map((a) => (a === '--use-fake-device-for-media-stream' ? `${a}=device-count=${o.devices}` : a));
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args });
  browsers.add(browser);
  browser.on('disconnected', () => browsers.delete(browser));
  const newContext = browser.newContext.bind(browser);
  browser.newContext = async (options) => {
    const context = await newContext(options);
    watchContext(context);
    return context;
  };
  return browser;
}

/**
 * A browser with its own profile on disk (`dir`), as a user's browser is. Contexts of
 * `launchBrowser` are off the record, where Chromium keeps the origin-private file system in
 * memory behind IPC (about a tenth of the speed of a profile's on disk): benchmarks of what
 * users get run here.
 * @param {string} dir
 * @returns {Promise<import('playwright-core').BrowserContext>}
 */
export async function launchProfile(dir) {
  const context = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, ignoreHTTPSErrors: true });
  profiles.add(context);
  context.on('close', () => profiles.delete(context));
  watchContext(context);
  return context;
}

/**
 * Registers the usual test-file setup: one server and one browser for all tests of the file,
 * stopped afterwards. Returns an object whose `server` and `browser` are set once `before` ran.
 * @param {Parameters<typeof startServer>[0]} [opts]
 * @returns {{ server: TestServer, browser: import('playwright-core').Browser }}
 */
export function useServerAndBrowser(opts) {
  const env = /** @type {any} */ ({});
  before(async () => {
    env.server = await startServer(opts);
    env.browser = await launchBrowser();
  });
  after(async () => {
    await env.browser?.close();
    await env.server?.dispose();
  });
  return env;
}

/** Calls the REST API from inside a logged-in page (same origin, with its CSRF token). */
export async function pageApi(page, method, path, body) {
  return page.evaluate(async ([method, path, body]) => {
    const s = await (await fetch('/api/v1/session')).json();
    const r = await fetch(`/api/v1${path}`, {
      method,
      headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrf_token },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return r.status === 204 ? null : r.json();
  }, [method, path, body]);
}

/** Makes two logged-in pages' users contacts and waits until each sees the other online. */
export async function befriend(a, b) {
  const idOf = async (p) => (await pageApi(p, 'GET', '/session')).user.id;
  const [aId, bId] = [await idOf(a), await idOf(b)];
  await pageApi(a, 'POST', '/contacts/requests', { user_id: bId });
  await pageApi(b, 'POST', `/contacts/requests/${aId}/accept`);
  const nameOf = async (p) => (await pageApi(p, 'GET', '/session')).user.username;
  await waitStatus(a, await nameOf(b), 'online');
  await waitStatus(b, await nameOf(a), 'online');
}

/**
 * Opens a conversation in `page`'s chat view: the one with id `which`, the one whose row
 * shows the text `which`, or the first. The list is rebuilt whenever something in it changes
 * (a message, a receipt, the new group's "created" line re-sorting it), and a click whose
 * press and release land on two builds of the row opens nothing: so it clicks until the row
 * is the open one.
 * @param {import('playwright-core').Page} page
 * @param {number|string} [which]
 */
export async function openConversation(page, which) {
  await page.locator('#nav-chat').click();
  const rows = page.locator('#conversation-list li.conv');
  const rowOf = (/** @type {number|string|null} */ id) => rows.and(page.locator(`[data-conv-id="${id}"]`));
  const conv = typeof which === 'number' ? which
    : await (typeof which === 'string' ? rows.filter({ hasText: which }) : rows.first()).getAttribute('data-conv-id');
  for (let i = 0; i < 10; i++) {
    await rowOf(conv).locator('button.conv-open').click();
    const open = await page.waitForFunction(
      (id) => document.querySelector(`#conversation-list li.conv.active[data-conv-id="${id}"]`),
      conv,
      { timeout: 3_000 },
    ).then(() => true, () => false);
    if (open) return;
  }
  throw new Error(`conversation ${which ?? conv} did not open`);
}

/** Waits until `page`'s contact list shows `username` with `status`. */
export async function waitStatus(page, username, status) {
  await page.waitForFunction(
    ([u, s]) => document.querySelector(`#contact-list li[data-username="${u}"] .dot`)?.getAttribute('data-status') === s,
    [username, status],
    { timeout: 15_000 },
  );
}

/**
 * Waits until `fn`, evaluated in the page, returns something truthy, and returns it. For
 * async checks (getStats): `page.waitForFunction` takes the Promise an async function
 * returns for a truthy value and does not wait for it.
 * @template T, A
 * @param {import('playwright-core').Page} page
 * @param {(arg: A) => T|Promise<T>} fn
 * @param {A} [arg]
 * @param {{timeout?: number}} [o]
 * @returns {Promise<T>}
 */
export async function waitForAsync(page, fn, arg, { timeout = 30_000 } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    last = await page.evaluate(/** @type {any} */ (fn), arg);
    if (last) return last;
    await page.waitForTimeout(250);
  }
  throw new Error(`timed out after ${timeout} ms: ${fn.toString().slice(0, 200)} (last: ${JSON.stringify(last)})`);
}

/**
 * A running server. Stop it with `stop()` (SIGTERM) or `kill9()`.
 * @typedef {Awaited<ReturnType<typeof startServer>>} TestServer
 */

/**
 * Starts the binary. Resolves once it printed its URL (and setup link, if any).
 * @param {{ dataDir?: string, config?: string, turn?: string, env?: Record<string,string>, listen?: string }} [opts]
 *   `listen`: the HTTPS address (default: a free loopback port).
 *   `config`: top-level keys and sections before `[turn]`; `turn`: extra keys of `[turn]`.
 */
/**
 * Starts one of testkit's fixture programs (a real directory, database, bus...), which prints
 * one JSON line describing it and runs until its standard input closes.
 * @param {string} bin
 * @param {string[]} args
 * @returns {Promise<{info: any, stop: () => Promise<void>}>}
 */
export async function startFixture(bin, args = []) {
  const proc = spawn(bin, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const info = await new Promise((res, rej) => {
    let out = '';
    const timer = setTimeout(() => rej(new Error(`${bin} did not start: ${out}`)), 60_000);
    proc.stdout.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line && out.includes('\n')) { clearTimeout(timer); res(JSON.parse(line)); }
    });
    proc.once('exit', () => { clearTimeout(timer); rej(new Error(`${bin} exited: ${out}`)); });
  });
  async function stop() {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((res) => proc.once('exit', res));
    proc.stdin.end();
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  return { info, stop };
}

export async function startServer(opts = {}) {
  const dataDir = opts.dataDir || mkdtempSync(join(tmpdir(), 'mywebrtc-e2e-'));
  const configPath = join(dataDir, 'test.toml');
  writeFileSync(configPath, `data_dir = ${JSON.stringify(dataDir)}
listen = ${JSON.stringify(opts.listen || '127.0.0.1:0')}
http_redirect_listen = "off"
${opts.config || ''}
[metrics]
listen = "127.0.0.1:0"
[sfu]
listen = "127.0.0.1:0"
[turn]
port = 0
tls_port = 0
# Browsers and relays all live on this machine: the test opts in to relaying over loopback.
allow_peers = ["127.0.0.0/8"]
${opts.turn || ''}
`);
  const proc = spawn(BIN, ['--config', configPath, 'serve'], {
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((res) => proc.once('exit', (code, sig) => res({ code, sig })));
  const ready = await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`server did not start in 20 s\n${stdout}\n${stderr}`)), 20_000);
    proc.stdout.on('data', (d) => {
      stdout += d;
      // The "listening on" line comes last, after the setup link if there is one.
      const url = /listening on (https:\/\/\S+)\n/.exec(stdout)?.[1];
      const setup = /(https:\/\/\S+\/setup#\S+)/.exec(stdout)?.[1];
      const metrics = /metrics on (http:\/\/\S+)\n/.exec(stdout)?.[1];
      const media = /conference media on [a-z ]+ (\S+)\n/.exec(stdout)?.[1];
      if (url) { clearTimeout(timer); res({ url, setup, metrics, media }); }
    });
    exited.then(() => { clearTimeout(timer); rej(new Error(`server exited early\n${stdout}\n${stderr}`)); });
  });

  // The port was chosen at bind time; tell the CLI so the links it prints are right.
  // (First line: top-level keys must come before any [section] of the test's config.)
  writeFileSync(configPath, `public_url = ${JSON.stringify(ready.url)}\n${readFileSync(configPath, 'utf8')}`);

  /** Runs an admin CLI command against the same data directory. */
  function cli(/** @type {string[]} */ args, input = '') {
    const r = spawnSync(BIN, ['--config', configPath, ...args], { input, encoding: 'utf8', env: { ...process.env, RUST_LOG: 'warn' } });
    if (r.status !== 0) throw new Error(`mywebrtc ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout.trim();
  }

  const server = {
    url: /** @type {string} */ (ready.url),
    setupUrl: /** @type {string|undefined} */ (ready.setup),
    /** The Prometheus metrics URL (plain HTTP on loopback). */
    metricsUrl: /** @type {string|undefined} */ (ready.metrics),
    /** The conference media address (`ip:port`, UDP and TCP), if group calls are on. */
    mediaAddr: /** @type {string|undefined} */ (ready.media),
    dataDir,
    configPath,
    pid: proc.pid,
    cli,
    /** Creates an account through the CLI (works while the server runs). */
    addUser(/** @type {string} */ name, { admin = false, password = PASSWORD } = {}) {
      return cli(['user', 'add', name, '--password-stdin', ...(admin ? ['--admin'] : [])], `${password}\n`);
    },
    /**
     * A new browser context logged in as `name` (the account is created first unless `create: false`).
     * @param {import('playwright-core').Browser} browser
     * @param {string} name
     * @param {{admin?: boolean, create?: boolean, password?: string,
     *   context?: import('playwright-core').BrowserContext}} [o] context: use this one (e.g. a
     *   `launchProfile` browser) instead of a new context of `browser`
     */
    async userPage(browser, name, o = {}) {
      if (o.create !== false) server.addUser(name, { admin: o.admin, password: o.password });
      const context = o.context || await browser.newContext({ ignoreHTTPSErrors: true });
      const page = await context.newPage();
      await page.goto(server.url);
      await login(page, name, o.password || PASSWORD);
      await page.locator('#whoami').waitFor();
      return { context, page };
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
    async kill9() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
    /** Stops the server and removes its data directory. */
    async dispose() {
      await server.stop();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
    /**
     * Stops the server (SIGTERM, or SIGKILL with `kill9`) and starts it again on the same
     * address and data directory, as an upgrade or a crash and restart would; this object
     * then stands for the new process.
     */
    async restart({ kill9 = false } = {}) {
      if (kill9) await server.kill9();
      else await server.stop();
      const next = await startServer({ ...opts, dataDir, listen: new URL(server.url).host });
      const dispose = server.dispose;
      Object.assign(server, next, { dispose, restart: server.restart });
    },
    logs: () => stderr,
  };
  return server;
}

/**
 * Fills the sign-in form.
 * @param {import('playwright-core').Page} page
 */
export async function login(page, name, password = PASSWORD) {
  await page.locator('#login-username').fill(name);
  await page.locator('#login-password').fill(password);
  await page.locator('#login-form button[type=submit]').click();
}

/**
 * Fills the registration form of a setup or invite link.
 * @param {import('playwright-core').Page} page
 */
export async function register(page, name, password = PASSWORD, displayName = '') {
  await page.locator('#reg-username').fill(name);
  if (displayName) await page.locator('#reg-display').fill(displayName);
  await page.locator('#reg-password').fill(password);
  await page.locator('#reg-password2').fill(password);
  await page.locator('#register-form button[type=submit]').click();
}
