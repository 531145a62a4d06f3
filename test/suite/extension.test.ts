// Integration tests inside a real VS Code (code-server here): the real extension, the real bundled
// model in models/, the real feedback log. The model may be weak, so assertions are about
// structure (steps exist, come from the local model, fit the limits), never about wording.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { TutorViewState } from '../../src/core/panelProtocol';
import type { DecomposeOutcome, MathTutorApi } from '../../src/vscode/extension';
import { CHECK_SYSTEM_PROMPT, HINT_SYSTEM_PROMPT } from '../../src/teacher/prompts';
import { EXPLANATION, FakeTeacher, HINT, JANET_STEPS, startFakeTeacher } from './fakeTeacher';

const EXTENSION_ID = 'math-tutor.math-tutor';
const ROOT = path.resolve(__dirname, '..', '..', '..');
const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'word-problems.md');
const JANET = "Janet's ducks lay 16 eggs per day.";

let api: MathTutorApi;

async function getApi(): Promise<MathTutorApi> {
  const ext = vscode.extensions.getExtension<MathTutorApi>(EXTENSION_ID);
  assert.ok(ext, `extension ${EXTENSION_ID} is not installed in the test host`);
  return ext.isActive ? ext.exports : await ext.activate();
}

/** Polls `check` every 50 ms until it returns a value, for at most `ms`. */
async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function openText(content: string, language = 'markdown'): Promise<vscode.TextEditor> {
  const doc = await vscode.workspace.openTextDocument({ language, content });
  return vscode.window.showTextDocument(doc);
}

async function openFixture(): Promise<vscode.TextEditor> {
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(FIXTURE));
  return vscode.window.showTextDocument(doc, { preview: false });
}

/** Puts the cursor (empty selection) at the first occurrence of `needle` plus `delta`. */
function cursorAt(editor: vscode.TextEditor, needle: string, delta = 0): vscode.Position {
  const offset = editor.document.getText().indexOf(needle);
  assert.ok(offset >= 0, `"${needle}" not in the document`);
  const pos = editor.document.positionAt(offset + delta);
  editor.selection = new vscode.Selection(pos, pos);
  return pos;
}

async function decompose(): Promise<DecomposeOutcome> {
  return (await vscode.commands.executeCommand<DecomposeOutcome>("mathTutor.decompose"));
}

function setSetting(key: string, value: unknown): Thenable<void> {
  return vscode.workspace.getConfiguration('mathTutor').update(key, value, vscode.ConfigurationTarget.Global);
}

/** Runs `body` with a setting changed, then puts back the value it had. */
async function withSetting<T>(key: string, value: unknown, body: () => Promise<T>): Promise<T> {
  const previous = vscode.workspace.getConfiguration('mathTutor').inspect(key)?.globalValue;
  await setSetting(key, value);
  try {
    return await body();
  } finally {
    await setSetting(key, previous);
  }
}

function hoverText(hovers: vscode.Hover[]): string {
  return hovers
    .flatMap((h) => h.contents)
    .map((c) => (typeof c === 'string' ? c : c.value))
    .join('\n');
}

async function hoverAt(uri: vscode.Uri, pos: vscode.Position): Promise<string> {
  const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', uri, pos);
  return hoverText(hovers ?? []);
}

