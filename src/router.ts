// Chooses who decomposes: the local model, the teacher, or local-then-teacher (`auto`).
// Every entry point (CLI, extension) goes through here, so the fallback rules live in one place.
import { checkProblemText } from './core/problemInput';
import {
  Decomposer,
  DecomposeOptions,
  DecomposerMode,
  Decomposition,
  isCancellation,
  PartialListener,
  UserFacingError,
} from './core/types';
import { validateDecomposition } from './core/validate';

export interface RouterOptions {
  mode: DecomposerMode;
  /** The local model; undefined when it cannot be constructed at all. */
  local?: Decomposer;
  /** The teacher; undefined when no endpoint is configured. */
  teacher?: Decomposer;
  /** Where the router explains its choices (an output channel, stderr). */
  log?: (message: string) => void;
}

export interface RoutedDecomposition extends Decomposition {
  /** Set when `auto` mode passed the problem to the teacher, saying why. */
  fallbackReason?: string;
}

export interface RouteRequest {
  problem: string;
  options?: DecomposeOptions;
  signal?: AbortSignal;
  onPartial?: PartialListener;
  /** "Ask the teacher": skip the local model whatever the mode. */
  preferTeacher?: boolean;
}

export class DecomposerRouter {
  constructor(private readonly opts: RouterOptions) {}

  get mode(): DecomposerMode {
    return this.opts.mode;
  }

  get hasTeacher(): boolean {
    return this.opts.teacher !== undefined;
  }

  async decompose(request: RouteRequest): Promise<RoutedDecomposition> {
    const { problem, warnings } = checkProblemText(request.problem);
    const { mode, local, teacher } = this.opts;
    const useTeacherOnly = mode === 'teacher' || request.preferTeacher === true;
    if (useTeacherOnly) {
      return withWarnings(await this.requireTeacher().decompose(problem, request.options, request.signal, request.onPartial), warnings);
    }
    if (!local) {
      throw new UserFacingError('The local model is not available.', 'model-missing');
    }
    let fallbackReason: string;
    try {
      const result = await local.decompose(problem, request.options, request.signal, request.onPartial);
      const validation = validateDecomposition(problem, result.subQuestions);
      if (validation.ok || mode === 'local' || !teacher) {
        return withWarnings(result, [...warnings, ...validation.issues]);
      }
      fallbackReason = `the local model's steps failed validation (${validation.issues.join(' ')})`;
    } catch (err) {
      if (isCancellation(err) || mode === 'local' || !teacher) {
        throw err;
      }
      fallbackReason = `the local model failed: ${err instanceof Error ? err.message : String(err)}`;
    }
    this.opts.log?.(`Asking the teacher because ${fallbackReason}`);
    const result = await teacher.decompose(problem, request.options, request.signal, request.onPartial);
    return { ...withWarnings(result, warnings), fallbackReason };
  }

  private requireTeacher(): Decomposer {
    if (!this.opts.teacher) {
      throw noTeacherError();
    }
    return this.opts.teacher;
  }
}

/** What the learner hears when something needs the teacher and none is set up. */
export function noTeacherError(): UserFacingError {
  return new UserFacingError(
    'No teacher is configured: set "mathTutor.teacher.baseUrl" and "mathTutor.teacher.model" (and an API key if the endpoint needs one).',
    'teacher-not-configured',
  );
}

function withWarnings(result: Decomposition, warnings: readonly string[]): Decomposition {
  const merged = [...new Set([...warnings, ...result.warnings])];
  return { ...result, warnings: merged };
}
