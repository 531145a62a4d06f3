// `npm run test:desktop`: the same suite (out/test/suite/index.js) in desktop VS Code through
// @vscode/test-electron, for machines that can download VS Code (or that have one: set
// VSCODE_EXECUTABLE_PATH to skip the download). Offline machines run `npm run test:vscode`.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runTests } from '@vscode/test-electron';
import type { SuiteResults } from '../suite/index';
import { REPO_ROOT } from './codeServer';

async function main(): Promise<number> {
  const resultsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'math-tutor-desktop-'));
  const resultsFile = path.join(resultsDir, 'results.json');
  try {
    const exitCode = await runTests({
      // Minimum supported VS Code (engines.vscode) unless told otherwise; CI may also run `stable`.
      version: process.env.VSCODE_TEST_VERSION ?? '1.100.3',
      vscodeExecutablePath: process.env.VSCODE_EXECUTABLE_PATH || undefined,
      extensionDevelopmentPath: REPO_ROOT,
      extensionTestsPath: path.join(REPO_ROOT, 'out', 'test', 'suite', 'index.js'),
      extensionTestsEnv: { MATH_TUTOR_SUITE_RESULTS: resultsFile },
      launchArgs: [
        path.join(REPO_ROOT, 'test', 'fixtures'),
        '--disable-extensions',
        '--disable-workspace-trust',
        '--user-data-dir', path.join(resultsDir, 'user'),
      ],
    }).catch((err: unknown) => {
      console.error(err instanceof Error ? err.message : String(err));
      return 1;
    });
    if (!fs.existsSync(resultsFile)) {
      console.error('The suite wrote no results (VS Code could not be downloaded or started?).');
      console.log('0 passed, 1 failed');
      return 1;
    }
    const results = JSON.parse(fs.readFileSync(resultsFile, 'utf8')) as SuiteResults;
    for (const t of results.tests.filter((x) => x.state === 'failed')) {
      console.log(`\nFAILED: ${t.title}\n${t.error ?? ''}`);
    }
    console.log(`${results.passed} passed, ${results.failed} failed`);
    return exitCode === 0 && results.failed === 0 ? 0 : 1;
  } finally {
    fs.rmSync(resultsDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.stack : String(err));
    process.exit(1);
  },
);
