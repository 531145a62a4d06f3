import * as assert from 'node:assert/strict';
import { readAnswer } from '../../../src/core/answerExpression';

describe('readAnswer', () => {
  it('evaluates arithmetic with precedence, brackets and unicode operators', () => {
    assert.deepEqual(readAnswer('16-3-4'), { kind: 'expression', value: 9, display: '16-3-4 = 9' });
    assert.equal((readAnswer('2 + 3 * 4') as { value: number }).value, 14);
    assert.equal((readAnswer('(2 + 3) × 4 ÷ 10') as { value: number }).value, 2);
    assert.equal((readAnswer('2^3^2') as { value: number }).value, 512);
    assert.equal((readAnswer('-(4 - 10)') as { value: number }).value, 6);
  });

  it('reads plain numbers with money, separators and percentages', () => {
    assert.deepEqual(readAnswer('$1,200'), { kind: 'number', value: 1200, display: '1200' });
    assert.deepEqual(readAnswer('50%'), { kind: 'number', value: 0.5, display: '0.5' });
    assert.equal(readAnswer('0.1 + 0.2').display, '0.1 + 0.2 = 0.3');
  });

  it('finds the arithmetic inside prose', () => {
    const reading = readAnswer('She sells 16-3-4 eggs.');
    assert.equal(reading.kind, 'expression');
    assert.equal((reading as { value: number }).value, 9);
    assert.deepEqual(readAnswer('I think 9'), { kind: 'number', value: 9, display: '9' });
  });

  it('keeps text that is not arithmetic as text and never throws', () => {
    assert.deepEqual(readAnswer('no idea'), { kind: 'text', display: 'no idea' });
    assert.deepEqual(readAnswer('4/0'), { kind: 'text', display: '4/0' }); // division by zero is not a value
    for (const hostile of ['((((((', ')', '1e309', '9'.repeat(400), '<script>alert(1)</script>', '']) {
      assert.doesNotThrow(() => readAnswer(hostile));
    }
  });
});
