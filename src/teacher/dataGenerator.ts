// Grows training data with the GSM8K-AI-SubQ recipe (see /work/shared/guides/paper.md): for every
// problem, K sub-question sets sampled from the teacher, the teacher answering each set (correctness
// against the gold answer), and yes/no usefulness votes per sub-question from several judges.
// Output: one training record per line, appended per problem, so an interrupted run resumes.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { sameNumber } from '../core/numbers';
import { MAX_PROBLEM_CHARS } from '../core/problemInput';
import { UserFacingError, type UserErrorCode } from '../core/types';
import { answerMessages, decompositionMessages, judgeMessages } from './prompts';
import { type ChatMessage, TeacherClient, type TeacherConfig } from './teacherClient';
import { completeLines, DECOMPOSE_MAX_CHARS, DECOMPOSE_MAX_TOKENS, subQuestionsFromReply } from './teacherDecomposer';

export interface InputProblem {
  id: string;
  problem: string;
  /** Gold final answer, when the input has one. */
  gold: number | null;
}

/**
 * One line of the output: the GSM8K-AI-SubQ training format, shaped like the feedback export
 * (src/core/feedbackRecord.ts): `rewards` holds exactly the paper's two keys (its ILQL loader sums
 * every key there), and our extras live in `meta`, which the paper's loaders ignore.
 */
export interface TrainingRecord {
  question: string;
  answers: string[];
  rewards: {
    /** 1 when the teacher, answering these sub-questions, reached the gold answer; 0 otherwise or without gold. */
    answer_correctness: 0 | 1;
    /** Share of judges who found each sub-question useful: 0, 1/3, 2/3 or 1 with 3 judges. */
    usefulness: number[];
  };
  /** The gold answer; absent when the input has none. */
  true_answer?: number;
  meta: {
    /** The input id (or a hash of the problem): what a resumed run skips. */
    id: string;
    source: 'teacher';
    model: string;
    /** `gold`: correctness measured against true_answer; `none`: no gold, so 0 (Filtered BC drops it). */
    answerCorrectnessFrom: 'gold' | 'none';
    /** The number after the teacher's `Final answer:`, if any. */
    teacherAnswer: number | null;
  };
}

export interface GeneratorOptions {
  inputPath: string;
  outputPath: string;
  teacher: TeacherConfig;
  /** Sub-question sets per problem (the paper: 3). */
  sets: number;
  /** Usefulness judges per set (the paper: 3). */
  judges: number;
  /** Requests (and problems) in flight at once. */
  concurrency: number;
  /** Request starts per minute; 0 = no limit. */
  requestsPerMinute: number;
  /** Sampling temperature of the sub-question sets and the judges (the paper: 0.7). */
  temperature: number;
  maxQuestions: number;
  /** Process at most this many not-yet-done problems. */
  limit?: number;
  signal?: AbortSignal;
  log: (line: string) => void;
}

export interface GeneratorSummary {
  problems: number;
  alreadyDone: number;
  done: number;
  failed: number;
  recordsWritten: number;
  requests: number;
  /** The error that stopped the run early (wrong key, unknown model, unreachable, cancelled). */
  stoppedBy?: { code: UserErrorCode; message: string };
}

/** Errors that would fail every remaining problem the same way: stop instead of hammering. */
const FATAL: ReadonlySet<UserErrorCode> = new Set<UserErrorCode>([
  'teacher-auth',
  'teacher-model-not-found',
  'teacher-unreachable',
  'teacher-not-configured',
  'cancelled',
]);

/** `#### 1,234` (GSM8K), `"1234"`, `1234` or `"$1,234"` -> 1234; anything else -> null. */
export function parseGoldAnswer(answer: unknown): number | null {
  if (typeof answer === 'number') {
    return Number.isFinite(answer) ? answer : null;
  }
  if (typeof answer !== 'string') {
    return null;
  }
  const marker = answer.lastIndexOf('####');
  const tail = (marker >= 0 ? answer.slice(marker + 4) : answer).replace(/[\s,$]/g, '');
  if (!/^[-+]?(\d+\.?\d*|\.\d+)$/.test(tail)) {
    return null;
  }
  return Number(tail);
}

/** The number after the last `Final answer:` in a reply (thousands separators and `$` allowed). */
export function parseFinalAnswer(reply: string): number | undefined {
  const pattern = /final answer\s*(?:is)?\s*[:=]?[\s*_]*(-?)\s*\$?\s*(-?\d[\d,]*(?:\.\d+)?)/gi;
  let last: RegExpExecArray | undefined;
  for (const match of reply.matchAll(pattern)) {
    last = match;
  }
  if (!last) {
    return undefined;
  }
  const value = Number(`${last[1]}${last[2].replace(/,/g, '')}`);
  return Number.isFinite(value) ? value : undefined;
}

