/**
 * The backup-code component (`authn:backup-codes@0.3.0`) for Node, with the
 * guarantees of the Rust and Python hosts:
 *
 * ```ts
 * import { Host } from 'authn-backup-codes';
 *
 * const host = await Host.load();                      // the component in this package
 * const policy = await host.defaultPolicy();
 * const issued = await host.issue(null, policy);       // shown once, stored as digests
 * const v = await host.verify(credential, null, typed, policy);
 * if (v.outcome.tag === 'accepted') { ... }            // store v.credential either way
 * ```
 *
 * Every call runs in a worker thread of a small pool, on a fresh instance of
 * the component, under a memory bound and a deadline (a call past it has its
 * worker terminated); results are checked against the contract's bounds;
 * anything unexpected is a {@link HostError}, so callers fail closed.
 */

import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type {
  CredentialStatus,
  Error as WitError,
  ForeignSet,
  Imported,
  Issuance,
  Policy,
  Verification,
} from '../component/interfaces/authn-backup-codes-engine.js';
import { EngineError, HostError, LoadError } from './errors.js';
import type { ErrorCase } from './errors.js';
import { limitMemory } from './memory.js';
import { checkResult } from './results.js';
import type { CallMessage, ReplyMessage, WorkerSetup } from './worker.js';

export * from './errors.js';
export { PAGE_BYTES } from './memory.js';
export { MAX_CODES, MAX_CREDENTIAL_BYTES, MAX_EVENTS, MAX_STRING_BYTES } from './results.js';
export type {
  CodeFormatError, CodeOrder, Credential, CredentialStatus, Error as WitError, Event, FailureReason, ForeignSet,
  ForeignSource, HashParams, ImportError, Imported, Issuance, IssuedCode, Lock, Outcome, Policy, Rejection,
  SetStatus, Timestamp, UsedCode, Verification,
} from '../component/interfaces/authn-backup-codes-engine.js';

/** The directory of the component this package carries (jco's output and the `.wasm` it came from). */
export const BUNDLED_COMPONENT_DIR = fileURLToPath(new URL('../component/', import.meta.url));
/** The component's file in such a directory: the bytes it was transpiled from. */
export const COMPONENT_FILE = 'backup-codes.wasm';

/** How the component is run (the Rust host's `PluginConfig`). */
export interface HostConfig {
  /** Largest linear memory a call may use, in bytes (default 64 MiB; argon2 needs 19 MiB with the default policy). */
  memoryLimitBytes?: number;
  /** Deadline of one call in milliseconds (default 10 000): past it, its worker is terminated. */
  callTimeoutMs?: number;
  /** Calls at once, one worker each (default: the machine's parallelism, at most 8). */
  maxConcurrent?: number;
  /** How long a call waits for a free worker before `HostError('busy')` (default 5 000 ms). */
  queueTimeoutMs?: number;
  /** Refuse to load a component whose SHA-256 (hex) differs. */
  expectedSha256?: string;
  /** Seconds since the epoch, as the component's wall clock (default: the system clock). */
  clock?: () => number;
  /** Another transpiled component: a directory with jco's `--instantiation async` output
   * (`backup-codes.js`, its core modules) and the `backup-codes.wasm` it came from. */
  componentDir?: string;
}

/** Seconds since the Unix epoch, from the system's wall clock. */
export function systemClock(): number {
  return Math.floor(Date.now() / 1000);
}

interface Slot {
  worker: Worker;
  /** The call it runs, if any. */
  pending?: { id: number; settle: (reply: ReplyMessage | HostError) => void };
}

type Resolved = Required<Omit<HostConfig, 'expectedSha256' | 'componentDir'>>;

/** The loaded component, ready for calls from anywhere in the process. */
export class Host {
  /** SHA-256 (hex) of the component this host runs. */
  readonly sha256: string;
  readonly config: Readonly<Resolved>;
  #setup: WorkerSetup;
  #idle: Slot[] = [];
  #live = 0;
  #waiting: Array<(slot: Slot | HostError) => void> = [];
  #nextId = 1;
  #closed = false;

  private constructor(sha256: string, config: Resolved, setup: WorkerSetup) {
    this.sha256 = sha256;
    this.config = Object.freeze(config);
    this.#setup = setup;
  }

