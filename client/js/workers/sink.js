// @ts-check
/**
 * Worker: writes a received file straight to disk in the origin-private file system (OPFS)
 * and hashes it on the way, so the receiver never holds the file in memory and the main
 * thread does neither the writing nor the hashing. A synchronous access handle (only
 * available in workers) writes in place, without the copy-on-write of other OPFS writers.
 *
 * In: `{op: 'open', name, resume}` (`resume`: keep what an earlier page wrote and go on after
 * it), `{op: 'write', data: ArrayBuffer, skip}` (in order; the bytes from `skip` on), `{op: 'finish'}`, `{op: 'discard'}`.
 * Out: `{op: 'opened', written}`, `{op: 'written', written}`,
 * `{op: 'finished', sha256, size}`, `{op: 'discarded'}`, `{op: 'error', message}`.
 */
import { createSha256 } from '../sha256.js';

/** @type {any} */
let handle = null;
/** @type {FileSystemDirectoryHandle|null} */
let dir = null;
let name = '';
let written = 0;
/** @type {import('../sha256.js').Sha256} */
let hash;

/** @param {any} msg */
async function run(msg) {
  switch (msg.op) {
    case 'open': {
      name = msg.name;
      const root = await navigator.storage.getDirectory();
      dir = await root.getDirectoryHandle('incoming', { create: true });
      const fh = await dir.getFileHandle(name, { create: !msg.resume });
      handle = await /** @type {any} */ (fh).createSyncAccessHandle();
      hash = await createSha256();
      written = 0;
      if (!msg.resume) {
        handle.truncate(0);
        return { op: 'opened', written };
      }
      // What an earlier page wrote is hashed again from disk, so the hash covers the file.
      const size = handle.getSize();
      const buf = new Uint8Array(4 * 1024 * 1024);
      while (written < size) {
        const n = handle.read(buf.subarray(0, Math.min(buf.length, size - written)), { at: written });
        if (n <= 0) break;
        hash.update(buf.subarray(0, n));
        written += n;
      }
      return { op: 'opened', written };
    }
    case 'write': {
      const data = new Uint8Array(msg.data, msg.skip || 0);
      let at = 0;
      while (at < data.length) at += handle.write(data.subarray(at), { at: written + at });
      hash.update(data);
      written += data.length;
      return { op: 'written', written };
    }
    case 'finish': {
      handle.flush();
      const size = handle.getSize();
      handle.close();
      handle = null;
      return { op: 'finished', sha256: hash.hex(), size };
    }
    case 'discard': {
      handle?.close();
      handle = null;
      await dir?.removeEntry(name).catch(() => {});
      return { op: 'discarded' };
    }
    default:
      throw new Error(`unknown operation ${msg.op}`);
  }
}

// One message after another, in order (writes must not overtake each other).
let queue = Promise.resolve();
self.onmessage = (/** @type {MessageEvent} */ e) => {
  queue = queue.then(() => run(e.data)).then(
    (reply) => self.postMessage(reply),
    (err) => self.postMessage({ op: 'error', message: err instanceof Error ? err.message : String(err) }),
  );
};
