// Starting and stopping code-server (VS Code in the browser) and headless Debian Chromium for the
// integration suite, the e2e run and the demo. Follows the shared guide (vscode-e2e.md): code-server
// lives in a cache folder outside the repo (scripts/install-test-deps.sh puts it there), binds to
// 127.0.0.1 only, and gets a throw-away profile with HOME and XDG_* pointed into it.
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import type { Browser, BrowserContext } from 'playwright-core';

export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

export function codeServerEntry(): string {
  const dir =
    process.env.MATH_TUTOR_CODE_SERVER_DIR ??
    path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'math-tutor-test', 'code-server');
  return path.join(dir, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
}

export const CHROMIUM = process.env.MATH_TUTOR_CHROMIUM ?? '/usr/bin/chromium';

export function checkPrerequisites(): void {
  const missing: string[] = [];
  if (!fs.existsSync(codeServerEntry())) {
    missing.push(`code-server 4.100.3 (expected ${codeServerEntry()})`);
  }
  if (!fs.existsSync(CHROMIUM)) {
    missing.push(`Chromium (expected ${CHROMIUM})`);
  }
  for (const built of ['dist/extension.js', 'media/dist/panel.js']) {
    if (!fs.existsSync(path.join(REPO_ROOT, built))) {
      missing.push(`${built} (run npm run bundle)`);
    }
  }
  if (missing.length) {
    console.error(`Missing: ${missing.join('; ')}.\nRun: bash scripts/install-test-deps.sh (then npm run compile && npm run bundle).`);
    process.exit(2);
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function get(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.setTimeout(2000, () => {
      req.destroy();
      resolve(0);
    });
  });
}

export interface CodeServer {
  port: number;
  url: string;
  profileDir: string;
  process: ChildProcess;
  /** Kills the whole process group (its children outlive the parent) and removes the profile. */
  stop(): Promise<void>;
}

export interface StartOptions {
  workspace: string;
  /** Extra environment for code-server and its extension hosts. */
  env?: Record<string, string>;
  /** User settings for the throw-away profile. */
  settings?: Record<string, unknown>;
  /** Keep the profile folder (the demo does, to let the user reload). */
  keepProfile?: boolean;
  log?: (line: string) => void;
  port?: number;
  /** A VSIX to install into the throw-away extensions folder before start (packaging smoke test). */
  installVsix?: string;
}

const DEFAULT_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'telemetry.telemetryLevel': 'off',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'update.mode': 'none',
  'security.workspace.trust.enabled': false,
  'chat.commandCenter.enabled': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'git.openRepositoryInParentFolders': 'never',
  'git.enabled': false,
};

export async function startCodeServer(options: StartOptions): Promise<CodeServer> {
  const profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'math-tutor-cs-'));
  const dirs = {
    user: path.join(profileDir, 'user'),
    ext: path.join(profileDir, 'ext'),
    home: path.join(profileDir, 'home'),
  };
  for (const d of Object.values(dirs)) {
    fs.mkdirSync(d, { recursive: true });
  }
  fs.mkdirSync(path.join(dirs.user, 'User'), { recursive: true });
  fs.writeFileSync(path.join(dirs.user, 'User', 'settings.json'), JSON.stringify({ ...DEFAULT_SETTINGS, ...options.settings }, null, 2));
  const env = {
    ...process.env,
    HOME: dirs.home,
    XDG_CONFIG_HOME: path.join(dirs.home, '.config'),
    XDG_DATA_HOME: path.join(dirs.home, '.local', 'share'),
    XDG_CACHE_HOME: path.join(dirs.home, '.cache'),
    XDG_STATE_HOME: path.join(dirs.home, '.local', 'state'),
    ...options.env,
  };
  if (options.installVsix) {
    const r = spawnSync(
      process.execPath,
      [codeServerEntry(), '--user-data-dir', dirs.user, '--extensions-dir', dirs.ext, '--install-extension', options.installVsix],
      { env, encoding: 'utf8', timeout: 120_000 },
    );
    if (r.status !== 0) {
      fs.rmSync(profileDir, { recursive: true, force: true });
      throw new Error(`installing ${options.installVsix} failed: ${r.stderr || r.stdout}`);
    }
  }
  const port = options.port ?? (await freePort());
  const args = [
    codeServerEntry(),
    '--bind-addr', `127.0.0.1:${port}`,
    '--auth', 'none',
    '--user-data-dir', dirs.user,
    '--extensions-dir', dirs.ext,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    options.workspace,
  ];
  const child = spawn(process.execPath, args, {
    detached: true, // own process group, so stop() can kill every descendant
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  const log = options.log ?? (() => undefined);
  child.stdout?.on('data', (d: Buffer) => log(d.toString()));
  child.stderr?.on('data', (d: Buffer) => log(d.toString()));
  let exited = false;
  child.on('exit', () => (exited = true));

  let stopped = false;
  const stop = async () => {
    if (stopped) {
      return;
    }
    stopped = true;
    const pid = child.pid;
    if (pid && !exited) {
      try {
        process.kill(-pid, 'SIGTERM');
      } catch {
        // already gone
      }
      const deadline = Date.now() + 5000;
      while (!exited && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      try {
        process.kill(-pid, 'SIGKILL'); // stragglers in the group (extension hosts, pty host)
      } catch {
        // none left
      }
    }
    if (!options.keepProfile) {
      fs.rmSync(profileDir, { recursive: true, force: true });
    }
  };

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while ((await get(`${url}/healthz`)) !== 200) {
    if (exited || Date.now() > deadline) {
      await stop();
      throw new Error(exited ? 'code-server exited during start-up' : 'code-server did not answer /healthz within 60 s');
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { port, url, profileDir, process: child, stop };
}

/** `?folder=...&payload=...` URL that loads the extension under development (and maybe tests). */
export function workbenchUrl(server: CodeServer, workspace: string, extra: { testsPath?: string } = {}): string {
  const remote = (p: string) => `vscode-remote://127.0.0.1:${server.port}${p}`;
  const payload: [string, string][] = [['extensionDevelopmentPath', remote(REPO_ROOT)]];
  if (extra.testsPath) {
    payload.push(['extensionTestsPath', remote(extra.testsPath)]);
  }
  return `${server.url}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
}

export interface Chromium {
  browser: Browser | undefined;
  context: BrowserContext;
  close(): Promise<void>;
}

/** Headless Debian Chromium through playwright-core, with a fresh profile. */
export async function launchChromium(viewport = { width: 1400, height: 900 }): Promise<Chromium> {
  const { chromium } = await import('playwright-core');
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'math-tutor-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    browser: context.browser() ?? undefined,
    context,
    close: async () => {
      await context.close().catch(() => undefined);
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
