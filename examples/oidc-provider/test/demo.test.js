// The shim's demo for newcomers, in headless Chromium: with no tenant
// configured, /demo plays a tiny identity provider; enrol, then sign in with a
// backup code, and read the signed result it received.

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
});
