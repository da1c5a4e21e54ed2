// @ts-check
/**
 * Worker: the SHA-256 of bytes handed to it in order (`{data: ArrayBuffer}`), answered with
 * `{sha256}` on `{finish: true}`. The sender of a person-to-person transfer feeds it each
 * slice it reads to send, so the file is read once, and hashing costs the main thread nothing.
 */
import { Sha256 } from '../sha256.js';

const hash = new Sha256();
self.onmessage = (/** @type {MessageEvent<{data?: ArrayBuffer, finish?: boolean}>} */ e) => {
  if (e.data.data) hash.update(new Uint8Array(e.data.data));
  else if (e.data.finish) self.postMessage({ sha256: hash.hex() });
};