  /**
   * Compile the component once (its core modules, with their memory bounded)
   * and check that it runs in this host: a component that imports anything but
   * the wall clock and the random source, or does not export the engine, is
   * refused here, not at the first sign-in.
   */
  static async load(config: HostConfig = {}): Promise<Host> {
    const resolved: Resolved = {
      memoryLimitBytes: config.memoryLimitBytes ?? 64 << 20,
      callTimeoutMs: config.callTimeoutMs ?? 10_000,
      maxConcurrent: config.maxConcurrent ?? Math.min(8, availableParallelism()),
      queueTimeoutMs: config.queueTimeoutMs ?? 5_000,
      clock: config.clock ?? systemClock,
    };
    if (!Number.isInteger(resolved.maxConcurrent) || resolved.maxConcurrent < 1
      || !(resolved.memoryLimitBytes >= 1 << 20) || !(resolved.callTimeoutMs > 0) || !(resolved.queueTimeoutMs >= 0)) {
      throw new LoadError('maxConcurrent must be >= 1, memoryLimitBytes >= 1 MiB and callTimeoutMs > 0');
    }
    const dir = config.componentDir ?? BUNDLED_COMPONENT_DIR;
    let wasm: Buffer;
    let names: string[];
    try {
      wasm = await readFile(join(dir, COMPONENT_FILE));
      names = (await readdir(dir)).filter((n) => /\.core\d*\.wasm$/.test(n));
    } catch (e) {
      throw new LoadError(`no transpiled component in ${dir}: ${(e as Error).message}`);
    }
    const sha256 = createHash('sha256').update(wasm).digest('hex');
    if (config.expectedSha256 !== undefined && config.expectedSha256.toLowerCase() !== sha256) {
      throw new LoadError(`component SHA-256 ${sha256} does not match the configured ${config.expectedSha256}`);
    }
    const modules: Record<string, WebAssembly.Module> = {};
    for (const name of names) {
      const bytes = limitMemory(new Uint8Array(await readFile(join(dir, name))), resolved.memoryLimitBytes);
      try {
        modules[name] = await WebAssembly.compile(bytes);
      } catch (e) {
        throw new LoadError(`compiling ${name} failed: ${(e as Error).message}`);
      }
    }
    const host = new Host(sha256, resolved, { glue: join(dir, 'backup-codes.js'), modules });
    try {
      await host.defaultPolicy();
    } catch (e) {
      await host.close();
      throw new LoadError(`the component does not run in this host: ${(e as Error).message}`);
    }
    return host;
  }

  /** The engine's default policy. */
  defaultPolicy(): Promise<Policy> {
    return this.#call('defaultPolicy', []) as Promise<Policy>;
  }

  /** A new set of codes (pending until one is typed back, if the policy says so): `current` is replaced, or a new credential made when it is `null`. */
  issue(current: Uint8Array | null, policy: Policy, pepper?: Uint8Array): Promise<Issuance> {
    return this.#call('issue', [current ?? undefined, policy, pepper]) as Promise<Issuance>;
  }

  /** Proof of saving: one code of the pending set (of `setId`, when given) typed back makes it active. */
  activate(current: Uint8Array, setId: string | null, code: string, policy: Policy, pepper?: Uint8Array): Promise<Verification> {
    return this.#call('activate', [current, setId ?? undefined, code, policy, pepper]) as Promise<Verification>;
  }