function feedbackLines(): Record<string, unknown>[] {
  const file = path.join(api.feedbackDir, 'feedback.jsonl');
  if (!fs.existsSync(file)) {
    return [];
  }
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Decomposes the Janet problem of the fixture (paragraph under the cursor) and returns the panel's state. */
async function showJanet(): Promise<TutorViewState> {
  const editor = await openFixture();
  cursorAt(editor, JANET, 10);
  await decompose();
  return panelState();
}

function panelState(): TutorViewState {
  const state = api.panel?.state;
  assert.ok(state, 'the tutor panel has no state');
  return state;
}

suiteSetup(async function () {
  api = await getApi();
  // Start from an empty feedback log so the assertions count only this run's lines.
  fs.rmSync(api.feedbackDir, { recursive: true, force: true });
});

suiteTeardown(async () => {
  api.panel?.dispose();
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
});

suite('Manifest, activation and bad input', () => {
  test('contributes and registers every command', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
    const contributed = (ext.packageJSON as { contributes: { commands: { command: string }[] } }).contributes.commands.map((c) => c.command);
    assert.ok(contributed.includes('mathTutor.decompose'));
    const registered = new Set(await vscode.commands.getCommands(true));
    for (const id of contributed) {
      assert.ok(registered.has(id), `${id} is contributed but not registered`);
    }
  });

  test('every setting has a scope, a markdownDescription and a default', () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
    const props = (ext.packageJSON as { contributes: { configuration: { properties: Record<string, Record<string, unknown>> } } })
      .contributes.configuration.properties;
    const expected = ['mode', 'device', 'teacher.baseUrl', 'teacher.model', 'teacher.timeoutMs', 'hover.languages', 'feedback.enabled', 'maxSubQuestions'];
    for (const key of expected) {
      const p = props[`mathTutor.${key}`];
      assert.ok(p, `mathTutor.${key} missing`);
      assert.ok(typeof p.scope === 'string' && typeof p.markdownDescription === 'string' && 'default' in p, `mathTutor.${key} incomplete`);
    }
    assert.deepStrictEqual(vscode.workspace.getConfiguration('mathTutor').get('hover.languages'), ['markdown', 'plaintext', 'latex']);
  });

  test('the walkthrough has the three steps and its media exist', () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
    const pkg = ext.packageJSON as {
      contributes: { walkthroughs: { steps: { id: string; media: { markdown?: string } }[] }[] };
      capabilities: { untrustedWorkspaces: unknown; virtualWorkspaces: unknown };
    };
    const steps = pkg.contributes.walkthroughs[0].steps;
    assert.deepStrictEqual(steps.map((s) => s.id), ['select', 'decompose', 'feedback']);
    for (const step of steps) {
      assert.ok(step.media.markdown && fs.existsSync(path.join(ext.extensionPath, step.media.markdown)), `${step.id}: media missing`);
    }
    assert.ok(pkg.capabilities.untrustedWorkspaces !== undefined && pkg.capabilities.virtualWorkspaces !== undefined);
  });

  test('"Open Sample Word Problems" opens the sample in an editor', async () => {
    await vscode.commands.executeCommand('mathTutor.openSample');
    const editor = await waitFor('the sample editor', () => vscode.window.activeTextEditor);
    assert.strictEqual(editor.document.languageId, 'markdown');
    assert.match(editor.document.getText(), /Janet's ducks lay 16 eggs/);
  });

  test('the status bar item is shown before any model is loaded', () => {
    assert.match(api.statusBar.text, /Math Tutor/);
    assert.strictEqual(api.statusBar.command, 'mathTutor.showMenu');
    assert.strictEqual(api.service.status.state, 'idle');
  });

  test('no selection and a blank line: a message, and nothing opens', async () => {
    api.panel?.dispose();
    const editor = await openText('First line.\n\n\nLast line.');
    const blank = new vscode.Position(1, 0);
    editor.selection = new vscode.Selection(blank, blank);
    const outcome = await decompose();
    assert.strictEqual(outcome.status, 'refused');
    assert.match((outcome as { message: string }).message, /select a math word problem/i);
    assert.strictEqual(api.panel, undefined, 'a panel opened for empty input');
  });

  test('more than 4,000 characters is refused with the limit in the message', async () => {
    api.panel?.dispose();
    const long = `${'Sam has 3 apples and buys 2 more apples at the shop. '.repeat(80)}How many apples does Sam have?`;
    assert.ok(long.length > 4000);
    const editor = await openText(long);
    editor.selection = new vscode.Selection(new vscode.Position(0, 0), editor.document.positionAt(long.length));
    const outcome = await decompose();
    assert.strictEqual(outcome.status, 'refused');
    assert.match((outcome as { message: string }).message, /4,000/);
    assert.strictEqual(api.panel, undefined);
  });

  test('settings take effect: teacher-only mode without a teacher fails with a clear message', async () => {
    const editor = await openFixture();
    cursorAt(editor, JANET, 10);
    await withSetting('mode', 'teacher', async () => {
      const outcome = await decompose();
      assert.strictEqual(outcome.status, 'failed');
      assert.match((outcome as { message: string }).message, /No teacher is configured/);
      assert.strictEqual(api.service.status.state, 'error');
      assert.match(api.statusBar.text, /error/);
    });
  });
});

