// Test fixtures built on the fly: a minimal valid ONNX file (hand-encoded protobuf, so the tests need
// no Python) and model directories with a manifest whose sha256 entries match (or not).
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n >>>= 7;
  }
  out.push(n);
  return out;
}
function field(no: number, payload: number[] | string): number[] {
  const bytes = typeof payload === 'string' ? [...Buffer.from(payload, 'utf8')] : payload;
  return [...varint((no << 3) | 2), ...varint(bytes.length), ...bytes];
}
function intField(no: number, value: number): number[] {
  return [...varint(no << 3), ...varint(value)];
}

/** ModelProto of a one-node graph y = Identity(x), float32 [n], opset 17. */
export function identityOnnx(): Buffer {
  const valueInfo = (name: string): number[] =>
    field(1, name).concat(
      field(2, field(1, intField(1, 1).concat(field(2, field(1, field(2, 'n')))))), // float tensor [n]
    );
  const node = field(1, 'x').concat(field(2, 'y'), field(4, 'Identity'));
  const graph = field(1, node).concat(field(2, 'g'), field(11, valueInfo('x')), field(12, valueInfo('y')));
  const model = intField(1, 8).concat(field(2, 'fixture'), field(7, graph), field(8, field(1, '').concat(intField(2, 17))));
  return Buffer.from(model);
}

export interface FixtureDir {
  dir: string;
  cleanup(): void;
}

/** A model directory whose manifest lists `files` with correct sha256 and sizes. */
export function modelDirWith(files: Record<string, Buffer | string>, manifestPatch: Record<string, unknown> = {}): FixtureDir {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'local-model-'));
  const entries: Record<string, { sha256: string; bytes: number }> = {};
  for (const [name, content] of Object.entries(files)) {
    const buf = typeof content === 'string' ? Buffer.from(content) : content;
    writeFileSync(path.join(dir, name), buf);
    entries[name] = { sha256: createHash('sha256').update(buf).digest('hex'), bytes: buf.length };
  }
  const manifest = {
    format: 'math-tutor-seq2seq/1',
    name: 'fixture',
    version: '0.0.1',
    architecture: { type: 'test' },
    precision: 'fp32',
    maxSourceTokens: 16,
    specialTokens: { bos: 1, eos: 2, pad: 0, sep: 3 },
    decoderPast: { names: ['self_k_0'], numHeads: 1, headDim: 2 },
    decoding: { beams: 2, maxQuestions: 3, maxNewTokens: 10, noRepeatNgram: 2 },
    files: entries,
    ...manifestPatch,
  };
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 1));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The three contract files with trivial content (only the hashes matter for manifest tests). */
export function contractFiles(): Record<string, Buffer | string> {
  return { 'encoder.onnx': identityOnnx(), 'decoder.onnx': identityOnnx(), 'tokenizer.json': '{}' };
}
