// The shim's demo for newcomers, in headless Chromium: with no tenant
// configured, /demo plays a tiny identity provider; enrol, then sign in with a
// backup code, read the signed result it received, and the signed webhooks its
// receiver got.

import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startDemoShim } from '../src/stack.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../src/chromium.js';

const shots = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'screenshots');
mkdirSync(shots, { recursive: true });

test('the demo: enrol and sign in with a backup code', { timeout: 120_000 }, async (t) => {
  const url = await startDemoShim(t);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  const page = await browser.newPage();
  const shot = (name) => page.screenshot({ path: join(shots, `demo-${name}.png`), fullPage: true });

  await page.goto(`${url}/demo`);
  await shot('1-index');
  await page.fill('#user', 'dora');
  await page.click('button[value=enroll]');
  await page.click('button:has-text("Create my backup codes")');
  const codes = await page.locator('ol.codes code').allTextContents();
  assert.equal(codes.length, 10);
  await shot('2-codes');
  await page.fill('#code', codes[9]);
  await page.click('button:has-text("Confirm and turn on")');
  await page.waitForURL(`${url}/demo/continue`);
  assert.match(await page.locator('[role=status]').textContent(), /Enrolled: set/);
  let claims = JSON.parse(await page.locator('#claims').textContent());
  assert.equal(claims.sub, 'dora');
  assert.equal(claims.result.action, 'enroll');
  await shot('3-enrolled');

  await page.click('a:has-text("Back to the demo")');
  await page.click('button[value=login]');
  await page.fill('#code', codes[9].toLowerCase());
  await page.click('button:has-text("Continue")');
  await page.waitForURL(`${url}/demo/continue`);
  claims = JSON.parse(await page.locator('#claims').textContent());
  assert.deepEqual(
    { status: claims.result.status, number: claims.result.number, remaining: claims.result.remaining },
    { status: 'success', number: 10, remaining: 9 },
  );
  await shot('4-signed-in');

  // The demo tenant's webhooks reach the demo's own receiver (signature
  // checked there): issued, activated, used, newest first, no code in them.
  await page.goto(`${url}/demo`);
  await page.click('a:has-text("events received")');
  await page.waitForURL(`${url}/demo/events`);
  let types = [];
  for (let i = 0; i < 50; i++) {
    types = await page.locator('tbody tr td:first-child').allTextContents();
    if (types.length >= 3) break;
    await new Promise((r) => setTimeout(r, 200));
    await page.reload();
  }
  assert.deepEqual(types, ['backup_codes.used', 'backup_codes.activated', 'backup_codes.issued']);
  const text = await page.locator('main').textContent();
  for (const code of codes) assert.ok(!text.includes(code) && !text.includes(code.replace(/-/g, '')));
  await shot('5-events');
});
