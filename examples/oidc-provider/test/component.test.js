// The component outside wasmtime: transpiled by jco, run by Node with the
// preview2 shim providing wasi:random and wasi:clocks.

import test from 'node:test';
import assert from 'node:assert/strict';
import { formatError, loadEngine, localCodes } from '../src/local-codes.js';

const engine = await loadEngine();
const cheap = { hash: { memoryKib: 4096, iterations: 1 } };

test('the default policy is the contract\'s', () => {
  const p = engine.defaultPolicy();
  assert.equal(p.count, 10);
  assert.equal(p.symbols, 13);
  assert.equal(p.order, 'any-order');
  assert.deepEqual(p.hash, { memoryKib: 19456, iterations: 2, parallelism: 1 });
  assert.equal(p.requireActivation, true);
});

test('issue, activate, verify once, refuse reuse and typos', () => {
  const codes = localCodes(engine, cheap);
  const issued = codes.issue('alice');
  assert.equal(issued.codes.length, 10);
  assert.deepEqual(issued.codes.map((c) => c.number), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.match(issued.codes[0].code, /^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{4}$/);
  assert.equal(issued.events[0].tag, 'issued');
  assert.equal(issued.events[0].val.pending, true);
  // The credential holds digests only, never a code.
  const text = Buffer.from(issued.credential).toString('latin1');
  for (const c of issued.codes) assert.ok(!text.includes(c.code.replaceAll('-', '')));

  // Pending sets do not sign in; activation needs a code of the set.
  assert.throws(() => codes.verify('alice', issued.codes[0].code), (e) => e.payload?.tag === 'no-active-set');
  const activated = codes.activate('alice', issued.codes[2].code.toLowerCase().replaceAll('-', ' '));
  assert.deepEqual(activated.outcome, { tag: 'accepted', val: 3 });

  const first = codes.verify('alice', issued.codes[4].code);
  assert.deepEqual(first.outcome, { tag: 'accepted', val: 5 });
  assert.equal(first.remaining, 9);
  const again = codes.verify('alice', issued.codes[4].code);
  assert.equal(again.outcome.tag, 'rejected');
  assert.equal(again.outcome.val.reason, 'already-used');

  // A typo is caught by the check symbol before it counts as an attempt.
  const typo = issued.codes[1].code.slice(0, -1) + (issued.codes[1].code.endsWith('0') ? '1' : '0');
  assert.throws(() => codes.verify('alice', typo), (e) => formatError(e) === 'check-symbol-mismatch' || e.payload?.tag === 'invalid-code');

  const status = codes.status('alice');
  assert.equal(status.active.remaining, 9);
  assert.deepEqual(status.active.used.map((u) => u.number), [5]);
});
