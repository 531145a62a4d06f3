import * as assert from 'node:assert/strict';
import { decode, splitSegments, type DecodeOptions, type DecodeSpecials } from '../../../src/local/decode';
import type { DecodingSettings } from '../../../src/core/types';
import { hashedScores, ScriptedModel } from './scriptedModel';

const SPECIALS: DecodeSpecials = { bos: 1, eos: 2, sep: 3 };

const EOS = 2;
const SEP = 3;

function opts(settings: Partial<DecodingSettings>, extra: Partial<DecodeOptions> = {}): DecodeOptions {
  return {
    settings: { beams: 1, maxQuestions: 8, maxNewTokens: 40, noRepeatNgram: 0, ...settings },
    specials: SPECIALS,
    // Token ids stand for words; a segment's "normalised text" is its ids.
    segmentKey: (ids) => ids.join(' '),
    ...extra,
  };
}

/** Scores that make `wanted[i]` the clear favourite at generated position i (then eos). */
function scripted(wanted: number[], V = 12): ScoreFn2 {
  return (history) => {
    const pos = history.length - 1; // history starts with bos
    const s = new Array<number>(V).fill(0);
    s[pos < wanted.length ? wanted[pos] : EOS] = 10;
    return s;
  };
}
type ScoreFn2 = (history: readonly number[]) => number[];

function ngrams(tokens: readonly number[], n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i + n <= tokens.length; i++) {
    out.push(tokens.slice(i, i + n).join(','));
  }
  return out;
}

