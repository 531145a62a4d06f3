// Child process for the multi-writer tests (forked by log.test.ts; not a test file itself).
// argv: <log dir> <writer tag> <count> [maxBytes]. Says "ready", waits for "go" so that writers overlap,
// appends <count> `shown` events whose text embeds their own id (so interleaving would show),
// reports progress to the parent, then exits.
import { shownEvent } from '../../../src/core/feedbackRecord';
import { FeedbackLog } from '../../../src/feedback/log';

export function workerProblem(id: string, i: number): string {
  // Every 10th line is ~6 KB: larger than a page and than PIPE_BUF, where torn writes would show.
  const filler = i % 10 === 0 ? ' padding'.repeat(750) : '';
  return `Problem ${id}: Ann has ${i} apples and buys 3 more. How many apples does she have?${filler} [${id}]`;
}

async function main(): Promise<void> {
  const [dir, tag, countText, maxBytesText] = process.argv.slice(2);
  const count = Number(countText);
  const log = new FeedbackLog({ dir, maxBytes: maxBytesText ? Number(maxBytesText) : undefined });
  const go = new Promise<void>((resolve) => process.once('message', () => resolve()));
  process.send?.({ ready: true });
  await go;
  for (let i = 0; i < count; i++) {
    const id = `${tag}-${i}`;
    await log.append(
      shownEvent(
        {
          problem: workerProblem(id, i),
          subQuestions: [`How many apples does ${id} start with?`, `How many apples does ${id} have now?`],
          source: 'local',
          model: 'test@1.0.0',
          device: 'cpu',
        },
        id,
        new Date(),
      ),
    );
    if ((i + 1) % 50 === 0) {
      process.send?.({ written: i + 1 });
    }
  }
  process.send?.({ done: count }, () => process.exit(0));
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
