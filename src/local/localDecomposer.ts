// Main-thread side of the local decomposer: a Decomposer that sends all ONNX work to a
// worker_thread (src/local/worker.ts), because ORT calls block the thread they run on and the
// extension host's main thread is shared by every extension.
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { checkProblemText } from '../core/problemInput';
import {
  UserFacingError,
  type DecomposeOptions,
  type Decomposer,
  type Decomposition,
  type DevicePreference,
  type PartialListener,
} from '../core/types';
import type { LoadInfo } from './model';
import type { DecomposeReply, FromWorker, ToWorker, WireError } from './protocol';

export interface LocalDecomposerOptions {
  modelDir: string;
  device: DevicePreference;
  /** Defaults to worker.js next to this file (dist/ in the bundle, out/src/local/ under tsc). */
  workerScript?: string;
}

export interface LocalLoadResult {
  /** `name@version`. */
  model: string;
  /** Execution provider in use. */
  device: string;
  /** Something the user should see, e.g. "GPU not usable here; running on CPU". */
  notice?: string;
  loadMs: number;
}

/** The worker died (native error, out of memory, uncaught exception). The next call restarts it. */
export class WorkerCrashedError extends Error {
  constructor(reason: string) {
    super(`The local model worker stopped unexpectedly (${reason}); the next request will restart it.`);
    this.name = 'WorkerCrashedError';
  }
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  onPartial?: PartialListener;
}

function fromWire(error: WireError): Error {
  if (error.code) {
    return new UserFacingError(error.message, error.code);
  }
  const err = new Error(`Local model worker: ${error.message}`);
  if (error.stack) {
    err.stack = `${err.message}\n--- worker stack ---\n${error.stack}`;
  }
  return err;
}

function cancelled(): UserFacingError {
  return new UserFacingError('The decomposition was cancelled.', 'cancelled');
}

export class LocalDecomposer implements Decomposer {
  readonly kind = 'local' as const;
  private worker: Worker | undefined;
  private loading: Promise<LoadInfo> | undefined;
  private info: LoadInfo | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private disposed = false;

  constructor(private readonly options: LocalDecomposerOptions) {}

  describe(): string {
    return this.info ? `${this.info.model} (${this.info.device})` : 'local model (not loaded)';
  }

  /** Starts the worker and loads the model once; later calls share the same load. */
  load(): Promise<LocalLoadResult> {
    if (this.disposed) {
      return Promise.reject(new Error('LocalDecomposer used after dispose()'));
    }
    if (!this.loading) {
      const worker = this.ensureWorker();
      const loading = this.request<LoadInfo>(worker, {
        type: 'load',
        id: this.nextId++,
        modelDir: this.options.modelDir,
        device: this.options.device,
      });
      this.loading = loading;
      loading.then(
        (info) => {
          this.info = info;
        },
        () => {
          // A failed load (missing file, GPU refused) is retried by the next call.
          if (this.loading === loading) {
            this.loading = undefined;
          }
        },
      );
    }
    return this.loading.then(({ model, device, notice, loadMs }) =>
      notice === undefined ? { model, device, loadMs } : { model, device, notice, loadMs },
    );
  }

  async decompose(
    problem: string,
    options?: DecomposeOptions,
    signal?: AbortSignal,
    onPartial?: PartialListener,
  ): Promise<Decomposition> {
    return (await this.decomposeWithStats(problem, options, signal, onPartial)).decomposition;
  }

  /** decompose() plus the decoder's numbers (generated tokens, steps) for the benchmark and tests. */
  async decomposeWithStats(
    problem: string,
    options?: DecomposeOptions,
    signal?: AbortSignal,
    onPartial?: PartialListener,
  ): Promise<{ decomposition: Decomposition; tokens: number[]; steps: number; finished: boolean }> {
    const start = performance.now();
    const checked = checkProblemText(problem);
    if (signal?.aborted) {
      throw cancelled();
    }
    const info = await this.withAbort(this.load(), signal);
    const worker = this.worker;
    if (!worker || this.info === undefined) {
      // The worker died right after loading; a fresh one would not have the model.
      throw new WorkerCrashedError('it exited after loading the model');
    }
    const id = this.nextId++;
    const reply = this.request<DecomposeReply>(
      worker,
      { type: 'decompose', id, problem: checked.problem, decoding: options?.decoding, partials: onPartial !== undefined },
      onPartial,
    );
    const onAbort = (): void => {
      // Settle now; the worker stops at its next step and its late reply is ignored.
      const p = this.pending.get(id);
      this.pending.delete(id);
      this.updateRef();
      worker.postMessage({ type: 'cancel', id } satisfies ToWorker);
      p?.reject(cancelled());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const result = await reply;
      const decomposition: Decomposition = {
        problem: checked.problem,
        subQuestions: result.subQuestions,
        source: 'local',
        model: info.model,
        device: info.device,
        ms: performance.now() - start,
        decoding: result.decoding,
        warnings: checked.warnings,
      };
      return { decomposition, tokens: result.tokens, steps: result.steps, finished: result.finished };
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    const worker = this.worker;
    this.reset(new Error('The local decomposer was disposed.'));
    if (worker) {
      await worker.terminate();
    }
  }

  private withAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    if (!signal) {
      return promise;
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => reject(cancelled());
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
      promise.then(
        (v) => {
          signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (e: Error) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  }

  private ensureWorker(): Worker {
    if (this.worker) {
      return this.worker;
    }
    const script = this.options.workerScript ?? path.join(__dirname, 'worker.js');
    const worker = new Worker(script);
    this.worker = worker;
    worker.on('message', (msg: FromWorker) => this.onMessage(msg));
    worker.on('error', (err: Error) => this.onCrash(worker, err.message.split('\n')[0]));
    worker.on('exit', (code) => this.onCrash(worker, `exit code ${code}`));
    worker.unref();
    return worker;
  }

  private request<T>(worker: Worker, msg: ToWorker, onPartial?: PartialListener): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.set(msg.id, { resolve: resolve as (v: unknown) => void, reject, onPartial });
      this.updateRef();
      worker.postMessage(msg);
    });
  }

  /** The worker keeps the process alive only while a request is in flight. */
  private updateRef(): void {
    if (!this.worker) {
      return;
    }
    if (this.pending.size > 0) {
      this.worker.ref();
    } else {
      this.worker.unref();
    }
  }

  private onMessage(msg: FromWorker): void {
    const p = this.pending.get(msg.id);
    if (!p) {
      return; // a cancelled request's late reply
    }
    if (msg.type === 'partial') {
      p.onPartial?.(msg.subQuestions);
      return;
    }
    this.pending.delete(msg.id);
    this.updateRef();
    if (msg.type === 'error') {
      p.reject(fromWire(msg.error));
    } else if (msg.type === 'loaded') {
      p.resolve(msg.info);
    } else {
      p.resolve(msg.result);
    }
  }

  private onCrash(worker: Worker, reason: string): void {
    if (this.worker !== worker) {
      return; // already handled ('error' is followed by 'exit'), or an old worker
    }
    this.reset(new WorkerCrashedError(reason));
  }

  /** Forgets the worker and model state and fails every request in flight. */
  private reset(err: Error): void {
    this.worker = undefined;
    this.loading = undefined;
    this.info = undefined;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) {
      p.reject(err);
    }
  }
}
