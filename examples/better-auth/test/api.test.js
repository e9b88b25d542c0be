// The plugin through Better Auth's server API (no browser): what the pages do
// not show. Better Auth keeps no code of its own and refuses to make one; the
// plugin refuses to start beside a two-factor plugin that would; status and
// deletion; a code typed back to confirm a set is checked by the component.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { betterAuth } from 'better-auth';
import { twoFactor } from 'better-auth/plugins/two-factor';
import { backupCodes } from 'authn-backup-codes/better-auth';
import { Host } from 'authn-backup-codes';
import { atTwoFactorStep, enrolTwoFactor, PASSWORD, startApp, typo, workspace } from './helpers.js';

let ws;
let app;
let headers;

async function refusal(promise) {
  try {
    await promise;
  } catch (e) {
    return { status: e.statusCode, code: e.body?.code, body: e.body, headers: e.headers };
  }
  assert.fail('not refused');
}

before(async () => {
  ws = workspace();
  app = await startApp({ ...ws, freshSignInSeconds: 60 });
  const enrolled = await enrolTwoFactor(app.auth, 'lin@example.com');
  assert.deepEqual(enrolled.backupCodes, [], 'Better Auth made codes of its own');
  headers = enrolled.headers;
});

after(async () => {
  await app?.close();
  ws?.cleanup();
});

test("Better Auth's own backup codes stay off", async () => {
  const refused = await refusal(app.auth.api.generateBackupCodes({ body: { password: PASSWORD }, headers }));
  assert.equal(refused.status, 403);
  assert.equal(refused.code, 'USE_COMPONENT_BACKUP_CODES');
});

test('the plugin does not start beside a two-factor plugin that keeps codes', async () => {
  const database = new Database(':memory:');
  const auth = betterAuth({ database, secret: ws.secret, baseURL: 'http://127.0.0.1', plugins: [twoFactor(), backupCodes()] });
  await assert.rejects(auth.$context, /Better Auth must not make backup codes of its own/);
  database.close();
});

test('status, confirmation and deletion', async () => {
  assert.equal((await app.auth.api.componentBackupCodeStatus({ headers })).enrolled, false);
  const issued = await app.auth.api.generateComponentBackupCodes({ headers });
  assert.equal(issued.codes.length, 10);
  let status = await app.auth.api.componentBackupCodeStatus({ headers });
  assert.equal(status.pending, true);
  assert.equal(status.enrolled, false);
  // A code of the set, mistyped: refused before it counts; then typed right.
  const refused = await refusal(app.auth.api.activateComponentBackupCodes({ body: { code: typo(issued.codes[3]), setId: issued.setId }, headers }));
  assert.deepEqual([refused.status, refused.code], [400, 'BACKUP_CODE_TYPO']);
  await app.auth.api.activateComponentBackupCodes({ body: { code: issued.codes[3], setId: issued.setId }, headers });
  status = await app.auth.api.componentBackupCodeStatus({ headers });
  assert.deepEqual(
    { enrolled: status.enrolled, remaining: status.remaining, total: status.total, low: status.low, exhausted: status.exhausted, pending: status.pending },
    { enrolled: true, remaining: 10, total: 10, low: false, exhausted: false, pending: false },
  );
  await app.auth.api.deleteComponentBackupCodes({ headers });
  assert.equal((await app.auth.api.componentBackupCodeStatus({ headers })).enrolled, false);
  assert.ok(app.events.some((e) => e.event.tag === 'deleted'));
  const count = app.database.prepare('select count(*) as n from backupCodeCredential').get().n;
  assert.equal(count, 0);
});

test('without a session nothing is answered', async () => {
  const refused = await refusal(app.auth.api.componentBackupCodeStatus({ headers: new Headers() }));
  assert.equal(refused.status, 401);
});

test('one attempt is one component call, and a user without codes is answered as one with codes', async () => {
  const host = await Host.load();
  const calls = [];
  // The plugin's host, counting the component calls each attempt makes.
  const counting = new Proxy(host, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      return (...args) => {
        calls.push(String(prop));
        return value.apply(target, args);
      };
    },
  });
  const own = workspace();
  const counted = await startApp({ ...own, host: counting, freshSignInSeconds: 60 });
  try {
    const withCodes = await enrolTwoFactor(counted.auth, 'kay@example.com');
    const issued = await counted.auth.api.generateComponentBackupCodes({ headers: withCodes.headers });
    await counted.auth.api.activateComponentBackupCodes({ body: { code: issued.codes[0], setId: issued.setId }, headers: withCodes.headers });
    const maxSession = await enrolTwoFactor(counted.auth, 'max@example.com');
    const strangers = (await host.issue(null, await host.defaultPolicy())).codes.map((c) => c.code);

    async function attempt(email, code) {
      const headers = await atTwoFactorStep(counted.auth, email);
      calls.length = 0;
      let answer;
      try {
        await counted.auth.api.verifyBackupCode({ body: { code }, headers });
        answer = 200;
      } catch (e) {
        answer = `${e.statusCode} ${e.body?.code}`;
      }
      return { calls: [...calls], answer };
    }

    assert.deepEqual(await attempt('kay@example.com', issued.codes[1]), { calls: ['verify'], answer: 200 });
    const kay = [await attempt('kay@example.com', typo(issued.codes[2]))];
    const max = [await attempt('max@example.com', typo(strangers[0]))];
    for (let i = 1; i <= 6; i += 1) {
      kay.push(await attempt('kay@example.com', strangers[i]));
      max.push(await attempt('max@example.com', strangers[i]));
    }
    // The same component calls and the same answers, lockout included.
    assert.deepEqual(max, kay);
    assert.deepEqual(kay[0], { calls: ['verify'], answer: '400 BACKUP_CODE_TYPO' });
    assert.deepEqual(kay[1], { calls: ['verify'], answer: '401 INVALID_BACKUP_CODE' });
    assert.deepEqual(kay.at(-1).answer, '429 BACKUP_CODES_LOCKED');
    assert.ok(kay.every((a) => a.calls.length === 1 && a.calls[0] === 'verify'));
    // Max's attempts were counted on a copy of the decoy set: not codes of
    // theirs, and replaced by their first set.
    const { headers } = maxSession;
    assert.equal((await counted.auth.api.componentBackupCodeStatus({ headers })).enrolled, false);
    const first = await counted.auth.api.generateComponentBackupCodes({ headers });
    await counted.auth.api.activateComponentBackupCodes({ body: { code: first.codes[0], setId: first.setId }, headers });
    assert.equal((await counted.auth.api.componentBackupCodeStatus({ headers })).remaining, 10);
    assert.deepEqual(await attempt('max@example.com', first.codes[1]), { calls: ['verify'], answer: 200 });
  } finally {
    await counted.close();
    own.cleanup();
    await host.close();
  }
});
