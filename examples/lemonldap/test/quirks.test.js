// End to end against an unmodified LemonLDAP::NG (Debian's 2.16 portal, a
// private instance made by ../setup and started by ../src/portal.js), in
// headless Chromium (Debian's /usr/bin/chromium driven by playwright-core):
//
// - `app` needs authentication level 3: password (level 1), then LemonLDAP::NG's
//   own second-factor form, whose code its REST second factor ("rest2f") sends to
//   the verifier; the ID token's acr is loa-3;
// - a session made for `selfservice` (level 1) is upgraded for `app` by the code
//   alone;
// - a verifier answering 503 ends in a refusal (refused connections and hangs:
//   e2e.test.js, with the real shim killed and frozen);
// - three measured quirks of 2.16 (stale pending request after a refusal, the
//   init call's result ignored, `"false"` read as true), and a code reaching the
//   verifier exactly as typed;
// - the exact rest2f requests are recorded in artifacts/quirks/rest2f-requests.json,
//   screenshots of every page in artifacts/quirks/.
//
// The verifier here is a STAND-IN (./stand-in-verifier.js) that can answer what
// the shim never does (a string "false", a failing init): it pins LemonLDAP::NG's
// side of the contract. e2e.test.js runs the same portal against the real shim.

import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { PSGI_APP, instanceApp, startPortal } from '../src/portal.js';
import { CHROMIUM, CHROMIUM_ARGS } from './chromium.js';
import { startRelyingParty } from './relying-party.js';
import { startStandInVerifier } from './stand-in-verifier.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// Screenshots and the recorded requests (LLNG_TEST_ARTIFACTS names another directory).
const artifacts = join(resolve(process.env.LLNG_TEST_ARTIFACTS ?? join(root, 'artifacts')), 'quirks');
rmSync(artifacts, { recursive: true, force: true });
mkdirSync(artifacts, { recursive: true });

const USER = 'dwho';
const PASSWORD = 'dwho';
// A code in the shim's display form; the stand-in accepts this one only.
const GOOD_CODE = 'K7M2-9QXD-4HTP-W';
const WRONG_CODE = 'K7M2-9QXD-4HTP-X';
// Client secrets as a deployment would make them (base64url; see README.md on
// which characters LemonLDAP::NG 2.16's client_secret_basic parsing survives).
const APP_SECRET = randomBytes(24).toString('base64url');
const SELFSERVICE_SECRET = randomBytes(24).toString('base64url');
// The verifier's Basic credentials, carried in rest2fVerifyUrl; the password's
// '/', '+' and '=' are percent-encoded there and decoded by LWP.
const VERIFIER_USER = 'llng-rest2f';
const VERIFIER_PASSWORD = randomBytes(24).toString('base64');

let instance;
let privateDir;
let privateApp;
let portal;
let verifier;
let app;
let selfservice;
let browser;
const timings = {};

