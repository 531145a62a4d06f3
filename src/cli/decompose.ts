// `npm run decompose`: the decomposers from the command line (interface: issue 6; teacher: issue 4).
//   decompose [--json] [--device auto|cpu|gpu] [--beams N] [--max-questions N] [--model DIR] "<problem>"
//   decompose --json --input problems.jsonl [--output out.jsonl]
//   decompose --source teacher|auto --teacher-base-url URL --teacher-model M "<problem>"
// Everything goes through the same DecomposerRouter as the extension.
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import {
  UserFacingError,
  type DecodingSettings,
  type Decomposition,
  type DecomposerMode,
  type DevicePreference,
} from '../core/types';
import { checkProblemText } from '../core/problemInput';
import { LocalDecomposer } from '../local/localDecomposer';
import { DecomposerRouter } from '../router';
import { TeacherDecomposer, teacherKeyFromEnv } from '../teacher';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const defaultIo: CliIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
};

const USAGE = `usage: npm run decompose -- [options] "<problem text>"
       npm run decompose -- --json --input problems.jsonl [--output out.jsonl]
options:
  --json               print one JSON object (batch: one JSON line per input line)
  --input FILE         JSON lines {"id": ..., "problem": "..."}; the model is loaded once
  --output FILE        where batch results go (default: stdout)
  --device D           auto (default) | cpu | gpu
  --beams N            beam width (1 = greedy; default from the model)
  --max-questions N    at most N sub-questions (default from the model)
  --model DIR          model directory (default: the repository's models/)
  --source S           local (default) | teacher | auto (local first, teacher as fallback)
  --teacher-base-url U OpenAI-compatible endpoint, e.g. http://127.0.0.1:11434/v1
  --teacher-model M    model id at that endpoint
  --teacher-timeout-ms N  per request, retries included (default 30000)
                       The teacher's key comes from MATH_TUTOR_TEACHER_KEY, else OPENAI_API_KEY.
`;

/** models/ of the repository this script belongs to (dist/cli.js or out/src/cli/decompose.js). */
export function defaultModelDir(): string {
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    if (existsSync(path.join(dir, 'package.json'))) {
      return path.join(dir, 'models');
    }
    dir = path.dirname(dir);
  }
  return path.resolve(__dirname, '..', 'models');
}

function badArg(message: string): UserFacingError {
  return new UserFacingError(`${message} (see --help)`, 'bad-argument');
}

function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) {
    return undefined;
  }
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1) {
    throw badArg(`${name} must be a whole number >= 1, got "${value}"`);
  }
  return Number(value);
}

interface ParsedArgs {
  help: boolean;
  json: boolean;
  input?: string;
  output?: string;
  device: DevicePreference;
  decoding: Partial<DecodingSettings>;
  modelDir: string;
  source: DecomposerMode;
  teacher?: { baseURL: string; model: string; timeoutMs: number };
  text?: string;
}

export function parseDecomposeArgs(argv: readonly string[]): ParsedArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        json: { type: 'boolean' },
        input: { type: 'string' },
        output: { type: 'string' },
        device: { type: 'string' },
        beams: { type: 'string' },
        'max-questions': { type: 'string' },
        model: { type: 'string' },
        source: { type: 'string' },
        'teacher-base-url': { type: 'string' },
        'teacher-model': { type: 'string' },
        'teacher-timeout-ms': { type: 'string' },
      },
    });
  } catch (err) {
    const e = err as Error & { code?: string };
    const unknown = /'([^']+)'/.exec(e.message);
    throw badArg(
      e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown ? `unknown option ${unknown[1]}` : e.message.split('\n')[0],
    );
  }
  const v = parsed.values;
  const device = (v.device ?? 'auto') as DevicePreference;
  if (!['auto', 'cpu', 'gpu'].includes(device)) {
    throw badArg(`--device must be auto, cpu or gpu, got "${String(v.device)}"`);
  }
  const decoding: Partial<DecodingSettings> = {};
  const beams = positiveInt('--beams', v.beams);
  if (beams !== undefined) {
    decoding.beams = beams;
  }
  const maxQuestions = positiveInt('--max-questions', v['max-questions']);
  if (maxQuestions !== undefined) {
    decoding.maxQuestions = maxQuestions;
  }
  const source = (v.source ?? 'local') as DecomposerMode;
  if (!['auto', 'local', 'teacher'].includes(source)) {
    throw badArg(`--source must be local, teacher or auto, got "${String(v.source)}"`);
  }
  const baseURL = v['teacher-base-url'];
  const teacherModel = v['teacher-model'];
  if ((baseURL === undefined) !== (teacherModel === undefined)) {
    throw badArg('--teacher-base-url and --teacher-model go together');
  }
  if (source === 'teacher' && baseURL === undefined && !v.help) {
    throw badArg('--source teacher needs --teacher-base-url and --teacher-model');
  }
  const teacher =
    baseURL !== undefined && teacherModel !== undefined
      ? { baseURL, model: teacherModel, timeoutMs: positiveInt('--teacher-timeout-ms', v['teacher-timeout-ms']) ?? 30000 }
      : undefined;
  const text = parsed.positionals.length > 0 ? parsed.positionals.join(' ') : undefined;
  if (!v.help) {
    if (v.input !== undefined && text !== undefined) {
      throw badArg('give either --input FILE or a problem text, not both');
    }
    if (v.output !== undefined && v.input === undefined) {
      throw badArg('--output needs --input');
    }
    if (v.input === undefined && text === undefined) {
      throw badArg('no problem text given');
    }
  }
  return {
    help: v.help ?? false,
    json: v.json ?? false,
    input: v.input,
    output: v.output,
    device,
    decoding,
    modelDir: v.model !== undefined ? path.resolve(v.model) : defaultModelDir(),
    source,
    teacher,
    text,
  };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

