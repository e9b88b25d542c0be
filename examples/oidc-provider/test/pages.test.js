// Every page of the shim's login step, as its users meet them, in two brands
// (a tenant without branding, which keeps the shim's neutral look, and one
// branded from examples/branding/acme) and three languages (en, fr, de, from
// the browser's Accept-Language or the IdP's `ui_locales` claim), checked for
// accessibility with axe-core (WCAG 2.x A and AA, and axe's best practices) in
// headless Chromium at a desktop and a mobile size, with a screenshot of each
// in screenshots/pages/{brand}/{lang}/. For the login step the test plays
// each tenant's identity provider: it signs the session tokens and receives
// the signed results; the self-service pages are reached through the real
// OpenID provider of this example.
//
// axe runs in the page, so the context bypasses the page's CSP to inject it;
// the CSP itself is tested by the shim's own tests.

import test, { describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startDemoShim, startPagesShim, startStack } from '../src/stack.js';
import { USERS } from '../src/provider.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../src/chromium.js';

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const shots = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'screenshots', 'pages');

const SIZES = {
  desktop: { viewport: { width: 1280, height: 800 } },
  mobile: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
};
const BRANDS = ['plain', 'acme'];
const LANGS = ['en', 'fr', 'de'];
// English a page in French or German must not show (a message left untranslated).
const ENGLISH = /\b(backup codes?|sign-in|your codes|attempts? left|try again)\b/i;

// The forms, by where they post (their labels are in the page's language).
const ISSUE = 'form[action$="/enroll/issue"] button';
const ACTIVATE = 'form[action$="/enroll/activate"] button[type=submit]';
const LOGIN = 'form[action$="/login"] button[type=submit]';

async function axe(page) {
  await page.addScriptTag({ path: AXE });
  return page.evaluate(() => globalThis.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
  }));
}

/**
 * A page checker: `check(name)` runs axe on the current page, keeps its
 * violations under `name`, checks the page's language, and saves a screenshot.
 */