/** One judge's yes/no per sub-question; a missing or unreadable vote counts as "no". */
export function parseVotes(reply: string, count: number): boolean[] {
  const votes = new Array<boolean>(count).fill(false);
  for (const line of reply.split(/\r?\n/)) {
    const match = /^[\s*_>-]*q?\s*(\d{1,2})\s*[:.)-]?[\s*_]*(yes|no)\b/i.exec(line);
    if (match) {
      const index = Number(match[1]) - 1;
      if (index >= 0 && index < count) {
        votes[index] = match[2].toLowerCase() === 'yes';
      }
    }
  }
  return votes;
}

function problemId(problem: string): string {
  return `p-${createHash('sha256').update(problem).digest('hex').slice(0, 16)}`;
}

/** Reads `{"id","problem","answer"?}` or GSM8K `{"question","answer"}` lines. */
export function readProblems(path: string): InputProblem[] {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch {
    throw new UserFacingError(`Cannot read the problem file ${path}.`, 'bad-argument');
  }
  const problems: InputProblem[] = [];
  text.split('\n').forEach((line, index) => {
    if (!line.trim()) {
      return;
    }
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new UserFacingError(`${path} line ${index + 1} is not valid JSON.`, 'bad-argument');
    }
    const problem = typeof record.problem === 'string' ? record.problem : record.question;
    if (typeof problem !== 'string' || !problem.trim()) {
      throw new UserFacingError(`${path} line ${index + 1} has no "problem" or "question" text.`, 'bad-argument');
    }
    const id = typeof record.id === 'string' || typeof record.id === 'number' ? String(record.id) : problemId(problem.trim());
    problems.push({ id, problem: problem.trim(), gold: parseGoldAnswer(record.answer) });
  });
  return problems;
}

/**
 * Ids already in the output. A torn last line (the process died mid-write) is cut off, so the
 * file stays one valid JSON object per line.
 */
