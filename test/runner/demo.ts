// `npm run demo`: VS Code in the browser (code-server on 127.0.0.1, the same set-up as the tests)
// with this extension loaded and test/fixtures/word-problems.md open. Prints the address; Ctrl+C
// stops code-server and removes its throw-away profile.
import * as fs from 'fs';
import * as path from 'path';
import { checkPrerequisites, REPO_ROOT, startCodeServer, workbenchUrl } from './codeServer';

async function main(): Promise<void> {
  checkPrerequisites();
  const workspace = path.join(REPO_ROOT, 'test', 'fixtures');
  const sample = path.join(workspace, 'word-problems.md');
  if (!fs.existsSync(sample)) {
    throw new Error(`${sample} is missing`);
  }
  const port = process.env.PORT ? Number(process.env.PORT) : undefined;
  const server = await startCodeServer({
    workspace,
    port,
    settings: { 'workbench.startupEditor': 'none', 'editor.wordWrap': 'on' },
  });
  // Open the sample file on start-up: code-server opens files given in the `payload` too.
  const url = `${workbenchUrl(server, workspace)}`.replace(
    /payload=([^&]+)/,
    (_m, p: string) => {
      const payload = JSON.parse(decodeURIComponent(p)) as [string, string][];
      payload.push(['openFile', `vscode-remote://127.0.0.1:${server.port}${sample}`]);
      return `payload=${encodeURIComponent(JSON.stringify(payload))}`;
    },
  );
  console.log('\nMath Tutor demo is running (code-server on 127.0.0.1, extension loaded from this folder).');
  console.log(`Open:\n\n  ${url}\n`);
  console.log('In the editor, put the cursor in a problem and run "Math Tutor: Decompose Problem" (F1, or Ctrl+Alt+M).');
  console.log('Press Ctrl+C to stop.');
  let stopping = false;
  const stop = () => {
    stopping = true;
    void server.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  server.process.on('exit', (code) => {
    if (!stopping) {
      console.error(`code-server exited (${code}).`);
      void server.stop().then(() => process.exit(1));
    }
  });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
