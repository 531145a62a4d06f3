// The training-data generator end to end: CLI -> fake teacher over HTTP -> JSONL file.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runTeacherDataCli } from '../../../src/cli/teacherData';
import { parseFinalAnswer, parseGoldAnswer, parseVotes, RequestLimiter } from '../../../src/teacher/dataGenerator';
import { ANSWER_SYSTEM_PROMPT, DECOMPOSE_SYSTEM_PROMPT, JUDGE_SYSTEM_PROMPT } from '../../../src/teacher/prompts';
import { FakeOpenAIServer, type RecordedRequest, replies, type Responder, type ScriptedReply } from '../../support/fakeOpenAIServer';
import { assertKeyOnlyInAuthorization, assertNoSecret, SECRET_KEY } from './helpers';

const P1 = 'Ann has 3 red pens and 4 blue pens. How many pens does she have?';
const P2 = 'A shop sells 1,200 cups a day. How many cups does it sell in 2 days?';
const P3 = 'Bo reads 5 pages a day for 3 days. How many pages does he read?';

const INPUT_LINES = [
  JSON.stringify({ id: 'a1', problem: P1, answer: 7 }),
  JSON.stringify({ question: P2, answer: 'It sells 1,200 * 2 = <<1200*2=2400>>2,400 cups.\n#### 2,400' }),
  '',
  JSON.stringify({ id: 'c3', problem: P3 }),
];

/** What the request is (by its system prompt) and which problem it is about (last user message). */
function describeRequest(request: RecordedRequest): { kind: 'decompose' | 'answer' | 'judge'; problem: string; user: string } {
  const messages = request.body!.messages;
  const system = messages[0].content;
  const user = messages[messages.length - 1].content;
  const problem = /<problem>\n([\s\S]*?)\n<\/problem>/.exec(user)![1];
  const kind = system.startsWith(DECOMPOSE_SYSTEM_PROMPT) ? 'decompose' : system === ANSWER_SYSTEM_PROMPT ? 'answer' : system === JUDGE_SYSTEM_PROMPT ? 'judge' : assert.fail('unknown prompt');
  return { kind, problem, user };
}

/** A deterministic fake teacher: order-independent counts, so concurrency does not change results. */
function fakeTeacher(options: { failOn?: string; slowMs?: number } = {}): Responder {
  const decomposeCount = new Map<string, number>();
  const judgeCount = new Map<string, number>();
  return (request) => {
    const { kind, problem, user } = describeRequest(request);
    let reply: ScriptedReply;
    if (options.failOn && problem === options.failOn) {
      reply = replies.unauthorizedEcho();
    } else if (kind === 'decompose') {
      const n = decomposeCount.get(problem) ?? 0;
      decomposeCount.set(problem, n + 1);
      if (problem === P3 && n === 1) {
        reply = replies.good('Here is a poem instead of questions.'); // this sample is dropped
      } else {
        const what = problem === P1 ? 'pens' : problem === P2 ? 'cups' : 'pages';
        reply = replies.good(`Q1: How many ${what} are there at first?\nQ2: How many ${what} are there in the end?`);
      }
    } else if (kind === 'answer') {
      const final = problem === P1 ? '7' : problem === P2 ? '2,300' : '15';
      reply = replies.good(`A1: some\nA2: more\nFinal answer: ${final}`);
    } else {
      const n = judgeCount.get(user) ?? 0;
      judgeCount.set(user, n + 1);
      reply = replies.good(n === 0 ? 'Q1: yes\nQ2: yes' : 'Q1: yes\nQ2: no');
    }
    return options.slowMs ? replies.slow(options.slowMs, reply) : reply;
  };
}

