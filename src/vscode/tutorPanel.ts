// The tutor panel: one webview panel, created or revealed on demand and revived after a reload.
// Pattern: microsoft/vscode-extension-samples webview-sample (createOrShow / revive / serializer,
// strict CSP with a nonce, localResourceRoots = media/, typed messages, disposables collected).
import { randomBytes } from 'crypto';
import * as vscode from 'vscode';
import { readAnswer } from '../core/answerExpression';
import { FromPanel, parseFromPanel, Rating, StepView, ToPanel, TutorViewState } from '../core/panelProtocol';
import { type AnswerCheck, UserFacingError } from '../core/types';
import { describeError } from './decomposerService';

export const PANEL_VIEW_TYPE = 'mathTutor.panel';

/** What the panel asks of the rest of the extension. */
export interface TutorHost {
  readonly feedbackEnabled: boolean;
  readonly teacherAvailable: boolean;
  /** Records a vote; resolves false when logging is off. */
  recordVote(state: TutorViewState, target: number | 'overall', rating: Rating, reason?: string): Promise<boolean>;
  /** Logs an answer; `correct` only when it was checked (by the teacher). */
  recordAnswer(state: TutorViewState, step: number, answer: string, extra?: { value?: string; correct?: boolean }): Promise<boolean>;
  /** Re-runs the decomposition of the panel's problem; the host then calls `show`. */
  regenerate(state: TutorViewState, preferTeacher: boolean): Promise<void>;
  /** The teacher's hint for a step; rejects with a UserFacingError when no teacher can give one. */
  hint(state: TutorViewState, step: number): Promise<string>;
  /** The teacher's verdict on the learner's answer to a step. */
  checkWithTeacher(state: TutorViewState, step: number, answer: string): Promise<AnswerCheck>;
  /** The learner moved to another step (the hover marks the current one). */
  stepChanged(state: TutorViewState): void;
  log: vscode.LogOutputChannel;
}

export class TutorPanel implements vscode.Disposable {
  static current: TutorPanel | undefined;

  private readonly disposables: vscode.Disposable[] = [];
  private viewState: TutorViewState | undefined;
  private readonly messageEmitter = new vscode.EventEmitter<FromPanel>();
  /** Fires after each handled webview message (tests wait on it). */
  readonly onDidHandleMessage = this.messageEmitter.event;

  /** Opens the panel (or brings it forward) beside the editor. */
  static createOrShow(extensionUri: vscode.Uri, host: TutorHost): TutorPanel {
    const column = vscode.window.activeTextEditor ? vscode.ViewColumn.Beside : vscode.ViewColumn.One;
    if (TutorPanel.current) {
      TutorPanel.current.panel.reveal(column, true);
      return TutorPanel.current;
    }
    const panel = vscode.window.createWebviewPanel(PANEL_VIEW_TYPE, 'Math Tutor', { viewColumn: column, preserveFocus: true }, {
      ...webviewOptions(extensionUri),
      // The host holds the state and the webview persists it, so hidden panels may be discarded.
      retainContextWhenHidden: false,
    });
    TutorPanel.current = new TutorPanel(panel, extensionUri, host, undefined);
    return TutorPanel.current;
  }

  /** Called by the serializer after a window reload with the state the webview saved. */
  static revive(panel: vscode.WebviewPanel, extensionUri: vscode.Uri, host: TutorHost, saved: unknown): TutorPanel {
    TutorPanel.current?.dispose();
    TutorPanel.current = new TutorPanel(panel, extensionUri, host, isViewState(saved) ? saved : undefined);
    return TutorPanel.current;
  }

