// Cross-implementation check of the decoding rules: src/local/decode.ts and training/decode.py run
// the same scripted "model" (scores from a hash of each row's history, quantised to 1/8 so that
// ties are everywhere) on 150 random settings, and must produce the same ids. Unlike
// models/reference.json this reaches sep, eos, forced eos, repeated sub-questions, the "?"
// rule and the tie-breaks, which an early model may never produce.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { normalizeQuestion } from '../../../src/core/subQuestions';
import { decode } from '../../../src/local/decode';
import { ModelTokenizer } from '../../../src/local/tokenizer';
import type { StepModel } from '../../../src/local/decode';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const PYTHON = path.join(ROOT, 'training', '.venv', 'bin', 'python');
const MODEL_DIR = path.join(ROOT, 'models');
const V = 30522;
// eos, sep and a few real words ("how ? many apples does she have the a"), looked up below; "?"
// second, so that the repetitive cases with two words meet the "?" rule too.
const WORD_TEXT = ['how', '?', 'many', 'apples', 'does', 'she', 'have', 'the', 'a', '3'];

interface Case {
  seed: number;
  /** How many of the words the case may use: few words make repeated sub-questions likely. */
  nWords: number;
  /** Subtracted from eos: longer outputs with more sub-questions. */
  eosPenalty: number;
  beams: number;
  maxQuestions: number;
  maxNewTokens: number;
  noRepeatNgram: number;
  /** Pass the id of "?" as questionEnd (the rule that a sub-question ends at its "?"). */
  endAtQuestion: boolean;
}

function cases(): Case[] {
  const out: Case[] = [];
  for (let seed = 1; seed <= 150; seed++) {
    // Every third case: one or two words, no n-gram rule, eos discouraged: repeats galore.
    const repetitive = seed % 3 === 0;
    out.push({
      seed,
      nWords: repetitive ? 1 + (seed % 2) : 10,
      eosPenalty: repetitive || seed % 2 === 0 ? 3 : 0,
      beams: 1 + (seed % 4),
      maxQuestions: repetitive ? 2 + (seed % 3) : 1 + ((seed >> 2) % 4),
      maxNewTokens: 5 + ((seed * 13) % 36),
      noRepeatNgram: repetitive ? 0 : (seed >> 1) % 4,
      endAtQuestion: seed % 2 === 1,
    });
  }
  return out;
}

/** The scripted scores, identical in Python below: FNV-1a over the history, then an LCG. */
function scores(seed: number, history: readonly number[], words: readonly number[], eosPenalty: number): Float32Array {
  let h = (2166136261 ^ seed) >>> 0;
  for (const t of history) {
    h = Math.imul(h ^ t, 16777619) >>> 0;
  }
  const out = new Float32Array(V).fill(-1000);
  for (const w of words) {
    h = (Math.imul(h, 1664525) + 1013904223) >>> 0;
    out[w] = -Math.floor((h / 2 ** 32) * 24) / 8;
  }
  out[2] -= eosPenalty;
  return out;
}

class Scripted implements StepModel {
  private rows: number[][] = [];
  constructor(
    private readonly seed: number,
    private readonly words: readonly number[],
    private readonly eosPenalty: number,
  ) {}
  step(tokens: readonly number[], parents: readonly number[] | null): Promise<Float32Array> {
    this.rows = tokens.map((t, r) => (parents === null ? [t] : [...this.rows[parents[r]], t]));
    const out = new Float32Array(tokens.length * V);
    this.rows.forEach((h, r) => out.set(scores(this.seed, h, this.words, this.eosPenalty), r * V));
    return Promise.resolve(out);
  }
}

