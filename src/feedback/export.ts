// Export of the feedback log to the GSM8K-AI-SubQ training format. The only way feedback leaves
// the log directory, and only to a file the user names.

import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  hasFeedback,
  toTrainingExample,
  type FoldProblem,
  type TrainingExample,
  type TrainingOptions,
} from '../core/feedbackRecord';
import { UserFacingError } from '../core/types';
import { FeedbackLog, type LineProblem } from './log';

/**
 * `array`: the whole file is ONE line holding a JSON array, exactly like the paper's
 * qg_train_dataset.jsonl (its loaders read `json.loads(first line)`). `jsonl`: one example per line.
 */
export type ExportFormat = 'array' | 'jsonl';

export interface ExportOptions extends TrainingOptions {
  format?: ExportFormat;
}

export interface ExportSummary {
  outFile: string;
  format: ExportFormat;
  files: string[];
  lines: number;
  validEvents: number;
  records: number;
  exported: number;
  /** Decompositions shown but never rated: no training signal, not exported. */
  unrated: number;
  invalid: number;
  torn: number;
  /** Every unusable line, by file and line number (invalid, torn, orphan, duplicate). */
  problems: (LineProblem | FoldProblem)[];
}

/** Reads the log in `logDir`, writes the training file `outFile` (atomically), and says what happened. */
export async function exportTrainingData(logDir: string, outFile: string, options: ExportOptions = {}): Promise<ExportSummary> {
  const format = options.format ?? 'array';
  const dir = path.resolve(logDir);
  const out = path.resolve(outFile);
  const stat = await fs.stat(dir).catch(() => undefined);
  if (!stat?.isDirectory()) {
    throw new UserFacingError(`No feedback log directory at ${dir}.`, 'bad-argument');
  }
  if (path.dirname(out) === dir) {
    throw new UserFacingError('Write the export outside the feedback log directory.', 'bad-argument');
  }
  const contents = await new FeedbackLog({ dir, enabled: false }).contents();
  const rated = contents.records.filter(hasFeedback);
  const examples: TrainingExample[] = rated.map((r) => toTrainingExample(r, options));
  const body =
    format === 'array' ? JSON.stringify(examples) + '\n' : examples.map((e) => JSON.stringify(e) + '\n').join('');
  // Write then rename, so a reader (or a crash) never sees half a training file.
  const tmp = `${out}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await fs.writeFile(tmp, body, 'utf8');
    await fs.rename(tmp, out);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EPERM' || code === 'EISDIR') {
      throw new UserFacingError(`Cannot write ${out} (${code}).`, 'bad-argument');
    }
    throw err;
  }
  const problems = [...contents.problems, ...contents.foldProblems].sort(
    (a, b) => contents.files.indexOf(a.file) - contents.files.indexOf(b.file) || a.line - b.line,
  );
  return {
    outFile: out,
    format,
    files: contents.files,
    lines: contents.lines,
    validEvents: contents.events.length,
    records: contents.records.length,
    exported: examples.length,
    unrated: contents.records.length - rated.length,
    invalid: contents.problems.filter((p) => p.kind === 'invalid').length,
    torn: contents.problems.filter((p) => p.kind === 'torn').length,
    problems,
  };
}

/** Human-readable summary, one string per line (the CLI prints it; the extension can log it). */
export function formatExportSummary(s: ExportSummary): string[] {
  const out = [
    `Exported ${s.exported} record(s) to ${s.outFile} (format: ${s.format}).`,
    `Read ${s.files.length} file(s), ${s.lines} line(s): ${s.validEvents} valid event(s), ${s.invalid} invalid, ${s.torn} torn.`,
    `${s.records} decomposition(s) logged; ${s.unrated} without any rating were not exported.`,
  ];
  const other = s.problems.filter((p) => p.kind !== 'invalid' && p.kind !== 'torn');
  if (other.length) {
    out.push(`${other.length} event(s) could not be applied (orphan, duplicate or out of range).`);
  }
  if (s.problems.length) {
    out.push('Unusable lines:');
    for (const p of s.problems) {
      out.push(`  ${p.file}:${p.line}: ${p.kind}: ${p.reason}`);
    }
  }
  return out;
}
