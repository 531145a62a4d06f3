// Turning raw decoder or teacher output into the clean list of sub-questions a learner sees.
// The local model and the teacher go through the same functions, so both obey the same rules.

/**
 * Comparison key for "is this the same sub-question?": lower case, every run of characters outside
 * [a-z0-9] collapsed to one space. ASCII-only on purpose: training/decode.py uses the same rule and
 * the two must agree byte for byte (Unicode-aware classes differ between Python and JS).
 */
export function normalizeQuestion(question: string): string {
  return question.toLowerCase().replace(/[^a-z0-9]+/g, ' ').trim();
}

// `Q1: ...`, `Q1) ...`, `1. ...`, `1) ...`, optionally after list bullets or Markdown bold.
const NUMBERED_LINE = /^[\s*_>-]*(?:q\s*\d{1,2}\s*[:.)]|\d{1,2}\s*[.)])[\s*_]*(.*)$/i;

/**
 * Extracts the questions from a reply that lists them one per line as `Q<n>: ...` or `<n>. ...`.
 * Every other line is ignored, which is what keeps a prompt injection inside the problem text from
 * changing what is accepted: prose, poems and instructions are simply not questions here.
 */
export function parseNumberedQuestions(text: string): string[] {
  const questions: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const match = NUMBERED_LINE.exec(line);
    if (match) {
      const body = match[1].replace(/[*_]+$/, '').trim();
      if (body) {
        questions.push(body);
      }
    }
  }
  return questions;
}

// Words that start sentences in word problems; a capital on them says nothing about a name.
const SENTENCE_STARTERS = new Set(
  (
    'a an the if each every how what which who when where why she he they it its in on at after ' +
    'before there this that these those his her their then for one two three four five six seven ' +
    'eight nine ten with by of during while some all half and but so as to from is are was were ' +
    'does do did can will would if there here now also both many much most several another'
  ).split(' '),
);

/**
 * Builds a lower-case -> preferred spelling map of the problem's capitalised words (names, places,
 * units like "MB"), so that output from an uncased tokenizer reads "Janet", not "janet".
 */
