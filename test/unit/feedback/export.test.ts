import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TrainingExample } from '../../../src/core/feedbackRecord';
import { UserFacingError } from '../../../src/core/types';
import { exportTrainingData, formatExportSummary } from '../../../src/feedback/export';
import { ACTIVE_LOG_FILE, FeedbackLog } from '../../../src/feedback/log';
import { decomposition, removeDir, tempDir, tickingClock } from './helpers';

/**
 * A log with three rated decompositions, one unrated, and five bad lines at known places:
 * line 3 garbage, 5 a future schema, 7 a torn fragment (repaired by the next append), 9 an orphan
 * vote, and the last line torn without a newline.
 */
async function corruptLog(dir: string): Promise<{ ids: string[]; lastLine: number }> {
  const log = new FeedbackLog({ dir, now: tickingClock() });
  const file = path.join(dir, ACTIVE_LOG_FILE);
  const ids: string[] = [];
  ids.push(await log.recordShown(decomposition(0), 7)); // 1
  await log.recordVote(ids[0], 0, 1); // 2
  fs.appendFileSync(file, 'this is not json\n'); // 3
  ids.push(await log.recordShown(decomposition(1))); // 4
  fs.appendFileSync(file, JSON.stringify({ v: 2, type: 'vote', id: ids[1], time: '2026-11-27T03:50:00.000Z' }) + '\n'); // 5
  await log.recordVote(ids[1], 'overall', -1, 'confusing'); // 6
  fs.appendFileSync(file, '{"v":1,"type":"shown","id":"cut'); // 7 (torn, then repaired)
  ids.push(await log.recordShown(decomposition(2))); // 8
  await log.recordVote('no-such-decomposition', 0, 1); // 9
  await log.recordVote(ids[2], 1, -1); // 10
  ids.push(await log.recordShown(decomposition(3))); // 11 (never rated)
  fs.appendFileSync(file, '{"v":1,"type":"vote","id":"'); // 12 (torn, no newline)
  return { ids, lastLine: 12 };
}

describe('exportTrainingData', () => {
  let root: string;
  let dir: string;
  beforeEach(() => {
    root = tempDir();
    dir = path.join(root, 'feedback');
  });
  afterEach(() => removeDir(root));

  it('exports the valid records and reports each corrupt line with its number', async () => {
    const { ids } = await corruptLog(dir);
    const out = path.join(root, 'train.jsonl');
    const summary = await exportTrainingData(dir, out);

    assert.equal(summary.exported, 3);
    assert.equal(summary.unrated, 1);
    assert.equal(summary.records, 4);
    assert.equal(summary.invalid, 2);
    assert.equal(summary.torn, 2);
    assert.equal(summary.lines, 12);
    assert.equal(summary.validEvents, 8);
    assert.deepEqual(
      summary.problems.map((p) => `${p.file}:${p.line}:${p.kind}`),
      [3, 5, 7, 9, 12].map((n, i) => `${ACTIVE_LOG_FILE}:${n}:${['invalid', 'invalid', 'torn', 'orphan', 'torn'][i]}`),
    );

    const text = fs.readFileSync(out, 'utf8');
    assert.equal(text.split('\n').length, 2, 'the paper format is one JSON array on one line');
    const examples = JSON.parse(text) as TrainingExample[];
    assert.deepEqual(
      examples.map((e) => e.meta.id),
      ids.slice(0, 3),
    );
    assert.deepEqual(examples[0].rewards, { answer_correctness: 0, usefulness: [1, 0.5, 0.5] });
    assert.equal(examples[0].true_answer, 7);
    assert.deepEqual(examples[1].rewards, { answer_correctness: 0, usefulness: [0.5, 0.5, 0.5] });
    assert.equal(examples[1].meta.reason, 'confusing');
    assert.deepEqual(examples[2].rewards.usefulness, [0.5, 0, 0.5]);
    assert.equal(examples[1].question, decomposition(1).problem);
    assert.deepEqual(examples[2].answers, decomposition(2).subQuestions);

    const report = formatExportSummary(summary).join('\n');
    assert.match(report, /Exported 3 record\(s\)/);
    assert.match(report, /feedback\.jsonl:3: invalid: not JSON/);
    assert.match(report, /feedback\.jsonl:5: invalid: unsupported schema version 2/);
    assert.match(report, /feedback\.jsonl:12: torn: /);
  });

  it('writes one example per line with --format jsonl, and the chosen unvoted usefulness', async () => {
    const log = new FeedbackLog({ dir, now: tickingClock() });
    for (let i = 0; i < 3; i++) {
      const id = await log.recordShown(decomposition(i, 2));
      await log.recordVote(id, 'overall', 1);
    }
    const out = path.join(root, 'train.jsonl');
    const summary = await exportTrainingData(dir, out, { format: 'jsonl', unvotedUsefulness: 1 });
    assert.equal(summary.exported, 3);
    const lines = fs.readFileSync(out, 'utf8').trim().split('\n');
    assert.equal(lines.length, 3);
    for (const line of lines) {
      const e = JSON.parse(line) as TrainingExample;
      assert.deepEqual(e.rewards, { answer_correctness: 1, usefulness: [1, 1] });
    }
  });

  it('exports across rotated files', async () => {
    const log = new FeedbackLog({ dir, maxBytes: 1_500, now: tickingClock() });
    for (let i = 0; i < 20; i++) {
      await log.recordVote(await log.recordShown(decomposition(i)), 2, 1);
    }
    const summary = await exportTrainingData(dir, path.join(root, 'out.json'));
    assert.ok(summary.files.length > 3);
    assert.equal(summary.exported, 20);
    assert.deepEqual(summary.problems, []);
  });

  it('refuses a missing log folder and an output inside the log folder', async () => {
    await assert.rejects(exportTrainingData(path.join(root, 'nope'), path.join(root, 'o.json')), (err: unknown) => err instanceof UserFacingError && /No feedback log directory/.test(err.message));
    await new FeedbackLog({ dir }).recordShown(decomposition(1));
    await assert.rejects(exportTrainingData(dir, path.join(dir, 'o.json')), UserFacingError);
    await assert.rejects(exportTrainingData(dir, path.join(root, 'missing-folder', 'o.json')), UserFacingError);
  });
});
