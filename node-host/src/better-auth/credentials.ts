/**
 * The component's credential in Better Auth's database: one row per user in
 * the plugin's `backupCodeCredential` table, the opaque bytes as base64 text
 * (Better Auth's schema has no binary type), replaced only by compare-and-swap
 * on `version` (`incrementOne`, Better Auth's race-safe guarded write).
 */
import type { DBTransactionAdapter } from 'better-auth';

/** The plugin's table. */
export const TABLE = 'backupCodeCredential';

/** Better Auth's schema of the table (merged into the database by its migrations). */
export const schema = {
  [TABLE]: {
    fields: {
      userId: {
        type: 'string',
        required: true,
        unique: true,
        references: { model: 'user', field: 'id', onDelete: 'cascade' },
        returned: false,
      },
      /** Argon2id digests and the set's state, written by the component; never a code. */
      credential: { type: 'string', required: true, returned: false },
      /** Compare-and-swap counter: every write moves it on by one. */
      version: { type: 'number', required: true, returned: false },
      /**
       * The row of a user without codes who tried one at the two-factor step: a
       * copy of the decoy set, so their attempts are counted and locked out as
       * anyone's. Not enrolled; replaced by their first set.
       */
      decoy: { type: 'boolean', required: true, returned: false },
      createdAt: { type: 'date', required: true },
      updatedAt: { type: 'date', required: true },
    },
  },
} as const;

/** A user's stored credential. */
export interface StoredCredential {
  id: string;
  userId: string;
  credential: Uint8Array;
  version: number;
  /** A decoy set's copy, not the user's codes. */
  decoy: boolean;
}

interface Row {
  id: string;
  userId: string;
  credential: string;
  version: number;
  decoy: boolean | number;
}

/** The adapter methods the store uses (Better Auth's adapter, or one inside a transaction). */
export type Adapter = Pick<DBTransactionAdapter, 'findOne' | 'create' | 'incrementOne' | 'deleteMany'>;

const toStored = (row: Row): StoredCredential => ({
  id: row.id,
  userId: row.userId,
  credential: new Uint8Array(Buffer.from(row.credential, 'base64')),
  version: Number(row.version),
  decoy: Boolean(row.decoy),
});

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

/** The user's credential, if they have one. */
export async function load(db: Adapter, userId: string): Promise<StoredCredential | null> {
  const row = await db.findOne<Row>({ model: TABLE, where: [{ field: 'userId', value: userId }] });
  return row ? toStored(row) : null;
}

/**
 * Store a first credential (or a decoy's copy). False when the user already
 * has a row (another request made it first: the table's `userId` is unique),
 * so nothing is overwritten.
 */
export async function create(db: Adapter, userId: string, credential: Uint8Array, decoy = false): Promise<boolean> {
  const now = new Date();
  try {
    await db.create({
      model: TABLE,
      data: { userId, credential: text(credential), version: 0, decoy, createdAt: now, updatedAt: now },
    });
    return true;
  } catch (e) {
    if (await load(db, userId)) return false;
    throw e;
  }
}

/**
 * Replace `stored` with `credential` if nobody wrote since it was read (a
 * decoy's copy becomes the user's own credential when it is replaced by one).
 */
export async function swap(db: Adapter, stored: StoredCredential, credential: Uint8Array, decoy = false): Promise<boolean> {
  if (stored.decoy === decoy && Buffer.from(credential).equals(Buffer.from(stored.credential))) return true;
  const won = await db.incrementOne({
    model: TABLE,
    where: [
      { field: 'id', value: stored.id },
      { field: 'version', value: stored.version },
    ],
    increment: { version: 1 },
    set: { credential: text(credential), decoy, updatedAt: new Date() },
  });
  return won !== null;
}

/** Delete the user's credential (their codes stop working at once). */
export async function remove(db: Adapter, userId: string): Promise<void> {
  await db.deleteMany({ model: TABLE, where: [{ field: 'userId', value: userId }] });
}
