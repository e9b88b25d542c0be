// End to end in headless Chromium against a real Better Auth 1.7 on SQLite,
// its backup codes from the component (through the npm package's plugin):
// sign up, turn on two-step verification (TOTP), save the codes (one typed
// back), sign out, sign in with password + backup code; the refusals with
// their messages; two submissions of one code at once; regeneration after a
// fresh sign-in only; and the database read for codes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Host } from 'authn-backup-codes';
import { codesInDatabase, launch, PASSWORD, startApp, submit, totp, typo, workspace } from './helpers.js';

const FRESH_SECONDS = 8;
const EMAIL = 'ada@example.com';
let ws;
let app;
let browser;
let page;

let decoyCodes = [];

before(async () => {
  const host = await Host.load();
  decoyCodes = (await host.issue(null, await host.defaultPolicy())).codes.map((c) => c.code);
  await host.close();
  ws = workspace();
  app = await startApp({ ...ws, freshSignInSeconds: FRESH_SECONDS });
  browser = await launch();
  page = await (await browser.newContext({ baseURL: app.baseURL })).newPage();
});

after(async () => {
  await browser?.close();
  await app?.close();
  ws?.cleanup();
});

async function errorText() {
  await page.waitForSelector('#error:not([hidden])');
  return page.textContent('#error');
}

async function signOut() {
  await page.goto('/account');
  await page.click('#sign-out button');
  await page.waitForURL('**/sign-in');
}

/** Password first: lands on the two-factor step. */
async function password(email = EMAIL) {
  await page.goto('/sign-in');
  await submit(page, 'sign-in', { email, password: PASSWORD });
  await page.waitForURL('**/two-factor');
}

/** Submit a backup code at the step (the previous answer cleared first). */
async function backupCode(code) {
  await page.evaluate(() => {
    const error = document.querySelector('#error');
    error.textContent = '';
    error.hidden = true;
  });
  await submit(page, 'backup-code', { code });
}

async function signedInWith(code) {
  await backupCode(code);
  await page.waitForURL('**/account');
  assert.equal(await page.textContent('#email'), EMAIL);
}

/** Make a set in the account page and type its first code back. */
async function makeCodes() {
  await page.click('#generate button');
  await page.waitForSelector('#new-codes:not([hidden])');
  const codes = await page.$$eval('#codes li', (items) => items.map((li) => li.textContent));
  assert.equal(codes.length, 10);
  await submit(page, 'activate', { code: codes[0] });
  await page.waitForSelector('#new-codes[hidden]', { state: 'attached' });
  await page.waitForLoadState('load');
  return codes;
}

function userId() {
  return app.database.prepare('select id from user where email = ?').get(EMAIL).id;
}

let codes;

test('sign up, turn on two-step verification, save backup codes', async () => {
  await page.goto('/sign-up');
  await submit(page, 'sign-up', { name: 'Ada', email: EMAIL, password: PASSWORD });
  await page.waitForURL('**/account');
  await submit(page, 'enable-2fa', { password: PASSWORD });
  await page.waitForSelector('#totp-setup:not([hidden])');
  const uri = await page.textContent('#totp-uri');
  await submit(page, 'confirm-totp', { code: totp(uri) });
  await page.waitForSelector('#two-factor-on');
  codes = await makeCodes();
  await page.waitForSelector('#status');
  assert.match(await page.textContent('#status'), /^10 of 10 backup codes left/);
  // Better Auth keeps no code: its column holds an empty list, and no code
  // (as shown, or bare, in any case) is anywhere in the database file.
  const row = app.database.prepare('select backupCodes from twoFactor where userId = ?').get(userId());
  assert.equal(row.backupCodes, '[]');
  assert.deepEqual(codesInDatabase(ws.databaseFile, codes), []);
  assert.ok(app.events.some((e) => e.event.tag === 'issued'), 'the application heard of the new set');
});

test('sign out, sign in with password and a backup code', async () => {
  await signOut();
  await password();
  await signedInWith(codes[1]);
  assert.match(await page.textContent('#status'), /^9 of 10 backup codes left/);
  assert.ok(app.events.some((e) => e.event.tag === 'used'), 'the application heard of the code used');
});

test('a used code, a typo and a wrong code are refused with their messages', async () => {
  await signOut();
  await password();
  await backupCode(codes[1]);
  assert.match(await errorText(), /already used/);
  // One symbol changed: the check symbol catches it before it counts.
  await backupCode(typo(codes[2]));
  assert.match(await errorText(), /typo \(nothing was counted\)/);
  // A well-formed code of someone else's set: wrong here, and counted.
  await backupCode(wellFormedWrongCode());
  assert.match(await errorText(), /not right/);
  await signedInWith(codes[2]);
});

/** A code of the same shape as the user's, from a set the component issued to nobody here. */
function wellFormedWrongCode() {
  const code = decoyCodes.shift();
  assert.ok(code, 'out of decoy codes');
  return code;
}

test('two submissions of one code at the same time give exactly one session', async () => {
  await signOut();
  await password();
  const statuses = await page.evaluate(async (code) => {
    const send = () => fetch('/api/auth/two-factor/verify-backup-code', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }),
    }).then((r) => r.status);
    return Promise.all([send(), send()]);
  }, codes[3]);
  assert.deepEqual(statuses.filter((s) => s === 200).length, 1, `answers: ${statuses}`);
  const sessions = app.database.prepare('select count(*) as n from session where userId = ?').get(userId()).n;
  assert.equal(sessions, 1);
  await page.goto('/account');
  assert.match(await page.textContent('#status'), /^7 of 10 backup codes left/);
});

test('a new set needs a fresh sign-in, and replaces the old one', async () => {
  await sleep((FRESH_SECONDS + 1) * 1000);
  await page.goto('/account');
  await page.click('#generate button');
  assert.match(await errorText(), /Sign in again to change your backup codes/);
  await signOut();
  await password();
  await signedInWith(codes[4]);
  const fresh = await makeCodes();
  assert.match(await page.textContent('#status'), /^10 of 10 backup codes left/);
  await signOut();
  await password();
  await backupCode(codes[5]);
  assert.match(await errorText(), /not right/);
  await signedInWith(fresh[1]);
  assert.ok(app.events.some((e) => e.event.tag === 'activated'), 'the application heard of the replacement');
  assert.deepEqual(codesInDatabase(ws.databaseFile, [...codes, ...fresh]), []);
  codes = fresh;
});

test('wrong codes lock the step out, and the answer says when to retry', async () => {
  await signOut();
  await password();
  let text = '';
  for (let i = 0; i < 8 && !/try again later/.test(text); i += 1) {
    await backupCode(wellFormedWrongCode());
    text = await errorText();
  }
  assert.match(text, /Too many wrong backup codes: try again later \(retry in \d+ s\)/);
  // Locked: even a right code is refused, and it is not spent.
  await backupCode(codes[2]);
  assert.match(await errorText(), /try again later/);
  assert.ok(app.events.some((e) => e.event.tag === 'locked'), 'the application heard of the lockout');
});
