// `npm run test:e2e`: a person's session in VS Code (code-server) driven by Playwright + Debian
// Chromium: open the sample file, run the command from the palette, answer a step in the panel, ask
// the teacher for a hint and a check, go to the next step, give thumbs, hover a quantity. Asserts on
// what is visible and saves PNG screenshots to artifacts/screenshots/ (git-ignored; CI keeps them).
//
// The extension runs in its default `auto` mode: the bundled model first, the teacher as fallback.
// A stand-in teacher on 127.0.0.1 (test/suite/fakeTeacher.ts) is configured so the flow has steps
// even while models/ holds a weak or placeholder model; MATH_TUTOR_E2E_TEACHER=none runs local only.
import * as fs from 'fs';
import * as path from 'path';
import type { Page } from 'playwright-core';
import { startFakeTeacher, type FakeTeacher } from '../suite/fakeTeacher';
import { checkPrerequisites, launchChromium, REPO_ROOT, startCodeServer, workbenchUrl } from '../runner/codeServer';
import { openFile, panelFrame, runCommand, STEP_TIMEOUT, textPoint } from './workbench';

const SHOTS = path.join(REPO_ROOT, 'artifacts', 'screenshots');
const MODEL_TIMEOUT = 120_000;

interface Check {
  name: string;
  ok: boolean;
  error?: string;
}