  private constructor(
    readonly panel: vscode.WebviewPanel,
    private readonly extensionUri: vscode.Uri,
    private readonly host: TutorHost,
    restored: TutorViewState | undefined,
  ) {
    this.viewState = restored ? { ...restored, busy: undefined, notice: undefined } : undefined;
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'icon.svg');
    panel.webview.options = webviewOptions(extensionUri);
    panel.webview.html = this.html();
    this.disposables.push(
      this.messageEmitter,
      panel.onDidDispose(() => this.dispose()),
      panel.webview.onDidReceiveMessage((raw: unknown) => {
        void this.handleMessage(raw).catch((err: unknown) => {
          host.log.error(err instanceof Error ? err : String(err));
        });
      }),
    );
  }

  get state(): TutorViewState | undefined {
    return this.viewState;
  }

  get visible(): boolean {
    return this.panel.visible;
  }

  /** Shows a state (a new decomposition, or an update of the current one). */
  show(state: TutorViewState): void {
    this.viewState = state;
    this.post({ type: 'state', state });
  }

  /** Updates the current state in place and redraws. */
  update(patch: Partial<TutorViewState>): void {
    if (this.viewState) {
      this.show({ ...this.viewState, ...patch });
    }
  }

  private post(message: ToPanel): void {
    void this.panel.webview.postMessage(message).then(undefined, (err: unknown) => this.host.log.warn(`postMessage failed: ${String(err)}`));
  }

  /**
   * Handles one message from the webview. Public so the integration suite can drive the panel the
   * way its buttons do; everything arriving here is validated first.
   */
  async handleMessage(raw: unknown): Promise<void> {
    const message = parseFromPanel(raw);
    if (!message) {
      this.host.log.warn(`Ignored a malformed message from the tutor panel: ${JSON.stringify(raw)?.slice(0, 200)}`);
      return;
    }
    try {
      await this.dispatch(message);
    } finally {
      this.messageEmitter.fire(message);
    }
  }

  private async dispatch(message: FromPanel): Promise<void> {
    if (message.type === 'ready') {
      if (this.viewState) {
        // Refresh what may have changed while the panel was gone (settings, teacher key).
        this.show({ ...this.viewState, feedbackEnabled: this.host.feedbackEnabled, teacherAvailable: this.host.teacherAvailable });
      } else {
        this.post({ type: 'empty', message: 'Select a math word problem in an editor and run "Math Tutor: Decompose Problem".' });
      }
      return;
    }
    const s = this.viewState;
    if (!s || message.sessionId !== s.sessionId) {
      return; // A click on a previous decomposition that raced a new one.
    }
    switch (message.type) {
      case 'answer': {
        if (message.step >= s.steps.length || !message.text.trim()) {
          return;
        }
        const reading = readAnswer(message.text);
        const value = reading.kind === 'text' ? undefined : reading.display;
        const answer = message.text.trim();
        // A new answer makes the teacher's verdict on the old one stale.
        const steps = s.steps.map((step, i) =>
          i === message.step ? { ...step, answer, value, ...(step.answer === answer ? {} : { teacherCheck: undefined }) } : step,
        );
        this.show({ ...s, steps, notice: undefined, error: undefined });
        await this.host.recordAnswer(s, message.step, answer, value !== undefined ? { value } : {});
        return;
      }
      case 'next':
        if (s.current < s.steps.length - 1) {
          this.show({ ...s, current: s.current + 1, notice: undefined });
          this.host.stepChanged(this.viewState!);
        }
        return;
      case 'showAll':
        this.show({ ...s, showAll: true, notice: undefined });
        return;
      case 'rateStep': {
        if (message.step >= s.steps.length) {
          return;
        }
        const steps = s.steps.map((step, i) => (i === message.step ? { ...step, rating: message.rating } : step));
        const saved = await this.host.recordVote(s, message.step, message.rating);
        this.show({ ...this.viewState!, steps, notice: saved ? 'Thanks — feedback saved.' : undefined });
        return;
      }
      case 'rateOverall': {
        const saved = await this.host.recordVote(s, 'overall', message.rating, message.reason);
        this.show({
          ...this.viewState!,
          overallRating: message.rating,
          overallReason: message.reason,
          notice: saved ? 'Thanks — feedback saved.' : undefined,
        });
        return;
      }
      case 'regenerate':
      case 'askTeacher':
        if (s.busy) {
          return;
        }
        await this.host.regenerate(s, message.type === 'askTeacher');
        return;
      case 'hint':
      case 'checkWithTeacher':
        if (s.busy || message.step >= s.steps.length) {
          return;
        }
        await this.askTeacherAboutStep(s, message.type, message.step);
        return;
    }
  }

  /** A hint, or a check of the step's current answer; the reply lands on that step if it still applies. */
  private async askTeacherAboutStep(s: TutorViewState, kind: 'hint' | 'checkWithTeacher', index: number): Promise<void> {
    const answer = s.steps[index].answer;
    if (kind === 'checkWithTeacher' && answer === undefined) {
      return;
    }
    this.show({
      ...s,
      busy: kind === 'hint' ? `Asking the teacher for a hint on step ${index + 1}…` : `Asking the teacher to check your answer to step ${index + 1}…`,
      error: undefined,
      notice: undefined,
    });
    let patch: Partial<StepView> | undefined;
    let error: string | undefined;
    try {
      patch = kind === 'hint' ? { hint: await this.host.hint(s, index) } : { teacherCheck: await this.host.checkWithTeacher(s, index, answer!) };
    } catch (err) {
      if (!(err instanceof UserFacingError)) {
        this.host.log.error(err instanceof Error ? err : String(err));
      }
      error = describeError(err);
    }
    const now = this.viewState;
    if (!now || now.sessionId !== s.sessionId) {
      return; // A new decomposition replaced this one while the teacher was thinking.
    }
    // The learner may have typed a new answer meanwhile: the verdict was about the old one.
    const stillApplies = patch && (kind === 'hint' || now.steps[index].answer === answer);
    const steps = stillApplies ? now.steps.map((step, i) => (i === index ? { ...step, ...patch } : step)) : now.steps;
    this.show({ ...now, steps, busy: undefined, ...(error ? { error } : {}) });
    const verdict = stillApplies ? patch?.teacherCheck?.verdict : undefined;
    if (verdict === 'correct' || verdict === 'incorrect') {
      // A checked answer is the strongest reward the feedback log has (docs/feedback.md).
      const value = now.steps[index].value;
      await this.host.recordAnswer(now, index, answer!, { ...(value !== undefined ? { value } : {}), correct: verdict === 'correct' });
    }
  }

  private html(): string {
    const webview = this.panel.webview;
    const nonce = randomBytes(16).toString('base64');
    const script = webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'media', 'dist', 'panel.js'));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'media', 'panel.css'));
    // Lit (inside @vscode-elements) styles its components with constructable stylesheets, which
    // CSP does not govern; our own CSS comes from a file. No inline script, no eval.
    const csp = [
      "default-src 'none'",
      `style-src ${webview.cspSource}`,
      `font-src ${webview.cspSource}`,
      `img-src ${webview.cspSource}`,
      `script-src 'nonce-${nonce}'`,
    ].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link href="${style.toString()}" rel="stylesheet">
<title>Math Tutor</title>
</head>
<body>
<main id="app" aria-live="polite"></main>
<script nonce="${nonce}" src="${script.toString()}"></script>
</body>
</html>`;
  }

  dispose(): void {
    if (TutorPanel.current === this) {
      TutorPanel.current = undefined;
    }
    const disposables = this.disposables.splice(0);
    this.panel.dispose();
    for (const d of disposables) {
      d.dispose();
    }
  }
}

function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions {
  return { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'media')] };
}

/** Shape check of a state restored from the webview (it could be from an older version). */
function isViewState(value: unknown): value is TutorViewState {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const v = value as Partial<TutorViewState>;
  return (
    typeof v.sessionId === 'string' &&
    typeof v.problem === 'string' &&
    Array.isArray(v.steps) &&
    v.steps.every((s) => typeof s === 'object' && s !== null && typeof (s as { question?: unknown }).question === 'string') &&
    typeof v.current === 'number' &&
    typeof v.badge === 'string'
  );
}

export class TutorPanelSerializer implements vscode.WebviewPanelSerializer {
  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly host: TutorHost,
  ) {}

  deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown): Thenable<void> {
    TutorPanel.revive(panel, this.extensionUri, this.host, state);
    return Promise.resolve();
  }
}
