// The backup-code shim for the test: the real binary (SHIM_BIN, default the
// workspace's target/debug/backup-codes-shim), on 127.0.0.1 with its own TOML
// configuration and SQLite database in a directory of the test. One tenant,
// `llng`, whose REST second factor is called by LemonLDAP::NG and whose
// self-service signs users in at LemonLDAP::NG (two relying parties: a
// password-only one, and a strong one for replacing or deleting codes).
//
// The shim can be killed (SIGKILL: the IdP must fail closed), frozen (SIGSTOP:
// it accepts connections and never answers) and started again on the same port
// and database. Its log (stderr, `log_filter = "info"`) goes to DIR/shim.log.

import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';

const here = dirname(fileURLToPath(import.meta.url));
export const SHIM_BIN = process.env.SHIM_BIN ?? resolve(here, '../../../target/debug/backup-codes-shim');
export const TENANT = 'llng';
const AUDIENCE = 'backup-codes';

const toml = (s) => JSON.stringify(s); // TOML basic strings accept JSON escapes
const secret = (n = 32) => randomBytes(n).toString('base64url');
export const sha256Hex = (s) => createHash('sha256').update(s).digest('hex');

/**
 * The shim's configuration (TOML) for the `llng` tenant.
 * @param {object} o
 * @param {number} o.port
 * @param {string} o.dir
 * @param {string} o.issuer            LemonLDAP::NG's issuer
 * @param {{id: string, secret: string}} o.rest2fClient   the Basic credentials LemonLDAP::NG sends
 * @param {{clientId: string, clientSecret: string}} o.client        password-only RP
 * @param {{clientId: string, clientSecret: string}} o.strongClient  RP at level 3
 * @param {object} o.secrets           apiSecret, sessionSecret
 */
export function shimConfig({ port, dir, issuer, rest2fClient, client, strongClient, secrets }) {
  const oidcClient = (c) => `{ client_id = ${toml(c.clientId)}, client_secret = ${toml(c.clientSecret)}, auth = "client_secret_post" }`;
  return `${[
    `listen = ${toml(`127.0.0.1:${port}`)}`,
    `public_url = ${toml(`http://127.0.0.1:${port}`)}`,
    `database_url = ${toml(`sqlite://${join(dir, 'shim.db')}`)}`,
    'log_filter = "info"',
    '',
    '[plugin]',
    `cache_dir = ${toml(join(dir, 'cache'))}`,
    '',
    `[tenants.${TENANT}]`,
    '# The JSON API (the test reads statuses with it): HS256 tokens.',
    `issuer = ${toml(issuer)}`,
    `audience = ${toml(AUDIENCE)}`,
    'algorithms = ["HS256"]',
    `hs256_secret = ${toml(secrets.apiSecret)}`,
    'require_scope = true',
    '',
    `[tenants.${TENANT}.rest2f]`,
    '# LemonLDAP::NG: rest2fVerifyUrl = http://<id>:<secret>@<shim>/rest2f/llng/verify',
    `clients = [{ id = ${toml(rest2fClient.id)}, secret_sha256 = ${toml(sha256Hex(rest2fClient.secret))} }]`,
    '# rest2fVerifyArgs uid uid: the attribute codes are keyed on (LemonLDAP::NG',
    "# also sends `user`, its whatToTrace, which federated logins may decorate).",
    'subject_field = "uid"',
    '# rest2fVerifyArgs / rest2fInitArgs keys.',
    'extra_fields = ["uid", "mail"]',
    '',
    `[tenants.${TENANT}.selfservice]`,
    `issuer = ${toml(issuer)}`,
    `client = ${oidcClient(client)}`,
    `strong_client = ${oidcClient(strongClient)}`,
    'replace_acr = ["loa-3"]',
    'max_age_seconds = 300',
    `session_secret = ${toml(secrets.sessionSecret)}`,
  ].join('\n')}\n`;
}

async function waitReady(url, child, logText, timeoutMs = 60_000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the shim exited (${child.exitCode ?? child.signalCode}):\n${logText().slice(-4000)}`);
    }
    try {
      const r = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
      if (r.ok) return;
    } catch { /* not listening yet */ }
    await new Promise((ok) => setTimeout(ok, 100));
  }
  throw new Error(`the shim did not become ready in time:\n${logText().slice(-4000)}`);
}

/**
 * Start the shim with `config` in `dir`; resolves once /readyz answers 200.
 * @returns the running shim: url, log(), kill(), freeze(), thaw(), restart(), stop(), apiStatus()
 */
export async function startShim({ dir, port, config, apiSecret, issuer }) {
  if (!existsSync(SHIM_BIN)) throw new Error(`no shim binary at ${SHIM_BIN} (set SHIM_BIN, or cargo build -p backup-codes-shim)`);
  const url = `http://127.0.0.1:${port}`;
  const configPath = join(dir, 'shim.toml');
  const logFile = join(dir, 'shim.log');
  writeFileSync(configPath, config, { mode: 0o600 });
  writeFileSync(logFile, '');
  const log = () => readFileSync(logFile, 'utf8');
  let child;
  let starts = 0;

  const launch = async () => {
    starts += 1;
    const fd = openSync(logFile, 'a');
    writeFileSync(fd, `--- start ${starts} at ${new Date().toISOString()}\n`);
    const c = spawn(SHIM_BIN, ['--config', configPath, 'serve'], {
      stdio: ['ignore', fd, fd],
      // Only the configuration file: no BACKUP_CODES_* of the caller.
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' },
    });
    closeSync(fd);
    child = c;
    const killOnExit = () => { if (c.exitCode === null) c.kill('SIGKILL'); };
    process.once('exit', killOnExit);
    c.once('exit', () => process.removeListener('exit', killOnExit));
    try {
      await waitReady(url, c, log);
    } catch (e) {
      c.kill('SIGKILL');
      throw e;
    }
  };

  const gone = async (signal) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGCONT'); // a frozen shim cannot act on SIGTERM
    child.kill(signal);
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  };

  await launch();
  return {
    url,
    logFile,
    log,
    get pid() { return child.pid; },
    /** The process is killed at once (SIGKILL): nothing answers on the port. */
    kill: () => gone('SIGKILL'),
    /** SIGSTOP: the kernel still accepts connections, nothing answers. */
    freeze() { child.kill('SIGSTOP'); },
    thaw() { child.kill('SIGCONT'); },
    /** Start again on the same port and database. */
    async restart() { await gone('SIGTERM'); await launch(); },
    stop: () => gone('SIGTERM'),
    /** A subject's status through the shim's JSON API (a fresh HS256 token, scope status). */
    async apiStatus(subject) {
      const token = await new SignJWT({ scope: 'status' })
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer(issuer)
        .setAudience(AUDIENCE)
        .setSubject(subject)
        .setIssuedAt()
        .setExpirationTime('60s')
        .setJti(secret(16))
        .sign(Buffer.from(apiSecret));
      const r = await fetch(`${url}/v1/tenants/${TENANT}/subjects/${encodeURIComponent(subject)}/codes`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const body = await r.json().catch(() => undefined);
      if (!r.ok) throw new Error(`status of ${subject}: HTTP ${r.status} ${JSON.stringify(body)}`);
      return body;
    },
  };
}

/** Fresh secrets for one run. */
export function shimSecrets() {
  return { apiSecret: secret(32), sessionSecret: secret(32) };
}
