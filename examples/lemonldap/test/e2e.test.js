// End to end: an unmodified LemonLDAP::NG (Debian's 2.16 portal, a private
// instance made by ../setup, two Starman workers) and the REAL backup-code shim
// (SHIM_BIN), in headless Chromium (Debian's /usr/bin/chromium through
// playwright-core).
//
// The shim's tenant `llng`:
// - is LemonLDAP::NG's REST second factor: LemonLDAP::NG shows its own code form
//   and POSTs the typed code to http://llng-idp:<secret>@<shim>/rest2f/llng/verify
//   (rest2fVerifyArgs uid, mail → the shim's extra_fields);
// - has self-service pages (/self/llng/) whose users sign in at LemonLDAP::NG
//   through two relying parties: `selfservice` (authnLevel 1: the password
//   alone, so that a user without codes can get there) and `selfservice-strong`
//   (authnLevel 3: password and a backup code), which the shim uses to replace
//   or delete existing codes.
// The relying party `app` (authnLevel 3) is played by the test.
//
// a. dwho enrols at the self-service after the password alone;
// b. dwho signs in to `app` with password + a backup code (acr loa-3), and the
//    self-service shows that code as used;
// c. LemonLDAP::NG refuses a typo, another user's code, a used code, a locked
//    user's right code, and any code of a user without codes;
// d. LemonLDAP::NG fails closed when the shim is killed or frozen;
// e. two logins racing with one code: exactly one gets in;
// f. replacing codes needs a strong login (LemonLDAP::NG asks a backup code);
//    afterwards the old codes are refused and a new one upgrades a session.
//
// Screenshots, what LemonLDAP::NG showed for each refusal (refusals.json),
// timings and both logs go to artifacts/shim/ (LLNG_TEST_ARTIFACTS names
// another directory than artifacts/).

import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { freePort, startPortal } from '../src/portal.js';
import { CHROMIUM, CHROMIUM_ARGS } from './chromium.js';
import { confirmSessionPrompt, passwordLogin, portalError, screenshots, secondFactorForm, typeCode } from './llng-pages.js';
import { startRelyingParty } from './relying-party.js';
import { TENANT, shimConfig, shimSecrets, startShim } from './shim.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const artifacts = join(resolve(process.env.LLNG_TEST_ARTIFACTS ?? join(root, 'artifacts')), 'shim');

// Client secrets as a deployment would make them (base64url: see README.md on
// what LemonLDAP::NG 2.16's client_secret_basic survives).
const APP_SECRET = randomBytes(24).toString('base64url');
const SELFSERVICE_SECRET = randomBytes(24).toString('base64url');
const STRONG_SECRET = randomBytes(24).toString('base64url');
// LemonLDAP::NG's credentials at the shim, carried in rest2fVerifyUrl: the
// secret's '/', '+' and '=' are percent-encoded there and decoded by LWP.
const REST2F_CLIENT = { id: 'llng-idp', secret: randomBytes(24).toString('base64') };

// The screenshots README.md shows (examples/lemonldap/screenshots/, committed):
// artifact name -> file name.
const KEPT_SCREENSHOTS = {
  'llng-login-for-selfservice': '1-llng-password-for-selfservice',
  'self-home-without-codes': '2-self-no-codes',
  'self-codes-shown': '3-self-codes-shown-once',
  'self-confirmed': '4-self-codes-active',
  'llng-second-factor-typed': '5-llng-backup-code-form',
  'refused-used-code': '6-llng-code-refused',
  'self-home-code-used': '7-self-code-used',
  'llng-strong-login-prompt': '8-llng-strong-login-prompt',
  'refused-shim-killed': '9-llng-shim-down',
};

let instance;
let shimDir;
let portal;
let shim;
let app;
let browser;
let pages;
const timings = {};
/** What LemonLDAP::NG showed, per refusal (artifacts/shim/refusals.json). */
const refusals = {};
/** Each user's codes as the self-service showed them: {fingerprint, codes: [{number, code}]}. */
const sets = {};

const selfUrl = () => `${shim.url}/self/${TENANT}/`;

