import * as assert from 'node:assert/strict';
import { appendFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { UserFacingError } from '../../../src/core/types';
import { loadManifest } from '../../../src/local/manifest';
import { contractFiles, modelDirWith, type FixtureDir } from './fixtures';

function expectUserError(code: string, mentions: string) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof UserFacingError, `not a UserFacingError: ${String(err)}`);
    assert.equal(err.code, code);
    assert.ok(err.message.includes(mentions), `"${err.message}" does not name ${mentions}`);
    assert.ok(!err.message.includes('\n'), 'message must be one line');
    return true;
  };
}

describe('local/manifest', () => {
  let fx: FixtureDir;
  beforeEach(() => {
    fx = modelDirWith(contractFiles());
  });
  afterEach(() => fx.cleanup());

  it('accepts a directory whose files match their sha256', async () => {
    const m = await loadManifest(fx.dir);
    assert.equal(`${m.name}@${m.version}`, 'fixture@0.0.1');
    assert.equal(m.decoding.beams, 2);
  });

  it('names a corrupt file (same size, different bytes)', async () => {
    const file = path.join(fx.dir, 'decoder.onnx');
    const bytes = readFileSync(file);
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(file, bytes);
    await assert.rejects(loadManifest(fx.dir), expectUserError('model-corrupt', file));
  });

  it('names a truncated or extended file', async () => {
    const file = path.join(fx.dir, 'tokenizer.json');
    appendFileSync(file, ' ');
    await assert.rejects(loadManifest(fx.dir), expectUserError('model-corrupt', file));
  });

  it('names a missing file', async () => {
    const file = path.join(fx.dir, 'encoder.onnx');
    rmSync(file);
    await assert.rejects(loadManifest(fx.dir), expectUserError('model-missing', file));
  });

  it('names the manifest when it is missing or not JSON', async () => {
    const manifest = path.join(fx.dir, 'manifest.json');
    writeFileSync(manifest, '{"format": ');
    await assert.rejects(loadManifest(fx.dir), expectUserError('model-corrupt', manifest));
    rmSync(manifest);
    await assert.rejects(loadManifest(fx.dir), expectUserError('model-missing', manifest));
    await assert.rejects(loadManifest(path.join(fx.dir, 'nope')), expectUserError('model-missing', 'nope'));
  });

  it('rejects a manifest that does not list a contract file or has bad fields', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ format: 'other/1' }, 'format'],
      [{ files: {} }, 'encoder.onnx'],
      [{ specialTokens: { bos: 1, eos: 2, pad: 0 } }, 'specialTokens.sep'],
      [{ specialTokens: { bos: 1, eos: 2, pad: 0, sep: 3, questionEnd: '?' } }, 'specialTokens.questionEnd'],
      [{ decoding: { beams: 0, maxQuestions: 3, maxNewTokens: 10, noRepeatNgram: 2 } }, 'decoding.beams'],
      [{ decoderPast: { names: [], numHeads: 1, headDim: 2 } }, 'decoderPast'],
    ];
    for (const [patch, mentions] of cases) {
      const bad = modelDirWith(contractFiles(), patch);
      try {
        await assert.rejects(loadManifest(bad.dir), expectUserError('model-corrupt', mentions));
      } finally {
        bad.cleanup();
      }
    }
  });

  it('refuses a listed file name that escapes the directory', async () => {
    const bad = modelDirWith(contractFiles());
    try {
      const file = path.join(bad.dir, 'manifest.json');
      const m = JSON.parse(readFileSync(file, 'utf8')) as { files: Record<string, unknown> };
      m.files['../secret'] = { sha256: '0'.repeat(64), bytes: 1 };
      writeFileSync(file, JSON.stringify(m));
      await assert.rejects(loadManifest(bad.dir), expectUserError('model-corrupt', '../secret'));
    } finally {
      bad.cleanup();
    }
  });
});
