// The decoding loop of docs/ARCHITECTURE.md ("Decoding rules"), kept independent of onnxruntime so
// that its rules can be tested with a scripted model. training/decode.py implements the same rules;
// models/reference.json pins both to the same token ids.
import { UserFacingError, type DecodingSettings } from '../core/types';

/** One batched decoder call with a KV cache. */
export interface StepModel {
  /**
   * Feeds `tokens[r]` as the next input of row r and returns log-probabilities [rows × vocab]
   * (rows = beams on every call). `parents[r]` is the row of the PREVIOUS call whose cache row r
   * continues; null at step 0, when the cache is empty.
   */
  step(tokens: readonly number[], parents: readonly number[] | null): Promise<Float32Array>;
}

export interface DecodeSpecials {
  bos: number;
  eos: number;
  sep: number;
  /** The id of "?": a sub-question ends there (only sep/eos may follow). Absent: no such rule. */
  questionEnd?: number;
}

export interface DecodeOptions {
  settings: DecodingSettings;
  specials: DecodeSpecials;
  /** Normalised text of a segment's token ids (tokenizer.decode + normalizeQuestion). */
  segmentKey: (ids: readonly number[]) => string;
  signal?: AbortSignal;
  /** Greedy only (beams = 1): called with the complete segments each time one closes. */
  onSegments?: (segments: readonly (readonly number[])[]) => void;
}

export interface DecodeResult {
  /** Generated ids (no bos), ending with eos when generation finished. */
  tokens: number[];
  /** The complete sub-questions' ids, split at sep/eos; an unfinished last segment is dropped. */
  segments: number[][];
  /** True when the hypothesis ended with eos (false: token cap or nothing left to choose). */
  finished: boolean;
  /** Decoder calls made. */
  steps: number;
}

interface Hypothesis {
  tokens: number[];
  score: number;
  /** Normalised texts of the closed segments, to block a repeated sub-question. */
  closed: string[];
  /** Index in `tokens` where the open segment starts. */
  segStart: number;
}

export function cancelledError(): UserFacingError {
  return new UserFacingError('The decomposition was cancelled.', 'cancelled');
}

// The ORT calls block the thread; yielding once per step lets a worker see its "cancel" message.
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function checkSignal(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw cancelledError();
  }
}

/**
 * Applies the rules to one row's log-probs in place: forced eos once maxQuestions sub-questions are
 * complete, blocked n-grams, a repeated sub-question, and a sub-question ending at its "?".
 */
export function applyRules(
  logprobs: Float32Array,
  hyp: Hypothesis,
  opts: Pick<DecodeOptions, 'settings' | 'specials' | 'segmentKey'>,
): void {
  const { settings, specials } = opts;
  const toks = hyp.tokens;
  if (hyp.closed.length >= settings.maxQuestions) {
    const eos = logprobs[specials.eos];
    logprobs.fill(-Infinity);
    logprobs[specials.eos] = eos;
    return;
  }
  const n = settings.noRepeatNgram;
  if (n > 0 && toks.length >= n - 1) {
    // Any earlier occurrence of the last n-1 tokens bans the token that followed it.
    const start = toks.length - (n - 1);
    for (let i = 0; i + n - 1 < toks.length; i++) {
      let match = true;
      for (let j = 0; j < n - 1; j++) {
        if (toks[i + j] !== toks[start + j]) {
          match = false;
          break;
        }
      }
      if (match) {
        logprobs[toks[i + n - 1]] = -Infinity;
      }
    }
  }
  const atQuestionEnd = specials.questionEnd !== undefined && toks[toks.length - 1] === specials.questionEnd;
  const repeats =
    hyp.closed.length > 0 &&
    (atQuestionEnd || logprobs[specials.sep] > -Infinity || logprobs[specials.eos] > -Infinity) &&
    isRepeat(opts.segmentKey(toks.slice(hyp.segStart)), hyp.closed);
  if (atQuestionEnd) {
    // A sub-question ends at its "?"; one that repeats an earlier sub-question is a dead end.
    const sep = logprobs[specials.sep];
    const eos = logprobs[specials.eos];
    logprobs.fill(-Infinity);
    if (!repeats) {
      logprobs[specials.sep] = sep;
      logprobs[specials.eos] = eos;
    }
  } else if (repeats) {
    logprobs[specials.sep] = -Infinity;
    logprobs[specials.eos] = -Infinity;
  }
}

// An empty open segment never counts as a repeat (training/decode.py: `if text and text in ...`).
function isRepeat(key: string, closed: readonly string[]): boolean {
  return key !== '' && closed.includes(key);
}

function extend(hyp: Hypothesis, token: number, logprob: number, opts: DecodeOptions): Hypothesis {
  const tokens = hyp.tokens.concat(token);
  if (token === opts.specials.sep) {
    const key = opts.segmentKey(hyp.tokens.slice(hyp.segStart));
    return { tokens, score: hyp.score + logprob, closed: hyp.closed.concat(key), segStart: tokens.length };
  }
  return { tokens, score: hyp.score + logprob, closed: hyp.closed, segStart: hyp.segStart };
}

/** Splits generated ids into complete segments; text after the last sep/eos is unfinished. */
export function splitSegments(tokens: readonly number[], specials: DecodeSpecials): number[][] {
  const segments: number[][] = [];
  let current: number[] = [];
  for (const t of tokens) {
    if (t === specials.sep || t === specials.eos) {
      segments.push(current);
      current = [];
      if (t === specials.eos) {
        break;
      }
    } else {
      current.push(t);
    }
  }
  return segments;
}

function result(hyp: Hypothesis, finished: boolean, steps: number, specials: DecodeSpecials): DecodeResult {
  return { tokens: hyp.tokens, segments: splitSegments(hyp.tokens, specials), finished, steps };
}

