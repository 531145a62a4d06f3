import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { UserFacingError } from '../../../src/core/types';
import { createSessions, gpuProviderFor, type SessionFactory } from '../../../src/local/session';
import { identityOnnx, modelDirWith, type FixtureDir } from './fixtures';

// These tests run on a CPU-only Linux x64 machine: the CUDA provider really fails to load here,
// so `auto` and `gpu` go through the real fallback / error paths of onnxruntime-node.
const cudaAbsent = process.platform === 'linux' && process.arch === 'x64';

describe('local/session (device selection)', () => {
  let fx: FixtureDir;
  let files: { encoder: string; decoder: string };
  before(() => {
    fx = modelDirWith({ 'encoder.onnx': identityOnnx(), 'decoder.onnx': identityOnnx() });
    files = { encoder: path.join(fx.dir, 'encoder.onnx'), decoder: path.join(fx.dir, 'decoder.onnx') };
  });
  after(() => fx.cleanup());

  it('maps platforms to their GPU provider', () => {
    assert.equal(gpuProviderFor('linux', 'x64'), 'cuda');
    assert.equal(gpuProviderFor('win32', 'x64'), 'dml');
    assert.equal(gpuProviderFor('darwin', 'arm64'), 'coreml');
    assert.equal(gpuProviderFor('linux', 'arm64'), undefined);
    assert.equal(gpuProviderFor('darwin', 'x64'), undefined);
  });

  it('cpu: loads on CPU without a notice', async () => {
    const s = await createSessions(files, 'cpu');
    assert.equal(s.device, 'cpu');
    assert.equal(s.notice, undefined);
    const out = await s.decoder.run({ x: new ort.Tensor('float32', new Float32Array([1, 2]), [2]) });
    assert.deepEqual(Array.from(out.y.data as Float32Array), [1, 2]);
    await s.encoder.release();
    await s.decoder.release();
  });

  (cudaAbsent ? it : it.skip)('auto: the CUDA attempt fails for real, falls back to CPU with a notice', async () => {
    const s = await createSessions(files, 'auto');
    assert.equal(s.device, 'cpu');
    assert.ok(s.notice, 'a notice is expected');
    assert.match(s.notice, /cuda/);
    assert.match(s.notice, /running on CPU/);
    assert.ok(!s.notice.includes('\n'));
    await s.encoder.release();
    await s.decoder.release();
  });

  (cudaAbsent ? it : it.skip)('gpu: no usable GPU gives a clear device-unavailable error', async () => {
    await assert.rejects(createSessions(files, 'gpu'), (err: unknown) => {
      assert.ok(err instanceof UserFacingError);
      assert.equal(err.code, 'device-unavailable');
      assert.match(err.message, /cuda/);
      assert.ok(!err.message.includes('\n'));
      return true;
    });
  });

  it('auto: reports the GPU provider when it loads (simulated Windows)', async () => {
    const seen: string[][] = [];
    const real = ort.InferenceSession;
    // Pretend DirectML works: record the providers asked for, then load on CPU.
    const create: SessionFactory = (file, options) => {
      seen.push((options.executionProviders ?? []) as string[]);
      return real.create(file, { ...options, executionProviders: ['cpu'] });
    };
    const s = await createSessions(files, 'auto', { platform: 'win32', arch: 'x64', create });
    assert.equal(s.device, 'dml');
    assert.equal(s.notice, undefined);
    assert.deepEqual(seen, [['dml', 'cpu'], ['dml', 'cpu']]);
    await s.encoder.release();
    await s.decoder.release();
  });

  it('auto on a platform without a GPU provider: CPU with a notice; gpu: an error', async () => {
    const env = { platform: 'linux' as NodeJS.Platform, arch: 'arm64' };
    const s = await createSessions(files, 'auto', env);
    assert.equal(s.device, 'cpu');
    assert.match(s.notice ?? '', /No GPU execution provider/);
    await s.encoder.release();
    await s.decoder.release();
    await assert.rejects(createSessions(files, 'gpu', env), /No GPU execution provider/);
  });

  it('a file onnxruntime cannot read is a model-corrupt error', async () => {
    const bad = modelDirWith({ 'encoder.onnx': 'not onnx', 'decoder.onnx': 'not onnx' });
    try {
      await assert.rejects(
        createSessions({ encoder: path.join(bad.dir, 'encoder.onnx'), decoder: path.join(bad.dir, 'decoder.onnx') }, 'cpu'),
        (err: unknown) => err instanceof UserFacingError && err.code === 'model-corrupt',
      );
    } finally {
      bad.cleanup();
    }
  });
});
