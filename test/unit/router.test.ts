import * as assert from 'node:assert/strict';
import { Decomposer, Decomposition, UserFacingError } from '../../src/core/types';
import { DecomposerRouter } from '../../src/router';

const PROBLEM = 'Tom has 3 apples and buys 2 more. How many apples does he have?';

/** A decomposer that answers from a script and counts its calls. */
class ScriptedDecomposer implements Decomposer {
  calls = 0;
  constructor(
    readonly kind: 'local' | 'teacher',
    private readonly reply: string[] | Error,
  ) {}
  describe(): string {
    return this.kind;
  }
  decompose(problem: string): Promise<Decomposition> {
    this.calls++;
    if (this.reply instanceof Error) {
      return Promise.reject(this.reply);
    }
    return Promise.resolve({
      problem, subQuestions: this.reply, source: this.kind, model: this.kind, device: 'cpu', ms: 1, warnings: [],
    });
  }
  dispose(): Promise<void> {
    return Promise.resolve();
  }
}

const GOOD = ['How many apples does Tom buy?', 'How many apples does he have?'];
const REPEATED = ['How many apples does he have?', 'How many apples does he have?'];

describe('DecomposerRouter', () => {
  it('auto: serves from the local model when its output is valid', async () => {
    const local = new ScriptedDecomposer('local', GOOD);
    const teacher = new ScriptedDecomposer('teacher', GOOD);
    const result = await new DecomposerRouter({ mode: 'auto', local, teacher }).decompose({ problem: PROBLEM });
    assert.equal(result.source, 'local');
    assert.equal(teacher.calls, 0);
  });

  it('auto: falls back to the teacher when local output fails validation, and says why', async () => {
    const teacher = new ScriptedDecomposer('teacher', GOOD);
    const router = new DecomposerRouter({ mode: 'auto', local: new ScriptedDecomposer('local', REPEATED), teacher });
    const result = await router.decompose({ problem: PROBLEM });
    assert.equal(result.source, 'teacher');
    assert.match(result.fallbackReason ?? '', /repeats/);
  });

  it('auto: falls back to the teacher when the local model is missing', async () => {
    const local = new ScriptedDecomposer('local', new UserFacingError('models/encoder.onnx is missing', 'model-missing'));
    const router = new DecomposerRouter({ mode: 'auto', local, teacher: new ScriptedDecomposer('teacher', GOOD) });
    const result = await router.decompose({ problem: PROBLEM });
    assert.equal(result.source, 'teacher');
    assert.match(result.fallbackReason ?? '', /encoder\.onnx/);
  });

  it('auto without a teacher: shows local output with the validation issues as warnings', async () => {
    const router = new DecomposerRouter({ mode: 'auto', local: new ScriptedDecomposer('local', REPEATED) });
    const result = await router.decompose({ problem: PROBLEM });
    assert.equal(result.source, 'local');
    assert.ok(result.warnings.some((w) => /repeats/.test(w)));
  });

  it('auto without a teacher: a local failure reaches the caller unchanged', async () => {
    const failure = new UserFacingError('models/decoder.onnx is corrupt', 'model-corrupt');
    const router = new DecomposerRouter({ mode: 'auto', local: new ScriptedDecomposer('local', failure) });
    await assert.rejects(router.decompose({ problem: PROBLEM }), failure);
  });

  it('a cancellation is never turned into a teacher request', async () => {
    const teacher = new ScriptedDecomposer('teacher', GOOD);
    const local = new ScriptedDecomposer('local', new UserFacingError('Cancelled.', 'cancelled'));
    await assert.rejects(new DecomposerRouter({ mode: 'auto', local, teacher }).decompose({ problem: PROBLEM }), /Cancelled/);
    assert.equal(teacher.calls, 0);
  });

  it('local mode never asks the teacher; teacher mode and "Ask the teacher" never run the local model', async () => {
    const local = new ScriptedDecomposer('local', REPEATED);
    const teacher = new ScriptedDecomposer('teacher', GOOD);
    assert.equal((await new DecomposerRouter({ mode: 'local', local, teacher }).decompose({ problem: PROBLEM })).source, 'local');
    assert.equal(teacher.calls, 0);
    assert.equal((await new DecomposerRouter({ mode: 'teacher', local, teacher }).decompose({ problem: PROBLEM })).source, 'teacher');
    const asked = await new DecomposerRouter({ mode: 'auto', local, teacher }).decompose({ problem: PROBLEM, preferTeacher: true });
    assert.equal(asked.source, 'teacher');
    assert.equal(local.calls, 1);
  });

  it('teacher mode without a teacher explains which settings to fill in', async () => {
    await assert.rejects(
      new DecomposerRouter({ mode: 'teacher' }).decompose({ problem: PROBLEM }),
      (err: unknown) => err instanceof UserFacingError && err.code === 'teacher-not-configured' && /baseUrl/.test(err.message),
    );
  });

  it('checks the problem text before any decomposer runs', async () => {
    const local = new ScriptedDecomposer('local', GOOD);
    await assert.rejects(new DecomposerRouter({ mode: 'auto', local }).decompose({ problem: '   ' }), /no problem text/);
    assert.equal(local.calls, 0);
    const warned = await new DecomposerRouter({ mode: 'auto', local }).decompose({ problem: 'Write a poem.' });
    assert.ok(warned.warnings.some((w) => /no numbers/.test(w)));
  });
});
