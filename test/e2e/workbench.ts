// Playwright helpers for the VS Code workbench (selectors from the shared guide, vscode-e2e.md).
import type { FrameLocator, Page } from 'playwright-core';

export const STEP_TIMEOUT = 30_000;

export async function runCommand(page: Page, title: string): Promise<void> {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget .quick-input-box input');
  await input.waitFor({ state: 'visible', timeout: STEP_TIMEOUT });
  await input.fill(`>${title}`);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor({ timeout: STEP_TIMEOUT });
  await page.keyboard.press('Enter');
}

export async function openFile(page: Page, name: string): Promise<void> {
  await page.keyboard.press('Control+P');
  const input = page.locator('.quick-input-widget .quick-input-box input');
  await input.waitFor({ state: 'visible', timeout: STEP_TIMEOUT });
  await input.fill(name);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: name }).first().waitFor({ timeout: STEP_TIMEOUT });
  await page.keyboard.press('Enter');
  await page.locator('.monaco-editor .view-line', { hasText: "Janet's ducks" }).first().waitFor({ timeout: STEP_TIMEOUT });
}

/** Screen coordinates of the first occurrence of `needle` in a rendered editor line containing `lineText`. */
export async function textPoint(page: Page, lineText: string, needle: string): Promise<{ x: number; y: number }> {
  // Runs in the page; a string so this Node-side file needs no DOM types.
  const finder = `(([line, target]) => {
    const norm = (t) => (t || '').replace(/\\u00a0/g, ' ');
    const lines = [...document.querySelectorAll('.monaco-editor .view-line')].filter((el) => norm(el.textContent).includes(line));
    for (const el of lines) {
      const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const i = norm(node.textContent).indexOf(target);
        if (i >= 0) {
          const range = document.createRange();
          range.setStart(node, i);
          range.setEnd(node, i + target.length);
          const r = range.getBoundingClientRect();
          return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
        }
      }
    }
    return undefined;
  })(${JSON.stringify([lineText, needle])})`;
  const point = await page.evaluate<{ x: number; y: number } | undefined>(finder);
  if (!point) {
    throw new Error(`"${needle}" is not visible in the editor`);
  }
  return point;
}

export function panelFrame(page: Page): FrameLocator {
  return page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
}

