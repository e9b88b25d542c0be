/**
 * A memory bound for core modules: V8's worker `resourceLimits` cover the
 * JavaScript heap, not WebAssembly memories, so the bound is written into the
 * module itself: every memory it defines gets a maximum of at most the limit,
 * and `memory.grow` past it fails inside the component (which then traps).
 */

import { LoadError } from './errors.js';

/** Bytes in a WebAssembly page. */
export const PAGE_BYTES = 65536;

const MEMORY_SECTION = 5;

/** An unsigned LEB128 number at `at`: its value and the offset after it. */
function readU32(bytes: Uint8Array, at: number): [number, number] {
  let value = 0;
  let shift = 0;
  for (let i = at; i < bytes.length && i < at + 5; i += 1) {
    const byte = bytes[i]!;
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if ((byte & 0x80) === 0) return [value, i + 1];
  }
  throw new LoadError('a core module is malformed (a number runs past its end)');
}

function writeU32(value: number): number[] {
  const out: number[] = [];
  let rest = value;
  do {
    let byte = rest & 0x7f;
    rest = Math.floor(rest / 128);
    if (rest !== 0) byte |= 0x80;
    out.push(byte);
  } while (rest !== 0);
  return out;
}

/** The memory section with every maximum at most `maxPages`. */
function boundedMemories(payload: Uint8Array, maxPages: number): Uint8Array {
  let [count, at] = readU32(payload, 0);
  const out = writeU32(count);
  while (count > 0) {
    count -= 1;
    const flags = payload[at];
    if (flags === undefined || flags > 0x03) {
      throw new LoadError('a core module declares a memory this host cannot bound (64-bit or unknown limits)');
    }
    let min: number;
    [min, at] = readU32(payload, at + 1);
    let max = Number.POSITIVE_INFINITY;
    if (flags & 0x01) [max, at] = readU32(payload, at);
    if (min > maxPages) {
      throw new LoadError(`the component starts with ${min} pages of memory, more than the limit allows (${maxPages})`);
    }
    out.push(flags | 0x01, ...writeU32(min), ...writeU32(Math.min(max, maxPages)));
  }
  if (at !== payload.length) throw new LoadError('a core module is malformed (memory section length)');
  return Uint8Array.from(out);
}

/**
 * `module` (a core WebAssembly binary) with each memory it defines bounded to
 * `limitBytes` (rounded down to whole pages).
 */
export function limitMemory(module: Uint8Array, limitBytes: number): Uint8Array<ArrayBuffer> {
  const maxPages = Math.floor(limitBytes / PAGE_BYTES);
  if (module.length < 8 || module[0] !== 0x00 || module[1] !== 0x61 || module[2] !== 0x73 || module[3] !== 0x6d) {
    throw new LoadError('not a core WebAssembly module');
  }
  const parts: Uint8Array[] = [module.subarray(0, 8)];
  let at = 8;
  while (at < module.length) {
    const id = module[at]!;
    const [size, start] = readU32(module, at + 1);
    const end = start + size;
    if (end > module.length) throw new LoadError('a core module is malformed (a section runs past its end)');
    if (id === MEMORY_SECTION) {
      const payload = boundedMemories(module.subarray(start, end), maxPages);
      parts.push(Uint8Array.from([id, ...writeU32(payload.length)]), payload);
    } else {
      parts.push(module.subarray(at, end));
    }
    at = end;
  }
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
