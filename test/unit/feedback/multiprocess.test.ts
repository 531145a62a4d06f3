import * as assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ACTIVE_LOG_FILE, FeedbackLog } from '../../../src/feedback/log';
import { workerProblem } from './appendWorker';
import { decomposition, listLogFiles, removeDir, tempDir } from './helpers';

const WORKER = path.join(__dirname, 'appendWorker.js');

interface Writer {
  child: ChildProcess;
  ready: Promise<void>;
  exited: Promise<number | null>;
  written: () => number;
}

/** Forks a writer; it appends `count` records to `dir` once it gets "go". */
function startWriter(dir: string, tag: string, count: number, maxBytes?: number): Writer {
  const child = fork(WORKER, [dir, tag, String(count), ...(maxBytes ? [String(maxBytes)] : [])], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let written = 0;
  let setReady = (): void => undefined;
  const ready = new Promise<void>((resolve) => (setReady = resolve));
  child.on('message', (m: { ready?: boolean; written?: number }) => {
    if (m.ready) {
      setReady();
    }
    written = m.written ?? written;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // A child that dies before saying ready must not leave the test waiting.
  void exited.then(setReady);
  return { child, ready, exited, written: () => written };
}

async function runWriters(dir: string, count: number, maxBytes?: number): Promise<void> {
  const writers = [startWriter(dir, 'A', count, maxBytes), startWriter(dir, 'B', count, maxBytes)];
  const timeout = setTimeout(() => writers.forEach((w) => w.child.kill()), 15_000);
  // Both are listening before either starts, so their appends really overlap.
  await Promise.all(writers.map((w) => w.ready));
  writers.forEach((w) => w.child.connected && w.child.send('go'));
  const codes = await Promise.all(writers.map((w) => w.exited));
  clearTimeout(timeout);
  assert.deepEqual(codes, [0, 0]);
}

function assertAllRecords(records: { id: string; problem: string; subQuestions: string[] }[], count: number, inOrder: boolean): void {
  assert.equal(records.length, 2 * count);
  for (const tag of ['A', 'B']) {
    const mine = records.filter((r) => r.id.startsWith(`${tag}-`));
    assert.equal(mine.length, count, `writer ${tag}`);
    // Nothing interleaved: each record's text is exactly what its writer wrote for that id.
    for (const r of mine) {
      const i = Number(r.id.slice(2));
      assert.equal(r.problem, workerProblem(r.id, i));
      assert.ok(r.subQuestions.every((q) => q.includes(r.id)));
    }
    const expected = Array.from({ length: count }, (_, i) => `${tag}-${i}`);
    // Across rotated files, order is only as good as millisecond timestamps (see docs/feedback.md).
    assert.deepEqual(inOrder ? mine.map((r) => r.id) : mine.map((r) => r.id).sort(), inOrder ? expected : expected.sort(), 'each writer its own order');
  }
}

describe('FeedbackLog with several processes', function () {
  this.timeout(20_000);
  let root: string;
  beforeEach(() => {
    root = tempDir();
  });
  afterEach(() => removeDir(root));

  it('two processes appending 1,000 records each: 2,000 valid records, none interleaved', async () => {
    const dir = path.join(root, 'feedback');
    await runWriters(dir, 1000);
    const c = await new FeedbackLog({ dir }).contents();
    assert.deepEqual(c.problems, []);
    assert.deepEqual(c.foldProblems, []);
    assert.equal(c.lines, 2000);
    assertAllRecords(c.records, 1000, true);
    // A writer that looks at the end of the file while another's long line is half copied adds
    // a spare newline: a blank line, skipped on read, never a lost or merged record.
    const raw = fs.readFileSync(path.join(dir, ACTIVE_LOG_FILE), 'utf8');
    assert.equal(raw.split('\n').filter((l) => l.trim() !== '').length, 2000);
    // The test only means something if the writers really overlapped in time.
    const order = c.events.map((e) => e.event.id[0]);
    const switches = order.filter((tag, i) => i > 0 && tag !== order[i - 1]).length;
    assert.ok(switches >= 10, `writers barely overlapped (${switches} switches)`);
  });

  it('two processes rotating the same log lose nothing', async () => {
    const dir = path.join(root, 'feedback');
    await runWriters(dir, 300, 40_000);
    assert.ok(listLogFiles(dir).length > 5);
    const c = await new FeedbackLog({ dir }).contents();
    assert.deepEqual(c.problems, []);
    assertAllRecords(c.records, 300, false);
  });

  it('a writer killed mid-stream leaves a readable log that the next append continues', async () => {
    const dir = path.join(root, 'feedback');
    const w = startWriter(dir, 'A', 100_000);
    await w.ready;
    assert.ok(w.child.connected, 'writer died before starting');
    w.child.send('go');
    for (let i = 0; i < 200 && w.written() < 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    w.child.kill('SIGKILL');
    await w.exited;
    const log = new FeedbackLog({ dir });
    const before = await log.contents();
    assert.ok(before.records.length >= 200);
    assert.deepEqual(before.problems.filter((p) => p.kind === 'invalid'), []);
    assert.ok(before.problems.length <= 1, 'at most the last line is torn');
    const id = await log.recordShown(decomposition(1));
    const after = await log.contents();
    assert.equal(after.records.length, before.records.length + 1);
    assert.equal(after.records[after.records.length - 1].id, id);
    assert.equal(after.problems.length, before.problems.length);
  });
});
