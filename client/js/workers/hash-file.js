// @ts-check
/**
 * Worker: the SHA-256 of a whole File, read in slices (never all in memory). The sender of a
 * person-to-person transfer runs it beside the sending, so hashing costs no time on the main
 * thread and does not depend on where a resumed transfer restarts.
 *
 * In: `{file: File}`. Out: `{sha256: string}` or `{error: string}`.
 */
import { Sha256 } from '../sha256.js';

const SLICE = 4 * 1024 * 1024;

self.onmessage = async (/** @type {MessageEvent<{file: File}>} */ e) => {
  try {
    const { file } = e.data;
    const h = new Sha256();
    for (let at = 0; at < file.size; at += SLICE) {
      h.update(new Uint8Array(await file.slice(at, at + SLICE).arrayBuffer()));
    }
    self.postMessage({ sha256: h.hex() });
  } catch (err) {
    self.postMessage({ error: String(err) });
  }
};
