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

/** The engine with a log of the functions called on it. */
function counted(e) {
  const calls = [];
  const wrap = (name) => (...args) => { calls.push(name); return e[name](...args); };
  return {
    calls,
    engine: {
      defaultPolicy: e.defaultPolicy,
      issue: wrap('issue'),
      activate: wrap('activate'),
      verify: wrap('verify'),
      interrupted: wrap('interrupted'),
      status: wrap('status'),
    },
  };
}

test('one call answers an attempt: the set, low, exhausted, failures and the lock', () => {
  const { engine: e, calls } = counted(engine);
  const codes = localCodes(e, { ...cheap, count: 3, lowWater: 1, freeFailures: 2, maxFailures: 3 });
  const issued = codes.issue('carol');
  const activated = codes.activate('carol', issued.codes[0].code);
  assert.equal(activated.setId, issued.setId);
  assert.equal(activated.fingerprint, issued.fingerprint);
  calls.length = 0;

  const seen = issued.codes.map((c) => {
    const v = codes.verify('carol', c.code);
    assert.equal(v.setId, issued.setId);
    assert.deepEqual(v.lock, { tag: 'open' });
    assert.equal(v.consecutiveFailures, 0);
    assert.equal(v.replacedSet, false);
    return [v.outcome.val, v.remaining, v.low, v.exhausted];
  });
  assert.deepEqual(seen, [[1, 2, false, false], [2, 1, true, false], [3, 0, true, true]]);
  assert.deepEqual(calls, ['verify', 'verify', 'verify'], 'one component call per attempt');

  const other = localCodes(engine, { ...cheap, requireActivation: false }).issue('x').codes[0].code;
  const dave = localCodes(e, { ...cheap, requireActivation: false, freeFailures: 2, maxFailures: 3, lockoutBaseSeconds: 30 });
  dave.issue('dave');
  calls.length = 0;
  const first = dave.verify('dave', other);
  assert.equal(first.outcome.tag, 'rejected');
  assert.equal(first.consecutiveFailures, 1);
  assert.deepEqual(first.lock, { tag: 'open' });
  const second = dave.verify('dave', other);
  assert.equal(second.consecutiveFailures, 2);
  assert.equal(second.lock.tag, 'until');
  assert.equal(second.lock.val, second.outcome.val.lockedUntil);
  const locked = dave.verify('dave', other);
  assert.equal(locked.outcome.tag, 'locked');
  assert.deepEqual(locked.lock, second.lock);
  assert.deepEqual(calls, ['verify', 'verify', 'verify'], 'no status call after a lockout');
});

test('a code of the replaced set is told from a wrong one, for 30 days', () => {
  let clock = Date.UTC(2027, 0, 1);
  const { engine: e, calls } = counted(engine);
  const codes = localCodes(e, cheap, { now: () => clock });
  const old = codes.issue('erin');
  codes.activate('erin', old.codes[0].code);
  const fresh = codes.issue('erin');
  // Pending only: the old set is still the active one and its codes work.
  assert.equal(codes.verify('erin', old.codes[1].code).outcome.tag, 'accepted');
  codes.activate('erin', fresh.codes[0].code);
  const stranger = localCodes(engine, { ...cheap, requireActivation: false }).issue('y').codes[0].code;
  calls.length = 0;

  const replaced = codes.verify('erin', old.codes[2].code);
  assert.equal(replaced.outcome.tag, 'rejected');
  assert.equal(replaced.outcome.val.reason, 'mismatch');
  assert.equal(replaced.replacedSet, true);
  assert.equal(replaced.consecutiveFailures, 1, 'refused and counted like any wrong code');
  assert.equal(replaced.setId, fresh.setId);
  const wrong = codes.verify('erin', stranger);
  assert.equal(wrong.replacedSet, false);
  assert.deepEqual(calls, ['verify', 'verify']);
  assert.equal(codes.verify('erin', fresh.codes[3].code).outcome.tag, 'accepted');

  clock += 30 * 24 * 3600 * 1000 + 1;
  const later = codes.verify('erin', old.codes[4].code);
  assert.equal(later.outcome.tag, 'rejected');
  assert.equal(later.replacedSet, false, 'forgotten after 30 days');
});

test('interrupted counts toward lockout without an evaluation', () => {
  const p = { ...engine.defaultPolicy(), ...cheap, hash: { ...engine.defaultPolicy().hash, ...cheap.hash }, requireActivation: false };
  const issued = engine.issue(undefined, p, undefined);
  let credential = issued.credential;
  let v;
  for (let n = 1; n <= p.freeFailures; n += 1) {
    v = engine.interrupted(credential, p);
    credential = v.credential;
    assert.equal(v.outcome.tag, 'rejected');
    assert.equal(v.outcome.val.reason, 'interrupted');
    assert.equal(v.consecutiveFailures, n);
    assert.ok(v.events.some((ev) => ev.tag === 'failed' && ev.val.reason === 'interrupted'));
  }
  assert.equal(v.lock.tag, 'until');
  assert.equal(engine.verify(credential, undefined, issued.codes[0].code, p, undefined).outcome.tag, 'locked');
});

test('activation takes only the set the user was shown; answers name the next number', () => {
  const codes = localCodes(engine, cheap);
  const first = codes.issue('fay');
  assert.equal(codes.activate('fay', first.codes[0].code, first.setId).outcome.tag, 'accepted');
  const second = codes.issue('fay');
  // A stale page names the first set: refused before any hashing.
  assert.throws(() => codes.activate('fay', second.codes[0].code, first.setId), (e) => e?.payload?.tag === 'no-pending-set');
  assert.equal(codes.activate('fay', second.codes[0].code, second.setId).outcome.tag, 'accepted');

  const numbered = localCodes(engine, { ...cheap, order: 'numbered', requireActivation: false });
  const issued = numbered.issue('gil');
  const v = numbered.verify('gil', issued.codes[0].code);
  assert.equal(v.outcome.tag, 'accepted');
  assert.equal(v.nextNumber, 2);
});
