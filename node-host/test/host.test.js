// The package through its public API, as an application installs it: the
// component it carries, a set issued, typed back and used, the engine's refusals
// as typed errors, the memory bound, and the configuration checks.
// (hostile.test.js: a component that loops, hoards memory or answers out of
// bounds.)

import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUNDLED_COMPONENT_DIR, COMPONENT_FILE, EngineError, Host, HostError, LoadError } from 'authn-backup-codes';

let host;
let policy;
// A cheap argon2 cost keeps the suite quick; the default policy is used where
// the cost matters (the memory bound).
const cheap = (p) => ({ ...p, hash: { ...p.hash, memoryKib: 1024, iterations: 1 } });

before(async () => {
  host = await Host.load();
  policy = cheap(await host.defaultPolicy());
});
after(() => host?.close());

test('the host runs the component the package carries', () => {
  const bytes = readFileSync(join(BUNDLED_COMPONENT_DIR, COMPONENT_FILE));
  assert.equal(host.sha256, createHash('sha256').update(bytes).digest('hex'));
});

test('a set is issued, typed back, and each code works once', async () => {
  const issued = await host.issue(null, policy);
  assert.equal(issued.codes.length, 10);
  const [first, second] = issued.codes.map((c) => c.code);
  const active = await host.activate(issued.credential, issued.setId, first, policy);
  assert.equal(active.outcome.tag, 'accepted');
  const used = await host.verify(active.credential, null, second, policy);
  assert.deepEqual(used.outcome, { tag: 'accepted', val: 2 });
  assert.equal(used.remaining, 9, 'typing one back to prove saving uses none');
  const again = await host.verify(used.credential, null, second, policy);
  assert.equal(again.outcome.tag, 'rejected');
  assert.equal(again.outcome.val.reason, 'already-used');
  const status = await host.status(again.credential, policy);
  assert.equal(status.active.remaining, 9);
  assert.equal(status.consecutiveFailures, 0, 'a used code does not count toward lockout');
  // The credential holds digests, never a code.
  const stored = Buffer.from(again.credential).toString('latin1');
  for (const c of issued.codes) assert.ok(!stored.includes(c.code.replaceAll('-', '')));
});

test('a typo is caught before it counts, as a typed engine error', async () => {
  const issued = await host.issue(null, { ...policy, requireActivation: false });
  const code = issued.codes[0].code;
  const typo = code.slice(0, -1) + (code.endsWith('7') ? '8' : '7');
  await assert.rejects(host.verify(issued.credential, null, typo, policy), (e) => {
    assert.ok(e instanceof EngineError);
    assert.equal(e.case, 'invalid-code');
    assert.equal(e.formatError, 'check-symbol-mismatch');
    assert.ok(!e.message.includes(typo), 'no code in the message');
    return true;
  });
  await assert.rejects(host.verify(new Uint8Array([1, 2, 3]), null, code, policy), (e) => e instanceof EngineError && e.case === 'malformed-credential');
});

test('wrong codes lock the set out, with the time to retry', async () => {
  const clockAt = 1_900_000_000;
  const locking = await Host.load({ clock: () => clockAt, maxConcurrent: 1 });
  try {
    const p = { ...policy, requireActivation: false, freeFailures: 2 };
    const issued = await locking.issue(null, p);
    let credential = issued.credential;
    const other = (await locking.issue(null, p)).codes[0].code;
    let last;
    for (let i = 0; i < 3; i += 1) {
      last = await locking.verify(credential, null, other, p);
      credential = last.credential;
    }
    assert.equal(last.lock.tag, 'until');
    assert.ok(last.lock.val > BigInt(clockAt));
    const right = await locking.verify(credential, null, issued.codes[0].code, p);
    assert.equal(right.outcome.tag, 'locked', 'even the right code waits');
  } finally {
    await locking.close();
  }
});

test('the memory bound holds: argon2 beyond it fails closed', async () => {
  const small = await Host.load({ memoryLimitBytes: 8 << 20 });
  try {
    const full = await small.defaultPolicy(); // 19 MiB of argon2 memory
    // The component's allocation fails inside it: it answers `host-failure`
    // (or traps, for an allocation it cannot recover from).
    await assert.rejects(small.issue(null, full), (e) =>
      (e instanceof EngineError && e.case === 'host-failure') || (e instanceof HostError && e.kind === 'trap'));
    // The host is still usable within its bound.
    const ok = await small.issue(null, cheap(full));
    assert.equal(ok.codes.length, 10);
  } finally {
    await small.close();
  }
});

test('a verify stopped by its deadline is counted as a failed attempt', async () => {
  // Digests made at a cost far past a 200 ms deadline (each evaluation
  // ~0.5 s here): issued by a patient host, checked by a hasty one.
  const costly = { ...policy, count: 4, requireActivation: false, hash: { memoryKib: 24576, iterations: 16, parallelism: 1 } };
  const issued = await host.issue(null, costly);
  const hasty = await Host.load({ callTimeoutMs: 200 });
  try {
    await assert.rejects(hasty.verify(issued.credential, null, issued.codes[0].code, costly), (e) => {
      assert.ok(e instanceof HostError && e.kind === 'timeout', String(e));
      assert.equal(e.counted.outcome.tag, 'rejected');
      assert.equal(e.counted.outcome.val.reason, 'interrupted');
      assert.equal(e.counted.consecutiveFailures, 1);
      return true;
    });
  } finally {
    await hasty.close();
  }
});

test('configuration and component digests are checked at load', async () => {
  await assert.rejects(Host.load({ expectedSha256: '00'.repeat(32) }), LoadError);
  await assert.rejects(Host.load({ maxConcurrent: 0 }), LoadError);
  await assert.rejects(Host.load({ componentDir: '/nonexistent' }), LoadError);
  const pinned = await Host.load({ expectedSha256: host.sha256.toUpperCase() });
  await pinned.close();
});

test('a closed host refuses calls', async () => {
  const h = await Host.load();
  await h.close();
  await assert.rejects(h.defaultPolicy(), (e) => e instanceof HostError && e.kind === 'busy');
});
