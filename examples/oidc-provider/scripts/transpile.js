// Write the shim's embedded component to build/backup-codes.wasm
// (`backup-codes-shim component --out FILE`) and transpile it to JavaScript
// with jco, into build/component/. SHIM_BIN names the shim binary; by default
// the workspace's debug build (target/debug/backup-codes-shim) is used.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
export const shimBin = process.env.SHIM_BIN
  ?? resolve(root, '../../target/debug/backup-codes-shim');

if (!existsSync(shimBin)) {
  console.error(`shim binary not found at ${shimBin}; build it with \`cargo build -p backup-codes-shim\` or set SHIM_BIN`);
  process.exit(1);
}
mkdirSync(join(root, 'build'), { recursive: true });
const wasm = join(root, 'build', 'backup-codes.wasm');
// Run from build/: the shim's start-up may create its data directory (demo secret) in its cwd.
execFileSync(shimBin, ['component', '--out', wasm], { stdio: 'inherit', cwd: join(root, 'build') });

const jco = join(root, 'node_modules', '@bytecodealliance', 'jco', 'dist', 'jco.js');
execFileSync(process.execPath, [jco, 'transpile', wasm, '-o', join(root, 'build', 'component'), '--name', 'backup-codes', '--quiet'], {
  stdio: 'inherit',
});
console.log('transpiled the component to build/component/backup-codes.js');
