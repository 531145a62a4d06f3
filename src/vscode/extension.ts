// Extension entry. Activation only registers things: the model loads on the first decomposition.
import { randomUUID } from 'crypto';
import * as fs from 'fs/promises';
import * as path from 'path';
import * as os from 'os';
import * as vscode from 'vscode';
import { ratingToVote } from '../core/feedbackRecord';
import type { Rating, TutorViewState } from '../core/panelProtocol';
import { checkProblemText, paragraphAt, stripCommentMarkers } from '../core/problemInput';
import type { AnswerCheck, Decomposition } from '../core/types';
import { isCancellation, UserFacingError } from '../core/types';
import { exportTrainingData, formatExportSummary } from '../feedback/export';
import { FeedbackLog } from '../feedback/log';
import { noTeacherError, type RoutedDecomposition } from '../router';
import type { TeacherAssistant } from '../teacher/teacherAssistant';
import { readSettings, SECTION, teacherConfigured } from './config';
import { DecomposerFactory, DecomposerService, describeError, TEACHER_KEY_SECRET } from './decomposerService';
import { realDecomposers } from './decomposers';
import { TutorHoverProvider } from './hover';
import { ProblemTracker } from './problemTracker';
import { showStatusMenu, TutorStatusBar } from './statusBar';
import { PANEL_VIEW_TYPE, TutorHost, TutorPanel, TutorPanelSerializer } from './tutorPanel';

/** What `mathTutor.decompose` resolves to (the integration suite asserts on it). */
export type DecomposeOutcome =
  | { status: 'shown'; sessionId: string; subQuestions: string[]; source: string }
  | { status: 'refused'; message: string }
  | { status: 'cancelled' }
  | { status: 'failed'; message: string };

/** Returned by `activate`: read by the integration suite, not a public API. */
export interface MathTutorApi {
  readonly feedbackDir: string;
  readonly panel: TutorPanel | undefined;
  readonly service: DecomposerService;
  readonly tracker: ProblemTracker;
  readonly statusBar: vscode.StatusBarItem;
}

const REGENERATE_BEAMS = [1, undefined] as const;

class Controller implements TutorHost, vscode.Disposable {
  readonly log: vscode.LogOutputChannel;
  readonly service: DecomposerService;
  readonly tracker = new ProblemTracker();
  readonly statusBar = new TutorStatusBar();
  readonly feedbackDir: string;
  private readonly feedback: FeedbackLog;
  private readonly disposables: vscode.Disposable[] = [];
  private run?: AbortController;
  /** One `shown` event per session, however fast the first votes come. */
  private readonly feedbackIds = new Map<string, Promise<string>>();
  private lastState?: TutorViewState;
  private regenerations = 0;
  private assistant?: { key: string; value: TeacherAssistant };