before(async () => {
  let t = Date.now();
  instance = mkdtempSync(join(tmpdir(), 'llng-test-'));
  await promisify(execFile)(join(root, 'setup'), [instance]);
  timings.setupMs = Date.now() - t;

  shimDir = mkdtempSync(join(tmpdir(), 'llng-shim-'));
  const shimPort = await freePort();
  const shimBase = `http://127.0.0.1:${shimPort}`;
  const callback = `${shimBase}/self/${TENANT}/callback`;
  const basic = `${encodeURIComponent(REST2F_CLIENT.id)}:${encodeURIComponent(REST2F_CLIENT.secret)}`;

  app = await startRelyingParty({ clientId: 'app', clientSecret: APP_SECRET, clientAuth: 'client_secret_basic' });
  t = Date.now();
  portal = await startPortal({
    dir: instance,
    // Two workers, as production runs several: logins are handled at the same
    // time, so two REST calls can reach the shim at once (test e).
    workers: 2,
    // Each worker keeps sessions it has read for handlerInternalCache (15 s):
    // a worker that had read a session before another raised it with the code
    // would ask to upgrade again (README.md, quirks). Off, as any portal with
    // several workers needs.
    lemonldap: { handlerInternalCache: 0 },
    relyingParties: {
      app: { clientId: 'app', clientSecret: APP_SECRET, redirectUris: [app.redirectUri], authnLevel: 3 },
      selfservice: {
        clientId: 'selfservice', clientSecret: SELFSERVICE_SECRET, redirectUris: [callback], authnLevel: 1,
        displayName: 'Backup codes',
      },
      'selfservice-strong': {
        clientId: 'selfservice-strong', clientSecret: STRONG_SECRET, redirectUris: [callback], authnLevel: 3,
        displayName: 'Backup codes (replace)',
      },
    },
    rest2f: {
      verifyUrl: `http://${basic}@127.0.0.1:${shimPort}/rest2f/${TENANT}/verify`,
      initUrl: `http://${basic}@127.0.0.1:${shimPort}/rest2f/${TENANT}/init`,
      verifyArgs: { uid: 'uid', mail: 'mail' },
      initArgs: { uid: 'uid' },
      authnLevel: 3,
      label: 'Backup code',
      timeout: 3,
    },
  });
  timings.portalStartMs = Date.now() - t;
  app.setIssuer(portal.issuer);

  t = Date.now();
  const secrets = shimSecrets();
  shim = await startShim({
    dir: shimDir,
    port: shimPort,
    issuer: portal.issuer,
    apiSecret: secrets.apiSecret,
    config: shimConfig({
      port: shimPort,
      dir: shimDir,
      issuer: portal.issuer,
      rest2fClient: REST2F_CLIENT,
      client: { clientId: 'selfservice', clientSecret: SELFSERVICE_SECRET },
      strongClient: { clientId: 'selfservice-strong', clientSecret: STRONG_SECRET },
      secrets,
    }),
  });
  timings.shimStartMs = Date.now() - t;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  // The committed screenshots are rewritten only when asked (UPDATE_SCREENSHOTS=1), so a
  // test run leaves the working tree as it found it; every run's are in artifacts/.
  const keepDir = process.env.UPDATE_SCREENSHOTS === '1' ? join(root, 'screenshots') : undefined;
  pages = screenshots(browser, artifacts, { keepDir, keep: KEPT_SCREENSHOTS });
});

after(async () => {
  await browser?.close();
  await portal?.stop();
  await shim?.stop();
  await app?.stop();
  if (pages) {
    writeFileSync(join(artifacts, 'refusals.json'), `${JSON.stringify(refusals, null, 2)}\n`);
    writeFileSync(join(artifacts, 'timings.json'), `${JSON.stringify(timings, null, 2)}\n`);
    if (shim) copyFileSync(shim.logFile, join(artifacts, 'shim.log'));
    if (portal) copyFileSync(portal.logFile, join(artifacts, 'portal.log'));
  }
  console.log(`# setup ${timings.setupMs} ms, portal start ${timings.portalStartMs} ms, shim start ${timings.shimStartMs} ms`);
  for (const d of [instance, shimDir]) if (d) rmSync(d, { recursive: true, force: true });
});

function needSet(user) {
  assert.ok(sets[user], `${user} has no codes: an earlier test that enrols ${user} failed`);
  return sets[user];
}

