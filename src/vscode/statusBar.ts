// Status bar item: the decomposer's state at a glance, and a quick pick for mode, device, teacher
// key and the feedback folder.
import * as vscode from 'vscode';
import { readSettings, SECTION } from './config';
import type { DecomposerStatus } from './decomposerService';

export function statusText(status: DecomposerStatus): { text: string; tooltip: string; error: boolean } {
  const mode = status.mode === 'auto' ? '' : ` [${status.mode}]`;
  switch (status.state) {
    case 'idle':
      return { text: `$(mortar-board) Math Tutor${mode}`, tooltip: 'Math Tutor: the model loads on the first decomposition. Click for options.', error: false };
    case 'loading':
      return { text: `$(loading~spin) Math Tutor: loading${mode}`, tooltip: 'Loading the local model…', error: false };
    case 'ready':
      return {
        text: `$(mortar-board) Math Tutor: ${status.device.toUpperCase()}${mode}`,
        tooltip: `Ready: ${status.label} on ${status.device}.${status.notice ? ' ' + status.notice : ''} Click for options.`,
        error: false,
      };
    case 'teacher':
      return status.localError
        ? {
            text: `$(warning) Math Tutor: teacher (local model error)${mode}`,
            tooltip: `The local model failed: ${status.localError} The teacher (${status.label}) answered instead. Click for options.`,
            error: true,
          }
        : { text: `$(mortar-board) Math Tutor: teacher${mode}`, tooltip: `Last steps came from the teacher (${status.label}). Click for options.`, error: false };
    case 'error':
      return { text: `$(error) Math Tutor${mode}`, tooltip: `Error: ${status.message} Click for options.`, error: true };
  }
}

export class TutorStatusBar implements vscode.Disposable {
  readonly item: vscode.StatusBarItem;

  constructor() {
    this.item = vscode.window.createStatusBarItem('mathTutor.status', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'Math Tutor';
    this.item.command = 'mathTutor.showMenu';
  }

  update(status: DecomposerStatus): void {
    const { text, tooltip, error } = statusText(status);
    this.item.text = text;
    this.item.tooltip = tooltip;
    this.item.backgroundColor = error ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
    this.item.show();
  }

  dispose(): void {
    this.item.dispose();
  }
}

interface MenuItem extends vscode.QuickPickItem {
  run: () => Thenable<unknown>;
}

/** The quick pick behind the status bar item. */
export async function showStatusMenu(hasKey: boolean): Promise<void> {
  const settings = readSettings();
  const items: MenuItem[] = [
    { label: '$(settings) Mode', description: settings.mode, detail: 'auto (local, teacher as fallback) / local only / teacher only', run: pickMode },
    { label: '$(chip) Device', description: settings.device, detail: 'Where the local model runs: auto / cpu / gpu', run: pickDevice },
    { label: '$(key) Set teacher API key', description: hasKey ? 'a key is stored' : 'no key stored', run: () => vscode.commands.executeCommand('mathTutor.setTeacherKey') },
  ];
  if (hasKey) {
    items.push({ label: '$(trash) Clear teacher API key', run: () => vscode.commands.executeCommand('mathTutor.clearTeacherKey') });
  }
  items.push({ label: '$(folder-opened) Open feedback folder', run: () => vscode.commands.executeCommand('mathTutor.openFeedbackFolder') });
  const picked = await vscode.window.showQuickPick(items, { title: 'Math Tutor', placeHolder: 'Choose an option' });
  await picked?.run();
}

async function pickSetting(key: 'mode' | 'device', title: string, options: { label: string; detail: string }[]): Promise<void> {
  const current = readSettings()[key];
  const picked = await vscode.window.showQuickPick(
    options.map((o) => ({ ...o, description: o.label === current ? '(current)' : undefined })),
    { title },
  );
  if (picked && picked.label !== current) {
    await vscode.workspace.getConfiguration(SECTION).update(key, picked.label, vscode.ConfigurationTarget.Global);
  }
}

function pickMode(): Promise<void> {
  return pickSetting('mode', 'Math Tutor: which decomposer', [
    { label: 'auto', detail: 'Local model; the teacher (if configured) when the local model cannot serve' },
    { label: 'local', detail: 'Only the local model; nothing leaves this machine' },
    { label: 'teacher', detail: 'Only the teacher endpoint' },
  ]);
}

function pickDevice(): Promise<void> {
  return pickSetting('device', 'Math Tutor: where the local model runs', [
    { label: 'auto', detail: 'A GPU provider when available, otherwise the CPU' },
    { label: 'cpu', detail: 'Always the CPU' },
    { label: 'gpu', detail: 'A GPU provider; an error if none is available' },
  ]);
}
