// @ts-check
/**
 * SHA-256 (FIPS 180-4) that takes its input piece by piece. WebCrypto only hashes a whole
 * buffer at once, which for a file of several GB would mean holding it all in memory; this
 * one keeps 64 bytes of state. Used off the main thread, in the transfer workers (and on the
 * main thread by the Blob sink, where a browser has no origin-private file system).
 *
 * The compression function is WebAssembly (`sha256.wat` beside this file, compiled to
 * `sha256.wasm`): about twice the speed of the same loop in JavaScript, and hashing is the
 * largest piece of CPU a transfer adds to the DataChannel's own on both sides. This module
 * keeps the partial block, the padding and the length.
 */

/** Where input blocks are written in the module's memory, and how many bytes fit there. */
const INPUT = 1024;
const CAPACITY = 1 << 20;

/** @type {Promise<WebAssembly.Module>|null} */
let compiled = null;

/**
 * Supplies the compiled module where it cannot be fetched next to this file (Node's tests).
 * @param {WebAssembly.Module} module
 */
export function useSha256Module(module) {
  compiled = Promise.resolve(module);
}

/** A fresh hash (compiles the module on first use). @returns {Promise<Sha256>} */
export async function createSha256() {
  compiled ??= WebAssembly.compileStreaming(fetch(new URL('./sha256.wasm', import.meta.url)));
  // One small instance (under the 4 KiB synchronous limit) per hash: the state is its memory.
  return new Sha256(new WebAssembly.Instance(await compiled));
}

export class Sha256 {
  /** @param {WebAssembly.Instance} instance of sha256.wasm */
  constructor(instance) {
    const exports = /** @type {{memory: WebAssembly.Memory, init: () => void, blocks: (p: number, n: number) => void}} */ (
      /** @type {unknown} */ (instance.exports)
    );
    exports.init();
    this.blocks = exports.blocks;
    /** The module's memory never grows, so this view stays valid. */
    this.mem = new Uint8Array(exports.memory.buffer);
    /** Bytes at INPUT not yet hashed (less than a block between calls). */
    this.pending = 0;
    /** Total length in bytes. */
    this.length = 0;
  }

  /** @param {Uint8Array} data */
  update(data) {
    this.length += data.length;
    for (let i = 0; i < data.length;) {
      const take = Math.min(CAPACITY - this.pending, data.length - i);
      this.mem.set(data.subarray(i, i + take), INPUT + this.pending);
      this.pending += take;
      i += take;
      const whole = this.pending >>> 6;
      if (whole > 0) {
        this.blocks(INPUT, whole);
        const rest = this.pending & 63;
        if (rest > 0) this.mem.copyWithin(INPUT, INPUT + whole * 64, INPUT + this.pending);
        this.pending = rest;
      }
    }
    return this;
  }

  /** Finishes the hash (the object is used up) and returns it as lowercase hex. */
  hex() {
    const bits = this.length * 8;
    const pad = new Uint8Array(((this.pending < 56 ? 56 : 120) - this.pending) + 8);
    pad[0] = 0x80;
    const view = new DataView(pad.buffer);
    // The length in bits as a 64-bit big-endian number (exact up to 2^53 bytes).
    view.setUint32(pad.length - 8, Math.floor(bits / 0x100000000));
    view.setUint32(pad.length - 4, bits >>> 0);
    this.update(pad);
    const state = new DataView(this.mem.buffer, 0, 32);
    let out = '';
    for (let w = 0; w < 8; w++) out += state.getUint32(w * 4, true).toString(16).padStart(8, '0');
    return out;
  }
}