function checker(page, dir, label, lang, found) {
  mkdirSync(dir, { recursive: true });
  let n = 0;
  return async (name) => {
    await page.waitForLoadState('load');
    const result = await axe(page);
    const text = await page.locator('main').innerText();
    const problems = result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((x) => x.target.join(' ')).join(', ')}`);
    const htmlLang = await page.evaluate(() => document.documentElement.lang);
    if (lang && htmlLang !== lang) problems.push(`html lang is ${htmlLang}, not ${lang}`);
    if (lang && lang !== 'en' && ENGLISH.test(text)) problems.push(`English left: ${text.match(ENGLISH)[0]}`);
    found.push({ page: `${label}/${name}`, violations: problems });
    n += 1;
    await page.screenshot({ path: join(dir, `${String(n).padStart(2, '0')}-${name}.png`), fullPage: true });
  };
}

async function codesOnPage(page) {
  return page.locator('ol.codes code').allTextContents();
}

async function submitCode(page, code) {
  await page.fill('#code', code);
  await page.click(LOGIN);
  await page.waitForLoadState('load');
}

/** One brand in one language at one size: every page a user meets. */
async function walk(page, env, { brand, lang, size, check }) {
  const user = `${brand}-${lang}-${size}`;
  const other = `${user}-other`;
  const atReceiver = () => page.waitForURL(env.receiver);

  // A second user's set, for wrong codes later.
  await page.goto(await env.entry(brand, { kind: 'enroll', subject: other }));
  await page.click(ISSUE);
  const others = await codesOnPage(page);
  await page.fill('#code', others[0]);
  await page.click(ACTIVATE);
  await atReceiver();

  // Enrolment: the intro, the new set, a typo while confirming, the result.
  const zoneinfo = brand === 'acme' ? 'Europe/Berlin' : undefined;
  const entry = await page.goto(await env.entry(brand, { kind: 'enroll', subject: user, zoneinfo, username: `${user}@example.com` }));
  assert.equal(entry.headers()['content-language'], lang);
  await check('enrol-intro');
  await page.click(ISSUE);
  const codes = await codesOnPage(page);
  assert.equal(codes.length, 10);
  const box = page.locator('#codes');
  const filename = await box.getAttribute('data-filename');
  assert.match(filename, brand === 'acme' ? /^ACME-Corp-[a-z-]+-acme-.*\.txt$/ : /^[a-z-]+-plain-.*\.txt$/, filename);
  if (brand === 'acme') {
    assert.match(await box.getAttribute('data-txt-head'), /ACME Corp/);
    assert.match(await page.locator('.print-only').textContent(), /Europe\/Berlin/);
    assert.equal(await page.locator('header.brand img.logo').count(), 1);
  } else {
    assert.equal(await page.locator('header.brand').count(), 0, 'an unbranded tenant has no brand header');
  }
  await check('enrol-codes');
  await page.fill('#code', 'not-a-code');
  await page.click(ACTIVATE);
  await page.locator('#code-error').waitFor();
  // An inline error is announced as it appears, and the codes stay on the page.
  assert.equal(await page.locator('#code-error').getAttribute('role'), 'alert');
  assert.deepEqual(await codesOnPage(page), codes, 'the new codes are still shown after a typo');
  await check('enrol-confirm-typo');
  await page.fill('#code', codes[9]);
  await page.click(ACTIVATE);
  await atReceiver();

  // Login: the code form (a reload keeps it), a typo, a wrong code, a success.
  const login = await env.entry(brand, { kind: 'login', subject: user });
  await page.goto(login);
  await check('login-code');
  await page.reload();
  assert.equal(await page.locator('#code').count(), 1, 'a reload of the code page goes on with the flow');
  await submitCode(page, 'x');
  await page.locator('#code-error').waitFor();
  assert.equal(await page.locator('#code-error').getAttribute('role'), 'alert');
  await check('login-typo');
  await submitCode(page, others[1]);
  await page.locator('#code-error').waitFor();
  await check('login-wrong-code');
  await submitCode(page, codes[0]);
  await atReceiver();
  // Back to the step after signing in: a way back to the IdP, not a dead end.
  await page.goto(login);
  const back = page.locator(`form[action="${env.receiver}"] button`);
  assert.equal(await back.count(), 1, 'a finished flow offers the way back to sign-in');
  await check('finished-flow');

  // Few codes left after the seventh, then a replacement set.
  for (const code of codes.slice(1, 6)) {
    await page.goto(await env.entry(brand, { kind: 'login', subject: user }));
    await submitCode(page, code);
    await atReceiver();
  }
  await page.goto(await env.entry(brand, { kind: 'login', subject: user }));
  await submitCode(page, codes[6]);
  await page.locator(ISSUE).waitFor();
  await check('login-few-left');
  await page.click(ISSUE);
  await page.locator('ol.codes code').first().waitFor();
  await check('replace-codes');
  const fresh = await codesOnPage(page);
  await page.fill('#code', fresh[0]);
  await page.click(ACTIVATE);
  await atReceiver();
  // A code of the replaced set: its own message.
  await page.goto(await env.entry(brand, { kind: 'login', subject: user }));
  await submitCode(page, codes[7]);
  await page.locator('#code-error').waitFor();
  await check('login-replaced-set');

  // Wrong codes up to a lockout (the other user, whose codes these are not).
  await page.goto(await env.entry(brand, { kind: 'login', subject: other }));
  for (const code of [codes[7], codes[8], codes[1], codes[2], codes[3], codes[4]]) {
    if (!(await page.locator('#code').count())) break;
    await submitCode(page, code);
  }
  assert.equal(await page.locator('#code').count(), 0, 'locked: no code form');
  await check('locked');

  // A broken link: the step opened without its session token.
  await page.goto(`${env.url}/step/${brand}/login`);
  await check('incomplete-link');
}

// Two at a time: each has its own shim and browser, and most of their time is
// the browser rendering and axe reading pages (one core each).
describe('every step page is accessible', { concurrency: 2 }, () => {
  for (const [size, options] of Object.entries(SIZES)) {
    for (const brand of BRANDS) {
      test(`every step page, ${brand}, en/fr/de, is accessible (${size})`, { timeout: 600_000 }, async (t) => {
        const env = await startPagesShim(t);
        const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
        t.after(() => browser.close());
        const found = [];
        for (const lang of LANGS) {
          const context = await browser.newContext({ ...options, locale: lang, bypassCSP: true });
          const page = await context.newPage();
          const check = checker(page, join(shots, brand, lang, size), `${brand}/${lang}/${size}`, lang, found);
          await walk(page, env, { brand, lang, size, check });
          await context.close();
        }

        // The IdP's `ui_locales` wins over the browser's languages.
        const context = await browser.newContext({ ...options, locale: 'fr', bypassCSP: true });
        const page = await context.newPage();
        const response = await page.goto(await env.entry(brand, { kind: 'enroll', subject: `${brand}-ui-${size}`, uiLocales: 'de-CH en' }));
        assert.equal(response.headers()['content-language'], 'de');
        assert.equal(await page.evaluate(() => document.documentElement.lang), 'de');
        await context.close();

        const bad = found.filter((f) => f.violations.length);
        assert.ok(found.length >= 3 * 12, `${found.length} pages checked`);
        assert.deepEqual(bad, [], `problems:\n${JSON.stringify(bad, null, 2)}`);
        t.diagnostic(`${found.length} pages (${brand}, ${LANGS.join('/')}, ${size}), 0 axe violations`);
      });
    }
  }
});

/** The self-service pages of one user: no codes, a new set, a typo, active, signed out. */
async function walkSelf(page, stack, user, check) {
  await page.goto(stack.selfServiceUrl);
  await page.waitForURL(`${stack.issuer}/interaction/**`);
  await page.fill('#username', user);
  await page.fill('#password', USERS.get(user));
  await page.click('button[type=submit]');
  await page.waitForURL(stack.selfServiceUrl);
  await check('self-no-codes');
  await page.click('form[action$="/issue"] button');
  const codes = await codesOnPage(page);
  assert.ok(codes.length > 0);
  await check('self-codes');
  await page.fill('#code', 'x');
  await page.click('form[action$="/activate"] button[type=submit]');
  await page.locator('#code-error').waitFor();
  assert.deepEqual(await codesOnPage(page), codes, 'the new codes are still shown after a typo');
  await check('self-confirm-typo');
  await page.fill('#code', codes[0]);
  await page.click('form[action$="/activate"] button[type=submit]');
  await page.locator('#set').waitFor();
  await check('self-active');
  await page.click('form[action$="/logout"] button');
  await page.waitForLoadState('load');
  await check('self-signed-out');
}

for (const brand of BRANDS) {
  test(`the self-service pages, ${brand}, en/fr/de, are accessible`, { timeout: 600_000 }, async (t) => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    t.after(() => browser.close());
    const found = [];
    for (const lang of LANGS) {
      // One provider per language: its two users, one per size, start without codes.
      const stack = await startStack({ branded: brand === 'acme' });
      try {
        for (const [[size, options], user] of Object.entries(SIZES).map((e, i) => [e, ['alice', 'bob'][i]])) {
          const context = await browser.newContext({ ...options, locale: lang, bypassCSP: true });
          const page = await context.newPage();
          const check = checker(page, join(shots, brand, lang, size), `${brand}/${lang}/${size}`, lang, found);
          await walkSelf(page, stack, user, check);
          await context.close();
        }
      } finally {
        await stack.stop();
      }
    }
    const bad = found.filter((f) => f.violations.length);
    assert.equal(found.length, 3 * 2 * 5, `${found.length} pages checked`);
    assert.deepEqual(bad, [], `problems:\n${JSON.stringify(bad, null, 2)}`);
    t.diagnostic(`${found.length} self-service pages (${brand}), 0 axe violations`);
  });
}

test('the root, demo and demo events pages are accessible', { timeout: 120_000 }, async (t) => {
  const url = await startDemoShim(t);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  const found = [];
  for (const [size, options] of Object.entries(SIZES)) {
    const context = await browser.newContext({ ...options, bypassCSP: true });
    const page = await context.newPage();
    const check = checker(page, join(shots, 'demo', size), `demo/${size}`, null, found);
    await page.goto(`${url}/`);
    await check('root');
    await page.goto(`${url}/demo`);
    await check('demo');
    await page.goto(`${url}/demo/events`);
    await check('events');
    await context.close();
  }
  const bad = found.filter((f) => f.violations.length);
  assert.deepEqual(bad, [], `axe violations:\n${JSON.stringify(bad, null, 2)}`);
});
