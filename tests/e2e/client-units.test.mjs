// Unit tests of client modules that need no browser: the incremental SHA-256 against
// Node's, and the file-name rules against the server's examples.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSha256, useSha256Module } from '../../client/js/sha256.js';
import { safeFileName } from '../../client/js/filename.js';

// Node cannot fetch the module next to sha256.js as a browser does: hand it over.
useSha256Module(await WebAssembly.compile(readFileSync(new URL('../../client/js/sha256.wasm', import.meta.url))));

test('SHA-256 in pieces of any size equals the one-shot hash', async () => {
  for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 100_000]) {
    const data = randomBytes(n);
    for (const piece of [1, 7, 64, 1000, 1 << 20]) {
      const h = await createSha256();
      for (let i = 0; i < n; i += piece) h.update(data.subarray(i, i + piece));
      assert.equal(h.hex(), createHash('sha256').update(data).digest('hex'), `${n} bytes in pieces of ${piece}`);
    }
  }
  // More than the module's input area (1 MiB) at once, and pieces that straddle it.
  const big = randomBytes(3 * 1048576 + 17);
  for (const piece of [big.length, 999_999, 1048576 + 5]) {
    const h = await createSha256();
    for (let i = 0; i < big.length; i += piece) h.update(big.subarray(i, i + piece));
    assert.equal(h.hex(), createHash('sha256').update(big).digest('hex'), `3 MiB in pieces of ${piece}`);
  }
  assert.equal((await createSha256()).update(new TextEncoder().encode('abc')).hex(), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

test('file names are made safe by the same rules as the server', () => {
  assert.equal(safeFileName('report.pdf'), 'report.pdf');
  assert.equal(safeFileName('../../etc/passwd'), 'passwd');
  assert.equal(safeFileName('C:\\Users\\me\\notes.txt'), 'notes.txt');
  assert.equal(safeFileName('evil\u202Egnp.exe'), 'evilgnp.exe');
  assert.equal(safeFileName('a\u0000b\nc\u0007.txt'), 'abc.txt');
  assert.equal(safeFileName('.htaccess'), 'htaccess');
  assert.equal(safeFileName('..'), 'file');
  assert.equal(safeFileName(''), 'file');
  assert.equal(safeFileName('a<b>:c|d?*.txt'), 'a_b__c_d__.txt');
  assert.equal(safeFileName('  two   words .txt '), 'two words .txt');
  const long = safeFileName(`${'x'.repeat(1000)}.tar.gz`);
  assert.equal([...long].length, 200);
  assert.ok(long.endsWith('xxx.gz'));
});
