/**
 * One worker thread of the host's pool. Each call instantiates the component
 * afresh from the compiled core modules (nothing survives from one call, or
 * user, to the next), runs one function, and posts the result. The main
 * thread terminates the worker when a call passes its deadline.
 *
 * The component gets exactly two imports: `wasi:random/random`
 * (`get-random-u64`, from `crypto.getRandomValues`) and
 * `wasi:clocks/wall-clock` (`now`: the host's clock, read by the main thread
 * when the call started).
 */

import { parentPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';

/** What the main thread gives a worker when it starts. */
export interface WorkerSetup {
  /** The transpiled component's JavaScript (jco `--instantiation async`). */
  glue: string;
  /** Its core modules, compiled (with their memory bounded), by file name. */
  modules: Record<string, WebAssembly.Module>;
}

/** One call. */
export interface CallMessage {
  id: number;
  fn: string;
  args: unknown[];
  /** Seconds since the epoch: what the component's wall clock says. */
  now: number;
}

/** Its answer. */
export type ReplyMessage =
  | { id: number; ok: unknown }
  | { id: number; engine: unknown }
  | { id: number; trap: string };

type Engine = Record<string, (...args: unknown[]) => unknown>;
type Instantiate = (
  getCoreModule: (path: string) => WebAssembly.Module,
  imports: Record<string, Record<string, unknown>>,
) => Promise<{ engine: Engine }>;

const setup = workerData as WorkerSetup;
const { instantiate } = (await import(pathToFileURL(setup.glue).href)) as { instantiate: Instantiate };
const random = new BigUint64Array(1);

function importsAt(now: number): Record<string, Record<string, unknown>> {
  const clock = { now: () => ({ seconds: BigInt(now), nanoseconds: 0 }) };
  const rng = {
    getRandomU64: () => {
      crypto.getRandomValues(random);
      return random[0];
    },
  };
  // jco's glue names the interfaces without their version.
  return { 'wasi:clocks/wall-clock': clock, 'wasi:random/random': rng };
}

function coreModule(path: string): WebAssembly.Module {
  const m = setup.modules[path];
  if (!m) throw new Error(`the component asks for a core module this host does not have: ${path}`);
  return m;
}

parentPort?.on('message', async (call: CallMessage) => {
  let reply: ReplyMessage;
  try {
    const { engine } = await instantiate(coreModule, importsAt(call.now));
    const fn = engine[call.fn];
    if (typeof fn !== 'function') throw new Error(`the component exports no ${call.fn}`);
    reply = { id: call.id, ok: fn(...call.args) };
  } catch (e) {
    const payload = (e as { payload?: unknown })?.payload;
    if (e instanceof Error && e.constructor.name === 'ComponentError' && payload !== undefined) {
      reply = { id: call.id, engine: payload };
    } else {
      // A trap, a refused instantiation or a failing import: only its first
      // line, which holds no argument of the call.
      const text = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      reply = { id: call.id, trap: text.split('\n')[0]!.slice(0, 200) };
    }
  }
  try {
    parentPort?.postMessage(reply);
  } catch {
    parentPort?.postMessage({ id: call.id, trap: 'the result could not be passed back' });
  }
});
