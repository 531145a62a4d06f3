// tokenizer.json via @huggingface/tokenizers, configured to behave like Python `tokenizers`
// (training/decode.py): no added special tokens when encoding, no "clean up" of spaces when decoding.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { UserFacingError } from '../core/types';
import type { SpecialTokens } from './manifest';

export class ModelTokenizer {
  private constructor(private readonly tokenizer: Tokenizer) {}

  static async load(modelDir: string): Promise<ModelTokenizer> {
    const file = path.join(modelDir, 'tokenizer.json');
    let json: unknown;
    try {
      json = JSON.parse(await fs.readFile(file, 'utf8'));
    } catch (err) {
      throw new UserFacingError(`Model file ${file} is invalid: ${(err as Error).message}.`, 'model-corrupt');
    }
    try {
      // clean_up_tokenization_spaces is a transformers-only step that Python `tokenizers` never does.
      return new ModelTokenizer(new Tokenizer(json as object, { clean_up_tokenization_spaces: false }));
    } catch (err) {
      throw new UserFacingError(
        `Model file ${file} is not a usable tokenizer: ${(err as Error).message}.`,
        'model-corrupt',
      );
    }
  }

  /** Token ids of `text` without any added special tokens. */
  encode(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  /** Text of `ids` with special tokens skipped; '' for no ids (the library throws on []). */
  decode(ids: readonly number[]): string {
    return ids.length === 0 ? '' : this.tokenizer.decode([...ids], { skip_special_tokens: true });
  }

  /**
   * Source ids per the model contract: keep the END of a long problem (the question is there),
   * then append eos; the result never exceeds maxSourceTokens.
   */
  sourceIds(text: string, maxSourceTokens: number, special: SpecialTokens): number[] {
    const ids = this.encode(text);
    const keep = ids.slice(Math.max(0, ids.length - (maxSourceTokens - 1)));
    keep.push(special.eos);
    return keep;
  }
}