before(async () => {
  let t = Date.now();
  instance = mkdtempSync(join(tmpdir(), 'llng-test-'));
  await promisify(execFile)(join(root, 'setup'), [instance]);
  timings.setupMs = Date.now() - t;

  // The stand-in verifier: records every rest2f request, accepts GOOD_CODE, and
  // can be told to answer as no real verifier should.
  verifier = await startStandInVerifier({ username: VERIFIER_USER, password: VERIFIER_PASSWORD, acceptCode: GOOD_CODE });

  app = await startRelyingParty({ clientId: 'app', clientSecret: APP_SECRET, clientAuth: 'client_secret_basic' });
  selfservice = await startRelyingParty({ clientId: 'selfservice', clientSecret: SELFSERVICE_SECRET, clientAuth: 'client_secret_post' });
  // The app the portal runs, in a directory only its owner (root) may enter,
  // as a checkout under /root or a Debian 12 home directory is.
  privateDir = mkdtempSync(join(tmpdir(), 'llng-private-'));
  chmodSync(privateDir, 0o700);
  privateApp = join(privateDir, 'portal.psgi');
  copyFileSync(PSGI_APP, privateApp);
  chmodSync(privateDir, 0o700);
  t = Date.now();
  portal = await startPortal({
    app: privateApp,
    dir: instance,
    relyingParties: {
      app: { clientId: app.clientId, clientSecret: APP_SECRET, redirectUris: [app.redirectUri], authnLevel: 3 },
      selfservice: {
        clientId: selfservice.clientId, clientSecret: SELFSERVICE_SECRET,
        redirectUris: [selfservice.redirectUri], authnLevel: 1,
      },
    },
    rest2f: {
      verifyUrl: verifier.verifyUrl,
      initUrl: verifier.initUrl,
      verifyArgs: { uid: 'uid', mail: 'mail' },
      initArgs: { uid: 'uid' },
      authnLevel: 3,
      label: 'Backup code',
      timeout: 3,
    },
  });
  timings.portalStartMs = Date.now() - t;
  app.setIssuer(portal.issuer);
  selfservice.setIssuer(portal.issuer);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
  const rss = portal ? await portalRssKiB(portal.pid) : undefined;
  await portal?.stop();
  await verifier?.stop();
  await app?.stop();
  await selfservice?.stop();
  writeFileSync(join(artifacts, 'rest2f-requests.json'), `${JSON.stringify(verifier?.requests ?? [], null, 2)}\n`);
  writeFileSync(join(artifacts, 'timings.json'), `${JSON.stringify({ ...timings, portalRssKiB: rss }, null, 2)}\n`);
  console.log(`# setup ${timings.setupMs} ms, portal start ${timings.portalStartMs} ms, portal RSS ${rss} KiB`);
  if (instance) rmSync(instance, { recursive: true, force: true });
  if (privateDir) rmSync(privateDir, { recursive: true, force: true });
});

