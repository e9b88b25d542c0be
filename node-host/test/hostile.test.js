// A component that misbehaves on demand (the workspace's `tests/hostile`,
// transpiled with jco into BACKUP_CODES_HOSTILE_DIR by the package's check):
// `verify` with the code LOOP spins forever, BOMB allocates without bound, HUGE,
// EVENTS, LONGCODE and LONGID answer out of bounds, TRAP and STACK trap. The host
// fails closed every time, and keeps serving.

import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { Host, HostError } from 'authn-backup-codes';

const dir = process.env.BACKUP_CODES_HOSTILE_DIR;
let host;
let policy;
let credential;

before(async () => {
  assert.ok(dir, 'set BACKUP_CODES_HOSTILE_DIR to the transpiled hostile component (see scripts/check-package)');
  host = await Host.load({ componentDir: dir, callTimeoutMs: 500, maxConcurrent: 2, queueTimeoutMs: 100 });
  policy = await host.defaultPolicy();
  credential = (await host.issue(null, policy)).credential;
});
after(() => host?.close());

const fails = (kind) => (e) => e instanceof HostError && e.kind === kind;

test('a component that loops forever is stopped by the deadline', async () => {
  const started = Date.now();
  await assert.rejects(host.verify(credential, null, 'LOOP', policy), fails('timeout'));
  const took = Date.now() - started;
  assert.ok(took < 5_000, `stopped after ${took} ms`);
  // Its worker was terminated; the next call gets a fresh one.
  assert.equal((await host.verify(credential, null, 'OK', policy)).outcome.tag, 'accepted');
});

test('every worker busy past the queue timeout is `busy`', async () => {
  // Both workers loop until their deadline; the expectation on each is set
  // at once, so neither rejection is ever unhandled, however slow the machine.
  const loops = [1, 2].map(() => assert.rejects(host.verify(credential, null, 'LOOP', policy), fails('timeout')));
  await assert.rejects(host.defaultPolicy(), fails('busy'));
  await Promise.all(loops);
});

test('a component that hoards memory or traps fails closed', async () => {
  for (const code of ['BOMB', 'TRAP', 'STACK']) {
    await assert.rejects(host.verify(credential, null, code, policy), fails('trap'), code);
  }
});

test('answers out of bounds are refused, not read', async () => {
  for (const code of ['HUGE', 'EVENTS', 'LONGCODE', 'LONGID']) {
    await assert.rejects(host.verify(credential, null, code, policy), fails('oversized'), code);
  }
});