/** Open the self-service: the shim sends the browser to LemonLDAP::NG, which asks the password. */
async function selfServiceLogin(page, user, shot) {
  const sent = authorizeRequest(page);
  await page.goto(selfUrl());
  const authorize = await sent;
  assert.equal(authorize.get('client_id'), 'selfservice');
  assert.equal(authorize.get('prompt'), null);
  await page.waitForSelector('#userfield');
  if (shot) await shot('llng-login-for-selfservice');
  await passwordLogin(page, user);
  await homePage(page, user);
}

/** The next authorization request the browser sends to LemonLDAP::NG: its parameters. */
async function authorizeRequest(page) {
  const r = await page.waitForRequest((q) => q.url().startsWith(`${portal.url}/oauth2/authorize?`));
  return new URL(r.url()).searchParams;
}

async function homePage(page, user) {
  try {
    await page.waitForURL(selfUrl(), { timeout: 15_000 });
  } catch (e) {
    const text = await page.innerText('body').catch(() => '');
    await page.screenshot({ path: join(artifacts, `failed-${Date.now()}.png`), fullPage: true }).catch(() => {});
    throw new Error(`not at the self-service home page but at ${page.url()}: ${text.slice(0, 500)}`, { cause: e });
  }
  await page.waitForSelector('h1:has-text("Your backup codes")');
  assert.match(await page.textContent('main, body'), new RegExp(`Signed in as\\s+${user}`));
}

/** The codes page: every code with its number, and the set's fingerprint. */
async function shownCodes(page) {
  await page.waitForSelector('code[data-number]');
  const codes = await page.$$eval('code[data-number]', (els) => els.map((e) => ({ number: Number(e.dataset.number), code: e.textContent.trim() })));
  const fingerprint = await page.getAttribute('#codes', 'data-fingerprint');
  return { codes, fingerprint };
}

/** Create a set on the home page (or replace it after a strong login), type one back. */
async function createAndConfirm(page, shot, prefix) {
  const button = page.locator('button:has-text("Create my backup codes"), button:has-text("Replace my backup codes")');
  await button.click();
  const set = await shownCodes(page);
  assert.equal(set.codes.length, 10);
  assert.equal(new Set(set.codes.map((c) => c.code)).size, 10, 'ten different codes');
  // The page's script reveals copy, download and print.
  for (const id of ['#copy-codes', '#download-codes', '#print-codes']) assert.ok(await page.isVisible(id), `${id} shown`);
  if (shot) await shot(`${prefix}-codes-shown`);
  // Typed back loosely: lower case, spaces instead of dashes.
  const typed = set.codes.at(-1).code.toLowerCase().replaceAll('-', ' ');
  await page.fill('#code', typed);
  if (shot) await shot(`${prefix}-confirmation-typed`);
  await page.click('button:has-text("Confirm and turn on")');
  await page.waitForSelector('.notice:has-text("Your new backup codes are active")');
  assert.ok(await page.isVisible(`.fingerprint:has-text("${set.fingerprint}")`), 'the home page names the new set');
  assert.match(await page.textContent('body'), /10 of 10 codes left/);
  if (shot) await shot(`${prefix}-confirmed`);
  return set;
}

/** A user without codes enrols through the self-service (fresh browser). */
async function enrol(t, user) {
  const { page } = await pages.newPage(t);
  await selfServiceLogin(page, user);
  const set = await createAndConfirm(page);
  sets[user] = set;
  return set;
}

/** Sign in to `app`: password, then `code` in LemonLDAP::NG's form; the page after it. */
async function appLogin(page, user, code, { shot, name } = {}) {
  const req = await app.authorizationRequest();
  await page.goto(req.url);
  await passwordLogin(page, user);
  await secondFactorForm(page);
  if (shot) await shot(`${name}-second-factor-form`);
  await typeCode(page, code);
  return req;
}

/** LemonLDAP::NG refused: its message, recorded under `what`; app got nothing. */
async function refused(page, req, what, shot) {
  const shown = await portalError(page);
  refusals[what] = shown;
  if (shot) await shot(`refused-${what}`);
  assert.equal(app.callbackFor(req.state), undefined, 'app got no answer');
  assert.equal(await page.locator('#extcode').count(), 0, 'no second try (2.16)');
  return shown;
}

/** A well-formed code that is not dwho's (rtyler's first). */
const rtylerCode = () => needSet('rtyler').codes[0].code;

/** `code` with its first symbol replaced by another valid one: a typo. */
function typo(code) {
  const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  const other = alphabet[(alphabet.indexOf(code[0]) + 1) % alphabet.length];
  return other + code.slice(1);
}

