import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { serializeFeedbackEvent, shownEvent } from '../../../src/core/feedbackRecord';
import { ACTIVE_LOG_FILE, FeedbackLog } from '../../../src/feedback/log';
import { decomposition, listLogFiles, removeDir, tempDir, tickingClock } from './helpers';

describe('FeedbackLog', () => {
  let dir: string;
  beforeEach(() => {
    dir = path.join(tempDir(), 'feedback');
  });
  afterEach(() => removeDir(path.dirname(dir)));

  it('logs a decomposition and its votes as events and folds them into one record', async () => {
    const log = new FeedbackLog({ dir, now: tickingClock() });
    const id = await log.recordShown({ ...decomposition(2), decoding: { beams: 4, maxQuestions: 8, maxNewTokens: 160, noRepeatNgram: 4 } }, 6);
    assert.equal(await log.recordVote(id, 0, 1), true);
    await log.recordVote(id, 2, -1);
    await log.recordVote(id, 'overall', -1, 'step 3 is off');
    await log.recordAnswer(id, 1, '6+4', { value: '10' });
    const lines = fs.readFileSync(path.join(dir, ACTIVE_LOG_FILE), 'utf8').split('\n');
    assert.equal(lines.length, 6); // 5 events + the empty string after the final newline
    const c = await log.contents();
    assert.deepEqual(c.problems, []);
    assert.equal(c.records.length, 1);
    const r = c.records[0];
    assert.equal(r.id, id);
    assert.deepEqual(r.votes, [1, null, -1]);
    assert.equal(r.overall, -1);
    assert.equal(r.reason, 'step 3 is off');
    assert.equal(r.trueAnswer, 6);
    assert.deepEqual(r.source, { kind: 'local', model: 'gsm-decomposer@1.0.0', device: 'cpu' });
    assert.deepEqual(r.stepAnswers[1], { answer: '6+4', value: '10' });
  });

  it('keeps the call order of concurrent appends from one process', async () => {
    const log = new FeedbackLog({ dir, now: () => new Date('2026-11-27T03:50:00.000Z') });
    const id = await log.recordShown(decomposition(2));
    // Same timestamp for all: only file order can decide, and it must follow the calls.
    await Promise.all([log.recordVote(id, 0, 1), log.recordVote(id, 0, -1), log.recordVote(id, 0, 1), log.recordVote(id, 0, -1)]);
    assert.deepEqual((await log.contents()).records[0].votes, [-1, null, null]);
  });

  it('logging off writes nothing at all', async () => {
    const log = new FeedbackLog({ dir, enabled: false });
    const id = await log.recordShown(decomposition(1));
    assert.ok(id.length > 0, 'an id is still returned');
    assert.equal(await log.recordVote(id, 0, 1), false);
    assert.equal(await log.recordAnswer(id, 0, '3'), false);
    assert.equal(fs.existsSync(dir), false);
    assert.deepEqual((await log.contents()).records, []);
  });

  it('follows a live setting: nothing is written while it is off', async () => {
    let on = true;
    const log = new FeedbackLog({ dir, enabled: () => on });
    const first = await log.recordShown(decomposition(1));
    on = false;
    await log.recordVote(first, 0, 1);
    await log.recordShown(decomposition(2));
    on = true;
    await log.recordVote(first, 1, -1);
    const c = await log.contents();
    assert.equal(c.events.length, 2);
    assert.deepEqual(c.records[0].votes, [null, -1, null]);
  });

  it('detects a torn final line, counts it, reads the rest, and the next append is intact', async () => {
    const log = new FeedbackLog({ dir, now: tickingClock() });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(await log.recordShown(decomposition(i)));
    }
    // A writer killed mid-write: half a line, no newline.
    const half = serializeFeedbackEvent(shownEvent(decomposition(99), 'torn-one', new Date())).slice(0, 70);
    fs.appendFileSync(path.join(dir, ACTIVE_LOG_FILE), half);

    let c = await log.contents();
    assert.equal(c.records.length, 5);
    assert.deepEqual(
      c.problems.map((p) => [p.file, p.line, p.kind]),
      [[ACTIVE_LOG_FILE, 6, 'torn']],
    );

    await log.recordVote(ids[4], 0, 1);
    const text = fs.readFileSync(path.join(dir, ACTIVE_LOG_FILE), 'utf8');
    assert.ok(text.includes(half + '\n{'), 'the next event starts on a fresh line after the fragment');
    c = await log.contents();
    assert.equal(c.records.length, 5);
    assert.equal(c.events.length, 6);
    assert.deepEqual(c.records.find((r) => r.id === ids[4])?.votes, [1, null, null]);
    assert.deepEqual(
      c.problems.map((p) => [p.line, p.kind]),
      [[6, 'torn']],
      'still counted as torn, now in the middle of the file',
    );
  });

  it('does not add a blank line when the file already ends with a newline', async () => {
    const log = new FeedbackLog({ dir });
    await log.recordShown(decomposition(1));
    await log.recordShown(decomposition(2));
    assert.ok(!fs.readFileSync(path.join(dir, ACTIVE_LOG_FILE), 'utf8').includes('\n\n'));
  });

  it('rotates at the size limit and keeps every record readable, in order', async () => {
    const log = new FeedbackLog({ dir, maxBytes: 2_000, now: tickingClock() });
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const id = await log.recordShown(decomposition(i));
      ids.push(id);
      await log.recordVote(id, 0, i % 2 ? 1 : -1);
    }
    const files = listLogFiles(dir);
    assert.ok(files.length > 5, `expected several files, got ${files.join(', ')}`);
    for (const f of files) {
      assert.ok(fs.statSync(path.join(dir, f)).size <= 2_000, `${f} over the limit`);
    }
    const c = await log.contents();
    assert.deepEqual(c.problems, []);
    assert.deepEqual(c.foldProblems, []);
    assert.equal(c.files[c.files.length - 1], ACTIVE_LOG_FILE);
    assert.deepEqual(
      c.records.map((r) => r.id),
      ids,
      'records come back in the order they were logged',
    );
    assert.deepEqual(
      c.records.map((r) => r.votes[0]),
      ids.map((_, i) => (i % 2 ? 1 : -1)),
    );
  });

  it('deleteAll removes every log file, rotated ones included', async () => {
    const log = new FeedbackLog({ dir, maxBytes: 1_000 });
    for (let i = 0; i < 10; i++) {
      await log.recordShown(decomposition(i));
    }
    assert.ok(listLogFiles(dir).length > 1);
    assert.ok((await log.deleteAll()) > 1);
    assert.equal(fs.existsSync(dir), false, 'the emptied folder is removed too');
    assert.deepEqual(await log.files(), []);
    assert.equal((await log.contents()).records.length, 0);
  });

  it('deleteAll leaves files that are not feedback logs alone', async () => {
    const log = new FeedbackLog({ dir });
    await log.recordShown(decomposition(1));
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    assert.equal(await log.deleteAll(), 1);
    assert.deepEqual(fs.readdirSync(dir), ['notes.txt']);
  });

  it('reads a log that does not exist as empty', async () => {
    const c = await new FeedbackLog({ dir }).contents();
    assert.deepEqual([c.files, c.events, c.problems, c.records], [[], [], [], []]);
  });
});
