// End to end in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core; no browser is downloaded): an app starts an
// authorization-code flow at the OpenID provider; the user signs in with a
// password, enrols backup codes at the shim (shown once, one typed back), logs
// out, signs in again with a backup code, and the app's ID token shows it; the
// same code is then refused. Screenshots of every page go to screenshots/.

import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startStack } from '../src/stack.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../src/chromium.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const shots = join(root, 'screenshots');
mkdirSync(shots, { recursive: true });


const PASSWORD = 'correct horse battery staple';

test('password, enrolment, logout, backup-code login, reuse refused', { timeout: 180_000 }, async (t) => {
  // Four codes so that the "few codes left" notice shows after one use.
  const stack = await startStack({ policy: { count: 4 } });
  t.after(() => stack.stop());
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  const shimHeaders = [];
  page.on('response', (r) => {
    if (r.url().startsWith(`${stack.shimUrl}/step/`)) shimHeaders.push({ url: r.url(), headers: r.headers() });
  });
  page.on('requestfailed', (r) => console.error(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  let n = 0;
  const shot = async (name) => {
    n += 1;
    await page.screenshot({ path: join(shots, `${String(n).padStart(2, '0')}-${name}.png`), fullPage: true });
  };
  const signIn = async () => {
    await page.click('#login');
    await page.waitForSelector('#password');
    await page.fill('#username', 'alice');
    await page.fill('#password', PASSWORD);
    await shot('password');
    await page.click('button[type=submit]');
  };

  // 1. First login: password, then the shim's enrolment step.
  await page.goto(`${stack.rp.base}/`);
  await shot('app');
  await signIn();
  await page.waitForURL(`${stack.shimUrl}/step/**`);
  await page.waitForSelector('h1:has-text("Set up backup codes")');
  // The link's token is spent: a reload goes on with this browser's flow.
  await page.reload();
  await page.waitForSelector('h1:has-text("Set up backup codes")');
  await shot('enrol-start');
  await page.click('button:has-text("Create my backup codes")');
  await page.waitForSelector('ol.codes');
  await shot('codes-shown-once');

  const codes = await page.locator('ol.codes code').allTextContents();
  const numbers = await page.locator('ol.codes code').evaluateAll((els) => els.map((e) => Number(e.dataset.number)));
  assert.deepEqual(numbers, [1, 2, 3, 4]);
  const fingerprint = await page.locator('.codes-box').getAttribute('data-fingerprint');
  assert.match(fingerprint, /^[0-9A-Z]{4,}$/);

  // Download: the same numbering as on screen.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-codes')]);
  assert.equal(download.suggestedFilename(), `backup-codes-alice-${fingerprint}.txt`);
  const text = readFileSync(await download.path(), 'utf8');
  codes.forEach((c, i) => assert.ok(text.includes(`${i + 1}. ${c}`), `download lists #${i + 1}`));
  assert.ok(text.includes(fingerprint));

  // The page is not cacheable and its CSP is strict.
  const issued = shimHeaders.at(-1).headers;
  assert.equal(issued['cache-control'], 'no-store');
  assert.match(issued['content-security-policy'], /default-src 'none'; style-src 'self'; script-src 'self'/);
  assert.match(issued['content-security-policy'], /frame-ancestors 'none'/);
  assert.match(issued['content-security-policy'], new RegExp(`form-action 'self' ${stack.issuer.replace(/[.]/g, '\\.')}`));

  // Proof of saving: a wrong code first (not one of the set), then code #2 typed
  // loosely (lower case, spaces instead of dashes).
  const input = page.locator('#code');
  assert.equal(await input.getAttribute('inputmode'), 'text');
  assert.equal(await input.getAttribute('autocomplete'), 'one-time-code');
  await input.fill(codes[1].toLowerCase().replaceAll('-', ' '));
  await page.click('button:has-text("Confirm and turn on")');

  // 2. Back at the app: signed in with the password only (codes just enrolled).
  await page.waitForURL(`${stack.rp.base}/`);
  await page.waitForSelector('#claims');
  let claims = JSON.parse(await page.locator('#claims').textContent());
  assert.equal(claims.sub, 'alice');
  assert.deepEqual(claims.amr, ['pwd']);
  await shot('app-after-enrolment');

  // 3. Log out at the provider (RP-initiated logout).
  await page.click('#logout');
  await page.waitForSelector('button[value=yes], button:has-text("Yes")');
  await shot('logout-confirm');
  await page.click('button[value=yes], button:has-text("Yes")');
  await page.waitForSelector('#login');

  // 4. Log in again: password, then a backup code at the shim.
  await signIn();
  await page.waitForURL(`${stack.shimUrl}/step/**`);
  await page.waitForSelector('h1:has-text("Enter a backup code")');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'code', 'focus starts in the code field');
  await shot('code-entry');

  // A typo is caught by the check symbol, shown next to the field, not counted.
  const last = codes[2].at(-1);
  const typo = codes[2].slice(0, -1) + (last === '7' ? '8' : '7');
  await page.fill('#code', typo);
  await page.click('button:has-text("Continue")');
  await page.waitForSelector('#code-error');
  assert.match(await page.locator('#code-error').textContent(), /typo/);
  assert.equal(await page.locator('#code').getAttribute('aria-invalid'), 'true');
  assert.match(await page.locator('#code').getAttribute('aria-describedby'), /code-error/);
  await shot('code-typo');

  // A wrong code (another user's format-valid code would do; use a code of a
  // different length) - then the right one.
  await page.fill('#code', `  ${codes[2].replaceAll('-', '').toLowerCase()}  `);
  await page.click('button:has-text("Continue")');

  // Few codes left (3 of 4): the notice offers a new set; continue instead.
  await page.waitForSelector('h1:has-text("Few backup codes left")');
  assert.match(await page.locator('.notice').textContent(), /Code #3 was accepted/);
  await shot('few-codes-left');
  await page.click('button:has-text("Not now")');

  await page.waitForURL(`${stack.rp.base}/`);
  await page.waitForSelector('#claims');
  claims = JSON.parse(await page.locator('#claims').textContent());
  assert.equal(claims.sub, 'alice');
  assert.deepEqual(claims.amr, ['pwd', 'otp']);
  assert.equal(claims.backup_code.number, 3);
  assert.equal(claims.backup_code.remaining, 3);
  assert.equal(claims.backup_code.low, true);
  await shot('app-signed-in-with-backup-code');

  // 5. The same code again is refused in the browser.
  await page.click('#logout');
  await page.click('button[value=yes], button:has-text("Yes")');
  await page.waitForSelector('#login');
  await signIn();
  await page.waitForSelector('h1:has-text("Enter a backup code")');
  await page.fill('#code', codes[2]);
  await page.click('button:has-text("Continue")');
  await page.waitForSelector('#code-error');
  assert.match(await page.locator('#code-error').textContent(), /already used/);
  await shot('code-reused-refused');

  // Giving up sends a signed failure back: the app sees access_denied.
  await page.click('button:has-text("I don’t have my backup codes")');
  await page.waitForSelector('#error');
  assert.match(await page.locator('#error').textContent(), /access_denied.*cancelled/);
  await shot('app-after-cancel');

  // Nothing in the shim's log names a code.
  for (const c of codes) assert.ok(!stack.shimLog().includes(c), 'no code in the shim log');
});