const usedNumbers = (status) => (status.active?.used ?? []).map((u) => u.number).sort((a, b) => a - b);

test('a. self-service: dwho, without codes, enrols after the password alone (loa-1)', async (t) => {
  const { page, shot } = await pages.newPage(t);
  const logFrom = portal.log().length;
  await selfServiceLogin(page, 'dwho', shot);
  // LemonLDAP::NG asked no second factor for `selfservice` (level 1).
  assert.match(portal.log().slice(logFrom), /User dwho successfully authenticated at level 1/);
  assert.doesNotMatch(portal.log().slice(logFrom), /at level 3/);
  assert.ok(await page.isVisible('button:has-text("Create my backup codes")'));
  assert.match(await page.textContent('body'), /You have no backup codes/);
  await shot('self-home-without-codes');

  sets.dwho = await createAndConfirm(page, shot, 'self');
  const status = await shim.apiStatus('dwho');
  assert.equal(status.active.remaining, 10);
  assert.equal(status.pending, null);
  assert.equal(status.consecutive_failures, 0);

  // The home page again (reloaded): the set, nothing used, and the note that
  // replacing it will ask for the second factor (this login is password-only).
  await page.goto(selfUrl());
  await homePage(page, 'dwho');
  assert.match(await page.textContent('body'), /No code of this set has been used/);
  assert.ok(await page.isVisible('text=You will be asked to sign in again, with your second factor, first.'));
  await shot('self-home-with-codes');
});

test('b. app: password at LemonLDAP::NG, then a backup code in its own form, checked by the shim (acr loa-3)', async (t) => {
  const { codes } = needSet('dwho');
  const { page, shot } = await pages.newPage(t);
  const code = codes[0];
  const req = await app.authorizationRequest();
  await page.goto(req.url);
  await passwordLogin(page, 'dwho');
  await secondFactorForm(page);
  await shot('llng-second-factor-form');
  await page.fill('#extcode', code.code);
  await shot('llng-second-factor-typed');
  await page.click('form[action^="/rest2fcheck"] button[type=submit]');

  const params = await app.waitForCallback(req.state);
  // Checked against LemonLDAP::NG's JWKS (RS256), iss, aud, exp, nonce.
  const { claims, header } = await app.redeem(req, params);
  assert.equal(header.alg, 'RS256');
  assert.equal(header.kid, portal.settings.oidcServiceKeyIdSig);
  assert.equal(claims.iss, portal.issuer);
  assert.deepEqual([claims.aud].flat(), ['app']);
  assert.equal(claims.sub, 'dwho');
  assert.equal(claims.acr, 'loa-3');

  const status = await shim.apiStatus('dwho');
  assert.deepEqual(usedNumbers(status), [code.number]);
  assert.equal(status.active.remaining, 9);

  // Same browser, the self-service: LemonLDAP::NG's session (level 3) covers
  // `selfservice` (level 1), no password; the code shows as used.
  await page.goto(selfUrl());
  await homePage(page, 'dwho');
  const text = await page.textContent('body');
  assert.match(text, /9 of 10 codes left/);
  assert.match(text, new RegExp(`Code #${code.number}, used \\d{4}-\\d\\d-\\d\\d`));
  await shot('self-home-code-used');

  // Neither log holds a code.
  for (const [name, log] of [['shim', shim.log()], ['portal', portal.log()]]) {
    for (const c of codes) assert.ok(!log.includes(c.code), `no code in the ${name} log`);
  }
});

test('c. refused at LemonLDAP::NG: a typo (one wrong character), not counted by the shim', async (t) => {
  const { codes } = needSet('dwho');
  const { page, shot } = await pages.newPage(t);
  const before = await shim.apiStatus('dwho');
  const req = await appLogin(page, 'dwho', typo(codes[1].code));
  const shown = await refused(page, req, 'typo', shot);
  assert.equal(shown.number, 96, 'PE_BADOTP');
  // The check symbol caught it: no attempt counted, the right code still unused.
  const status = await shim.apiStatus('dwho');
  assert.equal(status.consecutive_failures, before.consecutive_failures);
  assert.deepEqual(usedNumbers(status), usedNumbers(before));
});

