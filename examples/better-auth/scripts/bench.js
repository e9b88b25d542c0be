// Better Auth's own backup-code check against the component's through the
// plugin, side by side in one process on one machine: each round signs in
// with the password (not timed) and then times one right backup code at the
// two-factor step (`auth.api.verifyBackupCode`: the check, the write and the
// session), alternating the two. Prints medians, p90 and their ratio.
//
// Usage: node scripts/bench.js [ROUNDS]   (default 30; at most 64)
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { betterAuth } from 'better-auth';
import { getMigrations } from 'better-auth/db/migration';
import { twoFactor } from 'better-auth/plugins/two-factor';
import { Host } from 'authn-backup-codes';
import { backupCodes, twoFactorBackupCodeOptions } from 'authn-backup-codes/better-auth';
import { atTwoFactorStep, enrolTwoFactor } from '../test/helpers.js';

const rounds = Number(process.argv[2] ?? 30);
if (!(rounds >= 1 && rounds <= 64)) throw new Error('ROUNDS is 1..64');
const dir = mkdtempSync(join(tmpdir(), 'better-auth-bench-'));

async function start(name, plugins) {
  const options = {
    database: new Database(join(dir, `${name}.db`)),
    secret: randomBytes(32).toString('base64'),
    baseURL: 'http://127.0.0.1',
    emailAndPassword: { enabled: true },
    plugins,
  };
  await (await getMigrations(options)).runMigrations();
  const auth = betterAuth(options);
  const email = `${name}@example.com`;
  const { headers, backupCodes: codes } = await enrolTwoFactor(auth, email);
  return { auth, email, headers, codes };
}

const host = await Host.load();
const policy = { ...(await host.defaultPolicy()), count: rounds };
const own = await start('own', [twoFactor({ backupCodeOptions: { amount: rounds } })]);
const component = await start('component', [
  twoFactor({ backupCodeOptions: twoFactorBackupCodeOptions }),
  backupCodes({ host, policy }),
]);
const issued = await component.auth.api.generateComponentBackupCodes({ headers: component.headers });
await component.auth.api.activateComponentBackupCodes({ body: { code: issued.codes[0], setId: issued.setId }, headers: component.headers });
component.codes = issued.codes;

async function attempt(side, code) {
  const headers = await atTwoFactorStep(side.auth, side.email);
  const t0 = performance.now();
  const verified = await side.auth.api.verifyBackupCode({ body: { code }, headers });
  const ms = performance.now() - t0;
  if (verified.user.email !== side.email) throw new Error('not signed in');
  return ms;
}

const times = { own: [], component: [] };
for (let i = 0; i < rounds; i += 1) {
  const first = i % 2 === 0 ? ['own', own] : ['component', component];
  const second = i % 2 === 0 ? ['component', component] : ['own', own];
  for (const [name, side] of [first, second]) times[name].push(await attempt(side, side.codes[i]));
}
await host.close();
rmSync(dir, { recursive: true, force: true });

const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
const row = (name, xs) => `${name.padEnd(44)} ${quantile(xs, 0.5).toFixed(1).padStart(8)} ${quantile(xs, 0.9).toFixed(1).padStart(8)}`;
console.log(`Better Auth 1.7 two-factor step, a right backup code, ${rounds} rounds each, alternating (ms)`);
console.log(`${''.padEnd(44)} ${'median'.padStart(8)} ${'p90'.padStart(8)}`);
console.log(row("Better Auth's own (encrypted list, includes)", times.own));
console.log(row('the component through the plugin (argon2id)', times.component));
console.log(`ratio of medians (component / own): ${(quantile(times.component, 0.5) / quantile(times.own, 0.5)).toFixed(2)}x`);
