// Call setup time through our server versus a raw loopback WebRTC baseline, in one run.
//
// Ours: from the caller's "call" (start of CallManager.start) to both peer connections
// reporting "connected" and both sides' camera and microphone attached to the call (the client
// negotiates while the devices start, so either may come last); the callee accepts
// automatically, so human ringing time is excluded but the whole signaling path (invite, ring,
// accept, offer/answer, ICE over our WebSocket) is inside the figure.
// Baselines, same browser, same media constraints as the client, no server, from the first
// getUserMedia to both "connected": two pages in two browser contexts (like our two users)
// whose offer, answer and candidates this script passes across; two pages of one context
// talking over a BroadcastChannel; two RTCPeerConnections in one page. The two-page
// baselines show local and remote video in <video> elements, as a call screen does.
// Each round runs one call of every kind, so load changes during the run fall on all alike.
//
// Usage: node bench/call-setup/run.mjs [rounds=20]   (uses E2E_SERVER_BIN or target/release/mywebrtc)
//        BENCH_TRACE=1 prints when each call message went out and came in, and when device start
//        and each setRemote/setLocalDescription began and ended, per call (ours and the
//        two-context baseline). BENCH_VERBOSE=1 prints each round's figures.
//        Diagnostics only (they change what the pages do): BENCH_TURN_OFF=1 runs without the
//        built-in TURN server, BENCH_NO_TONE=1 silences ring tones, BENCH_HIDE_VIDEO=1 hides
//        our call screen's <video> elements, BENCH_CSS='rule' adds a CSS rule to our pages.
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
if (!process.env.E2E_SERVER_BIN) {
  const release = `${root}/target/release/mywebrtc`;
  if (existsSync(release)) process.env.E2E_SERVER_BIN = release;
}
const { startServer, launchBrowser, befriend } = await import(`${root}/tests/e2e/harness.mjs`);

const CALLS = Number(process.argv[2] || 20);
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p) => s[Math.min(s.length - 1, Math.round((s.length - 1) * p))];
  return { median: at(0.5), p90: at(0.9) };
};

