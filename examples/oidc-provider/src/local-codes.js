// The backup-code component loaded in this process through jco (no wasmtime,
// no shim): the same WIT contract, the same rules. Credentials are kept in
// memory here; a real provider stores the opaque credential bytes per user and
// writes them back with compare-and-swap, as the shim does.

/** Import the jco-transpiled component (run `npm run component` first). */
export async function loadEngine() {
  const mod = await import(new URL('../build/component/backup-codes.js', import.meta.url));
  return mod.engine;
}

/** The reason a typed code was refused before hashing, or null. */
export function formatError(e) {
  return e?.payload?.tag === 'invalid-code' ? e.payload.val : null;
}

/**
 * Per-user backup codes on top of the engine.
 * @param {object} engine the component's `authn:backup-codes/engine` export
 * @param {object} [overrides] policy fields to change (camelCase, as in the WIT)
 */
export function localCodes(engine, overrides = {}) {
  const base = engine.defaultPolicy();
  const policy = { ...base, ...overrides, hash: { ...base.hash, ...(overrides.hash ?? {}) } };
  const credentials = new Map();

  const attempt = (subject, code, fn) => {
    const current = credentials.get(subject);
    if (!current) return { outcome: { tag: 'not-enrolled' }, remaining: 0, events: [] };
    const v = fn(current, code, policy, undefined);
    credentials.set(subject, v.credential);
    return v;
  };

  return {
    policy,
    /** A new set (pending beside the active one when there is one). */
    issue(subject) {
      const r = engine.issue(credentials.get(subject), policy, undefined);
      credentials.set(subject, r.credential);
      return r;
    },
    /** Proof of saving: one code of the pending set typed back. */
    activate: (subject, code) => attempt(subject, code, engine.activate),
    /** A code typed at login. */
    verify: (subject, code) => attempt(subject, code, engine.verify),
    /** The status, or null when the user has no codes. */
    status(subject) {
      const current = credentials.get(subject);
      return current ? engine.status(current, policy) : null;
    },
  };
}
