// onnxruntime-node sessions with device selection. onnxruntime-node does NOT fall back by itself:
// a session asking for an unusable provider is rejected (../shared/guides/onnxruntime.md), so `auto`
// tries the platform's GPU provider, catches, retries on CPU and reports what it ended up using.
import * as ort from 'onnxruntime-node';
import { UserFacingError, type DevicePreference } from '../core/types';

export type SessionFactory = (file: string, options: ort.InferenceSession.SessionOptions) => Promise<ort.InferenceSession>;

/** The GPU execution provider shipped for a platform, if any. */
export function gpuProviderFor(platform: NodeJS.Platform, arch: string): string | undefined {
  if (platform === 'linux' && arch === 'x64') {
    return 'cuda';
  }
  if (platform === 'win32') {
    return 'dml';
  }
  if (platform === 'darwin' && arch === 'arm64') {
    return 'coreml';
  }
  return undefined;
}

export interface SessionPair {
  encoder: ort.InferenceSession;
  decoder: ort.InferenceSession;
  /** Provider in use: 'cpu', 'cuda', 'dml' or 'coreml'. */
  device: string;
  /** Set when the user should know something about the device, e.g. a GPU fallback. */
  notice?: string;
}

export interface SessionEnv {
  platform?: NodeJS.Platform;
  arch?: string;
  create?: SessionFactory;
}

let logLevelSet = false;

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0].trim().slice(0, 300);
}

async function createPair(
  create: SessionFactory,
  files: { encoder: string; decoder: string },
  providers: string[],
): Promise<{ encoder: ort.InferenceSession; decoder: ort.InferenceSession }> {
  const base: ort.InferenceSession.SessionOptions = {
    executionProviders: providers,
    graphOptimizationLevel: 'all',
    interOpNumThreads: 1,
  };
  // Measured on the 2-core dev machine under load: a decoder step is too small to gain from a
  // thread pool (1 thread was ~2x faster than the default pool of 2 spinning threads). The encoder
  // runs once per problem on up to 256 tokens, so it keeps the pool but must not spin-wait: the
  // CPU belongs to the editor and every other extension.
  const encoderOptions: ort.InferenceSession.SessionOptions = {
    ...base,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
  const decoderOptions: ort.InferenceSession.SessionOptions = { ...base, intraOpNumThreads: 1 };
  const encoder = await create(files.encoder, encoderOptions);
  try {
    return { encoder, decoder: await create(files.decoder, decoderOptions) };
  } catch (err) {
    await encoder.release();
    throw err;
  }
}

function cudaHint(provider: string): string {
  return provider === 'cuda'
    ? ' To use an NVIDIA GPU on Linux, install CUDA 12 + cuDNN 9 and the onnxruntime-node CUDA libraries (see docs/local-runtime.md).'
    : '';
}

/**
 * Creates the encoder and decoder sessions on the preferred device.
 * - `cpu`: CPU only.
 * - `gpu`: the platform's GPU provider or a `device-unavailable` error.
 * - `auto`: GPU if it loads, otherwise CPU with a notice saying why.
 */
export async function createSessions(
  files: { encoder: string; decoder: string },
  device: DevicePreference,
  env: SessionEnv = {},
): Promise<SessionPair> {
  if (!logLevelSet) {
    // Must happen before the first session: it hides the native error line of a failed GPU try.
    ort.env.logLevel = 'fatal';
    logLevelSet = true;
  }
  const create: SessionFactory = env.create ?? ((file, options) => ort.InferenceSession.create(file, options));
  const gpu = gpuProviderFor(env.platform ?? process.platform, env.arch ?? process.arch);
  if (device === 'cpu') {
    return { ...(await createCpu(create, files)), device: 'cpu' };
  }
  if (gpu === undefined) {
    const what = `No GPU execution provider exists for ${env.platform ?? process.platform}-${env.arch ?? process.arch}`;
    if (device === 'gpu') {
      throw new UserFacingError(`${what}; use device "auto" or "cpu".`, 'device-unavailable');
    }
    return { ...(await createCpu(create, files)), device: 'cpu', notice: `${what}; running on CPU.` };
  }
  try {
    return { ...(await createPair(create, files, [gpu, 'cpu'])), device: gpu };
  } catch (err) {
    const why = firstLine(err);
    if (device === 'gpu') {
      throw new UserFacingError(
        `The GPU provider "${gpu}" could not be loaded (${why}).${cudaHint(gpu)}`,
        'device-unavailable',
      );
    }
    const pair = await createCpu(create, files);
    return {
      ...pair,
      device: 'cpu',
      notice: `GPU provider "${gpu}" is not usable here (${why}); running on CPU.${cudaHint(gpu)}`,
    };
  }
}

async function createCpu(
  create: SessionFactory,
  files: { encoder: string; decoder: string },
): Promise<{ encoder: ort.InferenceSession; decoder: ort.InferenceSession }> {
  try {
    return await createPair(create, files, ['cpu']);
  } catch (err) {
    // The files passed their sha256 check, so this is a model the runtime cannot read.
    throw new UserFacingError(`The model could not be loaded by onnxruntime: ${firstLine(err)}`, 'model-corrupt');
  }
}
