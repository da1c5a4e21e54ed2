// @ts-check
/**
 * Worker: the SHA-256 of a file being sent, never all of it in memory. The bytes come from
 * the sending itself where they can: each slice the sender read and sent moves here (no copy,
 * no second read of the file). Before the sending starts (while the other side decides) the
 * worker reads ahead from the file on its own, so a file accepted later is often hashed by
 * then; and any range the sending skipped (a resumed transfer starts where the receiver
 * stopped) is read from the file, so the hash covers the whole file whatever happened.
 *
 * In, in order: `{op: 'file', file: File}`, then `{op: 'piece', at, data: ArrayBuffer}` (bytes
 * from offset `at`), then `{op: 'finish'}`. Out: `{sha256: string}` or `{error: string}`.
 */
import { createSha256 } from '../sha256.js';

/** Read from the file at once. */
const SLICE = 4 * 1024 * 1024;

/** @type {File|null} */
let file = null;
/** @type {import('../sha256.js').Sha256|null} */
let hash = null;
/** Bytes hashed so far: the file's first `hashed` bytes, in order. */
let hashed = 0;
/** The sender has begun handing over what it sends: no more reading ahead. */
let fed = false;

/** Hashes the file's bytes from `hashed` up to `to`, read from the file. @param {number} to */
async function readUpTo(to) {
  if (!file || !hash) throw new Error('no file');
  while (hashed < to) {
    const end = Math.min(to, hashed + SLICE);
    hash.update(new Uint8Array(await file.slice(hashed, end).arrayBuffer()));
    hashed = end;
  }
}

/** One slice read ahead, then the next after whatever messages came meanwhile. */
async function readAhead() {
  if (fed || !file || hashed >= file.size) return;
  await readUpTo(Math.min(file.size, hashed + SLICE));
  queue = queue.then(readAhead);
}

/** @param {any} m */
async function run(m) {
  switch (m.op) {
    case 'file':
      file = m.file;
      hash = await createSha256();
      queue = queue.then(readAhead);
      return;
    case 'piece': {
      fed = true;
      if (m.at > hashed) await readUpTo(m.at);
      const end = m.at + m.data.byteLength;
      if (end > hashed && hash) {
        hash.update(new Uint8Array(m.data, hashed - m.at));
        hashed = end;
      }
      return;
    }
    case 'finish':
      if (!file || !hash) throw new Error('no file');
      await readUpTo(file.size);
      self.postMessage({ sha256: hash.hex() });
      return;
    default:
      throw new Error(`unknown operation ${m.op}`);
  }
}

// One message after another, in order (the hash takes its bytes in order).
let queue = Promise.resolve();
self.onmessage = (/** @type {MessageEvent} */ e) => {
  queue = queue.then(() => run(e.data)).catch((err) => self.postMessage({ error: err instanceof Error ? err.message : String(err) }));
};
