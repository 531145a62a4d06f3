// Entry of dist/cli.js (`npm run decompose|feedback|teacher-data` via scripts/run-cli.mjs).
import { runDecomposeCli } from './decompose';
import { runFeedbackCli } from './feedback';
import { runTeacherDataCli } from './teacherData';

const COMMANDS = ['decompose', 'feedback', 'teacher-data'];

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const controller = new AbortController();
  // Ctrl-C cancels the running decomposition instead of killing the worker mid-step.
  process.once('SIGINT', () => controller.abort());
  switch (command) {
    case 'decompose':
      return runDecomposeCli(rest, undefined, controller.signal);
    case 'feedback':
      return runFeedbackCli(rest);
    case 'teacher-data':
      return runTeacherDataCli(rest, { signal: controller.signal });
    default:
      process.stderr.write(
        `error: unknown command ${JSON.stringify(command ?? '')}; expected one of ${COMMANDS.join(', ')}\n`,
      );
      return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 2;
  },
);
