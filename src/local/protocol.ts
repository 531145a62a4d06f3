// Messages between LocalDecomposer (main thread) and src/local/worker.ts. Plain data only.
import type { DecodingSettings, DevicePreference, UserErrorCode } from '../core/types';
import type { LoadInfo } from './model';

export type ToWorker =
  | { type: 'load'; id: number; modelDir: string; device: DevicePreference }
  | { type: 'decompose'; id: number; problem: string; decoding?: Partial<DecodingSettings>; partials: boolean }
  | { type: 'cancel'; id: number };

export interface WireError {
  message: string;
  /** Set for a UserFacingError, which is re-created as one on the main thread. */
  code?: UserErrorCode;
  stack?: string;
}

export interface DecomposeReply {
  subQuestions: string[];
  decoding: DecodingSettings;
  tokens: number[];
  finished: boolean;
  steps: number;
}

export type FromWorker =
  | { type: 'loaded'; id: number; info: LoadInfo }
  | { type: 'result'; id: number; result: DecomposeReply }
  | { type: 'partial'; id: number; subQuestions: string[] }
  | { type: 'error'; id: number; error: WireError };
