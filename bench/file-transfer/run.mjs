// File transfer throughput, in one run on one machine, each figure beside its reference:
//
// 1. Person to person through our client (offer, accept, DataChannel, disk writer, SHA-256
//    on both sides, verification) versus the raw DataChannel ceiling: a page in each of the
//    same two browsers wired directly (this script passes offer, answer and candidates), the
//    same 256 KiB messages and the same backpressure thresholds, the receiver only counting
//    bytes. The two browsers have profiles on disk, as users' browsers do.
//    Time runs from the open channel to the last byte (raw) or to the verified file (ours).
//    Also the receiving page's JavaScript heap, peak minus start, and the resident memory of
//    the receiving browser's renderers (the page with its disk and hashing workers), peak
//    minus start: memory must stay flat however large the file. The two take turns for
//    BENCH_ROUNDS rounds (default 3); each figure is the median, and each round's ratio is
//    printed too. `sync` runs before every transfer (none pays for another's write-back).
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
import { createReadStream, existsSync, readdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { createHash, createHmac } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { writeRandomFile } from './payload.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
if (!process.env.E2E_SERVER_BIN) {
  const release = `${root}/target/release/mywebrtc`;
  if (existsSync(release)) process.env.E2E_SERVER_BIN = release;
}
const { startServer, launchProfile, befriend } = await import(`${root}/tests/e2e/harness.mjs`);

const MB = Number(process.argv[2] || 1024);
const SIZE = MB * 1024 * 1024;
const work = mkdtempSync(join(tmpdir(), 'mywebrtc-bench-files-'));
const file = join(work, 'payload.bin');
const children = [];
const mbps = (bytes, ms) => (bytes / 1048576 / (ms / 1000)).toFixed(1);

/**
 * A `/proc/.../stat` file read: the name in parentheses, the fields after it (`fields[1]` is
 * the parent's pid), and the CPU seconds used (user + system; all threads for a process).
 * Null when the process or thread is gone.
 */
function readStat(path) {
  let stat;
  try { stat = readFileSync(path, 'utf8'); } catch { return null; }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), fields, cpu: (Number(fields[11]) + Number(fields[12])) / 100 };
}

/** Every Chromium process now: its pid and command line. @returns {[string, string][]} */
function chromiumProcesses() {
  const out = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let cmd;
    try { cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { continue; }
    if (cmd.includes('chromium')) out.push([pid, cmd]);
  }
  return out;
}

/**
 * CPU seconds used so far by every Chromium thread, by process type and thread name
 * (BENCH_PROFILE=1 prints where a transfer's CPU went).
 */
function chromiumCpu() {
  const out = new Map();
  for (const [pid, cmd] of chromiumProcesses()) {
    const type = (cmd.match(/--type=([a-z-]+)/)?.[1] || 'browser') + (cmd.match(/--utility-sub-type=([a-z.]+)/)?.[1]?.replace(/^(\w+)\..*/, ':$1') || '');
    let tasks = [];
    try { tasks = readdirSync(`/proc/${pid}/task`); } catch { continue; }
    for (const tid of tasks) {
      const stat = readStat(`/proc/${pid}/task/${tid}/stat`);
      if (!stat) continue;
      const key = `${type} / ${stat.name.replace(/\d+$/, '')}`;
      out.set(key, (out.get(key) || 0) + stat.cpu);
    }
  }
  return out;
}

/**
 * The renderer processes of the Chromium running with the profile in `dir`: its pages, with
 * their workers (where our receiver's disk and hashing workers hold what they buffer).
 * @returns {string[]} their pids
 */
