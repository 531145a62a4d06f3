import * as assert from 'node:assert/strict';
import { findNumbers } from '../../../src/core/numbers';

const values = (text: string) => findNumbers(text).map((n) => n.value);

describe('findNumbers', () => {
  it('reads digits, money, thousands separators, decimals, fractions and percentages', () => {
    assert.deepEqual(values('He paid $1,200.50 for 3/4 of 16 items, 25% off, and .5 more'), [1200.5, 0.75, 16, 0.25, 0.5]);
  });

  it('reads number words, compounds and scales', () => {
    assert.deepEqual(values('twenty-five cats, two hundred dogs, three thousand five hundred fish'), [25, 200, 3500]);
  });

  it('reads the special words of word problems', () => {
    assert.deepEqual(values('half of a dozen is twice three'), [0.5, 12, 2, 3]);
  });

  it('reports offsets that point at the text', () => {
    const text = 'She has twelve apples and $3.';
    for (const n of findNumbers(text)) {
      assert.equal(text.slice(n.start, n.end), n.text);
    }
  });

  it('finds nothing in prose without numbers', () => {
    assert.deepEqual(values('The quick brown fox jumps over the lazy dog.'), []);
  });
});
