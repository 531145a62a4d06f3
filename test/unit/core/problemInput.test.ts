import * as assert from 'node:assert/strict';
import { checkProblemText, MAX_PROBLEM_CHARS, paragraphAt, stripCommentMarkers } from '../../../src/core/problemInput';
import { UserFacingError } from '../../../src/core/types';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    assert.ok(err instanceof UserFacingError);
    return err.code;
  }
}

describe('checkProblemText', () => {
  it('refuses empty and whitespace-only text', () => {
    assert.equal(codeOf(() => checkProblemText('')), 'empty-input');
    assert.equal(codeOf(() => checkProblemText(' \n\t ')), 'empty-input');
  });

  it('refuses text over the limit and says the limit', () => {
    const long = 'Tom has 3 apples. '.repeat(Math.ceil(MAX_PROBLEM_CHARS / 18) + 1);
    assert.throws(() => checkProblemText(long), /limit is 4,000/);
    assert.equal(codeOf(() => checkProblemText('a'.repeat(MAX_PROBLEM_CHARS))), undefined);
  });

  it('accepts a normal problem without warnings', () => {
    const checked = checkProblemText('  Tom has 3 apples\r\nand buys 2 more.   How many does he have? ');
    assert.deepEqual(checked.warnings, []);
    assert.equal(checked.problem, 'Tom has 3 apples\nand buys 2 more. How many does he have?');
  });

  it('warns, but accepts, text without numbers or without a question', () => {
    assert.equal(checkProblemText('Roses are red, violets are blue.').warnings.length, 2);
    assert.equal(checkProblemText('How many legs does a spider have?').warnings.length, 1);
  });
});

describe('paragraphAt', () => {
  const text = 'First problem line one\nline two?\n\nSecond problem.\n\n';
  it('returns the run of non-blank lines around the offset', () => {
    const range = paragraphAt(text, 25);
    assert.ok(range);
    assert.equal(text.slice(range.start, range.end), 'First problem line one\nline two?');
    const second = paragraphAt(text, text.indexOf('Second') + 3);
    assert.ok(second);
    assert.equal(text.slice(second.start, second.end), 'Second problem.');
  });

  it('returns undefined on a blank line', () => {
    assert.equal(paragraphAt(text, text.indexOf('\n\n') + 1), undefined);
  });

  it('treats bare comment markers as blank lines', () => {
    const code = '// Tom has 3 apples.\n// How many?\n//\n// Other';
    const range = paragraphAt(code, 5);
    assert.ok(range);
    assert.equal(stripCommentMarkers(code.slice(range.start, range.end)), 'Tom has 3 apples.\nHow many?');
  });
});
