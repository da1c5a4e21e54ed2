// How fast a page reads a file the user picked, in Chromium, by each way a sender could read
// it (why client/js/filetransfer.js reads a byte stream into its own slices): one Blob read
// per MiB (`file.slice(a, b).arrayBuffer()`), the file's stream with its own chunks, and the
// stream read into 1 MiB buffers of ours (BYOB). One page, nothing else running; the file
// (random bytes) is in the page cache. Each way reads the whole file once, in turn, and
// this is repeated ROUNDS times (default 3); every time is printed.
//
// Usage: node bench/file-transfer/read-file.mjs [MiB=512]   (needs tests/e2e's npm install)
import { resolve, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { writeRandomFile } from './payload.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { launchBrowser } = await import(`${root}/tests/e2e/harness.mjs`);

const MB = Number(process.argv[2] || 512);
const ROUNDS = Number(process.env.ROUNDS || 3);
const work = mkdtempSync(join(tmpdir(), 'mywebrtc-bench-read-'));
const file = join(work, 'payload.bin');
writeRandomFile(file, MB * 1048576);
// A blank page of its own origin: reading a picked file needs nothing from our server.
const http = createServer((_, res) => res.end('<!doctype html><input type="file" id="f">')).listen(0, '127.0.0.1');
await new Promise((r) => http.once('listening', r));
const browser = await launchBrowser();
try {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${/** @type {any} */ (http.address()).port}/`);
  await page.locator('#f').setInputFiles(file);
  for (let round = 1; round <= ROUNDS; round++) {
    const ms = await page.evaluate(async () => {
      const f = /** @type {HTMLInputElement} */ (document.querySelector('#f')).files[0];
      const SLICE = 1 << 20;
      const out = {};
      let t = performance.now();
      for (let at = 0; at < f.size; at += SLICE) await f.slice(at, at + SLICE).arrayBuffer();
      out.blobSlices = performance.now() - t;
      t = performance.now();
      const plain = f.stream().getReader();
      while (!(await plain.read()).done);
      out.stream = performance.now() - t;
      t = performance.now();
      const byob = f.stream().getReader({ mode: 'byob' });
      for (;;) {
        const { done } = await byob.read(new Uint8Array(SLICE));
        if (done) break;
      }
      out.streamIntoOurBuffers = performance.now() - t;
      return out;
    });
    console.log(`round ${round}: ${MB} MiB read as Blob slices of 1 MiB ${(ms.blobSlices / 1000).toFixed(2)} s, as a stream ${(ms.stream / 1000).toFixed(2)} s, as a stream into our 1 MiB buffers ${(ms.streamIntoOurBuffers / 1000).toFixed(2)} s`);
  }
} finally {
  await browser.close();
  http.close();
  rmSync(work, { recursive: true, force: true });
}
