// The backup-code component loaded in this process through jco (no wasmtime,
// no shim): the same WIT contract (`authn:backup-codes@0.3.0`), the same rules.
// Credentials are kept in memory here; a real provider stores the opaque
// credential bytes per user and writes them back with compare-and-swap, as the
// shim does.
//
// One component call per attempt: `verify` and `activate` answer with
// everything the provider shows (the set checked, low, exhausted, failures, the
// lock, whether a wrong code was one of the replaced set); nothing is asked of
// the engine after them. jco runs the component on this thread with no
// deadline, so no call is ever interrupted here and the contract's
// `interrupted` is not needed (a host that stops a slow `verify` must call it).

/** How long the credential a new set replaced is kept, to recognise its codes (30 days, as the shim). */
export const REPLACED_SET_MEMORY_MS = 30 * 24 * 3600 * 1000;

/** Import the jco-transpiled component (run `npm run component` first). */
export async function loadEngine() {
  const mod = await import(new URL('../build/component/backup-codes.js', import.meta.url));
  return mod.engine;
}

/** The reason a typed code was refused before hashing, or null. */
export function formatError(e) {
  return e?.payload?.tag === 'invalid-code' ? e.payload.val : null;
}

/** Do these events replace the active set (a confirmed new set, or one issued without confirmation)? */
function replacesActive(events) {
  return events.some((e) => e.tag === 'activated' || (e.tag === 'issued' && !e.val.pending));
}

/**
 * Per-user backup codes on top of the engine.
 * @param {object} engine the component's `authn:backup-codes/engine` export
 * @param {object} [overrides] policy fields to change (camelCase, as in the WIT)
 * @param {object} [options]
 * @param {() => number} [options.now] milliseconds since the epoch, for the
 *   age of a replaced credential (tests move it)
 */
export function localCodes(engine, overrides = {}, { now = Date.now } = {}) {
  const base = engine.defaultPolicy();
  const policy = { ...base, ...overrides, hash: { ...base.hash, ...(overrides.hash ?? {}) } };
  const credentials = new Map();
  // Per subject: the credential as it was before its active set was last
  // replaced, and when, passed to `verify` so a code of the old set is told
  // from a wrong one by the same single evaluation.
  const replacedSets = new Map();

  /** The kept replaced credential while it is recent enough, else undefined. */
  const replacedOf = (subject) => {
    const kept = replacedSets.get(subject);
    if (kept && now() - kept.at <= REPLACED_SET_MEMORY_MS) return kept.credential;
    replacedSets.delete(subject);
    return undefined;
  };

  /** Store a call's new credential; keep the previous one when its active set was replaced. */
  const store = (subject, previous, result) => {
    if (previous && replacesActive(result.events)) {
      replacedSets.set(subject, { credential: previous, at: now() });
    }
    credentials.set(subject, result.credential);
  };

  const notEnrolled = () => ({
    outcome: { tag: 'not-enrolled' }, remaining: 0, events: [], low: false, exhausted: false, replacedSet: false,
  });

  return {
    policy,
    /** A new set (pending beside the active one when there is one). */
    issue(subject) {
      const current = credentials.get(subject);
      const r = engine.issue(current, policy, undefined);
      store(subject, current, r);
      return r;
    },
    /**
     * Proof of saving: one code of the pending set typed back (one call);
     * with `setId`, only the set the user was shown (another is refused
     * before any hashing: a stale page changes nothing).
     */
    activate(subject, code, setId = undefined) {
      const current = credentials.get(subject);
      if (!current) return notEnrolled();
      const v = engine.activate(current, setId, code, policy, undefined);
      store(subject, current, v);
      return v;
    },
    /**
     * A code typed at login: one call, with the replaced credential (kept
     * for REPLACED_SET_MEMORY_MS) so `replacedSet` tells an old code apart.
     */
    verify(subject, code) {
      const current = credentials.get(subject);
      if (!current) return notEnrolled();
      const v = engine.verify(current, replacedOf(subject), code, policy, undefined);
      store(subject, current, v);
      return v;
    },
    /** The status, or null when the user has no codes. */
    status(subject) {
      const current = credentials.get(subject);
      return current ? engine.status(current, policy) : null;
    },
  };
}
