/**
 * Moving Better Auth's own backup codes into the component. The two-factor
 * plugin keeps them reversibly in `twoFactor.backupCodes`: a JSON list of
 * codes, plain, or encrypted with XChaCha20-Poly1305 under a key derived from
 * the application's secret (bare hex, or `$ba$<version>$hex` with versioned
 * secrets). They are decrypted with Better Auth's own function, hashed by the
 * component (`import-set`, source `plaintext`: compared exactly, case and dash
 * included), and in one transaction the credential is stored and the
 * reversible copy replaced by `[]` (only if it is still the one read).
 */
import { symmetricDecrypt } from 'better-auth/crypto';
import type { AuthContext, DBAdapter, Where } from 'better-auth';
import type { Event, Host, Policy } from '../index.js';
import { create, load, swap, type StoredCredential } from './credentials.js';

/** What the two-factor plugin stores when it keeps no code. */
export const NO_CODES = '[]';

interface TwoFactorRow {
  id: string;
  userId: string;
  backupCodes: string | null;
}

/** The codes a stored `twoFactor.backupCodes` value holds. */
export async function readBetterAuthCodes(context: Pick<AuthContext, 'secretConfig'>, stored: string): Promise<string[]> {
  const json = stored.trimStart().startsWith('[') ? stored : await symmetricDecrypt({ key: context.secretConfig, data: stored });
  const codes: unknown = JSON.parse(json);
  if (!Array.isArray(codes) || !codes.every((c) => typeof c === 'string')) {
    throw new Error('twoFactor.backupCodes does not hold a list of codes');
  }
  return codes;
}

/** What became of one user's Better Auth codes. */
export type Migrated =
  | { kind: 'imported'; credential: StoredCredential; count: number; events: Event[] }
  | { kind: 'nothing-to-import' }
  | { kind: 'already-enrolled' };

/** Import one user's Better Auth codes, if they have any and no credential yet. */
export async function migrateUser(
  context: Pick<AuthContext, 'adapter' | 'secretConfig'>,
  host: Host,
  policy: Policy,
  pepper: Uint8Array | undefined,
  userId: string,
): Promise<Migrated> {
  const db = context.adapter as DBAdapter;
  const row = await db.findOne<TwoFactorRow>({ model: 'twoFactor', where: [{ field: 'userId', value: userId }] });
  if (!row?.backupCodes || row.backupCodes === NO_CODES) return { kind: 'nothing-to-import' };
  const existing = await load(db, userId);
  if (existing && !existing.decoy) return { kind: 'already-enrolled' };
  const codes = await readBetterAuthCodes(context, row.backupCodes);
  if (codes.length === 0) return { kind: 'nothing-to-import' };
  const imported = await host.importSet({ tag: 'plaintext', val: codes }, policy, pepper);
  codes.fill('');
  const done = await db.transaction(async (trx) => {
    // Over a decoy's copy (they tried a code before): replaced, if unchanged.
    const stored = existing ? await swap(trx, existing, imported.credential) : await create(trx, userId, imported.credential);
    if (!stored) return false;
    const wiped = await trx.incrementOne({
      model: 'twoFactor',
      where: [
        { field: 'id', value: row.id },
        { field: 'backupCodes', value: row.backupCodes as string },
      ],
      increment: {},
      set: { backupCodes: NO_CODES },
    });
    // Their copy changed since it was read: undo, and let the caller read again.
    if (wiped === null) throw new Changed();
    return true;
  }).catch((e: unknown) => {
    if (e instanceof Changed) return false;
    throw e;
  });
  if (!done) return (await load(db, userId))?.decoy === false ? { kind: 'already-enrolled' } : { kind: 'nothing-to-import' };
  const credential = await load(db, userId);
  if (!credential) throw new Error('the imported credential is not in the database');
  return { kind: 'imported', credential, count: codes.length, events: imported.events };
}

class Changed extends Error {}

const PAGE = 100;

/** Totals of a migration run. */
export interface MigrationReport {
  imported: number;
  alreadyEnrolled: number;
  withoutCodes: number;
}

/**
 * Import every user's Better Auth codes (users who already have a credential
 * keep it; their reversible copy is left for the application to clear).
 * Run it once after installing the plugin: until then those users' codes are
 * imported at their first use.
 */
export async function migrateAll(
  context: Pick<AuthContext, 'adapter' | 'secretConfig'>,
  host: Host,
  policy: Policy,
  pepper?: Uint8Array,
): Promise<MigrationReport> {
  const db = context.adapter as DBAdapter;
  const report: MigrationReport = { imported: 0, alreadyEnrolled: 0, withoutCodes: 0 };
  // In pages by id (an imported row leaves the filter, so offsets would skip).
  let after: string | null = null;
  for (;;) {
    const where: Where[] = [{ field: 'backupCodes', value: NO_CODES, operator: 'ne' }];
    if (after !== null) where.push({ field: 'id', value: after, operator: 'gt' });
    const rows: TwoFactorRow[] = await db.findMany<TwoFactorRow>({
      model: 'twoFactor', where, limit: PAGE, sortBy: { field: 'id', direction: 'asc' },
    });
    for (const row of rows) {
      const result = await migrateUser(context, host, policy, pepper, row.userId);
      if (result.kind === 'imported') report.imported += 1;
      else if (result.kind === 'already-enrolled') report.alreadyEnrolled += 1;
      else report.withoutCodes += 1;
    }
    if (rows.length < PAGE) return report;
    after = rows[rows.length - 1]!.id;
  }
}
