// `decompose` command line, run as a separate process exactly as `npm run decompose` runs dist/cli.js
// (here the tsc build out/src/cli/main.js, which shares the same code).
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const CLI = path.join(ROOT, 'out', 'src', 'cli', 'main.js');
const MODEL_DIR = path.join(ROOT, 'models');
const PROBLEM = 'Weng earns $12 an hour for babysitting. Yesterday, she did 50 minutes of babysitting. How much did she earn?';

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, 'decompose', ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A user error: non-zero exit, exactly one line on stderr, no stack trace. */
function assertUserError(r: ReturnType<typeof run>, pattern: RegExp): void {
  assert.notEqual(r.code, 0, 'exit code');
  const lines = r.stderr.trimEnd().split('\n').filter((l) => !l.startsWith('note: '));
  assert.equal(lines.length, 1, `one line expected on stderr, got:\n${r.stderr}`);
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

describe('cli decompose', function () {
  this.timeout(240_000);
  let tmp: string;
  before(function () {
    if (!existsSync(path.join(MODEL_DIR, 'manifest.json'))) {
      this.skip();
    }
    tmp = mkdtempSync(path.join(os.tmpdir(), 'cli-decompose-'));
  });
  after(() => {
    if (tmp) {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('--json prints one object with the documented fields', () => {
    const r = run(['--json', '--device', 'cpu', '--beams', '1', '--max-questions', '3', PROBLEM]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const out = JSON.parse(lines[0]) as Record<string, unknown>;
    assert.ok(Array.isArray(out.subQuestions));
    assert.ok((out.subQuestions as unknown[]).length <= 3);
    assert.equal(out.source, 'local');
    assert.match(String(out.model), /@/);
    assert.equal(out.device, 'cpu');
    assert.equal(typeof out.ms, 'number');
  });

  it('plain mode prints numbered lines (or says there are none) and reports the device fallback', () => {
    const r = run(['--beams', '1', PROBLEM]);
    assert.equal(r.code, 0, r.stderr);
    for (const line of r.stdout.split('\n').filter(Boolean)) {
      assert.match(line, /^\d+\. .+\?$/);
    }
    if (process.platform === 'linux' && process.arch === 'x64') {
      assert.match(r.stderr, /^note: .*running on CPU/m);
    }
  });

  it('user errors: one line, non-zero exit, no stack', () => {
    assertUserError(run(['--json', '']), /no problem text/i);
    assertUserError(run(['--json', 'x'.repeat(4001)]), /4,001 characters/);
    assertUserError(run([]), /no problem text given/);
    assertUserError(run(['--bogus', PROBLEM]), /unknown option --bogus/);
    assertUserError(run(['--beams', 'two', PROBLEM]), /--beams/);
    assertUserError(run(['--device', 'tpu', PROBLEM]), /--device/);
    assertUserError(run(['--model', path.join(tmp, 'nowhere'), PROBLEM]), /nowhere.*manifest\.json/);
    assertUserError(run(['--input', path.join(tmp, 'missing.jsonl')]), /Cannot read input file .*missing\.jsonl/);
    if (process.platform === 'linux' && process.arch === 'x64') {
      assertUserError(run(['--device', 'gpu', PROBLEM]), /GPU provider "cuda" could not be loaded/);
    }
  });

  it('batch: loads once, keeps ids, gives the bad lines an error and processes the rest', () => {
    const input = path.join(tmp, 'in.jsonl');
    const output = path.join(tmp, 'out.jsonl');
    writeFileSync(
      input,
      [
        JSON.stringify({ id: 'a', problem: PROBLEM }),
        '{"id": "broken", "problem": ',
        JSON.stringify({ id: 7, problem: '   ' }),
        '',
        JSON.stringify({ id: 'b', problem: 'Tom has 3 apples and buys 4 more. How many apples does he have?' }),
      ].join('\n'),
    );
    const r = run(['--json', '--beams', '1', '--input', input, '--output', output]);
    assertUserError(r, /2 of 4 input lines failed/);
    assert.equal(r.stdout, '');
    // One load for the whole file: the device notice (auto on a CPU-only machine) appears once.
    assert.ok((r.stderr.match(/^note: /gm) ?? []).length <= 1);
    const rows = readFileSync(output, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(rows.length, 4);
    assert.deepEqual(rows.map((x) => x.id), ['a', null, 7, 'b']);
    assert.ok(Array.isArray(rows[0].subQuestions) && rows[0].source === 'local' && rows[0].error === undefined);
    assert.match(String(rows[1].error), /line 2: not valid JSON/);
    assert.match(String(rows[2].error), /no problem text/i);
    assert.ok(Array.isArray(rows[3].subQuestions) && rows[3].error === undefined);
  });
});