describe('local/decode', () => {
  it('greedy follows the argmax, splits at sep and stops at eos', async () => {
    const model = new ScriptedModel(12, scripted([5, 6, SEP, 7, 8, EOS]));
    const r = await decode(model, opts({}));
    assert.deepEqual(r.tokens, [5, 6, SEP, 7, 8, EOS]);
    assert.deepEqual(r.segments, [[5, 6], [7, 8]]);
    assert.equal(r.finished, true);
    assert.equal(r.steps, 6);
  });

  it('breaks ties by the lower token id', async () => {
    const model = new ScriptedModel(12, (h) => {
      const s = new Array<number>(12).fill(0);
      if (h.length === 1) {
        s[9] = 5;
        s[4] = 5; // same score as 9: 4 must win
      } else {
        s[EOS] = 5;
      }
      return s;
    });
    const r = await decode(model, opts({}));
    assert.deepEqual(r.tokens, [4, EOS]);
  });

  it('never repeats an n-gram of the configured size', async () => {
    // The model wants 5 6 5 6 5 6 ... forever.
    const model = new ScriptedModel(12, (h) => {
      const s = new Array<number>(12).fill(0);
      s[h.length % 2 === 1 ? 5 : 6] = 10;
      s[7] = 4;
      return s;
    });
    const r = await decode(model, opts({ noRepeatNgram: 2, maxNewTokens: 30 }));
    const grams = ngrams(r.tokens, 2);
    assert.equal(new Set(grams).size, grams.length, `repeated bigram in ${r.tokens.join(' ')}`);
    assert.deepEqual(r.tokens.slice(0, 2), [5, 6]);
  });

  it('does not close a sub-question equal to an earlier one', async () => {
    // Wants "5 6 sep 5 6 sep 7 eos": the second "5 6" may not be closed, so it must continue.
    const model = new ScriptedModel(12, (h) => {
      const gen = h.slice(1);
      const s = new Array<number>(12).fill(0);
      const plan = [5, 6, SEP, 5, 6, SEP, 7, EOS];
      s[gen.length < plan.length ? plan[gen.length] : EOS] = 10;
      s[9] = 3; // the next best option once sep/eos is blocked
      return s;
    });
    const r = await decode(model, opts({ maxNewTokens: 20 }));
    const keys = r.segments.map((seg) => seg.join(' '));
    assert.equal(new Set(keys).size, keys.length, `repeated segment in ${r.tokens.join(' ')}`);
    assert.deepEqual(r.tokens.slice(0, 6), [5, 6, SEP, 5, 6, 9]);
  });

  it('ends a sub-question at its "?" instead of gluing more words on', async () => {
    // Wants "5 Q 7 eos" (Q = "?"): a name glued after the question mark, the 0.5.0 failure mode.
    const Q = 8;
    const model = (): ScriptedModel =>
      new ScriptedModel(12, (h) => {
        const s = scripted([5, Q, 7, EOS])(h);
        s[SEP] = 4;
        return s;
      });
    assert.deepEqual((await decode(model(), opts({}))).tokens.slice(0, 3), [5, Q, 7]);
    const r = await decode(model(), opts({}, { specials: { ...SPECIALS, questionEnd: Q } }));
    assert.deepEqual(r.tokens.slice(0, 3), [5, Q, SEP]);
  });

  it('drops a hypothesis whose repeated sub-question reaches its "?" (a dead end)', async () => {
    // "5 Q sep 5 Q" may not close (a repeat): without the rule the next best word is glued on.
    const Q = 8;
    const model = (): ScriptedModel =>
      new ScriptedModel(12, (h) => {
        const s = scripted([5, Q, SEP, 5, Q, SEP, EOS])(h);
        s[9] = 3;
        return s;
      });
    assert.deepEqual((await decode(model(), opts({ maxNewTokens: 20 }))).tokens.slice(0, 6), [5, Q, SEP, 5, Q, 9]);
    const withRule = opts({ maxNewTokens: 20 }, { specials: { ...SPECIALS, questionEnd: Q } });
    // Greedy: nothing else finished, so the dead end is the result, its open segment dropped.
    const greedy = await decode(model(), withRule);
    assert.deepEqual(greedy.tokens, [5, Q, SEP, 5, Q]);
    assert.deepEqual(greedy.segments, [[5, Q]]);
    assert.equal(greedy.finished, false);
    // Beams: another hypothesis wins, and no word follows a "?".
    const beam = await decode(model(), { ...withRule, settings: { ...withRule.settings, beams: 3 } });
    assert.equal(beam.finished, true);
    beam.tokens.forEach((t, i) => assert.ok(t !== Q || [SEP, EOS].includes(beam.tokens[i + 1]), beam.tokens.join(' ')));
  });

  it('forces eos once maxQuestions sub-questions are complete', async () => {
    let n = 0;
    const model = new ScriptedModel(12, () => {
      const s = new Array<number>(12).fill(0);
      s[n++ % 2 === 0 ? 4 + (n % 5) : SEP] = 10; // word, sep, word, sep ... never eos
      return s;
    });
    const r = await decode(model, opts({ maxQuestions: 3, maxNewTokens: 100 }));
    assert.equal(r.finished, true);
    assert.equal(r.tokens.at(-1), EOS);
    assert.equal(r.tokens.filter((t) => t === SEP).length, 3);
    assert.equal(r.segments.length, 4); // three closed by sep + the empty one closed by the forced eos
  });

  it('stops at maxNewTokens and drops the unfinished segment', async () => {
    const model = new ScriptedModel(12, (h) => {
      const s = new Array<number>(12).fill(0);
      s[h.length === 3 ? SEP : 4 + (h.length % 6)] = 10;
      s[EOS] = -10;
      return s;
    });
    const r = await decode(model, opts({ maxNewTokens: 9 }));
    assert.equal(r.tokens.length, 9);
    assert.equal(r.finished, false);
    assert.equal(model.calls, 9);
    assert.deepEqual(r.segments, [r.tokens.slice(0, 2)]);
  });

  it('beam search finds a better-scoring sequence than greedy and keeps a fixed batch', async () => {
    // Greedy takes 4 (p=.55) then a flat distribution; 5 (p=.45) leads to a certain eos.
    const V = 12;
    const fn = (h: readonly number[]): number[] => {
      const s = new Array<number>(V).fill(-30);
      const gen = h.slice(1);
      if (gen.length === 0) {
        s[4] = Math.log(0.55);
        s[5] = Math.log(0.45);
      } else if (gen[0] === 5) {
        s[EOS] = 0;
      } else {
        for (let t = 4; t < V; t++) {
          s[t] = 0;
        }
        s[EOS] = 0;
      }
      return s;
    };
    const greedyModel = new ScriptedModel(V, fn);
    const greedy = await decode(greedyModel, opts({ beams: 1 }));
    assert.equal(greedy.tokens[0], 4);
    const beamModel = new ScriptedModel(V, fn);
    const beam = await decode(beamModel, opts({ beams: 3 }));
    assert.deepEqual(beam.tokens, [5, EOS]);
    assert.ok(beamModel.batchSizes.every((b) => b === 3), `batch sizes ${beamModel.batchSizes.join(',')}`);
  });

  it('holds every rule on 300 random models and settings (adversarial)', async function () {
    this.timeout(30000);
    for (let seed = 0; seed < 300; seed++) {
      const V = 6 + (seed % 20);
      const settings: DecodingSettings = {
        beams: 1 + (seed % 4),
        maxQuestions: 1 + (seed % 5),
        maxNewTokens: 1 + ((seed * 7) % 60),
        noRepeatNgram: seed % 5,
      };
      // Some models love sep, some never stop: both stress the caps.
      const model = new ScriptedModel(V, hashedScores(seed, V, (seed % 3) - 1));
      const biased = new ScriptedModel(V, (h) => {
        const s = Array.from(hashedScores(seed, V)(h));
        s[SEP] += 4;
        s[EOS] -= 4;
        return s;
      });
      // Every other seed ends sub-questions at token 5 (the "?" rule).
      const specials = seed % 2 === 1 ? { ...SPECIALS, questionEnd: 5 } : SPECIALS;
      for (const m of [model, biased]) {
        const r = await decode(m, opts(settings, { specials }));
        const label = `seed ${seed} ${JSON.stringify(settings)}: ${r.tokens.join(' ')}`;
        assert.ok(r.tokens.length <= settings.maxNewTokens, label);
        assert.ok(m.calls <= settings.maxNewTokens, label);
        assert.ok(!r.tokens.slice(0, -1).includes(EOS), label);
        assert.ok(r.tokens.filter((t) => t === SEP).length <= settings.maxQuestions, label);
        if (settings.noRepeatNgram > 0) {
          const grams = ngrams(r.tokens, settings.noRepeatNgram);
          assert.equal(new Set(grams).size, grams.length, `repeated n-gram, ${label}`);
        }
        const keys = r.segments.map((s) => s.join(' ')).filter((k) => k !== '');
        assert.equal(new Set(keys).size, keys.length, `repeated sub-question, ${label}`);
        if (specials.questionEnd !== undefined) {
          // A "?" ends its sub-question: in a complete one it can only be the last token.
          assert.ok(
            r.segments.every((seg) => !seg.slice(0, -1).includes(5)),
            `token after "?", ${label}`,
          );
        }
        assert.ok(r.segments.length <= settings.maxQuestions + 1, label);
        assert.deepEqual(r.segments, splitSegments(r.tokens, SPECIALS));
      }
    }
  });

  it('stops a long decode promptly when the signal aborts (checked every step)', async () => {
    // A model that answers instantly and never ends: only the per-step check can stop it.
    const model = new ScriptedModel(12, (h) => {
      const s = new Array<number>(12).fill(0);
      s[4 + (h.length % 7)] = 10;
      s[EOS] = -50;
      return s;
    });
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 30);
    const started = Date.now();
    await assert.rejects(
      decode(model, { ...opts({ maxNewTokens: 10_000_000 }), signal: controller.signal }),
      (err: Error & { code?: string }) => err.code === 'cancelled',
    );
    clearTimeout(timer);
    assert.ok(model.calls < 10_000_000);
    // Generous bound: it only has to be far below "runs 10 million steps".
    assert.ok(Date.now() - started < 10_000);
  });

  it('rejects nonsensical settings with a user error', async () => {
    const model = new ScriptedModel(12, scripted([EOS]));
    await assert.rejects(decode(model, opts({ beams: 0 })), /beams/);
    await assert.rejects(decode(model, opts({ maxNewTokens: 1.5 })), /maxNewTokens/);
  });

  it('reports complete segments as they close (greedy partials)', async () => {
    const model = new ScriptedModel(12, scripted([5, SEP, 6, SEP, 7, EOS]));
    const seen: number[][][] = [];
    await decode(model, opts({}, { onSegments: (s) => seen.push(s.map((x) => [...x])) }));
    assert.deepEqual(seen, [[[5]], [[5], [6]]]);
  });
});
