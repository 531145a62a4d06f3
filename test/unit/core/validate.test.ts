import * as assert from 'node:assert/strict';
import { validateDecomposition } from '../../../src/core/validate';

const PROBLEM = 'Tom has twelve apples and gives 3 to each of his 2 friends. How many apples are left?';

describe('validateDecomposition', () => {
  it('accepts grounded, distinct sub-questions', () => {
    const result = validateDecomposition(PROBLEM, ['How many apples does Tom give to one friend?', 'How many apples does he give away?', 'How many apples are left?']);
    assert.deepEqual(result, { ok: true, issues: [] });
  });

  it('rejects an empty decomposition', () => {
    assert.equal(validateDecomposition(PROBLEM, []).ok, false);
  });

  it('names a repeated sub-question', () => {
    const result = validateDecomposition(PROBLEM, ['How many apples are left?', 'how many apples are left']);
    assert.deepEqual(result.issues, ['Sub-question 2 repeats sub-question 1.']);
  });

  it('names a number that the problem never mentions, in digits or words', () => {
    const result = validateDecomposition(PROBLEM, ['How many apples are left after giving away 6?', 'Of the 12 apples, how many remain?']);
    assert.deepEqual(result.issues, ['Sub-question 1 mentions 6, which is not in the problem.']);
  });
});
