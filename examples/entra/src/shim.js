// The real shim binary (SHIM_BIN, default: the workspace's debug build) with a
// configuration file of our own and a SQLite database in a temporary
// directory; resolves once /readyz answers.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';

const here = dirname(fileURLToPath(import.meta.url));
export const SHIM_BIN = process.env.SHIM_BIN ?? resolve(here, '../../../target/debug/backup-codes-shim');

/** A free loopback port. */
export function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

/** Start the shim with `config` (TOML, without `listen`) on `port`. */
export async function startShim({ port, config }) {
  const dir = mkdtempSync(join(tmpdir(), 'backup-codes-entra-'));
  const path = join(dir, 'shim.toml');
  writeFileSync(
    path,
    `listen = "127.0.0.1:${port}"\npublic_url = "http://127.0.0.1:${port}"\n` +
      `database_url = "sqlite://${dir}/shim.db"\nlog_filter = "warn"\n\n[plugin]\ncache_dir = "${dir}/cache"\n\n${config}`,
    { mode: 0o600 },
  );
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BACKUP_CODES_')));
  const child = spawn(SHIM_BIN, ['--config', path, 'serve'], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the shim exited at start:\n${log}`);
    try {
      if ((await fetch(`${url}/readyz`)).ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`the shim did not become ready:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    log: () => log,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
