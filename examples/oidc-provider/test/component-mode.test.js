// Component mode in the browser: the provider checks backup codes itself with
// the component transpiled by jco (no shim, no wasmtime), one component call
// per attempt, and the app's ID token shows the second factor. A code of the
// set a new one replaced is refused with its own message.

import test from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from '../src/chromium.js';
import { loadEngine, localCodes } from '../src/local-codes.js';
import { startProvider } from '../src/provider.js';
import { startRp } from '../src/rp.js';

test('component mode: password, then a code checked in-process', { timeout: 120_000 }, async (t) => {
  const codes = localCodes(await loadEngine(), { hash: { memoryKib: 4096, iterations: 1 } });
  const replaced = codes.issue('alice');
  assert.equal(codes.activate('alice', replaced.codes[0].code).outcome.tag, 'accepted');
  const issued = codes.issue('alice');
  assert.equal(codes.activate('alice', issued.codes[0].code).outcome.tag, 'accepted');

  const secret = randomBytes(32).toString('base64url');
  let issuer = '';
  const rp = await startRp({ clientId: 'example-app', clientSecret: secret, issuer: () => issuer });
  t.after(() => rp.close());
  const idp = await startProvider({
    mode: 'component',
    codes,
    clients: [{
      client_id: 'example-app', client_secret: secret, redirect_uris: [rp.redirectUri],
      post_logout_redirect_uris: [`${rp.base}/`], grant_types: ['authorization_code'], response_types: ['code'],
    }],
  });
  t.after(() => idp.close());
  issuer = idp.issuer;

  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  const page = await browser.newPage();
  await page.goto(`${rp.base}/`);
  await page.click('#login');
  await page.fill('#username', 'alice');
  await page.fill('#password', 'correct horse battery staple');
  await page.click('button[type=submit]');
  await page.waitForSelector('#code');
  await page.fill('#code', 'not a code!');
  await page.click('button[type=submit]');
  await page.waitForSelector('#code-error');
  await page.fill('#code', replaced.codes[4].code);
  await page.click('button[type=submit]');
  await page.waitForSelector('#code-error:has-text("replaced")');
  await page.fill('#code', issued.codes[4].code);
  await page.click('button[type=submit]');
  await page.waitForSelector('#claims');
  const claims = JSON.parse(await page.locator('#claims').textContent());
  assert.deepEqual(claims.amr, ['pwd', 'otp']);
  assert.equal(claims.backup_code.number, 5);
  assert.equal(claims.backup_code.set_id, issued.setId);
  assert.equal(claims.backup_code.low, false);
  assert.equal(codes.status('alice').active.remaining, 9);
});