suite('The bundled local model (models/)', () => {
  suiteSetup(() => setSetting('mode', 'local'));
  suiteTeardown(() => setSetting('mode', undefined));

  test('decompose (paragraph under the cursor) runs the bundled model and shows its result', async function () {
    this.timeout(180_000);
    const editor = await openFixture();
    cursorAt(editor, JANET, 10);
    const outcome = await decompose();
    assert.strictEqual(outcome.status, 'shown', JSON.stringify(outcome));
    const shown = outcome;
    assert.strictEqual(shown.source, 'local');
    assert.ok(Array.isArray(shown.subQuestions) && shown.subQuestions.length <= 8, 'more sub-questions than mathTutor.maxSubQuestions');
    for (const q of shown.subQuestions) {
      assert.ok(typeof q === 'string' && q.trim().endsWith('?'), `not a cleaned question: ${q}`);
    }
    const state = await waitFor('the panel state', () => api.panel?.state);
    assert.strictEqual(state.sessionId, shown.sessionId);
    assert.deepStrictEqual(state.steps.map((s) => s.question), shown.subQuestions);
    assert.match(state.problem, /^Janet's ducks lay 16 eggs[\s\S]*farmers' market\?$/, 'the paragraph was not taken whole');
    assert.match(state.badge, /^gsm-decomposer@\S+ \(\S+\)$/);
    if (shown.subQuestions.length === 0) {
      assert.ok(state.warnings.some((w) => /no sub-questions/i.test(w)), 'an empty result without a warning');
    }
    // The status bar now says the model is loaded and where it runs.
    assert.strictEqual(api.service.status.state, 'ready');
    assert.match(api.statusBar.text, /Math Tutor: [A-Z]+/);
  });

  test('the bundled model produces at least one step for a GSM8K problem', async function () {
    this.timeout(180_000);
    const editor = await openFixture();
    cursorAt(editor, JANET, 10);
    const outcome = await decompose();
    assert.strictEqual(outcome.status, 'shown', JSON.stringify(outcome));
    assert.ok((outcome as { subQuestions: string[] }).subQuestions.length >= 1, 'the model in models/ produced no sub-questions (is it still the untrained placeholder?)');
  });

  test('settings take effect: maxSubQuestions reaches the local model', async function () {
    this.timeout(180_000);
    const editor = await openFixture();
    cursorAt(editor, 'James decides', 5);
    const outcome = await withSetting('maxSubQuestions', 1, () => decompose());
    assert.strictEqual(outcome.status, 'shown', JSON.stringify(outcome));
    assert.ok((outcome as { subQuestions: string[] }).subQuestions.length <= 1);
  });
  test('settings take effect: device "gpu" uses a GPU provider or says clearly that none is usable', async function () {
    this.timeout(180_000);
    const editor = await openFixture();
    cursorAt(editor, JANET, 10);
    await withSetting('device', 'gpu', async () => {
      assert.strictEqual(api.service.status.state, 'idle', 'changing the device did not reset the model');
      const outcome = await decompose();
      if (outcome.status === 'shown') {
        assert.notStrictEqual(panelState().device, 'cpu');
      } else {
        assert.strictEqual(outcome.status, 'failed');
        assert.match(outcome.message, /GPU/);
        assert.strictEqual(api.service.status.state, 'error');
        const tooltip = api.statusBar.tooltip;
        assert.match(typeof tooltip === 'string' ? tooltip : (tooltip?.value ?? ''), /GPU/);
      }
    });
  });
});

