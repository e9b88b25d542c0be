// `backup-codes-shim tenant-init --for lemonldap` used as an operator would:
// its settings file merged into an unmodified LemonLDAP::NG with the portal's own
// CLI (`lemonldap-ng-cli -yes 1 -safe 1 merge FILE`, which checks every key),
// and its TOML block as the shim's tenant, both unedited. Then each link between
// the two is tried: the portal starts with the merged configuration (keeping the
// relying party it had), a user who signs in there through the shim's
// self-service is sent back to the shim with a code, and the REST second
// factor's URL carries credentials and fields the shim accepts. (e2e.test.js
// runs the whole login in Chromium.)

import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort, startPortal } from '../src/portal.js';
import { SHIM_BIN, TENANT, startShim } from './shim.js';

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const toml = (s) => JSON.stringify(s);

let instance;
let shimDir;
let portal;
let shim;
/** What tenant-init wrote for LemonLDAP::NG. */
let settings;

before(async () => {
  instance = mkdtempSync(join(tmpdir(), 'llng-init-'));
  await run(join(root, 'setup'), [instance]);
  shimDir = mkdtempSync(join(tmpdir(), 'llng-init-shim-'));
  const [portalPort, shimPort] = [await freePort(), await freePort()];
  const issuer = `http://localhost:${portalPort}`;
  const settingsFile = join(shimDir, 'llng-settings.json');
  const { stdout: block } = await run(SHIM_BIN, [
    'tenant-init', '--tenant', TENANT, '--issuer', issuer, '--for', 'lemonldap',
    '--shim-url', `http://127.0.0.1:${shimPort}`, '--lemonldap-out', settingsFile,
  ], { cwd: shimDir, env: { PATH: process.env.PATH } });
  settings = JSON.parse(readFileSync(settingsFile, 'utf8'));

  portal = await startPortal({
    dir: instance,
    port: portalPort,
    // What the instance had before: one application's relying party, and a
    // REST second factor the merge replaces.
    relyingParties: {
      app: { clientId: 'app', clientSecret: randomBytes(16).toString('hex'), redirectUris: ['http://127.0.0.1:9/cb'], authnLevel: 3 },
    },
    rest2f: { verifyUrl: 'http://127.0.0.1:9/before-the-merge' },
    mergeFiles: [settingsFile],
  });
  const apiSecret = JSON.parse(block.match(/^hs256_secret = (.*)$/m)[1]);
  shim = await startShim({
    dir: shimDir,
    port: shimPort,
    issuer,
    apiSecret,
    config: [
      `listen = ${toml(`127.0.0.1:${shimPort}`)}`,
      `public_url = ${toml(`http://127.0.0.1:${shimPort}`)}`,
      `database_url = ${toml(`sqlite://${join(shimDir, 'shim.db')}`)}`,
      'log_filter = "info"',
      '[plugin]',
      `cache_dir = ${toml(join(shimDir, 'cache'))}`,
      '',
      block,
    ].join('\n'),
  });
});

after(async () => {
  await shim?.stop();
  await portal?.stop();
  for (const d of [instance, shimDir]) if (d) rmSync(d, { recursive: true, force: true });
});

/** The configuration the portal runs: the newest lmConf-N.json. */
function portalConfig() {
  const dir = join(instance, 'conf');
  const newest = readdirSync(dir)
    .map((f) => Number(f.match(/^lmConf-(\d+)\.json$/)?.[1]))
    .filter(Number.isInteger)
    .sort((a, b) => b - a)[0];
  return JSON.parse(readFileSync(join(dir, `lmConf-${newest}.json`), 'utf8'));
}

test('the settings are merged as written, beside the relying party the portal had', () => {
  const conf = portalConfig();
  for (const key of ['rest2fVerifyUrl', 'rest2fInitUrl', 'rest2fAuthnLevel', 'sfOnlyUpgrade', 'handlerInternalCache']) {
    assert.equal(String(conf[key]), String(settings[key]), key);
  }
  assert.deepEqual(conf.rest2fVerifyArgs, { uid: 'uid' });
  assert.deepEqual(
    Object.keys(conf.oidcRPMetaDataOptions).sort(),
    ['app', `${TENANT}-selfservice`, `${TENANT}-selfservice-strong`],
  );
});

/**
 * Sign in at the portal as the demo user `dwho` (password `dwho`) with plain
 * HTTP requests, from the authorization request `authorize`: where the portal
 * sends the browser afterwards.
 */
async function signedInRedirect(authorize) {
  const form = await (await fetch(authorize, { redirect: 'manual' })).text();
  const fields = new URLSearchParams();
  for (const [input] of form.matchAll(/<input[^>]*type="hidden"[^>]*>/g)) {
    const attr = (a) => input.match(new RegExp(`\\s${a}="([^"]*)"`))?.[1];
    if (attr('name')) fields.set(attr('name'), attr('value') ?? '');
  }
  fields.set('user', 'dwho');
  fields.set('password', 'dwho');
  const login = await fetch(authorize, { method: 'POST', body: fields, redirect: 'manual' });
  const cookie = (login.headers.get('set-cookie') ?? '').match(/lemonldap=[^;]+/)?.[0];
  assert.ok(cookie, `the portal signed dwho in (${login.status})`);
  const answer = await fetch(authorize, { headers: { cookie }, redirect: 'manual' });
  return answer.headers.get('location');
}

test("the shim's self-service sign-in is a request the portal accepts", async () => {
  const sent = await fetch(`${shim.url}/self/${TENANT}/`, { redirect: 'manual' });
  assert.equal(sent.status, 303, await sent.text());
  const authorize = new URL(sent.headers.get('location'));
  assert.equal(authorize.origin, new URL(portal.url).origin);
  assert.equal(authorize.searchParams.get('client_id'), `${TENANT}-selfservice`);
  // After the password, the portal sends the browser back to the shim with a
  // code: the client and its redirect URI are the ones the merge registered.
  const back = new URL(await signedInRedirect(authorize));
  assert.equal(`${back.origin}${back.pathname}`, `${shim.url}/self/${TENANT}/callback`);
  assert.ok(back.searchParams.get('code'));
  assert.equal(back.searchParams.get('state'), authorize.searchParams.get('state'));
  // A client the merge did not register gets no code (what makes the check able to fail).
  const stranger = new URL(authorize);
  stranger.searchParams.set('client_id', 'not-registered');
  const refused = await signedInRedirect(stranger);
  assert.ok(!refused?.includes('code='), `refused: ${refused}`);
});

test('the REST second factor reaches the shim with the credentials and fields LemonLDAP::NG sends', async () => {
  const url = new URL(settings.rest2fVerifyUrl);
  const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  url.username = '';
  url.password = '';
  const post = (basic) => fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(basic).toString('base64')}` },
    // As LemonLDAP::NG 2.16 sends it: the code, `user` (its whatToTrace) and rest2fVerifyArgs.
    body: JSON.stringify({ code: 'ABCDE-FGHJK-MNPQ', user: 'dwho', uid: 'dwho' }),
  });
  const answer = await post(credentials);
  assert.equal(answer.status, 200);
  assert.equal((await answer.json()).result, false, 'a user without codes: refused, as any wrong code');
  assert.equal((await post(`${credentials}x`)).status, 401, 'other credentials are refused');
});
