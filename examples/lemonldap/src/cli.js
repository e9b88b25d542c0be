// Command line of `start` and `stop` (see README.md):
//   node src/cli.js start DIR CONFIG.json|-   prints the portal's base URL, leaves it running
//   node src/cli.js stop DIR
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { startPortal, stopPortal } from './portal.js';

const [command, dirArg, configArg] = process.argv.slice(2);
const usage = 'usage: start DIR CONFIG.json|-  |  stop DIR';
if (!dirArg || !['start', 'stop'].includes(command)) {
  console.error(usage);
  process.exit(2);
}
const dir = resolve(dirArg);

if (command === 'stop') {
  if (!(await stopPortal(dir))) console.error(`stop: no portal running for ${dir}`);
} else {
  if (!configArg) {
    console.error(usage);
    process.exit(2);
  }
  const config = JSON.parse(readFileSync(configArg === '-' ? 0 : configArg, 'utf8'));
  await stopPortal(dir);
  try {
    const portal = await startPortal({ ...config, dir, detached: true });
    console.error(`start: portal pid ${portal.pid}, issuer ${portal.issuer}, log ${portal.logFile} (configured in ${portal.configureMs} ms, up in ${portal.startMs} ms)`);
    console.log(portal.url);
  } catch (e) {
    console.error(`start: ${e.message}`);
    process.exit(1);
  }
}
