// The teacher's help during a lesson: a hint for a step, a check of the learner's answer, and a
// one-sentence explanation of a quantity. Replies are cached per (problem, request) because the
// panel and hover ask the same things again as the learner moves back and forth.
import { type AnswerCheck, type AnswerVerdict, UserFacingError } from '../core/types';
import { LruCache } from './lru';
import { checkMessages, explainMessages, hintMessages } from './prompts';
import { type ChatMessage, TeacherClient, type TeacherConfig } from './teacherClient';

export interface TeacherAssistantOptions {
  /** Replies kept in memory (default 200). */
  cacheSize?: number;
}

const HINT_MAX_CHARS = 500;
const EXPLANATION_MAX_CHARS = 500;
const SENTENCE_MAX_CHARS = 300;
const LEARNER_ANSWER_MAX_CHARS = 500;

/** One line of plain text: no control characters, collapsed white space, at most `max` characters. */
function plainText(text: string, max: number): string {
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  if (flat.length <= max) {
    return flat;
  }
  const cut = flat.slice(0, max);
  const sentenceEnd = Math.max(cut.lastIndexOf('. '), cut.lastIndexOf('? '), cut.lastIndexOf('! '));
  return sentenceEnd > max / 2 ? cut.slice(0, sentenceEnd + 1) : `${cut.replace(/\s+\S*$/, '')}…`;
}

/** First sentence of a reply (the model may add more despite being asked for one). */
export function firstSentence(text: string): string {
  const flat = plainText(text, 10_000);
  const match = /^.*?[.!?](?=\s|$)/.exec(flat);
  return plainText(match ? match[0] : flat, SENTENCE_MAX_CHARS);
}

/** Reads `Verdict: ...` / `Explanation: ...`; undefined when there is no verdict line. */
export function parseAnswerCheck(reply: string): AnswerCheck | undefined {
  const verdict = /^[\s*_#>-]*verdict[\s*_]*:[\s*_]*(correct|incorrect|unsure)\b/im.exec(reply);
  if (!verdict) {
    return undefined;
  }
  const explained = /^[\s*_#>-]*explanation[\s*_]*:[\s*_]*([\s\S]*)$/im.exec(reply);
  const rest = explained ? explained[1] : reply.replace(verdict[0], '');
  return {
    verdict: verdict[1].toLowerCase() as AnswerVerdict,
    explanation: plainText(rest, EXPLANATION_MAX_CHARS),
  };
}

export class TeacherAssistant {
  private readonly client: TeacherClient;
  private readonly cache: LruCache<string, Promise<unknown>>;

  constructor(config: TeacherConfig, options: TeacherAssistantOptions = {}) {
    this.client = new TeacherClient(config);
    this.cache = new LruCache(options.cacheSize ?? 200);
  }

  /** A hint for sub-question `stepIndex` (0-based) that does not give its answer away. */
  async hint(problem: string, subQuestions: readonly string[], stepIndex: number, signal?: AbortSignal): Promise<string> {
    checkStep(subQuestions, stepIndex);
    return this.cached(['hint', problem, subQuestions, stepIndex], async () => {
      const text = plainText(await this.ask(hintMessages(problem, subQuestions, stepIndex), signal), HINT_MAX_CHARS);
      if (!text) {
        throw this.emptyReply();
      }
      return text;
    });
  }

  /** The teacher's verdict on the learner's answer to sub-question `stepIndex` (0-based). */
  async checkAnswer(
    problem: string,
    subQuestions: readonly string[],
    stepIndex: number,
    learnerAnswer: string,
    signal?: AbortSignal,
  ): Promise<AnswerCheck> {
    checkStep(subQuestions, stepIndex);
    const answer = learnerAnswer.trim();
    if (!answer) {
      throw new UserFacingError('Type an answer to check first.', 'empty-input');
    }
    if (answer.length > LEARNER_ANSWER_MAX_CHARS) {
      throw new UserFacingError(`An answer can be at most ${LEARNER_ANSWER_MAX_CHARS} characters long.`, 'input-too-long');
    }
    return this.cached(['check', problem, subQuestions, stepIndex, answer], async () => {
      const reply = await this.ask(checkMessages(problem, subQuestions, stepIndex, answer), signal);
      const check = parseAnswerCheck(reply);
      if (!check) {
        throw new UserFacingError(
          `The teacher's reply did not say whether the answer is correct (no "Verdict:" line). Try again, or try another model than "${this.client.model}".`,
          'teacher-bad-reply',
        );
      }
      return check;
    });
  }

  /** One sentence on what `quantityText` (as written in the problem) stands for. */
  async explainQuantity(problem: string, quantityText: string, subQuestions: readonly string[], signal?: AbortSignal): Promise<string> {
    const quantity = quantityText.trim();
    if (!quantity) {
      throw new UserFacingError('There is no quantity to explain.', 'empty-input');
    }
    return this.cached(['explain', problem, quantity, subQuestions], async () => {
      const sentence = firstSentence(await this.ask(explainMessages(problem, quantity, subQuestions), signal));
      if (!sentence) {
        throw this.emptyReply();
      }
      return sentence;
    });
  }

  dispose(): Promise<void> {
    this.client.abortAll();
    this.cache.clear();
    return Promise.resolve();
  }

  private async ask(messages: ChatMessage[], signal: AbortSignal | undefined): Promise<string> {
    const result = await this.client.complete({ messages, temperature: 0, maxTokens: 300, maxChars: 2000, signal });
    return result.text;
  }

  /** Same request, same promise: concurrent askers share one HTTP call; failures are not kept. */
  private cached<T>(key: unknown[], produce: () => Promise<T>): Promise<T> {
    const id = JSON.stringify(key);
    const hit = this.cache.get(id);
    if (hit) {
      return hit as Promise<T>;
    }
    const pending = produce();
    this.cache.set(id, pending);
    pending.catch(() => this.cache.delete(id));
    return pending;
  }

  private emptyReply(): UserFacingError {
    return new UserFacingError(`The teacher's reply was empty. Try again, or try another model than "${this.client.model}".`, 'teacher-bad-reply');
  }
}

function checkStep(subQuestions: readonly string[], stepIndex: number): void {
  if (!Number.isInteger(stepIndex) || stepIndex < 0 || stepIndex >= subQuestions.length) {
    throw new UserFacingError(`There is no step ${stepIndex + 1}: the problem has ${subQuestions.length} sub-questions.`, 'bad-argument');
  }
}
