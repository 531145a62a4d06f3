// Packaging smoke test: installs a VSIX built by `npm run package` into a fresh code-server profile
// (no extension development path: the installed copy only), decomposes a problem with the local
// model it carries, and checks the panel shows the local model's badge. Proves the VSIX has the
// bundle, the model and working onnxruntime binaries for this platform.
//   node out/test/e2e/vsixSmoke.js [path/to/file.vsix]   (default: artifacts/vsix/*-linux-x64-*.vsix)
import * as fs from 'fs';
import * as path from 'path';
import { CHROMIUM, codeServerEntry, launchChromium, REPO_ROOT, startCodeServer } from '../runner/codeServer';
import { openFile, panelFrame, runCommand } from './workbench';

async function main(): Promise<number> {
  const dir = path.join(REPO_ROOT, 'artifacts', 'vsix');
  const vsix =
    process.argv[2] ??
    (fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /-linux-x64-.*\.vsix$/.test(f)).map((f) => path.join(dir, f))[0] : undefined);
  if (!vsix || !fs.existsSync(vsix)) {
    console.error('No VSIX: run `npm run package -- linux-x64` first, or pass a path.');
    return 2;
  }
  if (!fs.existsSync(codeServerEntry()) || !fs.existsSync(CHROMIUM)) {
    console.error('Missing code-server or Chromium: run bash scripts/install-test-deps.sh.');
    return 2;
  }
  const workspace = path.join(REPO_ROOT, 'test', 'fixtures');
  const server = await startCodeServer({
    workspace,
    installVsix: vsix,
    settings: { 'mathTutor.mode': 'local' },
  });
  const chromium = await launchChromium();
  let ok = false;
  try {
    const page = await chromium.context.newPage();
    await page.goto(`${server.url}/?folder=${encodeURIComponent(workspace)}`);
    await page.locator('.statusbar-item', { hasText: 'Math Tutor' }).first().waitFor({ timeout: 60_000 });
    await openFile(page, 'word-problems.md');
    await page.locator('.monaco-editor .view-line', { hasText: "Janet's ducks" }).first().click();
    await runCommand(page, 'Math Tutor: Decompose Problem');
    const badge = panelFrame(page).locator('vscode-badge.source', { hasText: 'local: gsm-decomposer@' });
    await badge.waitFor({ timeout: 120_000 });
    console.log(`ok   ${path.basename(vsix)} installed, decomposed with ${await badge.innerText()}`);
    ok = true;
  } catch (err) {
    console.log(`FAIL ${path.basename(vsix)}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  } finally {
    await chromium.close();
    await server.stop();
  }
  console.log(`${ok ? 1 : 0} passed, ${ok ? 0 : 1} failed`);
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.stack : String(err));
    process.exit(1);
  },
);
