// Is a decomposition good enough to show, or should `auto` mode ask the teacher instead?
import { findNumbers, sameNumber } from './numbers';
import { normalizeQuestion } from './subQuestions';

export interface Validation {
  ok: boolean;
  /** One sentence per problem found, for logs and the panel. */
  issues: string[];
}

/**
 * Rejects what a learner must never be shown: no steps, a repeated step, or a step that brings in a
 * number the problem never mentions (a hallucination, or an answer leaked into a question).
 * "Mentions" means digits or number words (see numbers.ts); 0 and 1 are always allowed because
 * "one of them" / "none" are ordinary English, not quantities.
 */
export function validateDecomposition(problem: string, subQuestions: readonly string[]): Validation {
  const issues: string[] = [];
  if (subQuestions.length === 0) {
    issues.push('No sub-questions were produced.');
  }
  const firstSeen = new Map<string, number>();
  subQuestions.forEach((question, i) => {
    const key = normalizeQuestion(question);
    const earlier = firstSeen.get(key);
    if (earlier !== undefined) {
      issues.push(`Sub-question ${i + 1} repeats sub-question ${earlier + 1}.`);
    } else {
      firstSeen.set(key, i);
    }
  });
  const known = findNumbers(problem).map((n) => n.value);
  subQuestions.forEach((question, i) => {
    for (const mention of findNumbers(question)) {
      const grounded = mention.value === 0 || mention.value === 1 || known.some((v) => sameNumber(v, mention.value));
      if (!grounded) {
        issues.push(`Sub-question ${i + 1} mentions ${mention.text}, which is not in the problem.`);
      }
    }
  });
  return { ok: issues.length === 0, issues };
}
