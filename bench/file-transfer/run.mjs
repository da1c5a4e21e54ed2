// File transfer throughput, in one run on one machine, each figure beside its reference:
//
// 1. Person to person through our client (offer, accept, DataChannel, disk writer, SHA-256
//    on both sides, verification) versus the raw DataChannel ceiling: two pages of the same
//    browser wired directly (this script passes offer, answer and candidates), the same
//    64 KiB messages and the same backpressure thresholds, the receiver only counting bytes.
//    Time runs from the open channel to the last byte (raw) or to the verified file (ours).
//    Also the receiving page's JavaScript heap, peak minus start.
// 2. The same transfer relay-only, through our TURN server and through coturn (Debian's
//    `coturn`, shared-secret credentials, loopback peers allowed), side by side.
// 3. Attachments: upload and download with curl through our API versus curl putting and
//    getting the same file on nginx (Debian's `nginx-light`, TLS with the same certificate,
//    sendfile), a static file server on the same machine.
//
// Our TURN quota and bandwidth cap are lifted for the run (user_quota = 100,
// bandwidth_kbit = 100000000), and the attachment limit raised to the file's size, so the
// figures measure the engine, not the policy.
//
// Usage: node bench/file-transfer/run.mjs [MB=1024]   (uses E2E_SERVER_BIN or target/release/mywebrtc)
import { resolve, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync, mkdtempSync, openSync, writeSync, closeSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
if (!process.env.E2E_SERVER_BIN) {
  const release = `${root}/target/release/mywebrtc`;
  if (existsSync(release)) process.env.E2E_SERVER_BIN = release;
}
const { startServer, launchBrowser, befriend } = await import(`${root}/tests/e2e/harness.mjs`);

const MB = Number(process.argv[2] || 1024);
const SIZE = MB * 1024 * 1024;
const work = mkdtempSync(join(tmpdir(), 'mywebrtc-bench-files-'));
const file = join(work, 'payload.bin');
const children = [];
const mbps = (bytes, ms) => (bytes / 1048576 / (ms / 1000)).toFixed(1);

function freePort() {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
  });
}

console.log(`payload: ${MB} MiB of random bytes`);
{
  const fd = openSync(file, 'w');
  const block = randomBytes(8 * 1024 * 1024);
  for (let w = 0; w < SIZE; w += block.length) writeSync(fd, block, 0, Math.min(block.length, SIZE - w));
  closeSync(fd);
}
const expected = createHash('sha256').update(readFileSync(file)).digest('hex');

const server = await startServer({
  config: `[attachments]\nmax_file_mb = ${MB + 1}\nquota_mb = ${4 * MB + 16}\n`,
  turn: 'user_quota = 100\nbandwidth_kbit = 100000000',
});
const browser = await launchBrowser();
const results = [];
/** Records a figure and prints it at once (a later failure keeps the earlier figures). */
function record(label, ms, note = '') {
  results.push([label, ms, note]);
  console.log(`${label}: ${(ms / 1000).toFixed(2)} s, ${mbps(SIZE, ms)} MiB/s ${note}`);
}
// BENCH_ONLY=p2p or BENCH_ONLY=attachments runs one part.
const only = process.env.BENCH_ONLY || '';
try {
  const alice = await server.userPage(browser, 'alice');
  const bob = await server.userPage(browser, 'bob');
  await befriend(alice.page, bob.page);
  if (only !== 'attachments') await p2p(alice, bob);
  if (only !== 'p2p') await attachments(alice, bob);
} finally {
  for (const c of children) c.kill();
  await browser.close();
  await server.dispose();
  rmSync(work, { recursive: true, force: true });
}