function renderersOf(dir) {
  const procs = new Map();
  for (const [pid, cmd] of chromiumProcesses()) {
    const stat = readStat(`/proc/${pid}/stat`);
    if (stat) procs.set(pid, { parent: stat.fields[1], cmd });
  }
  const root = [...procs].find(([, p]) => p.cmd.includes(`--user-data-dir=${dir}`) && !p.cmd.includes('--type='))?.[0];
  const under = (pid) => {
    for (let p = procs.get(pid), n = 0; p && n < 16; p = procs.get(p.parent), n++) if (p.parent === root) return true;
    return false;
  };
  return [...procs].filter(([pid, p]) => p.cmd.includes('--type=renderer') && under(pid)).map(([pid]) => pid);
}

/** Resident memory (bytes) of these processes now (those gone count nothing). */
function rssOf(pids) {
  let kib = 0;
  for (const pid of pids) {
    try { kib += Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+)/m)?.[1] || 0); } catch { /* gone */ }
  }
  return kib * 1024;
}

/** Prints the CPU used between two `chromiumCpu()` readings, largest first. */
function printCpu(label, before, after) {
  const used = [...after].map(([k, v]) => [k, v - (before.get(k) || 0)]).filter(([, v]) => v > 0.05);
  const total = used.reduce((a, [, v]) => a + v, 0);
  console.log(`${label}: Chromium CPU ${total.toFixed(1)} s`);
  for (const [k, v] of used.sort((a, b) => b[1] - a[1]).slice(0, 14)) console.log(`  ${v.toFixed(1)} s  ${k}`);
}

function freePort() {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
  });
}

console.log(`payload: ${MB} MiB of random bytes`);
writeRandomFile(file, SIZE);
// Streamed: a file of 2 GiB or more does not fit one buffer.
const expected = await new Promise((res, rej) => {
  const h = createHash('sha256');
  createReadStream(file).on('data', (d) => h.update(d)).on('end', () => res(h.digest('hex'))).on('error', rej);
});

// Attachment rounds (see attachments()); the quota takes them all.
const rounds = Number(process.env.BENCH_ROUNDS || 3);
const server = await startServer({
  config: `[attachments]\nmax_file_mb = ${MB + 1}\nquota_mb = ${(rounds + 1) * MB + 16}\n`,
  turn: 'user_quota = 100\nbandwidth_kbit = 100000000',
});
// Two browsers with profiles on disk, as two users have: one sends, one receives (see
// launchProfile for why not off-the-record contexts). The raw ceiling runs between them too.
const senderBrowser = await launchProfile(join(work, 'profile-alice'));
const receiverProfile = join(work, 'profile-bob');
const receiverBrowser = await launchProfile(receiverProfile);
const results = [];
/** Records a figure and prints it at once (a later failure keeps the earlier figures). */
function record(label, ms, note = '') {
  results.push([label, ms, note]);
  console.log(`${label}: ${(ms / 1000).toFixed(2)} s, ${mbps(SIZE, ms)} MiB/s ${note}`);
}
// BENCH_ONLY=p2p or BENCH_ONLY=attachments runs one part; BENCH_ONLY=direct only the raw and
// our direct person-to-person transfer.
const only = process.env.BENCH_ONLY || '';
try {
  const alice = await server.userPage(null, 'alice', { context: senderBrowser });
  const bob = await server.userPage(null, 'bob', { context: receiverBrowser });
  await befriend(alice.page, bob.page);
  if (only !== 'attachments') await p2p(alice, bob);
  if (only !== 'p2p' && only !== 'direct') await attachments(alice, bob);
} finally {
  for (const c of children) c.kill();
  await senderBrowser.close();
  await receiverBrowser.close();
  await server.dispose();
  rmSync(work, { recursive: true, force: true });
}

