/**
 * The two ways a call can fail: the engine refused the input (a WIT `error`
 * case), or the call itself failed (trap, deadline, limit, malformed result)
 * and the caller must fail closed. No message ever holds a code, a pepper or
 * credential bytes.
 */

import type { CodeFormatError, Verification } from '../component/interfaces/authn-backup-codes-engine.js';

/** The cases of the WIT `variant error`. */
export type ErrorCase =
  | 'invalid-policy'
  | 'malformed-credential'
  | 'unsupported-version'
  | 'invalid-code'
  | 'no-active-set'
  | 'no-pending-set'
  | 'pepper-mismatch'
  | 'host-failure'
  | 'invalid-import';


/** Base class of everything this package throws. */
export class BackupCodesError extends Error {
  override name = 'BackupCodesError';
}

/**
 * The component could not be loaded: a digest other than the expected one, a
 * bad configuration, imports other than the two this host provides, or a
 * module the JavaScript engine refused.
 */
export class LoadError extends BackupCodesError {
  override name = 'LoadError';
}

/**
 * The engine refused the input: one WIT `error` case and its payload
 * (`detail`): the policy field and its range for `invalid-policy`, the format
 * version for `unsupported-version`, a {@link CodeFormatError} for
 * `invalid-code`, the import error for `invalid-import`, else `undefined`.
 * None of these changes the credential.
 */
export class EngineError extends BackupCodesError {
  override name = 'EngineError';
  readonly case: ErrorCase;
  readonly detail: string | number | undefined;

  constructor(errorCase: ErrorCase, detail?: string | number) {
    super(`refused by the backup-code engine: ${errorCase}${detail === undefined ? '' : ` (${detail})`}`);
    this.case = errorCase;
    this.detail = detail;
  }

  /** For `invalid-code`: why the code was refused before hashing. */
  get formatError(): CodeFormatError | undefined {
    return this.case === 'invalid-code' ? (this.detail as CodeFormatError) : undefined;
  }
}

/**
 * How a call failed to produce a result:
 * - `timeout`: it ran past its deadline; its worker was terminated;
 * - `memory`: the component needs more memory than the limit allows at start;
 * - `trap`: the component trapped (a `memory.grow` refused by the limit during
 *   the call ends in one), or a host function failed;
 * - `oversized`: a result exceeded a bound (credential, events, codes, strings);
 * - `busy`: every slot was taken for longer than the queue timeout;
 * - `protocol`: a result not shaped as the contract says, or a worker that died.
 */
export type HostErrorKind = 'timeout' | 'memory' | 'trap' | 'oversized' | 'busy' | 'protocol';

/** The call did not produce a result; callers fail closed. */
export class HostError extends BackupCodesError {
  override name = 'HostError';
  readonly kind: HostErrorKind;
  /**
   * For a `verify` its deadline stopped: the attempt counted as a failure
   * (`interrupted`, no evaluation), to store like any answer. Without it, an
   * attempt too costly to finish would cost an attacker nothing.
   */
  counted?: Verification;

  constructor(kind: HostErrorKind, message: string) {
    super(`the backup-code component failed (${kind}): ${message}`);
    this.kind = kind;
  }
}