test("c. refused at LemonLDAP::NG: another user's code (rtyler's, for dwho)", async (t) => {
  needSet('dwho');
  const rtyler = await enrol(t, 'rtyler');
  const { page, shot } = await pages.newPage(t);
  const before = await shim.apiStatus('dwho');
  const req = await appLogin(page, 'dwho', rtyler.codes[0].code);
  assert.equal((await refused(page, req, 'other-users-code', shot)).number, 96);
  assert.equal((await shim.apiStatus('dwho')).consecutive_failures, before.consecutive_failures + 1);
  assert.deepEqual(usedNumbers(await shim.apiStatus('rtyler')), [], "rtyler's code was not used either");
});

test('c. refused at LemonLDAP::NG: a code used before', async (t) => {
  const { codes } = needSet('dwho');
  const { page, shot } = await pages.newPage(t);
  const before = await shim.apiStatus('dwho');
  assert.deepEqual(usedNumbers(before), [codes[0].number], 'used in b');
  const usedAt = before.active.used.find((u) => u.number === codes[0].number).at;
  const req = await appLogin(page, 'dwho', codes[0].code);
  const typedAt = Date.now() / 1000;
  assert.equal((await refused(page, req, 'used-code', shot)).number, 96);
  // Within 60 s of its use, a used code is a double submit (the engine's reuse
  // grace): refused but not counted toward lockout. Later it counts.
  const counted = typedAt - usedAt > 60 ? 1 : 0;
  timings.usedCodeSecondsAfterUse = Math.round(typedAt - usedAt);
  const status = await shim.apiStatus('dwho');
  assert.equal(status.consecutive_failures, before.consecutive_failures + counted);
  assert.deepEqual(usedNumbers(status), usedNumbers(before));
});

test('c. refused at LemonLDAP::NG: a locked user (rtyler after wrong codes), even with the right code', async (t) => {
  const { codes } = needSet('rtyler');
  const wrong = needSet('dwho').codes.slice(5); // well-formed, not rtyler's
  let attempts = 0;
  let status;
  do {
    attempts += 1;
    const { page } = await pages.newPage(t);
    const req = await appLogin(page, 'rtyler', wrong[attempts - 1].code);
    assert.equal((await refused(page, req, `wrong-code-${attempts}`)).number, 96);
    status = await shim.apiStatus('rtyler');
  } while (!status.locked_until && attempts < wrong.length);
  // The default policy: five failures are free, the fifth starts a 30 s lockout.
  assert.equal(attempts, 5);
  assert.equal(status.consecutive_failures, 5);
  assert.ok(status.locked_until > Date.now() / 1000, 'locked for a while');

  const { page, shot } = await pages.newPage(t);
  const req = await appLogin(page, 'rtyler', codes[0].code);
  assert.equal((await refused(page, req, 'locked-right-code', shot)).number, 96);
  assert.deepEqual(usedNumbers(await shim.apiStatus('rtyler')), [], 'the right code was not used');

  // The self-service tells rtyler (the password is enough to look).
  const home = await pages.newPage(t);
  await selfServiceLogin(home.page, 'rtyler');
  assert.ok(await home.page.isVisible('text=Codes are locked after too many wrong codes.'));
  await home.shot('self-home-locked');
});

test('c. refused at LemonLDAP::NG: a user without codes (msmith), whatever is typed', async (t) => {
  // The shim's init answers {"result": false} (no codes); LemonLDAP::NG 2.16
  // shows its form anyway (README.md, quirks), and the shim refuses every code.
  const { page, shot } = await pages.newPage(t);
  const req = await appLogin(page, 'msmith', needSet('dwho').codes[1].code);
  assert.equal((await refused(page, req, 'no-codes', shot)).number, 96);
});