suite('Tutor flow: panel, hover, feedback (fake teacher on 127.0.0.1)', () => {
  let teacher: FakeTeacher;

  suiteSetup(async () => {
    teacher = await startFakeTeacher();
    await setSetting('teacher.baseUrl', teacher.baseUrl);
    await setSetting('teacher.model', 'fake-teacher');
    await setSetting('mode', 'teacher');
  });

  suiteTeardown(async () => {
    await setSetting('mode', undefined);
    await setSetting('teacher.model', undefined);
    await setSetting('teacher.baseUrl', undefined);
    await teacher.close();
  });

  test('decompose opens the panel on step 1 with the teacher badge', async () => {
    const editor = await openFixture();
    cursorAt(editor, JANET, 10);
    const outcome = await decompose();
    assert.strictEqual(outcome.status, 'shown', JSON.stringify(outcome));
    assert.deepStrictEqual((outcome as { subQuestions: string[] }).subQuestions, JANET_STEPS);
    const state = panelState();
    assert.strictEqual(state.source, 'teacher');
    assert.strictEqual(state.badge, 'fake-teacher');
    assert.strictEqual(state.current, 0);
    assert.strictEqual(state.showAll, false);
    assert.strictEqual(state.teacherAvailable, true);
    assert.strictEqual(api.service.status.state, 'teacher');
    assert.ok(teacher.requests.some((r) => r.body?.stream && r.body.messages.some((m) => m.content.includes("Janet's ducks"))));
  });

  test('hover inside the problem shows the plan, the current step and a panel link', async () => {
    const editor = await openFixture();
    const text = await hoverAt(editor.document.uri, cursorAt(editor, JANET, 4));
    assert.match(text, /Math Tutor plan/);
    assert.strictEqual(text.match(/^\d+\. /gm)?.length, JANET_STEPS.length);
    assert.match(text, /\n1\. \*\*[^\n]*current step/);
    assert.match(text, /command:mathTutor\.openPanel\?/);
  });

  test('hover over a quantity says which steps use it, with the teacher sentence', async () => {
    const editor = await openFixture();
    const text = await hoverAt(editor.document.uri, cursorAt(editor, '16 eggs', 1));
    assert.match(text, /16(&nbsp;| )eggs/);
    assert.match(text.replace(/&nbsp;/g, ' '), /is used in steps 1, 2, 3, 4\./);
    assert.match(text, /Teacher:/);
    assert.ok(text.replace(/&nbsp;/g, ' ').includes(EXPLANATION.slice(0, 20)), text);
    assert.match(text, /Math Tutor plan/);
  });

  test('a slow teacher never holds the hover longer than its timeout; the local part still shows', async function () {
    this.timeout(30_000);
    const editor = await openFixture();
    teacher.replyDelayMs = 10_000;
    try {
      await withSetting('teacher.timeoutMs', 1000, async () => {
        const started = Date.now();
        // "$2" has not been explained yet, so nothing is cached for it.
        const text = await hoverAt(editor.document.uri, cursorAt(editor, '$2 per', 1));
        const waited = Date.now() - started;
        assert.match(text, /Math Tutor plan/);
        assert.match(text.replace(/&nbsp;/g, ' '), /\$2/);
        assert.doesNotMatch(text, /Teacher:/);
        assert.ok(waited < 5000, `the hover waited ${waited} ms with a 1000 ms teacher timeout`);
      });
    } finally {
      teacher.replyDelayMs = 0;
    }
  });

  test('no Math Tutor hover outside a decomposed problem', async () => {
    const editor = await openFixture();
    assert.doesNotMatch(await hoverAt(editor.document.uri, cursorAt(editor, 'A robe takes 2 bolts', 3)), /Math Tutor plan/);
  });

  test('answering evaluates arithmetic; next step moves on and the hover follows', async () => {
    const panel = api.panel!;
    const s = panelState();
    await panel.handleMessage({ type: 'answer', sessionId: s.sessionId, step: 0, text: '16-3-4' });
    assert.strictEqual(panelState().steps[0].answer, '16-3-4');
    assert.match(panelState().steps[0].value ?? '', /= 9$/);
    await panel.handleMessage({ type: 'answer', sessionId: s.sessionId, step: 0, text: 'sixteen eggs' });
    assert.strictEqual(panelState().steps[0].value, undefined, 'prose without digits has no value');
    await panel.handleMessage({ type: 'answer', sessionId: s.sessionId, step: 0, text: '16' });
    await panel.handleMessage({ type: 'next', sessionId: s.sessionId });
    assert.strictEqual(panelState().current, 1);
    const editor = await openFixture();
    const text = await hoverAt(editor.document.uri, cursorAt(editor, JANET, 4));
    assert.match(text, /\n2\. \*\*[^\n]*current step/);
    await panel.handleMessage({ type: 'showAll', sessionId: s.sessionId });
    assert.strictEqual(panelState().showAll, true);
  });

  test('messages for another session or malformed ones change nothing', async () => {
    const before = JSON.stringify(panelState());
    await api.panel!.handleMessage({ type: 'next', sessionId: 'someone-else' });
    await api.panel!.handleMessage({ type: 'rateStep', sessionId: panelState().sessionId, step: -1, rating: 'up' });
    await api.panel!.handleMessage({ type: 'rateStep', sessionId: panelState().sessionId, step: 0, rating: 'sideways' });
    await api.panel!.handleMessage({ type: 'rateStep', sessionId: panelState().sessionId, step: 99, rating: 'up' });
    await api.panel!.handleMessage('<img src=x onerror=alert(1)>');
    assert.strictEqual(JSON.stringify(panelState()), before);
  });

  test('thumbs write feedback records to the log', async () => {
    const s = panelState();
    await api.panel!.handleMessage({ type: 'rateStep', sessionId: s.sessionId, step: 0, rating: 'up' });
    await api.panel!.handleMessage({ type: 'rateStep', sessionId: s.sessionId, step: 2, rating: 'down' });
    await api.panel!.handleMessage({ type: 'rateOverall', sessionId: s.sessionId, rating: 'down', reason: 'Step 2 repeats step 1.' });
    const lines = feedbackLines();
    const shown = lines.filter((l) => l.type === 'shown' && JSON.stringify(l.subQuestions) === JSON.stringify(JANET_STEPS));
    assert.strictEqual(shown.length, 1, 'expected exactly one "shown" event for the decomposition');
    const id = shown[0].id;
    assert.deepStrictEqual(shown[0].source, { kind: 'teacher', model: 'fake-teacher', device: 'remote' });
    assert.ok(lines.some((l) => l.type === 'vote' && l.id === id && l.target === 0 && l.vote === 1), 'no step 1 vote');
    assert.ok(lines.some((l) => l.type === 'vote' && l.id === id && l.target === 2 && l.vote === -1), 'no step 3 vote');
    assert.ok(
      lines.some((l) => l.type === 'vote' && l.id === id && l.target === 'overall' && l.vote === -1 && l.reason === 'Step 2 repeats step 1.'),
      'no overall vote with its reason',
    );
    assert.ok(lines.some((l) => l.type === 'answer' && l.id === id && l.step === 0 && l.answer === '16-3-4' && l.value === '16-3-4 = 9'));
    assert.strictEqual(panelState().steps[0].rating, 'up');
    assert.strictEqual(panelState().overallRating, 'down');
    assert.strictEqual(panelState().feedbackId, id);
    assert.match(panelState().notice ?? '', /feedback saved/);
  });

  test('settings take effect: feedback off writes nothing and the panel hides the thumbs', async () => {
    await withSetting('feedback.enabled', false, async () => {
      await waitFor('the panel to hear about the setting', () => panelState().feedbackEnabled === false);
      const before = feedbackLines().length;
      await api.panel!.handleMessage({ type: 'rateStep', sessionId: panelState().sessionId, step: 1, rating: 'down' });
      assert.strictEqual(feedbackLines().length, before);
    });
    await waitFor('feedback back on', () => panelState().feedbackEnabled === true);
  });

  test('settings take effect: hover languages', async () => {
    const editor = await openFixture();
    const pos = cursorAt(editor, JANET, 4);
    await withSetting('hover.languages', ['plaintext'], async () => {
      assert.doesNotMatch(await hoverAt(editor.document.uri, pos), /Math Tutor plan/);
    });
    assert.match(await hoverAt(editor.document.uri, pos), /Math Tutor plan/);
  });

  test('settings take effect: maxSubQuestions caps the steps', async () => {
    const editor = await openFixture();
    cursorAt(editor, JANET, 10);
    const outcome = await withSetting('maxSubQuestions', 2, () => decompose());
    assert.deepStrictEqual((outcome as { subQuestions: string[] }).subQuestions, JANET_STEPS.slice(0, 2));
  });

  test('Regenerate replaces the session and keeps the hover on the problem', async () => {
    const editor = await openFixture();
    cursorAt(editor, JANET, 10);
    await decompose();
    const before = panelState();
    await api.panel!.handleMessage({ type: 'regenerate', sessionId: before.sessionId });
    const after = panelState();
    assert.notStrictEqual(after.sessionId, before.sessionId);
    assert.strictEqual(after.busy, undefined);
    assert.deepStrictEqual(after.steps.map((s) => s.question), JANET_STEPS);
    assert.match(after.notice ?? '', /same steps/);
    assert.match(await hoverAt(editor.document.uri, cursorAt(editor, JANET, 4)), /Math Tutor plan/);
  });

  test('the teacher gives a hint for the current step and checks the learner\'s answer', async function () {
    this.timeout(30_000);
    const s = await showJanet();
    const panel = api.panel!;
    const systemOf = (i: number) => teacher.requests[i].body?.messages.find((m) => m.role === 'system')?.content;
    const userOf = (i: number) => teacher.requests[i].body?.messages.find((m) => m.role === 'user')?.content ?? '';

    let asked = teacher.requests.length;
    await panel.handleMessage({ type: 'hint', sessionId: s.sessionId, step: 0 });
    assert.strictEqual(panelState().steps[0].hint, HINT);
    assert.strictEqual(panelState().busy, undefined);
    assert.strictEqual(systemOf(asked), HINT_SYSTEM_PROMPT);
    assert.ok(userOf(asked).includes(JANET) && userOf(asked).includes(`Current sub-question: Q1: ${JANET_STEPS[0]}`), userOf(asked));

    asked = teacher.requests.length;
    await panel.handleMessage({ type: 'checkWithTeacher', sessionId: s.sessionId, step: 0 });
    assert.strictEqual(teacher.requests.length, asked, 'checked an answer that was never given');
    assert.strictEqual(panelState().steps[0].teacherCheck, undefined);

    await panel.handleMessage({ type: 'answer', sessionId: s.sessionId, step: 0, text: '12' });
    await panel.handleMessage({ type: 'checkWithTeacher', sessionId: s.sessionId, step: 0 });
    assert.strictEqual(systemOf(asked), CHECK_SYSTEM_PROMPT);
    assert.ok(userOf(asked).includes('<answer>\n12\n</answer>'), userOf(asked));
    assert.strictEqual(panelState().steps[0].teacherCheck?.verdict, 'incorrect');
    assert.match(panelState().steps[0].teacherCheck?.explanation ?? '', /Reread/);

    // A new answer drops the verdict on the old one; checking again judges the new one.
    await panel.handleMessage({ type: 'answer', sessionId: s.sessionId, step: 0, text: '16' });
    assert.strictEqual(panelState().steps[0].teacherCheck, undefined);
    assert.strictEqual(panelState().steps[0].hint, HINT, 'the hint is kept');
    await panel.handleMessage({ type: 'checkWithTeacher', sessionId: s.sessionId, step: 0 });
    assert.strictEqual(panelState().steps[0].teacherCheck?.verdict, 'correct');

    // Both verdicts are in the feedback log as checked answers (the reward of the training format).
    const id = panelState().feedbackId;
    const checked = feedbackLines().filter((l) => l.type === 'answer' && l.id === id && 'correct' in l);
    assert.deepStrictEqual(checked.map((l) => [l.answer, l.correct]), [['12', false], ['16', true]]);
  });

  test('a slow teacher or none: the panel says why and keeps the step as it was', async function () {
    this.timeout(30_000);
    const s = await showJanet();
    teacher.replyDelayMs = 10_000;
    try {
      await withSetting('teacher.timeoutMs', 1000, async () => {
        await api.panel!.handleMessage({ type: 'hint', sessionId: s.sessionId, step: 0 });
      });
    } finally {
      teacher.replyDelayMs = 0;
    }
    assert.match(panelState().error ?? '', /did not answer within/);
    assert.strictEqual(panelState().busy, undefined);
    assert.strictEqual(panelState().steps[0].hint, undefined);

    await withSetting('teacher.baseUrl', '', async () => {
      await waitFor('the panel to hear that the teacher is gone', () => panelState().teacherAvailable === false);
      await api.panel!.handleMessage({ type: 'hint', sessionId: s.sessionId, step: 0 });
      assert.match(panelState().error ?? '', /No teacher is configured/);
    });
    await waitFor('the teacher back', () => panelState().teacherAvailable === true);
  });

  test('in auto mode, "Ask the teacher" replaces the steps with the teacher\'s', async function () {
    this.timeout(180_000);
    const editor = await openFixture();
    cursorAt(editor, JANET, 10);
    await withSetting('mode', 'auto', async () => {
      const outcome = await decompose();
      assert.strictEqual(outcome.status, 'shown', JSON.stringify(outcome));
      const before = panelState();
      assert.strictEqual(before.teacherAvailable, true);
      const asked = teacher.requests.length;
      await api.panel!.handleMessage({ type: 'askTeacher', sessionId: before.sessionId });
      assert.ok(teacher.requests.length > asked, 'the teacher was not asked');
      const after = panelState();
      assert.strictEqual(after.source, 'teacher');
      assert.strictEqual(after.badge, 'fake-teacher');
      assert.deepStrictEqual(after.steps.map((s) => s.question), JANET_STEPS);
    });
  });

  test('a second decompose cancels the first', async function () {
    this.timeout(60_000);
    const editor = await openFixture();
    cursorAt(editor, 'Weng earns', 5);
    const [a, b] = await Promise.all([decompose(), decompose()]);
    assert.strictEqual(a.status, 'cancelled');
    assert.strictEqual(b.status, 'shown', JSON.stringify(b));
  });

  test('markup in the problem stays text in the panel state', async () => {
    const editor = await openFixture();
    cursorAt(editor, 'Tom has 5', 3);
    const outcome = await decompose();
    assert.strictEqual(outcome.status, 'shown', JSON.stringify(outcome));
    assert.match(panelState().problem, /<script>alert\(1\)<\/script>/);
    assert.match(panelState().problem, /<img src=x onerror=alert\(2\)>/);
  });

  test('text without numbers is still decomposed, with a warning', async () => {
    const editor = await openFixture();
    cursorAt(editor, 'The sky is blue', 3);
    const outcome = await decompose();
    assert.strictEqual(outcome.status, 'shown', JSON.stringify(outcome));
    assert.ok(panelState().warnings.some((w) => /no numbers/.test(w)), JSON.stringify(panelState().warnings));
  });

  test('the tracked problem follows edits and is dropped when rewritten', async () => {
    const editor = await openText("Intro.\n\nJanet's ducks lay 16 eggs per day. She eats 3 and sells the rest for $2 each. How much does she make?\n");
    cursorAt(editor, 'Janet', 3);
    const outcome = await decompose();
    assert.strictEqual(outcome.status, 'shown', JSON.stringify(outcome));
    const uri = editor.document.uri;
    await editor.edit((e) => e.insert(new vscode.Position(0, 0), 'A new first line.\n'));
    assert.match(await hoverAt(uri, cursorAt(editor, 'Janet', 3)), /Math Tutor plan/);
    await editor.edit((e) => e.insert(editor.document.positionAt(editor.document.getText().indexOf('per day')), 'every '));
    assert.match(await hoverAt(uri, cursorAt(editor, 'every per day', 2)), /Math Tutor plan/);
    const start = editor.document.getText().indexOf('Janet');
    const end = editor.document.getText().indexOf('make?') + 'make?'.length;
    await editor.edit((e) =>
      e.replace(new vscode.Range(editor.document.positionAt(start), editor.document.positionAt(end)), 'The weather today is sunny and warm with light wind from the west.'),
    );
    assert.doesNotMatch(await hoverAt(uri, cursorAt(editor, 'weather', 3)), /Math Tutor plan/);
  });

  test('the panel link in the hover reopens a closed panel on the same session', async () => {
    const editor = await openFixture();
    cursorAt(editor, JANET, 10);
    const outcome = (await decompose()) as { sessionId: string };
    api.panel!.dispose();
    assert.strictEqual(api.panel, undefined);
    await vscode.commands.executeCommand('mathTutor.openPanel', outcome.sessionId);
    const state = await waitFor('the reopened panel', () => api.panel?.state);
    assert.strictEqual(state.sessionId, outcome.sessionId);
  });

  test('feedback export writes training data; delete removes every log file', async () => {
    assert.ok(feedbackLines().some((l) => l.type === 'vote'), 'an earlier test left votes in the log');
    const out = path.join(path.dirname(api.feedbackDir), 'exported-feedback.json');
    const written = await vscode.commands.executeCommand<string>('mathTutor.exportFeedback', vscode.Uri.file(out));
    assert.strictEqual(written, out);
    const examples = JSON.parse(fs.readFileSync(out, 'utf8')) as { question: string; answers: string[]; rewards: { usefulness: number[] } }[];
    const janet = examples.find((e) => JSON.stringify(e.answers) === JSON.stringify(JANET_STEPS));
    assert.ok(janet, 'the rated decomposition is in the export');
    assert.strictEqual(janet.rewards.usefulness.length, JANET_STEPS.length);
    const removed = await vscode.commands.executeCommand<number>('mathTutor.deleteFeedback', { confirmed: true });
    assert.ok(removed >= 1);
    assert.deepStrictEqual(feedbackLines(), []);
    fs.rmSync(out, { force: true });
  });
});

