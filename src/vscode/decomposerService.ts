// Owns the decomposers for the extension: builds the router from the settings and the secret key,
// rebuilds it when either changes, and reports its state to the status bar. The model is loaded on
// the first decomposition, never at activation.
import * as path from 'path';
import * as vscode from 'vscode';
import { DecomposerRouter, RoutedDecomposition } from '../router';
import type { Decomposer, DecomposeOptions, PartialListener } from '../core/types';
import { UserFacingError, isCancellation } from '../core/types';
import { readSettings, teacherConfigured, TutorSettings, SECTION } from './config';

export const TEACHER_KEY_SECRET = 'mathTutor.teacher.apiKey';

export type DecomposerStatus =
  | { state: 'idle'; mode: string }
  | { state: 'loading'; mode: string }
  | { state: 'ready'; mode: string; label: string; device: string; notice?: string }
  | { state: 'teacher'; mode: string; label: string; localError?: string }
  | { state: 'error'; mode: string; message: string };

/** The pieces the service needs from other modules; swapped in tests for a fake local model. */
export interface DecomposerFactory {
  createLocal(settings: TutorSettings): Promise<LoadableDecomposer | undefined>;
  createTeacher(settings: TutorSettings, apiKey: string | undefined): Promise<Decomposer | undefined>;
}

export interface LoadableDecomposer extends Decomposer {
  load(): Promise<{ model: string; device: string; notice?: string; loadMs: number }>;
}

export interface DecomposeRequest {
  problem: string;
  preferTeacher?: boolean;
  options?: DecomposeOptions;
  signal?: AbortSignal;
  onPartial?: PartialListener;
}

export class DecomposerService implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private readonly statusEmitter = new vscode.EventEmitter<DecomposerStatus>();
  readonly onDidChangeStatus = this.statusEmitter.event;
  private current?: { router: DecomposerRouter; local?: LoadableDecomposer; teacher?: Decomposer; loaded?: Promise<void> };
  private building?: Promise<NonNullable<DecomposerService['current']>>;
  private statusValue: DecomposerStatus;

  constructor(
    private readonly secrets: vscode.SecretStorage,
    private readonly factory: DecomposerFactory,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.statusValue = { state: 'idle', mode: readSettings().mode };
    this.disposables.push(
      this.statusEmitter,
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (
          e.affectsConfiguration(`${SECTION}.mode`) ||
          e.affectsConfiguration(`${SECTION}.device`) ||
          e.affectsConfiguration(`${SECTION}.teacher`)
        ) {
          this.reset('settings changed');
        }
      }),
      secrets.onDidChange((e) => {
        if (e.key === TEACHER_KEY_SECRET) {
          this.reset('teacher key changed');
        }
      }),
    );
  }

  get status(): DecomposerStatus {
    return this.statusValue;
  }

  /** Whether "Ask the teacher" can work with the current settings. */
  get teacherAvailable(): boolean {
    return teacherConfigured(readSettings());
  }

  private setStatus(status: DecomposerStatus): void {
    this.statusValue = status;
    this.statusEmitter.fire(status);
  }

  /** Drops the decomposers so the next request builds them from the new settings. */
  reset(why: string): void {
    const old = this.current;
    this.current = undefined;
    this.building = undefined;
    this.setStatus({ state: 'idle', mode: readSettings().mode });
    if (old) {
      this.log.info(`Reloading the decomposers: ${why}.`);
      void disposeQuietly([old.local, old.teacher], this.log);
    }
  }

  private async build(): Promise<NonNullable<DecomposerService['current']>> {
    if (this.current) {
      return this.current;
    }
    this.building ??= (async () => {
      const settings = readSettings();
      const apiKey = teacherConfigured(settings) ? await this.secrets.get(TEACHER_KEY_SECRET) : undefined;
      const local = settings.mode === 'teacher' ? undefined : await this.factory.createLocal(settings);
      const teacher = await this.factory.createTeacher(settings, apiKey);
      const router = new DecomposerRouter({
        mode: settings.mode,
        local,
        teacher,
        log: (message) => this.log.info(message),
      });
      const built = { router, local, teacher };
      this.current = built;
      return built;
    })();
    return this.building;
  }

  /** Loads the local model once, showing `loading` then `ready` (or the error) in the status bar. */
  private async ensureLocalLoaded(built: NonNullable<DecomposerService['current']>, mode: string): Promise<void> {
    const local = built.local;
    if (!local) {
      return;
    }
    built.loaded ??= (async () => {
      this.setStatus({ state: 'loading', mode });
      const info = await local.load();
      this.log.info(`Loaded ${info.model} on ${info.device} in ${info.loadMs} ms.${info.notice ? ' ' + info.notice : ''}`);
      this.setStatus({ state: 'ready', mode, label: info.model, device: info.device, notice: info.notice });
    })();
    try {
      await built.loaded;
    } catch (err) {
      built.loaded = undefined;
      throw err;
    }
  }

  async decompose(request: DecomposeRequest): Promise<RoutedDecomposition> {
    const settings = readSettings();
    const built = await this.build();
    const options: DecomposeOptions = {
      ...request.options,
      decoding: { maxQuestions: settings.maxSubQuestions, ...request.options?.decoding },
    };
    const viaTeacher = request.preferTeacher === true || settings.mode === 'teacher';
    let localError: string | undefined;
    if (!viaTeacher) {
      try {
        await this.ensureLocalLoaded(built, settings.mode);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        localError = message;
        this.setStatus({ state: 'error', mode: settings.mode, message });
        if (settings.mode === 'local' || !built.teacher) {
          throw err;
        }
        // auto + teacher: the router falls back to the teacher below and logs why.
      }
    }
    const previous = this.statusValue;
    try {
      const result = await built.router.decompose({
        problem: request.problem,
        options,
        signal: request.signal,
        onPartial: request.onPartial,
        preferTeacher: request.preferTeacher,
      });
      if (result.source === 'teacher') {
        // A broken local model stays visible even though the teacher covered for it.
        this.setStatus({ state: 'teacher', mode: settings.mode, label: result.model, ...(localError ? { localError } : {}) });
      } else if (previous.state !== 'ready') {
        this.setStatus({ state: 'ready', mode: settings.mode, label: result.model, device: result.device });
      }
      return result;
    } catch (err) {
      if (!isCancellation(err)) {
        this.setStatus({ state: 'error', mode: settings.mode, message: err instanceof Error ? err.message : String(err) });
      }
      throw err;
    }
  }

  /** The teacher, for hover explanations; undefined when none is configured. */
  async teacher(): Promise<Decomposer | undefined> {
    return (await this.build()).teacher;
  }

  dispose(): void {
    const old = this.current;
    this.current = undefined;
    for (const d of this.disposables.splice(0)) {
      d.dispose();
    }
    if (old) {
      void disposeQuietly([old.local, old.teacher], this.log);
    }
  }
}

async function disposeQuietly(decomposers: (Decomposer | undefined)[], log: vscode.LogOutputChannel): Promise<void> {
  for (const d of decomposers) {
    try {
      await d?.dispose();
    } catch (err) {
      log.warn(`Disposing a decomposer failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    }
  }
}

/** The model directory shipped with the extension. */
export function bundledModelDir(extensionPath: string): string {
  return path.join(extensionPath, 'models');
}

/** Message for a notification: user-facing errors as they are, bugs as a generic line. */
export function describeError(err: unknown): string {
  if (err instanceof UserFacingError) {
    return err.message;
  }
  return `Math Tutor hit an unexpected error (details in the "Math Tutor" output): ${err instanceof Error ? err.message : String(err)}`;
}
