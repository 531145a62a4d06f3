// `npm run decompose|feedback|teacher-data -- ...`: bundle quietly, then run dist/cli.js with the
// same arguments and exit with its exit code (and its signal, if it was killed by one).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const build = spawnSync(process.execPath, ['esbuild.mjs', '--quiet'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) {
  process.stderr.write('error: the build (node esbuild.mjs) failed; see the messages above.\n');
  process.exit(build.status ?? 1);
}
const run = spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), ...process.argv.slice(2)], { stdio: 'inherit' });
if (run.error) {
  process.stderr.write(`error: could not start dist/cli.js: ${run.error.message}\n`);
  process.exit(1);
}
process.exit(run.status ?? (run.signal === 'SIGINT' ? 130 : 1));