describe('teacher data generator (npm run teacher-data)', function () {
  this.timeout(10_000);
  let server: FakeOpenAIServer;
  let dir: string;
  let input: string;
  let output: string;

  before(async () => {
    server = await FakeOpenAIServer.start();
  });
  after(async () => {
    await server.close();
  });
  beforeEach(() => {
    server.reset();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'teacher-data-'));
    input = path.join(dir, 'problems.jsonl');
    output = path.join(dir, 'out.jsonl');
    fs.writeFileSync(input, INPUT_LINES.join('\n') + '\n');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function run(extra: string[] = []): Promise<{ code: number; out: string[]; err: string[] }> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runTeacherDataCli(
      ['--input', input, '--output', output, '--base-url', server.baseURL, '--model', 'teacher-m', '--sets', '2', '--judges', '3', '--concurrency', '2', '--timeout-ms', '2000', ...extra],
      { env: { MATH_TUTOR_TEACHER_KEY: SECRET_KEY }, out: (l) => out.push(l), err: (l) => err.push(l) },
    );
    return { code, out, err };
  }

  function readOutput(): Array<Record<string, unknown>> {
    const text = fs.readFileSync(output, 'utf8');
    assert.ok(text.endsWith('\n'));
    return text.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  it('writes the GSM8K-AI-SubQ training format for 3 problems, one object per line', async () => {
    server.whenEmpty(fakeTeacher());
    const { code, out, err } = await run();
    assert.equal(code, 0, err.join('\n'));
    const records = readOutput();
    // 2 sets for P1 and P2; P3's second sample had no questions and is dropped.
    assert.equal(records.length, 5);
    for (const record of records) {
      const keys = Object.keys(record);
      assert.deepEqual(keys, 'true_answer' in record ? ['question', 'answers', 'rewards', 'true_answer', 'meta'] : ['question', 'answers', 'rewards', 'meta']);
      assert.deepEqual(Object.keys(record.rewards as object), ['answer_correctness', 'usefulness']);
    }
    const p1 = records.filter((r) => r.question === P1);
    assert.equal(p1.length, 2);
    assert.deepEqual(p1[0], {
      question: P1,
      answers: ['How many pens are there at first?', 'How many pens are there in the end?'],
      rewards: { answer_correctness: 1, usefulness: [1, 1 / 3] },
      true_answer: 7,
      meta: { id: 'a1', source: 'teacher', model: 'teacher-m', answerCorrectnessFrom: 'gold', teacherAnswer: 7 },
    });
    const p2 = records.filter((r) => r.question === P2);
    assert.equal(p2.length, 2);
    assert.equal(p2[0].true_answer, 2400);
    assert.deepEqual(p2[0].rewards, { answer_correctness: 0, usefulness: [1, 1 / 3] });
    assert.match(String((p2[0].meta as { id: string }).id), /^p-[0-9a-f]{16}$/);
    const p3 = records.filter((r) => r.question === P3);
    assert.equal(p3.length, 1);
    assert.ok(!('true_answer' in p3[0]));
    assert.deepEqual(p3[0].rewards, { answer_correctness: 0, usefulness: [1, 1 / 3] });
    assert.equal((p3[0].meta as { answerCorrectnessFrom: string }).answerCorrectnessFrom, 'none');

    // Requests: per problem 2 sets, each set 1 answer + 3 judges; P3's dropped set is not scored.
    const kinds = server.requests.map((r) => describeRequest(r).kind);
    assert.equal(kinds.filter((k) => k === 'decompose').length, 6);
    assert.equal(kinds.filter((k) => k === 'answer').length, 5);
    assert.equal(kinds.filter((k) => k === 'judge').length, 15);
    const decompose = server.requests.find((r) => describeRequest(r).kind === 'decompose')!.body!;
    assert.equal(decompose.temperature, 0.7);
    const summary = JSON.parse(out[out.length - 1]) as { done: number; recordsWritten: number; requests: number };
    assert.equal(summary.done, 3);
    assert.equal(summary.recordsWritten, 5);
    assert.equal(summary.requests, 26);

    // The key is only ever in the Authorization header: not in the file, stdout or stderr.
    assertKeyOnlyInAuthorization(server);
    assertNoSecret(fs.readFileSync(output, 'utf8'), 'output file');
    assertNoSecret(out.join('\n') + err.join('\n'), 'CLI output');
  });

  it('resumes after an interruption: skips done problems, drops a torn line, redoes only the rest', async () => {
    // Run 1 stops at P3 with a fatal error (the key is refused), after P1 and P2 were written.
    server.whenEmpty(fakeTeacher({ failOn: P3 }));
    const first = await run(['--concurrency', '1']);
    assert.equal(first.code, 1);
    assert.ok(first.err.some((l) => /rejected the API key/.test(l)), first.err.join('\n'));
    assertNoSecret(first.err.join('\n') + first.out.join('\n'), 'CLI output');
    assert.equal(readOutput().length, 4);
    // As if the process had died in the middle of writing a line.
    fs.appendFileSync(output, '{"question":"Bo reads 5 pa');

    server.reset();
    server.whenEmpty(fakeTeacher());
    const second = await run();
    assert.equal(second.code, 0, second.err.join('\n'));
    assert.ok(second.err.some((l) => /incomplete last line/.test(l)));
    assert.ok(server.requests.length > 0);
    for (const request of server.requests) {
      assert.equal(describeRequest(request).problem, P3, 'only the unfinished problem is asked about');
    }
    const records = readOutput();
    assert.equal(records.length, 5);
    assert.deepEqual(records.map((r) => r.question), [P1, P1, P2, P2, P3]);

    // Nothing left to do: a third run makes no request and changes nothing.
    server.reset();
    const before = fs.readFileSync(output, 'utf8');
    const third = await run();
    assert.equal(third.code, 0);
    assert.equal(server.requests.length, 0);
    assert.equal(fs.readFileSync(output, 'utf8'), before);
  });

  it('an interrupt (signal) keeps finished problems, writes nothing partial, and the next run resumes', async () => {
    const controller = new AbortController();
    const teacher = fakeTeacher();
    server.whenEmpty((request, i) => {
      // Interrupt while P2 is being worked on: P1 is complete by then (concurrency 1).
      if (describeRequest(request).problem === P2) {
        controller.abort();
        return replies.slow(2000, teacher(request, i));
      }
      return teacher(request, i);
    });
    const err: string[] = [];
    const code = await runTeacherDataCli(
      ['--input', input, '--output', output, '--base-url', server.baseURL, '--model', 'teacher-m', '--sets', '2', '--concurrency', '1', '--timeout-ms', '5000'],
      { env: {}, out: () => undefined, err: (l) => err.push(l), signal: controller.signal },
    );
    assert.equal(code, 130, err.join('\n'));
    assert.deepEqual([...new Set(readOutput().map((r) => r.question))], [P1]);
    server.reset();
    server.whenEmpty(fakeTeacher());
    assert.equal((await run()).code, 0);
    assert.ok(server.requests.every((r) => describeRequest(r).problem !== P1));
    assert.equal(readOutput().length, 5);
  });

  it('keeps at most --concurrency requests in flight', async () => {
    server.whenEmpty(fakeTeacher({ slowMs: 20 }));
    const { code } = await run(['--concurrency', '3']);
    assert.equal(code, 0);
    assert.ok(server.maxInFlight <= 3, `max in flight ${server.maxInFlight}`);
    assert.ok(server.maxInFlight >= 2, 'requests did run in parallel');
  });

  it('a problem whose requests keep failing is skipped (exit 1) and retried by the next run', async () => {
    const teacher = fakeTeacher();
    server.whenEmpty((request, i) => (describeRequest(request).problem === P2 ? replies.serverError(500) : teacher(request, i)));
    const first = await run(['--max-retries', '1']);
    assert.equal(first.code, 1);
    assert.deepEqual([...new Set(readOutput().map((r) => r.question))].sort(), [P1, P3].sort());
    server.reset();
    server.whenEmpty(fakeTeacher());
    assert.equal((await run()).code, 0);
    assert.equal(readOutput().filter((r) => r.question === P2).length, 2);
  });

  it('usage errors exit 2 with a one-line message', async () => {
    const err: string[] = [];
    const code = await runTeacherDataCli(['--input', input], { env: {}, out: () => undefined, err: (l) => err.push(l) });
    assert.equal(code, 2);
    assert.match(err.join('\n'), /Missing --output/);
    const bad = await runTeacherDataCli(['--input', input, '--output', output, '--base-url', server.baseURL, '--model', 'm', '--sets', 'many'], { env: {}, out: () => undefined, err: () => undefined });
    assert.equal(bad, 2);
    fs.writeFileSync(input, '{"problem": "x"}\nnot json\n');
    const err2: string[] = [];
    assert.equal(await runTeacherDataCli(['--input', input, '--output', output, '--base-url', server.baseURL, '--model', 'm'], { env: {}, out: () => undefined, err: (l) => err2.push(l) }), 2);
    assert.match(err2.join('\n'), /line 2 is not valid JSON/);
    fs.writeFileSync(input, INPUT_LINES.join('\n'));
    const err3: string[] = [];
    const noDir = path.join(dir, 'missing', 'out.jsonl');
    assert.equal(await runTeacherDataCli(['--input', input, '--output', noDir, '--base-url', server.baseURL, '--model', 'm'], { env: {}, out: () => undefined, err: (l) => err3.push(l) }), 2);
    assert.match(err3.join('\n'), /Cannot write to the output file/);
    assert.equal(server.requests.length, 0);
  });

  it('parses gold answers, final answers and votes', () => {
    assert.equal(parseGoldAnswer('blah\n#### 1,450,000'), 1450000);
    assert.equal(parseGoldAnswer('#### -10'), -10);
    assert.equal(parseGoldAnswer('$1,200.50'), 1200.5);
    assert.equal(parseGoldAnswer(18), 18);
    assert.equal(parseGoldAnswer('about ten'), null);
    assert.equal(parseGoldAnswer(undefined), null);
    assert.equal(parseFinalAnswer('A1: 3\nFinal answer: $1,234.'), 1234);
    assert.equal(parseFinalAnswer('Final answer: 3\nWait.\n**Final answer:** -5'), -5);
    assert.equal(parseFinalAnswer('The answer is 5'), undefined);
    assert.deepEqual(parseVotes('Q1: yes\nQ2: No\n3. YES\nQ9: yes', 4), [true, false, true, false]);
  });

  it('RequestLimiter bounds concurrency and spaces starts', async () => {
    const limiter = new RequestLimiter(2, 30);
    let active = 0;
    let maxActive = 0;
    const starts: number[] = [];
    await Promise.all(
      Array.from({ length: 5 }, () =>
        limiter.run(async () => {
          starts.push(Date.now());
          active++;
          maxActive = Math.max(maxActive, active);
          await new Promise((r) => setTimeout(r, 10));
          active--;
        }),
      ),
    );
    assert.ok(maxActive <= 2);
    // Start i comes no earlier than i intervals after the first (a late timer may shorten one gap,
    // never the average rate).
    for (let i = 1; i < starts.length; i++) {
      assert.ok(starts[i] - starts[0] >= i * 30 - 2, `starts ${starts.map((t) => t - starts[0]).join(',')}`);
    }
  });
});