async function p2p(alice, bob) {
  // --- 1a. the raw DataChannel ceiling: a page in each browser, wired by this script
  const [a, b] = [await senderBrowser.newPage(), await receiverBrowser.newPage()];
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
  /** One raw transfer over the channel wired above; its time in ms. */
  async function raw() {
    spawnSync('sync');
    await b.evaluate(() => { window.got = 0; window.t1 = undefined; });
    const rawCpu = chromiumCpu();
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
    if (process.env.BENCH_PROFILE) printCpu('raw DataChannel', rawCpu, chromiumCpu());
    return b.evaluate(() => window.t1 - window.t0);
  }

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

  /**
   * One transfer through our client; `ice`: the ICE servers and policy both pages use (null:
   * what the server gives, direct when it can). Its time in ms, and a note.
   */
  async function ours(label = 'ours, person to person (direct)', ice = null) {
    spawnSync('sync');
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
    // BENCH_PROFILE=1: where each page's main thread spends the transfer (CPU profile).
    const profilers = process.env.BENCH_PROFILE ? [[cdp, 'receiver'], [await alice.context.newCDPSession(alice.page), 'sender']] : [];
    for (const [s] of profilers) { await s.send('Profiler.enable'); await s.send('Profiler.start'); }
    await cdp.send('HeapProfiler.collectGarbage');
    const cpuStart = chromiumCpu();
    const heapStart = (await cdp.send('Runtime.getHeapUsage')).usedSize;
    const renderers = renderersOf(receiverProfile);
    const rssStart = rssOf(renderers);
    if (process.env.BENCH_PROFILE) {
      await alice.page.evaluate(() => {
        window.benchBuffered = [];
        const timer = setInterval(() => {
          const t = window.mywebrtcFiles.list().at(-1);
          if (t?.state === 'sending' && t.dc) window.benchBuffered.push(t.dc.bufferedAmount);
          if (t && ['done', 'failed', 'cancelled'].includes(t.state)) clearInterval(timer);
        }, 20);
      });
    }
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
    let [heapPeak, rssPeak] = [heapStart, rssStart];
    /** The renderers' RSS over the transfer (flat memory stays level, it does not climb). */
    const rssSeen = [];
    for (;;) {
      const st = await bob.page.evaluate(() => window.mywebrtcFiles.list().at(-1).state);
      heapPeak = Math.max(heapPeak, (await cdp.send('Runtime.getHeapUsage')).usedSize);
      const rss = rssOf(renderers);
      rssSeen.push(rss);
      rssPeak = Math.max(rssPeak, rss);
      if (['done', 'failed', 'cancelled'].includes(st)) break;
      await bob.page.waitForTimeout(250);
    }
    if (process.env.BENCH_PROFILE) {
      printCpu(label, cpuStart, chromiumCpu());
      const b = (await alice.page.evaluate(() => window.benchBuffered)).sort((x, y) => x - y);
      const q = (f) => (b[Math.floor(f * (b.length - 1))] / 1048576).toFixed(1);
      console.log(`sender's buffered amount (MiB, ${b.length} samples): min ${q(0)}, p10 ${q(0.1)}, median ${q(0.5)}, p90 ${q(0.9)}; under 256 KiB in ${(100 * b.filter((x) => x < 262144).length / b.length).toFixed(0)} %`);
    }
    for (const [s, who] of profilers) {
      const { profile } = await s.send('Profiler.stop');
      const self = new Map();
      const dt = profile.timeDeltas;
      const byId = new Map(profile.nodes.map((n) => [n.id, n]));
      profile.samples.forEach((id, i) => {
        const f = byId.get(id).callFrame;
        const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber + 1}`;
        self.set(key, (self.get(key) || 0) + (dt[i] || 0));
      });
      const total = [...self.values()].reduce((a, b) => a + b, 0);
      console.log(`${label}, ${who} main thread, self time:`);
      for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`  ${(100 * us / total).toFixed(1)} %  ${(us / 1e6).toFixed(2)} s  ${k}`);
    }
    const t = await bob.page.evaluate(() => ({ ...window.benchT, sha256: window.mywebrtcFiles.list().at(-1).sha256, error: window.mywebrtcFiles.list().at(-1).error }));
    if (t.sha256 !== expected) throw new Error(`${label}: transfer failed or damaged: ${t.error}`);
    await bob.page.evaluate(() => window.mywebrtcFiles.dismiss(window.mywebrtcFiles.list().at(-1).id));
    const mib = (b) => (b / 1048576).toFixed(1);
    return {
      ms: t.done - t.open,
      note: `accept→verified ${((t.done - t.accepted) / 1000).toFixed(1)} s, receiver JS heap peak−start ${mib(heapPeak - heapStart)} MiB, `
        + `receiver renderers' RSS (${renderers.length}, page and workers) peak−start ${mib(rssPeak - rssStart)} MiB `
        + `(above start at ¼, ½, ¾ and the end of the transfer: ${[0.25, 0.5, 0.75, 1].map((f) => mib(rssSeen[Math.min(rssSeen.length - 1, Math.floor(f * rssSeen.length))] - rssStart)).join(', ')})`,
    };
  }
  // Rounds of: the raw ceiling, then ours direct (the machine's speed drifts over minutes,
  // see attachments()), each figure the median of BENCH_ROUNDS; the ratio of each round too.
  const pairs = [];
  for (let round = 1; round <= rounds; round++) {
    const rawMs = await raw();
    const oursDirect = await ours();
    pairs.push({ rawMs, ours: oursDirect });
    console.log(`round ${round}: raw ${mbps(SIZE, rawMs)} / ours ${mbps(SIZE, oursDirect.ms)} MiB/s (${(100 * rawMs / oursDirect.ms).toFixed(0)} %) ${oursDirect.note}`);
  }
  for (const p of [a, b]) await p.close();
  const rawMedian = median(pairs.map((p) => p.rawMs));
  const oursMedian = median(pairs.map((p) => p.ours), (r) => r.ms);
  const of = rounds > 1 ? `, median of ${rounds}; per round ${pairs.map((p) => `${(100 * p.rawMs / p.ours.ms).toFixed(0)} %`).join(', ')}` : '';
  record('raw DataChannel, two pages wired directly', rawMedian, of.replace(/^, /, ''));
  record('ours, person to person (direct)', oursMedian.ms, oursMedian.note + of);
  if (only === 'direct') return;
  for (const [label, ice] of [['ours, relay-only through our TURN', 'ours-relay'], ['ours, relay-only through coturn', coturnServers()]]) {
    const r = await ours(label, ice);
    record(label, r.ms, r.note);
  }
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
  // `pids`: the server's processes, whose CPU time the transfer is charged (as is curl's own:
  // on two cores the server and curl share the machine, so CPU seconds explain the rates).
  const curl = (args, pids) => {
    const extra = process.env.CURL_EXTRA ? process.env.CURL_EXTRA.split(' ') : [];
    // Each transfer starts with nothing left for the disk to write back (the payload just
    // generated, the previous upload), so one does not pay for the other's writes.
    spawnSync('sync');
    const before = cpuOf(pids);
    const r = spawnSync('/usr/bin/time', ['-f', 'cpu %U %S', 'curl', '-sSk', ...extra, '-o', '/dev/null', '-w', '%{http_code} %{time_total} %{http_version}', ...args], { encoding: 'utf8' });
    const server = cpuOf(pids) - before;
    const [code, secs, version] = r.stdout.trim().split(' ');
    const lines = r.stderr.trim().split('\n');
    const [, user, sys] = (lines.pop() || '').split(' ');
    if (lines.length) console.log(`curl: ${lines.join('\n')}`);
    const cpu = `server CPU ${server.toFixed(2)} s, curl CPU ${(Number(user) + Number(sys)).toFixed(2)} s`;
    return { code: Number(code), ms: Number(secs) * 1000, version, cpu };
  };
  const nginxPort = await freePort();
  mkdirp(`${work}/www`);
  mkdirp(`${work}/body`);
  writeFileSync(`${work}/nginx.conf`, `daemon off; user root; worker_processes 1; pid ${work}/nginx.pid; error_log ${work}/nginx.err;
events { worker_connections 64; }
http { access_log off; sendfile on; client_max_body_size 0; client_body_temp_path ${work}/body;
  server { listen 127.0.0.1:${nginxPort} ssl http2; ssl_certificate ${server.dataDir}/tls/cert.pem; ssl_certificate_key ${server.dataDir}/tls/key.pem;
    root ${work}/www; location / { dav_methods PUT; create_full_put_path on; } } }
`);
  const nginx = spawn('nginx', ['-c', `${work}/nginx.conf`], { stdio: 'ignore' });
  children.push(nginx);
  await new Promise((r) => setTimeout(r, 800));
  // The master (started here) and its worker, which does the work.
  const nginxPids = [String(nginx.pid), ...readdirSync('/proc').filter((d) => /^\d+$/.test(d))
    .filter((pid) => readStat(`/proc/${pid}/stat`)?.fields[1] === String(nginx.pid))];
  const ours = [server.pid];

  // Rounds of: ours up and down, nginx up and down. One transfer's time is bimodal on this
  // machine (the same upload to nginx took 1.4 s or 3.9 s, its CPU time doubling with it, in
  // runs minutes apart), so each figure is the median of BENCH_ROUNDS rounds (default 3),
  // the two servers taking turns.
  const runs = { up: [], down: [], nUp: [], nDown: [] };
  for (let round = 1; round <= rounds; round++) {
    const up = curl(['-X', 'POST', '-T', file, '-H', 'content-type: application/octet-stream', '-H', `x-csrf-token: ${session.csrf_token}`,
      '-H', `cookie: ${cookie}`, '-H', `origin: ${server.url}`, `${server.url}/api/v1/conversations/${conv}/attachments?name=payload.bin&client_id=bench${round}`], ours);
    if (up.code !== 201) throw new Error(`upload: ${up.code}`);
    const page = await bob.page.evaluate(async (c) => (await fetch(`/api/v1/conversations/${c}/messages`)).json(), conv);
    const id = page.messages.at(-1).attachment.id;
    const down = curl(['-H', `cookie: ${cookie}`, `${server.url}/api/v1/attachments/${id}`], ours);
    if (down.code !== 200) throw new Error(`download: ${down.code}`);
    const nUp = curl(['-T', file, `https://127.0.0.1:${nginxPort}/payload.bin`], nginxPids);
    const nDown = curl([`https://127.0.0.1:${nginxPort}/payload.bin`], nginxPids);
    if (nUp.code >= 300 || nDown.code !== 200) throw new Error(`nginx: ${nUp.code} ${nDown.code}`);
    for (const [k, r] of Object.entries({ up, down, nUp, nDown })) runs[k].push(r);
    console.log(`round ${round}: upload ours ${mbps(SIZE, up.ms)} / nginx ${mbps(SIZE, nUp.ms)} MiB/s (${up.cpu} / ${nUp.cpu}); download ours ${mbps(SIZE, down.ms)} / nginx ${mbps(SIZE, nDown.ms)} MiB/s (${down.cpu} / ${nDown.cpu})`);
  }
  const note = (r) => `HTTP/${r.version}, median of ${rounds}: ${r.cpu}`;
  for (const [k, label] of [['up', 'attachment upload, curl → our API'], ['down', 'attachment download, curl ← our API'],
    ['nUp', 'static upload, curl → nginx (PUT)'], ['nDown', 'static download, curl ← nginx']]) {
    const m = median(runs[k], (r) => r.ms);
    record(label, m.ms, note(m));
  }
}

/** The middle one of an odd number of results (the upper middle of an even), by `key`. */
function median(xs, key = (x) => x) {
  return [...xs].sort((a, b) => key(a) - key(b))[Math.floor(xs.length / 2)];
}

/** CPU seconds (user + system, all threads) used so far by these processes. */
function cpuOf(pids) {
  return pids.reduce((total, pid) => total + (readStat(`/proc/${pid}/stat`)?.cpu || 0), 0);
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
