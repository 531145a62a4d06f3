// Finding the numbers a word problem mentions, in digits or in words.

export interface NumberMention {
  /** Offsets into the text, end exclusive. */
  start: number;
  end: number;
  /** The text as written, e.g. "$1,200", "3/4", "twenty-five", "half". */
  text: string;
  value: number;
}

const UNITS: Record<string, number> = {
  zero: 0, one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9,
  ten: 10, eleven: 11, twelve: 12, thirteen: 13, fourteen: 14, fifteen: 15, sixteen: 16,
  seventeen: 17, eighteen: 18, nineteen: 19,
};
const TENS: Record<string, number> = {
  twenty: 20, thirty: 30, forty: 40, fifty: 50, sixty: 60, seventy: 70, eighty: 80, ninety: 90,
};
const SCALES: Record<string, number> = { hundred: 100, thousand: 1000, million: 1e6, billion: 1e9 };
/** Words that stand for a number on their own in word problems. */
const SPECIAL: Record<string, number> = {
  half: 0.5, quarter: 0.25, dozen: 12, twice: 2, double: 2, triple: 3, thrice: 3,
};

const DIGITS = /\$?\d{1,3}(?:,\d{3})+(?:\.\d+)?%?|\$?\d+(?:\.\d+)?(?:\s*\/\s*\d+)?%?|\$?\.\d+%?/g;
const WORD = /[A-Za-z]+(?:-[A-Za-z]+)?/g;

function parseDigits(text: string): number {
  const bare = text.replace(/[$,%\s]/g, '');
  const slash = bare.indexOf('/');
  const value = slash >= 0 ? Number(bare.slice(0, slash)) / Number(bare.slice(slash + 1)) : Number(bare);
  return text.endsWith('%') ? value / 100 : value;
}

function wordValue(word: string): number | undefined {
  const lower = word.toLowerCase();
  if (lower in UNITS) {
    return UNITS[lower];
  }
  if (lower in TENS) {
    return TENS[lower];
  }
  const [tens, unit] = lower.split('-');
  if (unit !== undefined && tens in TENS && unit in UNITS && UNITS[unit] > 0 && UNITS[unit] < 10) {
    return TENS[tens] + UNITS[unit];
  }
  return undefined;
}

/** Every number in `text`, in order. Percentages keep their written value ("50%" -> 0.5). */
export function findNumbers(text: string): NumberMention[] {
  const found: NumberMention[] = [];
  for (const match of text.matchAll(DIGITS)) {
    const raw = match[0];
    const value = parseDigits(raw);
    if (Number.isFinite(value)) {
      found.push({ start: match.index, end: match.index + raw.length, text: raw, value });
    }
  }
  // Number words: "twenty-five", "two hundred", "three thousand five hundred", "half", "a dozen".
  const words = [...text.matchAll(WORD)];
  for (let i = 0; i < words.length; i++) {
    const first = words[i];
    const special = SPECIAL[first[0].toLowerCase()];
    if (special !== undefined) {
      found.push({ start: first.index, end: first.index + first[0].length, text: first[0], value: special });
      continue;
    }
    let value = wordValue(first[0]);
    if (value === undefined) {
      continue;
    }
    let total = 0;
    let end = first.index + first[0].length;
    let j = i + 1;
    // Fold following scale words ("two hundred", "five thousand") separated only by spaces.
    while (j < words.length && /^\s+$/.test(text.slice(end, words[j].index))) {
      const scale = SCALES[words[j][0].toLowerCase()];
      const next = wordValue(words[j][0]);
      if (scale !== undefined) {
        value *= scale;
        if (scale >= 1000) {
          total += value;
          value = 0;
        }
      } else if (next !== undefined && value % 100 === 0 && (value > 0 || total > 0)) {
        value += next;
      } else {
        break;
      }
      end = words[j].index + words[j][0].length;
      j++;
    }
    found.push({ start: first.index, end, text: text.slice(first.index, end), value: total + value });
    i = j - 1;
  }
  return found.sort((a, b) => a.start - b.start);
}

/** True when the two values are the same number up to floating-point noise. */
export function sameNumber(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
}
