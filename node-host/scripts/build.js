// Build the package from a component file: jco transpiles it (instantiation
// mode, so this package's host supplies the two imports and no WASI shim is
// needed) into component/, beside the .wasm it came from; tsc compiles the
// host into dist/.
// Usage: node scripts/build.js COMPONENT.wasm
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const [input] = process.argv.slice(2);
if (!input) {
  console.error('usage: node scripts/build.js COMPONENT.wasm');
  process.exit(2);
}
const component = join(root, 'component');
rmSync(component, { recursive: true, force: true });
rmSync(join(root, 'dist'), { recursive: true, force: true });
mkdirSync(component);
copyFileSync(input, join(component, 'backup-codes.wasm'));
const bin = (name) => join(root, 'node_modules', '.bin', name);
execFileSync(bin('jco'), [
  'transpile', join(component, 'backup-codes.wasm'), '-o', component,
  '--name', 'backup-codes', '--instantiation', 'async', '--quiet',
], { stdio: 'inherit' });
// The glue is an ES module wherever the directory is copied to.
writeFileSync(join(component, 'package.json'), '{ "type": "module" }\n');
execFileSync(bin('tsc'), ['-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
console.log('built component/ and dist/');
