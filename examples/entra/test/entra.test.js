// The shim as a Microsoft Entra external authentication method, end to end in
// headless Chromium: a simulated Entra on loopback (its own keys, JWKS and
// discovery) posts the documented request with an expired hint, the user types
// a backup code on the shim's page, and Entra's checks of the returned ID token
// pass. A second relying party of the same profile gets its own acr and amr.

import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from '../src/chromium.js';
import { ENTRA_CLAIMS, startRelyingParty } from '../src/relying-party.js';
import { freePort, startShim } from '../src/shim.js';

const TENANT = 'contoso';
const TID = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const API_SECRET = randomBytes(32).toString('base64url');
const STEP_SECRET = randomBytes(32).toString('base64url');
const ISSUER = 'https://idp.contoso.test';
const SECOND_CLAIMS = {
  id_token: {
    acr: { essential: true, values: ['https://refeds.org/profile/mfa'] },
    amr: { essential: true, values: ['mfa'] },
  },
};

/** The JSON API as the IdP that enrols users calls it. */
async function api(shim, method, subject, path = '', body) {
  const token = await new SignJWT({ scope: 'issue activate status' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(ISSUER)
    .setAudience('backup-codes')
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime('2m')
    .setJti(randomBytes(16).toString('base64url'))
    .sign(new TextEncoder().encode(API_SECRET));
  const r = await fetch(`${shim.url}/v1/tenants/${TENANT}/subjects/${encodeURIComponent(subject)}/codes${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body && JSON.stringify(body),
  });
  return { status: r.status, json: await r.json() };
}

async function enrol(shim, subject) {
  const issued = await api(shim, 'POST', subject);
  assert.equal(issued.status, 201, JSON.stringify(issued.json));
  const codes = issued.json.codes.map((c) => c.code);
  const active = await api(shim, 'POST', subject, '/activate', { code: codes[0] });
  assert.equal(active.json.result, 'accepted', JSON.stringify(active.json));
  return codes;
}

async function setUp(t) {
  const port = await freePort();
  const discoveryUrl = `http://127.0.0.1:${port}/op/${TENANT}/.well-known/openid-configuration`;
  const entra = await startRelyingParty({
    clientId: 'b6f4a2e0-entra-client', appId: 'e8a3c5d1-app-id', tid: TID, discoveryUrl,
    claims: ENTRA_CLAIMS, amrAccepted: ENTRA_CLAIMS.id_token.amr.values,
  });
  t.after(() => entra.close());
  const second = await startRelyingParty({
    clientId: 'second-rp', appId: 'second-rp', tid: 'rp-tenant', discoveryUrl,
    claims: SECOND_CLAIMS, amrAccepted: ['mfa'],
  });
  t.after(() => second.close());
  const config = `
[tenants.${TENANT}]
issuer = "${ISSUER}"
audience = "backup-codes"
algorithms = ["HS256"]
hs256_secret = "${API_SECRET}"
require_scope = true
step_secret = "${STEP_SECRET}"

[tenants.${TENANT}.policy]
hash_memory_kib = 4096
hash_iterations = 1

[tenants.${TENANT}.stepup]
key_secret = "${randomBytes(32).toString('base64url')}"

[[tenants.${TENANT}.stepup.clients]]
client_id = "b6f4a2e0-entra-client"
redirect_uris = ["${entra.redirectUri}"]
hint_jwks_url = "${entra.jwksUrl}"
hint_issuers = ["${entra.base}/{tid}/v2.0"]
hint_tenant_ids = ["${TID}"]
hint_audience = "e8a3c5d1-app-id"
subject_claim = "oid"

[[tenants.${TENANT}.stepup.clients]]
client_id = "second-rp"
redirect_uris = ["${second.redirectUri}"]
hint_jwks_url = "${second.jwksUrl}"
hint_issuers = ["${second.issuer}"]
subject_claim = "preferred_username"
acr_values = ["https://refeds.org/profile/mfa"]
amr = "mfa"
`;
  const shim = await startShim({ port, config });
  t.after(() => shim.stop());
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  return { shim, entra, second, browser };
}

async function signIn(browser, rp, user, code, shot) {
  const page = await browser.newPage();
  await page.goto(`${rp.base}/start?user=${encodeURIComponent(user)}`);
  await page.waitForSelector('#code');
  if (shot) {
    mkdirSync('screenshots', { recursive: true });
    await page.screenshot({ path: `screenshots/${shot}.png` });
  }
  await page.fill('#code', code);
  await page.click('button[type=submit]');
  await page.waitForSelector('#result');
  const result = JSON.parse(await page.locator('#result').textContent());
  await page.close();
  return result;
}

test('Entra and a second relying party step up with a backup code', { timeout: 120_000 }, async (t) => {
  const { shim, entra, second, browser } = await setUp(t);
  const oid = '4c8e1f3a-2b7d-4e9a-8f6c-1d3b5a7e9c20';
  const codes = await enrol(shim, oid);

  // Entra: the user is the hint's oid; the answer is what Entra accepts.
  const got = await signIn(browser, entra, oid, codes[1], 'entra-code-page');
  assert.equal(got.ok, true, JSON.stringify(got));
  assert.equal(got.claims.iss, `${shim.url}/op/${TENANT}`);
  assert.equal(got.claims.aud, 'b6f4a2e0-entra-client');
  assert.match(got.claims.sub, /^pairwise-/);
  assert.equal(got.claims.acr, 'possessionorinherence');
  assert.deepEqual(got.claims.amr, ['otp']);
  const status = await api(shim, 'GET', oid);
  // The engine spent code #2 (activation leaves the code it was shown usable).
  assert.equal(status.json.active.remaining, 9, JSON.stringify(status.json));
  assert.deepEqual(status.json.active.used.map((u) => u.number), [2]);

  // The user gives up: Entra gets access_denied with its state.
  const page = await browser.newPage();
  await page.goto(`${entra.base}/start?user=${oid}`);
  await page.waitForSelector('#code');
  await page.click('text=I don’t have my backup codes');
  await page.waitForSelector('#result');
  const cancelled = JSON.parse(await page.locator('#result').textContent());
  assert.deepEqual([cancelled.ok, cancelled.error], [false, 'access_denied'], JSON.stringify(cancelled));
  await page.close();

  // The same profile, another relying party: its user is the hint's
  // preferred_username, its answer its own acr and amr.
  const bob = await enrol(shim, 'bob@contoso.test');
  const other = await signIn(browser, second, 'bob', bob[2]);
  assert.equal(other.ok, true, JSON.stringify(other));
  assert.equal(other.claims.aud, 'second-rp');
  assert.equal(other.claims.acr, 'https://refeds.org/profile/mfa');
  assert.deepEqual(other.claims.amr, ['mfa']);
});
