// `npm run feedback -- <export|stats|delete> --log DIR ...`: the feedback log from the command line.
// No network: it reads the log directory and writes only the file named by --out.

import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_UNVOTED_USEFULNESS } from '../core/feedbackRecord';
import { UserFacingError } from '../core/types';
import { exportTrainingData, formatExportSummary, type ExportFormat } from '../feedback/export';
import { FeedbackLog } from '../feedback/log';

export const FEEDBACK_USAGE = `Usage: npm run feedback -- <command> --log DIR [options]

Commands:
  export --log DIR --out FILE [--format array|jsonl] [--unvoted-usefulness X]
      Write the rated decompositions in the GSM8K-AI-SubQ training format. --format array (default)
      writes one JSON array on one line like the paper's qg_train_dataset.jsonl; jsonl writes one
      example per line. Sub-questions without a vote get usefulness X (default ${DEFAULT_UNVOTED_USEFULNESS}).
      Invalid and torn lines are listed with their line numbers.
  stats --log DIR
      Count files, events, decompositions and votes.
  delete --log DIR --yes
      Delete every feedback log file in DIR.

DIR is the extension's feedback folder (command "Math Tutor: Open Feedback Folder").`;

export interface CliOutput {
  out(line: string): void;
  err(line: string): void;
}

const consoleOutput: CliOutput = {
  out: (line) => process.stdout.write(line + '\n'),
  err: (line) => process.stderr.write(line + '\n'),
};

/** Runs the `feedback` command with the arguments after it; resolves to the process exit code. */
export async function runFeedbackCli(argv: string[], io: CliOutput = consoleOutput): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'export':
        return await exportCommand(rest, io);
      case 'stats':
        return await statsCommand(rest, io);
      case 'delete':
        return await deleteCommand(rest, io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.out(FEEDBACK_USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UserFacingError(`Unknown feedback command "${command}" (expected export, stats or delete).`, 'bad-argument');
    }
  } catch (err) {
    if (err instanceof UserFacingError) {
      io.err(`error: ${err.message}`);
      return err.code === 'bad-argument' ? 2 : 1;
    }
    throw err;
  }
}

type Spec = Record<string, { type: 'string' | 'boolean' }>;

function parse<S extends Spec>(args: string[], options: S) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new UserFacingError(err instanceof Error ? err.message : String(err), 'bad-argument');
  }
}

function required(value: string | boolean | undefined, flag: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new UserFacingError(`Missing ${flag} (see: npm run feedback -- help).`, 'bad-argument');
  }
  return value;
}

async function exportCommand(args: string[], io: CliOutput): Promise<number> {
  const v = parse(args, {
    log: { type: 'string' },
    out: { type: 'string' },
    format: { type: 'string' },
    'unvoted-usefulness': { type: 'string' },
  });
  const format = (v.format ?? 'array') as ExportFormat;
  if (format !== 'array' && format !== 'jsonl') {
    throw new UserFacingError(`--format must be array or jsonl, not "${String(v.format)}".`, 'bad-argument');
  }
  let unvotedUsefulness: number | undefined;
  if (v['unvoted-usefulness'] !== undefined) {
    const text = String(v['unvoted-usefulness']);
    unvotedUsefulness = Number(text);
    if (text.trim() === '' || !(unvotedUsefulness >= 0 && unvotedUsefulness <= 1)) {
      throw new UserFacingError(`--unvoted-usefulness must be a number from 0 to 1, not "${text}".`, 'bad-argument');
    }
  }
  const summary = await exportTrainingData(required(v.log, '--log DIR'), required(v.out, '--out FILE'), {
    format,
    unvotedUsefulness,
  });
  formatExportSummary(summary).forEach((line) => io.out(line));
  return 0;
}

async function statsCommand(args: string[], io: CliOutput): Promise<number> {
  const v = parse(args, { log: { type: 'string' } });
  const log = new FeedbackLog({ dir: path.resolve(required(v.log, '--log DIR')), enabled: false });
  if (!existsSync(log.dir)) {
    throw new UserFacingError(`No feedback log directory at ${log.dir}.`, 'bad-argument');
  }
  const c = await log.contents();
  const votes = c.records.flatMap((r) => r.votes).filter((x) => x !== null);
  const overall = c.records.map((r) => r.overall).filter((x) => x !== null);
  const count = (xs: (1 | -1)[], v: 1 | -1) => xs.filter((x) => x === v).length;
  io.out(`Log: ${log.dir}`);
  io.out(`Files: ${c.files.length}${c.files.length ? ` (${c.files.join(', ')})` : ''}`);
  io.out(`Lines: ${c.lines} (${c.events.length} valid, ${c.problems.filter((p) => p.kind === 'invalid').length} invalid, ${c.problems.filter((p) => p.kind === 'torn').length} torn)`);
  io.out(`Decompositions: ${c.records.length} (local ${c.records.filter((r) => r.source.kind === 'local').length}, teacher ${c.records.filter((r) => r.source.kind === 'teacher').length})`);
  io.out(`Sub-question votes: ${count(votes, 1)} up, ${count(votes, -1)} down`);
  io.out(`Overall votes: ${count(overall, 1)} up, ${count(overall, -1)} down`);
  if (c.foldProblems.length) {
    io.out(`Events not applied (orphan, duplicate, out of range): ${c.foldProblems.length}`);
  }
  return 0;
}

async function deleteCommand(args: string[], io: CliOutput): Promise<number> {
  const v = parse(args, { log: { type: 'string' }, yes: { type: 'boolean' } });
  const log = new FeedbackLog({ dir: path.resolve(required(v.log, '--log DIR')), enabled: false });
  if (v.yes !== true) {
    throw new UserFacingError(`This deletes all feedback in ${log.dir}; add --yes to confirm.`, 'bad-argument');
  }
  const removed = await log.deleteAll();
  io.out(`Deleted ${removed} feedback file(s) from ${log.dir}.`);
  return 0;
}
