// Test-only worker script: the real worker, except that a problem containing "__crash__" kills the
// thread with an uncaught exception (as a native failure or an out-of-memory would).
import { parentPort } from 'node:worker_threads';

parentPort?.on('message', (msg: { type: string; problem?: string }) => {
  if (msg.type === 'decompose' && msg.problem?.includes('__crash__')) {
    throw new Error('simulated worker crash');
  }
});
// Registered second (after the listener above), so the crash happens before the real worker sees
// the message. A dynamic import keeps that order explicit; tsc compiles it to a require.
void import('../../../src/local/worker');