const PY = String.raw`
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
from tokenizers import Tokenizer
from training.decode import decode
tok = Tokenizer.from_file(sys.argv[2])
spec = json.load(open(sys.argv[3]))
V, all_words = spec["V"], spec["words"]
M = 0xFFFFFFFF

def scores(seed, hist, words, eos_penalty):
    h = (2166136261 ^ seed) & M
    for t in hist:
        h = ((h ^ t) * 16777619) & M
    out = np.full(V, -1000.0, dtype=np.float32)
    for w in words:
        h = (h * 1664525 + 1013904223) & M
        out[w] = -np.floor((h / 2**32) * 24) / 8
    out[2] -= eos_penalty
    return out

class Scripted:
    def __init__(self, seed, words, pen): self.seed, self.words, self.pen = seed, words, pen
    def start(self, src, rows): self.rows = [[] for _ in range(rows)]
    def step(self, tokens, parents):
        self.rows = [self.rows[p] + [t] for p, t in zip(parents, tokens)]
        return np.stack([scores(self.seed, h, self.words, self.pen) for h in self.rows])

out = []
for c in spec["cases"]:
    r = decode(Scripted(c["seed"], all_words[:2 + c["nWords"]], c["eosPenalty"]), [2], beams=c["beams"], max_questions=c["maxQuestions"],
               max_new_tokens=c["maxNewTokens"], no_repeat_ngram=c["noRepeatNgram"], tok=tok,
               question_end=all_words[3] if c["endAtQuestion"] else None)
    out.append(r["ids"])
print(json.dumps(out))
`;

describe('local/decode == training/decode.py on scripted models', function () {
  this.timeout(300_000);
  let tokenizer: ModelTokenizer;
  let words: number[];
  let tmp: string;
  before(async function () {
    if (!existsSync(PYTHON) || !existsSync(path.join(ROOT, 'training', 'decode.py')) || !existsSync(path.join(MODEL_DIR, 'tokenizer.json'))) {
      this.skip();
    }
    tokenizer = await ModelTokenizer.load(MODEL_DIR);
    words = [2, 3, ...WORD_TEXT.map((w) => tokenizer.encode(w)[0])];
    tmp = mkdtempSync(path.join(os.tmpdir(), 'decode-parity-'));
  });
  after(() => {
    if (tmp) {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('same ids for every case', async () => {
    const all = cases();
    const specFile = path.join(tmp, 'spec.json');
    const script = path.join(tmp, 'parity.py');
    writeFileSync(specFile, JSON.stringify({ V, words, cases: all }));
    writeFileSync(script, PY);
    const py = spawnSync(PYTHON, [script, ROOT, path.join(MODEL_DIR, 'tokenizer.json'), specFile], {
      encoding: 'utf8',
      timeout: 240_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    assert.equal(py.status, 0, py.stderr);
    const expected = JSON.parse(py.stdout) as number[][];
    let withSep = 0;
    let forced = 0;
    let repeatBlocked = 0;
    let questionEnded = 0;
    for (let i = 0; i < all.length; i++) {
      const c = all[i];
      const settings = { beams: c.beams, maxQuestions: c.maxQuestions, maxNewTokens: c.maxNewTokens, noRepeatNgram: c.noRepeatNgram };
      const specials = { bos: 1, eos: 2, sep: 3 };
      const model = (): Scripted => new Scripted(c.seed, words.slice(0, 2 + c.nWords), c.eosPenalty);
      const ruled = c.endAtQuestion ? { ...specials, questionEnd: words[3] } : specials;
      const segmentKey = (ids: readonly number[]): string => normalizeQuestion(tokenizer.decode(ids));
      const r = await decode(model(), { settings, specials: ruled, segmentKey });
      assert.deepEqual(r.tokens, expected[i], `case ${JSON.stringify(c)}`);
      // Did the repeated-sub-question rule change this case? (same decode with the rule disabled)
      let unique = 0;
      const without = await decode(model(), {
        settings,
        specials: ruled,
        segmentKey: () => `segment ${unique++}`,
      });
      repeatBlocked += without.tokens.join(' ') === r.tokens.join(' ') ? 0 : 1;
      // Did the "?" rule change this case? (same decode without it)
      if (c.endAtQuestion) {
        const free = await decode(model(), { settings, specials, segmentKey });
        questionEnded += free.tokens.join(' ') === r.tokens.join(' ') ? 0 : 1;
      }
      withSep += r.tokens.includes(3) ? 1 : 0;
      forced += r.tokens.filter((t) => t === 3).length === c.maxQuestions && r.tokens.at(-1) === 2 ? 1 : 0;
    }
    // The cases must actually reach the interesting rules.
    assert.ok(withSep > 30, `only ${withSep} cases produced a sep`);
    assert.ok(forced > 5, `only ${forced} cases hit the forced eos`);
    assert.ok(repeatBlocked > 5, `the repeat rule changed only ${repeatBlocked} cases`);
    assert.ok(questionEnded > 5, `the "?" rule changed only ${questionEnded} cases`);
  });
});