function capitalisedWords(problem: string): Map<string, string> {
  const forms = new Map<string, string>();
  const lowerSeen = new Set<string>();
  const sentenceStart = /(^|[.!?]\s+|\n\s*)$/;
  const wordPattern = /[A-Za-z][A-Za-z'-]*/g;
  let match: RegExpExecArray | null;
  while ((match = wordPattern.exec(problem)) !== null) {
    const word = match[0].replace(/'s$/, '');
    const lower = word.toLowerCase();
    if (word === lower) {
      lowerSeen.add(lower);
      continue;
    }
    const atSentenceStart = sentenceStart.test(problem.slice(Math.max(0, match.index - 3), match.index));
    if (atSentenceStart && SENTENCE_STARTERS.has(lower)) {
      continue;
    }
    if (!forms.has(lower) || !atSentenceStart) {
      forms.set(lower, word);
    }
  }
  for (const lower of lowerSeen) {
    // A word the problem also writes in lower case is not a name ("Apples cost..." / "apples"),
    // unless it is an acronym ("MB").
    const form = forms.get(lower);
    if (form !== undefined && form !== form.toUpperCase()) {
      forms.delete(lower);
    }
  }
  return forms;
}

/**
 * Undoes the spacing artefacts of sub-word detokenisation ("janet ' s", "farmers ' market", "$ 5",
 * "1, 000", " ?").
 */
function tidySpacing(text: string): string {
  return text
    .replace(/\s+/g, ' ')
    .replace(/(\d)\s*([.,])\s*(?=\d{1,3}\b)/g, '$1$2')
    .replace(/\s+([?.,!;:%)\]])/g, '$1')
    .replace(/([($[])\s+/g, '$1')
    .replace(/\s*'\s*(s|t|re|ve|ll|d|m)\b/gi, "'$1")
    .replace(/(\ws) ' (?=\w)/gi, "$1' ")
    .replace(/(\w)\s+-\s+(?=\w)/g, '$1-')
    .trim();
}

function restoreCase(question: string, names: Map<string, string>): string {
  return question.replace(/\b[a-z][a-z'-]*/g, (word) => {
    const base = word.replace(/'s$/, '');
    const preferred = names.get(base);
    return preferred ? preferred + word.slice(base.length) : word;
  });
}

function asQuestion(text: string): string {
  let question = text.replace(/^(?:q\s*\d{1,2}\s*[:.)]|\d{1,2}\s*[.)])\s*/i, '').trim();
  question = question.replace(/[.;:,!]+$/, '').trim();
  if (!question.endsWith('?')) {
    question += '?';
  }
  return question.charAt(0).toUpperCase() + question.slice(1);
}

/**
 * The one place that decides what a sub-question looks like: tidy spacing, restore the problem's
 * capitalised words, one trailing "?", first letter upper case; drop empty or content-free items
 * and repeats (by `normalizeQuestion`), keep at most `maxQuestions`, in order.
 */
export function cleanSubQuestions(raw: readonly string[], problem: string, maxQuestions: number): string[] {
  const names = capitalisedWords(problem);
  const seen = new Set<string>();
  const clean: string[] = [];
  for (const item of raw) {
    if (clean.length >= maxQuestions) {
      break;
    }
    const question = asQuestion(restoreCase(tidySpacing(item), names));
    const key = normalizeQuestion(question);
    if (!/[a-z]/.test(key) || seen.has(key)) {
      continue;
    }
    seen.add(key);
    clean.push(question);
  }
  return clean;
}

function wordSet(text: string): Set<string> {
  return new Set(normalizeQuestion(text).split(' ').filter(Boolean));
}

/** Token-set Jaccard similarity of two questions (lower-case ASCII words and numbers). */
export function questionSimilarity(a: string, b: string): number {
  const x = wordSet(a);
  const y = wordSet(b);
  let shared = 0;
  for (const word of x) {
    if (y.has(word)) {
      shared++;
    }
  }
  const union = x.size + y.size - shared;
  return union === 0 ? 0 : shared / union;
}

/** The problem's own question: its last sentence that ends with "?", if it has one. */
export function problemQuestion(problem: string): string | undefined {
  const sentences = problem
    .replace(/\s+/g, ' ')
    .split(/(?<=[.!?])\s+(?=[A-Z"'(])/)
    .map((s) => s.trim());
  for (let i = sentences.length - 1; i >= 0; i--) {
    if (sentences[i].endsWith('?')) {
      return sentences[i];
    }
  }
  return undefined;
}

const STARTS_WITH_WH = /^(?:how|what|which|who|whom|whose|where|why)\b/i;
const LAST_WH_CLAUSE = /^.*,\s+((?:how|what|which|who|whom|whose|where|why|when)\b.*)$/is;

/**
 * The asking part of a question that opens with a condition: "If John has 54 candies, how many more
 * candies does he have than James?" -> "How many more candies does he have than James?". A question
 * that already starts with a question word is returned as it is.
 */
export function askingClause(question: string): string {
  const clause = STARTS_WITH_WH.test(question) ? undefined : LAST_WH_CLAUSE.exec(question)?.[1];
  return clause === undefined ? question : clause[0].toUpperCase() + clause.slice(1);
}

/** Two questions at least this similar ask the same thing (the evaluation's lexical match threshold). */
const SAME_QUESTION = 0.5;

/**
 * A tutor's walk-through ends where the problem does: with the problem's own question. When no step
 * asks it, it is appended (replacing the last step when the list is full). Models that stop early
 * or drift off topic still leave the learner with the question that matters.
 *
 * A step asks it when it is like the whole question or like its asking clause: "how many books will
 * they read by the end?" asks "If both Dolly and Pandora read each others' books as well as their
 * own, how many books will they collectively read by the end?", and appending the sentence after it
 * showed learners the same question twice. The appended step is the whole sentence, because its
 * condition can change the meaning ("In one semester, how many hours ..."). On the 79 held-out
 * calibration problems this raised the lexical F1 mean of what learners see from 0.582 to 0.589
 * (models/README.md).
 */
export function endWithProblemQuestion(subQuestions: readonly string[], problem: string, maxQuestions: number): string[] {
  const question = problemQuestion(problem);
  if (question === undefined) {
    return [...subQuestions];
  }
  const asking = askingClause(question);
  if (subQuestions.some((q) => Math.max(questionSimilarity(q, question), questionSimilarity(q, asking)) >= SAME_QUESTION)) {
    return [...subQuestions];
  }
  const steps = subQuestions.slice(0, Math.max(0, maxQuestions - 1));
  return [...steps, question];
}
