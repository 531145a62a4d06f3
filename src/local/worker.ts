// The inference worker: owns the ORT sessions so that loading and decoding never block the
// extension host's main thread. Requests run one at a time; a "cancel" aborts the running or a
// queued request (the decode loop yields to the event loop every step so this message gets through).
import { parentPort } from 'node:worker_threads';
import { UserFacingError } from '../core/types';
import { LocalModel } from './model';
import type { FromWorker, ToWorker, WireError } from './protocol';

const port = parentPort;
if (!port) {
  throw new Error('src/local/worker.ts must run in a worker_thread.');
}

let model: LocalModel | undefined;
const controllers = new Map<number, AbortController>();
let chain: Promise<void> = Promise.resolve();

function send(message: FromWorker): void {
  port!.postMessage(message);
}

function toWire(err: unknown): WireError {
  if (err instanceof UserFacingError) {
    return { message: err.message, code: err.code };
  }
  const e = err instanceof Error ? err : new Error(String(err));
  return { message: e.message, stack: e.stack };
}

async function handle(msg: Exclude<ToWorker, { type: 'cancel' }>, signal: AbortSignal): Promise<void> {
  if (msg.type === 'load') {
    if (model) {
      await model.dispose();
      model = undefined;
    }
    model = await LocalModel.load(msg.modelDir, msg.device);
    send({ type: 'loaded', id: msg.id, info: model.info });
    return;
  }
  if (!model) {
    throw new Error('decompose before load');
  }
  const result = await model.decompose(
    msg.problem,
    msg.decoding,
    signal,
    msg.partials ? (subQuestions) => send({ type: 'partial', id: msg.id, subQuestions }) : undefined,
  );
  send({
    type: 'result',
    id: msg.id,
    result: {
      subQuestions: result.subQuestions,
      decoding: result.decoding,
      tokens: result.tokens,
      finished: result.finished,
      steps: result.steps,
    },
  });
}

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'cancel') {
    controllers.get(msg.id)?.abort();
    return;
  }
  const controller = new AbortController();
  controllers.set(msg.id, controller);
  chain = chain.then(async () => {
    try {
      if (controller.signal.aborted) {
        throw new UserFacingError('The decomposition was cancelled.', 'cancelled');
      }
      await handle(msg, controller.signal);
    } catch (err) {
      send({ type: 'error', id: msg.id, error: toWire(err) });
    } finally {
      controllers.delete(msg.id);
    }
  });
});
