// A StepModel whose next-token scores are a function of each row's history, with the KV cache
// simulated through `parents` exactly as the ORT adapter must do it. Used to test the decoding
// rules without onnxruntime.
import type { StepModel } from '../../../src/local/decode';

export type ScoreFn = (history: readonly number[]) => ArrayLike<number>;

export class ScriptedModel implements StepModel {
  private rows: number[][] = [];
  calls = 0;
  batchSizes: number[] = [];

  constructor(
    readonly vocabSize: number,
    private readonly score: ScoreFn,
    private readonly delayMs = 0,
  ) {}

  async step(tokens: readonly number[], parents: readonly number[] | null): Promise<Float32Array> {
    this.calls++;
    this.batchSizes.push(tokens.length);
    if (parents !== null && parents.length !== tokens.length) {
      throw new Error('parents and tokens differ in length');
    }
    this.rows = tokens.map((t, r) => (parents === null ? [t] : [...this.rows[parents[r]], t]));
    if (this.delayMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    }
    const out = new Float32Array(tokens.length * this.vocabSize);
    this.rows.forEach((h, r) => out.set(logSoftmax(this.score(h), this.vocabSize), r * this.vocabSize));
    return out;
  }
}

export function logSoftmax(scores: ArrayLike<number>, V: number): Float32Array {
  let max = -Infinity;
  for (let i = 0; i < V; i++) {
    max = Math.max(max, scores[i]);
  }
  let sum = 0;
  for (let i = 0; i < V; i++) {
    sum += Math.exp(scores[i] - max);
  }
  const out = new Float32Array(V);
  for (let i = 0; i < V; i++) {
    out[i] = scores[i] - max - Math.log(sum);
  }
  return out;
}

/** Deterministic pseudo-random scores from a history (FNV-1a over the ids, then an LCG). */
export function hashedScores(seed: number, V: number, eosBias = 0, eos = 2): ScoreFn {
  return (history) => {
    let h = (2166136261 ^ seed) >>> 0;
    for (const t of history) {
      h = Math.imul(h ^ t, 16777619) >>> 0;
    }
    const s = new Array<number>(V);
    for (let i = 0; i < V; i++) {
      h = (Math.imul(h, 1664525) + 1013904223) >>> 0;
      s[i] = (h / 2 ** 32) * 6;
    }
    s[eos] += eosBias;
    return s;
  };
}