function jsonFields(d: Decomposition): Record<string, unknown> {
  return { subQuestions: d.subQuestions, source: d.source, model: d.model, device: d.device, ms: round(d.ms), warnings: d.warnings };
}

function oneLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}

/** Runs the subcommand; returns the exit code. User errors are one line on stderr, never a stack. */
export async function runDecomposeCli(argv: readonly string[], io: CliIo = defaultIo, signal?: AbortSignal): Promise<number> {
  let local: LocalDecomposer | undefined;
  let teacher: TeacherDecomposer | undefined;
  try {
    const args = parseDecomposeArgs(argv);
    if (args.help) {
      io.stdout(USAGE);
      return 0;
    }
    if (args.input === undefined) {
      checkProblemText(args.text!); // bad text fails before the model is loaded
    }
    if (args.source !== 'teacher') {
      local = new LocalDecomposer({ modelDir: args.modelDir, device: args.device });
    }
    if (args.teacher && args.source !== 'local') {
      teacher = new TeacherDecomposer({ ...args.teacher, apiKey: teacherKeyFromEnv(process.env) });
    }
    const router = new DecomposerRouter({
      mode: args.source,
      local,
      teacher,
      log: (message) => io.stderr(`note: ${message}\n`),
    });
    if (local) {
      await loadLocal(local, args, io);
    }
    if (args.input !== undefined) {
      return await runBatch(args, router, io, signal);
    }
    const result = await router.decompose({ problem: args.text!, options: { decoding: args.decoding }, signal });
    if (args.json) {
      io.stdout(`${JSON.stringify(jsonFields(result))}\n`);
    } else {
      for (const w of result.warnings) {
        io.stderr(`warning: ${w}\n`);
      }
      if (result.subQuestions.length === 0) {
        io.stderr('The model produced no sub-questions for this text.\n');
      }
      result.subQuestions.forEach((q, i) => io.stdout(`${i + 1}. ${q}\n`));
    }
    return 0;
  } catch (err) {
    if (err instanceof UserFacingError) {
      io.stderr(`error: ${oneLine(err)}\n`);
      return 1;
    }
    // Not a user error: a bug, reported with its stack so that it can be fixed.
    io.stderr(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 2;
  } finally {
    await Promise.all([local?.dispose(), teacher?.dispose()]);
  }
}

/**
 * Loads the model up front: a missing model fails the run once instead of on every line, and the
 * device notice is printed before any result. In auto mode with a teacher, a model that cannot load
 * is not fatal: the router falls back per problem.
 */
async function loadLocal(local: LocalDecomposer, args: ParsedArgs, io: CliIo): Promise<void> {
  try {
    const loaded = await local.load();
    if (loaded.notice) {
      io.stderr(`note: ${loaded.notice}\n`);
    }
  } catch (err) {
    if (args.source === 'auto' && args.teacher && err instanceof UserFacingError) {
      io.stderr(`note: ${oneLine(err)}\n`);
      return;
    }
    throw err;
  }
}

async function runBatch(args: ParsedArgs, router: DecomposerRouter, io: CliIo, signal?: AbortSignal): Promise<number> {
  let text: string;
  try {
    text = await fs.readFile(args.input!, 'utf8');
  } catch (err) {
    throw new UserFacingError(`Cannot read input file ${args.input}: ${oneLine(err)}`, 'bad-argument');
  }
  const out: string[] = [];
  let failed = 0;
  let firstFailure = '';
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === '') {
      continue;
    }
    let id: unknown = null;
    let record: Record<string, unknown>;
    try {
      let parsed: unknown;
      try {
        parsed = JSON.parse(lines[i]);
      } catch {
        throw new UserFacingError(`line ${i + 1}: not valid JSON`, 'bad-argument');
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw new UserFacingError(`line ${i + 1}: expected an object {"id": ..., "problem": "..."}`, 'bad-argument');
      }
      const obj = parsed as Record<string, unknown>;
      id = obj.id ?? null;
      if (typeof obj.problem !== 'string') {
        throw new UserFacingError(`line ${i + 1}: "problem" must be a string`, 'bad-argument');
      }
      const result = await router.decompose({ problem: obj.problem, options: { decoding: args.decoding }, signal });
      record = { id, ...jsonFields(result) };
    } catch (err) {
      if (err instanceof UserFacingError && err.code === 'cancelled') {
        throw err;
      }
      failed++;
      const message = oneLine(err);
      firstFailure ||= message.startsWith('line ') ? message : `line ${i + 1}: ${message}`;
      record = { id, error: message };
    }
    out.push(JSON.stringify(record));
  }
  const body = out.length > 0 ? `${out.join('\n')}\n` : '';
  if (args.output !== undefined) {
    try {
      await fs.writeFile(args.output, body, 'utf8');
    } catch (err) {
      throw new UserFacingError(`Cannot write output file ${args.output}: ${oneLine(err)}`, 'bad-argument');
    }
  } else {
    io.stdout(body);
  }
  if (failed > 0) {
    io.stderr(`error: ${failed} of ${out.length} input lines failed (first: ${firstFailure})\n`);
    return 1;
  }
  return 0;
}