// BENCH_TURN_OFF=1: without the built-in TURN server (fewer candidates to gather).
const server = await startServer({ turn: process.env.BENCH_TURN_OFF ? 'enabled = false' : '' });
const browser = await launchBrowser();
try {
  const alice = await server.userPage(browser, 'alice');
  const bob = await server.userPage(browser, 'bob');
  await befriend(alice.page, bob.page);
  const bobId = await bob.page.evaluate(async () => (await (await fetch('/api/v1/session')).json()).user.id);

  // BENCH_TRACE=1: each page notes when call messages go out and come in, so a slow phase
  // (a signaling hop, the callee's device start, answer creation, ICE) can be told apart; the
  // two-context baseline's pages note their device starts and descriptions the same way.
  const trace = (page) => page.evaluate(() => {
    window.__trace = [];
    const calls = window.mywebrtcCalls;
    const label = (m) => m.type + (m.data?.description ? `:${m.data.description.type}` : m.data?.candidate !== undefined ? ':candidate' : '');
    const mark = (what) => window.__trace.push([what, performance.timeOrigin + performance.now()]);
    if (calls) {
      for (const ev of ['call_ringing', 'call_incoming', 'call_accepted', 'call_signal']) {
        calls.sig.addEventListener(ev, (e) => mark(`in ${label(/** @type {CustomEvent} */ (e).detail)}`));
      }
      const send = calls.sig.send.bind(calls.sig);
      calls.sig.send = (m) => { mark(`out ${label(m)}`); send(m); };
    }
    // Device start and the peer connection's own steps, begin and end.
    const timed = (obj, name, what) => {
      const orig = obj[name];
      obj[name] = async function (...args) {
        const tag = typeof what === 'function' ? what(args) : what;
        mark(`${tag} start`);
        try { return await orig.apply(this, args); } finally { mark(`${tag} done`); }
      };
    };
    timed(navigator.mediaDevices, 'getUserMedia', 'getUserMedia');
    if (calls) {
      timed(calls.iceConfig, 'get', 'ice config');
      const activate = calls.activate.bind(calls);
      calls.activate = (...a) => { mark('activate'); return activate(...a); };
    }
    timed(RTCPeerConnection.prototype, 'setRemoteDescription', (a) => `setRemote(${a[0]?.type})`);
    timed(RTCPeerConnection.prototype, 'setLocalDescription', 'setLocal');
  });
  if (process.env.BENCH_TRACE) { await trace(alice.page); await trace(bob.page); }
  /** Prints the first occurrence of each traced step of both pages, in ms from `t0`. */
  async function printTrace(label, t0, callerPage, calleePage, extra) {
    const marks = extra.map(([at, what]) => [at - t0, what]);
    for (const [who, page] of [['caller', callerPage], ['callee', calleePage]]) {
      for (const [what, at] of await page.evaluate(() => window.__trace.splice(0))) {
        if (at >= t0) marks.push([at - t0, `${who} ${what}`]);
      }
    }
    const seen = new Set();
    const firsts = marks.sort((x, y) => x[0] - y[0]).filter(([, w]) => !seen.has(w) && seen.add(w));
    console.error(`${label}: ${firsts.map(([ms, w]) => `${ms.toFixed(0)} ${w}`).join(' | ')}`);
  }
  if (process.env.BENCH_NO_TONE) for (const p of [alice.page, bob.page]) await p.evaluate(() => { window.mywebrtcCalls.tone.start = () => {}; });
  if (process.env.BENCH_CSS) for (const p of [alice.page, bob.page]) await p.evaluate((r) => document.styleSheets[0].insertRule(r, document.styleSheets[0].cssRules.length), process.env.BENCH_CSS);
  if (process.env.BENCH_HIDE_VIDEO) for (const p of [alice.page, bob.page]) await p.evaluate(() => document.styleSheets[0].insertRule('video { display: none !important }'));
  // Both pages note when their camera and microphone joined the call: the connection may come
  // up before them, and a call only counts as set up once both sides can send.
  for (const p of [alice.page, bob.page]) {
    await p.evaluate(() => {
      const calls = window.mywebrtcCalls;
      const useDevices = calls.useDevices.bind(calls);
      calls.useDevices = async (...a) => { await useDevices(...a); window.__devicesAt = performance.timeOrigin + performance.now(); };
    });
  }
  // The callee answers at once and notes when its connection is up.
  await bob.page.evaluate(() => {
    const calls = window.mywebrtcCalls;
    calls.addEventListener('change', () => { if (calls.phase === 'incoming') calls.accept(true); });
    // The callee's connection appears when the offer arrives: watch for it.
    setInterval(() => {
      const pc = calls.peerConnection;
      if (pc && !pc.__watched) {
        pc.__watched = true;
        const done = () => { window.__bobConnectedAt = performance.timeOrigin + performance.now(); };
        if (pc.connectionState === 'connected') done();
        pc.addEventListener('connectionstatechange', () => { if (pc.connectionState === 'connected') done(); });
      }
    }, 1);
  });

  /** One call through our server, placed by alice and auto-accepted by bob; ms to both connected. @param {number} i */
  async function oursCall(i) {
    for (const p of [alice.page, bob.page]) await p.evaluate(() => { window.__devicesAt = 0; window.__bobConnectedAt = 0; });
    const t = await alice.page.evaluate(async (peer) => {
      const calls = window.mywebrtcCalls;
      const t0 = performance.timeOrigin + performance.now();
      const connected = new Promise((res, rej) => {
        const giveUp = setTimeout(() => rej(new Error('call did not connect in 20 s')), 20_000);
        const check = () => {
          const pc = calls.peerConnection;
          if (!pc) return;
          calls.removeEventListener('change', check);
          pc.addEventListener('connectionstatechange', () => {
            if (pc.connectionState === 'connected') { clearTimeout(giveUp); res(performance.timeOrigin + performance.now()); }
          });
        };
        calls.addEventListener('change', check);
      });
      calls.start(peer, 'video');
      const t1 = await connected;
      return { t0, t1 };
    }, bobId);
    await bob.page.waitForFunction(() => window.__bobConnectedAt > 0, null, { timeout: 20_000 });
    const tb = await bob.page.evaluate(() => window.__bobConnectedAt);
    const devices = [];
    for (const p of [alice.page, bob.page]) {
      await p.waitForFunction(() => window.__devicesAt > 0, null, { timeout: 20_000 });
      devices.push(await p.evaluate(() => window.__devicesAt));
    }
    const ms = Math.max(t.t1, tb, ...devices) - t.t0;
    if (process.env.BENCH_TRACE) await printTrace(`call ${i}`, t.t0, alice.page, bob.page, [[t.t1, 'caller connected'], [tb, 'callee connected'], [devices[0], 'caller devices on'], [devices[1], 'callee devices on']]);
    await alice.page.evaluate(() => window.mywebrtcCalls.hangup());
    await alice.page.waitForFunction(() => window.mywebrtcCalls.phase === 'idle', null, { timeout: 10_000 });
    await bob.page.waitForFunction(() => window.mywebrtcCalls.phase === 'idle', null, { timeout: 10_000 });
    await alice.page.waitForTimeout(200);
    return ms;
  }

  // The client's own media constraints, so every figure opens the same devices the same way.
  const MEDIA = { audio: { echoCancellation: true, noiseSuppression: true }, video: { width: { ideal: 1280 }, height: { ideal: 720 } } };

  /** Baseline: both ends in one page, wired directly (one renderer, one getUserMedia). */
  const onePageCall = () => alice.page.evaluate(async (constraints) => {
    const t0 = performance.now();
    const media = await navigator.mediaDevices.getUserMedia(constraints);
    const a = new RTCPeerConnection();
    const b = new RTCPeerConnection();
    a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
    b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
    const up = (pc) => new Promise((res) => {
      pc.onconnectionstatechange = () => pc.connectionState === 'connected' && res(performance.now());
    });
    const both = Promise.all([up(a), up(b)]);
    media.getTracks().forEach((t) => a.addTrack(t, media));
    await a.setLocalDescription();
    await b.setRemoteDescription(a.localDescription);
    await b.setLocalDescription();
    await a.setRemoteDescription(b.localDescription);
    const [ta, tb] = await both;
    a.close(); b.close(); media.getTracks().forEach((t) => t.stop());
    return Math.max(ta, tb) - t0;
  }, MEDIA);

  // Baselines 2 and 3: two pages, each opening its own devices and showing the local preview
  // and the remote video as a call page does; offer, answer and candidates go page to page
  // with no server, no ringing, no accept — over a BroadcastChannel when both pages share
  // one browser context (and may share a renderer process), or relayed by this script when
  // they live in two contexts like the two users above. What our figure adds to the latter is
  // what the server and the call protocol cost.
  const sameContext = await browser.newContext({ ignoreHTTPSErrors: true });
  const samePages = [await sameContext.newPage(), await sameContext.newPage()];
  const ctxA = await browser.newContext({ ignoreHTTPSErrors: true });
  const ctxB = await browser.newContext({ ignoreHTTPSErrors: true });
  const splitPages = [await ctxA.newPage(), await ctxB.newPage()];
  for (const p of [...samePages, ...splitPages]) {
    await p.goto(server.url);
    await p.evaluate(() => {
      window.show = (media, pc) => {
        const local = Object.assign(document.createElement('video'), { autoplay: true, muted: true, playsInline: true, className: 'bench' });
        local.srcObject = media;
        const remote = Object.assign(document.createElement('video'), { autoplay: true, playsInline: true, className: 'bench' });
        const rs = new MediaStream();
        remote.srcObject = rs;
        pc.addEventListener('track', ({ track }) => { rs.addTrack(track); remote.play().catch(() => {}); });
        document.body.append(local, remote);
      };
      window.__recv = () => {};
    });
  }
  for (const p of samePages) {
    await p.evaluate(() => {
      const ch = new BroadcastChannel('bench');
      ch.onmessage = ({ data }) => window.__recv(data);
      window.__send = (m) => ch.postMessage(m);
    });
  }
  const [sa, sb] = splitPages;
  await sa.exposeFunction('__relay', (m) => sb.evaluate((x) => window.__recv(x), m));
  await sb.exposeFunction('__relay', (m) => sa.evaluate((x) => window.__recv(x), m));
  for (const p of splitPages) await p.evaluate(() => { window.__send = (m) => { window.__relay(m); }; });
  if (process.env.BENCH_TRACE) for (const p of splitPages) await trace(p);

  /** One direct call between two prepared pages; ms from the offering page's start to both connected. */
  async function directCall(pa, pb, traceLabel = '') {
    await pb.evaluate((constraints) => {
      /** @type {RTCPeerConnection|null} */
      let pc = null;
      let media = null;
      const early = [];
      window.__answered = new Promise((res) => {
        window.__recv = async (data) => {
          if (data.candidate !== undefined) {
            if (pc?.remoteDescription) await pc.addIceCandidate(data.candidate || undefined);
            else early.push(data.candidate);
            return;
          }
          if (data.bye) {
            pc?.close(); media?.getTracks().forEach((t) => t.stop());
            document.querySelectorAll('video.bench').forEach((v) => v.remove());
            res(0); return;
          }
          if (!data.offer) return;
          media = await navigator.mediaDevices.getUserMedia(constraints);
          pc = new RTCPeerConnection();
          const me = pc;
          me.onicecandidate = (e) => window.__send({ candidate: e.candidate ? e.candidate.toJSON() : null });
          me.onconnectionstatechange = () => {
            if (me.connectionState === 'connected') window.__send({ connectedAt: performance.timeOrigin + performance.now() });
          };
          media.getTracks().forEach((t) => me.addTrack(t, media));
          window.show(media, me);
          await me.setRemoteDescription(data.offer);
          for (const c of early.splice(0)) await me.addIceCandidate(c || undefined);
          await me.setLocalDescription();
          window.__send({ answer: me.localDescription?.toJSON() });
        };
      });
    }, MEDIA);
    const ms = await pa.evaluate(async (constraints) => {
      const t0 = performance.timeOrigin + performance.now();
      const media = await navigator.mediaDevices.getUserMedia(constraints);
      const pc = new RTCPeerConnection();
      const early = [];
      const mine = new Promise((res) => {
        pc.onconnectionstatechange = () => pc.connectionState === 'connected' && res(performance.timeOrigin + performance.now());
      });
      const theirs = new Promise((res) => {
        window.__recv = async (data) => {
          if (data.connectedAt) res(data.connectedAt);
          else if (data.answer) {
            await pc.setRemoteDescription(data.answer);
            for (const c of early.splice(0)) await pc.addIceCandidate(c || undefined);
          } else if (data.candidate !== undefined) {
            if (pc.remoteDescription) await pc.addIceCandidate(data.candidate || undefined);
            else early.push(data.candidate);
          }
        };
      });
      pc.onicecandidate = (e) => window.__send({ candidate: e.candidate ? e.candidate.toJSON() : null });
      media.getTracks().forEach((t) => pc.addTrack(t, media));
      window.show(media, pc);
      await pc.setLocalDescription();
      window.__send({ offer: pc.localDescription?.toJSON() });
      const giveUp = new Promise((_, rej) => setTimeout(() => rej(new Error('baseline did not connect in 20 s')), 20_000));
      const [ta, tb] = /** @type {number[]} */ (await Promise.race([Promise.all([mine, theirs]), giveUp]));
      window.__send({ bye: true });
      pc.close(); media.getTracks().forEach((t) => t.stop());
      document.querySelectorAll('video.bench').forEach((v) => v.remove());
      return { t0, ta, tb };
    }, MEDIA);
    await pb.evaluate(() => window.__answered);
    if (traceLabel) await printTrace(traceLabel, ms.t0, pa, pb, [[ms.ta, 'caller connected'], [ms.tb, 'callee connected']]);
    await pa.waitForTimeout(200);
    return Math.max(ms.ta, ms.tb) - ms.t0;
  }
  // One call of each kind per round, so that a change in the machine's load during the run
  // (other guests on the host, a background job) falls on all of them alike.
  const ours = [];
  const baseline = [];
  const twoPages = [];
  const twoContexts = [];
  for (let i = 1; i <= CALLS; i++) {
    ours.push(await oursCall(i));
    twoContexts.push(await directCall(splitPages[0], splitPages[1], process.env.BENCH_TRACE ? `two contexts ${i}` : ''));
    twoPages.push(await directCall(samePages[0], samePages[1]));
    baseline.push(await onePageCall());
    if (process.env.BENCH_VERBOSE) console.error(`round ${i}: ours ${ours.at(-1).toFixed(1)} ms, two contexts ${twoContexts.at(-1).toFixed(1)} ms`);
  }
  for (const c of [sameContext, ctxA, ctxB]) await c.close();

  const o = stats(ours);
  const r = stats(baseline);
  const r2 = stats(twoPages);
  const r3 = stats(twoContexts);
  const f = (x) => x.toFixed(1).padStart(8);
  const ratio = (x, y) => (x / y).toFixed(2).padStart(8);
  console.log(`call setup, ${CALLS} video calls each (ms)                   median      p90`);
  console.log(`  through mywebrtc (auto-accept)                       ${f(o.median)} ${f(o.p90)}`);
  console.log(`  direct: two pages in two contexts, script relays     ${f(r3.median)} ${f(r3.p90)}`);
  console.log(`  direct: two pages in one context, BroadcastChannel   ${f(r2.median)} ${f(r2.p90)}`);
  console.log(`  direct: one page, both ends                          ${f(r.median)} ${f(r.p90)}`);
  console.log(`  ratio ours / two contexts                            ${ratio(o.median, r3.median)} ${ratio(o.p90, r3.p90)}   (target <= 1.2)`);
  console.log(`  ratio ours / two pages, one context                  ${ratio(o.median, r2.median)} ${ratio(o.p90, r2.p90)}`);
  console.log(`  ratio ours / one page                                ${ratio(o.median, r.median)} ${ratio(o.p90, r.p90)}`);
} catch (e) {
  console.error('bench failed:', e);
  process.exitCode = 1;
} finally {
  await browser.close();
  await server.dispose();
}
