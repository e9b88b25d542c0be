// The shim's self-service (`/self/{tenant}/`) in headless Chromium, with the
// shim as a second client of the real oidc-provider: alice signs in there with
// her password (she has no codes yet), makes and confirms a set, signs in to
// the app with her password and one of those codes (the provider's usual
// redirect step), sees that code as used, then replaces the set: the shim asks
// the provider for a fresh login (prompt=login, max_age=0, acr_values), the
// provider asks for the password and a backup code, and afterwards the new set
// works at login and the old one does not. A callback whose state is not this
// browser's, and an authorization code issued to another client, open no
// session. Screenshots go to screenshots/self-*.png.

import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { SELF_SERVICE_CLIENT, startStack } from '../src/stack.js';
import { ACR } from '../src/provider.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../src/chromium.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const shots = join(root, 'screenshots');
mkdirSync(shots, { recursive: true });

const PASSWORD = 'correct horse battery staple';

test('self-service through the provider: create, use at login, replace after a fresh login', { timeout: 180_000 }, async (t) => {
  // Four codes, and no "few codes left" notice in between (low_water 1).
  const stack = await startStack({ policy: { count: 4, low_water: 1 } });
  t.after(() => stack.stop());
  const { authorization_endpoint: authEndpoint } = await (await fetch(`${stack.issuer}/.well-known/openid-configuration`)).json();
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  t.after(() => browser.close());

  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('requestfailed', (r) => console.error(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  // A page's Content-Security-Policy blocking a navigation fails the test at once, saying so.
  let blocked;
  const cspBlock = new Promise((_, no) => { blocked = no; });
  cspBlock.catch(() => {});
  page.on('console', (m) => {
    if (/Content Security Policy/.test(m.text())) blocked(new Error(`blocked by the page's CSP: ${m.text()}`));
  });
  const navigation = (url) => Promise.race([page.waitForURL(url), cspBlock]);
  // Every authorization request the shim sends the browser with.
  const shimAsks = [];
  page.on('request', (r) => {
    const url = new URL(r.url());
    if (`${url.origin}${url.pathname}` === authEndpoint && url.searchParams.get('client_id') === SELF_SERVICE_CLIENT) {
      shimAsks.push(url.searchParams);
    }
  });
  let n = 0;
  const shot = async (name) => {
    n += 1;
    await page.screenshot({ path: join(shots, `self-${String(n).padStart(2, '0')}-${name}.png`), fullPage: true });
  };
  const password = async () => {
    await page.waitForSelector('#password');
    await page.fill('#username', 'alice');
    await page.fill('#password', PASSWORD);
    await page.click('button[type=submit]');
  };
  const backupCode = async (code) => {
    await page.waitForSelector('h1:has-text("Enter a backup code")');
    await page.fill('#code', code);
    await page.click('button:has-text("Continue")');
  };
  const home = () => page.waitForSelector('h1:has-text("Your backup codes")');
  const rpClaims = async () => {
    await page.waitForURL(`${stack.rp.base}/`);
    await page.waitForSelector('#claims');
    return JSON.parse(await page.locator('#claims').textContent());
  };
  const newSet = async () => {
    await page.waitForSelector('ol.codes');
    const codes = await page.locator('ol.codes code').allTextContents();
    const numbers = await page.locator('ol.codes code').evaluateAll((els) => els.map((e) => Number(e.dataset.number)));
    assert.deepEqual(numbers, [1, 2, 3, 4]);
    const fingerprint = await page.locator('.codes-box').getAttribute('data-fingerprint');
    return { codes, fingerprint };
  };

  // 1. The self-service page sends the browser to the provider: code flow,
  //    PKCE S256, state and nonce, no fresh login asked for just to look.
  await page.goto(stack.selfServiceUrl);
  await page.waitForURL(`${stack.issuer}/interaction/**`);
  let ask = shimAsks.at(-1);
  assert.equal(ask.get('response_type'), 'code');
  assert.equal(ask.get('redirect_uri'), `${stack.selfServiceUrl}callback`);
  assert.equal(ask.get('code_challenge_method'), 'S256');
  assert.match(ask.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
  assert.ok(ask.get('state')?.length >= 22 && ask.get('nonce')?.length >= 22);
  assert.equal(ask.get('prompt'), null);
  // alice has no codes: the provider takes the password alone for this client.
  await password();
  await page.waitForURL(stack.selfServiceUrl);
  await home();
  assert.match(await page.locator('main').textContent(), /You have no backup codes/);
  await shot('no-codes');

  // 2. A first set: shown once, one code typed back.
  await page.click('button:has-text("Create my backup codes")');
  const first = await newSet();
  await shot('codes-shown-once');
  await page.fill('#code', first.codes[0].toLowerCase().replaceAll('-', ' '));
  await page.click('button:has-text("Confirm and turn on")');
  await home();
  assert.match(await page.locator('.notice').textContent(), /Your new backup codes are active/);
  assert.equal(await page.locator('#set').getAttribute('data-fingerprint'), first.fingerprint);
  assert.match(await page.locator('main').textContent(), /4 of 4 codes left/);
  await shot('set-active');

  // 3. The app: the password-only session no longer does now that alice has
  //    codes; the provider asks for the password and a code (its shim step).
  await page.goto(`${stack.rp.base}/`);
  await page.click('#login');
  await password();
  await page.waitForURL(`${stack.shimUrl}/step/**`);
  await backupCode(first.codes[1]);
  let claims = await rpClaims();
  assert.equal(claims.sub, 'alice');
  assert.equal(claims.acr, ACR.backupCode);
  assert.deepEqual(claims.amr, ['pwd', 'otp']);
  assert.ok(Number.isInteger(claims.auth_time));
  assert.equal(claims.backup_code.number, 2);
  assert.equal(claims.backup_code.remaining, 3);

  // 4. Back at the self-service page (its session still runs): code #2 used.
  await page.goto(stack.selfServiceUrl);
  await home();
  let text = await page.locator('main').textContent();
  assert.match(text, /3 of 4 codes left/);
  assert.match(text, /Code #2, used \d{4}-\d\d-\d\d/);
  assert.doesNotMatch(text, /Code #1, used/, 'the code typed back to confirm the set stays usable');
  assert.match(text, /sign in again, with your second factor/);
  await shot('code-used');

  // 5. Replace: this session (password alone) may not; the shim asks the
  //    provider for a fresh login with the strong acr.
  const asked = shimAsks.length;
  await page.click('button:has-text("Replace my backup codes")');
  await navigation(`${stack.issuer}/interaction/**`);
  assert.equal(shimAsks.length, asked + 1, 'one new authorization request');
  ask = shimAsks.at(-1);
  assert.equal(ask.get('prompt'), 'login');
  assert.equal(ask.get('max_age'), '0');
  assert.equal(ask.get('acr_values'), ACR.backupCode);
  // The provider's session (password and code, a minute old) is not enough:
  // prompt=login asks for the password again, then a code of the old set.
  await shot('fresh-login');
  await password();
  await page.waitForURL(`${stack.shimUrl}/step/**`);
  await backupCode(first.codes[2]);
  await page.waitForURL(stack.selfServiceUrl);
  await home();
  text = await page.locator('main').textContent();
  assert.match(text, /2 of 4 codes left/);
  assert.doesNotMatch(text, /sign in again, with your second factor/, 'this session may replace codes');
  await shot('after-fresh-login');
  await page.click('button:has-text("Replace my backup codes")');
  const second = await newSet();
  assert.notEqual(second.fingerprint, first.fingerprint);
  assert.equal(new Set([...first.codes, ...second.codes]).size, 8);
  await page.fill('#code', first.codes[3]);
  await page.click('button:has-text("Confirm and turn on")');
  await page.waitForSelector('#code-error');
  assert.match(await page.locator('#code-error').textContent(), /not one of the new set/);
  await page.fill('#code', second.codes[3]);
  await page.click('button:has-text("Confirm and turn on")');
  await home();
  assert.match(await page.locator('.notice').textContent(), /Your new backup codes are active/);
  assert.equal(await page.locator('#set').getAttribute('data-fingerprint'), second.fingerprint);
  assert.match(await page.locator('main').textContent(), /4 of 4 codes left/);
  await shot('replaced');

  // 6. At the app: the old set's last unused code is refused, a new one works.
  await page.goto(`${stack.rp.base}/`);
  await page.click('#logout');
  await page.click('button[value=yes]');
  await page.waitForSelector('#login');
  await page.click('#login');
  await password();
  await backupCode(first.codes[3]);
  await page.waitForSelector('#code-error');
  assert.match(await page.locator('#code-error').textContent(), /set of backup codes that was replaced/);
  await page.fill('#code', second.codes[0]);
  await page.click('button:has-text("Continue")');
  claims = await rpClaims();
  assert.equal(claims.acr, ACR.backupCode);
  assert.equal(claims.backup_code.number, 1);
  assert.equal(claims.backup_code.remaining, 3);

  // 7. Sign out of the self-service page.
  await page.goto(stack.selfServiceUrl);
  await home();
  await page.click('button:has-text("Sign out")');
  await page.waitForSelector('h1:has-text("Signed out")');
  await shot('signed-out');

  const log = stack.shimLog();
  for (const c of [...first.codes, ...second.codes]) assert.ok(!log.includes(c), 'no code in the shim log');
});

test('self-service callbacks: another browser\'s state, another client\'s code', { timeout: 120_000 }, async (t) => {
  const stack = await startStack({ policy: { count: 4 } });
  t.after(() => stack.stop());
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  const callback = `${stack.selfServiceUrl}callback`;

  /**
   * Follow redirects from `url` in the browser context `ctx` (its cookies)
   * until one points at `target`: return that address, not visited. At the
   * provider's password page, sign in as `login` ({user, password}).
   */
  const answerFor = async (ctx, url, target, login) => {
    let next = { url, method: 'GET' };
    for (let hops = 0; hops < 20; hops += 1) {
      const r = await ctx.request.fetch(next.url, { method: next.method, form: next.form, maxRedirects: 0 });
      const location = r.headers().location;
      if (r.status() >= 300 && r.status() < 400 && location) {
        const to = new URL(location, next.url);
        if (to.href.startsWith(`${target}?`)) return to;
        next = { url: to.href, method: 'GET' };
      } else if (r.ok() && login && /id="password"/.test(await r.text())) {
        next = { url: `${next.url}/login`, method: 'POST', form: { username: login.user, password: login.password } };
        login = undefined;
      } else {
        throw new Error(`${next.url} answered ${r.status()} before reaching ${target}`);
      }
    }
    throw new Error('too many redirects');
  };

  // The attacker (bob, no codes) signs in at the self-service in his browser
  // and keeps the answer; the victim's browser is at the provider's login
  // page with its own login transaction, and is sent bob's answer.
  const attacker = await browser.newContext();
  const bobAnswer = await answerFor(attacker, stack.selfServiceUrl, callback, { user: 'bob', password: 'tr0ub4dor&3' });
  assert.ok(bobAnswer.searchParams.get('code') && bobAnswer.searchParams.get('state'));
  const victim = await browser.newContext();
  const page = await victim.newPage();
  await page.goto(stack.selfServiceUrl);
  await page.waitForSelector('#password');
  let r = await page.goto(bobAnswer.toString());
  assert.equal(r.status(), 403);
  await page.waitForSelector('h1:has-text("Sign-in not completed")');
  await page.screenshot({ path: join(shots, 'self-callback-wrong-state.png'), fullPage: true });
  // Every cookie of the context (those scoped to /self/example/ are not the shim root's).
  const session = async (ctx) => (await ctx.cookies()).some((c) => c.name === 'bc_self_example');
  assert.equal(await session(victim), false, 'no self-service session');
  await page.goto(stack.selfServiceUrl);
  await page.waitForURL(`${stack.issuer}/interaction/**`);
  // The same answer in bob's own browser signs him in.
  const bobPage = await attacker.newPage();
  await bobPage.goto(bobAnswer.toString());
  await bobPage.waitForSelector('h1:has-text("Your backup codes")');
  assert.match(await bobPage.locator('main').textContent(), /Signed in as bob/);
  await bobPage.click('button:has-text("Sign out")');
  await bobPage.waitForSelector('h1:has-text("Signed out")');
  assert.equal(await session(attacker), false);

  // In bob's browser, where the provider still has his session: a code the
  // provider issued to the app (single sign-on), then a new self-service
  // login, answered without a prompt, with its state. The app's code with that
  // state: the provider does not exchange it for the shim's client, and no
  // session opens.
  const appAnswer = await answerFor(attacker, `${stack.rp.base}/login`, stack.rp.redirectUri);
  const own = await answerFor(attacker, `${stack.selfServiceUrl}login`, callback);
  const forged = new URL(callback);
  forged.searchParams.set('code', appAnswer.searchParams.get('code'));
  forged.searchParams.set('state', own.searchParams.get('state'));
  r = await bobPage.goto(forged.toString());
  // The provider's token endpoint refuses the code (invalid_grant): a refused
  // sign-in, not an unavailable provider.
  assert.equal(r.status(), 403);
  await bobPage.waitForSelector('h1:has-text("Sign-in not completed")');
  await bobPage.screenshot({ path: join(shots, 'self-callback-other-client.png'), fullPage: true });
  assert.equal(await session(attacker), false, 'no self-service session');
  // The refused callback ended the login transaction: its cookie is gone, and
  // the genuine answer to it no longer opens a session either.
  const loginCookie = async (ctx) => (await ctx.cookies()).some((c) => c.name === 'bc_self_login_example');
  assert.equal(await loginCookie(attacker), false, 'login transaction removed');
  r = await bobPage.goto(own.toString());
  assert.equal(r.status(), 403);
  assert.equal(await session(attacker), false, 'no self-service session');
  // The refusal page leads back to the backup-code page, which starts a new login.
  const back = bobPage.locator('a:has-text("Open your backup-code page")');
  assert.equal(new URL(await back.getAttribute('href'), stack.shimUrl).href, stack.selfServiceUrl);
  await back.click();
  await bobPage.waitForSelector('h1:has-text("Your backup codes")');
  assert.match(await bobPage.locator('main').textContent(), /Signed in as bob/);

  // The address without its trailing slash redirects to it (the session
  // cookie is scoped to the slash), and the session is found there.
  const bare = stack.selfServiceUrl.replace(/\/$/, '');
  r = await attacker.request.fetch(bare, { maxRedirects: 0 });
  assert.equal(r.status(), 303);
  assert.equal(new URL(r.headers().location, bare).href, stack.selfServiceUrl);
  await bobPage.goto(bare);
  await bobPage.waitForURL(stack.selfServiceUrl);
  await bobPage.waitForSelector('h1:has-text("Your backup codes")');
});
