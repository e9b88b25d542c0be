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
import { PASSWORD, startApp, totp, workspace } from './helpers.js';

let ws;
let app;
let headers;

const cookieOf = (h) => new Headers({ cookie: h.getSetCookie().map((c) => c.split(';')[0]).join('; ') });

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
  const signUp = await app.auth.api.signUpEmail({
    body: { name: 'Lin', email: 'lin@example.com', password: PASSWORD }, returnHeaders: true,
  });
  headers = cookieOf(signUp.headers);
  const enabled = await app.auth.api.enableTwoFactor({ body: { password: PASSWORD }, headers });
  assert.deepEqual(enabled.backupCodes, [], 'Better Auth made codes of its own');
  const verified = await app.auth.api.verifyTOTP({ body: { code: totp(enabled.totpURI) }, headers, returnHeaders: true });
  if (verified.headers.getSetCookie().length > 0) headers = cookieOf(verified.headers);
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
  const typo = issued.codes[3].replace(/[0-9A-Z]/, (c) => (c === 'A' ? 'B' : 'A'));
  const refused = await refusal(app.auth.api.activateComponentBackupCodes({ body: { code: typo, setId: issued.setId }, headers }));
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
