// Reads and checks a model directory's manifest.json (the contract in docs/ARCHITECTURE.md) and the
// sha256 of every file it lists. Every problem is a UserFacingError that names the file, because
// the usual cause is a half-copied or hand-edited model directory that only the user can fix.
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { UserFacingError, type DecodingSettings } from '../core/types';

export const MANIFEST_FORMAT = 'math-tutor-seq2seq/1';
export const REQUIRED_FILES = ['encoder.onnx', 'decoder.onnx', 'tokenizer.json'] as const;

export interface SpecialTokens {
  bos: number;
  eos: number;
  pad: number;
  sep: number;
  /** The id of "?" (decoding ends a sub-question there); optional: older model directories decode without the rule. */
  questionEnd?: number;
}

export interface ModelManifest {
  format: string;
  name: string;
  version: string;
  architecture: Record<string, unknown>;
  precision: string;
  maxSourceTokens: number;
  specialTokens: SpecialTokens;
  decoderPast: { names: string[]; numHeads: number; headDim: number };
  decoding: DecodingSettings;
  files: Record<string, { sha256: string; bytes: number }>;
}

function corrupt(file: string, why: string): UserFacingError {
  return new UserFacingError(`Model file ${file} is invalid: ${why}.`, 'model-corrupt');
}

function isInt(value: unknown, min: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min;
}

/** Validates the parsed manifest object field by field; the message names the field. */
export function parseManifest(raw: unknown, file = 'manifest.json'): ModelManifest {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw corrupt(file, 'not a JSON object');
  }
  const m = raw as Record<string, unknown>;
  if (m.format !== MANIFEST_FORMAT) {
    throw corrupt(file, `format is ${JSON.stringify(m.format)}, expected "${MANIFEST_FORMAT}"`);
  }
  for (const key of ['name', 'version', 'precision'] as const) {
    if (typeof m[key] !== 'string' || m[key].length === 0) {
      throw corrupt(file, `"${key}" must be a non-empty string`);
    }
  }
  if (!isInt(m.maxSourceTokens, 2)) {
    throw corrupt(file, '"maxSourceTokens" must be an integer >= 2');
  }
  const special = m.specialTokens as Record<string, unknown> | undefined;
  if (typeof special !== 'object' || special === null) {
    throw corrupt(file, '"specialTokens" is missing');
  }
  for (const key of ['bos', 'eos', 'pad', 'sep'] as const) {
    if (!isInt(special[key], 0)) {
      throw corrupt(file, `"specialTokens.${key}" must be a token id`);
    }
  }
  if (special.questionEnd !== undefined && !isInt(special.questionEnd, 0)) {
    throw corrupt(file, '"specialTokens.questionEnd" must be a token id when present');
  }
  const past = m.decoderPast as Record<string, unknown> | undefined;
  if (
    typeof past !== 'object' ||
    past === null ||
    !Array.isArray(past.names) ||
    past.names.length === 0 ||
    !past.names.every((n) => typeof n === 'string' && n.length > 0) ||
    !isInt(past.numHeads, 1) ||
    !isInt(past.headDim, 1)
  ) {
    throw corrupt(file, '"decoderPast" must have non-empty "names", "numHeads" and "headDim"');
  }
  const decoding = m.decoding as Record<string, unknown> | undefined;
  if (typeof decoding !== 'object' || decoding === null) {
    throw corrupt(file, '"decoding" is missing');
  }
  for (const [key, min] of [['beams', 1], ['maxQuestions', 1], ['maxNewTokens', 1], ['noRepeatNgram', 0]] as const) {
    if (!isInt(decoding[key], min)) {
      throw corrupt(file, `"decoding.${key}" must be an integer >= ${min}`);
    }
  }
  const files = m.files as Record<string, unknown> | undefined;
  if (typeof files !== 'object' || files === null) {
    throw corrupt(file, '"files" is missing');
  }
  for (const name of REQUIRED_FILES) {
    if (!(name in files)) {
      throw corrupt(file, `"files" does not list ${name}`);
    }
  }
  for (const [name, entry] of Object.entries(files)) {
    const e = entry as Record<string, unknown> | null;
    // A listed name must stay inside the model directory.
    if (name.includes('/') || name.includes('\\') || name === '..' || name === '.') {
      throw corrupt(file, `file name ${JSON.stringify(name)} is not a plain file name`);
    }
    if (typeof e !== 'object' || e === null || typeof e.sha256 !== 'string' || !/^[0-9a-f]{64}$/i.test(e.sha256)) {
      throw corrupt(file, `"files.${name}.sha256" must be 64 hex digits`);
    }
    if (!isInt(e.bytes, 0)) {
      throw corrupt(file, `"files.${name}.bytes" must be a byte count`);
    }
  }
  return {
    format: m.format,
    name: m.name as string,
    version: m.version as string,
    architecture: (typeof m.architecture === 'object' && m.architecture !== null ? m.architecture : {}) as Record<
      string,
      unknown
    >,
    precision: m.precision as string,
    maxSourceTokens: m.maxSourceTokens,
    specialTokens: special as unknown as SpecialTokens,
    decoderPast: past as unknown as ModelManifest['decoderPast'],
    decoding: decoding as unknown as DecodingSettings,
    files: files as ModelManifest['files'],
  };
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}

/**
 * Reads `<dir>/manifest.json` and checks size and sha256 of every listed file. Throws
 * `model-missing` when the directory, the manifest or a listed file is absent and `model-corrupt`
 * when anything does not match, always naming the file.
 */
export async function loadManifest(modelDir: string): Promise<ModelManifest> {
  const manifestPath = path.join(modelDir, 'manifest.json');
  let text: string;
  try {
    text = await fs.readFile(manifestPath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new UserFacingError(
        `No model found: ${manifestPath} does not exist (use --model DIR or put the model in models/).`,
        'model-missing',
      );
    }
    throw new UserFacingError(`Cannot read model file ${manifestPath}: ${(err as Error).message}`, 'model-missing');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw corrupt(manifestPath, `not valid JSON (${(err as Error).message})`);
  }
  const manifest = parseManifest(parsed, manifestPath);
  for (const [name, entry] of Object.entries(manifest.files)) {
    const file = path.join(modelDir, name);
    let size: number;
    try {
      size = (await fs.stat(file)).size;
    } catch {
      throw new UserFacingError(`Model file ${file} is missing (listed in manifest.json).`, 'model-missing');
    }
    // The size check is free and catches truncated copies before hashing 50 MB.
    if (size !== entry.bytes) {
      throw corrupt(file, `it has ${size} bytes, manifest.json says ${entry.bytes}`);
    }
    const actual = await sha256File(file);
    if (actual !== entry.sha256.toLowerCase()) {
      throw corrupt(file, 'its sha256 does not match manifest.json (damaged or replaced file)');
    }
  }
  return manifest;
}

/** Total bytes of the files the manifest lists (the "model size" of the benchmark). */
export function modelBytes(manifest: ModelManifest): number {
  return Object.values(manifest.files).reduce((sum, f) => sum + f.bytes, 0);
}
