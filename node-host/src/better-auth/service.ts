/**
 * Every rule of the plugin that is not the component's, in one place: the
 * endpoints and the two-factor hook parse their input, call one of these
 * once, and render the answer. One attempt is one component call (one
 * argon2 evaluation): a user without codes is checked against their copy of a
 * decoy set, so their answer, its cost and their lockout are a wrong code's.
 */
import { APIError } from 'better-auth/api';
import type { AuthContext, DBAdapter } from 'better-auth';
import { EngineError, HostError } from '../index.js';
import type { CredentialStatus, Event, Host, Issuance, Policy, Verification } from '../index.js';
import { BACKUP_CODE_ERRORS } from './answers.js';
import { create, load, remove, swap, type StoredCredential } from './credentials.js';
import { migrateUser } from './migration.js';
import { PerUser } from './serial.js';

/** What the application hears about a user's codes (NIST SP 800-63B-4 §4.2.1.1, §4.2.3: notify on use and replacement). */
export interface BackupCodeEvent {
  userId: string;
  /** The component's event (`used`, `activated`, `issued`, `low`, `exhausted`, `failed`, `locked`, `imported`), or `deleted`. */
  event: Event | { tag: 'deleted' };
}

/** The plugin's settings. */
export interface BackupCodesOptions {
  /** The component's host (default: `Host.load()` of this package's component). */
  host?: Host | Promise<Host>;
  /** The policy (default: the component's). */
  policy?: Policy;
  /** A pepper mixed into every digest (keep it outside the database). */
  pepper?: Uint8Array;
  /** Making, confirming or deleting codes needs a sign-in at most this old (seconds, default 300). */
  freshSignInSeconds?: number;
  /** Import a user's Better Auth codes at their first backup-code sign-in (default true). */
  migrateBetterAuthCodes?: boolean;
  /** Told about every event, after it is stored; its errors and slowness never reach the user's request. */
  onEvent?: (event: BackupCodeEvent) => void | Promise<void>;
}

/** A user's codes as the application's UI shows them. */
export interface BackupCodeStatus {
  enrolled: boolean;
  remaining: number;
  total: number;
  low: boolean;
  exhausted: boolean;
  /** A new set waits for one of its codes to be typed back. */
  pending: boolean;
  /** Seconds since the epoch until which attempts are refused. */
  lockedUntil: number | null;
  lockedPermanently: boolean;
  /** The set came from Better Auth's own codes: prompt for a new one. */
  imported: boolean;
}

/** What a right code at the two-factor step leaves. */
export interface Accepted {
  remaining: number;
  low: boolean;
}

const refuse = (status: 'UNAUTHORIZED' | 'BAD_REQUEST' | 'FORBIDDEN' | 'CONFLICT' | 'SERVICE_UNAVAILABLE', error: { code: string; message: string }) =>
  APIError.from(status, error);

function locked(until: bigint | number | null | undefined): APIError {
  if (until === null || until === undefined) {
    return refuse('FORBIDDEN', BACKUP_CODE_ERRORS.BACKUP_CODES_LOCKED_PERMANENTLY);
  }
  const at = Number(until);
  const retryAfter = Math.max(1, at - Math.floor(Date.now() / 1000));
  const { code, message } = BACKUP_CODE_ERRORS.BACKUP_CODES_LOCKED;
  return new APIError('TOO_MANY_REQUESTS', { code, message, retryAfter, lockedUntil: at }, { 'Retry-After': String(retryAfter) });
}

/** The component's refusal before hashing, or its failure, as an answer. */
function engineFailure(e: unknown): APIError {
  if (e instanceof EngineError) {
    if (e.case === 'invalid-code') return refuse('BAD_REQUEST', BACKUP_CODE_ERRORS.BACKUP_CODE_TYPO);
    if (e.case === 'no-pending-set') return refuse('BAD_REQUEST', BACKUP_CODE_ERRORS.NO_PENDING_BACKUP_CODES);
  }
  return refuse('SERVICE_UNAVAILABLE', BACKUP_CODE_ERRORS.BACKUP_CODES_UNAVAILABLE);
}

/** The service behind the plugin's endpoints. */
export class BackupCodeService {
  readonly #host: Promise<Host>;
  readonly #policy: Promise<Policy>;
  readonly #options: BackupCodesOptions;
  readonly #serial = new PerUser();
  #decoy: Promise<Uint8Array>;

  constructor(host: Promise<Host>, options: BackupCodesOptions) {
    this.#host = host;
    this.#options = options;
    this.#policy = options.policy ? Promise.resolve(options.policy) : host.then((h) => h.defaultPolicy());
    // Loaded with Better Auth, not at the first sign-in; a failure is reported at each call.
    this.#policy.catch(() => undefined);
    this.#decoy = this.#makeDecoy();
  }

