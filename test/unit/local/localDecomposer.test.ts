// LocalDecomposer end to end with the shipped model in models/: worker thread, load info, device
// notice, cancellation, crash and restart.
import * as assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { UserFacingError } from '../../../src/core/types';
import { LocalDecomposer, WorkerCrashedError } from '../../../src/local/localDecomposer';

const MODEL_DIR = path.resolve(__dirname, '..', '..', '..', '..', 'models');
const PROBLEM = 'Weng earns $12 an hour for babysitting. Yesterday, she did 50 minutes of babysitting. How much did she earn?';
// Short decodes keep the suite light on the shared 2-core machine.
const SHORT = { decoding: { beams: 1, maxNewTokens: 8 } };
const LONG_PROBLEM =
  "Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for her " +
  'friends every day with four. She sells the remainder at the farmers\' market daily for $2 per fresh duck egg. ' +
  'She also sells 5 jars of jam for $3 each and spends $4 on feed. How much in dollars does she make every day?';

function isCode(code: string) {
  return (err: unknown): boolean => err instanceof UserFacingError && err.code === code;
}

describe('local/LocalDecomposer (worker thread, shipped model)', function () {
  this.timeout(120_000);
  before(function () {
    if (!existsSync(path.join(MODEL_DIR, 'manifest.json'))) {
      this.skip();
    }
  });

  it('loads in the worker and reports model, device and load time', async () => {
    const d = new LocalDecomposer({ modelDir: MODEL_DIR, device: 'cpu' });
    try {
      const info = await d.load();
      assert.match(info.model, /^[\w.-]+@[\w.-]+$/);
      assert.equal(info.device, 'cpu');
      assert.equal(info.notice, undefined);
      assert.ok(info.loadMs > 0);
      assert.equal(d.describe(), `${info.model} (cpu)`);
      const r = await d.decompose(PROBLEM, SHORT);
      assert.equal(r.source, 'local');
      assert.equal(r.model, info.model);
      assert.equal(r.device, 'cpu');
      assert.ok(Array.isArray(r.subQuestions));
      assert.deepEqual(r.decoding?.beams, 1);
      assert.equal(r.decoding?.maxNewTokens, 8);
      assert.ok(r.ms >= 0);
    } finally {
      await d.dispose();
    }
  });

  it('auto on this CPU-only machine: runs on CPU and says why in a notice', async function () {
    if (!(process.platform === 'linux' && process.arch === 'x64')) {
      this.skip();
    }
    const d = new LocalDecomposer({ modelDir: MODEL_DIR, device: 'auto' });
    try {
      const info = await d.load();
      assert.equal(info.device, 'cpu');
      assert.match(info.notice ?? '', /cuda.*running on CPU/);
    } finally {
      await d.dispose();
    }
  });

  it('gpu without a usable GPU: device-unavailable, and the error comes back across the thread', async function () {
    if (!(process.platform === 'linux' && process.arch === 'x64')) {
      this.skip();
    }
    const d = new LocalDecomposer({ modelDir: MODEL_DIR, device: 'gpu' });
    try {
      await assert.rejects(d.load(), isCode('device-unavailable'));
      await assert.rejects(d.decompose(PROBLEM, SHORT), isCode('device-unavailable'));
    } finally {
      await d.dispose();
    }
  });

  it('missing model: model-missing naming the file', async () => {
    const d = new LocalDecomposer({ modelDir: path.join(MODEL_DIR, 'does-not-exist'), device: 'cpu' });
    try {
      await assert.rejects(d.decompose(PROBLEM), (err: unknown) => isCode('model-missing')(err) && /does-not-exist/.test((err as Error).message));
    } finally {
      await d.dispose();
    }
  });

  it('checks the problem text before any work (empty, too long)', async () => {
    const d = new LocalDecomposer({ modelDir: MODEL_DIR, device: 'cpu' });
    try {
      await assert.rejects(d.decompose('   '), isCode('empty-input'));
      await assert.rejects(d.decompose('x'.repeat(4001)), isCode('input-too-long'));
      assert.equal(d.describe(), 'local model (not loaded)');
    } finally {
      await d.dispose();
    }
  });

  it('cancellation rejects with "cancelled" and the worker is free for the next request', async () => {
    const d = new LocalDecomposer({ modelDir: MODEL_DIR, device: 'cpu' });
    try {
      await d.load();
      const greedyLong = { decoding: { beams: 1, maxNewTokens: 512, maxQuestions: 20 } };
      let uncancelledPartials = 0;
      await d.decompose(LONG_PROBLEM, greedyLong, undefined, () => uncancelledPartials++);
      assert.ok(uncancelledPartials >= 2, `the long problem streams more than one sub-question (${uncancelledPartials})`);
      const controller = new AbortController();
      // Cancel at the first streamed sub-question: the decode is then certainly under way (a timer
      // would race a trained model that finishes quickly), with more questions still to come.
      let partials = 0;
      const long = d.decompose(LONG_PROBLEM, greedyLong, controller.signal, () => {
        partials++;
        controller.abort();
      });
      await assert.rejects(long, isCode('cancelled'));
      assert.ok(partials < uncancelledPartials, 'generation stopped before the end');
      const next = await d.decomposeWithStats(PROBLEM, SHORT);
      assert.ok(next.steps <= 8);
      const already = new AbortController();
      already.abort();
      await assert.rejects(d.decompose(PROBLEM, SHORT, already.signal), isCode('cancelled'));
    } finally {
      await d.dispose();
    }
  });

  it('a crashed worker gives a clear error and the next request restarts it', async () => {
    const d = new LocalDecomposer({
      modelDir: MODEL_DIR,
      device: 'cpu',
      workerScript: path.join(__dirname, 'crashWorker.js'),
    });
    try {
      await d.load();
      await assert.rejects(d.decompose(`__crash__ ${PROBLEM}`, SHORT), (err: unknown) => {
        assert.ok(err instanceof WorkerCrashedError);
        assert.match(err.message, /worker stopped unexpectedly \(simulated worker crash\)/);
        return true;
      });
      assert.equal(d.describe(), 'local model (not loaded)');
      const again = await d.decompose(PROBLEM, SHORT);
      assert.equal(again.source, 'local');
    } finally {
      await d.dispose();
    }
  });
});