export function readDoneIds(path: string, log: (line: string) => void): Set<string> {
  const done = new Set<string>();
  if (!fs.existsSync(path)) {
    return done;
  }
  const bytes = fs.readFileSync(path);
  const end = bytes.lastIndexOf(0x0a) + 1;
  if (end < bytes.length) {
    fs.truncateSync(path, end);
    log(`Removed an incomplete last line from ${path} (an earlier run was interrupted).`);
  }
  for (const line of bytes.subarray(0, end).toString('utf8').split('\n')) {
    if (!line.trim()) {
      continue;
    }
    try {
      const record = JSON.parse(line) as { meta?: { id?: unknown }; question?: unknown };
      if (typeof record.meta?.id === 'string') {
        done.add(record.meta.id);
      } else if (typeof record.question === 'string') {
        done.add(problemId(record.question.trim()));
      }
    } catch {
      log(`Ignoring an unreadable line in ${path}.`);
    }
  }
  return done;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Bounds requests in flight and spaces their starts (requests per minute). */
export class RequestLimiter {
  private active = 0;
  private nextStartAt = 0;
  private readonly waiting: Array<() => void> = [];
  started = 0;

  constructor(
    private readonly maxConcurrent: number,
    private readonly minIntervalMs: number,
  ) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    while (this.active >= this.maxConcurrent) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.active++;
    try {
      const now = Date.now();
      const startAt = Math.max(now, this.nextStartAt);
      this.nextStartAt = startAt + this.minIntervalMs;
      if (startAt > now) {
        await sleep(startAt - now);
      }
      this.started++;
      return await task();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

class ProblemFailed extends Error {}

export async function generateTeacherData(options: GeneratorOptions): Promise<GeneratorSummary> {
  const { log } = options;
  const client = new TeacherClient(options.teacher);
  const problems = readProblems(options.inputPath);
  try {
    // Fail now, not after the first problem has cost requests.
    fs.closeSync(fs.openSync(options.outputPath, 'a'));
  } catch {
    throw new UserFacingError(`Cannot write to the output file ${options.outputPath}.`, 'bad-argument');
  }
  const doneIds = readDoneIds(options.outputPath, log);
  const seen = new Set<string>();
  const todo: InputProblem[] = [];
  for (const problem of problems) {
    if (doneIds.has(problem.id) || seen.has(problem.id)) {
      continue;
    }
    seen.add(problem.id);
    if (problem.problem.length > MAX_PROBLEM_CHARS) {
      log(`Skipping ${problem.id}: longer than ${MAX_PROBLEM_CHARS} characters.`);
      continue;
    }
    todo.push(problem);
  }
  const queue = options.limit !== undefined ? todo.slice(0, options.limit) : todo;
  const summary: GeneratorSummary = {
    problems: problems.length,
    alreadyDone: problems.filter((p) => doneIds.has(p.id)).length,
    done: 0,
    failed: 0,
    recordsWritten: 0,
    requests: 0,
  };
  log(`${queue.length} problems to do, ${summary.alreadyDone} already in ${options.outputPath}.`);

  const limiter = new RequestLimiter(options.concurrency, options.requestsPerMinute > 0 ? 60_000 / options.requestsPerMinute : 0);
  // One controller stops everything: the caller's signal, or a fatal error in any request.
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) {
    stop.abort();
  }

  const ask = async (messages: ChatMessage[], temperature: number, maxTokens: number, maxChars: number) => {
    const result = await limiter.run(() => client.complete({ messages, temperature, maxTokens, maxChars, signal: stop.signal }));
    summary.requests += result.attempts;
    return result;
  };

  const sampleSet = async (problem: InputProblem): Promise<string[] | undefined> => {
    try {
      const result = await ask(decompositionMessages(problem.problem, options.maxQuestions), options.temperature, DECOMPOSE_MAX_TOKENS, DECOMPOSE_MAX_CHARS);
      const questions = subQuestionsFromReply(result.cutOff ? completeLines(result.text) : result.text, problem.problem, options.maxQuestions);
      return questions.length > 0 ? questions : undefined;
    } catch (err) {
      // A sampled set that is not a decomposition is dropped, like an unlucky sample.
      if (err instanceof UserFacingError && err.code === 'teacher-bad-reply') {
        return undefined;
      }
      throw err;
    }
  };

  const scoreSet = async (problem: InputProblem, questions: string[]): Promise<TrainingRecord> => {
    const [answer, ...judges] = await Promise.all([
      ask(answerMessages(problem.problem, questions), 0, 800, 6000),
      ...Array.from({ length: options.judges }, () => ask(judgeMessages(problem.problem, questions), options.temperature, 200, 2000)),
    ]);
    const final = parseFinalAnswer(answer.text) ?? null;
    const correctness: 0 | 1 = problem.gold !== null && final !== null && sameNumber(final, problem.gold) ? 1 : 0;
    const votes = judges.map((judge) => parseVotes(judge.text, questions.length));
    const usefulness = questions.map((_, i) => votes.filter((v) => v[i]).length / options.judges);
    return {
      question: problem.problem,
      answers: questions,
      rewards: { answer_correctness: correctness, usefulness },
      ...(problem.gold !== null ? { true_answer: problem.gold } : {}),
      meta: {
        id: problem.id,
        source: 'teacher',
        model: client.model,
        answerCorrectnessFrom: problem.gold !== null ? 'gold' : 'none',
        teacherAnswer: final,
      },
    };
  };

  const processProblem = async (problem: InputProblem): Promise<TrainingRecord[]> => {
    const sets = await Promise.all(Array.from({ length: options.sets }, () => sampleSet(problem)));
    const usable = sets.filter((s): s is string[] => s !== undefined);
    if (usable.length === 0) {
      throw new ProblemFailed('no reply contained sub-questions');
    }
    return Promise.all(usable.map((questions) => scoreSet(problem, questions)));
  };

  let next = 0;
  const worker = async () => {
    while (!stop.signal.aborted && next < queue.length) {
      const problem = queue[next++];
      try {
        const records = await processProblem(problem);
        // One write per problem: either all of its sets are in the file or none (resume redoes it).
        fs.appendFileSync(options.outputPath, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
        summary.done++;
        summary.recordsWritten += records.length;
        const correct = records.filter((r) => r.rewards.answer_correctness === 1).length;
        log(`[${summary.done + summary.failed}/${queue.length}] ${problem.id}: ${records.length} sets` + (problem.gold !== null ? `, ${correct} answered correctly` : ''));
      } catch (err) {
        if (err instanceof UserFacingError && FATAL.has(err.code)) {
          if (!summary.stoppedBy) {
            summary.stoppedBy = { code: err.code, message: err.message };
          }
          stop.abort();
          return;
        }
        if (!(err instanceof UserFacingError) && !(err instanceof ProblemFailed)) {
          throw err;
        }
        summary.failed++;
        log(`[${summary.done + summary.failed}/${queue.length}] ${problem.id}: failed (${err.message}); a later run retries it.`);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency, queue.length)) }, worker));
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  if (options.signal?.aborted && !summary.stoppedBy) {
    summary.stoppedBy = { code: 'cancelled', message: 'Interrupted; run again to resume.' };
  }
  return summary;
}