  /**
   * The set a user without codes is checked against, made when the plugin
   * starts: made at a first such attempt, it would cost that attempt more
   * component calls than any other.
   */
  #makeDecoy(): Promise<Uint8Array> {
    const decoy = (async () => {
      const { host, policy } = await this.#engine();
      const issued = await host.issue(null, policy, this.#options.pepper);
      const first = issued.codes[0];
      if (!first) throw new Error('the component issued no code');
      const v = await host.activate(issued.credential, issued.setId, first.code, policy, this.#options.pepper);
      return v.credential;
    })();
    decoy.catch(() => undefined);
    return decoy;
  }

  /** Seconds a sign-in stays fresh enough to change codes. */
  get freshSignInSeconds(): number {
    return this.#options.freshSignInSeconds ?? 300;
  }

  async #engine(): Promise<{ host: Host; policy: Policy }> {
    try {
      return { host: await this.#host, policy: await this.#policy };
    } catch {
      throw refuse('SERVICE_UNAVAILABLE', BACKUP_CODE_ERRORS.BACKUP_CODES_UNAVAILABLE);
    }
  }

  #notify(context: AuthContext, userId: string, events: Event[] | Array<{ tag: 'deleted' }>): void {
    const onEvent = this.#options.onEvent;
    if (!onEvent) return;
    for (const event of events) {
      // Not awaited: a slow or failing receiver costs the user's request nothing.
      Promise.resolve()
        .then(() => onEvent({ userId, event }))
        .catch((e: unknown) => context.logger.error('backup codes: the onEvent callback failed', e));
    }
  }

