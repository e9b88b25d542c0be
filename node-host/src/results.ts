/**
 * What the component returns is checked before anyone reads it: sizes within
 * the bounds the Rust and Python hosts apply, and the shape the contract
 * promises. Anything else is a `HostError`, never a value.
 */

import { HostError } from './errors.js';

/** Largest credential accepted from the component. */
export const MAX_CREDENTIAL_BYTES = 64 * 1024;
/** Most events one call may return. */
export const MAX_EVENTS = 16;
/** Longest string (code, set id, message) accepted from the component, in bytes. */
export const MAX_STRING_BYTES = 512;
/** Most codes one set may hold. */
export const MAX_CODES = 64;

const OUTCOMES = new Set(['accepted', 'rejected', 'locked', 'exhausted']);
const EVENTS = new Set(['issued', 'activated', 'used', 'failed', 'locked', 'low', 'exhausted', 'replaced', 'imported']);
const LOCKS = new Set(['open', 'until', 'permanent']);
const CREDENTIAL_RESULTS = new Set(['issue', 'activate', 'verify', 'interrupted', 'importSet']);

function fail(fn: string, what: string): never {
  throw new HostError('protocol', `${fn} returned ${what}`);
}

/** Every string, byte array and list inside `value`, within the bounds. */
function bounded(fn: string, value: unknown, depth = 0): void {
  if (depth > 8) fail(fn, 'a value nested too deeply');
  if (typeof value === 'string') {
    if (Buffer.byteLength(value) > MAX_STRING_BYTES) throw new HostError('oversized', `${fn} returned a string over ${MAX_STRING_BYTES} bytes`);
  } else if (value instanceof Uint8Array) {
    if (value.length > MAX_CREDENTIAL_BYTES) throw new HostError('oversized', `${fn} returned bytes over ${MAX_CREDENTIAL_BYTES}`);
  } else if (Array.isArray(value)) {
    if (value.length > MAX_CODES) throw new HostError('oversized', `${fn} returned a list of ${value.length}`);
    for (const item of value) bounded(fn, item, depth + 1);
  } else if (value !== null && typeof value === 'object') {
    for (const item of Object.values(value)) bounded(fn, item, depth + 1);
  } else if (!['number', 'bigint', 'boolean', 'undefined'].includes(typeof value)) {
    fail(fn, `a ${typeof value}`);
  }
}

function record(fn: string, value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(fn, 'no record');
  return value as Record<string, unknown>;
}

function credential(fn: string, r: Record<string, unknown>): void {
  if (!(r.credential instanceof Uint8Array) || r.credential.length === 0) fail(fn, 'no credential');
}

function events(fn: string, r: Record<string, unknown>): void {
  const list = r.events;
  if (!Array.isArray(list)) fail(fn, 'no event list');
  if (list.length > MAX_EVENTS) throw new HostError('oversized', `${fn} returned ${list.length} events`);
  for (const e of list) if (!EVENTS.has(record(fn, e).tag as string)) fail(fn, 'an event not in the contract');
}

/** `value`, the result of `fn`, once it is known to be what the contract says. */
export function checkResult(fn: string, value: unknown): unknown {
  bounded(fn, value);
  if (fn === 'defaultPolicy' || fn === 'status') {
    record(fn, value);
    return value;
  }
  if (!CREDENTIAL_RESULTS.has(fn)) fail(fn, 'a result of an unknown function');
  // Everything else answers with a credential to store and events.
  const r = record(fn, value);
  credential(fn, r);
  events(fn, r);
  if (fn === 'issue') {
    if (!Array.isArray(r.codes) || r.codes.length === 0) fail(fn, 'no codes');
    for (const c of r.codes) if (typeof record(fn, c).code !== 'string') fail(fn, 'a code that is no string');
  } else if (fn !== 'importSet') {
    if (!OUTCOMES.has(record(fn, r.outcome).tag as string)) fail(fn, 'an outcome not in the contract');
    if (!LOCKS.has(record(fn, r.lock).tag as string)) fail(fn, 'a lock not in the contract');
  }
  return value;
}
