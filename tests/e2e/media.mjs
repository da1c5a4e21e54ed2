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