async function portalRssKiB(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** A fresh browser profile, with screenshots numbered across the whole run. */
let shotNumber = 0;
async function newPage(t) {
  const context = await browser.newContext();
  t.after(() => context.close());
  const page = await context.newPage();
  page.on('requestfailed', (r) => console.error(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  const shot = async (name) => {
    shotNumber += 1;
    await page.screenshot({ path: join(artifacts, `${String(shotNumber).padStart(2, '0')}-${name}.png`), fullPage: true });
  };
  return { page, shot };
}

async function password(page, shot, prefix) {
  await page.waitForSelector('#userfield');
  await page.fill('#userfield', USER);
  await page.fill('#passwordfield', PASSWORD);
  if (shot) await shot(`${prefix}-login`);
  await page.click('button[type=submit]');
}

/** LemonLDAP::NG's second-factor form (template ext2fcheck, REST prefix). */
async function secondFactorForm(page) {
  await page.waitForSelector('form[action^="/rest2fcheck"] #extcode');
  // The legend is translated in the browser from trspan="enterRest2fCode",
  // overridden in the instance's lemonldap-ng.ini (msg_enterRest2fCode).
  await page.waitForSelector('span[trspan="enterRest2fCode"]:has-text("Enter one of your backup codes")');
  assert.equal(await page.getAttribute('#extcode', 'autocomplete'), 'one-time-code');
}

async function typeCode(page, code) {
  await page.fill('#extcode', code);
  await page.click('form[action^="/rest2fcheck"] button[type=submit]');
}

/** The error LemonLDAP::NG shows, as its message number (trmsg). */
async function portalError(page) {
  const el = await page.waitForSelector('.message [trmsg]');
  return Number(await el.getAttribute('trmsg'));
}

const verifyRequests = () => verifier.requests.filter((r) => r.path === '/verify');

test('the portal reads nothing of the checkout (it may be private to its owner)', () => {
  // Started as root, the portal runs as www-data, which cannot enter a clone
  // under a mode-0700 home: this one's app came from a mode-0700 directory
  // (see before), and it answers from the instance's copy.
  assert.equal(statSync(privateDir).mode & 0o777, 0o700);
  assert.ok(existsSync(instanceApp(instance)));
  assert.ok(portal.issuer);
});

test('app: password, then the REST second factor; the ID token says loa-3', async (t) => {
  const { page, shot } = await newPage(t);
  const before = verifier.requests.length;
  const req = await app.authorizationRequest();
  await page.goto(req.url);
  await password(page, shot, 'app');

  await secondFactorForm(page);
  await shot('app-second-factor-form');
  await page.fill('#extcode', GOOD_CODE);
  await shot('app-second-factor-typed');
  await page.click('form[action^="/rest2fcheck"] button[type=submit]');

  const params = await app.waitForCallback(req.state);
  await page.waitForURL(`${app.redirectUri}?**`);
  await shot('app-callback');
  const { claims, header } = await app.redeem(req, params);
  assert.equal(header.alg, 'RS256');
  assert.equal(header.kid, portal.settings.oidcServiceKeyIdSig);
  assert.equal(claims.iss, portal.issuer);
  assert.deepEqual([claims.aud].flat(), ['app']);
  assert.equal(claims.sub, USER);
  assert.equal(claims.acr, 'loa-3');
  assert.equal(claims.amr, undefined, 'LemonLDAP::NG 2.16 sets no amr');

  // What LemonLDAP::NG sent: the init call when the form was shown, then the
  // verification, both POSTed as JSON with the URL's credentials as Basic.
  const sent = verifier.requests.slice(before);
  assert.deepEqual(sent.map((r) => r.path), ['/init', '/verify']);
  const basic = `Basic ${Buffer.from(`${VERIFIER_USER}:${VERIFIER_PASSWORD}`).toString('base64')}`;
  for (const r of sent) {
    assert.equal(r.method, 'POST');
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers.authorization, basic);
    assert.match(r.headers['user-agent'], /^libwww-perl\//);
  }
  assert.deepEqual(sent[0].body, { user: USER, uid: USER });
  assert.deepEqual(sent[1].body, { user: USER, code: GOOD_CODE, uid: USER, mail: 'dwho@badwolf.org' });

  // The typed code is not in LemonLDAP::NG's log at the configured level.
  assert.ok(!portal.log().includes(GOOD_CODE), 'no code in the portal log');
  assert.match(portal.log(), /User dwho successfully authenticated at level 3/);
});

test('upgrade: a selfservice session (loa-1) reaches app with the code alone (loa-3)', async (t) => {
  const { page, shot } = await newPage(t);
  const ss = await selfservice.authorizationRequest();
  await page.goto(ss.url);
  await password(page);
  assert.equal((await selfservice.redeem(ss, await selfservice.waitForCallback(ss.state))).claims.acr, 'loa-1');

  // Same browser, now the app: LemonLDAP::NG asks to upgrade the session, then
  // shows only its second-factor form (sfOnlyUpgrade: no password again).
  const req = await app.authorizationRequest();
  await page.goto(req.url);
  await page.waitForSelector('form#upgrd');
  assert.equal(await page.locator('span[trspan="askToUpgrade"]').count(), 1);
  await shot('upgrade-asked');
  await page.click('form#upgrd button[type=submit]');
  await secondFactorForm(page);
  assert.equal(await page.locator('#passwordfield').count(), 0, 'no password field on upgrade');
  await shot('upgrade-second-factor-form');
  await typeCode(page, GOOD_CODE);
  const { claims } = await app.redeem(req, await app.waitForCallback(req.state));
  assert.equal(claims.acr, 'loa-3');
  assert.equal(claims.sub, USER);
});

test('quirk: after a refused code, the next login in that browser resumes the refused request', async (t) => {
  // Main/Issuer.pm keeps a pending authorization request in the pdata cookie
  // (`pdata->{issuerRequestoauth2} ||= storeRequest`) until issuersTimeout
  // (120 s) and a refused second factor does not clear it: a new request for
  // selfservice, after the password, comes back to app's request.
  const { page, shot } = await newPage(t);
  const refused = await app.authorizationRequest();
  await page.goto(refused.url);
  await password(page);
  await secondFactorForm(page);
  // Typed loosely: LemonLDAP::NG passes the code on exactly as typed.
  const typed = ` ${WRONG_CODE.toLowerCase().replaceAll('-', ' ')} `;
  await typeCode(page, typed);
  assert.equal(await portalError(page), 96, 'PE_BADOTP');
  await shot('wrong-code-refused');
  assert.equal(verifyRequests().at(-1).body.code, typed);
  assert.equal(app.callbackFor(refused.state), undefined);
  assert.equal(await page.locator('#extcode').count(), 0, 'no second try in 2.16');

  const ss = await selfservice.authorizationRequest();
  await page.goto(ss.url);
  await password(page);
  await page.waitForSelector('form#upgrd');
  await shot('quirk-stale-request-upgrade');
  await page.click('form#upgrd button[type=submit]');
  await secondFactorForm(page);
  await typeCode(page, GOOD_CODE);
  const params = await app.waitForCallback(refused.state);
  assert.equal((await app.redeem(refused, params)).claims.acr, 'loa-3', "app's old request completed");
  assert.equal(selfservice.callbackFor(ss.state), undefined, 'selfservice never got an answer');
});

// A verifier that refuses connections or hangs: e2e.test.js (the shim killed,
// frozen). Here what the shim answers when its engine or store is unavailable.
for (const [mode, what] of [
  ['error', 'answers HTTP 503'],
]) {
  test(`fails closed when the verifier ${what}`, async (t) => {
    const { page, shot } = await newPage(t);
    t.after(() => verifier.setMode('normal'));
    const req = await app.authorizationRequest();
    await page.goto(req.url);
    await password(page);
    // rest2fInitUrl is called when the form is shown: set the mode after it.
    await secondFactorForm(page);
    await verifier.setMode(mode);
    await typeCode(page, GOOD_CODE);
    assert.equal(await portalError(page), 24, 'PE_ERROR');
    await shot(`verifier-${mode}-refused`);
    assert.equal(app.callbackFor(req.state), undefined);
    assert.match(portal.log(), /\[error\] rest2f: error \(/);
  });
}

test('quirk: a failing rest2fInitUrl does not stop the form; only the verification counts', async (t) => {
  // Lib/Code2F.pm: `return PE_ERROR unless $self->challenge(...)`, but
  // REST.pm's sendCode returns PE_ERROR (24, a true value) when the init call
  // fails, so the form is shown anyway.
  const { page, shot } = await newPage(t);
  t.after(() => verifier.setMode('normal'));
  await verifier.setMode('down');
  const req = await app.authorizationRequest();
  await page.goto(req.url);
  await password(page);
  await secondFactorForm(page);
  await shot('quirk-init-down-form-shown');
  assert.match(portal.log(), /\[error\] rest2f: error \(500 Can't connect/);
  await verifier.setMode('normal');
  await typeCode(page, GOOD_CODE);
  assert.equal((await app.redeem(req, await app.waitForCallback(req.state))).claims.acr, 'loa-3');
});

test('quirk: {"result": "false"} (a string) is true to LemonLDAP::NG; answer JSON booleans', async (t) => {
  const { page } = await newPage(t);
  t.after(() => verifier.setMode('normal'));
  const req = await app.authorizationRequest();
  await page.goto(req.url);
  await password(page);
  await secondFactorForm(page);
  await verifier.setMode('string-false');
  await typeCode(page, WRONG_CODE);
  const { claims } = await app.redeem(req, await app.waitForCallback(req.state));
  assert.equal(claims.acr, 'loa-3', 'Perl truthiness: the non-empty string "false" let a wrong code in');
});
