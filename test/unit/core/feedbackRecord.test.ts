import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  answerEvent,
  FEEDBACK_SCHEMA_VERSION,
  foldFeedbackEvents,
  hasFeedback,
  looksTorn,
  parseFeedbackLine,
  ratingToVote,
  serializeFeedbackEvent,
  shownEvent,
  toTrainingExample,
  voteEvent,
  type FeedbackEvent,
  type FeedbackRecord,
  type PositionedEvent,
} from '../../../src/core/feedbackRecord';

const T0 = new Date('2026-11-27T03:50:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

const DECOMPOSITION = {
  problem: 'Janet has 16 eggs. She eats 3 and bakes with 4. She sells the rest for $2 each. How much does she make?',
  subQuestions: ['How many eggs does Janet use?', 'How many eggs are left?', 'How much does she make?'],
  source: 'local' as const,
  model: 'gsm-decomposer@1.0.0',
  device: 'cpu',
  decoding: { beams: 4, maxQuestions: 8, maxNewTokens: 160, noRepeatNgram: 4 },
};

function positioned(events: FeedbackEvent[], file = 'feedback.jsonl'): PositionedEvent[] {
  return events.map((event, i) => ({ event, at: { file, line: i + 1 } }));
}

function fold(events: FeedbackEvent[]): FeedbackRecord {
  const { records, problems } = foldFeedbackEvents(positioned(events));
  assert.deepEqual(problems, []);
  assert.equal(records.length, 1);
  return records[0];
}

describe('feedback record: events and parser', () => {
  it('round-trips every event type through one line', () => {
    const events: FeedbackEvent[] = [
      shownEvent(DECOMPOSITION, 'd1', T0, 18),
      voteEvent('d1', at(1), 0, 1),
      voteEvent('d1', at(2), 'overall', -1, '  too many steps  '),
      answerEvent('d1', at(3), 1, '16-3-4', { value: '9', correct: true }),
      answerEvent('d1', at(4), 'final', '18'),
    ];
    for (const event of events) {
      const line = serializeFeedbackEvent(event);
      assert.ok(line.endsWith('\n') && !line.slice(0, -1).includes('\n'));
      const parsed = parseFeedbackLine(line.slice(0, -1));
      assert.deepEqual(parsed, { ok: true, record: event });
    }
    assert.equal((events[0] as { v: number }).v, FEEDBACK_SCHEMA_VERSION);
    assert.equal((events[2] as { reason?: string }).reason, 'too many steps');
    assert.deepEqual((events[0] as { source: unknown }).source, { kind: 'local', model: 'gsm-decomposer@1.0.0', device: 'cpu' });
  });

  it('refuses malformed lines with a reason', () => {
    const good = JSON.parse(serializeFeedbackEvent(shownEvent(DECOMPOSITION, 'd1', T0))) as Record<string, unknown>;
    const cases: [string, string][] = [
      ['not json at all', 'not JSON'],
      ['[1,2]', 'not a JSON object'],
      [JSON.stringify({ ...good, v: 2 }), 'unsupported schema version 2'],
      [JSON.stringify({ ...good, v: undefined }), 'missing schema version'],
      [JSON.stringify({ ...good, type: 'click' }), 'unknown event type'],
      [JSON.stringify({ ...good, time: 'yesterday' }), 'time must be'],
      [JSON.stringify({ ...good, id: '' }), 'id is empty'],
      [JSON.stringify({ ...good, subQuestions: [] }), 'subQuestions must be'],
      [JSON.stringify({ ...good, subQuestions: ['ok?', 3] }), 'subQuestions[1] must be a string'],
      [JSON.stringify({ ...good, extra: 1 }), 'unknown field(s): extra'],
      [JSON.stringify({ ...good, source: { kind: 'cloud', model: 'm', device: 'd' } }), 'source.kind'],
      [JSON.stringify({ ...good, decoding: { beams: 0, maxQuestions: 8, maxNewTokens: 1, noRepeatNgram: 0 } }), 'decoding.beams'],
      [JSON.stringify({ ...good, trueAnswer: '18' }), 'trueAnswer'],
      [JSON.stringify({ v: 1, type: 'vote', id: 'd1', time: T0.toISOString(), target: 0, vote: 2 }), 'vote must be'],
      [JSON.stringify({ v: 1, type: 'vote', id: 'd1', time: T0.toISOString(), target: -1, vote: 1 }), 'target must be'],
      [JSON.stringify({ v: 1, type: 'vote', id: 'd1', time: T0.toISOString(), target: 0, vote: 1, reason: 'x' }), 'only allowed on overall'],
      [JSON.stringify({ v: 1, type: 'answer', id: 'd1', time: T0.toISOString(), step: 'last', answer: '3' }), 'step must be'],
      [JSON.stringify({ v: 1, type: 'answer', id: 'd1', time: T0.toISOString(), step: 0, answer: '3', correct: 'yes' }), 'correct must be'],
    ];
    for (const [line, expected] of cases) {
      const parsed = parseFeedbackLine(line);
      assert.equal(parsed.ok, false, line);
      assert.ok(!parsed.ok && parsed.reason.includes(expected), `${line} -> ${!parsed.ok ? parsed.reason : ''}`);
    }
  });

  it('constructors refuse what the parser would refuse', () => {
    assert.throws(() => shownEvent({ ...DECOMPOSITION, subQuestions: [] }, 'd1', T0), /subQuestions/);
    assert.throws(() => voteEvent('', T0, 0, 1), /id is empty/);
    assert.throws(() => voteEvent('d1', T0, 1, 1, 'why'), /reason/);
  });

  it('tells a torn line from other corruption', () => {
    const line = serializeFeedbackEvent(shownEvent(DECOMPOSITION, 'd1', T0)).trim();
    assert.equal(looksTorn(line.slice(0, 40)), true);
    assert.equal(looksTorn(line), false);
    assert.equal(looksTorn('garbage'), false);
  });

  it('maps panel ratings to votes', () => {
    assert.equal(ratingToVote('up'), 1);
    assert.equal(ratingToVote('down'), -1);
  });
});

describe('feedback record: fold', () => {
  it('applies the latest vote per target, withdrawals, reasons and answers', () => {
    const record = fold([
      shownEvent(DECOMPOSITION, 'd1', T0),
      voteEvent('d1', at(1), 0, 1),
      voteEvent('d1', at(2), 0, -1),
      voteEvent('d1', at(3), 2, 1),
      voteEvent('d1', at(4), 2, 0),
      voteEvent('d1', at(5), 'overall', 1, 'clear'),
      answerEvent('d1', at(6), 1, 'nine', { value: '9' }),
    ]);
    assert.deepEqual(record.votes, [-1, null, null]);
    assert.equal(record.overall, 1);
    assert.equal(record.reason, 'clear');
    assert.deepEqual(record.stepAnswers, [null, { answer: 'nine', value: '9' }, null]);
    assert.equal(record.updated, at(6).toISOString());
    assert.equal(record.time, T0.toISOString());
    assert.deepEqual(record.decoding, DECOMPOSITION.decoding);
  });

  it('orders by time, not by file order, so rotation cannot reorder votes', () => {
    const record = fold([
      voteEvent('d1', at(9), 'overall', -1), // later vote, but read first (older file sorted last)
      shownEvent(DECOMPOSITION, 'd1', T0),
      voteEvent('d1', at(2), 'overall', 1),
    ]);
    assert.equal(record.overall, -1);
  });

  it('withdrawing the overall vote drops its reason', () => {
    const record = fold([shownEvent(DECOMPOSITION, 'd1', T0), voteEvent('d1', at(1), 'overall', -1, 'wrong'), voteEvent('d1', at(2), 'overall', 0)]);
    assert.equal(record.overall, null);
    assert.equal(record.reason, undefined);
  });

  it('reports orphans, duplicates and out-of-range steps with their positions', () => {
    const { records, problems } = foldFeedbackEvents(
      positioned([
        shownEvent(DECOMPOSITION, 'd1', T0),
        voteEvent('lost', at(1), 0, 1),
        shownEvent({ ...DECOMPOSITION, problem: 'Another problem with 2 numbers 3?' }, 'd1', at(2)),
        voteEvent('d1', at(3), 7, 1),
        answerEvent('d1', at(4), 5, '3'),
      ]),
    );
    assert.equal(records.length, 1);
    assert.equal(records[0].problem, DECOMPOSITION.problem);
    assert.deepEqual(
      problems.map((p) => [p.line, p.kind]).sort((a, b) => Number(a[0]) - Number(b[0])),
      [
        [2, 'orphan'],
        [3, 'duplicate'],
        [4, 'invalid'],
        [5, 'invalid'],
      ],
    );
  });
});

describe('feedback record: GSM8K-AI-SubQ training format', () => {
  const base = (events: FeedbackEvent[]) => fold([shownEvent(DECOMPOSITION, 'd1', T0, 18), ...events]);

  it('maps votes to usefulness and the overall vote to answer_correctness', () => {
    const example = toTrainingExample(base([voteEvent('d1', at(1), 0, 1), voteEvent('d1', at(2), 1, -1), voteEvent('d1', at(3), 'overall', 1)]));
    assert.deepEqual(example.rewards, { answer_correctness: 1, usefulness: [1, 0, 0.5] });
    assert.deepEqual(Object.keys(example.rewards).sort(), ['answer_correctness', 'usefulness']);
    assert.equal(example.question, DECOMPOSITION.problem);
    assert.deepEqual(example.answers, DECOMPOSITION.subQuestions);
    assert.equal(example.true_answer, 18);
    assert.equal(example.meta.answerCorrectnessFrom, 'overall-vote');
    assert.deepEqual(example.meta.votes, [1, -1, null]);
    assert.equal(example.meta.model, 'gsm-decomposer@1.0.0');
  });

  it('lets the caller choose the usefulness of unvoted sub-questions', () => {
    const example = toTrainingExample(base([voteEvent('d1', at(1), 0, -1)]), { unvotedUsefulness: 0 });
    assert.deepEqual(example.rewards.usefulness, [0, 0, 0]);
    assert.throws(() => toTrainingExample(base([]), { unvotedUsefulness: 2 }), /within \[0, 1\]/);
  });

  it('prefers the checked final answer over the overall vote', () => {
    const wrong = toTrainingExample(base([voteEvent('d1', at(1), 'overall', 1), answerEvent('d1', at(2), 'final', '20', { correct: false })]));
    assert.equal(wrong.rewards.answer_correctness, 0);
    assert.equal(wrong.meta.answerCorrectnessFrom, 'checked-answer');
    const lastStep = toTrainingExample(base([voteEvent('d1', at(1), 'overall', -1), answerEvent('d1', at(2), 2, '18', { correct: true })]));
    assert.equal(lastStep.rewards.answer_correctness, 1);
    // An unchecked answer says nothing about correctness.
    const unchecked = toTrainingExample(base([voteEvent('d1', at(1), 'overall', -1), answerEvent('d1', at(2), 'final', '18')]));
    assert.equal(unchecked.rewards.answer_correctness, 0);
    assert.equal(unchecked.meta.answerCorrectnessFrom, 'overall-vote');
  });

  it('gives 0 correctness when nothing confirms the answer, and knows unrated records', () => {
    const onlyStepVote = base([voteEvent('d1', at(1), 1, 1)]);
    assert.equal(hasFeedback(onlyStepVote), true);
    const example = toTrainingExample(onlyStepVote);
    assert.equal(example.rewards.answer_correctness, 0);
    assert.equal(example.meta.answerCorrectnessFrom, 'none');
    assert.equal(hasFeedback(base([])), false);
    assert.equal(hasFeedback(base([answerEvent('d1', at(1), 0, '3')])), false);
    assert.equal(toTrainingExample(fold([shownEvent(DECOMPOSITION, 'd2', T0)])).true_answer, undefined);
  });

  it('has the same top-level fields as the paper dataset (plus meta)', function () {
    const file = path.resolve(__dirname, '../../../../../shared/data/gsm8k-ai-subq/dataset/qg_test_dataset.jsonl');
    if (!fs.existsSync(file)) {
      this.skip();
    }
    const paper = (JSON.parse(fs.readFileSync(file, 'utf8').split('\n')[0]) as Record<string, unknown>[])[0];
    const ours = toTrainingExample(base([voteEvent('d1', at(1), 'overall', 1)])) as unknown as Record<string, unknown>;
    assert.deepEqual(Object.keys(ours).filter((k) => k !== 'meta').sort(), Object.keys(paper).sort());
    assert.deepEqual(Object.keys(ours.rewards as object).sort(), Object.keys(paper.rewards as object).sort());
  });
});