function validate(settings: DecodingSettings): void {
  for (const [key, min] of [['beams', 1], ['maxQuestions', 1], ['maxNewTokens', 1], ['noRepeatNgram', 0]] as const) {
    const v = settings[key];
    if (!Number.isInteger(v) || v < min) {
      throw new UserFacingError(`Decoding setting ${key} must be an integer >= ${min} (got ${v}).`, 'bad-argument');
    }
  }
}

/**
 * Beam search over `beams` rows, one batched decoder call per step (greedy when beams = 1), in
 * lock-step with training/decode.py: the batch always has `beams` rows (int8 dynamic quantisation
 * scales by the whole batch, so even an inactive row's content changes the others' numbers); an
 * inactive row repeats the previous step's first token and continues cache row 0.
 */
export async function decode(model: StepModel, opts: DecodeOptions): Promise<DecodeResult> {
  validate(opts.settings);
  const { settings, specials, signal } = opts;
  const B = settings.beams;
  let live: (Hypothesis | null)[] = [{ tokens: [], score: 0, closed: [], segStart: 0 }];
  while (live.length < B) {
    live.push(null);
  }
  let inputs: number[] = new Array<number>(B).fill(specials.bos);
  let parents: number[] | null = null;
  const finished: FinishedHyp[] = [];
  // Hypotheses no token could extend; the result only when nothing else finishes (open segment dropped).
  const deadEnds: FinishedHyp[] = [];
  let steps = 0;
  let hitCap = true;
  for (let len = 0; len < settings.maxNewTokens; len++) {
    checkSignal(signal);
    const lp = await model.step(inputs, parents);
    steps++;
    checkSignal(signal);
    const V = lp.length / B;
    let candidates: Candidate[] = [];
    for (let r = 0; r < B; r++) {
      const hyp = live[r];
      if (hyp === null) {
        continue;
      }
      const row = lp.slice(r * V, (r + 1) * V); // a copy: the rules write -inf into it
      applyRules(row, hyp, opts);
      const top = topK(row, hyp.score, r, 2 * B);
      if (top.length === 0 && hyp.tokens.length > 0) {
        deadEnds.push({ hyp, normScore: hyp.score / hyp.tokens.length });
      }
      candidates = candidates.concat(top);
    }
    candidates.sort((a, b) => (better(a, b) ? -1 : better(b, a) ? 1 : 0));
    const next: (Hypothesis | null)[] = [];
    const nextInputs: number[] = [];
    const nextParents: number[] = [];
    for (const c of candidates) {
      if (next.length === B) {
        break;
      }
      const hyp = extend(live[c.beam]!, c.token, c.logprob, opts);
      if (c.token === specials.eos) {
        finished.push({ hyp, normScore: hyp.score / hyp.tokens.length });
        continue;
      }
      next.push(hyp);
      nextInputs.push(c.token);
      nextParents.push(c.beam);
    }
    while (next.length < B) {
      next.push(null);
      nextInputs.push(inputs[0]);
      nextParents.push(0);
    }
    if (B === 1 && opts.onSegments && next[0] !== null && nextInputs[0] === specials.sep) {
      opts.onSegments(splitSegments(next[0].tokens, specials));
    }
    live = next;
    inputs = nextInputs;
    parents = nextParents;
    if (finished.length >= B || live.every((h) => h === null)) {
      hitCap = false;
      break;
    }
    await yieldToEventLoop();
  }
  if (hitCap) {
    // maxNewTokens reached: live hypotheses compete as they are (their open segment is dropped).
    for (const hyp of live) {
      if (hyp !== null && hyp.tokens.length > 0) {
        finished.push({ hyp, normScore: hyp.score / hyp.tokens.length });
      }
    }
  }
  const pool = finished.length > 0 ? finished : deadEnds;
  if (pool.length === 0) {
    return { tokens: [], segments: [], finished: false, steps };
  }
  // Highest score/length; a tie keeps the hypothesis that finished first.
  let best = pool[0];
  for (const f of pool) {
    if (f.normScore > best.normScore) {
      best = f;
    }
  }
  const last = best.hyp.tokens[best.hyp.tokens.length - 1];
  return result(best.hyp, last === specials.eos, steps, specials);
}

interface Candidate {
  score: number;
  token: number;
  beam: number;
  logprob: number;
}

/** Candidate order of the doc: higher score, then lower token id, then lower beam index. */
function better(a: Candidate, b: Candidate): boolean {
  if (a.score !== b.score) {
    return a.score > b.score;
  }
  if (a.token !== b.token) {
    return a.token < b.token;
  }
  return a.beam < b.beam;
}

/** The k best tokens of one row by (score + logprob) with the tie rules, best first. */
function topK(row: Float32Array, hypScore: number, beam: number, k: number): Candidate[] {
  const top: Candidate[] = [];
  for (let t = 0; t < row.length; t++) {
    const lp = row[t];
    if (lp === -Infinity || Number.isNaN(lp)) {
      continue;
    }
    const score = hypScore + lp;
    // Tokens run in increasing id, so a candidate that only ties the current k-th cannot beat it.
    if (top.length === k && score <= top[k - 1].score) {
      continue;
    }
    const c: Candidate = { score, token: t, beam, logprob: lp };
    let i = top.length < k ? top.length : k - 1;
    top[i] = c;
    while (i > 0 && better(top[i], top[i - 1])) {
      [top[i], top[i - 1]] = [top[i - 1], top[i]];
      i--;
    }
  }
  return top;
}

interface FinishedHyp {
  hyp: Hypothesis;
  /** score / generated length (length penalty 1.0). */
  normScore: number;
}