// Run by test/runner/runInCodeServer.ts in a second pass, with MATH_TUTOR_MODEL_DIR pointing at a
// copy of models/ whose decoder.onnx is corrupt; skipped in the main pass.
suite('A corrupt model (second pass with MATH_TUTOR_BROKEN_MODEL=1)', function () {
  let teacher: FakeTeacher | undefined;

  suiteSetup(function () {
    if (process.env.MATH_TUTOR_BROKEN_MODEL !== '1') {
      this.skip();
    }
  });

  suiteTeardown(async () => {
    await setSetting('mode', undefined);
    await setSetting('teacher.model', undefined);
    await setSetting('teacher.baseUrl', undefined);
    await teacher?.close();
  });

  test('local only: a clear error that names the file, shown in the status bar', async function () {
    this.timeout(120_000);
    await setSetting('mode', 'local');
    const editor = await openFixture();
    cursorAt(editor, JANET, 10);
    const outcome = await decompose();
    assert.strictEqual(outcome.status, 'failed', JSON.stringify(outcome));
    assert.match(outcome.message, /decoder\.onnx/);
    assert.strictEqual(api.service.status.state, 'error');
    assert.match(api.statusBar.text, /error/);
  });

  test('auto with a teacher: the teacher serves, the panel says why, the status bar keeps the error', async function () {
    this.timeout(120_000);
    teacher = await startFakeTeacher();
    await setSetting('teacher.baseUrl', teacher.baseUrl);
    await setSetting('teacher.model', 'fake-teacher');
    await setSetting('mode', 'auto');
    const editor = await openFixture();
    cursorAt(editor, JANET, 10);
    const outcome = await decompose();
    assert.strictEqual(outcome.status, 'shown', JSON.stringify(outcome));
    assert.strictEqual(panelState().source, 'teacher');
    assert.ok(panelState().warnings.some((w) => /decoder\.onnx/.test(w)), JSON.stringify(panelState().warnings));
    assert.match(api.statusBar.text, /teacher \(local model error\)/);
  });
});
