// The file both file benchmarks send: random bytes (nothing compresses or deduplicates them).
import { openSync, writeSync, closeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

/** Writes `bytes` random bytes to `path` (one 8 MiB random block, repeated). */
export function writeRandomFile(path, bytes) {
  const fd = openSync(path, 'w');
  const block = randomBytes(8 * 1024 * 1024);
  for (let w = 0; w < bytes; w += block.length) writeSync(fd, block, 0, Math.min(block.length, bytes - w));
  closeSync(fd);
}
