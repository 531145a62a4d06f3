// Typed view of the `mathTutor.*` settings (declared in package.json `contributes.configuration`).
import * as vscode from 'vscode';
import type { DecomposerMode, DevicePreference } from '../core/types';

export const SECTION = 'mathTutor';

export interface TutorSettings {
  mode: DecomposerMode;
  device: DevicePreference;
  teacher: { baseUrl: string; model: string; timeoutMs: number };
  hoverLanguages: string[];
  feedbackEnabled: boolean;
  maxSubQuestions: number;
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], fallback: T): T {
  return allowed.includes(value as T) ? (value as T) : fallback;
}

function clampInt(value: unknown, min: number, max: number, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? Math.min(max, Math.max(min, Math.round(value))) : fallback;
}

/** Reads the settings, replacing hand-edited nonsense with the documented defaults. */
export function readSettings(): TutorSettings {
  const c = vscode.workspace.getConfiguration(SECTION);
  const languages = c.get<unknown>('hover.languages');
  return {
    mode: oneOf(c.get('mode'), ['auto', 'local', 'teacher'] as const, 'auto'),
    device: oneOf(c.get('device'), ['auto', 'cpu', 'gpu'] as const, 'auto'),
    teacher: {
      baseUrl: (c.get<string>('teacher.baseUrl') ?? '').trim(),
      model: (c.get<string>('teacher.model') ?? '').trim(),
      timeoutMs: clampInt(c.get('teacher.timeoutMs'), 1000, 120000, 20000),
    },
    hoverLanguages: Array.isArray(languages)
      ? languages.filter((l): l is string => typeof l === 'string')
      : ['markdown', 'plaintext', 'latex'],
    feedbackEnabled: c.get<boolean>('feedback.enabled') !== false,
    maxSubQuestions: clampInt(c.get('maxSubQuestions'), 1, 12, 8),
  };
}

/** True when a teacher endpoint is configured (the key is optional: local servers need none). */
export function teacherConfigured(settings: TutorSettings): boolean {
  return settings.teacher.baseUrl !== '' && settings.teacher.model !== '';
}