  /**
   * A new set for a signed-in user (over an active one it waits for proof of
   * saving). The codes are in the answer only: never stored, never shown again.
   */
  async issue(context: AuthContext, userId: string): Promise<Issuance> {
    const { host, policy } = await this.#engine();
    return this.#serial.run(userId, async () => {
      const db = context.adapter as DBAdapter;
      const current = await load(db, userId);
      let issued: Issuance;
      try {
        // Over the user's set it is pending; a decoy's copy is simply replaced.
        const over = current && !current.decoy ? current.credential : null;
        issued = await host.issue(over, policy, this.#options.pepper);
      } catch (e) {
        throw engineFailure(e);
      }
      const stored = current ? await swap(db, current, issued.credential) : await create(db, userId, issued.credential);
      if (!stored) throw refuse('CONFLICT', BACKUP_CODE_ERRORS.CONCURRENT_ATTEMPT);
      this.#notify(context, userId, issued.events);
      return issued;
    });
  }

  /** Proof of saving: one code of the new set typed back makes it the set in use. */
  async activate(context: AuthContext, userId: string, setId: string | null, code: string): Promise<Verification> {
    const { host, policy } = await this.#engine();
    return this.#serial.run(userId, async () => {
      const db = context.adapter as DBAdapter;
      const current = await load(db, userId);
      if (!current || current.decoy) throw refuse('BAD_REQUEST', BACKUP_CODE_ERRORS.NO_PENDING_BACKUP_CODES);
      let v: Verification;
      try {
        v = await host.activate(current.credential, setId, code, policy, this.#options.pepper);
      } catch (e) {
        throw engineFailure(e);
      }
      return this.#settle(context, host, policy, current, v, () => v);
    });
  }

  /**
   * One attempt at the two-factor step. Resolves when the code was right (the
   * caller then creates the session); otherwise throws the answer.
   */
  async verify(context: AuthContext, userId: string, code: string): Promise<Accepted> {
    const { host, policy } = await this.#engine();
    return this.#serial.run(userId, async () => {
      const db = context.adapter as DBAdapter;
      let current = await load(db, userId);
      if ((!current || current.decoy) && this.#options.migrateBetterAuthCodes !== false) {
        const migrated = await migrateUser(context, host, policy, this.#options.pepper, userId);
        if (migrated.kind === 'imported') {
          this.#notify(context, userId, migrated.events);
          current = migrated.credential;
        } else {
          current = await load(db, userId);
        }
      }
      // Without codes: a copy of the decoy set, kept, so their attempts
      // are counted and locked out like anyone's.
      current ??= await this.#decoyRow(db, userId);
      let v: Verification;
      try {
        v = await host.verify(current.credential, null, code, policy, this.#options.pepper);
      } catch (e) {
        if (e instanceof HostError && e.counted) {
          await this.#store(context, host, policy, current, e.counted.credential);
        }
        // A set made but never confirmed: answered as a wrong code, after the
        // decoy's evaluation (a second call, the only attempt that makes one).
        if (e instanceof EngineError && e.case === 'no-active-set') return this.#decoyAttempt(host, policy, code);
        throw engineFailure(e);
      }
      if (current.decoy && v.outcome.tag === 'accepted') {
        throw refuse('UNAUTHORIZED', BACKUP_CODE_ERRORS.INVALID_BACKUP_CODE);
      }
      return this.#settle(context, host, policy, current, v, () => ({ remaining: v.remaining, low: v.low }));
    });
  }

  /** Store the answer of a code check, then answer it. */
  async #settle<T>(
    context: AuthContext,
    host: Host,
    policy: Policy,
    current: StoredCredential,
    v: Verification,
    accepted: () => T,
  ): Promise<T> {
    const db = context.adapter as DBAdapter;
    if (!(await swap(db, current, v.credential, current.decoy))) {
      // Another process wrote first: this attempt still counts as a failure
      // (no evaluation), and a right code gives no session: its twin did.
      await this.#countLost(context, host, policy, current.userId);
      throw refuse('CONFLICT', BACKUP_CODE_ERRORS.CONCURRENT_ATTEMPT);
    }
    if (!current.decoy) this.#notify(context, current.userId, v.events);
    const outcome = v.outcome;
    switch (outcome.tag) {
      case 'accepted':
        return accepted();
      case 'locked':
        throw locked(outcome.val);
      case 'exhausted':
        throw refuse('FORBIDDEN', BACKUP_CODE_ERRORS.BACKUP_CODES_EXHAUSTED);
      case 'rejected': {
        const r = outcome.val;
        if (r.permanent) throw locked(null);
        if (r.lockedUntil !== undefined && r.lockedUntil !== null) throw locked(r.lockedUntil);
        if (r.reason === 'already-used') throw refuse('UNAUTHORIZED', BACKUP_CODE_ERRORS.BACKUP_CODE_ALREADY_USED);
        throw refuse('UNAUTHORIZED', BACKUP_CODE_ERRORS.INVALID_BACKUP_CODE);
      }
    }
  }

  /** Count an attempt whose write was lost, on the credential as it now is. */
  async #countLost(context: AuthContext, host: Host, policy: Policy, userId: string): Promise<void> {
    const db = context.adapter as DBAdapter;
    for (let tries = 0; tries < 5; tries += 1) {
      const now = await load(db, userId);
      if (!now) return;
      let counted: Verification;
      try {
        counted = await host.interrupted(now.credential, policy);
      } catch {
        return;
      }
      if (await swap(db, now, counted.credential, now.decoy)) return;
    }
  }

  /** Store a credential the host returned with an error (a call stopped by the deadline, counted). */
  async #store(context: AuthContext, host: Host, policy: Policy, current: StoredCredential, credential: Uint8Array): Promise<void> {
    if (!(await swap(context.adapter as DBAdapter, current, credential, current.decoy))) {
      await this.#countLost(context, host, policy, current.userId);
    }
  }

  /** The decoy set's credential; if its making failed (the component was unavailable), made again next time. */
  async #decoySet(): Promise<Uint8Array> {
    try {
      return await this.#decoy;
    } catch {
      this.#decoy = this.#makeDecoy();
      throw refuse('SERVICE_UNAVAILABLE', BACKUP_CODE_ERRORS.BACKUP_CODES_UNAVAILABLE);
    }
  }

  /** The user's copy of the decoy set (made now if they have none). */
  async #decoyRow(db: DBAdapter, userId: string): Promise<StoredCredential> {
    await create(db, userId, await this.#decoySet(), true);
    const row = await load(db, userId);
    if (!row) throw refuse('SERVICE_UNAVAILABLE', BACKUP_CODE_ERRORS.BACKUP_CODES_UNAVAILABLE);
    return row;
  }

  /** The same work and answer as a wrong code (or a typo), for a set never confirmed. */
  async #decoyAttempt(host: Host, policy: Policy, code: string): Promise<never> {
    const decoy = await this.#decoySet();
    try {
      await host.verify(decoy, null, code, policy, this.#options.pepper);
    } catch (e) {
      // A typo is answered as for a user with codes; any other failure as a wrong code.
      if (e instanceof EngineError && e.case === 'invalid-code') throw engineFailure(e);
    }
    throw refuse('UNAUTHORIZED', BACKUP_CODE_ERRORS.INVALID_BACKUP_CODE);
  }

  /** The user's codes, for the application's UI. */
  async status(context: AuthContext, userId: string): Promise<BackupCodeStatus> {
    const { host, policy } = await this.#engine();
    const current = await load(context.adapter as DBAdapter, userId);
    const none: BackupCodeStatus = {
      enrolled: false, remaining: 0, total: 0, low: false, exhausted: false, pending: false,
      lockedUntil: null, lockedPermanently: false, imported: false,
    };
    if (!current || current.decoy) return none;
    let s: CredentialStatus;
    try {
      s = await host.status(current.credential, policy);
    } catch (e) {
      throw engineFailure(e);
    }
    const active = s.active;
    return {
      enrolled: active !== undefined && active !== null,
      remaining: active?.remaining ?? 0,
      total: active?.total ?? 0,
      low: active?.low ?? false,
      exhausted: active?.exhausted ?? false,
      pending: s.pending !== undefined && s.pending !== null,
      lockedUntil: s.lockedUntil === undefined || s.lockedUntil === null ? null : Number(s.lockedUntil),
      lockedPermanently: s.lockedPermanently,
      imported: active?.source !== undefined && active?.source !== null,
    };
  }

  /** Delete the user's codes. */
  async remove(context: AuthContext, userId: string): Promise<void> {
    await this.#serial.run(userId, () => remove(context.adapter as DBAdapter, userId));
    this.#notify(context, userId, [{ tag: 'deleted' }]);
  }
}
