// @ts-check
/**
 * The SHA-256 of a file this device sends, computed off the main thread
 * (`workers/hash-file.js`) mostly from the very bytes being sent, so sending a file reads it
 * once.
 */
export class FileHasher {
  /** @param {File} file */
  constructor(file) {
    /** @type {Worker|null} */
    this.worker = new Worker(new URL('./workers/hash-file.js', import.meta.url), { type: 'module' });
    /** Fails a `result` not yet there (set by the promise below). @type {(e: Error) => void} */
    this.stop = () => {};
    /** The hash as lowercase hex, once `finish` was called and the worker is done. @type {Promise<string>} */
    this.result = new Promise((resolve, reject) => {
      this.stop = reject;
      const worker = /** @type {Worker} */ (this.worker);
      worker.onmessage = (e) => {
        if (e.data.error) reject(new Error(e.data.error));
        else resolve(e.data.sha256);
        this.close();
      };
      worker.onerror = (e) => {
        reject(new Error(e.message || 'the hashing worker failed'));
        this.close();
      };
    });
    this.result.catch(() => {});
    this.worker.postMessage({ op: 'file', file });
  }

  /**
   * The file's bytes from `at` on, just sent: the buffer moves to the worker (no copy) and
   * is unusable here afterwards.
   * @param {number} at @param {ArrayBuffer} buffer
   */
  piece(at, buffer) {
    this.worker?.postMessage({ op: 'piece', at, data: buffer }, [buffer]);
  }

  /** The hash of the whole file (what was not handed over is read from the file). @returns {Promise<string>} */
  finish() {
    this.worker?.postMessage({ op: 'finish' });
    return this.result;
  }

  /** Stops hashing (done, or the transfer ended); a `result` not yet there fails. */
  close() {
    this.worker?.terminate();
    this.worker = null;
    this.stop(new Error('hashing stopped'));
  }
}
