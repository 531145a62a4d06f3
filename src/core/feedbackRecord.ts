// Learner feedback as offline-RL data. Pure: the event types written to the feedback log (one JSON
// line per event), their strict parser, the fold of events into one record per decomposition, and
// the conversion to the GSM8K-AI-SubQ training format. The log itself (files, rotation, multi-process
// appends) lives in src/feedback/. Design notes: docs/feedback.md.

import type { DecodingSettings, Decomposition, DecomposerKind } from './types';

/** Written into every line as `v`. Bump it when a field changes meaning; the parser refuses others. */
export const FEEDBACK_SCHEMA_VERSION = 1;

/** A line longer than this is refused by the writer and reported by the reader (never loaded). */
export const MAX_FEEDBACK_LINE_BYTES = 256 * 1024;
const MAX_TEXT = 20_000;
const MAX_SHORT_TEXT = 2_000;
const MAX_SUB_QUESTIONS = 100;
const MAX_ID = 128;

/** +1 thumbs up, -1 thumbs down. */
export type Vote = 1 | -1;
/** In an event, 0 withdraws an earlier vote on the same target. */
export type VoteValue = Vote | 0;
export type VoteTarget = 'overall' | number;

export interface FeedbackSource {
  kind: DecomposerKind;
  /** `name@version` of the local model, or the teacher's model id. */
  model: string;
  /** Execution provider (`cpu`, `cuda`, ...) or `remote` for the teacher. */
  device: string;
}

interface EventBase {
  v: typeof FEEDBACK_SCHEMA_VERSION;
  /** The decomposition this event belongs to. */
  id: string;
  /** ISO 8601 UTC, e.g. 2026-11-27T03:50:00.000Z. */
  time: string;
}

/** A decomposition was shown to the learner. Every other event refers to one of these by `id`. */
export interface ShownEvent extends EventBase {
  type: 'shown';
  problem: string;
  subQuestions: string[];
  source: FeedbackSource;
  decoding?: DecodingSettings;
  /** The problem's known numeric answer (dataset problems only). Exported as `true_answer`. */
  trueAnswer?: number;
}

/** A thumbs up/down (or its withdrawal) on one sub-question or on the whole decomposition. */
export interface VoteEvent extends EventBase {
  type: 'vote';
  /** 0-based sub-question index, or `overall`. */
  target: VoteTarget;
  vote: VoteValue;
  /** Only on `overall` votes: the learner's optional free-text reason. */
  reason?: string;
}

/** The learner answered a step (`step` = sub-question index) or the whole problem (`final`). */
export interface AnswerEvent extends EventBase {
  type: 'answer';
  step: number | 'final';
  /** Verbatim learner text. */
  answer: string;
  /** Its evaluated value when it is arithmetic ("13" for "16-3-4"). */
  value?: string;
  /** Set only when the answer was actually checked: by the teacher ("Check with teacher") or against a known answer. */
  correct?: boolean;
}

export type FeedbackEvent = ShownEvent | VoteEvent | AnswerEvent;

export interface StepAnswer {
  answer: string;
  value?: string;
  correct?: boolean;
}

/** One decomposition with every piece of feedback it received, folded from its events. */
export interface FeedbackRecord {
  schemaVersion: typeof FEEDBACK_SCHEMA_VERSION;
  id: string;
  /** When it was shown. */
  time: string;
  /** Time of the latest event folded in. */
  updated: string;
  problem: string;
  subQuestions: string[];
  source: FeedbackSource;
  decoding?: DecodingSettings;
  trueAnswer?: number;
  /** One entry per sub-question; null = no vote. */
  votes: (Vote | null)[];
  overall: Vote | null;
  reason?: string;
  /** One entry per sub-question; null = not answered. */
  stepAnswers: (StepAnswer | null)[];
  finalAnswer?: StepAnswer;
}

// ---------------------------------------------------------------------------------------------
// Constructors (throw on caller bugs; the strings are checked with the same rules as the parser,
// so whatever is written can be read back)

export function ratingToVote(rating: 'up' | 'down'): Vote {
  return rating === 'up' ? 1 : -1;
}

