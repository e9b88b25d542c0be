// Start the whole example on 127.0.0.1: the shim (the real binary, with a
// temporary configuration and SQLite database), the OpenID provider and the
// relying party. Used by `npm start` and by the end-to-end test.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';
import { readForm, sendPage } from './html.js';
import { ACR, startProvider } from './provider.js';
import { startRp } from './rp.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const SHIM_BIN = process.env.SHIM_BIN ?? resolve(root, '../../target/debug/backup-codes-shim');
export const TENANT = 'example';
/** The shim's self-service is this client of the provider. */
export const SELF_SERVICE_CLIENT = 'backup-codes-selfservice';

async function freePort() {
  const s = createServer();
  await new Promise((ok) => s.listen(0, '127.0.0.1', ok));
  const { port } = s.address();
  await new Promise((ok) => s.close(ok));
  return port;
}

const toml = (s) => JSON.stringify(s); // TOML basic strings accept JSON escapes

/**
 * The shim's configuration for this example: one HS256 tenant for the
 * provider, with self-service (`/self/example/`) through the provider's login
 * when `selfService` ({clientId, clientSecret, sessionSecret}) is given.
 */
export function shimConfig({ port, dir, issuer, apiSecret, stepSecret, policy = {}, selfService, branded = false }) {
  const lines = [
    `listen = ${toml(`127.0.0.1:${port}`)}`,
    `public_url = ${toml(`http://127.0.0.1:${port}`)}`,
    `database_url = ${toml(`sqlite://${join(dir, 'shim.db')}`)}`,
    'log_filter = "warn"',
    '',
    '[plugin]',
    `cache_dir = ${toml(join(dir, 'cache'))}`,
    '',
    `[tenants.${TENANT}]`,
    `issuer = ${toml(issuer)}`,
    'audience = "backup-codes"',
    'algorithms = ["HS256"]',
    `hs256_secret = ${toml(apiSecret)}`,
    `step_secret = ${toml(stepSecret)}`,
    `continue_urls = [${toml(`${issuer}/interaction/`)}]`,
    '',
    `[tenants.${TENANT}.policy]`,
    ...Object.entries(policy).map(([k, v]) => `${k} = ${typeof v === 'string' ? toml(v) : v}`),
  ];
  if (branded) lines.push('', ...acmeBranding(TENANT));
  if (selfService) {
    lines.push(
      '',
      // The shim signs users in at the provider like any app; replacing or
      // deleting codes needs a fresh login (prompt=login, max_age=0) at most
      // max_age_seconds old whose acr says a backup code was given.
      `[tenants.${TENANT}.selfservice]`,
      `issuer = ${toml(issuer)}`,
      `client = { client_id = ${toml(selfService.clientId)}, client_secret = ${toml(selfService.clientSecret)}, auth = "client_secret_post" }`,
      `replace_acr = [${toml(ACR.backupCode)}]`,
      'max_age_seconds = 300',
      `session_secret = ${toml(selfService.sessionSecret)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

async function waitReady(url, child, timeoutMs = 60_000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`the shim exited with code ${child.exitCode}`);
    try {
      const r = await fetch(`${url}/readyz`);
      if (r.ok) return;
    } catch { /* not listening yet */ }
    await new Promise((ok) => setTimeout(ok, 100));
  }
  throw new Error('the shim did not become ready in time');
}

/** Pick a free port on 127.0.0.1. */
export { freePort };

/**
 * Run the shim binary with `config` (TOML text) until `stop()`; resolves once
 * /readyz answers.
 */
export async function startShim({ dir, url, config, quiet = true }) {
  const configPath = join(dir, 'shim.toml');
  writeFileSync(configPath, config, { mode: 0o600 });
  const child = spawn(SHIM_BIN, ['--config', configPath, 'serve'], {
    stdio: ['ignore', quiet ? 'ignore' : 'inherit', quiet ? 'pipe' : 'inherit'],
    env: { ...process.env, RUST_LOG: 'warn' },
  });
  let log = '';
  child.stderr?.on('data', (d) => { log = (log + d).slice(-20_000); });
  try {
    await waitReady(url, child);
  } catch (e) {
    child.kill('SIGTERM');
    throw new Error(`${e.message}\n${log}`);
  }
  return {
    log: () => log,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((ok) => child.once('exit', ok));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((ok) => setTimeout(ok, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/**
 * The shim's demo (no tenant configured, so it plays the identity provider)
 * in a temporary directory, stopped and removed when test `t` ends; resolves
 * to its URL.
 */
export async function startDemoShim(t) {
  const dir = mkdtempSync(join(tmpdir(), 'backup-codes-demo-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const shim = await startShim({
    dir,
    url,
    config: [
      `listen = "127.0.0.1:${port}"`,
      `public_url = "${url}"`,
      `database_url = ${JSON.stringify(`sqlite://${join(dir, 'demo.db')}`)}`,
      'log_filter = "warn"',
      '[plugin]',
      `cache_dir = ${JSON.stringify(join(dir, 'cache'))}`,
      '',
    ].join('\n'),
  });
  t.after(async () => { await shim.stop(); rmSync(dir, { recursive: true, force: true }); });
  return url;
}

/** The `[tenants.{id}.branding]` table of the ACME demo brand (examples/branding/acme). */
function acmeBranding(id) {
  const brand = resolve(root, '../branding/acme');
  return [
    `[tenants.${id}.branding]`,
    'display_name = "ACME Corp"',
    `logo_file = ${toml(join(brand, 'logo.svg'))}`,
    `stylesheet_file = ${toml(join(brand, 'style.css'))}`,
    'accent = "#8a2be2"',
    'accent_dark = "#d8b4fe"',
    'support_url = "https://help.acme.example/backup-codes"',
    'recovery_url = "https://id.acme.example/recover"',
  ];
}

/**
 * @param {object} [o]
 * @param {object} [o.policy]  shim policy overrides for the tenant (snake_case)
 * @param {boolean} [o.quiet]  hide the shim's log output
 * @param {boolean} [o.branded]  dress the tenant's pages in the ACME demo brand
 */
export async function startStack({ policy = {}, quiet = true, branded = false } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'backup-codes-example-'));
  const apiSecret = randomBytes(32).toString('base64url');
  const stepSecret = randomBytes(32).toString('base64url');
  const clientSecret = randomBytes(32).toString('base64url');
  const selfService = {
    clientId: SELF_SERVICE_CLIENT,
    clientSecret: randomBytes(32).toString('base64url'),
    sessionSecret: randomBytes(32).toString('base64url'),
  };
  const shimPort = await freePort();
  const shimUrl = `http://127.0.0.1:${shimPort}`;

  let issuer = '';
  const rp = await startRp({ clientId: 'example-app', clientSecret, issuer: () => issuer });
  const idp = await startProvider({
    clients: [{
      client_id: 'example-app',
      client_secret: clientSecret,
      redirect_uris: [rp.redirectUri],
      post_logout_redirect_uris: [`${rp.base}/`],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }, {
      // The shim's self-service: a confidential client with PKCE (required
      // for every client here) and auth_time in every ID token.
      client_id: selfService.clientId,
      client_secret: selfService.clientSecret,
      redirect_uris: [`${shimUrl}/self/${TENANT}/callback`],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
      require_auth_time: true,
    }],
    mode: 'shim',
    shim: { url: shimUrl, tenant: TENANT, stepSecret, apiSecret },
    selfServiceClientId: selfService.clientId,
  });
  issuer = idp.issuer;

  let shim;
  try {
    shim = await startShim({
      dir,
      url: shimUrl,
      config: shimConfig({ port: shimPort, dir, issuer, apiSecret, stepSecret, policy, selfService, branded }),
      quiet,
    });
  } catch (e) {
    await Promise.all([rp.close(), idp.close()]);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }

  return {
    shimUrl,
    selfServiceUrl: `${shimUrl}/self/${TENANT}/`,
    issuer,
    rp,
    idp,
    shimLog: () => shim.log(),
    async stop() {
      await Promise.all([rp.close(), idp.close()]);
      await shim.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A shim with two tenants for the page tests, each an identity provider the
 * test plays itself: `plain` (no branding: the shim's neutral look) and
 * `acme` (branded from examples/branding/acme: name, logo, colours,
 * stylesheet, help and account-recovery links). Results are posted back to a
 * small receiver on 127.0.0.1. Stopped and removed when test `t` ends.
 * Resolves to { url, receiver, step(tenant) } where `step(tenant)` is that
 * tenant's {@link shimStep}-like starter taking { kind, subject, uiLocales,
 * zoneinfo, username }.
 */
export async function startPagesShim(t) {
  const dir = mkdtempSync(join(tmpdir(), 'backup-codes-pages-'));
  const receiver = createHttpServer(async (req, res) => {
    if (req.method === 'POST') await readForm(req).catch(() => null);
    sendPage(res, 200, 'Back at the identity provider', '<p>The signed result arrived.</p>');
  });
  await new Promise((ok) => receiver.listen(0, '127.0.0.1', ok));
  const receiverUrl = `http://127.0.0.1:${receiver.address().port}/continue/`;
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const secrets = {};
  const tenants = ['plain', 'acme'].flatMap((id) => {
    secrets[id] = {
      step: randomBytes(32).toString('base64url'),
      api: randomBytes(32).toString('base64url'),
    };
    const lines = [
      `[tenants.${id}]`,
      `issuer = ${toml(`https://${id}.idp.example`)}`,
      'audience = "backup-codes"',
      'algorithms = ["HS256"]',
      `hs256_secret = ${toml(secrets[id].api)}`,
      `step_secret = ${toml(secrets[id].step)}`,
      `continue_urls = [${toml(receiverUrl)}]`,
      '',
    ];
    if (id === 'acme') lines.push(...acmeBranding(id), '');
    return lines;
  });
  const shim = await startShim({
    dir,
    url,
    config: [
      `listen = "127.0.0.1:${port}"`,
      `public_url = "${url}"`,
      `database_url = ${toml(`sqlite://${join(dir, 'pages.db')}`)}`,
      'log_filter = "warn"',
      '[plugin]',
      `cache_dir = ${toml(join(dir, 'cache'))}`,
      '',
      ...tenants,
    ].join('\n'),
  });
  t.after(async () => {
    await shim.stop();
    await new Promise((ok) => receiver.close(ok));
    rmSync(dir, { recursive: true, force: true });
  });
  const enc = new TextEncoder();
  return {
    url,
    receiver: receiverUrl,
    /** The entry URL of `kind` for `subject` at `tenant`, as its IdP would send the browser. */
    async entry(tenant, { kind, subject, uiLocales, zoneinfo, username }) {
      const state = randomBytes(24).toString('base64url');
      const stepUrl = `${url}/step/${tenant}/${kind}`;
      const claims = { step: kind, state, continue_uri: receiverUrl };
      if (uiLocales) claims.ui_locales = uiLocales;
      if (zoneinfo) claims.zoneinfo = zoneinfo;
      if (username) claims.preferred_username = username;
      const token = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuer(`https://${tenant}.idp.example`)
        .setSubject(subject)
        .setAudience(stepUrl)
        .setIssuedAt()
        .setExpirationTime('5m')
        .setJti(randomBytes(16).toString('base64url'))
        .sign(enc.encode(secrets[tenant].step));
      const target = new URL(stepUrl);
      target.searchParams.set('state', state);
      target.searchParams.set('session_token', token);
      return target.toString();
    },
  };
}
