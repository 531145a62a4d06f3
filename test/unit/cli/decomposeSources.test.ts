// `npm run decompose -- --source teacher|auto`: the CLI goes through the same router as the extension.
// Runs the real CLI process against a scripted OpenAI-compatible server on 127.0.0.1.
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FakeOpenAIServer, useFakeOpenAIServer, replies } from '../../support/fakeOpenAIServer';

const CLI = path.resolve(__dirname, '..', '..', '..', 'src', 'cli', 'main.js');
const PROBLEM = 'Tom has 3 apples and buys 4 more. How many apples does he have now?';
const STEPS = 'Q1: How many apples does Tom buy?\nQ2: How many apples does Tom have now?';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, 'decompose', ...args],
      { encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH, ...env } },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe('cli decompose --source', function () {
  this.timeout(60_000);
  const fake = useFakeOpenAIServer();
  let server: FakeOpenAIServer;
  beforeEach(() => {
    server = fake();
  });

  it('teacher: prints the same JSON shape as the local source, with source "teacher"', async () => {
    server.enqueue(replies.good(STEPS));
    const r = await run(['--json', '--source', 'teacher', '--teacher-base-url', server.baseURL, '--teacher-model', 'tiny-teacher', PROBLEM], {
      MATH_TUTOR_TEACHER_KEY: 'sk-cli-secret',
    });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.deepEqual(out.subQuestions, ['How many apples does Tom buy?', 'How many apples does Tom have now?']);
    assert.equal(out.source, 'teacher');
    assert.equal(out.model, 'tiny-teacher');
    assert.equal(typeof out.ms, 'number');
    assert.equal(server.requests[0].headers.authorization, 'Bearer sk-cli-secret');
    assert.doesNotMatch(r.stdout + r.stderr, /sk-cli-secret/);
  });

  it('teacher: a refused key is one line on stderr that does not contain the key', async () => {
    server.enqueue(replies.unauthorizedEcho());
    const r = await run(['--source', 'teacher', '--teacher-base-url', server.baseURL, '--teacher-model', 'm', PROBLEM], {
      OPENAI_API_KEY: 'sk-echoed-secret',
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: .*key/im);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.doesNotMatch(r.stderr, /sk-echoed-secret/);
  });

  it('auto: a missing model is not fatal when a teacher is configured', async () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), 'no-model-'));
    try {
      server.enqueue(replies.good(STEPS));
      const r = await run(['--json', '--source', 'auto', '--model', empty, '--teacher-base-url', server.baseURL, '--teacher-model', 'm', PROBLEM]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { source: string }).source, 'teacher');
      assert.match(r.stderr, /manifest\.json/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('teacher without an endpoint: a usage error, nothing sent', async () => {
    const r = await run(['--source', 'teacher', PROBLEM]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--teacher-base-url/);
    assert.equal(server.requests.length, 0);
  });
});
