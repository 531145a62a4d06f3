// Shared fixtures for the feedback tests (not a test file itself).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Decomposition } from '../../../src/core/types';

export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'feedback-test-'));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

export function decomposition(n: number, subQuestions = 3): Decomposition {
  return {
    problem: `Problem ${n}: Tom has ${n} apples and buys 4 more, then gives 2 away. How many are left?`,
    subQuestions: Array.from({ length: subQuestions }, (_, i) => `Step ${i + 1} of problem ${n}?`),
    source: n % 2 ? 'teacher' : 'local',
    model: n % 2 ? 'gpt-4o-mini' : 'gsm-decomposer@1.0.0',
    device: n % 2 ? 'remote' : 'cpu',
    ms: 12,
    warnings: [],
  };
}

/** A clock that ticks 1 ms per call, so event order is deterministic. */
export function tickingClock(start = Date.parse('2026-11-27T03:50:00.000Z')): () => Date {
  let t = start;
  return () => new Date(t++);
}

export function listLogFiles(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.endsWith('.jsonl')).sort() : [];
}
