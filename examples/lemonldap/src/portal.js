// Start and stop the LemonLDAP::NG portal of a private instance (made by
// `setup`; one portal per instance directory): write its configuration
// (bootstrap file + the CLI's validated merge), run Debian's portal PSGI app
// with its static files under plackup (HTTP::Server::PSGI: one process; or
// Starman's preforked workers, as production runs several FastCGI workers; log
// to stderr), and wait until its OpenID Connect metadata answers.

import { spawn, execFile } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DEFAULTS, bootstrapConfig, settings as buildSettings } from './config.js';

const run = promisify(execFile);

// Debian's portal app plus its static files (see portal.psgi). The portal runs
// as the instance's owner (www-data when started as root), who may not be able
// to enter the checkout (a clone under /root or a mode-0700 home): each start
// copies it into the instance, and the portal reads nothing of the checkout.
export const PSGI_APP = fileURLToPath(new URL('./portal.psgi', import.meta.url));

/** The portal app as the instance keeps it (see PSGI_APP). */
export function instanceApp(dir) {
  return join(dir, 'run', 'portal.psgi');
}
export const CLI = '/usr/share/lemonldap-ng/bin/lemonldap-ng-cli';
const LOGGER = 'Lemonldap::NG::Common::Logger::Std';

/**
 * The user the portal runs as: the owner of the instance (www-data, see setup)
 * when started as root, else ourselves. With `tied`, the process also gets
 * `deathSignal` (SIGKILL) when its parent dies (prctl PR_SET_PDEATHSIG through
 * setpriv), so a test killed in any way leaves no portal behind.
 */
function runAs(dir, { tied = false, deathSignal = 'KILL' } = {}) {
  const death = tied ? ['--pdeathsig', deathSignal] : [];
  if (process.getuid?.() !== 0) return { prefix: tied ? ['setpriv', ...death, '--'] : [], uid: undefined, gid: undefined };
  const st = statSync(dir);
  if (st.uid === 0) throw new Error(`${dir} belongs to root: run setup on it first`);
  return {
    prefix: ['setpriv', `--reuid=${st.uid}`, `--regid=${st.gid}`, '--clear-groups', ...death, '--'],
    uid: st.uid,
    gid: st.gid,
  };
}

function writeOwned(path, text, who) {
  writeFileSync(path, text, { mode: 0o640 });
  if (who.uid !== undefined) chownSync(path, who.uid, who.gid);
}

export async function freePort() {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address();
  srv.close();
  await once(srv, 'close');
  return port;
}

function envFor(dir) {
  return {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    LANG: 'C.UTF-8',
    LLNG_DEFAULTCONFFILE: join(dir, 'lemonldap-ng.ini'),
    LLNG_DEFAULTLOGGER: LOGGER,
  };
}

/**
 * Write the instance's configuration: lmConf-1.json (bootstrap), then the
 * settings merged by LemonLDAP::NG's CLI into lmConf-2.json. Earlier
 * configurations of the instance are removed first.
 * @returns {Promise<object>} the settings that were merged
 */
export async function configure({ dir, portalUrl, hostname, issuer, relyingParties, rest2f, sfOnlyUpgrade, lemonldap, mergeFiles = [] }) {
  const who = runAs(dir);
  const confDir = join(dir, 'conf');
  for (const f of readdirSync(confDir)) {
    if (/^lmConf-\d+\.json$/.test(f) || f === 'lmConf.lock') rmSync(join(confDir, f));
  }
  // The configuration cache would otherwise serve the previous run's settings.
  rmSync(join(dir, 'cache', 'lemonldap-ng-config'), { recursive: true, force: true });
  writeOwned(join(confDir, 'lmConf-1.json'), JSON.stringify(bootstrapConfig({ dir, portalUrl, hostname }), null, 2), who);
  const merged = buildSettings({
    issuer,
    privateKeyPem: readFileSync(join(dir, 'keys', 'oidc-sig.key'), 'utf8'),
    certPem: readFileSync(join(dir, 'keys', 'oidc-sig.crt'), 'utf8'),
    relyingParties,
    rest2f,
    sfOnlyUpgrade,
    lemonldap,
  });
  const mergeFile = join(dir, 'run', 'settings.json');
  writeOwned(mergeFile, JSON.stringify(merged, null, 2), who);
  const [cmd, ...args] = [...who.prefix, CLI, '-yes', '1', '-safe', '1', '-log', 'examples/lemonldap/start', 'merge', mergeFile];
  try {
    await run(cmd, args, { env: envFor(dir), cwd: dir });
  } catch (e) {
    throw new Error(`lemonldap-ng-cli refused the configuration:\n${e.stderr || e.message}`);
  }
  if (!existsSync(join(confDir, 'lmConf-2.json'))) throw new Error('lemonldap-ng-cli saved no configuration');
  // Files an operator merges as they are (`lemonldap-ng-cli -yes 1 -safe 1
  // merge FILE`), e.g. what `backup-codes-shim tenant-init --for lemonldap`
  // writes; copied where the instance's owner can read them.
  for (const [n, file] of mergeFiles.entries()) {
    const copy = join(dir, 'run', `merge-${n}.json`);
    writeOwned(copy, readFileSync(file, 'utf8'), who);
    const [c, ...a] = [...who.prefix, CLI, '-yes', '1', '-safe', '1', '-log', `merge ${file}`, 'merge', copy];
    try {
      await run(c, a, { env: envFor(dir), cwd: dir });
    } catch (e) {
      throw new Error(`lemonldap-ng-cli refused ${file}:\n${e.stderr || e.message}`);
    }
  }
  return merged;
}

