// The extension's integration suite entry, in the shape @vscode/test-electron expects: VS Code loads
// this module in the extension host (`extensionTestsPath`) and awaits `run()`. The same file runs
// in code-server (test/runner/runInCodeServer.ts) and in desktop VS Code (runInDesktop.ts).
// Besides mocha's console output it writes a JSON summary, because in code-server the extension
// host's stdout is not the driver's: the path comes from MATH_TUTOR_SUITE_RESULTS, else
// results.json next to this file.
import * as fs from 'fs';
import Mocha from 'mocha';
import * as path from 'path';

export interface SuiteResults {
  passed: number;
  failed: number;
  pending: number;
  tests: { title: string; state: 'passed' | 'failed' | 'pending'; durationMs?: number; error?: string }[];
}

export function resultsPath(): string {
  return process.env.MATH_TUTOR_SUITE_RESULTS || path.join(__dirname, 'results.json');
}

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'tdd', color: false, timeout: 120_000 });
  const grep = process.env.MATH_TUTOR_SUITE_GREP;
  if (grep) {
    mocha.grep(grep);
  }
  for (const file of fs.readdirSync(__dirname).filter((f) => f.endsWith('.test.js')).sort()) {
    mocha.addFile(path.join(__dirname, file));
  }
  const results: SuiteResults = { passed: 0, failed: 0, pending: 0, tests: [] };
  const out = resultsPath();
  fs.rmSync(out, { force: true });
  return new Promise((resolve, reject) => {
    try {
      const runner = mocha.run((failures) => {
        fs.mkdirSync(path.dirname(out), { recursive: true });
        fs.writeFileSync(out, JSON.stringify(results, null, 2));
        if (failures > 0) {
          reject(new Error(`${failures} test(s) failed.`));
        } else {
          resolve();
        }
      });
      runner.on('pass', (t) => {
        results.passed++;
        results.tests.push({ title: t.fullTitle(), state: 'passed', durationMs: t.duration });
      });
      runner.on('fail', (t, err: Error) => {
        results.failed++;
        results.tests.push({ title: t.fullTitle(), state: 'failed', error: err?.stack ?? String(err) });
      });
      runner.on('pending', (t) => {
        results.pending++;
        results.tests.push({ title: t.fullTitle(), state: 'pending' });
      });
    } catch (err) {
      reject(err instanceof Error ? err : new Error(String(err)));
    }
  });
}
