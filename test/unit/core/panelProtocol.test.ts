import * as assert from 'node:assert/strict';
import { MAX_PANEL_TEXT, parseFromPanel } from '../../../src/core/panelProtocol';

describe('parseFromPanel', () => {
  it('accepts every well-formed message the webview sends', () => {
    assert.deepEqual(parseFromPanel({ type: 'ready' }), { type: 'ready' });
    assert.deepEqual(parseFromPanel({ type: 'answer', sessionId: 's', step: 0, text: '16-3-4' }), {
      type: 'answer', sessionId: 's', step: 0, text: '16-3-4',
    });
    for (const type of ['next', 'showAll', 'regenerate', 'askTeacher']) {
      assert.deepEqual(parseFromPanel({ type, sessionId: 's' }), { type, sessionId: 's' });
    }
    assert.deepEqual(parseFromPanel({ type: 'rateStep', sessionId: 's', step: 2, rating: 'down' }), {
      type: 'rateStep', sessionId: 's', step: 2, rating: 'down',
    });
    for (const type of ['hint', 'checkWithTeacher']) {
      assert.deepEqual(parseFromPanel({ type, sessionId: 's', step: 1, extra: 'dropped' }), { type, sessionId: 's', step: 1 });
    }
    assert.deepEqual(parseFromPanel({ type: 'rateOverall', sessionId: 's', rating: 'down', reason: '  too vague ' }), {
      type: 'rateOverall', sessionId: 's', rating: 'down', reason: 'too vague',
    });
  });

  it('drops an empty reason instead of logging it', () => {
    assert.deepEqual(parseFromPanel({ type: 'rateOverall', sessionId: 's', rating: 'down', reason: '   ' }), {
      type: 'rateOverall', sessionId: 's', rating: 'down',
    });
  });

  it('refuses malformed messages', () => {
    const bad: unknown[] = [
      undefined, null, 'next', 42, [], {},
      { type: 'next' }, // no session
      { type: 'unknown', sessionId: 's' },
      { type: 'answer', sessionId: 's', step: -1, text: 'x' },
      { type: 'answer', sessionId: 's', step: 1.5, text: 'x' },
      { type: 'answer', sessionId: 's', step: 0, text: 7 },
      { type: 'rateStep', sessionId: 's', step: 0, rating: 'sideways' },
      { type: 'rateStep', sessionId: 's', step: '0', rating: 'up' },
      { type: 'rateOverall', sessionId: 's', rating: 'up', reason: 5 },
      { type: 'next', sessionId: 5 },
      { type: 'hint', sessionId: 's' }, // no step
      { type: 'checkWithTeacher', sessionId: 's', step: -2 },
    ];
    for (const message of bad) {
      assert.equal(parseFromPanel(message), undefined, JSON.stringify(message));
    }
  });

  it('caps learner text at MAX_PANEL_TEXT characters', () => {
    const long = 'x'.repeat(MAX_PANEL_TEXT + 100);
    const answer = parseFromPanel({ type: 'answer', sessionId: 's', step: 0, text: long });
    assert.equal(answer?.type === 'answer' && answer.text.length, MAX_PANEL_TEXT);
    const vote = parseFromPanel({ type: 'rateOverall', sessionId: 's', rating: 'down', reason: long });
    assert.equal(vote?.type === 'rateOverall' && vote.reason?.length, MAX_PANEL_TEXT);
  });
});