  /**
   * One attempt: one call, one argon2 evaluation. Store the answer's
   * credential whatever the outcome. When the deadline stops it, the attempt
   * is counted as a failure (`interrupted`) and the answer to store is the
   * `HostError`'s `counted`.
   */
  async verify(current: Uint8Array, replaced: Uint8Array | null, code: string, policy: Policy, pepper?: Uint8Array): Promise<Verification> {
    try {
      return (await this.#call('verify', [current, replaced ?? undefined, code, policy, pepper])) as Verification;
    } catch (e) {
      if (e instanceof HostError && e.kind === 'timeout') {
        e.counted = await this.interrupted(current, policy).catch(() => undefined);
      }
      throw e;
    }
  }

  /** Count an attempt that did not finish as a failure (no evaluation). */
  interrupted(current: Uint8Array, policy: Policy): Promise<Verification> {
    return this.#call('interrupted', [current, policy]) as Promise<Verification>;
  }

  /** What a credential holds: sets, counts, used codes, the lockout. */
  status(current: Uint8Array, policy: Policy): Promise<CredentialStatus> {
    return this.#call('status', [current, policy]) as Promise<CredentialStatus>;
  }

  /** A set another identity server issued, as a credential (users keep their codes). */
  importSet(set: ForeignSet, policy: Policy, pepper?: Uint8Array): Promise<Imported> {
    return this.#call('importSet', [set, policy, pepper]) as Promise<Imported>;
  }

  /** Terminate the workers; calls after this fail. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const w of this.#waiting.splice(0)) w(new HostError('busy', 'the host is closed'));
    await Promise.all(this.#idle.splice(0).map((s) => s.worker.terminate()));
  }

  async #call(fn: string, args: unknown[]): Promise<unknown> {
    if (this.#closed) throw new HostError('busy', 'the host is closed');
    let now: number;
    try {
      now = this.config.clock();
    } catch (e) {
      throw new HostError('trap', `the clock failed: ${(e as Error).name}`);
    }
    if (!Number.isSafeInteger(now) || now < 0) throw new HostError('trap', 'the clock must return whole seconds since the epoch');
    const slot = await this.#acquire();
    const id = this.#nextId++;
    const reply = await new Promise<ReplyMessage | HostError>((settle) => {
      const timer = setTimeout(() => {
        settle(new HostError('timeout', `${fn} ran past ${this.config.callTimeoutMs} ms; its worker was terminated`));
      }, this.config.callTimeoutMs);
      slot.pending = {
        id,
        settle: (r) => {
          clearTimeout(timer);
          settle(r);
        },
      };
      const message: CallMessage = { id, fn, args, now };
      slot.worker.postMessage(message);
    });
    slot.pending = undefined;
    if (reply instanceof HostError) {
      // Timed out, or the worker died: it is not reused.
      this.#discard(slot);
      throw reply;
    }
    this.#release(slot);
    if ('ok' in reply) return checkResult(fn, reply.ok);
    if ('engine' in reply) throw engineError(reply.engine);
    throw new HostError('trap', reply.trap);
  }

  #spawn(): Slot {
    const worker = new Worker(new URL('./worker.js', import.meta.url), {
      workerData: this.#setup,
      // A worker inherits the process's Node options; `--input-type` (a
      // script given with -e or on standard input) would stop it at start.
      execArgv: process.execArgv.filter((a) => !a.startsWith('--input-type')),
      // The JavaScript side of a call is small; the component's memory is
      // bounded in its module (see memory.ts).
      resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16 },
    });
    const slot: Slot = { worker };
    worker.on('message', (reply: ReplyMessage) => {
      if (slot.pending && reply.id === slot.pending.id) slot.pending.settle(reply);
    });
    const died = (why: string) => slot.pending?.settle(new HostError('protocol', why));
    // A worker's own failure (its start, or the JavaScript heap limit), never
    // the component's answer: those are caught in the worker.
    worker.on('error', (e) => died(`the worker failed: ${e.name}: ${e.message.split('\n')[0]!.slice(0, 200)}`));
    worker.on('exit', (code) => died(`the worker exited (${code})`));
    worker.unref();
    this.#live += 1;
    return slot;
  }

  #acquire(): Promise<Slot> {
    const idle = this.#idle.pop();
    if (idle) return Promise.resolve(idle);
    if (this.#live < this.config.maxConcurrent) return Promise.resolve(this.#spawn());
    return new Promise((resolve, reject) => {
      const waiter = (slot: Slot | HostError) => {
        clearTimeout(timer);
        if (slot instanceof HostError) reject(slot);
        else resolve(slot);
      };
      const timer = setTimeout(() => {
        this.#waiting.splice(this.#waiting.indexOf(waiter), 1);
        reject(new HostError('busy', `no worker was free within ${this.config.queueTimeoutMs} ms`));
      }, this.config.queueTimeoutMs);
      this.#waiting.push(waiter);
    });
  }

  #release(slot: Slot): void {
    const next = this.#waiting.shift();
    if (next) next(slot);
    else if (this.#closed) void slot.worker.terminate();
    else this.#idle.push(slot);
  }

  #discard(slot: Slot): void {
    slot.worker.removeAllListeners('exit');
    void slot.worker.terminate();
    this.#live -= 1;
    const next = this.#waiting.shift();
    if (next && !this.#closed) next(this.#spawn());
  }
}

const CASES: readonly ErrorCase[] = [
  'invalid-policy', 'malformed-credential', 'unsupported-version', 'invalid-code', 'no-active-set',
  'no-pending-set', 'pepper-mismatch', 'host-failure', 'invalid-import',
];

/** The WIT error the component returned, checked. */
function engineError(payload: unknown): EngineError | HostError {
  const e = payload as WitError;
  if (!e || typeof e !== 'object' || !CASES.includes(e.tag as ErrorCase)) {
    return new HostError('protocol', 'the component returned an error that is not one of the contract');
  }
  const val = (e as { val?: unknown }).val;
  if (val !== undefined && typeof val !== 'string' && typeof val !== 'number') {
    return new HostError('protocol', `the ${e.tag} error carries an unexpected value`);
  }
  if (typeof val === 'string' && Buffer.byteLength(val) > 512) {
    return new HostError('oversized', `the ${e.tag} error's detail is too long`);
  }
  return new EngineError(e.tag as ErrorCase, val);
}
