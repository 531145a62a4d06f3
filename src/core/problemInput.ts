// What counts as a problem we can work on, and where it is in a document.
import { findNumbers } from './numbers';
import { UserFacingError } from './types';

/** Longest problem accepted, in characters: the model was trained on problems far shorter. */
export const MAX_PROBLEM_CHARS = 4000;

export interface CheckedProblem {
  problem: string;
  /** Reasons the result may not be meaningful; the text is still decomposed. */
  warnings: string[];
}

const QUESTION_WORDS = /\b(how|what|which|who|when|where|find|calculate|compute|determine|work out)\b/i;

/**
 * Validates text before it reaches any decomposer. Empty or over-long text is refused with a message
 * that says what to do; text without numbers or without a question is accepted with a warning.
 */
export function checkProblemText(text: string): CheckedProblem {
  const problem = text.replace(/\r\n?/g, '\n').replace(/[ \t]+/g, ' ').replace(/\n{3,}/g, '\n\n').trim();
  if (!problem) {
    throw new UserFacingError(
      'There is no problem text: select a math word problem (or put the cursor in its paragraph) and try again.',
      'empty-input',
    );
  }
  if (problem.length > MAX_PROBLEM_CHARS) {
    throw new UserFacingError(
      `The text is ${problem.length.toLocaleString('en-US')} characters long; the limit is ` +
        `${MAX_PROBLEM_CHARS.toLocaleString('en-US')}. Select a single word problem.`,
      'input-too-long',
    );
  }
  const warnings: string[] = [];
  if (findNumbers(problem).length === 0) {
    warnings.push('The text contains no numbers, so these steps may not be meaningful.');
  }
  if (!problem.includes('?') && !QUESTION_WORDS.test(problem)) {
    warnings.push('The text does not ask a question, so these steps may not be meaningful.');
  }
  return { problem, warnings };
}

// Comment leaders of common languages, so a problem written in a code comment reads as prose.
const COMMENT_LEADER = /^\s*(?:\/\/+|\/\*+|\*+\/?|#+|--|;+|%+|<!--|-->|'|REM\b)\s?/;

/** Removes comment markers from each line ("// Janet has...", "# Janet has...", "% Janet ..."). */
export function stripCommentMarkers(text: string): string {
  return text
    .split('\n')
    .map((line) => line.replace(COMMENT_LEADER, '').replace(/\s*(?:\*\/|-->)\s*$/, ''))
    .join('\n');
}

export interface TextRange {
  start: number;
  end: number;
}

/**
 * The paragraph around `offset`: the run of non-blank lines containing it (blank = only
 * whitespace or a bare comment marker). Returns undefined when the cursor sits on a blank line.
 */
export function paragraphAt(text: string, offset: number): TextRange | undefined {
  const lines = text.split('\n');
  const isBlank = (line: string) => line.replace(COMMENT_LEADER, '').trim() === '';
  let lineStart = 0;
  let index = 0;
  for (; index < lines.length; index++) {
    const lineEnd = lineStart + lines[index].length;
    if (offset <= lineEnd) {
      break;
    }
    lineStart = lineEnd + 1;
  }
  if (index >= lines.length || isBlank(lines[index])) {
    return undefined;
  }
  let first = index;
  let start = lineStart;
  while (first > 0 && !isBlank(lines[first - 1])) {
    first--;
    start -= lines[first].length + 1;
  }
  let last = index;
  let end = lineStart + lines[index].length;
  while (last + 1 < lines.length && !isBlank(lines[last + 1])) {
    last++;
    end += lines[last].length + 1;
  }
  return { start, end };
}