async function p2p(alice, bob) {
  // --- 1a. the raw DataChannel ceiling: two pages of one browser, wired by this script
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
  const [a, b] = [await ctx.newPage(), await ctx.newPage()];
  for (const p of [a, b]) await p.goto(server.url);
  await b.evaluate(() => {
    window.pc = new RTCPeerConnection();
    window.cands = [];
    window.pc.onicecandidate = (e) => e.candidate && window.cands.push(e.candidate.toJSON());
    window.pc.ondatachannel = (e) => {
      const dc = e.channel;
      dc.binaryType = 'arraybuffer';
      window.got = 0;
      dc.onmessage = (m) => {
        if (window.got === 0) window.t0 = performance.now();
        window.got += m.data.byteLength;
        if (window.got >= window.want) window.t1 = performance.now();
      };
    };
  });
  await b.evaluate((n) => { window.want = n; }, SIZE);
  const offer = await a.evaluate(async () => {
    window.pc = new RTCPeerConnection();
    window.cands = [];
    window.pc.onicecandidate = (e) => e.candidate && window.cands.push(e.candidate.toJSON());
    window.dc = window.pc.createDataChannel('raw', { ordered: true });
    window.dc.binaryType = 'arraybuffer';
    await window.pc.setLocalDescription();
    return window.pc.localDescription.toJSON();
  });
  const answer = await b.evaluate(async (o) => {
    await window.pc.setRemoteDescription(o);
    await window.pc.setLocalDescription();
    return window.pc.localDescription.toJSON();
  }, offer);
  await a.evaluate((ans) => window.pc.setRemoteDescription(ans), answer);
  await a.waitForTimeout(300);
  for (const [from, to] of [[a, b], [b, a]]) {
    const cands = await from.evaluate(() => window.cands);
    await to.evaluate(async (cs) => { for (const c of cs) await window.pc.addIceCandidate(c); }, cands);
  }
  await a.waitForFunction(() => window.dc.readyState === 'open');
  await a.evaluate(async (size) => {
    const dc = window.dc;
    dc.bufferedAmountLowThreshold = 2 * 1024 * 1024;
    // The same message size as our client: the largest Chromium's SCTP takes (256 KiB).
    const payload = 256 * 1024 - 8;
    const piece = new Uint8Array(8 + payload);
    for (let at = 0; at < size; at += payload) {
      if (dc.bufferedAmount > 8 * 1024 * 1024) await new Promise((r) => dc.addEventListener('bufferedamountlow', r, { once: true }));
      dc.send(at + payload <= size ? piece : piece.subarray(0, 8 + size - at));
    }
  }, SIZE);
  await b.waitForFunction(() => window.t1 !== undefined, null, { timeout: 600_000, polling: 100 });
  const rawMs = await b.evaluate(() => window.t1 - window.t0);
  record('raw DataChannel, two pages wired directly', rawMs);
  await ctx.close();

  // --- 1b and 2: ours, direct and relay-only through each TURN server
  const turnPort = await freePort();
  const secret = `bench-${Date.now()}-0123456789abcdef`;
  const coturn = spawn('turnserver', ['-n', '--listening-ip=127.0.0.1', `--listening-port=${turnPort}`, '--relay-ip=127.0.0.1',
    '--use-auth-secret', `--static-auth-secret=${secret}`, '--realm=mywebrtc', '--no-tls', '--no-dtls', '--allow-loopback-peers',
    '--no-cli', '--no-multicast-peers', '--no-tcp-relay', '--simple-log', '--no-stdout-log', `--log-file=${work}/coturn.log`,
    `--pidfile=${work}/coturn.pid`, '--min-port=40000', '--max-port=50000'], { stdio: 'ignore' });
  children.push(coturn);
  const coturnServers = () => {
    const username = `${Math.floor(Date.now() / 1000) + 3600}:bench`;
    const credential = createHmac('sha1', secret).update(username).digest('base64');
    return [{ urls: [`turn:127.0.0.1:${turnPort}?transport=udp`], username, credential }];
  };

  const bobId = await bob.page.evaluate(async () => (await (await fetch('/api/v1/session')).json()).user.id);
  const cdp = await bob.context.newCDPSession(bob.page);
  await alice.page.locator('#contact-list li[data-username="bob"] button.chat-with').click();
  await alice.page.locator('#conversation').waitFor();
  // The File object the sender's client reads from, as the Attach button would give it.
  await alice.page.evaluate(() => {
    const input = document.createElement('input');
    input.type = 'file';
    input.id = 'bench-file';
    document.body.append(input);
  });
  await alice.page.locator('#bench-file').setInputFiles(file);

  /** One transfer through our client; `ice`: the ICE servers and policy both pages use. */
  async function ours(label, ice) {
    for (const p of [alice.page, bob.page]) {
      await p.evaluate(async (cfg) => {
        const f = window.mywebrtcFiles;
        if (!f.realIce) f.realIce = f.iceConfig;
        if (cfg === 'ours-relay') {
          const c = await (await fetch('/api/v1/ice-servers')).json();
          const servers = c.ice_servers.map((s) => ({ urls: s.urls.filter((u) => u.startsWith('turn:') && u.includes('udp')), username: s.username, credential: s.credential })).filter((s) => s.urls.length);
          f.iceConfig = { get: async () => ({ iceServers: servers, iceTransportPolicy: 'relay' }) };
        } else if (cfg) {
          f.iceConfig = { get: async () => ({ iceServers: cfg, iceTransportPolicy: 'relay' }) };
        } else {
          f.iceConfig = f.realIce;
        }
      }, ice);
    }
    await cdp.send('HeapProfiler.collectGarbage');
    const heapStart = (await cdp.send('Runtime.getHeapUsage')).usedSize;
    await alice.page.evaluate((to) => window.mywebrtcFiles.offer(to, [document.querySelector('#bench-file').files[0]]), bobId);
    await bob.page.waitForFunction(() => window.mywebrtcFiles.list().at(-1)?.state === 'offered');
    await bob.page.evaluate(() => {
      const f = window.mywebrtcFiles;
      const t = f.list().at(-1);
      const mark = { accepted: performance.now() };
      window.benchT = mark;
      const onChange = () => {
        if (t.state === 'receiving' && !mark.open) mark.open = performance.now();
        if (t.state === 'done' && !mark.done) {
          mark.done = performance.now();
          f.removeEventListener('change', onChange);
        }
      };
      f.addEventListener('change', onChange);
      f.accept(t.id);
    });
    let heapPeak = heapStart;
    for (;;) {
      const st = await bob.page.evaluate(() => window.mywebrtcFiles.list().at(-1).state);
      heapPeak = Math.max(heapPeak, (await cdp.send('Runtime.getHeapUsage')).usedSize);
      if (['done', 'failed', 'cancelled'].includes(st)) break;
      await bob.page.waitForTimeout(250);
    }
    const t = await bob.page.evaluate(() => ({ ...window.benchT, sha256: window.mywebrtcFiles.list().at(-1).sha256, error: window.mywebrtcFiles.list().at(-1).error }));
    if (t.sha256 !== expected) throw new Error(`${label}: transfer failed or damaged: ${t.error}`);
    await bob.page.evaluate(() => window.mywebrtcFiles.dismiss(window.mywebrtcFiles.list().at(-1).id));
    record(label, t.done - t.open, `accept→verified ${((t.done - t.accepted) / 1000).toFixed(1)} s, receiver JS heap peak−start ${((heapPeak - heapStart) / 1048576).toFixed(1)} MiB`);
  }
  await ours('ours, person to person (direct)', null);
  await ours('ours, relay-only through our TURN', 'ours-relay');
  await ours('ours, relay-only through coturn', coturnServers());
}