  constructor(
    private readonly context: vscode.ExtensionContext,
    factory: DecomposerFactory,
  ) {
    this.log = vscode.window.createOutputChannel('Math Tutor', { log: true });
    this.service = new DecomposerService(context.secrets, factory, this.log);
    this.feedbackDir = path.join(context.globalStorageUri.fsPath, 'feedback');
    this.feedback = new FeedbackLog({ dir: this.feedbackDir, enabled: () => readSettings().feedbackEnabled });
    this.statusBar.update(this.service.status);
    this.disposables.push(
      this.log,
      this.service,
      this.tracker,
      this.statusBar,
      this.service.onDidChangeStatus((s) => this.statusBar.update(s)),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(SECTION) && TutorPanel.current?.state) {
          // Feedback on/off and teacher availability show in the panel at once.
          TutorPanel.current.update({ feedbackEnabled: this.feedbackEnabled, teacherAvailable: this.teacherAvailable });
        }
      }),
    );
  }

  get feedbackEnabled(): boolean {
    return readSettings().feedbackEnabled;
  }

  get teacherAvailable(): boolean {
    return this.service.teacherAvailable;
  }

  // ---- Decompose ------------------------------------------------------------------------------

  async decomposeCommand(): Promise<DecomposeOutcome> {
    const editor = vscode.window.activeTextEditor;
    if (!editor) {
      return this.refuse('Open a file with a math word problem, select it, and run "Math Tutor: Decompose Problem" again.');
    }
    const { document, selection } = editor;
    let range: vscode.Range | undefined = selection.isEmpty ? undefined : new vscode.Range(selection.start, selection.end);
    if (!range) {
      // No selection: the paragraph under the cursor.
      const paragraph = paragraphAt(document.getText(), document.offsetAt(selection.active));
      range = paragraph ? new vscode.Range(document.positionAt(paragraph.start), document.positionAt(paragraph.end)) : undefined;
    }
    const rawText = range ? document.getText(range) : '';
    let problem: string;
    try {
      // Checked here too (the router checks again) so bad input never opens anything.
      problem = checkProblemText(stripCommentMarkers(rawText)).problem;
    } catch (err) {
      if (err instanceof UserFacingError) {
        return this.refuse(err.message);
      }
      throw err;
    }
    // A second run cancels the first instead of racing it.
    this.run?.abort();
    const run = new AbortController();
    this.run = run;
    try {
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'Math Tutor', cancellable: true },
        async (progress, token) => {
          const sub = token.onCancellationRequested(() => run.abort());
          try {
            progress.report({ message: this.service.status.state === 'idle' ? 'Loading the model and decomposing…' : 'Decomposing…' });
            return await this.service.decompose({
              problem,
              signal: run.signal,
              onPartial: (so) => progress.report({ message: `${so.length} step${so.length === 1 ? '' : 's'} so far…` }),
            });
          } finally {
            sub.dispose();
          }
        },
      );
      if (run.signal.aborted) {
        return { status: 'cancelled' };
      }
      const state = this.newState(result);
      this.tracker.track(document, range!, state.sessionId, result);
      this.showInPanel(state);
      return { status: 'shown', sessionId: state.sessionId, subQuestions: result.subQuestions, source: result.source };
    } catch (err) {
      if (run.signal.aborted || isCancellation(err)) {
        this.log.info('Decomposition cancelled.');
        return { status: 'cancelled' };
      }
      const message = describeError(err);
      if (!(err instanceof UserFacingError)) {
        this.log.error(err instanceof Error ? err : String(err));
      }
      void vscode.window.showErrorMessage(message);
      return { status: 'failed', message };
    } finally {
      if (this.run === run) {
        this.run = undefined;
      }
    }
  }

  private refuse(message: string): DecomposeOutcome {
    void vscode.window.showWarningMessage(message);
    return { status: 'refused', message };
  }

  private newState(result: RoutedDecomposition): TutorViewState {
    const warnings = [...result.warnings];
    if (result.fallbackReason) {
      warnings.push(`These steps came from the teacher because ${result.fallbackReason}.`);
    }
    return {
      sessionId: randomUUID(),
      problem: result.problem,
      steps: result.subQuestions.map((question) => ({ question })),
      current: 0,
      showAll: false,
      source: result.source,
      model: result.model,
      device: result.device,
      ...(result.decoding ? { decoding: result.decoding } : {}),
      badge: result.source === 'local' ? `${result.model} (${result.device})` : result.model,
      warnings,
      teacherAvailable: this.teacherAvailable,
      feedbackEnabled: this.feedbackEnabled,
    };
  }

  private showInPanel(state: TutorViewState): TutorPanel {
    const existed = TutorPanel.current !== undefined;
    const panel = TutorPanel.createOrShow(this.context.extensionUri, this);
    if (!existed) {
      this.watchPanel(panel);
    }
    panel.show(state);
    this.lastState = state;
    return panel;
  }

  /** Keeps the state of a closed panel so "Open Tutor Panel" and the hover link can bring it back. */
  watchPanel(panel: TutorPanel): void {
    const sub = panel.panel.onDidDispose(() => {
      this.lastState = panel.state ?? this.lastState;
      sub.dispose();
    });
  }

  /** `mathTutor.openPanel [sessionId]`: the hover link and the palette. */
  openPanel(sessionId?: unknown): TutorPanel {
    const wanted = typeof sessionId === 'string' ? sessionId : undefined;
    const current = TutorPanel.current?.state;
    if (wanted && current?.sessionId !== wanted) {
      const tracked = this.tracker.bySession(wanted);
      if (tracked) {
        const state = this.lastState?.sessionId === wanted ? this.lastState : { ...this.newState(tracked.decomposition), sessionId: wanted };
        return this.showInPanel(state);
      }
    }
    if (!TutorPanel.current && this.lastState) {
      return this.showInPanel(this.lastState);
    }
    const existed = TutorPanel.current !== undefined;
    const panel = TutorPanel.createOrShow(this.context.extensionUri, this);
    if (!existed) {
      this.watchPanel(panel);
    }
    return panel;
  }

  // ---- TutorHost ------------------------------------------------------------------------------

  private decompositionOf(state: TutorViewState): Decomposition {
    return {
      problem: state.problem,
      subQuestions: state.steps.map((s) => s.question),
      source: state.source,
      model: state.model,
      device: state.device,
      ms: 0,
      ...(state.decoding ? { decoding: state.decoding } : {}),
      warnings: [],
    };
  }

  private feedbackIdFor(state: TutorViewState): Promise<string> {
    if (state.feedbackId) {
      return Promise.resolve(state.feedbackId);
    }
    let id = this.feedbackIds.get(state.sessionId);
    if (!id) {
      id = this.feedback.recordShown(this.decompositionOf(state));
      this.feedbackIds.set(state.sessionId, id);
      void id.then(
        (value) => {
          const panel = TutorPanel.current;
          if (panel?.state?.sessionId === state.sessionId) {
            panel.update({ feedbackId: value });
          }
        },
        () => this.feedbackIds.delete(state.sessionId),
      );
    }
    return id;
  }

  async recordVote(state: TutorViewState, target: number | 'overall', rating: Rating, reason?: string): Promise<boolean> {
    if (!this.feedbackEnabled) {
      return false;
    }
    try {
      const id = await this.feedbackIdFor(state);
      return await this.feedback.recordVote(id, target, ratingToVote(rating), target === 'overall' ? reason : undefined);
    } catch (err) {
      this.log.error(err instanceof Error ? err : String(err));
      void vscode.window.showErrorMessage(`Math Tutor could not save your feedback: ${err instanceof Error ? err.message : String(err)}`);
      return false;
    }
  }

  async recordAnswer(state: TutorViewState, step: number, answer: string, extra: { value?: string; correct?: boolean } = {}): Promise<boolean> {
    if (!this.feedbackEnabled) {
      return false;
    }
    try {
      const id = await this.feedbackIdFor(state);
      return await this.feedback.recordAnswer(id, step, answer, extra);
    } catch (err) {
      this.log.error(err instanceof Error ? err : String(err));
      return false;
    }
  }

  stepChanged(state: TutorViewState): void {
    this.lastState = state;
  }

  async regenerate(state: TutorViewState, preferTeacher: boolean): Promise<void> {
    const panel = TutorPanel.current;
    if (!panel) {
      return;
    }
    panel.update({ busy: preferTeacher ? 'Asking the teacher…' : 'Regenerating…', error: undefined, notice: undefined });
    this.run?.abort();
    const run = new AbortController();
    this.run = run;
    try {
      // The local model is deterministic: alternate greedy and beam search so a retry can differ.
      const beams = REGENERATE_BEAMS[this.regenerations++ % REGENERATE_BEAMS.length];
      const result = await this.service.decompose({
        problem: state.problem,
        preferTeacher,
        signal: run.signal,
        ...(beams !== undefined && !preferTeacher ? { options: { decoding: { beams } } } : {}),
      });
      if (run.signal.aborted) {
        return;
      }
      const next = this.newState(result);
      const same = JSON.stringify(result.subQuestions) === JSON.stringify(state.steps.map((s) => s.question));
      if (same) {
        next.notice = 'The same steps came back.';
      }
      const tracked = this.tracker.bySession(state.sessionId);
      if (tracked) {
        tracked.sessionId = next.sessionId;
        tracked.decomposition = result;
      }
      this.showInPanel(next);
    } catch (err) {
      if (run.signal.aborted || isCancellation(err)) {
        panel.update({ busy: undefined });
        return;
      }
      if (!(err instanceof UserFacingError)) {
        this.log.error(err instanceof Error ? err : String(err));
      }
      panel.update({ busy: undefined, error: describeError(err) });
    } finally {
      if (this.run === run) {
        this.run = undefined;
      }
    }
  }

  // ---- Hover helpers --------------------------------------------------------------------------

  currentStep(sessionId: string): number | undefined {
    const state = TutorPanel.current?.state ?? this.lastState;
    return state?.sessionId === sessionId ? state.current : undefined;
  }

  async explainQuantity(problem: { decomposition: Decomposition }, quantityText: string, signal: AbortSignal): Promise<string | undefined> {
    const assistant = await this.teacherAssistant();
    if (!assistant) {
      return undefined;
    }
    try {
      const d = problem.decomposition;
      return await assistant.explainQuantity(d.problem, quantityText, d.subQuestions, signal);
    } catch (err) {
      this.log.warn(`No teacher explanation for "${quantityText}": ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    }
  }

  // ---- Teacher help in the panel ----------------------------------------------------------------

  async hint(state: TutorViewState, step: number): Promise<string> {
    const assistant = await this.requireTeacherAssistant();
    return assistant.hint(state.problem, state.steps.map((s) => s.question), step);
  }

  async checkWithTeacher(state: TutorViewState, step: number, answer: string): Promise<AnswerCheck> {
    const assistant = await this.requireTeacherAssistant();
    return assistant.checkAnswer(state.problem, state.steps.map((s) => s.question), step, answer);
  }

  /** The teacher's helper for the current settings and key (kept while they stay the same, for its cache). */
  private async teacherAssistant(): Promise<TeacherAssistant | undefined> {
    const settings = readSettings();
    if (!teacherConfigured(settings)) {
      return undefined;
    }
    const apiKey = await this.context.secrets.get(TEACHER_KEY_SECRET);
    const key = JSON.stringify([settings.teacher, apiKey ?? '']);
    if (this.assistant?.key !== key) {
      const { TeacherAssistant } = await import('../teacher/teacherAssistant');
      void this.assistant?.value.dispose();
      this.assistant = {
        key,
        value: new TeacherAssistant({ baseURL: settings.teacher.baseUrl, model: settings.teacher.model, apiKey, timeoutMs: settings.teacher.timeoutMs }),
      };
    }
    return this.assistant.value;
  }

  private async requireTeacherAssistant(): Promise<TeacherAssistant> {
    const assistant = await this.teacherAssistant();
    if (!assistant) {
      throw noTeacherError();
    }
    return assistant;
  }

  // ---- Status bar menu actions ------------------------------------------------------------------

  async setTeacherKey(): Promise<void> {
    const key = await vscode.window.showInputBox({
      title: 'Math Tutor: teacher API key',
      prompt: 'Stored in VS Code secret storage (never in settings). Leave empty to cancel.',
      password: true,
      ignoreFocusOut: true,
    });
    if (key && key.trim()) {
      await this.context.secrets.store(TEACHER_KEY_SECRET, key.trim());
      void vscode.window.showInformationMessage('Math Tutor: teacher API key saved in secret storage.');
    }
  }

  async clearTeacherKey(): Promise<void> {
    await this.context.secrets.delete(TEACHER_KEY_SECRET);
    void vscode.window.showInformationMessage('Math Tutor: teacher API key removed.');
  }

  async openFeedbackFolder(): Promise<void> {
    await fs.mkdir(this.feedbackDir, { recursive: true });
    const active = path.join(this.feedbackDir, 'feedback.jsonl');
    const exists = await fs.stat(active).then(() => true, () => false);
    if (exists) {
      await vscode.window.showTextDocument(vscode.Uri.file(active), { preview: true });
    }
    // Remote / browser windows cannot reveal a folder, so the path is always shown too.
    const reveal = 'Reveal in OS';
    const picked = await vscode.window.showInformationMessage(
      `Math Tutor feedback is stored in ${this.feedbackDir}${exists ? '' : ' (nothing recorded yet)'}.`,
      reveal,
    );
    if (picked === reveal) {
      await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(exists ? active : this.feedbackDir));
    }
  }

  /**
   * "Export Feedback as Training Data": the GSM8K-AI-SubQ training format the trainer reads.
   * `target` skips the save dialog (used by the integration suite and by other extensions).
   */
  async exportFeedback(target?: vscode.Uri): Promise<string | undefined> {
    const destination =
      target ??
      (await vscode.window.showSaveDialog({
        title: 'Export Math Tutor feedback as training data',
        defaultUri: vscode.Uri.file(path.join(os.homedir(), 'math-tutor-feedback.json')),
        filters: { 'Training data (JSON)': ['json', 'jsonl'] },
      }));
    if (!destination) {
      return undefined;
    }
    const summary = await exportTrainingData(this.feedbackDir, destination.fsPath);
    const lines = formatExportSummary(summary);
    for (const line of lines) {
      this.log.info(line);
    }
    void vscode.window.showInformationMessage(`Math Tutor: ${lines[0]}`);
    return destination.fsPath;
  }

  /** "Delete All Feedback", after a modal confirmation (`confirmed` is for the integration suite). */
  async deleteFeedback(confirmed = false): Promise<number> {
    if (!confirmed) {
      const choice = await vscode.window.showWarningMessage(
        `Delete all Math Tutor feedback in ${this.feedbackDir}? This cannot be undone.`,
        { modal: true },
        'Delete',
      );
      if (choice !== 'Delete') {
        return 0;
      }
    }
    const removed = await this.feedback.deleteAll();
    void vscode.window.showInformationMessage(`Math Tutor: deleted ${removed} feedback file(s).`);
    return removed;
  }

  async openSample(): Promise<void> {
    const sample = vscode.Uri.joinPath(this.context.extensionUri, 'media', 'walkthrough', 'word-problems.md');
    const content = new TextDecoder().decode(await vscode.workspace.fs.readFile(sample));
    const doc = await vscode.workspace.openTextDocument({ language: 'markdown', content });
    await vscode.window.showTextDocument(doc);
  }

  dispose(): void {
    this.run?.abort();
    void this.assistant?.value.dispose();
    TutorPanel.current?.dispose();
    for (const d of this.disposables.splice(0)) {
      d.dispose();
    }
  }
}

export function activate(context: vscode.ExtensionContext, factory?: DecomposerFactory): MathTutorApi {
  const controller = new Controller(context, factory ?? realDecomposers(context.extensionPath));
  const command = (id: string, fn: (...args: unknown[]) => unknown) =>
    vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        controller.log.error(err instanceof Error ? err : String(err));
        void vscode.window.showErrorMessage(describeError(err));
        return undefined;
      }
    });
  context.subscriptions.push(
    controller,
    command('mathTutor.decompose', () => controller.decomposeCommand()),
    command('mathTutor.openPanel', (sessionId) => {
      controller.openPanel(sessionId);
    }),
    command('mathTutor.showMenu', async () => showStatusMenu((await context.secrets.get(TEACHER_KEY_SECRET)) !== undefined)),
    command('mathTutor.setTeacherKey', () => controller.setTeacherKey()),
    command('mathTutor.clearTeacherKey', () => controller.clearTeacherKey()),
    command('mathTutor.openFeedbackFolder', () => controller.openFeedbackFolder()),
    command('mathTutor.exportFeedback', (target) =>
      controller.exportFeedback(target instanceof vscode.Uri ? target : undefined),
    ),
    command('mathTutor.deleteFeedback', (options) =>
      controller.deleteFeedback((options as { confirmed?: boolean } | undefined)?.confirmed === true),
    ),
    command('mathTutor.openSample', () => controller.openSample()),
    vscode.window.registerWebviewPanelSerializer(PANEL_VIEW_TYPE, {
      deserializeWebviewPanel: async (panel, state) => {
        await new TutorPanelSerializer(context.extensionUri, controller).deserializeWebviewPanel(panel, state);
        if (TutorPanel.current) {
          controller.watchPanel(TutorPanel.current);
        }
      },
    }),
    vscode.languages.registerHoverProvider(
      '*',
      new TutorHoverProvider({
        tracker: controller.tracker,
        currentStep: (id) => controller.currentStep(id),
        explainQuantity: (problem, text, signal) => controller.explainQuantity(problem, text, signal),
      }),
    ),
  );
  return {
    feedbackDir: controller.feedbackDir,
    get panel() {
      return TutorPanel.current;
    },
    service: controller.service,
    tracker: controller.tracker,
    statusBar: controller.statusBar.item,
  };
}

export function deactivate(): void {
  // Everything is in context.subscriptions; the worker thread is ended by the service's dispose.
}
