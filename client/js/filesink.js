// @ts-check
/**
 * Where a received file goes while it arrives: to disk, never whole in JavaScript memory.
 * In the origin-private file system through a worker that also hashes it, where the browser
 * has it (Chromium, Firefox, Safari); otherwise as a list of Blob parts (which Chromium
 * keeps on disk once they grow) hashed on the main thread.
 */
import { createSha256 } from './sha256.js';

/**
 * @typedef {{written: number, write: (data: ArrayBuffer, skip?: number) => void, onwritten: ((n: number) => void)|null,
 *   finish: () => Promise<{file: Blob, sha256: string}>, discard: () => Promise<void>, kind: string}} Sink
 */

/** Whether received files can go to disk (and survive a page reload). */
export function diskSinks() {
  return typeof Worker !== 'undefined' && 'storage' in navigator && 'getDirectory' in navigator.storage;
}

/**
 * @param {string} name a unique name for the file while it arrives
 * @param {boolean} [resume] go on with what an earlier page of this browser wrote under `name`
 * @returns {Promise<Sink>}
 */
export async function openSink(name, resume = false) {
  if (diskSinks()) {
    try {
      return await openDiskSink(name, resume);
    } catch (e) {
      if (resume) throw e;
      console.warn('no origin-private file system; keeping the file as Blob parts', e);
    }
  }
  if (resume) throw new Error('nothing of this file was kept');
  return await blobSink();
}

/** @param {string} name @param {boolean} resume @returns {Promise<Sink>} */
async function openDiskSink(name, resume) {
  const worker = new Worker(new URL('./workers/sink.js', import.meta.url), { type: 'module' });
  /** @type {((m: any) => void)[]} */
  const waiting = [];
  /** @type {string|null} */
  let failed = null;
  let finished = false;
  /** @type {Sink} */
  const sink = {
    kind: 'disk',
    written: 0,
    onwritten: null,
    write(data, skip = 0) {
      // The buffer moves to the worker (no copy); it writes from `skip` on.
      worker.postMessage({ op: 'write', data, skip }, [data]);
    },
    async finish() {
      const done = await ask({ op: 'finish' });
      finished = true;
      worker.terminate();
      const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('incoming');
      const file = await (await dir.getFileHandle(name)).getFile();
      return { file, sha256: done.sha256 };
    },
    async discard() {
      if (!finished) {
        await ask({ op: 'discard' }).catch(() => {});
        worker.terminate();
        return;
      }
      // Written and closed: the worker is gone, the file is removed from here.
      try {
        const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('incoming');
        await dir.removeEntry(name);
      } catch {
        // Already gone.
      }
    },
  };
  /** @param {any} msg */
  function ask(msg) {
    if (failed) return Promise.reject(new Error(failed));
    return new Promise((resolve, reject) => {
      waiting.push((m) => (m.op === 'error' ? reject(new Error(m.message)) : resolve(m)));
      worker.postMessage(msg);
    });
  }
  worker.onmessage = (e) => {
    const m = e.data;
    if (m.op === 'written') {
      sink.written = m.written;
      sink.onwritten?.(m.written);
      return;
    }
    if (m.op === 'error') failed = m.message;
    waiting.shift()?.(m);
  };
  const opened = await ask({ op: 'open', name, resume });
  sink.written = opened.written;
  return sink;
}

/** @returns {Promise<Sink>} */
async function blobSink() {
  /** @type {Blob[]} */
  let parts = [];
  const hash = await createSha256();
  /** @type {Sink} */
  const sink = {
    kind: 'blob',
    written: 0,
    onwritten: null,
    write(data, skip = 0) {
      const bytes = new Uint8Array(data, skip);
      hash.update(bytes);
      parts.push(new Blob([bytes]));
      sink.written += bytes.byteLength;
      // Many small parts make a slow Blob: merge them now and then (still no copy in JS).
      if (parts.length >= 256) parts = [new Blob(parts)];
      sink.onwritten?.(sink.written);
    },
    async finish() {
      return { file: new Blob(parts), sha256: hash.hex() };
    },
    async discard() {
      parts = [];
    },
  };
  return sink;
}

/**
 * Removes what earlier visits left half-received in the origin-private file system (older
 * than a day: another tab of this browser may be receiving right now).
 */
export async function clearStaleIncoming() {
  try {
    const root = await navigator.storage.getDirectory();
    const dir = await root.getDirectoryHandle('incoming');
    const old = Date.now() - 86_400_000;
    for await (const [name, handle] of /** @type {any} */ (dir).entries()) {
      if (handle.kind === 'file' && (await handle.getFile()).lastModified < old) await dir.removeEntry(name);
    }
  } catch {
    // Nothing there, or no such file system.
  }
}