async function waitUntilUp(url, child, logText, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the portal exited (${child.exitCode}):\n${logText()}`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
      last = `${r.status} ${(await r.text()).slice(0, 300)}`;
      if (r.ok) return;
      // 500 "Initialization failed" does not get better by waiting.
      if (r.status >= 500) break;
    } catch (e) {
      last = e.cause?.code ?? e.message;
    }
    await new Promise((ok) => setTimeout(ok, 100));
  }
  throw new Error(`the portal did not answer ${url} (${last}):\n${logText()}`);
}

/**
 * Configure and start the portal of the instance in `dir`.
 * @param {object} o
 * @param {string} o.dir                 instance directory (setup)
 * @param {number} [o.port]              default: a free port
 * @param {string} [o.hostname]          default: localhost (see README.md, "Host name")
 * @param {string} [o.issuer]            default: the portal URL without its trailing slash
 * @param {Record<string, object>} o.relyingParties
 * @param {object} o.rest2f
 * @param {boolean} [o.sfOnlyUpgrade]
 * @param {object} [o.lemonldap]         further LemonLDAP::NG keys
 * @param {string[]} [o.mergeFiles]      JSON files merged last with lemonldap-ng-cli
 * @param {number} [o.workers]          1 (default): one process (HTTP::Server::PSGI);
 *                                       more: that many Starman workers, which answer
 *                                       requests at the same time
 * @param {boolean} [o.detached]         keep running after this process exits
 * @returns {Promise<{url: string, issuer: string, pid: number, logFile: string,
 *   log: () => string, stop: () => Promise<void>, settings: object, startMs: number}>}
 */
export async function startPortal(o) {
  // A free port is found by binding and releasing it; should another process
  // take it before plackup binds, try another one.
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startOnce(o);
    } catch (e) {
      if (o.port || attempt === 3 || !/Address already in use/.test(e.message)) throw e;
    }
  }
}

async function startOnce(o) {
  const dir = o.dir;
  if (!existsSync(join(dir, 'lemonldap-ng.ini'))) throw new Error(`${dir} is no instance: run setup ${dir}`);
  const hostname = o.hostname ?? DEFAULTS.hostname;
  const bind = DEFAULTS.bindAddress;
  const port = o.port || (await freePort());
  const url = `http://${hostname}:${port}`;
  const issuer = o.issuer ?? url;
  const t0 = Date.now();
  const merged = await configure({
    dir, portalUrl: `${url}/`, hostname, issuer,
    relyingParties: o.relyingParties, rest2f: o.rest2f, sfOnlyUpgrade: o.sfOnlyUpgrade, lemonldap: o.lemonldap,
    mergeFiles: o.mergeFiles,
  });
  const tConfigured = Date.now();

  const workers = o.workers ?? 1;
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`workers must be a positive integer, not ${workers}`);
  // Starman's master forks the workers after loading the app once (--preload-app)
  // and ends them on SIGTERM; its workers outlive a SIGKILLed master (and keep
  // the port), so it is only ever sent SIGTERM, also when we die.
  const server = workers > 1 ? ['-s', 'Starman', '--workers', String(workers), '--preload-app'] : ['-s', 'HTTP::Server::PSGI'];
  const endSignal = workers > 1 ? 'SIGTERM' : 'SIGKILL';
  const who = runAs(dir, { tied: !o.detached, deathSignal: endSignal.slice(3) });
  const logFile = join(dir, 'run', 'portal.log');
  const fd = openSync(logFile, 'w', 0o640);
  if (who.uid !== undefined) chownSync(logFile, who.uid, who.gid);
  const app = instanceApp(dir);
  writeOwned(app, readFileSync(o.app ?? PSGI_APP, 'utf8'), who);
  const [cmd, ...args] = [
    ...who.prefix, 'plackup', ...server, '--host', bind, '--port', String(port),
    '-E', 'deployment', '--app', app,
  ];
  const child = spawn(cmd, args, {
    env: envFor(dir), cwd: dir, stdio: ['ignore', fd, fd], detached: Boolean(o.detached),
  });
  closeSync(fd);
  // Unless it is meant to outlive us, the portal goes when this process goes,
  // however it ends (test failure, Ctrl-C, a closed pipe).
  const killOnExit = () => { if (child.exitCode === null) child.kill(endSignal); };
  if (!o.detached) {
    process.once('exit', killOnExit);
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
      if (process.listenerCount(sig) === 0) process.once(sig, () => process.exit(128 + osConstants.signals[sig]));
    }
  }
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  writeFileSync(join(dir, 'run', 'portal.pid'), `${child.pid}\n`);

  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await once(child, 'exit').catch(() => {});
      clearTimeout(t);
    }
    rmSync(join(dir, 'run', 'portal.pid'), { force: true });
  };
  try {
    await waitUntilUp(`http://${bind}:${port}/.well-known/openid-configuration`, child, log, 30_000);
  } catch (e) {
    await stop();
    throw e;
  }
  if (o.detached) child.unref();
  const info = { url, issuer, pid: child.pid, logFile, configureMs: tConfigured - t0, startMs: Date.now() - tConfigured };
  writeFileSync(join(dir, 'run', 'portal.json'), `${JSON.stringify(info, null, 2)}\n`);
  return { ...info, log, stop, settings: merged };
}

/** Stop a portal started detached, from its pid file. */
export async function stopPortal(dir) {
  const pidFile = join(dir, 'run', 'portal.pid');
  if (!existsSync(pidFile)) return false;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  const alive = () => { try { process.kill(pid, 0); return true; } catch { return false; } };
  if (pid > 0 && alive()) {
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 50 && alive(); i += 1) await new Promise((ok) => setTimeout(ok, 100));
    if (alive()) process.kill(pid, 'SIGKILL');
  }
  rmSync(pidFile, { force: true });
  return true;
}
