import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TrainingExample } from '../../../src/core/feedbackRecord';
import { runFeedbackCli } from '../../../src/cli/feedback';
import { ACTIVE_LOG_FILE, FeedbackLog } from '../../../src/feedback/log';
import { decomposition, listLogFiles, removeDir, tempDir, tickingClock } from './helpers';

const RUNNER = path.join(__dirname, 'runCli.js');

/** Runs the CLI as a real process, as `npm run feedback -- ...` would. */
function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [RUNNER, ...args], { timeout: 10_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function capture(): { io: { out: (l: string) => void; err: (l: string) => void }; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l) => out.push(l), err: (l) => err.push(l) }, out, err };
}

describe('feedback CLI', function () {
  this.timeout(20_000);
  let root: string;
  let dir: string;
  beforeEach(async () => {
    root = tempDir();
    dir = path.join(root, 'feedback');
    const log = new FeedbackLog({ dir, now: tickingClock() });
    for (let i = 0; i < 4; i++) {
      const id = await log.recordShown(decomposition(i));
      if (i < 3) {
        await log.recordVote(id, 'overall', i === 1 ? -1 : 1);
        await log.recordVote(id, 0, 1);
      }
    }
    fs.appendFileSync(path.join(dir, ACTIVE_LOG_FILE), '[1, 2, 3]\n{"v":1,"type":"vo');
  });
  afterEach(() => removeDir(root));

  it('export, stats and delete end to end in a child process', async () => {
    const out = path.join(root, 'train.jsonl');
    const exported = await cli(['export', '--log', dir, '--out', out]);
    assert.equal(exported.code, 0, exported.stderr);
    assert.match(exported.stdout, /Exported 3 record\(s\) to .*train\.jsonl \(format: array\)/);
    assert.match(exported.stdout, /12 line\(s\): 10 valid event\(s\), 1 invalid, 1 torn/);
    assert.match(exported.stdout, /1 without any rating were not exported/);
    assert.match(exported.stdout, /feedback\.jsonl:11: invalid: not a JSON object/);
    assert.match(exported.stdout, /feedback\.jsonl:12: torn: /);
    const examples = JSON.parse(fs.readFileSync(out, 'utf8')) as TrainingExample[];
    assert.deepEqual(
      examples.map((e) => e.rewards.answer_correctness),
      [1, 0, 1],
    );

    const stats = await cli(['stats', '--log', dir]);
    assert.equal(stats.code, 0, stats.stderr);
    assert.match(stats.stdout, /Decompositions: 4 \(local 2, teacher 2\)/);
    assert.match(stats.stdout, /Sub-question votes: 3 up, 0 down/);
    assert.match(stats.stdout, /Overall votes: 2 up, 1 down/);

    const refused = await cli(['delete', '--log', dir]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /add --yes/);
    assert.deepEqual(listLogFiles(dir), [ACTIVE_LOG_FILE]);

    const deleted = await cli(['delete', '--log', dir, '--yes']);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.match(deleted.stdout, /Deleted 1 feedback file/);
    assert.equal(fs.existsSync(dir), false);
  });

  it('writes jsonl with the chosen unvoted usefulness', async () => {
    const out = path.join(root, 'train.jsonl');
    const c = capture();
    assert.equal(await runFeedbackCli(['export', '--log', dir, '--out', out, '--format', 'jsonl', '--unvoted-usefulness', '0'], c.io), 0);
    const lines = fs.readFileSync(out, 'utf8').trim().split('\n');
    assert.equal(lines.length, 3);
    assert.deepEqual((JSON.parse(lines[0]) as TrainingExample).rewards.usefulness, [1, 0, 0]);
  });

  it('usage errors are one line on stderr with exit code 2', async () => {
    const cases: [string[], RegExp][] = [
      [['export', '--log', dir], /Missing --out FILE/],
      [['export', '--out', 'x.json'], /Missing --log DIR/],
      [['export', '--log', dir, '--out', path.join(root, 'o'), '--format', 'csv'], /--format must be array or jsonl/],
      [['export', '--log', dir, '--out', path.join(root, 'o'), '--unvoted-usefulness', 'half'], /from 0 to 1/],
      [['export', '--log', dir, '--out', path.join(root, 'o'), '--bogus'], /Unknown option '--bogus'/],
      [['export', '--log', path.join(root, 'none'), '--out', path.join(root, 'o')], /No feedback log directory/],
      [['stats', '--log', path.join(root, 'none')], /No feedback log directory/],
      [['delete', '--log', dir, '--yes', 'extra'], /Unexpected argument 'extra'/],
      [['frobnicate'], /Unknown feedback command "frobnicate"/],
    ];
    for (const [args, expected] of cases) {
      const c = capture();
      assert.equal(await runFeedbackCli(args, c.io), 2, args.join(' '));
      assert.equal(c.err.length, 1, args.join(' '));
      assert.match(c.err[0], expected);
    }
    const help = capture();
    assert.equal(await runFeedbackCli(['help'], help.io), 0);
    assert.match(help.out[0], /npm run feedback -- <command> --log DIR/);
  });
});
