#!/usr/bin/env node
// `npm run eval [-- options]`: scores our shipped runtime's decompositions next to the paper's.
//   1. makes sure training/.venv exists (training/setup.sh, idempotent),
//   2. writes the split's problems as {id, problem} JSONL (python -m training.evaluate --write-problems),
//   3. runs the runtime's batch mode: npm run decompose -- --json --input P --output O [--model DIR],
//   4. runs the Python harness with --ours O; its LAST stdout line is the summary JSON.
// Options handled here: --ours FILE (skip steps 2-3 and use FILE), --no-ours (reference systems only),
// --model DIR (passed to decompose). --out-dir DIR (default reports/) holds the decompositions as
// well as the harness's report, so runs of different models do not overwrite each other; they all
// share the caches in reports/cache (embeddings of the references take ~15 minutes to compute) unless
// --cache-dir says otherwise. Everything
// else (--split, --limit, --data, --answerer-*, ...) goes to the harness; see
// `training/.venv/bin/python -m training.evaluate --help`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const python = process.platform === 'win32'
  ? path.join(root, 'training', '.venv', 'Scripts', 'python.exe')
  : path.join(root, 'training', '.venv', 'bin', 'python');

function fail(message) {
  console.error(`eval: ${message}`);
  process.exit(1);
}

function run(cmd, args, what, { allowFailure = false } = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: process.env });
  if (r.error) fail(`${what} could not start: ${r.error.message}`);
  if (r.status !== 0 && !allowFailure) {
    // The child already printed its one-line error; keep its exit code.
    process.exit(r.status ?? 1);
  }
  return r.status;
}

const argv = process.argv.slice(2);
const passthrough = [];
let ours = null;
let noOurs = false;
let model = null;
let split = 'evaluation';
let limit = null;
let dataDir = null;
let outDir = path.join(root, 'reports');
let cacheGiven = false;
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const value = () => {
    if (i + 1 >= argv.length) fail(`${a} needs a value`);
    return argv[++i];
  };
  if (a === '--ours') ours = value();
  else if (a === '--no-ours') noOurs = true;
  else if (a === '--model') model = value();
  else {
    passthrough.push(a);
    if (a === '--split') passthrough.push((split = value()));
    else if (a === '--limit') passthrough.push((limit = value()));
    else if (a === '--data') passthrough.push((dataDir = value()));
    else if (a === '--out-dir') passthrough.push((outDir = path.resolve(value())));
    else if (a === '--cache-dir') {
      passthrough.push(value());
      cacheGiven = true;
    }
  }
}
if (ours && noOurs) fail('--ours and --no-ours exclude each other');

run('bash', [path.join(root, 'training', 'setup.sh')], 'training/setup.sh');
if (!existsSync(python)) fail(`no Python venv at ${python} (run: npm run setup:python)`);

if (!ours && !noOurs) {
  mkdirSync(outDir, { recursive: true });
  const tag = `eval-${split}${limit ? `-limit${limit}` : ''}`;
  const problems = path.join(outDir, `${tag}-problems.jsonl`);
  ours = path.join(outDir, `${tag}-ours.jsonl`);
  const sel = ['--split', split, ...(limit ? ['--limit', limit] : []), ...(dataDir ? ['--data', dataDir] : [])];
  run(python, ['-m', 'training.evaluate', ...sel, '--write-problems', problems], 'the problem writer');
  // npm_execpath is set when this script runs under `npm run`; otherwise call npm from PATH.
  const npmArgs = ['run', '-s', 'decompose', '--', '--json', '--input', problems, '--output', ours,
    ...(model ? ['--model', model] : [])];
  const npmCli = process.env.npm_execpath;
  console.error(`eval: decomposing ${problems} with the shipped runtime -> ${ours}`);
  // Removed first so a stale file from an earlier run can never be scored.
  rmSync(ours, { force: true });
  // The batch mode exits 1 when some lines failed but still writes every line (failures as
  // {"id", "error"}); those are scored as empty decompositions, so only a missing file is fatal.
  const status = npmCli && npmCli.endsWith('.js')
    ? run(process.execPath, [npmCli, ...npmArgs], 'npm run decompose', { allowFailure: true })
    : run(process.platform === 'win32' ? 'npm.cmd' : 'npm', npmArgs, 'npm run decompose', { allowFailure: true });
  if (!existsSync(ours)) fail(`npm run decompose did not write ${ours} (exit code ${status})`);
  if (status !== 0) console.error(`eval: npm run decompose exited with ${status}; failed lines count as empty decompositions`);
}

const cache = cacheGiven ? [] : ['--cache-dir', path.join(root, 'reports', 'cache')];
run(python, ['-m', 'training.evaluate', ...passthrough, ...cache, ...(ours ? ['--ours', ours] : [])], 'the evaluation harness');