export function shownEvent(
  decomposition: Pick<Decomposition, 'problem' | 'subQuestions' | 'source' | 'model' | 'device' | 'decoding'>,
  id: string,
  time: Date,
  trueAnswer?: number,
): ShownEvent {
  const event: ShownEvent = {
    v: FEEDBACK_SCHEMA_VERSION,
    type: 'shown',
    id,
    time: time.toISOString(),
    problem: decomposition.problem,
    subQuestions: [...decomposition.subQuestions],
    source: { kind: decomposition.source, model: decomposition.model, device: decomposition.device },
    ...(decomposition.decoding ? { decoding: { ...decomposition.decoding } } : {}),
    ...(trueAnswer !== undefined ? { trueAnswer } : {}),
  };
  return checked(event);
}

export function voteEvent(id: string, time: Date, target: VoteTarget, vote: VoteValue, reason?: string): VoteEvent {
  const trimmed = reason?.trim();
  return checked({
    v: FEEDBACK_SCHEMA_VERSION,
    type: 'vote',
    id,
    time: time.toISOString(),
    target,
    vote,
    ...(trimmed ? { reason: trimmed } : {}),
  });
}

export function answerEvent(
  id: string,
  time: Date,
  step: number | 'final',
  answer: string,
  extra: { value?: string; correct?: boolean } = {},
): AnswerEvent {
  return checked({
    v: FEEDBACK_SCHEMA_VERSION,
    type: 'answer',
    id,
    time: time.toISOString(),
    step,
    answer,
    ...(extra.value !== undefined ? { value: extra.value } : {}),
    ...(extra.correct !== undefined ? { correct: extra.correct } : {}),
  });
}

function checked<T extends FeedbackEvent>(event: T): T {
  const problem = validateEvent(event);
  if (problem) {
    throw new Error(`invalid feedback event: ${problem}`);
  }
  return event;
}

/** The exact line written to the log for an event (with its trailing newline). */
export function serializeFeedbackEvent(event: FeedbackEvent): string {
  return JSON.stringify(event) + '\n';
}

// ---------------------------------------------------------------------------------------------
// Strict parser

export type ParseResult = { ok: true; record: FeedbackEvent } | { ok: false; reason: string };

/**
 * Parses one log line (without its newline). Strict: unknown schema versions, unknown or missing
 * fields and out-of-range values are refused with a one-line reason, so a corrupt line is never
 * half-used as training data.
 */
