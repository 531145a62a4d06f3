// The teacher as a Decomposer: same contract, parser and validation as the local model.
import { checkProblemText } from '../core/problemInput';
import { cleanSubQuestions, parseNumberedQuestions } from '../core/subQuestions';
import {
  type Decomposer,
  type DecomposeOptions,
  type Decomposition,
  type PartialListener,
  UserFacingError,
} from '../core/types';
import { validateDecomposition } from '../core/validate';
import { decompositionMessages, stripEchoedProblem } from './prompts';
import { TeacherClient, type TeacherConfig } from './teacherClient';

export const DEFAULT_MAX_QUESTIONS = 8;
/** A decomposition is a few short lines; anything far longer is not one. */
export const DECOMPOSE_MAX_TOKENS = 400;
export const DECOMPOSE_MAX_CHARS = 3000;

/**
 * The sub-questions in a teacher reply: only numbered lines count (see parseNumberedQuestions), and
 * echoed `<problem>` blocks are dropped first so that numbered lines inside the problem never do.
 */
export function subQuestionsFromReply(reply: string, problem: string, maxQuestions: number): string[] {
  return cleanSubQuestions(parseNumberedQuestions(stripEchoedProblem(reply)), problem, maxQuestions);
}

/** Text up to the last line break: a line still being streamed (or cut off) is not a question yet. */
export function completeLines(text: string): string {
  return text.slice(0, text.lastIndexOf('\n') + 1);
}

export interface TeacherDecomposeOptions extends DecomposeOptions {
  /** Sampling temperature; 0 (the default) for the tutor, 0.7 for the data generator. */
  temperature?: number;
}

export class TeacherDecomposer implements Decomposer {
  readonly kind = 'teacher' as const;
  private readonly client: TeacherClient;

  constructor(config: TeacherConfig) {
    this.client = new TeacherClient(config);
  }

  get model(): string {
    return this.client.model;
  }

  describe(): string {
    return `${this.client.model} (teacher)`;
  }

  async decompose(
    problem: string,
    options?: TeacherDecomposeOptions,
    signal?: AbortSignal,
    onPartial?: PartialListener,
  ): Promise<Decomposition> {
    const started = Date.now();
    const { problem: text } = checkProblemText(problem);
    const asked = options?.decoding?.maxQuestions;
    const maxQuestions = asked !== undefined && Number.isInteger(asked) && asked > 0 ? asked : DEFAULT_MAX_QUESTIONS;
    let reported = 0;
    const result = await this.client.complete({
      messages: decompositionMessages(text, maxQuestions),
      temperature: options?.temperature ?? 0,
      maxTokens: DECOMPOSE_MAX_TOKENS,
      maxChars: DECOMPOSE_MAX_CHARS,
      stream: true,
      signal,
      onText: onPartial
        ? (soFar) => {
            const questions = subQuestionsFromReply(completeLines(soFar), text, maxQuestions);
            if (questions.length > reported) {
              reported = questions.length;
              onPartial(questions);
            }
          }
        : undefined,
    });
    // A reply cut off mid-line loses that line: half a question is worse than none.
    const usable = result.cutOff ? completeLines(result.text) : result.text;
    const subQuestions = subQuestionsFromReply(usable, text, maxQuestions);
    if (subQuestions.length === 0) {
      throw new UserFacingError(
        `The teacher's reply contained no sub-questions (no lines like "Q1: ..."), so it cannot be used. Try again, or try another teacher model than "${this.client.model}".`,
        'teacher-bad-reply',
      );
    }
    const warnings: string[] = [];
    if (result.cutOff) {
      warnings.push('The teacher\'s reply was too long and was cut off; later steps may be missing.');
    }
    warnings.push(...validateDecomposition(text, subQuestions).issues);
    return {
      problem: text,
      subQuestions,
      source: 'teacher',
      model: this.client.model,
      device: 'remote',
      ms: Date.now() - started,
      warnings,
    };
  }

  dispose(): Promise<void> {
    this.client.abortAll();
    return Promise.resolve();
  }
}
