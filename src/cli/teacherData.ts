// `npm run teacher-data -- --input FILE --output FILE --base-url URL --model M [options]`:
// grows GSM8K-AI-SubQ-style training data with an OpenAI-compatible teacher. Resumable: problems
// whose id is already in the output are skipped, so rerunning after an interruption continues.
import { parseArgs } from 'node:util';
import { UserFacingError } from '../core/types';
import { generateTeacherData } from '../teacher/dataGenerator';
import { teacherKeyFromEnv } from '../teacher/env';

export const TEACHER_DATA_USAGE = `Usage: npm run teacher-data -- --input FILE --output FILE --base-url URL --model MODEL [options]

  --input FILE         JSONL problems: {"id","problem","answer"?} or GSM8K {"question","answer":"... #### N"}
  --output FILE        JSONL training records (appended; problems already in it are skipped)
  --base-url URL       OpenAI-compatible API root, e.g. https://api.openai.com/v1, http://127.0.0.1:8000/v1
  --model MODEL        chat model id
  --sets K             sub-question sets per problem (default 3)
  --judges N           usefulness judges per set (default 3)
  --temperature T      sampling temperature of the sets and judges (default 0.7)
  --max-questions N    at most N sub-questions per set (default 8)
  --concurrency N      requests in flight at once (default 4)
  --rpm N              at most N requests started per minute (default 0 = no limit)
  --timeout-ms MS      per request, retries included (default 120000)
  --max-retries N      retries after HTTP 429/5xx (default 3)
  --limit N            do at most N new problems in this run

The API key comes from MATH_TUTOR_TEACHER_KEY, else OPENAI_API_KEY; a local server may need none.
Each line: {"question","answers":[sub-questions],"rewards":{"answer_correctness":0|1,"usefulness":[...]},
"true_answer"?,"meta":{"id",...}}. Progress goes to stderr, a JSON summary to stdout.`;

export interface TeacherDataContext {
  env?: Readonly<Record<string, string | undefined>>;
  out?: (line: string) => void;
  err?: (line: string) => void;
  /** Stops the run (the CLI wires SIGINT here when none is given). */
  signal?: AbortSignal;
}

function integer(value: string | undefined, flag: string, fallback: number, min: number, max: number): number {
  if (value === undefined) {
    return fallback;
  }
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UserFacingError(`${flag} must be an integer from ${min} to ${max}, got "${value}".`, 'bad-argument');
  }
  return n;
}

function required(value: string | undefined, flag: string): string {
  if (!value) {
    throw new UserFacingError(`Missing ${flag} (see: npm run teacher-data -- --help).`, 'bad-argument');
  }
  return value;
}

/** Runs the generator with the arguments after `teacher-data`; resolves to the exit code. */
export async function runTeacherDataCli(argv: string[], context: TeacherDataContext = {}): Promise<number> {
  const out = context.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = context.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  const env = context.env ?? process.env;
  let controller: AbortController | undefined;
  let onSigint: (() => void) | undefined;
  try {
    let values: Record<string, string | boolean | undefined>;
    try {
      values = parseArgs({
        args: argv,
        strict: true,
        allowPositionals: false,
        options: {
          input: { type: 'string' },
          output: { type: 'string' },
          'base-url': { type: 'string' },
          model: { type: 'string' },
          sets: { type: 'string' },
          judges: { type: 'string' },
          temperature: { type: 'string' },
          'max-questions': { type: 'string' },
          concurrency: { type: 'string' },
          rpm: { type: 'string' },
          'timeout-ms': { type: 'string' },
          'max-retries': { type: 'string' },
          limit: { type: 'string' },
          help: { type: 'boolean', short: 'h' },
        },
      }).values;
    } catch (e) {
      throw new UserFacingError(e instanceof Error ? e.message : String(e), 'bad-argument');
    }
    if (values.help) {
      out(TEACHER_DATA_USAGE);
      return 0;
    }
    const str = (name: string) => values[name] as string | undefined;
    const temperature = str('temperature') === undefined ? 0.7 : Number(str('temperature'));
    if (!(temperature >= 0 && temperature <= 2)) {
      throw new UserFacingError(`--temperature must be a number from 0 to 2, got "${str('temperature')}".`, 'bad-argument');
    }
    let signal = context.signal;
    if (!signal) {
      controller = new AbortController();
      onSigint = () => {
        err('Interrupted: finishing nothing new; completed problems are saved. Run again to resume.');
        controller?.abort();
      };
      process.once('SIGINT', onSigint);
      signal = controller.signal;
    }
    const summary = await generateTeacherData({
      inputPath: required(str('input'), '--input'),
      outputPath: required(str('output'), '--output'),
      teacher: {
        baseURL: required(str('base-url'), '--base-url'),
        model: required(str('model'), '--model'),
        apiKey: teacherKeyFromEnv(env),
        timeoutMs: integer(str('timeout-ms'), '--timeout-ms', 120_000, 1, 3_600_000),
        maxRetries: integer(str('max-retries'), '--max-retries', 3, 0, 10),
      },
      sets: integer(str('sets'), '--sets', 3, 1, 20),
      judges: integer(str('judges'), '--judges', 3, 1, 10),
      temperature,
      maxQuestions: integer(str('max-questions'), '--max-questions', 8, 1, 20),
      concurrency: integer(str('concurrency'), '--concurrency', 4, 1, 64),
      requestsPerMinute: integer(str('rpm'), '--rpm', 0, 0, 100_000),
      limit: str('limit') === undefined ? undefined : integer(str('limit'), '--limit', 0, 0, 10_000_000),
      signal,
      log: err,
    });
    out(JSON.stringify(summary));
    if (summary.stoppedBy) {
      err(`error: ${summary.stoppedBy.message}`);
      return summary.stoppedBy.code === 'cancelled' ? 130 : 1;
    }
    if (summary.failed > 0) {
      err(`${summary.failed} problems failed; run again to retry them.`);
      return 1;
    }
    return 0;
  } catch (e) {
    if (e instanceof UserFacingError) {
      err(`error: ${e.message}`);
      return e.code === 'bad-argument' ? 2 : 1;
    }
    throw e;
  } finally {
    if (onSigint) {
      process.removeListener('SIGINT', onSigint);
    }
  }
}
