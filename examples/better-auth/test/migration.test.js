// Users who already have Better Auth's own backup codes keep them: the codes
// are made by Better Auth's real two-factor plugin (encrypted, its default)
// before the component's plugin is installed; then one user signs in with one
// of them in Chromium (imported at first use: once, and never again), and the
// others are moved by `migrateAll`. Afterwards the database holds no code,
// plain or encrypted.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { betterAuth } from 'better-auth';
import { getMigrations } from 'better-auth/db/migration';
import { twoFactor } from 'better-auth/plugins/two-factor';
import { Host } from 'authn-backup-codes';
import { migrateAll, readBetterAuthCodes } from 'authn-backup-codes/better-auth';
import { atTwoFactorStep, codesInDatabase, databaseBytes, enrolTwoFactor, launch, PASSWORD, startApp, submit, workspace } from './helpers.js';

let ws;
const betterAuthCodes = new Map();
const ciphertexts = [];

/** Better Auth as it was before: its own two-factor plugin, codes encrypted. */
async function enrolWithBetterAuthsOwnCodes(email) {
  const database = new Database(ws.databaseFile);
  const options = {
    database, secret: ws.secret, baseURL: 'http://127.0.0.1', emailAndPassword: { enabled: true },
    plugins: [twoFactor()],
  };
  await (await getMigrations(options)).runMigrations();
  const enabled = await enrolTwoFactor(betterAuth(options), email);
  const stored = database.prepare('select backupCodes from twoFactor t join user u on u.id = t.userId where u.email = ?').get(email);
  database.close();
  // Stored reversibly: hex ciphertext that Better Auth's own function opens.
  assert.match(stored.backupCodes, /^[0-9a-f]+$/);
  assert.deepEqual(await readBetterAuthCodes({ secretConfig: ws.secret }, stored.backupCodes), enabled.backupCodes);
  betterAuthCodes.set(email, enabled.backupCodes);
  ciphertexts.push(stored.backupCodes);
}

before(async () => {
  ws = workspace();
  await enrolWithBetterAuthsOwnCodes('grace@example.com');
  await enrolWithBetterAuthsOwnCodes('alan@example.com');
});

after(() => ws?.cleanup());

test("a user signs in with one of Better Auth's own codes, once", async () => {
  const app = await startApp(ws);
  const browser = await launch();
  try {
    const page = await (await browser.newContext({ baseURL: app.baseURL })).newPage();
    const codes = betterAuthCodes.get('grace@example.com');
    const signIn = async (code) => {
      await page.goto('/sign-in');
      await submit(page, 'sign-in', { email: 'grace@example.com', password: PASSWORD });
      await page.waitForURL('**/two-factor');
      await submit(page, 'backup-code', { code });
    };
    await signIn(codes[0]);
    await page.waitForURL('**/account');
    assert.match(await page.textContent('#status'), /^9 of 10 backup codes left \(carried over from before: make a new set\)/);
    await page.click('#sign-out button');
    await page.waitForURL('**/sign-in');
    await signIn(codes[0]);
    await page.waitForSelector('#error:not([hidden])');
    assert.match(await page.textContent('#error'), /already used/);
    // Better Auth's codes are case-sensitive, and stay so.
    await page.goto('/sign-in');
    await signIn(codes[1].toLowerCase() === codes[1] ? codes[1].toUpperCase() : codes[1].toLowerCase());
    await page.waitForSelector('#error:not([hidden])');
    assert.match(await page.textContent('#error'), /not right/);
    await page.goto('/sign-in');
    await signIn(codes[1]);
    await page.waitForURL('**/account');
    assert.ok(app.events.some((e) => e.event.tag === 'imported'), 'the application heard of the import');
    const row = app.database.prepare("select backupCodes from twoFactor t join user u on u.id = t.userId where u.email = 'grace@example.com'").get();
    assert.equal(row.backupCodes, '[]');
    assert.deepEqual(codesInDatabase(ws.databaseFile, codes), []);
  } finally {
    await browser.close();
    await app.close();
  }
});

test('migrateAll moves every other user, and leaves no reversible code', async () => {
  const app = await startApp(ws);
  try {
    const host = await Host.load();
    try {
      const context = await app.auth.$context;
      const report = await migrateAll(context, host, await host.defaultPolicy());
      assert.deepEqual(report, { imported: 1, alreadyEnrolled: 0, withoutCodes: 0 });
      const again = await migrateAll(context, host, await host.defaultPolicy());
      assert.deepEqual(again, { imported: 0, alreadyEnrolled: 0, withoutCodes: 0 });
    } finally {
      await host.close();
    }
    const rows = app.database.prepare('select backupCodes from twoFactor').all();
    assert.deepEqual(rows.map((r) => r.backupCodes), ['[]', '[]']);
    const all = [...betterAuthCodes.values()].flat();
    assert.deepEqual(codesInDatabase(ws.databaseFile, all), []);
    // Nor the encrypted lists (or any long piece of them) in the file's free space.
    const bytes = databaseBytes(ws.databaseFile);
    for (const hex of ciphertexts) {
      for (let i = 0; i + 32 <= hex.length; i += 32) assert.ok(!bytes.includes(hex.slice(i, i + 32)), 'a piece of an encrypted list is still in the file');
    }
    // Alan's codes work through the component now.
    const verified = await app.auth.api.verifyBackupCode({
      body: { code: betterAuthCodes.get('alan@example.com')[3] }, headers: await atTwoFactorStep(app.auth, 'alan@example.com'),
    });
    assert.equal(verified.user.email, 'alan@example.com');
  } finally {
    await app.close();
  }
});
