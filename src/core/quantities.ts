// Which sub-questions are about the quantity under the mouse? Used by the editor hover.
import { findNumbers, NumberMention, sameNumber } from './numbers';

export interface Quantity extends NumberMention {
  /** The thing counted, as written after the number ("eggs", "dollars", "percent"), if any. */
  unit?: string;
}

// Words after a number that are not what it counts ("3 of them", "5 more", "2 each").
const NOT_UNITS = new Set(
  (
    'a an the of to for in on at and or but more less than each per times as by from with is are ' +
    'was were be will would can had has have it its he she they them his her their this that these ' +
    'those there which who what when if so then also only just about over under after before less ' +
    'fewer left extra other another same'
  ).split(' '),
);

const MONEY_WORDS = /\b(dollars?|money|cost|costs|spend|spent|pay|paid|earn|earned|earns|make|makes|made|price|profit|save|saved|charge|\$)/i;
const PERCENT_WORDS = /(%|\bpercent(age)?\b)/i;

function unitAfter(text: string, mention: NumberMention): string | undefined {
  if (mention.text.startsWith('$')) {
    return 'dollars';
  }
  if (mention.text.endsWith('%')) {
    return 'percent';
  }
  const next = /^\s*(?:-\s*)?([A-Za-z]+)/.exec(text.slice(mention.end));
  if (!next) {
    return undefined;
  }
  const word = next[1].toLowerCase();
  return NOT_UNITS.has(word) ? undefined : word;
}

/** Every number in the problem with the word it counts. */
export function findQuantities(text: string): Quantity[] {
  return findNumbers(text).map((mention) => ({ ...mention, unit: unitAfter(text, mention) }));
}

/** The quantity whose text contains `offset` (inclusive at both ends, as a hover position is). */
export function quantityAt(text: string, offset: number): Quantity | undefined {
  return findQuantities(text).find((q) => offset >= q.start && offset <= q.end);
}

/** "eggs" -> "egg", "boxes" -> "box", "candies" -> "cand": a stem good enough for word matching. */
function stem(word: string): string {
  return word.toLowerCase().replace(/(ies|es|s)$/, '');
}

/**
 * Indices of the sub-questions that use the quantity: they mention the same number, or the thing it
 * counts (the unit's stem as a word prefix; money and percentages by their usual words).
 */
export function subQuestionsUsing(quantity: Quantity, subQuestions: readonly string[]): number[] {
  const unitPattern =
    quantity.unit === 'dollars'
      ? MONEY_WORDS
      : quantity.unit === 'percent'
        ? PERCENT_WORDS
        : quantity.unit && stem(quantity.unit).length >= 2
          ? new RegExp(`\\b${stem(quantity.unit).replace(/[^a-z]/g, '')}`, 'i')
          : undefined;
  const used: number[] = [];
  subQuestions.forEach((question, i) => {
    const sameValue = findNumbers(question).some((n) => sameNumber(n.value, quantity.value));
    if (sameValue || (unitPattern !== undefined && unitPattern.test(question))) {
      used.push(i);
    }
  });
  return used;
}