async function main(): Promise<number> {
  checkPrerequisites();
  fs.mkdirSync(SHOTS, { recursive: true });
  const workspace = path.join(REPO_ROOT, 'test', 'fixtures');
  const useTeacher = process.env.MATH_TUTOR_E2E_TEACHER !== 'none';
  let teacher: FakeTeacher | undefined;
  if (useTeacher) {
    teacher = await startFakeTeacher();
  }
  const server = await startCodeServer({
    workspace,
    settings: {
      'editor.minimap.enabled': false,
      // No fade-in: screenshots show the hover fully drawn.
      'workbench.reduceMotion': 'on',
      'editor.hover.delay': 100,
      'workbench.colorTheme': 'Default Dark Modern',
      ...(teacher ? { 'mathTutor.teacher.baseUrl': teacher.baseUrl, 'mathTutor.teacher.model': 'stand-in-teacher' } : {}),
    },
  });
  const chromium = await launchChromium();
  const checks: Check[] = [];
  const dialogs: string[] = [];
  const shots: string[] = [];
  const check = async (name: string, body: () => Promise<void>): Promise<boolean> => {
    try {
      await body();
      checks.push({ name, ok: true });
      console.log(`ok   ${name}`);
      return true;
    } catch (err) {
      const error = err instanceof Error ? err.message.split('\n').slice(0, 6).join('\n') : String(err);
      checks.push({ name, ok: false, error });
      console.log(`FAIL ${name}\n     ${error.replace(/\n/g, '\n     ')}`);
      return false;
    }
  };
  const shoot = async (page: Page, name: string) => {
    const file = path.join(SHOTS, name);
    await page.screenshot({ path: file });
    shots.push(path.relative(REPO_ROOT, file));
  };

  try {
    const page = await chromium.context.newPage();
    const cspViolations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) {
        cspViolations.push(m.text());
      }
    });
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(workbenchUrl(server, workspace));
    const frame = panelFrame(page);

    const started = await check('the workbench loads with the extension', async () => {
      await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
      await page.locator('.statusbar-item', { hasText: 'Math Tutor' }).first().waitFor({ timeout: 60_000 });
    });
    if (!started) {
      await shoot(page, 'workbench-failed.png');
      throw new Error('the workbench did not load');
    }

    await check('palette: Decompose Problem on the paragraph under the cursor opens the panel', async () => {
      await openFile(page, 'word-problems.md');
      await page.locator('.monaco-editor .view-line', { hasText: "Janet's ducks" }).first().click();
      await runCommand(page, 'Math Tutor: Decompose Problem');
      await frame.locator('.problem', { hasText: "Janet's ducks lay 16 eggs" }).waitFor({ timeout: MODEL_TIMEOUT });
      await frame.locator('li.step.current .question').waitFor({ timeout: STEP_TIMEOUT });
      await frame.locator('vscode-badge.source').waitFor({ timeout: STEP_TIMEOUT });
      const badge = await frame.locator('vscode-badge.source').innerText();
      if (!/^(local|teacher): \S/.test(badge)) {
        throw new Error(`unexpected source badge "${badge}"`);
      }
      // One step at a time: only the first step is shown.
      const visible = await frame.locator('li.step').count();
      if (visible !== 1) {
        throw new Error(`${visible} steps visible at the start, expected 1`);
      }
    });

    await check('answer a step: arithmetic is evaluated and shown', async () => {
      const field = frame.locator('li.step.current vscode-textfield input');
      await field.click();
      await field.fill('16-3-4');
      await field.press('Enter');
      await frame.locator('li.step.current .answer', { hasText: '16-3-4 = 9' }).waitFor({ timeout: STEP_TIMEOUT });
    });

    if (teacher) {
      await check('the teacher gives a hint and checks the answer', async () => {
        await frame.locator('li.step.current vscode-button', { hasText: 'Hint' }).click();
        await frame.locator('li.step.current .hint', { hasText: 'Hint: Look for' }).waitFor({ timeout: STEP_TIMEOUT });
        await frame.locator('li.step.current vscode-button', { hasText: 'Check with teacher' }).click();
        // The stand-in teacher accepts answers containing 16 ("16-3-4").
        await frame.locator('li.step.current .teacher-check.correct', { hasText: 'Correct.' }).waitFor({ timeout: STEP_TIMEOUT });
      });
      await shoot(page, 'panel-teacher-help.png');
    }

    await check('thumbs up on the step is saved', async () => {
      await frame.locator('li.step.current vscode-button[aria-label="Step 1: helpful"]').click();
      await frame.locator('.notice', { hasText: 'feedback saved' }).waitFor({ timeout: STEP_TIMEOUT });
      const pressed = await frame.locator('li.step.current vscode-button[aria-label="Step 1: helpful"]').getAttribute('aria-pressed');
      if (pressed !== 'true') {
        throw new Error('the thumbs-up button does not show as pressed');
      }
    });

    await check('next step: step 2 appears, step 1 stays visible with its answer', async () => {
      const total = await frame.locator('h2').innerText();
      if (/of 1\)/.test(total)) {
        throw new Error('the decomposition has a single step; nothing to move to');
      }
      await frame.locator('vscode-button', { hasText: 'Next step' }).click();
      await frame.locator('li.step.current[data-step="1"]').waitFor({ timeout: STEP_TIMEOUT });
      await frame.locator('li.step[data-step="0"] .answer', { hasText: '= 9' }).waitFor({ timeout: STEP_TIMEOUT });
    });

    await check('thumbs down on the whole breakdown asks for a reason and saves it', async () => {
      await frame.locator('vscode-button[aria-label="The whole breakdown: not helpful"]').click();
      const reason = frame.locator('.reason-row vscode-textfield input');
      await reason.waitFor({ timeout: STEP_TIMEOUT });
      await reason.fill('The second step is too vague.');
      await reason.press('Enter');
      await frame.locator('.overall .muted', { hasText: 'Reason: The second step is too vague.' }).waitFor({ timeout: STEP_TIMEOUT });
    });
    await shoot(page, 'panel.png');

    await check('hover over a quantity shows which steps use it and the plan', async () => {
      // Put the pointer on "16" in the editor (the panel is beside it).
      await page.mouse.move(10, 10);
      const point = await textPoint(page, "Janet's ducks", '16');
      await page.mouse.move(point.x, point.y);
      const hover = page.locator('.monaco-hover', { hasText: 'Math Tutor plan' }).first();
      await hover.waitFor({ state: 'visible', timeout: STEP_TIMEOUT });
      const text = (await hover.innerText()).replace(/\u00a0/g, ' ');
      if (!/16 eggs/.test(text) || !/(is used in step|is not used by any step)/.test(text)) {
        throw new Error(`hover text lacks the quantity line:\n${text}`);
      }
      if (!/current step/.test(text) || !/Open the tutor panel/.test(text)) {
        throw new Error(`hover text lacks the plan or the link:\n${text}`);
      }
      await page.waitForTimeout(300); // let the hover settle its final position before the screenshot
    });
    await shoot(page, 'hover.png');

    await check('a problem with <script> and <img onerror> shows as text, nothing runs', async () => {
      await page.mouse.move(10, 10);
      await page.locator('.monaco-editor .view-line', { hasText: 'Tom has 5' }).first().click({ position: { x: 5, y: 5 } });
      await runCommand(page, 'Math Tutor: Decompose Problem');
      await frame.locator('.problem', { hasText: '<script>alert(1)</script>' }).waitFor({ timeout: MODEL_TIMEOUT });
      await frame.locator('.problem', { hasText: '<img src=x onerror=alert(2)>' }).waitFor({ timeout: STEP_TIMEOUT });
      if (dialogs.length) {
        throw new Error(`a dialog opened: ${dialogs.join(', ')}`);
      }
    });
    await shoot(page, 'panel-markup-as-text.png');

    await check('empty paragraph: a message and no new panel content', async () => {
      await page.mouse.move(10, 10);
      // The blank line between the heading and the first paragraph.
      const heading = page.locator('.monaco-editor .view-line', { hasText: '# Word problems' }).first();
      const box = await heading.boundingBox();
      if (!box) {
        throw new Error('heading line not visible');
      }
      await page.mouse.click(box.x + 200, box.y + box.height * 1.5);
      await runCommand(page, 'Math Tutor: Decompose Problem');
      await page.locator('.notifications-toasts .notification-toast', { hasText: 'There is no problem text' }).first().waitFor({ timeout: STEP_TIMEOUT });
    });
    await shoot(page, 'empty-selection-message.png');

    await check('the panel survives a window reload (serializer + saved state)', async () => {
      // As a user does it: the workbench command saves its state (editors, webview state) first.
      await runCommand(page, 'Developer: Reload Window');
      await page.waitForEvent('load', { timeout: 60_000 });
      await page.locator('.statusbar-item', { hasText: 'Math Tutor' }).first().waitFor({ timeout: 60_000 });
      await panelFrame(page).locator('.problem', { hasText: 'Tom has 5' }).waitFor({ timeout: 60_000 });
      await panelFrame(page).locator('li.step.current .question').waitFor({ timeout: STEP_TIMEOUT });
    });
    await shoot(page, 'panel-after-reload.png');

    await check('the panel works by keyboard alone', async () => {
      const f = panelFrame(page);
      const field = f.locator('li.step.current vscode-textfield input');
      await field.focus();
      await page.keyboard.type('2+3');
      await page.keyboard.press('Enter');
      await f.locator('li.step.current .answer', { hasText: '2+3 = 5' }).waitFor({ timeout: STEP_TIMEOUT });
      // Tab from the answer box through the step's buttons (Submit, the teacher's Hint / Check when
      // one is set up, the two thumbs) to "Next step"; Enter activates it.
      const before = await f.locator('li.step').count();
      const visited: string[] = [];
      for (let i = 0; i < 8 && !/Next step/.test(visited.at(-1) ?? ''); i++) {
        await page.keyboard.press('Tab');
        const focused = f.locator(':focus').first();
        visited.push((await focused.getAttribute('aria-label').catch(() => null)) ?? (await focused.innerText().catch(() => '')));
      }
      if (visited[0] !== 'Submit' || !/Next step/.test(visited.at(-1) ?? '')) {
        throw new Error(`Tab order from the answer box: ${visited.join(' > ')}`);
      }
      await page.keyboard.press('Enter');
      await f.locator('li.step').nth(before).waitFor({ timeout: STEP_TIMEOUT });
    });

    await check('the status bar item opens the mode / device / key / feedback menu', async () => {
      await page.locator('.statusbar-item', { hasText: 'Math Tutor' }).first().click();
      const rows = page.locator('.quick-input-list .monaco-list-row');
      await rows.first().waitFor({ timeout: STEP_TIMEOUT });
      const labels = (await rows.allInnerTexts()).join('\n');
      for (const want of ['Mode', 'Device', 'Set teacher API key', 'Open feedback folder']) {
        if (!labels.includes(want)) {
          throw new Error(`the menu lacks "${want}":\n${labels}`);
        }
      }
    });
    await shoot(page, 'status-menu.png');
    await page.keyboard.press('Escape');

    await check('the walkthrough shows its three steps', async () => {
      await runCommand(page, 'Welcome: Open Walkthrough...');
      const pick = page.locator('.quick-input-list .monaco-list-row', { hasText: 'Get started with Math Tutor' }).first();
      await pick.waitFor({ timeout: STEP_TIMEOUT });
      await pick.click();
      for (const title of ['Select a word problem', 'Decompose it', 'Answer, then give feedback']) {
        await page.locator('.gettingStartedContainer', { hasText: title }).first().waitFor({ timeout: STEP_TIMEOUT });
      }
    });
    await shoot(page, 'walkthrough.png');

    await check('no Content Security Policy violations were reported', () =>
      cspViolations.length ? Promise.reject(new Error(cspViolations.slice(0, 3).join('\n'))) : Promise.resolve(),
    );
  } finally {
    await chromium.close();
    await server.stop();
    await teacher?.close();
  }
  const passed = checks.filter((c) => c.ok).length;
  const failed = checks.length - passed;
  console.log(`\nScreenshots: ${shots.join(', ') || 'none'}`);
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0 && passed > 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.stack : String(err));
    console.log('0 passed, 1 failed');
    process.exit(1);
  },
);
