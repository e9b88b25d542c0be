// What the tests share: the application on 127.0.0.1:0 over a SQLite file in a
// temporary directory, Debian's Chromium, TOTP codes, and reading the database
// as an attacker who stole it would.
import { createHmac, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { createAuth } from '../src/auth.js';
import { handler } from '../src/server.js';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export const PASSWORD = 'correct horse battery staple';

/** A temporary directory and a secret for one test's application. */
export function workspace() {
  const dir = mkdtempSync(join(tmpdir(), 'better-auth-example-'));
  return {
    dir,
    databaseFile: join(dir, 'better-auth.db'),
    secret: randomBytes(32).toString('base64'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Start the application (Better Auth + the plugin) on a free port. */
export async function startApp({ databaseFile, secret, freshSignInSeconds, host }) {
  const events = [];
  // The port is known once listening, and Better Auth needs it (its base URL).
  let serve = (req, res) => { res.writeHead(503); res.end(); };
  const server = createServer((req, res) => serve(req, res));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseURL = `http://127.0.0.1:${server.address().port}`;
  const { auth, database } = await createAuth({
    databaseFile, secret, baseURL, freshSignInSeconds, host, onEvent: (e) => events.push(e),
  });
  serve = handler(auth);
  return {
    auth, database, baseURL, events,
    close: async () => {
      await new Promise((resolve) => server.close(resolve));
      server.closeAllConnections?.();
      database.close();
    },
  };
}

export async function launch() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/** RFC 6238 TOTP (SHA-1, 6 digits, 30 s) of an otpauth:// URI's secret. */
export function totp(uri, at = Date.now()) {
  const secret = new URL(uri).searchParams.get('secret');
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30000)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 15;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

/** Every byte of the database (and its write-ahead log), as text. */
export function databaseBytes(databaseFile) {
  let text = readFileSync(databaseFile).toString('latin1');
  try { text += readFileSync(`${databaseFile}-wal`).toString('latin1'); } catch { /* no WAL */ }
  return text;
}

/** The codes (as typed, and without separators, in either case) found anywhere in the database. */
export function codesInDatabase(databaseFile, codes) {
  const bytes = databaseBytes(databaseFile);
  const lower = bytes.toLowerCase();
  return codes.filter((code) => {
    const bare = code.replace(/[-\s]/g, '');
    return bytes.includes(code) || lower.includes(bare.toLowerCase());
  });
}

/** Fill a page's form field and submit its form, then wait for what follows. */
export async function submit(page, formId, fields) {
  for (const [name, value] of Object.entries(fields)) {
    await page.fill(`#${formId} [name="${name}"]`, value);
  }
  await page.click(`#${formId} button`);
}

/** Cookies of a server API answer, as request headers. */
export const cookieOf = (headers) => new Headers({ cookie: headers.getSetCookie().map((c) => c.split(';')[0]).join('; ') });

/** Sign up through the server API and turn on TOTP; the session's headers. */
export async function enrolTwoFactor(auth, email) {
  const signUp = await auth.api.signUpEmail({ body: { name: email, email, password: PASSWORD }, returnHeaders: true });
  let headers = cookieOf(signUp.headers);
  const enabled = await auth.api.enableTwoFactor({ body: { password: PASSWORD }, headers });
  const verified = await auth.api.verifyTOTP({ body: { code: totp(enabled.totpURI) }, headers, returnHeaders: true });
  // Turning two-factor on replaces the session: its new cookie.
  if (verified.headers.getSetCookie().length > 0) headers = cookieOf(verified.headers);
  return { headers, backupCodes: enabled.backupCodes };
}

/** Password first, through the server API: the two-factor step's headers. */
export async function atTwoFactorStep(auth, email) {
  const signIn = await auth.api.signInEmail({ body: { email, password: PASSWORD }, returnHeaders: true });
  if (!signIn.response.twoFactorRedirect) throw new Error('no two-factor step');
  return cookieOf(signIn.headers);
}

/** A component code with one symbol changed: its check symbol no longer matches. */
export const typo = (code) => code.replace(/[0-9A-Z]/, (c) => (c === 'A' ? 'B' : 'A'));
