// `npm run test:vscode`: runs the integration suite (out/test/suite/index.js, the @vscode/test-electron
// contract) inside code-server, driven by headless Chromium, and prints `N passed, N failed`.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { SuiteResults } from '../suite/index';
import { checkPrerequisites, launchChromium, REPO_ROOT, startCodeServer, workbenchUrl } from './codeServer';

const SUITE_TIMEOUT_MS = Number(process.env.MATH_TUTOR_SUITE_TIMEOUT_MS ?? 10 * 60_000);

interface PassResult {
  results?: SuiteResults;
  exitCode: number;
}

/** One code-server + Chromium session running the suite with `env`. */
async function runPass(name: string, testsPath: string, env: Record<string, string>): Promise<PassResult> {
  const resultsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'math-tutor-results-'));
  const resultsFile = path.join(resultsDir, 'results.json');
  const workspace = path.join(REPO_ROOT, 'test', 'fixtures');
  const serverLog: string[] = [];
  const hostLog: string[] = [];
  const verbose = process.env.MATH_TUTOR_VERBOSE === '1';
  const started = Date.now();
  console.log(`=== ${name}`);
  const server = await startCodeServer({
    workspace,
    env: { MATH_TUTOR_SUITE_RESULTS: resultsFile, ...env },
    log: (line) => {
      serverLog.push(line);
      if (verbose) {
        process.stderr.write(line);
      }
    },
  });
  let chromium: Awaited<ReturnType<typeof launchChromium>> | undefined;
  try {
    chromium = await launchChromium();
    const page = await chromium.context.newPage();
    let settle!: (code: number) => void;
    const exited = new Promise<number>((resolve) => (settle = resolve));
    // The workbench calls these when it runs an extension test payload (smoke-test driver hooks).
    await page.exposeFunction('codeAutomationLog', (type: string, args: unknown[]) => {
      const text = args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
      // Workbench noise (e.g. the extension gallery being unreachable offline) lands here too, so
      // it is printed only on request or when the suite produced no results.
      hostLog.push(`[${type}] ${text}`);
      if (verbose) {
        process.stdout.write(`[ext host ${type}] ${text}\n`);
      }
    });
    await page.exposeFunction('codeAutomationExit', (code: number) => settle(code));
    await page.goto(workbenchUrl(server, workspace, { testsPath }));
    const timeout = new Promise<number>((resolve) => setTimeout(() => resolve(-1), SUITE_TIMEOUT_MS).unref());
    const code = await Promise.race([exited, timeout]);
    if (code === -1) {
      console.error(`The suite did not finish within ${SUITE_TIMEOUT_MS / 1000} s.`);
    }
    if (!fs.existsSync(resultsFile)) {
      console.error('The suite wrote no results (did the extension host start?). Last code-server output:');
      console.error(serverLog.join('').split('\n').slice(-40).join('\n'));
      console.error(hostLog.slice(-40).join('\n'));
      return { exitCode: code };
    }
    const results = JSON.parse(fs.readFileSync(resultsFile, 'utf8')) as SuiteResults;
    for (const t of results.tests) {
      const mark = t.state === 'passed' ? 'ok  ' : t.state === 'failed' ? 'FAIL' : 'skip';
      console.log(`${mark} ${t.title}${t.durationMs !== undefined ? ` (${t.durationMs} ms)` : ''}`);
    }
    for (const t of results.tests.filter((x) => x.state === 'failed')) {
      console.log(`\nFAILED: ${t.title}\n${t.error ?? ''}`);
    }
    console.log(`(${name}: ${((Date.now() - started) / 1000).toFixed(1)} s, exit code ${code})\n`);
    return { results, exitCode: code };
  } finally {
    await chromium?.close();
    await server.stop();
    fs.rmSync(resultsDir, { recursive: true, force: true });
  }
}

/** A copy of models/ whose decoder.onnx is garbage (the other files are links to the real ones). */
function brokenModelDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'math-tutor-broken-model-'));
  const models = path.join(REPO_ROOT, 'models');
  for (const file of fs.readdirSync(models)) {
    if (file === 'decoder.onnx') {
      fs.writeFileSync(path.join(dir, file), 'this is not an ONNX model\n');
    } else {
      fs.symlinkSync(path.join(models, file), path.join(dir, file));
    }
  }
  return dir;
}

async function main(): Promise<number> {
  checkPrerequisites();
  const testsPath = path.join(REPO_ROOT, 'out', 'test', 'suite', 'index.js');
  if (!fs.existsSync(testsPath)) {
    console.error(`${testsPath} is missing: run npm run compile first.`);
    return 2;
  }
  const started = Date.now();
  const passes: PassResult[] = [];
  passes.push(await runPass('suite (bundled model)', testsPath, {}));
  if (process.env.MATH_TUTOR_SKIP_BROKEN_MODEL !== '1') {
    const broken = brokenModelDir();
    try {
      passes.push(
        await runPass('suite (corrupt model)', testsPath, {
          MATH_TUTOR_MODEL_DIR: broken,
          MATH_TUTOR_BROKEN_MODEL: '1',
          MATH_TUTOR_SUITE_GREP: 'A corrupt model',
        }),
      );
    } finally {
      fs.rmSync(broken, { recursive: true, force: true });
    }
  }
  let passed = 0;
  let failed = 0;
  let pending = 0;
  for (const p of passes) {
    if (!p.results) {
      failed += 1; // the pass crashed before reporting
      continue;
    }
    passed += p.results.passed;
    failed += p.results.failed;
    // The main pass skips the corrupt-model tests; the second pass runs them.
    pending += p.results.pending;
  }
  const ranBroken = passes.length > 1;
  console.log(`Suite finished in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
  const skippedNote = pending && !ranBroken ? `, ${pending} pending` : '';
  console.log(`${passed} passed, ${failed} failed${skippedNote}`);
  return failed === 0 && passed > 0 && passes.every((p) => p.exitCode === 0) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.stack : String(err));
    process.exit(1);
  },
);