test('d. the shim killed: LemonLDAP::NG refuses the code (fails closed); the code still works after a restart', async (t) => {
  const { codes } = needSet('dwho');
  const code = codes[2];
  const { page, shot } = await pages.newPage(t);
  const req = await app.authorizationRequest();
  await page.goto(req.url);
  await passwordLogin(page, 'dwho');
  await shim.kill();
  const logFrom = portal.log().length;
  await secondFactorForm(page); // shown although the init call failed
  await typeCode(page, code.code);
  assert.equal((await refused(page, req, 'shim-killed', shot)).number, 24, 'PE_ERROR');
  assert.match(portal.log().slice(logFrom), /\[error\] rest2f: error \(500 Can't connect/);

  const t0 = Date.now();
  await shim.restart();
  timings.shimRestartMs = Date.now() - t0;
  assert.ok(!usedNumbers(await shim.apiStatus('dwho')).includes(code.number), 'the refused code was not spent');
});

test('d. the shim frozen (accepts, never answers): LemonLDAP::NG gives up after lwpOpts.timeout and refuses', async (t) => {
  const { codes } = needSet('dwho');
  const { page, shot } = await pages.newPage(t);
  const req = await app.authorizationRequest();
  await page.goto(req.url);
  await passwordLogin(page, 'dwho');
  await secondFactorForm(page);
  const code = codes[5];
  const before = await shim.apiStatus('dwho');
  shim.freeze();
  t.after(() => shim.thaw());
  const t0 = Date.now();
  await typeCode(page, code.code);
  assert.equal((await refused(page, req, 'shim-frozen', shot)).number, 24, 'PE_ERROR');
  timings.frozenRefusalMs = Date.now() - t0;
  assert.ok(timings.frozenRefusalMs >= 3000, 'after the 3 s timeout');
  shim.thaw();
  // The request LemonLDAP::NG gave up on is still in the shim's socket; give
  // the thawed shim a moment to do whatever it does with it.
  await new Promise((ok) => setTimeout(ok, 1000));
  const status = await shim.apiStatus('dwho');
  // Measured: the shim drops the request of a client that has gone (hyper sees
  // the closed connection), so the code stays unused. Were it answered, the
  // code would be spent for nothing, never a login: record which.
  timings.frozenCodeSpent = usedNumbers(status).includes(code.number);
  if (!timings.frozenCodeSpent) assert.equal(status.consecutive_failures, before.consecutive_failures);
  assert.equal(app.callbackFor(req.state), undefined);
});

test('e. two LemonLDAP::NG logins racing with one code: exactly one gets in', async (t) => {
  const { codes } = needSet('dwho');
  const code = codes[2];
  const metric = async () => Number(/^backup_codes_store_conflicts_total (\d+)/m.exec(await (await fetch(`${shim.url}/metrics`)).text())?.[1] ?? 0);
  const conflictsBefore = await metric();
  const racers = [];
  for (const name of ['first', 'second']) {
    const { page, shot } = await pages.newPage(t);
    const req = await app.authorizationRequest();
    await page.goto(req.url);
    await passwordLogin(page, 'dwho');
    await secondFactorForm(page);
    await page.fill('#extcode', code.code);
    const timing = {};
    page.on('request', (r) => { if (r.method() === 'POST' && r.url().includes('/rest2fcheck')) timing.sent = Date.now(); });
    page.on('response', (r) => { if (r.request().method() === 'POST' && r.url().includes('/rest2fcheck')) timing.answered = Date.now(); });
    racers.push({ name, page, shot, req, timing });
  }
  // Both submit at once; each Starman worker makes its REST call to the shim.
  await Promise.all(racers.map((r) => r.page.click('form[action^="/rest2fcheck"] button[type=submit]')));
  const outcomes = await Promise.all(racers.map(async (r) => {
    const won = app.waitForCallback(r.req.state, 10_000).then((p) => ({ won: p }));
    const lost = portalError(r.page).then((e) => ({ lost: e }));
    return Promise.race([won, lost]);
  }));
  const winners = outcomes.filter((o) => o.won);
  assert.equal(winners.length, 1, `exactly one login succeeded: ${JSON.stringify(outcomes)}`);
  const winner = racers[outcomes.indexOf(winners[0])];
  assert.equal((await app.redeem(winner.req, winners[0].won)).claims.acr, 'loa-3');
  const loser = racers[outcomes.findIndex((o) => o.lost)];
  refusals['race-loser'] = outcomes.find((o) => o.lost).lost;
  await loser.shot('refused-race-loser');
  assert.equal(refusals['race-loser'].number, 96, 'the loser saw a refused code');

  const status = await shim.apiStatus('dwho');
  assert.equal(status.active.used.filter((u) => u.number === code.number).length, 1);
  // How close the two were: both requests were open at LemonLDAP::NG at once.
  const [a, b] = racers.map((r) => r.timing);
  timings.race = { overlapMs: Math.min(a.answered, b.answered) - Math.max(a.sent, b.sent), storeConflicts: (await metric()) - conflictsBefore };
  assert.ok(timings.race.overlapMs > 0, `the two submissions overlapped: ${JSON.stringify(timings.race)}`);
});

/**
 * On the self-service home page of a password-only session, ask to replace the
 * codes: the shim sends the browser to LemonLDAP::NG through the strong client
 * (level 3), which confirms, asks the password again if it renews the session,
 * then shows its second-factor form. Returns what LemonLDAP::NG did.
 */
async function askToReplace(page, user, shot) {
  assert.ok(await page.isVisible('text=You will be asked to sign in again, with your second factor, first.'));
  const sent = authorizeRequest(page);
  await page.click('button:has-text("Replace my backup codes")');
  const authorize = await sent;
  assert.equal(authorize.get('client_id'), 'selfservice-strong');
  // Freshness only: the strong client's level makes LemonLDAP::NG ask the code
  // (prompt=login would ask it twice, see the shim's selfservice::strong_ask).
  assert.equal(authorize.get('prompt'), null);
  assert.equal(authorize.get('max_age'), '300');
  assert.equal(authorize.get('acr_values'), 'loa-3');
  await page.waitForSelector('form#upgrd');
  if (shot) await shot('llng-strong-login-prompt');
  const how = await confirmSessionPrompt(page);
  if (how === 'renew') await passwordLogin(page, user);
  await secondFactorForm(page);
  if (shot) await shot('llng-strong-login-second-factor');
  return how;
}

test('f. replacing codes needs the strong login: the password-only session must pass the second factor first', async (t) => {
  const old = needSet('dwho');
  const before = await shim.apiStatus('dwho');
  timings.strongLogin = [];

  // A refused code at the strong login: no strong session, nothing replaced.
  {
    const { page, shot } = await pages.newPage(t);
    await selfServiceLogin(page, 'dwho');
    timings.strongLogin.push(await askToReplace(page, 'dwho', shot));
    await typeCode(page, rtylerCode());
    const shown = await portalError(page);
    refusals['strong-login-wrong-code'] = shown;
    assert.equal(shown.number, 96);
    await shot('refused-strong-login');
    const status = await shim.apiStatus('dwho');
    assert.equal(status.active.fingerprint, before.active.fingerprint, 'the set was not replaced');
    assert.equal(status.pending, null, 'no new set is waiting');
    // Back at the self-service, the session is still the password-only one.
    await page.goto(selfUrl());
    await homePage(page, 'dwho');
    assert.ok(await page.isVisible('text=You will be asked to sign in again, with your second factor, first.'));
  }

  // With a backup code: a strong session, then a new set.
  const { page, shot } = await pages.newPage(t);
  await selfServiceLogin(page, 'dwho');
  const passwordAt = Date.now();
  timings.strongLogin.push(await askToReplace(page, 'dwho'));
  // Regression: the code typed once the session is older than LemonLDAP::NG's
  // portalForceAuthnInterval (5 s). With prompt=login in the strong request,
  // LemonLDAP::NG then replayed it after the upgrade and asked the password and
  // a second code.
  await new Promise((ok) => setTimeout(ok, Math.max(0, 6000 - (Date.now() - passwordAt))));
  const spent = old.codes[3];
  await typeCode(page, spent.code);
  await homePage(page, 'dwho');
  assert.equal(await page.locator('text=You will be asked to sign in again, with your second factor, first.').count(), 0, 'a strong session');
  await shot('self-home-strong');
  const fresh = await createAndConfirm(page, shot, 'self-replace');
  assert.notEqual(fresh.fingerprint, old.fingerprint);
  sets.dwho = fresh;
  const status = await shim.apiStatus('dwho');
  assert.equal(status.active.fingerprint, fresh.fingerprint);
  assert.equal(status.active.remaining, 10);

  // At LemonLDAP::NG, an unused code of the old set is refused; a new one works.
  {
    const refusedLogin = await pages.newPage(t);
    const req = await appLogin(refusedLogin.page, 'dwho', old.codes[4].code);
    assert.equal((await refused(refusedLogin.page, req, 'replaced-code')).number, 96);
  }
  const ok = await pages.newPage(t);
  const req = await appLogin(ok.page, 'dwho', fresh.codes[0].code);
  const { claims } = await app.redeem(req, await app.waitForCallback(req.state));
  assert.equal(claims.acr, 'loa-3');
});
