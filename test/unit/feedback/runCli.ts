// Runs the feedback CLI as its own process for the end-to-end tests (what `npm run feedback`
// does once src/cli/main.ts dispatches to runFeedbackCli).
import { runFeedbackCli } from '../../../src/cli/feedback';

runFeedbackCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
