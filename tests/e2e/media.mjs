// Media checks shared by the call tests: what a page's current call decodes, per getStats.
import assert from 'node:assert/strict';

/** Inbound media counters of the page's current call (as the getStats API reports them). */
export function inbound(page) {
  return page.evaluate(async () => {
    const pc = window.mywebrtcCalls?.peerConnection;
    if (!pc) return null;
    const out = { frames: 0, samples: 0, videoInbound: 0, state: pc.connectionState };
    (await pc.getStats()).forEach((s) => {
      if (s.type !== 'inbound-rtp') return;
      if (s.kind === 'video') { out.frames += s.framesDecoded || 0; out.videoInbound += 1; }
      if (s.kind === 'audio') out.samples += s.totalSamplesReceived || 0;
    });
    return out;
  });
}

export async function waitMedia(page, { video = true } = {}) {
  const deadline = Date.now() + 30_000;
  let last;
  while (Date.now() < deadline) {
    last = await inbound(page);
    if (last && last.samples > 0 && (!video || last.frames > 0)) return last;
    await page.waitForTimeout(250);
  }
  assert.fail(`no media decoded: ${JSON.stringify(last)}`);
}


/**
 * What the page's group call decodes from each other participant, by participant id (from
 * getStats, mapped through the server's track descriptions): camera `frames` and `width`,
 * audio `samples` and `heard` (samples decoded from packets: received less concealed, so the
 * padding the server sends to probe bandwidth does not count), shared-screen `screen`
 * frames and `screenWidth`.
 * @returns {Promise<Record<string, {frames: number, width: number, samples: number, heard: number, screen: number, screenWidth: number}>>}
 */
export function roomDecoded(page) {
  return page.evaluate(async () => {
    const call = window.mywebrtcRooms.current;
    /** @type {Record<string, {frames: number, width: number, samples: number, heard: number, screen: number, screenWidth: number}>} */
    const out = {};
    if (!call?.pc) return out;
    (await call.pc.getStats()).forEach((s) => {
      const info = s.type === 'inbound-rtp' && call.tracks.get(s.mid);
      if (!info) return;
      const o = (out[info.participant] ??= { frames: 0, width: 0, samples: 0, heard: 0, screen: 0, screenWidth: 0 });
      if (info.source === 'screen') {
        o.screen += s.framesDecoded || 0;
        o.screenWidth = Math.max(o.screenWidth, s.frameWidth || 0);
      } else if (s.kind === 'video') {
        o.frames += s.framesDecoded || 0;
        o.width = Math.max(o.width, s.frameWidth || 0);
      } else {
        o.samples += s.totalSamplesReceived || 0;
        o.heard += (s.totalSamplesReceived || 0) - (s.concealedSamples || 0);
      }
    });
    return out;
  });
}

/**
 * Polls `check` until it returns something truthy, and returns that.
 * @template T
 * @param {() => Promise<T>} check
 * @param {{timeout?: number, what?: string}} [o]
 * @returns {Promise<T>}
 */
export async function eventually(check, { timeout = 30_000, what = 'the condition' } = {}) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    const v = await check();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 250));
  }
  return assert.fail(`timed out after ${timeout} ms waiting for ${what}`);
}
