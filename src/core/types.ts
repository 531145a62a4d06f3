// Shared vocabulary of the whole product. Pure: no vscode, no onnxruntime, no network.

/** Where a decomposition came from. */
export type DecomposerKind = 'local' | 'teacher';

/** Which decomposer(s) may serve; `auto` = local first, teacher as fallback. */
export type DecomposerMode = 'auto' | 'local' | 'teacher';

/** Device preference for the local model. */
export type DevicePreference = 'auto' | 'cpu' | 'gpu';

/** Knobs of the local decoding loop (the teacher ignores all but maxQuestions). */
export interface DecodingSettings {
  /** 1 = greedy. */
  beams: number;
  /** At most this many sub-questions are returned. */
  maxQuestions: number;
  /** Hard cap on generated tokens so that nothing can hang. */
  maxNewTokens: number;
  /** Block any n-gram of this size from appearing twice (0 = off). */
  noRepeatNgram: number;
}

export interface DecomposeOptions {
  decoding?: Partial<DecodingSettings>;
}

/** The result every decomposer returns and every consumer (CLI, panel, hover, feedback) reads. */
export interface Decomposition {
  problem: string;
  subQuestions: string[];
  source: DecomposerKind;
  /** `name@version` for the local model, the model id for the teacher. */
  model: string;
  /** Execution provider actually used (`cpu`, `cuda`, `dml`, `coreml`, ...) or `remote` for the teacher. */
  device: string;
  /** Wall-clock time of the decomposition in milliseconds. */
  ms: number;
  /** Decoding settings used (local only). */
  decoding?: DecodingSettings;
  /** Human-readable caveats, e.g. "The text has no numbers; the steps may not be meaningful." */
  warnings: string[];
}

/** Progress while a decomposer works: the sub-questions known so far (streaming teacher, etc.). */
/** The teacher's verdict on a learner's answer to one step. */
export type AnswerVerdict = 'correct' | 'incorrect' | 'unsure';

export interface AnswerCheck {
  verdict: AnswerVerdict;
  /** One or two plain-text sentences for the learner. */
  explanation: string;
}

export type PartialListener = (subQuestionsSoFar: readonly string[]) => void;

/** Anything that turns a problem into sub-questions. */
export interface Decomposer {
  readonly kind: DecomposerKind;
  /** Short label for badges and the status bar, e.g. `gsm-decomposer@1.0.0 (cpu)`. */
  describe(): string;
  decompose(
    problem: string,
    options?: DecomposeOptions,
    signal?: AbortSignal,
    onPartial?: PartialListener,
  ): Promise<Decomposition>;
  dispose(): Promise<void>;
}

/**
 * An error whose message is meant for the user as is (bad input, missing model file, teacher
 * refused the key). Anything else is a bug and is reported with its stack in logs only.
 */
export class UserFacingError extends Error {
  constructor(
    message: string,
    readonly code: UserErrorCode,
  ) {
    super(message);
    this.name = 'UserFacingError';
  }
}

export type UserErrorCode =
  | 'empty-input'
  | 'input-too-long'
  | 'model-missing'
  | 'model-corrupt'
  | 'device-unavailable'
  | 'cancelled'
  | 'invalid-output'
  | 'teacher-not-configured'
  | 'teacher-auth'
  | 'teacher-model-not-found'
  | 'teacher-unreachable'
  | 'teacher-timeout'
  | 'teacher-rate-limited'
  | 'teacher-server-error'
  | 'teacher-bad-reply'
  | 'bad-argument';

export function isCancellation(err: unknown): boolean {
  return err instanceof UserFacingError && err.code === 'cancelled';
}
