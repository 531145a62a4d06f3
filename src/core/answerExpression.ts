// Reading a learner's answer to a step: a number, an arithmetic expression ("16-3-4", "3 x $2"),
// or prose that contains one ("She sells 9 eggs"). A small recursive-descent parser rather than
// eval(): the input is untrusted text and the grammar is tiny.

export type AnswerReading =
  | { kind: 'number' | 'expression'; value: number; /** e.g. "16 − 3 − 4 = 9" */ display: string }
  | { kind: 'text'; display: string };

class ParseError extends Error {}

class ExpressionParser {
  private pos = 0;
  constructor(private readonly src: string) {}

  parse(): number {
    const value = this.sum();
    this.skipSpace();
    if (this.pos < this.src.length) {
      throw new ParseError(`unexpected "${this.src[this.pos]}"`);
    }
    return value;
  }

  private skipSpace(): void {
    while (this.pos < this.src.length && /\s/.test(this.src[this.pos])) {
      this.pos++;
    }
  }

  private peek(): string {
    this.skipSpace();
    return this.src[this.pos] ?? '';
  }

  private sum(): number {
    let value = this.product();
    for (let op = this.peek(); op === '+' || op === '-'; op = this.peek()) {
      this.pos++;
      const right = this.product();
      value = op === '+' ? value + right : value - right;
    }
    return value;
  }

  private product(): number {
    let value = this.power();
    for (let op = this.peek(); op === '*' || op === '/'; op = this.peek()) {
      this.pos++;
      const right = this.power();
      if (op === '/' && right === 0) {
        throw new ParseError('division by zero');
      }
      value = op === '*' ? value * right : value / right;
    }
    return value;
  }

  private power(): number {
    const base = this.unary();
    if (this.peek() === '^') {
      this.pos++;
      return base ** this.power();
    }
    return base;
  }

  private unary(): number {
    if (this.peek() === '-') {
      this.pos++;
      return -this.unary();
    }
    if (this.peek() === '+') {
      this.pos++;
      return this.unary();
    }
    return this.atom();
  }

  private atom(): number {
    if (this.peek() === '(') {
      this.pos++;
      const value = this.sum();
      if (this.peek() !== ')') {
        throw new ParseError('missing ")"');
      }
      this.pos++;
      return this.percent(value);
    }
    const match = /^\$?(\d+(?:,\d{3})*(?:\.\d*)?|\.\d+)/.exec(this.src.slice(this.pos));
    if (!match) {
      throw new ParseError('expected a number');
    }
    this.pos += match[0].length;
    return this.percent(Number(match[1].replace(/,/g, '')));
  }

  private percent(value: number): number {
    if (this.peek() === '%') {
      this.pos++;
      return value / 100;
    }
    return value;
  }
}

/** Shows a number the way a learner writes it: no float noise, at most 6 decimals. */
export function formatNumber(value: number): string {
  if (Number.isInteger(value)) {
    return String(value);
  }
  return String(Number(value.toFixed(6)));
}

function normalizeOperators(text: string): string {
  return text.replace(/[×xX·]/g, '*').replace(/[÷:]/g, '/').replace(/[−–]/g, '-');
}

function evaluate(expression: string): number | undefined {
  try {
    const value = new ExpressionParser(normalizeOperators(expression)).parse();
    return Number.isFinite(value) ? value : undefined;
  } catch (err) {
    if (err instanceof ParseError) {
      return undefined;
    }
    throw err;
  }
}

const MAX_ANSWER_CHARS = 500;
// A run that looks like arithmetic: digits, operators, brackets, $, %, spaces.
const ARITHMETIC_RUN = /[-+(]*\$?[\d.,]+[\d.,\s$%()+\-*/×x÷^−–]*/g;

/** Interprets what the learner typed for a step. Never throws. */
export function readAnswer(input: string): AnswerReading {
  const text = input.trim().slice(0, MAX_ANSWER_CHARS);
  const whole = evaluate(text);
  if (whole !== undefined) {
    const isPlainNumber = /^[-+]?\$?[\d,]*\.?\d+%?$/.test(text.replace(/\s/g, ''));
    return isPlainNumber
      ? { kind: 'number', value: whole, display: formatNumber(whole) }
      : { kind: 'expression', value: whole, display: `${text} = ${formatNumber(whole)}` };
  }
  // Prose: take the last arithmetic-looking run that evaluates ("so she has 16-3-4 eggs").
  const runs = [...text.matchAll(ARITHMETIC_RUN)].map((m) => m[0].trim().replace(/[.,]+$/, '')).reverse();
  for (const run of runs) {
    const value = evaluate(run);
    if (value !== undefined) {
      const display = /^[-+]?\$?[\d,]*\.?\d+%?$/.test(run) ? formatNumber(value) : `${run} = ${formatNumber(value)}`;
      return { kind: /[+*/^()×÷]|\d\s*-/.test(run) ? 'expression' : 'number', value, display };
    }
  }
  return { kind: 'text', display: text };
}
