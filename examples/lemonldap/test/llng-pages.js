// LemonLDAP::NG 2.16's pages as the tests drive them (Debian's bootstrap
// skin), and fresh browser profiles with numbered screenshots.

import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A directory of screenshots (emptied first) and fresh browser contexts: one
 * per test, as a refused code leaves a pending request in LemonLDAP::NG's
 * cookies for 120 s (README.md, quirks). Screenshots named in `keep` are also
 * written, the visible part only (small files), as `keepDir/<keep[name]>.png`:
 * the committed ones the README shows.
 */
export function screenshots(browser, dir, { keepDir, keep = {} } = {}) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  if (keepDir) mkdirSync(keepDir, { recursive: true });
  let n = 0;
  return {
    dir,
    /** A fresh profile closed after the test `t`; `shot(name)` saves a full-page screenshot. */
    async newPage(t) {
      const context = await browser.newContext({ viewport: { width: 960, height: 720 } });
      t.after(() => context.close());
      const page = await context.newPage();
      page.on('requestfailed', (r) => {
        // Navigations the test abandons on purpose end as ERR_ABORTED.
        if (r.failure()?.errorText !== 'net::ERR_ABORTED') console.error(`request failed: ${r.url()} ${r.failure()?.errorText}`);
      });
      const shot = async (name, p = page) => {
        n += 1;
        await p.screenshot({ path: join(dir, `${String(n).padStart(2, '0')}-${name}.png`), fullPage: true });
        if (keepDir && keep[name]) await p.screenshot({ path: join(keepDir, `${keep[name]}.png`) });
      };
      return { context, page, shot };
    },
  };
}

/** LemonLDAP::NG's login form: user and password (Demo backend: password = login). */
export async function passwordLogin(page, user, password = user) {
  await page.waitForSelector('#userfield');
  await page.fill('#userfield', user);
  await page.fill('#passwordfield', password);
  await page.click('button[type=submit]');
}

/** LemonLDAP::NG's second-factor form (template ext2fcheck, REST prefix). */
export async function secondFactorForm(page) {
  await page.waitForSelector('form[action^="/rest2fcheck"] #extcode');
  // The legend is translated in the browser from trspan="enterRest2fCode",
  // overridden in the instance's lemonldap-ng.ini (msg_enterRest2fCode).
  await page.waitForSelector('span[trspan="enterRest2fCode"]:has-text("Enter one of your backup codes")');
  assert.equal(await page.getAttribute('#extcode', 'autocomplete'), 'one-time-code');
}

export async function typeCode(page, code) {
  await page.fill('#extcode', code);
  await page.click('form[action^="/rest2fcheck"] button[type=submit]');
}

/** The error LemonLDAP::NG shows: its message number (trmsg) and text. */
export async function portalError(page) {
  const el = await page.waitForSelector('.message [trmsg]');
  const number = Number(await el.getAttribute('trmsg'));
  // The text is filled in by the page's script from its translations.
  await page.waitForFunction((e) => e.textContent.trim().length > 0, el);
  return { number, text: (await el.textContent()).trim() };
}

/**
 * LemonLDAP::NG's confirmation before it raises or renews a session (template
 * upgradesession, form#upgrd): "upgrade" when the target needs a higher level
 * (with sfOnlyUpgrade, the second factor alone is asked next), "renew" when the
 * relying party asked `prompt=login` for a session older than
 * portalForceAuthnInterval (5 s: the password, then the second factor). Clicks
 * it and says which it was.
 */
export async function confirmSessionPrompt(page) {
  await page.waitForSelector('form#upgrd');
  const action = await page.getAttribute('form#upgrd', 'action');
  await page.click('form#upgrd button[type=submit]');
  if (action.endsWith('/upgradesession')) return 'upgrade';
  if (action.endsWith('/renewsession')) return 'renew';
  throw new Error(`unexpected confirmation form ${action}`);
}
