// Every page of the shim's login step, as its users meet them, checked for
// accessibility with axe-core (WCAG 2.1 A and AA, and axe's best practices)
// in headless Chromium at a desktop and a mobile size, with a screenshot of
// each in screenshots/pages/. The pages are reached through the shim's demo
// (it plays the identity provider), so nothing but the real shim is needed.
//
// axe runs in the page, so the context bypasses the page's CSP to inject it;
// the CSP itself is tested by the shim's own tests.

import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startDemoShim } from '../src/stack.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../src/chromium.js';

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const shots = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'screenshots', 'pages');
mkdirSync(shots, { recursive: true });

const SIZES = {
  desktop: { viewport: { width: 1280, height: 800 } },
  mobile: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
};

/**
 * A page checker: `check(name)` runs axe on the current page, keeps its
 * violations under `name` and saves a screenshot.
 */
function checker(page, size, found) {
  let n = 0;
  return async (name) => {
    await page.waitForLoadState('load');
    await page.addScriptTag({ path: AXE });
    const result = await page.evaluate(() => globalThis.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
    }));
    found.push({
      page: `${size}/${name}`,
      violations: result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((x) => x.target.join(' ')).join(', ')}`),
    });
    n += 1;
    await page.screenshot({ path: join(shots, `${size}-${String(n).padStart(2, '0')}-${name}.png`), fullPage: true });
  };
}

/** Open the demo's entry for `user` and `action` (`enroll` or `login`). */
async function demoStart(page, url, user, action) {
  await page.goto(`${url}/demo`);
  await page.fill('#user', user);
  await page.click(`button[value=${action}]`);
}

/** Sign in with `code` and wait for the page after the step. */
async function submitCode(page, code) {
  await page.fill('#code', code);
  await page.click('button:has-text("Continue")');
}

for (const [size, options] of Object.entries(SIZES)) {
  test(`every step page is accessible (${size})`, { timeout: 240_000 }, async (t) => {
    const url = await startDemoShim(t);
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    t.after(() => browser.close());
    const context = await browser.newContext({ ...options, bypassCSP: true });
    const page = await context.newPage();
    const found = [];
    const check = checker(page, size, found);

    await page.goto(`${url}/`);
    await check('root');
    await page.goto(`${url}/demo`);
    await check('demo');

    // Enrolment: the intro, the new set, a typo while confirming, the result.
    await demoStart(page, url, `dora-${size}`, 'enroll');
    await check('enrol-intro');
    await page.click('button:has-text("Create my backup codes")');
    const codes = await page.locator('ol.codes code').allTextContents();
    assert.equal(codes.length, 10);
    await check('enrol-codes');
    await page.fill('#code', 'not-a-code');
    await page.click('button:has-text("Confirm and turn on")');
    await page.locator('#code-error').waitFor();
    // An inline error is announced to screen readers as it appears.
    assert.equal(await page.locator('#code-error').getAttribute('role'), 'alert');
    await check('enrol-confirm-typo');
    await page.fill('#code', codes[9]);
    await page.click('button:has-text("Confirm and turn on")');
    await page.waitForURL(`${url}/demo/continue`);
    await check('demo-result');

    // Login: the code form, a typo, a success, then few codes left.
    await demoStart(page, url, `dora-${size}`, 'login');
    await check('login-code');
    await submitCode(page, 'x');
    await page.locator('#code-error').waitFor();
    assert.equal(await page.locator('#code-error').getAttribute('role'), 'alert');
    await check('login-typo');
    for (const code of codes.slice(0, 6)) {
      await submitCode(page, code);
      await page.waitForURL(`${url}/demo/continue`);
      await demoStart(page, url, `dora-${size}`, 'login');
    }
    await submitCode(page, codes[6]);
    await page.locator('button:has-text("Create a new set now")').waitFor();
    await check('login-few-left');
    await page.click('button:has-text("Create a new set now")');
    await page.locator('ol.codes code').first().waitFor();
    await check('replace-codes');

    // Wrong codes (another user's), up to a lockout.
    await demoStart(page, url, `lou-${size}`, 'enroll');
    await page.click('button:has-text("Create my backup codes")');
    const lous = await page.locator('ol.codes code').allTextContents();
    await page.fill('#code', lous[0]);
    await page.click('button:has-text("Confirm and turn on")');
    await page.waitForURL(`${url}/demo/continue`);
    await demoStart(page, url, `lou-${size}`, 'login');
    await submitCode(page, codes[7]);
    await page.locator('#code-error').waitFor();
    await check('login-wrong-code');
    for (const code of [codes[8], codes[0], codes[1], codes[2], codes[3]]) {
      if (!(await page.locator('#code').count())) break;
      await submitCode(page, code);
      await page.waitForLoadState('load');
    }
    await page.getByText(/locked/i).first().waitFor();
    await check('locked');

    // A broken link: the step opened without its session token.
    await page.goto(`${url}/step/demo/login`);
    await check('incomplete-link');

    const bad = found.filter((f) => f.violations.length);
    assert.ok(found.length >= 13, `${found.length} pages checked`);
    assert.deepEqual(bad, [], `axe violations:\n${JSON.stringify(bad, null, 2)}`);
    t.diagnostic(`${found.length} pages, 0 axe violations`);
  });
}
