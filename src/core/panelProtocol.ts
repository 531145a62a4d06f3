// Messages between the extension host and the tutor panel webview. Pure: shared by
// src/vscode/tutorPanel.ts (host side) and media/src/panel.ts (webview side, bundled by esbuild).
// The host owns the tutoring state; the webview only renders the last `state` it received and
// reports what the learner did. Anything arriving from the webview is untrusted and is checked by
// `parseFromPanel` before use.

import type { AnswerCheck, DecodingSettings, DecomposerKind } from './types';

export type Rating = 'up' | 'down';

/** One answered (or unanswered) step, as the panel shows it. */
export interface StepView {
  question: string;
  /** What the learner typed, verbatim (rendered with textContent, never as HTML). */
  answer?: string;
  /** The evaluated answer ("16-3-4 = 9", "12"), when it contains a number or arithmetic. */
  value?: string;
  rating?: Rating;
  /** The teacher's hint for this step, once asked for. */
  hint?: string;
  /** The teacher's verdict on `answer` (dropped when the answer changes). */
  teacherCheck?: AnswerCheck;
}

/** Everything the panel needs to draw itself; also what the webview persists for a reload. */
export interface TutorViewState {
  /** Bumped by the host on every new decomposition, so stale messages can be ignored. */
  sessionId: string;
  problem: string;
  steps: StepView[];
  /** Index of the step being worked on; steps after it are hidden unless `showAll`. */
  current: number;
  showAll: boolean;
  source: DecomposerKind;
  /** `name@version` of the local model or the teacher's model id (for the feedback log). */
  model: string;
  /** Execution provider or `remote`. */
  device: string;
  /** Decoding settings the local model used, if any (for the feedback log). */
  decoding?: DecodingSettings;
  /** Id of this decomposition in the feedback log, once something was logged for it. */
  feedbackId?: string;
  /** Badge text: "gsm-decomposer@1.0.0 (cpu)" or the teacher model. */
  badge: string;
  warnings: string[];
  overallRating?: Rating;
  overallReason?: string;
  teacherAvailable: boolean;
  feedbackEnabled: boolean;
  /** Set while a regenerate / teacher run is in progress. */
  busy?: string;
  /** Last error shown in the panel (one line, user-facing). */
  error?: string;
  /** A short note after an action, e.g. "Thanks — feedback saved." */
  notice?: string;
}

export type ToPanel =
  | { type: 'state'; state: TutorViewState }
  | { type: 'empty'; message: string };

export type FromPanel =
  | { type: 'ready' }
  | { type: 'answer'; sessionId: string; step: number; text: string }
  | { type: 'next'; sessionId: string }
  | { type: 'showAll'; sessionId: string }
  | { type: 'rateStep'; sessionId: string; step: number; rating: Rating }
  | { type: 'rateOverall'; sessionId: string; rating: Rating; reason?: string }
  | { type: 'regenerate'; sessionId: string }
  | { type: 'askTeacher'; sessionId: string }
  | { type: 'hint'; sessionId: string; step: number }
  | { type: 'checkWithTeacher'; sessionId: string; step: number };

/** Longest answer / reason text accepted from the webview. */
export const MAX_PANEL_TEXT = 500;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function isStepIndex(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < 1000;
}

function isRating(value: unknown): value is Rating {
  return value === 'up' || value === 'down';
}

/** Validates a message posted by the webview; undefined for anything malformed. */
export function parseFromPanel(raw: unknown): FromPanel | undefined {
  if (!isRecord(raw) || typeof raw.type !== 'string') {
    return undefined;
  }
  if (raw.type === 'ready') {
    return { type: 'ready' };
  }
  if (typeof raw.sessionId !== 'string') {
    return undefined;
  }
  const sessionId = raw.sessionId;
  switch (raw.type) {
    case 'answer':
      return isStepIndex(raw.step) && typeof raw.text === 'string'
        ? { type: 'answer', sessionId, step: raw.step, text: raw.text.slice(0, MAX_PANEL_TEXT) }
        : undefined;
    case 'next':
    case 'showAll':
    case 'regenerate':
    case 'askTeacher':
      return { type: raw.type, sessionId };
    case 'hint':
    case 'checkWithTeacher':
      return isStepIndex(raw.step) ? { type: raw.type, sessionId, step: raw.step } : undefined;
    case 'rateStep':
      return isStepIndex(raw.step) && isRating(raw.rating)
        ? { type: 'rateStep', sessionId, step: raw.step, rating: raw.rating }
        : undefined;
    case 'rateOverall': {
      if (!isRating(raw.rating) || (raw.reason !== undefined && typeof raw.reason !== 'string')) {
        return undefined;
      }
      const reason = typeof raw.reason === 'string' ? raw.reason.trim().slice(0, MAX_PANEL_TEXT) : '';
      return { type: 'rateOverall', sessionId, rating: raw.rating, ...(reason ? { reason } : {}) };
    }
    default:
      return undefined;
  }
}
