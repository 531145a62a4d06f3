import * as assert from 'node:assert/strict';
import { findQuantities, quantityAt, subQuestionsUsing } from '../../../src/core/quantities';

const PROBLEM = "Janet's ducks lay 16 eggs per day. She eats three for breakfast. She sells the rest for $2 per egg. How much does she make?";
const STEPS = ['How many eggs does Janet sell?', 'How much does she make from selling the eggs?', 'How many ducks does Janet have?'];

describe('quantities', () => {
  it('attaches the counted thing to a number, and skips function words', () => {
    const byText = new Map(findQuantities(PROBLEM).map((q) => [q.text, q.unit]));
    assert.equal(byText.get('16'), 'eggs');
    assert.equal(byText.get('three'), undefined);
    assert.equal(byText.get('$2'), 'dollars');
  });

  it('finds the quantity under an offset', () => {
    const offset = PROBLEM.indexOf('16') + 1;
    assert.equal(quantityAt(PROBLEM, offset)?.value, 16);
    assert.equal(quantityAt(PROBLEM, PROBLEM.indexOf('ducks')), undefined);
  });

  it('lists the sub-questions that use a quantity by its unit or its value', () => {
    const eggs = quantityAt(PROBLEM, PROBLEM.indexOf('16'));
    assert.ok(eggs);
    assert.deepEqual(subQuestionsUsing(eggs, STEPS), [0, 1]);
    const money = quantityAt(PROBLEM, PROBLEM.indexOf('$2'));
    assert.ok(money);
    assert.deepEqual(subQuestionsUsing(money, STEPS), [1]);
    assert.deepEqual(subQuestionsUsing(eggs, ['Is 16 a lot?']), [0]);
  });
});