async function attachments(alice, bob) {
  // --- 3. attachments with curl, against nginx serving and taking the same file
  const session = await bob.page.evaluate(async () => (await fetch('/api/v1/session')).json());
  const cookie = (await bob.context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
  const conv = await bob.page.evaluate(async (to) => {
    const s = await (await fetch('/api/v1/session')).json();
    const r = await fetch('/api/v1/conversations', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrf_token }, body: JSON.stringify({ kind: 'direct', user: to }) });
    return (await r.json()).id;
  }, await alice.page.evaluate(async () => (await (await fetch('/api/v1/session')).json()).user.id));
  const curl = (args) => {
    const extra = process.env.CURL_EXTRA ? process.env.CURL_EXTRA.split(' ') : [];
    const r = spawnSync('curl', ['-sSk', ...extra, '-o', '/dev/null', '-w', '%{http_code} %{time_total}', ...args], { encoding: 'utf8' });
    const [code, secs] = r.stdout.trim().split(' ');
    if (r.stderr) console.log(`curl: ${r.stderr.trim()}`);
    return { code: Number(code), ms: Number(secs) * 1000 };
  };
  const up = curl(['-X', 'POST', '-T', file, '-H', 'content-type: application/octet-stream', '-H', `x-csrf-token: ${session.csrf_token}`,
    '-H', `cookie: ${cookie}`, '-H', `origin: ${server.url}`, `${server.url}/api/v1/conversations/${conv}/attachments?name=payload.bin&client_id=bench1`]);
  if (up.code !== 201) throw new Error(`upload: ${up.code}`);
  const page = await bob.page.evaluate(async (c) => (await fetch(`/api/v1/conversations/${c}/messages`)).json(), conv);
  const id = page.messages.at(-1).attachment.id;
  const down = curl(['-H', `cookie: ${cookie}`, `${server.url}/api/v1/attachments/${id}`]);
  if (down.code !== 200) throw new Error(`download: ${down.code}`);
  record('attachment upload, curl → our API', up.ms);
  record('attachment download, curl ← our API', down.ms);

  const nginxPort = await freePort();
  mkdirp(`${work}/www`);
  mkdirp(`${work}/body`);
  writeFileSync(`${work}/nginx.conf`, `daemon off; user root; worker_processes 1; pid ${work}/nginx.pid; error_log ${work}/nginx.err;
events { worker_connections 64; }
http { access_log off; sendfile on; client_max_body_size 0; client_body_temp_path ${work}/body;
  server { listen 127.0.0.1:${nginxPort} ssl; ssl_certificate ${server.dataDir}/tls/cert.pem; ssl_certificate_key ${server.dataDir}/tls/key.pem;
    root ${work}/www; location / { dav_methods PUT; create_full_put_path on; } } }
`);
  const nginx = spawn('nginx', ['-c', `${work}/nginx.conf`], { stdio: 'ignore' });
  children.push(nginx);
  await new Promise((r) => setTimeout(r, 800));
  const nUp = curl(['-T', file, `https://127.0.0.1:${nginxPort}/payload.bin`]);
  const nDown = curl([`https://127.0.0.1:${nginxPort}/payload.bin`]);
  if (nUp.code >= 300 || nDown.code !== 200) throw new Error(`nginx: ${nUp.code} ${nDown.code}`);
  record('static upload, curl → nginx (PUT)', nUp.ms);
  record('static download, curl ← nginx', nDown.ms);
}

function mkdirp(p) {
  spawnSync('mkdir', ['-p', p]);
}

console.log(`\n| transfer of ${MB} MiB | time | MiB/s | notes |\n| --- | --- | --- | --- |`);
for (const [label, ms, note] of results) console.log(`| ${label} | ${(ms / 1000).toFixed(2)} s | ${mbps(SIZE, ms)} | ${note || ''} |`);
const rate = (label) => SIZE / (results.find((r) => r[0] === label)?.[1] ?? NaN);
console.log(`\nours direct / raw DataChannel: ${(100 * rate('ours, person to person (direct)') / rate('raw DataChannel, two pages wired directly')).toFixed(0)} %`);
console.log(`relay: our TURN / coturn: ${(100 * rate('ours, relay-only through our TURN') / rate('ours, relay-only through coturn')).toFixed(0)} %`);
console.log(`attachment upload / nginx PUT: ${(100 * rate('attachment upload, curl → our API') / rate('static upload, curl → nginx (PUT)')).toFixed(0)} %`);
console.log(`attachment download / nginx: ${(100 * rate('attachment download, curl ← our API') / rate('static download, curl ← nginx')).toFixed(0)} %`);