export function parseFeedbackLine(line: string): ParseResult {
  if (line.length > MAX_FEEDBACK_LINE_BYTES) {
    return { ok: false, reason: `line longer than ${MAX_FEEDBACK_LINE_BYTES} characters` };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (err) {
    return { ok: false, reason: `not JSON (${err instanceof Error ? err.message : String(err)})` };
  }
  const problem = validateEvent(raw);
  return problem ? { ok: false, reason: problem } : { ok: true, record: raw as FeedbackEvent };
}

/**
 * A line cut short by a killed writer: it starts like one of ours but does not end like a JSON
 * object. Used to report torn lines apart from other corruption.
 */
export function looksTorn(line: string): boolean {
  const text = line.trim();
  return text.startsWith('{') && !text.endsWith('}');
}

type Obj = Record<string, unknown>;

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function extraKeys(obj: Obj, allowed: readonly string[]): string | undefined {
  const extra = Object.keys(obj).filter((k) => !allowed.includes(k));
  return extra.length ? `unknown field(s): ${extra.join(', ')}` : undefined;
}

function textProblem(value: unknown, name: string, max: number, allowEmpty = false): string | undefined {
  if (typeof value !== 'string') {
    return `${name} must be a string`;
  }
  if (!allowEmpty && value.trim() === '') {
    return `${name} is empty`;
  }
  return value.length > max ? `${name} longer than ${max} characters` : undefined;
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

function isIndex(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < MAX_SUB_QUESTIONS;
}

function isPositiveInt(value: unknown): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1;
}

function decodingProblem(value: unknown): string | undefined {
  if (!isObj(value)) {
    return 'decoding must be an object';
  }
  const extra = extraKeys(value, ['beams', 'maxQuestions', 'maxNewTokens', 'noRepeatNgram']);
  if (extra) {
    return `decoding: ${extra}`;
  }
  if (!isPositiveInt(value.beams) || !isPositiveInt(value.maxQuestions) || !isPositiveInt(value.maxNewTokens)) {
    return 'decoding.beams, maxQuestions and maxNewTokens must be positive integers';
  }
  const n = value.noRepeatNgram;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 ? undefined : 'decoding.noRepeatNgram must be >= 0';
}

/** Returns why `raw` is not a valid v1 event, or undefined when it is. */
function validateEvent(raw: unknown): string | undefined {
  if (!isObj(raw)) {
    return 'not a JSON object';
  }
  if (raw.v !== FEEDBACK_SCHEMA_VERSION) {
    return raw.v === undefined ? 'missing schema version v' : `unsupported schema version ${JSON.stringify(raw.v)}`;
  }
  const idProblem = textProblem(raw.id, 'id', MAX_ID);
  if (idProblem) {
    return idProblem;
  }
  if (typeof raw.time !== 'string' || !ISO_TIME.test(raw.time) || Number.isNaN(Date.parse(raw.time))) {
    return 'time must be an ISO 8601 UTC timestamp';
  }
  switch (raw.type) {
    case 'shown':
      return validateShown(raw);
    case 'vote':
      return validateVote(raw);
    case 'answer':
      return validateAnswer(raw);
    default:
      return `unknown event type ${JSON.stringify(raw.type)}`;
  }
}

function validateShown(raw: Obj): string | undefined {
  const extra = extraKeys(raw, ['v', 'type', 'id', 'time', 'problem', 'subQuestions', 'source', 'decoding', 'trueAnswer']);
  if (extra) {
    return extra;
  }
  const problemText = textProblem(raw.problem, 'problem', MAX_TEXT);
  if (problemText) {
    return problemText;
  }
  const qs = raw.subQuestions;
  if (!Array.isArray(qs) || qs.length === 0 || qs.length > MAX_SUB_QUESTIONS) {
    return `subQuestions must be a list of 1-${MAX_SUB_QUESTIONS} strings`;
  }
  for (const [i, q] of qs.entries()) {
    const p = textProblem(q, `subQuestions[${i}]`, MAX_SHORT_TEXT);
    if (p) {
      return p;
    }
  }
  const source = raw.source;
  if (!isObj(source)) {
    return 'source must be an object';
  }
  const sourceExtra = extraKeys(source, ['kind', 'model', 'device']);
  if (sourceExtra) {
    return `source: ${sourceExtra}`;
  }
  if (source.kind !== 'local' && source.kind !== 'teacher') {
    return 'source.kind must be local or teacher';
  }
  const sp = textProblem(source.model, 'source.model', MAX_SHORT_TEXT) ?? textProblem(source.device, 'source.device', MAX_SHORT_TEXT);
  if (sp) {
    return sp;
  }
  if (raw.decoding !== undefined) {
    const dp = decodingProblem(raw.decoding);
    if (dp) {
      return dp;
    }
  }
  if (raw.trueAnswer !== undefined && (typeof raw.trueAnswer !== 'number' || !Number.isFinite(raw.trueAnswer))) {
    return 'trueAnswer must be a finite number';
  }
  return undefined;
}

function validateVote(raw: Obj): string | undefined {
  const extra = extraKeys(raw, ['v', 'type', 'id', 'time', 'target', 'vote', 'reason']);
  if (extra) {
    return extra;
  }
  if (raw.target !== 'overall' && !isIndex(raw.target)) {
    return 'target must be "overall" or a sub-question index';
  }
  if (raw.vote !== 1 && raw.vote !== -1 && raw.vote !== 0) {
    return 'vote must be 1, -1 or 0';
  }
  if (raw.reason !== undefined) {
    if (raw.target !== 'overall') {
      return 'reason is only allowed on overall votes';
    }
    return textProblem(raw.reason, 'reason', MAX_SHORT_TEXT);
  }
  return undefined;
}

function validateAnswer(raw: Obj): string | undefined {
  const extra = extraKeys(raw, ['v', 'type', 'id', 'time', 'step', 'answer', 'value', 'correct']);
  if (extra) {
    return extra;
  }
  if (raw.step !== 'final' && !isIndex(raw.step)) {
    return 'step must be "final" or a sub-question index';
  }
  const ap = textProblem(raw.answer, 'answer', MAX_SHORT_TEXT, true);
  if (ap) {
    return ap;
  }
  if (raw.value !== undefined) {
    const vp = textProblem(raw.value, 'value', MAX_SHORT_TEXT, true);
    if (vp) {
      return vp;
    }
  }
  return raw.correct === undefined || typeof raw.correct === 'boolean' ? undefined : 'correct must be a boolean';
}

// ---------------------------------------------------------------------------------------------
// Fold: events (in log order) -> one record per decomposition

/** Where an event came from, for problem reports. */
export interface EventPosition {
  file: string;
  /** 1-based. */
  line: number;
}

export interface PositionedEvent {
  event: FeedbackEvent;
  at: EventPosition;
}

export interface FoldProblem extends EventPosition {
  kind: 'orphan' | 'duplicate' | 'invalid';
  reason: string;
}

export interface FoldResult {
  records: FeedbackRecord[];
  problems: FoldProblem[];
}

/**
 * Folds events into records, oldest first. `shown` events make records (the first per id wins); votes and
 * answers are applied in time order (ties: log order), so the latest vote on a target wins whatever
 * file a rotation put it in. Events for an unknown id (their `shown` line was lost) are reported as
 * orphans; an index beyond the decomposition's sub-questions is reported as invalid.
 */
export function foldFeedbackEvents(events: readonly PositionedEvent[]): FoldResult {
  const problems: FoldProblem[] = [];
  const byId = new Map<string, FeedbackRecord>();
  const updates: { e: VoteEvent | AnswerEvent; at: EventPosition; t: number; seq: number }[] = [];
  events.forEach(({ event, at }, seq) => {
    if (event.type !== 'shown') {
      updates.push({ e: event, at, t: Date.parse(event.time), seq });
      return;
    }
    if (byId.has(event.id)) {
      problems.push({ ...at, kind: 'duplicate', reason: `decomposition ${event.id} was already logged` });
      return;
    }
    byId.set(event.id, {
      schemaVersion: FEEDBACK_SCHEMA_VERSION,
      id: event.id,
      time: event.time,
      updated: event.time,
      problem: event.problem,
      subQuestions: [...event.subQuestions],
      source: { ...event.source },
      ...(event.decoding ? { decoding: { ...event.decoding } } : {}),
      ...(event.trueAnswer !== undefined ? { trueAnswer: event.trueAnswer } : {}),
      votes: event.subQuestions.map(() => null),
      overall: null,
      stepAnswers: event.subQuestions.map(() => null),
    });
  });
  updates.sort((a, b) => a.t - b.t || a.seq - b.seq);
  for (const { e, at } of updates) {
    const record = byId.get(e.id);
    if (!record) {
      problems.push({ ...at, kind: 'orphan', reason: `${e.type} for unknown decomposition ${e.id}` });
      continue;
    }
    const index = e.type === 'vote' ? e.target : e.step;
    if (typeof index === 'number' && index >= record.subQuestions.length) {
      problems.push({ ...at, kind: 'invalid', reason: `step ${index} out of range (${record.subQuestions.length} sub-questions)` });
      continue;
    }
    if (e.type === 'vote') {
      const vote = e.vote === 0 ? null : e.vote;
      if (e.target === 'overall') {
        record.overall = vote;
        if (vote === null) {
          delete record.reason;
        } else if (e.reason !== undefined) {
          record.reason = e.reason;
        }
      } else {
        record.votes[e.target] = vote;
      }
    } else {
      const answer: StepAnswer = {
        answer: e.answer,
        ...(e.value !== undefined ? { value: e.value } : {}),
        ...(e.correct !== undefined ? { correct: e.correct } : {}),
      };
      if (e.step === 'final') {
        record.finalAnswer = answer;
      } else {
        record.stepAnswers[e.step] = answer;
      }
    }
    if (Date.parse(e.time) > Date.parse(record.updated)) {
      record.updated = e.time;
    }
  }
  // Oldest first; ties keep log order (Array.prototype.sort is stable).
  const records = [...byId.values()].sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
  return { records, problems };
}

// ---------------------------------------------------------------------------------------------
// GSM8K-AI-SubQ training format

/**
 * One training example, as in the paper's `qg_*_dataset.jsonl`. `rewards` holds exactly the two
 * keys the paper's code reads (its ILQL loader sums every key of `rewards`, so nothing else may go
 * there); our own extras live in `meta`, which the paper's loaders ignore.
 */
export interface TrainingExample {
  question: string;
  answers: string[];
  rewards: { answer_correctness: 0 | 1; usefulness: number[] };
  true_answer?: number;
  meta: {
    id: string;
    time: string;
    source: DecomposerKind;
    model: string;
    device: string;
    /** The raw per-sub-question votes, so a trainer can mask unvoted steps itself. */
    votes: (Vote | null)[];
    overall: Vote | null;
    answerCorrectnessFrom: AnswerCorrectnessSource;
    reason?: string;
  };
}

export type AnswerCorrectnessSource = 'checked-answer' | 'overall-vote' | 'none';

export interface TrainingOptions {
  /** usefulness of a sub-question nobody voted on; default 0.5 (no information either way). */
  unvotedUsefulness?: number;
}

export const DEFAULT_UNVOTED_USEFULNESS = 0.5;

/** A record with no vote and no checked answer carries no training signal. */
export function hasFeedback(record: FeedbackRecord): boolean {
  return record.overall !== null || record.votes.some((v) => v !== null) || checkedAnswer(record) !== undefined;
}

/**
 * The learner's checked answer to the whole problem: the `final` answer if it was checked, else
 * the checked answer to the last sub-question (which is the problem's own question).
 */
function checkedAnswer(record: FeedbackRecord): boolean | undefined {
  const last = record.stepAnswers[record.stepAnswers.length - 1];
  return record.finalAnswer?.correct ?? last?.correct;
}

/**
 * Converts a folded record. usefulness: +1 -> 1, -1 -> 0, no vote -> `unvotedUsefulness`.
 * answer_correctness: the learner's checked answer when there is one (it measures the outcome the
 * paper's reward measures), else the overall vote (+1 -> 1, -1 -> 0), else 0 — so Filtered BC,
 * which keeps answer_correctness = 1 only, never trains on a set nobody confirmed.
 */
export function toTrainingExample(record: FeedbackRecord, options: TrainingOptions = {}): TrainingExample {
  const unvoted = options.unvotedUsefulness ?? DEFAULT_UNVOTED_USEFULNESS;
  if (!(unvoted >= 0 && unvoted <= 1)) {
    throw new Error(`unvotedUsefulness must be within [0, 1], got ${unvoted}`);
  }
  const checkedResult = checkedAnswer(record);
  let correctness: 0 | 1 = 0;
  let from: AnswerCorrectnessSource = 'none';
  if (checkedResult !== undefined) {
    correctness = checkedResult ? 1 : 0;
    from = 'checked-answer';
  } else if (record.overall !== null) {
    correctness = record.overall === 1 ? 1 : 0;
    from = 'overall-vote';
  }
  return {
    question: record.problem,
    answers: [...record.subQuestions],
    rewards: {
      answer_correctness: correctness,
      usefulness: record.votes.map((v) => (v === null ? unvoted : v === 1 ? 1 : 0)),
    },
    ...(record.trueAnswer !== undefined ? { true_answer: record.trueAnswer } : {}),
    meta: {
      id: record.id,
      time: record.time,
      source: record.source.kind,
      model: record.source.model,
      device: record.source.device,
      votes: [...record.votes],
      overall: record.overall,
      answerCorrectnessFrom: from,
      ...(record.reason !== undefined ? { reason: record.reason } : {}),
    },
  };
}
